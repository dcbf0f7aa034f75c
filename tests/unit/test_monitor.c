/*
 * test_monitor.c - the monitor's parts: the space-saving top list (exact while it has room, heavy hitters kept
 * with bounded error, merges), the byte-key map (insert, find, rebuild), the windows (closed by the clock
 * without data, late data dropped, longer windows exact), flow records equal to their packets, and host
 * profiles (quiet on a steady host, loud on a spike, the same after a save and a load, damage detected).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "monitor/monitor.h"
#include "monitor/profile.h"
#include "sketch/topk.h"
#include "util/bmap.h"

static void key16(uint8_t k[16], uint32_t v)
{
    memset(k, 0, 16);
    memcpy(k, &v, 4);
}

static void test_topk(void)
{
    struct fs_topk t;
    memset(&t, 0, sizeof t);
    uint8_t k[16];
    for (uint32_t i = 0; i < FS_TOPK_M; i++) {
        key16(k, i);
        fs_topk_add(&t, k, 100 * (i + 1), 1);
        fs_topk_add(&t, k, 1, 1);
    }
    CHECK_EQ_U(t.replaced, 0);
    fs_topk_sort(&t);
    CHECK_EQ_U(fs_topk_entries(&t)[0].bytes, 100 * FS_TOPK_M + 1);
    CHECK_EQ_U(fs_topk_entries(&t)[0].flows, 2);
    CHECK_EQ_U(fs_topk_entries(&t)[FS_TOPK_M - 1].bytes, 101);
    fs_topk_free(&t);
    /* a stream of 10,000 distinct small keys and 3 heavy ones: the heavy ones stay, within their error */
    uint64_t total = 0, heavy[3] = { 0 };
    for (uint32_t i = 0; i < 30000; i++) {
        uint32_t key = i % 3 == 0 ? 1000000 + i % 9 / 3 : (uint32_t)(check_rnd() % 10000);
        uint64_t w = i % 3 == 0 ? 50 : 10;
        key16(k, key);
        fs_topk_add(&t, k, w, 1);
        total += w;
        if (i % 3 == 0) heavy[i % 9 / 3] += w;
    }
    CHECK(t.replaced > 0);
    CHECK(t.cap == FS_TOPK_M);
    for (int h = 0; h < 3; h++) {
        int found = 0;
        for (uint32_t i = 0; i < t.n; i++) {
            uint32_t key;
            memcpy(&key, fs_topk_entries(&t)[i].key, 4);
            if (key != 1000000u + (uint32_t)h) continue;
            found = 1;
            CHECK(fs_topk_entries(&t)[i].bytes >= heavy[h] && fs_topk_entries(&t)[i].bytes - fs_topk_entries(&t)[i].err <= heavy[h]);
            CHECK(fs_topk_entries(&t)[i].err <= total / FS_TOPK_M);
        }
        CHECK(found);
    }
    fs_topk_free(&t);
    /* merging two exact summaries is exact */
    struct fs_topk a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    for (uint32_t i = 0; i < 4; i++) {
        key16(k, i);
        fs_topk_add(&a, k, 10, 1);
        key16(k, i + 2);
        fs_topk_add(&b, k, 5, 2);
    }
    fs_topk_merge(&a, &b);
    CHECK_EQ_U(a.n, 6);
    CHECK_EQ_U(a.replaced, 0);
    const struct fs_topk_entry *mf = fs_topk_most_flows(&a);
    uint32_t key;
    memcpy(&key, mf->key, 4);
    CHECK_EQ_U(key, 2); /* 3 flows and 15 bytes, like key 3: the smaller key wins the tie */
    fs_topk_free(&a);
    fs_topk_free(&b);
}

static int keep_even(void *arg, const void *key, void *val)
{
    (void)arg;
    (void)val;
    uint64_t k;
    memcpy(&k, key, 8);
    return k % 2 == 0;
}

static void test_bmap(void)
{
    struct fs_bmap m;
    fs_bmap_init(&m, 8, 8);
    for (uint64_t i = 0; i < 100000; i++) {
        int created;
        uint64_t *v = fs_bmap_get(&m, &i, fs_bmap_hash(&i, 8), &created);
        CHECK(v && created);
        *v = i * 3;
    }
    int all = 1;
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t *v = fs_bmap_find(&m, &i, fs_bmap_hash(&i, 8));
        all &= v && *v == i * 3;
    }
    CHECK(all);
    fs_bmap_rebuild_keep(&m, keep_even, NULL);
    CHECK_EQ_U(m.n, 50000);
    all = 1;
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t *v = fs_bmap_find(&m, &i, fs_bmap_hash(&i, 8));
        all &= i % 2 ? v == NULL : (v && *v == i * 3);
    }
    CHECK(all);
    fs_bmap_free(&m);
}

/* ---- windows ---- */

#define S 1000000000ull
#define T0 (1700000000ull * S)

struct got {
    struct fs_host_window rec[256];
    int level[256];
    int n;
};

static void on_rec(void *arg, int level, const struct fs_host_window *r)
{
    struct got *g = arg;
    if (g->n < 256) {
        g->rec[g->n] = *r;
        g->level[g->n++] = level;
    }
}

static struct fs_pkt pkt(uint32_t a, uint32_t b, uint16_t pa, uint16_t pb, uint64_t ts, uint32_t len, uint8_t flags)
{
    struct fs_pkt p;
    memset(&p, 0, sizeof p);
    memcpy(p.key.a, &a, 4);
    memcpy(p.key.b, &b, 4);
    p.key.pa = pa;
    p.key.pb = pb;
    p.key.proto = 6;
    p.key.ipver = 4;
    p.ts_ns = ts;
    p.ip_len = p.wirelen = len;
    p.tcp_flags = flags;
    return p;
}

static void test_windows(void)
{
    struct fs_monitor_opts o;
    fs_monitor_opts_default(&o);
    o.all_hosts = 1;
    o.nwindows = 2;
    o.windows_ns[0] = 1 * S;
    o.windows_ns[1] = 10 * S;
    o.lateness_ns = S / 2;
    static struct got g;
    memset(&g, 0, sizeof g);
    struct fs_monitor m;
    CHECK(fs_monitor_init(&m, &o, on_rec, &g) == FS_OK);
    for (int i = 0; i < 5; i++) { /* one conversation, a packet each way every second */
        struct fs_pkt p = pkt(1, 2, 1000, 80, T0 + (uint64_t)i * S + S / 10, 100, 0x10);
        CHECK(fs_monitor_packet(&m, &p) == FS_OK);
        p = pkt(2, 1, 80, 1000, T0 + (uint64_t)i * S + S / 5, 300, 0x10);
        CHECK(fs_monitor_packet(&m, &p) == FS_OK);
    }
    /* windows 0..2 closed by the packets' clock (4.2 s - 0.5 s lateness), two hosts each */
    CHECK_EQ_U(g.n, 6);
    struct fs_pkt late = pkt(1, 2, 1000, 80, T0 + S / 2, 100, 0x10);
    CHECK(fs_monitor_packet(&m, &late) == FS_OK);
    CHECK_EQ_U(m.stats.late_packets, 1);
    /* the clock alone closes window 4 and the 10 s window */
    CHECK(fs_monitor_advance(&m, T0 + 11 * S) == FS_OK);
    CHECK_EQ_U(g.n, 12);
    int tens = 0;
    for (int i = 0; i < g.n; i++) {
        const struct fs_host_window *r = &g.rec[i];
        if (g.level[i] == 0) {
            uint32_t h;
            memcpy(&h, r->host, 4);
            CHECK_EQ_U(r->out.flows, 1);
            CHECK_EQ_U(r->out.packets, 1);
            CHECK_EQ_U(r->out.bytes, h == 1 ? 100 : 300);
            CHECK_EQ_U(r->in.bytes, h == 1 ? 300 : 100);
            CHECK_EQ_U(r->out.flags[FS_TCP_ACK], 1);
            CHECK_EQ_U(r->out.new_flows, r->start_ns == T0 ? 1 : 0);
            CHECK_EQ_U(r->end_ns - r->start_ns, S);
        } else {
            tens++;
            CHECK_EQ_U(r->end_ns - r->start_ns, 10 * S);
            CHECK_EQ_U(r->out.flows, 1); /* one flow over five seconds, not five */
            CHECK_EQ_U(r->out.packets, 5);
            CHECK_EQ_U(r->sessions, 1);
            CHECK_EQ_U(r->out.avg_duration_ns, 2 * S + S / 10); /* mean of 0.1, 1.1, 2.1, 3.1, 4.1 */
        }
    }
    CHECK_EQ_U(tens, 2);
    CHECK(fs_monitor_finish(&m) == FS_OK);
    CHECK_EQ_U(g.n, 12);
    fs_monitor_release(&m);

    /* the same traffic as one flow record gives the same 10 s window */
    static struct got g2;
    memset(&g2, 0, sizeof g2);
    o.nwindows = 1;
    o.windows_ns[0] = 10 * S;
    CHECK(fs_monitor_init(&m, &o, on_rec, &g2) == FS_OK);
    struct fs_flow f;
    memset(&f, 0, sizeof f);
    uint32_t a = 1, b = 2;
    memcpy(f.key.a, &a, 4);
    memcpy(f.key.b, &b, 4);
    f.key.pa = 1000;
    f.key.pb = 80;
    f.key.proto = 6;
    f.key.ipver = 4;
    f.first_ns = T0 + S / 10;
    f.last_ns = T0 + 4 * S + S / 5;
    f.dir[0].packets = 5;
    f.dir[0].bytes = 500;
    f.dir[0].flags[FS_TCP_ACK] = 5;
    f.dir[1].packets = 5;
    f.dir[1].bytes = 1500;
    f.dir[1].flags[FS_TCP_ACK] = 5;
    CHECK(fs_monitor_flow(&m, &f, 0) == FS_OK);
    struct fs_flow sampled = f; /* an sFlow-like record, 1 packet in 64, in the next window */
    sampled.first_ns += 20 * S;
    sampled.last_ns += 20 * S;
    sampled.sampling = 64;
    sampled.state = FS_FLOW_EXPORTED;
    sampled.dir[0].flags_or = 0x10;
    CHECK(fs_monitor_flow(&m, &sampled, 0) == FS_OK);
    CHECK(fs_monitor_finish(&m) == FS_OK);
    CHECK_EQ_U(g2.n, 4);
    for (int i = 2; i < 4; i++) {
        const struct fs_host_window *r = &g2.rec[i];
        uint32_t h;
        memcpy(&h, r->host, 4);
        CHECK_EQ_U(r->out.packets, 5 * 64);
        CHECK_EQ_U(r->out.bytes, (h == 1 ? 500 : 1500) * 64);
        CHECK_EQ_U(r->out.flags[FS_TCP_ACK], h == 1 ? 1 : 0); /* an export's flags: flows with the flag */
    }
    g2.n = 2;
    for (int i = 0; i < g2.n; i++) {
        const struct fs_host_window *r = &g2.rec[i];
        uint32_t h;
        memcpy(&h, r->host, 4);
        CHECK_EQ_U(r->out.bytes, h == 1 ? 500 : 1500);
        CHECK_EQ_U(r->out.packets, 5);
        CHECK_EQ_U(r->out.flags[FS_TCP_ACK], 5);
        CHECK_EQ_U(r->out.avg_duration_ns, 4 * S + S / 10);
    }
    fs_monitor_release(&m);
}

/* fs_monitor_flows (batched, fetched ahead) gives the records of fs_monitor_flow one by one */
struct sink {
    struct fs_host_window *v;
    size_t n, cap;
};

static void to_sink(void *arg, int level, const struct fs_host_window *r)
{
    (void)level;
    struct sink *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = *r;
}

static void test_batch(void)
{
    enum { N = 20000 };
    struct fs_flow *f = calloc(N, sizeof *f);
    for (int i = 0; i < N; i++) {
        uint32_t a = 0x0a000000u | (uint32_t)(check_rnd() % 300), b = 0xc0000200u | (uint32_t)(check_rnd() % 50);
        a = __builtin_bswap32(a);
        b = __builtin_bswap32(b);
        int swap = (int)(check_rnd() & 1);
        memcpy(f[i].key.a, swap ? &b : &a, 4);
        memcpy(f[i].key.b, swap ? &a : &b, 4);
        f[i].key.pa = (uint16_t)(check_rnd() % 3);
        f[i].key.pb = (uint16_t)(80 + check_rnd() % 3);
        f[i].key.proto = 6;
        f[i].key.ipver = 4;
        f[i].last_ns = T0 + (uint64_t)i * (S / 500) + check_rnd() % (S / 10);
        f[i].first_ns = f[i].last_ns - check_rnd() % S;
        f[i].dir[0].packets = 1 + check_rnd() % 5;
        f[i].dir[0].bytes = 60 * f[i].dir[0].packets;
        f[i].dir[1].packets = check_rnd() % 3;
        f[i].dir[1].bytes = 1000 * f[i].dir[1].packets;
        f[i].dir[0].flags[FS_TCP_SYN] = 1;
    }
    struct fs_prefix net;
    fs_prefix_parse("10.0.0.0/8", &net);
    struct fs_monitor_opts o;
    fs_monitor_opts_default(&o);
    o.prefixes = &net;
    o.nprefixes = 1;
    o.nwindows = 3;
    o.windows_ns[0] = S;
    o.windows_ns[1] = 5 * S;
    o.windows_ns[2] = 20 * S;
    struct sink one = { 0 }, many = { 0 };
    struct fs_monitor m;
    CHECK(fs_monitor_init(&m, &o, to_sink, &one) == FS_OK);
    for (int i = 0; i < N; i++) CHECK(fs_monitor_flow(&m, &f[i], 0) == FS_OK);
    fs_monitor_finish(&m);
    fs_monitor_release(&m);
    CHECK(fs_monitor_init(&m, &o, to_sink, &many) == FS_OK);
    for (int i = 0; i < N; i += 300) CHECK(fs_monitor_flows(&m, &f[i], N - i < 300 ? (size_t)(N - i) : 300, 0) == FS_OK);
    fs_monitor_finish(&m);
    fs_monitor_release(&m);
    CHECK(one.n > 1000);
    CHECK_EQ_U(one.n, many.n);
    CHECK(one.n == many.n && memcmp(one.v, many.v, one.n * sizeof *one.v) == 0);
    /* and packets: fs_monitor_packets gives the records of fs_monitor_packet */
    struct fs_pkt *pk = calloc(N, sizeof *pk);
    for (int i = 0; i < N; i++) {
        pk[i].key = f[i].key;
        pk[i].ts_ns = T0 + (uint64_t)i * (S / 500);
        pk[i].ip_len = pk[i].wirelen = (uint32_t)(40 + check_rnd() % 1400);
        pk[i].tcp_flags = (uint8_t)(check_rnd() % 64);
    }
    one.n = many.n = 0;
    CHECK(fs_monitor_init(&m, &o, to_sink, &one) == FS_OK);
    for (int i = 0; i < N; i++) CHECK(fs_monitor_packet(&m, &pk[i]) == FS_OK);
    fs_monitor_finish(&m);
    fs_monitor_release(&m);
    CHECK(fs_monitor_init(&m, &o, to_sink, &many) == FS_OK);
    for (int i = 0; i < N; i += 37) CHECK(fs_monitor_packets(&m, &pk[i], N - i < 37 ? (size_t)(N - i) : 37) == FS_OK);
    fs_monitor_finish(&m);
    fs_monitor_release(&m);
    CHECK(one.n > 1000);
    CHECK(one.n == many.n && memcmp(one.v, many.v, one.n * sizeof *one.v) == 0);
    free(pk);
    free(one.v);
    free(many.v);
    free(f);
}

/* ---- profiles ---- */

static struct fs_host_window window_of(uint64_t start, uint64_t bytes, uint64_t flows)
{
    struct fs_host_window r;
    memset(&r, 0, sizeof r);
    r.start_ns = start;
    r.end_ns = start + 300 * S;
    r.host[0] = 10;
    r.host[3] = 7;
    r.host_ipver = 4;
    r.out.bytes = bytes;
    r.out.flows = flows;
    r.out.peers = 3;
    r.in.bytes = bytes / 2;
    r.in.flows = flows;
    return r;
}

static void test_profiles(void)
{
    struct fs_profiles p;
    fs_profiles_init(&p, 300 * S, 0.1, 1000);
    uint64_t start = T0 - T0 % (7 * 24 * 3600 * S); /* a whole number of weeks */
    uint32_t worst = 0;
    uint64_t w = 0;
    for (; w < 4 * 7 * 24 * 12; w++) { /* four weeks of 5 min windows, steady with some noise */
        struct fs_host_window r = window_of(start + w * 300 * S, 1000000 + check_rnd() % 200000, 20 + check_rnd() % 5);
        CHECK(fs_profiles_apply(&p, &r) == FS_OK);
        if (w >= 3 * 7 * 24 * 12 && r.deviation > worst) worst = r.deviation;
    }
    CHECK(worst > 0 && worst < 300); /* warm, and within 3 standard deviations on steady traffic */
    struct fs_host_window spike = window_of(start + w * 300 * S, 100000000, 22);
    struct fs_host_window copy = spike;
    CHECK(fs_profiles_apply(&p, &spike) == FS_OK);
    CHECK(spike.deviation > 500);
    CHECK_EQ_U(spike.deviation_metric, FS_METRIC_OUT_BYTES);
    /* saved and loaded: the same profile scores the same */
    char path[] = "/tmp/fs-test-profiles-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char err[512];
    CHECK(fs_profiles_save(&p, path, err, sizeof err) == FS_OK);
    struct fs_profiles q;
    fs_profiles_init(&q, 300 * S, 0.1, 1000);
    uint64_t loaded = 0;
    CHECK(fs_profiles_load(&q, path, &loaded, err, sizeof err) == FS_OK);
    CHECK_EQ_U(loaded, 1);
    CHECK(memcmp(fs_profiles_find(&q, spike.host, 4), fs_profiles_find(&p, spike.host, 4),
                 sizeof(struct fs_host_profile)) == 0);
    struct fs_host_window again = copy;
    again.start_ns += 300 * S;
    struct fs_host_window again2 = again;
    CHECK(fs_profiles_apply(&p, &again) == FS_OK);
    CHECK(fs_profiles_apply(&q, &again2) == FS_OK);
    CHECK_EQ_U(again.deviation, again2.deviation);
    fs_profiles_free(&q);
    /* another window length, and a damaged file, are refused with a message naming the file */
    fs_profiles_init(&q, 60 * S, 0.1, 1000);
    CHECK(fs_profiles_load(&q, path, &loaded, err, sizeof err) != FS_OK && strstr(err, path));
    fs_profiles_free(&q);
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    fs_profiles_init(&q, 300 * S, 0.1, 1000);
    CHECK(fs_profiles_load(&q, path, &loaded, err, sizeof err) == FS_ERR_FORMAT && strstr(err, "damaged"));
    fs_profiles_free(&q);
    CHECK(truncate(path, 30) == 0);
    fs_profiles_init(&q, 300 * S, 0.1, 1000);
    CHECK(fs_profiles_load(&q, path, &loaded, err, sizeof err) == FS_ERR_FORMAT);
    fs_profiles_free(&q);
    unlink(path);
    /* a missing file is a fresh start */
    fs_profiles_init(&q, 300 * S, 0.1, 1000);
    CHECK(fs_profiles_load(&q, path, &loaded, err, sizeof err) == FS_OK && loaded == 0);
    fs_profiles_free(&q);
    /* max_hosts: one more host is refused, not scored */
    fs_profiles_free(&p);
    fs_profiles_init(&p, 300 * S, 0.1, 1);
    struct fs_host_window r1 = window_of(start, 1, 1), r2 = r1;
    r2.host[3] = 8;
    CHECK(fs_profiles_apply(&p, &r1) == FS_OK && fs_profiles_apply(&p, &r2) == FS_OK);
    CHECK_EQ_U(p.refused, 1);
    fs_profiles_free(&p);
}

int main(void)
{
    test_topk();
    test_bmap();
    test_windows();
    test_batch();
    test_profiles();
    return check_summary("test_monitor");
}
