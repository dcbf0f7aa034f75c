"""Writes the starting corpus of the fuzz targets (fuzz/corpus/<target>/seed-*), built here from scratch and
from the bundled sample capture (Unlicense). Inputs the fuzzers find later are added beside them with
`fuzz_X -merge=1 corpus/X new/`. Run from the repository root: python3 fuzz/make_seeds.py"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from pcaplib import read_pcap, write_pcap, write_pcapng  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def ip4(src, dst, proto, payload, ident=1, frag=0):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, bytes(src), bytes(dst))
    return h + payload


def ip6(src, dst, nh, payload):
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), nh, 64, bytes(src), bytes(dst)) + payload


def tcp(sp, dp, flags, data=b""):
    return struct.pack(">HHIIBBHHH", sp, dp, 1, 0, 0x50, flags, 65535, 0, 0) + data


def udp(sp, dp, data=b""):
    return struct.pack(">HHHH", sp, dp, 8 + len(data), 0) + data


def eth(t, payload, vlans=()):
    h = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02"
    for v in vlans:
        h += struct.pack(">HH", 0x8100, v)
    return h + struct.pack(">H", t) + payload


A, B = [10, 0, 0, 1], [10, 0, 0, 2]
A6, B6 = [0x20, 1, 0xd, 0xb8] + [0] * 11 + [1], [0x20, 1, 0xd, 0xb8] + [0] * 11 + [2]
FRAMES = {
    "tcp": eth(0x0800, ip4(A, B, 6, tcp(1234, 80, 0x02))),
    "vlan-qinq": eth(0x0800, ip4(A, B, 17, udp(53, 53, b"q")), vlans=(10, 20)),
    "ipv6-frag": eth(0x86DD, ip6(A6, B6, 44, bytes([17, 0, 0, 1, 0, 0, 0, 9]) + udp(5, 6, b"x" * 16))),
    "ipv6-hbh": eth(0x86DD, ip6(A6, B6, 0, bytes([6, 0, 0, 0, 0, 0, 0, 0]) + tcp(1, 2, 0x10))),
    "ipv4-later-frag": eth(0x0800, ip4(A, B, 17, b"y" * 24, ident=7, frag=3)),
    "vxlan": eth(0x0800, ip4(A, B, 17, udp(1, 4789, struct.pack(">II", 0x08000000, 42 << 8) +
                                      eth(0x0800, ip4(B, A, 6, tcp(5, 6, 0x12)))))),
    "gre": eth(0x0800, ip4(A, B, 47, struct.pack(">HHI", 0x2000, 0x0800, 7) + ip4(B, A, 1, b"\x08\0" + b"\0" * 6))),
    "gtp": eth(0x0800, ip4(A, B, 17, udp(2152, 2152, struct.pack(">BBHI", 0x30, 0xff, 28, 1) +
                                      ip4(B, A, 17, udp(7, 8))))),
    "geneve": eth(0x0800, ip4(A, B, 17, udp(1, 6081, struct.pack(">BBHI", 0, 0, 0x6558, 9 << 8) +
                                        eth(0x86DD, ip6(A6, B6, 58, b"\x80\0\0\0"))))),
    "mpls": eth(0x8847, struct.pack(">I", (5 << 12) | 0x100 | 64) + ip4(A, B, 6, tcp(1, 2, 0x11))),
    "pppoe": eth(0x8864, struct.pack(">BBHHH", 0x11, 0, 1, 42, 0x0021) + ip4(A, B, 17, udp(1, 2))),
    "ipip": eth(0x0800, ip4(A, B, 4, ip4(B, A, 6, tcp(9, 10, 0x04)))),
}


def nf_messages():
    """NetFlow v5, v9 and IPFIX messages for fuzz_netflow: templates, options, data, a withdrawal."""
    v5 = struct.pack(">HHIIIIBBH", 5, 1, 100000, 1700000000, 0, 7, 0, 1, 0x4064) + struct.pack(
        ">4s4s4sHHIIIIHHBBBBHHBBH", bytes(A), bytes(B), b"\0" * 4, 1, 2, 5, 700, 99000, 99500, 1234, 80, 0, 0x1b, 6,
        0, 0, 0, 0, 0, 0)
    fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (1, 4), (2, 4), (22, 4), (21, 4), (10, 2), (32, 2)]
    tpl = struct.pack(">HH", 300, len(fields)) + b"".join(struct.pack(">HH", t, n) for t, n in fields)
    rec = bytes(A) + bytes(B) + struct.pack(">HHBBIIIIHH", 1234, 53, 17, 0, 300, 2, 99000, 99500, 3, 0x0800)
    v9_tpl = struct.pack(">HH", 0, 4 + len(tpl)) + tpl
    opt = struct.pack(">HHHHHHHHHH", 1, 24, 301, 4, 8, 1, 0, 34, 4, 35) + struct.pack(">H", 1) + b"\0\0"
    optdata = struct.pack(">HHIBxxx", 301, 12, 100, 2)
    v9_data = struct.pack(">HH", 300, 4 + len(rec)) + rec
    body = v9_tpl + opt + optdata + v9_data
    v9 = struct.pack(">HHIIII", 9, 4, 100000, 1700000000, 1, 5) + body
    ifields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8), (152, 8), (153, 8), (0x8000 | 1, 8),
               (0x8000 | 2, 8), (82, 65535)]
    itpl = struct.pack(">HH", 400, len(ifields))
    for t, n in ifields:
        itpl += struct.pack(">HH", t, n) + (struct.pack(">I", 29305) if t & 0x8000 else b"")
    irec = bytes(A) + bytes(B) + struct.pack(">HHBQQQQQQ", 5, 443, 6, 1000, 4, 1_700_000_000_000, 1_700_000_001_000,
                                             2000, 5) + b"\x04eth0"
    iset = struct.pack(">HH", 2, 4 + len(itpl)) + itpl + struct.pack(">HH", 400, 4 + len(irec)) + irec
    ipfix = struct.pack(">HHIII", 10, 16 + len(iset), 1700000000, 0, 9) + iset
    wd = struct.pack(">HH", 2, 8) + struct.pack(">HH", 400, 0)
    ipfix_wd = struct.pack(">HHIII", 10, 16 + len(wd), 1700000001, 1, 9) + wd
    hdr = eth(0x0800, ip4(A, B, 6, tcp(80, 5000, 0x12, b"x" * 10)))
    rec = struct.pack(">IIII", 1, len(hdr) + 100, 4, len(hdr)) + hdr + b"\0" * ((4 - len(hdr) % 4) % 4)
    sw = struct.pack(">II", 1001, 16) + struct.pack(">IIII", 42, 0, 42, 0)
    raw = struct.pack(">II", 1, len(rec)) + rec
    fs = struct.pack(">IIIIIIII", 9, 7, 512, 4096, 0, 7, 8, 2) + sw + raw
    xfs = struct.pack(">IIIIIIIIIII", 9, 0, 7, 512, 4096, 0, 0, 7, 0, 8, 1) + raw
    cs = struct.pack(">III", 1, 5, 0)
    samples = (struct.pack(">II", 1, len(fs)) + fs + struct.pack(">II", 3, len(xfs)) + xfs +
               struct.pack(">II", 2, len(cs)) + cs)
    sflow = struct.pack(">II4sIIII", 5, 1, bytes(A), 3, 77, 123456, 3) + samples
    return {"v5": v5, "v9": v9, "ipfix": ipfix, "ipfix-withdraw": ipfix_wd, "sflow": sflow}


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def main():
    for name, frame in FRAMES.items():
        write("decode", name, bytes([0, 1]) + frame)  # link type index 0 = Ethernet, options: decap all
    write("decode", "raw-ip", bytes([1, 1]) + ip4(A, B, 6, tcp(1, 2, 0x18, b"data")))
    write("decode", "null", bytes([2, 1]) + struct.pack("<I", 2) + ip4(A, B, 6, tcp(1, 2, 0x18)))
    write("decode", "sll", bytes([4, 1]) + b"\0" * 14 + b"\x08\x00" + ip4(A, B, 17, udp(1, 2)))
    write("decode", "sll2", bytes([5, 1]) + b"\x86\xdd" + b"\0" * 18 + ip6(A6, B6, 6, tcp(1, 2, 2)))
    recs = [(1_600_000_000_000_000_000 + i * 1_000_000, len(f), f) for i, f in enumerate(FRAMES.values())]
    tmp = os.path.join(OUT, "tmp.pcap")
    os.makedirs(os.path.join(OUT, "capture"), exist_ok=True)
    for label, kw in {"le-us": {}, "be-us": {"big_endian": True}, "le-ns": {"nsec": True}}.items():
        write_pcap(tmp, 1, recs, **kw)
        write("capture", f"pcap-{label}", open(tmp, "rb").read())
    write_pcapng(tmp, 1, recs, tsresol=9)
    write("capture", "pcapng-ns", open(tmp, "rb").read())
    write_pcapng(tmp, 1, recs, tsresol=6, big_endian=True)
    write("capture", "pcapng-be", open(tmp, "rb").read())
    sample = os.path.join(os.path.dirname(OUT), "..", "samples", "many-protocols.pcap")
    link, srecs = read_pcap(sample)
    write_pcap(tmp, link, srecs[:40])
    write("capture", "sample-head", open(tmp, "rb").read())
    os.unlink(tmp)
    msgs = nf_messages()
    frame = lambda m: struct.pack(">H", len(m)) + m  # noqa: E731
    for name, m in msgs.items():
        write("netflow", name, frame(m))
    write("netflow", "ipfix-then-withdraw", frame(msgs["ipfix"]) + frame(msgs["ipfix-withdraw"]) + frame(msgs["ipfix"]))
    write("netflow", "all", b"".join(frame(m) for m in msgs.values()))
    # monitor: the sample's first frames as records (time step, kind, length, frame), some as flow records, some
    # stepping back in time
    def mon_rec(step, kind, frame_bytes):
        frame_bytes = frame_bytes[:255]
        return struct.pack(">HBB", step, kind, len(frame_bytes)) + frame_bytes
    frames = [d for _, _, d in srecs[:60]]
    write("monitor", "packets", bytes([1]) + b"".join(mon_rec(30, 0, f) for f in frames))
    write("monitor", "mixed", bytes([0x16]) + b"".join(mon_rec(0x8000 | 90 if i % 7 == 3 else 70, 0x80 | i if i % 3 == 0 else 0, f)
                                                       for i, f in enumerate(frames)))
    write("monitor", "crafted", bytes([2]) + b"".join(mon_rec(10 * i, 0, f) for i, f in enumerate(FRAMES.values())))
    # profile: a file written by flowsift monitor for two hosts of the sample (regenerate with the command below)
    prof = os.path.join(os.path.dirname(OUT), "..", "build", "flowsift")
    if os.path.exists(prof):
        import subprocess
        import tempfile
        with tempfile.TemporaryDirectory() as t:
            subprocess.run([prof, "monitor", "-q", "--net", "10.0.0.1,10.0.0.2", "-w", "1m,5m", "--store", t, sample],
                           check=True)
            data = open(os.path.join(t, "profiles", "hosts-300s.prof"), "rb").read()
            write("profile", "two-hosts", b"\1" + data)
            write("profile", "two-hosts-raw", b"\0" + data)
            write("profile", "empty-file", b"\1" + data[:40] + b"\0\0\0\0")
    for i, expr in enumerate(["proto tcp and dstp 22", "paysize == 0", "not (src net 10.0.0.0/8 or host ::1)",
                              "end == fin || duration > 1.5k", "port 53 and udp and ip6", "tcp udp", "(((",
                              "srcaddr != 2001:db8::1 && src_maxps >= 1500"]):
        write("filter", str(i), expr.encode())


if __name__ == "__main__":
    main()
