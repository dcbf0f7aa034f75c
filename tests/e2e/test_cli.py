"""The extract command as a user meets it: help, usage errors, damaged and missing inputs, directories, the
summary and stats, output formats and presets, the filter language from the command line."""
import csv
import io
import json
import os
import shutil
import sys
import tempfile

from e2e_common import SAMPLE, check, finish, run

CASSANDRA = ("srcaddr,dstaddr,srcp,dstp,proto,size,avgps,minps,maxps,packets,paysize,avgpays,minpays,maxpays,stddps,"
             "stddpays,duration,nopayloadcnt")


def main():
    rc, out, _ = run("--help")
    check(rc == 0 and "extract" in out, "flowsift --help lists the commands")
    rc, out, _ = run("extract", "--help")
    opts = ["--output", "--format", "--fields", "--preset", "--filter", "--idle-timeout", "--active-timeout",
            "--tcp-teardown", "--close-grace", "--size", "--stddev", "--decap", "--no-vlan-key", "--fragments",
            "--max-flows", "--files-from", "--keep-going", "--stats", "--quiet", "--progress", "--help"]
    check(rc == 0 and all(o in out for o in opts), "extract --help documents every option")
    check("[120s]" in out and "[1800s]" in out and "[csv]" in out, "extract --help shows defaults")
    rc, out, _ = run("fields")
    check(rc == 0 and "stddpays" in out and "src_avgiat" in out, "flowsift fields lists the fields")
    rc, _, err = run("nosuch")
    check(rc == 2 and "not a command" in err, "an unknown command exits 2")
    rc, _, err = run("extract", "--bogus", SAMPLE)
    check(rc == 2, "an unknown option exits 2")
    rc, _, err = run("extract")
    check(rc == 2 and "no input" in err, "no input exits 2 with a message")
    rc, _, err = run("extract", "--idle-timeout", "soon", SAMPLE)
    check(rc == 2 and "'soon' is not a duration" in err, "a bad duration is named")
    rc, _, err = run("extract", "--fields", "srcaddr,nosuch", SAMPLE)
    check(rc == 2 and "nosuch" in err, "an unknown field is named")
    rc, _, err = run("extract", "-f", "proto tcp and dstp", SAMPLE)
    check(rc == 2 and "column 19" in err and "^" in err, "a filter syntax error shows its column and a caret")

    rc, out, err = run("extract", "-o", "-", SAMPLE)
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and len(rows) == 258, f"the sample gives 258 flows (got {len(rows)})")
    check("flowsift extract: 1 file, 4,709 packets" in err and "flows     258 written" in err,
          "the summary counts packets and flows")
    check("skipped   10 (not IP 10)" in err, "the summary gives skipped packets by reason")
    check(sum(int(r["packets"]) for r in rows) == 4699, "every decoded packet is in exactly one flow")

    rc, out, _ = run("extract", "-o", "-", "-q", "--preset", "cassandra", SAMPLE)
    check(out.splitlines()[0] == CASSANDRA, "the cassandra preset has the published columns")
    rc, out, _ = run("extract", "-o", "-", "-q", "--format", "json", SAMPLE)
    objs = [json.loads(line) for line in out.splitlines()]
    check(len(objs) == 258 and all("srcaddr" in o for o in objs), "JSON lines parse, one object per flow")
    rc, out, _ = run("extract", "-o", "-", "-q", "-f", "paysize == 0", "--fields", "paysize,packets,nopay", SAMPLE)
    rows = list(csv.DictReader(io.StringIO(out)))
    check(len(rows) > 0 and all(r["paysize"] == "0" and r["packets"] == r["nopay"] for r in rows),
          f"--filter 'paysize == 0' keeps only flows without payload ({len(rows)})")

    with tempfile.TemporaryDirectory() as tmp:
        data = open(SAMPLE, "rb").read()
        cut = os.path.join(tmp, "cut.pcap")
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        stats = os.path.join(tmp, "s.json")
        rc, out, err = run("extract", "-o", "-", "--stats", stats, cut)
        rows = list(csv.DictReader(io.StringIO(out)))
        check(rc == 1 and f"'{cut}'" in err and "byte offset" in err and "truncated record" in err,
              "a truncated file: exit 1, error names the file and byte offset")
        check(len(rows) > 0, f"a truncated file: the flows read so far are written ({len(rows)})")
        s = json.load(open(stats))
        check(s["files_damaged"] == 1 and s["packets"] > 0, "a truncated file is counted as damaged in --stats")
        good = os.path.join(tmp, "good.pcap")
        shutil.copy(SAMPLE, good)
        rc, out, err = run("extract", "-o", "-", "--keep-going", cut, good)
        check(rc == 0 and "damaged   1 file" in err, "--keep-going reads on past a damaged file and says so")
        rc, _, err = run("extract", os.path.join(tmp, "missing.pcap"))
        check(rc == 1 and "cannot open" in err and "No such file or directory" in err, "a missing file: exit 1")
        d = os.path.join(tmp, "dir")
        os.makedirs(os.path.join(d, "sub"))
        shutil.copy(SAMPLE, os.path.join(d, "sub", "a.pcap"))
        with open(os.path.join(d, "README"), "w") as f:
            f.write("notes\n")
        rc, out, err = run("extract", "-o", "-", d)
        check(rc == 0 and "skipped 1 file" in err and len(out.splitlines()) == 259,
              "a directory is read recursively; a non-capture in it is skipped with a warning")
        lst = os.path.join(tmp, "list")
        with open(lst, "w") as f:
            f.write(good + "\n")
        rc, out, _ = run("extract", "-o", "-", "-q", "--files-from", lst)
        check(rc == 0 and len(out.splitlines()) == 259, "--files-from reads paths from a file")
        o = os.path.join(tmp, "out.csv")
        rc, out, _ = run("extract", "-q", "-o", o, SAMPLE)
        check(rc == 0 and out == "" and len(open(o).read().splitlines()) == 259, "-o writes to a file")
        rc, _, err = run("extract", "-o", os.path.join(tmp, "no", "such", "dir.csv"), SAMPLE)
        check(rc == 1 and "cannot open" in err, "an unwritable output: exit 1")
        rc, out, _ = run("extract", "-o", "-", "-q", "--max-flows", "10", "--stats", stats, SAMPLE)
        s = json.load(open(stats))
        check(s["ended"]["evict"] > 0 and s["live_peak"] <= 10, "--max-flows caps live flows and counts evictions")
        check(len(out.splitlines()) - 1 == s["flows_written"], "stats agree with the records written")
    return finish("test_cli")


if __name__ == "__main__":
    sys.exit(main())
