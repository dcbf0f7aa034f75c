/*
 * pipeline.h - one reading thread feeding N metering threads.
 *
 * The reader decodes packets and routes each to the worker that owns its flow:
 * worker = symmetric hash of the canonical flow key mod N, so both directions
 * of a conversation meet in one meter and no state is shared on the packet path.
 * Packets travel in batches over one single-producer/single-consumer ring per
 * worker. Each batch is followed by a tick carrying the reader's packet clock,
 * in order, so a worker's clock never runs ahead of the single-threaded clock
 * at the same point of the input: flows end exactly as they would in one meter
 * (for captures in time order; with a reached --max-flows cap, each worker
 * holds an equal share of it). fs_pipeline_finish() advances every worker to the
 * final time, flushes and joins.
 *
 * Ownership: the pipeline owns its rings, threads and meters. The emit callback
 * runs on a worker thread with that worker's argument and must only touch that
 * worker's state.
 */
#ifndef FS_PIPELINE_H
#define FS_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../flow/meter.h"

#define FS_PIPELINE_MAX_WORKERS 64

struct fs_ring {
    struct fs_pkt *slots;              /* owned, power-of-two count */
    uint64_t mask;
    _Alignas(64) _Atomic uint64_t head; /* written by the reader */
    _Alignas(64) _Atomic uint64_t tail; /* written by the worker */
};

struct fs_pipeline_worker {
    pthread_t thread;
    struct fs_ring ring;
    struct fs_meter meter;
    /* the reader's own, in a cache line of their own: the worker writes its meter all the time, and a
     * line both sides write moves between the cores on every packet */
    _Alignas(64) uint64_t wr_head;     /* reader: slots written, published or not */
    uint64_t tail_seen;                /* reader: the worker's tail when last read */
    uint32_t nstage;                   /* reader: packets written since the last publication */
    int started;
};

struct fs_pipeline {
    int nworkers;
    struct fs_pipeline_worker *workers; /* owned */
    uint64_t seed;
    uint64_t clock_ns;                  /* the reader's packet clock (largest time routed) */
};

/* Starts n worker threads, each with a meter made from opts (max_flows and memcap
 * divided among them) that emits to emit(emit_args[i], flow). */
fs_result fs_pipeline_start(struct fs_pipeline *p, int n, const struct fs_meter_opts *opts, fs_emit_fn emit,
                            void **emit_args);

/* The worker that owns the flow of a routed packet: the hash's high half scaled to [0, n) (a multiply,
 * not a division). */
static inline int fs_pipeline_worker_of(uint64_t hash, int n)
{
    return (int)(((hash >> 32) * (uint64_t)n) >> 32);
}

/* Reader side: routes one packet (its key is put in canonical form). */
void fs_pipeline_packet(struct fs_pipeline *p, struct fs_pkt *pkt);

/* Reader side: sends what is staged, moves every worker to the final time, has
 * them flush their flows, and waits for them. */
void fs_pipeline_finish(struct fs_pipeline *p);

/* Sum of the workers' meter statistics (after finish). */
void fs_pipeline_stats(const struct fs_pipeline *p, struct fs_meter_stats *sum);

void fs_pipeline_release(struct fs_pipeline *p);

#endif
