/*
 * meter.h - the flow meter: a table of live flows, their timeouts and their end.
 *
 * A meter owns one shard of the flow space; packets reach it already routed by
 * the symmetric hash of their key, so a meter is used by one thread and shares
 * nothing. Time is packet time ("event time"): the meter's clock is the largest
 * packet timestamp seen, so a replayed capture ends flows exactly as a live run.
 *
 * Flows end on (each configurable, reason kept in the record):
 *   idle timeout    no packet for `idle_ns`                 -> "idle"
 *   active timeout  older than `active_ns`; the rest of the conversation starts a new flow -> "active-timeout"
 *   TCP teardown    FIN from both sides, or a RST; packets arriving within `close_grace_ns`
 *                   (the last ACK, repeated RSTs) still belong to it, a new SYN starts a new flow -> "fin"/"rst"
 *   end of input    fs_meter_flush()                        -> "eof"
 *   memory cap      when the table reaches 90% of `max_flows` flows or of `memcap` bytes, the idle
 *                   timeout drops to `emergency_idle_ns` (suricata's emergency mode) until it is below
 *                   70% of both -> "emergency-idle"; when a new flow, or a short flow becoming long,
 *                   would pass a cap, the least recently active flow is pushed out -> "evict";
 *                   both counted in the stats, never silent
 *
 * Layout: while a flow has at most FS_METER_LOG packets it is short: it keeps
 * no record, only the key and a log of what each packet brought
 * (struct fs_obs, 10 bytes a packet), in a 192-byte entry. Most flows of real
 * traffic stay short (scans, DNS, failed connections: 91% of the live flows of
 * the benchmark capture), so most of the table is small entries. The packet
 * after the log is full, or one whose values do not fit the log's narrow
 * fields, turns the flow into a 544-byte entry that holds the full record
 * (struct fs_flow), rebuilt by replaying the log: the record is the same
 * whichever way the flow is kept. A short flow's record is rebuilt the same way
 * when it ends.
 *
 * Entries live in two chunked pools (small and big) addressed by 32-bit
 * indexes whose top bit names the pool (no pointer is invalidated by growth, no
 * allocation per packet: chunks of 64 Ki entries). The index is an
 * open-addressing array of (hash signature, entry index) slots with linear
 * probing, at most half full, and backward-shift deletion (no tombstones): a
 * lookup reads one cache line of slots and then only the entry whose signature
 * matches, as DPDK's rte_hash keeps signatures apart from keys.
 * fs_meter_packets() prefetches the slots and entries of a batch first. Two intrusive
 * doubly-linked lists keep timeouts O(1): `lru` orders open flows by last
 * packet (idle expiry looks only at its head) and `closing` orders torn-down
 * flows by the end of their grace; `age` orders all flows by start (active expiry).
 *
 * Memory: the meter counts the bytes of its entries and index; `memcap` and
 * `max_flows` bound them with the policy above.
 *
 * Ownership: the meter owns its flows. Emitted records are lent to the emit
 * callback for the duration of the call only.
 */
#ifndef FS_METER_H
#define FS_METER_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

typedef void (*fs_emit_fn)(void *arg, struct fs_flow *flow);

struct fs_meter_opts {
    uint64_t idle_ns;         /* default 120 s; 0 = no idle timeout */
    uint64_t active_ns;       /* default 1800 s; 0 = none */
    uint64_t close_grace_ns;  /* default 1 s */
    int tcp_teardown;         /* end TCP flows on FIN/FIN and RST (default 1) */
    uint64_t max_flows;       /* cap in live flows (default: none but memcap) */
    uint64_t memcap;          /* cap in bytes of entries and index (default 4 GiB; 0 = none) */
    uint64_t emergency_idle_ns; /* idle timeout near the cap (default: idle / 10, at least 1 s) */
    enum fs_size_basis size_basis;
    uint64_t seed;            /* hash seed */
};

void fs_meter_opts_default(struct fs_meter_opts *o);

struct fs_meter_stats {
    uint64_t packets;
    uint64_t flows_created;
    uint64_t flows_emitted;
    uint64_t ended[FS_END_COUNT];
    uint64_t live_peak;
    uint64_t bytes_peak;          /* most bytes held in entries and index */
    uint64_t bytes_at_live_peak;  /* bytes held when live_peak was reached */
    uint64_t long_flows;          /* flows that outgrew the packet log (or began too large for it) */
    uint64_t emergencies;         /* times the table entered emergency mode */
};

/* Packets a short flow logs before it becomes a full record. */
#define FS_METER_LOG 8

struct fs_meter_slot {
    uint32_t sig;                 /* low 32 bits of the key hash (its home slot is sig & (nslots - 1)) */
    uint32_t idx;                 /* entry index, or UINT32_MAX when empty */
};

/* A chunked pool of fixed-size entries addressed by index. */
struct fs_meter_pool {
    char **chunks;                /* owned */
    size_t esize;                 /* bytes per entry */
    uint32_t nchunks, cap;        /* cap = entries allocated */
    uint32_t used;                /* entries ever handed out (high-water mark) */
    uint32_t free_head;           /* free list through the entries' l_next */
};

struct fs_meter {
    struct fs_meter_opts opts;
    struct fs_meter_stats stats;
    fs_emit_fn emit;
    void *emit_arg;
    uint64_t now_ns;              /* largest packet time seen */
    int emergency;                /* near the cap: the shorter idle timeout applies */
    uint64_t next_sweep_ns;       /* packet time of the next sweep of the timeout lists */
    struct fs_meter_pool small, big;
    uint32_t live;
    uint64_t bytes;               /* held in entries and index */
    struct fs_meter_slot *slots;  /* owned: open-addressing index, power-of-two count, at most half full */
    uint32_t nslots;
    uint32_t lru_head, lru_tail;
    uint32_t age_head, age_tail;
    uint32_t close_head, close_tail;
    uint32_t lru_seen, close_seen; /* list heads whose entries expire() has fetched ahead */
};

/* Sets up a caller-owned meter. Returns FS_OK or FS_ERR_NOMEM. */
fs_result fs_meter_init(struct fs_meter *m, const struct fs_meter_opts *opts, fs_emit_fn emit, void *emit_arg);
void fs_meter_release(struct fs_meter *m);

/* Meters one decoded packet (may emit expired flows first). */
fs_result fs_meter_packet(struct fs_meter *m, const struct fs_pkt *p);

/* Meters n packets in order, prefetching their table slots and flows first.
 * The packets must be routed (fs_pkt_route) with this meter's seed. */
fs_result fs_meter_packets(struct fs_meter *m, const struct fs_pkt *p, size_t n);

/* Puts a packet's key in canonical form and fills from_b and hash (with the
 * meter seed), as fs_meter_packet() would; used to route packets to shards. */
void fs_pkt_route(struct fs_pkt *p, uint64_t seed);

/* Moves the meter's clock to now_ns (if later) and ends what has timed out by
 * then. A sharded meter is told the time of every shard's packets this way, so
 * its flows end as they would in one meter. */
void fs_meter_advance(struct fs_meter *m, uint64_t now_ns);

/* Ends every live flow with reason "eof", oldest first. */
void fs_meter_flush(struct fs_meter *m);

/* Bytes of a short flow's entry and of a long flow's (without the index's 16 to 32 bytes a flow). */
size_t fs_meter_small_size(void);
size_t fs_meter_big_size(void);

#endif
