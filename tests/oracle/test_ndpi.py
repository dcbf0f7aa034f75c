"""Per-flow agreement with nDPI's ndpiReader (oracle/ndpi/*.out, see shared/data/README.md).

ndpiReader conventions matched here: bytes are the pcap frame length (--size frame); flows idle for 30 s are
purged (they leave the flow list; --idle-timeout 30s); no active timeout; no TCP teardown; -t decapsulates GTP
only among the tunnels flowsift knows (--decap gtp); the VLAN id is part of the key. A listed flow is compared
with flowsift's last flow of the same key (ndpiReader lists the incarnation alive at the end).
"""
import os
import re
import sys

import ipaddress

from oracle_common import FIELDS, Agreement, conv_key, data_dir, norm_addr, proto_num, run_flowsift


def valid_addr(a):
    try:
        ipaddress.ip_address(a)
        return True
    except ValueError:
        return False

LINE = re.compile(r"^\t\d+\t(\S+) (\S+) (<->|->) (\S+) (?:\[VLAN: (\d+)\])?.*?"
                  r"\[(\d+) pkts/(\d+) bytes (?:<->|->) (\d+) pkts/(\d+) bytes\]")


def endpoint(s):
    addr, _, port = s.rpartition(":")
    return norm_addr(addr), int(port)


def parse_ndpi(path):
    flows = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            if "[proto:" not in line:
                continue
            m = LINE.match(line)
            if not m:
                continue
            proto = proto_num(m.group(1))
            (a, pa), (b, pb) = endpoint(m.group(2)), endpoint(m.group(4))
            flows.append({"proto": proto, "a": a, "pa": pa, "b": b, "pb": pb, "vlan": int(m.group(5) or 0),
                          "ab": (int(m.group(6)), int(m.group(7))), "ba": (int(m.group(8)), int(m.group(9)))})
    return flows


def main():
    data = data_dir()
    odir = os.path.join(data, "oracle", "ndpi")
    ag = Agreement("nDPI ndpiReader")
    files = sorted(f for f in os.listdir(odir) if f.endswith(".out"))
    for name in files:
        pcap = os.path.join(data, "pcap", "ndpi", name[:-4])
        if not os.path.exists(pcap):
            ag.skip("capture not in shared data")
            continue
        oracle = parse_ndpi(os.path.join(odir, name))
        if not oracle:
            continue
        rows, rc, err = run_flowsift([pcap], "--size", "frame", "--idle-timeout", os.environ.get("NDPI_IDLE", "0"), "--active-timeout", "0",
                                     "--tcp-teardown", "off", "--decap", "gtp,ipip,vxlan,gre", "--fragments", "first",
                                     "--keep-going", fields=FIELDS + ",vlan2")
        ours = {}
        for r in rows:
            inner_vlan = r["vlan2"] if r["vlan2"] != "0" else r["vlan"]  # ndpiReader keys on the last tag
            k = conv_key(r["proto"], r["srcaddr"], r["srcp"], r["dstaddr"], r["dstp"], inner_vlan)
            ours.setdefault(k, []).append(r)
        for o in oracle:
            k = conv_key(o["proto"], o["a"], o["pa"], o["b"], o["pb"], o["vlan"])
            cand = ours.get(k)
            ex = f"{name[:-4]}: {o['proto']} {o['a']}:{o['pa']} - {o['b']}:{o['pb']} vlan {o['vlan']}"
            if not valid_addr(o["a"]) or not valid_addr(o["b"]):
                ag.skip("ndpiReader printed an address that is not valid (e.g. '2600:1901::7a0b::')")
                continue
            if not cand:
                ag.diff("flow not found in flowsift", ex)
                continue
            r = max(cand, key=lambda r: float(r["last"]))
            mine_ab = (int(r["src_packets"]), int(r["src_size"]))
            mine_ba = (int(r["dst_packets"]), int(r["dst_size"]))
            if (norm_addr(r["srcaddr"]), int(r["srcp"])) != (o["a"], o["pa"]):
                mine_ab, mine_ba = mine_ba, mine_ab
            if (mine_ab, mine_ba) == (o["ab"], o["ba"]):
                ag.ok()
            elif mine_ab[0] + mine_ba[0] == o["ab"][0] + o["ba"][0] and mine_ab[1] + mine_ba[1] == o["ab"][1] + o["ba"][1]:
                ag.diff("same totals, split differently between directions", ex + f" ours {mine_ab}/{mine_ba} "
                        f"theirs {o['ab']}/{o['ba']}")
            elif mine_ab[0] + mine_ba[0] > o["ab"][0] + o["ba"][0]:
                ag.diff("flowsift counts more packets", ex + f" ours {mine_ab}/{mine_ba} theirs {o['ab']}/{o['ba']}")
            else:
                ag.diff("flowsift counts fewer packets", ex + f" ours {mine_ab}/{mine_ba} theirs {o['ab']}/{o['ba']}")
    return ag.report()


if __name__ == "__main__":
    sys.exit(main())
