#!/bin/sh
# demo.sh - installs what is missing, builds flowsift and extracts the flows of the bundled sample capture.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
out=$(mktemp -d)
echo
echo "== flowsift extract samples/many-protocols.pcap"
build/flowsift extract samples/many-protocols.pcap -o "$out/flows.csv"
echo
echo "== the 10 largest flows (of $(($(wc -l < "$out/flows.csv") - 1)); all in $out/flows.csv)"
build/flowsift extract -q samples/many-protocols.pcap --fields srcaddr,srcp,dstaddr,dstp,proto,packets,size,duration,end \
  | { IFS= read -r h; echo "$h"; sort -t, -k7,7nr | head -10; } | column -s, -t
echo
echo "== into the embedded store $out/store, then the published example query: flows without payload"
build/flowsift extract -q samples/many-protocols.pcap --store "$out/store"
build/flowsift query "$out/store" 'paysize == 0' --preset brief | head -6 | column -s, -t
