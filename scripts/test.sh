#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test with ctest.
# Tests that need ../shared/corpora (or $VIGIL_CORPORA) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900
