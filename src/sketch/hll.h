/*
 * hll.h - distinct counts in bounded memory: HyperLogLog with 2^12 registers, and an exact sparse form for
 * small sets, mergeable (the distinct peers and ports of a host, window by window, merged into coarser windows).
 *
 * A sketch starts sparse: the distinct 64-bit hashes seen, sorted, counted exactly. Past FS_HLL_SPARSE_MAX of
 * them it becomes 4,096 one-byte registers (4 KB), and counts with Ertl's estimator ("New cardinality
 * estimation algorithms for HyperLogLog sketches", 2017), which needs no bias tables and has a relative
 * standard error of about 1.04 / sqrt(4096) = 1.6% at every cardinality. Merging two sketches gives what one
 * sketch of both sets would (the same registers, or the same exact set). Values are hashed with XXH3 (libxxhash).
 *
 * Ownership: a sketch owns its arrays; fs_hll_free() releases them. A zeroed struct is an empty sketch.
 */
#ifndef FS_HLL_H
#define FS_HLL_H

#include <stddef.h>
#include <stdint.h>

#define FS_HLL_P 12
#define FS_HLL_M (1u << FS_HLL_P)
#define FS_HLL_SPARSE_MAX 256     /* exact up to this many distinct values (2 KB at most) */
#define FS_HLL_STDERR 0.01625     /* 1.04 / sqrt(FS_HLL_M) */
#define FS_HLL_INLINE 2           /* held in the struct itself, no heap: most hosts of a window have a peer or two */

struct fs_hll {
    uint64_t *sparse;   /* owned: sorted distinct hashes, n of them (cap allocated); NULL while they fit in
                           inl, and once dense */
    uint8_t *dense;     /* owned: FS_HLL_M registers, or NULL while exact */
    uint32_t n, cap;
    uint64_t inl[FS_HLL_INLINE]; /* the sorted hashes while n <= FS_HLL_INLINE and sparse is NULL */
};

/* The hash of a value (bytes). */
uint64_t fs_hll_hash(const void *data, size_t len);

/* Adds a hashed value; -1 without memory (the sketch is unchanged). */
int fs_hll_add(struct fs_hll *s, uint64_t hash);
/* Adds everything of `from` to `into`; -1 without memory (into is then unchanged). */
int fs_hll_merge(struct fs_hll *into, const struct fs_hll *from);
/* The estimated number of distinct values (exact while sparse). */
double fs_hll_count(const struct fs_hll *s);
/* Bytes the sketch holds on the heap. */
size_t fs_hll_bytes(const struct fs_hll *s);
void fs_hll_free(struct fs_hll *s);

#endif
