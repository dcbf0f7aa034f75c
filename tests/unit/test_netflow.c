/*
 * test_netflow.c - the flow export decoder (collect/netflow.c) on messages built here, byte by byte:
 * NetFlow v5 fields and clock, v9 templates and options (sampling), IPFIX variable-length fields, reverse
 * elements (RFC 5103), template withdrawal, templates kept per exporter port and domain, sequence gaps,
 * and damage.
 */
#include <string.h>

#include "../../src/collect/netflow.h"
#include "check.h"

struct buf {
    uint8_t b[4096];
    size_t n;
};

static void u8(struct buf *b, unsigned v) { b->b[b->n++] = (uint8_t)v; }
static void u16(struct buf *b, unsigned v) { u8(b, v >> 8); u8(b, v & 0xff); }
static void u32(struct buf *b, uint32_t v) { u16(b, v >> 16); u16(b, v & 0xffff); }
static void u64(struct buf *b, uint64_t v) { u32(b, (uint32_t)(v >> 32)); u32(b, (uint32_t)v); }
static void put16(struct buf *b, size_t at, unsigned v) { b->b[at] = (uint8_t)(v >> 8); b->b[at + 1] = (uint8_t)v; }

#define MAXREC 16
static struct fs_flow got[MAXREC];
static size_t ngot;

static size_t nonzero_unused; /* members an export never fills (the store clears their columns) that were set */

static void keep(void *arg, struct fs_flow *f)
{
    (void)arg;
    for (size_t k = 0; k < FS_FLOW_NMEMBERS; k++)
        if (fs_flow_member_zero_in_exports(k)) {
            const uint8_t *p = (const uint8_t *)f + fs_flow_members[k].off;
            for (uint32_t b = 0; b < fs_flow_members[k].width; b++) nonzero_unused += p[b] != 0;
        }
    if (ngot < MAXREC) got[ngot] = *f;
    ngot++;
}

static const struct fs_export_origin R1 = { .addr = { 192, 0, 2, 1 }, .ipver = 4, .port = 5000 };
static const struct fs_export_origin R1b = { .addr = { 192, 0, 2, 1 }, .ipver = 4, .port = 5001 };

static size_t feed(struct fs_nf_decoder *d, const struct fs_export_origin *o, const struct buf *b)
{
    ngot = 0;
    return fs_nf_message(d, o, 1800000000000000000ull, b->b, b->n, keep, NULL);
}

static uint32_t v4(const uint8_t *a) { return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3]; }

static void v5_record(struct buf *b, uint32_t src, uint32_t dst, unsigned dp, uint8_t proto, uint32_t first_up,
                      uint32_t last_up)
{
    u32(b, src);
    u32(b, dst);
    u32(b, 0);       /* next hop */
    u16(b, 7);       /* input */
    u16(b, 9);       /* output */
    u32(b, 12);      /* packets */
    u32(b, 3400);    /* bytes */
    u32(b, first_up);
    u32(b, last_up);
    u16(b, 40000);
    u16(b, dp);
    u8(b, 0);
    u8(b, 0x12);     /* SYN ACK */
    u8(b, proto);
    for (int i = 0; i < 9; i++) u8(b, 0); /* tos, AS numbers, masks, padding */
}

static void test_v5(void)
{
    struct fs_nf_decoder *d;
    fs_nf_new(&d);
    struct buf b = { .n = 0 };
    u16(&b, 5);
    u16(&b, 2);
    u32(&b, 100000);          /* uptime: 100 s */
    u32(&b, 1700000000);      /* unix seconds */
    u32(&b, 500000000);       /* and nanoseconds */
    u32(&b, 1000);            /* sequence */
    u8(&b, 1);
    u8(&b, 2);                /* engine type, id */
    u16(&b, 0x4000 | 64);     /* sampling mode 1, 1 in 64 */
    v5_record(&b, 0x0a000001, 0x0a000002, 443, 6, 90000, 99000);
    v5_record(&b, 0x0a000003, 0x0a000004, 0x0800, 1, 4294967000u, 99500); /* started before the uptime wrapped */
    CHECK_EQ_U(feed(d, &R1, &b), 2);
    struct fs_flow *f = &got[0];
    CHECK_EQ_U(v4(f->key.a), 0x0a000001);
    CHECK_EQ_U(v4(f->key.b), 0x0a000002);
    CHECK_EQ_U(f->key.pa, 40000);
    CHECK_EQ_U(f->key.pb, 443);
    CHECK_EQ_U(f->key.proto, 6);
    CHECK_EQ_U(f->dir[0].packets, 12);
    CHECK_EQ_U(f->dir[0].bytes, 3400);
    CHECK_EQ_U(f->dir[0].flags_or, 0x12);
    CHECK_EQ_U(f->in_if, 7);
    CHECK_EQ_U(f->out_if, 9);
    CHECK_EQ_U(f->domain, 0x0102);
    CHECK_EQ_U(f->sampling, 64);
    CHECK_EQ_U(f->source, FS_SOURCE_NETFLOW5);
    CHECK(f->state & FS_FLOW_EXPORTED);
    CHECK_EQ_U(v4(f->exporter), 0xc0000201);
    /* first = export time - (uptime - first uptime): 10 s and 1 s before 1700000000.5 */
    CHECK_EQ_U(f->first_ns, 1699999990500000000ull);
    CHECK_EQ_U(f->last_ns, 1699999999500000000ull);
    CHECK_EQ_U(got[1].icmp_type, 8);
    CHECK(got[1].state & FS_FLOW_HAS_ICMP);
    CHECK_EQ_U(got[1].first_ns, 1700000000500000000ull - (100000ull + 296) * 1000000ull); /* 2^32 - 4294967000 = 296 */
    /* the next message skips 5 records: a gap of 5 */
    put16(&b, 16, 0);
    b.b[18] = (1007 >> 8) & 0xff;
    b.b[19] = 1007 & 0xff;
    feed(d, &R1, &b);
    CHECK_EQ_U(fs_nf_totals(d)->sequence_gaps, 5);
    /* a count larger than the records present (cut short): the whole ones are kept, the message counted */
    put16(&b, 2, 3);
    CHECK_EQ_U(feed(d, &R1, &b), 2);
    CHECK_EQ_U(fs_nf_totals(d)->malformed[FS_NF_TRUNCATED], 1);
    /* a count no v5 datagram has (1 to 30): nothing of it is trusted */
    put16(&b, 2, 31);
    CHECK_EQ_U(feed(d, &R1, &b), 0);
    CHECK_EQ_U(fs_nf_totals(d)->malformed[FS_NF_BAD_LENGTH], 1);
    fs_nf_free(d);
}

/* v9 header; returns its start */
static void v9_header(struct buf *b, uint32_t seq, uint32_t source_id)
{
    u16(b, 9);
    u16(b, 0);               /* count: not trusted */
    u32(b, 200000);          /* uptime 200 s */
    u32(b, 1700000000);
    u32(b, seq);
    u32(b, source_id);
}

static void v9_template(struct buf *b, unsigned id)
{
    static const unsigned f[][2] = { { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 1, 4 }, { 2, 4 },
                                     { 22, 4 }, { 21, 4 }, { 999, 3 } };
    size_t n = sizeof f / sizeof f[0];
    u16(b, 0);
    u16(b, (unsigned)(4 + 4 + 4 * n));
    u16(b, id);
    u16(b, (unsigned)n);
    for (size_t i = 0; i < n; i++) {
        u16(b, f[i][0]);
        u16(b, f[i][1]);
    }
}

static void v9_data(struct buf *b, unsigned id, int nrec)
{
    size_t at = b->n;
    u16(b, id);
    u16(b, 0);
    for (int r = 0; r < nrec; r++) {
        u32(b, 0x0a000001 + (uint32_t)r);
        u32(b, 0x08080808);
        u16(b, 5353);
        u16(b, 53);
        u8(b, 17);
        u32(b, 1000);
        u32(b, 10);
        u32(b, 150000);
        u32(b, 190000);
        u8(b, 0xaa);
        u8(b, 0xbb);
        u8(b, 0xcc); /* the unknown element 999 */
    }
    while ((b->n - at) % 4) u8(b, 0); /* padding */
    put16(b, at + 2, (unsigned)(b->n - at));
}

static void test_v9(void)
{
    struct fs_nf_decoder *d;
    fs_nf_new(&d);
    struct buf b = { .n = 0 };
    v9_header(&b, 1, 77);
    v9_data(&b, 300, 1); /* before its template: dropped and counted */
    v9_template(&b, 300);
    /* options template 301: scope System (length 0), SAMPLING_INTERVAL (4), SAMPLING_ALGORITHM (1) */
    u16(&b, 1);
    u16(&b, 24);
    u16(&b, 301);
    u16(&b, 4);
    u16(&b, 8);
    u16(&b, 1);
    u16(&b, 0);
    u16(&b, 34);
    u16(&b, 4);
    u16(&b, 35);
    u16(&b, 1);
    u16(&b, 0); /* padding */
    u16(&b, 301);
    u16(&b, 12);
    u32(&b, 1000);
    u8(&b, 2);
    u8(&b, 0);
    u8(&b, 0);
    u8(&b, 0);
    v9_data(&b, 300, 3);
    /* the data set before the template is held and decoded as the template comes: first, before the options */
    CHECK_EQ_U(feed(d, &R1, &b), 4);
    const struct fs_nf_counters *t = fs_nf_totals(d);
    CHECK_EQ_U(t->held, 1);
    CHECK_EQ_U(t->late_records, 1);
    CHECK_EQ_U(t->missing_template, 0);
    CHECK_EQ_U(t->templates, 2);
    CHECK_EQ_U(t->options_records, 1);
    CHECK_EQ_U(t->unknown_fields, 5); /* 999 in four records, SAMPLING_ALGORITHM */
    CHECK_EQ_U(got[0].sampling, 0);  /* decoded before the options record */
    CHECK_EQ_U(got[3].key.pb, 53);
    CHECK_EQ_U(v4(got[3].key.a), 0x0a000003);
    CHECK_EQ_U(got[1].dir[0].bytes, 1000);
    CHECK_EQ_U(got[1].dir[0].packets, 10);
    CHECK_EQ_U(got[1].sampling, 1000);
    CHECK_EQ_U(got[1].domain, 77);
    CHECK_EQ_U(got[1].source, FS_SOURCE_NETFLOW9);
    CHECK_EQ_U(got[1].first_ns, 1700000000000000000ull - 50000ull * 1000000ull);
    CHECK_EQ_U(got[1].last_ns, 1700000000000000000ull - 10000ull * 1000000ull);
    /* templates belong to (exporter address and port, source id); another port of the same address and source
     * id without a template of that id uses the first port's (counted), another source id has none */
    struct buf c = { .n = 0 };
    v9_header(&c, 1, 77);
    v9_data(&c, 300, 1);
    CHECK_EQ_U(feed(d, &R1b, &c), 1);
    CHECK_EQ_U(fs_nf_totals(d)->other_port_records, 1);
    CHECK_EQ_U(got[0].dir[0].bytes, 1000);
    struct buf e = { .n = 0 };
    v9_header(&e, 2, 78);
    v9_data(&e, 300, 1);
    CHECK_EQ_U(feed(d, &R1, &e), 0);
    CHECK_EQ_U(fs_nf_totals(d)->held, 2);
    /* a template of its own comes first: (sourceIPv4Address, destinationIPv4Address, IN_PKTS) */
    struct buf o = { .n = 0 };
    v9_header(&o, 2, 77);
    u16(&o, 0), u16(&o, 20), u16(&o, 300), u16(&o, 3);
    u16(&o, 8), u16(&o, 4), u16(&o, 12), u16(&o, 4), u16(&o, 2), u16(&o, 4);
    u16(&o, 300), u16(&o, 16), u32(&o, 0x01020304), u32(&o, 0x05060708), u32(&o, 42);
    CHECK_EQ_U(feed(d, &R1b, &o), 1);
    CHECK_EQ_U(got[0].dir[0].packets, 42);
    CHECK_EQ_U(v4(got[0].key.b), 0x05060708);
    CHECK_EQ_U(fs_nf_totals(d)->other_port_records, 1);
    fs_nf_finish(d); /* end of input: the one still waiting is dropped */
    CHECK_EQ_U(fs_nf_totals(d)->missing_template, 1);
    /* with no hold time, a set without its template is dropped at once */
    fs_nf_set_hold(d, 0);
    CHECK_EQ_U(feed(d, &R1, &e), 0);
    CHECK_EQ_U(fs_nf_totals(d)->held, 2);
    CHECK_EQ_U(fs_nf_totals(d)->missing_template, 2);
    fs_nf_set_hold(d, FS_NF_HOLD_NS);
    /* v9 sequence numbers count messages: 1, then 5 loses 3 */
    struct buf g = { .n = 0 };
    v9_header(&g, 5, 77);
    v9_data(&g, 300, 1);
    CHECK_EQ_U(feed(d, &R1, &g), 1);
    CHECK_EQ_U(fs_nf_totals(d)->sequence_gaps, 3);
    size_t nexp;
    const struct fs_nf_exporter_stats *x = fs_nf_exporters(d, &nexp);
    CHECK_EQ_U(nexp, 3);
    CHECK(nexp == 3 && x[0].c.records == 5 && x[0].version == 9 && x[0].domain == 77 && x[1].origin.port == 5001);
    fs_nf_free(d);
}

static void ipfix_header(struct buf *b, uint32_t seq)
{
    u16(b, 10);
    u16(b, 0); /* patched by ipfix_end */
    u32(b, 1700000100);
    u32(b, seq);
    u32(b, 9);
}

static void ipfix_end(struct buf *b) { put16(b, 2, (unsigned)b->n); }

static void test_ipfix(void)
{
    struct fs_nf_decoder *d;
    fs_nf_new(&d);
    struct buf b = { .n = 0 };
    ipfix_header(&b, 0);
    size_t set = b.n;
    u16(&b, 2);
    u16(&b, 0);
    u16(&b, 400);
    u16(&b, 9);
    static const unsigned f[][2] = { { 27, 16 }, { 28, 16 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 152, 8 }, { 153, 8 } };
    for (size_t i = 0; i < 7; i++) {
        u16(&b, f[i][0]);
        u16(&b, f[i][1]);
    }
    u16(&b, 0x8000 | 2); /* reversePacketDeltaCount */
    u16(&b, 8);
    u32(&b, 29305);
    u16(&b, 82);         /* interfaceName: variable length */
    u16(&b, 65535);
    put16(&b, set + 2, (unsigned)(b.n - set));
    set = b.n;
    u16(&b, 400);
    u16(&b, 0);
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 15; i++) u8(&b, i == 0 ? 0x20 : 0);
        u8(&b, 1);       /* 2000::1 */
        for (int i = 0; i < 15; i++) u8(&b, i == 0 ? 0x20 : 0);
        u8(&b, 2);
        u16(&b, 443);
        u16(&b, 50000);
        u8(&b, 6);
        u64(&b, 1700000050000ull);
        u64(&b, 1700000051250ull);
        u64(&b, 7);
        if (r == 0) {
            u8(&b, 4);
            u8(&b, 'e'), u8(&b, 't'), u8(&b, 'h'), u8(&b, '0');
        } else { /* the three-byte form of a length */
            u8(&b, 255);
            u16(&b, 2);
            u8(&b, 'x'), u8(&b, 'y');
        }
    }
    put16(&b, set + 2, (unsigned)(b.n - set));
    ipfix_end(&b);
    CHECK_EQ_U(feed(d, &R1, &b), 2);
    CHECK_EQ_U(got[0].key.ipver, 6);
    CHECK_EQ_U(got[0].key.a[0], 0x20);
    CHECK_EQ_U(got[0].key.b[15], 2);
    CHECK_EQ_U(got[1].key.pa, 443);
    CHECK_EQ_U(got[0].dir[1].packets, 7);
    CHECK_EQ_U(got[0].first_ns, 1700000050000000000ull);
    CHECK_EQ_U(got[0].last_ns, 1700000051250000000ull);
    CHECK_EQ_U(got[0].source, FS_SOURCE_IPFIX);
    CHECK_EQ_U(got[0].domain, 9);
    /* the data set alone, in a message of its own */
    struct buf data = { .n = 0 };
    ipfix_header(&data, 2);
    memcpy(data.b + data.n, b.b + set, b.n - set);
    data.n += b.n - set;
    ipfix_end(&data);
    CHECK_EQ_U(feed(d, &R1, &data), 2);
    /* withdraw template 400: its data is now without template */
    struct buf w = { .n = 0 };
    ipfix_header(&w, 4);
    u16(&w, 2);
    u16(&w, 8);
    u16(&w, 400);
    u16(&w, 0);
    ipfix_end(&w);
    feed(d, &R1, &w);
    CHECK_EQ_U(fs_nf_totals(d)->withdrawals, 1);
    put16(&data, 8, 0), put16(&data, 10, 4);
    CHECK_EQ_U(feed(d, &R1, &data), 0); /* held */
    CHECK_EQ_U(fs_nf_totals(d)->sequence_gaps, 0);
    /* it waits the hold time at most (10 minutes by default; 30 s here): a message 31 s later drops it */
    fs_nf_set_hold(d, 30000000000ull);
    struct buf s = { .n = 0 };
    ipfix_header(&s, 10);
    ipfix_end(&s);
    ngot = 0;
    fs_nf_message(d, &R1, 1800000000000000000ull + 31000000000ull, s.b, s.n, keep, NULL);
    CHECK_EQ_U(fs_nf_totals(d)->missing_template, 1);
    /* IPFIX sequence numbers count data records: 0 (2 records), 2 (2), 4 (the withdrawal), 4 (a held set: how many
     * records is not known, so the count starts over), 10 (none); a message saying 13 next lost 3 */
    CHECK_EQ_U(fs_nf_totals(d)->sequence_gaps, 0);
    struct buf s2 = { .n = 0 };
    ipfix_header(&s2, 13);
    ipfix_end(&s2);
    feed(d, &R1, &s2);
    CHECK_EQ_U(fs_nf_totals(d)->sequence_gaps, 3);
    fs_nf_free(d);
}

/* Sampling rates from the options of RFC 5477: n-out-of-N (samplingSize of samplingPopulation, as Cisco IOS XR
 * sends with a samplingPacketInterval of 1) and systematic count-based (interval packets taken, space skipped). */
static void test_sampling_elements(void)
{
    static const struct { uint32_t interval, space, size, population, want; } cases[] = {
        { 1, 0, 1, 256, 256 }, { 10, 90, 0, 0, 10 }, { 1000, 0, 0, 0, 1000 }, { 1, 0, 0, 0, 0 }, { 0, 0, 3, 3000, 1000 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct fs_nf_decoder *d;
        fs_nf_new(&d);
        struct buf b = { .n = 0 };
        ipfix_header(&b, 0);
        /* options template 500: scope selectorId, then samplingPacketInterval, samplingPacketSpace, samplingSize,
         * samplingPopulation */
        u16(&b, 3), u16(&b, 4 + 6 + 5 * 4), u16(&b, 500), u16(&b, 5), u16(&b, 1);
        u16(&b, 302), u16(&b, 4), u16(&b, 305), u16(&b, 4), u16(&b, 306), u16(&b, 4), u16(&b, 309), u16(&b, 4);
        u16(&b, 310), u16(&b, 4);
        u16(&b, 500), u16(&b, 4 + 20), u32(&b, 1), u32(&b, cases[k].interval), u32(&b, cases[k].space);
        u32(&b, cases[k].size), u32(&b, cases[k].population);
        /* data template 501 (sourceIPv4Address, packetDeltaCount) and a record */
        u16(&b, 2), u16(&b, 4 + 4 + 8), u16(&b, 501), u16(&b, 2), u16(&b, 8), u16(&b, 4), u16(&b, 2), u16(&b, 4);
        u16(&b, 501), u16(&b, 12), u32(&b, 0x0a000001), u32(&b, 5);
        ipfix_end(&b);
        CHECK_EQ_U(feed(d, &R1, &b), 1);
        CHECK_EQ_U(got[0].sampling, cases[k].want);
        fs_nf_free(d);
    }
}

/* More exporters than the table holds: the messages of the ones beyond are refused and counted, not lost
 * silently. */
static void test_refused(void)
{
    struct fs_nf_decoder *d;
    fs_nf_new(&d);
    struct buf b = { .n = 0 };
    u16(&b, 5), u16(&b, 1), u32(&b, 1000), u32(&b, 1700000000), u32(&b, 0), u32(&b, 0), u32(&b, 0);
    v5_record(&b, 0x0a000001, 0x0a000002, 80, 6, 10, 20);
    size_t records = 0;
    for (uint32_t i = 0; i < 70000; i++) {
        struct fs_export_origin o = { .addr = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i }, .ipver = 4,
                                      .port = 2055 };
        records += fs_nf_message(d, &o, 1800000000000000000ull, b.b, b.n, keep, NULL);
    }
    size_t n;
    fs_nf_exporters(d, &n);
    CHECK_EQ_U(n, 65536);
    CHECK_EQ_U(records, 65536);
    CHECK_EQ_U(fs_nf_totals(d)->refused, 70000 - 65536);
    CHECK_EQ_U(fs_nf_totals(d)->messages, 65536);
    fs_nf_free(d);
}

static struct fs_ifcounters kgot[4];
static size_t nkgot;
static void keep_counters(void *arg, const struct fs_ifcounters *k)
{
    (void)arg;
    if (nkgot < 4) kgot[nkgot] = *k;
    nkgot++;
}

/* Counter samples: the source id split into type and index, the generic interface counters read field by
 * field, other counter records skipped and counted, a record cut short not read. */
static void test_sflow_counters(void)
{
    struct fs_nf_decoder *d;
    fs_nf_new(&d);
    fs_nf_on_counters(d, keep_counters, NULL);
    struct buf b = { .n = 0 };
    u32(&b, 5), u32(&b, 2);                    /* version, agent address: IPv6 */
    for (int i = 0; i < 4; i++) u32(&b, i == 0 ? 0x20010db8 : (uint32_t)i);
    u32(&b, 9), u32(&b, 1), u32(&b, 1000), u32(&b, 1); /* sub-agent, sequence, uptime, samples */
    size_t at = b.n;
    u32(&b, 2), u32(&b, 0);                    /* counter sample, its length (below) */
    u32(&b, 4242);                             /* sequence */
    u32(&b, 3u << 24 | 0x012345);              /* source: type 3, index 0x12345 */
    u32(&b, 2);                                /* records */
    u32(&b, 2), u32(&b, 4), u32(&b, 0);        /* Ethernet counters (cut to 4 bytes): skipped */
    u32(&b, 1), u32(&b, 88);                   /* generic interface counters */
    u32(&b, 17), u32(&b, 6), u64(&b, 10000000000ull), u32(&b, 1), u32(&b, 3);
    u64(&b, 0x1122334455ull);
    for (uint32_t v = 1; v <= 6; v++) u32(&b, v);
    u64(&b, 0x99aabbccddull);
    for (uint32_t v = 11; v <= 15; v++) u32(&b, v);
    u32(&b, 2);
    put16(&b, at + 6, (unsigned)(b.n - at - 8));
    CHECK_EQ_U(feed(d, &R1, &b), 0);
    CHECK_EQ_U(nkgot, 1);
    const struct fs_ifcounters *k = &kgot[0];
    CHECK_EQ_U(k->exporter_ipver, 6);
    CHECK_EQ_U(k->exporter[0], 0x20);
    CHECK_EQ_U(k->domain, 9);
    CHECK_EQ_U(k->seq, 4242);
    CHECK_EQ_U(k->source_type, 3);
    CHECK_EQ_U(k->source_index, 0x12345);
    CHECK_EQ_U(k->has_if, 1);
    CHECK_EQ_U(k->if_index, 17);
    CHECK_EQ_U(k->if_speed, 10000000000ull);
    CHECK_EQ_U(k->if_status, 3);
    CHECK_EQ_U(k->in_octets, 0x1122334455ull);
    CHECK_EQ_U(k->in_ucast, 1);
    CHECK_EQ_U(k->in_unknown, 6);
    CHECK_EQ_U(k->out_octets, 0x99aabbccddull);
    CHECK_EQ_U(k->out_ucast, 11);
    CHECK_EQ_U(k->out_errors, 15);
    CHECK_EQ_U(k->promiscuous, 2);
    CHECK_EQ_U(k->first_ns, 1800000000000000000ull);
    CHECK_EQ_U(fs_nf_totals(d)->unknown_fields, 1);
    /* the generic record cut short (its length says 88, 40 bytes follow): the sample is kept without it */
    struct buf c = b;
    c.n = at + 8 + 12 + 12 + 8 + 40;
    put16(&c, at + 6, (unsigned)(c.n - at - 8));
    nkgot = 0;
    feed(d, &R1, &c);
    CHECK_EQ_U(nkgot, 1);
    CHECK_EQ_U(kgot[0].has_if, 0);
    CHECK_EQ_U(kgot[0].source_index, 0x12345);
    fs_nf_free(d);
}

static void test_sflow(void)
{
    struct fs_nf_decoder *d;
    fs_nf_new(&d);
    struct buf b = { .n = 0 };
    u32(&b, 5);            /* sFlow version 5 */
    u32(&b, 1);            /* agent address: IPv4 */
    u32(&b, 0x0a000064);   /* 10.0.0.100 */
    u32(&b, 3);            /* sub-agent */
    u32(&b, 77);           /* sequence */
    u32(&b, 123456);       /* uptime */
    u32(&b, 2);            /* samples */
    /* a flow sample: a SYN-ACK from 10.0.0.2:80 to 10.0.0.1:5000, 1 in 512 */
    size_t at = b.n;
    u32(&b, 1);
    u32(&b, 0);
    u32(&b, 9);            /* sequence */
    u32(&b, 0x00000007);   /* source id */
    u32(&b, 512);          /* sampling rate */
    u32(&b, 4096);         /* pool */
    u32(&b, 0);            /* drops */
    u32(&b, 7);            /* input */
    u32(&b, 8);            /* output */
    u32(&b, 2);            /* records */
    u32(&b, 1001);         /* extended switch */
    u32(&b, 16);
    u32(&b, 42), u32(&b, 0), u32(&b, 42), u32(&b, 0);
    u32(&b, 1);            /* sampled header */
    u32(&b, 16 + 56);
    u32(&b, 1);            /* Ethernet */
    u32(&b, 1518);         /* frame length */
    u32(&b, 4);
    u32(&b, 56);           /* header bytes: 14 + 20 + 20 + 2 of padding */
    static const uint8_t eth[14] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00 };
    memcpy(b.b + b.n, eth, 14), b.n += 14;
    u8(&b, 0x45), u8(&b, 0), u16(&b, 1500), u16(&b, 1), u16(&b, 0x4000), u8(&b, 64), u8(&b, 6), u16(&b, 0);
    u32(&b, 0x0a000002), u32(&b, 0x0a000001);
    u16(&b, 80), u16(&b, 5000), u32(&b, 1), u32(&b, 2), u8(&b, 0x50), u8(&b, 0x12), u16(&b, 1000), u32(&b, 0);
    u16(&b, 0);
    put16(&b, at + 6, (unsigned)(b.n - at - 8));
    /* a counter sample */
    u32(&b, 2);
    u32(&b, 12);
    u32(&b, 1), u32(&b, 5), u32(&b, 0);
    CHECK_EQ_U(feed(d, &R1, &b), 1);
    const struct fs_flow *f = &got[0];
    CHECK_EQ_U(f->source, FS_SOURCE_SFLOW);
    CHECK_EQ_U(v4(f->exporter), 0x0a000064); /* the agent, not the datagram's sender */
    CHECK_EQ_U(f->domain, 3);
    CHECK_EQ_U(f->sampling, 512);
    CHECK_EQ_U(f->in_if, 7);
    CHECK_EQ_U(f->key.vlan, 42);
    /* oriented as extract would: the SYN-ACK's receiver began the conversation */
    CHECK_EQ_U(v4(f->key.a), 0x0a000001);
    CHECK_EQ_U(f->key.pa, 5000);
    CHECK_EQ_U(f->dir[1].packets, 1);
    CHECK_EQ_U(f->dir[1].bytes, 1500);    /* the IP length, extract's default size */
    CHECK_EQ_U(f->dir[1].payload, 1460);
    CHECK_EQ_U(f->dir[1].flags_or, 0x12);
    CHECK(!(f->state & FS_FLOW_EXPORTED)); /* the sampled packet's record is exact */
    CHECK_EQ_U(fs_nf_totals(d)->counter_samples, 1);
    /* a datagram of the next sequence number but one: one lost */
    b.b[8 + 4 + 4 + 3] = 79;
    feed(d, &R1, &b);
    CHECK_EQ_U(fs_nf_totals(d)->sequence_gaps, 1);
    fs_nf_free(d);
}

static void test_damage(void)
{
    struct fs_nf_decoder *d;
    fs_nf_new(&d);
    struct buf b = { .n = 0 };
    u16(&b, 7);
    u16(&b, 0);
    feed(d, &R1, &b);
    CHECK_EQ_U(fs_nf_totals(d)->malformed[FS_NF_BAD_VERSION], 1);
    struct buf t = { .n = 0 };
    v9_header(&t, 1, 1);
    v9_template(&t, 300);
    t.n -= 6; /* cut inside the template */
    put16(&t, 22, (unsigned)(t.n - 20));
    feed(d, &R1, &t);
    CHECK(fs_nf_totals(d)->malformed[FS_NF_TRUNCATED] == 1 && fs_nf_totals(d)->templates == 0);
    /* every prefix of a valid message, and every single-byte corruption of it: no crash, no record beyond it */
    struct buf v = { .n = 0 };
    v9_header(&v, 1, 1);
    v9_template(&v, 300);
    v9_data(&v, 300, 2);
    for (size_t n = 0; n <= v.n; n++) {
        struct buf p = v;
        p.n = n;
        CHECK(feed(d, &R1, &p) <= 2);
    }
    size_t most = 0; /* a damaged template may fit more, shorter records in the same bytes: never more than bytes */
    for (size_t i = 0; i < v.n; i++)
        for (unsigned x = 1; x < 256; x <<= 1) {
            struct buf p = v;
            p.b[i] ^= (uint8_t)x;
            size_t n = feed(d, &R1, &p);
            most = n > most ? n : most;
        }
    CHECK(most < v.n);
    fs_nf_free(d);
}

int main(void)
{
    test_v5();
    test_v9();
    test_ipfix();
    CHECK_EQ_U(nonzero_unused, 0);
    test_sampling_elements();
    test_refused();
    test_sflow();
    test_sflow_counters();
    size_t unused = 0;
    for (size_t k = 0; k < FS_FLOW_NMEMBERS; k++) unused += (size_t)fs_flow_member_zero_in_exports(k);
    CHECK_EQ_U(unused, 2 * 13 + 3); /* 13 per direction, and the flow's inter-arrival sum of squares, minimum, maximum */
    test_damage();
    return check_summary("test_netflow");
}
