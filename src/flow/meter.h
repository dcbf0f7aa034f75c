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
 *   memory cap      when 90% of `max_flows` are live, the idle timeout drops to `emergency_idle_ns`
 *                   (suricata's emergency mode) until fewer than 70% are -> "emergency-idle"; when
 *                   `max_flows` are live, the least recently active flow is pushed out -> "evict";
 *                   both counted in the stats, never silent
 *
 * Layout: flows live in a chunked pool addressed by 32-bit index (no pointer is
 * invalidated by growth, no allocation per packet: chunks of 64 Ki flows). The
 * index is an open-addressing array of (hash signature, entry index) slots with
 * linear probing, at most half full, and backward-shift deletion (no
 * tombstones): a lookup reads one cache line of slots and then only the entry
 * whose signature matches, as DPDK's rte_hash keeps signatures apart from keys.
 * fs_meter_packets() prefetches the slots and entries of a batch first. Two intrusive
 * doubly-linked lists keep timeouts O(1): `lru` orders open flows by last
 * packet (idle expiry looks only at its head) and `closing` orders torn-down
 * flows by the end of their grace; `age` orders all flows by start (active expiry).
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
    uint64_t max_flows;       /* memory cap in live flows (default from 4 GiB) */
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
    uint64_t emergencies;         /* times the table entered emergency mode */
};

struct fs_meter_entry;
struct fs_meter_slot {
    uint32_t sig;                 /* low 32 bits of the key hash (its home slot is sig & (nslots - 1)) */
    uint32_t idx;                 /* entry index, or UINT32_MAX when empty */
};

struct fs_meter {
    struct fs_meter_opts opts;
    struct fs_meter_stats stats;
    fs_emit_fn emit;
    void *emit_arg;
    uint64_t now_ns;              /* largest packet time seen */
    int emergency;                /* near the cap: the shorter idle timeout applies */
    uint64_t next_sweep_ns;       /* packet time of the next sweep of the timeout lists */
    struct fs_meter_entry **chunks; /* owned pool */
    uint32_t nchunks, cap;        /* cap = entries allocated */
    uint32_t used;                /* entries ever handed out (high-water mark) */
    uint32_t free_head;           /* free list through next_free */
    uint32_t live;
    struct fs_meter_slot *slots;  /* owned: open-addressing index, power-of-two count, at most half full */
    uint32_t nslots;
    uint32_t lru_head, lru_tail;
    uint32_t age_head, age_tail;
    uint32_t close_head, close_tail;
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

/* Bytes held per live flow (entry and its share of the index), for documentation and caps. */
size_t fs_meter_entry_size(void);

#endif
