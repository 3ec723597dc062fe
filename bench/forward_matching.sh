#!/usr/bin/env bash
# Does forwarding slow matching? The real `vigil run` (bundled packs + SigmaHQ linux/web rules,
# TCP collector, sync on) matches the same auth + access stream with no destination and with one
# webhook destination, alternated RUNS times. The destination is unreachable on purpose: every
# qualifying alert goes through the outbox (written in the alert's commit) and the sender keeps
# retrying, but no receiver competes for the 2 cores, so the difference is forwarding's own cost
# in the pipeline. Checks sent = processed and the outbox holding every alert before it reports.
#   env: VIGIL_BUILD_DIR (default build-bench, Release), VIGIL_BENCH_DIR, COPIES (60), RUNS (3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${VIGIL_BUILD_DIR:-$root/build-bench}"
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
corpora="${VIGIL_CORPORA:-$root/../shared/corpora}"
COPIES=${COPIES:-60}; RUNS=${RUNS:-3}
if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF
fi
cmake --build "$build" --target vigil vigil_tcp_load vigil_match_bench >/dev/null
export VIGIL_BENCH_DIR="$out"
"$here/prepare_data.sh" "$build/bench/vigil_match_bench" 2>/dev/null
vigil="$build/app/vigil"; load="$build/bench/vigil_tcp_load"
work="$out/forward-matching"; rm -rf "$work"; mkdir -p "$work"
{ sed 's/\r$//' "$corpora/elastic-examples/auth.log"; sed 's/\r$//' "$corpora/elastic-examples/apache_access.log"; } > "$work/mixed.log"
n=$(( $(grep -c '' "$work/mixed.log") * COPIES ))
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f\n", s }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A rates
for run in $(seq 1 "$RUNS"); do
  for mode in none webhook; do
    d="$work/$mode.$run"; mkdir -p "$d"
    port=$(free_port); mport=$(free_port); dead=$(free_port)
    fwd=""
    [[ $mode == webhook ]] && fwd="forwarding:
  sender: bench
  destinations:
    - {name: national, type: webhook, url: 'http://127.0.0.1:$dead/ingest/alerts', token: t, hmac_secret: s}"
    cat > "$d/vigil.yml" <<YML
data_dir: $d/data
rules: ["@bundled", "$out/rules-linux-web-sigma"]
metrics: {listen: "127.0.0.1:$mport"}
http: {enabled: false}
$fwd
collectors:
  - {name: tcp, type: tcp, listen: "127.0.0.1:$port"}
YML
    "$vigil" run --config "$d/vigil.yml" > "$d/log" 2>&1 & vpid=$!
    for _ in $(seq 1 600); do grep -q 'vigil: ready' "$d/log" && break; sleep 0.1; done
    t0=$(date +%s.%N)
    "$load" --port "$port" --file "$work/mixed.log" --events "$n" > /dev/null
    while [[ "$(metric vigil_events_processed_total)" -lt $n || "$(metric vigil_batches_in_flight)" != 0 ]]; do sleep 0.05; done
    t1=$(date +%s.%N)
    alerts=$(metric vigil_store_alerts); pending=$(metric vigil_forward_pending)
    kill -TERM "$vpid"; wait "$vpid" || true
    ok=OK; [[ $mode == none || "$pending" == "$alerts" ]] || ok=MISMATCH
    rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }')
    echo "$mode run $run: $n events, $alerts alerts, outbox pending $pending $ok: $rate events/s"
    rates[$mode]="${rates[$mode]:-} $rate"
    rm -rf "$d/data"
  done
done
a=$(median ${rates[none]}); b=$(median ${rates[webhook]})
echo "median: no destination $a events/s, one destination $b events/s, ratio $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
