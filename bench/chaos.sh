#!/usr/bin/env bash
# Chaos run (issue 19): KILLS kill -9s of `vigil run` at random moments while file-tail, HTTP
# /ingest, TCP syslog and TLS syslog senders stream auth.log and resend as real shippers do;
# then, per source, the stored alerts against `vigil scan` of what that source sent. The driver
# is bench/chaos.py (its header states the checks); bench/README.md states the semantics.
#
#   bash bench/chaos.sh [KILLS]          # default 50 kills, about 3-4 minutes on 2 cores
#
# env: VIGIL_BUILD_DIR (default build), VIGIL_BENCH_DIR (/tmp/vigil-bench), CHAOS_SEED (random;
#      printed), CHAOS_SECONDS (how long the senders stream; default 2 s per kill), VIGIL_CORPORA
# Exits 0 on PASS, 1 on FAIL, 2 when it cannot run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${VIGIL_BUILD_DIR:-$root/build}"
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
corpora="${VIGIL_CORPORA:-$root/../shared/corpora}"
kills="${1:-50}"
input="$corpora/elastic-examples/auth.log"
[[ -f "$input" ]] || { echo "chaos: $input missing" >&2; exit 2; }

cmake --build "$build" --target vigil >/dev/null
work="$out/chaos"; rm -rf "$work"; mkdir -p "$work"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
python3 "$here/chaos.py" --vigil "$build/app/vigil" --work "$work" --input "$input" \
  --cert "$work/cert.pem" --key "$work/key.pem" --kills "$kills" \
  ${CHAOS_SEED:+--seed "$CHAOS_SEED"} ${CHAOS_SECONDS:+--seconds "$CHAOS_SECONDS"}
