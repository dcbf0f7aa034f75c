/*
 * outbuf.h - a buffered writer to a file descriptor with fast number formatting.
 *
 * Records are printed at millions per second, where printf's parsing dominates;
 * outbuf appends into a 1 MiB buffer and writes it out whole. The buffer never
 * grows: a full buffer is flushed. Errors are sticky and reported once by
 * fs_outbuf_flush()/fs_outbuf_close().
 *
 * Ownership: the outbuf owns its buffer; it owns the descriptor only when
 * opened by fs_outbuf_open() with a path other than "-". Several outbufs may
 * share one descriptor from several threads if they share a lock: each flush
 * then writes its whole buffer under the lock.
 */
#ifndef FS_OUTBUF_H
#define FS_OUTBUF_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "result.h"

#define FS_OUTBUF_SIZE (1u << 20)

struct fs_outbuf {
    int fd;
    int own_fd;
    pthread_mutex_t *lock;  /* borrowed, optional: held while writing, when threads share fd */
    int err;          /* errno of the first failed write, sticky */
    size_t len;
    uint64_t written; /* bytes handed to write() */
    char *buf;        /* owned, FS_OUTBUF_SIZE bytes */
};

/* Opens path for writing ("-" = standard output). Returns FS_OK or FS_ERR_IO / FS_ERR_NOMEM. */
fs_result fs_outbuf_open(struct fs_outbuf *o, const char *path);
/* Wraps an existing descriptor (not owned); used by tests. */
fs_result fs_outbuf_init_fd(struct fs_outbuf *o, int fd);
fs_result fs_outbuf_flush(struct fs_outbuf *o);
/* Flushes, closes an owned descriptor and frees the buffer. */
fs_result fs_outbuf_close(struct fs_outbuf *o);

void fs_outbuf_write(struct fs_outbuf *o, const void *p, size_t n);

static inline void fs_outbuf_ensure(struct fs_outbuf *o, size_t n)
{
    if (FS_OUTBUF_SIZE - o->len < n) fs_outbuf_flush(o);
}

static inline void fs_outbuf_putc(struct fs_outbuf *o, char c)
{
    fs_outbuf_ensure(o, 1);
    o->buf[o->len++] = c;
}

void fs_outbuf_puts(struct fs_outbuf *o, const char *s);
void fs_outbuf_u64(struct fs_outbuf *o, uint64_t v);
/* Fixed-point decimal with `decimals` digits (0..9), rounded half away from zero. */
void fs_outbuf_fixed(struct fs_outbuf *o, double v, int decimals);
/* A time in ns since the epoch as seconds with `decimals` (6 or 9) fraction digits. */
void fs_outbuf_time(struct fs_outbuf *o, uint64_t ns, int decimals);
/* A JSON string literal (quotes included, escapes applied). */
void fs_outbuf_json_str(struct fs_outbuf *o, const char *s);

/* Formats v into buf (at least 21 bytes); returns the length. */
size_t fs_u64_to_str(uint64_t v, char *buf);

/* Formatting at p into room the caller has made: at most FS_FMT_MAX bytes, no terminating 0. Each returns
 * the end of what it wrote. */
#define FS_FMT_MAX 336
char *fs_fmt_u64(char *p, uint64_t v);
char *fs_fmt_fixed(char *p, double v, int decimals);
char *fs_fmt_time(char *p, uint64_t ns, int decimals);
/* An address: IPv4 (ipver 4, the first 4 bytes) dotted, from a table; IPv6 as inet_ntop writes it. */
char *fs_fmt_addr(char *p, const uint8_t addr[16], int ipver);

#endif
