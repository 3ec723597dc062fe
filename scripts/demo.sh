#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs `vigil scan` with the
# bundled rule packs over the bundled sample log, alerts as a table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/app/vigil scan --output table samples/sample.log
