/*
 * bmap.c - byte-key hash map; see bmap.h.
 */
#include "bmap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void fs_bmap_init(struct fs_bmap *m, size_t ksize, size_t vsize)
{
    memset(m, 0, sizeof *m);
    m->ksize = ksize;
    m->vsize = vsize;
    m->esize = ((ksize + 7) & ~(size_t)7) + ((vsize + 7) & ~(size_t)7);
}

void fs_bmap_free(struct fs_bmap *m)
{
    free(m->entries);
    free(m->slots);
    fs_bmap_init(m, m->ksize, m->vsize);
}

void fs_bmap_clear(struct fs_bmap *m)
{
    m->n = 0;
    if (m->slots) memset(m->slots, 0, (size_t)m->nslots * sizeof *m->slots);
}

uint64_t fs_bmap_hash(const void *key, size_t ksize) { return XXH3_64bits(key, ksize); }

/* A slot keeps the hash's low 32 bits, the signature: they place the entry (any index of at most 2^32 slots)
 * and, compared first, spare most key comparisons; growing the index needs no key hashed again. */
static uint32_t sig_of(uint64_t hash) { return (uint32_t)hash; }

static uint32_t home(const struct fs_bmap *m, uint32_t sig) { return sig & (m->nslots - 1); }

/* Keys are compared as 8-byte words when their size allows (every key of the monitor's maps). */
static inline int key_equal(const struct fs_bmap *m, const uint8_t *a, const uint8_t *b)
{
    if (m->ksize % 8) return memcmp(a, b, m->ksize) == 0;
    uint64_t d = 0;
    for (size_t i = 0; i < m->ksize; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d |= x ^ y;
    }
    return d == 0;
}

void *fs_bmap_find(const struct fs_bmap *m, const void *key, uint64_t hash)
{
    if (!m->nslots) return NULL;
    uint32_t mask = m->nslots - 1, sig = sig_of(hash);
    for (uint32_t i = home(m, sig);; i = (i + 1) & mask) {
        uint64_t s = m->slots[i];
        if (!s) return NULL;
        if ((uint32_t)(s >> 32) == sig) {
            uint32_t e = (uint32_t)s - 1;
            if (key_equal(m, fs_bmap_key(m, e), key)) return fs_bmap_val(m, e);
        }
    }
}

static void place(uint64_t *slots, uint32_t nslots, uint32_t sig, uint32_t e)
{
    uint32_t mask = nslots - 1;
    uint32_t i = sig & mask;
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = (uint64_t)sig << 32 | (uint64_t)(e + 1);
}

static int grow_index(struct fs_bmap *m, uint32_t nslots)
{
    uint64_t *s = calloc(nslots, sizeof *s);
    if (!s) return -1;
    for (uint32_t i = 0; i < m->nslots; i++)
        if (m->slots[i]) place(s, nslots, (uint32_t)(m->slots[i] >> 32), (uint32_t)m->slots[i] - 1);
    free(m->slots);
    m->slots = s;
    m->nslots = nslots;
    return 0;
}

void *fs_bmap_get(struct fs_bmap *m, const void *key, uint64_t hash, int *created)
{
    void *v = fs_bmap_find(m, key, hash);
    if (created) *created = !v;
    if (v) return v;
    if (m->n == UINT32_MAX - 1) return NULL;
    if (m->n == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 16;
        uint8_t *e = realloc(m->entries, (size_t)cap * m->esize);
        if (!e) return NULL;
        m->entries = e;
        m->cap = cap;
    }
    if ((uint64_t)(m->n + 1) * 2 > m->nslots && grow_index(m, m->nslots ? m->nslots * 2 : 32) != 0) return NULL;
    uint32_t e = m->n++;
    uint8_t *p = m->entries + (size_t)e * m->esize;
    memset(p, 0, m->esize);
    memcpy(p, key, m->ksize);
    place(m->slots, m->nslots, sig_of(hash), e);
    return fs_bmap_val(m, e);
}

void fs_bmap_rebuild_keep(struct fs_bmap *m, int (*keep)(void *arg, const void *key, void *val), void *arg)
{
    uint32_t w = 0;
    for (uint32_t r = 0; r < m->n; r++) {
        if (!keep(arg, fs_bmap_key(m, r), fs_bmap_val(m, r))) continue;
        if (w != r) memcpy(m->entries + (size_t)w * m->esize, m->entries + (size_t)r * m->esize, m->esize);
        w++;
    }
    m->n = w;
    uint32_t nslots = 32;
    while ((uint64_t)m->n * 2 > nslots) nslots *= 2;
    /* a smaller index if one can be had; else the old one, which holds the fewer entries as well */
    if (nslots < m->nslots) {
        uint64_t *sl = calloc(nslots, sizeof *sl);
        if (sl) {
            free(m->slots);
            m->slots = sl;
            m->nslots = nslots;
        }
    }
    if (m->slots) { /* entries moved: placed again from their hashes (sweeps only, now and then) */
        memset(m->slots, 0, (size_t)m->nslots * sizeof *m->slots);
        for (uint32_t e = 0; e < m->n; e++) place(m->slots, m->nslots, sig_of(fs_bmap_hash(fs_bmap_key(m, e), m->ksize)), e);
    }
}

size_t fs_bmap_bytes(const struct fs_bmap *m) { return (size_t)m->cap * m->esize + (size_t)m->nslots * 8; }
