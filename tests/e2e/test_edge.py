"""Every capture in ../shared/data/pcap-edge and pcap (fuzzed, truncated, odd link types, real traffic) runs
without a crash or a sanitizer report, with sane accounting: each run exits 0, or 1 with an error that names the
file and byte offset; decoded + skipped packets = packets read; flows are written even for a damaged file.
Run by CTest on every build, so the ASan/UBSan build covers it.
"""
import json
import os
import subprocess
import sys
import tempfile

from e2e_common import SKIP, binary, data_dir, sanitizer_report

SKIP_KEYS = ("linktype", "not_ip", "truncated", "malformed", "later_fragment_skipped")


def main():
    data = data_dir()
    if not data:
        print("SKIP: ../shared/data not found (set FLOWSIFT_DATA)")
        return SKIP
    files = []
    for top in ("pcap-edge", "pcap"):
        for root, _, names in os.walk(os.path.join(data, top)):
            files += [os.path.join(root, n) for n in names]
    files.sort()
    bad, runs, damaged, flows = [], 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        stats = os.path.join(tmp, "stats.json")
        for f in files:
            if os.path.exists(stats):
                os.unlink(stats)
            p = subprocess.run([binary(), "extract", "-o", "-", "-q", "--progress", "off", "--fields", "all", "--stats", stats,
                                "-o", os.devnull, f], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            err = p.stderr.decode("utf-8", "replace")
            runs += 1
            rel = os.path.relpath(f, data)
            if p.returncode < 0 or sanitizer_report(err):
                bad.append(f"{rel}: crashed or sanitizer report (exit {p.returncode}): {err[-2000:]}")
                continue
            if p.returncode not in (0, 1):
                bad.append(f"{rel}: exit {p.returncode}")
                continue
            if p.returncode == 1:
                damaged += 1
                if f"'{f}'" not in err or ("byte offset" not in err and "cannot open" not in err):
                    bad.append(f"{rel}: error does not name the file and offset: {err.strip()[:300]}")
            if not os.path.exists(stats):
                bad.append(f"{rel}: no stats written")
                continue
            with open(stats) as sf:
                s = json.load(sf)
            skipped = sum(s["reasons"][k] for k in SKIP_KEYS)
            if s["decoded"] + skipped != s["packets"]:
                bad.append(f"{rel}: decoded {s['decoded']} + skipped {skipped} != packets {s['packets']}")
            flows += s["flows_written"]
    print(f"edge captures: {runs} runs, {damaged} reported damaged input (exit 1), {flows} flows written, "
          f"{len(bad)} problems")
    for b in bad[:50]:
        print("FAIL:", b)
    print(f"test_edge: {runs - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
