#!/usr/bin/env python3
"""Per-host window statistics: flowsift monitor against peers, and the monitor alone on flow updates.

    python3 bench/monitor_bench.py [--capture FILE] [--runs N] [--build DIR]

1. On the bench capture (bench.py's recipe: 1 GB from ../shared/data by pcap-amplify, page cache warm), medians
   of --runs of wall and CPU seconds, Mpps and peak memory:
   - flowsift monitor --all-hosts, the default five window lengths (10 s .. 1 h), and one 1 h window
     (records as JSON lines to /dev/null, no store, no profiles), and the five lengths writing nothing;
   - flowsift extract --threads 1 to /dev/null (flows of the same packets, for scale);
   - pmacctd, two print plugins aggregating bytes and packets per source host and per destination host
     (per-host totals in and out: less than monitor computes, no windows);
   - tshark -q -z endpoints,ip (per-host packets and bytes sent and received), one run.
2. bench/monitor_bench.c (built by CMake as build/monitor_bench): flow records between monitored hosts and 1 M
   outside peers, 50,000 records per second of event time, fed to the monitor alone: flow updates per CPU
   second and peak memory, for 100,000 hosts with one window length and with the default five, and for
   1,000,000 hosts (bytes per host).
Published figure for comparison: about 4 ms of Spark processing per 1 s batch for 100 monitored users.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench  # noqa: E402


def timed(cmd, cwd=None):
    """(wall s, cpu s, peak KB, stdout) of one run under /usr/bin/time."""
    p = subprocess.run(["/usr/bin/time", "-f", "TIME %e %U %S %M"] + cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, cwd=cwd)
    m = re.findall(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-500:]}")
    e, u, s, kb = m[-1]
    return float(e), float(u) + float(s), int(kb), p.stdout


def medians(cmd, runs, cwd=None):
    res = [timed(cmd, cwd) for _ in range(runs)]
    return (statistics.median(r[0] for r in res), statistics.median(r[1] for r in res),
            max(r[2] for r in res), res[-1][3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capture")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    fs = os.path.join(a.build, "flowsift")
    mb = os.path.join(a.build, "monitor_bench")
    cap = a.capture or bench.default_capture()
    work = tempfile.mkdtemp(prefix="monitor-bench-")
    subprocess.run(["cat", cap], stdout=subprocess.DEVNULL)  # page cache
    p = subprocess.run([fs, "extract", "-q", "--threads", "1", "-o", "/dev/null", "--stats", "-", cap],
                       stdout=subprocess.PIPE, text=True)
    packets = int(re.search(r'"decoded":(\d+)', p.stdout).group(1))
    print(f"capture: {os.path.basename(cap)}, {os.path.getsize(cap) / 1e9:.2f} GB, {packets:,} packets\n")

    rows = []
    mon = [fs, "monitor", "--all-hosts", "--no-store", "--no-profiles", "-q", "-o", "/dev/null"]
    rows.append(("flowsift monitor, 5 lengths 10s..1h",) + medians(mon + [cap], a.runs)[:3])
    rows.append(("  the same, records not written",) +
                medians([fs, "monitor", "--all-hosts", "--no-store", "--no-profiles", "-q", cap], a.runs)[:3])
    rows.append(("flowsift monitor, one 1h window",) + medians(mon + ["-w", "1h", cap], a.runs)[:3])
    rows.append(("flowsift extract --threads 1 (flows)",) +
                medians([fs, "extract", "-q", "--threads", "1", "-o", "/dev/null", cap], a.runs)[:3])
    if shutil.which("pmacctd"):
        conf = os.path.join(work, "pmacctd.conf")
        with open(conf, "w") as f:
            f.write(f"daemonize: false\npcap_savefile: {cap}\nplugins: print[out], print[in]\n"
                    f"aggregate[out]: src_host\naggregate[in]: dst_host\nprint_output: csv\n"
                    f"print_output_file[out]: {work}/out.csv\nprint_output_file[in]: {work}/in.csv\n"
                    "plugin_buffer_size: 102400\nplugin_pipe_size: 10240000\nprint_cache_entries: 262147\n")
        rows.append(("pmacctd, per-host in and out (no windows)",) + medians(["pmacctd", "-f", conf], a.runs)[:3])
    if shutil.which("tshark"):
        rows.append(("tshark -z endpoints,ip (one run)",) +
                    medians(["tshark", "-n", "-q", "-r", cap, "-z", "endpoints,ip"], 1)[:3])
    base_cpu = rows[0][2]
    print(f"{'program':45} {'wall s':>8} {'CPU s':>8} {'Mpps/CPU s':>10} {'peak MB':>8} {'CPU vs monitor':>14}")
    for name, wall, cpu, kb in rows:
        print(f"{name:45} {wall:8.2f} {cpu:8.2f} {packets / cpu / 1e6:10.2f} {kb / 1024:8.0f} {cpu / base_cpu:13.2f}x")

    print("\nflow updates into host statistics (bench/monitor_bench.c; 50,000 records per s of event time):")
    print(f"{'hosts':>10} {'windows':>18} {'updates':>10} {'M updates/CPU s':>16} {'ns each':>8} "
          f"{'peak MB':>8} {'bytes/host':>10}")
    for hosts, n, wins in ((100000, 3000000, "10s"), (100000, 3000000, "10s,30s,1m,5m,1h"),
                           (1000000, 3000000, "10s"), (1000000, 3000000, "10s,30s,1m,5m,1h")):
        res = []
        for _ in range(a.runs):
            out = subprocess.run([mb, str(hosts), str(n), wins], stdout=subprocess.PIPE, text=True,
                                 check=True).stdout
            res.append({k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+)", out)})
        rate = statistics.median(r["per_cpu_s"] for r in res)
        peak = max(r["bytes_peak"] for r in res)
        print(f"{hosts:10,} {wins:>18} {n:10,} {rate / 1e6:16.2f} {1e9 / rate:8.0f} {peak / 1e6:8.0f} "
              f"{peak / hosts:10.0f}")
    spark = 4e-3
    print(f"\nPublished: about {spark * 1e3:.0f} ms of Spark processing per 1 s batch for 100 users. In {spark * 1e3:.0f} ms "
          f"of one core flowsift takes {rate * spark:,.0f} flow updates into 5 window lengths of 1,000,000 hosts "
          f"(the last row).")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
