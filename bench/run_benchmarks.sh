#!/usr/bin/env bash
# Runs every vigil benchmark and prints the acceptance figures. See bench/README.md.
#   1. builds vigil and vigil_match_bench: Release, profile-guided, as scripts/pgo_build.sh
#      builds vigil for production, into $VIGIL_BUILD_DIR (default
#      <root>/build-bench-pgo), trained afresh each run; VIGIL_BENCH_PGO=reuse runs the binaries
#      of the last such build as they are; VIGIL_BENCH_PGO=0 builds plain Release into
#      <root>/build-bench (if needed, then incrementally)
#   2. prepares the data in $VIGIL_BENCH_DIR (default /tmp/vigil-bench): bench/prepare_data.sh
#   3. runs vigil_match_bench (verification first, then $VIGIL_BENCH_REPETITIONS=5 repetitions,
#      randomly interleaved, medians) and prints one table row per suite
#   4. runs bench/scan_threads.sh (the real `vigil scan`, --threads 1 vs 2) unless --no-threads
# Extra arguments go to vigil_match_bench (e.g. --benchmark_filter=linux_web).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
pgo="${VIGIL_BENCH_PGO:-1}"
if [[ "$pgo" == 1 || "$pgo" == reuse ]]; then build="${VIGIL_BUILD_DIR:-$root/build-bench-pgo}"; else build="${VIGIL_BUILD_DIR:-$root/build-bench}"; fi
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
reps="${VIGIL_BENCH_REPETITIONS:-5}"
export VIGIL_BENCH_DIR="$out" VIGIL_BUILD_DIR="$build"

run_threads=1
args=()
for a in "$@"; do
  if [[ "$a" == "--no-threads" ]]; then run_threads=0; else args+=("$a"); fi
done

if [[ "$pgo" == reuse ]]; then
  # Another run on the binaries of the last profile-guided build, as they are.
  [[ -x "$build/bench/vigil_match_bench" && -x "$build/app/vigil" ]] ||
    { echo "run_benchmarks: no profile-guided build in $build to reuse" >&2; exit 2; }
  pgo=1
elif [[ "$pgo" == 1 ]]; then
  echo "== profile-guided build in $build (scripts/pgo_build.sh; VIGIL_BENCH_PGO=0 for plain Release) =="
  bash "$root/scripts/pgo_build.sh" "$build" vigil_match_bench vigil
else
  if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF
  fi
  cmake --build "$build" --target vigil_match_bench vigil
fi
bench_bin="$build/bench/vigil_match_bench"

"$here/prepare_data.sh" "$bench_bin"

json="$out/match_bench.json"
echo "== vigil_match_bench ($reps repetitions, medians; verification output first) =="
"$bench_bin" \
  --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true \
  --benchmark_enable_random_interleaving=true \
  --benchmark_out="$json" --benchmark_out_format=json \
  ${args[@]+"${args[@]}"}

echo
echo "== summary (medians of $reps; ratio = vigil / bare hs_scan, both from this run; $([[ "$pgo" == 1 ]] && echo "profile-guided" || echo "plain") Release build) =="
python3 - "$json" > "$out/expected_alerts.env" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
rows = {}
for b in data["benchmarks"]:
    if b.get("aggregate_name") != "median" or b.get("error_occurred"):
        continue
    suite, kind = b["run_name"].split("/")[:2]
    rows.setdefault(suite, {})[kind] = b
# windows_otrf_packs: issue 27 asks SigmaHQ's Windows rules plus our Windows packs to stay at or
# above 450,000 events/s, read beside windows_otrf (the same rules without the packs).
# devices_mix has no target of its own: issue 17 asks for its rate and its ratio to bare hs_scan.
targets = {"windows_otrf": 500_000, "windows_otrf_packs": 450_000, "linux_web": 2_000_000, "linux_web_sigma": 2_000_000,
           "devices_mix": 0}
units = {"windows_otrf": "events/s", "windows_otrf_packs": "events/s", "linux_web": "lines/s", "linux_web_sigma": "lines/s",
         "devices_mix": "lines/s"}
scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

def cpu_rate(b):
    # events per CPU-second: on a shared machine the time the process was not running is not
    # the engine's cost, so this is the steadier figure; wall-clock rates are the headline.
    return b["events"] * b["iterations"] / (b["cpu_time"] * b["iterations"] * scale[b["time_unit"]])

print(f"{'':<19}{'----------- wall clock -----------':>47}{'----- CPU time -----':>34}", file=sys.stderr)
print(f"{'benchmark':<19}{'vigil /s':>12}{'GB/s':>6}{'bare /s':>12}{'vigil/bare':>11}{'parse /s':>12}"
      f"{'vigil /s':>12}{'bare /s':>12}{'v/b':>7}{'target /s':>12}  result", file=sys.stderr)
for suite, r in rows.items():
    v, b, p = r.get("vigil"), r.get("bare_hs_scan"), r.get("parse_only")
    if not v or not b:
        print(f"{suite:<19} incomplete (see errors above)", file=sys.stderr)
        continue
    ve, be = v["items_per_second"], b["items_per_second"]
    vc, bc = cpu_rate(v), cpu_rate(b)
    pe = f"{p['items_per_second']:>12,.0f}" if p else f"{'-':>12}"
    t = targets.get(suite, 0)
    print(f"{suite:<19}{ve:>12,.0f}{v['GB/s']:>6.2f}{be:>12,.0f}{ve / be:>11.3f}{pe}"
          f"{vc:>12,.0f}{bc:>12,.0f}{vc / bc:>7.3f}{t:>12,}  {('MET' if ve >= t else 'MISSED') if t else 'reported'} "
          f"({units.get(suite, '')}, {int(v['alerts']):,} alerts)", file=sys.stderr)
    print(f"VIGIL_EXPECT_ALERTS_{suite}={int(v['alerts'])}")
    print(f"VIGIL_BENCH_RATE_{suite}={ve:.0f}")
PY

if [[ "$run_threads" == 1 ]]; then
  echo
  set -a; source "$out/expected_alerts.env"; set +a
  "$here/scan_threads.sh"
  # The real binary on files against the in-memory figure of the same build, one run: reading,
  # splitting and writing should cost little next to matching (target: within 10%).
  echo
  echo "== vigil scan --threads 1 (files, summary rate, median) vs vigil_match_bench vigil (in memory, median) =="
  set -a; source "$out/scan_rates.env"; set +a
  for suite in windows_otrf linux_web linux_web_sigma; do
    bench_var="VIGIL_BENCH_RATE_$suite" scan_var="VIGIL_SCAN_RATE_1_$suite"
    [[ -n "${!bench_var:-}" && -n "${!scan_var:-}" ]] || continue
    awk -v s="$suite" -v a="${!scan_var}" -v b="${!bench_var}" \
      'BEGIN{r=a/b; printf "%-16s scan %12.0f/s  bench %12.0f/s  scan/bench %.3f  target >= 0.90 %s\n", s, a, b, r, (r>=0.9?"MET":"MISSED")}'
  done
fi
