#!/usr/bin/env bash
# libFuzzer runs of vigil's input surfaces (tests/fuzz/): builds the targets with clang,
# ASan+UBSan (build-fuzz/, VIGIL_FUZZ=ON), assembles seed corpora from the tests' samples and
# ../shared/corpora into build-fuzz/seeds/<target>/ (never into the repository), runs each
# target for SECONDS and prints its executions, coverage (cov/ft from libFuzzer's final stats)
# and crashes.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default: 600 s, every target)
#
# Environment: FUZZ_JOBS targets run at once (default 1; the machine has 2 cores, and
# libFuzzer uses one each), FUZZ_BUILD build directory (default build-fuzz), VIGIL_CORPORA
# (default ../shared/corpora). Findings go to build-fuzz/findings/<target>/ (crash-*,
# leak-*, timeout-*, oom-*); libFuzzer's log of each run to build-fuzz/logs/<target>.log.
# The working corpus (build-fuzz/corpus/<target>/) is kept between runs, so runs accumulate.
# Exit status: 1 when any target found something, 2 when the build failed.
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
build="${FUZZ_BUILD:-build-fuzz}"
corpora="${VIGIL_CORPORA:-../shared/corpora}"
jobs="${FUZZ_JOBS:-1}"
all_targets=(fuzz_parse fuzz_record_reader fuzz_evtx fuzz_sigma fuzz_condition fuzz_config fuzz_gunzip fuzz_alert_payload fuzz_http
             fuzz_correlation)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

# -O1 -g: the usual libFuzzer trade (fast enough, stack traces exact). Only the fuzz targets
# are built, not vigil, the tests or the benchmarks.
cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" -DCMAKE_C_FLAGS_RELEASE="-O1 -g" \
      -DVIGIL_FUZZ=ON -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF >/dev/null || exit 2
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" || exit 2

# ---- seeds ------------------------------------------------------------------------------------
seeds="$build/seeds"
# seed_lines TARGET PREFIX FILE MAX: the first MAX non-empty lines of FILE, one seed each,
# PREFIX (bytes, printf format) before each.
seed_lines() {
  local target="$1" prefix="$2" file="$3" max="$4" n=0 tag
  tag="$(basename "$file" | tr -c 'A-Za-z0-9._-' '_')"
  [ -f "$file" ] || return 0
  while IFS= read -r line && [ "$n" -lt "$max" ]; do
    [ -n "$line" ] || continue
    { printf "$prefix"; printf '%s' "$line"; } >"$seeds/$target/$tag.$n"
    n=$((n + 1))
  done < <(head -c 2000000 "$file")
}
make_seeds() {
  rm -rf "$seeds"
  mkdir -p "${all_targets[@]/#/$seeds/}"
  # Parser: byte 0 picks the format (0 = auto). Text lines from every source, auto-detected;
  # and a few lines forced to each format.
  local f i
  while IFS= read -r f; do seed_lines fuzz_parse '\x00' "$f" 20; done < <(
    { ls samples/*.log; find "$corpora/device-logs" "$corpora/loghub" "$corpora/elastic-examples" "$corpora/web-payloads" \
      -type f \( -name '*.log' -o -name '*.txt' -o -name '*.json' -o -name '*.ndjson' -o -name '*-log' \) 2>/dev/null; } |
      grep -v -e LICENSE -e MANIFEST | sort | head -400)
  for i in $(seq 1 13); do
    seed_lines fuzz_parse "\\x$(printf %02x "$i")" samples/sample.log 5
  done
  # Record reader: whole files (byte 0 = limits), and a gzip file.
  i=0
  while IFS= read -r f; do
    { printf '\x00'; head -c 20000 "$f"; } >"$seeds/fuzz_record_reader/file.$i"
    { printf '\x03'; head -c 4000 "$f" | gzip -c; } >"$seeds/fuzz_record_reader/gz.$i"
    i=$((i + 1))
  done < <(find samples "$corpora/loghub" "$corpora/device-logs" -type f \( -name '*.log' -o -name '*.json' \) | sort | head -40)
  # EVTX: every 64 KiB chunk of the corpus' .evtx files (after the 4 KiB file header).
  i=0
  while IFS= read -r f; do
    local size chunks c
    size=$(stat -c %s "$f")
    chunks=$(( (size - 4096) / 65536 ))
    [ "$chunks" -gt 4 ] && chunks=4
    for ((c = 0; c < chunks; c++)); do
      tail -c +$((4096 + c * 65536 + 1)) "$f" | head -c 65536 >"$seeds/fuzz_evtx/chunk.$i.$c"
    done
    i=$((i + 1))
  done < <(find "$corpora/evtx" -name '*.evtx' -size +68k | sort | head -60)
  # Sigma: rules from SigmaHQ (every 25th, for breadth over categories), the bundled packs and
  # correlation rules; their conditions for the condition parser.
  i=0
  while IFS= read -r f; do
    cp "$f" "$seeds/fuzz_sigma/rule.$i.yml"
    sed -n 's/^ *condition: *//p' "$f" | head -1 >"$seeds/fuzz_condition/cond.$i"
    i=$((i + 1))
  done < <({ find "$corpora/sigma" -name '*.yml' | sort | awk 'NR % 25 == 0'; find rules/packs -name '*.yml' | sort; } | head -400)
  printf '%s' '1 of selection* and not 1 of filter_*' >"$seeds/fuzz_condition/c1"
  printf '%s' 'all of them or (keywords and not _private)' >"$seeds/fuzz_condition/c2"
  # Correlation: each correlation rule of the packs with the rules it reads, then events from
  # the log it is written for (byte 0: engine options, see tests/fuzz/fuzz_correlation.cpp);
  # and the state such a run saves, as "#state" input (what restore() reads from a store).
  python3 - "$seeds/fuzz_correlation" "$corpora" <<'PY'
import glob, os, re, sys
out, corpora = sys.argv[1], sys.argv[2]
logs = {"linux": "elastic-examples/auth.log", "web": "elastic-examples/apache_access.log",
        "cisco": "device-logs/beats/x-pack/filebeat/module/cisco/asa/test/sample.log",
        "fortigate": "device-logs/beats/x-pack/filebeat/module/fortinet/firewall/test/event.log",
        "sonicwall": "device-logs/beats/x-pack/filebeat/module/sonicwall/firewall/test/general.log"}
docs = [(f, d) for f in sorted(glob.glob("rules/packs/*/*.yml")) for d in re.split(r"^---\s*$", open(f).read(), flags=re.M)
        if d.strip()]
def names(doc):
    return set(re.findall(r"^(?:id|name): *['\"]?([^'\"\s]+)", doc, re.M))
def reads(doc):  # the rules a correlation document names
    if "\ncorrelation:" not in "\n" + doc:
        return set()
    return set(re.findall(r"^ +- *['\"]?([A-Za-z0-9_.-]+)", doc.split("correlation:", 1)[1].split("\n  group-by")[0], re.M))
for path, doc in docs:
    pack = path.split("/")[2]
    if not reads(doc) or pack not in logs or not os.path.exists(os.path.join(corpora, logs[pack])):
        continue
    chosen, todo = [doc], [doc]
    while todo:  # the rules it reads, and theirs when it reads a correlation
        wanted = reads(todo.pop())
        for _, other in docs:
            if other not in chosen and names(other) & wanted:
                chosen.append(other)
                todo.append(other)
    with open(os.path.join(corpora, logs[pack]), errors="replace") as f:
        events = [l for l in f.read().splitlines() if l.strip()][:300]
    body = "\n---\n".join(chosen) + "\n#events\n" + "\n".join(events) + "\n"
    name = sorted(names(doc))[0]
    for mode in (0, 1):
        with open(os.path.join(out, f"{name}.{mode}"), "wb") as f:
            f.write(bytes([mode]) + body.encode())
PY
  if [ -x "$build/tests/fuzz/fuzz_correlation" ]; then
    for f in "$seeds"/fuzz_correlation/*.1; do
      VIGIL_FUZZ_SAVE_STATE="$f.state" "$build/tests/fuzz/fuzz_correlation" "$f" >/dev/null 2>&1 || true
    done
  fi
  # Config: the embedded default and the tests' configurations (their raw string literals).
  python3 - "$seeds/fuzz_config" core/default_config.cpp tests/core/config_test.cpp <<'PY'
import re, sys
out, n = sys.argv[1], 0
for path in sys.argv[2:]:
    for m in re.finditer(r'R"\((.*?)\)"', open(path).read(), re.S):
        if ":" in m.group(1):
            open(f"{out}/conf.{n}.yml", "w").write(m.group(1)); n += 1
PY
  # gunzip: gzip members, one and two.
  i=0
  for f in samples/sample.log "$corpora/elastic-examples/auth.log"; do
    [ -f "$f" ] || continue
    head -c 3000 "$f" | gzip -c >"$seeds/fuzz_gunzip/gz.$i"
    { head -c 300 "$f" | gzip -c; head -c 300 "$f" | gzip -c; } >"$seeds/fuzz_gunzip/gz2.$i"
    i=$((i + 1))
  done
  # Alert payloads: the receiver's format (collectors/alert_ingest.cpp), one full alert and a
  # minimal one.
  printf '%s' '{"sender":"prov-a","alerts":[{"id":"a1","created":"2026-01-02T03:04:05.123Z","received":"2026-01-02T03:04:06Z","event_time":"2026-01-02T03:04:05Z","rule":{"id":"r1","title":"T","path":"p.yml","level":"high","tags":["attack.t1059"]},"tenant":"hue","system":"dc","host":"h","collector":"c","peer":"10.0.0.1","format":"json","raw":"{}","assignee":"","record":7,"count":2,"matched":[{"field":"Image","value":"x"}],"fields":{"Image":"x","EventID":"1"}}]}' \
    >"$seeds/fuzz_alert_payload/full"
  printf '%s' '{"alerts":[{"id":"b","rule":{"id":"r","level":"low"}}]}' >"$seeds/fuzz_alert_payload/min"
  # HTTP: requests as ingest clients, the API and the national sender make them (plain,
  # chunked, gzip-encoded header, keep-alive pairs, a deferred answer).
  printf 'POST /ingest?tenant=hue&system=dvc HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world' >"$seeds/fuzz_http/post"
  printf 'POST /ingest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' >"$seeds/fuzz_http/chunked"
  printf 'GET /api/v1/alerts?q=a%%20b+c&limit=5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer vgl_x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$seeds/fuzz_http/keepalive"
  printf 'POST /deferred HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nOrigin: http://evil\r\nContent-Length: 3\r\n\r\nabc' >"$seeds/fuzz_http/deferred"
}
make_seeds

# ---- runs -------------------------------------------------------------------------------------
mkdir -p "$build/logs" "$build/findings" "$build/corpus"
run_one() {
  local t="$1" max_len=4096
  case "$t" in
    fuzz_evtx) max_len=65536 ;;
    fuzz_correlation) max_len=65536 ;;  # a correlation, its rules and 300 lines of its log
    fuzz_record_reader | fuzz_sigma) max_len=20000 ;;
  esac
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  touch "$build/logs/$t.start"  # findings newer than this are this run's
  # -rss_limit_mb: 4 GB over two runs at once; -timeout: a record or rule taking 10 s is a hang.
  "$build/tests/fuzz/$t" "$build/corpus/$t" "$seeds/$t" -max_total_time="$secs" -max_len="$max_len" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/findings/$t/" \
    >"$build/logs/$t.log" 2>&1
}
report() {
  local t="$1" log="$build/logs/$t.log" execs cov ft found
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  found=$(find "$build/findings/$t" -type f -newer "$build/logs/$t.start" | wc -l)
  printf '%-20s execs %-10s cov %-6s ft %-7s findings %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$found"
  if [ "$found" -gt 0 ] || grep -q -e '^==[0-9]*==ERROR' -e 'runtime error:' "$log"; then
    grep -m3 -e 'SUMMARY:' -e 'runtime error:' "$log" | sed 's/^/    /'
    find "$build/findings/$t" -type f -newer "$build/logs/$t.start" | sed 's/^/    /'
    return 1
  fi
}
status=0
running=0
for t in "${targets[@]}"; do
  echo "== fuzz.sh: $t for ${secs}s"
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
echo "== fuzz.sh: results (${secs}s per target; logs in $build/logs)"
for t in "${targets[@]}"; do report "$t" || status=1; done
exit "$status"
