#!/usr/bin/env bash
# Installs the Debian (bookworm) packages vigil needs to build and test. Idempotent: installs
# only what is missing. Runs apt-get as root (directly, or through sudo when available).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libhyperscan-dev libpcre2-dev libsimdjson-dev libyaml-cpp-dev libcli11-dev libfmt-dev
  libexpected-dev zlib1g-dev
  librocksdb-dev prometheus-cpp-dev libboost-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  unzip gzip python3
  python3-evtx  # the independent EVTX decoder test_evtx_e2e compares vigil's reader with
  python3-yaml  # scripts/check_rule_techniques.py reads the rule corpus it checks the mapping against
  prometheus syslog-ng-core  # rsyslog is not installed (it conflicts with syslog-ng-core): the
  # oracle unpacks Debian's package into its work dir (scripts/oracle/shippers.py)
  libcurl4-openssl-dev curl  # curl: the Elasticsearch bulk test ships with it, as users do
  clang libclang-rt-14-dev  # libFuzzer targets with ASan+UBSan (scripts/fuzz.sh, tests/fuzz)
  chromium nodejs  # browser tests of the console (tests/console: playwright-core from npm)
)
# NodeSource's nodejs bundles npm; Debian's does not (and conflicts with a separate npm there).
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
