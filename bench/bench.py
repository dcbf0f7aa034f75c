#!/usr/bin/env python3
"""bench.py - flowsift extract against its peers on one capture, in one session. Run by hand, not by CI.

    python3 bench/bench.py [--capture FILE] [--runs 5] [--tools flowsift,limit,softflowd,...]

Without --capture it builds the standard 1 GB benchmark capture with ../shared/tools/pcap-amplify.c into
$TMPDIR (or /tmp) once, and the read ceiling ../shared/tools/limit.c beside it (neither is copied into the
project). Every tool reads the same file, which is first read once so that it sits in the page cache. Each tool
runs --runs times; the table gives medians of wall and CPU (user + system) seconds, Mpps and Gbit/s (wire bytes)
from the median wall time, peak resident memory, the flows the tool reported, and the tool's wall time as a
multiple of flowsift's (all cores); flowsift's CSV output goes to /dev/null. Install the peers with:
    apt-get install libndpi-bin softflowd argus-server argus-client pmacct tshark
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.path.join(ROOT, "..", "shared")
TMP = os.environ.get("TMPDIR", "/tmp")

# What each tool does with flow timeouts, since flow counts differ with them.
TIMEOUTS = {
    "flowsift": "idle 120 s, active 1800 s, TCP FIN/RST teardown (defaults); all cores (--threads auto)",
    "flowsift-1thread": "the same in one thread (--threads 1)",
    "limit": "no flow table: reads every record and touches its 5-tuple (the hardware ceiling)",
    "softflowd": "defaults: TCP 3600 s, TCP after RST/FIN 300/120 s, UDP 300 s, ICMP 300 s, general 3600 s, "
                 "max 8192 flows (older flows forced out)",
    "argus": "defaults: flow status records every 5 s (-S), idle timeouts by protocol",
    "pmacctd": "print plugin, aggregate src/dst host+port, proto: one record per 5-tuple for the whole file",
    "ndpiReader": "idle flows purged after 30 s (MAX_IDLE_TIME), DPI on",
    "tshark": "-z conv,tcp -z conv,udp: one conversation per TCP stream / UDP 5-tuple, no timeouts",
}


def build_tools(work):
    amp, lim = os.path.join(work, "pcap-amplify"), os.path.join(work, "limit")
    if not os.path.exists(amp):
        subprocess.run(["cc", "-O2", "-o", amp, os.path.join(SHARED, "tools", "pcap-amplify.c"), "-lpcap"],
                       check=True)
    if not os.path.exists(lim):
        subprocess.run(["cc", "-O2", "-o", lim, os.path.join(SHARED, "tools", "limit.c")], check=True)
    return amp, lim


def make_capture(amp, path, megabytes):
    data = os.path.join(SHARED, "data")
    with open(os.path.join(data, "MANIFEST.tsv")) as f:
        rows = [l.split("\t") for l in f.read().splitlines()[1:]]
    inputs = [r[0] for r in rows if len(r) > 10 and r[10] == "pcap" and r[7] == "ether"]
    subprocess.run([amp, "-o", path, "-m", str(megabytes)] + inputs, cwd=data, check=True,
                   stderr=subprocess.DEVNULL)


def default_capture():
    """The standard 1 GB bench capture in $TMPDIR, built by pcap-amplify the first time."""
    amp, _ = build_tools(TMP)
    cap = os.path.join(TMP, "flowsift-bench-1g.pcap")
    if not os.path.exists(cap):
        make_capture(amp, cap, 1024)
    return cap


def capture_facts(limit, path):
    out = subprocess.run([limit, "-r", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode()
    m = re.search(r"packets (\d+) wire_bytes (\d+)", out)
    return int(m.group(1)), int(m.group(2))


def run_once(cmd, cwd=None):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, os.waitstatus_to_exitcode(status), \
        out.decode("utf-8", "replace")


def tools(args, cap, lim, work):
    fs = os.path.abspath(args.flowsift)
    stats = os.path.join(work, "fs-stats.json")

    def fs_flows(_):
        with open(stats) as f:
            return json.load(f)["flows_written"]

    t = {}
    base = [fs, "extract", "-q", "--progress", "off", "--stats", stats, "-o", "/dev/null"]
    t["flowsift"] = (base + ["--threads", "auto", cap], fs_flows)
    t["flowsift-1thread"] = (base + ["--threads", "1", cap], fs_flows)
    t["limit"] = ([lim, "-r", cap], lambda out: "-")
    t["softflowd"] = (["softflowd", "-r", cap, "-c", "none", "-d"],
                      lambda out: sum(int(x) for x in re.findall(r"(?:Flows exported|Number of active flows): (\d+)",
                                                                  out)))
    argus_out = os.path.join(work, "out.argus")

    def argus_flows(_):
        ra = subprocess.run(["ra", "-r", argus_out, "-n", "-s", "proto"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
        return ra.stdout.count(b"\n")

    t["argus"] = (["argus", "-r", cap, "-w", argus_out], argus_flows)
    pm_conf, pm_out = os.path.join(work, "pmacctd.conf"), os.path.join(work, "pmacctd.csv")
    with open(pm_conf, "w") as f:
        f.write(f"daemonize: false\npcap_savefile: {cap}\nplugins: print\nprint_output: csv\n"
                f"print_output_file: {pm_out}\naggregate: src_host, dst_host, src_port, dst_port, proto\n"
                "plugin_buffer_size: 102400\nplugin_pipe_size: 10240000\nprint_cache_entries: 262147\n")

    def pm_flows(_):
        with open(pm_out, "rb") as f:
            return f.read().count(b"\n") - 1

    t["pmacctd"] = (["pmacctd", "-f", pm_conf], pm_flows)
    t["ndpiReader"] = (["ndpiReader", "-i", cap, "-v", "1"],
                       lambda out: int(re.search(r"Unique flows:\s+(\d+)", out).group(1)))
    t["tshark"] = (["tshark", "-n", "-r", cap, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                   lambda out: len(re.findall(r"<->", out)))
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capture", help="capture to read (default: build the 1 GB benchmark capture)")
    ap.add_argument("--megabytes", type=int, default=1024, help="size of the capture to build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tools", default="flowsift,flowsift-1thread,limit,softflowd,argus,pmacctd,ndpiReader,tshark")
    ap.add_argument("--flowsift", default=os.path.join(ROOT, "build", "flowsift"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="flowsift-bench-", dir=TMP)
    tooldir = os.path.join(TMP, "flowsift-bench-tools")
    os.makedirs(tooldir, exist_ok=True)
    amp, lim = build_tools(tooldir)
    cap = args.capture or os.path.join(TMP, f"flowsift-bench-{args.megabytes}m.pcap")
    if not os.path.exists(cap):
        print(f"building {cap} ...", file=sys.stderr)
        make_capture(amp, cap, args.megabytes)
    with open(cap, "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass
    packets, wire = capture_facts(lim, cap)
    print(f"capture: {cap}: {packets:,} packets, {wire / 1e9:.2f} GB on the wire, "
          f"{wire / packets:.0f} B/packet; {args.runs} runs per tool, medians; {os.cpu_count()} cores")
    table = tools(args, cap, lim, work)
    results = []
    for name in args.tools.split(","):
        cmd, flows_of = table[name]
        if not shutil.which(cmd[0]) and not os.path.exists(cmd[0]):
            print(f"  {name}: not installed, skipped", file=sys.stderr)
            continue
        walls, cpus, rss, flows, rc = [], [], [], "-", 0
        for _ in range(args.runs):
            wall, cpu, peak, rc, out = run_once(cmd, cwd=work)
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
            try:
                flows = flows_of(out)
            except (OSError, AttributeError, ValueError, KeyError):
                flows = "?"
        results.append((name, statistics.median(walls), statistics.median(cpus), max(rss), flows, rc))
        print(f"  {name}: {statistics.median(walls):.3f} s", file=sys.stderr)
    base = next((r[1] for r in results if r[0] == "flowsift"), None)
    print()
    print(f"| tool | wall s | CPU s | Mpps | Gbit/s | peak MB | flows | wall vs flowsift |")
    print(f"|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, wall, cpu, peak, flows, rc in results:
        ratio = f"{wall / base:.2f}x" if base else "-"
        flows_s = f"{flows:,}" if isinstance(flows, int) else flows
        note = "" if rc == 0 else f" (exit {rc})"
        print(f"| {name}{note} | {wall:.3f} | {cpu:.3f} | {packets / wall / 1e6:.2f} | {wire * 8 / wall / 1e9:.2f} | "
              f"{peak / 1e6:.0f} | {flows_s} | {ratio} |")
    print()
    print("Timeouts (flow counts differ with them):")
    for name, *_ in results:
        print(f"- {name}: {TIMEOUTS.get(name, '')}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
