"""The store end to end: extract --store then query gives the records extract writes as CSV (every field),
filters and time ranges choose the same records, one or several writer threads give the same store content,
and a writer killed with SIGKILL at random moments leaves a store that opens cleanly with every published
segment intact."""
import csv
import io
import os
import re
import random
import signal
import subprocess
import sys
import tempfile
import time

import pcaplib
from e2e_common import SAMPLE, binary, check, data_dir, finish, run


def rows_of(out):
    return list(csv.DictReader(io.StringIO(out)))


def comparable(rows):
    """Records as sorted tuples; times (printed with 6 decimals by extract, 9 by query) as numbers."""
    out = []
    for r in rows:
        t = tuple((k, f"{float(v):.6f}" if k in ("first", "last") else v) for k, v in sorted(r.items()))
        out.append(t)
    return sorted(out)


def times_decimals(tmp):
    """query prints times with the decimals that show them exactly: 9 once a nanosecond time is stored."""
    linktype, recs = pcaplib.read_pcap(SAMPLE)
    nano = os.path.join(tmp, "nano.pcap")
    pcaplib.write_pcap(nano, linktype, [(ts + 1 + i % 999, w, d) for i, (ts, w, d) in enumerate(recs)], nsec=True)
    store = os.path.join(tmp, "nano-store")
    run("extract", "-q", "--store", store, nano)
    rc, want, _ = run("extract", "-o", "-", "-q", "--fields", "all", nano)
    rc2, got, _ = run("query", "-q", store, "--fields", "all")
    first = rows_of(got)[0]["first"] if rc2 == 0 and got else ""
    check(rc == 0 and rc2 == 0 and len(first.split(".")[1]) == 9 and sorted(got.splitlines()) == sorted(want.splitlines()),
          "a store of a nanosecond capture prints 9 decimals, as extract does")
    mixed = os.path.join(tmp, "mixed-store")
    run("extract", "-q", "--store", mixed, SAMPLE)
    _, before, _ = run("query", "-q", mixed, "--fields", "first", "--limit", "1")
    run("extract", "-q", "--store", mixed, nano)
    _, after, _ = run("query", "-q", mixed, "--fields", "first", "--limit", "1")
    check(len(before.splitlines()[1].split(".")[1]) == 6 and len(after.splitlines()[1].split(".")[1]) == 9,
          "a microsecond store prints 6 decimals, 9 once a nanosecond capture is added to it")
    os.unlink(os.path.join(mixed, "flows", ".times"))
    run("extract", "-q", "--store", mixed, SAMPLE)
    _, old, _ = run("query", "-q", mixed, "--fields", "first", "--limit", "1")
    check(len(old.splitlines()[1].split(".")[1]) == 9 and not os.path.exists(os.path.join(mixed, "flows", ".times")),
          "a store without the marker (made before it existed) keeps 9 decimals, and a writer adding to it "
          "does not claim microseconds")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        rc, _, err = run("extract", "--store", store, SAMPLE)
        check(rc == 0 and "store     258 records" in err, "extract --store stores every flow")
        rc, want, _ = run("extract", "-o", "-", "-q", "--fields", "all", SAMPLE)
        rc2, got, err = run("query", "-q", store, "--fields", "all")
        check(rc == 0 and rc2 == 0 and comparable(rows_of(got)) == comparable(rows_of(want)),
              "query returns every field of every record as extract wrote it")
        check(sorted(got.splitlines()) == sorted(want.splitlines()),
              "... and prints it as extract does, character for character (times of a microsecond capture with 6 "
              "decimals)")
        times_decimals(tmp)
        rc, want, _ = run("extract", "-o", "-", "-q", "-f", "proto tcp and dstp 80 and paysize > 1000", SAMPLE)
        rc2, got, _ = run("query", "-q", store, "proto", "tcp", "and", "dstp", "80", "and", "paysize", ">", "1000")
        check(len(rows_of(got)) > 0 and comparable(rows_of(got)) == comparable(rows_of(want)),
              "query's filter chooses what extract's does")
        rc, got, _ = run("query", "-q", store, "--since", "1420290300", "--until", "1420290310", "--fields", "first")
        firsts = [float(r["first"]) for r in rows_of(got)]
        rc2, allrows, _ = run("query", "-q", store, "--fields", "first")
        expect = [f for f in (float(r["first"]) for r in rows_of(allrows)) if 1420290300 <= f < 1420290310]
        check(rc == 0 and len(firsts) > 0 and sorted(firsts) == sorted(expect), "--since/--until choose by first packet")
        # --ordered: two runs into one store leave two segments of the same times, read one after the other
        twice = os.path.join(tmp, "twice")
        for _ in range(2):
            run("extract", "-q", "--store", twice, SAMPLE)
        cols = "first,last,srcaddr,dstaddr,srcp,dstp,proto"
        rc, plain, _ = run("query", "-q", twice, "--fields", cols)
        rc2, got, _ = run("query", "-q", twice, "--ordered", "--fields", cols)
        plain_firsts = [float(r["first"]) for r in rows_of(plain)]
        firsts = [float(r["first"]) for r in rows_of(got)]
        check(rc == 0 and rc2 == 0 and plain_firsts != sorted(plain_firsts) and firsts == sorted(firsts)
              and comparable(rows_of(got)) == comparable(rows_of(plain)) and len(firsts) == 2 * 258,
              "--ordered writes every record once, in order of first packet")
        rc, got, _ = run("query", "-q", twice, "--ordered", "--limit", "5", "--fields", "first")
        check(rc == 0 and [float(r["first"]) for r in rows_of(got)] == sorted(plain_firsts)[:5],
              "--ordered --limit N: the N earliest")
        # grouping and top-N agree with the same computed from extract's records
        rc, flows_csv, _ = run("extract", "-o", "-", "-q", "--fields", "srcaddr,dstp,size,packets,duration", SAMPLE)
        recs = rows_of(flows_csv)
        by_src = {}
        for r in recs:
            t = by_src.setdefault(r["srcaddr"], [0, 0, 0])
            t[0] += 1
            t[1] += int(r["packets"])
            t[2] += int(r["size"])
        rc, got, _ = run("query", "-q", store, "--group-by", "srcaddr", "--top", "5", "--by", "bytes")
        top = rows_of(got)
        want = sorted(by_src.items(), key=lambda kv: (-kv[1][2], kv[0]))[:5]
        check(rc == 0 and [(r["srcaddr"], int(r["count"]), int(r["sum:packets"]), int(r["sum:size"])) for r in top]
              == [(a, *v) for a, v in want] and list(top[0].keys()) == ["srcaddr", "count", "sum:packets", "sum:size"],
              "--group-by srcaddr --top 5 --by bytes equals the top talkers computed from extract")
        rc, got, _ = run("query", "-q", store, "--group-by", "dstp", "--agg", "count,max:duration")
        per_port = {}
        for r in recs:
            t = per_port.setdefault(r["dstp"], [0, 0.0])
            t[0] += 1
            t[1] = max(t[1], float(r["duration"]))
        check(rc == 0 and {r["dstp"]: (int(r["count"]), round(float(r["max:duration"]), 3)) for r in rows_of(got)}
              == {p: (c, round(d, 3)) for p, (c, d) in per_port.items()}, "--group-by dstp counts and maxima agree")
        rc, got, _ = run("query", "-q", store, "--group-by", "srcaddr", "--agg", "distinct:dstp,distinct:dstaddr")
        want_d = {}
        for r in rows_of(run("extract", "-o", "-", "-q", "--fields", "srcaddr,dstaddr,dstp", SAMPLE)[1]):
            t = want_d.setdefault(r["srcaddr"], (set(), set()))
            t[0].add(r["dstp"])
            t[1].add(r["dstaddr"])
        check(rc == 0 and {r["srcaddr"]: (int(r["distinct:dstp"]), int(r["distinct:dstaddr"])) for r in rows_of(got)}
              == {a: (len(p), len(d)) for a, (p, d) in want_d.items()}, "distinct:F counts distinct values exactly")
        rc, got, _ = run("query", "-q", store, "--top", "3", "--by", "packets", "--fields", "packets")
        check([int(r["packets"]) for r in rows_of(got)] == sorted((int(r["packets"]) for r in recs), reverse=True)[:3],
              "--top 3 --by packets gives the three largest records")
        rc, got, _ = run("query", "-q", store, "--group-by", "srcaddr", "--top", "3", "-F", "table")
        lines = got.splitlines()
        check(rc == 0 and len(lines) == 4 and lines[0].split() == ["srcaddr", "count", "sum:packets", "sum:size"] and
              len({len(l) for l in lines[1:]}) == 1,
              "-F table aligns columns (numbers right-aligned: rows end in one column)")
        rc, _, err = run("query", store, "--group-by", "nosuch")
        check(rc == 2 and "nosuch" in err, "an unknown group-by field is named")
        # column pruning: every field read alone (only its columns decoded) equals the same from all columns,
        # and so does a filter on it
        rc, names, _ = run("fields")
        bad = []
        for name in [l.split()[0] for l in names.splitlines()]:
            _, pruned, _ = run("query", "-q", store, "--fields", name)
            _, full, _ = run("query", "-q", store, "--fields", name, "--all-columns")
            if pruned != full:
                bad.append(name)
        for expr in ("stddiat > 1000", "src_maxps >= 1000", "flags == ...A..SF", "host 10.0.0.1 and not port 80",
                     "avgpays > 100 and dst_frags == 0", "icmp_type == 8 or end == rst"):
            _, pruned, _ = run("query", "-q", store, "--fields", "srcp", expr)
            _, full, _ = run("query", "-q", store, "--fields", "srcp", "--all-columns", expr)
            if pruned != full or not full:
                bad.append(expr)
        check(not bad, f"reading only the needed columns changes no field and no filter (differ: {bad})")
        # conditions on single columns are tested on the columns, and segments ruled out by their minima and
        # maxima are not read: the answers are those of testing every record with the whole filter
        small = os.path.join(tmp, "small-segments")
        run("extract", "-q", "--store", small, "--segment-rows", "20", "--threads", "1", SAMPLE)
        bad, pruned_any = [], 0
        for expr in ("dstp == 53", "dst port 443 and packets > 3", "port 80", "packets > 20", "proto udp and size < 200",
                     "ipver == 6", "src_packets >= 5 and dst_nopay < 2", "src_maxps > 1000 or dstp == 53",
                     "not dstp == 53", "dstp != 80 and vlan == 0", "paysize == 0", "packets >= 1000000"):
            rc1, fast, err = run("query", small, "--fields", "srcaddr,dstp,packets", expr)
            rc2, slow, _ = run("query", "-q", small, "--fields", "srcaddr,dstp,packets", "--no-skip", expr)
            m = re.search(r"(\d+) by column ranges", err)
            pruned_any += int(m.group(1)) if m else 0
            if rc1 or rc2 or fast != slow:
                bad.append(expr)
        check(not bad and pruned_any > 0,
              f"column conditions and min/max skipping give the answers of the whole filter ({pruned_any} segments "
              f"skipped; differ: {bad})")
        # grouping on the columns (no records built) gives the answers of grouping record by record
        bad = []
        for spec in (["--group-by", "srcaddr", "--top", "10", "--by", "bytes"], ["--group-by", "dstp"],
                     ["--group-by", "srcaddr/24,proto", "--agg", "count,sum:packets,min:dst_size,max:size,avg:src_packets"],
                     ["--group-by", "first/10m,ipver", "--agg", "count,sum:size"], ["--agg", "count,sum:nopay"],
                     ["--group-by", "dstaddr", "--agg", "distinct:srcp"], ["--group-by", "dstp", "packets > 3"],
                     ["--group-by", "dstp", "packets > 3 and end == fin"]):
            rc1, fast, _ = run("query", "-q", small, "-F", "csv", *spec)
            rc2, slow, _ = run("query", "-q", small, "-F", "csv", "--no-skip", *spec)
            if rc1 or rc2 or fast != slow or not fast:
                bad.append(spec)
        check(not bad, f"grouping on the columns equals grouping record by record (differ: {bad})")
        rc, _, err = run("query", store, "paysize ==")
        check(rc == 2 and "column" in err, "a filter error in query names the column")
        rc, _, err = run("query", os.path.join(tmp, "nostore"))
        check(rc == 1 and "cannot open store" in err, "a missing store is an error")
        # damage one segment: reported by name, the rest still answers, exit 1
        seg = sorted(os.path.join(r, f) for r, _, fs in os.walk(store) for f in fs if f.endswith(".fss"))[0]
        with open(seg, "r+b") as f:
            f.seek(300)
            b = f.read(1)
            f.seek(300)
            f.write(bytes([b[0] ^ 0xFF]))
        rc, got, err = run("query", store, "--fields", "first")
        check(rc == 1 and os.path.basename(seg) in err and 0 < len(rows_of(got)) < 258,
              "a damaged segment is named, skipped, and the others are read")

        # retention removes whole partitions, oldest first, by age in data time and by size
        kept = os.path.join(tmp, "kept")
        rc, _, _ = run("extract", "-q", "--store", kept, SAMPLE)
        parts = sorted(p for p in os.listdir(os.path.join(kept, "flows")) if not p.startswith("."))
        rc, _, err = run("retain", kept, "--retention", "1d")
        left = sorted(p for p in os.listdir(os.path.join(kept, "flows")) if not p.startswith("."))
        check(rc == 0 and parts == ["20100629T19", "20150103T13"] and left == ["20150103T13"] and "removed 1 partition" in err,
              "--retention 1d removes the partition older than a day before the newest data")
        rc, _, _ = run("extract", "-q", "--store", kept, "--max-size", "1", SAMPLE)
        check(rc == 0 and sorted(p for p in os.listdir(os.path.join(kept, "flows")) if not p.startswith(".")) == ["20150103T13"],
              "--max-size removes the oldest partitions but never the newest")

        # SIGKILL at random moments while writing a large store
        data = data_dir()
        big = None
        if data:
            big = os.path.join(data, "pcap", "pcapplusplus", "example.pcap")
        cap = big if big and os.path.exists(big) else SAMPLE
        killed = os.path.join(tmp, "killed")
        random.seed(7)
        survivors_ok = True
        for attempt in range(5):
            p = subprocess.Popen([binary(), "extract", "-q", "--store", killed, "--segment-rows", "50",
                                  "--idle-timeout", "1s", "--threads", "2"] + [cap] * 40, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(random.uniform(0.02, 0.25))
            p.send_signal(signal.SIGKILL)
            p.wait()
            rc, out, err = run("query", killed, "--fields", "first")
            segments = [f for r, _, fs in os.walk(killed) for f in fs if f.endswith(".fss") and f[0] != "."]
            print(f"  kill {attempt + 1}: {len(segments)} segments, {len(rows_of(out))} records readable")
            if rc != 0 or "; 0 segments damaged" not in err:
                survivors_ok = False
                print(err)
        # readers query while a writer ingests: every query succeeds and sees only whole segments
        live = os.path.join(tmp, "live")
        p = subprocess.Popen([binary(), "extract", "-q", "--store", live, "--segment-rows", "50", "--idle-timeout",
                              "1s", "--threads", "2"] + [cap] * 40, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        readers_ok, seen = True, []
        while p.poll() is None and len(seen) < 30:
            if os.path.isdir(live):
                rc, out, err = run("query", live, "--fields", "first")
                seen.append(len(rows_of(out)))
                readers_ok &= rc == 0 and "; 0 segments damaged" in err
            time.sleep(0.01)
        p.wait()
        rc, out, _ = run("query", "-q", live, "--fields", "first")
        final = len(rows_of(out))
        alone = os.path.join(tmp, "alone")
        run("extract", "-q", "--store", alone, "--segment-rows", "50", "--idle-timeout", "1s", "--threads", "2",
            *([cap] * 40))
        rc2, out2, _ = run("query", "-q", alone, "--fields", "first")
        print(f"  concurrent reads saw {seen[:8]}... of {final} records ({len(rows_of(out2))} without readers)")
        check(p.returncode == 0 and readers_ok and len(seen) >= 2 and all(n <= final for n in seen) and
              final == len(rows_of(out2)),
              "readers query while a writer ingests, without errors; the writer is undisturbed")
        rc, _, err = run("extract", "-q", "--store", killed, SAMPLE)
        leftovers = [f for r, _, fs in os.walk(killed) for f in fs if f.startswith(".tmp-")]
        check(survivors_ok, "after kill -9 at random moments the store opens and no published segment is damaged")
        check(rc == 0 and not leftovers, "the next writer removes what a killed one left unpublished")

        # records go to a store by default: $FLOWSIFT_STORE, else flowsift.store in the current directory;
        # printing options print instead
        cwd = os.path.join(tmp, "cwd")
        os.mkdir(cwd)
        p = subprocess.run([binary(), "extract", "-q", SAMPLE], cwd=cwd, capture_output=True)
        made = os.path.isdir(os.path.join(cwd, "flowsift.store", "flows"))
        rc, got, _ = run("query", "-q", os.path.join(cwd, "flowsift.store"), "--fields", "srcaddr")
        env = dict(os.environ, FLOWSIFT_STORE=os.path.join(tmp, "envstore"))
        p2 = subprocess.run([binary(), "extract", "-q", SAMPLE], cwd=cwd, env=env, capture_output=True)
        p3 = subprocess.run([binary(), "extract", "-q", "--preset", "brief", SAMPLE], cwd=cwd, env=env,
                            capture_output=True)
        check(p.returncode == 0 and p.stdout == b"" and made and len(rows_of(got)) == 258 and p2.returncode == 0 and
              os.path.isdir(os.path.join(tmp, "envstore", "flows")) and
              len(rows_of(p3.stdout.decode())) == 258 and not os.path.exists(os.path.join(tmp, "envstore", "x")),
              "extract writes into flowsift.store (or $FLOWSIFT_STORE) by default; --preset prints instead")

        # compaction: small segments merge; readers querying meanwhile always see every record exactly once;
        # a compaction killed at a random moment loses nothing and the next one finishes it
        comp = os.path.join(tmp, "compact")
        for _ in range(8):
            run("extract", "-q", "--store", comp, "--segment-rows", "2", "--threads", "1", SAMPLE)
        rc, before, _ = run("query", "-q", comp, "--fields", "all")
        nseg = len([f for r, _, fs in os.walk(comp) for f in fs if f.endswith(".fss")])
        rc, _, err = run("compact", comp)
        after = len([f for r, _, fs in os.walk(comp) for f in fs if f.endswith(".fss")])
        rc2, got, _ = run("query", "-q", comp, "--fields", "all")
        check(rc == 0 and nseg > 900 and after == 2 and sorted(got.splitlines()) == sorted(before.splitlines()) and
              len(rows_of(got)) == 8 * 258, f"compact merges {nseg} small segments into {after}; every record "
              f"reads back the same ({err.strip()})")
        rc, _, err = run("compact", comp)
        check(rc == 0 and "0 merged" in err, "a second compaction has nothing to do")
        bad_reads, overlapped = [], 0
        for attempt in range(6):
            racy = os.path.join(tmp, f"racy{attempt}")
            for _ in range(8):
                run("extract", "-q", "--store", racy, "--segment-rows", "2", "--threads", "1", SAMPLE)
            p = subprocess.Popen([binary(), "compact", "-q", racy], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if attempt % 2:  # killed at a random moment, then finished by the next compaction
                time.sleep(random.uniform(0.0, 0.05))
                p.send_signal(signal.SIGKILL)
            while p.poll() is None:
                rc, out, err = run("query", "-q", racy, "--fields", "first")
                overlapped += 1
                if rc != 0 or len(rows_of(out)) != 8 * 258:
                    bad_reads.append(len(rows_of(out)))
            p.wait()
            rc, out, _ = run("query", "-q", racy, "--fields", "first")
            if rc != 0 or len(rows_of(out)) != 8 * 258:
                bad_reads.append(("after", len(rows_of(out))))
            rc, _, _ = run("compact", "-q", racy)
            rc2, out, _ = run("query", "-q", racy, "--fields", "first")
            segs = [f for r, _, fs in os.walk(racy) for f in fs if f.endswith(".fss") and f[0] != "."]
            if rc != 0 or rc2 != 0 or len(rows_of(out)) != 8 * 258 or len(segs) != 2:
                bad_reads.append(("finished", len(rows_of(out)), len(segs)))
        print(f"  {overlapped} queries ran during compactions")
        check(not bad_reads, f"queries during compaction (some killed) always see every record once: {bad_reads}")
    return finish("test_store")


if __name__ == "__main__":
    sys.exit(main())
