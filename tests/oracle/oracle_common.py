"""Shared helpers for the oracle tests: find the binary and the data, run flowsift, parse its CSV.

Every oracle test compares flowsift's per-flow, per-direction packet and byte counts with a peer tool's
output stored in ../shared/data/oracle, using settings that match that tool's conventions (timeouts, byte
basis, tunnels). Each prints its agreement; differences are classified, and the classes are explained in
docs/oracles.md.
"""
import csv
import io
import ipaddress
import os
import subprocess
import sys

SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def flowsift_binary():
    b = os.environ.get("FLOWSIFT")
    if not b:
        b = os.path.join(ROOT, "build", "flowsift")
    if not os.path.exists(b):
        sys.exit(f"flowsift binary not found at {b}; set FLOWSIFT")
    return b


def data_dir():
    d = os.environ.get("FLOWSIFT_DATA", os.path.join(ROOT, "..", "shared", "data"))
    if not os.path.isdir(d):
        print(f"SKIP: shared test data not found at {d} (set FLOWSIFT_DATA)")
        sys.exit(SKIP)
    return d


FIELDS = "srcaddr,srcp,dstaddr,dstp,proto,vlan,tunnel_id,src_packets,dst_packets,src_size,dst_size,first,last,end"


def run_flowsift(paths, *args, fields=FIELDS, check=False):
    """Runs extract; returns (rows as dicts, exit code, stderr)."""
    cmd = [flowsift_binary(), "extract", "-o", "-", "-q", "--progress", "off", "--fields", fields, *args, *paths]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.decode("utf-8", "replace")
    rows = list(csv.DictReader(io.StringIO(out)))
    if check and p.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {p.stderr.decode()}")
    return rows, p.returncode, p.stderr.decode("utf-8", "replace")


TUNNELS = ["gre", "vxlan", "geneve", "gtp", "ipip", "teredo"]
# Tools that report every layer of a tunnel (Zeek, tshark) are matched against several flowsift runs: all
# tunnels opened, none, and each kind left closed (which yields the middle layer of a tunnel in a tunnel).
DECAP_LAYERS = ["all", "none"] + [",".join(t for t in TUNNELS if t != x) for x in TUNNELS]


def norm_addr(a):
    a = a.strip("[]")
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        return a


PROTO = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPV6": 58, "IGMP": 2, "VRRP": 112, "ESP": 50, "PIM": 103, "AH": 51,
         "SCTP": 132, "GRE": 47, "OSPF": 89, "IPV6": 41, "IP_IN_IP": 4}


def proto_num(name):
    name = name.upper()
    if name in PROTO:
        return PROTO[name]
    try:
        return int(name)
    except ValueError:
        return -1


def conv_key(proto, a, pa, b, pb, vlan=0):
    """Direction-free key of a conversation."""
    e1, e2 = (norm_addr(a), int(pa)), (norm_addr(b), int(pb))
    return (int(proto),) + (tuple(sorted([e1, e2])),) + (int(vlan),)


class Agreement:
    """Counts comparable flows, exact matches and classified differences."""

    def __init__(self, name):
        self.name = name
        self.compared = 0
        self.matched = 0
        self.classes = {}
        self.examples = {}
        self.not_comparable = {}

    def ok(self):
        self.compared += 1
        self.matched += 1

    def diff(self, cls, example):
        self.compared += 1
        self.classes[cls] = self.classes.get(cls, 0) + 1
        self.examples.setdefault(cls, []).append(example)

    def skip(self, cls, n=1):
        self.not_comparable[cls] = self.not_comparable.get(cls, 0) + n

    def report(self, threshold=0.99):
        pct = 100.0 * self.matched / self.compared if self.compared else 0.0
        print(f"{self.name}: {self.matched} of {self.compared} comparable flows match exactly ({pct:.2f}%)")
        for cls, n in sorted(self.classes.items(), key=lambda x: -x[1]):
            print(f"  differ: {n:6d}  {cls}")
            for ex in self.examples[cls][:3]:
                print(f"           e.g. {ex}")
        for cls, n in sorted(self.not_comparable.items(), key=lambda x: -x[1]):
            print(f"  not comparable: {n:6d}  {cls}")
        if self.compared == 0:
            print("FAIL: nothing was compared")
            return 1
        if pct < threshold * 100:
            print(f"FAIL: agreement {pct:.2f}% is below {threshold * 100:.0f}%")
            return 1
        print("PASS")
        return 0
