/*
 * netflow.c - NetFlow v5, NetFlow v9, IPFIX and sFlow v5 messages into flow records; see netflow.h.
 *
 * Formats: Cisco's NetFlow v5 record layout; RFC 3954 (NetFlow v9: header section 5.1, template and options
 * template FlowSets 5.2-5.3 and 6, data FlowSets 5.4); RFC 7011 (IPFIX: message header 3.1, sets 3.3,
 * template records 3.4, variable-length fields 7, template withdrawal 8.1); RFC 5103 (biflows: reverse
 * information elements, private enterprise 29305); information element numbers from the IANA IPFIX registry,
 * which NetFlow v9's field types share below 128.
 */
#include "netflow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TEMPLATE_FIELDS 512
#define MAX_TEMPLATES 65536     /* in all: a flood of template ids must not take the memory */
#define MAX_EXPORTERS 65536
#define PEN_REVERSE 29305u      /* RFC 5103 */

const char *fs_nf_problem_name(unsigned p)
{
    static const char *const names[FS_NF_PROBLEM_COUNT] = { "truncated", "unknown version", "bad length",
                                                            "bad template", "bad set id" };
    return p < FS_NF_PROBLEM_COUNT ? names[p] : "?";
}

struct tfield {
    uint16_t id;       /* information element (enterprise bit cleared) */
    uint16_t len;      /* 65535: variable length (IPFIX) */
    uint32_t pen;      /* private enterprise number, 0 for IANA elements */
};

struct template {
    struct template *next;      /* hash chain */
    uint32_t exporter;          /* index in d->exp */
    uint16_t id;
    uint16_t nfields;
    uint16_t nscope;            /* options templates: scope fields first */
    uint8_t options;
    uint32_t min_len;           /* bytes of one record at least (a variable-length field counts 1) */
    struct tfield *fields;      /* owned */
};

/* The message header's clock: unix time and the exporter's uptime when the message was sent (v5, v9). */
struct clock {
    uint64_t unix_ns;
    uint64_t uptime_ms;
    int has_uptime;
};

/* A data set that came before its template, held until the template arrives (or the hold time passes). */
struct pending {
    uint16_t set_id;
    uint8_t ipfix;
    uint64_t recv_ns;
    struct clock ck;
    uint32_t len;
    uint8_t *bytes;             /* owned */
};

#define PENDING_SETS 64                      /* per exporter: the oldest go first beyond these */
#define PENDING_BYTES (256u << 10)

struct exporter {
    struct fs_nf_exporter_stats st;
    uint32_t sampling;          /* from options records (or the v5 header) */
    uint64_t init_ms;           /* IPFIX: the exporter's boot time, from options records (0: unknown) */
    uint64_t next_seq;
    int seq_valid;
    uint32_t next;              /* hash chain, index + 1 (0: none) */
    uint32_t gnext;             /* chain of the group bucket (address, domain, version: any port), index + 1 */
    struct pending *pend;       /* owned, PENDING_SETS */
    uint32_t npend, pend_bytes;
};

#define TBUCKETS 4096
#define EBUCKETS 1024

struct fs_nf_decoder {
    struct template *tbuckets[TBUCKETS];
    size_t ntemplates;
    struct exporter *exp;
    size_t nexp, expcap;
    uint32_t ebuckets[EBUCKETS]; /* index + 1 */
    uint32_t gbuckets[EBUCKETS]; /* the same, hashed without the port: an exporter's other source ports */
    struct fs_nf_exporter_stats *view; /* fs_nf_exporters() */
    struct fs_nf_counters unattributed; /* messages no exporter can be named for (too short, unknown version) */
    struct fs_nf_counters sum;          /* fs_nf_totals(): the exporters' counters and those, added up */
    uint64_t generation;        /* changes of templates or sampling (fs_nf_save) */
    uint64_t hold_ns;           /* how long a data set waits for its template (fs_nf_set_hold) */
    struct fs_decoder pkt;      /* sFlow's sampled packet headers, decoded as extract decodes packets */
    fs_nf_counters_fn on_counters; /* sFlow counter samples (fs_nf_on_counters), or NULL */
    void *counters_arg;
    int pkt_ready;
};

fs_result fs_nf_new(struct fs_nf_decoder **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return FS_ERR_NOMEM;
    if (fs_decoder_init(&(*out)->pkt, NULL) != 0) {
        free(*out);
        return FS_ERR_NOMEM;
    }
    (*out)->pkt_ready = 1;
    (*out)->hold_ns = FS_NF_HOLD_NS;
    return FS_OK;
}

void fs_nf_free(struct fs_nf_decoder *d)
{
    if (!d) return;
    for (size_t b = 0; b < TBUCKETS; b++)
        for (struct template *t = d->tbuckets[b], *n; t; t = n) {
            n = t->next;
            free(t->fields);
            free(t);
        }
    for (size_t i = 0; i < d->nexp; i++) {
        for (uint32_t k = 0; k < d->exp[i].npend; k++) free(d->exp[i].pend[k].bytes);
        free(d->exp[i].pend);
    }
    free(d->exp);
    free(d->view);
    if (d->pkt_ready) fs_decoder_release(&d->pkt);
    free(d);
}

/* The counters are kept per exporter only (and for what no exporter can be named for); all exporters
 * together are their sum, made when asked. Every member is a uint64_t, added word by word. */
_Static_assert(sizeof(struct fs_nf_counters) % sizeof(uint64_t) == 0, "counters are 64-bit words");

static void add_counters(struct fs_nf_counters *to, const struct fs_nf_counters *c)
{
    uint64_t t[sizeof *to / sizeof(uint64_t)], v[sizeof *to / sizeof(uint64_t)];
    memcpy(t, to, sizeof t);
    memcpy(v, c, sizeof v);
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) t[k] += v[k];
    memcpy(to, t, sizeof t);
}

const struct fs_nf_counters *fs_nf_totals(const struct fs_nf_decoder *d)
{
    struct fs_nf_decoder *m = (struct fs_nf_decoder *)d;
    m->sum = d->unattributed;
    for (size_t i = 0; i < d->nexp; i++) add_counters(&m->sum, &d->exp[i].st.c);
    return &m->sum;
}

const struct fs_nf_exporter_stats *fs_nf_exporters(const struct fs_nf_decoder *d, size_t *n)
{
    struct fs_nf_decoder *m = (struct fs_nf_decoder *)d;
    free(m->view);
    m->view = malloc((d->nexp ? d->nexp : 1) * sizeof *m->view);
    *n = m->view ? d->nexp : 0;
    for (size_t i = 0; i < *n; i++) m->view[i] = d->exp[i].st;
    return m->view;
}

/* ---- reading ---- */

static inline uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* ---- exporters and templates ---- */

static uint32_t mix(const struct fs_export_origin *o, uint32_t domain, uint8_t version)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ domain ^ (uint64_t)version << 40 ^ (uint64_t)o->port << 48;
    for (int i = 0; i < 16; i++) h = (h ^ o->addr[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ h >> 29);
}

static uint32_t group_bucket(const struct fs_export_origin *o, uint32_t domain, uint8_t version)
{
    struct fs_export_origin any = *o;
    any.port = 0;
    return mix(&any, domain, version) % EBUCKETS;
}

/* The exporter (origin, domain, version), created when first seen; NULL past MAX_EXPORTERS or without memory
 * (the message is then counted as refused, with what no exporter can be named for). */
static struct exporter *exporter_of(struct fs_nf_decoder *d, const struct fs_export_origin *o, uint32_t domain,
                                    uint8_t version)
{
    uint32_t b = mix(o, domain, version) % EBUCKETS;
    for (uint32_t i = d->ebuckets[b]; i; i = d->exp[i - 1].next) {
        struct exporter *e = &d->exp[i - 1];
        if (e->st.domain == domain && e->st.version == version && e->st.origin.port == o->port &&
            e->st.origin.ipver == o->ipver && memcmp(e->st.origin.addr, o->addr, 16) == 0)
            return e;
    }
    if (d->nexp == MAX_EXPORTERS) {
        d->unattributed.refused++;
        return NULL;
    }
    if (d->nexp == d->expcap) {
        size_t nc = d->expcap ? d->expcap * 2 : 16;
        struct exporter *ne = realloc(d->exp, nc * sizeof *ne);
        if (!ne) {
            d->unattributed.refused++;
            return NULL;
        }
        d->exp = ne;
        d->expcap = nc;
    }
    struct exporter *e = &d->exp[d->nexp];
    memset(e, 0, sizeof *e);
    e->st.origin = *o;
    e->st.domain = domain;
    e->st.version = version;
    e->next = d->ebuckets[b];
    d->ebuckets[b] = (uint32_t)d->nexp + 1;
    uint32_t g = group_bucket(o, domain, version);
    e->gnext = d->gbuckets[g];
    d->gbuckets[g] = (uint32_t)++d->nexp;
    return e;
}

/* The next exporter after index+1 `from` in e's group bucket that is the same device and domain speaking
 * from another source port; 0 when there is none (pass 0 as from to begin). Returns index + 1. */
static uint32_t next_sibling(const struct fs_nf_decoder *d, const struct exporter *e, uint32_t from)
{
    uint32_t i = from ? d->exp[from - 1].gnext : d->gbuckets[group_bucket(&e->st.origin, e->st.domain, e->st.version)];
    for (; i; i = d->exp[i - 1].gnext) {
        const struct exporter *s = &d->exp[i - 1];
        if (s != e && s->st.domain == e->st.domain && s->st.version == e->st.version &&
            s->st.origin.ipver == e->st.origin.ipver && memcmp(s->st.origin.addr, e->st.origin.addr, 16) == 0)
            return i;
    }
    return 0;
}

static struct template **tslot(struct fs_nf_decoder *d, uint32_t exporter, uint16_t id)
{
    uint32_t b = (exporter * 2654435761u ^ id * 40503u) % TBUCKETS;
    struct template **pp = &d->tbuckets[b];
    while (*pp && !((*pp)->exporter == exporter && (*pp)->id == id)) pp = &(*pp)->next;
    return pp;
}

/* The template for a data set of exporter ei: its own (RFC 7011 scopes templates by transport session and
 * domain), else one the same device sent for the same domain from another source port, as collectors that key
 * templates by address only (nfcapd, pmacct) would use: some routers send templates and data from different
 * ports. *other says which. */
static struct template *template_for(struct fs_nf_decoder *d, uint32_t ei, uint16_t id, int *other)
{
    struct template *t = *tslot(d, ei, id);
    *other = 0;
    if (t) return t;
    for (uint32_t s = next_sibling(d, &d->exp[ei], 0); s; s = next_sibling(d, &d->exp[ei], s))
        if ((t = *tslot(d, s - 1, id))) {
            *other = 1;
            return t;
        }
    return NULL;
}

static void withdraw(struct fs_nf_decoder *d, uint32_t exporter, uint16_t id, struct fs_nf_counters *c)
{
    struct template **pp = tslot(d, exporter, id);
    if (!*pp) return;
    struct template *t = *pp;
    *pp = t->next;
    free(t->fields);
    free(t);
    d->ntemplates--;
    d->generation++;
    c->withdrawals++;
}

/* All templates of one exporter (IPFIX: a withdrawal of template id 2 or 3 with no fields). */
static void withdraw_all(struct fs_nf_decoder *d, uint32_t exporter, int options, struct fs_nf_counters *c)
{
    for (size_t b = 0; b < TBUCKETS; b++)
        for (struct template **pp = &d->tbuckets[b]; *pp;) {
            struct template *t = *pp;
            if (t->exporter == exporter && t->options == options) {
                *pp = t->next;
                free(t->fields);
                free(t);
                d->ntemplates--;
                d->generation++;
                c->withdrawals++;
            } else {
                pp = &t->next;
            }
        }
}

static int learn(struct fs_nf_decoder *d, uint32_t exporter, uint16_t id, int options, uint16_t nscope,
                 const struct tfield *f, uint16_t n)
{
    struct template **pp = tslot(d, exporter, id), *t = *pp;
    if (!t) {
        if (d->ntemplates == MAX_TEMPLATES) return -1;
        t = calloc(1, sizeof *t);
        if (!t) return -1;
        t->exporter = exporter;
        t->id = id;
        *pp = t;
        d->ntemplates++;
    }
    struct tfield *nf = malloc((n ? n : 1) * sizeof *nf);
    if (!nf) return -1;
    memcpy(nf, f, n * sizeof *nf);
    free(t->fields);
    t->fields = nf;
    t->nfields = n;
    t->nscope = nscope;
    t->options = (uint8_t)options;
    t->min_len = 0;
    for (uint16_t i = 0; i < n; i++) t->min_len += f[i].len == 65535 ? 1 : f[i].len;
    d->generation++;
    return 0;
}

/* ---- records ---- */

/* What a data record said, before it becomes a flow. */
struct rec {
    struct fs_flow f;
    uint64_t start_ms_up, end_ms_up;   /* flowStart/EndSysUpTime (ms since the exporter booted) */
    uint64_t start_ns, end_ns;         /* absolute times */
    uint64_t init_ms;                  /* options: systemInitTimeMilliseconds (IPFIX: when uptime 0 was) */
    int has_up_start, has_up_end, has_start, has_end;
    uint64_t total_bytes, total_packets;
    uint32_t sampling;                 /* samplingInterval, samplerRandomInterval or samplingPacketInterval */
    uint32_t pkt_space, samp_size, samp_pop; /* samplingPacketSpace, samplingSize, samplingPopulation */
};

/* One packet in how many (RFC 5477, RFC 7012): n-out-of-N gives population / size; systematic count-based
 * sampling selects interval packets then skips space; the older elements give the rate itself. */
static uint32_t rec_sampling(const struct rec *r)
{
    if (r->samp_size && r->samp_pop) return (uint32_t)((r->samp_pop + r->samp_size / 2) / r->samp_size);
    if (r->sampling && r->pkt_space) return (uint32_t)(((uint64_t)r->sampling + r->pkt_space) / r->sampling);
    return r->sampling;
}

/* NTP timestamp (RFC 5905 era 0, as IPFIX's dateTimeMicro/Nano) to ns since 1970. */
static uint64_t ntp_ns(uint64_t v)
{
    uint64_t sec = v >> 32, frac = v & 0xffffffffu;
    if (sec < 2208988800u) return 0;
    return (sec - 2208988800u) * 1000000000ull + ((frac * 1000000000ull) >> 32);
}

static int all_zero(const uint8_t *p, unsigned len)
{
    uint8_t o = 0;
    for (unsigned i = 0; i < len; i++) o |= p[i];
    return o == 0;
}

/* An address field. Templates that carry both IPv4 and IPv6 addresses leave one pair zero: a zero address
 * does not replace one already set. */
static void set_addr(uint8_t dst[16], const uint8_t *p, unsigned len, uint8_t *ipver, uint8_t v)
{
    if (*ipver && all_zero(p, len)) return;
    memset(dst, 0, 16);
    memcpy(dst, p, len);
    *ipver = v;
}

/* One field of a data record into r; returns 0 if the field is not one the record uses. */
static int take(struct rec *r, const struct tfield *tf, const uint8_t *p, unsigned len)
{
    struct fs_flow *f = &r->f;
    int rev = tf->pen == PEN_REVERSE;
    if (tf->pen && !rev) return 0;
    struct fs_flow_dir *dir = &f->dir[rev];
    uint64_t v = len <= 8 ? be(p, len) : 0;
    switch (tf->id) {
    case 1: dir->bytes = v; return 1;                /* octetDeltaCount (v9 IN_BYTES) */
    case 2: dir->packets = v; return 1;              /* packetDeltaCount (IN_PKTS) */
    case 85: if (!rev) r->total_bytes = v; return !rev;
    case 86: if (!rev) r->total_packets = v; return !rev;
    case 6: dir->flags_or = (uint8_t)v; return 1;    /* tcpControlBits */
    }
    if (rev) return 0;
    switch (tf->id) {
    case 4: f->key.proto = (uint8_t)v; return 1;
    case 7: f->key.pa = (uint16_t)v; return 1;
    case 11: f->key.pb = (uint16_t)v; return 1;
    case 8:  /* sourceIPv4Address */
    case 12: /* destinationIPv4Address */
    case 27: /* sourceIPv6Address */
    case 28: /* destinationIPv6Address */ {
        unsigned want = tf->id >= 27 ? 16 : 4;
        if (len != want) return 0;
        set_addr(tf->id == 8 || tf->id == 27 ? f->key.a : f->key.b, p, want, &f->key.ipver, want == 16 ? 6 : 4);
        return 1;
    }
    case 10: f->in_if = (uint32_t)v; return 1;
    case 14: f->out_if = (uint32_t)v; return 1;
    case 58:  /* vlanId */
    case 243: /* dot1qVlanId */
        f->key.vlan = (uint16_t)(v & 0x0fff);
        return 1;
    case 32:  /* icmpTypeCodeIPv4 */
    case 139: /* icmpTypeCodeIPv6 */
        f->icmp_type = (uint8_t)(v >> 8);
        f->icmp_code = (uint8_t)v;
        f->state |= FS_FLOW_HAS_ICMP;
        return 1;
    case 176: case 178: f->icmp_type = (uint8_t)v; f->state |= FS_FLOW_HAS_ICMP; return 1;
    case 177: case 179: f->icmp_code = (uint8_t)v; f->state |= FS_FLOW_HAS_ICMP; return 1;
    case 22: r->start_ms_up = v; r->has_up_start = 1; return 1;   /* flowStartSysUpTime (FIRST_SWITCHED) */
    case 21: r->end_ms_up = v; r->has_up_end = 1; return 1;       /* flowEndSysUpTime (LAST_SWITCHED) */
    case 150: r->start_ns = v * 1000000000ull; r->has_start = 1; return 1;
    case 151: r->end_ns = v * 1000000000ull; r->has_end = 1; return 1;
    case 152: r->start_ns = v * 1000000ull; r->has_start = 1; return 1;
    case 153: r->end_ns = v * 1000000ull; r->has_end = 1; return 1;
    case 154: case 156: r->start_ns = ntp_ns(v); r->has_start = r->start_ns != 0; return 1;
    case 155: case 157: r->end_ns = ntp_ns(v); r->has_end = r->end_ns != 0; return 1;
    case 160: r->init_ms = v; return 1; /* systemInitTimeMilliseconds */
    case 34:  /* samplingInterval */
    case 305: /* samplingPacketInterval */
    case 50:  /* samplerRandomInterval */
        r->sampling = (uint32_t)v;
        return 1;
    case 306: r->pkt_space = (uint32_t)v; return 1; /* samplingPacketSpace */
    case 309: r->samp_size = (uint32_t)v; return 1; /* samplingSize */
    case 310: r->samp_pop = (uint32_t)v; return 1;  /* samplingPopulation */
    case 136: { /* flowEndReason */
        static const uint8_t reason[6] = { FS_END_ACTIVE, FS_END_IDLE, FS_END_ACTIVE_TIMEOUT, FS_END_FIN, FS_END_EOF,
                                           FS_END_EVICT };
        f->end_reason = v < 6 ? reason[v] : FS_END_ACTIVE;
        return 1;
    }
    }
    return 0;
}

/* Finishes r into a flow record and emits it. */
static void finish(struct rec *r, const struct exporter *e, const struct clock *ck, uint64_t recv_ns, uint8_t source,
                   fs_nf_emit_fn emit, void *arg)
{
    struct fs_flow *f = &r->f;
    if (!f->dir[0].bytes && r->total_bytes) f->dir[0].bytes = r->total_bytes;
    if (!f->dir[0].packets && r->total_packets) f->dir[0].packets = r->total_packets;
    uint64_t base = ck->unix_ns ? ck->unix_ns : recv_ns;
    if (!ck->has_uptime && e->init_ms) { /* IPFIX uptimes count from the boot time an options record gave */
        if (!r->has_start && r->has_up_start) {
            r->start_ns = (e->init_ms + r->start_ms_up) * 1000000ull;
            r->has_start = 1;
        }
        if (!r->has_end && r->has_up_end) {
            r->end_ns = (e->init_ms + r->end_ms_up) * 1000000ull;
            r->has_end = 1;
        }
    }
    if (!r->has_start && r->has_up_start && ck->has_uptime) {
        /* uptime counters are 32-bit milliseconds that wrap after 49.7 days: a start "after" the header's
         * uptime was taken before the wrap */
        uint64_t ago = (uint32_t)(ck->uptime_ms - r->start_ms_up);
        r->start_ns = base - ago * 1000000ull;
        r->has_start = 1;
    }
    if (!r->has_end && r->has_up_end && ck->has_uptime) {
        uint64_t ago = (uint32_t)(ck->uptime_ms - r->end_ms_up);
        r->end_ns = base - ago * 1000000ull;
        r->has_end = 1;
    }
    if (!r->has_start) r->start_ns = r->has_end ? r->end_ns : base;
    if (!r->has_end || r->end_ns < r->start_ns) r->end_ns = r->start_ns;
    f->first_ns = r->start_ns;
    f->last_ns = r->end_ns;
    for (int k = 0; k < 2; k++)
        if (f->dir[k].packets) {
            f->dir[k].first_ns = r->start_ns;
            f->dir[k].last_ns = r->end_ns;
        }
    if ((f->key.proto == 1 || f->key.proto == 58) && !(f->state & FS_FLOW_HAS_ICMP)) {
        /* no ICMP element: exporters (pmacct, and NetFlow v5 all) put type and code in the destination port */
        f->icmp_type = (uint8_t)(f->key.pb >> 8);
        f->icmp_code = (uint8_t)f->key.pb;
        f->state |= FS_FLOW_HAS_ICMP;
    }
    f->state |= FS_FLOW_EXPORTED;
    f->source = source;
    memcpy(f->exporter, e->st.origin.addr, 16);
    f->exporter_ipver = e->st.origin.ipver;
    f->domain = e->st.domain;
    uint32_t rate = rec_sampling(r);
    f->sampling = rate > 1 ? rate : rate ? 0 : e->sampling;
    if (!f->key.ipver) f->key.ipver = 4;
    emit(arg, f);
}

static void rec_init(struct rec *r) { memset(r, 0, sizeof *r); }

/* Records (or messages) lost by the exporter's sequence numbers: seq against the one expected; a number far
 * behind is a restart or reordering, not a loss. */
static void check_sequence(struct exporter *e, uint32_t seq)
{
    if (!e->seq_valid || seq == e->next_seq) return;
    uint64_t lost = (uint32_t)(seq - e->next_seq);
    if (lost < 0x80000000u) {
        e->st.c.sequence_gaps += lost;
    }
}

/* ---- NetFlow v5 ---- */

static size_t v5(struct fs_nf_decoder *d, const struct fs_export_origin *from, uint64_t recv_ns, const uint8_t *m,
                 size_t len, fs_nf_emit_fn emit, void *arg)
{
    if (len < 24) {
        d->unattributed.malformed[FS_NF_TRUNCATED]++;
        return 0;
    }
    unsigned count = (unsigned)be(m + 2, 2);
    uint32_t domain = (uint32_t)be(m + 20, 2); /* engine type and id */
    struct exporter *e = exporter_of(d, from, domain, 5);
    if (!e) return 0;
    struct fs_nf_counters *c = &e->st.c;
    c->messages++;
    struct clock ck = { be(m + 8, 4) * 1000000000ull + be(m + 12, 4), be(m + 4, 4), 1 };
    uint64_t seq = be(m + 16, 4);
    uint32_t sampling = (uint32_t)be(m + 22, 2) & 0x3fff;
    e->sampling = sampling > 1 ? sampling : 0;
    check_sequence(e, (uint32_t)seq);
    e->seq_valid = 1;
    e->next_seq = (uint32_t)(seq + count);
    if (count == 0 || count > 30) { /* a v5 datagram holds 1 to 30 records: the rest of it is not to be trusted */
        c->malformed[FS_NF_BAD_LENGTH]++;
        return 0;
    }
    if (24 + (size_t)count * 48 > len) { /* cut short (a snap length): the whole records present */
        c->malformed[FS_NF_TRUNCATED]++;
        count = (unsigned)((len - 24) / 48);
    }
    size_t n = 0;
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *p = m + 24 + (size_t)i * 48;
        struct rec r;
        rec_init(&r);
        struct fs_flow *f = &r.f;
        set_addr(f->key.a, p, 4, &f->key.ipver, 4);
        set_addr(f->key.b, p + 4, 4, &f->key.ipver, 4);
        f->in_if = (uint32_t)be(p + 12, 2);
        f->out_if = (uint32_t)be(p + 14, 2);
        f->dir[0].packets = be(p + 16, 4);
        f->dir[0].bytes = be(p + 20, 4);
        r.start_ms_up = be(p + 24, 4);
        r.end_ms_up = be(p + 28, 4);
        r.has_up_start = r.has_up_end = 1;
        f->key.pa = (uint16_t)be(p + 32, 2);
        f->key.pb = (uint16_t)be(p + 34, 2);
        f->dir[0].flags_or = p[37];
        f->key.proto = p[38];
        if (f->key.proto == 1) { /* v5 has no ICMP field: exporters put type and code in the destination port */
            f->icmp_type = (uint8_t)(f->key.pb >> 8);
            f->icmp_code = (uint8_t)f->key.pb;
            f->state |= FS_FLOW_HAS_ICMP;
        }
        finish(&r, e, &ck, recv_ns, FS_SOURCE_NETFLOW5, emit, arg);
        n++;
    }
    c->records += n;
    return n;
}

/* ---- NetFlow v9 and IPFIX ---- */


/* A template set (or v9 template FlowSet) body: one or more template records. */
static void templates(struct fs_nf_decoder *d, struct exporter *e, uint32_t ei, int ipfix, int options,
                      const uint8_t *p, size_t len)
{
    struct fs_nf_counters *c = &e->st.c;
    struct tfield *f = malloc(MAX_TEMPLATE_FIELDS * sizeof *f);
    if (!f) return;
    size_t off = 0;
    while (off + 4 <= len) {
        uint16_t id = (uint16_t)be(p + off, 2), n = (uint16_t)be(p + off + 2, 2);
        if (id == 0 && n == 0) break; /* padding to the set's end (RFC 3954 5.3, RFC 7011 3.3.1) */
        size_t hdr = 4;
        uint16_t nscope = 0;
        if (options) {
            if (off + 6 > len) break;
            if (ipfix) { /* field count, then scope field count */
                nscope = (uint16_t)be(p + off + 4, 2);
                hdr = 6;
            } else { /* v9: scope and option lengths in bytes */
                uint16_t sl = (uint16_t)be(p + off + 2, 2), ol = (uint16_t)be(p + off + 4, 2);
                if (sl % 4 || ol % 4) {
                    c->malformed[FS_NF_BAD_TEMPLATE]++;
                    break;
                }
                nscope = sl / 4;
                n = (uint16_t)(sl / 4 + ol / 4);
                hdr = 6;
            }
        }
        if (id < 256) {
            if (ipfix && n == 0 && (id == 2 || id == 3)) { /* withdraw every template of this kind */
                withdraw_all(d, ei, id == 3, c);
                off += hdr;
                continue;
            }
            c->malformed[FS_NF_BAD_TEMPLATE]++;
            break;
        }
        if (ipfix && n == 0) { /* withdrawal of one template */
            withdraw(d, ei, id, c);
            off += hdr;
            continue;
        }
        if (n > MAX_TEMPLATE_FIELDS || nscope > n) {
            c->malformed[FS_NF_BAD_TEMPLATE]++;
            break;
        }
        off += hdr;
        int bad = 0;
        for (uint16_t i = 0; i < n && !bad; i++) {
            if (off + 4 > len) {
                bad = 1;
                c->malformed[FS_NF_TRUNCATED]++;
                break;
            }
            uint16_t ie = (uint16_t)be(p + off, 2), fl = (uint16_t)be(p + off + 2, 2);
            off += 4;
            uint32_t pen = 0;
            if (ipfix && (ie & 0x8000)) {
                if (off + 4 > len) {
                    bad = 1;
                    c->malformed[FS_NF_TRUNCATED]++;
                    break;
                }
                pen = (uint32_t)be(p + off, 4);
                off += 4;
                ie &= 0x7fff;
            }
            /* zero lengths occur (Cisco's v9 "System" scope field), and length 65535 in v9 (H3C NetStream) is a
             * variable-length field encoded as IPFIX's */
            f[i] = (struct tfield){ ie, fl, pen };
        }
        if (bad) break;
        if (learn(d, ei, id, options, nscope, f, n) == 0) {
            c->templates++;
        }
    }
    free(f);
}

/* A data set: records of template t, packed, then padding shorter than a record. */
static size_t data_set(struct fs_nf_decoder *d, struct exporter *e, const struct template *t, int ipfix,
                       const struct clock *ck, uint64_t recv_ns, const uint8_t *p, size_t len, fs_nf_emit_fn emit,
                       void *arg, size_t *all)
{
    struct fs_nf_counters *c = &e->st.c;
    size_t off = 0, n = 0;
    while (t->min_len && off + t->min_len <= len) {
        struct rec r;
        rec_init(&r);
        int bad = 0;
        for (uint16_t i = 0; i < t->nfields; i++) {
            const struct tfield *tf = &t->fields[i];
            size_t fl = tf->len;
            if (fl == 65535) { /* RFC 7011 section 7: one length byte, or 255 and two */
                if (off + 1 > len) { bad = 1; break; }
                fl = p[off++];
                if (fl == 255) {
                    if (off + 2 > len) { bad = 1; break; }
                    fl = (size_t)be(p + off, 2);
                    off += 2;
                }
            }
            if (off + fl > len) { bad = 1; break; }
            if (!ipfix && i < t->nscope) { /* v9 scope types are their own numbers (1 = System), not elements */
                off += fl;
                continue;
            }
            if (!take(&r, tf, p + off, (unsigned)fl)) {
                c->unknown_fields++;
            }
            off += fl;
        }
        if (bad) {
            c->malformed[FS_NF_TRUNCATED]++;
            break;
        }
        ++*all;
        if (t->options) {
            c->options_records++;
            if (r.init_ms) e->init_ms = r.init_ms;
            uint32_t rate = rec_sampling(&r), smp = rate > 1 ? rate : 0;
            if (rate && smp != e->sampling) {
                e->sampling = smp;
                d->generation++;
            }
            continue;
        }
        finish(&r, e, ck, recv_ns, ipfix ? FS_SOURCE_IPFIX : FS_SOURCE_NETFLOW9, emit, arg);
        n++;
    }
    c->records += n;
    return n;
}

/* ---- data sets before their template ---- */

static void drop_pending(struct exporter *e, uint32_t k)
{
    free(e->pend[k].bytes);
    e->pend_bytes -= e->pend[k].len;
    memmove(&e->pend[k], &e->pend[k + 1], (e->npend - k - 1) * sizeof *e->pend);
    e->npend--;
    e->st.c.missing_template++;
}

void fs_nf_set_hold(struct fs_nf_decoder *d, uint64_t ns) { d->hold_ns = ns; }

/* Drops what has waited longer than the hold time by the time of a message received at now. */
static void expire_pending(const struct fs_nf_decoder *d, struct exporter *e, uint64_t now)
{
    while (e->npend && e->pend[0].recv_ns + d->hold_ns < now) drop_pending(e, 0);
}

/* Keeps a copy of a data set whose template has not come; the oldest make room. */
static void hold(struct exporter *e, uint16_t sid, int ipfix, const struct clock *ck,
                 uint64_t recv_ns, const uint8_t *body, size_t len)
{
    if (len > PENDING_BYTES || (!e->pend && !(e->pend = malloc(PENDING_SETS * sizeof *e->pend)))) {
        e->st.c.missing_template++;
        return;
    }
    while (e->npend && (e->npend == PENDING_SETS || e->pend_bytes + len > PENDING_BYTES)) drop_pending(e, 0);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        e->st.c.missing_template++;
        return;
    }
    memcpy(copy, body, len);
    e->pend[e->npend++] = (struct pending){ sid, (uint8_t)ipfix, recv_ns, *ck, (uint32_t)len, copy };
    e->pend_bytes += (uint32_t)len;
    e->st.c.held++;
}

/* Decodes the held data sets whose template is now known, in the order they came. */
static size_t release(struct fs_nf_decoder *d, struct exporter *e, uint32_t ei, fs_nf_emit_fn emit, void *arg)
{
    size_t n = 0;
    for (uint32_t k = 0; k < e->npend;) {
        struct pending *p = &e->pend[k];
        int other;
        struct template *t = template_for(d, ei, p->set_id, &other);
        if (!t) {
            k++;
            continue;
        }
        size_t all = 0, got = data_set(d, e, t, p->ipfix, &p->ck, p->recv_ns, p->bytes, p->len, emit, arg, &all);
        if (other) e->st.c.other_port_records += got;
        n += got;
        e->st.c.late_records += got;
        free(p->bytes);
        e->pend_bytes -= p->len;
        memmove(p, p + 1, (e->npend - k - 1) * sizeof *p);
        e->npend--;
    }
    return n;
}

void fs_nf_finish(struct fs_nf_decoder *d)
{
    for (size_t i = 0; i < d->nexp; i++)
        while (d->exp[i].npend) drop_pending(&d->exp[i], 0);
}

static size_t v9_ipfix(struct fs_nf_decoder *d, const struct fs_export_origin *from, uint64_t recv_ns,
                       const uint8_t *m, size_t len, int ipfix, fs_nf_emit_fn emit, void *arg)
{
    size_t hdr = ipfix ? 16 : 20;
    if (len < hdr) {
        d->unattributed.malformed[FS_NF_TRUNCATED]++;
        return 0;
    }
    uint32_t domain = (uint32_t)be(m + (ipfix ? 12 : 16), 4);
    struct exporter *e = exporter_of(d, from, domain, ipfix ? 10 : 9);
    if (!e) return 0;
    uint32_t ei = (uint32_t)(e - d->exp);
    struct fs_nf_counters *c = &e->st.c;
    c->messages++;
    struct clock ck = { 0, 0, 0 };
    uint64_t seq;
    if (ipfix) {
        size_t mlen = (size_t)be(m + 2, 2);
        if (mlen > len || mlen < hdr) {
            c->malformed[FS_NF_BAD_LENGTH]++;
            if (mlen < hdr) return 0;
        } else {
            len = mlen; /* a datagram holds one message; a file several (the caller splits them) */
        }
        ck.unix_ns = be(m + 4, 4) * 1000000000ull;
        seq = be(m + 8, 4);
    } else {
        ck.uptime_ms = be(m + 4, 4);
        ck.unix_ns = be(m + 8, 4) * 1000000000ull;
        ck.has_uptime = 1;
        seq = be(m + 12, 4);
    }
    /* sequence: IPFIX counts data records before this message, v9 counts messages */
    check_sequence(e, (uint32_t)seq);
    expire_pending(d, e, recv_ns);
    size_t off = hdr, n = 0, all = 0;
    int unknown_count = 0; /* a data set held: how many records it holds is not known yet */
    while (off + 4 <= len) {
        uint16_t sid = (uint16_t)be(m + off, 2), slen = (uint16_t)be(m + off + 2, 2);
        if (slen < 4 || off + slen > len) {
            c->malformed[slen < 4 ? FS_NF_BAD_LENGTH : FS_NF_TRUNCATED]++;
            break;
        }
        const uint8_t *body = m + off + 4;
        size_t blen = slen - 4u;
        if (sid == (ipfix ? 2 : 0) || sid == (ipfix ? 3 : 1)) {
            templates(d, e, ei, ipfix, sid == (ipfix ? 3 : 1), body, blen);
            if (e->npend) n += release(d, e, ei, emit, arg);
            for (uint32_t s = next_sibling(d, e, 0); s; s = next_sibling(d, e, s))
                if (d->exp[s - 1].npend) n += release(d, &d->exp[s - 1], s - 1, emit, arg);
        } else if (sid >= 256) {
            int other;
            struct template *t = template_for(d, ei, sid, &other);
            if (t) {
                size_t got = data_set(d, e, t, ipfix, &ck, recv_ns, body, blen, emit, arg, &all);
                if (other) c->other_port_records += got;
                n += got;
            } else {
                if (d->hold_ns) hold(e, sid, ipfix, &ck, recv_ns, body, blen);
                else c->missing_template++;
                unknown_count = 1;
            }
        } else {
            c->malformed[FS_NF_BAD_SET_ID]++;
        }
        off += slen;
    }
    e->seq_valid = !(ipfix && unknown_count); /* IPFIX counts records: after a held set, start over */
    e->next_seq = ipfix ? (uint32_t)(seq + all) : (uint32_t)(seq + 1); /* IPFIX: options records count too */
    return n;
}

/* ---- sFlow v5 (sflow_version_5.txt: datagram, flow_sample and expanded_flow_sample, sampled_header,
 * sampled_ipv4 and sampled_ipv6, extended_switch) ---- */

/* One flow record of a flow sample into r; returns 0 if it is not one the record uses. */
static int sflow_record(struct fs_nf_decoder *d, uint32_t format, const uint8_t *p, size_t len, struct fs_flow *f,
                        int *have)
{
    if (format == 1 && len >= 16) { /* sampled_header: protocol, frame length, stripped, header length, bytes */
        uint32_t proto = (uint32_t)be(p, 4), frame = (uint32_t)be(p + 4, 4), hlen = (uint32_t)be(p + 12, 4);
        if (hlen > len - 16) return 0;
        uint32_t link = proto == 1 ? FS_LINK_ETHERNET : proto == 11 ? FS_LINK_IPV4 : proto == 12 ? FS_LINK_IPV6 : 0;
        if (!link) return 0;
        struct fs_capture_pkt cp = { .ts_ns = f->first_ns, .data = p + 16, .caplen = hlen,
                                     .wirelen = frame > hlen ? frame : hlen, .linktype = link };
        struct fs_pkt k;
        if (!fs_decode(&d->pkt, &cp, &k)) return 0;
        struct fs_pkt drop;
        while (fs_decode_pending(&d->pkt, &drop)) {} /* a sample is one packet: no reassembly across samples */
        struct fs_obs o = fs_obs_of(&k, FS_SIZE_IP);
        uint64_t first = f->first_ns;
        uint32_t keep_vlan = f->key.vlan;
        fs_flow_start(f, &k.key, 0, &o); /* one packet, from the key's source: its record is exact */
        f->first_ns = f->last_ns = first;
        if (!f->key.vlan) f->key.vlan = (uint16_t)keep_vlan;
        *have = 1;
        return 1;
    }
    if ((format == 3 && len >= 32) || (format == 4 && len >= 56)) { /* sampled_ipv4 / sampled_ipv6 */
        if (*have) return 1; /* the header, when there was one, said more */
        int v6 = format == 4;
        size_t a = v6 ? 16 : 4;
        struct fs_obs o = { .ts_ns = f->first_ns, .size = (uint32_t)be(p, 4), .tcp_flags = (uint8_t)be(p + 16 + 2 * a, 4) };
        struct fs_flow_key key;
        memset(&key, 0, sizeof key);
        key.proto = (uint8_t)be(p + 4, 4);
        memcpy(key.a, p + 8, a);
        memcpy(key.b, p + 8 + a, a);
        key.pa = (uint16_t)be(p + 8 + 2 * a, 4);
        key.pb = (uint16_t)be(p + 12 + 2 * a, 4);
        key.ipver = v6 ? 6 : 4;
        uint64_t first = f->first_ns;
        fs_flow_start(f, &key, 0, &o);
        f->first_ns = f->last_ns = first;
        f->state |= FS_FLOW_EXPORTED; /* no payload size in these: only counts and flags are known */
        *have = 2;
        return 1;
    }
    if (format == 1001 && len >= 16) { /* extended_switch */
        uint32_t vlan = (uint32_t)be(p, 4);
        if (vlan && vlan < 4096 && !f->key.vlan) f->key.vlan = (uint16_t)vlan;
        return 1;
    }
    return 0;
}

/* The next item (format, length, body) of an sFlow list at *off of buf[0, len): samples in a datagram, records in a
 * sample. Returns 0 when it does not fit. */
static int sflow_item(const uint8_t *buf, size_t len, size_t *off, uint32_t *fmt, const uint8_t **body, uint32_t *blen)
{
    if (*off + 8 > len) return 0;
    uint32_t l = (uint32_t)be(buf + *off + 4, 4);
    if (l > len - *off - 8) return 0;
    *fmt = (uint32_t)be(buf + *off, 4);
    *blen = l;
    *body = buf + *off + 8;
    *off += 8 + (size_t)l;
    return 1;
}

void fs_nf_on_counters(struct fs_nf_decoder *d, fs_nf_counters_fn fn, void *arg)
{
    d->on_counters = fn;
    d->counters_arg = arg;
}

/* The generic interface counters record (counter format 1, 88 bytes): where each counter lies, its width, and
 * its member. */
#define IFC(at, w, m) { at, w, offsetof(struct fs_ifcounters, m) }
static const struct { uint8_t at, width; uint16_t off; } IF_COUNTERS[] = {
    IFC(0, 4, if_index), IFC(4, 4, if_type), IFC(8, 8, if_speed), IFC(16, 4, if_direction), IFC(20, 4, if_status),
    IFC(24, 8, in_octets), IFC(32, 4, in_ucast), IFC(36, 4, in_mcast), IFC(40, 4, in_bcast), IFC(44, 4, in_discards),
    IFC(48, 4, in_errors), IFC(52, 4, in_unknown), IFC(56, 8, out_octets), IFC(64, 4, out_ucast),
    IFC(68, 4, out_mcast), IFC(72, 4, out_bcast), IFC(76, 4, out_discards), IFC(80, 4, out_errors),
    IFC(84, 4, promiscuous),
};
#undef IFC

/* A counter sample (format 2, or 4 expanded: the source id in two words) into an interface counter record:
 * the generic interface counters (record format 1) when it has them; other counter records (Ethernet, VLAN,
 * processor, other enterprises') are skipped and counted. */
static void sflow_counters(struct fs_nf_decoder *d, struct fs_nf_counters *c, int expanded, const uint8_t *p,
                           size_t slen, const struct fs_export_origin *agent, uint32_t sub, uint64_t recv_ns)
{
    size_t fixed = expanded ? 16 : 12;
    if (slen < fixed) {
        c->malformed[FS_NF_TRUNCATED]++;
        return;
    }
    struct fs_ifcounters k;
    memset(&k, 0, sizeof k);
    k.first_ns = k.last_ns = recv_ns;
    memcpy(k.exporter, agent->addr, 16);
    k.exporter_ipver = agent->ipver;
    k.domain = sub;
    k.seq = (uint32_t)be(p, 4);
    if (expanded) {
        k.source_type = (uint32_t)be(p + 4, 4);
        k.source_index = (uint32_t)be(p + 8, 4);
    } else { /* type in the top byte, index in the other three */
        uint32_t sid = (uint32_t)be(p + 4, 4);
        k.source_type = sid >> 24;
        k.source_index = sid & 0xffffffu;
    }
    uint32_t nrec = (uint32_t)be(p + fixed - 4, 4);
    size_t roff = fixed;
    for (uint32_t r = 0; r < nrec; r++) {
        uint32_t rfmt, rlen;
        const uint8_t *b;
        if (!sflow_item(p, slen, &roff, &rfmt, &b, &rlen)) {
            c->malformed[FS_NF_TRUNCATED]++;
            break;
        }
        if (rfmt != 1 || rlen < 88) { /* not generic interface counters (if_counters, sflow_version_5.txt) */
            c->unknown_fields++;
            continue;
        }
        k.has_if = 1;
        for (size_t i = 0; i < sizeof IF_COUNTERS / sizeof IF_COUNTERS[0]; i++) {
            uint64_t v = be(b + IF_COUNTERS[i].at, IF_COUNTERS[i].width);
            uint32_t v32 = (uint32_t)v;
            memcpy((uint8_t *)&k + IF_COUNTERS[i].off, IF_COUNTERS[i].width == 8 ? (const void *)&v : (const void *)&v32,
                   IF_COUNTERS[i].width);
        }
    }
    c->counter_samples++;
    if (d->on_counters) d->on_counters(d->counters_arg, &k);
}

static size_t sflow(struct fs_nf_decoder *d, const struct fs_export_origin *from, uint64_t recv_ns, const uint8_t *m,
                    size_t len, fs_nf_emit_fn emit, void *arg)
{
    /* the agent's address, not the datagram's source, says which device sampled (a relay may forward) */
    if (len < 28) {
        d->unattributed.malformed[FS_NF_TRUNCATED]++;
        return 0;
    }
    uint32_t at = (uint32_t)be(m + 4, 4);
    size_t alen = at == 1 ? 4 : at == 2 ? 16 : 0;
    if (!alen || len < 8 + alen + 16) {
        d->unattributed.malformed[alen ? FS_NF_TRUNCATED : FS_NF_BAD_LENGTH]++;
        return 0;
    }
    struct fs_export_origin agent = { .ipver = at == 1 ? 4 : 6, .port = from->port };
    memcpy(agent.addr, m + 8, alen);
    const uint8_t *h = m + 8 + alen;
    uint32_t sub = (uint32_t)be(h, 4), seq = (uint32_t)be(h + 4, 4), nsamples = (uint32_t)be(h + 12, 4);
    struct exporter *e = exporter_of(d, &agent, sub, FS_NF_SFLOW5);
    if (!e) return 0;
    struct fs_nf_counters *c = &e->st.c;
    c->messages++;
    check_sequence(e, (uint32_t)seq);
    e->seq_valid = 1;
    e->next_seq = (uint32_t)(seq + 1);
    size_t off = 8 + alen + 16, n = 0;
    for (uint32_t s = 0; s < nsamples; s++) {
        uint32_t fmt, slen;
        const uint8_t *p;
        if (!sflow_item(m, len, &off, &fmt, &p, &slen)) {
            c->malformed[FS_NF_TRUNCATED]++;
            break;
        }
        if (fmt == 2 || fmt == 4) { /* (expanded) counter sample: interface counters, a record of their own */
            sflow_counters(d, c, fmt == 4, p, slen, &agent, sub, recv_ns);
            continue;
        }
        if (fmt != 1 && fmt != 3) { /* another enterprise's sample */
            c->unknown_fields++;
            continue;
        }
        int x = fmt == 3; /* expanded: source id, input and output in two words each */
        size_t fixed = x ? 44 : 32;
        if (slen < fixed) {
            c->malformed[FS_NF_TRUNCATED]++;
            continue;
        }
        struct fs_flow f;
        memset(&f, 0, sizeof f);
        f.first_ns = f.last_ns = recv_ns;
        uint32_t rate = (uint32_t)be(p + (x ? 12 : 8), 4);
        uint32_t in_if = (uint32_t)be(p + (x ? 28 : 20), 4), out_if = (uint32_t)be(p + (x ? 36 : 24), 4);
        if (!x) { /* the top two bits say the kind of interface value; keep the index */
            in_if &= 0x3fffffffu;
            out_if &= 0x3fffffffu;
        }
        uint32_t nrec = (uint32_t)be(p + fixed - 4, 4);
        size_t roff = fixed;
        int have = 0;
        for (uint32_t r = 0; r < nrec; r++) {
            uint32_t rfmt, rlen;
            const uint8_t *body;
            if (!sflow_item(p, slen, &roff, &rfmt, &body, &rlen)) {
                c->malformed[FS_NF_TRUNCATED]++;
                break;
            }
            if (!sflow_record(d, rfmt, body, rlen, &f, &have)) c->unknown_fields++;
        }
        if (!have) continue; /* nothing said which packet it was */
        fs_flow_orient(&f); /* a sampled SYN-ACK: its receiver began the conversation, as extract would say */
        f.in_if = in_if;
        f.out_if = out_if;
        f.source = FS_SOURCE_SFLOW;
        memcpy(f.exporter, agent.addr, 16);
        f.exporter_ipver = agent.ipver;
        f.domain = sub;
        f.sampling = rate > 1 ? rate : 0;
        emit(arg, &f);
        n++;
    }
    c->records += n;
    return n;
}

size_t fs_nf_message(struct fs_nf_decoder *d, const struct fs_export_origin *from, uint64_t recv_ns, const uint8_t *msg,
                     size_t len, fs_nf_emit_fn emit, void *arg)
{
    if (len < 2) {
        d->unattributed.malformed[FS_NF_TRUNCATED]++;
        return 0;
    }
    if (len >= 4 && be(msg, 4) == 5) return sflow(d, from, recv_ns, msg, len, emit, arg); /* 00 00 00 05 */
    switch (be(msg, 2)) {
    case 5: return v5(d, from, recv_ns, msg, len, emit, arg);
    case 9: return v9_ipfix(d, from, recv_ns, msg, len, 0, emit, arg);
    case 10: return v9_ipfix(d, from, recv_ns, msg, len, 1, emit, arg);
    }
    d->unattributed.malformed[FS_NF_BAD_VERSION]++;
    return 0;
}

/* ---- templates across restarts ---- */

uint64_t fs_nf_generation(const struct fs_nf_decoder *d) { return d->generation; }

fs_result fs_nf_absorb(struct fs_nf_decoder *into, const struct fs_nf_decoder *from)
{
    add_counters(&into->unattributed, &from->unattributed);
    for (size_t i = 0; i < from->nexp; i++) {
        const struct exporter *fe = &from->exp[i];
        struct exporter *e = exporter_of(into, &fe->st.origin, fe->st.domain, fe->st.version);
        if (!e) return FS_ERR_NOMEM;
        add_counters(&e->st.c, &fe->st.c);
        if (fe->sampling) e->sampling = fe->sampling;
        if (fe->init_ms) e->init_ms = fe->init_ms;
    }
    for (size_t b = 0; b < TBUCKETS; b++)
        for (const struct template *t = from->tbuckets[b]; t; t = t->next) {
            const struct exporter *fe = &from->exp[t->exporter];
            struct exporter *e = exporter_of(into, &fe->st.origin, fe->st.domain, fe->st.version);
            if (!e || learn(into, (uint32_t)(e - into->exp), t->id, t->options, t->nscope, t->fields, t->nfields) != 0)
                return FS_ERR_NOMEM;
        }
    return FS_OK;
}

static void put_exporter(FILE *f, const struct exporter *e)
{
    fprintf(f, "%u %u ", e->st.version, e->st.origin.ipver);
    for (int i = 0; i < 16; i++) fprintf(f, "%02x", e->st.origin.addr[i]);
    fprintf(f, " %u %u", e->st.origin.port, e->st.domain);
}

fs_result fs_nf_save(const struct fs_nf_decoder *d, const char *path, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        return FS_ERR_IO;
    }
    fprintf(f, "flowsift-templates 1\n");
    for (size_t i = 0; i < d->nexp; i++) {
        fprintf(f, "E ");
        put_exporter(f, &d->exp[i]);
        fprintf(f, " %u\n", d->exp[i].sampling);
    }
    for (size_t b = 0; b < TBUCKETS; b++)
        for (const struct template *t = d->tbuckets[b]; t; t = t->next) {
            fprintf(f, "T ");
            put_exporter(f, &d->exp[t->exporter]);
            fprintf(f, " %u %u %u %u", t->id, t->options, t->nscope, t->nfields);
            for (uint16_t k = 0; k < t->nfields; k++)
                fprintf(f, " %u/%u/%u", t->fields[k].id, t->fields[k].len, t->fields[k].pen);
            fprintf(f, "\n");
        }
    int bad = ferror(f) != 0;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) bad = 1;
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        return FS_ERR_IO;
    }
    return FS_OK;
}

/* "version ipver addrhex port domain" at *p; advances *p. */
static struct exporter *get_exporter(struct fs_nf_decoder *d, char **p)
{
    unsigned version, ipver, port;
    unsigned long domain;
    char hex[33];
    int used = 0;
    if (sscanf(*p, "%u %u %32s %u %lu%n", &version, &ipver, hex, &port, &domain, &used) != 5 || strlen(hex) != 32 ||
        (version != 5 && version != 9 && version != 10 && version != FS_NF_SFLOW5) || (ipver != 4 && ipver != 6) || port > 65535 ||
        domain > 0xffffffffu)
        return NULL;
    struct fs_export_origin o = { .ipver = (uint8_t)ipver, .port = (uint16_t)port };
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return NULL;
        o.addr[i] = (uint8_t)v;
    }
    *p += used;
    return exporter_of(d, &o, (uint32_t)domain, (uint8_t)version);
}

fs_result fs_nf_load(struct fs_nf_decoder *d, const char *path, size_t *ntemplates, char *err, size_t errlen)
{
    *ntemplates = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return FS_OK; /* nothing saved yet */
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return FS_ERR_IO;
    }
    fs_result rc = fs_nf_load_stream(d, f, path, ntemplates, err, errlen);
    fclose(f);
    return rc;
}

fs_result fs_nf_load_stream(struct fs_nf_decoder *d, FILE *f, const char *path, size_t *ntemplates, char *err,
                            size_t errlen)
{
    *ntemplates = 0;
    static char line[65536];
    struct tfield *fields = malloc(MAX_TEMPLATE_FIELDS * sizeof *fields);
    fs_result rc = fields ? FS_OK : FS_ERR_NOMEM;
    unsigned lineno = 0;
    while (rc == FS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + 2;
        if (lineno == 1) {
            if (strcmp(line, "flowsift-templates 1\n") != 0) rc = FS_ERR_FORMAT;
            continue;
        }
        struct exporter *e = (line[0] == 'E' || line[0] == 'T') && line[1] == ' ' ? get_exporter(d, &p) : NULL;
        if (!e) {
            rc = FS_ERR_FORMAT;
            break;
        }
        if (line[0] == 'E') {
            unsigned long smp;
            if (sscanf(p, "%lu", &smp) != 1) rc = FS_ERR_FORMAT;
            else e->sampling = (uint32_t)smp;
            continue;
        }
        unsigned id, options, nscope, n;
        int used = 0;
        if (sscanf(p, "%u %u %u %u%n", &id, &options, &nscope, &n, &used) != 4 || id < 256 || id > 65535 ||
            options > 1 || n > MAX_TEMPLATE_FIELDS || nscope > n) {
            rc = FS_ERR_FORMAT;
            break;
        }
        p += used;
        for (unsigned k = 0; k < n && rc == FS_OK; k++) {
            unsigned fid, flen;
            unsigned long pen;
            if (sscanf(p, " %u/%u/%lu%n", &fid, &flen, &pen, &used) != 3 || fid > 0x7fff || flen > 65535 ||
                pen > 0xffffffffu)
                rc = FS_ERR_FORMAT;
            else fields[k] = (struct tfield){ (uint16_t)fid, (uint16_t)flen, (uint32_t)pen };
            p += used;
        }
        if (rc == FS_OK && learn(d, (uint32_t)(e - d->exp), (uint16_t)id, (int)options, (uint16_t)nscope, fields,
                                 (uint16_t)n) == 0)
            ++*ntemplates;
    }
    if (rc == FS_ERR_FORMAT) snprintf(err, errlen, "'%s': line %u is not a saved template", path, lineno);
    free(fields);
    return rc;
}

void fs_nf_forget(struct fs_nf_decoder *d, const struct fs_export_origin *from)
{
    for (size_t i = 0; i < d->nexp; i++) {
        struct exporter *e = &d->exp[i];
        if (e->st.origin.port != from->port || e->st.origin.ipver != from->ipver ||
            memcmp(e->st.origin.addr, from->addr, 16) != 0)
            continue;
        struct fs_nf_counters scratch = { 0 }; /* a session's end is not an exporter's withdrawal: not counted */
        withdraw_all(d, (uint32_t)i, 0, &scratch);
        withdraw_all(d, (uint32_t)i, 1, &scratch);
        while (e->npend) drop_pending(e, 0);
    }
}
