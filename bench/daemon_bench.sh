#!/usr/bin/env bash
# End-to-end benchmark of `vigil run` (issue 4): a separate load process (vigil_tcp_load) streams
# auth.log and access-log lines over TCP syslog on loopback into the real daemon, loaded with the
# bundled packs and the SigmaHQ linux and web rules, storing alerts in RocksDB (sync on).
#
#   1. throughput: EVENTS lines at full speed, RUNS times per input (mixed, auth, apache); the run
#      ends when the daemon's metrics show every event processed and nothing in flight. It checks
#      sent = received = processed and alerts stored = the count `vigil scan` finds offline.
#   2. latency: RATE events/s for LAT_SECONDS; p99 of vigil_alert_latency_seconds (receipt of a
#      batch's first record -> its alerts committed) from the daemon's histogram.
#   3. peak RSS of the daemon (VmHWM) in every run.
#   4. syslog-ng 3.38 on the same corpora with ../shared/peers/syslogng-bench.sh (TCP in, 124
#      match() patterns, file out, flow control), and vigil's ratio to it. SKIP_PEERS=1 skips it.
#
# env: VIGIL_BUILD_DIR (default build-bench, Release), VIGIL_BENCH_DIR (/tmp/vigil-bench),
#      EVENTS (3000000), RUNS (3), RATE (100000), LAT_SECONDS (20), VIGIL_CORPORA
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${VIGIL_BUILD_DIR:-$root/build-bench}"
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
corpora="${VIGIL_CORPORA:-$root/../shared/corpora}"
EVENTS=${EVENTS:-3000000}; RUNS=${RUNS:-3}; RATE=${RATE:-100000}; LAT_SECONDS=${LAT_SECONDS:-20}
export VIGIL_BENCH_DIR="$out" VIGIL_BUILD_DIR="$build"

if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF
fi
cmake --build "$build" --target vigil vigil_tcp_load vigil_match_bench >/dev/null
vigil="$build/app/vigil"; load="$build/bench/vigil_tcp_load"
"$here/prepare_data.sh" "$build/bench/vigil_match_bench" 2>/dev/null
rules_sigma="$out/rules-linux-web-sigma"
[[ -d "$rules_sigma" ]] || { echo "daemon_bench: $rules_sigma missing" >&2; exit 2; }

work="$out/daemon"; rm -rf "$work"; mkdir -p "$work"
sed 's/\r$//' "$corpora/elastic-examples/auth.log" > "$work/auth.log"
sed 's/\r$//' "$corpora/elastic-examples/apache_access.log" > "$work/apache.log"
cat "$work/auth.log" "$work/apache.log" > "$work/mixed.log"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# metric NAME [LABEL-SUBSTRING]: sum of the samples of NAME (whose labels contain the substring)
metric() {
  curl -s "http://127.0.0.1:$mport/metrics" | awk -v n="$1" -v l="${2:-}" '
    $1 == n || index($1, n "{") == 1 { if (l == "" || index($1, l)) s += $2 } END { printf "%.0f\n", s }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

start_daemon() { # dir
  local d=$1
  port=$(free_port); mport=$(free_port)
  mkdir -p "$d"
  cat > "$d/vigil.yml" <<YML
data_dir: $d/data
rules: ["@bundled", "$rules_sigma"]
pipeline: {matcher_threads: 2}
store: {sync: true}
metrics: {listen: "127.0.0.1:$mport"}
http: {enabled: false}
collectors:
  - {name: tcp, type: tcp, listen: "127.0.0.1:$port"}
YML
  "$vigil" run --config "$d/vigil.yml" > "$d/vigil.log" 2>&1 &
  vpid=$!
  for _ in $(seq 1 600); do grep -q 'vigil: ready' "$d/vigil.log" && return 0; sleep 0.1; done
  echo "daemon_bench: vigil did not start: $(tail -5 "$d/vigil.log")" >&2; exit 1
}
stop_daemon() { kill -TERM "$vpid"; wait "$vpid" || true; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$vpid/status"; }
# Waits until the daemon processed $1 events and committed everything in flight.
wait_processed() {
  local n=$1 deadline=$(( $(date +%s) + 900 ))
  while :; do
    [[ "$(metric vigil_events_processed_total)" -ge "$n" && "$(metric vigil_batches_in_flight)" == 0 ]] && return 0
    [[ $(date +%s) -lt $deadline ]] || { echo "daemon_bench: timeout" >&2; return 1; }
    sleep 0.05
  done
}

declare -A vigil_rate
failed=0
for input in mixed auth apache; do
  lines=$(grep -c '' "$work/$input.log")
  copies=$(( (EVENTS + lines - 1) / lines )); n=$(( copies * lines ))
  # The expectation is `vigil scan` over exactly the stream the load sends (the file repeated,
  # cut at n lines), not one copy's count times the copies: correlation windows span copies.
  for ((c = 0; c < copies; c++)); do cat "$work/$input.log"; done | head -n "$n" > "$work/$input.stream"
  expect=$("$vigil" scan --rules @bundled --rules "$rules_sigma" "$work/$input.stream" 2>/dev/null | wc -l)
  rates=(); rss=()
  for run in $(seq 1 "$RUNS"); do
    d="$work/$input.run$run"; start_daemon "$d"
    t0=$(date +%s.%N)
    "$load" --port "$port" --file "$work/$input.log" --events "$n" > "$d/load.txt"
    wait_processed "$n"
    t1=$(date +%s.%N)
    recv=$(metric vigil_events_received_total 'collector="tcp"'); proc=$(metric vigil_events_processed_total)
    alerts=$(metric vigil_store_alerts); r=$(peak_rss_mib)
    stop_daemon
    rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }')
    rm -rf "$d/data"
    if [[ "$recv" != "$n" || "$proc" != "$n" || "$alerts" != "$expect" ]]; then
      # A run that failed its check gives no rate.
      echo "vigil[$input] run $run: MISMATCH: sent $n, received $recv, processed $proc, alerts $alerts (vigil scan of the same stream: $expect); no rate" >&2
      failed=$((failed + 1))
      continue
    fi
    echo "vigil[$input] run $run: sent $n, received $recv, processed $proc, alerts $alerts (= vigil scan) OK: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s = $rate events/s, peak RSS $r MiB; load: $(cat "$d/load.txt")"
    rates+=("$rate"); rss+=("$r")
  done
  if [[ ${#rates[@]} -lt $RUNS ]]; then
    echo "vigil[$input]: no rate: $(( RUNS - ${#rates[@]} )) of $RUNS runs failed their check" >&2
    continue
  fi
  vigil_rate[$input]=$(median "${rates[@]}")
  echo "vigil[$input]: median ${vigil_rate[$input]} events/s over $RUNS runs of $n events, peak RSS median $(median "${rss[@]}") MiB"
done

# Latency at a steady rate.
d="$work/latency"; start_daemon "$d"
n=$(( RATE * LAT_SECONDS ))
"$load" --port "$port" --file "$work/mixed.log" --events "$n" --rate "$RATE" > "$d/load.txt"
wait_processed "$n"
curl -s "http://127.0.0.1:$mport/metrics" > "$d/metrics.txt"
r=$(peak_rss_mib)
stop_daemon
python3 - "$d/metrics.txt" "$RATE" "$n" "$r" "$(cat "$d/load.txt")" <<'PY'
import sys
path, rate, n, rss, load = sys.argv[1:6]
buckets, count = [], 0.0
for line in open(path):
    if line.startswith("vigil_alert_latency_seconds_bucket"):
        le = line.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    elif line.startswith("vigil_alert_latency_seconds_count"):
        count = float(line.split()[-1])
buckets.sort()
def q(p):
    for le, c in buckets:
        if c >= p * count: return le
    return float("inf")
print(f"vigil latency at {rate} events/s ({n} events, {load}): {count:.0f} batches with alerts; "
      f"p50 <= {q(0.5)*1000:.0f} ms, p99 <= {q(0.99)*1000:.0f} ms (histogram bucket bounds), peak RSS {rss} MiB")
PY

if [[ "${SKIP_PEERS:-0}" != 1 ]]; then
  peer_out="$work/syslog-ng.txt"
  LINES=$EVENTS RUNS=$RUNS VIGIL_CORPORA="$corpora/elastic-examples" bash "$root/../shared/peers/syslogng-bench.sh" all 2>&1 | tee "$peer_out" | grep -E '^syslog-ng\[[a-z]+\]:' || true
  for input in auth apache; do
    peer=$(grep -E "^syslog-ng\[$input\]:" "$peer_out" | sed -E 's/.* = ([0-9]+) events\/s.*/\1/' | head -1)
    [[ -n "$peer" && -n "${vigil_rate[$input]:-}" ]] && echo "ratio[$input]: vigil ${vigil_rate[$input]} / syslog-ng $peer = $(awk -v a="${vigil_rate[$input]}" -v b="$peer" 'BEGIN { printf "%.1f", a / b }')x"
  done
fi
if [[ $failed -gt 0 ]]; then
  echo "daemon_bench: $failed run(s) failed their check (see MISMATCH above); their rates are not reported" >&2
  exit 1
fi
