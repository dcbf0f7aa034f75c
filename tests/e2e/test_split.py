"""A capture gives the same flows however it is stored or cut.

- cut into pieces of N packets (files named in reverse time order, in a directory): identical records to the
  whole file, every field, for several N; the published workload cut one capture into 125,000-frame files;
- re-encoded as big-endian pcap, nanosecond pcap and pcapng: identical records (times to their precision);
- read from standard input: identical records;
- metered by 1, 2, 3 or 5 threads: identical records.
Runs on the bundled sample and, when ../shared/data is there, on a few larger real captures.
"""
import os
import subprocess
import sys
import tempfile

from e2e_common import SAMPLE, check, data_dir, finish, run
from pcaplib import read_pcap, write_pcap, write_pcapng

ARGS = ["extract", "-o", "-", "-q", "--progress", "off", "--fields", "all"]


def flows(*paths, extra=(), stdin=None):
    rc, out, err = run(*ARGS, *extra, *paths, stdin=stdin)
    if rc != 0:
        print(err)
    lines = out.splitlines()
    return rc, lines[:1], sorted(lines[1:])


def captures():
    caps = [SAMPLE]
    data = data_dir()
    if data:
        for rel in ("pcap/pcapplusplus/example.pcap", "pcap/zeek/ftp/cwd-navigation.pcap",
                    "pcap/ndpi/google_ssl.pcap", "pcap/pcapplusplus/tls2.pcap"):
            p = os.path.join(data, rel)
            if os.path.exists(p):
                caps.append(p)
    else:
        print("note: ../shared/data not found; only the bundled sample is used")
    return caps


def main():
    for cap in captures():
        name = os.path.basename(cap)
        linktype, recs = read_pcap(cap)
        rc, head, whole = flows(cap)
        check(rc == 0 and len(whole) > 0, f"{name}: whole file gives {len(whole)} flows")
        with tempfile.TemporaryDirectory() as tmp:
            for n in (1, 7, 100, 1000):
                d = os.path.join(tmp, f"split{n}")
                os.mkdir(d)
                pieces = [recs[i:i + n] for i in range(0, len(recs), n)]
                for i, piece in enumerate(pieces):  # names sort in reverse time order on purpose
                    write_pcap(os.path.join(d, f"part{len(pieces) - i:06d}.pcap"), linktype, piece)
                rc, h2, split = flows(d)
                check(rc == 0 and h2 == head and split == whole,
                      f"{name}: cut into {len(pieces)} files of {n} packets gives identical records")
            variants = {
                "big-endian pcap": lambda p: write_pcap(p, linktype, recs, big_endian=True),
                "nanosecond pcap": lambda p: write_pcap(p, linktype, recs, nsec=True),
                "pcapng (us)": lambda p: write_pcapng(p, linktype, recs, tsresol=6),
                "pcapng big-endian (us)": lambda p: write_pcapng(p, linktype, recs, tsresol=6, big_endian=True),
            }
            for label, make in variants.items():
                p = os.path.join(tmp, "v")
                make(p)
                rc, h2, got = flows(p)
                if "nanosecond" in label:  # times print with 9 decimals: compare the rest
                    got = sorted(",".join(x[:-3] if i in (0, 1) else x for i, x in enumerate(line.split(",")))
                                 for line in got)
                check(rc == 0 and got == whole, f"{name}: {label} gives identical records")
            with open(cap, "rb") as f:
                rc, h2, got = flows("-", stdin=f.read())
            check(rc == 0 and got == whole, f"{name}: standard input gives identical records")
            for threads in (1, 2, 3, 5):
                rc, h2, got = flows(cap, extra=("--threads", str(threads)))
                check(rc == 0 and h2 == head and got == whole, f"{name}: --threads {threads} gives identical records")
    return finish("test_split")


if __name__ == "__main__":
    sys.exit(main())
