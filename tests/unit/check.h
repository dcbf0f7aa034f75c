/*
 * check.h - a minimal assertion framework for the C unit tests.
 *
 * CHECK(cond) counts a pass or prints the failed condition with its line; each
 * test program ends with check_summary(), which prints "N passed, N failed" and
 * returns the exit status.
 */
#ifndef FS_CHECK_H
#define FS_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                                  \
    do {                                                                                             \
        if (cond) check_passed++;                                                                    \
        else {                                                                                       \
            check_failed++;                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                 \
        }                                                                                            \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                             \
    do {                                                                                             \
        unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b);             \
        if (va_ == vb_) check_passed++;                                                              \
        else {                                                                                       \
            check_failed++;                                                                          \
            fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", __FILE__, __LINE__, #a, va_, \
                    #b, vb_);                                                                        \
        }                                                                                            \
    } while (0)

/* A small deterministic generator (xorshift64) for randomised tests: same seed, same cases. */
static uint64_t check_rng = 88172645463325252ull;

static inline uint64_t check_rnd(void)
{
    check_rng ^= check_rng << 13;
    check_rng ^= check_rng >> 7;
    check_rng ^= check_rng << 17;
    return check_rng;
}

static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
