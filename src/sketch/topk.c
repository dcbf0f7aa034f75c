/*
 * topk.c - space-saving summaries; see topk.h.
 */
#include "topk.h"

#include <stdlib.h>
#include <string.h>

void fs_topk_add(struct fs_topk *t, const uint8_t key[16], uint64_t bytes, uint64_t flows)
{
    uint32_t min = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (memcmp(t->e[i].key, key, 16) == 0) {
            t->e[i].bytes += bytes;
            t->e[i].flows += flows;
            return;
        }
        if (t->e[i].bytes < t->e[min].bytes) min = i;
    }
    struct fs_topk_entry *e;
    if (t->n < FS_TOPK_M) {
        e = &t->e[t->n++];
        e->bytes = e->err = 0;
    } else {
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

void fs_topk_merge(struct fs_topk *into, const struct fs_topk *from)
{
    struct fs_topk_entry all[2 * FS_TOPK_M];
    uint32_t n = into->n;
    memcpy(all, into->e, n * sizeof all[0]);
    for (uint32_t j = 0; j < from->n; j++) {
        uint32_t i = 0;
        while (i < into->n && memcmp(all[i].key, from->e[j].key, 16) != 0) i++;
        if (i < into->n) {
            all[i].bytes += from->e[j].bytes;
            all[i].err += from->e[j].err;
            all[i].flows += from->e[j].flows;
        } else {
            all[n++] = from->e[j];
        }
    }
    qsort(all, n, sizeof all[0], by_bytes);
    into->replaced += from->replaced;
    if (n > FS_TOPK_M) {
        into->replaced += n - FS_TOPK_M;
        n = FS_TOPK_M;
    }
    memcpy(into->e, all, n * sizeof all[0]);
    into->n = n;
}

void fs_topk_sort(struct fs_topk *t) { qsort(t->e, t->n, sizeof t->e[0], by_bytes); }

const struct fs_topk_entry *fs_topk_most_flows(const struct fs_topk *t)
{
    const struct fs_topk_entry *best = NULL;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct fs_topk_entry *e = &t->e[i];
        if (!best || e->flows > best->flows || (e->flows == best->flows && by_bytes(e, best) < 0)) best = e;
    }
    return best;
}
