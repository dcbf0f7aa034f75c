#!/usr/bin/env python3
"""collect_bench.py - flowsift collect against nfcapd on the same IPFIX exports over loopback UDP. By hand.

    python3 bench/collect_bench.py [--capture FILE] [--runs 3]

The exports: flowsift extract exports the capture (default: the 1 GB benchmark capture of bench.py, built if
missing) as IPFIX over UDP, and bench/udp_blast.c records the datagrams (an IPFIX file). Then, medians of --runs:
- decode from the file: `flowsift collect -o /dev/null` (CSV formatting to /dev/null) and `--store` (decode and
  store), CPU seconds and records per CPU second;
- over loopback UDP: udp_blast sends every datagram as fast as the socket takes it, to `flowsift collect --store`
  and to `nfcapd`, each with a 256 MB socket buffer (net.core.rmem_max is raised while the bench runs, as root):
  records received, lost, and each receiver's CPU seconds (its work for the same datagrams).
Needs: nfdump (nfcapd), a C compiler, and build/flowsift.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FS = os.path.join(ROOT, "build", "flowsift")
sys.path.insert(0, HERE)


def cpu_of(pid):
    """utime + stime of a live process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def timed(cmd):
    """Runs cmd; returns (stderr, user+system CPU seconds of the children)."""
    r0 = os.times()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    r1 = os.times()
    return p.stderr, (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--capture")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="collect-bench-")
    cap = a.capture
    if not cap:
        import bench  # the standard capture, built by bench.py's recipe
        cap = bench.default_capture()
    blast = os.path.join(work, "udp_blast")
    subprocess.run(["cc", "-O2", "-o", blast, os.path.join(HERE, "udp_blast.c")], check=True)
    rmem = open("/proc/sys/net/core/rmem_max").read().strip()
    root = os.geteuid() == 0
    if root:
        subprocess.run(["sysctl", "-qw", "net.core.rmem_max=268435456"], check=True)
    try:
        exports = os.path.join(work, "exports.ipfix")
        rec = subprocess.Popen([blast, "record", "39100", exports], stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        subprocess.run([FS, "extract", "-q", cap, "-o", "/dev/null", "--export", "127.0.0.1:39100"], check=True)
        _, err = rec.communicate()
        datagrams = int(re.search(r"recorded (\d+)", err).group(1))
        err, _ = timed([FS, "collect", "-o", "/dev/null", exports])
        records = int(re.search(r"([\d,]+) records from", err).group(1).replace(",", ""))
        print(f"exports: {records:,} IPFIX records in {datagrams:,} datagrams "
              f"({os.path.getsize(exports) / datagrams:.0f} B each) from {os.path.basename(cap)}")
        rows = []
        csv_cpu = statistics.median(timed([FS, "collect", "-q", "-o", "/dev/null", exports])[1] for _ in range(a.runs))
        rows.append(("flowsift collect, file, CSV to /dev/null", records, 0, csv_cpu))
        st = []
        for _ in range(a.runs):
            store = os.path.join(work, "store-file")
            subprocess.run(["rm", "-rf", store])
            st.append(timed([FS, "collect", "-q", "--store", store, exports])[1])
        rows.append(("flowsift collect, file, into the store", records, 0, statistics.median(st)))
        def udp_runs(name, workers, exporters, rate=0):
            udp, lost = [], []
            for i in range(a.runs):
                store = os.path.join(work, f"store-udp-{workers}-{i}")
                col = subprocess.Popen([FS, "collect", "-l", "127.0.0.1:39101", "--store", store, "--duration", "300s",
                                        "--workers", str(workers)], stderr=subprocess.PIPE, text=True)
                time.sleep(0.5)
                cpu0 = cpu_of(col.pid)
                subprocess.run([blast, "send", exports, "39101", "1", str(exporters), str(rate)], check=True,
                               stdout=subprocess.DEVNULL)
                while True:  # until it has read every datagram: its CPU time stops growing
                    c = cpu_of(col.pid)
                    time.sleep(0.7)
                    if cpu_of(col.pid) == c:
                        break
                cpu = cpu_of(col.pid) - cpu0  # receiving and decoding; publishing the store's last segments follows
                col.terminate()
                _, err = col.communicate()
                got = int(re.search(r"([\d,]+) records from", err).group(1).replace(",", ""))
                udp.append(cpu)
                lost.append(records * exporters - got)
            rows.append((name, records * exporters, statistics.median(lost), statistics.median(udp)))

        udp_runs("flowsift collect, UDP, into the store", 1, 1)
        nfc, nfl = [], []
        for i in range(a.runs):
            d = os.path.join(work, f"nf-{i}")
            os.makedirs(d)
            nf = subprocess.Popen(["nfcapd", "-l", d, "-p", "39102", "-b", "127.0.0.1", "-B", "268435456", "-w", d],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            cpu0 = cpu_of(nf.pid)
            subprocess.run([blast, "send", exports, "39102"], check=True, stdout=subprocess.DEVNULL)
            while True:
                c = cpu_of(nf.pid)
                time.sleep(0.7)
                if cpu_of(nf.pid) == c:
                    break
            nfc.append(cpu_of(nf.pid) - cpu0)
            nf.terminate()
            nf.wait()
            flows = 0
            for name in os.listdir(d):
                if name.startswith("nfcapd."):
                    out = subprocess.run(["nfdump", "-r", os.path.join(d, name), "-I"], capture_output=True,
                                         text=True).stdout
                    m = re.search(r"^Flows: (\d+)", out, re.M)
                    flows += int(m.group(1)) if m else 0
            nfl.append(records - flows)
        rows.append(("nfcapd 1.7, UDP, into its files", records, statistics.median(nfl), statistics.median(nfc)))
        # several exporters, the datagrams of each spread by SO_REUSEPORT over the receiving threads
        # paced: the datagrams of 4 exporters at a set rate in all, the loss that rate causes
        per_dgram = records / datagrams
        for rate in (100000, 150000):
            offered = f"{rate * per_dgram / 1e6:.2f} M records/s offered"
            udp_runs(f"flowsift collect, UDP, 4 exporters at {rate // 1000} k datagrams/s ({offered}), 1 thread", 1, 4, rate)
            udp_runs(f"flowsift collect, UDP, 4 exporters at {rate // 1000} k datagrams/s ({offered}), --workers 2", 2, 4,
                     rate)
        print(f"\n2 cores; medians of {a.runs} runs; CPU = user + system seconds of the receiving process\n")
        print("| receiver | records sent | lost | CPU s | records received per CPU second | CPU vs flowsift UDP |")
        print("|---|---:|---:|---:|---:|---:|")
        base = rows[2][3]
        for name, n, l, cpu in rows:
            print(f"| {name} | {n:,} | {int(l):,} | {cpu:.3f} | {(n - l) / cpu / 1e6:.2f} M | {cpu / base:.2f}x |")
    finally:
        if root:
            subprocess.run(["sysctl", "-qw", f"net.core.rmem_max={rmem}"])
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
