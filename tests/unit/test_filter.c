/* test_filter.c - the filter language: parsing, errors with columns, evaluation. */
#include <string.h>

#include "check.h"
#include "filter/filter.h"

static struct fs_flow flow_of(void)
{
    struct fs_flow f;
    memset(&f, 0, sizeof f);
    f.key.ipver = 4;
    f.key.proto = 6;
    uint8_t a[4] = { 10, 1, 2, 3 }, b[4] = { 192, 168, 7, 9 };
    memcpy(f.key.a, a, 4);
    memcpy(f.key.b, b, 4);
    f.key.pa = 40000;
    f.key.pb = 22;
    f.first_ns = 1000000000ull;
    f.last_ns = 3500000000ull;
    f.dir[0].packets = 3;
    f.dir[0].bytes = 180;
    f.dir[0].size_min = 60;
    f.dir[0].size_max = 60;
    f.dir[1].packets = 2;
    f.dir[1].bytes = 2000;
    f.dir[1].payload = 1900;
    f.dir[1].size_min = 1000;
    f.dir[1].size_max = 1000;
    f.end_reason = FS_END_FIN;
    return f;
}

static int match(const char *expr, const struct fs_flow *f)
{
    struct fs_filter *flt;
    char err[256];
    size_t col;
    if (fs_filter_compile(expr, &flt, err, sizeof err, &col) != FS_OK) {
        fprintf(stderr, "unexpected error in '%s': %s\n", expr, err);
        return -1;
    }
    int m = fs_filter_match(flt, f, NULL);
    fs_filter_free(flt);
    return m;
}

static size_t error_col(const char *expr)
{
    struct fs_filter *flt;
    char err[256];
    size_t col = 0;
    if (fs_filter_compile(expr, &flt, err, sizeof err, &col) == FS_OK) {
        fs_filter_free(flt);
        return 0;
    }
    return col;
}

int main(void)
{
    struct fs_flow f = flow_of();
    CHECK(match("proto tcp and dstp 22", &f) == 1);
    CHECK(match("tcp && dstp == 22", &f) == 1);
    CHECK(match("udp", &f) == 0);
    CHECK(match("paysize == 0", &f) == 0);
    CHECK(match("paysize > 1k", &f) == 1);
    CHECK(match("src_paysize == 0 and dst_paysize = 1900", &f) == 1);
    CHECK(match("packets >= 5 and size < 2181", &f) == 1);
    CHECK(match("not (packets >= 5)", &f) == 0);
    CHECK(match("! packets >= 6 || dstp 23", &f) == 1);
    CHECK(match("duration > 2.4 and duration < 2.6", &f) == 1);
    CHECK(match("host 10.1.2.3", &f) == 1);
    CHECK(match("src host 192.168.7.9", &f) == 0);
    CHECK(match("dst net 192.168.0.0/16", &f) == 1);
    CHECK(match("net 10.1.2.0/25 and net 192.168.7.8/31", &f) == 1);
    CHECK(match("net 2001:db8::/32", &f) == 0);
    CHECK(match("port 40000 and src port 40000 and not dst port 40000", &f) == 1);
    CHECK(match("srcaddr == 10.1.2.3", &f) == 1);
    CHECK(match("dstaddr != 10.1.2.3", &f) == 1);
    CHECK(match("end == fin", &f) == 1);
    CHECK(match("end != rst", &f) == 1);
    CHECK(match("ip4 and not ip6", &f) == 1);
    CHECK(match("maxps == 1000 and minps == 60", &f) == 1);
    CHECK(match("icmp_type == 0", &f) == 0); /* missing value matches nothing */
    CHECK(match("first >= 1 and first < 1.5", &f) == 1);
    CHECK(match("tcp or udp and dstp 53", &f) == 1); /* and binds tighter than or */
    CHECK(match("(tcp or udp) and dstp 53", &f) == 0);
    /* errors point at their column */
    CHECK_EQ_U(error_col("proto tcp and"), 14);
    CHECK_EQ_U(error_col("bogus == 1"), 1);
    CHECK_EQ_U(error_col("packets == abc"), 12);
    CHECK_EQ_U(error_col("(tcp"), 5);
    CHECK_EQ_U(error_col("tcp udp"), 5);
    CHECK_EQ_U(error_col("net 10.0.0.0/40"), 5);
    CHECK_EQ_U(error_col("end > fin"), 7);
    CHECK_EQ_U(error_col("host 300.1.1.1"), 6);
    CHECK_EQ_U(error_col("port 70000"), 6);
    CHECK_EQ_U(error_col("packets == 3 $"), 14);
    /* regression: nesting is bounded, not a stack overflow */
    static char deep[200001];
    for (int i = 0; i < 100000; i++) deep[i] = '(';
    memcpy(deep + 100000, "tcp", 3);
    CHECK_EQ_U(error_col(deep), 65);
    char ok64[200];
    memset(ok64, '(', 64);
    strcpy(ok64 + 64, "tcp");
    memset(ok64 + 67, ')', 64);
    ok64[131] = 0;
    CHECK(match(ok64, &f) == 1);
    return check_summary("test_filter");
}
