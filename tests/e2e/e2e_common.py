"""Helpers for the end-to-end tests: the binary, the sample, and running extract."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(ROOT, "samples", "many-protocols.pcap")
SKIP = 77
failures = []


def binary():
    return os.environ.get("FLOWSIFT") or os.path.join(ROOT, "build", "flowsift")


def data_dir():
    d = os.environ.get("FLOWSIFT_DATA", os.path.join(ROOT, "..", "shared", "data"))
    return d if os.path.isdir(d) else None


def run(*args, stdin=None):
    p = subprocess.run([binary(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, input=stdin)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, what):
    if cond:
        print(f"ok    {what}")
    else:
        print(f"FAIL  {what}")
        failures.append(what)


def finish(name):
    if failures:
        print(f"{name}: {len(failures)} failed")
        return 1
    print(f"{name}: all checks passed")
    return 0


def sanitizer_report(stderr):
    return "AddressSanitizer" in stderr or "runtime error:" in stderr or "LeakSanitizer" in stderr


def host_totals(records, length):
    """flowsift monitor's records of one window length summed per host: [out packets, out bytes, in packets,
    in bytes] (windows differ between runs, sums do not)."""
    t = {}
    for r in records:
        if round(r["end"] - r["start"]) == length:
            x = t.setdefault(r["host"], [0, 0, 0, 0])
            x[0] += r["out_packets"]
            x[1] += r["out_bytes"]
            x[2] += r["in_packets"]
            x[3] += r["in_bytes"]
    return t
