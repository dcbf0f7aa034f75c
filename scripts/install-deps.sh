#!/bin/sh
# install-deps.sh - installs the Debian 12 packages flowsift needs, if missing.
#   scripts/install-deps.sh          what building and running need
#   scripts/install-deps.sh --test   also what the test suite needs (oracles, clang for fuzzers)
# Run as root (apt-get). Does nothing when everything is there.
set -eu
pkgs="build-essential cmake pkg-config libpcap-dev libzstd-dev libxxhash-dev bsdextrautils"
if [ "${1:-}" = "--test" ]; then
  pkgs="$pkgs python3 tshark clang libclang-rt-14-dev softflowd nfdump pmacct tcpreplay tcpdump iproute2"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (or install:$missing)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
