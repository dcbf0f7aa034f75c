/* test_meter.c - flow semantics (timeouts, teardown, initiator, eviction) and the merge rule. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "field/field.h"
#include "flow/meter.h"

#define S 1000000000ull

struct sink {
    struct fs_flow flows[64];
    int n;
};

static void collect(void *arg, struct fs_flow *f)
{
    struct sink *s = arg;
    if (s->n < 64) s->flows[s->n++] = *f;
}

static struct fs_pkt pkt(int from_b, uint64_t ts, uint8_t flags, uint32_t len, uint32_t payload)
{
    struct fs_pkt p;
    memset(&p, 0, sizeof p);
    p.key.ipver = 4;
    p.key.proto = 6;
    uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
    memcpy(p.key.a, from_b ? b : a, 4);
    memcpy(p.key.b, from_b ? a : b, 4);
    p.key.pa = from_b ? 80 : 5555;
    p.key.pb = from_b ? 5555 : 80;
    p.ts_ns = ts;
    p.tcp_flags = flags;
    p.ip_len = len;
    p.wirelen = len + 14;
    p.payload = payload;
    return p;
}

static void meter_with(struct fs_meter *m, struct sink *s, uint64_t idle, uint64_t active, int teardown)
{
    struct fs_meter_opts o;
    fs_meter_opts_default(&o);
    o.idle_ns = idle;
    o.active_ns = active;
    o.tcp_teardown = teardown;
    memset(s, 0, sizeof *s);
    fs_meter_init(m, &o, collect, s);
}

static void test_basic_and_initiator(void)
{
    struct fs_meter m;
    struct sink s;
    meter_with(&m, &s, 60 * S, 0, 1);
    /* the capture starts with the SYN-ACK: the initiator is its receiver (10.0.0.1) */
    fs_meter_packet(&m, &(struct fs_pkt){ 0 }); /* an all-zero packet is its own flow */
    struct fs_pkt p = pkt(1, 1 * S, 0x12, 60, 0);
    fs_meter_packet(&m, &p);
    p = pkt(0, 1 * S + 500, 0x10, 52, 0);
    fs_meter_packet(&m, &p);
    p = pkt(0, 2 * S, 0x18, 152, 100);
    fs_meter_packet(&m, &p);
    fs_meter_flush(&m);
    CHECK_EQ_U(s.n, 2);
    struct fs_flow *f = &s.flows[1];
    CHECK_EQ_U(f->key.a[3], 1);
    CHECK_EQ_U(f->key.pa, 5555);
    CHECK_EQ_U(f->dir[0].packets, 2);
    CHECK_EQ_U(f->dir[1].packets, 1);
    CHECK_EQ_U(f->dir[0].bytes, 204);
    CHECK_EQ_U(f->dir[0].payload, 100);
    CHECK_EQ_U(f->dir[0].nopay, 1);
    CHECK_EQ_U(f->dir[1].flags[FS_TCP_SYN], 1);
    CHECK_EQ_U(f->end_reason, FS_END_EOF);
    CHECK_EQ_U(f->first_ns, 1 * S);
    CHECK_EQ_U(f->last_ns, 2 * S);
    CHECK_EQ_U(f->iat_min, 500);
    CHECK_EQ_U(f->iat_max, 1 * S - 500);
    fs_meter_release(&m);
}

static void test_idle_and_active(void)
{
    struct fs_meter m;
    struct sink s;
    meter_with(&m, &s, 10 * S, 100 * S, 0);
    struct fs_pkt p = pkt(0, 1 * S, 0x10, 40, 0);
    fs_meter_packet(&m, &p);
    p = pkt(0, 10 * S, 0x10, 40, 0); /* 9 s later: same flow */
    fs_meter_packet(&m, &p);
    p = pkt(0, 20 * S, 0x10, 40, 0); /* 10 s idle: >= timeout ends the flow first */
    fs_meter_packet(&m, &p);
    CHECK_EQ_U(s.n, 1);
    CHECK_EQ_U(s.flows[0].end_reason, FS_END_IDLE);
    CHECK_EQ_U(s.flows[0].dir[0].packets, 2);
    /* active timeout: a flow that keeps talking is cut every 100 s */
    for (uint64_t t = 21; t <= 250; t += 5) {
        p = pkt(t % 2, t * S, 0x10, 40, 0);
        fs_meter_packet(&m, &p);
    }
    fs_meter_flush(&m);
    CHECK(s.n >= 3);
    CHECK_EQ_U(s.flows[1].end_reason, FS_END_ACTIVE_TIMEOUT);
    CHECK_EQ_U(s.flows[s.n - 1].end_reason, FS_END_EOF);
    uint64_t total = 0;
    for (int i = 0; i < s.n; i++) total += s.flows[i].dir[0].packets + s.flows[i].dir[1].packets;
    CHECK_EQ_U(total, 3 + 46);
    fs_meter_release(&m);
}

static void test_teardown(void)
{
    struct fs_meter m;
    struct sink s;
    meter_with(&m, &s, 60 * S, 0, 1);
    uint64_t t = 1 * S;
    struct fs_pkt seq[] = {
        pkt(0, t, 0x02, 60, 0), pkt(1, t + 1, 0x12, 60, 0), pkt(0, t + 2, 0x10, 52, 0),
        pkt(0, t + 3, 0x11, 52, 0), pkt(1, t + 4, 0x11, 52, 0),
        pkt(0, t + 5, 0x10, 52, 0), /* the last ACK, within the grace: same flow */
        pkt(0, t + 6, 0x02, 60, 0), /* a new SYN on the same ports: a new flow */
        pkt(1, t + 7, 0x04, 40, 0), /* RST ends it */
    };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) fs_meter_packet(&m, &seq[i]);
    CHECK_EQ_U(s.n, 1);
    CHECK_EQ_U(s.flows[0].end_reason, FS_END_FIN);
    CHECK_EQ_U(s.flows[0].dir[0].packets + s.flows[0].dir[1].packets, 6);
    /* after the grace second the RST-closed flow ends by itself */
    struct fs_pkt later = pkt(0, t + 5 * S, 0x10, 40, 0);
    later.key.pa = 9999;
    fs_meter_packet(&m, &later);
    CHECK_EQ_U(s.n, 2);
    CHECK_EQ_U(s.flows[1].end_reason, FS_END_RST);
    CHECK_EQ_U(s.flows[1].dir[0].packets + s.flows[1].dir[1].packets, 2);
    fs_meter_flush(&m);
    fs_meter_release(&m);
}

static void test_eviction(void)
{
    struct fs_meter m;
    struct sink s;
    struct fs_meter_opts o;
    fs_meter_opts_default(&o);
    o.max_flows = 2;
    memset(&s, 0, sizeof s);
    fs_meter_init(&m, &o, collect, &s);
    for (int i = 0; i < 3; i++) {
        struct fs_pkt p = pkt(0, (uint64_t)(i + 1) * S, 0x10, 40, 0);
        p.key.pa = (uint16_t)(1000 + i);
        fs_meter_packet(&m, &p);
    }
    CHECK_EQ_U(s.n, 1);
    CHECK_EQ_U(s.flows[0].end_reason, FS_END_EVICT);
    CHECK_EQ_U(s.flows[0].key.pa, 1000);
    CHECK_EQ_U(m.stats.ended[FS_END_EVICT], 1);
    fs_meter_flush(&m);
    fs_meter_release(&m);
}

static void test_emergency(void)
{
    struct fs_meter m;
    struct sink s;
    struct fs_meter_opts o;
    fs_meter_opts_default(&o);
    o.max_flows = 10;
    o.idle_ns = 100 * S;
    o.emergency_idle_ns = 5 * S;
    memset(&s, 0, sizeof s);
    fs_meter_init(&m, &o, collect, &s);
    /* eight flows, one a second: below 90% of the cap nothing ends */
    for (int i = 0; i < 8; i++) {
        struct fs_pkt p = pkt(0, (uint64_t)(i + 1) * S, 0x10, 40, 0);
        p.key.pa = (uint16_t)(1000 + i);
        fs_meter_packet(&m, &p);
    }
    CHECK_EQ_U(s.n, 0);
    /* the ninth makes 90%: the idle timeout drops to 5 s and flows idle that long end */
    struct fs_pkt p = pkt(0, 9 * S, 0x10, 40, 0);
    p.key.pa = 2000;
    fs_meter_packet(&m, &p);
    p = pkt(0, 9 * S + 1, 0x10, 40, 0);
    p.key.pa = 2001;
    fs_meter_packet(&m, &p);
    CHECK(s.n >= 4);
    CHECK_EQ_U(s.flows[0].end_reason, FS_END_EMERGENCY);
    CHECK_EQ_U(s.flows[0].key.pa, 1000);
    CHECK_EQ_U(m.stats.emergencies, 1);
    CHECK_EQ_U(m.stats.ended[FS_END_EVICT], 0);
    fs_meter_flush(&m);
    fs_meter_release(&m);
}

/* The merge rule: a flow metered whole equals the merge of its two parts, in either order. */

static void meter_part(const struct fs_pkt *v, int from, int to, struct fs_flow *out)
{
    struct fs_meter m;
    struct sink s;
    meter_with(&m, &s, 0, 0, 0);
    for (int i = from; i < to; i++) fs_meter_packet(&m, &v[i]);
    fs_meter_flush(&m);
    *out = s.flows[0];
    fs_meter_release(&m);
}

static int same_fields(const struct fs_flow *x, const struct fs_flow *y)
{
    struct fs_field_ctx ctx = { 0 };
    for (size_t i = 0; i < fs_field_count(); i++) {
        struct fs_value a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        fs_field_value(x, i, &ctx, &a);
        fs_field_value(y, i, &ctx, &b);
        int eq = a.missing == b.missing && a.u == b.u && a.ipver == b.ipver &&
                 (a.type != FS_FT_DOUBLE || (a.d - b.d < 1e-6 && b.d - a.d < 1e-6)) &&
                 (a.type != FS_FT_ADDR || memcmp(a.addr, b.addr, 16) == 0) &&
                 (a.type != FS_FT_STR || strcmp(a.s, b.s) == 0);
        if (!eq) {
            fprintf(stderr, "field %s differs\n", fs_field_at(i)->name);
            return 0;
        }
    }
    return 1;
}

static void test_merge_rule(void)
{
    struct fs_pkt v[200];
    for (int round = 0; round < 300; round++) {
        int n = 2 + (int)(check_rnd() % 150);
        uint64_t t = 1000 * S;
        for (int i = 0; i < n; i++) {
            t += check_rnd() % (2 * S);
            uint32_t pay = (uint32_t)(check_rnd() % 3 ? check_rnd() % 1460 : 0);
            v[i] = pkt((int)(check_rnd() % 2), t, (uint8_t)(check_rnd() & 0xfd), 40 + pay, pay);
        }
        int k = 1 + (int)(check_rnd() % (uint64_t)(n - 1));
        struct fs_flow whole, a, b, ab, ba;
        meter_part(v, 0, n, &whole);
        meter_part(v, 0, k, &a);
        meter_part(v, k, n, &b);
        ab = a;
        fs_flow_merge(&ab, &b);
        ba = b;
        fs_flow_merge(&ba, &a);
        CHECK(same_fields(&whole, &ab));
        CHECK(same_fields(&whole, &ba));
    }
}


/* Short flows keep a packet log instead of a record; the record rebuilt from the log, at the end or when
 * the flow outgrows it, must be the one a record updated packet by packet gives: whatever the packet count,
 * out-of-order times, gaps too long for the log's 32-bit offsets, sizes too large for its 16 bits, ICMP. */
static void test_short_flows_equal_records(void)
{
    uint64_t expect_long = 0;
    struct fs_meter m;
    struct sink s;
    struct fs_meter_opts o;
    fs_meter_opts_default(&o);
    o.idle_ns = o.active_ns = 0;
    o.tcp_teardown = 0;
    o.size_basis = FS_SIZE_FRAME;
    memset(&s, 0, sizeof s);
    fs_meter_init(&m, &o, collect, &s);
    for (int round = 0; round < 2000; round++) {
        int n = 1 + (int)(check_rnd() % 20), kind = (int)(check_rnd() % 5);
        uint64_t t = 1000 * S, base = 0;
        struct fs_flow ref;
        int long_flow = n > FS_METER_LOG;
        s.n = 0;
        for (int i = 0; i < n; i++) {
            uint32_t pay = (uint32_t)(check_rnd() % 3 ? check_rnd() % 1460 : 0);
            struct fs_pkt p = pkt((int)(check_rnd() % 2), t, (uint8_t)check_rnd(), 40 + pay, pay);
            p.key.a[1] = p.key.b[1] = (uint8_t)(round >> 8); /* one flow per round */
            p.key.a[2] = p.key.b[2] = (uint8_t)round;
            if (kind == 1 && check_rnd() % 4 == 0) p.ts_ns = t - check_rnd() % S; /* older than the last */
            if (kind == 2 && check_rnd() % 4 == 0) p.ts_ns = t += 5 * S;          /* past 2^32 ns */
            if (kind == 3 && check_rnd() % 4 == 0) p.wirelen = 70000 + (uint32_t)(check_rnd() % 1000);
            if (kind == 4) {
                p.key.proto = 1;
                p.key.pa = p.key.pb = 0;
                p.tcp_flags = 0;
                p.has_icmp = check_rnd() % 2;
                p.icmp_type = (uint8_t)check_rnd();
                p.icmp_code = (uint8_t)check_rnd();
            }
            p.is_fragment = check_rnd() % 8 == 0;
            fs_meter_packet(&m, &p);
            struct fs_pkt r = p;
            fs_pkt_route(&r, o.seed);
            struct fs_obs ob = fs_obs_of(&r, o.size_basis);
            if (i == 0) fs_flow_start(&ref, &r.key, r.from_b, &ob);
            else fs_flow_add(&ref, r.from_b, &ob);
            if (i == 0) base = r.ts_ns;
            else if (r.ts_ns < base || r.ts_ns - base > UINT32_MAX) long_flow = 1;
            if (r.wirelen > UINT16_MAX) long_flow = 1;
            t += check_rnd() % (S / 10);
        }
        expect_long += (uint64_t)long_flow;
        CHECK_EQ_U(m.stats.long_flows, expect_long);
        fs_meter_flush(&m);
        ref.end_reason = FS_END_EOF;
        fs_flow_orient(&ref);
        CHECK_EQ_U(s.n, 1);
        CHECK(memcmp(&s.flows[0], &ref, sizeof ref) == 0);
    }
    CHECK(expect_long > 300 && expect_long < 1700);
    fs_meter_release(&m);
}

/* --memcap: the bytes held never pass the cap; flows pushed out are counted and none is lost. */
static void test_memcap(void)
{
    struct fs_meter m;
    struct sink s;
    struct fs_meter_opts o;
    fs_meter_opts_default(&o);
    o.memcap = 1u << 20;
    memset(&s, 0, sizeof s);
    fs_meter_init(&m, &o, collect, &s);
    int over = 0;
    for (int i = 0; i < 200000; i++) {
        /* 4,000 flows at a time, each with 1 to 16 packets: short and long ones */
        int f = (int)(check_rnd() % 4000) + (i / 20000) * 4000;
        struct fs_pkt p = pkt((int)(check_rnd() % 2), S + (uint64_t)i * 1000, 0x10, 40, 0);
        memcpy(p.key.a, &f, sizeof f);
        fs_meter_packet(&m, &p);
        if (m.bytes > o.memcap) over++;
    }
    CHECK_EQ_U(over, 0);
    CHECK(m.stats.ended[FS_END_EVICT] > 0);
    CHECK(m.stats.ended[FS_END_EMERGENCY] == 0); /* within a second of packet time nothing idles 12 s */
    CHECK(m.stats.long_flows > 0);
    CHECK(m.stats.bytes_peak <= o.memcap);
    uint64_t live = m.live;
    CHECK_EQ_U(m.stats.flows_emitted + live, m.stats.flows_created);
    fs_meter_flush(&m);
    CHECK_EQ_U(m.stats.flows_emitted, m.stats.flows_created);
    CHECK_EQ_U(m.bytes, (uint64_t)m.nslots * sizeof(struct fs_meter_slot));
    fs_meter_release(&m);
}

int main(void)
{
    test_basic_and_initiator();
    test_idle_and_active();
    test_teardown();
    test_eviction();
    test_emergency();
    test_merge_rule();
    test_short_flows_equal_records();
    test_memcap();
    return check_summary("test_meter");
}
