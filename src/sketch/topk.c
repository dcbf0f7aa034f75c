/*
 * topk.c - space-saving summaries; see topk.h.
 */
#include "topk.h"

#include <stdlib.h>
#include <string.h>

static inline int same_key(const uint8_t *a, const uint8_t *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&a1, a + 8, 8);
    memcpy(&b0, b, 8);
    memcpy(&b1, b + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Room for `want` counters (at most FS_TOPK_M): one inline, more on the heap. */
static int grow(struct fs_topk *t, uint32_t want)
{
    if (want <= (t->cap ? t->cap : 1u)) return 0;
    uint32_t cap = t->cap ? t->cap : 1;
    while (cap < want) cap *= 2;
    if (cap > FS_TOPK_M) cap = FS_TOPK_M;
    struct fs_topk_entry *e = realloc(t->e, cap * sizeof *e);
    if (!e) return -1;
    if (!t->cap && t->n) e[0] = t->inl[0];
    t->e = e;
    t->cap = (uint16_t)cap;
    return 0;
}

int fs_topk_add(struct fs_topk *t, const uint8_t key[16], uint64_t bytes, uint64_t flows)
{
    struct fs_topk_entry *v = fs_topk_entries(t);
    for (uint32_t i = 0; i < t->n; i++)
        if (same_key(v[i].key, key)) {
            v[i].bytes += bytes;
            v[i].flows += flows;
            return 0;
        }
    struct fs_topk_entry *e;
    if (t->n < FS_TOPK_M) {
        if (grow(t, t->n + 1u)) return -1;
        e = &fs_topk_entries(t)[t->n++];
        e->bytes = e->err = 0;
    } else {
        uint32_t min = 0;
        for (uint32_t i = 1; i < t->n; i++)
            if (v[i].bytes < v[min].bytes) min = i;
        e = &v[min];
        e->err = e->bytes;
        t->replaced++;
    }
    memcpy(e->key, key, 16);
    e->bytes += bytes;
    e->flows = flows;
    return 0;
}

void fs_topk_free(struct fs_topk *t)
{
    free(t->e);
    memset(t, 0, sizeof *t);
}

size_t fs_topk_bytes(const struct fs_topk *t) { return (size_t)t->cap * sizeof *t->e; }

static int by_bytes(const void *pa, const void *pb)
{
    const struct fs_topk_entry *a = pa, *b = pb;
    if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
    return memcmp(a->key, b->key, 16);
}

/* At most 2 * FS_TOPK_M entries: an insertion sort beats qsort's setup. */
static void sort_entries(struct fs_topk_entry *e, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct fs_topk_entry x = e[i];
        uint32_t j = i;
        while (j > 0 && by_bytes(&e[j - 1], &x) > 0) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
}

int fs_topk_merge(struct fs_topk *into, const struct fs_topk *from)
{
    if (!from->n) return 0;
    const struct fs_topk_entry *fe = fs_topk_centries(from);
    struct fs_topk_entry all[2 * FS_TOPK_M];
    uint32_t n0 = into->n, n = n0;
    if (n) memcpy(all, fs_topk_entries(into), n * sizeof all[0]);
    for (uint32_t j = 0; j < from->n; j++) { /* counters of one key add up; the other keys are appended */
        uint32_t i = 0;
        while (i < n0 && !same_key(all[i].key, fe[j].key)) i++;
        if (i < n0) {
            all[i].bytes += fe[j].bytes;
            all[i].err += fe[j].err;
            all[i].flows += fe[j].flows;
        } else {
            all[n++] = fe[j];
        }
    }
    uint32_t dropped = 0;
    if (n > FS_TOPK_M) { /* more keys than counters: the largest stay */
        sort_entries(all, n);
        dropped = n - FS_TOPK_M;
        n = FS_TOPK_M;
    }
    if (grow(into, n)) return -1;
    into->replaced += from->replaced + dropped;
    memcpy(fs_topk_entries(into), all, n * sizeof all[0]);
    into->n = (uint16_t)n;
    return 0;
}

void fs_topk_sort(struct fs_topk *t) { sort_entries(fs_topk_entries(t), t->n); }

const struct fs_topk_entry *fs_topk_most_flows(const struct fs_topk *t)
{
    const struct fs_topk_entry *best = NULL, *v = fs_topk_centries(t);
    for (uint32_t i = 0; i < t->n; i++) {
        const struct fs_topk_entry *e = &v[i];
        if (!best || e->flows > best->flows || (e->flows == best->flows && by_bytes(e, best) < 0)) best = e;
    }
    return best;
}
