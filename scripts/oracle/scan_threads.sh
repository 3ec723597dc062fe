#!/usr/bin/env bash
# The reproducer of "same input, same alerts" for `vigil scan` threads: OTRF's Windows events
# split (seeded) into 1,500 files of 1 to 200 events, scanned with SigmaHQ's Windows rules at
# one thread once, then RUNS times each at 2, 4 and 8 threads; every run must exit 0 and print
# exactly the bytes of the one-thread run. Prints one line per thread count and fails on any
# difference.
#   usage: scripts/oracle/scan_threads.sh VIGIL [RUNS=100]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vigil="$1"
runs="${2:-100}"
corpora="${VIGIL_CORPORA:-$here/../../../shared/corpora}"
work="${VIGIL_ORACLE_DIR:-/tmp/vigil-oracle}"
mkdir -p "$work"
if [[ ! -s "$work/otrf_windows.ndjson" ]]; then
  VIGIL_BENCH_DIR="$work" bash "$here/../../bench/prepare_data.sh" >/dev/null
fi
if [[ ! -d "$work/otrf1500" ]]; then
  python3 "$here/split_lines.py" "$work/otrf_windows.ndjson" "$work/otrf1500.tmp" --files 1500 --max-lines 200
  mv "$work/otrf1500.tmp" "$work/otrf1500"
fi
rules="$corpora/sigma/rules/windows"
files=("$work"/otrf1500/part-*.jsonl)
"$vigil" scan --rules "$rules" --threads 1 --output jsonl --no-summary "${files[@]}" > "$work/threads1.out"
echo "threads 1: $(wc -l < "$work/threads1.out") alerts (reference)"
failed=0
for t in 2 4 8; do
  same=0
  for ((i = 1; i <= runs; i++)); do
    rc=0
    "$vigil" scan --rules "$rules" --threads "$t" --output jsonl --no-summary "${files[@]}" > "$work/threads$t.out" 2>"$work/threads$t.err" || rc=$?
    if [[ $rc -eq 0 ]] && cmp -s "$work/threads1.out" "$work/threads$t.out"; then
      same=$((same + 1))
    else
      echo "threads $t run $i: exit $rc, output differs (kept in $work/threads$t.out)" >&2
      failed=1
      break
    fi
  done
  echo "threads $t: $same of $runs runs exit 0 with output identical to threads 1"
done
exit $failed
