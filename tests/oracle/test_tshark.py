"""Per-conversation agreement with tshark's conversation statistics (-z conv,tcp -z conv,udp).

tshark is an independent decoder available on every machine, so this test runs it live on the captures of
../shared/data/pcap that no other oracle covers (everything but pcap/ndpi). Conventions matched: no timeouts
and no TCP teardown (tshark's conversations last the whole capture; its TCP streams that reuse ports are summed
per 5-tuple here), frame bytes (--size frame), VLAN ids ignored (--no-vlan-key), no tunnel decapsulation
(tshark taps every layer of a tunnel: flowsift runs with every tunnel opened, none, and each kind left
closed), IP reassembly off on both sides (-o ip.defragment:FALSE and
--fragments first). tshark prints bytes above 9999 rounded (e.g. "517 kB"): frames must match exactly and
bytes to the printed precision.
"""
import os
import re
import shutil
import subprocess
import sys

from oracle_common import DECAP_LAYERS, SKIP, Agreement, conv_key, data_dir, norm_addr, run_flowsift

LINE = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+([\d,]+) (bytes|kB|MB|GB)\s+(\d+)\s+([\d,]+) (bytes|kB|MB|GB)")
UNIT = {"bytes": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}
SOURCES = ("arkime", "zeek", "ipfixprobe", "pcapplusplus", "suricata-verify", "chrissanders", "nfstream")


def endpoint(s):
    addr, _, port = s.rpartition(":")
    return norm_addr(addr), int(port)


def tshark_convs(pcap):
    p = subprocess.run(["tshark", "-n", "-r", pcap, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
                        "-q", "-z", "conv,tcp", "-z", "conv,udp"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    convs = {}
    proto = None
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("TCP Conversations"):
            proto = 6
        elif line.startswith("UDP Conversations"):
            proto = 17
        m = LINE.match(line)
        if not m or proto is None:
            continue
        (a, pa), (b, pb) = endpoint(m.group(1)), endpoint(m.group(2))
        ba = (int(m.group(3)), int(m.group(4).replace(",", "")), UNIT[m.group(5)])
        ab = (int(m.group(6)), int(m.group(7).replace(",", "")), UNIT[m.group(8)])
        k = conv_key(proto, a, pa, b, pb)
        if k in convs:  # another TCP stream on the same 5-tuple: sum
            o = convs[k]
            if (o["a"], o["pa"]) != (a, pa):
                ab, ba = ba, ab
            o["ab"] = (o["ab"][0] + ab[0], o["ab"][1] + ab[1], max(o["ab"][2], ab[2]))
            o["ba"] = (o["ba"][0] + ba[0], o["ba"][1] + ba[1], max(o["ba"][2], ba[2]))
        else:
            convs[k] = {"a": a, "pa": pa, "ab": ab, "ba": ba}
    return convs


def bytes_agree(ours, theirs):
    _, value, unit = theirs
    if unit == 1:
        return ours == value
    return abs(ours / unit - value) <= 1  # printed rounded to whole units


def main():
    if not shutil.which("tshark"):
        print("SKIP: tshark is not installed (scripts/install-deps.sh --test installs it)")
        return SKIP
    data = data_dir()
    ag = Agreement("tshark conversations")
    for src in SOURCES:
        base = os.path.join(data, "pcap", src)
        if not os.path.isdir(base):
            continue
        for root, _, files in sorted(os.walk(base)):
            for name in sorted(files):
                if not name.endswith((".pcap", ".pcapng", ".cap")):
                    continue
                pcap = os.path.join(root, name)
                if os.path.getsize(pcap) > 4 << 20:
                    continue
                theirs = tshark_convs(pcap)
                if not theirs:
                    continue
                ours = {}
                for decap in DECAP_LAYERS:  # tshark counts every layer of a tunnel
                    rows, _, _ = run_flowsift([pcap], "--size", "frame", "--idle-timeout", "0", "--active-timeout",
                                              "0", "--tcp-teardown", "off", "--no-vlan-key", "--decap", decap,
                                              "--fragments", "first", "--keep-going")
                    for r in rows:
                        if r["proto"] in ("6", "17"):
                            ours.setdefault(conv_key(r["proto"], r["srcaddr"], r["srcp"], r["dstaddr"], r["dstp"]), r)
                rel = os.path.relpath(pcap, data)
                for k, t in theirs.items():
                    ex = f"{rel}: {k}"
                    r = ours.get(k)
                    if r is None:
                        ag.diff("conversation not found in flowsift", ex)
                        continue
                    ab = (int(r["src_packets"]), int(r["src_size"]))
                    ba = (int(r["dst_packets"]), int(r["dst_size"]))
                    if (norm_addr(r["srcaddr"]), int(r["srcp"])) != (t["a"], t["pa"]):
                        ab, ba = ba, ab
                    if ab[0] != t["ab"][0] or ba[0] != t["ba"][0]:
                        ag.diff("different packet counts", ex + f" ours {ab}/{ba} tshark {t['ab']}/{t['ba']}")
                    elif not (bytes_agree(ab[1], t["ab"]) and bytes_agree(ba[1], t["ba"])):
                        ag.diff("different byte counts", ex + f" ours {ab}/{ba} tshark {t['ab']}/{t['ba']}")
                    else:
                        ag.ok()
    return ag.report()


if __name__ == "__main__":
    sys.exit(main())
