/*
 * colpred.h - conditions on stored columns, tested before records are built.
 *
 * A query's filter (filter.c) yields the conjuncts of its top level that compare
 * an integer field stored as one column, as the sum of two (packets = d0 + d1),
 * or either of two (port N) with a constant. Each is a necessary condition of
 * the filter, so a scan (store.c) may drop every row that fails one before it
 * builds a record, and every segment whose column minima and maxima show that
 * no row can pass. The full filter still runs on the rows left.
 */
#ifndef FS_COLPRED_H
#define FS_COLPRED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FS_COLPRED_NAME 32
#define FS_COLPRED_MAX 16

enum fs_colpred_mode { FS_COLPRED_ONE, FS_COLPRED_SUM, FS_COLPRED_EITHER };
enum fs_colpred_op { FS_COLPRED_EQ, FS_COLPRED_NE, FS_COLPRED_LT, FS_COLPRED_LE, FS_COLPRED_GT, FS_COLPRED_GE };

struct fs_colpred {
    enum fs_colpred_mode mode;
    enum fs_colpred_op op;
    uint64_t value;
    char col[2][FS_COLPRED_NAME]; /* col[1]: SUM and EITHER only */
};

/* Value i of a decoded integer column of `width` bytes (1, 2, 4 or 8). */
static inline uint64_t fs_column_load(const uint8_t *data, unsigned width, size_t i)
{
    switch (width) {
    case 1: return data[i];
    case 2: { uint16_t v; memcpy(&v, data + 2 * i, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, data + 4 * i, 4); return v; }
    default: { uint64_t v; memcpy(&v, data + 8 * i, 8); return v; }
    }
}

static inline int fs_colpred_cmp(enum fs_colpred_op op, uint64_t v, uint64_t c)
{
    switch (op) {
    case FS_COLPRED_EQ: return v == c;
    case FS_COLPRED_NE: return v != c;
    case FS_COLPRED_LT: return v < c;
    case FS_COLPRED_LE: return v <= c;
    case FS_COLPRED_GT: return v > c;
    case FS_COLPRED_GE: return v >= c;
    }
    return 0;
}

/* Whether some value in [lo, hi] passes `op c`. */
static inline int fs_colpred_range_may(enum fs_colpred_op op, uint64_t lo, uint64_t hi, uint64_t c)
{
    switch (op) {
    case FS_COLPRED_EQ: return lo <= c && c <= hi;
    case FS_COLPRED_NE: return !(lo == c && hi == c);
    case FS_COLPRED_LT: return lo < c;
    case FS_COLPRED_LE: return lo <= c;
    case FS_COLPRED_GT: return hi > c;
    case FS_COLPRED_GE: return hi >= c;
    }
    return 1;
}

/* Whether a row whose columns lie in [lo0, hi0] and [lo1, hi1] may pass p. */
static inline int fs_colpred_may(const struct fs_colpred *p, uint64_t lo0, uint64_t hi0, uint64_t lo1, uint64_t hi1)
{
    switch (p->mode) {
    case FS_COLPRED_ONE: return fs_colpred_range_may(p->op, lo0, hi0, p->value);
    case FS_COLPRED_EITHER:
        return fs_colpred_range_may(p->op, lo0, hi0, p->value) || fs_colpred_range_may(p->op, lo1, hi1, p->value);
    case FS_COLPRED_SUM: {
        uint64_t lo = lo0 + lo1 < lo0 ? UINT64_MAX : lo0 + lo1, hi = hi0 + hi1 < hi0 ? UINT64_MAX : hi0 + hi1;
        return fs_colpred_range_may(p->op, lo, hi, p->value);
    }
    }
    return 1;
}

#endif
