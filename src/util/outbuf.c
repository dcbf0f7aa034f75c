/* outbuf.c - buffered output and number formatting; see outbuf.h. */
#include "outbuf.h"

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


size_t fs_u64_to_str(uint64_t v, char *buf)
{
    char tmp[24];
    size_t n = sizeof tmp;
    while (v >= 100) { /* two digits per division */
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        tmp[--n] = digit_pairs[2 * r + 1];
        tmp[--n] = digit_pairs[2 * r];
    }
    if (v >= 10) {
        tmp[--n] = digit_pairs[2 * v + 1];
        tmp[--n] = digit_pairs[2 * v];
    } else {
        tmp[--n] = (char)('0' + v);
    }
    size_t len = sizeof tmp - n;
    memcpy(buf, tmp + n, len);
    buf[len] = 0;
    return len;
}

void fs_outbuf_u64(struct fs_outbuf *o, uint64_t v)
{
    fs_outbuf_ensure(o, 24);
    o->len += fs_u64_to_str(v, o->buf + o->len);
}

static const uint64_t pow10_tab[10] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000 };

/* "." and exactly `decimals` digits of frac, zero-padded on the left. */
static void put_frac(struct fs_outbuf *o, uint64_t frac, int decimals)
{
    fs_outbuf_ensure(o, 12);
    char *p = o->buf + o->len;
    p[0] = '.';
    int i = decimals;
    for (; i >= 2; i -= 2) {
        unsigned r = (unsigned)(frac % 100);
        frac /= 100;
        p[i] = digit_pairs[2 * r + 1];
        p[i - 1] = digit_pairs[2 * r];
    }
    if (i == 1) p[1] = (char)('0' + frac % 10);
    o->len += (size_t)decimals + 1;
}

void fs_outbuf_fixed(struct fs_outbuf *o, double v, int decimals)
{
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9;
    if (!isfinite(v) || fabs(v) >= 1e18) {
        char tmp[64];
        int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
        fs_outbuf_write(o, tmp, (size_t)n);
        return;
    }
    if (v < 0) {
        fs_outbuf_putc(o, '-');
        v = -v;
    }
    double scaled = v * (double)pow10_tab[decimals] + 0.5;
    uint64_t all = (uint64_t)scaled;
    fs_outbuf_u64(o, all / pow10_tab[decimals]);
    if (decimals) put_frac(o, all % pow10_tab[decimals], decimals);
}

void fs_outbuf_time(struct fs_outbuf *o, uint64_t ns, int decimals)
{
    fs_outbuf_u64(o, ns / 1000000000ull);
    if (decimals > 9) decimals = 9;
    if (decimals > 0) put_frac(o, (ns % 1000000000ull) / pow10_tab[9 - decimals], decimals);
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
