"""flowsift monitor on a live interface, for real: a network namespace with a veth pair, tcpreplay sending the
bundled sample into one end, flowsift monitor (libpcap) and tcpdump capturing on the other; no packet leaves
the machine. The live records must equal those of monitor run offline on tcpdump's recording of the same
packets, every window's records must come out within 1 s of the window's close (its end plus the allowed
lateness), and the per-host totals must equal those of the sample read offline."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from e2e_common import SAMPLE, SKIP, binary, check, finish, host_totals, run

LATENESS = 0.5


def sh(*cmd, ns=None):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    return subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root for a network namespace")
        return SKIP
    for tool in ("ip", "tcpreplay", "tcpdump"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is not installed")
            return SKIP
    pid = os.getpid() % 100000
    ns, a, b = f"fsmon{pid}", f"fsm{pid}a", f"fsm{pid}b"
    if sh("ip", "netns", "add", ns).returncode != 0:
        print("SKIP: cannot create a network namespace here")
        return SKIP
    tmp = tempfile.mkdtemp()
    try:
        for cmd, where in ((["ip", "link", "add", a, "type", "veth", "peer", "name", b], None),
                           (["ip", "link", "set", b, "netns", ns], None),
                           (["sysctl", "-qw", f"net.ipv6.conf.{a}.disable_ipv6=1"], None),
                           (["sysctl", "-qw", f"net.ipv6.conf.{b}.disable_ipv6=1"], ns),
                           (["ip", "link", "set", a, "up"], None), (["ip", "link", "set", b, "up"], ns)):
            r = sh(*cmd, ns=where)
            if r.returncode != 0:
                print(f"SKIP: {' '.join(cmd)}: {r.stderr.decode().strip()}")
                return SKIP
        rec = os.path.join(tmp, "recorded.pcap")
        dump = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", b, "-n", "-U", "-s", "0",
                                 "--time-stamp-precision=nano", "-w", rec],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        mon = subprocess.Popen(["ip", "netns", "exec", ns, binary(), "monitor", "-i", b, "--all-hosts",
                                "-w", "1s,10s", "--lateness", f"{int(LATENESS * 1000)}ms", "--no-store", "-o", "-"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        arrivals = []

        def reader():
            for line in mon.stdout:
                arrivals.append((time.time(), json.loads(line)))

        th = threading.Thread(target=reader)
        th.start()
        time.sleep(1.5)  # both capturing
        rp = sh("tcpreplay", "-q", "-i", a, "--pps", "1000", SAMPLE)
        check(rp.returncode == 0, f"tcpreplay sent the sample (exit {rp.returncode})")
        sent_end = time.time()
        time.sleep(2.5)  # the last 1 s windows close live
        mon.send_signal(signal.SIGINT)
        dump.send_signal(signal.SIGINT)
        mon.wait(timeout=30)
        dump.wait(timeout=30)
        th.join()
        err = mon.stderr.read().decode()
        check(mon.returncode == 0, f"monitor ends cleanly on SIGINT (exit {mon.returncode}) {err[-300:]}")
        live = [r for _, r in arrivals]
        check(len(live) > 10, f"records came out live ({len(live)})")

        # live equals offline on the same packets
        rc, out, _ = run("monitor", "--all-hosts", "-w", "1s,10s", "--lateness", f"{int(LATENESS * 1000)}ms",
                         "--no-store", "-q", "-o", "-", rec)
        offline = [json.loads(line) for line in out.splitlines()]
        key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
        check(rc == 0 and sorted(map(key, live)) == sorted(map(key, offline)),
              f"live records equal the offline records of tcpdump's recording ({len(live)} and {len(offline)})")

        # on time: windows that closed while traffic ran or before SIGINT came out within 1 s of their close
        late = [(t - (r["end"] + LATENESS), r["end"]) for t, r in arrivals
                if round(r["end"] - r["start"]) == 1 and r["end"] + LATENESS < sent_end + 1.5]
        worst = max((d for d, _ in late), default=None)
        check(late and worst is not None and worst <= 1.0,
              f"{len(late)} 1 s window records came out at most 1 s after their close (worst {worst:.3f} s)")

        # per-host totals equal the sample's (tcpreplay sends every frame; the windows differ, the sums do not)
        rc, out, _ = run("monitor", "--all-hosts", "-w", "10s", "--no-store", "-q", "-o", "-", SAMPLE)
        want = host_totals([json.loads(line) for line in out.splitlines()], 10)
        got = host_totals(live, 10)
        check(got == want, f"per-host packets and bytes sent and received equal the sample's ({len(got)} hosts)")
    finally:
        sh("ip", "netns", "del", ns)
        sh("ip", "link", "del", a)
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("test_monitor_live")


if __name__ == "__main__":
    sys.exit(main())
