#!/usr/bin/env bash
# Puts Debian's Vectorscan (libvectorscan-dev + libvectorscan5, the Hyperscan fork) into
# BUILD_DIR/vectorscan without installing anything: the two packages conflict with Hyperscan's
# libhyperscan-dev, which stays the system's. `apt-get download` fetches the .deb files,
# `dpkg -x` unpacks them; the tree is then BUILD_DIR/vectorscan/usr/{include/hs,lib/<arch>}.
# CMake runs this at configure time with -DVIGIL_REGEX_ENGINE=vectorscan (CMakeLists.txt).
#
#   scripts/fetch_vectorscan.sh BUILD_DIR
#
# Idempotent: a complete tree (its stamp file names the package version) is left as it is;
# delete BUILD_DIR/vectorscan to fetch again. VIGIL_VECTORSCAN_VERSION pins a package version
# (default: apt's candidate, 5.4.9-1 on bookworm). Needs apt's package lists (apt-get update),
# not root.
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
mkdir -p "$1"
build="$(cd "$1" && pwd)"
dest="$build/vectorscan"
stamp="$dest/.vigil-vectorscan-version"

if [[ -f "$stamp" ]]; then
  exit 0
fi

version="${VIGIL_VECTORSCAN_VERSION:-}"
if [[ -z "$version" ]]; then
  version="$(apt-cache policy libvectorscan-dev 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')"
fi
if [[ -z "$version" || "$version" == "(none)" ]]; then
  echo "fetch_vectorscan: apt knows no libvectorscan-dev (run apt-get update; Debian bookworm or later)" >&2
  exit 1
fi

tmp="$dest.tmp"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/debs" "$tmp/root"
# apt-get download writes into the current directory; as root it warns that it runs unsandboxed
# when the _apt user cannot write there, which is harmless.
(cd "$tmp/debs" && apt-get download -q \
  "libvectorscan-dev=$version" "libvectorscan5=$version" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
for pkg in libvectorscan-dev libvectorscan5; do
  deb="$(find "$tmp/debs" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)"
  if [[ -z "$deb" ]]; then
    echo "fetch_vectorscan: apt-get download $pkg=$version failed" >&2
    exit 1
  fi
  dpkg -x "$deb" "$tmp/root"
done
if [[ ! -f "$tmp/root/usr/include/hs/hs.h" ]] || ! find "$tmp/root/usr/lib" -name libhs.a | grep -q .; then
  echo "fetch_vectorscan: the packages hold no usr/include/hs/hs.h or libhs.a" >&2
  exit 1
fi
echo "$version" > "$tmp/root/.vigil-vectorscan-version"
rm -rf "$dest"
mv "$tmp/root" "$dest"
echo "fetch_vectorscan: Vectorscan $version unpacked into $dest" >&2
