/*
 * meter.c - flow table with O(1) timeouts. See meter.h for the design.
 */
#include "meter.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define CHUNK_BITS 16
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define DEFAULT_MEMCAP (4ull << 30)
#define SWEEP_NS 1000000ull

struct fs_meter_entry {
    uint64_t hash;         /* hot fields first: with the key they share the first cache lines */
    uint32_t next_free;    /* free list */
    uint32_t l_prev, l_next; /* lru list, or closing list */
    uint32_t a_prev, a_next; /* age list */
    uint32_t pad;
    uint64_t touched_ns;   /* meter time of the last packet (orders the lru list) */
    uint64_t created_ns;   /* meter time of the first packet (orders the age list) */
    uint64_t close_at_ns;  /* closing flows: end of the grace period */
    struct fs_flow flow;
};

/* the index is at most half full: two 8-byte slots per flow */
size_t fs_meter_entry_size(void) { return sizeof(struct fs_meter_entry) + 2 * sizeof(struct fs_meter_slot); }

void fs_meter_opts_default(struct fs_meter_opts *o)
{
    memset(o, 0, sizeof *o);
    o->idle_ns = 120ull * 1000000000ull;
    o->active_ns = 1800ull * 1000000000ull;
    o->close_grace_ns = 1000000000ull;
    o->tcp_teardown = 1;
    o->max_flows = DEFAULT_MEMCAP / fs_meter_entry_size();
    o->size_basis = FS_SIZE_IP;
    o->seed = 0x5eed5eed5eed5eedull;
}

static inline struct fs_meter_entry *E(const struct fs_meter *m, uint32_t i)
{
    return &m->chunks[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)];
}

/* ---- intrusive lists: `a` selects the age links, else the l links ---- */

static void list_append(struct fs_meter *m, uint32_t *head, uint32_t *tail, uint32_t i, int a)
{
    struct fs_meter_entry *e = E(m, i);
    uint32_t *prev = a ? &e->a_prev : &e->l_prev, *next = a ? &e->a_next : &e->l_next;
    *prev = *tail;
    *next = NIL;
    if (*tail != NIL) {
        struct fs_meter_entry *t = E(m, *tail);
        if (a) t->a_next = i;
        else t->l_next = i;
    } else {
        *head = i;
    }
    *tail = i;
}

static void list_remove(struct fs_meter *m, uint32_t *head, uint32_t *tail, uint32_t i, int a)
{
    struct fs_meter_entry *e = E(m, i);
    uint32_t prev = a ? e->a_prev : e->l_prev, next = a ? e->a_next : e->l_next;
    if (prev != NIL) {
        if (a) E(m, prev)->a_next = next;
        else E(m, prev)->l_next = next;
    } else {
        *head = next;
    }
    if (next != NIL) {
        if (a) E(m, next)->a_prev = prev;
        else E(m, next)->l_prev = prev;
    } else {
        *tail = prev;
    }
}

/* ---- pool and index ---- */

static uint32_t entry_alloc(struct fs_meter *m)
{
    if (m->free_head != NIL) {
        uint32_t i = m->free_head;
        m->free_head = E(m, i)->next_free;
        return i;
    }
    if (m->used == m->cap) {
        if (m->nchunks == (NIL >> CHUNK_BITS)) return NIL;
        struct fs_meter_entry **nc = realloc(m->chunks, (m->nchunks + 1) * sizeof *nc);
        if (!nc) return NIL;
        m->chunks = nc;
        nc[m->nchunks] = malloc(CHUNK_SIZE * sizeof(struct fs_meter_entry));
        if (!nc[m->nchunks]) return NIL;
        m->nchunks++;
        m->cap += CHUNK_SIZE;
    }
    return m->used++;
}

static struct fs_meter_slot *slots_new(uint32_t n)
{
    struct fs_meter_slot *s = malloc((size_t)n * sizeof *s);
    if (s)
        for (uint32_t i = 0; i < n; i++) s[i].idx = NIL;
    return s;
}

static void slot_insert(struct fs_meter_slot *slots, uint32_t mask, uint32_t sig, uint32_t idx)
{
    uint32_t k = sig & mask;
    while (slots[k].idx != NIL) k = (k + 1) & mask;
    slots[k].sig = sig;
    slots[k].idx = idx;
}

static int slots_grow(struct fs_meter *m)
{
    if (m->nslots >= (1u << 31)) return -1;
    uint32_t n = m->nslots * 2;
    struct fs_meter_slot *ns = slots_new(n);
    if (!ns) return -1;
    for (uint32_t k = 0; k < m->nslots; k++)
        if (m->slots[k].idx != NIL) slot_insert(ns, n - 1, m->slots[k].sig, m->slots[k].idx);
    free(m->slots);
    m->slots = ns;
    m->nslots = n;
    return 0;
}

/* Removes entry i from the index, shifting later members of its probe run back
 * into the hole (Knuth's algorithm R for linear probing). */
static void slot_remove(struct fs_meter *m, uint32_t i, uint32_t sig)
{
    uint32_t mask = m->nslots - 1, k = sig & mask;
    while (m->slots[k].idx != i) k = (k + 1) & mask;
    uint32_t hole = k;
    for (;;) {
        k = (k + 1) & mask;
        if (m->slots[k].idx == NIL) break;
        uint32_t home = m->slots[k].sig & mask;
        /* the element at k may move to the hole if its home is not in (hole, k] cyclically */
        if ((k > hole && (home <= hole || home > k)) || (k < hole && home <= hole && home > k)) {
            m->slots[hole] = m->slots[k];
            hole = k;
        }
    }
    m->slots[hole].idx = NIL;
}

fs_result fs_meter_init(struct fs_meter *m, const struct fs_meter_opts *opts, fs_emit_fn emit, void *emit_arg)
{
    memset(m, 0, sizeof *m);
    if (opts) m->opts = *opts;
    else fs_meter_opts_default(&m->opts);
    if (m->opts.max_flows == 0 || m->opts.max_flows > NIL - 1) m->opts.max_flows = NIL - 1;
    if (m->opts.emergency_idle_ns == 0) {
        m->opts.emergency_idle_ns = m->opts.idle_ns / 10;
        if (m->opts.emergency_idle_ns < 1000000000ull) m->opts.emergency_idle_ns = 1000000000ull;
        if (m->opts.idle_ns && m->opts.emergency_idle_ns > m->opts.idle_ns) m->opts.emergency_idle_ns = m->opts.idle_ns;
    }
    m->emit = emit;
    m->emit_arg = emit_arg;
    m->free_head = NIL;
    m->lru_head = m->lru_tail = m->age_head = m->age_tail = m->close_head = m->close_tail = NIL;
    m->nslots = 2048;
    m->slots = slots_new(m->nslots);
    if (!m->slots) return FS_ERR_NOMEM;
    return FS_OK;
}

void fs_meter_release(struct fs_meter *m)
{
    for (uint32_t c = 0; c < m->nchunks; c++) free(m->chunks[c]);
    free(m->chunks);
    free(m->slots);
    m->chunks = NULL;
    m->slots = NULL;
}

/* Ends flow i: out of its bucket and lists, oriented, emitted, freed. */
static void end_flow(struct fs_meter *m, uint32_t i, enum fs_end_reason reason)
{
    struct fs_meter_entry *e = E(m, i);
    slot_remove(m, i, (uint32_t)e->hash);
    if (e->flow.state & FS_FLOW_CLOSING) list_remove(m, &m->close_head, &m->close_tail, i, 0);
    else list_remove(m, &m->lru_head, &m->lru_tail, i, 0);
    list_remove(m, &m->age_head, &m->age_tail, i, 1);
    e->flow.end_reason = (uint8_t)reason;
    fs_flow_orient(&e->flow);
    m->stats.ended[reason]++;
    m->stats.flows_emitted++;
    m->live--;
    if (m->emit) m->emit(m->emit_arg, &e->flow);
    e->next_free = m->free_head;
    m->free_head = i;
}

static void expire(struct fs_meter *m)
{
    uint64_t now = m->now_ns;
    while (m->close_head != NIL && E(m, m->close_head)->close_at_ns <= now)
        end_flow(m, m->close_head, (enum fs_end_reason)E(m, m->close_head)->flow.end_reason);
    if (m->opts.idle_ns)
        while (m->lru_head != NIL && now - E(m, m->lru_head)->touched_ns >= m->opts.idle_ns)
            end_flow(m, m->lru_head, FS_END_IDLE);
    if (m->emergency)
        while (m->lru_head != NIL && now - E(m, m->lru_head)->touched_ns >= m->opts.emergency_idle_ns)
            end_flow(m, m->lru_head, FS_END_EMERGENCY);
    if (m->opts.active_ns)
        while (m->age_head != NIL && now - E(m, m->age_head)->created_ns >= m->opts.active_ns)
            end_flow(m, m->age_head, FS_END_ACTIVE_TIMEOUT);
}

/* Emergency mode with hysteresis: on at 90% of the cap, off below 70%. */
static void check_pressure(struct fs_meter *m)
{
    uint64_t cap = m->opts.max_flows;
    if (!m->emergency && (uint64_t)m->live * 10 >= cap * 9) {
        m->emergency = 1;
        m->stats.emergencies++;
        expire(m);
    } else if (m->emergency && (uint64_t)m->live * 10 < cap * 7) {
        m->emergency = 0;
    }
}

static void start_closing(struct fs_meter *m, uint32_t i, enum fs_end_reason why)
{
    struct fs_meter_entry *e = E(m, i);
    list_remove(m, &m->lru_head, &m->lru_tail, i, 0);
    e->flow.state |= FS_FLOW_CLOSING;
    e->flow.end_reason = (uint8_t)why;
    e->close_at_ns = m->now_ns + m->opts.close_grace_ns;
    list_append(m, &m->close_head, &m->close_tail, i, 0);
}

/* Why flow e has ended by now, or FS_END_ACTIVE if it has not: the checks expire() makes, in its order,
 * for one flow. */
static enum fs_end_reason deadline(const struct fs_meter *m, const struct fs_meter_entry *e)
{
    uint64_t now = m->now_ns;
    if (e->flow.state & FS_FLOW_CLOSING) {
        if (e->close_at_ns <= now) return (enum fs_end_reason)e->flow.end_reason;
    } else {
        if (m->opts.idle_ns && now - e->touched_ns >= m->opts.idle_ns) return FS_END_IDLE;
        if (m->emergency && now - e->touched_ns >= m->opts.emergency_idle_ns) return FS_END_EMERGENCY;
    }
    if (m->opts.active_ns && now - e->created_ns >= m->opts.active_ns) return FS_END_ACTIVE_TIMEOUT;
    return FS_END_ACTIVE;
}

fs_result fs_meter_packet(struct fs_meter *m, const struct fs_pkt *p)
{
    m->stats.packets++;
    if (p->ts_ns > m->now_ns) m->now_ns = p->ts_ns;
    /* The lists are swept once per SWEEP_NS of packet time, not per packet (their heads are cold in the
     * cache); a flow that gets a packet is checked itself below, so what a flow contains never depends on
     * the sweep: only when an idle flow is written out does, by at most SWEEP_NS. */
    if (m->now_ns >= m->next_sweep_ns) {
        expire(m);
        m->next_sweep_ns = m->now_ns + SWEEP_NS;
    }

    struct fs_pkt routed;
    if (!p->routed) {
        routed = *p;
        fs_pkt_route(&routed, m->opts.seed);
        p = &routed;
    }
    const struct fs_flow_key key = p->key;
    int from_b = p->from_b;
    uint64_t h = p->hash;
    uint32_t i = NIL, mask = m->nslots - 1, sig = (uint32_t)h;
    for (uint32_t k = sig & mask; m->slots[k].idx != NIL; k = (k + 1) & mask) {
        if (m->slots[k].sig != sig) continue;
        struct fs_meter_entry *c = E(m, m->slots[k].idx);
        if (memcmp(&c->flow.key, &key, sizeof key) == 0) {
            i = m->slots[k].idx;
            break;
        }
    }
    check_pressure(m);
    if (i != NIL) {
        enum fs_end_reason why = deadline(m, E(m, i));
        if (why != FS_END_ACTIVE) {
            end_flow(m, i, why);
            i = NIL;
        }
    }
    if (i != NIL && (E(m, i)->flow.state & FS_FLOW_CLOSING) && (p->tcp_flags & 0x12) == 0x02) {
        end_flow(m, i, (enum fs_end_reason)E(m, i)->flow.end_reason); /* a new connection reuses the ports */
        i = NIL;
    }
    struct fs_meter_entry *e;
    if (i == NIL) {
        if (m->live >= m->opts.max_flows) expire(m); /* what has timed out goes first, as itself */
        if (m->live >= m->opts.max_flows) {
            uint32_t victim = m->lru_head != NIL ? m->lru_head : m->close_head != NIL ? m->close_head : m->age_head;
            end_flow(m, victim, FS_END_EVICT);
        }
        i = entry_alloc(m);
        if (i == NIL) return FS_ERR_NOMEM;
        e = E(m, i);
        fs_flow_start(&e->flow, &key, from_b, p, m->opts.size_basis);
        e->hash = h;
        e->created_ns = m->now_ns;
        e->touched_ns = m->now_ns;
        slot_insert(m->slots, m->nslots - 1, (uint32_t)h, i);
        list_append(m, &m->lru_head, &m->lru_tail, i, 0);
        list_append(m, &m->age_head, &m->age_tail, i, 1);
        m->live++;
        m->stats.flows_created++;
        if (m->live > m->stats.live_peak) m->stats.live_peak = m->live;
        if (m->live > m->nslots / 2 && slots_grow(m) != 0 && m->live >= m->nslots - 1) {
            end_flow(m, i, FS_END_EVICT); /* cannot grow the index and it is full: keep one slot free */
            return FS_ERR_NOMEM;
        }
    } else {
        e = E(m, i);
        fs_flow_add(&e->flow, from_b, p, m->opts.size_basis);
        e->touched_ns = m->now_ns;
        if (!(e->flow.state & FS_FLOW_CLOSING)) {
            list_remove(m, &m->lru_head, &m->lru_tail, i, 0);
            list_append(m, &m->lru_head, &m->lru_tail, i, 0);
        }
    }
    if (m->opts.tcp_teardown && key.proto == 6 && !(e->flow.state & FS_FLOW_CLOSING)) {
        if (p->tcp_flags & 0x04) {
            start_closing(m, i, FS_END_RST);
        } else if (p->tcp_flags & 0x01) {
            e->flow.state |= from_b ? FS_FLOW_FIN_B : FS_FLOW_FIN_A;
            if ((e->flow.state & (FS_FLOW_FIN_A | FS_FLOW_FIN_B)) == (FS_FLOW_FIN_A | FS_FLOW_FIN_B))
                start_closing(m, i, FS_END_FIN);
        }
    }
    return FS_OK;
}

fs_result fs_meter_packets(struct fs_meter *m, const struct fs_pkt *p, size_t n)
{
    uint32_t mask = m->nslots - 1;
    for (size_t j = 0; j < n; j++) __builtin_prefetch(&m->slots[(uint32_t)p[j].hash & mask]);
    for (size_t j = 0; j < n; j++) {
        const struct fs_meter_slot *s = &m->slots[(uint32_t)p[j].hash & mask];
        if (s->idx != NIL && s->sig == (uint32_t)p[j].hash) {
            const struct fs_meter_entry *e = E(m, s->idx);
            __builtin_prefetch(e);
            __builtin_prefetch((const char *)e + 64);
        }
    }
    for (size_t j = 0; j < n; j++) {
        fs_result rc = fs_meter_packet(m, &p[j]);
        if (rc != FS_OK) return rc;
    }
    return FS_OK;
}

void fs_pkt_route(struct fs_pkt *p, uint64_t seed)
{
    p->from_b = (uint8_t)fs_key_canonicalize(&p->key);
    p->hash = fs_key_hash(&p->key, seed);
    p->routed = 1;
}

void fs_meter_advance(struct fs_meter *m, uint64_t now_ns)
{
    if (now_ns > m->now_ns) m->now_ns = now_ns;
    expire(m);
}

void fs_meter_flush(struct fs_meter *m)
{
    while (m->age_head != NIL) {
        const struct fs_flow *f = &E(m, m->age_head)->flow;
        /* a torn-down flow keeps its reason; the input just ended during its grace */
        end_flow(m, m->age_head, (f->state & FS_FLOW_CLOSING) ? (enum fs_end_reason)f->end_reason : FS_END_EOF);
    }
}
