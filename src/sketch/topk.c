/*
 * topk.c - space-saving summaries; see topk.h.
 */
#include "topk.h"

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

void fs_topk_add(struct fs_topk *t, const uint8_t key[16], uint64_t bytes, uint64_t flows)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (same_key(t->e[i].key, key)) {
            t->e[i].bytes += bytes;
            t->e[i].flows += flows;
            return;
        }
    struct fs_topk_entry *e;
    if (t->n < FS_TOPK_M) {
        e = &t->e[t->n++];
        e->bytes = e->err = 0;
    } else {
        uint32_t min = 0;
        for (uint32_t i = 1; i < t->n; i++)
            if (t->e[i].bytes < t->e[min].bytes) min = i;
        e = &t->e[min];
        e->err = e->bytes;
        t->replaced++;
    }
    memcpy(e->key, key, 16);
    e->bytes += bytes;
    e->flows = flows;
}

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

void fs_topk_merge(struct fs_topk *into, const struct fs_topk *from)
{
    struct fs_topk_entry all[2 * FS_TOPK_M];
    uint32_t n = into->n;
    memcpy(all, into->e, n * sizeof all[0]);
    for (uint32_t j = 0; j < from->n; j++) {
        uint32_t i = 0;
        while (i < into->n && !same_key(all[i].key, from->e[j].key)) i++;
        if (i < into->n) {
            all[i].bytes += from->e[j].bytes;
            all[i].err += from->e[j].err;
            all[i].flows += from->e[j].flows;
        } else {
            all[n++] = from->e[j];
        }
    }
    sort_entries(all, n);
    into->replaced += from->replaced;
    if (n > FS_TOPK_M) {
        into->replaced += n - FS_TOPK_M;
        n = FS_TOPK_M;
    }
    memcpy(into->e, all, n * sizeof all[0]);
    into->n = n;
}

void fs_topk_sort(struct fs_topk *t) { sort_entries(t->e, t->n); }

const struct fs_topk_entry *fs_topk_most_flows(const struct fs_topk *t)
{
    const struct fs_topk_entry *best = NULL;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct fs_topk_entry *e = &t->e[i];
        if (!best || e->flows > best->flows || (e->flows == best->flows && by_bytes(e, best) < 0)) best = e;
    }
    return best;
}
