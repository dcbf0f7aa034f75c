/*
 * test_hll.c - the distinct-count sketch (sketch/hll.c): exact while sparse, within its stated error when dense
 * (many cardinalities, many seeds), merges equal to one sketch of the union, memory as stated.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sketch/hll.h"

static uint64_t value_hash(uint64_t seed, uint64_t i)
{
    uint64_t v[2] = { seed, i };
    return fs_hll_hash(v, sizeof v);
}

static void test_exact(void)
{
    struct fs_hll s = { 0 };
    CHECK(fs_hll_count(&s) == 0.0);
    for (uint64_t i = 0; i < FS_HLL_SPARSE_MAX; i++) {
        CHECK(fs_hll_add(&s, value_hash(1, i)) == 0);
        CHECK(fs_hll_add(&s, value_hash(1, i / 2)) == 0); /* repeats count once */
        CHECK(fs_hll_count(&s) == (double)(i + 1));
    }
    CHECK(s.dense == NULL);
    CHECK(fs_hll_bytes(&s) <= FS_HLL_SPARSE_MAX * 8);
    CHECK(fs_hll_add(&s, value_hash(1, 100000)) == 0); /* one more: registers */
    CHECK(s.dense != NULL);
    CHECK_EQ_U(fs_hll_bytes(&s), FS_HLL_M);
    CHECK(fabs(fs_hll_count(&s) - (FS_HLL_SPARSE_MAX + 1)) < (FS_HLL_SPARSE_MAX + 1) * 4 * FS_HLL_STDERR);
    fs_hll_free(&s);
}

/* Relative errors over 20 seeds at each cardinality: their root mean square within 1.3 times the stated
 * standard error, and none beyond 5 times it. */
static void test_error(void)
{
    static const uint64_t sizes[] = { 300, 1000, 3000, 6000, 10000, 20000, 50000, 200000, 1000000 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        double sq = 0, worst = 0;
        int seeds = 20;
        for (int seed = 0; seed < seeds; seed++) {
            struct fs_hll s = { 0 };
            for (uint64_t i = 0; i < sizes[k]; i++) fs_hll_add(&s, value_hash((uint64_t)seed * 7919 + k, i));
            double e = (fs_hll_count(&s) - (double)sizes[k]) / (double)sizes[k];
            sq += e * e;
            worst = fabs(e) > worst ? fabs(e) : worst;
            fs_hll_free(&s);
        }
        double rms = sqrt(sq / seeds);
        if (getenv("HLL_VERBOSE") || rms > 1.3 * FS_HLL_STDERR || worst > 5 * FS_HLL_STDERR)
            printf("cardinality %llu: rms %.4f, worst %.4f\n", (unsigned long long)sizes[k], rms, worst);
        CHECK(rms <= 1.3 * FS_HLL_STDERR);
        CHECK(worst <= 5 * FS_HLL_STDERR);
    }
}

/* Merging gives what one sketch of the union gives: the same registers (or the same exact set), for every
 * combination of sparse and dense, with sets that overlap. */
static void test_merge(void)
{
    static const uint64_t sizes[][2] = { { 10, 20 }, { 200, 100 }, { 5000, 30 }, { 30, 5000 }, { 4000, 9000 } };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct fs_hll a = { 0 }, b = { 0 }, u = { 0 };
        for (uint64_t i = 0; i < sizes[k][0]; i++) fs_hll_add(&a, value_hash(9, i));
        for (uint64_t i = sizes[k][0] / 2; i < sizes[k][0] / 2 + sizes[k][1]; i++) fs_hll_add(&b, value_hash(9, i));
        for (uint64_t i = 0; i < sizes[k][0] / 2 + sizes[k][1] || i < sizes[k][0]; i++) fs_hll_add(&u, value_hash(9, i));
        CHECK(fs_hll_merge(&a, &b) == 0);
        CHECK(fs_hll_count(&a) == fs_hll_count(&u));
        CHECK((a.dense == NULL) == (u.dense == NULL));
        if (a.dense && u.dense) CHECK(memcmp(a.dense, u.dense, FS_HLL_M) == 0);
        fs_hll_free(&a);
        fs_hll_free(&b);
        fs_hll_free(&u);
    }
    struct fs_hll e = { 0 }, f = { 0 };
    CHECK(fs_hll_merge(&e, &f) == 0 && fs_hll_count(&e) == 0.0); /* two empty ones */
}

int main(void)
{
    test_exact();
    test_error();
    test_merge();
    return check_summary("test_hll");
}
