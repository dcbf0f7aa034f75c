/* cli.c - option parsers, number formatting, messages and the progress bar. */
#include "cli.h"

#include "../filter/filter.h"
#include "../output/writer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

int fs_parse_duration(const char *s, uint64_t *ns)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0 || !isfinite(v)) return -1;
    double mult = 1e9;
    if (strcmp(end, "ms") == 0) mult = 1e6;
    else if (strcmp(end, "us") == 0) mult = 1e3;
    else if (strcmp(end, "ns") == 0) mult = 1;
    else if (strcmp(end, "s") == 0 || *end == 0) mult = 1e9;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) mult = 60e9;
    else if (strcmp(end, "h") == 0) mult = 3600e9;
    else if (strcmp(end, "d") == 0) mult = 86400e9;
    else return -1;
    double r = v * mult;
    if (r > 1.8e19) return -1;
    *ns = (uint64_t)llround(r);
    return 0;
}

static int parse_scaled(const char *s, uint64_t *v, double base)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || errno || d < 0 || !isfinite(d)) return -1;
    double m = 1;
    switch (*end) {
    case 'k': case 'K': m = base; end++; break;
    case 'M': m = base * base; end++; break;
    case 'G': m = base * base * base; end++; break;
    case 'T': m = base * base * base * base; end++; break;
    }
    if (*end == 'B' || *end == 'i') end++;
    if (*end) return -1;
    double r = d * m;
    if (r > 1.8e19) return -1;
    *v = (uint64_t)r;
    return 0;
}

int fs_parse_count(const char *s, uint64_t *v) { return parse_scaled(s, v, 1000); }

int fs_parse_time(const char *s, uint64_t *ns)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    if (strcmp(s, "now") == 0) {
        *ns = now_ns;
        return 0;
    }
    if (s[0] == '-') { /* relative to now */
        uint64_t d;
        if (fs_parse_duration(s + 1, &d) || d > now_ns) return -1;
        *ns = now_ns - d;
        return 0;
    }
    if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-') { /* ISO 8601, UTC */
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        int n = sscanf(s, "%4d-%2d-%2d%*[T ]%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                       &tm.tm_sec);
        if (n < 3) return -1;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t t = timegm(&tm);
        if (t < 0) return -1;
        *ns = (uint64_t)t * 1000000000ull;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || v < 0 || v > 1.8e10) return -1;
    *ns = (uint64_t)llround(v * 1e9);
    return 0;
}
int fs_parse_bytes(const char *s, uint64_t *v) { return parse_scaled(s, v, 1024); }

const char *fs_human_int(uint64_t v, char *buf, size_t len)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

const char *fs_human_bytes(double v, char *buf, size_t len)
{
    static const char *const u[] = { "B", "kB", "MB", "GB", "TB" };
    int i = 0;
    while (v >= 1000 && i < 4) v /= 1000, i++;
    snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    return buf;
}

static void report(const char *cmd, const char *level, const char *fmt, va_list ap)
{
    fprintf(stderr, "flowsift %s: %s: ", cmd, level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int fs_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(cmd, "error", fmt, ap);
    va_end(ap);
    return 1;
}

void fs_cli_warn(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(cmd, "warning", fmt, ap);
    va_end(ap);
}

double fs_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double fs_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

void fs_progress_init(struct fs_progress *p, int enabled, uint64_t total_bytes)
{
    p->enabled = enabled;
    p->total_bytes = total_bytes;
    p->start = p->last_draw = fs_now_seconds();
}

void fs_progress_update(struct fs_progress *p, uint64_t bytes, uint64_t packets, uint64_t flows)
{
    if (!p->enabled) return;
    double now = fs_now_seconds();
    if (now - p->last_draw < 0.2) return;
    p->last_draw = now;
    double el = now - p->start;
    char b1[32], b2[32], b3[32];
    double rate = el > 0 ? (double)packets / el / 1e6 : 0;
    if (p->total_bytes) {
        double frac = (double)bytes / (double)p->total_bytes;
        if (frac > 1) frac = 1;
        int width = 30, fill = (int)(frac * width);
        char bar[31];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        double eta = frac > 0.001 ? el / frac - el : 0;
        char fl[48] = "";
        if (flows != UINT64_MAX) snprintf(fl, sizeof fl, "  %s flows", fs_human_int(flows, b3, sizeof b3));
        fprintf(stderr, "\r[%s] %3.0f%%  %s / %s  %.2f Mpps%s  ETA %.0fs \033[K", bar, frac * 100,
                fs_human_bytes((double)bytes, b1, sizeof b1), fs_human_bytes((double)p->total_bytes, b2, sizeof b2),
                rate, fl, eta);
    } else {
        fprintf(stderr, "\r%s read  %.2f Mpps \033[K", fs_human_bytes((double)bytes, b1, sizeof b1), rate);
    }
}

void fs_progress_done(struct fs_progress *p)
{
    if (p->enabled && p->last_draw > p->start) fprintf(stderr, "\r\033[K");
}

int fs_cli_filter(const char *cmd, const char *expr, struct fs_filter **out)
{
    char err[512];
    size_t col = 0;
    if (fs_filter_compile(expr, out, err, sizeof err, &col) == FS_OK) return 0;
    fprintf(stderr, "flowsift %s: error in the filter at column %zu: %s\n  %s\n  %*s^\n", cmd, col, err, expr,
            (int)(col ? col - 1 : 0), "");
    return 2;
}

int fs_cli_fields(const char *cmd, const char *spec, int *fields, char (*labels)[FS_FIELD_LABEL_MAX])
{
    size_t bad = 0;
    int n = fs_field_parse_list(spec, fields, labels, FS_WRITER_MAX_FIELDS, &bad);
    if (n <= 0) fs_cli_error(cmd, "--fields: unknown field or preset at '%s' (see 'flowsift fields')", spec + bad);
    return n;
}

int fs_cli_export_version(const char *cmd, const char *arg)
{
    if (strcmp(arg, "9") == 0) return 9;
    if (strcmp(arg, "10") == 0) return 10;
    fs_cli_error(cmd, "--export-version takes 9 (NetFlow v9) or 10 (IPFIX), not '%s'", arg);
    return -1;
}

int fs_cli_progress_mode(const char *cmd, const char *arg)
{
    if (strcmp(arg, "on") == 0) return 1;
    if (strcmp(arg, "off") == 0) return 0;
    if (strcmp(arg, "auto") == 0) return -1;
    fs_cli_error(cmd, "--progress takes on, off or auto");
    return -2;
}

uint64_t fs_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
