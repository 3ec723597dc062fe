#!/usr/bin/env bash
# `vigil scan --threads 2` vs `--threads 1` with the real binary. See bench/README.md.
# For each data set: one verification run (alerts > 0, equal to $VIGIL_EXPECT_ALERTS_<suite>
# when run_benchmarks.sh provides it), then $VIGIL_BENCH_RUNS (5) runs of each thread count,
# alternating 1,2,1,2,... Every timed run must report the verified alert count. Prints medians
# of the summary's events/s, wall time and peak RSS (/usr/bin/time -v), and the 2-vs-1 ratio.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${VIGIL_BUILD_DIR:-$root/build-bench}"
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
runs="${VIGIL_BENCH_RUNS:-5}"
vigil="$build/app/vigil"
[[ -x "$vigil" ]] || { echo "scan_threads: $vigil not built (run bench/run_benchmarks.sh)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "scan_threads: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# run_scan THREADS RULES FILE -> "events_per_s alerts wall_s rss_kib"
run_scan() {
  local threads="$1" rules="$2" file="$3"
  if ! /usr/bin/time -v -o "$tmp/time" "$vigil" scan --rules "$rules" --threads "$threads" "$file" \
      > /dev/null 2> "$tmp/err"; then
    echo "scan_threads: vigil scan failed:" >&2; cat "$tmp/err" "$tmp/time" >&2; exit 3
  fi
  local eps alerts wall rss
  eps=$(grep -o '= [0-9,]* events/s' "$tmp/err" | tr -d ', =' | sed 's/events\/s//')
  alerts=$(sed -n 's/^ *alerts: \([0-9,]*\).*/\1/p' "$tmp/err" | tr -d ,)
  wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$tmp/time" | awk -F: '{s=0; for(i=1;i<=NF;i++) s=s*60+$i; print s}')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time")
  if [[ -z "$eps" || -z "$alerts" ]]; then
    echo "scan_threads: no summary line from vigil scan:" >&2; cat "$tmp/err" >&2; exit 3
  fi
  echo "$eps $alerts $wall $rss"
}

printf '%-13s %7s %14s %9s %10s %12s\n' "data" "threads" "events/s" "wall s" "RSS MiB" "alerts" > "$tmp/table"
: > "$out/scan_rates.env"  # medians for run_benchmarks.sh's scan-vs-bench line
ratios=()
for spec in "windows_otrf:rules-windows:otrf_windows.ndjson" "linux_web:rules-linux-web:linux_web_1g.log" "linux_web_sigma:rules-linux-web-sigma:linux_web_1g.log"; do
  IFS=: read -r suite rules file <<< "$spec"
  # VIGIL_BENCH_SUITES="windows_otrf ..." runs those suites only (default: all).
  [[ -z "${VIGIL_BENCH_SUITES:-}" || " $VIGIL_BENCH_SUITES " == *" $suite "* ]] || continue
  rules="$out/$rules"; file="$out/$file"
  [[ -d "$rules" && -f "$file" ]] || { echo "scan_threads: $rules or $file missing (run bench/prepare_data.sh)" >&2; exit 2; }
  # Verification before timing.
  line=$(run_scan 2 "$rules" "$file")
  read -r _ verified _ _ <<< "$line"
  expect_var="VIGIL_EXPECT_ALERTS_$suite"
  expect="${!expect_var:-}"
  # SigmaHQ's linux and web rules find nothing in this data (see README): zero is their answer,
  # and every run must still report the same count.
  if [[ "$verified" -le 0 && "$suite" != "linux_web_sigma" ]]; then
    echo "scan_threads: [$suite] VERIFICATION FAILED: no alert" >&2; exit 3
  fi
  if [[ -n "$expect" && "$verified" != "$expect" ]]; then
    echo "scan_threads: [$suite] VERIFICATION FAILED: vigil scan reports $verified alerts, vigil_match_bench verified $expect" >&2
    exit 3
  fi
  echo "[$suite] verified: vigil scan --threads 2 reports $verified alerts${expect:+ (= vigil_match_bench)}" >&2
  : > "$tmp/t1"; : > "$tmp/t2"
  for ((r = 1; r <= runs; r++)); do
    for t in 1 2; do
      line=$(run_scan "$t" "$rules" "$file")
      read -r eps alerts wall rss <<< "$line"
      if [[ "$alerts" != "$verified" ]]; then
        echo "scan_threads: [$suite] VERIFICATION FAILED: run $r --threads $t reports $alerts alerts, expected $verified" >&2
        exit 3
      fi
      echo "$line" >> "$tmp/t$t"
      echo "[$suite] run $r --threads $t: $eps events/s, ${wall}s wall, ${rss} KiB peak RSS" >&2
    done
  done
  for t in 1 2; do
    eps=$(cut -d' ' -f1 "$tmp/t$t" | median)
    wall=$(cut -d' ' -f3 "$tmp/t$t" | median)
    rss=$(cut -d' ' -f4 "$tmp/t$t" | median)
    eval "eps_$t=$eps wall_$t=$wall"
    echo "VIGIL_SCAN_RATE_${t}_$suite=$eps" >> "$out/scan_rates.env"
    printf '%-13s %7s %14.0f %9.2f %10.0f %12s\n' "$suite" "$t" "$eps" "$wall" "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$verified" >> "$tmp/table"
  done
  ratios+=("$(awk -v a="$eps_2" -v b="$eps_1" -v wa="$wall_1" -v wb="$wall_2" -v s="$suite" \
    'BEGIN{r=a/b; printf "%-13s threads 2 vs 1: %.2fx events/s (summary), %.2fx wall time incl. rule compile; target 1.7x %s", s, r, wa/wb, (r>=1.7?"MET":"MISSED")}')")
done
echo
echo "== vigil scan --threads 1 vs 2 (medians of $runs runs) =="
cat "$tmp/table"
printf '%s\n' "${ratios[@]}"
