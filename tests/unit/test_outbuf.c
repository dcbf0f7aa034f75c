/*
 * test_outbuf.c - number formatting of the output writers (util/outbuf.c) against printf.
 *
 * fs_fmt_u64, fs_fmt_fixed and fs_fmt_time write straight into output buffers with their own digit
 * loops and shortcuts (zero, power-of-ten divisions); printf is the reference for what they must print.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/util/outbuf.h"
#include "check.h"

static int same_fixed(double v, int decimals, const char *want)
{
    char got[FS_FMT_MAX + 1];
    *fs_fmt_fixed(got, v, decimals) = 0;
    if (strcmp(got, want) == 0) return 1;
    fprintf(stderr, "fs_fmt_fixed(%.17g, %d) = '%s', expected '%s'\n", v, decimals, got, want);
    return 0;
}

/* Whether printf's correctly rounded text and a round-half-up of v * 10^d can differ: near a tie. */
static int near_tie(double v, int decimals)
{
    double x = fabs(v) * pow(10, decimals);
    double frac = x - floor(x);
    return fabs(frac - 0.5) < 1e-6;
}

static void test_fixed(void)
{
    CHECK(same_fixed(0.0, 3, "0.000"));
    CHECK(same_fixed(-0.0, 3, "0.000"));
    CHECK(same_fixed(0.0, 6, "0.000000"));
    CHECK(same_fixed(0.0, 0, "0"));
    CHECK(same_fixed(1.5, 3, "1.500"));
    CHECK(same_fixed(-2.25, 3, "-2.250"));
    CHECK(same_fixed(123.4567, 3, "123.457"));
    CHECK(same_fixed(1e-9, 3, "0.000"));
    CHECK(same_fixed(1e-4, 6, "0.000100"));
    CHECK(same_fixed(42.0, 0, "42"));
    char big[FS_FMT_MAX + 1];
    size_t n = (size_t)(fs_fmt_fixed(big, 1e300, 3) - big); /* printf's digits, cut to the cell's room */
    big[n] = 0;
    const char *lead = "10000000000000000525047602552044202487";
    CHECK(n < FS_FMT_MAX && strncmp(big, lead, strlen(lead)) == 0);
    /* random magnitudes and decimals against printf, away from ties */
    int compared = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = check_rnd();
        int decimals = (int)(r % 10);
        double mag = pow(10, (double)((r >> 8) % 16) - 4);
        double v = (double)(check_rnd() >> 11) / 9007199254740992.0 * mag * ((r >> 40) & 1 ? -1 : 1);
        if ((r >> 41) % 8 == 0) v = (double)(int64_t)((check_rnd() % 2000001) - 1000000) / 1000.0;
        if (near_tie(v, decimals)) continue;
        char want[FS_FMT_MAX * 4];
        snprintf(want, sizeof want, "%.*f", decimals, v);
        if (strcmp(want, "-0") == 0 || strncmp(want, "-0.", 3) == 0) {
            /* printf keeps the sign of a value that rounds to zero; so does fs_fmt_fixed unless v is 0 */
            if (v == 0) memmove(want, want + 1, strlen(want));
        }
        /* exact below 2^32 units of the last digit; above, v * 10^d is rounded in the double and the last
         * digit may differ by one (the double holds no more digits than that anyway) */
        double units = fabs(v) * pow(10, decimals);
        if (units < 4294967296.0) {
            if (!same_fixed(v, decimals, want)) {
                CHECK(0);
                break;
            }
        } else {
            char got[FS_FMT_MAX + 1];
            *fs_fmt_fixed(got, v, decimals) = 0;
            double diff = fabs(strtod(got, NULL) - strtod(want, NULL)) * pow(10, decimals);
            if (!(diff <= 1.0 + units * 1e-15)) {
                fprintf(stderr, "fs_fmt_fixed(%.17g, %d) = '%s', printf '%s'\n", v, decimals, got, want);
                CHECK(0);
                break;
            }
        }
        compared++;
    }
    CHECK(compared > 190000);
}

static void test_u64_and_time(void)
{
    char got[32], want[32];
    uint64_t vals[] = { 0, 1, 9, 10, 99, 100, 9999, 10000, 123456789, 4294967295ull, 18446744073709551615ull };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        *fs_fmt_u64(got, vals[i]) = 0;
        snprintf(want, sizeof want, "%llu", (unsigned long long)vals[i]);
        CHECK(strcmp(got, want) == 0);
    }
    for (int i = 0; i < 100000; i++) {
        uint64_t v = check_rnd() >> (check_rnd() % 64);
        *fs_fmt_u64(got, v) = 0;
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        if (strcmp(got, want) != 0) {
            CHECK(0);
            break;
        }
    }
    uint64_t ns = 1700000000123456789ull;
    *fs_fmt_time(got, ns, 6) = 0;
    CHECK(strcmp(got, "1700000000.123456") == 0);
    *fs_fmt_time(got, ns, 9) = 0;
    CHECK(strcmp(got, "1700000000.123456789") == 0);
    *fs_fmt_time(got, ns, 3) = 0;
    CHECK(strcmp(got, "1700000000.123") == 0);
    *fs_fmt_time(got, ns, 0) = 0;
    CHECK(strcmp(got, "1700000000") == 0);
    *fs_fmt_time(got, 5, 6) = 0;
    CHECK(strcmp(got, "0.000000") == 0);
}

int main(void)
{
    test_fixed();
    test_u64_and_time();
    return check_summary("outbuf");
}
