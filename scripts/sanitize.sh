#!/usr/bin/env bash
# The test suite under sanitizers, for runs longer than CI's (.ci/run runs the oracle's scan
# cases under TSan and ASan+UBSan, and the fuzz targets; this runs the tests themselves):
#   address  every test, built with ASan+UBSan (build-asan/)
#   thread   the tests of the pipeline, the store, correlation and the daemon's threads, built
#            with TSan (build-tsan/)
#
#   scripts/sanitize.sh address|thread [ctest -R regex]
#
# -O1 -g: sanitizer reports with exact stacks at a bearable speed. Any report fails the test
# that triggered it (halt_on_error), and ctest's summary says which.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:?usage: scripts/sanitize.sh address|thread [ctest regex]}"
case "$kind" in
  # Not the tests of the build itself (the PGO script and the CPU-flag configure check build
  # vigil again, without sanitizers).
  address) dir=build-asan regex="${2:-.}" exclude='^(pgo_train_script|cmake_cpu_auto)$' ;;
  # What shares state between threads: the pipeline and its metrics, the store, correlation,
  # the daemon, its collectors, forwarding and the API.
  thread) dir=build-tsan exclude='^$'
          regex="${2:-^(test_core_daemon|test_daemon|test_metrics|test_storage|test_correlation|test_correlation_e2e|test_collectors_syslog|test_collectors_file_http|test_collectors_relp|test_silence_e2e|test_core_sources|test_net_http_server|test_forward|test_forwarding_e2e|test_api)$}" ;;
  *) echo "sanitize.sh: kind must be address or thread" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" \
      -DCMAKE_C_FLAGS_RELEASE="-O1 -g" -DVIGIL_SANITIZE="$kind" -DVIGIL_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"
cd "$dir"
ctest --output-on-failure -j "$(nproc)" --timeout 1800 -R "$regex" -E "$exclude"
