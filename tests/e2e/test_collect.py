"""flowsift collect end to end.

- Every captured export in ../shared/data/exports (NetFlow v5, v9, IPFIX; pcap and RFC 5655 files) decodes to
  the flow records tshark decodes from it (oracle/tshark: addresses, ports, protocol, packets, bytes).
- A real exporter: softflowd replays the sample capture to flowsift collect over UDP (NetFlow v5, v9 and IPFIX),
  and to nfcapd; nfdump's records and flowsift's are the same. IPv6 listeners receive too.
- Templates learnt from one file decode the data of the next; records keep exporter, domain and sampling.
- Damaged and templateless datagrams are counted, not fatal.
"""
import collections
import csv
import glob
import gzip
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from e2e_common import SAMPLE, binary, check, data_dir, finish, run

FIELDS = "srcaddr,dstaddr,srcp,dstp,proto,packets,size"
PROTO = {"TCP": "6", "UDP": "17", "ICMP": "1", "ICMP6": "58", "IPv6": "41", "GRE": "47", "ESP": "50", "SCTP": "132"}


def records(out):
    return collections.Counter(tuple(r.values()) for r in csv.DictReader(io.StringIO(out)))


def pick(a, b):
    for v in (a, b):
        if v and v not in ("0.0.0.0", "::"):
            return v
    return a or b


def tshark_flows(path):
    """Flow records of a tshark -T json decode: dicts under 'Flow N' (v9, IPFIX) or 'pdu N' (v5) keys."""
    out = []

    def walk(d, key=""):
        if isinstance(d, dict):
            if (key.startswith("Flow ") or key.startswith("pdu ")) and any(k.startswith("cflow.") for k in d):
                src = pick(d.get("cflow.srcaddr"), d.get("cflow.srcaddrv6"))
                dst = pick(d.get("cflow.dstaddr"), d.get("cflow.dstaddrv6"))
                if src and dst:  # options records (sampling and the like) have no addresses
                    out.append((src, dst, d.get("cflow.srcport", "0"), d.get("cflow.dstport", "0"),
                                d.get("cflow.protocol", "0"), d.get("cflow.packets") or d.get("cflow.packets64") or "0",
                                d.get("cflow.octets") or d.get("cflow.octets64") or "0"))
                return
            for k, v in d.items():
                walk(v, k)
        elif isinstance(d, list):
            for v in d:
                walk(v, key)

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        for line in f:
            walk(json.loads(line).get("cflow", {}))
    return collections.Counter(out)


# Files where tshark stops early and flowsift rightly decodes more: the NetFlow v9 header's record count says 1
# in softflowd's first datagram, which holds two templates, an options template and record, and a data record;
# tshark trusts the count (RFC 3954 calls it the total of records, exporters get it wrong), flowsift reads every
# FlowSet. Graylog's test of the same capture counts 19 IPv4 records (oracle/graylog-netflow).
TSHARK_STOPS_AT_COUNT = {"netflow9/graylog/netflow9.pcap": 3}


def oracle_tshark(data):
    root = os.path.join(data, "oracle", "tshark")
    bad, files, recs, late_total, other_total = [], 0, 0, 0, 0
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if rel.startswith("sflow"):
                continue
            cap = os.path.join(data, "exports", rel.replace(".tshark.jsonl.gz", "").replace(".tshark.jsonl", ""))
            if not os.path.exists(cap):
                continue
            want = tshark_flows(os.path.join(dirpath, name))
            rc, out, err = run("collect", "-o", "-", "--fields", FIELDS, cap)
            got = records(out)
            files += 1
            recs += sum(got.values())
            key = rel.replace(".tshark.jsonl.gz", "").replace(".tshark.jsonl", "")
            # a data set before its template (in the same message or an earlier one) is held and decoded once
            # the template comes; tshark drops it: those records are flowsift's alone
            m = re.search(r"^  all .*?\(([\d,]+) records decoded once it came\)", err, re.M)
            late = int(m.group(1).replace(",", "")) if m else 0
            late_total += late
            # and tshark keys templates by source port too: data sets whose template came from another port
            # of the same exporter (pmacct's test 112) it cannot decode
            m = re.search(r"^  all .*?([\d,]+) records decoded with a template from another port", err, re.M)
            other = int(m.group(1).replace(",", "")) if m else 0
            other_total += other
            extra = late + other + TSHARK_STOPS_AT_COUNT.get(key, 0)
            ok = rc == 0 and not (want - got) and sum((got - want).values()) == extra
            if not ok:
                bad.append(f"{key} (tshark {sum(want.values())}, flowsift {sum(got.values())})")
    check(files >= 50 and recs > 5000 and late_total > 0 and other_total > 0 and not bad,
          f"{files} captured exports decode to the records tshark decodes ({recs} records, of which {late_total} "
          f"from data sets held until their template came and {other_total} with a template from another port of "
          f"the exporter, which tshark drops; differ: {bad[:5]})")


def oracle_sflow(data):
    """sFlow v5: every flow sample is one record, its sampled packet decoded as extract decodes packets (tshark
    decodes the same header: addresses, protocol; a VXLAN packet is counted as its inner flow by flowsift); the
    sampling rate is kept; counter samples are counted (tcpdump -v counts the same)."""
    root = os.path.join(data, "oracle", "tshark", "sflow")
    if not os.path.isdir(root):
        print("skip  no sFlow oracles")
        return
    bad, samples = [], 0
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            rel = os.path.relpath(os.path.join(dirpath, name), os.path.join(data, "oracle", "tshark"))
            cap = os.path.join(data, "exports", rel.replace(".tshark.jsonl", ""))
            want, outer = collections.Counter(), collections.Counter()
            with open(os.path.join(dirpath, name)) as f:
                for line in f:
                    for k, v in json.loads(line).get("sflow", {}).items():
                        if not isinstance(v, dict) or "flow sample" not in k.lower():
                            continue
                        rate = v.get("sflow.flow_sample.sampling_rate", "0")
                        rate = "0" if rate == "1" else rate  # flowsift: 0 = not sampled
                        for rv in v.values():
                            t = rv.get("sflow_245.header_tree") if isinstance(rv, dict) else None
                            ip = t and (t.get("ip") or t.get("ipv6"))
                            if ip:
                                key = (ip.get("ip.src") or ip.get("ipv6.src"), ip.get("ip.dst") or ip.get("ipv6.dst"),
                                       ip.get("ip.proto") or ip.get("ipv6.nxt"), rate)
                                vxlan = "vxlan" in t or t.get("udp", {}).get("udp.dstport") == "4789"
                                (outer if vxlan else want)[key] += 1
            rc, out, _ = run("collect", "-q", "-o", "-", "--fields", "srcaddr,dstaddr,proto,sampling,tunnel,source", cap)
            rows = [r for r in csv.DictReader(io.StringIO(out)) if r["source"] == "sflow"]
            got = collections.Counter((r["srcaddr"], r["dstaddr"], r["proto"], r["sampling"]) for r in rows
                                      if not r["tunnel"])
            tunnelled = sum(1 for r in rows if r["tunnel"] == "vxlan")
            samples += len(rows)
            if rc != 0 or got != want or tunnelled != sum(outer.values()):
                bad.append(rel)
    _, _, err = run("collect", "-o", "/dev/null", os.path.join(data, "exports", "sflow", "tcpdump",
                                                               "sflow_multiple_counter_30_pdus.pcap"))
    tcpdump = os.path.join(data, "oracle", "tcpdump", "sflow_multiple_counter_30_pdus.out")
    with open(tcpdump) as f:
        want_counters = len(re.findall(r"counter sample \(", f.read()))
    m = re.search(r"^  all .*?([\d,]+) counter samples", err, re.M)
    # templates saved while sFlow agents were among the exporters load again
    with tempfile.TemporaryDirectory() as tmp:
        tpl = os.path.join(tmp, "templates")
        sf = os.path.join(data, "exports", "sflow", "tcpdump", "sflow_multiple_counter_30_pdus.pcap")
        ipfix = os.path.join(data, "exports", "ipfix", "pktvisor", "ipfix.pcap")
        rc1, _, _ = run("collect", "-q", "-o", "/dev/null", "--templates", tpl, sf, ipfix)
        rc2, _, err2 = run("collect", "-o", "/dev/null", "--templates", tpl, sf)
        if rc1 or rc2 or "restored" not in err2:
            bad.append("templates saved with an sFlow agent do not load")
    check(not bad and samples >= 25 and m and int(m.group(1).replace(",", "")) == want_counters,
          f"sFlow v5: {samples} flow samples decode to the packets tshark decodes from them; counter samples counted "
          f"as tcpdump counts them ({want_counters}) (differ: {bad})")


def oracle_sflow_counters(data, tmp):
    """sFlow counter samples are records of their own (the store's table 'counters', and --counters FILE):
    every one of the 144 counter samples tcpdump -vvv decodes, with its source and all its generic interface
    counters as tcpdump prints them; the table reads back through query --table counters."""
    cap = os.path.join(data, "exports", "sflow", "tcpdump", "sflow_multiple_counter_30_pdus.pcap")
    with open(os.path.join(data, "oracle", "tcpdump", "sflow_multiple_counter_30_pdus.out")) as f:
        text = f.read()
    want = collections.Counter()
    for block in re.split(r"\n\t(?=(?:expanded )?counter sample)", text)[1:]:
        head = re.match(r"(?:expanded )?counter sample \(\d\), length \d+, seqnum (\d+), type (\d+), idx (\d+)", block)
        gen = re.search(r"Generic counter \(1\).*?ifindex (\d+), iftype (\d+), ifspeed (\d+), ifdirection (\d+).*?"
                        r"ifstatus (\d+).*?In octets (\d+), unicast pkts (\d+), multicast pkts (\d+), broadcast pkts "
                        r"(\d+), discards (\d+)\s+In errors (\d+), unknown protos (\d+)\s+Out octets (\d+), unicast pkts "
                        r"(\d+), multicast pkts (\d+), broadcast pkts (\d+), discards (\d+)\s+Out errors (\d+), promisc "
                        r"mode (\d+)", block, re.S)  # a block is one sample: split where the next begins
        want[head.groups() + (gen.groups() if gen else ("0",) * 19)] += 1
    cols = ["seq", "source_type", "source_index", "if_index", "if_type", "if_speed", "if_direction", "if_status",
            "in_octets", "in_ucast", "in_mcast", "in_bcast", "in_discards", "in_errors", "in_unknown", "out_octets",
            "out_ucast", "out_mcast", "out_bcast", "out_discards", "out_errors", "promiscuous"]
    store = os.path.join(tmp, "counters.store")
    path = os.path.join(tmp, "counters.csv")
    rc, _, err = run("collect", "--store", store, "--counters", path, cap)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    got = collections.Counter(tuple(r[c] for c in cols) for r in rows)
    rc2, q, _ = run("query", store, "--table", "counters", "-F", "csv")
    back = collections.Counter(tuple(r[c] for c in cols) for r in csv.DictReader(io.StringIO(q)))
    rc3, j, _ = run("collect", "-q", "-o", "/dev/null", "-F", "json", "--counters", "-", cap)
    agents = {json.loads(line)["exporter"] for line in j.splitlines()}
    check(rc == rc2 == rc3 == 0 and sum(want.values()) == 144 and got == want and back == want and
          sum(1 for r in rows if r["has_if"] == "1") == 142 and "15.184.4.165" in agents and
          "144 interface counter records" in err,
          f"sFlow counter samples are records of their own: {sum(got.values())} with their generic interface counters "
          f"as tcpdump -vvv decodes them ({sum(want.values())}), in the store's table 'counters' (read back the same) "
          f"and in --counters CSV and JSON; {len(agents)} agents")


def oracle_logstash(data):
    """Logstash's netflow codec test suite: 51 contexts of raw datagrams from real exporters (Cisco ASA, ASR,
    NBAR, WLC, Juniper, Mikrotik, H3C, Fortigate, Netscaler, YAF, Barracuda, VMware, OpenBSD pflow, ...), fed
    in order to one decoder: every flow event Logstash expects is among flowsift's records (addresses, protocol,
    bytes, packets), and the datagrams Logstash calls invalid decode without error."""
    path = os.path.join(data, "oracle", "logstash-codec-netflow", "expected_events.json")
    if not os.path.exists(path):
        print("skip  no Logstash oracle")
        return

    def find(name):
        for v in ("netflow5", "netflow9", "ipfix"):
            p = os.path.join(data, "exports", v, "logstash-codec-netflow", name)
            if os.path.exists(p):
                return p
        return None

    def event_key(n):
        src = n.get("ipv4_src_addr") or n.get("ipv6_src_addr") or n.get("sourceIPv4Address") or n.get("sourceIPv6Address")
        dst = (n.get("ipv4_dst_addr") or n.get("ipv6_dst_addr") or n.get("destinationIPv4Address") or
               n.get("destinationIPv6Address"))
        if src is None or dst is None:
            return None  # an options record (logstash emits those as events too)
        vals = (n.get("protocol", n.get("protocolIdentifier")), n.get("in_bytes", n.get("octetDeltaCount")),
                n.get("in_pkts", n.get("packetDeltaCount")))
        return (src, dst) + tuple(None if v is None else str(v) for v in vals)

    with open(path) as f:
        contexts = json.load(f)["contexts"]
    bad, events, n = [], 0, 0
    for c in contexts:
        files = [find(x) for x in c["dat_files"]]
        if None in files:
            bad.append(c["context"] + " (file missing)")
            continue
        rc, out, _ = run("collect", "-q", "-o", "-", "--fields", "srcaddr,dstaddr,proto,size,packets", *files)
        got = [tuple(r.values()) for r in csv.DictReader(io.StringIO(out))]
        want = [k for k in (event_key(e.get("netflow", {})) for e in c.get("json_events", [])) if k]
        events += len(want)
        n += 1
        pool = list(got)
        for k in want:  # each expected event matches a record of its own (fields Logstash did not give: any)
            hit = next((g for g in pool if all(a is None or a == b for a, b in zip(k, g))), None)
            if hit is None:
                bad.append(c["context"])
                break
            pool.remove(hit)
        if rc != 0:
            bad.append(c["context"] + f" (exit {rc})")
    rc, out, _ = run("collect", "-q", "-o", "-", "--fields", "srcaddr,dstaddr,first",
                     os.path.join(data, "exports", "ipfix", "logstash-codec-netflow", "ipfix.dat"))
    dns = [r["first"] for r in csv.DictReader(io.StringIO(out)) if r["srcaddr"] == "192.168.253.2"]
    check(n >= 50 and events >= 30 and not bad and dns[:1] == ["1431516014.610000000"],
          f"Logstash's netflow codec tests: {n} contexts, {events} expected flow events found among flowsift's records; "
          f"IPFIX uptimes placed by the options' systemInitTimeMilliseconds (differ: {bad})")


def oracle_pmacct(data):
    """pmacct's own regression tests: IPFIX and NetFlow v9 exports of Cisco and Huawei routers (options, sampling,
    several sources, templates and data from different source ports) with the JSON nfacctd must produce for
    them. flowsift's records, summed over the keys both give (addresses, ports, protocol, interfaces), carry
    nfacctd's packets and bytes; where nfacctd renormalizes by the sampling rate, flowsift's estimates do."""
    root = os.path.join(data, "oracle", "pmacct")
    if not os.path.isdir(root):
        print("skip  no pmacct oracle")
        return
    names = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "vrrp": 112, "gre": 47, "ospf": 89, "pim": 103}
    bad, tests, flows = [], 0, 0
    for t in sorted(os.listdir(root)):
        out_json = os.path.join(root, t, "output-flow-00.json")
        pcaps = sorted(p for v in ("ipfix", "netflow9") for p in glob.glob(os.path.join(data, "exports", v, "pmacct", t, "traffic-*.pcap")))
        if not pcaps or not os.path.exists(out_json):
            continue
        with open(os.path.join(root, t, "nfacctd-00.conf")) as f:
            renorm = any(l.split(":", 1)[1].strip() == "true" for l in f if l.startswith("nfacctd_renormalize"))
        want = collections.Counter()
        with open(out_json) as f:
            for line in f:
                r = json.loads(line)
                proto = r.get("ip_proto")
                proto = names.get(proto, proto) if isinstance(proto, str) and not proto.isdigit() else int(proto)
                k = (r["ip_src"], r["ip_dst"], r.get("port_src", 0), r.get("port_dst", 0), proto, r.get("iface_in", 0),
                     r.get("iface_out", 0))
                want[k + ("packets",)] += r["packets"]
                want[k + ("bytes",)] += r["bytes"]
        pk, by = ("est_packets", "est_bytes") if renorm else ("packets", "size")
        rc, out, _ = run("collect", "-q", "-o", "-", "--fields", f"srcaddr,dstaddr,srcp,dstp,proto,in_if,out_if,{pk},{by}",
                         *pcaps)
        got = collections.Counter()
        for r in csv.DictReader(io.StringIO(out)):
            k = (r["srcaddr"], r["dstaddr"], int(r["srcp"]), int(r["dstp"]), int(r["proto"]), int(r["in_if"]),
                 int(r["out_if"]))
            got[k + ("packets",)] += int(r[pk])
            got[k + ("bytes",)] += int(r[by])
        tests += 1
        flows += len(want) // 2
        if rc != 0 or got != want:
            diff = [k for k in set(got) | set(want) if got[k] != want[k]]
            bad.append(f"{t}: {len(diff)} differ, e.g. {sorted(diff, key=str)[:2]}")
    check(tests >= 10 and not bad, f"pmacct's tests: {tests} captures of IPFIX and NetFlow v9 exports, {flows} "
          f"aggregates of nfacctd's expected output, all with flowsift's packets and bytes (sampled ones "
          f"renormalized) {bad[:3]}")


def oracle_graylog_pktvisor(data):
    """Counts and records transcribed from the tests of Graylog's NetFlow codec (v5 and v9 from netgraph,
    nProbe, softflowd, pmacctd; Graylog counts options records with the v9 records, and only the IPv4 ones of
    softflowd's capture) and aggregates from pktvisor's flow handler (per device and interface)."""
    path = os.path.join(data, "oracle", "graylog-netflow", "expected_counts.json")
    pkt = os.path.join(data, "oracle", "pktvisor", "expected_aggregates.json")
    if not os.path.exists(path) or not os.path.exists(pkt):
        print("skip  no Graylog or pktvisor oracle")
        return
    fields = "srcaddr,dstaddr,srcp,dstp,proto,packets,size,first,last,ipver,source,exporter,in_if,out_if"
    bad, n = [], 0
    with open(path) as f:
        cases = json.load(f)["cases"]
    for c in cases:
        files = [os.path.join(data, x) for x in (c.get("dat") or [c["pcap"]])]
        rc, out, err = run("collect", "-o", "-", "--fields", fields, *files)
        rows = list(csv.DictReader(io.StringIO(out)))
        m = re.search(r"^  all .*?([\d,]+) options records", err, re.M)
        options = int(m.group(1).replace(",", "")) if m else 0
        name = os.path.basename(files[0])
        n += 1
        if "messages" in c and len(rows) != c["messages"]:
            bad.append(f"{name}: {len(rows)} records, Graylog {c['messages']}")
        if "all_nf_version" in c and any(r["source"] != "netflow5" for r in rows):
            bad.append(f"{name}: not all NetFlow v5")
        if "records" in c:  # the records of the one template the case names, or all with the options records
            v4 = [r for r in rows if r["ipver"] == "4"]
            if "template" in c:
                options = 0
            if len(v4) + options != c["records"]:
                bad.append(f"{name}: {len(v4)} IPv4 records and {options} options records, Graylog {c['records']}")
        ex = c.get("example_record")
        if ex and not any(r["srcaddr"] == ex["ipv4_src_addr"] and r["dstaddr"] == ex["ipv4_dst_addr"] and
                          ("in_bytes" not in ex or int(r["size"]) == ex["in_bytes"]) and
                          ("flow_start_msec" not in ex or r["first"] == f"{ex['flow_start_msec'] / 1000:.3f}000000")
                          for r in rows):
            bad.append(f"{name}: Graylog's example record missing")
        for k in ("first", "after_2", "after_3"):
            w = c.get(k)
            if w and not any((r["srcaddr"], r["srcp"], r["dstaddr"], r["dstp"], r["proto"], r["packets"], r["size"]) ==
                             (w["src"], str(w["sport"]), w["dst"], str(w["dport"]), str(w["proto"]), str(w["pkts"]),
                              str(w["bytes"])) for r in rows):
                bad.append(f"{name}: Graylog's record {k} missing")
    with open(pkt) as f:
        cases = json.load(f)["cases"]
    for c in cases:
        rc, out, _ = run("collect", "-q", "-o", "-", "--fields", fields, os.path.join(data, c["pcap"]))
        rows = list(csv.DictReader(io.StringIO(out)))
        n += 1
        by_src, pk_src = collections.Counter(), collections.Counter()
        for r in rows:
            by_src[r["srcaddr"]] += int(r["size"])
            pk_src[r["srcaddr"]] += int(r["packets"])
        got = {"records_flows": len(rows), "device": {r["exporter"] for r in rows},
               "src": len({r["srcaddr"] for r in rows}), "dst": len({r["dstaddr"] for r in rows}),
               "bytes": sum(int(r["size"]) for r in rows), "packets": sum(int(r["packets"]) for r in rows),
               "top_bytes": max(by_src.values()), "top_packets": max(pk_src.values()),
               "dports": len({r["dstp"] for r in rows}), "sports": len({r["srcp"] for r in rows})}
        want = {"records_flows": c["records_flows"], "device": {c["device"]}, "src": c.get("src_ips_in"),
                "dst": c.get("dst_ips_out")}
        if "top_in_dscp_bytes[0]" in c:  # every record is CS0 and Not-ECT: the estimates are the totals
            want.update(bytes=c["top_in_dscp_bytes[0]"]["estimate"], packets=c["top_in_ecn_packets[0]"]["estimate"],
                        top_bytes=c["top_in_src_ips_bytes[0]"], top_packets=c["top_in_src_ips_packets[0]"])
        else:
            want.update(top_bytes=c["top_out_src_ips_bytes[0]"]["estimate"], top_packets=c["top_out_src_ips_packets[0]"],
                        dports=c["dst_ports_out"], sports=c["src_ports_in"])
        if c["interface"] != "0" and {r["in_if"] for r in rows} != {c["interface"]}:
            bad.append(f"{c['pcap']}: interfaces {sorted({r['in_if'] for r in rows})}")
        diff = {k: (got[k], v) for k, v in want.items() if got[k] != v}
        if rc != 0 or diff:
            bad.append(f"{c['pcap']}: {diff}")
    check(n >= 13 and not bad, f"Graylog's codec tests ({n - 2} captures: record counts, example records) and "
          f"pktvisor's flow aggregates (2 captures: records, devices, distinct addresses and ports, top talkers) "
          f"agree with flowsift {bad[:4]}")


def split_templates(data):
    """akvorado's captures hold a template in one file and its data in the next: one run takes both."""
    d = os.path.join(data, "exports", "netflow9", "akvorado")
    rc, alone, _ = run("collect", "-q", "-o", "-", "--fields", FIELDS, os.path.join(d, "data.pcap"))
    rc2, both, err = run("collect", "-o", "-", "--fields", FIELDS + ",exporter,domain,source",
                         os.path.join(d, "template.pcap"), os.path.join(d, "data.pcap"))
    rows = list(csv.DictReader(io.StringIO(both)))
    check(rc == 0 and rc2 == 0 and sum(records(alone).values()) == 0 and len(rows) > 0 and "without their template" in
          run("collect", "-o", "/dev/null", os.path.join(d, "data.pcap"))[2] and
          all(r["source"] == "netflow9" and r["exporter"] and r["domain"] for r in rows),
          f"a template from one file decodes the next file's data ({len(rows)} records), with exporter and domain; "
          "alone, the data is counted as without template")
    # templates survive a restart: kept in the store (or --templates FILE)
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store")
        run("collect", "-q", "--store", store, os.path.join(d, "template.pcap"))
        rc, _, err = run("collect", "--store", store, os.path.join(d, "data.pcap"))
        rc2, out, _ = run("query", "-q", store, "--fields", FIELDS + ",source")
        check(rc == 0 and "1 template restored" in err and len(records(out)) == sum(records(both).values())
              and "netflow9" in out, "templates saved in the store decode the data a restarted collector receives")
        # the store keeps every field of collected records: query gives what collect prints (times aside)
        rc, direct, _ = run("collect", "-q", "-o", "-", "--fields", "all", os.path.join(data, "exports", "ipfix", "pktvisor",
                                                                                   "ipfix.pcap"))
        st2 = os.path.join(tmp, "st2")
        run("collect", "-q", "--store", st2, os.path.join(data, "exports", "ipfix", "pktvisor", "ipfix.pcap"))
        rc2, back, _ = run("query", "-q", st2, "--fields", "all")
        norm = lambda t: sorted(re.sub(r"(\d+\.\d{6})000(?=,)", r"\1", l) for l in t.splitlines())  # noqa: E731
        check(rc == 0 and rc2 == 0 and len(direct.splitlines()) > 10 and norm(direct) == norm(back),
              "records collected into the store read back with every field as collect prints them")
        rc, out, _ = run("stats", store)
        lines = out.splitlines()
        check(rc == 0 and "collect-stats.csv" in lines[0] and lines[2].split()[:2] == ["exporter", "port"] and
              any(l.split()[0] == "192.0.2.100" for l in lines[3:]),
              "flowsift stats shows a collector's counters per exporter, kept in the store")
        tfile = os.path.join(tmp, "templates")
        with open(tfile, "w") as f:
            f.write("flowsift-templates 1\nT 9 4 zz\n")
        rc, _, err = run("collect", "-o", "/dev/null", "--templates", tfile, os.path.join(d, "data.pcap"))
        check(rc == 1 and "line 2" in err and tfile in err, "a damaged templates file is an error naming its line")
    rc, out, _ = run("collect", "-q", "-o", "-", "--fields", "srcaddr,sampling,minps,paysize,packets,size,est_packets,est_bytes",
                     os.path.join(d, "samplingrate-template.pcap"), os.path.join(d, "samplingrate-data.pcap"))
    rows = list(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and rows and all(int(r["sampling"]) > 1 for r in rows) and
          all(r["minps"] == "" and r["paysize"] == "" and int(r["packets"]) > 0 for r in rows) and
          all(int(r["est_packets"]) == int(r["packets"]) * int(r["sampling"]) and
              int(r["est_bytes"]) == int(r["size"]) * int(r["sampling"]) for r in rows),
          "the sampling interval from the options records is kept on each record, with the counters scaled by it "
          "(est_packets, est_bytes); what an export does not carry (sizes, payloads) prints empty")


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nfdump_records(nfdir):
    want = collections.Counter()
    for name in os.listdir(nfdir):
        if not name.startswith("nfcapd."):
            continue
        dump = subprocess.run(["nfdump", "-r", os.path.join(nfdir, name), "-q", "-N", "-6", "-o",
                               "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt"], capture_output=True, text=True).stdout
        for line in dump.splitlines():
            v = [x.strip() for x in line.split("|")]
            if len(v) == 7:
                v[4] = PROTO.get(v[4], v[4])
                want[tuple(v)] += 1
    return want


def collect_while(tmp, name, fields, send):
    """Runs flowsift collect on a free UDP port while send(port) exports to it; returns the CSV rows and stderr."""
    port = free_port()
    out = os.path.join(tmp, f"{name}.csv")
    col = subprocess.Popen([binary(), "collect", "-l", f"127.0.0.1:{port}", "-o", out, "--fields", fields],
                           stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    send(port)
    time.sleep(1)
    col.terminate()
    _, err = col.communicate(timeout=30)
    with open(out) as f:
        return list(csv.DictReader(f)), err


def nfcapd_while(tmp, name, send):
    """Runs nfcapd on a free UDP port while send(port) exports to it; returns nfdump's records."""
    nfdir = os.path.join(tmp, name)
    os.makedirs(nfdir)
    port = free_port()
    nf = subprocess.Popen(["nfcapd", "-l", nfdir, "-p", str(port), "-b", "127.0.0.1", "-w", nfdir],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    send(port)
    time.sleep(1)
    nf.terminate()
    nf.wait(timeout=30)
    return nfdump_records(nfdir)


def with_icmp(rows):
    """Records as nfdump shows them: an ICMP flow's type and code in place of its destination port ("8.0")."""
    got = collections.Counter()
    for r in rows:
        dp = f"{r['icmp_type']}.{r['icmp_code']}" if r["proto"] in ("1", "58") else r["dstp"]
        got[(r["srcaddr"], r["dstaddr"], r["srcp"], dp, r["proto"], r["packets"], r["size"])] += 1
    return got


def softflowd_vs_nfdump(tmp):
    if not shutil.which("softflowd") or not shutil.which("nfcapd"):
        print("skip  softflowd or nfcapd not installed (apt-get install softflowd nfdump)")
        return
    for version in ("5", "9", "10"):
        extra = ["-A", "milli"] if version == "10" else []

        def softflowd(port):
            subprocess.run(["softflowd", "-r", SAMPLE, "-n", f"127.0.0.1:{port}", "-v", version, "-c", "none"] + extra,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

        rows, err = collect_while(tmp, f"collect-{version}", FIELDS + ",icmp_type,icmp_code", softflowd)
        got = with_icmp(rows)
        want = nfcapd_while(tmp, f"nf-{version}", softflowd)
        check(sum(want.values()) > 400 and got == want and "terminated" not in err,
              f"softflowd -v {version} over UDP: flowsift collect's {sum(got.values())} records are nfdump's "
              f"{sum(want.values())}")


def export_roundtrip(tmp):
    """extract --export: nfcapd receives flowsift's IPFIX and NetFlow v9, and gives back flowsift's flows (one
    record per direction with packets); an IPFIX file reads back through collect."""
    rc, out, _ = run("extract", "-q", "-o", "-", "--fields",
                     "srcaddr,dstaddr,srcp,dstp,proto,src_packets,src_size,dst_packets,dst_size,icmp_type,icmp_code", SAMPLE)
    expect = collections.Counter()
    for r in csv.DictReader(io.StringIO(out)):
        icmp = r["proto"] in ("1", "58")
        tc = f"{r['icmp_type']}.{r['icmp_code']}"
        if int(r["src_packets"]):
            expect[(r["srcaddr"], r["dstaddr"], r["srcp"], tc if icmp else r["dstp"], r["proto"], r["src_packets"],
                    r["src_size"])] += 1
        if int(r["dst_packets"]):
            expect[(r["dstaddr"], r["srcaddr"], r["dstp"], tc if icmp else r["srcp"], r["proto"], r["dst_packets"],
                    r["dst_size"])] += 1
    if shutil.which("nfcapd"):
        for version in ("10", "9"):
            res = {}

            def extract(port):
                res["rc"], _, res["err"] = run("extract", "-o", "/dev/null", "--export", f"127.0.0.1:{port}",
                                               "--export-version", version, SAMPLE)

            got = nfcapd_while(tmp, f"nfx-{version}", extract)
            rc, err = res["rc"], res["err"]
            check(rc == 0 and sum(expect.values()) > 400 and got == expect and "export" in err,
                  f"nfcapd takes flowsift's {'IPFIX' if version == '10' else 'NetFlow v9'} export: nfdump's "
                  f"{sum(got.values())} records are flowsift's flows, one per direction ({sum(expect.values())})")
    else:
        print("skip  nfcapd not installed (apt-get install nfdump)")
    path = os.path.join(tmp, "flows.ipfix")
    rc, _, _ = run("extract", "-q", "-o", "/dev/null", "--export-file", path, SAMPLE)
    rc2, out, _ = run("collect", "-q", "-o", "-", "--fields", FIELDS + ",icmp_type,icmp_code", path)
    got = with_icmp(csv.DictReader(io.StringIO(out)))
    check(rc == 0 and rc2 == 0 and got == expect, f"an IPFIX file from extract --export-file reads back through collect "
          f"({sum(got.values())} records)")


def tcp_sessions(tmp):
    """IPFIX over TCP: messages framed by their length across reads; templates last as long as the session."""
    path = os.path.join(tmp, "tcp.ipfix")
    run("extract", "-q", "-o", "/dev/null", "--export-file", path, SAMPLE)
    data = open(path, "rb").read()
    _, want, _ = run("collect", "-q", "-o", "-", "--fields", FIELDS, path)
    tlen = 16 + ((data[18] << 8) | data[19])  # the message header, then the template set: its length
    port = free_port(socket.AF_INET, "127.0.0.1")
    out = os.path.join(tmp, "tcp.csv")
    col = subprocess.Popen([binary(), "collect", "--tcp", f"127.0.0.1:{port}", "-o", out, "--fields", FIELDS,
                            "--duration", "4s"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    s = socket.create_connection(("127.0.0.1", port))
    for i in range(0, len(data), 777):  # pieces that cut messages anywhere
        s.sendall(data[i:i + 777])
        time.sleep(0.001)
    s.close()
    time.sleep(0.3)
    # a second session sends the data set alone (the template set cut out): its templates are its own
    body = data[tlen:]
    alone = data[:2] + len(data[:16] + body).to_bytes(2, "big") + data[4:16] + body
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(alone)
    s.close()
    time.sleep(0.3)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.close()
    _, err = col.communicate(timeout=30)
    got = records(open(out).read())
    check(col.returncode == 0 and got == records(want) and "without their template" in err and "not an IPFIX" in err,
          f"IPFIX over TCP: {sum(got.values())} records from a stream cut anywhere; a new session has no templates "
          "of the last; a stream that is not IPFIX is closed with a warning")


def direction_totals(rows):
    """Packets and bytes per (source, destination, ports, protocol) in the direction they were sent."""
    pk, by = collections.Counter(), collections.Counter()
    for r in rows:
        k1 = (r["srcaddr"], r["dstaddr"], r["srcp"], r["dstp"], r["proto"])
        k2 = (r["dstaddr"], r["srcaddr"], r["dstp"], r["srcp"], r["proto"])
        pk[k1] += int(r["src_packets"])
        pk[k2] += int(r["dst_packets"])
        by[k1] += int(r["src_size"])
        by[k2] += int(r["dst_size"])
    return +pk, +by


NFPROBE = {"nfprobe_receiver": "127.0.0.1:PORT", "nfprobe_version": "10"}


def pmacctd_replay(tmp, plugin, port, extra):
    """pmacctd reads the sample capture and exports it through `plugin` (nfprobe, sfprobe) to 127.0.0.1:port."""
    conf = os.path.join(tmp, f"pmacctd-{plugin}-{port}.conf")
    with open(conf, "w") as f:
        f.write(f"daemonize: false\npcap_savefile: {SAMPLE}\npcap_savefile_wait: false\nplugins: {plugin}[p]\n"
                + "".join(f"{k}[p]: {v}\n" for k, v in extra.items()).replace("PORT", str(port)))
    subprocess.run(["pmacctd", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def pmacct_exporters(tmp):
    """pmacctd replays the sample capture through its sfprobe plugin (sFlow, every packet sampled) and its
    nfprobe plugin (IPFIX): flowsift's sFlow records add up to extract's flows of the same capture, direction by
    direction; its IPFIX records equal nfdump's decode of the same export."""
    if not shutil.which("pmacctd"):
        print("skip  pmacctd not installed (apt-get install pmacct)")
        return
    fields = "srcaddr,dstaddr,srcp,dstp,proto,src_packets,src_size,dst_packets,dst_size"

    sfprobe = {"sfprobe_receiver": "127.0.0.1:PORT", "sfprobe_agentip": "127.0.0.9", "sampling_rate": "1"}
    rows, _ = collect_while(tmp, "sfprobe", fields + ",source",
                            lambda port: pmacctd_replay(tmp, "sfprobe", port, sfprobe))
    got_p, got_b = direction_totals([r for r in rows if r["source"] == "sflow"])
    _, ex, _ = run("extract", "-q", "-o", "-", "--fields", fields, SAMPLE)
    want_p, want_b = direction_totals(csv.DictReader(io.StringIO(ex)))
    missing = sum((want_p - got_p).values())
    check(sum(got_p.values()) > 4000 and not (got_p - want_p) and not (got_b - want_b) and missing <= 1,
          f"pmacctd's sfprobe samples every packet: flowsift's {sum(got_p.values())} sFlow records add up to extract's "
          f"flows, packets and bytes per direction ({missing} packet of {sum(want_p.values())} not sent by pmacctd)")
    if not shutil.which("nfcapd"):
        return
    rows, _ = collect_while(tmp, "nfprobe", FIELDS + ",icmp_type,icmp_code",
                            lambda port: pmacctd_replay(tmp, "nfprobe", port, NFPROBE))
    got = with_icmp(rows)
    want = nfcapd_while(tmp, "nf-nfprobe", lambda port: pmacctd_replay(tmp, "nfprobe", port, NFPROBE))
    check(sum(want.values()) > 300 and got == want,
          f"pmacctd's nfprobe (IPFIX) to flowsift and to nfcapd: {sum(got.values())} records, nfdump's "
          f"{sum(want.values())}, the same")


def add_tuple(totals, src, dst, sport, dport, proto, packets, size):
    """Adds packets and bytes to totals under a 5-tuple, the ports of ICMP dropped (pmacct puts type and code
    there, flowsift in fields of their own): the key both sides of the pmacct comparisons share."""
    icmp = proto in (1, 58)
    k = (src, dst, 0 if icmp else int(sport), 0 if icmp else int(dport), proto)
    totals[k + ("packets",)] += int(packets)
    totals[k + ("bytes",)] += int(size)


PROTO_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "gre": 47, "esp": 50, "sctp": 132}


def pmacct_collector_while(tmp, daemon, name, send):
    """Runs pmacct's collector `daemon` (nfacctd or sfacctd) with its print plugin on a free UDP port while
    send(port) exports to it; returns packets and bytes per (src, dst, sport, dport, proto), ICMP without ports."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    port, out = free_port(), os.path.join(d, "out.csv")
    conf = os.path.join(d, "collector.conf")
    with open(conf, "w") as f:
        f.write(f"daemonize: false\n{daemon}_ip: 127.0.0.1\n{daemon}_port: {port}\nplugins: print\n"
                f"print_output: csv\nprint_output_file: {out}\nprint_output_file_append: true\n"
                f"print_refresh_time: 1\naggregate: src_host, dst_host, src_port, dst_port, proto\n")
    col = subprocess.Popen([daemon, "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)  # the core and its plugin processes: ended together
    time.sleep(1)
    send(port)
    time.sleep(3)
    os.killpg(col.pid, signal.SIGINT)  # the print plugin writes what it holds and ends; the core does not
    time.sleep(2)
    os.killpg(col.pid, signal.SIGKILL)
    col.wait(timeout=30)
    got = collections.Counter()
    if os.path.exists(out):
        with open(out) as f:
            for r in csv.DictReader(f):
                proto = r["PROTOCOL"]
                proto = PROTO_NAMES.get(proto, int(proto) if proto.isdigit() else proto)
                add_tuple(got, r["SRC_IP"], r["DST_IP"], r["SRC_PORT"], r["DST_PORT"], proto, r["PACKETS"], r["BYTES"])
    return got


def keyed_totals(rows):
    """flowsift's records summed as pmacct_collector_while() sums pmacct's."""
    got = collections.Counter()
    for r in rows:
        add_tuple(got, r["srcaddr"], r["dstaddr"], r["srcp"], r["dstp"], int(r["proto"]), r["packets"], r["size"])
    return got


def pmacct_collectors(tmp):
    """pmacct's collectors as oracles: softflowd exports the sample capture as NetFlow v9 (-a: times of the
    capture) and IPFIX (-A milli) to nfacctd and to flowsift, and as IPFIX biflows (-b, RFC 5103) to flowsift,
    whose records split by direction equal nfacctd's of the one-way export. Packets and bytes per 5-tuple
    agree."""
    if not shutil.which("nfacctd") or not shutil.which("softflowd"):
        print("skip  nfacctd or softflowd not installed (apt-get install pmacct softflowd)")
        return
    fields = "srcaddr,dstaddr,srcp,dstp,proto,packets,size,src_packets,src_size,dst_packets,dst_size"
    results = {}
    for version, extra in (("9", ["-a"]), ("10", ["-A", "milli"]), ("10", ["-b", "-A", "milli"])):
        def softflowd(port):
            subprocess.run(["softflowd", "-r", SAMPLE, "-n", f"127.0.0.1:{port}", "-v", version, "-c", "none"] + extra,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

        tag = version + "".join(extra).replace("-", "")
        rows, _ = collect_while(tmp, f"nfa-collect-{tag}", fields, softflowd)
        if "-b" in extra:
            break
        results[tag] = (keyed_totals(rows), pmacct_collector_while(tmp, "nfacctd", f"nfa-{tag}", softflowd))
    got, want = results["9a"]
    # nfacctd trusts the record count of the v9 header; softflowd's last datagram counts its two templates
    # and not the data records after them (tshark stops there too: TSHARK_STOPS_AT_COUNT)
    lacking, extra_keys = [k for k in want if got[k] != want[k]], [k for k in got if k not in want]
    check(len(want) > 400 and not lacking and len(extra_keys) <= 2 * 5,
          f"softflowd -v 9 -a to nfacctd and to flowsift: packets and bytes of {len(want) // 2} 5-tuples agree; "
          f"{len(extra_keys) // 2} more in flowsift, from the data records past the count of softflowd's last "
          f"datagram (differ: {lacking[:3]})")
    got, want = results["10Amilli"]
    diff = [k for k in set(got) | set(want) if got[k] != want[k]]
    check(len(want) > 400 and not diff, f"softflowd -v 10 -A milli to nfacctd and to flowsift: packets and bytes of "
          f"{len(want) // 2} 5-tuples agree (differ: {diff[:3]})")
    split = collections.Counter()  # the biflow records as one-way records
    for r in rows:
        proto = int(r["proto"])
        if int(r["src_packets"]):
            add_tuple(split, r["srcaddr"], r["dstaddr"], r["srcp"], r["dstp"], proto, r["src_packets"], r["src_size"])
        if int(r["dst_packets"]):
            add_tuple(split, r["dstaddr"], r["srcaddr"], r["dstp"], r["srcp"], proto, r["dst_packets"], r["dst_size"])
    diff = [k for k in set(split) | set(want) if split[k] != want[k]]
    check(len(rows) < len(want) // 2 and not diff,
          f"softflowd -v 10 -b (RFC 5103 biflows): flowsift's {len(rows)} records, split by direction, are nfacctd's "
          f"{len(want) // 2} 5-tuples of the one-way export (differ: {diff[:3]})")
    if shutil.which("pmacctd"):  # pmacctd's nfprobe (IPFIX) to pmacct's own collector
        def nfprobe(port):
            pmacctd_replay(tmp, "nfprobe", port, NFPROBE)

        got = keyed_totals(collect_while(tmp, "nfa-nfprobe-collect", "srcaddr,dstaddr,srcp,dstp,proto,packets,size",
                                         nfprobe)[0])
        want = pmacct_collector_while(tmp, "nfacctd", "nfa-nfprobe", nfprobe)
        diff = [k for k in set(got) | set(want) if got[k] != want[k]]
        check(len(want) > 400 and not diff, f"pmacctd's nfprobe (IPFIX) to nfacctd and to flowsift: packets and bytes "
              f"of {len(want) // 2} 5-tuples agree (differ: {diff[:3]})")
    # sfacctd is no oracle here: Debian's 1.7.7 misses 20 of the 4,698 packets pmacctd's sfprobe samples and
    # counts 252 of the 506 5-tuples differently, while flowsift's records of the same export equal the capture's
    # own packets (pmacct_exporters: extract's flows, direction by direction); docs/oracles.md


def workers(tmp):
    """collect --workers 3: sixteen exporters (the datagrams of extract --export, replayed from sixteen source
    ports) spread by SO_REUSEPORT over three receiving threads, each with its own decoder; every exporter's
    records are extract's flows, the counters and the saved templates are those of all threads added up."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    proc = subprocess.Popen([binary(), "extract", "-q", "-o", "/dev/null", "--export",
                             f"127.0.0.1:{rx.getsockname()[1]}", SAMPLE])
    dgrams = []
    try:
        while True:
            dgrams.append(rx.recv(65536))
    except socket.timeout:
        pass
    proc.wait(timeout=30)
    rx.close()
    _, out, _ = run("extract", "-q", "-o", "-", "--fields", "srcaddr,dstaddr,srcp,dstp,proto", SAMPLE)
    flows = collections.Counter(tuple(r.values()) for r in csv.DictReader(io.StringIO(out)))
    store = os.path.join(tmp, "workers.store")
    port = free_port()
    out_path = os.path.join(tmp, "workers.csv")
    col = subprocess.Popen([binary(), "collect", "-l", f"127.0.0.1:{port}", "--workers", "3", "-o", out_path,
                            "--store", store, "--fields", "srcaddr,dstaddr,srcp,dstp,proto,exporter,src_packets,dst_packets"],
                           stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    socks = []
    for _ in range(16):
        sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sk.bind(("127.0.0.1", 0))
        socks.append(sk)
    for d in dgrams:
        for sk in socks:
            sk.sendto(d, ("127.0.0.1", port))
        time.sleep(0.001)
    time.sleep(1)
    col.terminate()
    _, err = col.communicate(timeout=60)
    with open(out_path) as f:
        rows = list(csv.DictReader(f))
    # a flow exported as one record per direction: the directions of one flow come back as two records
    got = collections.Counter((r["srcaddr"], r["dstaddr"], r["srcp"], r["dstp"], r["proto"]) for r in rows)
    per_exporter = collections.Counter(r["exporter"] for r in rows)
    m = re.search(r"threads\s+([\d / ]+) datagrams", err)
    threads = [int(v) for v in m.group(1).split(" / ")] if m else []
    with open(os.path.join(store, "collect-templates")) as f:
        saved = sum(1 for line in f if line.startswith("T "))
    with open(os.path.join(store, "collect-stats.csv")) as f:
        stats = list(csv.DictReader(f))
    exporters = [r for r in stats if r["exporter"] != "all"]
    ok = (col.returncode == 0 and len(dgrams) > 3 and len(threads) == 3 and sum(threads) == 16 * len(dgrams) and
          sum(1 for t in threads if t) >= 2 and len(per_exporter) == 1 and len(exporters) == 16 and
          all(int(r["records"]) == len(rows) // 16 for r in exporters) and
          int(stats[0]["records"]) == len(rows) and saved == 16 * 2 and set(got) >= set(flows) and
          all(n % 16 == 0 for n in got.values()))  # every record sixteen times, once per exporter
    rc, q, _ = run("query", store, "--fields", "srcaddr", "-F", "csv")
    check(ok and rc == 0 and len(q.splitlines()) - 1 == len(rows),
          f"--workers 3: {len(dgrams)} datagrams from each of 16 exporters, received by the threads as {threads}; "
          f"{len(rows)} records, each of extract's {len(flows)} flows from every exporter; per-exporter counters "
          f"({len(exporters)}) and saved templates ({saved}) of all threads; the store holds them all")


def ipv6_listener(tmp):
    port = free_port(socket.AF_INET6, "::1")
    out = os.path.join(tmp, "v6.csv")
    col = subprocess.Popen([binary(), "collect", "-l", f"[::1]:{port}", "-o", out, "--fields", FIELDS + ",exporter",
                            "--count", "1"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    # one NetFlow v5 datagram with one record, sent from ::1
    hdr = struct.pack(">HHIIIIBBH", 5, 1, 100000, 1700000000, 0, 7, 0, 0, 0)
    rec = struct.pack(">4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("10.1.2.3"), socket.inet_aton("10.9.8.7"),
                      b"\0\0\0\0", 1, 2, 5, 700, 99000, 99500, 1234, 80, 0, 0x1b, 6, 0, 0, 0, 0, 0, 0)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.sendto(hdr + rec, ("::1", port))
    s.close()
    _, err = col.communicate(timeout=30)
    rows = list(csv.DictReader(open(out)))
    check(col.returncode == 0 and len(rows) == 1 and rows[0]["srcaddr"] == "10.1.2.3" and rows[0]["exporter"] == "::1"
          and rows[0]["packets"] == "5" and rows[0]["size"] == "700" and rows[0]["dstp"] == "80",
          "an IPv6 listener decodes a datagram from ::1; --count ends the run; the record names its exporter")


def damage(tmp):
    """Random bytes, cut datagrams, templateless v9 and IPFIX data, between valid ones: counted, not fatal."""
    port = free_port()
    out = os.path.join(tmp, "damage.csv")
    n = 3000
    col = subprocess.Popen([binary(), "collect", "-l", f"127.0.0.1:{port}", "-o", out, "--fields", FIELDS,
                            "--count", str(n), "--duration", "30s"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    rnd = random.Random(7)
    hdr = struct.pack(">HHIIIIBBH", 5, 1, 100000, 1700000000, 0, 0, 0, 0, 0)
    rec = struct.pack(">4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("10.1.2.3"), socket.inet_aton("10.9.8.7"),
                      b"\0\0\0\0", 1, 2, 5, 700, 99000, 99500, 1234, 80, 0, 0x1b, 6, 0, 0, 0, 0, 0, 0)
    v9_orphan = struct.pack(">HHIIII", 9, 1, 1000, 1700000000, 1, 5) + struct.pack(">HH", 300, 12) + b"\1" * 8
    ipfix_orphan = struct.pack(">HHIII", 10, 28, 1700000000, 1, 9) + struct.pack(">HH", 400, 12) + b"\2" * 8
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    valid = 0
    for i in range(n):
        k = i % 5
        if k == 0:
            d, valid = hdr + rec, valid + 1
        elif k == 1:
            d = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 200)))
        elif k == 2:
            d = (hdr + rec)[:rnd.randrange(0, 72)]
        elif k == 3:
            d = v9_orphan
        else:
            d = ipfix_orphan
        s.sendto(d, ("127.0.0.1", port))
        if i % 200 == 0:
            time.sleep(0.01)
    s.close()
    _, err = col.communicate(timeout=60)
    got = sum(records(open(out).read()).values())
    check(col.returncode == 0 and got >= valid and "without their template" in err and "malformed" in err,
          f"{n} datagrams, a fifth valid: {got} records, the rest counted as malformed or without template")


def flood(tmp):
    """200,000 datagrams as fast as Python sends them, into a 64 KB socket buffer: every one is either received
    or counted as dropped by the kernel, and the collector's memory stays small."""
    import resource
    port = free_port()
    n = 200000
    col = subprocess.Popen([binary(), "collect", "-l", f"127.0.0.1:{port}", "-o", "/dev/null", "--rcvbuf", "64k",
                            "--duration", "60s"], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    hdr = struct.pack(">HHIIIIBBH", 5, 1, 100000, 1700000000, 0, 0, 0, 0, 0)
    rec = struct.pack(">4s4s4sHHIIIIHHBBBBHHBBH", socket.inet_aton("10.1.2.3"), socket.inet_aton("10.9.8.7"),
                      b"\0\0\0\0", 1, 2, 5, 700, 99000, 99500, 1234, 80, 0, 0x1b, 6, 0, 0, 0, 0, 0, 0)
    kinds = [hdr + rec, b"\x00\x0a\x00\x10" + b"\0" * 12, b"junk" * 10,
             struct.pack(">HHIIII", 9, 1, 1000, 1700000000, 1, 5) + struct.pack(">HH", 300, 12) + b"\1" * 8]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        s.sendto(kinds[i & 3], ("127.0.0.1", port))
    s.close()
    time.sleep(1)
    col.terminate()
    _, err = col.communicate(timeout=60)
    m = re.search(r"received\s+([\d,]+) datagrams and messages; ([\d,]+) more dropped", err)
    got, dropped = (int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))) if m else (0, -1)
    m = re.search(r"dropped\s+([\d,]+) packets of all traffic before any socket", err)
    backlog = int(m.group(1).replace(",", "")) if m else 0  # on a busy machine, loopback's backlog overflows too
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    check(col.returncode == 0 and got > 0 and got + dropped + backlog >= n >= got + dropped and rss_mb < 200,
          f"{n:,} datagrams into a 64 KB socket buffer: {got:,} received + {dropped:,} dropped at the socket + "
          f"{backlog:,} dropped before it (counts of the kernel) account for all sent; peak memory of the largest "
          f"child {rss_mb:.0f} MB")


def main():
    data = data_dir()
    with tempfile.TemporaryDirectory() as tmp:
        if data:
            oracle_tshark(data)
            oracle_sflow(data)
            oracle_sflow_counters(data, tmp)
            oracle_logstash(data)
            oracle_pmacct(data)
            oracle_graylog_pktvisor(data)
            split_templates(data)
        else:
            print("skip  ../shared/data is absent: captured exports and their tshark decodes not checked")
        softflowd_vs_nfdump(tmp)
        export_roundtrip(tmp)
        tcp_sessions(tmp)
        pmacct_exporters(tmp)
        pmacct_collectors(tmp)
        workers(tmp)
        ipv6_listener(tmp)
        damage(tmp)
        flood(tmp)
        rc, _, err = run("collect")
        check(rc == 2 and "no input" in err, "collect without input says so")
        rc, _, err = run("collect", "-l", "notaport")
        check(rc == 1 and "notaport" in err, "a bad listen address is named")
        rc, out, _ = run("collect", "--help")
        check(rc == 0 and "--listen" in out and "NetFlow" in out, "--help")
    return finish("test_collect")


if __name__ == "__main__":
    sys.exit(main())
