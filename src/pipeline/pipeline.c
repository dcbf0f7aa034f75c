/*
 * pipeline.c - rings, routing and worker threads; see pipeline.h.
 *
 * Ring protocol: the reader copies a batch into free slots, then publishes it
 * with a release store of head; the worker reads up to head (acquire), meters,
 * and returns the slots with a release store of tail. Control messages ride in
 * the same slots (fs_pkt.routed = MSG_TICK or MSG_END), so they keep their place
 * in the packet order. A side that must wait spins briefly, yields, then sleeps.
 */
#include "pipeline.h"

#include <sched.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#define RING_SLOTS 16384
#define BATCH 128

enum { MSG_PACKET = 1, MSG_TICK = 2, MSG_END = 3 };

/* Waiting: spin a little, yield a little, then sleep 20 us at a time (a ring holds a few milliseconds of
 * packets, so a short sleep costs no throughput, and a waiting thread does not burn a core in system calls). */
static void relax(unsigned *spins)
{
    ++*spins;
    if (*spins < 8) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else if (*spins < 12) {
        sched_yield();
    } else {
        struct timespec ts = { 0, 20000 };
        nanosleep(&ts, NULL);
    }
}

/* Waits until the ring has room for n more slots after the reader's unpublished ones. */
static inline void make_room(struct fs_pipeline_worker *w, uint32_t n)
{
    struct fs_ring *r = &w->ring;
    unsigned spins = 0;
    while (w->wr_head + n - w->tail_seen > r->mask + 1) {
        w->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (w->wr_head + n - w->tail_seen > r->mask + 1) relax(&spins);
    }
}

static void *worker_main(void *arg)
{
    struct fs_pipeline_worker *w = arg;
    struct fs_ring *r = &w->ring;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    unsigned spins = 0;
    for (;;) {
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (head == tail) {
            relax(&spins);
            continue;
        }
        spins = 0;
        while (tail != head) {
            const struct fs_pkt *m = &r->slots[tail & r->mask];
            if (m->routed == MSG_PACKET) { /* a run of packets, up to the ring's end: metered as a batch */
                uint64_t n = 1, room = r->mask + 1 - (tail & r->mask);
                while (n < room && tail + n != head && m[n].routed == MSG_PACKET) n++;
                fs_meter_packets(&w->meter, m, n);
                tail += n;
                continue;
            }
            if (m->routed == MSG_TICK) {
                fs_meter_advance(&w->meter, m->ts_ns);
            } else { /* MSG_END */
                fs_meter_advance(&w->meter, m->ts_ns);
                fs_meter_flush(&w->meter);
                atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
                return NULL;
            }
            tail++;
        }
        atomic_store_explicit(&r->tail, tail, memory_order_release);
    }
}

fs_result fs_pipeline_start(struct fs_pipeline *p, int n, const struct fs_meter_opts *opts, fs_emit_fn emit,
                            void **emit_args)
{
    memset(p, 0, sizeof *p);
    if (n < 1 || n > FS_PIPELINE_MAX_WORKERS) return FS_ERR_ARG;
    /* aligned as the type says (calloc's 16 bytes would let a worker's cache lines straddle two) */
    p->workers = aligned_alloc(_Alignof(struct fs_pipeline_worker), (size_t)n * sizeof *p->workers);
    if (!p->workers) return FS_ERR_NOMEM;
    memset(p->workers, 0, (size_t)n * sizeof *p->workers);
    p->nworkers = n;
    p->seed = opts->seed;
    struct fs_meter_opts wo = *opts;
    if (opts->max_flows) wo.max_flows = opts->max_flows / (uint64_t)n ? opts->max_flows / (uint64_t)n : 1;
    if (opts->memcap) wo.memcap = opts->memcap / (uint64_t)n ? opts->memcap / (uint64_t)n : 1;
    for (int i = 0; i < n; i++) {
        struct fs_pipeline_worker *w = &p->workers[i];
        w->ring.slots = malloc(RING_SLOTS * sizeof *w->ring.slots);
        w->ring.mask = RING_SLOTS - 1;
        if (!w->ring.slots || fs_meter_init(&w->meter, &wo, emit, emit_args[i]) != FS_OK) return FS_ERR_NOMEM;
        atomic_init(&w->ring.head, 0);
        atomic_init(&w->ring.tail, 0);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) return FS_ERR_NOMEM;
        w->started = 1;
    }
    return FS_OK;
}

/* Packets are written straight into the worker's ring, past what the worker may read; a control message
 * after each batch (a tick carrying the reader's clock: everything routed so far is at or before it; or the
 * end) publishes them. */
static void send_stage(struct fs_pipeline *p, struct fs_pipeline_worker *w, uint8_t msg)
{
    make_room(w, 1);
    struct fs_pkt *c = &w->ring.slots[w->wr_head & w->ring.mask];
    memset(c, 0, sizeof *c);
    c->routed = msg;
    c->ts_ns = p->clock_ns;
    w->wr_head++;
    atomic_store_explicit(&w->ring.head, w->wr_head, memory_order_release);
    w->nstage = 0;
}

void fs_pipeline_packet(struct fs_pipeline *p, struct fs_pkt *pkt)
{
    fs_pkt_route(pkt, p->seed);
    if (pkt->ts_ns > p->clock_ns) p->clock_ns = pkt->ts_ns;
    struct fs_pipeline_worker *w = &p->workers[fs_pipeline_worker_of(pkt->hash, p->nworkers)];
    make_room(w, 2); /* the packet, and the tick that may follow it */
    struct fs_pkt *slot = &w->ring.slots[w->wr_head & w->ring.mask];
    *slot = *pkt;
    slot->routed = MSG_PACKET;
    w->wr_head++;
    if (++w->nstage == BATCH) send_stage(p, w, MSG_TICK);
}

void fs_pipeline_finish(struct fs_pipeline *p)
{
    for (int i = 0; i < p->nworkers; i++) {
        struct fs_pipeline_worker *w = &p->workers[i];
        if (w->started) send_stage(p, w, MSG_END);
    }
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].started) {
            pthread_join(p->workers[i].thread, NULL);
            p->workers[i].started = 0;
        }
}

void fs_pipeline_stats(const struct fs_pipeline *p, struct fs_meter_stats *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < p->nworkers; i++) {
        const struct fs_meter_stats *s = &p->workers[i].meter.stats;
        sum->packets += s->packets;
        sum->flows_created += s->flows_created;
        sum->flows_emitted += s->flows_emitted;
        /* upper bounds: the workers' peaks need not coincide */
        sum->live_peak += s->live_peak;
        sum->bytes_peak += s->bytes_peak;
        sum->bytes_at_live_peak += s->bytes_at_live_peak;
        sum->long_flows += s->long_flows;
        sum->emergencies += s->emergencies;
        for (int k = 0; k < FS_END_COUNT; k++) sum->ended[k] += s->ended[k];
    }
}

void fs_pipeline_release(struct fs_pipeline *p)
{
    if (!p->workers) return;
    fs_pipeline_finish(p);
    for (int i = 0; i < p->nworkers; i++) {
        fs_meter_release(&p->workers[i].meter);
        free(p->workers[i].ring.slots);
    }
    free(p->workers);
    p->workers = NULL;
}
