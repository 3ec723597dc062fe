#!/usr/bin/env bash
# Long runs of the oracle (scripts/oracle.py): every path and input, whole inputs. CI runs the
# bounded form (--quick) from .ci/run.
#   usage: scripts/oracle.sh [VIGIL=build/app/vigil] [extra oracle.py args]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vigil="${1:-$here/../build/app/vigil}"
shift || true
exec python3 "$here/oracle.py" --vigil "$vigil" "$@"
