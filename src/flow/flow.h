/*
 * flow.h - the flow record: one bidirectional conversation and its features.
 *
 * Every source (packets, NetFlow, IPFIX, sFlow) produces this record; one from a
 * flow export says so (FS_FLOW_EXPORTED, source, exporter) and leaves unknown
 * what the export did not carry.
 * It holds only exact, mergeable aggregates: counts, sums, sums of squares,
 * minima, maxima and first/last timestamps, per direction. Means and standard
 * deviations are derived when a record is printed (fs_flow_stats), so two
 * partial records of one flow (cut by a file, a thread or a machine) merge into
 * the record the whole flow would have given. The merge rule of every field is
 * in fs_flow_merge() and in docs/flow-record.md.
 *
 * Direction 0 is "forward": packets sent by the source (the initiator); 1 is
 * "backward". While a flow is live in the meter its key is canonical and
 * FS_FLOW_SWAPPED says that the source is key.b; fs_flow_orient() turns it into
 * the emitted form, where key.a is the source and dir[0] its packets.
 */
#ifndef FS_FLOW_H
#define FS_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "../decode/decode.h"
#include "key.h"

__extension__ typedef unsigned __int128 fs_u128;

enum fs_end_reason {
    FS_END_ACTIVE = 0, /* still open when emitted (only inside the meter) */
    FS_END_IDLE,       /* no packet for the idle timeout */
    FS_END_ACTIVE_TIMEOUT, /* lasted longer than the active timeout; continues as a new flow */
    FS_END_FIN,        /* TCP FIN seen in both directions */
    FS_END_RST,        /* TCP RST */
    FS_END_EOF,        /* input ended */
    FS_END_EVICT,      /* pushed out by the memory cap */
    FS_END_EMERGENCY,  /* ended by the shorter idle timeout of a nearly full table */
    FS_END_COUNT
};

const char *fs_end_reason_name(unsigned r);

enum { FS_TCP_FIN, FS_TCP_SYN, FS_TCP_RST, FS_TCP_PSH, FS_TCP_ACK, FS_TCP_URG, FS_TCP_ECE, FS_TCP_CWR, FS_TCP_NFLAGS };

/* Sizes are "packet sizes" on the meter's size basis (IP length by default). */
struct fs_flow_dir {
    uint64_t packets;
    uint64_t bytes;        /* sum of packet sizes */
    uint64_t payload;      /* sum of transport payload bytes */
    uint64_t nopay;        /* packets with no transport payload */
    uint64_t first_ns, last_ns;
    fs_u128 size_sq;       /* sum of squared packet sizes */
    fs_u128 pay_sq;        /* sum of squared payload sizes */
    fs_u128 iat_sq;        /* sum of squared inter-arrival times (ns^2) within this direction */
    uint64_t iat_min, iat_max; /* ns; meaningful when packets >= 2 */
    uint32_t size_min, size_max;
    uint32_t pay_min, pay_max;
    uint32_t flags[FS_TCP_NFLAGS]; /* packets with each TCP flag set */
    uint32_t frags;        /* packets that were IP fragments */
    uint8_t flags_or;
    uint8_t pad[3];
};

struct fs_flow {
    struct fs_flow_key key;
    uint64_t first_ns, last_ns;
    fs_u128 iat_sq;              /* both directions together */
    uint64_t iat_min, iat_max;
    struct fs_flow_dir dir[2];
    uint8_t end_reason;
    uint8_t state;               /* FS_FLOW_* bits */
    uint8_t icmp_type, icmp_code;/* of the flow's first ICMP packet */
    uint8_t pad[4];
    /* Provenance of a record from a flow export (collect); zero in records metered from packets. */
    uint8_t exporter[16];        /* the exporter's address, IPv4 in the first 4 bytes */
    uint32_t domain;             /* IPFIX observation domain, NetFlow v9 source id */
    uint32_t sampling;           /* packet sampling interval: 1 packet in `sampling` (0 = not sampled) */
    uint32_t in_if, out_if;      /* ingress and egress interface (SNMP ifIndex) */
    uint8_t source;              /* enum fs_source */
    uint8_t exporter_ipver;      /* 4 or 6 (0: no exporter) */
    uint8_t pad2[6];
};

/* Where a record came from. */
enum fs_source { FS_SOURCE_PACKETS = 0, FS_SOURCE_NETFLOW5, FS_SOURCE_NETFLOW9, FS_SOURCE_IPFIX, FS_SOURCE_SFLOW,
                 FS_SOURCE_COUNT };
const char *fs_source_name(unsigned s);

enum {
    FS_FLOW_SWAPPED = 1,   /* live form: the source is key.b */
    FS_FLOW_SYN_SEEN = 2,  /* a SYN fixed the initiator: no further correction */
    FS_FLOW_FIN_A = 4,     /* FIN seen from key.a / key.b (live form) */
    FS_FLOW_FIN_B = 8,
    FS_FLOW_CLOSING = 16,  /* teardown seen; the flow ends after the close grace */
    FS_FLOW_HAS_ICMP = 32,
    FS_FLOW_EXPORTED = 64, /* from a flow export: only counts, times, TCP flags seen and the key are known; the
                              other aggregates (sizes, payloads, inter-arrival times, flag counts) are not */
};

/* Packet size on each basis. */
enum fs_size_basis { FS_SIZE_IP = 0, FS_SIZE_FRAME, FS_SIZE_PAYLOAD };

/* What a flow record takes from one packet: all that fs_flow_start/fs_flow_add read. The meter keeps
 * these for short flows instead of a record (meter.h). */
struct fs_obs {
    uint64_t ts_ns;
    uint32_t size;        /* packet size on the meter's size basis */
    uint32_t payload;     /* transport payload bytes */
    uint8_t tcp_flags;
    uint8_t is_fragment;
    uint8_t has_icmp, icmp_type, icmp_code;
};

static inline struct fs_obs fs_obs_of(const struct fs_pkt *p, enum fs_size_basis basis)
{
    struct fs_obs o;
    o.ts_ns = p->ts_ns;
    o.size = basis == FS_SIZE_FRAME ? p->wirelen : basis == FS_SIZE_PAYLOAD ? p->payload : p->ip_len;
    o.payload = p->payload;
    o.tcp_flags = p->tcp_flags;
    o.is_fragment = p->is_fragment;
    o.has_icmp = p->has_icmp;
    o.icmp_type = p->icmp_type;
    o.icmp_code = p->icmp_code;
    return o;
}

/* Starts a live flow from its first packet. `canon_key` is the packet key in
 * canonical form and `from_b` says the packet went b -> a. */
void fs_flow_start(struct fs_flow *f, const struct fs_flow_key *canon_key, int from_b, const struct fs_obs *o);

/* Adds a packet to a live flow; from_b as above. */
void fs_flow_add(struct fs_flow *f, int from_b, const struct fs_obs *o);

/* Turns a live flow into the emitted form (key.a = source, dir[0] = forward). */
void fs_flow_orient(struct fs_flow *f);

/* Merges b into a, both emitted-form records of the same conversation (either
 * orientation). The result is exact when the two parts do not overlap in time;
 * for overlapping parts, inter-arrival statistics are an approximation. */
void fs_flow_merge(struct fs_flow *a, const struct fs_flow *b);

/* qsort order of records (struct fs_flow): by first packet, then by last packet. */
int fs_flow_cmp_first(const void *a, const void *b);

/* The members of a record by name: every one, each once, so that a record can be taken apart and put back
 * (the store's columns have these names) and a field can say where it lies. The first two are first_ns and
 * last_ns. */
struct fs_flow_member {
    const char *name;
    size_t off;
    uint32_t width;
};
#define FS_FLOW_NMEMBERS 62
extern const struct fs_flow_member *const fs_flow_members; /* FS_FLOW_NMEMBERS of them */
extern const struct fs_flow_member fs_flow_member_array[FS_FLOW_NMEMBERS]; /* the same, as an array */

/* Whether member k (an index into fs_flow_members) is always zero in a record from a flow export
 * (FS_FLOW_EXPORTED): sums of squares, minima, maxima, payloads, packets without payload, fragments and flag
 * counters, which exports do not carry. Writers may rely on it (the store clears such columns). */
int fs_flow_member_zero_in_exports(size_t k);

/* Whether member k is always zero in a record metered from packets (source FS_SOURCE_PACKETS): the provenance of
 * exports (exporter, domain, sampling, interfaces, source). */
int fs_flow_member_zero_in_packets(size_t k);

/* The member called name, or NULL. */
const struct fs_flow_member *fs_flow_member_find(const char *name);

/* Derived statistics of a set of values with count n, sum s and sum of squares q. */
struct fs_stat { double mean, stddev; };
struct fs_stat fs_stat_of(uint64_t n, double s, long double q, int sample);
/* The same from exact integer sums (sizes, payloads, nanosecond gaps). */
struct fs_stat fs_stat_exact(uint64_t n, uint64_t s, fs_u128 q, int sample);

#endif
