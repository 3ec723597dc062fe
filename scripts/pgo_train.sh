#!/usr/bin/env bash
# The training run of a profile-guided build (scripts/pgo_build.sh): runs an instrumented
# `vigil` (VIGIL_PGO=generate) over logs that are NOT the benchmark's, so that the profile
# says which paths are hot without fitting the figures bench/ measures.
#
#   scripts/pgo_train.sh VIGIL_BINARY
#
# With the third-party corpora ($VIGIL_CORPORA, default ../shared/corpora):
#   - Windows JSON: the 238 events of SigmaHQ's regression data (sigma/regression_data, what the
#     conformance test reads) in both layouts vigil reads: as evtx_dump writes them (Event.System,
#     Event.EventData) and flat, the way NXLog and Winlogbeat send them (EventData and System
#     values as top-level keys, Provider_Name / Provider_Guid). Against every SigmaHQ rule, and
#     against the bundled Windows pack (which few of them match).
#   - text: loghub's Linux (RFC 3164), OpenSSH and Apache error logs, against the bundled packs
#     and SigmaHQ's linux rules.
# Always: the bundled sample log against the bundled packs. The benchmark data (OTRF, the
# elastic-examples auth.log and apache_access.log) is not used.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
vigil="${1:?usage: pgo_train.sh VIGIL_BINARY}"
corpora="${VIGIL_CORPORA:-$root/../shared/corpora}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Runs `vigil scan ARGS...`; with "run alerts ARGS...", fails unless the scan found alerts (a
# training that matched nothing would profile nothing of matching).
run() {
  local want_alerts=0
  if [[ "$1" == alerts ]]; then want_alerts=1; shift; fi
  echo "pgo_train: vigil scan $*" >&2
  "$vigil" scan "$@" > /dev/null 2> "$work/summary"
  cat "$work/summary" >&2
  if ((want_alerts)) && ! grep -Eq '^ *alerts: [1-9]' "$work/summary"; then
    echo "pgo_train: no alerts from: vigil scan $*" >&2
    exit 1
  fi
}

# Repeats a file n times (the profile counts what runs often; a few copies are enough).
repeat() {
  local file=$1 n=$2 out=$3 i
  : > "$out"
  for ((i = 0; i < n; i++)); do cat "$file" >> "$out"; done
}

repeat "$root/samples/sample.log" 200 "$work/sample.log"
run alerts --rules "$root/rules/packs" --threads 1 "$work/sample.log"

if [[ ! -d "$corpora/sigma/regression_data" ]]; then
  echo "pgo_train: corpora not found at $corpora (set VIGIL_CORPORA): trained on the bundled sample only" >&2
  exit 0
fi

python3 - "$corpora/sigma/regression_data" "$work" <<'PY'
import glob, json, os, sys
src, out = sys.argv[1], sys.argv[2]
decoder = json.JSONDecoder()
with open(os.path.join(out, "evtx.ndjson"), "w") as evtx, open(os.path.join(out, "flat.ndjson"), "w") as flat:
    for path in sorted(glob.glob(os.path.join(src, "**", "*.json"), recursive=True)):
        text, at = open(path, encoding="utf-8").read(), 0
        while True:  # a file holds one or more pretty-printed events
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            event, at = decoder.raw_decode(text, at)
            evtx.write(json.dumps(event, separators=(",", ":")) + "\n")
            body = event.get("Event", {})
            row = {}
            for key, value in (body.get("System") or {}).items():
                if isinstance(value, dict):
                    if "#text" in value:
                        row[key] = value["#text"]
                    for name, attr in (value.get("#attributes") or {}).items():
                        row[key + "_" + name if key == "Provider" else name] = attr
                else:
                    row[key] = value
            data = body.get("EventData")
            if isinstance(data, dict):
                row.update({k: v for k, v in data.items() if k != "#attributes"})
            flat.write(json.dumps(row, separators=(",", ":")) + "\n")
PY
repeat "$work/flat.ndjson" 100 "$work/flat100.ndjson"
repeat "$work/evtx.ndjson" 20 "$work/evtx20.ndjson"
run alerts --rules "$corpora/sigma/rules" --threads 1 "$work/flat100.ndjson" "$work/evtx20.ndjson"
run alerts --rules "$corpora/sigma/rules" --threads 2 "$work/flat100.ndjson"
# The same events against the bundled Windows pack, which finds few of them: the path of an
# event no rule matches (most of a real stream).
run --rules "$root/rules/packs/windows" --threads 1 "$work/flat100.ndjson" "$work/evtx20.ndjson"

text=()
for f in Linux/Linux_2k.log OpenSSH/OpenSSH_2k.log Apache/Apache_2k.log; do
  if [[ -f "$corpora/loghub/$f" ]]; then
    repeat "$corpora/loghub/$f" 20 "$work/$(basename "$f")"
    text+=("$work/$(basename "$f")")
  fi
done
if ((${#text[@]})); then
  run alerts --rules "$root/rules/packs" --threads 1 "${text[@]}"
  run --rules "$corpora/sigma/rules/linux" --threads 1 "${text[@]}"
fi
