"""Reads and writes classic pcap and writes pcapng, for tests that build their own captures.

Records are (ts_ns, wirelen, data). Enough of the formats to re-encode real captures in every variant flowsift
reads: micro/nanosecond, little/big-endian, pcapng with a chosen timestamp resolution.
"""
import struct


def read_pcap(path):
    with open(path, "rb") as f:
        buf = f.read()
    magic_le = struct.unpack("<I", buf[:4])[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
    magic = struct.unpack(e + "I", buf[:4])[0]
    nsec = magic == 0xA1B23C4D
    linktype = struct.unpack(e + "I", buf[20:24])[0]
    recs, off = [], 24
    while off + 16 <= len(buf):
        sec, frac, caplen, wirelen = struct.unpack(e + "IIII", buf[off:off + 16])
        data = buf[off + 16:off + 16 + caplen]
        if len(data) < caplen:
            break
        recs.append((sec * 1_000_000_000 + (frac if nsec else frac * 1000), wirelen, data))
        off += 16 + caplen
    return linktype, recs


def write_pcap(path, linktype, recs, nsec=False, big_endian=False):
    e = ">" if big_endian else "<"
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", 0xA1B23C4D if nsec else 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for ts, wirelen, data in recs:
            frac = ts % 1_000_000_000 if nsec else (ts % 1_000_000_000) // 1000
            f.write(struct.pack(e + "IIII", ts // 1_000_000_000, frac, len(data), wirelen))
            f.write(data)


def _block(e, btype, body):
    body += b"\0" * ((4 - len(body) % 4) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def write_pcapng(path, linktype, recs, tsresol=9, big_endian=False):
    """One section, one interface with if_tsresol = 10^-tsresol, EPBs."""
    e = ">" if big_endian else "<"
    out = [_block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    opts = struct.pack(e + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0" + struct.pack(e + "HH", 0, 0)
    out.append(_block(e, 1, struct.pack(e + "HHI", linktype, 0, 0) + opts))
    div = 10 ** (9 - tsresol)
    for ts, wirelen, data in recs:
        t = ts // div
        out.append(_block(e, 6, struct.pack(e + "IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(data), wirelen) + data))
    with open(path, "wb") as f:
        f.write(b"".join(out))
