/*
 * field.c - the field table and how each value is computed from a record.
 *
 * Totals are derived from the two directions (sums add, minima and maxima
 * combine); means and standard deviations come from sums and sums of squares,
 * so nothing printed here needs more than the mergeable record.
 */
#include "field.h"


#include <stdio.h>
#include <string.h>

enum metric {
    M_FIRST, M_LAST, M_DURATION, M_SRCADDR, M_DSTADDR, M_SRCP, M_DSTP, M_PROTO, M_IPVER, M_VLAN, M_VLAN2,
    M_TUNNEL, M_TUNNEL_ID, M_ICMP_TYPE, M_ICMP_CODE, M_END, M_SOURCE, M_EXPORTER, M_DOMAIN, M_SAMPLING, M_IN_IF,
    M_OUT_IF, M_EST_PACKETS, M_EST_BYTES,
    /* per direction or total */
    M_PACKETS, M_SIZE, M_PAYSIZE, M_NOPAY, M_AVGPS, M_MINPS, M_MAXPS, M_STDDPS, M_AVGPAYS, M_MINPAYS, M_MAXPAYS,
    M_STDDPAYS, M_AVGIAT, M_MINIAT, M_MAXIAT, M_STDDIAT, M_FRAGS, M_FLAGS, M_FLAG0 /* + FS_TCP_* */
};

#define T(n, ty, unit, dec, m, help) { n, ty, unit, help, dec, m, -1 }

static const struct fs_field base_fields[] = {
    T("first", FS_FT_TIME, "s", 0, M_FIRST, "time of the first packet, seconds since 1970-01-01 UTC"),
    T("last", FS_FT_TIME, "s", 0, M_LAST, "time of the last packet"),
    T("duration", FS_FT_DOUBLE, "s", 6, M_DURATION, "last - first"),
    T("srcaddr", FS_FT_ADDR, "", 0, M_SRCADDR, "source (initiator) address"),
    T("dstaddr", FS_FT_ADDR, "", 0, M_DSTADDR, "destination (responder) address"),
    T("srcp", FS_FT_U64, "", 0, M_SRCP, "source port (0 when the protocol has none)"),
    T("dstp", FS_FT_U64, "", 0, M_DSTP, "destination port"),
    T("proto", FS_FT_U64, "", 0, M_PROTO, "IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...)"),
    T("ipver", FS_FT_U64, "", 0, M_IPVER, "IP version, 4 or 6"),
    T("vlan", FS_FT_U64, "", 0, M_VLAN, "outer 802.1Q VLAN id, 0 if untagged"),
    T("vlan2", FS_FT_U64, "", 0, M_VLAN2, "inner (QinQ) VLAN id, 0 if none"),
    T("tunnel", FS_FT_STR, "", 0, M_TUNNEL, "innermost tunnel decapsulated: gre, vxlan, geneve, gtp, ipip, teredo or empty"),
    T("tunnel_id", FS_FT_U64, "", 0, M_TUNNEL_ID, "VXLAN/Geneve VNI or GRE key; 0 if none (GTP: TEIDs differ per direction, not kept)"),
    T("icmp_type", FS_FT_U64, "", 0, M_ICMP_TYPE, "ICMP/ICMPv6 type of the first packet; empty for other protocols"),
    T("icmp_code", FS_FT_U64, "", 0, M_ICMP_CODE, "ICMP/ICMPv6 code of the first packet; empty for other protocols"),
    T("end", FS_FT_STR, "", 0, M_END, "why the flow ended: idle, active-timeout, fin, rst, eof, evict, emergency-idle"),
    T("source", FS_FT_STR, "", 0, M_SOURCE, "where the record came from: packets, netflow5, netflow9, ipfix, sflow"),
    T("exporter", FS_FT_ADDR, "", 0, M_EXPORTER, "address of the exporter that sent the record; empty for packets"),
    T("domain", FS_FT_U64, "", 0, M_DOMAIN, "IPFIX observation domain or NetFlow v9 source id of the exporter"),
    T("sampling", FS_FT_U64, "", 0, M_SAMPLING, "packet sampling interval of the exporter: 1 in N (0: not sampled)"),
    T("in_if", FS_FT_U64, "", 0, M_IN_IF, "ingress interface (SNMP ifIndex) from the export; 0 if unknown"),
    T("out_if", FS_FT_U64, "", 0, M_OUT_IF, "egress interface (SNMP ifIndex) from the export; 0 if unknown"),
    T("est_packets", FS_FT_U64, "packets", 0, M_EST_PACKETS, "packets scaled by the sampling interval: the estimate of what was sent"),
    T("est_bytes", FS_FT_U64, "bytes", 0, M_EST_BYTES, "bytes scaled by the sampling interval: the estimate of what was sent"),
};

struct dir_metric {
    const char *name;
    enum fs_ftype type;
    const char *unit;
    int decimals;
    int metric;
    const char *help;
};

static const struct dir_metric dir_metrics[] = {
    { "packets", FS_FT_U64, "packets", 0, M_PACKETS, "packets" },
    { "size", FS_FT_U64, "bytes", 0, M_SIZE, "sum of packet sizes (see --size)" },
    { "paysize", FS_FT_U64, "bytes", 0, M_PAYSIZE, "sum of transport payload sizes" },
    { "nopay", FS_FT_U64, "packets", 0, M_NOPAY, "packets without transport payload" },
    { "avgps", FS_FT_DOUBLE, "bytes", 3, M_AVGPS, "mean packet size" },
    { "minps", FS_FT_U64, "bytes", 0, M_MINPS, "smallest packet size" },
    { "maxps", FS_FT_U64, "bytes", 0, M_MAXPS, "largest packet size" },
    { "stddps", FS_FT_DOUBLE, "bytes", 3, M_STDDPS, "standard deviation of packet size" },
    { "avgpays", FS_FT_DOUBLE, "bytes", 3, M_AVGPAYS, "mean payload size" },
    { "minpays", FS_FT_U64, "bytes", 0, M_MINPAYS, "smallest payload size" },
    { "maxpays", FS_FT_U64, "bytes", 0, M_MAXPAYS, "largest payload size" },
    { "stddpays", FS_FT_DOUBLE, "bytes", 3, M_STDDPAYS, "standard deviation of payload size" },
    { "avgiat", FS_FT_DOUBLE, "us", 3, M_AVGIAT, "mean inter-arrival time" },
    { "miniat", FS_FT_DOUBLE, "us", 3, M_MINIAT, "smallest inter-arrival time" },
    { "maxiat", FS_FT_DOUBLE, "us", 3, M_MAXIAT, "largest inter-arrival time" },
    { "stddiat", FS_FT_DOUBLE, "us", 3, M_STDDIAT, "standard deviation of inter-arrival time" },
    { "frags", FS_FT_U64, "packets", 0, M_FRAGS, "packets that were IP fragments" },
    { "flags", FS_FT_STR, "", 0, M_FLAGS, "TCP flags seen, as CEUAPRSF with '.' for absent ones" },
    { "fin", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_FIN, "packets with TCP FIN" },
    { "syn", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_SYN, "packets with TCP SYN" },
    { "rst", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_RST, "packets with TCP RST" },
    { "psh", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_PSH, "packets with TCP PSH" },
    { "ack", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_ACK, "packets with TCP ACK" },
    { "urg", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_URG, "packets with TCP URG" },
    { "ece", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_ECE, "packets with TCP ECE" },
    { "cwr", FS_FT_U64, "packets", 0, M_FLAG0 + FS_TCP_CWR, "packets with TCP CWR" },
};

#define NBASE (sizeof base_fields / sizeof base_fields[0])
#define NDIRM (sizeof dir_metrics / sizeof dir_metrics[0])
#define NFIELDS (NBASE + 3 * NDIRM)

static struct fs_field table[NFIELDS];
static char names[3 * NDIRM][32];
static char helps[3 * NDIRM][128];
static int table_ready;

static void build(void)
{
    if (table_ready) return;
    size_t n = 0;
    for (size_t i = 0; i < NBASE; i++) table[n++] = base_fields[i];
    static const char *const prefix[3] = { "", "src_", "dst_" };
    static const char *const whose[3] = { "", " sent by the source", " sent by the destination" };
    for (int d = 0; d < 3; d++) {
        for (size_t i = 0; i < NDIRM; i++) {
            size_t k = (size_t)d * NDIRM + i;
            snprintf(names[k], sizeof names[k], "%s%s", prefix[d], dir_metrics[i].name);
            snprintf(helps[k], sizeof helps[k], "%s%s", dir_metrics[i].help, whose[d]);
            table[n++] = (struct fs_field){ names[k], dir_metrics[i].type, dir_metrics[i].unit, helps[k],
                                            dir_metrics[i].decimals, dir_metrics[i].metric, d - 1 };
        }
    }
    table_ready = 1;
}

size_t fs_field_count(void)
{
    build();
    return NFIELDS;
}

const struct fs_field *fs_field_at(size_t i)
{
    build();
    return i < NFIELDS ? &table[i] : NULL;
}

static const struct { const char *alias, *name; } aliases[] = {
    { "nopayloadcnt", "nopay" }, { "bytes", "size" }, { "sport", "srcp" }, { "dport", "dstp" },
    { "src", "srcaddr" }, { "dst", "dstaddr" }, { "srcip", "srcaddr" }, { "dstip", "dstaddr" },
    { "srcport", "srcp" }, { "dstport", "dstp" }, { "pkts", "packets" }, { "start", "first" },
    { "src_bytes", "src_size" }, { "dst_bytes", "dst_size" }, { "src_pkts", "src_packets" },
    { "dst_pkts", "dst_packets" },
};

int fs_field_find(const char *name)
{
    build();
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0) name = aliases[i].name;
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(name, table[i].name) == 0) return (int)i;
    return -1;
}

static void agg_of(const struct fs_flow *f, int dir, struct fs_flow_agg *a)
{
    if (dir >= 0) {
        /* every member assigned, none zeroed first (as below) */
        const struct fs_flow_dir *d = &f->dir[dir];
        a->packets = d->packets;
        a->bytes = d->bytes;
        a->payload = d->payload;
        a->nopay = d->nopay;
        a->first = d->first_ns;
        a->last = d->last_ns;
        a->frags = d->frags;
        a->size_sq = d->size_sq;
        a->pay_sq = d->pay_sq;
        a->iat_sq = d->iat_sq;
        a->size_min = d->size_min;
        a->size_max = d->size_max;
        a->pay_min = d->pay_min;
        a->pay_max = d->pay_max;
        a->iat_min = d->iat_min;
        a->iat_max = d->iat_max;
        for (int i = 0; i < FS_TCP_NFLAGS; i++) a->flags[i] = d->flags[i];
        a->flags_or = d->flags_or;
        return;
    }
    /* Both directions. Every member is assigned (no memset first: a rep stos of the whole struct cost a
     * fifth of the CSV writer's field time); minima come from the directions that have packets. */
    const struct fs_flow_dir *x = &f->dir[0], *y = &f->dir[1];
    int hx = x->packets != 0, hy = y->packets != 0;
    a->packets = x->packets + y->packets;
    a->bytes = x->bytes + y->bytes;
    a->payload = x->payload + y->payload;
    a->nopay = x->nopay + y->nopay;
    a->frags = (uint64_t)x->frags + y->frags;
    a->size_sq = x->size_sq + y->size_sq;
    a->pay_sq = x->pay_sq + y->pay_sq;
    a->size_min = hx && hy ? (x->size_min < y->size_min ? x->size_min : y->size_min) : hx ? x->size_min : hy ? y->size_min : 0;
    a->pay_min = hx && hy ? (x->pay_min < y->pay_min ? x->pay_min : y->pay_min) : hx ? x->pay_min : hy ? y->pay_min : 0;
    a->size_max = x->size_max > y->size_max ? x->size_max : y->size_max;
    a->pay_max = x->pay_max > y->pay_max ? x->pay_max : y->pay_max;
    for (int i = 0; i < FS_TCP_NFLAGS; i++) a->flags[i] = (uint64_t)x->flags[i] + y->flags[i];
    a->flags_or = (uint8_t)(x->flags_or | y->flags_or);
    a->first = f->first_ns;
    a->last = f->last_ns;
    a->iat_sq = f->iat_sq;
    a->iat_min = f->iat_min;
    a->iat_max = f->iat_max;
}

void fs_flow_view_init(struct fs_flow_view *v, const struct fs_flow *f, const struct fs_field_ctx *ctx)
{
    v->flow = f;
    if (ctx) v->ctx = *ctx;
    else memset(&v->ctx, 0, sizeof v->ctx);
    v->agg_ready = 0;
}

static void set_u(struct fs_value *v, uint64_t u)
{
    v->type = FS_FT_U64;
    v->u = u;
}

/* The mean of n values summing to s, as fs_stat_exact() gives it, without its variance. */
static inline double mean_of(uint64_t n, uint64_t s)
{
    return n ? (double)s / (double)n : 0.0;
}

static void set_d(struct fs_value *v, double d)
{
    v->type = FS_FT_DOUBLE;
    v->d = d;
}

void fs_field_value(const struct fs_flow *f, size_t field, const struct fs_field_ctx *ctx, struct fs_value *v)
{
    struct fs_flow_view view;
    fs_flow_view_init(&view, f, ctx);
    fs_field_get(&view, field, v);
}

int fs_field_unknown_in_exports(size_t field)
{
    build();
    int m = table[field].metric;
    return m >= M_PACKETS && m != M_PACKETS && m != M_SIZE && m != M_AVGPS && m != M_FLAGS;
}

void fs_field_get(struct fs_flow_view *view, size_t field, struct fs_value *v)
{
    build();
    const struct fs_flow *f = view->flow;
    const struct fs_field *fd = &table[field];
    v->missing = 0;
    v->type = fd->type;
    int sample = view->ctx.sample_stddev;
    switch (fd->metric) {
    case M_FIRST: v->u = f->first_ns; return;
    case M_LAST: v->u = f->last_ns; return;
    case M_DURATION: set_d(v, (double)(f->last_ns - f->first_ns) / 1e9); return;
    case M_SRCADDR:
    case M_DSTADDR:
        memcpy(v->addr, fd->metric == M_SRCADDR ? f->key.a : f->key.b, 16);
        v->ipver = f->key.ipver;
        return;
    case M_SRCP: set_u(v, f->key.pa); return;
    case M_DSTP: set_u(v, f->key.pb); return;
    case M_PROTO: set_u(v, f->key.proto); return;
    case M_IPVER: set_u(v, f->key.ipver); return;
    case M_VLAN: set_u(v, f->key.vlan); return;
    case M_VLAN2: set_u(v, f->key.vlan2); return;
    case M_TUNNEL: v->s = fs_tunnel_name(f->key.tunnel_type); return;
    case M_TUNNEL_ID: set_u(v, f->key.tunnel_id); return;
    case M_ICMP_TYPE:
    case M_ICMP_CODE:
        set_u(v, fd->metric == M_ICMP_TYPE ? f->icmp_type : f->icmp_code);
        v->missing = !(f->state & FS_FLOW_HAS_ICMP);
        return;
    case M_END:
        v->s = fs_end_reason_name(f->end_reason);
        v->missing = (f->state & FS_FLOW_EXPORTED) && f->end_reason == FS_END_ACTIVE; /* the export did not say */
        return;
    case M_SOURCE: v->s = fs_source_name(f->source); return;
    case M_EXPORTER:
        memcpy(v->addr, f->exporter, 16);
        v->ipver = f->exporter_ipver;
        v->missing = f->exporter_ipver == 0;
        return;
    case M_DOMAIN: set_u(v, f->domain); return;
    case M_SAMPLING: set_u(v, f->sampling); return;
    case M_IN_IF: set_u(v, f->in_if); return;
    case M_OUT_IF: set_u(v, f->out_if); return;
    case M_EST_PACKETS:
    case M_EST_BYTES: {
        uint64_t scale = f->sampling > 1 ? f->sampling : 1, n = 0;
        for (int d = 0; d < 2; d++) n += fd->metric == M_EST_PACKETS ? f->dir[d].packets : f->dir[d].bytes;
        set_u(v, n * scale);
        return;
    }
    }
    if ((f->state & FS_FLOW_EXPORTED) && fs_field_unknown_in_exports(field)) {
        v->missing = 1;
        return;
    }
    if (!(view->agg_ready & (1u << (fd->dir + 1)))) {
        agg_of(f, fd->dir, &view->agg[fd->dir + 1]);
        view->agg_ready |= 1u << (fd->dir + 1);
    }
    const struct fs_flow_agg *a = &view->agg[fd->dir + 1];
    uint64_t n = a->packets;
    switch (fd->metric) {
    case M_PACKETS: set_u(v, n); return;
    case M_SIZE: set_u(v, a->bytes); return;
    case M_PAYSIZE: set_u(v, a->payload); return;
    case M_NOPAY: set_u(v, a->nopay); return;
    case M_FRAGS: set_u(v, a->frags); return;
    case M_AVGPS: set_d(v, mean_of(n, a->bytes)); return;
    case M_STDDPS: set_d(v, fs_stat_exact(n, a->bytes, a->size_sq, sample).stddev); return;
    case M_MINPS: set_u(v, n ? a->size_min : 0); return;
    case M_MAXPS: set_u(v, a->size_max); return;
    case M_AVGPAYS: set_d(v, mean_of(n, a->payload)); return;
    case M_STDDPAYS: set_d(v, fs_stat_exact(n, a->payload, a->pay_sq, sample).stddev); return;
    case M_MINPAYS: set_u(v, n ? a->pay_min : 0); return;
    case M_MAXPAYS: set_u(v, a->pay_max); return;
    case M_AVGIAT:
    case M_STDDIAT: {
        /* n-1 gaps whose sum is last - first */
        uint64_t k = n >= 2 ? n - 1 : 0;
        if (fd->metric == M_AVGIAT) set_d(v, mean_of(k, a->last - a->first) / 1000.0);
        else set_d(v, fs_stat_exact(k, a->last - a->first, a->iat_sq, sample).stddev / 1000.0);
        return;
    }
    case M_MINIAT: set_d(v, n >= 2 ? (double)a->iat_min / 1000.0 : 0); return;
    case M_MAXIAT: set_d(v, n >= 2 ? (double)a->iat_max / 1000.0 : 0); return;
    case M_FLAGS: {
        static const char letters[] = "FSRPAUEC";
        for (int i = 0; i < 8; i++) v->buf[7 - i] = (a->flags_or >> i) & 1 ? letters[i] : '.';
        v->buf[8] = 0;
        v->s = v->buf;
        v->type = FS_FT_STR;
        return;
    }
    default:
        if (fd->metric >= M_FLAG0 && fd->metric < M_FLAG0 + FS_TCP_NFLAGS) {
            set_u(v, a->flags[fd->metric - M_FLAG0]);
            return;
        }
    }
    v->missing = 1;
}

static const struct { const char *name, *fields, *help; } presets[] = {
    { "default",
      "first,last,duration,srcaddr,dstaddr,srcp,dstp,proto,vlan,tunnel,packets,size,paysize,nopay,src_packets,"
      "dst_packets,src_size,dst_size,src_paysize,dst_paysize,avgps,minps,maxps,stddps,avgpays,minpays,maxpays,"
      "stddpays,avgiat,miniat,maxiat,stddiat,flags,end",
      "addresses, counts per direction, size and timing statistics" },
    { "cassandra",
      "srcaddr,dstaddr,srcp,dstp,proto,size,avgps,minps,maxps,packets,paysize,avgpays,minpays,maxpays,stddps,"
      "stddpays,duration,nopayloadcnt",
      "the columns of the published Cassandra flow table (Brno design)" },
    { "brief", "first,srcaddr,srcp,dstaddr,dstp,proto,packets,size,duration,end", "one short line per flow" },
    { "all", NULL, "every field (see `flowsift fields`)" },
};

const char *fs_field_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) return presets[i].fields ? presets[i].fields : "*";
    return NULL;
}

void fs_field_presets_each(void (*fn)(void *arg, const char *name, const char *fields, const char *help), void *arg)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        fn(arg, presets[i].name, presets[i].fields ? presets[i].fields : "(all)", presets[i].help);
}

int fs_field_parse_list(const char *spec, int *out, char (*labels)[FS_FIELD_LABEL_MAX], int max, size_t *bad)
{
    build();
    const char *p = fs_field_preset(spec);
    if (p && strcmp(p, "*") == 0) {
        int n = 0;
        for (size_t i = 0; i < NFIELDS && n < max; i++) {
            if (labels) snprintf(labels[n], FS_FIELD_LABEL_MAX, "%s", table[i].name);
            out[n++] = (int)i;
        }
        return n;
    }
    const char *s = p ? p : spec;
    int n = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char name[FS_FIELD_LABEL_MAX];
        if (len == 0 || len >= sizeof name || n >= max) {
            if (bad) *bad = p ? 0 : (size_t)(s - spec);
            return -1;
        }
        memcpy(name, s, len);
        name[len] = 0;
        int id = fs_field_find(name);
        if (id < 0) {
            if (bad) *bad = p ? 0 : (size_t)(s - spec);
            return -1;
        }
        if (labels) memcpy(labels[n], name, len + 1);
        out[n++] = id;
        s += len;
        if (*s == ',') s++;
    }
    return n;
}

static void add_col(char *buf, size_t len, const char *name)
{
    size_t n = strlen(buf);
    if (n + strlen(name) + 2 <= len) snprintf(buf + n, len - n, "%s%s", n ? " " : "", name);
}

/* Adds "dD.member" for each direction the field covers. */
static void add_dir(char *buf, size_t len, int dir, const char *member)
{
    char name[48];
    for (int d = 0; d < 2; d++)
        if (dir < 0 || dir == d) {
            snprintf(name, sizeof name, "d%d.%s", d, member);
            add_col(buf, len, name);
        }
}

void fs_field_columns(size_t field, char *buf, size_t len)
{
    build();
    const struct fs_field *fd = &table[field];
    static const char *const base[] = {
        [M_FIRST] = "first_ns", [M_LAST] = "last_ns", [M_DURATION] = "first_ns last_ns",
        [M_SRCADDR] = "addr_src ipver", [M_DSTADDR] = "addr_dst ipver", [M_SRCP] = "port_src", [M_DSTP] = "port_dst",
        [M_PROTO] = "proto", [M_IPVER] = "ipver", [M_VLAN] = "vlan", [M_VLAN2] = "vlan2", [M_TUNNEL] = "tunnel_type",
        [M_TUNNEL_ID] = "tunnel_id", [M_ICMP_TYPE] = "icmp_type icmp_code state",
        [M_ICMP_CODE] = "icmp_type icmp_code state", [M_END] = "end_reason state", [M_SOURCE] = "source",
        [M_EXPORTER] = "exporter exporter_ipver", [M_DOMAIN] = "domain", [M_SAMPLING] = "sampling",
        [M_IN_IF] = "in_if", [M_OUT_IF] = "out_if", [M_EST_PACKETS] = "sampling d0.packets d1.packets",
        [M_EST_BYTES] = "sampling d0.bytes d1.bytes",
    };
    if (fd->metric < M_PACKETS) {
        add_col(buf, len, base[fd->metric]);
        return;
    }
    if (fs_field_unknown_in_exports(field)) add_col(buf, len, "state"); /* FS_FLOW_EXPORTED */
    add_dir(buf, len, fd->dir, "packets"); /* totals skip directions without packets */
    static const char *const members[] = {
        [M_PACKETS] = "", [M_SIZE] = "bytes", [M_PAYSIZE] = "payload", [M_NOPAY] = "nopay", [M_AVGPS] = "bytes size_sq",
        [M_MINPS] = "size_min size_max", [M_MAXPS] = "size_min size_max", [M_STDDPS] = "bytes size_sq",
        [M_AVGPAYS] = "payload pay_sq", [M_MINPAYS] = "pay_min pay_max", [M_MAXPAYS] = "pay_min pay_max",
        [M_STDDPAYS] = "payload pay_sq", [M_AVGIAT] = "first_ns last_ns iat_sq", [M_MINIAT] = "iat_min iat_max",
        [M_MAXIAT] = "iat_min iat_max", [M_STDDIAT] = "first_ns last_ns iat_sq", [M_FRAGS] = "frags",
        [M_FLAGS] = "flags_or",
    };
    const char *m = fd->metric >= M_FLAG0 ? "flags" : members[fd->metric];
    if ((fd->metric >= M_AVGIAT && fd->metric <= M_STDDIAT) && fd->dir < 0) {
        add_col(buf, len, m); /* the flow's own inter-arrival aggregates and times */
        return;
    }
    char one[32];
    for (const char *p = m; *p;) {
        size_t n = strcspn(p, " ");
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        add_dir(buf, len, fd->dir, one);
        p += n;
        while (*p == ' ') p++;
    }
}

int fs_field_stored(size_t field, char col[2][FS_FIELD_LABEL_MAX])
{
    build();
    if (field >= NFIELDS) return 0;
    const struct fs_field *fd = &table[field];
    static const char *const base[] = {
        [M_FIRST] = "first_ns", [M_LAST] = "last_ns", [M_SRCP] = "port_src", [M_DSTP] = "port_dst",
        [M_PROTO] = "proto", [M_IPVER] = "ipver", [M_VLAN] = "vlan", [M_VLAN2] = "vlan2", [M_TUNNEL_ID] = "tunnel_id",
    };
    static const char *const members[] = {
        [M_PACKETS] = "packets", [M_SIZE] = "bytes", [M_PAYSIZE] = "payload", [M_NOPAY] = "nopay", [M_FRAGS] = "frags",
        [M_MINPS] = "size_min", [M_MAXPS] = "size_max", [M_MINPAYS] = "pay_min", [M_MAXPAYS] = "pay_max",
    };
    if (fd->metric == M_SRCADDR || fd->metric == M_DSTADDR) {
        snprintf(col[0], FS_FIELD_LABEL_MAX, "%s", fd->metric == M_SRCADDR ? "addr_src" : "addr_dst");
        snprintf(col[1], FS_FIELD_LABEL_MAX, "ipver");
        return 3;
    }
    if (fd->metric < M_PACKETS) {
        if ((size_t)fd->metric >= sizeof base / sizeof base[0] || !base[fd->metric]) return 0;
        snprintf(col[0], FS_FIELD_LABEL_MAX, "%s", base[fd->metric]);
        return 1;
    }
    if ((size_t)fd->metric >= sizeof members / sizeof members[0] || !members[fd->metric]) return 0;
    const char *m = members[fd->metric];
    if (fd->dir >= 0) { /* a direction without packets stores zeros, as the field reads */
        snprintf(col[0], FS_FIELD_LABEL_MAX, "d%d.%s", fd->dir, m);
        return 1;
    }
    if (fd->metric != M_PACKETS && fd->metric != M_SIZE && fd->metric != M_PAYSIZE && fd->metric != M_NOPAY &&
        fd->metric != M_FRAGS)
        return 0;
    snprintf(col[0], FS_FIELD_LABEL_MAX, "d0.%s", m);
    snprintf(col[1], FS_FIELD_LABEL_MAX, "d1.%s", m);
    return 2;
}

int fs_field_members(size_t field, size_t off[2], unsigned width[2])
{
    char col[2][FS_FIELD_LABEL_MAX];
    int how = fs_field_stored(field, col); /* the store's columns are the record's members */
    if (how != 1 && how != 2) return 0;
    for (int k = 0; k < 2; k++) {
        const struct fs_flow_member *m = fs_flow_member_find(col[how == 2 ? k : 0]);
        if (!m) return 0;
        off[k] = m->off;
        width[k] = m->width;
    }
    return how;
}
