/*
 * monitor.c - per-host windowed statistics; see monitor.h.
 *
 * Three kinds of maps: the conversations of packets (key -> first and last packet, whether it was torn down);
 * per open base window (several while they wait for late data), the conversations' partials of that window;
 * per longer length, the host accumulators of its open window. A closing base window groups its partials by
 * host (radix sort), emits one exact record per host and folds it into the host's accumulator of the next
 * length; a closing longer window emits its accumulators and folds them into the next length in turn.
 */
#include "monitor.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sketch/hll.h"
#include "../sketch/topk.h"

#define DEFAULT_MAX_CONVERSATIONS 10000000

struct conv {
    uint64_t first_ns, last_ns;
    uint8_t closed;              /* a FIN or RST was seen: a SYN starts a new conversation */
    uint8_t pad[7];
};

struct part {
    uint64_t hash;               /* of the key (fs_bmap_hash), kept for the merge into the next length */
    uint64_t conv_first_ns, last_ns;
    uint64_t packets[2], bytes[2];  /* 0: key.a -> key.b (canonical key), 1: b -> a */
    uint32_t flags[2][FS_TCP_NFLAGS];
    uint8_t is_new, mon_a, mon_b;
};

/* One end of a conversation partial that is a monitored host, to be grouped by host. */
struct fs_monitor_end {
    uint64_t hhash;              /* of the host's address and version */
    uint32_t part;               /* index in the parts map */
    uint32_t end;                /* 0: key.a, 1: key.b */
};

/* What a host's window collects of one kind of peer or port, before grouping. */
struct fs_monitor_peer {
    uint64_t hi, lo;             /* the address as two big-endian words: sorts as memcmp would */
    uint64_t bytes;
    uint64_t flows;
};

struct fs_monitor_port {
    uint32_t port;
    uint32_t flows;
    uint64_t bytes;
};

/* Bytes per protocol of one side of a host (scratch of host_record). */
struct fs_monitor_protos {
    uint64_t bytes[256];
    uint8_t seen[256];
    uint8_t list[256];
    int n;
};

struct fs_monitor_window {
    uint64_t idx;                /* start / base length */
    struct fs_bmap parts;        /* struct fs_flow_key -> struct part */
};

/* A host's side (out or in) of a longer window, merged from its base windows: sums, distinct-count sketches
 * and top lists (hll.h, topk.h). */
struct hacc_dir {
    uint64_t new_flows, packets, bytes, dur_sum, dur_n;
    uint64_t flags[FS_TCP_NFLAGS];
    struct fs_hll flows, peers, ports;   /* one-way flow keys, peer addresses, destination ports */
    struct fs_topk proto, port, peer;
};

struct hacc {
    uint64_t khash;                      /* the hash of the host's key in every length's map: host_hash() */
    struct fs_hll sessions;              /* conversation keys */
    struct hacc_dir d[2];                /* 0 out, 1 in */
};

struct hkey {
    uint8_t addr[16];
    uint8_t ipver;
    uint8_t pad[7];
};

void fs_monitor_opts_default(struct fs_monitor_opts *o)
{
    memset(o, 0, sizeof *o);
    static const uint64_t s = 1000000000ull;
    const uint64_t w[] = { 10 * s, 30 * s, 60 * s, 300 * s, 3600 * s };
    memcpy(o->windows_ns, w, sizeof w);
    o->nwindows = 5;
    o->lateness_ns = 2 * s;
    o->idle_ns = 120 * s;
    o->max_conversations = DEFAULT_MAX_CONVERSATIONS;
    o->size_basis = FS_SIZE_IP;
}

int fs_prefix_parse(const char *s, struct fs_prefix *p)
{
    char buf[64];
    memset(p, 0, sizeof *p);
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    if (slash) *slash = 0;
    int max;
    if (inet_pton(AF_INET, buf, p->addr) == 1) {
        p->ipver = 4;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
        p->ipver = 6;
        max = 128;
    } else {
        return -1;
    }
    int bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b < 0 || b > max) return -1;
        bits = (int)b;
    }
    p->bits = (uint8_t)bits;
    for (int i = bits; i < 128; i++) p->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8)); /* host bits off */
    return 0;
}

static int prefix_has(const struct fs_prefix *p, const uint8_t a[16], uint8_t ipver)
{
    if (p->ipver != ipver) return 0;
    int full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->addr, a, (size_t)full) != 0) return 0;
    return rest == 0 || ((p->addr[full] ^ a[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

int fs_monitor_watches(const struct fs_monitor *m, const uint8_t addr[16], uint8_t ipver)
{
    if (m->opts.all_hosts) return 1;
    for (size_t i = 0; i < m->opts.nprefixes; i++)
        if (prefix_has(&m->prefixes[i], addr, ipver)) return 1;
    return 0;
}

fs_result fs_monitor_init(struct fs_monitor *m, const struct fs_monitor_opts *o, fs_host_emit_fn emit, void *arg)
{
    memset(m, 0, sizeof *m);
    if (o->nwindows < 1 || o->nwindows > FS_MONITOR_MAX_LEVELS || o->nprefixes > FS_MONITOR_MAX_PREFIXES)
        return FS_ERR_ARG;
    for (int l = 0; l < o->nwindows; l++)
        if (!o->windows_ns[l] || (l && o->windows_ns[l] % o->windows_ns[l - 1])) return FS_ERR_ARG;
    m->opts = *o;
    if (!m->opts.max_conversations) m->opts.max_conversations = DEFAULT_MAX_CONVERSATIONS;
    if (o->nprefixes) memcpy(m->prefixes, o->prefixes, o->nprefixes * sizeof *o->prefixes);
    m->opts.prefixes = m->prefixes;
    m->emit = emit;
    m->emit_arg = arg;
    if (!(m->protos = calloc(2, sizeof(struct fs_monitor_protos))) ||
        !(m->radix_count = malloc((1u << 16) * sizeof *m->radix_count)))
        return FS_ERR_NOMEM;
    fs_bmap_init(&m->conv, sizeof(struct fs_flow_key), sizeof(struct conv));
    for (int l = 0; l < FS_MONITOR_MAX_LEVELS; l++)
        fs_bmap_init(&m->level_hosts[l], sizeof(struct hkey), sizeof(struct hacc));
    return FS_OK;
}

/* ---- closing a window: its partials grouped by monitored host ---- */

static uint64_t host_hash(const uint8_t a[16], uint8_t ipver)
{
    uint64_t h = fs_be64_at(a) * 0x9e3779b97f4a7c15ull ^ (fs_be64_at(a + 8) + ipver) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

/* Grows a scratch array to hold n elements of size sz. */
static int room(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < n) c *= 2;
    void *p = realloc(*v, c * sz);
    if (!p) return -1;
    *v = p;
    *cap = c;
    return 0;
}

/* Sorts the ends by host hash: LSD radix sort, 16 bits a pass. */
static int sort_ends(struct fs_monitor *m, size_t n)
{
    if (room((void **)&m->ends_tmp, &m->ends_tmp_cap, n, sizeof *m->ends)) return -1;
    struct fs_monitor_end *a = m->ends, *b = m->ends_tmp;
    uint32_t *count = m->radix_count;
    for (int pass = 0; pass < 4; pass++) {
        int shift = 16 * pass;
        memset(count, 0, (1u << 16) * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(a[i].hhash >> shift) & 0xffff]++;
        uint32_t sum = 0;
        for (size_t d = 0; d < (1u << 16); d++) {
            uint32_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) b[count[(a[i].hhash >> shift) & 0xffff]++] = a[i];
        struct fs_monitor_end *t = a;
        a = b;
        b = t;
    }
    return 0; /* four passes: the result is back in m->ends */
}

static int cmp_end(const void *pa, const void *pb)
{
    const struct fs_monitor_end *x = pa, *y = pb;
    return x->hhash < y->hhash ? -1 : x->hhash > y->hhash;
}

static int cmp_peer(const void *pa, const void *pb)
{
    const struct fs_monitor_peer *a = pa, *b = pb;
    if (a->hi != b->hi) return a->hi < b->hi ? -1 : 1;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int cmp_port(const void *pa, const void *pb)
{
    const struct fs_monitor_port *a = pa, *b = pb;
    return a->port < b->port ? -1 : a->port > b->port;
}

_Static_assert(sizeof(struct fs_monitor_peer) <= 32 && sizeof(struct fs_monitor_port) <= 32 &&
                   sizeof(struct fs_monitor_end) <= 32, "sort_small's element buffer holds every element");

/* Sorts n elements of size sz (at most 32 bytes): insertion sort while few (most hosts have a peer or two;
 * qsort's setup would dominate), qsort beyond. Inlined, so that sz and cmp are constants at each call. */
static inline void sort_small(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
    if (n > 16) {
        qsort(v, n, sz, cmp);
        return;
    }
    char *e = v, x[32];
    for (size_t i = 1; i < n; i++) {
        memcpy(x, e + i * sz, sz);
        size_t j = i;
        while (j > 0 && cmp(e + (j - 1) * sz, x) > 0) {
            memcpy(e + j * sz, e + (j - 1) * sz, sz);
            j--;
        }
        memcpy(e + j * sz, x, sz);
    }
}

/* Puts element g (size sz) at rank `at` of a top list of ntop elements kept to max (the last falls off);
 * returns the new count. */
static size_t top_insert(void *top, size_t ntop, size_t max, size_t at, const void *g, size_t sz)
{
    if (at >= max) return ntop;
    size_t last = ntop < max ? ntop : max - 1;
    char *t = top;
    memmove(t + (at + 1) * sz, t + at * sz, (last - at) * sz);
    memcpy(t + at * sz, g, sz);
    return ntop < max ? ntop + 1 : ntop;
}

/* Whether (bytes, key order) a ranks before b: more bytes first, then the smaller key. */
static int peer_before(const struct fs_monitor_peer *a, const struct fs_monitor_peer *b)
{
    return a->bytes != b->bytes ? a->bytes > b->bytes : cmp_peer(a, b) < 0;
}

/* The most flows, then the most bytes, then the smaller key. */
static int peer_busier(const struct fs_monitor_peer *a, const struct fs_monitor_peer *b)
{
    if (a->flows != b->flows) return a->flows > b->flows;
    return peer_before(a, b);
}

static void put_addr(uint8_t out[16], const struct fs_monitor_peer *p)
{
    uint64_t hi = __builtin_bswap64(p->hi), lo = __builtin_bswap64(p->lo);
    memcpy(out, &hi, 8);
    memcpy(out + 8, &lo, 8);
}

/* Groups one side's peers: distinct count, the top by bytes, the one with the most flows. */
static int finish_peers(struct fs_host_dir *o, struct fs_monitor_peer *v, size_t n, uint8_t ipver,
                        struct hacc_dir *up)
{
    int bad = 0;
    sort_small(v, n, sizeof *v, cmp_peer);
    struct fs_monitor_peer top[FS_HOST_TOP_PEERS], busiest;
    size_t ntop = 0, distinct = 0;
    uint64_t listed = 0;
    for (size_t i = 0; i < n;) {
        struct fs_monitor_peer g = v[i++];
        while (i < n && v[i].hi == g.hi && v[i].lo == g.lo) {
            g.bytes += v[i].bytes;
            g.flows += v[i].flows;
            i++;
        }
        if (distinct++ == 0 || peer_busier(&g, &busiest)) busiest = g;
        if (up) {
            uint8_t a[16];
            put_addr(a, &g);
            bad |= fs_topk_add(&up->peer, a, g.bytes, g.flows) | fs_hll_add(&up->peers, fs_hll_hash(a, 16));
        }
        size_t at = ntop;
        while (at > 0 && peer_before(&g, &top[at - 1])) at--;
        ntop = top_insert(top, ntop, FS_HOST_TOP_PEERS, at, &g, sizeof g);
    }
    o->peers = distinct > UINT32_MAX ? UINT32_MAX : (uint32_t)distinct;
    for (size_t i = 0; i < ntop; i++) {
        put_addr(o->peer[i], &top[i]);
        o->peer_ipver[i] = ipver;
        o->peer_bytes[i] = top[i].bytes;
        listed += top[i].bytes;
    }
    o->peer_other = o->bytes - listed;
    if (distinct) {
        put_addr(o->top_peer, &busiest);
        o->top_peer_ipver = ipver;
    }
    return bad;
}

static int port_before(const struct fs_monitor_port *a, const struct fs_monitor_port *b)
{
    return a->bytes != b->bytes ? a->bytes > b->bytes : a->port < b->port;
}

static int finish_ports(struct fs_host_dir *o, struct fs_monitor_port *v, size_t n, struct hacc_dir *up)
{
    int bad = 0;
    sort_small(v, n, sizeof *v, cmp_port);
    struct fs_monitor_port top[FS_HOST_TOP_PORTS], busiest = { 0, 0, 0 };
    size_t ntop = 0, distinct = 0;
    uint64_t all = 0, listed = 0;
    for (size_t i = 0; i < n;) {
        struct fs_monitor_port g = v[i++];
        while (i < n && v[i].port == g.port) {
            g.bytes += v[i].bytes;
            g.flows += v[i].flows;
            i++;
        }
        all += g.bytes;
        if (up) {
            uint8_t key[16] = { (uint8_t)(g.port >> 8), (uint8_t)g.port };
            uint16_t port = (uint16_t)g.port;
            bad |= fs_topk_add(&up->port, key, g.bytes, g.flows) | fs_hll_add(&up->ports, fs_hll_hash(&port, 2));
        }
        if (distinct++ == 0 || g.flows > busiest.flows || (g.flows == busiest.flows && port_before(&g, &busiest)))
            busiest = g;
        size_t at = ntop;
        while (at > 0 && port_before(&g, &top[at - 1])) at--;
        ntop = top_insert(top, ntop, FS_HOST_TOP_PORTS, at, &g, sizeof g);
    }
    o->ports = distinct > UINT32_MAX ? UINT32_MAX : (uint32_t)distinct;
    for (size_t i = 0; i < ntop; i++) {
        o->port[i] = top[i].port;
        o->port_bytes[i] = top[i].bytes;
        listed += top[i].bytes;
    }
    o->port_other = all - listed;
    o->top_port = busiest.port;
    return bad;
}


static int finish_protos(struct fs_host_dir *o, struct fs_monitor_protos *pb, struct hacc_dir *up)
{
    uint64_t listed = 0;
    int bad = 0;
    for (int i = 0; up && i < pb->n; i++) {
        uint8_t key[16] = { pb->list[i] };
        bad |= fs_topk_add(&up->proto, key, pb->bytes[pb->list[i]], 1);
    }
    for (int k = 0; k < FS_HOST_TOP_PROTOS; k++) {
        int best = -1;
        for (int i = 0; i < pb->n; i++) {
            int p = pb->list[i];
            if (pb->seen[p] == 2) continue;
            if (best < 0 || pb->bytes[p] > pb->bytes[best] || (pb->bytes[p] == pb->bytes[best] && p < best)) best = p;
        }
        if (best < 0) break;
        pb->seen[best] = 2;
        o->proto[k] = (uint32_t)best;
        o->proto_bytes[k] = pb->bytes[best];
        listed += pb->bytes[best];
    }
    o->proto_other = o->bytes - listed;
    for (int i = 0; i < pb->n; i++) {
        pb->bytes[pb->list[i]] = 0;
        pb->seen[pb->list[i]] = 0;
    }
    pb->n = 0;
    return bad;
}

/* ---- longer windows: host accumulators ---- */

static void hacc_free(struct hacc *h)
{
    fs_hll_free(&h->sessions);
    for (int d = 0; d < 2; d++) {
        fs_hll_free(&h->d[d].flows);
        fs_hll_free(&h->d[d].peers);
        fs_hll_free(&h->d[d].ports);
        fs_topk_free(&h->d[d].proto);
        fs_topk_free(&h->d[d].port);
        fs_topk_free(&h->d[d].peer);
    }
}

static size_t hacc_heap(const struct hacc *h)
{
    size_t n = fs_hll_bytes(&h->sessions);
    for (int d = 0; d < 2; d++)
        n += fs_hll_bytes(&h->d[d].flows) + fs_hll_bytes(&h->d[d].peers) + fs_hll_bytes(&h->d[d].ports) +
             fs_topk_bytes(&h->d[d].proto) + fs_topk_bytes(&h->d[d].port) + fs_topk_bytes(&h->d[d].peer);
    return n;
}

static fs_result hacc_merge(struct hacc *into, const struct hacc *from)
{
    if (fs_hll_merge(&into->sessions, &from->sessions)) return FS_ERR_NOMEM;
    for (int d = 0; d < 2; d++) {
        struct hacc_dir *a = &into->d[d];
        const struct hacc_dir *b = &from->d[d];
        a->new_flows += b->new_flows;
        a->packets += b->packets;
        a->bytes += b->bytes;
        a->dur_sum += b->dur_sum;
        a->dur_n += b->dur_n;
        for (int k = 0; k < FS_TCP_NFLAGS; k++) a->flags[k] += b->flags[k];
        if (fs_hll_merge(&a->flows, &b->flows) || fs_hll_merge(&a->peers, &b->peers) ||
            fs_hll_merge(&a->ports, &b->ports))
            return FS_ERR_NOMEM;
        if (fs_topk_merge(&a->proto, &b->proto) || fs_topk_merge(&a->port, &b->port) ||
            fs_topk_merge(&a->peer, &b->peer))
            return FS_ERR_NOMEM;
    }
    return FS_OK;
}

static uint32_t count32(const struct fs_hll *h)
{
    double c = fs_hll_count(h) + 0.5;
    return c >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

static uint32_t topk_port(const struct fs_topk_entry *e) { return (uint32_t)e->key[0] << 8 | e->key[1]; }

static void fill_from_hacc(struct fs_host_dir *o, struct hacc_dir *d, uint8_t ipver)
{
    o->flows = count32(&d->flows);
    o->new_flows = d->new_flows;
    o->packets = d->packets;
    o->bytes = d->bytes;
    o->avg_duration_ns = d->dur_n ? d->dur_sum / d->dur_n : 0;
    o->peers = count32(&d->peers);
    o->ports = count32(&d->ports);
    for (int k = 0; k < FS_TCP_NFLAGS; k++) o->flags[k] = d->flags[k] > UINT32_MAX ? UINT32_MAX : (uint32_t)d->flags[k];
    fs_topk_sort(&d->proto);
    fs_topk_sort(&d->port);
    fs_topk_sort(&d->peer);
    const struct fs_topk_entry *pr = fs_topk_centries(&d->proto), *po = fs_topk_centries(&d->port),
                               *pe = fs_topk_centries(&d->peer);
    uint64_t listed = 0, ported = 0;
    for (uint32_t i = 0; i < d->proto.n && i < FS_HOST_TOP_PROTOS; i++) {
        o->proto[i] = pr[i].key[0];
        o->proto_bytes[i] = pr[i].bytes;
        listed += pr[i].bytes;
    }
    o->proto_other = listed < d->bytes ? d->bytes - listed : 0; /* a summary that replaced keys overstates */
    listed = 0;
    for (uint32_t i = 0; i < d->port.n; i++) ported += po[i].bytes;
    for (uint32_t i = 0; i < d->port.n && i < FS_HOST_TOP_PORTS; i++) {
        o->port[i] = topk_port(&po[i]);
        o->port_bytes[i] = po[i].bytes;
        listed += po[i].bytes;
    }
    o->port_other = ported - listed;
    listed = 0;
    for (uint32_t i = 0; i < d->peer.n && i < FS_HOST_TOP_PEERS; i++) {
        memcpy(o->peer[i], pe[i].key, 16);
        o->peer_ipver[i] = ipver;
        o->peer_bytes[i] = pe[i].bytes;
        listed += pe[i].bytes;
    }
    o->peer_other = listed < d->bytes ? d->bytes - listed : 0;
    const struct fs_topk_entry *e = fs_topk_most_flows(&d->peer);
    if (e) {
        memcpy(o->top_peer, e->key, 16);
        o->top_peer_ipver = ipver;
    }
    e = fs_topk_most_flows(&d->port);
    if (e) o->top_port = topk_port(e);
}

static int has_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132; }

/* The record of one host: ends[0..n) are its ends of the window's partials. */
static fs_result host_record(struct fs_monitor *m, const struct fs_bmap *parts, const struct fs_monitor_end *ends,
                             size_t n, struct fs_host_window *rec, struct hacc *up)
{
    const struct fs_flow_key *k0 = fs_bmap_key(parts, ends[0].part);
    uint8_t ipver = k0->ipver;
    memcpy(rec->host, ends[0].end ? k0->b : k0->a, 16);
    rec->host_ipver = ipver;
    rec->sessions = 0;
    size_t np[2] = { 0, 0 }, nq[2] = { 0, 0 };
    uint64_t dur[2] = { 0, 0 };
    struct fs_monitor_protos *protos = m->protos;
    for (size_t i = 0; i < n; i++) {
        if (i + 4 < n) __builtin_prefetch(fs_bmap_key(parts, ends[i + 4].part));
        const struct fs_flow_key *k = fs_bmap_key(parts, ends[i].part);
        const struct part *p = fs_bmap_val(parts, ends[i].part);
        unsigned e = ends[i].end;
        if (!(e == 1 && memcmp(k->a, k->b, 16) == 0)) rec->sessions++; /* a host talking to itself: once */
        if (up && fs_hll_add(&up->sessions, p->hash)) return FS_ERR_NOMEM;
        for (unsigned d = 0; d < 2; d++) {
            if (!p->packets[d]) continue;
            unsigned side = d ^ e; /* the host sent direction d (out) when it is that direction's sender */
            struct fs_host_dir *o = side ? &rec->in : &rec->out;
            if (up && fs_hll_add(&up->d[side].flows, p->hash ^ (d ? 0x5851f42d4c957f2dull : 0)))
                return FS_ERR_NOMEM; /* the one-way flow's key, for the distinct flows of longer windows */
            o->flows++;
            o->new_flows += p->is_new;
            o->packets += p->packets[d];
            o->bytes += p->bytes[d];
            dur[side] += p->last_ns - p->conv_first_ns;
            for (int f = 0; f < FS_TCP_NFLAGS; f++) o->flags[f] += p->flags[d][f];
            if (room((void **)&m->peers[side], &m->peers_cap[side], np[side] + 1, sizeof *m->peers[side]))
                return FS_ERR_NOMEM;
            const uint8_t *peer = e ? k->a : k->b;
            m->peers[side][np[side]++] = (struct fs_monitor_peer){ fs_be64_at(peer), fs_be64_at(peer + 8), p->bytes[d], 1 };
            if (has_ports(k->proto)) {
                if (room((void **)&m->ports[side], &m->ports_cap[side], nq[side] + 1, sizeof *m->ports[side]))
                    return FS_ERR_NOMEM;
                m->ports[side][nq[side]++] = (struct fs_monitor_port){ d ? k->pa : k->pb, 1, p->bytes[d] };
            }
            struct fs_monitor_protos *pb = &protos[side];
            if (!pb->seen[k->proto]) {
                pb->seen[k->proto] = 1;
                pb->list[pb->n++] = k->proto;
            }
            pb->bytes[k->proto] += p->bytes[d];
        }
    }
    for (int side = 0; side < 2; side++) {
        struct fs_host_dir *o = side ? &rec->in : &rec->out;
        o->avg_duration_ns = o->flows ? dur[side] / o->flows : 0;
        struct hacc_dir *u = up ? &up->d[side] : NULL;
        if (u) { /* the sums of this side go to the longer window as they are; its flows are its pieces */
            u->new_flows += o->new_flows;
            u->packets += o->packets;
            u->bytes += o->bytes;
            u->dur_sum += dur[side];
            u->dur_n += o->flows;
            for (int f = 0; f < FS_TCP_NFLAGS; f++) u->flags[f] += o->flags[f];
        }
        if (finish_peers(o, m->peers[side], np[side], ipver, u) | finish_ports(o, m->ports[side], nq[side], u) |
            finish_protos(o, &protos[side], u))
            return FS_ERR_NOMEM;
    }
    return FS_OK;
}

static int same_host(const struct fs_bmap *parts, const struct fs_monitor_end *x, const struct fs_monitor_end *y)
{
    const struct fs_flow_key *a = fs_bmap_key(parts, x->part), *b = fs_bmap_key(parts, y->part);
    return a->ipver == b->ipver && memcmp(x->end ? a->b : a->a, y->end ? b->b : b->a, 16) == 0;
}

/* Ends by host address (qsort_r: arg is the parts map). */
static int cmp_end_key(const void *pa, const void *pb, void *arg)
{
    const struct fs_bmap *parts = arg;
    const struct fs_monitor_end *x = pa, *y = pb;
    const struct fs_flow_key *a = fs_bmap_key(parts, x->part), *b = fs_bmap_key(parts, y->part);
    if (a->ipver != b->ipver) return a->ipver < b->ipver ? -1 : 1;
    return memcmp(x->end ? a->b : a->a, y->end ? b->b : b->a, 16);
}

/* Emits the accumulators of the open window of length `level` (>= 1) and merges them into the next length. */
static fs_result close_level(struct fs_monitor *m, int level);

/* Makes window idx the open window of length `level` (>= 1), closing the one before if it is another. */
static fs_result roll_level(struct fs_monitor *m, int level, uint64_t idx)
{
    if (m->level_open[level] && m->level_idx[level] == idx) return FS_OK;
    fs_result rc = m->level_open[level] ? close_level(m, level) : FS_OK;
    m->level_open[level] = 1;
    m->level_idx[level] = idx;
    return rc;
}

/* A host's accumulator in a longer length's map (created zeroed, with its key's hash, if absent). */
static struct hacc *hacc_get(struct fs_bmap *hosts, const struct hkey *k, uint64_t khash, int *created)
{
    int made;
    struct hacc *a = fs_bmap_get(hosts, k, khash, &made);
    if (a && made) a->khash = khash;
    if (created) *created = made;
    return a;
}

static void note_memory(struct fs_monitor *m, uint64_t extra);

static void start_record(struct fs_host_window *rec, uint64_t idx, uint64_t len)
{
    memset(rec, 0, sizeof *rec);
    rec->start_ns = idx * len;
    rec->end_ns = rec->start_ns + len;
}

static fs_result close_level(struct fs_monitor *m, int level)
{
    struct fs_bmap *hosts = &m->level_hosts[level];
    uint64_t idx = m->level_idx[level], len = m->opts.windows_ns[level];
    m->level_open[level] = 0;
    int up = level + 1 < m->opts.nwindows;
    fs_result rc = FS_OK;
    if (up && hosts->n) rc = roll_level(m, level + 1, idx * len / m->opts.windows_ns[level + 1]);
    uint64_t heap = 0; /* the sketches' arrays, counted as the loop meets them */
    if (hosts->n) m->stats.windows[level]++;
    struct fs_bmap *next = up ? &m->level_hosts[level + 1] : NULL;
    for (uint32_t i = 0; i < hosts->n; i++) {
        const struct hkey *k = fs_bmap_key(hosts, i);
        struct hacc *h = fs_bmap_val(hosts, i);
        if (next && i + 8 < hosts->n) /* the next length's slot of a host coming up */
            fs_bmap_prefetch_slot(next, ((const struct hacc *)fs_bmap_val(hosts, i + 8))->khash);
        struct fs_host_window rec;
        start_record(&rec, idx, len);
        memcpy(rec.host, k->addr, 16);
        rec.host_ipver = k->ipver;
        rec.sessions = count32(&h->sessions);
        fill_from_hacc(&rec.out, &h->d[0], k->ipver);
        fill_from_hacc(&rec.in, &h->d[1], k->ipver);
        m->stats.records[level]++;
        m->stats.updates += rec.out.flows + rec.in.flows;
        if (m->emit) m->emit(m->emit_arg, level, &rec);
        heap += hacc_heap(h);
        if (up && rc == FS_OK) {
            int created;
            struct hacc *n = hacc_get(next, k, h->khash, &created);
            if (!n) rc = FS_ERR_NOMEM;
            else if (created) { /* the host's first window in the longer one: its sketches move, no copy */
                *n = *h;
                memset(h, 0, sizeof *h);
            } else if (hacc_merge(n, h) != FS_OK) {
                rc = FS_ERR_NOMEM;
            }
        }
        hacc_free(h);
    }
    note_memory(m, heap); /* this length's sketches (the next length's own are counted when it closes) */
    fs_bmap_clear(hosts);
    return rc;
}

/* Closes a base window: its partials grouped by monitored host, one exact record each; each host's window
 * is also added to its accumulator of the next length. */
static fs_result close_base(struct fs_monitor *m, const struct fs_bmap *parts, uint64_t idx)
{
    size_t n = 0;
    uint64_t len = m->opts.windows_ns[0];
    int up = m->opts.nwindows > 1;
    fs_result rc = FS_OK;
    if (up && parts->n) rc = roll_level(m, 1, idx * len / m->opts.windows_ns[1]);
    if (room((void **)&m->ends, &m->ends_cap, (size_t)parts->n * 2, sizeof *m->ends)) return FS_ERR_NOMEM;
    for (uint32_t i = 0; i < parts->n; i++) {
        const struct fs_flow_key *k = fs_bmap_key(parts, i);
        const struct part *p = fs_bmap_val(parts, i);
        if (p->mon_a) m->ends[n++] = (struct fs_monitor_end){ host_hash(k->a, k->ipver), i, 0 };
        if (p->mon_b) m->ends[n++] = (struct fs_monitor_end){ host_hash(k->b, k->ipver), i, 1 };
    }
    if (n <= 16) sort_small(m->ends, n, sizeof *m->ends, cmp_end);
    else if (sort_ends(m, n)) return FS_ERR_NOMEM;
    note_memory(m, 0);
    if (n) m->stats.windows[0]++;
    for (size_t i = 0; i < n && rc == FS_OK;) {
        for (size_t ahead = i + 8; ahead < n && ahead < i + 12; ahead++) { /* the parts of the next hosts */
            const char *e = fs_bmap_key(parts, m->ends[ahead].part);
            __builtin_prefetch(e);
            __builtin_prefetch(e + 64);
            __builtin_prefetch(e + 128);
        }
        if (up && i + 8 < n) fs_bmap_prefetch_slot(&m->level_hosts[1], m->ends[i + 8].hhash); /* and their slots */
        size_t j = i + 1;
        while (j < n && m->ends[j].hhash == m->ends[i].hhash) j++;
        int mixed = 0; /* two hosts with one hash: sort the run by address */
        for (size_t k = i + 1; k < j && !mixed; k++) mixed = !same_host(parts, &m->ends[i], &m->ends[k]);
        if (mixed) qsort_r(&m->ends[i], j - i, sizeof *m->ends, cmp_end_key, (void *)parts);
        for (size_t a = i; a < j && rc == FS_OK;) {
            size_t b = a + 1;
            while (b < j && same_host(parts, &m->ends[a], &m->ends[b])) b++;
            const struct fs_flow_key *k = fs_bmap_key(parts, m->ends[a].part);
            struct hacc *acc = NULL;
            if (up) {
                struct hkey hk;
                memset(&hk, 0, sizeof hk);
                memcpy(hk.addr, m->ends[a].end ? k->b : k->a, 16);
                hk.ipver = k->ipver;
                if (!(acc = hacc_get(&m->level_hosts[1], &hk, m->ends[a].hhash, NULL))) {
                    rc = FS_ERR_NOMEM;
                    break;
                }
            }
            struct fs_host_window rec;
            start_record(&rec, idx, len);
            rc = host_record(m, parts, &m->ends[a], b - a, &rec, acc);
            if (rc != FS_OK) break;
            m->stats.records[0]++;
            m->stats.updates += rec.out.flows + rec.in.flows;
            if (m->emit) m->emit(m->emit_arg, 0, &rec);
            a = b;
        }
        i = j;
    }
    return rc;
}

/* ---- base windows ---- */

static struct fs_monitor_window *window_for(struct fs_monitor *m, uint64_t idx)
{
    size_t i = m->nopen;
    while (i > 0 && m->open[i - 1].idx > idx) i--;
    if (i > 0 && m->open[i - 1].idx == idx) return &m->open[i - 1];
    if (m->nopen == m->capopen) {
        size_t cap = m->capopen ? m->capopen * 2 : 8;
        struct fs_monitor_window *w = realloc(m->open, cap * sizeof *w);
        if (!w) return NULL;
        m->open = w;
        m->capopen = cap;
    }
    memmove(&m->open[i + 1], &m->open[i], (m->nopen - i) * sizeof *m->open);
    m->nopen++;
    struct fs_monitor_window *w = &m->open[i];
    w->idx = idx;
    if (m->nspare) w->parts = m->spare[--m->nspare]; /* a closed window's map, its memory kept */
    else fs_bmap_init(&w->parts, sizeof(struct fs_flow_key), sizeof(struct part));
    return w;
}

/* Bytes held now: maps and scratch arrays, and `extra` (sketches being closed). Sketches of windows still
 * open are not walked for this (it would cost a pass over every host at every base window). */
static void note_memory(struct fs_monitor *m, uint64_t extra)
{
    uint64_t b = fs_bmap_bytes(&m->conv) + (m->ends_cap + m->ends_tmp_cap) * sizeof *m->ends;
    for (size_t i = 0; i < m->nspare; i++) b += fs_bmap_bytes(&m->spare[i]);
    for (int s = 0; s < 2; s++) b += m->peers_cap[s] * sizeof *m->peers[s] + m->ports_cap[s] * sizeof *m->ports[s];
    for (size_t i = 0; i < m->nopen; i++) b += fs_bmap_bytes(&m->open[i].parts);
    for (int l = 0; l < m->opts.nwindows; l++) b += fs_bmap_bytes(&m->level_hosts[l]);
    b += extra;
    if (b > m->stats.bytes_peak) m->stats.bytes_peak = b;
}

/* Closes the oldest open base window. */
static fs_result close_oldest(struct fs_monitor *m)
{
    struct fs_monitor_window *w = &m->open[0];
    fs_result rc = close_base(m, &w->parts, w->idx);
    fs_bmap_clear(&w->parts);
    if (m->nspare < FS_MONITOR_SPARE) m->spare[m->nspare++] = w->parts; /* grown already: no page faults next time */
    else fs_bmap_free(&w->parts);
    m->nopen--;
    memmove(&m->open[0], &m->open[1], m->nopen * sizeof *m->open);
    return rc;
}

static int conv_alive(void *arg, const void *key, void *val)
{
    (void)key;
    const struct fs_monitor *m = arg;
    const struct conv *c = val;
    return c->last_ns + m->opts.idle_ns > m->clock_ns;
}

/* Closes the longer windows whose every base window has closed, shortest first. */
static fs_result close_levels(struct fs_monitor *m, int all)
{
    fs_result rc = FS_OK;
    uint64_t done_ns = m->closed_before * m->opts.windows_ns[0];
    for (int l = 1; l < m->opts.nwindows; l++) {
        uint64_t len = m->opts.windows_ns[l];
        if (m->level_open[l] && (all || (m->level_idx[l] + 1) * len <= done_ns))
            if (close_level(m, l) != FS_OK) rc = FS_ERR_NOMEM;
    }
    return rc;
}

/* Closes what the clock has made due: base windows whose end is `lateness` behind it, then the longer
 * windows that they complete. Forgets idle conversations now and then. */
static fs_result close_due(struct fs_monitor *m)
{
    uint64_t base = m->opts.windows_ns[0];
    uint64_t mark = m->clock_ns > m->opts.lateness_ns ? m->clock_ns - m->opts.lateness_ns : 0;
    uint64_t k = mark / base; /* windows below k end at or before the mark */
    fs_result rc = FS_OK;
    while (m->nopen && m->open[0].idx < k)
        if (close_oldest(m) != FS_OK) rc = FS_ERR_NOMEM;
    if (k > m->closed_before) m->closed_before = k;
    if (close_levels(m, 0) != FS_OK) rc = FS_ERR_NOMEM;
    if (m->opts.idle_ns && m->clock_ns >= m->next_sweep_ns) {
        fs_bmap_rebuild_keep(&m->conv, conv_alive, m);
        m->next_sweep_ns = m->clock_ns + m->opts.idle_ns;
    }
    return rc;
}

/* Event time: the first datum fixes where windows begin; data of a closed window is late. */
static int take_time(struct fs_monitor *m, uint64_t ts, uint64_t *idx)
{
    uint64_t base = m->opts.windows_ns[0];
    if (!m->started) {
        m->started = 1;
        m->closed_before = ts / base;
        m->next_sweep_ns = ts + m->opts.idle_ns;
    }
    *idx = ts / base;
    return *idx >= m->closed_before;
}

/* The conversation of a canonical key at time ts: whether this starts it anew, and its first time. NULL
 * without memory, or (*refused) when max_conversations are live. */
static struct conv *conv_at(struct fs_monitor *m, const struct fs_flow_key *key, uint64_t h, uint64_t ts,
                            int syn_only, int *is_new, int *refused)
{
    int created;
    *refused = 0;
    struct conv *c = fs_bmap_find(&m->conv, key, h);
    if (!c && m->conv.n >= m->opts.max_conversations) {
        *refused = 1;
        return NULL;
    }
    if (!c) c = fs_bmap_get(&m->conv, key, h, &created);
    else created = 0;
    if (!c) return NULL;
    *is_new = created || (ts > c->last_ns && m->opts.idle_ns && ts - c->last_ns >= m->opts.idle_ns) ||
              (c->closed && syn_only);
    if (*is_new) {
        c->first_ns = c->last_ns = ts;
        c->closed = 0;
        m->stats.conversations++;
        if (m->conv.n > m->stats.conv_live_peak) m->stats.conv_live_peak = m->conv.n;
    }
    if (ts > c->last_ns) c->last_ns = ts;
    return c;
}

/* The partial of a conversation in base window idx. */
static struct part *part_at(struct fs_monitor *m, uint64_t idx, const struct fs_flow_key *key, uint64_t h,
                            const struct conv *c, int is_new, int mon_a, int mon_b)
{
    struct fs_monitor_window *w = window_for(m, idx);
    if (!w) return NULL;
    int created;
    struct part *pt = fs_bmap_get(&w->parts, key, h, &created);
    if (!pt) return NULL;
    pt->mon_a = (uint8_t)mon_a;
    pt->mon_b = (uint8_t)mon_b;
    if (is_new) pt->is_new = 1;
    if (created || is_new) pt->conv_first_ns = c->first_ns;
    pt->hash = h;
    return pt;
}

/* One packet, its key canonical (p->from_b set) and hashed. */
static fs_result packet_in(struct fs_monitor *m, const struct fs_pkt *pk, uint64_t h)
{
    const struct fs_pkt *p = pk;
    m->stats.packets++;
    int mon_a = fs_monitor_watches(m, p->key.a, p->key.ipver), mon_b = fs_monitor_watches(m, p->key.b, p->key.ipver);
    if (!mon_a && !mon_b) {
        m->stats.unmonitored++;
        return FS_OK;
    }
    uint64_t idx;
    if (!take_time(m, p->ts_ns, &idx)) {
        m->stats.late_packets++;
        return FS_OK;
    }
    int is_new, refused;
    struct conv *c = conv_at(m, &p->key, h, p->ts_ns, (p->tcp_flags & 0x12) == 0x02, &is_new, &refused);
    if (refused) {
        m->stats.refused++;
        return FS_OK;
    }
    if (!c) return FS_ERR_NOMEM;
    if (p->tcp_flags & 0x05) c->closed = 1;
    struct part *pt = part_at(m, idx, &p->key, h, c, is_new, mon_a, mon_b);
    if (!pt) return FS_ERR_NOMEM;
    if (p->ts_ns > pt->last_ns) pt->last_ns = p->ts_ns;
    int d = p->from_b;
    uint32_t size = m->opts.size_basis == FS_SIZE_FRAME ? p->wirelen
                    : m->opts.size_basis == FS_SIZE_PAYLOAD ? p->payload : p->ip_len;
    pt->packets[d]++;
    pt->bytes[d] += size;
    for (int k = 0; k < FS_TCP_NFLAGS; k++) pt->flags[d][k] += (p->tcp_flags >> k) & 1;
    if (p->ts_ns > m->clock_ns) {
        m->clock_ns = p->ts_ns;
        return close_due(m);
    }
    return FS_OK;
}

fs_result fs_monitor_packet(struct fs_monitor *m, const struct fs_pkt *pkt)
{
    struct fs_pkt p = *pkt;
    if (!p.routed) {
        p.from_b = (uint8_t)fs_key_canonicalize(&p.key);
        p.routed = 1;
    }
    return packet_in(m, &p, fs_bmap_hash(&p.key, sizeof p.key));
}

#define PACKET_BATCH 16

fs_result fs_monitor_packets(struct fs_monitor *m, const struct fs_pkt *pkts, size_t n)
{
    struct fs_pkt p[PACKET_BATCH];
    uint64_t hash[PACKET_BATCH];
    for (size_t at = 0; at < n; at += PACKET_BATCH) {
        size_t k = n - at < PACKET_BATCH ? n - at : PACKET_BATCH;
        /* the conversations, and the partials of the newest open window (where packets in time order go):
         * their index slots, then their entries, fetched ahead for the whole batch */
        const struct fs_bmap *parts = m->nopen ? &m->open[m->nopen - 1].parts : NULL;
        for (size_t i = 0; i < k; i++) {
            p[i] = pkts[at + i];
            if (!p[i].routed) {
                p[i].from_b = (uint8_t)fs_key_canonicalize(&p[i].key);
                p[i].routed = 1;
            }
            hash[i] = fs_bmap_hash(&p[i].key, sizeof p[i].key);
            fs_bmap_prefetch_slot(&m->conv, hash[i]);
            if (parts) fs_bmap_prefetch_slot(parts, hash[i]);
        }
        for (size_t i = 0; i < k; i++) {
            fs_bmap_prefetch_entry(&m->conv, hash[i]);
            if (parts) fs_bmap_prefetch_entry(parts, hash[i]);
        }
        for (size_t i = 0; i < k; i++) {
            fs_result rc = packet_in(m, &p[i], hash[i]);
            if (rc != FS_OK) return rc;
        }
    }
    return FS_OK;
}

/* One flow record, its key already canonical (swapped: the record's source is key.b) and hashed. */
static fs_result flow_in(struct fs_monitor *m, const struct fs_flow *f, uint64_t ts, const struct fs_flow_key *key,
                         int swapped, uint64_t h)
{
    m->stats.flows++;
    int mon_a = fs_monitor_watches(m, key->a, key->ipver), mon_b = fs_monitor_watches(m, key->b, key->ipver);
    if (!mon_a && !mon_b) {
        m->stats.unmonitored++;
        return FS_OK;
    }
    uint64_t idx;
    if (!take_time(m, ts, &idx)) {
        m->stats.late_flows++;
        return FS_OK;
    }
    /* A record is a flow of its own: new, and its duration its own (no conversation state: exporters split
     * long flows at their active timeout, and each piece counts, as collectors count records). */
    struct fs_monitor_window *w = window_for(m, idx);
    if (!w) return FS_ERR_NOMEM;
    int created;
    struct part *pt = fs_bmap_get(&w->parts, key, h, &created);
    if (!pt) return FS_ERR_NOMEM;
    pt->hash = h;
    pt->mon_a = (uint8_t)mon_a;
    pt->mon_b = (uint8_t)mon_b;
    pt->is_new = 1;
    if (created || f->first_ns < pt->conv_first_ns) pt->conv_first_ns = f->first_ns;
    if (f->last_ns > pt->last_ns) pt->last_ns = f->last_ns;
    /* a sampled export (1 packet in N) stands for N times its counts, as est_packets and est_bytes say */
    uint64_t scale = f->sampling > 1 ? f->sampling : 1;
    for (int d = 0; d < 2; d++) {
        const struct fs_flow_dir *fd = &f->dir[d];
        int pd = d ^ swapped; /* the record's direction d in the canonical key's terms */
        pt->packets[pd] += fd->packets * scale;
        pt->bytes[pd] += fd->bytes * scale;
        for (int k = 0; k < FS_TCP_NFLAGS; k++)
            pt->flags[pd][k] += (f->state & FS_FLOW_EXPORTED) ? (uint32_t)((fd->flags_or >> k) & 1) : fd->flags[k];
    }
    if (ts > m->clock_ns) {
        m->clock_ns = ts;
        return close_due(m);
    }
    return FS_OK;
}

fs_result fs_monitor_flow(struct fs_monitor *m, const struct fs_flow *f, uint64_t at_ns)
{
    struct fs_flow_key key = f->key;
    int swapped = fs_key_canonicalize(&key);
    return flow_in(m, f, at_ns ? at_ns : f->last_ns, &key, swapped, fs_bmap_hash(&key, sizeof key));
}

#define FLOW_BATCH 16

fs_result fs_monitor_flows(struct fs_monitor *m, const struct fs_flow *f, size_t n, uint64_t at_ns)
{
    struct fs_flow_key keys[FLOW_BATCH];
    uint64_t hash[FLOW_BATCH];
    int swapped[FLOW_BATCH];
    for (size_t at = 0; at < n; at += FLOW_BATCH) {
        size_t k = n - at < FLOW_BATCH ? n - at : FLOW_BATCH;
        /* the partials of the newest open window are where records of a stream in time order go: their index
         * slots, then their entries, fetched ahead for the whole batch */
        const struct fs_bmap *parts = m->nopen ? &m->open[m->nopen - 1].parts : NULL;
        for (size_t i = 0; i < k; i++) {
            keys[i] = f[at + i].key;
            swapped[i] = fs_key_canonicalize(&keys[i]);
            hash[i] = fs_bmap_hash(&keys[i], sizeof keys[i]);
            if (parts) fs_bmap_prefetch_slot(parts, hash[i]);
        }
        for (size_t i = 0; parts && i < k; i++) fs_bmap_prefetch_entry(parts, hash[i]);
        for (size_t i = 0; i < k; i++) {
            const struct fs_flow *r = &f[at + i];
            fs_result rc = flow_in(m, r, at_ns ? at_ns : r->last_ns, &keys[i], swapped[i], hash[i]);
            if (rc != FS_OK) return rc;
        }
    }
    return FS_OK;
}

fs_result fs_monitor_advance(struct fs_monitor *m, uint64_t now_ns)
{
    if (!m->started || now_ns <= m->clock_ns) return FS_OK;
    m->clock_ns = now_ns;
    return close_due(m);
}

fs_result fs_monitor_finish(struct fs_monitor *m)
{
    fs_result rc = FS_OK;
    while (m->nopen)
        if (close_oldest(m) != FS_OK) rc = FS_ERR_NOMEM;
    if (close_levels(m, 1) != FS_OK) rc = FS_ERR_NOMEM;
    return rc;
}

void fs_monitor_release(struct fs_monitor *m)
{
    for (size_t i = 0; i < m->nopen; i++) fs_bmap_free(&m->open[i].parts);
    for (size_t i = 0; i < m->nspare; i++) fs_bmap_free(&m->spare[i]);
    m->nspare = 0;
    free(m->open);
    m->open = NULL;
    m->nopen = 0;
    for (int l = 0; l < FS_MONITOR_MAX_LEVELS; l++) {
        for (uint32_t k = 0; k < m->level_hosts[l].n; k++) hacc_free(fs_bmap_val(&m->level_hosts[l], k));
        fs_bmap_free(&m->level_hosts[l]);
    }
    fs_bmap_free(&m->conv);
    free(m->ends);
    free(m->ends_tmp);
    free(m->protos);
    m->protos = NULL;
    free(m->radix_count);
    m->radix_count = NULL;
    for (int s = 0; s < 2; s++) {
        free(m->peers[s]);
        free(m->ports[s]);
    }
}
