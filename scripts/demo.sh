#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs the streaming daemon
# `vigil run` on its embedded default (data in ./vigil-data, syslog on 127.0.0.1:5514 UDP and
# TCP, HTTP ingest on 127.0.0.1:8080, metrics on 127.0.0.1:9464, the bundled rule packs).
# Once it is ready, the bundled sample log is sent to it over TCP syslog and the stored alerts
# are listed; the daemon then keeps running until Ctrl-C (SIGINT), which drains and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
vigil=./build/app/vigil
log=$(mktemp)
"$vigil" run 2> >(tee "$log" >&2) &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 1 300); do grep -q 'vigil: ready' "$log" && break; sleep 0.1; done
if ! grep -q 'vigil: ready' "$log"; then echo "demo: vigil did not start" >&2; exit 1; fi
echo "demo: sending samples/sample.log to 127.0.0.1:5514 over TCP syslog" >&2
cat samples/sample.log > /dev/tcp/127.0.0.1/5514
sleep 1
"$vigil" alerts list --since 1h --limit 20
echo "demo: vigil is running (metrics: curl -s 127.0.0.1:9464/metrics); Ctrl-C to stop" >&2
wait $pid
