"""flowsift monitor against tshark: per-host window statistics recomputed from tshark's own dissection of each
packet (addresses, ports, protocol, IP length, TCP flags, time), by the definitions of docs/flowsift-monitor.md,
for the bundled sample and real captures of ../shared/data. Every host window of 1 s, 10 s and 1 min must agree
on every count: one-way flows, new flows, packets, bytes, average conversation duration, distinct peers and
ports (exact below 256 in the longer windows' sketches), the eight TCP flag counts, sessions; and the top
protocols, ports and peers with their bytes where the summaries are exact (at most 8 distinct keys)."""
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from e2e_common import SAMPLE, SKIP, binary, check, data_dir, finish  # noqa: E402

WINDOWS = [1, 10, 60]
IDLE_NS = 120 * 10**9
FIELDS = ["frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.len", "ipv6.plen", "ip.proto",
          "ipv6.nxt", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport",
          "tcp.flags", "icmp.type", "icmpv6.type", "ip.flags.mf", "ip.frag_offset", "ipv6.fragment", "vlan.id",
          "_ws.col.Protocol"]
PORTED = {6, 17, 132}


def ns_of(epoch):
    s, _, frac = epoch.partition(".")
    return int(s) * 10**9 + int((frac + "000000000")[:9])


def packets_of(path):
    """tshark's packets as (ns, ver, src, dst, sport, dport, proto, iplen, flags), or None when the capture
    has what this oracle does not model (tunnels, IP fragments, IPv6 extension headers, VLANs)."""
    cmd = ["tshark", "-n", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"] + sum((["-e", f] for f in FIELDS), [])
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    pkts = []
    for line in out.splitlines():
        f = dict(zip(FIELDS, line.split("\t")))
        if f["ip.flags.mf"] in ("1", "True") or f["ip.frag_offset"] not in ("", "0") or f["ipv6.fragment"] or f["vlan.id"]:
            return None
        v4, v6 = f["ip.src"], f["ipv6.src"]
        if not v4 and not v6:
            continue  # not IP: flowsift skips it too
        icmp = f["icmp.type"] or f["icmpv6.type"]
        if (v4 and v6) or ("|" in v4 and not f["icmp.type"]) or ("|" in v6 and not f["icmpv6.type"]):
            return None  # a tunnel
        ver = 4 if v4 else 6
        src = (v4 or v6).split("|")[0]
        dst = (f["ip.dst"] or f["ipv6.dst"]).split("|")[0]
        if ver == 4:
            iplen = int(f["ip.len"].split("|")[0])
        else:
            iplen = int(f["ipv6.plen"].split("|")[0]) + 40
        sport = dport = 0
        if icmp:
            proto = 1 if ver == 4 else 58
        elif f["tcp.srcport"]:
            proto, sport, dport = 6, int(f["tcp.srcport"]), int(f["tcp.dstport"])
        elif f["udp.srcport"]:
            proto, sport, dport = 17, int(f["udp.srcport"]), int(f["udp.dstport"])
        elif f["sctp.srcport"]:
            proto, sport, dport = 132, int(f["sctp.srcport"]), int(f["sctp.dstport"])
        else:
            proto = int((f["ip.proto"] or f["ipv6.nxt"]).split("|")[0])
            if ver == 6 and proto in (0, 43, 44, 60, 51, 50, 135):
                return None
        if "|" in f["tcp.srcport"] or "|" in f["udp.srcport"]:
            return None
        flags = int(f["tcp.flags"], 16) & 0xFF if proto == 6 and f["tcp.flags"] else 0
        pkts.append((ns_of(f["frame.time_epoch"]), ver, src, dst, sport, dport, proto, iplen, flags))
    return pkts


def base_parts(pkts, base_ns):
    """(base window index, canonical key) -> the conversation's partial in that window."""
    conv = {}  # canonical key -> [first, last, closed]
    part = defaultdict(lambda: {"first": 0, "last": 0, "new": False, "pk": [0, 0], "by": [0, 0],
                                "fl": [[0] * 8, [0] * 8]})
    for ts, ver, src, dst, sp, dp, proto, size, flags in pkts:
        a, b = (src, sp), (dst, dp)
        key_ab = (ver, proto) + ((a, b) if ip_order(ver, a) <= ip_order(ver, b) else (b, a))
        d = 0 if key_ab[2] == a else 1
        c = conv.get(key_ab)
        new = c is None or (ts > c[1] and ts - c[1] >= IDLE_NS) or (c[2] and (flags & 0x12) == 0x02)
        if new:
            c = conv[key_ab] = [ts, ts, False]
        c[1] = max(c[1], ts)
        if flags & 0x05:
            c[2] = True
        p = part[(ts // base_ns, key_ab)]
        if new:
            p["new"] = True
            p["first"] = c[0]
        elif p["pk"] == [0, 0]:
            p["first"] = c[0]
        p["last"] = max(p["last"], ts)
        p["pk"][d] += 1
        p["by"][d] += size
        for k in range(8):
            p["fl"][d][k] += (flags >> k) & 1
    return part


def expected(parts, base_ns, wsec):
    """(window start ns, host) -> stats, by the documented definitions: distinct counts over the window,
    sums over its base windows; a "piece" is a one-way flow in one base window (the unit of the mean
    duration and of a top list's flow counts)."""
    L = wsec * 10**9
    hosts = defaultdict(lambda: {"sessions": set(), "out": side(), "in": side()})
    for (bw, key), p in parts.items():
        w = bw * base_ns // L
        ver, proto, a, b = key
        for end in (a, b):
            hosts[(w * L, end[0])]["sessions"].add(key)
        for d in (0, 1):
            if not p["pk"][d]:
                continue
            s, r = (a, b) if d == 0 else (b, a)
            for host, io, peer in ((s[0], "out", r[0]), (r[0], "in", s[0])):
                x = hosts[(w * L, host)][io]
                x["flows"].add((key, d))
                x["pieces"] += 1
                x["new"] += p["new"]
                x["packets"] += p["pk"][d]
                x["bytes"] += p["by"][d]
                x["dur"] += p["last"] - p["first"]
                x["peers"].add(peer)
                x["proto"][proto] += p["by"][d]
                x["peer"][peer][0] += p["by"][d]
                x["peer"][peer][1] += 1
                if proto in PORTED:
                    x["ports"].add(r[1])
                    x["port"][r[1]][0] += p["by"][d]
                    x["port"][r[1]][1] += 1
                for k in range(8):
                    x["flags"][k] += p["fl"][d][k]
    return hosts


def side():
    return {"flows": set(), "pieces": 0, "new": 0, "packets": 0, "bytes": 0, "dur": 0, "peers": set(), "ports": set(),
            "flags": [0] * 8, "proto": defaultdict(int), "port": defaultdict(lambda: [0, 0]),
            "peer": defaultdict(lambda: [0, 0])}


def ip_order(ver, ep):
    import ipaddress
    return (ipaddress.ip_address(ep[0]).packed, ep[1])


def addr_key(a):
    import ipaddress
    return ipaddress.ip_address(a).packed


FLAGS = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"]


def compare(name, wsec, want, got, problems):
    got_keys = {(int(round(float(r["start"]) * 1e9)), r["host"]): r for r in got
                if round(float(r["end"]) - float(r["start"])) == wsec}
    want_keys = {(w, h) for (w, h) in want}
    if set(got_keys) != want_keys:
        problems.append(f"{name} {wsec}s: host windows differ: {len(want_keys - set(got_keys))} missing, "
                        f"{len(set(got_keys) - want_keys)} extra, e.g. {sorted(want_keys ^ set(got_keys))[:2]}")
        return 0
    n = 0
    for k, r in got_keys.items():
        e = want[k]
        bad = []
        if r["sessions"] != len(e["sessions"]):
            bad.append(("sessions", r["sessions"], len(e["sessions"])))
        for io in ("out", "in"):
            x = e[io]
            exp = {"flows": len(x["flows"]), "new_flows": x["new"], "packets": x["packets"], "bytes": x["bytes"],
                   "peers": len(x["peers"]), "ports": len(x["ports"])}
            exp.update({f: x["flags"][i] for i, f in enumerate(FLAGS)})
            for f, v in exp.items():
                if r[f"{io}_{f}"] != v:
                    bad.append((f"{io}_{f}", r[f"{io}_{f}"], v))
            avg = x["dur"] // x["pieces"] if x["pieces"] else 0
            if abs(float(r[f"{io}_avg_duration"]) * 1e9 - avg) > 1:
                bad.append((f"{io}_avg_duration", r[f"{io}_avg_duration"], avg / 1e9))
            # top lists, where every key fits in the summary
            if len(x["proto"]) <= 8:
                top = sorted(x["proto"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
                mine = [(r[f"{io}_proto{i}"], r[f"{io}_proto{i}_bytes"]) for i in range(1, 4) if r[f"{io}_proto{i}_bytes"]]
                if mine != top:
                    bad.append((f"{io}_protos", mine, top))
            if len(x["port"]) <= 8:
                top = sorted(x["port"].items(), key=lambda kv: (-kv[1][0], kv[0]))[:5]
                mine = [(r[f"{io}_port{i}"], r[f"{io}_port{i}_bytes"]) for i in range(1, 6) if r[f"{io}_port{i}_bytes"]]
                if mine != [(p, v[0]) for p, v in top]:
                    bad.append((f"{io}_ports", mine, top))
                if x["port"]:
                    best = min(x["port"].items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[0]
                    if r[f"{io}_top_port"] != best:
                        bad.append((f"{io}_top_port", r[f"{io}_top_port"], best))
            if len(x["peer"]) <= 8:
                top = sorted(x["peer"].items(), key=lambda kv: (-kv[1][0], addr_key(kv[0])))[:5]
                mine = [(r[f"{io}_peer{i}"], r[f"{io}_peer{i}_bytes"]) for i in range(1, 6) if r[f"{io}_peer{i}_bytes"]]
                if [(addr_key(a), v) for a, v in mine] != [(addr_key(a), v[0]) for a, v in top]:
                    bad.append((f"{io}_peers_top", mine, top))
                if x["peer"]:
                    best = min(x["peer"].items(), key=lambda kv: (-kv[1][1], -kv[1][0], addr_key(kv[0])))[0]
                    if addr_key(r[f"{io}_top_peer"]) != addr_key(best):
                        bad.append((f"{io}_top_peer", r[f"{io}_top_peer"], best))
        if bad:
            problems.append(f"{name} {wsec}s window {k}: {bad[:4]}")
        else:
            n += 1
    return n


def run_one(path, name, problems):
    pkts = packets_of(path)
    if not pkts:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "hosts.json")
        p = subprocess.run([binary(), "monitor", "--all-hosts", "-w", "1s,10s,1m", "--lateness", "1h", "--no-store",
                            "-q", "-o", out, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            problems.append(f"{name}: monitor exited {p.returncode}: {p.stderr.decode()[:300]}")
            return 0, 0
        got = [json.loads(line) for line in open(out)]
    agree = total = 0
    parts = base_parts(pkts, WINDOWS[0] * 10**9)
    for w in WINDOWS:
        want = expected(parts, WINDOWS[0] * 10**9, w)
        total += len(want)
        agree += compare(name, w, want, got, problems)
    return agree, total


def main():
    if subprocess.run(["which", "tshark"], stdout=subprocess.DEVNULL).returncode != 0:
        print("SKIP: tshark is not installed")
        return SKIP
    captures = [(SAMPLE, "many-protocols.pcap")]
    data = data_dir()
    if data:
        man = os.path.join(data, "MANIFEST.tsv")
        rows = [line.rstrip("\n").split("\t") for line in open(man)][1:]
        picked = [r for r in rows if r[10] == "pcap" and r[7] == "ether" and 20000 < int(r[5]) < 3000000]
        picked.sort(key=lambda r: r[14])  # a fixed, varied choice: by content hash
        captures += [(os.path.join(data, r[0]), r[0]) for r in picked[:40]]
    else:
        print("note: ../shared/data is absent: the bundled sample only")
    problems = []
    agree = total = used = 0
    for path, name in captures:
        res = run_one(path, name, problems)
        if res is None:
            continue
        used += 1
        agree += res[0]
        total += res[1]
    for p in problems[:15]:
        print("  ", p)
    print(f"{used} captures, {agree}/{total} host windows agree")
    check(used >= 1 + (10 if data else 0), f"enough captures the oracle models ({used})")
    check(total > 0 and agree == total, f"every host window agrees with tshark ({agree}/{total})")
    return finish("test_monitor_tshark")


if __name__ == "__main__":
    sys.exit(main())
