#!/bin/sh
# store_bench.sh - flowsift's store and query against nfcapd files and nfdump, on the same traffic. By hand.
#   bench/store_bench.sh CAPTURE.pcap [RUNS]
# The nfcapd files come from softflowd exporting CAPTURE over NetFlow v9 on 127.0.0.1 (a large flow table, so
# flows are not forced out early); the store from flowsift extract. Prints sizes per flow, median query times
# (filters, top-N, time ranges) and what writing the store costs extract.
# Needs: softflowd nfdump bc (apt-get install softflowd nfdump bc), and build/flowsift.
set -eu
cap=$1; runs=${2:-5}
fs=$(dirname "$0")/../build/flowsift
work=$(mktemp -d)
mkdir -p "$work/nf"
# softflowd sends as fast as it reads: give nfcapd a socket buffer that holds the whole export, or datagrams are
# dropped and nfcapd's files hold a random part of the flows (the kernel caps the buffer at rmem_max)
rmem=$(cat /proc/sys/net/core/rmem_max)
if [ "$(id -u)" = 0 ]; then sysctl -qw net.core.rmem_max=268435456; fi
trap 'kill $nfpid 2>/dev/null || true; [ "$(id -u)" = 0 ] && sysctl -qw net.core.rmem_max=$rmem; rm -rf "$work"' EXIT
nfcapd -l "$work/nf" -p 9995 -b 127.0.0.1 -B 268435456 -w "$work/nf" > "$work/nfcapd.log" 2>&1 &
nfpid=$!
sleep 1
softflowd -r "$cap" -n 127.0.0.1:9995 -v 9 -c none -m 2000000 -d > "$work/softflowd.log" 2>&1
sleep 2
kill -TERM $nfpid; wait $nfpid 2>/dev/null || true
raw=$(ls "$work"/nf/nfcapd.* | head -1)
nf_flows=$(nfdump -r "$raw" -I | awk '/^Flows:/ {print $2}')
"$fs" extract -q "$cap" --store "$work/store"
fs_flows=$("$fs" query -q "$work/store" --fields srcp | tail -n +2 | wc -l)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { # command... -> median wall seconds over $runs runs
    for _ in $(seq "$runs"); do
        s=$(date +%s.%N); "$@" > /dev/null 2>&1; e=$(date +%s.%N)
        echo "$e - $s" | bc
    done | median
}


echo "flows: nfcapd $nf_flows (unidirectional records, as exported by softflowd), flowsift store $fs_flows (biflows)"
echo
echo "| storage | bytes | bytes per flow |"
echo "|---|---:|---:|"
for c in 1 3 2; do
    f="$work/nf-$c"; cp "$raw" "$f"; nfdump -J $c -r "$f" > /dev/null 2>&1
    name=$(case $c in 1) echo "nfcapd LZO";; 3) echo "nfcapd LZ4";; 2) echo "nfcapd BZ2";; esac)
    b=$(stat -c %s "$f"); echo "| $name | $b | $(echo "scale=1; $b / $nf_flows" | bc) |"
done
b=$(du -sb "$work/store" | cut -f1); echo "| flowsift store (zstd) | $b | $(echo "scale=1; $b / $fs_flows" | bc) |"
echo
nf="$work/nf-3"
cat "$nf" "$work"/store/flows/*/*.fss > /dev/null
echo "| query | nfdump (LZ4 file) s | flowsift s |"
echo "|---|---:|---:|"
echo "| filter scan: dst port 22 and packets > 100 | $(timeit nfdump -r "$nf" -q 'dst port 22 and packets > 100') | $(timeit "$fs" query -q "$work/store" 'dstp 22 and packets > 100' -o /dev/null) |"
echo "| top 10 sources by bytes | $(timeit nfdump -r "$nf" -s srcip/bytes -n 10) | $(timeit "$fs" query -q "$work/store" --group-by srcaddr --top 10 --by bytes -o /dev/null) |"
echo "| top 10 destination ports by flows | $(timeit nfdump -r "$nf" -s dstport/flows -n 10) | $(timeit "$fs" query -q "$work/store" --group-by dstp --agg count --top 10 -o /dev/null) |"
# time ranges: the hour the capture starts in (a partition), and one minute two minutes into it
first=$("$fs" query -q "$work/store" --fields first -F csv | tail -n +2 | sort -n | head -1 | cut -d. -f1)
h0=$((first / 3600 * 3600)); m0=$((first + 120))
# nfcapd's clock is not the capture's (softflowd exports times relative to its own uptime): the same windows
# there are shifted by the difference of the first flows' times
delta=$(( $(nfdump -r "$nf" -I | awk '/^First:/ {print $2}') - first ))
nft() { TZ=UTC date -d "@$(($1 + delta))" +%Y/%m/%d.%H:%M:%S; }
echo "| time range: one hour, every record printed | $(timeit env TZ=UTC nfdump -r "$nf" -q -t "$(nft $h0)-$(nft $((h0 + 3600)))") | $(timeit "$fs" query -q "$work/store" --since $h0 --until $((h0 + 3600)) -o /dev/null) |"
echo "| time range: one minute, every record printed | $(timeit env TZ=UTC nfdump -r "$nf" -q -t "$(nft $m0)-$(nft $((m0 + 60)))") | $(timeit "$fs" query -q "$work/store" --since $m0 --until $((m0 + 60)) -o /dev/null) |"
echo "| time range: one minute, count | $(timeit env TZ=UTC nfdump -r "$nf" -q -t "$(nft $m0)-$(nft $((m0 + 60)))" -s proto/flows) | $(timeit "$fs" query -q "$work/store" --since $m0 --until $((m0 + 60)) --group-by proto --agg count -o /dev/null) |"
"$fs" compact -q "$work/store"
echo "| the same after flowsift compact (rows in time order) | | $(timeit "$fs" query -q "$work/store" --since $m0 --until $((m0 + 60)) --group-by proto --agg count -o /dev/null) |"
echo
# ingest: what writing the store costs extract (the requirement: at most 20% of its throughput)
csv=$(timeit "$fs" extract -q "$cap" -F csv -o /dev/null)
store=$(timeit sh -c "rm -rf '$work/ingest'; '$fs' extract -q '$cap' --store '$work/ingest'")
echo "| extract | s |"
echo "|---|---:|"
echo "| to CSV, -o /dev/null | $csv |"
echo "| to the store | $store |"
echo "| store / CSV | $(echo "scale=3; $store / $csv" | bc) |"
