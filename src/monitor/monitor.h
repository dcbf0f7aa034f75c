/*
 * monitor.h - per-host statistics over event-time windows, from packets or from flow records, in one pass.
 *
 * Packets: each is put in its conversation (canonical 5-tuple key; a conversation is new the first time
 * it is seen, after `idle_ns` without packets, and at a SYN after a FIN or RST) and its conversation's
 * partial for the packet's base window (the shortest window) is counted: packets, bytes and flag counts per
 * direction. Flow records (collect, or records read back) are counted the same way, whole, in the base
 * window of their last packet (packets and bytes of a sampled export scaled by its sampling interval, as
 * est_packets and est_bytes are), each a new flow with its own duration (no conversation state: exporters
 * split long flows at their active timeout, and each piece counts, as collectors count records), or in the
 * base window of the time the caller gives (a flow export's arrival: an exporter reports a flow up to its
 * idle or active timeout after the flow's last packet, so a collector windows records by when they come, as
 * Stream4Flow does).
 *
 * Base windows are exact: when one closes, its partials are grouped by monitored host (a radix sort of
 * their ends by host) and each host's one-way flows (hostrec.h), peers and ports are counted and ranked
 * exactly. Each host's base window is also added to its accumulator of the next longer window: sums,
 * distinct-count sketches (hll.h: exact up to 256 distinct values, then 1.6% relative standard error) of
 * its one-way flows, conversations, peers and ports, and top lists (topk.h: exact up to 8 keys). When a
 * longer window closes, its accumulators are emitted and merged into the next length, and so on: every
 * window length comes from one pass, and a conversation active in ten 1 s windows is one flow of their
 * 10 s window, not ten. Means of durations and the flow counts of top lists count "pieces": a one-way flow
 * in one base window.
 *
 * Event time: the clock is the largest timestamp seen. A base window closes once the clock has passed its end
 * by `lateness_ns`; until then packets and records of it are still counted, later ones are counted as late
 * and dropped. fs_monitor_advance() moves the clock without data (a live source calls it with the wall
 * clock, so that windows close on time when traffic stops).
 *
 * Memory: a conversation of packets takes a map entry until it is idle (72 bytes and its index share); a
 * conversation or record active in a base window a partial there (176 bytes and its index share); a host
 * active in a longer window an accumulator (about 2.3 KB, plus the sketches' arrays: 8 bytes a distinct
 * value up to 256, then 4 KB each) until the window closes. `max_conversations` bounds the live
 * conversations: packets of new conversations beyond it are not counted and are reported (refused).
 *
 * Ownership: the monitor owns its maps and sketches. Records passed to the emit callback are lent for the
 * call. One thread.
 */
#ifndef FS_MONITOR_H
#define FS_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "../decode/decode.h"
#include "../flow/flow.h"
#include "../util/bmap.h"
#include "../util/result.h"
#include "hostrec.h"

#define FS_MONITOR_MAX_LEVELS 8
#define FS_MONITOR_MAX_PREFIXES 1024
#define FS_MONITOR_SPARE 2          /* maps of closed base windows kept for reuse */

struct fs_prefix {
    uint8_t addr[16];
    uint8_t ipver;
    uint8_t bits;
};

/* "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" -> prefix; 0 on success. */
int fs_prefix_parse(const char *s, struct fs_prefix *p);

struct fs_monitor_opts {
    uint64_t windows_ns[FS_MONITOR_MAX_LEVELS]; /* ascending; each a multiple of the one before */
    int nwindows;
    uint64_t lateness_ns;        /* how long a window waits for late data after the clock passes its end */
    uint64_t idle_ns;            /* a conversation silent this long starts anew (default 120 s) */
    const struct fs_prefix *prefixes; /* borrowed: the monitored networks */
    size_t nprefixes;
    int all_hosts;               /* monitor every address seen (prefixes ignored) */
    uint64_t max_conversations;  /* live conversations (default 10,000,000) */
    enum fs_size_basis size_basis;
    uint64_t seed;
};

void fs_monitor_opts_default(struct fs_monitor_opts *o);

struct fs_monitor_stats {
    uint64_t packets, flows;     /* taken in */
    uint64_t late_packets, late_flows; /* dropped: their window had closed */
    uint64_t unmonitored;        /* packets and flows with no monitored host at either end */
    uint64_t conversations;      /* conversations begun */
    uint64_t conv_live_peak;
    uint64_t updates;            /* one-way flows counted in host records (each length apart) */
    uint64_t refused;            /* packets and flow records of new conversations beyond max_conversations */
    uint64_t records[FS_MONITOR_MAX_LEVELS]; /* emitted per window length */
    uint64_t windows[FS_MONITOR_MAX_LEVELS]; /* windows closed per length (with at least one host) */
    uint64_t bytes_peak;         /* most bytes held in maps and sketches (estimated) */
};

/* A record, and which window length (index into windows_ns) it is of. */
typedef void (*fs_host_emit_fn)(void *arg, int level, const struct fs_host_window *rec);

struct fs_monitor_window;
struct fs_monitor_end;
struct fs_monitor_peer;
struct fs_monitor_port;
struct fs_monitor_protos;

struct fs_monitor {
    struct fs_monitor_opts opts;
    struct fs_prefix prefixes[FS_MONITOR_MAX_PREFIXES];
    struct fs_monitor_stats stats;
    fs_host_emit_fn emit;
    void *emit_arg;
    uint64_t clock_ns;           /* largest event time seen (or given to advance) */
    int started;
    uint64_t closed_before;      /* base windows below this index are closed */
    struct fs_bmap conv;         /* conversations */
    uint64_t next_sweep_ns;
    struct fs_monitor_window *open; /* owned: open base windows, ascending */
    size_t nopen, capopen;
    struct fs_bmap spare[FS_MONITOR_SPARE];
    size_t nspare;
    struct fs_bmap level_hosts[FS_MONITOR_MAX_LEVELS]; /* host accumulators of each longer length's open window */
    uint64_t level_idx[FS_MONITOR_MAX_LEVELS];         /* that window's index (start / length) */
    int level_open[FS_MONITOR_MAX_LEVELS];
    /* scratch of a window being closed (grown as needed, kept for the next) */
    struct fs_monitor_end *ends, *ends_tmp;
    size_t ends_cap, ends_tmp_cap;
    struct fs_monitor_peer *peers[2];
    struct fs_monitor_port *ports[2];
    size_t peers_cap[2], ports_cap[2];
    struct fs_monitor_protos *protos;  /* owned: bytes per protocol of a host's two sides */
    uint32_t *radix_count;       /* owned: 65,536 counters of the radix sort of a closing window's ends */
};

fs_result fs_monitor_init(struct fs_monitor *m, const struct fs_monitor_opts *o, fs_host_emit_fn emit, void *arg);
/* Takes one decoded packet. FS_ERR_NOMEM without memory. */
fs_result fs_monitor_packet(struct fs_monitor *m, const struct fs_pkt *p);
/* The same for n packets, their table entries fetched ahead in batches. */
fs_result fs_monitor_packets(struct fs_monitor *m, const struct fs_pkt *p, size_t n);
/* Takes one flow record (emitted form: key.a the source), in the base window of at_ns, or of its last packet
 * when at_ns is 0. */
fs_result fs_monitor_flow(struct fs_monitor *m, const struct fs_flow *f, uint64_t at_ns);
/* The same for n records, their table entries fetched ahead in batches (faster for streams of records). */
fs_result fs_monitor_flows(struct fs_monitor *m, const struct fs_flow *f, size_t n, uint64_t at_ns);
/* Moves the clock to now_ns if later, and closes the windows that are due. */
fs_result fs_monitor_advance(struct fs_monitor *m, uint64_t now_ns);
/* End of input: closes every open window. */
fs_result fs_monitor_finish(struct fs_monitor *m);
void fs_monitor_release(struct fs_monitor *m);

/* Whether an address is monitored. */
int fs_monitor_watches(const struct fs_monitor *m, const uint8_t addr[16], uint8_t ipver);

#endif
