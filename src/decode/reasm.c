/*
 * reasm.c - the table of tunnel datagrams being reassembled; see reasm.h.
 *
 * Fragments are copied into the slot's buffer at their offset and marked in a
 * bitmap of 8-byte blocks (RFC 791 fragment offsets count 8-byte units; RFC
 * 8200 section 4.5 the same), so overlaps and duplicates are harmless: the
 * datagram is complete when the last fragment has fixed its length and every
 * block up to it is marked.
 */
#include "reasm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fs_reasm_init(struct fs_reasm *r)
{
    memset(r, 0, sizeof *r);
    r->slots = calloc(FS_REASM_SLOTS, sizeof *r->slots);
    r->qcap = FS_REASM_SLOTS * FS_REASM_MAX_FRAGS;
    r->queue = calloc(r->qcap, sizeof *r->queue);
    return r->slots && r->queue ? 0 : -1;
}

void fs_reasm_release(struct fs_reasm *r)
{
    if (r->slots)
        for (int i = 0; i < FS_REASM_SLOTS; i++) free(r->slots[i].buf);
    free(r->slots);
    free(r->queue);
    memset(r, 0, sizeof *r);
}

static int same_datagram(const struct fs_reasm_slot *s, const struct fs_pkt *p, uint32_t id)
{
    const struct fs_flow_key *a = &s->first.key, *b = &p->key;
    return s->used && s->id == id && a->proto == b->proto && a->ipver == b->ipver && a->vlan == b->vlan &&
           a->vlan2 == b->vlan2 && a->tunnel_id == b->tunnel_id && memcmp(a->a, b->a, 16) == 0 &&
           memcmp(a->b, b->b, 16) == 0;
}

struct fs_reasm_slot *fs_reasm_find(struct fs_reasm *r, const struct fs_pkt *p, uint32_t id)
{
    for (int i = 0; i < FS_REASM_SLOTS; i++)
        if (same_datagram(&r->slots[i], p, id)) return &r->slots[i];
    return NULL;
}

/* Queues the slot's held fragments as outer packets and frees the slot. */
uint32_t fs_reasm_drop(struct fs_reasm *r, struct fs_reasm_slot *s)
{
    for (int i = 0; i < s->nfrags; i++) {
        if (r->qlen == r->qcap) { /* cannot happen when the queue is drained after every decode */
            fprintf(stderr, "flowsift: BUG: reassembly release queue overflow\n");
            abort();
        }
        struct fs_pkt *q = &r->queue[(r->qhead + r->qlen++) % r->qcap];
        *q = s->first;
        if (i > 0) {
            q->tcp_flags = 0;
            q->has_icmp = 0;
        }
        q->ts_ns = s->frags[i].ts_ns;
        q->wirelen = s->frags[i].wirelen;
        q->ip_len = s->frags[i].ip_len;
        q->payload = s->frags[i].payload;
    }
    uint32_t n = (uint32_t)s->nfrags;
    s->used = 0;
    return n;
}

struct fs_reasm_slot *fs_reasm_start(struct fs_reasm *r, const struct fs_pkt *first, uint32_t id, uint32_t hdr_len,
                                     uint32_t *released)
{
    struct fs_reasm_slot *s = NULL;
    *released = 0;
    for (int i = 0; i < FS_REASM_SLOTS && !s; i++)
        if (!r->slots[i].used) s = &r->slots[i];
    if (!s) { /* full: the oldest datagram gives way */
        s = &r->slots[0];
        for (int i = 1; i < FS_REASM_SLOTS; i++)
            if (r->slots[i].start_ns < s->start_ns) s = &r->slots[i];
        *released = fs_reasm_drop(r, s);
    }
    if (!s->buf && !(s->buf = malloc(FS_REASM_MAX_BYTES))) return NULL;
    s->used = 1;
    s->first = *first;
    s->id = id;
    s->hdr_len = hdr_len;
    s->total = 0;
    s->start_ns = first->ts_ns;
    s->wire_sum = 0;
    s->nfrags = 0;
    memset(s->map, 0, sizeof s->map);
    return s;
}

int fs_reasm_add(struct fs_reasm_slot *s, const struct fs_pkt *p, uint32_t off, const uint8_t *data, uint32_t len,
                 int more)
{
    if (s->nfrags == FS_REASM_MAX_FRAGS || off > FS_REASM_MAX_BYTES || len > FS_REASM_MAX_BYTES - off) return -1;
    if (more && len % 8 != 0) return -1; /* only the last fragment may end off an 8-byte boundary */
    if (!more) {
        if (s->total && s->total != off + len) return -1; /* two different ends */
        s->total = off + len;
    }
    memcpy(s->buf + off, data, len);
    for (uint32_t b = off / 8; b < (off + len + 7) / 8; b++) s->map[b / 8] |= (uint8_t)(1u << (b % 8));
    s->frags[s->nfrags++] = (struct fs_reasm_frag){ p->ts_ns, p->wirelen, p->ip_len, p->payload };
    s->wire_sum += p->wirelen;
    return 0;
}

int fs_reasm_complete(const struct fs_reasm_slot *s)
{
    if (!s->total) return 0;
    for (uint32_t b = 0; b < (s->total + 7) / 8; b++)
        if (!(s->map[b / 8] & (1u << (b % 8)))) return 0;
    return 1;
}

uint32_t fs_reasm_expire(struct fs_reasm *r, uint64_t now_ns, uint64_t timeout_ns)
{
    uint32_t n = 0;
    for (int i = 0; i < FS_REASM_SLOTS; i++) {
        struct fs_reasm_slot *s = &r->slots[i];
        if (s->used && (now_ns == UINT64_MAX || (now_ns > s->start_ns && now_ns - s->start_ns > timeout_ns)))
            n += fs_reasm_drop(r, s);
    }
    return n;
}

int fs_reasm_pop(struct fs_reasm *r, struct fs_pkt *out)
{
    if (!r->qlen) return 0;
    *out = r->queue[r->qhead];
    r->qhead = (r->qhead + 1) % r->qcap;
    r->qlen--;
    return 1;
}
