/*
 * reasm.h - reassembly of IP datagrams that carry a tunnel.
 *
 * Only fragmented datagrams whose first fragment shows a tunnel flowsift would
 * open (GTP-U, VXLAN, Geneve, Teredo, GRE-in-UDP, GRE, IP-in-IP) are reassembled:
 * the fragments are held, and when the datagram is complete the decoder meters
 * one packet, the inner one (as Zeek and Wireshark count it). Every other
 * fragment is metered as it comes (decode.h). A datagram that does not complete
 * within the fragment timeout, or is pushed out of the full table, is not lost:
 * its held fragments come back as outer packets through fs_decode_pending().
 *
 * Memory: at most FS_REASM_SLOTS datagrams in progress, each with a 64 KiB
 * buffer allocated on first use and kept (4 MiB in all), and a queue of
 * released fragments. Owned by the decoder.
 */
#ifndef FS_REASM_H
#define FS_REASM_H

#include <stdint.h>

#include "decode.h"

#define FS_REASM_SLOTS 64
#define FS_REASM_MAX_BYTES 65535u
#define FS_REASM_MAX_FRAGS 64

struct fs_reasm_frag {          /* what the meter needs of a held fragment */
    uint64_t ts_ns;
    uint32_t wirelen, ip_len, payload;
};

struct fs_reasm_slot {
    int used;
    struct fs_pkt first;        /* the first fragment as an outer packet (key with ports) */
    uint32_t id;
    uint32_t hdr_len;           /* IP header bytes before the transport header */
    uint32_t total;             /* transport bytes of the datagram, known once the last fragment came */
    uint64_t start_ns;
    uint32_t wire_sum;
    int nfrags;
    struct fs_reasm_frag frags[FS_REASM_MAX_FRAGS];
    uint8_t map[FS_REASM_MAX_BYTES / 8 / 8 + 1]; /* one bit per 8-byte block received */
    uint8_t *buf;               /* owned, FS_REASM_MAX_BYTES */
};

struct fs_reasm {
    struct fs_reasm_slot *slots;   /* owned, FS_REASM_SLOTS */
    struct fs_pkt *queue;          /* owned ring of released fragments */
    uint32_t qhead, qlen, qcap;
};

int fs_reasm_init(struct fs_reasm *r);
void fs_reasm_release(struct fs_reasm *r);

/* The slot reassembling datagram `id` of the packet's addresses and protocol, or NULL. */
struct fs_reasm_slot *fs_reasm_find(struct fs_reasm *r, const struct fs_pkt *p, uint32_t id);
/* A slot for a new datagram whose first fragment is `first` (copied). When the table is full the oldest
 * datagram is released (*released fragments queued). NULL only when out of memory. */
struct fs_reasm_slot *fs_reasm_start(struct fs_reasm *r, const struct fs_pkt *first, uint32_t id, uint32_t hdr_len,
                                     uint32_t *released);
/* Adds a fragment's transport bytes at offset `off`; -1 when it cannot be held (too many fragments, past
 * 64 KiB, inconsistent ends): the caller then releases the slot. */
int fs_reasm_add(struct fs_reasm_slot *s, const struct fs_pkt *p, uint32_t off, const uint8_t *data, uint32_t len,
                 int more);
int fs_reasm_complete(const struct fs_reasm_slot *s);
/* Queues a slot's held fragments as outer packets and frees it; returns how many. */
uint32_t fs_reasm_drop(struct fs_reasm *r, struct fs_reasm_slot *s);
/* Releases datagrams older than timeout_ns at now_ns (UINT64_MAX: all); returns fragments queued. */
uint32_t fs_reasm_expire(struct fs_reasm *r, uint64_t now_ns, uint64_t timeout_ns);
/* Next queued fragment; 0 when the queue is empty. */
int fs_reasm_pop(struct fs_reasm *r, struct fs_pkt *out);

#endif
