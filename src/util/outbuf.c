/* outbuf.c - buffered output and number formatting; see outbuf.h. */
#include "outbuf.h"

#include <arpa/inet.h>
#include <pthread.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

fs_result fs_outbuf_init_fd(struct fs_outbuf *o, int fd)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    o->buf = malloc(FS_OUTBUF_SIZE);
    return o->buf ? FS_OK : FS_ERR_NOMEM;
}

fs_result fs_outbuf_open(struct fs_outbuf *o, const char *path)
{
    int fd = 1, own = 0;
    if (strcmp(path, "-") != 0) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return FS_ERR_IO;
        own = 1;
    }
    fs_result rc = fs_outbuf_init_fd(o, fd);
    o->own_fd = own;
    if (rc && own) close(fd);
    return rc;
}

fs_result fs_outbuf_flush(struct fs_outbuf *o)
{
    size_t off = 0;
    if (o->lock && o->len) pthread_mutex_lock(o->lock);
    while (off < o->len && !o->err) {
        ssize_t w = write(o->fd, o->buf + off, o->len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            o->err = errno;
            break;
        }
        off += (size_t)w;
    }
    if (o->lock && o->len) pthread_mutex_unlock(o->lock);
    o->written += off;
    o->len = 0;
    return o->err ? FS_ERR_IO : FS_OK;
}

fs_result fs_outbuf_close(struct fs_outbuf *o)
{
    fs_result rc = FS_OK;
    if (o->buf) rc = fs_outbuf_flush(o);
    if (o->own_fd && close(o->fd) != 0 && !o->err) {
        o->err = errno;
        rc = FS_ERR_IO;
    }
    free(o->buf);
    o->buf = NULL;
    return rc;
}

void fs_outbuf_write(struct fs_outbuf *o, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        if (o->len == FS_OUTBUF_SIZE) fs_outbuf_flush(o);
        size_t k = FS_OUTBUF_SIZE - o->len;
        if (k > n) k = n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

void fs_outbuf_puts(struct fs_outbuf *o, const char *s) { fs_outbuf_write(o, s, strlen(s)); }


static inline unsigned digits10(uint64_t v)
{
    unsigned n = 1;
    for (;;) {
        if (v < 10) return n;
        if (v < 100) return n + 1;
        if (v < 1000) return n + 2;
        if (v < 10000) return n + 3;
        v /= 10000;
        n += 4;
    }
}

/* Writes the digits of v ending at end (right to left). */
static inline void digits_back(char *end, uint64_t v)
{
    while (v >= 100) { /* two digits per division */
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        end -= 2;
        memcpy(end, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) memcpy(end - 2, digit_pairs + 2 * v, 2);
    else end[-1] = (char)('0' + v);
}

char *fs_fmt_u64(char *p, uint64_t v)
{
    if (v < 10) {
        *p = (char)('0' + v);
        return p + 1;
    }
    char *end = p + digits10(v);
    digits_back(end, v);
    return end;
}

size_t fs_u64_to_str(uint64_t v, char *buf)
{
    size_t n = (size_t)(fs_fmt_u64(buf, v) - buf);
    buf[n] = 0;
    return n;
}

void fs_outbuf_u64(struct fs_outbuf *o, uint64_t v)
{
    fs_outbuf_ensure(o, 24);
    o->len = (size_t)(fs_fmt_u64(o->buf + o->len, v) - o->buf);
}

static const uint64_t pow10_tab[10] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000 };

/* "." and exactly `decimals` digits of frac (< 10^decimals), zero-padded on the left. */
static inline char *put_frac(char *p, uint64_t frac, int decimals)
{
    p[0] = '.';
    int i = decimals;
    for (; i >= 2; i -= 2) {
        unsigned r = (unsigned)(frac % 100);
        frac /= 100;
        memcpy(p + i - 1, digit_pairs + 2 * r, 2);
    }
    if (i == 1) p[1] = (char)('0' + frac % 10);
    return p + decimals + 1;
}

/* all = value * 10^D rounded, as integer part and D decimals; D a constant in each use, so the divisions
 * become multiplications. */
#define FIXED_CASE(D)                                                                                        \
    case D:                                                                                                  \
        p = fs_fmt_u64(p, all / pow10_tab[D]);                                                               \
        return put_frac(p, all % pow10_tab[D], D)

char *fs_fmt_fixed(char *p, double v, int decimals)
{
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9;
    if (v == 0) { /* common (the spread of a one-packet flow): "0." and zeros; -0.0 prints as 0 too */
        memcpy(p, "0.000000000", 11);
        return p + (decimals ? decimals + 2 : 1);
    }
    double scaled = fabs(v) * (double)pow10_tab[decimals] + 0.5;
    if (!(scaled < 9007199254740992.0)) { /* beyond 2^53 the scaled double has lost digits; also NaN, inf */
        char tmp[FS_FMT_MAX];
        int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
        if (n < 0) n = 0;
        if ((size_t)n >= sizeof tmp) n = (int)sizeof tmp - 1;
        memcpy(p, tmp, (size_t)n);
        return p + n;
    }
    if (v < 0) *p++ = '-';
    uint64_t all = (uint64_t)scaled;
    switch (decimals) {
    case 0: return fs_fmt_u64(p, all);
    FIXED_CASE(3);
    FIXED_CASE(6);
    default:
        p = fs_fmt_u64(p, all / pow10_tab[decimals]);
        return put_frac(p, all % pow10_tab[decimals], decimals);
    }
}

void fs_outbuf_fixed(struct fs_outbuf *o, double v, int decimals)
{
    fs_outbuf_ensure(o, FS_FMT_MAX);
    o->len = (size_t)(fs_fmt_fixed(o->buf + o->len, v, decimals) - o->buf);
}

char *fs_fmt_time(char *p, uint64_t ns, int decimals)
{
    p = fs_fmt_u64(p, ns / 1000000000ull);
    if (decimals > 9) decimals = 9;
    if (decimals == 6) return put_frac(p, (ns % 1000000000ull) / 1000, 6);
    if (decimals > 0) p = put_frac(p, (ns % 1000000000ull) / pow10_tab[9 - decimals], decimals);
    return p;
}

void fs_outbuf_time(struct fs_outbuf *o, uint64_t ns, int decimals)
{
    fs_outbuf_ensure(o, 32);
    o->len = (size_t)(fs_fmt_time(o->buf + o->len, ns, decimals) - o->buf);
}

void fs_outbuf_json_str(struct fs_outbuf *o, const char *s)
{
    fs_outbuf_putc(o, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fs_outbuf_putc(o, '\\');
            fs_outbuf_putc(o, (char)c);
        } else if (c < 0x20) {
            char tmp[8];
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            fs_outbuf_puts(o, tmp);
        } else {
            fs_outbuf_putc(o, (char)c);
        }
    }
    fs_outbuf_putc(o, '"');
}

/* "0".."255" with their lengths in the last byte, built once (writers format on several threads). */
static char octets[256][4];
static pthread_once_t octets_once = PTHREAD_ONCE_INIT;

static void octets_build(void)
{
    for (int i = 0; i < 256; i++) octets[i][3] = (char)fs_u64_to_str((uint64_t)i, octets[i]);
}

char *fs_fmt_addr(char *p, const uint8_t addr[16], int ipver)
{
    if (ipver == 4) {
        pthread_once(&octets_once, octets_build);
        for (int k = 0; k < 4; k++) {
            const char *oct = octets[addr[k]];
            memcpy(p, oct, 4);
            p += oct[3];
            *p++ = '.';
        }
        return p - 1;
    }
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, addr, buf, sizeof buf);
    size_t n = strlen(buf);
    memcpy(p, buf, n);
    return p + n;
}
