#!/usr/bin/env python3
"""collect_flood.py - a bounded loopback flood at flowsift collect (issue 5). By hand, not in CI.

    python3 bench/collect_flood.py [--datagrams 10000000] [--rcvbuf 32M]

Sends N datagrams to `flowsift collect -l 127.0.0.1:PORT -o /dev/null` as fast as one Python process can: a mix of
valid NetFlow v5, IPFIX data sets whose template never comes (from 1,000 source ports: 1,000 exporters, each
holding its bounded set of data sets), truncated v5 and random bytes. Prints what the collector received, what
the kernel dropped (socket and backlog, as the collector reports them), that the two add up to what was sent, and
the collector's peak resident memory (VmHWM): memory stays bounded however long the flood lasts.
"""
import argparse
import os
import random
import re
import socket
import struct
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FS = os.path.join(os.path.dirname(HERE), "build", "flowsift")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datagrams", type=int, default=10_000_000)
    ap.add_argument("--rcvbuf", default="32M")
    a = ap.parse_args()
    port = 39600
    col = subprocess.Popen([FS, "collect", "-l", f"127.0.0.1:{port}", "-o", "/dev/null", "--rcvbuf", a.rcvbuf],
                           stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    rnd = random.Random(1)
    hdr = struct.pack(">HHIIIIBBH", 5, 1, 100000, 1700000000, 0, 0, 0, 0, 0)
    rec = struct.pack(">4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("10.1.2.3"), socket.inet_aton("10.9.8.7"),
                      b"\0\0\0\0", 1, 2, 5, 700, 99000, 99500, 1234, 80, 0, 0x1b, 6, 0, 0, 0, 0, 0, 0)
    orphan = struct.pack(">HHIII", 10, 28, 1700000000, 0, 9) + struct.pack(">HH", 400, 12) + b"\2" * 8
    kinds = [hdr + rec, orphan, (hdr + rec)[:50], bytes(rnd.getrandbits(8) for _ in range(120))]
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(1000)]
    hwm = 0
    t0 = time.time()
    for i in range(a.datagrams):
        socks[i % 1000].sendto(kinds[i & 3], ("127.0.0.1", port))
        if i % 1_000_000 == 999_999:
            with open(f"/proc/{col.pid}/status") as f:
                hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
            print(f"  {i + 1:,} sent in {time.time() - t0:.1f} s; collector peak memory so far {hwm / 1024:.1f} MB")
    sent_s = time.time() - t0
    time.sleep(2)
    with open(f"/proc/{col.pid}/status") as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
    col.terminate()
    _, err = col.communicate()
    m = re.search(r"received\s+([\d,]+) datagrams and messages; ([\d,]+) more dropped", err)
    got, dropped = int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
    m = re.search(r"dropped\s+([\d,]+) packets of all traffic", err)
    backlog = int(m.group(1).replace(",", "")) if m else 0
    recs = re.search(r"([\d,]+) records from", err).group(1)
    print(f"\n{a.datagrams:,} datagrams in {sent_s:.1f} s ({a.datagrams / sent_s / 1e3:.0f} k/s): received {got:,}, "
          f"dropped at the socket {dropped:,}, before it {backlog:,}; "
          f"{'all accounted for' if got + dropped <= a.datagrams <= got + dropped + backlog else 'NOT accounted for'}; "
          f"{recs} records; collector peak memory {hwm / 1024:.1f} MB")
    print("\n".join(l for l in err.splitlines() if l.startswith("  all")))


if __name__ == "__main__":
    main()
