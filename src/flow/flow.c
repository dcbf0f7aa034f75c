/*
 * flow.c - updating, orienting and merging flow records.
 *
 * Updates are O(1) and touch one cache-friendly record; nothing here allocates.
 * Inter-arrival times never go negative: a packet older than the flow's last
 * one counts an inter-arrival time of 0 and does not move last_ns back.
 */
#include "flow.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

const char *fs_end_reason_name(unsigned r)
{
    static const char *const names[FS_END_COUNT] = { "active", "idle", "active-timeout", "fin", "rst", "eof",
                                                     "evict", "emergency-idle" };
    return r < FS_END_COUNT ? names[r] : "?";
}

const char *fs_source_name(unsigned s)
{
    static const char *const names[FS_SOURCE_COUNT] = { "packets", "netflow5", "netflow9", "ipfix", "sflow" };
    return s < FS_SOURCE_COUNT ? names[s] : "?";
}

static void iat_add(uint64_t *last, uint64_t ts, uint64_t *mn, uint64_t *mx, fs_u128 *sq, int first)
{
    uint64_t gap = ts > *last ? ts - *last : 0;
    if (first || gap < *mn) *mn = gap;
    if (first || gap > *mx) *mx = gap;
    *sq += (fs_u128)gap * gap;
    if (ts > *last) *last = ts;
}

static void dir_add(struct fs_flow_dir *d, const struct fs_obs *p)
{
    uint32_t pay = p->payload, size = p->size;
    if (d->packets == 0) {
        d->first_ns = d->last_ns = p->ts_ns;
        d->size_min = d->size_max = size;
        d->pay_min = d->pay_max = pay;
    } else {
        iat_add(&d->last_ns, p->ts_ns, &d->iat_min, &d->iat_max, &d->iat_sq, d->packets == 1);
        if (p->ts_ns < d->first_ns) d->first_ns = p->ts_ns;
        if (size < d->size_min) d->size_min = size;
        if (size > d->size_max) d->size_max = size;
        if (pay < d->pay_min) d->pay_min = pay;
        if (pay > d->pay_max) d->pay_max = pay;
    }
    d->packets++;
    d->bytes += size;
    d->payload += pay;
    d->nopay += pay == 0;
    d->frags += p->is_fragment;
    d->size_sq += (fs_u128)size * size;
    d->pay_sq += (fs_u128)pay * pay;
    uint8_t fl = p->tcp_flags;
    if (fl) {
        d->flags_or |= fl;
        for (int i = 0; i < FS_TCP_NFLAGS; i++) d->flags[i] += (fl >> i) & 1;
    }
}

void fs_flow_start(struct fs_flow *f, const struct fs_flow_key *canon_key, int from_b, const struct fs_obs *p)
{
    memset(f, 0, sizeof *f);
    f->key = *canon_key;
    f->first_ns = f->last_ns = p->ts_ns;
    /* the initiator sends the first packet, unless that packet is a SYN-ACK */
    int src_is_b = from_b;
    if ((p->tcp_flags & 0x12) == 0x12) {
        src_is_b = !from_b;
        f->state |= FS_FLOW_SYN_SEEN;
    } else if (p->tcp_flags & 0x02) {
        f->state |= FS_FLOW_SYN_SEEN;
    }
    if (src_is_b) f->state |= FS_FLOW_SWAPPED;
    if (p->has_icmp) {
        f->state |= FS_FLOW_HAS_ICMP;
        f->icmp_type = p->icmp_type;
        f->icmp_code = p->icmp_code;
    }
    dir_add(&f->dir[from_b], p);
}

void fs_flow_add(struct fs_flow *f, int from_b, const struct fs_obs *p)
{
    iat_add(&f->last_ns, p->ts_ns, &f->iat_min, &f->iat_max, &f->iat_sq, f->dir[0].packets + f->dir[1].packets == 1);
    if (p->ts_ns < f->first_ns) f->first_ns = p->ts_ns;
    if (!(f->state & FS_FLOW_SYN_SEEN) && (p->tcp_flags & 0x02)) {
        /* the first SYN tells who initiated: a pure SYN's sender, a SYN-ACK's receiver */
        int syn_sender_is_src = (p->tcp_flags & 0x10) == 0;
        int sender_is_b = from_b;
        int src_is_b = syn_sender_is_src ? sender_is_b : !sender_is_b;
        f->state = (uint8_t)((f->state & ~FS_FLOW_SWAPPED) | (src_is_b ? FS_FLOW_SWAPPED : 0) | FS_FLOW_SYN_SEEN);
    }
    if (p->has_icmp && !(f->state & FS_FLOW_HAS_ICMP)) {
        f->state |= FS_FLOW_HAS_ICMP;
        f->icmp_type = p->icmp_type;
        f->icmp_code = p->icmp_code;
    }
    dir_add(&f->dir[from_b], p);
}


/* Swaps the endpoints and the two directions. */
static void flip(struct fs_flow *f)
{
    fs_key_swap(&f->key);
    struct fs_flow_dir t = f->dir[0];
    f->dir[0] = f->dir[1];
    f->dir[1] = t;
}

void fs_flow_orient(struct fs_flow *f)
{
    if (!(f->state & FS_FLOW_SWAPPED)) return;
    flip(f);
    f->state &= (uint8_t)~FS_FLOW_SWAPPED;
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Merges inter-arrival aggregates of two parts [af, al] (n_a packets) and [bf, bl]:
 * the gap between the earlier part's last packet and the later part's first is one
 * more inter-arrival time. */
static void iat_merge(uint64_t *mn, uint64_t *mx, fs_u128 *sq, uint64_t na, uint64_t al, uint64_t af,
                      uint64_t bmn, uint64_t bmx, fs_u128 bsq, uint64_t nb, uint64_t bf, uint64_t bl)
{
    if (nb == 0) return;
    if (na == 0) {
        *mn = bmn;
        *mx = bmx;
        *sq = bsq;
        return;
    }
    uint64_t gap = bf >= al ? bf - al : (af >= bl ? af - bl : 0);
    uint64_t m1 = na >= 2 ? min64(*mn, gap) : gap, x1 = na >= 2 ? max64(*mx, gap) : gap;
    if (nb >= 2) {
        m1 = min64(m1, bmn);
        x1 = max64(x1, bmx);
    }
    *mn = m1;
    *mx = x1;
    *sq += bsq + (fs_u128)gap * gap;
}

static void dir_merge(struct fs_flow_dir *a, const struct fs_flow_dir *b)
{
    if (b->packets == 0) return;
    if (a->packets == 0) {
        *a = *b;
        return;
    }
    iat_merge(&a->iat_min, &a->iat_max, &a->iat_sq, a->packets, a->last_ns, a->first_ns, b->iat_min, b->iat_max,
              b->iat_sq, b->packets, b->first_ns, b->last_ns);
    a->packets += b->packets;
    a->bytes += b->bytes;
    a->payload += b->payload;
    a->nopay += b->nopay;
    a->first_ns = min64(a->first_ns, b->first_ns);
    a->last_ns = max64(a->last_ns, b->last_ns);
    a->size_sq += b->size_sq;
    a->pay_sq += b->pay_sq;
    if (b->size_min < a->size_min) a->size_min = b->size_min;
    if (b->size_max > a->size_max) a->size_max = b->size_max;
    if (b->pay_min < a->pay_min) a->pay_min = b->pay_min;
    if (b->pay_max > a->pay_max) a->pay_max = b->pay_max;
    for (int i = 0; i < FS_TCP_NFLAGS; i++) a->flags[i] += b->flags[i];
    a->frags += b->frags;
    a->flags_or |= b->flags_or;
}

void fs_flow_merge(struct fs_flow *a, const struct fs_flow *bin)
{
    struct fs_flow b = *bin;
    uint64_t na = a->dir[0].packets + a->dir[1].packets, nb = b.dir[0].packets + b.dir[1].packets;
    int b_first = nb && (na == 0 || b.first_ns < a->first_ns);
    if (memcmp(a->key.a, b.key.a, 16) != 0 || a->key.pa != b.key.pa) {
        /* opposite orientations: the earlier part knows who initiated */
        if (b_first) flip(a);
        else flip(&b);
    }
    iat_merge(&a->iat_min, &a->iat_max, &a->iat_sq, na, a->last_ns, a->first_ns, b.iat_min, b.iat_max, b.iat_sq, nb,
              b.first_ns, b.last_ns);
    for (int d = 0; d < 2; d++) dir_merge(&a->dir[d], &b.dir[d]);
    if (b_first && (b.state & FS_FLOW_HAS_ICMP)) {
        a->icmp_type = b.icmp_type;
        a->icmp_code = b.icmp_code;
    }
    if (na == 0 || b.last_ns >= a->last_ns) a->end_reason = b.end_reason;
    a->state |= b.state & FS_FLOW_HAS_ICMP;
    a->first_ns = na ? min64(a->first_ns, b.first_ns) : b.first_ns;
    a->last_ns = na ? max64(a->last_ns, b.last_ns) : b.last_ns;
}

int fs_flow_cmp_first(const void *a, const void *b)
{
    const struct fs_flow *x = a, *y = b;
    if (x->first_ns != y->first_ns) return x->first_ns < y->first_ns ? -1 : 1;
    return x->last_ns < y->last_ns ? -1 : x->last_ns > y->last_ns;
}

struct fs_stat fs_stat_of(uint64_t n, double s, long double q, int sample)
{
    struct fs_stat st = { 0, 0 };
    if (n == 0) return st;
    st.mean = s / (double)n;
    uint64_t d = sample ? n - 1 : n;
    if (d == 0 || n == 1) return st; /* one value: no spread (n q - s^2 = 0) */
    long double var = (q - (long double)s * (long double)s / (long double)n) / (long double)d;
    st.stddev = var > 0 ? (double)sqrtl(var) : 0.0;
    return st;
}

struct fs_stat fs_stat_exact(uint64_t n, uint64_t s, fs_u128 q, int sample)
{
    struct fs_stat st = { 0, 0 };
    if (n == 0) return st;
    st.mean = (double)s / (double)n;
    uint64_t d = sample ? n - 1 : n;
    if (d == 0 || n == 1) return st; /* one value: no spread (n q - s^2 = 0) */
    /* n q - s^2 is exact in 128 bits when it fits; it is the variance times n d */
    fs_u128 nq, s2 = (fs_u128)s * s;
    if (__builtin_mul_overflow((fs_u128)n, q, &nq)) return fs_stat_of(n, (double)s, (long double)q, sample);
    double num = nq > s2 ? (double)(nq - s2) : 0.0;
    st.stddev = sqrt(num / ((double)n * (double)d));
    return st;
}

#define MEMBER(n, m) { n, offsetof(struct fs_flow, m), (uint32_t)sizeof(((struct fs_flow *)0)->m) }
#define DIR_MEMBERS(d)                                                                                         \
    MEMBER("d" #d ".packets", dir[d].packets), MEMBER("d" #d ".bytes", dir[d].bytes),                           \
        MEMBER("d" #d ".payload", dir[d].payload), MEMBER("d" #d ".nopay", dir[d].nopay),                      \
        MEMBER("d" #d ".first_ns", dir[d].first_ns), MEMBER("d" #d ".last_ns", dir[d].last_ns),                \
        MEMBER("d" #d ".size_sq", dir[d].size_sq), MEMBER("d" #d ".pay_sq", dir[d].pay_sq),                    \
        MEMBER("d" #d ".iat_sq", dir[d].iat_sq), MEMBER("d" #d ".iat_min", dir[d].iat_min),                    \
        MEMBER("d" #d ".iat_max", dir[d].iat_max), MEMBER("d" #d ".size_min", dir[d].size_min),                \
        MEMBER("d" #d ".size_max", dir[d].size_max), MEMBER("d" #d ".pay_min", dir[d].pay_min),                \
        MEMBER("d" #d ".pay_max", dir[d].pay_max), MEMBER("d" #d ".flags", dir[d].flags),                      \
        MEMBER("d" #d ".frags", dir[d].frags), MEMBER("d" #d ".flags_or", dir[d].flags_or)

const struct fs_flow_member fs_flow_member_array[FS_FLOW_NMEMBERS] = {
    MEMBER("first_ns", first_ns), MEMBER("last_ns", last_ns), MEMBER("addr_src", key.a), MEMBER("addr_dst", key.b),
    MEMBER("port_src", key.pa), MEMBER("port_dst", key.pb), MEMBER("vlan", key.vlan), MEMBER("vlan2", key.vlan2),
    MEMBER("tunnel_id", key.tunnel_id), MEMBER("proto", key.proto), MEMBER("ipver", key.ipver),
    MEMBER("tunnel_type", key.tunnel_type), MEMBER("iat_sq", iat_sq), MEMBER("iat_min", iat_min),
    MEMBER("iat_max", iat_max), MEMBER("end_reason", end_reason), MEMBER("state", state),
    MEMBER("icmp_type", icmp_type), MEMBER("icmp_code", icmp_code), DIR_MEMBERS(0), DIR_MEMBERS(1),
    MEMBER("exporter", exporter), MEMBER("domain", domain), MEMBER("sampling", sampling), MEMBER("in_if", in_if),
    MEMBER("out_if", out_if), MEMBER("source", source), MEMBER("exporter_ipver", exporter_ipver),
};
const struct fs_flow_member *const fs_flow_members = fs_flow_member_array;

int fs_flow_member_zero_in_exports(size_t k)
{
    /* by name: the members an export never fills (collect/netflow.c). No table built on first use: store writer
     * threads call this at once, and the store asks once per column and row group. */
    static const char *const unused[] = { "size_sq", "pay_sq", "iat_sq", "iat_min", "iat_max", "size_min",
                                          "size_max", "pay_min", "pay_max", "flags", "frags", "payload", "nopay" };
    if (k >= FS_FLOW_NMEMBERS) return 0;
    const char *n = strchr(fs_flow_member_array[k].name, '.');
    n = n ? n + 1 : fs_flow_member_array[k].name;
    for (size_t u = 0; u < sizeof unused / sizeof unused[0]; u++)
        if (strcmp(n, unused[u]) == 0) return 1;
    return 0;
}

int fs_flow_member_zero_in_packets(size_t k)
{
    return k < FS_FLOW_NMEMBERS && fs_flow_member_array[k].off >= offsetof(struct fs_flow, exporter);
}

const struct fs_flow_member *fs_flow_member_find(const char *name)
{
    for (size_t k = 0; k < FS_FLOW_NMEMBERS; k++)
        if (strcmp(fs_flow_members[k].name, name) == 0) return &fs_flow_members[k];
    return NULL;
}
