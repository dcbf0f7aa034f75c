"""Per-connection agreement with Zeek (oracle/zeek/**/*.conn.log, btest baselines).

Zeek conventions matched here: packets and IP bytes per side (orig_pkts/orig_ip_bytes, resp_pkts/resp_ip_bytes;
--size ip); connections are not keyed by VLAN (--no-vlan-key); Zeek logs a tunnel and the connections in it,
so flowsift runs with every tunnel opened, none, and each kind left closed, and a connection may match any run; Zeek has ports only for TCP
and UDP (ICMP carries type and code there), so other protocols are matched on addresses alone. Zeek cuts connections by its own inactivity
timers and teardown states, so both sides are summed per 5-tuple. Baselines cut to a few columns
(btest-diff-cut) without packet counts are not comparable, nor conversations with IP fragments that
flowsift counts one by one where Zeek counts reassembled datagrams (flowsift reassembles only tunnel datagrams).
"""
import os
import re
import sys

from oracle_common import DECAP_LAYERS, FIELDS, Agreement, conv_key, data_dir, norm_addr, run_flowsift

PROTO = {"tcp": 6, "udp": 17, "icmp": 1}


def parse(path):
    rows, fields = [], None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            elif not line.startswith("#") and fields:
                rows.append(dict(zip(fields, line.split("\t"))))
    return fields or [], rows


def find_pcap(data, rel_log):
    sub, name = os.path.split(rel_log)
    m = re.match(r"(.+?\.(pcapng|pcap|trace))\.", name)
    if not m:
        return None
    for top in ("pcap", "pcap-edge"):
        p = os.path.join(data, top, "zeek", sub, m.group(1))
        if os.path.exists(p):
            return p
    return None


TUNNEL_PORTS = {"teredo": 3544, "gtpv1": 2152, "ayiya": 5072, "vxlan": 4789, "geneve": 6081}


def tunnel_off_port(c):
    services = set(c.get("service", "-").split(","))
    for svc, port in TUNNEL_PORTS.items():
        if svc in services and port not in (int(c.get("id.orig_p", 0) or 0), int(c.get("id.resp_p", 0) or 0)):
            return True
    return False


def key_of(proto, a, pa, b, pb):
    if proto not in (6, 17):  # Zeek logs ports only for TCP and UDP (ICMP: type and code)
        pa = pb = 0
    return conv_key(proto, a, pa, b, pb)


def main():
    data = data_dir()
    odir = os.path.join(data, "oracle", "zeek")
    ag = Agreement("Zeek connections")
    for root, _, names in sorted(os.walk(odir)):
        for name in sorted(names):
            if not name.endswith(".conn.log"):
                continue
            rel = os.path.relpath(os.path.join(root, name), odir)
            fields, conns = parse(os.path.join(root, name))
            if not {"orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes"} <= set(fields):
                ag.skip("baseline cut to columns without packet counts", len(conns))
                continue
            pcap = find_pcap(data, rel)
            if not pcap:
                ag.skip("capture not in shared data", len(conns))
                continue

            def add(acc, k, a_ep, ab, ba, frags=0):
                if a_ep != k[1][0]:
                    ab, ba = ba, ab
                t = acc.setdefault(k, [0, 0, 0, 0, 0])
                for i, v in enumerate((ab[0], ab[1], ba[0], ba[1], frags)):
                    t[i] += v

            ours_by_mode = []
            for decap in DECAP_LAYERS:  # Zeek logs every layer of a tunnel
                rows, _, _ = run_flowsift([pcap], "--size", "ip", "--no-vlan-key", "--decap", decap,
                                          "--idle-timeout", "0", "--active-timeout", "0", "--tcp-teardown", "off",
                                          "--keep-going", fields=FIELDS + ",frags")
                acc = {}
                for r in rows:
                    p = int(r["proto"])
                    add(acc, key_of(p, r["srcaddr"], r["srcp"], r["dstaddr"], r["dstp"]),
                        (norm_addr(r["srcaddr"]), int(r["srcp"]) if p in (6, 17) else 0),
                        (int(r["src_packets"]), int(r["src_size"])), (int(r["dst_packets"]), int(r["dst_size"])),
                        int(r["frags"]))
                ours_by_mode.append(acc)
            # Zeek finds tunnels on any port by dynamic protocol detection; flowsift decapsulates by port
            dpd = {c["uid"] for c in conns if tunnel_off_port(c)}
            theirs = {}
            for c in conns:
                if c.get("uid") in dpd or set(c.get("tunnel_parents", "-").split(",")) & dpd:
                    ag.skip("tunnel Zeek detected on a non-standard port, and the connections in it")
                    continue
                proto = PROTO.get(c.get("proto"), -1)
                if proto == -1:
                    try:
                        proto = int(c.get("ip_proto", "-1"))
                    except ValueError:
                        proto = -1
                if proto == 1 and ":" in c["id.orig_h"]:
                    proto = 58
                try:
                    ab = (int(c["orig_pkts"]), int(c["orig_ip_bytes"]))
                    ba = (int(c["resp_pkts"]), int(c["resp_ip_bytes"]))
                    pa, pb = int(c["id.orig_p"]), int(c["id.resp_p"])
                except ValueError:
                    ag.skip("connection without counts")
                    continue
                k = key_of(proto, c["id.orig_h"], pa, c["id.resp_h"], pb)
                add(theirs, k, (norm_addr(c["id.orig_h"]), pa if proto in (6, 17) else 0), ab, ba)
            for k, t in theirs.items():
                ex = f"{rel.split('.pcap')[0]}: {k}"
                if t[0] == t[2] == 0:
                    ag.skip("Zeek logged the connection with no packets (nothing to compare)")
                    continue
                got = [m.get(k) for m in ours_by_mode]
                if any(g is not None and g[:4] == t[:4] for g in got):
                    ag.ok()
                elif any(g is not None and g[4] > 0 and g[0] + g[2] > t[0] + t[2] for g in got):
                    ag.skip("IP fragments: flowsift counts each fragment, Zeek the reassembled datagram")
                elif all(g is None for g in got):
                    ag.diff("connection not found in flowsift", ex)
                else:
                    g = next(g for g in got if g is not None)[:4]
                    cls = "same packets, other bytes" if g[0] + g[2] == t[0] + t[2] else "different packet counts"
                    ag.diff(cls, ex + f" ours {g} zeek {t}")
    return ag.report()


if __name__ == "__main__":
    sys.exit(main())
