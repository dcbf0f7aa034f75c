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
 * Ownership: plain data, no heap; a zeroed struct is an empty summary.
 */
#ifndef FS_TOPK_H
#define FS_TOPK_H

#include <stdint.h>

#define FS_TOPK_M 8

struct fs_topk_entry {
    uint8_t key[16];
    uint64_t bytes;   /* counted weight (an overestimate by at most err) */
    uint64_t err;
    uint64_t flows;
};

struct fs_topk {
    struct fs_topk_entry e[FS_TOPK_M];
    uint32_t n;
    uint32_t replaced;   /* keys replaced so far: 0 means every count is exact */
};

void fs_topk_add(struct fs_topk *t, const uint8_t key[16], uint64_t bytes, uint64_t flows);
void fs_topk_merge(struct fs_topk *into, const struct fs_topk *from);
/* Sorts the entries by bytes, largest first (ties: smaller key first). */
void fs_topk_sort(struct fs_topk *t);
/* The entry with the most flows (ties: more bytes, then smaller key), or NULL when empty. */
const struct fs_topk_entry *fs_topk_most_flows(const struct fs_topk *t);

#endif
