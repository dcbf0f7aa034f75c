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
echo
echo "== per-host statistics of every address, 1 min and 1 h windows, into the same store's hosts table"
build/flowsift monitor --all-hosts -w 1m,1h --store "$out/store" samples/many-protocols.pcap
echo
echo "== host 10.0.0.1's windows (1 h and 1 min), read back: a few of their 111 columns"
build/flowsift query "$out/store" --table hosts --host 10.0.0.1 -F csv -q \
  | cut -d, -f1-3,7-13 | column -s, -t
