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

static uint32_t sig_of(uint64_t hash) { return (uint32_t)(hash >> 32); }

void *fs_bmap_find(const struct fs_bmap *m, const void *key, uint64_t hash)
{
    if (!m->nslots) return NULL;
    uint32_t mask = m->nslots - 1, sig = sig_of(hash);
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        uint64_t s = m->slots[i];
        if (!s) return NULL;
        if ((uint32_t)(s >> 32) == sig) {
            uint32_t e = (uint32_t)s - 1;
            if (memcmp(fs_bmap_key(m, e), key, m->ksize) == 0) return fs_bmap_val(m, e);
        }
    }
}

static void place(struct fs_bmap *m, uint64_t hash, uint32_t e)
{
    uint32_t mask = m->nslots - 1;
    uint32_t i = (uint32_t)hash & mask;
    while (m->slots[i]) i = (i + 1) & mask;
    m->slots[i] = (uint64_t)sig_of(hash) << 32 | (uint64_t)(e + 1);
}

static int grow_index(struct fs_bmap *m, uint32_t nslots)
{
    uint64_t *s = calloc(nslots, sizeof *s);
    if (!s) return -1;
    free(m->slots);
    m->slots = s;
    m->nslots = nslots;
    for (uint32_t e = 0; e < m->n; e++) place(m, fs_bmap_hash(fs_bmap_key(m, e), m->ksize), e);
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
    place(m, hash, e);
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
    if (nslots < m->nslots && grow_index(m, nslots) == 0) return;
    if (m->slots) {
        memset(m->slots, 0, (size_t)m->nslots * sizeof *m->slots);
        for (uint32_t e = 0; e < m->n; e++) place(m, fs_bmap_hash(fs_bmap_key(m, e), m->ksize), e);
    }
}

size_t fs_bmap_bytes(const struct fs_bmap *m) { return (size_t)m->cap * m->esize + (size_t)m->nslots * 8; }
