/*
 * meter.c - flow table with O(1) timeouts and two entry sizes. See meter.h for the design.
 */
#include "meter.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define BIG 0x80000000u /* index tag: the entry is in the big pool */
#define CHUNK_BITS 16
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define DEFAULT_MEMCAP (4ull << 30)
#define SWEEP_NS 1000000ull

/* The meter's bookkeeping, at the start of every entry, short or long. */
struct fs_meter_head {
    uint32_t sig;            /* low 32 bits of the key hash: finds the entry's index slot */
    uint32_t l_prev, l_next; /* lru list, or closing list; l_next links the free list */
    uint32_t a_prev, a_next; /* age list */
    uint8_t mstate;          /* the meter's FS_FLOW_FIN_A, FS_FLOW_FIN_B, FS_FLOW_CLOSING bits */
    uint8_t end_reason;      /* of a closing flow */
    uint8_t nlog;            /* short flows: packets in the log */
    uint8_t pad;
    uint64_t touched_ns;     /* meter time of the last packet (orders the lru list) */
    uint64_t created_ns;     /* meter time of the first packet (orders the age list) */
    uint64_t close_at_ns;    /* closing flows: end of the grace period */
};

/* Log bits of a short flow's packet */
enum { LOG_FROM_B = 1, LOG_FRAGMENT = 2, LOG_ICMP = 4 };

/* A short flow: its packets' observations, narrowed (struct fs_obs with the time relative to the first
 * packet and 16-bit sizes); a packet that does not fit makes the flow long. */
struct fs_meter_small {
    struct fs_meter_head h;
    struct fs_flow_key key;
    uint64_t base_ns;               /* time of the first packet */
    uint32_t dts[FS_METER_LOG];     /* ns after base_ns */
    uint16_t size[FS_METER_LOG];
    uint16_t pay[FS_METER_LOG];
    uint8_t flags[FS_METER_LOG];
    uint8_t bits[FS_METER_LOG];
    uint8_t icmp_type, icmp_code;   /* of the first ICMP packet */
};

/* A long flow: its record. */
struct fs_meter_big {
    struct fs_meter_head h;
    struct fs_flow flow;
};

_Static_assert(offsetof(struct fs_meter_small, key) == sizeof(struct fs_meter_head), "key after the head");
_Static_assert(offsetof(struct fs_meter_big, flow.key) == sizeof(struct fs_meter_head), "key after the head");
_Static_assert(sizeof(struct fs_meter_small) == 192, "a short flow takes three cache lines");
_Static_assert(sizeof(struct fs_meter_big) == 544, "a long flow takes eight and a half cache lines");

size_t fs_meter_small_size(void) { return sizeof(struct fs_meter_small); }
size_t fs_meter_big_size(void) { return sizeof(struct fs_meter_big); }

void fs_meter_opts_default(struct fs_meter_opts *o)
{
    memset(o, 0, sizeof *o);
    o->idle_ns = 120ull * 1000000000ull;
    o->active_ns = 1800ull * 1000000000ull;
    o->close_grace_ns = 1000000000ull;
    o->tcp_teardown = 1;
    o->max_flows = 0;
    o->memcap = DEFAULT_MEMCAP;
    o->size_basis = FS_SIZE_IP;
    o->seed = 0x5eed5eed5eed5eedull;
}

/* ---- pools ---- */

static inline void *pool_at(const struct fs_meter_pool *p, uint32_t i)
{
    return p->chunks[i >> CHUNK_BITS] + (size_t)(i & (CHUNK_SIZE - 1)) * p->esize;
}

static inline struct fs_meter_head *H(const struct fs_meter *m, uint32_t i)
{
    return (i & BIG) ? pool_at(&m->big, i & ~BIG) : pool_at(&m->small, i);
}

static inline struct fs_meter_small *S(const struct fs_meter *m, uint32_t i) { return pool_at(&m->small, i); }
static inline struct fs_meter_big *B(const struct fs_meter *m, uint32_t i) { return pool_at(&m->big, i & ~BIG); }

static inline const struct fs_flow_key *KEY(const struct fs_meter_head *h)
{
    return (const struct fs_flow_key *)(h + 1);
}

/* Returns an entry index of pool p (untagged), or NIL without memory. */
static uint32_t pool_alloc(struct fs_meter_pool *p)
{
    uint32_t i;
    if (p->free_head != NIL) {
        i = p->free_head;
        p->free_head = ((struct fs_meter_head *)pool_at(p, i))->l_next;
        if (p->free_head != NIL) /* the next allocation's entry: freed long ago, cold */
            __builtin_prefetch(pool_at(p, p->free_head), 1);
    } else {
        if (p->used == p->cap) {
            if (p->nchunks == ((BIG - 1) >> CHUNK_BITS)) return NIL;
            char **nc = realloc(p->chunks, (p->nchunks + 1) * sizeof *nc);
            if (!nc) return NIL;
            p->chunks = nc;
            nc[p->nchunks] = malloc(CHUNK_SIZE * p->esize);
            if (!nc[p->nchunks]) return NIL;
            p->nchunks++;
            p->cap += CHUNK_SIZE;
        }
        i = p->used++;
    }
    return i;
}

static void pool_free(struct fs_meter_pool *p, uint32_t i)
{
    ((struct fs_meter_head *)pool_at(p, i))->l_next = p->free_head;
    p->free_head = i;
}

static void pool_release(struct fs_meter_pool *p)
{
    for (uint32_t c = 0; c < p->nchunks; c++) free(p->chunks[c]);
    free(p->chunks);
    p->chunks = NULL;
}

/* ---- intrusive lists: `a` selects the age links, else the l links ---- */

static void list_append(struct fs_meter *m, uint32_t *head, uint32_t *tail, uint32_t i, int a)
{
    struct fs_meter_head *e = H(m, i);
    uint32_t *prev = a ? &e->a_prev : &e->l_prev, *next = a ? &e->a_next : &e->l_next;
    *prev = *tail;
    *next = NIL;
    if (*tail != NIL) {
        struct fs_meter_head *t = H(m, *tail);
        if (a) t->a_next = i;
        else t->l_next = i;
    } else {
        *head = i;
    }
    *tail = i;
}

static void list_remove(struct fs_meter *m, uint32_t *head, uint32_t *tail, uint32_t i, int a)
{
    struct fs_meter_head *e = H(m, i);
    uint32_t prev = a ? e->a_prev : e->l_prev, next = a ? e->a_next : e->l_next;
    if (prev != NIL) {
        if (a) H(m, prev)->a_next = next;
        else H(m, prev)->l_next = next;
    } else {
        *head = next;
    }
    if (next != NIL) {
        if (a) H(m, next)->a_prev = prev;
        else H(m, next)->l_prev = prev;
    } else {
        *tail = prev;
    }
}

/* Entry `to` has taken the place of `from` in a list whose links it copied. */
static void list_moved(struct fs_meter *m, uint32_t *head, uint32_t *tail, uint32_t from, uint32_t to, int a)
{
    struct fs_meter_head *e = H(m, to);
    uint32_t prev = a ? e->a_prev : e->l_prev, next = a ? e->a_next : e->l_next;
    if (prev != NIL) {
        if (a) H(m, prev)->a_next = to;
        else H(m, prev)->l_next = to;
    }
    if (next != NIL) {
        if (a) H(m, next)->a_prev = to;
        else H(m, next)->l_prev = to;
    }
    if (*head == from) *head = to;
    if (*tail == from) *tail = to;
}

/* ---- index ---- */

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

static uint32_t slot_find(const struct fs_meter *m, uint32_t i, uint32_t sig)
{
    uint32_t mask = m->nslots - 1, k = sig & mask;
    while (m->slots[k].idx != i) k = (k + 1) & mask;
    return k;
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
    m->bytes += (uint64_t)m->nslots * sizeof *ns;
    m->nslots = n;
    return 0;
}

/* Removes entry i from the index, shifting later members of its probe run back
 * into the hole (Knuth's algorithm R for linear probing). */
static void slot_remove(struct fs_meter *m, uint32_t i, uint32_t sig)
{
    uint32_t mask = m->nslots - 1, k = slot_find(m, i, sig);
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
    if (m->opts.max_flows == 0 || m->opts.max_flows > BIG - 2) m->opts.max_flows = BIG - 2;
    if (m->opts.emergency_idle_ns == 0) {
        m->opts.emergency_idle_ns = m->opts.idle_ns / 10;
        if (m->opts.emergency_idle_ns < 1000000000ull) m->opts.emergency_idle_ns = 1000000000ull;
        if (m->opts.idle_ns && m->opts.emergency_idle_ns > m->opts.idle_ns) m->opts.emergency_idle_ns = m->opts.idle_ns;
    }
    m->emit = emit;
    m->emit_arg = emit_arg;
    m->small.esize = sizeof(struct fs_meter_small);
    m->big.esize = sizeof(struct fs_meter_big);
    m->small.free_head = m->big.free_head = NIL;
    m->lru_head = m->lru_tail = m->age_head = m->age_tail = m->close_head = m->close_tail = NIL;
    m->lru_seen = m->close_seen = NIL;
    m->nslots = 2048;
    m->slots = slots_new(m->nslots);
    if (!m->slots) return FS_ERR_NOMEM;
    m->bytes = (uint64_t)m->nslots * sizeof *m->slots;
    return FS_OK;
}

void fs_meter_release(struct fs_meter *m)
{
    pool_release(&m->small);
    pool_release(&m->big);
    free(m->slots);
    m->slots = NULL;
}

/* ---- short flows ---- */

/* Whether packet o fits the narrow fields of a log whose first packet came at base_ns. */
static int log_fits(uint64_t base_ns, const struct fs_obs *o)
{
    return o->ts_ns >= base_ns && o->ts_ns - base_ns <= UINT32_MAX && o->size <= UINT16_MAX && o->payload <= UINT16_MAX;
}

/* Logs packet o of a short flow; returns 0 if the log is full or o does not fit it. */
static int log_add(struct fs_meter_small *s, int from_b, const struct fs_obs *o)
{
    unsigned n = s->h.nlog;
    if (n == FS_METER_LOG || !log_fits(s->base_ns, o)) return 0;
    s->dts[n] = (uint32_t)(o->ts_ns - s->base_ns);
    s->size[n] = (uint16_t)o->size;
    s->pay[n] = (uint16_t)o->payload;
    s->flags[n] = o->tcp_flags;
    s->bits[n] = (uint8_t)((from_b ? LOG_FROM_B : 0) | (o->is_fragment ? LOG_FRAGMENT : 0) | (o->has_icmp ? LOG_ICMP : 0));
    if (o->has_icmp && !(s->h.mstate & FS_FLOW_HAS_ICMP)) {
        s->h.mstate |= FS_FLOW_HAS_ICMP; /* only to remember that the first one is logged */
        s->icmp_type = o->icmp_type;
        s->icmp_code = o->icmp_code;
    }
    s->h.nlog = (uint8_t)(n + 1);
    return 1;
}

/* Builds the record of a short flow by replaying its log. */
static void log_replay(const struct fs_meter_small *s, struct fs_flow *f)
{
    for (unsigned j = 0; j < s->h.nlog; j++) {
        struct fs_obs o = { .ts_ns = s->base_ns + s->dts[j], .size = s->size[j], .payload = s->pay[j],
                            .tcp_flags = s->flags[j], .is_fragment = (s->bits[j] & LOG_FRAGMENT) != 0,
                            .has_icmp = (s->bits[j] & LOG_ICMP) != 0, .icmp_type = s->icmp_type,
                            .icmp_code = s->icmp_code };
        int from_b = s->bits[j] & LOG_FROM_B;
        if (j == 0) fs_flow_start(f, &s->key, from_b, &o);
        else fs_flow_add(f, from_b, &o);
    }
}

/* The meter's own state bits, merged into the record when it is emitted. */
#define MSTATE_BITS (FS_FLOW_FIN_A | FS_FLOW_FIN_B | FS_FLOW_CLOSING)

/* ---- memory ---- */

/* Whether the table holds at least pct tenths of a cap. */
static int filled(const struct fs_meter *m, unsigned pct)
{
    return (uint64_t)m->live * 10 >= m->opts.max_flows * pct ||
           (m->opts.memcap && m->bytes * 10 >= m->opts.memcap * pct);
}

/* Emergency mode with hysteresis: on at 90% of a cap, off below 70% of both. */
static void expire(struct fs_meter *m);
static void check_pressure(struct fs_meter *m)
{
    if (!m->emergency && filled(m, 9)) {
        m->emergency = 1;
        m->stats.emergencies++;
        expire(m);
    } else if (m->emergency && !filled(m, 7)) {
        m->emergency = 0;
    }
}

static void note_peaks(struct fs_meter *m)
{
    if (m->live > m->stats.live_peak) {
        m->stats.live_peak = m->live;
        m->stats.bytes_at_live_peak = m->bytes;
    }
    if (m->bytes > m->stats.bytes_peak) m->stats.bytes_peak = m->bytes;
}

/* ---- ending flows ---- */

/* Ends flow i: out of its slot and lists, its record oriented, emitted, its entry freed. */
static void end_flow(struct fs_meter *m, uint32_t i, enum fs_end_reason reason)
{
    struct fs_meter_head *h = H(m, i);
    slot_remove(m, i, h->sig);
    if (h->mstate & FS_FLOW_CLOSING) list_remove(m, &m->close_head, &m->close_tail, i, 0);
    else list_remove(m, &m->lru_head, &m->lru_tail, i, 0);
    list_remove(m, &m->age_head, &m->age_tail, i, 1);
    m->stats.ended[reason]++;
    m->stats.flows_emitted++;
    m->live--;
    struct fs_flow shortrec, *f;
    if (i & BIG) {
        f = &B(m, i)->flow;
        m->bytes -= sizeof(struct fs_meter_big);
    } else {
        f = &shortrec;
        log_replay(S(m, i), f);
        m->bytes -= sizeof(struct fs_meter_small);
    }
    f->state |= h->mstate & MSTATE_BITS;
    f->end_reason = (uint8_t)reason;
    fs_flow_orient(f);
    if (m->emit) m->emit(m->emit_arg, f);
    if (i & BIG) pool_free(&m->big, i & ~BIG);
    else pool_free(&m->small, i);
}

/* The next flow to expire from a list is fetched ahead of the sweep that ends it: sweeps come once per
 * packet or so and mostly end one flow or none, so its entry and its index slot, both cold, would
 * otherwise be waited for one after the other. The first sweep that sees a new head fetches its entry,
 * the next one (the entry now at hand) its slot. */
static inline void fetch_next(const struct fs_meter *m, uint32_t head, uint32_t *seen)
{
    if (head == NIL) return;
    const struct fs_meter_head *h = H(m, head);
    if (*seen == head) {
        __builtin_prefetch(&m->slots[h->sig & (m->nslots - 1)]);
    } else {
        __builtin_prefetch(h);
        *seen = head;
    }
}

/* Within one sweep that ends several flows of a list: while flow i ends, the slot of the next one (its
 * entry is at hand: its successor was fetched a step earlier) and the entry after that. */
static inline void fetch_after(const struct fs_meter *m, uint32_t i)
{
    uint32_t n1 = H(m, i)->l_next;
    if (n1 == NIL) return;
    const struct fs_meter_head *h1 = H(m, n1);
    __builtin_prefetch(&m->slots[h1->sig & (m->nslots - 1)]);
    if (h1->l_next != NIL) __builtin_prefetch(H(m, h1->l_next));
}

static void expire(struct fs_meter *m)
{
    uint64_t now = m->now_ns;
    while (m->close_head != NIL && H(m, m->close_head)->close_at_ns <= now) {
        fetch_after(m, m->close_head);
        end_flow(m, m->close_head, (enum fs_end_reason)H(m, m->close_head)->end_reason);
    }
    if (m->opts.idle_ns)
        while (m->lru_head != NIL && now - H(m, m->lru_head)->touched_ns >= m->opts.idle_ns) {
            fetch_after(m, m->lru_head);
            end_flow(m, m->lru_head, FS_END_IDLE);
        }
    if (m->emergency)
        while (m->lru_head != NIL && now - H(m, m->lru_head)->touched_ns >= m->opts.emergency_idle_ns)
            end_flow(m, m->lru_head, FS_END_EMERGENCY);
    if (m->opts.active_ns)
        while (m->age_head != NIL && now - H(m, m->age_head)->created_ns >= m->opts.active_ns)
            end_flow(m, m->age_head, FS_END_ACTIVE_TIMEOUT);
    fetch_next(m, m->lru_head, &m->lru_seen);
    fetch_next(m, m->close_head, &m->close_seen);
}

/* Pushes out the least recently active flows other than `keep` until `need` more bytes fit the memory
 * cap (or nothing else is left to push out). */
static void make_room(struct fs_meter *m, uint64_t need, uint32_t keep)
{
    while (m->opts.memcap && m->bytes + need > m->opts.memcap) {
        uint32_t v = m->lru_head;
        if (v == keep) v = H(m, v)->l_next;
        if (v == NIL) v = m->close_head;
        if (v == keep) v = H(m, v)->l_next;
        if (v == NIL) return;
        end_flow(m, v, FS_END_EVICT);
    }
}

static void start_closing(struct fs_meter *m, uint32_t i, enum fs_end_reason why)
{
    struct fs_meter_head *h = H(m, i);
    list_remove(m, &m->lru_head, &m->lru_tail, i, 0);
    h->mstate |= FS_FLOW_CLOSING;
    h->end_reason = (uint8_t)why;
    h->close_at_ns = m->now_ns + m->opts.close_grace_ns;
    list_append(m, &m->close_head, &m->close_tail, i, 0);
}

/* Why flow h has ended by now, or FS_END_ACTIVE if it has not: the checks expire() makes, in its order,
 * for one flow. */
static enum fs_end_reason deadline(const struct fs_meter *m, const struct fs_meter_head *h)
{
    uint64_t now = m->now_ns;
    if (h->mstate & FS_FLOW_CLOSING) {
        if (h->close_at_ns <= now) return (enum fs_end_reason)h->end_reason;
    } else {
        if (m->opts.idle_ns && now - h->touched_ns >= m->opts.idle_ns) return FS_END_IDLE;
        if (m->emergency && now - h->touched_ns >= m->opts.emergency_idle_ns) return FS_END_EMERGENCY;
    }
    if (m->opts.active_ns && now - h->created_ns >= m->opts.active_ns) return FS_END_ACTIVE_TIMEOUT;
    return FS_END_ACTIVE;
}

/* ---- metering ---- */

/* Turns short flow i into a long one; returns its new index, or NIL without memory. */
static uint32_t grow_flow(struct fs_meter *m, uint32_t i)
{
    make_room(m, sizeof(struct fs_meter_big) - sizeof(struct fs_meter_small), i);
    uint32_t j = pool_alloc(&m->big);
    if (j == NIL) return NIL;
    j |= BIG;
    struct fs_meter_small *s = S(m, i);
    struct fs_meter_big *b = B(m, j);
    b->h = s->h;
    log_replay(s, &b->flow);
    if (b->h.mstate & FS_FLOW_CLOSING) list_moved(m, &m->close_head, &m->close_tail, i, j, 0);
    else list_moved(m, &m->lru_head, &m->lru_tail, i, j, 0);
    list_moved(m, &m->age_head, &m->age_tail, i, j, 1);
    m->slots[slot_find(m, i, s->h.sig)].idx = j;
    pool_free(&m->small, i);
    m->bytes += sizeof(struct fs_meter_big) - sizeof(struct fs_meter_small);
    m->stats.long_flows++;
    note_peaks(m);
    return j;
}

/* Starts a flow with its first packet; returns its index, or NIL without memory. */
static uint32_t new_flow(struct fs_meter *m, const struct fs_flow_key *key, uint64_t h, int from_b,
                         const struct fs_obs *o)
{
    if (m->live >= m->opts.max_flows) expire(m); /* what has timed out goes first, as itself */
    if (m->live >= m->opts.max_flows) {
        uint32_t victim = m->lru_head != NIL ? m->lru_head : m->close_head != NIL ? m->close_head : m->age_head;
        end_flow(m, victim, FS_END_EVICT);
    }
    int big = !log_fits(o->ts_ns, o); /* a first packet too large for the log: the flow is long from the start */
    size_t bytes = big ? sizeof(struct fs_meter_big) : sizeof(struct fs_meter_small);
    make_room(m, bytes, NIL);
    uint32_t i = pool_alloc(big ? &m->big : &m->small);
    if (i == NIL) return NIL;
    if (big) i |= BIG;
    struct fs_meter_head *hd = H(m, i);
    memset(hd, 0, sizeof *hd);
    hd->sig = (uint32_t)h;
    hd->created_ns = hd->touched_ns = m->now_ns;
    m->bytes += bytes;
    if (big) {
        fs_flow_start(&B(m, i)->flow, key, from_b, o);
        m->stats.long_flows++;
    } else {
        struct fs_meter_small *s = S(m, i);
        s->key = *key;
        s->base_ns = o->ts_ns;
        log_add(s, from_b, o);
    }
    slot_insert(m->slots, m->nslots - 1, (uint32_t)h, i);
    list_append(m, &m->lru_head, &m->lru_tail, i, 0);
    list_append(m, &m->age_head, &m->age_tail, i, 1);
    m->live++;
    m->stats.flows_created++;
    note_peaks(m);
    return i;
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
    const struct fs_flow_key *key = &p->key;
    int from_b = p->from_b;
    uint64_t hash = p->hash;
    uint32_t i = NIL, mask = m->nslots - 1, sig = (uint32_t)hash;
    for (uint32_t k = sig & mask; m->slots[k].idx != NIL; k = (k + 1) & mask) {
        if (m->slots[k].sig != sig) continue;
        if (fs_key_equal(KEY(H(m, m->slots[k].idx)), key)) {
            i = m->slots[k].idx;
            break;
        }
    }
    check_pressure(m);
    if (i != NIL) {
        enum fs_end_reason why = deadline(m, H(m, i));
        if (why != FS_END_ACTIVE) {
            end_flow(m, i, why);
            i = NIL;
        }
    }
    if (i != NIL && (H(m, i)->mstate & FS_FLOW_CLOSING) && (p->tcp_flags & 0x12) == 0x02) {
        end_flow(m, i, (enum fs_end_reason)H(m, i)->end_reason); /* a new connection reuses the ports */
        i = NIL;
    }
    struct fs_obs o = fs_obs_of(p, m->opts.size_basis);
    struct fs_meter_head *h;
    if (i == NIL) {
        i = new_flow(m, key, hash, from_b, &o);
        if (i == NIL) return FS_ERR_NOMEM;
        if (m->live > m->nslots / 2 && slots_grow(m) != 0 && m->live >= m->nslots - 1) {
            end_flow(m, i, FS_END_EVICT); /* cannot grow the index and it is full: keep one slot free */
            return FS_ERR_NOMEM;
        }
        note_peaks(m);
        h = H(m, i);
    } else {
        h = H(m, i);
        h->touched_ns = m->now_ns;
        if (!(h->mstate & FS_FLOW_CLOSING)) {
            list_remove(m, &m->lru_head, &m->lru_tail, i, 0);
            list_append(m, &m->lru_head, &m->lru_tail, i, 0);
        }
        if (!(i & BIG) && !log_add(S(m, i), from_b, &o)) {
            i = grow_flow(m, i);
            if (i == NIL) return FS_ERR_NOMEM;
            h = H(m, i);
        }
        if (i & BIG) fs_flow_add(&B(m, i)->flow, from_b, &o);
    }
    if (m->opts.tcp_teardown && key->proto == 6 && !(h->mstate & FS_FLOW_CLOSING)) {
        if (p->tcp_flags & 0x04) {
            start_closing(m, i, FS_END_RST);
        } else if (p->tcp_flags & 0x01) {
            h->mstate |= from_b ? FS_FLOW_FIN_B : FS_FLOW_FIN_A;
            if ((h->mstate & (FS_FLOW_FIN_A | FS_FLOW_FIN_B)) == (FS_FLOW_FIN_A | FS_FLOW_FIN_B))
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
            const char *e = (const char *)H(m, s->idx);
            __builtin_prefetch(e);
            __builtin_prefetch(e + 64);
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
        const struct fs_meter_head *h = H(m, m->age_head);
        /* a torn-down flow keeps its reason; the input just ended during its grace */
        end_flow(m, m->age_head, (h->mstate & FS_FLOW_CLOSING) ? (enum fs_end_reason)h->end_reason : FS_END_EOF);
    }
}
