/* test_store.c - the store: round trip of every record field, partitions, damage and leftovers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "util/crc32c.h"
#include "store/store.h"


/* A record with every member random (within what the meter produces: padding zero). */
static void random_flow(struct fs_flow *f, uint64_t first)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 16; i++) f->key.a[i] = (uint8_t)check_rnd(), f->key.b[i] = (uint8_t)check_rnd();
    f->key.pa = (uint16_t)check_rnd();
    f->key.pb = (uint16_t)check_rnd();
    f->key.vlan = (uint16_t)(check_rnd() & 0xfff);
    f->key.vlan2 = (uint16_t)(check_rnd() & 0xfff);
    f->key.tunnel_id = (uint32_t)check_rnd();
    f->key.proto = (uint8_t)check_rnd();
    f->key.ipver = check_rnd() & 1 ? 4 : 6;
    f->key.tunnel_type = (uint8_t)(check_rnd() % FS_TUNNEL_COUNT);
    f->first_ns = first;
    f->last_ns = first + check_rnd() % 1000000000000ull;
    f->iat_sq = (fs_u128)check_rnd() << 64 | check_rnd();
    f->iat_min = check_rnd();
    f->iat_max = check_rnd();
    f->end_reason = (uint8_t)(check_rnd() % FS_END_COUNT);
    f->state = (uint8_t)check_rnd();
    f->icmp_type = (uint8_t)check_rnd();
    f->icmp_code = (uint8_t)check_rnd();
    for (int d = 0; d < 2; d++) {
        struct fs_flow_dir *x = &f->dir[d];
        x->packets = check_rnd();
        x->bytes = check_rnd();
        x->payload = check_rnd();
        x->nopay = check_rnd();
        x->first_ns = check_rnd();
        x->last_ns = check_rnd();
        x->size_sq = (fs_u128)check_rnd() << 64 | check_rnd();
        x->pay_sq = (fs_u128)check_rnd() << 64 | check_rnd();
        x->iat_sq = (fs_u128)check_rnd() << 64 | check_rnd();
        x->iat_min = check_rnd();
        x->iat_max = check_rnd();
        x->size_min = (uint32_t)check_rnd();
        x->size_max = (uint32_t)check_rnd();
        x->pay_min = (uint32_t)check_rnd();
        x->pay_max = (uint32_t)check_rnd();
        for (int k = 0; k < FS_TCP_NFLAGS; k++) x->flags[k] = (uint32_t)check_rnd();
        x->frags = (uint32_t)check_rnd();
        x->flags_or = (uint8_t)check_rnd();
    }
}

#define SWAP_IF_LESS(a, b)                                                                                   \
    do {                                                                                                     \
        if ((a) < (b)) {                                                                                     \
            __typeof__(a) t_ = (a);                                                                          \
            (a) = (b);                                                                                       \
            (b) = t_;                                                                                        \
        }                                                                                                    \
    } while (0)

/* The same, with the orders every metered record keeps (maxima at or above minima, a last time after the first
 * of its kind), so that the store keeps the maxima and last times as their excess (codec 6). */
static void ordered_flow(struct fs_flow *f, uint64_t first)
{
    random_flow(f, first);
    SWAP_IF_LESS(f->iat_max, f->iat_min);
    for (int d = 0; d < 2; d++) {
        struct fs_flow_dir *x = &f->dir[d];
        SWAP_IF_LESS(x->iat_max, x->iat_min);
        SWAP_IF_LESS(x->size_max, x->size_min);
        SWAP_IF_LESS(x->pay_max, x->pay_min);
        SWAP_IF_LESS(x->last_ns, x->first_ns);
    }
    SWAP_IF_LESS(f->last_ns, f->dir[0].last_ns);
}

/* How many column entries of the store's segments use codec c (their directories, row group by row group). */
static size_t codec_count(const char *dir, uint32_t c)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cat %s/flows/*/*.fss", dir);
    FILE *p = popen(cmd, "r");
    size_t len = 0, cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    for (size_t got; p && b && (got = fread(b + len, 1, cap - len, p)) > 0;)
        if ((len += got) == cap && !(b = realloc(b, cap *= 2))) break;
    if (p) pclose(p);
    for (size_t at = 0; b && at + 64 <= len;) { /* row groups one after another (segments too, concatenated) */
        uint32_t ncols;
        uint64_t gsize;
        memcpy(&ncols, b + at + 12, 4);
        memcpy(&gsize, b + at + 48, 8);
        if (memcmp(b + at, "FSSEG01\n", 8) != 0 || gsize < 64 || at + 64 + (size_t)ncols * 96 > len) break;
        for (uint32_t k = 0; k < ncols; k++) {
            uint32_t codec;
            memcpy(&codec, b + at + 64 + (size_t)k * 96 + 36, 4);
            n += codec == c;
        }
        at += gsize;
    }
    free(b);
    return n;
}

struct got {
    struct fs_flow *v;
    size_t n, cap;
    int damaged;
};

static int collect(void *arg, const void *record)
{
    struct got *g = arg;
    const struct fs_flow *f = record;
    if (g->n < g->cap) g->v[g->n] = *f;
    g->n++; /* counted even past the room, so a test sees too many */
    return 0;
}

static void on_damage(void *arg, const char *msg)
{
    struct got *g = arg;
    g->damaged++;
    CHECK(strstr(msg, ".fss'") != NULL); /* the message names the segment */
}

static int by_first(const void *a, const void *b)
{
    const struct fs_flow *x = a, *y = b;
    return x->first_ns < y->first_ns ? -1 : x->first_ns > y->first_ns;
}

/* How many of in[0..n) (in time order) the records read into g match, member for member, once sorted too. */
static size_t same_records(const struct fs_flow *in, size_t n, struct got *g)
{
    qsort(g->v, g->n < g->cap ? g->n : g->cap, sizeof *g->v, by_first);
    size_t same = 0;
    for (size_t i = 0; i < n && i < g->n; i++) same += memcmp(&in[i], &g->v[i], sizeof *in) == 0;
    return same;
}

/* CRC-32C: the RFC 3720 check value, and the hardware and table versions agree on every length and split. */
static void test_crc32c(void)
{
    CHECK_EQ_U(fs_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_U(fs_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)check_rnd();
    int same = 1;
    for (size_t n = 0; n <= sizeof buf; n++) {
        size_t cut = n / 3;
        same &= fs_crc32c(0, buf, n) == fs_crc32c_sw(0, buf, n);
        same &= fs_crc32c(fs_crc32c(0, buf, cut), buf + cut, n - cut) == fs_crc32c_sw(0, buf, n);
    }
    CHECK(same);
}

/* Compaction: small segments merge into few, every record reads back once and identical, and an interrupted
 * compaction (its parts still there beside the merged segment) neither doubles records nor survives the next. */
static void test_compact(const struct fs_flow *in, size_t n, struct got *g)
{
    char dir[] = "/tmp/flowsift-test-compact-XXXXXX", err[512], cmd[1024];
    if (!mkdtemp(dir)) return;
    struct fs_store_writer *w;
    CHECK(fs_store_writer_new(&w, dir, "flows", 1000, err, sizeof err) == FS_OK);
    for (size_t i = 0; i < n; i++) CHECK(fs_store_writer_add(w, &in[i]) == FS_OK || (i = n));
    CHECK(fs_store_writer_close(w, err, sizeof err) == FS_OK);
    /* keep two small segments aside, to put back as if the compaction had been killed before removing them */
    snprintf(cmd, sizeof cmd, "cd %s/flows && d=$(ls | head -1) && cp $d/$(ls $d | head -1) $d/$(ls $d | tail -1) %s/",
             dir, dir);
    CHECK(system(cmd) == 0);
    struct fs_store_compact_stats cs;
    CHECK(fs_store_compact(dir, "flows", &cs, err, sizeof err) == FS_OK);
    CHECK(cs.segments_before > 100 && cs.segments_after <= cs.partitions * 3 && cs.segments_merged > 100);
    CHECK_EQ_U(cs.rows, n);
    snprintf(cmd, sizeof cmd, "cd %s/flows && d=$(ls | head -1) && cp %s/seg-* $d/", dir, dir);
    CHECK(system(cmd) == 0);
    struct fs_store_scan_stats st;
    g->n = 0;
    CHECK(fs_store_scan(dir, "flows", NULL, collect, on_damage, g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g->n, n); /* the put-back parts are ignored: their merged segment replaces them */
    CHECK_EQ_U(same_records(in, n, g), n);
    CHECK(fs_store_compact(dir, "flows", &cs, err, sizeof err) == FS_OK);
    CHECK_EQ_U(cs.leftovers_removed, 2);
    CHECK_EQ_U(cs.segments_merged, 0);
    g->n = 0;
    CHECK(fs_store_scan(dir, "flows", NULL, collect, on_damage, g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g->n, n);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

struct adder {
    struct fs_store_writer *w;
    const struct fs_flow *v;
    size_t n;
    fs_result rc;
};

static void *add_all(void *arg)
{
    struct adder *a = arg;
    for (size_t i = 0; i < a->n && a->rc == FS_OK; i += 97)
        a->rc = fs_store_writer_add_many(a->w, a->v + i, a->n - i < 97 ? a->n - i : 97);
    return NULL;
}

/* Records of six hours at once, in no order, from two threads: more partitions than row groups open at once
 * (the smallest goes out partial), so every path of the writer's bucketing runs. Each record lands in the
 * partition of its hour, no segment is named before its hour, and every record reads back identical. */
static void test_partitions(struct got *g)
{
    enum { M = 60000, PARTS = 6 };
    char dir[] = "/tmp/flowsift-test-parts-XXXXXX", err[512], cmd[2048];
    if (!mkdtemp(dir)) return;
    struct fs_flow *in = malloc(M * sizeof *in);
    uint64_t hour_ns = 3600000000000ull, h0 = 1700000000000000000ull / hour_ns * hour_ns;
    for (size_t i = 0; i < M; i++) random_flow(&in[i], h0 + (check_rnd() % PARTS) * hour_ns + check_rnd() % hour_ns);
    struct fs_store_writer *w;
    CHECK(fs_store_writer_new(&w, dir, "flows", 20000, err, sizeof err) == FS_OK);
    struct adder a[2] = { { w, in, M / 2, FS_OK }, { w, in + M / 2, M - M / 2, FS_OK } };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, add_all, &a[1]) == 0);
    add_all(&a[0]);
    pthread_join(t, NULL);
    CHECK(a[0].rc == FS_OK && a[1].rc == FS_OK);
    CHECK(fs_store_writer_close(w, err, sizeof err) == FS_OK);
    struct fs_store_scan_stats st;
    g->n = 0;
    CHECK(fs_store_scan(dir, "flows", NULL, collect, on_damage, g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g->n, M);
    CHECK_EQ_U(st.partitions, PARTS);
    CHECK(st.segments >= PARTS * 3); /* 60,000 records in epochs of 20,000: a segment per partition each */
    CHECK(st.groups <= PARTS * 3 * 2); /* not a sliver of a group per record whose partition has no bucket */
    qsort(in, M, sizeof *in, by_first);
    CHECK_EQ_U(same_records(in, M, g), M);
    /* every segment's name (its first record's time) lies in its partition's hour */
    snprintf(cmd, sizeof cmd,
             "cd %s/flows && for d in *; do h=$(date -u -d \"$(echo $d | sed -E 's/(....)(..)(..)T(..)/\\1-\\2-\\3 \\4:00/')\" +%%s);"
             " for f in $d/seg-*; do s=$(basename $f | cut -c5-15 | sed 's/^0*//'); [ $s -ge $h ] && [ $s -lt $((h + 3600)) ] || exit 1;"
             " done; done",
             dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    free(in);
}

/* Records of one hour in no order make one segment whose row groups each span the hour (a writer sorts each
 * group, not the segment): compaction rewrites it in time order, and then a window of a few minutes reads a
 * group or two, not all of them. Every record reads back identical, and a second compaction leaves it. */
static void test_resort(struct got *g)
{
    enum { M = 30000 };
    char dir[] = "/tmp/flowsift-test-resort-XXXXXX", err[512], cmd[1024];
    if (!mkdtemp(dir)) return;
    struct fs_flow *in = malloc(M * sizeof *in);
    uint64_t hour_ns = 3600000000000ull, h0 = 1700000000000000000ull / hour_ns * hour_ns;
    for (size_t i = 0; i < M; i++) random_flow(&in[i], h0 + check_rnd() % hour_ns);
    struct fs_store_writer *w;
    CHECK(fs_store_writer_new(&w, dir, "flows", 0, err, sizeof err) == FS_OK);
    CHECK(fs_store_writer_add_many(w, in, M) == FS_OK);
    CHECK(fs_store_writer_close(w, err, sizeof err) == FS_OK);
    uint64_t since = h0 + 600000000000ull, until = since + 60000000000ull; /* a minute, ten minutes in */
    struct fs_store_query tq = { since, until, NULL, NULL, 0, NULL };
    struct fs_store_scan_stats st;
    g->n = 0;
    CHECK(fs_store_scan(dir, "flows", &tq, collect, on_damage, g, &st, err, sizeof err) == FS_OK);
    size_t want = 0;
    for (size_t i = 0; i < M; i++) want += in[i].first_ns >= since && in[i].first_ns < until;
    CHECK_EQ_U(g->n, want);
    CHECK_EQ_U(st.groups_skipped, 0); /* every group spans the hour */
    struct fs_store_compact_stats cs;
    CHECK(fs_store_compact(dir, "flows", &cs, err, sizeof err) == FS_OK);
    CHECK_EQ_U(cs.segments_merged, 1);
    CHECK_EQ_U(cs.segments_written, 1);
    g->n = 0;
    CHECK(fs_store_scan(dir, "flows", &tq, collect, on_damage, g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g->n, want);
    CHECK(st.groups - st.groups_skipped <= 2 && st.groups >= 4);
    g->n = 0;
    CHECK(fs_store_scan(dir, "flows", NULL, collect, on_damage, g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g->n, M);
    qsort(in, M, sizeof *in, by_first);
    CHECK_EQ_U(same_records(in, M, g), M);
    CHECK(fs_store_compact(dir, "flows", &cs, err, sizeof err) == FS_OK);
    CHECK_EQ_U(cs.segments_merged, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    free(in);
}

int main(void)
{
    test_crc32c();
    char dir[] = "/tmp/flowsift-test-store-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    enum { N = 150000 };
    struct fs_flow *in = malloc(N * sizeof *in);
    struct got g = { malloc(N * sizeof *in), 0, N, 0 };
    uint64_t base = 1700000000000000000ull;
    for (size_t i = 0; i < N; i++) { /* ~2 h, in order; the first hour's records in the orders the meter keeps */
        uint64_t t = base + i * 50000000ull + (check_rnd() % 7);
        if (i < N / 2) ordered_flow(&in[i], t);
        else random_flow(&in[i], t);
    }
    struct fs_store_writer *w;
    char err[512];
    CHECK(fs_store_writer_new(&w, dir, "flows", 0, err, sizeof err) == FS_OK);
    for (size_t i = 0; i < N; i++) CHECK(fs_store_writer_add(w, &in[i]) == FS_OK || (i = N));
    CHECK(fs_store_writer_close(w, err, sizeof err) == FS_OK);
    struct fs_store_scan_stats st;
    CHECK(fs_store_scan(dir, "flows", NULL, collect, on_damage, &g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g.n, N);
    CHECK(st.partitions >= 2 && st.segments >= 3);
    CHECK_EQ_U(same_records(in, N, &g), N); /* every member of every record reads back identical */
    /* both ways of keeping maxima and last times: as excesses (codec 6) and as they are */
    CHECK(codec_count(dir, 6) >= 9);
    CHECK(codec_count(dir, 2) >= 9);

    /* a time range: only records whose first packet lies in it, segments outside skipped */
    g.n = 0;
    uint64_t since = base + 3600000000000ull, until = base + 3700000000000ull;
    struct fs_store_query tq = { since, until, NULL, NULL, 0, NULL };
    CHECK(fs_store_scan(dir, "flows", &tq, collect, on_damage, &g, &st, err, sizeof err) == FS_OK);
    size_t want = 0;
    for (size_t i = 0; i < N; i++) want += in[i].first_ns >= since && in[i].first_ns < until;
    CHECK_EQ_U(g.n, want);
    CHECK(st.groups_skipped >= 1);

    /* column conditions: exactly the rows that pass them, each column type (one, sum, either) */
    struct fs_colpred cp[3];
    memset(cp, 0, sizeof cp);
    cp[0] = (struct fs_colpred){ FS_COLPRED_ONE, FS_COLPRED_LT, 20000, { "port_dst", "" } };
    cp[1] = (struct fs_colpred){ FS_COLPRED_SUM, FS_COLPRED_GE, 1ull << 63, { "d0.packets", "d1.packets" } };
    cp[2] = (struct fs_colpred){ FS_COLPRED_EITHER, FS_COLPRED_NE, 7, { "proto", "ipver" } };
    struct fs_store_query cq = { 0, 0, "port_dst", cp, 3, NULL };
    g.n = 0;
    CHECK(fs_store_scan(dir, "flows", &cq, collect, on_damage, &g, &st, err, sizeof err) == FS_OK);
    want = 0;
    for (size_t i = 0; i < N; i++) {
        uint64_t sum = in[i].dir[0].packets + in[i].dir[1].packets; /* wraps as the scan's sum does */
        want += in[i].key.pb < 20000 && sum >= (1ull << 63) && (in[i].key.proto != 7 || in[i].key.ipver != 7);
    }
    CHECK_EQ_U(g.n, want);
    CHECK(want > 1000);
    int only_asked = 1;
    for (size_t i = 0; i < g.n && i < g.cap; i++) only_asked &= g.v[i].key.pb < 20000 && g.v[i].key.pa == 0 && g.v[i].dir[0].packets == 0;
    CHECK(only_asked); /* the asked column is there, the others are zero (the condition columns too) */
    CHECK_EQ_U(st.groups_pruned, 0);
    /* minima and maxima rule out whole segments, unread */
    cp[0] = (struct fs_colpred){ FS_COLPRED_ONE, FS_COLPRED_GT, 0xfff, { "vlan", "" } };
    struct fs_store_query pq = { 0, 0, NULL, cp, 1, NULL };
    g.n = 0;
    CHECK(fs_store_scan(dir, "flows", &pq, collect, on_damage, &g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g.n, 0);
    CHECK(st.groups > st.segments && st.groups_pruned == st.groups);
    CHECK(st.bytes < (uint64_t)st.groups * 8000); /* headers and directories only */
    cp[0].col[0][0] = 'x';
    CHECK(fs_store_scan(dir, "flows", &pq, collect, on_damage, &g, &st, err, sizeof err) == FS_ERR_ARG);

    /* damage: a flipped byte in one segment and a truncated other one are reported; the rest reads */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "set -e; cd %s/flows; a=$(ls */*.fss | head -1); b=$(ls */*.fss | tail -1);"
             " printf '\\377' | dd of=$a bs=1 seek=5000 conv=notrunc status=none; truncate -s -10 $b", dir);
    CHECK(system(cmd) == 0);
    g.n = 0;
    g.damaged = 0;
    CHECK(fs_store_scan(dir, "flows", NULL, collect, on_damage, &g, &st, err, sizeof err) == FS_OK);
    CHECK_EQ_U(g.damaged, 2);
    CHECK_EQ_U(st.segments_damaged, 2);
    CHECK(g.n > 0 && g.n < N);

    /* a killed writer's temporary file is removed and counted when the store is next opened */
    snprintf(cmd, sizeof cmd,
             "cd %s/flows && d=$(ls | head -1) && sh -c 'echo $$' > /tmp/flowsift-dead-pid && "
             "echo partial > $d/.tmp-$(cat /tmp/flowsift-dead-pid)-seg-x.fss && echo live > $d/.tmp-1-seg-y.fss",
             dir);
    CHECK(system(cmd) == 0);
    uint64_t removed = 0;
    CHECK(fs_store_prepare(dir, 0, &removed, err, sizeof err) == FS_OK);
    CHECK_EQ_U(removed, 0); /* a reader removes nothing */
    CHECK(fs_store_prepare(dir, 1, &removed, err, sizeof err) == FS_OK);
    CHECK_EQ_U(removed, 1); /* the dead writer's file goes; pid 1's (alive) stays */
    CHECK(fs_store_prepare("/nonexistent/store", 0, NULL, err, sizeof err) == FS_ERR_IO);
    CHECK(strstr(err, "/nonexistent/store") != NULL);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    test_compact(in, N, &g);
    test_partitions(&g);
    test_resort(&g);
    free(in);
    free(g.v);
    return check_summary("test_store");
}
