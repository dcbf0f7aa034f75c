#!/bin/sh
# build.sh DIR [cmake options...] - configures and builds flowsift into DIR.
set -eu
dir=$1; shift
cmake -S "$(dirname "$0")/.." -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
