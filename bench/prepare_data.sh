#!/usr/bin/env bash
# Prepares the benchmark data in $VIGIL_BENCH_DIR (default /tmp/vigil-bench). Idempotent: a file
# that exists is kept (delete the directory to rebuild).
#   otrf_windows.ndjson   every JSON line starting with '{' of every OTRF capture (all zips under
#                         $VIGIL_CORPORA/otrf/datasets, __MACOSX entries skipped, CR removed)
#   linux_web_1g.log      elastic-examples auth.log + apache_access.log, concatenated copies up
#                         to at least 1 GiB
#   devices_mix.log       every *.log under device-logs (sorted, blank lines dropped), copies up
#                         to at least 64 MiB
#   rules-windows/, rules-linux-web/, rules-linux-web-sigma/   copies of exactly the rule files
#                                      the benchmark selects
#                         (needs the bench binary: pass its path as $1), for `vigil scan --rules`
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
corpora="${VIGIL_CORPORA:-$here/../../shared/corpora}"
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
bench_bin="${1:-}"
mkdir -p "$out"

if [[ ! -d "$corpora/otrf/datasets" ]]; then
  echo "prepare_data: corpora not found at $corpora (set VIGIL_CORPORA)" >&2
  exit 2
fi

if [[ ! -s "$out/otrf_windows.ndjson" ]]; then
  echo "prepare_data: unpacking OTRF captures -> $out/otrf_windows.ndjson" >&2
  tmp="$out/otrf_windows.ndjson.tmp"
  : > "$tmp"
  while IFS= read -r zip; do
    while IFS= read -r entry; do
      case "$entry" in __MACOSX/*|*/) continue ;; esac
      unzip -p "$zip" "$entry" | sed 's/\r$//' | grep '^{' >> "$tmp" || true
    done < <(unzip -Z1 "$zip")
  done < <(find "$corpora/otrf/datasets" -name '*.zip' | LC_ALL=C sort)
  mv "$tmp" "$out/otrf_windows.ndjson"
fi

if [[ ! -s "$out/linux_web_1g.log" ]]; then
  echo "prepare_data: repeating auth.log + apache_access.log to 1 GiB -> $out/linux_web_1g.log" >&2
  tmp="$out/linux_web_1g.log.tmp"
  one="$out/linux_web_one_copy.log"
  { sed 's/\r$//' "$corpora/elastic-examples/auth.log"; sed 's/\r$//' "$corpora/elastic-examples/apache_access.log"; } > "$one"
  size=$(stat -c %s "$one")
  copies=$(( (1073741824 + size - 1) / size ))
  : > "$tmp"
  for ((i = 0; i < copies; i++)); do cat "$one"; done > "$tmp"
  mv "$tmp" "$out/linux_web_1g.log"
  echo "prepare_data: $copies copies of $size bytes" >&2
fi

if [[ ! -s "$out/devices_mix.log" ]]; then
  echo "prepare_data: repeating the device and server sample lines to 64 MiB -> $out/devices_mix.log" >&2
  tmp="$out/devices_mix.log.tmp"
  one="$out/devices_mix_one_copy.log"
  find "$corpora/device-logs" -name '*.log' | LC_ALL=C sort | while IFS= read -r f; do sed 's/\r$//' "$f"; done |
    grep -v '^[[:space:]]*$' > "$one"
  size=$(stat -c %s "$one")
  copies=$(( (67108864 + size - 1) / size ))
  : > "$tmp"
  for ((i = 0; i < copies; i++)); do cat "$one"; done > "$tmp"
  mv "$tmp" "$out/devices_mix.log"
  echo "prepare_data: $copies copies of $size bytes" >&2
fi

if [[ -n "$bench_bin" ]]; then
  for which in windows linux-web linux-web-sigma devices-mix; do
    dir="$out/rules-$which"
    if [[ ! -d "$dir" ]]; then
      echo "prepare_data: copying the $which rule selection -> $dir" >&2
      rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
      "$bench_bin" --list-rules="$which" > "$out/rules-$which.txt"
      while IFS= read -r f; do
        rel="${f#"$corpora"/sigma/}"
        cp "$f" "$dir.tmp/${rel//\//__}"
      done < "$out/rules-$which.txt"
      mv "$dir.tmp" "$dir"
    fi
  done
fi
ls -la "$out" >&2
