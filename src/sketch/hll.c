/*
 * hll.c - HyperLogLog with an exact sparse form (see hll.h).
 */
#include "hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t fs_hll_hash(const void *data, size_t len) { return XXH3_64bits(data, len); }

/* A hash into the registers: the top P bits pick one, which keeps the most of its offers: one more than the
 * leading zeros of the bits left (a guard bit bounds it at 64 - P + 1). */
static void reg_add(uint8_t *d, uint64_t h)
{
    uint32_t j = (uint32_t)(h >> (64 - FS_HLL_P));
    uint8_t rho = (uint8_t)(__builtin_clzll(h << FS_HLL_P | (uint64_t)1 << (FS_HLL_P - 1)) + 1);
    if (rho > d[j]) d[j] = rho;
}

/* Registers of the n hashes; NULL without memory. */
static uint8_t *registers(const uint64_t *hashes, uint32_t n)
{
    uint8_t *d = calloc(FS_HLL_M, 1);
    if (d)
        for (uint32_t i = 0; i < n; i++) reg_add(d, hashes[i]);
    return d;
}

/* The exact set's sorted hashes: on the heap, or inline while few. */
static uint64_t *vals(struct fs_hll *s) { return s->sparse ? s->sparse : s->inl; }
static const uint64_t *cvals(const struct fs_hll *s) { return s->sparse ? s->sparse : s->inl; }

/* Where h is, or would go, in the sorted exact set. */
static uint32_t find(const struct fs_hll *s, uint64_t h)
{
    const uint64_t *v = cvals(s);
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The sketch becomes dense: its registers from hashes[0..n) (its own set, or a union being built). */
static int go_dense(struct fs_hll *s, const uint64_t *hashes, uint32_t n)
{
    uint8_t *d = registers(hashes, n);
    if (!d) return -1;
    free(s->sparse); /* hashes may be inline, or this very array: registers() is done with it */
    s->sparse = NULL;
    s->n = s->cap = 0;
    s->dense = d;
    return 0;
}

int fs_hll_add(struct fs_hll *s, uint64_t h)
{
    if (s->dense) {
        reg_add(s->dense, h);
        return 0;
    }
    uint32_t at = find(s, h);
    uint64_t *v = vals(s);
    if (at < s->n && v[at] == h) return 0;
    if (s->n == FS_HLL_SPARSE_MAX) { /* one more: registers, the new one among them */
        if (go_dense(s, v, s->n) != 0) return -1;
        reg_add(s->dense, h);
        return 0;
    }
    if (s->n == (s->sparse ? s->cap : FS_HLL_INLINE)) {
        uint32_t nc = s->sparse ? s->cap * 2 : 2 * FS_HLL_INLINE;
        uint64_t *ns = realloc(s->sparse, nc * sizeof *ns);
        if (!ns) return -1;
        if (!s->sparse) memcpy(ns, s->inl, s->n * sizeof *ns);
        s->sparse = v = ns;
        s->cap = nc;
    }
    memmove(&v[at + 1], &v[at], (s->n - at) * sizeof *v);
    v[at] = h;
    s->n++;
    return 0;
}

/* Makes the exact set u[0..k) the sketch's own (u is a scratch array the caller frees, or keeps if taken). */
static int take_union(struct fs_hll *into, uint64_t *u, uint32_t k, uint32_t cap, int *taken)
{
    *taken = 0;
    if (k > FS_HLL_SPARSE_MAX) return go_dense(into, u, k);
    if (k <= FS_HLL_INLINE) {
        free(into->sparse);
        into->sparse = NULL;
        into->cap = 0;
        memcpy(into->inl, u, k * sizeof *u);
    } else {
        free(into->sparse);
        into->sparse = u;
        into->cap = cap;
        *taken = 1;
    }
    into->n = k;
    return 0;
}

int fs_hll_merge(struct fs_hll *into, const struct fs_hll *from)
{
    if (from->dense) {
        if (!into->dense && go_dense(into, vals(into), into->n) != 0) return -1;
        for (uint32_t j = 0; j < FS_HLL_M; j++)
            if (from->dense[j] > into->dense[j]) into->dense[j] = from->dense[j];
        return 0;
    }
    const uint64_t *b = cvals(from);
    if (into->dense) {
        for (uint32_t i = 0; i < from->n; i++) reg_add(into->dense, b[i]);
        return 0;
    }
    if (!from->n) return 0;
    /* both exact: the union of two sorted sets */
    const uint64_t *a = cvals(into);
    uint32_t total = into->n + from->n, k = 0, i = 0, j = 0;
    uint64_t small[2 * FS_HLL_INLINE];
    uint64_t *u = total <= 2 * FS_HLL_INLINE ? small : malloc(total * sizeof *u);
    if (!u) return -1;
    while (i < into->n || j < from->n) {
        uint64_t x = j == from->n || (i < into->n && a[i] <= b[j]) ? a[i] : b[j];
        if (i < into->n && a[i] == x) i++;
        if (j < from->n && b[j] == x) j++;
        u[k++] = x;
    }
    if (u == small && k > FS_HLL_INLINE) { /* a few more than inline: to the heap */
        uint64_t *h = malloc(total * sizeof *h);
        if (!h) return -1;
        memcpy(h, small, k * sizeof *h);
        u = h;
    }
    int taken, rc = take_union(into, u, k, total, &taken);
    if (!taken && u != small) free(u);
    return rc;
}

/* Ertl (2017), section 4: the estimator's sigma and tau series, summed until they no longer change. */
static double sigma(double x)
{
    if (x == 1.0) return INFINITY;
    double y = 1.0, z = x, zp;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (z != zp);
    return z;
}

static double tau(double x)
{
    if (x == 0.0 || x == 1.0) return 0.0;
    double y = 1.0, z = 1.0 - x, zp;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zp);
    return z / 3.0;
}

double fs_hll_count(const struct fs_hll *s)
{
    if (!s->dense) return (double)s->n;
    enum { Q = 64 - FS_HLL_P };
    uint32_t c[Q + 2] = { 0 }; /* how many registers hold each value 0 .. Q + 1 */
    for (uint32_t j = 0; j < FS_HLL_M; j++) c[s->dense[j] <= Q + 1 ? s->dense[j] : Q + 1]++;
    double m = FS_HLL_M, z = m * tau(1.0 - c[Q + 1] / m);
    for (int k = Q; k >= 1; k--) z = 0.5 * (z + c[k]);
    z += m * sigma(c[0] / m);
    return m * m / (2.0 * log(2.0)) / z;
}

size_t fs_hll_bytes(const struct fs_hll *s) { return s->dense ? FS_HLL_M : (size_t)s->cap * sizeof *s->sparse; }

void fs_hll_free(struct fs_hll *s)
{
    free(s->sparse);
    free(s->dense);
    memset(s, 0, sizeof *s);
}
