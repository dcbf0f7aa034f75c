/*
 * bmap.h - a hash map from fixed-size byte keys to fixed-size values, stored inline.
 *
 * For the monitor's many small tables (conversations, and per window: partial conversations and host
 * accumulators): entries sit in one array in insertion order, so a table is iterated by index and dropped
 * whole; an open-addressing index of (signature, entry) slots, at most half full, finds them. No deletion:
 * a table that must forget entries is rebuilt from the survivors (fs_bmap_rebuild_keep).
 *
 * Ownership: the map owns its arrays. A value pointer stays valid until the next insertion (which may grow
 * the array); fs_bmap_free() releases everything.
 */
#ifndef FS_BMAP_H
#define FS_BMAP_H

#include <stddef.h>
#include <stdint.h>

struct fs_bmap {
    size_t ksize, vsize, esize;   /* key bytes, value bytes, entry bytes (key then value, 8-aligned) */
    uint8_t *entries;             /* owned: n used, cap allocated */
    uint32_t n, cap;
    uint64_t *slots;              /* owned: hash low 32 bits << 32 | entry index + 1; 0 = empty */
    uint32_t nslots;              /* power of two */
};

void fs_bmap_init(struct fs_bmap *m, size_t ksize, size_t vsize);
void fs_bmap_free(struct fs_bmap *m);
/* Forgets every entry, keeps the memory. */
void fs_bmap_clear(struct fs_bmap *m);

/* The hash of a key (XXH3). */
uint64_t fs_bmap_hash(const void *key, size_t ksize);

/* The value of key, or NULL. `hash` is the key's hash, by one function for all keys of a map: fs_bmap_hash(key)
 * (computed once by callers that look a key up in several maps), or another well-mixed 64-bit hash the caller
 * already has. A map that is rebuilt (fs_bmap_rebuild_keep) must use fs_bmap_hash. */
void *fs_bmap_find(const struct fs_bmap *m, const void *key, uint64_t hash);
/* The value of key, inserted zeroed if absent (*created says which); NULL without memory. */
void *fs_bmap_get(struct fs_bmap *m, const void *key, uint64_t hash, int *created);

static inline const void *fs_bmap_key(const struct fs_bmap *m, uint32_t i) { return m->entries + (size_t)i * m->esize; }
static inline void *fs_bmap_val(const struct fs_bmap *m, uint32_t i)
{
    return m->entries + (size_t)i * m->esize + ((m->ksize + 7) & ~(size_t)7);
}

/* Fetching ahead for a batch of lookups: first the index slot of each hash, then (once those are in the cache)
 * the entry that the home slot names when its signature matches. */
static inline uint32_t fs_bmap_home(const struct fs_bmap *m, uint64_t hash)
{
    return (uint32_t)hash & (m->nslots - 1);
}

static inline void fs_bmap_prefetch_slot(const struct fs_bmap *m, uint64_t hash)
{
    if (m->nslots) __builtin_prefetch(&m->slots[fs_bmap_home(m, hash)]);
}

static inline void fs_bmap_prefetch_entry(const struct fs_bmap *m, uint64_t hash)
{
    if (!m->nslots) return;
    uint64_t s = m->slots[fs_bmap_home(m, hash)];
    if (s && (uint32_t)(s >> 32) == (uint32_t)hash) __builtin_prefetch(fs_bmap_key(m, (uint32_t)s - 1));
}

/* Keeps the entries for which keep(arg, key, value) is nonzero, in their order. */
void fs_bmap_rebuild_keep(struct fs_bmap *m, int (*keep)(void *arg, const void *key, void *val), void *arg);

/* Bytes held. */
size_t fs_bmap_bytes(const struct fs_bmap *m);

#endif
