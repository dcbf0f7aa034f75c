/*
 * monitor.c - per-host windowed statistics; see monitor.h.
 *
 * Three kinds of maps: the conversations (key -> first and last packet, whether it was torn down); per open
 * window (several base windows while they wait for late data, one of each longer length), the
 * conversations' partials of that window; and, while a window closes, its hosts' accumulators, built from
 * its partials, emitted and dropped. The partials flow from each length into the next as windows close.
 */
#include "monitor.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sketch/hll.h"
#include "../sketch/topk.h"

#define DEFAULT_MAX_HOSTS 1000000

struct conv {
    uint64_t first_ns, last_ns;
    uint8_t closed;              /* a FIN or RST was seen: a SYN starts a new conversation */
    uint8_t pad[7];
};

struct part {
    uint64_t conv_first_ns, last_ns;
    uint64_t packets[2], bytes[2];  /* 0: key.a -> key.b (canonical key), 1: b -> a */
    uint32_t flags[2][FS_TCP_NFLAGS];
    uint8_t is_new, mon_a, mon_b;
};

struct hkey {
    uint8_t addr[16];
    uint8_t ipver;
    uint8_t pad[7];
};

struct hacc_dir {
    uint64_t flows, new_flows, packets, bytes, dur_sum;
    uint64_t flags[FS_TCP_NFLAGS];
    struct fs_hll peers, ports;
    struct fs_topk proto, port, peer;
};

struct hacc {
    uint64_t sessions;
    struct hacc_dir d[2];        /* 0 out, 1 in */
};

struct fs_monitor_window {
    uint64_t idx;                /* start / base length */
    struct fs_bmap parts;        /* struct fs_flow_key -> struct part */
    struct fs_bmap hosts;        /* struct hkey -> struct hacc */
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
    o->max_hosts = DEFAULT_MAX_HOSTS;
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
    if (!m->opts.max_hosts) m->opts.max_hosts = DEFAULT_MAX_HOSTS;
    if (o->nprefixes) memcpy(m->prefixes, o->prefixes, o->nprefixes * sizeof *o->prefixes);
    m->opts.prefixes = m->prefixes;
    m->emit = emit;
    m->emit_arg = arg;
    fs_bmap_init(&m->conv, sizeof(struct fs_flow_key), sizeof(struct conv));
    for (int l = 0; l < FS_MONITOR_MAX_LEVELS; l++)
        fs_bmap_init(&m->level_parts[l], sizeof(struct fs_flow_key), sizeof(struct part));
    fs_bmap_init(&m->hosts, sizeof(struct hkey), sizeof(struct hacc));
    return FS_OK;
}

/* ---- host accumulators ---- */

static void hacc_free(struct hacc *h)
{
    for (int d = 0; d < 2; d++) {
        fs_hll_free(&h->d[d].peers);
        fs_hll_free(&h->d[d].ports);
    }
}

static size_t hacc_heap(const struct hacc *h)
{
    size_t n = 0;
    for (int d = 0; d < 2; d++) n += fs_hll_bytes(&h->d[d].peers) + fs_hll_bytes(&h->d[d].ports);
    return n;
}

static uint32_t clamp32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

static uint64_t listed(const struct fs_topk *t, int max, uint64_t total, void (*put)(void *, int, const struct fs_topk_entry *),
                       void *arg)
{
    uint64_t sum = 0;
    for (int i = 0; i < max && i < (int)t->n; i++) {
        put(arg, i, &t->e[i]);
        sum += t->e[i].bytes;
    }
    return sum < total ? total - sum : 0; /* counts of a summary that replaced keys may overstate */
}

struct put_ctx {
    struct fs_host_dir *o;
    uint8_t ipver;
};

static void put_proto(void *a, int i, const struct fs_topk_entry *e)
{
    struct put_ctx *c = a;
    c->o->proto[i] = e->key[0];
    c->o->proto_bytes[i] = e->bytes;
}

static uint32_t port_of(const struct fs_topk_entry *e) { return (uint32_t)e->key[0] << 8 | e->key[1]; }

static void put_port(void *a, int i, const struct fs_topk_entry *e)
{
    struct put_ctx *c = a;
    c->o->port[i] = port_of(e);
    c->o->port_bytes[i] = e->bytes;
}

static void put_peer(void *a, int i, const struct fs_topk_entry *e)
{
    struct put_ctx *c = a;
    memcpy(c->o->peer[i], e->key, 16);
    c->o->peer_ipver[i] = c->ipver;
    c->o->peer_bytes[i] = e->bytes;
}

static void fill_dir(struct fs_host_dir *o, struct hacc_dir *d, uint8_t ipver)
{
    o->flows = d->flows;
    o->new_flows = d->new_flows;
    o->packets = d->packets;
    o->bytes = d->bytes;
    o->avg_duration_ns = d->flows ? d->dur_sum / d->flows : 0;
    o->peers = clamp32((uint64_t)llround(fs_hll_count(&d->peers)));
    o->ports = clamp32((uint64_t)llround(fs_hll_count(&d->ports)));
    for (int k = 0; k < FS_TCP_NFLAGS; k++) o->flags[k] = clamp32(d->flags[k]);
    struct put_ctx c = { o, ipver };
    fs_topk_sort(&d->proto);
    fs_topk_sort(&d->port);
    fs_topk_sort(&d->peer);
    o->proto_other = listed(&d->proto, FS_HOST_TOP_PROTOS, d->bytes, put_proto, &c);
    o->port_other = listed(&d->port, FS_HOST_TOP_PORTS, d->port.n ? d->bytes : 0, put_port, &c);
    o->peer_other = listed(&d->peer, FS_HOST_TOP_PEERS, d->bytes, put_peer, &c);
    const struct fs_topk_entry *e = fs_topk_most_flows(&d->peer);
    if (e) {
        memcpy(o->top_peer, e->key, 16);
        o->top_peer_ipver = ipver;
    }
    e = fs_topk_most_flows(&d->port);
    if (e) o->top_port = port_of(e);
}

/* Makes the conversations of window `idx` of length `level` into host records, emits them, and merges the
 * conversations into the next length's open window. */
static fs_result close_parts(struct fs_monitor *m, int level, struct fs_bmap *parts, uint64_t idx);

/* Makes window idx the open window of length `level`, closing the one before if it is another. */
static fs_result roll_level(struct fs_monitor *m, int level, uint64_t idx)
{
    if (m->level_open[level] && m->level_idx[level] == idx) return FS_OK;
    fs_result rc = FS_OK;
    if (m->level_open[level]) {
        m->level_open[level] = 0;
        rc = close_parts(m, level, &m->level_parts[level], m->level_idx[level]);
    }
    m->level_open[level] = 1;
    m->level_idx[level] = idx;
    return rc;
}

/* A conversation's partial merged into its partial of a longer window, which it follows in time. */
static void part_merge(struct part *into, int created, const struct part *from)
{
    if (created || from->is_new) into->conv_first_ns = from->conv_first_ns;
    into->is_new |= from->is_new;
    into->mon_a = from->mon_a;
    into->mon_b = from->mon_b;
    if (from->last_ns > into->last_ns) into->last_ns = from->last_ns;
    for (int d = 0; d < 2; d++) {
        into->packets[d] += from->packets[d];
        into->bytes[d] += from->bytes[d];
        for (int k = 0; k < FS_TCP_NFLAGS; k++) into->flags[d][k] += from->flags[d][k];
    }
}

static fs_result apply_part(struct fs_monitor *m, struct fs_bmap *hosts, const struct fs_flow_key *k,
                            const struct part *p);

static void note_memory(struct fs_monitor *m, uint64_t transient);

static fs_result close_parts(struct fs_monitor *m, int level, struct fs_bmap *parts, uint64_t idx)
{
    uint64_t len = m->opts.windows_ns[level];
    fs_result rc = FS_OK;
    struct fs_bmap *hosts = &m->hosts;
    for (uint32_t i = 0; i < parts->n && rc == FS_OK; i++)
        rc = apply_part(m, hosts, fs_bmap_key(parts, i), fs_bmap_val(parts, i));
    uint64_t heap = fs_bmap_bytes(hosts);
    for (uint32_t i = 0; i < hosts->n; i++) heap += hacc_heap(fs_bmap_val(hosts, i));
    note_memory(m, heap);
    if (hosts->n) m->stats.windows[level]++;
    for (uint32_t i = 0; i < hosts->n; i++) {
        const struct hkey *k = fs_bmap_key(hosts, i);
        struct hacc *h = fs_bmap_val(hosts, i);
        struct fs_host_window rec;
        memset(&rec, 0, sizeof rec);
        rec.start_ns = idx * len;
        rec.end_ns = rec.start_ns + len;
        memcpy(rec.host, k->addr, 16);
        rec.host_ipver = k->ipver;
        rec.sessions = h->sessions;
        fill_dir(&rec.out, &h->d[0], k->ipver);
        fill_dir(&rec.in, &h->d[1], k->ipver);
        m->stats.records[level]++;
        if (m->emit) m->emit(m->emit_arg, level, &rec);
        hacc_free(h);
    }
    fs_bmap_clear(hosts);
    if (level + 1 < m->opts.nwindows && parts->n) {
        fs_result r2 = roll_level(m, level + 1, idx * len / m->opts.windows_ns[level + 1]);
        if (rc == FS_OK) rc = r2;
        struct fs_bmap *next = &m->level_parts[level + 1];
        for (uint32_t i = 0; i < parts->n && rc == FS_OK; i++) {
            const void *key = fs_bmap_key(parts, i);
            int created;
            struct part *into = fs_bmap_get(next, key, fs_bmap_hash(key, sizeof(struct fs_flow_key)), &created);
            if (!into) rc = FS_ERR_NOMEM;
            else part_merge(into, created, fs_bmap_val(parts, i));
        }
    }
    fs_bmap_clear(parts);
    return rc;
}

/* ---- updates ---- */

static struct hacc *host_get(struct fs_monitor *m, struct fs_bmap *hosts, const uint8_t addr[16], uint8_t ipver)
{
    struct hkey k;
    memset(&k, 0, sizeof k);
    memcpy(k.addr, addr, 16);
    k.ipver = ipver;
    uint64_t h = fs_bmap_hash(&k, sizeof k);
    struct hacc *a = fs_bmap_find(hosts, &k, h);
    if (a) return a;
    if (hosts->n >= m->opts.max_hosts) return NULL;
    return fs_bmap_get(hosts, &k, h, NULL);
}

static int has_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132; }

/* What one one-way flow adds to a host's side d (0 out: the host sent it; 1 in: it received it). */
struct uniflow {
    const uint8_t *src, *dst;
    uint16_t dport;
    uint8_t proto, ipver;
    uint64_t packets, bytes, dur;
    const uint32_t *flags;       /* counts per flag */
    int is_new;
};

static fs_result add_side(struct hacc_dir *d, const struct uniflow *u, const uint8_t *peer)
{
    d->flows++;
    d->new_flows += (uint64_t)u->is_new;
    d->packets += u->packets;
    d->bytes += u->bytes;
    d->dur_sum += u->dur;
    for (int k = 0; k < FS_TCP_NFLAGS; k++) d->flags[k] += u->flags[k];
    uint8_t key[16] = { 0 };
    key[0] = u->proto;
    fs_topk_add(&d->proto, key, u->bytes, 1);
    fs_topk_add(&d->peer, peer, u->bytes, 1);
    if (fs_hll_add(&d->peers, fs_hll_hash(peer, 16)) != 0) return FS_ERR_NOMEM;
    if (has_ports(u->proto)) {
        key[0] = (uint8_t)(u->dport >> 8);
        key[1] = (uint8_t)u->dport;
        fs_topk_add(&d->port, key, u->bytes, 1);
        if (fs_hll_add(&d->ports, fs_hll_hash(&u->dport, 2)) != 0) return FS_ERR_NOMEM;
    }
    return FS_OK;
}

static fs_result add_uniflow(struct fs_monitor *m, struct fs_bmap *hosts, const struct uniflow *u, int mon_src,
                             int mon_dst)
{
    if (!u->packets) return FS_OK;
    m->stats.updates++;
    if (mon_src) {
        struct hacc *h = host_get(m, hosts, u->src, u->ipver);
        if (!h) m->stats.flows_refused++;
        else if (add_side(&h->d[0], u, u->dst) != FS_OK) return FS_ERR_NOMEM;
    }
    if (mon_dst) {
        struct hacc *h = host_get(m, hosts, u->dst, u->ipver);
        if (!h) m->stats.flows_refused++;
        else if (add_side(&h->d[1], u, u->src) != FS_OK) return FS_ERR_NOMEM;
    }
    return FS_OK;
}

static void add_session(struct fs_monitor *m, struct fs_bmap *hosts, const uint8_t *addr, uint8_t ipver)
{
    struct hacc *h = host_get(m, hosts, addr, ipver);
    if (h) h->sessions++;
}

/* A conversation's partial of a closing base window becomes its one-way flows. */
static fs_result apply_part(struct fs_monitor *m, struct fs_bmap *hosts, const struct fs_flow_key *k,
                            const struct part *p)
{
    if (p->mon_a) add_session(m, hosts, k->a, k->ipver);
    if (p->mon_b) add_session(m, hosts, k->b, k->ipver);
    for (int d = 0; d < 2; d++) {
        struct uniflow u = {
            .src = d ? k->b : k->a, .dst = d ? k->a : k->b, .dport = d ? k->pa : k->pb, .proto = k->proto,
            .ipver = k->ipver, .packets = p->packets[d], .bytes = p->bytes[d], .dur = p->last_ns - p->conv_first_ns,
            .flags = p->flags[d], .is_new = p->is_new,
        };
        fs_result rc = add_uniflow(m, hosts, &u, d ? p->mon_b : p->mon_a, d ? p->mon_a : p->mon_b);
        if (rc != FS_OK) return rc;
    }
    return FS_OK;
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
    fs_bmap_init(&w->parts, sizeof(struct fs_flow_key), sizeof(struct part));
    return w;
}

/* Bytes held now, with `transient` more (the host accumulators of a window being closed). */
static void note_memory(struct fs_monitor *m, uint64_t transient)
{
    uint64_t b = fs_bmap_bytes(&m->conv) + transient;
    for (size_t i = 0; i < m->nopen; i++) b += fs_bmap_bytes(&m->open[i].parts);
    for (int l = 0; l < m->opts.nwindows; l++) b += fs_bmap_bytes(&m->level_parts[l]);
    if (b > m->stats.bytes_peak) m->stats.bytes_peak = b;
}

/* Closes the oldest open base window. */
static fs_result close_oldest(struct fs_monitor *m)
{
    struct fs_monitor_window *w = &m->open[0];
    fs_result rc = close_parts(m, 0, &w->parts, w->idx);
    fs_bmap_free(&w->parts);
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
        if (m->level_open[l] && (all || (m->level_idx[l] + 1) * len <= done_ns)) {
            m->level_open[l] = 0;
            if (close_parts(m, l, &m->level_parts[l], m->level_idx[l]) != FS_OK) rc = FS_ERR_NOMEM;
        }
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

/* The conversation of a canonical key at time ts: whether this starts it anew, and its first time. */
static struct conv *conv_at(struct fs_monitor *m, const struct fs_flow_key *key, uint64_t h, uint64_t ts,
                            int syn_only, int *is_new)
{
    int created;
    struct conv *c = fs_bmap_get(&m->conv, key, h, &created);
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
    return pt;
}

fs_result fs_monitor_packet(struct fs_monitor *m, const struct fs_pkt *pkt)
{
    m->stats.packets++;
    struct fs_pkt p = *pkt;
    if (!p.routed) {
        p.from_b = (uint8_t)fs_key_canonicalize(&p.key);
        p.routed = 1;
    }
    int mon_a = fs_monitor_watches(m, p.key.a, p.key.ipver), mon_b = fs_monitor_watches(m, p.key.b, p.key.ipver);
    if (!mon_a && !mon_b) {
        m->stats.unmonitored++;
        return FS_OK;
    }
    uint64_t idx;
    if (!take_time(m, p.ts_ns, &idx)) {
        m->stats.late_packets++;
        return FS_OK;
    }
    uint64_t h = fs_bmap_hash(&p.key, sizeof p.key);
    int is_new;
    struct conv *c = conv_at(m, &p.key, h, p.ts_ns, (p.tcp_flags & 0x12) == 0x02, &is_new);
    if (!c) return FS_ERR_NOMEM;
    if (p.tcp_flags & 0x05) c->closed = 1;
    struct part *pt = part_at(m, idx, &p.key, h, c, is_new, mon_a, mon_b);
    if (!pt) return FS_ERR_NOMEM;
    if (p.ts_ns > pt->last_ns) pt->last_ns = p.ts_ns;
    int d = p.from_b;
    uint32_t size = m->opts.size_basis == FS_SIZE_FRAME ? p.wirelen
                    : m->opts.size_basis == FS_SIZE_PAYLOAD ? p.payload : p.ip_len;
    pt->packets[d]++;
    pt->bytes[d] += size;
    for (int k = 0; k < FS_TCP_NFLAGS; k++) pt->flags[d][k] += (p.tcp_flags >> k) & 1;
    if (p.ts_ns > m->clock_ns) {
        m->clock_ns = p.ts_ns;
        return close_due(m);
    }
    return FS_OK;
}

fs_result fs_monitor_flow(struct fs_monitor *m, const struct fs_flow *f, uint64_t at_ns)
{
    uint64_t ts = at_ns ? at_ns : f->last_ns;
    m->stats.flows++;
    struct fs_flow_key key = f->key;
    int swapped = fs_key_canonicalize(&key);
    int mon_a = fs_monitor_watches(m, key.a, key.ipver), mon_b = fs_monitor_watches(m, key.b, key.ipver);
    if (!mon_a && !mon_b) {
        m->stats.unmonitored++;
        return FS_OK;
    }
    uint64_t idx;
    if (!take_time(m, ts, &idx)) {
        m->stats.late_flows++;
        return FS_OK;
    }
    uint8_t flags_or = f->dir[0].flags_or | f->dir[1].flags_or;
    uint64_t h = fs_bmap_hash(&key, sizeof key);
    int is_new;
    struct conv *c = conv_at(m, &key, h, f->first_ns, (flags_or & 0x02) != 0, &is_new);
    if (!c) return FS_ERR_NOMEM;
    if (f->last_ns > c->last_ns) c->last_ns = f->last_ns;
    if (flags_or & 0x05) c->closed = 1;
    struct part *pt = part_at(m, idx, &key, h, c, is_new, mon_a, mon_b);
    if (!pt) return FS_ERR_NOMEM;
    if (f->last_ns > pt->last_ns) pt->last_ns = f->last_ns;
    for (int d = 0; d < 2; d++) {
        const struct fs_flow_dir *fd = &f->dir[d];
        int pd = d ^ swapped; /* the record's direction d in the canonical key's terms */
        pt->packets[pd] += fd->packets;
        pt->bytes[pd] += fd->bytes;
        for (int k = 0; k < FS_TCP_NFLAGS; k++)
            pt->flags[pd][k] += (f->state & FS_FLOW_EXPORTED) ? (uint32_t)((fd->flags_or >> k) & 1) : fd->flags[k];
    }
    if (ts > m->clock_ns) {
        m->clock_ns = ts;
        return close_due(m);
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
    free(m->open);
    m->open = NULL;
    m->nopen = 0;
    for (int l = 0; l < FS_MONITOR_MAX_LEVELS; l++) fs_bmap_free(&m->level_parts[l]);
    for (uint32_t k = 0; k < m->hosts.n; k++) hacc_free(fs_bmap_val(&m->hosts, k));
    fs_bmap_free(&m->hosts);
    fs_bmap_free(&m->conv);
}
