/*
 * decode.c - link layer to transport header, with tunnels and fragments.
 *
 * Each layer function takes a bounded reader positioned at its header and
 * either hands on to the next layer or returns why the packet cannot be metered.
 * Sizes are taken from IP headers; the reader's end is the captured end, so a
 * header that is cut off is reported as FS_SKIP_TRUNCATED, never read.
 *
 * References: IEEE 802.1Q (tags 0x8100, 0x88a8, 0x9100); Cisco FabricPath (0x8903); RFC 3032 (MPLS label
 * stack); RFC 2516 (PPPoE); RFC 791 (IPv4); RFC 8200 (IPv6 and its extension
 * headers, section 4); RFC 2784/2890 (GRE, key); RFC 7348 (VXLAN); RFC 8926
 * (Geneve); 3GPP TS 29.281 (GTP-U); RFC 2003/4213 (IP-in-IP); RFC 4380 (Teredo); RFC 8086
 * (GRE-in-UDP); IEEE 802.1ah (PBB); IEEE 802.11 with radiotap; RFC 9293 (TCP);
 * RFC 768 (UDP); RFC 9260 (SCTP).
 */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include <stddef.h>

#include "../util/rd.h"
#include "reasm.h"

#define OK (-1)
#define HELD (-2) /* a fragment kept for reassembly: metered later */
#define MAX_DEPTH 4
#define FRAG_SLOTS 16384
#define FRAG_PROBE 4

struct fs_frag_entry {
    uint8_t src[16], dst[16];
    uint64_t ts_ns;
    uint32_t id;
    uint32_t tunnel_id;
    uint16_t vlan, vlan2;
    uint16_t pa, pb;
    uint8_t proto, ipver, used, pad;
};

struct ctx {
    struct fs_decoder *d;
    struct fs_pkt *out;
    int depth;
    uint8_t tunnel_type;
    uint32_t tunnel_id;
    uint16_t vlan, vlan2;
    int nvlan;
};

static int dec_ethertype(struct ctx *c, uint16_t type, struct fs_rd r);
static int dec_ip(struct ctx *c, struct fs_rd r);

const char *fs_decode_reason_name(unsigned r)
{
    static const char *const names[FS_REASON_COUNT] = {
        [FS_SKIP_LINKTYPE] = "unsupported link type",
        [FS_SKIP_NOT_IP] = "not IP",
        [FS_SKIP_TRUNCATED] = "truncated header",
        [FS_SKIP_MALFORMED] = "malformed header",
        [FS_SKIP_FRAGMENT] = "later fragments (--fragments first)",
        [FS_NOTE_FRAGMENT] = "IP fragments",
        [FS_NOTE_FRAG_ORPHAN] = "fragments without their first fragment",
        [FS_NOTE_TUNNEL] = "decapsulated",
        [FS_NOTE_TUNNEL_BAD] = "undecodable tunnel payload (outer flow metered)",
        [FS_NOTE_SNAPLEN] = "cut by snaplen",
        [FS_NOTE_HELD] = "tunnel fragments merged into reassembled datagrams",
        [FS_NOTE_REASSEMBLED] = "tunnel datagrams reassembled",
        [FS_NOTE_REASM_RELEASED] = "tunnel fragments left unassembled (outer flow metered)",
    };
    return r < FS_REASON_COUNT ? names[r] : "?";
}

void fs_decode_opts_default(struct fs_decode_opts *o)
{
    o->decap = FS_DECAP_ALL;
    o->vlan_in_key = 1;
    o->later_fragments = 1;
    o->frag_timeout_ns = 30ull * 1000000000ull;
}

int fs_decoder_init(struct fs_decoder *d, const struct fs_decode_opts *opts)
{
    memset(d, 0, sizeof *d);
    if (opts) d->opts = *opts;
    else fs_decode_opts_default(&d->opts);
    d->frags = calloc(FRAG_SLOTS, sizeof *d->frags);
    d->reasm = calloc(1, sizeof *d->reasm);
    if (!d->frags || !d->reasm || fs_reasm_init(d->reasm)) {
        fs_decoder_release(d);
        return -1;
    }
    d->frag_mask = FRAG_SLOTS - 1;
    return 0;
}

void fs_decoder_release(struct fs_decoder *d)
{
    free(d->frags);
    d->frags = NULL;
    if (d->reasm) fs_reasm_release(d->reasm);
    free(d->reasm);
    d->reasm = NULL;
}

/* ---- fragment table: first fragment's ports by (addresses, id, proto) ---- */

static uint64_t frag_hash(const struct fs_pkt *p, uint32_t id)
{
    struct fs_flow_key k = p->key;
    k.pa = k.pb = 0;
    k.pad = 0;
    return fs_key_hash(&k, id);
}

static int frag_match(const struct fs_frag_entry *e, const struct fs_pkt *p, uint32_t id)
{
    return e->used && e->id == id && e->proto == p->key.proto && e->ipver == p->key.ipver &&
           e->vlan == p->key.vlan && e->vlan2 == p->key.vlan2 && e->tunnel_id == p->key.tunnel_id &&
           memcmp(e->src, p->key.a, 16) == 0 && memcmp(e->dst, p->key.b, 16) == 0;
}

static void frag_remember(struct fs_decoder *d, const struct fs_pkt *p, uint32_t id)
{
    uint64_t h = frag_hash(p, id);
    struct fs_frag_entry *victim = NULL;
    for (int i = 0; i < FRAG_PROBE; i++) {
        struct fs_frag_entry *e = &d->frags[(h + (uint64_t)i) & d->frag_mask];
        if (frag_match(e, p, id)) { victim = e; break; }
        if (!victim || !e->used || e->ts_ns < victim->ts_ns) victim = e;
    }
    memcpy(victim->src, p->key.a, 16);
    memcpy(victim->dst, p->key.b, 16);
    victim->id = id;
    victim->proto = p->key.proto;
    victim->ipver = p->key.ipver;
    victim->vlan = p->key.vlan;
    victim->vlan2 = p->key.vlan2;
    victim->tunnel_id = p->key.tunnel_id;
    victim->pa = p->key.pa;
    victim->pb = p->key.pb;
    victim->ts_ns = p->ts_ns;
    victim->used = 1;
}

static int frag_lookup(struct fs_decoder *d, struct fs_pkt *p, uint32_t id)
{
    uint64_t h = frag_hash(p, id);
    for (int i = 0; i < FRAG_PROBE; i++) {
        struct fs_frag_entry *e = &d->frags[(h + (uint64_t)i) & d->frag_mask];
        if (frag_match(e, p, id)) {
            if (p->ts_ns > e->ts_ns && p->ts_ns - e->ts_ns > d->opts.frag_timeout_ns) {
                e->used = 0;
                return 0;
            }
            p->key.pa = e->pa;
            p->key.pb = e->pb;
            return 1;
        }
    }
    return 0;
}

/* ---- transport ---- */

/* Fills ports, flags and payload for protocol `proto`; l4 covers the transport
 * bytes that were captured, l4len is their length according to the IP header. */
static int dec_l4(struct ctx *c, uint8_t proto, struct fs_rd l4, uint32_t l4len);

static int try_tunnel(struct ctx *c, enum fs_tunnel t, uint32_t id, uint16_t ethertype, struct fs_rd inner)
{
    if (c->depth >= MAX_DEPTH) return 0;
    struct fs_pkt saved = *c->out;
    struct ctx in = *c;
    in.depth++;
    in.tunnel_type = (uint8_t)t;
    in.tunnel_id = id;
    in.out->key.tunnel_type = (uint8_t)t;
    in.out->key.tunnel_id = id;
    int rc = dec_ethertype(&in, ethertype, inner);
    if (rc == OK) {
        c->d->stats.count[FS_NOTE_TUNNEL]++;
        return 1;
    }
    *c->out = saved;
    if (rc != FS_SKIP_NOT_IP) c->d->stats.count[FS_NOTE_TUNNEL_BAD]++;
    return 0;
}

/* Inner packet whose type is given by its IP version nibble (GTP-U, MPLS). */
static uint16_t ethertype_from_nibble(const struct fs_rd *r)
{
    if (fs_rd_left(r) < 1) return 0;
    switch (r->p[0] >> 4) {
    case 4: return 0x0800;
    case 6: return 0x86DD;
    }
    return 0;
}

static void gre_tunnel(struct ctx *c, struct fs_rd r);

static void udp_tunnels(struct ctx *c, struct fs_rd r)
{
    unsigned decap = c->d->opts.decap;
    uint16_t sp = c->out->key.pa, dp = c->out->key.pb;
    if ((decap & FS_DECAP_VXLAN) && dp == 4789) { /* RFC 7348 section 5 */
        uint8_t flags = fs_rd_u8(&r);
        fs_rd_skip(&r, 3);
        uint32_t vni = fs_rd_be32(&r) >> 8;
        if (!r.err && (flags & 0x08)) try_tunnel(c, FS_TUNNEL_VXLAN, vni, 0x6558, r);
    } else if ((decap & FS_DECAP_GENEVE) && dp == 6081) { /* RFC 8926 section 3.4 */
        uint8_t b0 = fs_rd_u8(&r);
        fs_rd_skip(&r, 1);
        uint16_t ptype = fs_rd_be16(&r);
        uint32_t vni = fs_rd_be32(&r) >> 8;
        fs_rd_skip(&r, (size_t)(b0 & 0x3f) * 4);
        if (!r.err && (b0 >> 6) == 0) try_tunnel(c, FS_TUNNEL_GENEVE, vni, ptype, r);
    } else if ((decap & FS_DECAP_GRE) && dp == 4754) { /* GRE-in-UDP, RFC 8086 */
        gre_tunnel(c, r);
    } else if ((decap & FS_DECAP_TEREDO) && (dp == 3544 || sp == 3544)) { /* RFC 4380 section 5.1.1 */
        for (int n = 0; n < 2 && fs_rd_left(&r) >= 2 && r.p[0] == 0; n++) {
            if (r.p[1] == 1) { /* authentication indicator: lengths of client id and auth value */
                if (fs_rd_left(&r) < 4) return;
                size_t skip = 4u + r.p[2] + r.p[3] + 9u;
                fs_rd_skip(&r, skip);
            } else if (r.p[1] == 0) { /* origin indication */
                fs_rd_skip(&r, 8);
            } else {
                return;
            }
        }
        if (!r.err && fs_rd_left(&r) >= 40 && (r.p[0] >> 4) == 6) try_tunnel(c, FS_TUNNEL_TEREDO, 0, 0x86DD, r);
    } else if ((decap & FS_DECAP_GTP) && (dp == 2152 || sp == 2152)) { /* TS 29.281 section 5.1 */
        uint8_t flags = fs_rd_u8(&r);
        uint8_t type = fs_rd_u8(&r);
        fs_rd_skip(&r, 2);
        uint32_t teid = fs_rd_be32(&r);
        if (r.err || (flags >> 5) != 1 || !(flags & 0x10) || type != 0xff) return;
        if (flags & 0x07) { /* sequence, N-PDU and next extension type fields */
            fs_rd_skip(&r, 3);
            uint8_t next = fs_rd_u8(&r);
            for (int n = 0; next && !r.err && n < 8; n++) { /* extension headers, length in 4-byte units */
                uint8_t len = fs_rd_u8(&r);
                if (len == 0) { r.err = 1; break; }
                fs_rd_skip(&r, (size_t)len * 4 - 2);
                next = fs_rd_u8(&r);
            }
        }
        if (r.err) {
            c->d->stats.count[FS_NOTE_TUNNEL_BAD]++;
            return;
        }
        uint16_t et = ethertype_from_nibble(&r);
        (void)teid; /* each side of a GTP tunnel picks its own TEID: in the key it would split every flow in two */
        if (et) try_tunnel(c, FS_TUNNEL_GTP, 0, et, r);
    }
}

static void gre_tunnel(struct ctx *c, struct fs_rd r)
{
    uint16_t fl = fs_rd_be16(&r);
    uint16_t ptype = fs_rd_be16(&r);
    uint32_t key = 0;
    unsigned ver = fl & 7;
    if (ver > 1) return;
    if (fl & 0x8000) fs_rd_skip(&r, 4);       /* checksum + reserved */
    if (fl & 0x2000) key = fs_rd_be32(&r);    /* key (RFC 2890); PPTP: payload length + call id */
    if (fl & 0x1000) fs_rd_skip(&r, 4);       /* sequence number */
    if (ver == 1 && (fl & 0x0080)) fs_rd_skip(&r, 4); /* PPTP acknowledgment number */
    if (r.err) return;
    if (ptype == 0x880B) { /* PPP in enhanced GRE (RFC 2637) */
        if (fs_rd_left(&r) >= 2 && r.p[0] == 0xff && r.p[1] == 0x03) fs_rd_skip(&r, 2);
        uint16_t pp = fs_rd_u8(&r);
        if (!(pp & 1)) pp = (uint16_t)(pp << 8 | fs_rd_u8(&r));
        if (r.err) return;
        ptype = pp == 0x21 ? 0x0800 : pp == 0x57 ? 0x86DD : 0;
        if (!ptype) return;
    } else if (ptype == 0x88BE) { /* ERSPAN type II (sequence bit set): 8-byte header; type I: none */
        if (fl & 0x1000) fs_rd_skip(&r, 8);
        ptype = 0x6558;
    } else if (ptype == 0x22EB) { /* ERSPAN type III: 12 bytes, +8 with the O flag */
        if (fs_rd_left(&r) < 12) return;
        int o = r.p[11] & 1;
        fs_rd_skip(&r, o ? 20 : 12);
        ptype = 0x6558;
    }
    if (!r.err) try_tunnel(c, FS_TUNNEL_GRE, key, ptype, r);
}

static int dec_l4(struct ctx *c, uint8_t proto, struct fs_rd r, uint32_t l4len)
{
    struct fs_pkt *o = c->out;
    unsigned hdr = 0;
    o->key.proto = proto;
    switch (proto) {
    case 6: { /* TCP, RFC 9293 section 3.1 */
        if (!fs_rd_need(&r, 14)) return FS_SKIP_TRUNCATED;
        o->key.pa = fs_rd_be16(&r);
        o->key.pb = fs_rd_be16(&r);
        fs_rd_skip(&r, 8);
        hdr = (unsigned)(fs_rd_u8(&r) >> 4) * 4;
        o->tcp_flags = fs_rd_u8(&r);
        if (hdr < 20) return FS_SKIP_MALFORMED;
        break;
    }
    case 17:  /* UDP */
    case 136: /* UDP-Lite */
        if (!fs_rd_need(&r, 4)) return FS_SKIP_TRUNCATED;
        o->key.pa = fs_rd_be16(&r);
        o->key.pb = fs_rd_be16(&r);
        hdr = 8;
        break;
    case 132: /* SCTP common header */
        if (!fs_rd_need(&r, 4)) return FS_SKIP_TRUNCATED;
        o->key.pa = fs_rd_be16(&r);
        o->key.pb = fs_rd_be16(&r);
        hdr = 12;
        break;
    case 33: /* DCCP: data offset in 4-byte words at byte 4 */
        if (!fs_rd_need(&r, 5)) return FS_SKIP_TRUNCATED;
        o->key.pa = fs_rd_be16(&r);
        o->key.pb = fs_rd_be16(&r);
        hdr = (unsigned)fs_rd_u8(&r) * 4;
        break;
    case 1:  /* ICMP */
    case 58: /* ICMPv6 */
        if (!fs_rd_need(&r, 2)) return FS_SKIP_TRUNCATED;
        o->icmp_type = fs_rd_u8(&r);
        o->icmp_code = fs_rd_u8(&r);
        o->has_icmp = 1;
        hdr = 8;
        break;
    default:
        hdr = 0;
    }
    o->payload = l4len > hdr ? l4len - hdr : 0;
    if (l4len < hdr && (proto == 6 || proto == 17)) return FS_SKIP_MALFORMED;
    return OK;
}

/* After dec_l4 succeeded: decapsulate what the transport carries. `l4` is the
 * transport reader from the start of the transport header. */
static void look_inside(struct ctx *c, uint8_t proto, struct fs_rd l4)
{
    unsigned decap = c->d->opts.decap;
    if (proto == 17) {
        fs_rd_skip(&l4, 8);
        if (!l4.err) udp_tunnels(c, l4);
    } else if (proto == 47 && (decap & FS_DECAP_GRE)) {
        gre_tunnel(c, l4);
    } else if ((proto == 4 || proto == 41) && (decap & FS_DECAP_IPIP)) {
        try_tunnel(c, FS_TUNNEL_IPIP, 0, proto == 4 ? 0x0800 : 0x86DD, l4);
    }
}

/* ---- network ---- */

/* Would this first fragment's datagram be decapsulated? (Then it is worth reassembling.) */
static int tunnel_carrier(const struct ctx *c, uint8_t proto)
{
    unsigned decap = c->d->opts.decap;
    uint16_t sp = c->out->key.pa, dp = c->out->key.pb;
    if (proto == 17)
        return ((decap & FS_DECAP_VXLAN) && dp == 4789) || ((decap & FS_DECAP_GENEVE) && dp == 6081) ||
               ((decap & FS_DECAP_GRE) && dp == 4754) || ((decap & FS_DECAP_TEREDO) && (dp == 3544 || sp == 3544)) ||
               ((decap & FS_DECAP_GTP) && (dp == 2152 || sp == 2152));
    if (proto == 47) return (decap & FS_DECAP_GRE) != 0;
    if (proto == 4 || proto == 41) return (decap & FS_DECAP_IPIP) != 0;
    return 0;
}

struct frag_info {
    int is_frag;        /* the packet is a fragment */
    uint32_t id;
    uint32_t off;       /* byte offset of its data in the datagram's transport bytes */
    int more;           /* more fragments follow */
    int reasm_ok;       /* its data starts at the transport header (no headers between) */
    uint32_t hdr_len;   /* IP header bytes before the transport bytes */
};

static void note_released(struct ctx *c, uint32_t n) { c->d->stats.count[FS_NOTE_REASM_RELEASED] += n; }

/* A later fragment of a datagram being reassembled: held, or completing it (then the whole datagram is
 * decoded and one packet metered). Returns HELD, OK or a skip reason; -3 when it is not reassembled. */
static int reasm_later(struct ctx *c, uint8_t proto, struct fs_rd l4, uint32_t l4len, const struct frag_info *fi)
{
    struct fs_pkt *o = c->out;
    struct fs_reasm_slot *slot = fs_reasm_find(c->d->reasm, o, fi->id);
    if (!slot) return -3;
    o->payload = l4len;
    if (!fi->reasm_ok || fs_rd_left(&l4) < l4len || fs_reasm_add(slot, o, fi->off, l4.p, l4len, fi->more) < 0) {
        note_released(c, fs_reasm_drop(c->d->reasm, slot)); /* cannot complete: its fragments go out as they are */
        return -3;
    }
    if (!fs_reasm_complete(slot)) return HELD;
    uint64_t ts = o->ts_ns;
    *o = slot->first;
    o->ts_ns = ts;
    o->wirelen = slot->wire_sum;
    o->ip_len = slot->hdr_len + slot->total;
    o->is_fragment = 0; /* one whole datagram now */
    c->d->stats.count[FS_NOTE_REASSEMBLED]++;
    c->d->stats.count[FS_NOTE_HELD] += (uint64_t)slot->nfrags - 1; /* the completing one is metered now */
    struct fs_rd whole = fs_rd_make(slot->buf, slot->total);
    slot->used = 0;
    int rc = dec_l4(c, proto, whole, (uint32_t)fs_rd_left(&whole));
    if (rc == OK) look_inside(c, proto, whole);
    return rc;
}

static int finish_ip(struct ctx *c, uint8_t proto, struct fs_rd l4, uint32_t l4len, const struct frag_info *fi)
{
    struct fs_pkt *o = c->out;
    o->key.proto = proto;
    /* an inner packet starts clean: nothing of the outer transport header carries over */
    o->key.pa = o->key.pb = 0;
    o->tcp_flags = 0;
    o->has_icmp = 0;
    o->icmp_type = o->icmp_code = 0;
    if (!fi->is_frag) {
        int rc = dec_l4(c, proto, l4, l4len);
        if (rc == OK) look_inside(c, proto, l4);
        return rc;
    }
    c->d->stats.count[FS_NOTE_FRAGMENT]++;
    o->is_fragment = 1;
    note_released(c, fs_reasm_expire(c->d->reasm, o->ts_ns, c->d->opts.frag_timeout_ns));
    if (fi->off > 0) { /* a later fragment: no transport header */
        if (!c->d->opts.later_fragments) return FS_SKIP_FRAGMENT;
        int rc = reasm_later(c, proto, l4, l4len, fi);
        if (rc != -3) return rc;
        o->key.pa = o->key.pb = 0;
        o->payload = l4len;
        if (!frag_lookup(c->d, o, fi->id)) c->d->stats.count[FS_NOTE_FRAG_ORPHAN]++;
        return OK;
    }
    int rc = dec_l4(c, proto, l4, l4len);
    if (rc != OK) return rc;
    frag_remember(c->d, o, fi->id);
    if (fi->more && fi->reasm_ok && c->d->opts.later_fragments && fs_rd_left(&l4) >= l4len && tunnel_carrier(c, proto)) {
        uint32_t released = 0;
        struct fs_reasm_slot *slot = fs_reasm_start(c->d->reasm, o, fi->id, fi->hdr_len, &released);
        note_released(c, released);
        if (slot && fs_reasm_add(slot, o, 0, l4.p, l4len, 1) == 0) return HELD;
        if (slot) slot->used = 0;
    }
    return OK; /* metered as its outer flow */
}

static int dec_ipv4(struct ctx *c, struct fs_rd r)
{
    struct fs_pkt *o = c->out;
    size_t captured = fs_rd_left(&r);
    if (captured < 20) return FS_SKIP_TRUNCATED;
    const uint8_t *h = r.p;
    if ((h[0] >> 4) != 4) return FS_SKIP_MALFORMED;
    unsigned ihl = (unsigned)(h[0] & 15) * 4;
    if (ihl < 20) return FS_SKIP_MALFORMED;
    if (captured < ihl) return FS_SKIP_TRUNCATED;
    uint32_t total = (uint32_t)(h[2] << 8 | h[3]);
    if (total == 0) total = (uint32_t)captured; /* TCP segmentation offload leaves it 0 */
    if (total < ihl) return FS_SKIP_MALFORMED;
    if (captured < total) c->d->stats.count[FS_NOTE_SNAPLEN]++;
    uint16_t id = (uint16_t)(h[4] << 8 | h[5]);
    uint16_t fragf = (uint16_t)(h[6] << 8 | h[7]);
    memset(o->key.a, 0, 16);
    memset(o->key.b, 0, 16);
    memcpy(o->key.a, h + 12, 4);
    memcpy(o->key.b, h + 16, 4);
    o->key.ipver = 4;
    o->ip_len = total;
    fs_rd_skip(&r, ihl);
    struct fs_rd l4 = fs_rd_sub(&r, total - ihl, NULL);
    struct frag_info fi = { .is_frag = (fragf & 0x3fff) != 0, .id = id, .off = (uint32_t)(fragf & 0x1fff) * 8,
                            .more = (fragf & 0x2000) != 0, .reasm_ok = 1, .hdr_len = ihl };
    return finish_ip(c, h[9], l4, total - ihl, &fi);
}

static int dec_ipv6(struct ctx *c, struct fs_rd r)
{
    struct fs_pkt *o = c->out;
    size_t captured = fs_rd_left(&r);
    if (captured < 40) return FS_SKIP_TRUNCATED;
    const uint8_t *h = r.p;
    if ((h[0] >> 4) != 6) return FS_SKIP_MALFORMED;
    uint32_t total = 40u + (uint32_t)(h[4] << 8 | h[5]);
    if (total == 40 && captured > 40 && h[6] == 0) total = (uint32_t)captured; /* a jumbogram (RFC 2675) */
    if (captured < total) c->d->stats.count[FS_NOTE_SNAPLEN]++;
    memcpy(o->key.a, h + 8, 16);
    memcpy(o->key.b, h + 24, 16);
    o->key.ipver = 6;
    o->ip_len = total;
    uint8_t nh = h[6];
    fs_rd_skip(&r, 40);
    struct fs_rd p = fs_rd_sub(&r, total - 40, NULL);
    uint32_t left = total - 40; /* bytes of the IP payload per the header */
    struct frag_info fi = { 0 };
    uint32_t left_after_frag = 0;
    int frag_hdr = 0;
    for (int n = 0; n < 16; n++) { /* RFC 8200 section 4 */
        uint32_t len;
        if (nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 139 || nh == 140) {
            if (!fs_rd_need(&p, 2)) return FS_SKIP_TRUNCATED;
            len = ((uint32_t)p.p[1] + 1) * 8;
        } else if (nh == 51) { /* AH, RFC 4302: length in 4-byte units minus 2 */
            if (!fs_rd_need(&p, 2)) return FS_SKIP_TRUNCATED;
            len = ((uint32_t)p.p[1] + 2) * 4;
        } else if (nh == 44) { /* fragment header, section 4.5 */
            if (!fs_rd_need(&p, 8)) return FS_SKIP_TRUNCATED;
            uint16_t offm = (uint16_t)(p.p[2] << 8 | p.p[3]);
            fi.is_frag = 1;
            fi.id = (uint32_t)p.p[4] << 24 | (uint32_t)p.p[5] << 16 | (uint32_t)p.p[6] << 8 | p.p[7];
            fi.off = (uint32_t)(offm >> 3) * 8;
            fi.more = offm & 1;
            if (fi.off == 0 && !fi.more) fi.is_frag = 0; /* an atomic fragment (RFC 6946): a whole packet */
            frag_hdr = 1;
            len = 8;
        } else {
            break;
        }
        if (len > left) return FS_SKIP_MALFORMED;
        uint8_t next = p.p[0];
        fs_rd_skip(&p, len);
        if (p.err) return FS_SKIP_TRUNCATED;
        left -= len;
        nh = next;
        if (frag_hdr) left_after_frag = left;
        frag_hdr = 0;
        if (fi.off > 0) break; /* what follows a later fragment's header is not a header */
    }
    fi.reasm_ok = fi.is_frag && left == left_after_frag;
    fi.hdr_len = total - left;
    return finish_ip(c, nh, p, left, &fi);
}

static int dec_ip(struct ctx *c, struct fs_rd r)
{
    if (fs_rd_left(&r) < 1) return FS_SKIP_TRUNCATED;
    switch (r.p[0] >> 4) {
    case 4: return dec_ipv4(c, r);
    case 6: return dec_ipv6(c, r);
    }
    return FS_SKIP_MALFORMED;
}

/* ---- link ---- */

/* An Ethernet frame. Its own 802.1Q tags replace those of an outer frame (a
 * VXLAN payload); an untagged inner frame keeps the outer frame's VLAN ids. */
static int dec_ether(struct ctx *c, struct fs_rd r)
{
    c->nvlan = 0;
    fs_rd_skip(&r, 12);
    uint16_t type = fs_rd_be16(&r);
    if (r.err) return FS_SKIP_TRUNCATED;
    return dec_ethertype(c, type, r);
}

static int dec_mpls(struct ctx *c, struct fs_rd r)
{
    for (int n = 0; n < 16; n++) { /* RFC 3032 section 2.1: bottom of stack bit */
        uint32_t lse = fs_rd_be32(&r);
        if (r.err) return FS_SKIP_TRUNCATED;
        if (lse & 0x100) {
            if (fs_rd_left(&r) < 1) return FS_SKIP_TRUNCATED;
            uint16_t et = ethertype_from_nibble(&r);
            if (et) return dec_ethertype(c, et, r);
            if ((r.p[0] >> 4) == 0) { /* pseudowire control word, then Ethernet (RFC 4448) */
                fs_rd_skip(&r, 4);
                return dec_ether(c, r);
            }
            return FS_SKIP_NOT_IP;
        }
    }
    return FS_SKIP_MALFORMED;
}

static int dec_ethertype(struct ctx *c, uint16_t type, struct fs_rd r)
{
    for (int n = 0; n < 8; n++) {
        switch (type) {
        case 0x0800:
        case 0x86DD:
            if (c->d->opts.vlan_in_key) {
                c->out->key.vlan = c->vlan;
                c->out->key.vlan2 = c->vlan2;
            }
            return dec_ip(c, r);
        case 0x8100:
        case 0x88a8:
        case 0x9100: {
            uint16_t tci = fs_rd_be16(&r);
            type = fs_rd_be16(&r);
            if (r.err) return FS_SKIP_TRUNCATED;
            if (c->nvlan == 0) {
                c->vlan = tci & 0x0fff;
                c->vlan2 = 0;
            } else if (c->nvlan == 1) {
                c->vlan2 = tci & 0x0fff;
            }
            c->nvlan++;
            continue;
        }
        case 0x8847:
        case 0x8848:
            return dec_mpls(c, r);
        case 0x8864: { /* PPPoE session stage, RFC 2516 section 4 */
            fs_rd_skip(&r, 6);
            uint16_t ppp = fs_rd_be16(&r);
            if (r.err) return FS_SKIP_TRUNCATED;
            if (ppp == 0x0021) type = 0x0800;
            else if (ppp == 0x0057) type = 0x86DD;
            else return FS_SKIP_NOT_IP;
            continue;
        }
        case 0x6558: /* transparent Ethernet bridging: an Ethernet frame inside */
            return dec_ether(c, r);
        case 0x88e7: /* 802.1ah provider backbone bridging: I-TAG, then the customer's frame */
            fs_rd_skip(&r, 4);
            if (r.err) return FS_SKIP_TRUNCATED;
            return dec_ether(c, r);
        case 0x8926: /* Cisco VN-Tag: 4 bytes, then an ethertype */
            fs_rd_skip(&r, 4);
            type = fs_rd_be16(&r);
            if (r.err) return FS_SKIP_TRUNCATED;
            continue;
        case 0x8903: /* Cisco FabricPath: FTag/TTL, then the classic Ethernet frame */
            fs_rd_skip(&r, 2);
            if (r.err) return FS_SKIP_TRUNCATED;
            return dec_ether(c, r);
        default:
            if (type <= 1500) { /* 802.3 length: LLC, maybe SNAP with an ethertype */
                if (fs_rd_left(&r) >= 8 && r.p[0] == 0xaa && r.p[1] == 0xaa && r.p[2] == 0x03) {
                    fs_rd_skip(&r, 6);
                    type = fs_rd_be16(&r);
                    continue;
                }
            }
            return FS_SKIP_NOT_IP;
        }
    }
    return FS_SKIP_MALFORMED;
}

/* An IEEE 802.11 frame: data frames carry LLC/SNAP with an ethertype (802.11-2020 section 9.2). */
static int dec_80211(struct ctx *c, struct fs_rd r)
{
    if (fs_rd_left(&r) < 24) return FS_SKIP_TRUNCATED;
    uint8_t fc0 = r.p[0], fc1 = r.p[1];
    if (((fc0 >> 2) & 3) != 2) return FS_SKIP_NOT_IP;   /* not a data frame */
    if (fc1 & 0x40) return FS_SKIP_NOT_IP;              /* protected: encrypted payload */
    unsigned subtype = (fc0 >> 4) & 15;
    if (subtype & 4) return FS_SKIP_NOT_IP;             /* null function: no body */
    size_t hdr = 24;
    if ((fc1 & 3) == 3) hdr += 6;                       /* to DS and from DS: a fourth address */
    if (subtype & 8) hdr += 2;                          /* QoS control */
    if ((subtype & 8) && (fc1 & 0x80)) hdr += 4;        /* HT control, with order bit on QoS frames */
    fs_rd_skip(&r, hdr);
    if (fs_rd_left(&r) < 8) return r.err ? FS_SKIP_TRUNCATED : FS_SKIP_NOT_IP;
    if (!(r.p[0] == 0xaa && r.p[1] == 0xaa && r.p[2] == 0x03)) return FS_SKIP_NOT_IP;
    fs_rd_skip(&r, 6);
    uint16_t et = fs_rd_be16(&r);
    return dec_ethertype(c, et, r);
}

static int dec_link(struct ctx *c, uint32_t linktype, struct fs_rd r)
{
    switch (linktype) {
    case 105: /* IEEE 802.11 */
        return dec_80211(c, r);
    case 127: { /* radiotap header (its length is little-endian at byte 2), then 802.11 */
        if (fs_rd_left(&r) < 4) return FS_SKIP_TRUNCATED;
        size_t len = (size_t)(r.p[2] | r.p[3] << 8);
        fs_rd_skip(&r, len);
        if (r.err) return FS_SKIP_TRUNCATED;
        return dec_80211(c, r);
    }
    case FS_LINK_ETHERNET:
        return dec_ether(c, r);
    case FS_LINK_RAW:
    case FS_LINK_RAW_OPENBSD:
    case FS_LINK_RAW_BSDOS:
    case FS_LINK_IPV4:
    case FS_LINK_IPV6:
        return dec_ip(c, r);
    case FS_LINK_NULL:
    case FS_LINK_LOOP: {
        uint32_t fam = linktype == FS_LINK_LOOP ? fs_rd_be32(&r) : fs_rd_le32(&r);
        if (r.err) return FS_SKIP_TRUNCATED;
        if (fam > 0xffff) fam = __builtin_bswap32(fam); /* written on a host of the other byte order */
        if (fam == 2) return dec_ipv4(c, r);
        if (fam == 24 || fam == 28 || fam == 30 || fam == 10) return dec_ipv6(c, r);
        return FS_SKIP_NOT_IP;
    }
    case FS_LINK_LINUX_SLL: {
        fs_rd_skip(&r, 14);
        uint16_t proto = fs_rd_be16(&r);
        if (r.err) return FS_SKIP_TRUNCATED;
        return dec_ethertype(c, proto, r);
    }
    case FS_LINK_LINUX_SLL2: {
        uint16_t proto = fs_rd_be16(&r);
        fs_rd_skip(&r, 18);
        if (r.err) return FS_SKIP_TRUNCATED;
        return dec_ethertype(c, proto, r);
    }
    case 104: /* Cisco HDLC: address, control, then an ethertype */
    case 9:   /* PPP */
    case 50: { /* PPP in HDLC-like framing */
        if (fs_rd_left(&r) >= 2 && (r.p[0] == 0x0f || r.p[0] == 0x8f)) { /* Cisco HDLC framing */
            fs_rd_skip(&r, 2);
            uint16_t et = fs_rd_be16(&r);
            if (r.err) return FS_SKIP_TRUNCATED;
            return dec_ethertype(c, et, r);
        }
        if (linktype == 104) return FS_SKIP_MALFORMED;
        if (fs_rd_left(&r) >= 2 && r.p[0] == 0xff && r.p[1] == 0x03) fs_rd_skip(&r, 2);
        uint16_t proto = fs_rd_be16(&r);
        if (r.err) return FS_SKIP_TRUNCATED;
        if (proto == 0x0021) return dec_ipv4(c, r);
        if (proto == 0x0057) return dec_ipv6(c, r);
        return FS_SKIP_NOT_IP;
    }
    }
    return FS_SKIP_LINKTYPE;
}

_Static_assert(offsetof(struct fs_flow_key, pa) == 32 && offsetof(struct fs_flow_key, pb) == 34 &&
                   offsetof(struct fs_flow_key, proto) == 44 && offsetof(struct fs_flow_key, ipver) == 45,
               "fast_ipv4 writes the key as words");
_Static_assert(offsetof(struct fs_pkt, ts_ns) == 48 && offsetof(struct fs_pkt, wirelen) == 56 &&
                   offsetof(struct fs_pkt, ip_len) == 60 && offsetof(struct fs_pkt, payload) == 64 &&
                   offsetof(struct fs_pkt, tcp_flags) == 68 && offsetof(struct fs_pkt, hash) == 80 &&
                   sizeof(struct fs_pkt) == 88,
               "fast_ipv4 writes the packet as words");

/* The common case first: an untagged Ethernet frame carrying a whole IPv4 packet without options that is
 * not a fragment, and in it TCP, or UDP on a port no tunnel uses. Fills what the general path would and
 * returns 1; returns 0 for anything else (the general path then decodes the frame from the start). */
static int fast_ipv4(const struct fs_capture_pkt *cp, struct fs_pkt *o)
{
    const uint8_t *e = cp->data;
    if (cp->linktype != FS_LINK_ETHERNET || cp->caplen < 14 + 20 + 8 || e[12] != 0x08 || e[13] != 0x00) return 0;
    const uint8_t *h = e + 14, *l4 = h + 20;
    uint32_t total = (uint32_t)(h[2] << 8 | h[3]);
    if (h[0] != 0x45 || total < 20 + 8 || total > cp->caplen - 14 || ((h[6] & 0x3f) | h[7])) return 0;
    uint32_t l4len = total - 20, hdr;
    uint16_t pa = (uint16_t)(l4[0] << 8 | l4[1]), pb = (uint16_t)(l4[2] << 8 | l4[3]);
    uint8_t flags = 0;
    if (h[9] == 6) {
        hdr = (uint32_t)(l4[12] >> 4) * 4;
        if (l4len < 20 || hdr < 20 || hdr > l4len) return 0;
        flags = l4[13];
    } else if (h[9] == 17) {
        if (pb == 4789 || pb == 6081 || pb == 4754 || pb == 3544 || pa == 3544 || pb == 2152 || pa == 2152)
            return 0; /* perhaps a tunnel (udp_tunnels) */
        hdr = 8;
    } else {
        return 0;
    }
    /* Every byte of *o is written here, padding included, as whole words: no memset first (a rep stos,
     * slow to start for 88 bytes), and the key is stored as routing reads it next (fs_key_canonicalize,
     * fs_key_hash): a load that spans several narrower stores waits for them to reach the cache. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t a, b;
    memcpy(&a, h + 12, 4);
    memcpy(&b, h + 16, 4);
    typedef uint64_t u64x2 __attribute__((vector_size(16)));
    u64x2 wa = { a, 0 }, wb = { b, 0 }, wp = { (uint64_t)pa | (uint64_t)pb << 16, (uint64_t)h[9] << 32 | (uint64_t)4 << 40 };
    u64x2 wt = { cp->ts_ns, (uint64_t)cp->wirelen | (uint64_t)total << 32 };
    u64x2 wf = { (uint64_t)(l4len - hdr) | (uint64_t)flags << 32, 0 };
    uint64_t zero = 0;
    char *q = (char *)o;
    memcpy(q, &wa, 16);
    memcpy(q + 16, &wb, 16);
    memcpy(q + 32, &wp, 16);
    memcpy(q + 48, &wt, 16);
    memcpy(q + 64, &wf, 16);
    memcpy(q + 80, &zero, 8);
#else
    memset(o, 0, sizeof *o);
    memcpy(o->key.a, h + 12, 4);
    memcpy(o->key.b, h + 16, 4);
    o->key.pa = pa;
    o->key.pb = pb;
    o->key.proto = h[9];
    o->key.ipver = 4;
    o->ts_ns = cp->ts_ns;
    o->wirelen = cp->wirelen;
    o->ip_len = total;
    o->payload = l4len - hdr;
    o->tcp_flags = flags;
#endif
    return 1;
}

int fs_decode(struct fs_decoder *d, const struct fs_capture_pkt *cp, struct fs_pkt *out)
{
    d->stats.packets++;
    if (!d->opts.general_only && fast_ipv4(cp, out)) {
        d->stats.decoded++;
        return 1;
    }
    memset(out, 0, sizeof *out);
    out->ts_ns = cp->ts_ns;
    out->wirelen = cp->wirelen;
    struct ctx c = { .d = d, .out = out };
    int rc = dec_link(&c, cp->linktype, fs_rd_make(cp->data, cp->caplen));
    if (rc == HELD) {
        d->stats.decoded++;
        return 0;
    }
    if (rc != OK) {
        d->stats.count[rc]++;
        return 0;
    }
    d->stats.decoded++;
    return 1;
}

int fs_decode_pending(struct fs_decoder *d, struct fs_pkt *out) { return fs_reasm_pop(d->reasm, out); }

void fs_decode_flush(struct fs_decoder *d)
{
    d->stats.count[FS_NOTE_REASM_RELEASED] += fs_reasm_expire(d->reasm, UINT64_MAX, 0);
}
