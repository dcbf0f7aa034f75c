/*
 * rd.h - a bounded reader for untrusted bytes.
 *
 * Every decoder reads wire data through a struct fs_rd: a cursor and an end
 * that can never be passed. A read past the end sets a sticky error flag and
 * returns 0, so a decoder can read a whole header and test `r.err` once.
 * fs_rd_sub() makes a child reader that cannot see past a declared length
 * (tcpdump's nd_push_snaplen idea). Lengths are compared as remaining sizes,
 * never by forming a pointer past the end.
 *
 * The reader borrows the bytes; it owns nothing.
 */
#ifndef FS_RD_H
#define FS_RD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fs_rd {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last readable byte */
    int err;            /* sticky: set once any read went past end */
};

static inline struct fs_rd fs_rd_make(const void *p, size_t len)
{
    struct fs_rd r = { (const uint8_t *)p, (const uint8_t *)p + len, 0 };
    return r;
}

static inline size_t fs_rd_left(const struct fs_rd *r) { return (size_t)(r->end - r->p); }

/* Returns 1 and leaves the cursor if n bytes are available; else sets err. */
static inline int fs_rd_need(struct fs_rd *r, size_t n)
{
    if (r->err || fs_rd_left(r) < n) { r->err = 1; return 0; }
    return 1;
}

static inline uint8_t fs_rd_u8(struct fs_rd *r)
{
    if (!fs_rd_need(r, 1)) return 0;
    return *r->p++;
}

static inline uint16_t fs_rd_be16(struct fs_rd *r)
{
    if (!fs_rd_need(r, 2)) return 0;
    uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return v;
}

static inline uint32_t fs_rd_be32(struct fs_rd *r)
{
    if (!fs_rd_need(r, 4)) return 0;
    uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return v;
}

static inline uint16_t fs_rd_le16(struct fs_rd *r)
{
    if (!fs_rd_need(r, 2)) return 0;
    uint16_t v = (uint16_t)(r->p[1] << 8 | r->p[0]);
    r->p += 2;
    return v;
}

static inline uint32_t fs_rd_le32(struct fs_rd *r)
{
    if (!fs_rd_need(r, 4)) return 0;
    uint32_t v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 | r->p[0];
    r->p += 4;
    return v;
}

/* Copies n bytes out; on a short read copies nothing and sets err. */
static inline void fs_rd_copy(struct fs_rd *r, void *dst, size_t n)
{
    if (!fs_rd_need(r, n)) return;
    memcpy(dst, r->p, n);
    r->p += n;
}

static inline void fs_rd_skip(struct fs_rd *r, size_t n)
{
    if (!fs_rd_need(r, n)) return;
    r->p += n;
}

/* A child reader over the next n bytes (clipped to what is there: *clipped
 * tells whether it was). The parent is advanced past them. */
static inline struct fs_rd fs_rd_sub(struct fs_rd *r, size_t n, int *clipped)
{
    size_t left = r->err ? 0 : fs_rd_left(r);
    size_t take = n < left ? n : left;
    struct fs_rd c = { r->p, r->p + take, r->err };
    if (clipped) *clipped = take < n;
    r->p += take;
    return c;
}

#endif
