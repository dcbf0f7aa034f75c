"""Per-flow agreement with CESNET ipfixprobe (oracle/ipfixprobe/<pcap>.<plugin>.csv; header on the LAST line).

ipfixprobe conventions matched here: BYTES = IP total length (--size ip, flowsift's default); inactive timeout
30 s, active 300 s; VLAN not in the key (--no-vlan-key); no tunnel decapsulation (--decap none). Each row is a
biflow with forward (SRC_IP is the first packet's sender) and _REV counters; rows and flows are summed per
5-tuple, because application plugins cut biflows at their own events. One CSV per capture is used (the basic plugin's when there is one): every plugin's output
carries the basic counters.
"""
import os
import sys

from oracle_common import Agreement, conv_key, data_dir, norm_addr, run_flowsift


def parse(path):
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    names = [c.split(" ", 1)[1] for c in lines[-1].split(",")]
    return [dict(zip(names, l.split(","))) for l in lines[:-1]]


def main():
    data = data_dir()
    odir = os.path.join(data, "oracle", "ipfixprobe")
    chosen = {}
    for name in sorted(os.listdir(odir)):
        pcap = name.split(".pcap.")[0] + ".pcap"
        if pcap not in chosen or name.endswith(".basic.csv"):
            chosen[pcap] = name
    ag = Agreement("ipfixprobe biflows")
    for pcap, name in sorted(chosen.items()):
        path = os.path.join(data, "pcap", "ipfixprobe", pcap)
        if not os.path.exists(path):
            ag.skip("capture not in shared data")
            continue
        rows, _, _ = run_flowsift([path], "--size", "ip", "--idle-timeout", "30s", "--active-timeout", "300s",
                                  "--no-vlan-key", "--decap", "none", "--tcp-teardown", "on", "--keep-going")
        # application plugins (dns, tls, ...) cut a biflow at their own events, so compare per 5-tuple:
        # all of ipfixprobe's rows and all of flowsift's flows on it, counted from the lower endpoint
        def add(acc, k, a_ep, ab, ba):
            if a_ep != k[1][0]:
                ab, ba = ba, ab
            t = acc.setdefault(k, [0, 0, 0, 0, 0])
            for i, v in enumerate((ab[0], ab[1], ba[0], ba[1], 1)):
                t[i] += v

        ours, theirs = {}, {}
        for r in rows:
            k = conv_key(r["proto"], r["srcaddr"], r["srcp"], r["dstaddr"], r["dstp"])
            add(ours, k, (norm_addr(r["srcaddr"]), int(r["srcp"])), (int(r["src_packets"]), int(r["src_size"])),
                (int(r["dst_packets"]), int(r["dst_size"])))
        for o in parse(os.path.join(odir, name)):
            proto = int(o["PROTOCOL"])
            a, b = norm_addr(o["SRC_IP"]), norm_addr(o["DST_IP"])
            pa, pb = int(o["SRC_PORT"]), int(o["DST_PORT"])
            if proto in (1, 58):
                pa = pb = 0  # ipfixprobe puts ICMP type and code in DST_PORT; flowsift keeps them apart
            k = conv_key(proto, a, pa, b, pb)
            add(theirs, k, (a, pa), (int(o["PACKETS"]), int(o["BYTES"])),
                (int(o["PACKETS_REV"]), int(o["BYTES_REV"])))
        for k, t in theirs.items():
            ex = f"{pcap}: {k} ({t[4]} ipfixprobe rows)"
            o = ours.get(k)
            if o is None:
                ag.diff("conversation not found in flowsift", ex)
            elif o[:4] == t[:4]:
                ag.ok()
            else:
                ag.diff("different counts", ex + f" ours {o[:4]} ipfixprobe {t[:4]}")
    return ag.report()


if __name__ == "__main__":
    sys.exit(main())
