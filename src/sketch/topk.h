/*
 * topk.h - heavy hitters in fixed memory: the space-saving summary (Metwally, Agrawal, El Abbadi, "Efficient
 * computation of frequent and top-k elements in data streams", 2005), weighted by bytes, mergeable.
 *
 * A summary keeps FS_TOPK_M counters. A key already counted adds its weight; a new key takes a free counter,
 * or replaces the smallest one and inherits its count as error. Every key whose true weight exceeds
 * total / FS_TOPK_M is in the summary, and a counted weight overstates the true one by at most its `err`
 * (<= total / FS_TOPK_M). While no key was ever replaced the counts are exact. Merging two summaries adds the
 * counters of equal keys and keeps the FS_TOPK_M largest (Agarwal et al., "Mergeable summaries", 2012).
 * Each counter also counts flows, so the key with the most flows among those kept can be named.
 *
 * Keys are 16 bytes (an address, or a port or protocol number in the first bytes, the rest zero).
 *
 * Counters are allocated as keys come (one in the struct, then 2, 4 and 8 on the heap): most hosts of a
 * window have one or two peers, and a full summary in every host's accumulator would be most of the monitor's
 * memory. fs_topk_entries() gives the counters wherever they are; a summary may be moved (memcpy).
 *
 * Ownership: a summary owns its counters; fs_topk_free() releases them. A zeroed struct is an empty summary.
 */
#ifndef FS_TOPK_H
#define FS_TOPK_H

#include <stddef.h>
#include <stdint.h>

#define FS_TOPK_M 8

struct fs_topk_entry {
    uint8_t key[16];
    uint64_t bytes;   /* counted weight (an overestimate by at most err) */
    uint64_t err;
    uint64_t flows;
};

struct fs_topk {
    struct fs_topk_entry *e; /* owned: the counters once more than one (cap allocated); else NULL and inl */
    uint16_t n, cap;
    uint32_t replaced;   /* keys replaced so far: 0 means every count is exact */
    struct fs_topk_entry inl[1];
};

/* Adds weight to a key; -1 without memory (the summary is then unchanged). */
int fs_topk_add(struct fs_topk *t, const uint8_t key[16], uint64_t bytes, uint64_t flows);
/* Adds from's counters to into; -1 without memory (into is then unchanged). */
int fs_topk_merge(struct fs_topk *into, const struct fs_topk *from);
void fs_topk_free(struct fs_topk *t);
/* The n counters. */
static inline struct fs_topk_entry *fs_topk_entries(struct fs_topk *t) { return t->cap ? t->e : t->inl; }
static inline const struct fs_topk_entry *fs_topk_centries(const struct fs_topk *t) { return t->cap ? t->e : t->inl; }
/* Bytes held on the heap. */
size_t fs_topk_bytes(const struct fs_topk *t);
/* Sorts the entries by bytes, largest first (ties: smaller key first). */
void fs_topk_sort(struct fs_topk *t);
/* The entry with the most flows (ties: more bytes, then smaller key), or NULL when empty. */
const struct fs_topk_entry *fs_topk_most_flows(const struct fs_topk *t);

#endif
