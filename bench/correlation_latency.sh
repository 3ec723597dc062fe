#!/usr/bin/env bash
# Correlation latency under load (issue 28): how long from the deciding event of a correlation
# (the tenth failed SSH login of one address) to its alert committed in the store, while a
# background load streams into the real `vigil run` over TCP syslog.
#
#   1. background: vigil_tcp_load sends auth.log lines (re-stamped with the current time, so they
#      are within the lateness and feed the correlation windows too) at RATE events/s;
#   2. attacks: vigil_correlation_latency injects ATTACKS brute forces on their own connection
#      and, after checking that each raised exactly one alert (no figure otherwise), prints
#      p50 / p99 / max of (alert "created" - wall time before the tenth line was sent);
#   3. the background rate the daemon actually received over the attack phase, from its metrics,
#      beside the rate received by a daemon run first without correlation (the bundled packs
#      without the files that hold a correlation) under the same load, in the same run.
#
# env: VIGIL_BUILD_DIR (default build-bench, Release), VIGIL_BENCH_DIR (/tmp/vigil-bench),
#      RATE (20000), ATTACKS (200), GAP_MS (100), VIGIL_CORPORA
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${VIGIL_BUILD_DIR:-$root/build-bench}"
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
corpora="${VIGIL_CORPORA:-$root/../shared/corpora}"
RATE=${RATE:-20000}; ATTACKS=${ATTACKS:-200}; GAP_MS=${GAP_MS:-100}

if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF
fi
cmake --build "$build" --target vigil vigil_tcp_load vigil_correlation_latency >/dev/null
vigil="$build/app/vigil"; load="$build/bench/vigil_tcp_load"; probe="$build/bench/vigil_correlation_latency"

work="$out/correlation-latency"; rm -rf "$work"; mkdir -p "$work"
src="$corpora/elastic-examples/auth.log"
[[ -f "$src" ]] || src="$root/samples/sample.log"
stamp=$(LC_ALL=C date -u '+%b %e %H:%M:%S')
# Lines that start with a BSD stamp get the current one; the others are sent as they are.
LC_ALL=C sed -E 's/\r$//; s/^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}/'"$stamp"'/' "$src" > "$work/background.log"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The bundled packs without the files that hold a correlation (their base rules go with them):
# the daemon as it runs without correlation, for the background figure beside the one with it.
no_corr="$work/rules-without-correlation"; mkdir -p "$no_corr"
while IFS= read -r f; do
  grep -q '^correlation:' "$f" || cp "$f" "$no_corr/$(basename "$(dirname "$f")")__$(basename "$f")"
done < <(find "$root/rules/packs" -name '*.yml' | LC_ALL=C sort)

vpid= lpid= port= mport=
metric() {
  curl -s "http://127.0.0.1:$mport/metrics" | awk -v n="$1" -v l="${2:-}" '
    $1 == n || index($1, n "{") == 1 { if (l == "" || index($1, l)) s += $2 } END { printf "%.0f\n", s }'
}
stop_all() {
  [[ -n "$lpid" ]] && kill "$lpid" 2>/dev/null; lpid=
  if [[ -n "$vpid" ]]; then kill -TERM "$vpid" 2>/dev/null; wait "$vpid" 2>/dev/null || true; fi
  vpid=
}
trap stop_all EXIT

# start_daemon NAME RULES: a fresh data directory, TCP syslog on a free port.
start_daemon() {
  local name=$1 rules=$2 dir="$work/$1"
  mkdir -p "$dir"; port=$(free_port); mport=$(free_port)
  cat > "$dir/vigil.yml" <<YML
data_dir: $dir/data
rules: [$rules]
pipeline: {matcher_threads: 2}
store: {sync: true}
metrics: {listen: "127.0.0.1:$mport"}
http: {enabled: false}
collectors:
  - {name: tcp, type: tcp, listen: "127.0.0.1:$port"}
YML
  "$vigil" run --config "$dir/vigil.yml" > "$dir/vigil.log" 2>&1 &
  vpid=$!
  for _ in $(seq 1 600); do grep -qs 'vigil: ready' "$dir/vigil.log" && break; sleep 0.1; done
  grep -q 'vigil: ready' "$dir/vigil.log" || { echo "correlation_latency: vigil ($name) did not start" >&2; exit 1; }
}

# received_rate SECONDS: events/s the collector received over the next SECONDS.
received_rate() {
  local r0 r1 t0 t1
  r0=$(metric vigil_events_received_total 'collector="tcp"'); t0=$(date +%s.%N)
  sleep "$1"
  r1=$(metric vigil_events_received_total 'collector="tcp"'); t1=$(date +%s.%N)
  awk -v a="$r0" -v b="$r1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%d", (b - a) / (y - x) }'
}

# Enough background for the attack phase (2 gaps an attack) and a margin; stopped after it.
seconds=$(( ATTACKS * GAP_MS * 2 / 1000 + 30 ))
window=$(( ATTACKS * GAP_MS * 2 / 1000 )); (( window >= 10 )) || window=10

# 1. Without correlation: the same background, the received rate over the same window.
start_daemon without-correlation "\"$no_corr\""
"$load" --port "$port" --file "$work/background.log" --events $(( RATE * seconds )) --rate "$RATE" > "$work/load-without.txt" &
lpid=$!
sleep 2  # the load is running at its rate before the window
rate_without=$(received_rate "$window")
stop_all

# 2. With the bundled packs' correlations: background, and the attacks timed on their own connection.
start_daemon with-correlation '"@bundled"'
"$load" --port "$port" --file "$work/background.log" --events $(( RATE * seconds )) --rate "$RATE" > "$work/load.txt" &
lpid=$!
sleep 2
r0=$(metric vigil_events_received_total 'collector="tcp"'); t0=$(date +%s.%N)
"$probe" --port "$port" --vigil "$vigil" --data-dir "$work/with-correlation/data" --attacks "$ATTACKS" --gap-ms "$GAP_MS" |
  tee "$work/latency.txt"
r1=$(metric vigil_events_received_total 'collector="tcp"'); t1=$(date +%s.%N)
late=$(metric vigil_correlation_events_total 'outcome="late"')
stop_all
rate_with=$(awk -v a="$r0" -v b="$r1" -v x="$t0" -v y="$t1" 'BEGIN { printf "%d", (b - a) / (y - x) }')
echo "background received (target $RATE events/s): ${rate_with}/s with correlation during the attacks ($late correlation events late), ${rate_without}/s without correlation (packs without their correlation files, ${window} s); with/without $(awk -v a="$rate_with" -v b="$rate_without" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'); machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
