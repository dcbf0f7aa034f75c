"""flowsift monitor as a user meets it: help and usage errors; only monitored networks get records; records in
the store equal the JSON lines; hand-built captures with hand-checked numbers (directions, flows, new flows,
flags, sessions, peers and ports, late data, longer windows exact rather than summed, --max-hosts); the same
traffic from packets, from extract's flow records in a store, and from softflowd's NetFlow over UDP gives the
same per-host totals."""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import pcaplib
from e2e_common import SAMPLE, binary, check, finish, host_totals, run

S = 10**9


def ip4(s):
    return socket.inet_aton(s)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, proto, sport=0, dport=0, flags=0, payload=0):
    """Ethernet + IPv4 + TCP/UDP/ICMP with `payload` zero bytes."""
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, flags, 65535, 0, 0)
    elif proto == 17:
        l4 = struct.pack("!HHHH", sport, dport, 8 + payload, 0)
    else:
        l4 = struct.pack("!BBHHH", 8, 0, 0, 1, 1)
    body = l4 + b"\0" * payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, proto, 0, ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    data = eth + hdr + body
    return data


def write(path, pkts):
    """pkts: (seconds as float, frame bytes)"""
    pcaplib.write_pcap(path, 1, [(int(round(t * S)), len(d), d) for t, d in pkts], nsec=True)


def monitor(*args):
    rc, out, err = run("monitor", "--no-store", "-q", "-o", "-", *args)
    return rc, [json.loads(line) for line in out.splitlines()], err


def by(records, host, length):
    return [r for r in records if r["host"] == host and round(r["end"] - r["start"]) == length]


T0 = 1700000000.0
A, B, C, D = "10.0.0.1", "10.0.0.2", "192.0.2.9", "198.51.100.7"
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def handmade(tmp):
    p = os.path.join(tmp, "hand.pcap")
    pk = [
        # window [0,1): A opens a TCP connection to C:80 and sends data
        (T0 + 0.10, frame(A, C, 6, 40000, 80, SYN)),
        (T0 + 0.20, frame(C, A, 6, 80, 40000, SYN | ACK)),
        (T0 + 0.30, frame(A, C, 6, 40000, 80, ACK | PSH, 100)),
        # A queries D over UDP, D answers
        (T0 + 0.40, frame(A, D, 17, 5353, 53, payload=30)),
        (T0 + 0.45, frame(D, A, 17, 53, 5353, payload=90)),
        # window [1,2): the connection continues and closes; B pings A
        (T0 + 1.10, frame(C, A, 6, 80, 40000, ACK | PSH, 1000)),
        (T0 + 1.20, frame(A, C, 6, 40000, 80, FIN | ACK)),
        (T0 + 1.30, frame(C, A, 6, 80, 40000, FIN | ACK)),
        (T0 + 1.40, frame(B, A, 1)),
        # window [2,3): a new connection on the same ports after the FIN (new flow); A scans C's ports
        (T0 + 2.10, frame(A, C, 6, 40000, 80, SYN)),
        (T0 + 2.20, frame(A, C, 6, 40001, 22, SYN)),
        (T0 + 2.30, frame(A, C, 6, 40002, 23, SYN)),
        (T0 + 2.40, frame(C, A, 6, 23, 40002, RST | ACK)),
        # late: a packet of window [0,1) after the clock passed 1 s + lateness; then the clock moves on
        (T0 + 3.90, frame(A, D, 17, 5353, 53, payload=30)),
        (T0 + 3.95, frame(A, D, 17, 5353, 53, payload=30)),
        (T0 + 0.50, frame(A, D, 17, 5353, 53, payload=30)),
        # an unmonitored conversation
        (T0 + 3.96, frame(C, D, 17, 1000, 2000, payload=10)),
    ]
    write(p, pk)
    rc, recs, err = monitor("--net", "10.0.0.0/24", "-w", "1s,10s", "--lateness", "500ms", p)
    rc2, _, err2 = run("monitor", "--no-store", "--net", "10.0.0.0/24", "-w", "1s,10s", "--lateness", "500ms", p)
    check(rc == 0, f"monitor runs on a hand-made capture ({err[-200:]})")
    hosts = {r["host"] for r in recs}
    check(hosts == {A, B}, f"only hosts of --net get records ({sorted(hosts)})")
    check("1 late (packets)" in err2 and "1 without a monitored host" in err2,
          "the late packet and the unmonitored conversation are counted in the summary")
    w = {round(r["start"] - T0): r for r in by(recs, A, 1)}
    check(sorted(w) == [0, 1, 2, 3], f"host A has a record for each 1 s window it was active in ({sorted(w)})")
    r0 = w[0]
    check((r0["out_flows"], r0["out_packets"], r0["out_bytes"]) == (2, 3, 40 + 40 + 100 + 58),
          f"window 0, A sent: 2 one-way flows, 3 packets, 238 bytes ({r0['out_flows']}, {r0['out_packets']}, {r0['out_bytes']})")
    check((r0["in_flows"], r0["in_packets"], r0["in_bytes"]) == (2, 2, 40 + 118),
          f"window 0, A received: 2 flows, 2 packets, 158 bytes ({r0['in_flows']}, {r0['in_packets']}, {r0['in_bytes']})")
    check(r0["out_new_flows"] == 2 and r0["sessions"] == 2, "window 0: both flows new, 2 sessions")
    check((r0["out_syn"], r0["out_ack"], r0["out_psh"], r0["in_syn"], r0["in_ack"]) == (1, 1, 1, 1, 1),
          "window 0: TCP flag counts per direction")
    check((r0["out_peers"], r0["out_ports"], r0["in_peers"], r0["in_ports"]) == (2, 2, 2, 2),
          "window 0: distinct peers and destination ports, each way (ports 80, 53 out; 40000, 5353 in)")
    check(r0["out_peer1"] == C and r0["out_peer1_bytes"] == 180 and r0["out_peer2"] == D and r0["out_port1"] == 80,
          "window 0: A's top peer and port by bytes")
    check(r0["out_proto1"] == 6 and r0["out_proto1_bytes"] == 180 and r0["out_proto2"] == 17
          and r0["out_proto2_bytes"] == 58, "window 0: bytes per protocol")
    check(abs(r0["out_avg_duration"] - (0.2 + 0.05) / 2) < 1e-6,
          f"window 0: mean conversation duration so far, both directions: (0.2 + 0.05) / 2 ({r0['out_avg_duration']})")
    r1 = w[1]
    check((r1["in_flows"], r1["in_packets"], r1["in_peers"], r1["out_fin"], r1["in_fin"]) == (2, 3, 2, 1, 1),
          "window 1: C's data and FIN and B's ping received; A's FIN sent")
    check(r1["out_new_flows"] == 0 and r1["in_new_flows"] == 1, "window 1: the connection is not new, B's ping is")
    check(r1["in_proto1"] == 6 and r1["in_proto2"] == 1 and r1["in_port1"] == 40000,
          "window 1: protocols and ports received (ICMP has no port)")
    r2 = w[2]
    check((r2["out_flows"], r2["out_new_flows"], r2["out_syn"], r2["out_ports"], r2["in_rst"]) == (3, 3, 3, 3, 1),
          "window 2: the SYN after the FIN starts a new flow; 3 SYNs to 3 ports; 1 RST back")
    ten = by(recs, A, 10)
    check(len(ten) == 1, "one 10 s record for A")
    t = ten[0]
    check(t["out_flows"] == 4 and t["sessions"] == 5,
          f"10 s window: one-way flows (distinct 5-tuples: the reopened connection is the same) and sessions "
          f"counted once, not summed over the 1 s windows ({t['out_flows']} flows, {t['sessions']} sessions)")
    check(t["out_packets"] == sum(r["out_packets"] for r in w.values())
          and t["in_bytes"] == sum(r["in_bytes"] for r in w.values()), "10 s window: packets and bytes add up")
    check(t["out_new_flows"] == 5, f"10 s window: 5 conversations began (the reopened one twice) ({t['out_new_flows']})")
    # --max-conversations: the third conversation is refused, and counted
    rc, recs, err = monitor("--net", "10.0.0.0/24", "-w", "10s", "--max-conversations", "2", p)
    rc2, _, err2 = run("monitor", "--no-store", "--net", "10.0.0.0/24", "-w", "10s", "--max-conversations", "2", p)
    a10 = by(recs, A, 10)
    check(rc == 0 and len(a10) == 1 and a10[0]["sessions"] == 2 and "not counted" in err2,
          f"--max-conversations bounds the live conversations and reports what it refused ({err2[-160:]})")


def sketches(tmp):
    """A scanner: 8,000 peers and 4,000 ports in 20 s. Each 1 s window is exact; the 10 s and 1 min windows
    merge sketches, whose distinct counts must be within 3 standard errors (3 x 1.625%) of the truth, and whose
    top lists must still hold the heavy peer (a quarter of the bytes)."""
    p = os.path.join(tmp, "scan.pcap")
    pk = []
    heavy = "198.18.0.1"
    for i in range(8000):
        t = T0 + i * 20.0 / 8000
        peer = f"203.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if i % 4 else heavy
        size = 1000 if peer == heavy else 300
        pk.append((t, frame(A, peer, 6, 50000 + i % 1000, 1 + i % 4000, SYN, size)))
    write(p, pk)
    rc, recs, err = monitor("--net", A, "-w", "1s,10s,1m", p)
    exact = defaultdict(set)
    for i in range(8000):
        exact[int(i * 20.0 / 8000)].add(f"203.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if i % 4 else heavy)
    ones = {round(r["start"] - T0): r["out_peers"] for r in by(recs, A, 1)}
    check(ones == {w: len(v) for w, v in exact.items()}, "1 s windows: distinct peers exact (the shortest window)")
    ok = rc == 0
    one = by(recs, A, 60)
    ok = ok and len(one) == 1
    if ok:
        r = one[0]
        true_peers, true_ports, true_flows = 6000 + 1, 4000, 6000 + 1000  # the heavy peer's flows repeat ports
        for name, got, want in (("peers", r["out_peers"], true_peers), ("ports", r["out_ports"], true_ports),
                                ("flows", r["out_flows"], true_flows)):
            err_rel = abs(got - want) / want
            check(err_rel <= 3 * 0.01625, f"1 min window: distinct {name} {got} against {want} "
                                          f"({100 * err_rel:.2f}% off, bound 4.9%)")
        check(r["out_peer1"] == heavy and r["out_peer1_bytes"] >= 2000 * 1040,
              f"1 min window: the heavy peer tops the list ({r['out_peer1']}, {r['out_peer1_bytes']} bytes)")
        check(r["out_packets"] == 8000 and r["out_syn"] == 8000, "1 min window: packets and SYNs are exact sums")
    else:
        check(False, f"the scan capture gives one 1 min record for the scanner ({err[-200:]})")
    tens = by(recs, A, 10)
    check(len(tens) == 2 and all(abs(r["out_peers"] - 3001) / 3001 <= 3 * 0.01625 for r in tens),
          f"10 s windows: distinct peers within the bound ({[r['out_peers'] for r in tens]} against 3,001)")


def restarts(tmp):
    """Profiles survive restarts: a second run on the same store loads them and scores its windows."""
    store = os.path.join(tmp, "prof-store")
    args = ["monitor", "--all-hosts", "-w", "1m,5m", "--store", store, SAMPLE]
    rc1, _, err1 = run(*args)
    path = os.path.join(store, "profiles", "hosts-300s.prof")
    check(rc1 == 0 and os.path.exists(path), "profiles are saved in the store")
    rc2, _, err2 = run(*args)
    check(rc2 == 0 and "host profiles from" in err2, "the next run loads them")
    with open(path, "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0xFF]))
    rc3, _, err3 = run(*args)
    check(rc3 == 1 and "damaged" in err3 and path in err3, f"a damaged profile file is named, exit 1 ({err3[:160]})")


def usage(tmp):
    rc, out, _ = run("monitor", "--help")
    opts = ["--interface", "--speed", "--bpf", "--listen", "--from-store", "--net", "--all-hosts", "--windows",
            "--lateness", "--idle-timeout", "--max-conversations", "--store", "--output", "--format", "--duration"]
    check(rc == 0 and all(o in out for o in opts), "monitor --help documents its options")
    rc, _, err = run("monitor", "--all-hosts")
    check(rc == 2 and "one source" in err, "no source exits 2")
    rc, _, err = run("monitor", SAMPLE)
    check(rc == 2 and "--net" in err, "no hosts to monitor exits 2 and says how")
    rc, _, err = run("monitor", "--net", "10.0.0.0/33", SAMPLE)
    check(rc == 2 and "10.0.0.0/33" in err, "a bad prefix is named")
    rc, _, err = run("monitor", "--all-hosts", "-w", "10s,15s", SAMPLE)
    check(rc == 2 and "multiple" in err, "window lengths must divide")
    rc, _, err = run("monitor", "--all-hosts", "--no-store", os.path.join(tmp, "missing.pcap"))
    check(rc == 1 and "missing.pcap" in err, "a missing capture is named, exit 1")
    rc, _, err = run("monitor", "--all-hosts", "-i", "fs-no-such-if0", "--no-store")
    check(rc == 1 and "fs-no-such-if0" in err, "a missing interface is named, exit 1")


def sources(tmp):
    rc, pk, _ = monitor("--all-hosts", "-w", "1m", SAMPLE)
    want = host_totals(pk, 60)
    # store: the records of the hosts table equal the JSON lines
    store = os.path.join(tmp, "st")
    rc, out, err = run("monitor", "--all-hosts", "-w", "1m", "--store", store, "-q", "-o", "-", SAMPLE)
    rc2, q, _ = run("query", store, "--table", "hosts", "-F", "json", "-q")
    a = sorted(json.dumps(json.loads(line), sort_keys=True) for line in out.splitlines())
    b = sorted(json.dumps(json.loads(line), sort_keys=True) for line in q.splitlines())
    check(rc == 0 and rc2 == 0 and a == b and len(a) > 50, f"query --table hosts reads back every record ({len(b)})")
    host = json.loads(out.splitlines()[0])["host"]
    rc3, q1, _ = run("query", store, "--table", "hosts", "--host", host, "-F", "json", "-q")
    mine = sorted(x for x in a if json.loads(x)["host"] == host)
    got1 = sorted(json.dumps(json.loads(line), sort_keys=True) for line in q1.splitlines())
    check(rc3 == 0 and got1 == mine and len(mine) >= 1, f"query --table hosts --host {host}: that host's records ({len(got1)})")
    rc4, _, err4 = run("query", store, "--host", host)
    check(rc4 == 2 and "--table hosts" in err4, "--host without --table hosts is refused with a hint")
    # extract's flow records through a store
    fstore = os.path.join(tmp, "flows")
    run("extract", "-q", "--store", fstore, SAMPLE)
    rc, fl, err = monitor("--all-hosts", "-w", "1m", "--from-store", fstore)
    check(rc == 0 and host_totals(fl, 60) == want,
          f"extract's flows from a store give the per-host totals of the packets ({len(host_totals(fl, 60))} hosts)")
    # softflowd's NetFlow v9 over UDP, against nfdump's records of the same export
    if not shutil.which("softflowd") or not shutil.which("nfcapd"):
        print("skip  softflowd or nfcapd is not installed")
        return
    import test_collect

    def softflowd(port):
        subprocess.run(["softflowd", "-r", SAMPLE, "-n", f"127.0.0.1:{port}", "-v", "9", "-c", "none"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    want = defaultdict(lambda: [0, 0, 0, 0])
    for (sa, da, _sp, _dp, _pr, pkts, byts), n in test_collect.nfcapd_while(tmp, "nf", softflowd).items():
        want[sa][0] += n * int(pkts)
        want[sa][1] += n * int(byts)
        want[da][2] += n * int(pkts)
        want[da][3] += n * int(byts)
    port = test_collect.free_port()
    mon = subprocess.Popen([binary(), "monitor", "--all-hosts", "-w", "1m", "--listen", f"127.0.0.1:{port}",
                            "--no-store", "-o", "-", "--duration", "60s"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    time.sleep(0.5)
    softflowd(port)
    time.sleep(1.0)
    mon.send_signal(2)
    out, err = mon.communicate(timeout=30)
    got = host_totals([json.loads(line) for line in out.decode().splitlines()], 60)
    check(mon.returncode == 0 and len(want) > 50 and got == dict(want),
          f"softflowd's NetFlow v9 over UDP: per-host packets and bytes sent and received equal nfdump's records "
          f"of the same export ({len(got)} and {len(want)} hosts)")


def main():
    tmp = tempfile.mkdtemp()
    try:
        usage(tmp)
        handmade(tmp)
        sketches(tmp)
        restarts(tmp)
        sources(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("test_monitor")


if __name__ == "__main__":
    sys.exit(main())
