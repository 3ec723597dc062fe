#!/usr/bin/env bash
# Builds an optimised vigil: Release, profile-guided (GCC). In one build directory:
#   1. configure with VIGIL_PGO=generate and build `vigil` (instrumented);
#   2. run scripts/pgo_train.sh, which writes the profile beside each object (.gcda);
#   3. reconfigure with VIGIL_PGO=use and build TARGETS (every object is compiled again, now
#      with the profile).
# On the OTRF Windows benchmark this saves about 10% of the time a pass takes (README.md,
# Performance). The profile comes from logs that are not the benchmark's (see pgo_train.sh).
#
#   scripts/pgo_build.sh BUILD_DIR [TARGET...] [-- CMAKE_ARGS...]
#
# TARGETS default to `vigil`. The binary is BUILD_DIR/app/vigil. Missing Debian packages are
# installed first (scripts/install-deps.sh), as scripts/build.sh does.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:?usage: pgo_build.sh BUILD_DIR [TARGET...] [-- CMAKE_ARGS...]}"
shift
targets=()
while (($#)) && [[ "$1" != "--" ]]; do targets+=("$1"); shift; done
[[ "${1:-}" == "--" ]] && shift
((${#targets[@]})) || targets=(vigil)
bash "$here/install-deps.sh"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIGIL_BUILD_TESTS=OFF \
  -DVIGIL_PGO=generate "$@" > /dev/null
find "$build" -name '*.gcda' -delete  # a profile from an older build would not fit
cmake --build "$build" --target vigil
bash "$here/pgo_train.sh" "$build/app/vigil"
echo "pgo_build: $(find "$build" -name '*.gcda' | wc -l) profiles written; rebuilding with them" >&2
cmake -S "$root" -B "$build" -DVIGIL_PGO=use > /dev/null
cmake --build "$build" --target "${targets[@]}"
