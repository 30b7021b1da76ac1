#!/usr/bin/env bash
# install-deps.sh - installs every Debian package shadowctl needs to build,
# test, benchmark and run its demo. Idempotent; runs apt-get only for what is
# missing. Needs root (or sudo).
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config clang
  libpcap-dev libuv1-dev libmsgpack-dev libsqlite3-dev libcriterion-dev
  libhttp-parser-dev libjansson-dev libzstd-dev libxxhash-dev libyaml-dev zlib1g-dev libdeflate-dev
  sqlite3 curl tcpdump tshark wrk nginx-light libxml2-utils valgrind iproute2 procps man-db
)
if [ "${SC_WITH_BROWSER:-0}" = 1 ]; then PKGS+=(chromium); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
