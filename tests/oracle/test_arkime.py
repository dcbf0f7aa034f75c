"""Per-session agreement with Arkime (oracle/arkime/*.test.json, sessions3[].body).

Arkime conventions matched here: bytes are frame bytes including the link layer (--size frame); sessions are
not split by VLAN (--no-vlan-key); Arkime decapsulates tunnels (--decap all); its test captures are short, so
timeouts do not come into play (--idle-timeout 0 --active-timeout 0); TCP sessions end at teardown only after a
closing period, so flowsift's teardown is off. Compared per conversation (Arkime's sessions of one 5-tuple summed): packets and bytes per direction; payload
bytes per direction (client.bytes/server.bytes vs src_paysize/dst_paysize) are reported as a second figure.
"""
import ipaddress
import json
import os
import sys
import tempfile

from oracle_common import FIELDS, Agreement, conv_key, data_dir, norm_addr, run_flowsift


def is_group(addr):
    a = ipaddress.ip_address(addr)
    return a.is_multicast or str(a) == "255.255.255.255"


def group_merge(k, t, rows):
    """True if the conversation has a multicast/broadcast endpoint and flowsift's flows of the same protocol
    and port set (the DHCP replies, the IGMP reports of every group, the other speakers of a routing protocol)
    add up to Arkime's packet count."""
    proto, ((a, pa), (b, pb)), _ = k
    if not (is_group(a) or is_group(b)):
        return False
    total = sum(int(r["src_packets"]) + int(r["dst_packets"]) for r in rows
                if int(r["proto"]) == proto and {int(r["srcp"]), int(r["dstp"])} == {pa, pb})
    return total == t[0] + t[2]


def unsupported_link(pcap):
    with tempfile.TemporaryDirectory() as tmp:
        st = os.path.join(tmp, "s.json")
        run_flowsift([pcap], "--stats", st)
        with open(st) as f:
            s = json.load(f)
        return s["reasons"]["linktype"] == s["packets"] > 0


def main():
    data = data_dir()
    odir = os.path.join(data, "oracle", "arkime")
    ag = Agreement("Arkime sessions (packets, bytes)")
    pay = Agreement("Arkime sessions (payload bytes)")
    for name in sorted(os.listdir(odir)):
        if not name.endswith(".test.json"):
            continue
        base = name[:-len(".test.json")]
        pcap = next((os.path.join(data, "pcap", "arkime", base + ext) for ext in (".pcap", ".pcapng")
                     if os.path.exists(os.path.join(data, "pcap", "arkime", base + ext))), None)
        if not pcap:
            ag.skip("capture not in shared data")
            continue
        try:
            with open(os.path.join(odir, name)) as f:
                sessions = [s["body"] for s in json.load(f).get("sessions3", [])]
        except (ValueError, KeyError):
            ag.skip("oracle file unreadable")
            continue
        rows, _, _ = run_flowsift([pcap], "--size", "frame", "--no-vlan-key", "--decap", "all", "--idle-timeout",
                                  "0", "--active-timeout", "0", "--tcp-teardown", "off", "--keep-going",
                                  fields=FIELDS + ",src_paysize,dst_paysize")
        # Arkime cuts sessions by its own timeouts and packet limits: compare per conversation, summed over
        # its sessions and over flowsift's flows, each direction counted from the conversation's lower endpoint
        def add(acc, k, a_ep, ab, ba, pa, pb):
            first = k[1][0]
            if a_ep != first:
                ab, ba, pa, pb = ba, ab, pb, pa
            t = acc.setdefault(k, [0, 0, 0, 0, 0, 0, 0])
            for i, v in enumerate((ab[0], ab[1], ba[0], ba[1], pa, pb, 1)):
                t[i] += v

        ours, theirs = {}, {}
        for r in rows:
            k = conv_key(r["proto"], r["srcaddr"], r["srcp"], r["dstaddr"], r["dstp"])
            add(ours, k, (norm_addr(r["srcaddr"]), int(r["srcp"])), (int(r["src_packets"]), int(r["src_size"])),
                (int(r["dst_packets"]), int(r["dst_size"])), int(r["src_paysize"]), int(r["dst_paysize"]))
        payload_known = set()
        for s_ in sessions:
            src, dst = s_.get("source", {}), s_.get("destination", {})
            if "ip" not in src or "ip" not in dst:
                ag.skip("session without addresses (non-IP)")
                continue
            k = conv_key(s_.get("ipProtocol", 0), src["ip"], src.get("port", 0), dst["ip"], dst.get("port", 0))
            cb, sb = s_.get("client", {}).get("bytes"), s_.get("server", {}).get("bytes")
            if cb is not None and sb is not None:
                payload_known.add(k)
            add(theirs, k, (norm_addr(src["ip"]), src.get("port", 0)), (src.get("packets", 0), src.get("bytes", 0)),
                (dst.get("packets", 0), dst.get("bytes", 0)), cb or 0, sb or 0)
        for k, t in theirs.items():
            ex = f"{base}: {k} ({t[6]} Arkime sessions)"
            o = ours.get(k)
            if o is None and not rows and unsupported_link(pcap):
                ag.skip("link type flowsift does not decode (802.11 radiotap)")
                continue
            if o is None:
                ag.diff("conversation not found in flowsift", ex)
                continue
            if o[:4] != t[:4] and group_merge(k, t, rows):
                ag.skip("Arkime merges the flows around a multicast/broadcast address into one session (verified: "
                        "the packets of flowsift's flows there add up to Arkime's)")
                continue
            if o[:4] == t[:4]:
                ag.ok()
            elif o[0] + o[2] == t[0] + t[2]:
                ag.diff("same packets, different bytes or direction", ex + f" ours {o[:4]} arkime {t[:4]}")
            else:
                ag.diff("different packet counts", ex + f" ours {o[:4]} arkime {t[:4]}")
            if k in payload_known:
                if o[4:6] == t[4:6]:
                    pay.ok()
                else:
                    pay.diff("payload bytes differ", ex + f" ours {o[4:6]} arkime {t[4:6]}")
    rc = ag.report()
    print("(informational, not a pass/fail figure: Arkime counts payload it reassembled, see docs/oracles.md)")
    pay.report(threshold=0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
