/*
 * capture.c - classic pcap and pcapng reader over a large reused buffer.
 *
 * The reader keeps one buffer (1 MiB: its bytes are still in the core's cache when they are decoded;
 * 4 MiB measured 2-4% slower; it grows up to the largest block allowed)
 * and a window [pos, len) of unread bytes. fs_capture_next() asks ensure() for a
 * record's bytes; ensure() slides the unread tail to the front and refills with
 * as large a read() as fits, so a file costs one system call per few thousand
 * packets. In memory mode the caller's buffer is the window and nothing is copied.
 *
 * Formats: https://www.tcpdump.org/manpages/pcap-savefile.5.txt and
 * draft-ietf-opsawg-pcapng (section numbers below refer to the latter).
 */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)

enum fmt { FMT_PCAP, FMT_PCAPNG };

struct iface {
    uint32_t linktype;
    uint32_t snaplen;
    uint8_t tsresol;     /* if_tsresol (section 4.2): default 6 = microseconds */
    int64_t tsoffset_s;  /* if_tsoffset in seconds */
};

struct fs_capture {
    int fd;                  /* -1 in memory mode */
    int close_fd;
    uint8_t *buf;            /* owned, fd mode */
    size_t cap;
    const uint8_t *data;     /* buf, or the caller's memory */
    size_t len, pos;         /* unread window is data[pos, len) */
    uint64_t base;           /* file offset of data[0] */
    int eof;
    fs_result state;         /* sticky error */
    enum fmt fmt;
    int be;                  /* file/section is big-endian */
    int nsec;                /* any timestamps finer than microseconds */
    uint32_t linktype;       /* pcap */
    uint32_t rechdr;         /* pcap record header size: 16, or 24 for modified pcap */
    int pcap_ns;             /* pcap: nanosecond magic */
    int in_section;          /* pcapng: seen an SHB */
    struct iface *ifs;
    size_t nifs, ifcap;
    uint64_t skipped_blocks;
    char name[256];
    char err[768];
};

static fs_result fail(struct fs_capture *c, fs_result rc, uint64_t off, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, sizeof c->err, "'%s': byte offset %llu: %s", c->name, (unsigned long long)off, msg);
    c->state = rc;
    return rc;
}

static inline uint32_t get32(const struct fs_capture *c, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return c->be ? __builtin_bswap32(v) : v;
#else
    return c->be ? v : __builtin_bswap32(v);
#endif
}

static inline uint16_t get16(const struct fs_capture *c, const uint8_t *p)
{
    if (c->be) return (uint16_t)(p[0] << 8 | p[1]);
    return (uint16_t)(p[1] << 8 | p[0]);
}

static uint64_t cur_off(const struct fs_capture *c) { return c->base + c->pos; }

/* Makes n unread bytes available at data + pos. Returns 1, or 0 when input ends
 * first (c->state set only on an I/O error or NOMEM). */
static int ensure(struct fs_capture *c, size_t n)
{
    if (c->len - c->pos >= n) return 1;
    if (c->fd < 0 || c->eof) return 0;
    if (n > c->cap) {
        size_t ncap = c->cap;
        while (ncap < n) ncap *= 2;
        uint8_t *nb = malloc(ncap);
        if (!nb) { fail(c, FS_ERR_NOMEM, cur_off(c), "cannot grow read buffer to %zu bytes", ncap); return 0; }
        memcpy(nb, c->buf + c->pos, c->len - c->pos);
        free(c->buf);
        c->buf = nb;
        c->data = nb;
        c->cap = ncap;
    } else if (c->pos) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    }
    c->base += c->pos;
    c->len -= c->pos;
    c->pos = 0;
    while (c->len < n && !c->eof) {
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r < 0) {
            if (errno == EINTR) continue;
            fail(c, FS_ERR_IO, c->base + c->len, "read failed: %s", strerror(errno));
            return 0;
        }
        if (r == 0) c->eof = 1;
        c->len += (size_t)r;
    }
    return c->len - c->pos >= n;
}

static fs_result add_iface(struct fs_capture *c, uint32_t linktype, uint32_t snaplen)
{
    if (c->nifs == c->ifcap) {
        size_t ncap = c->ifcap ? c->ifcap * 2 : 4;
        if (ncap > 65536) return fail(c, FS_ERR_FORMAT, cur_off(c), "more than 65536 interfaces in one section");
        struct iface *n = realloc(c->ifs, ncap * sizeof *n);
        if (!n) return fail(c, FS_ERR_NOMEM, cur_off(c), "out of memory for interfaces");
        c->ifs = n;
        c->ifcap = ncap;
    }
    c->ifs[c->nifs++] = (struct iface){ linktype, snaplen, 6, 0 };
    return FS_OK;
}

/* The file header: pcap (24 bytes) or a pcapng Section Header Block. */
static fs_result read_header(struct fs_capture *c)
{
    if (!ensure(c, 4)) {
        if (c->state) return c->state;
        return fail(c, FS_ERR_FORMAT, 0, "not a capture file: %zu bytes, too short for a header", c->len - c->pos);
    }
    const uint8_t *p = c->data + c->pos;
    uint32_t le = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
    uint32_t be = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (le == 0x0A0D0D0A) { /* pcapng SHB: byte order comes from the block itself */
        c->fmt = FMT_PCAPNG;
        return FS_OK;
    }
    c->fmt = FMT_PCAP;
    c->rechdr = 16;
    uint32_t magic;
    if (le == 0xa1b2c3d4 || le == 0xa1b23c4d || le == 0xa1b2cd34) { c->be = 0; magic = le; }
    else if (be == 0xa1b2c3d4 || be == 0xa1b23c4d || be == 0xa1b2cd34) { c->be = 1; magic = be; }
    else return fail(c, FS_ERR_FORMAT, 0, "not a pcap or pcapng file (magic 0x%08x)", be);
    if (magic == 0xa1b23c4d) c->pcap_ns = c->nsec = 1;
    if (magic == 0xa1b2cd34) c->rechdr = 24;
    if (!ensure(c, 24)) return c->state ? c->state : fail(c, FS_ERR_TRUNC, 0, "truncated pcap file header");
    p = c->data + c->pos;
    uint16_t major = get16(c, p + 4);
    if (major != 2) return fail(c, FS_ERR_FORMAT, 4, "unsupported pcap version %u", major);
    c->linktype = get32(c, p + 20) & 0x03ffffff; /* upper bits carry FCS length info */
    c->pos += 24;
    return FS_OK;
}

static fs_result next_pcap(struct fs_capture *c, struct fs_capture_pkt *pkt)
{
    uint64_t off = cur_off(c);
    if (!ensure(c, c->rechdr)) {
        if (c->state) return c->state;
        if (c->len == c->pos) return FS_EOF;
        return fail(c, FS_ERR_TRUNC, off, "truncated record header (%zu of %u bytes)", c->len - c->pos, c->rechdr);
    }
    const uint8_t *h = c->data + c->pos;
    uint32_t sec = get32(c, h), frac = get32(c, h + 4), caplen = get32(c, h + 8), len = get32(c, h + 12);
    if (caplen > FS_CAPTURE_MAX_CAPLEN)
        return fail(c, FS_ERR_FORMAT, off, "record claims %u captured bytes (limit %u): file damaged", caplen,
                    FS_CAPTURE_MAX_CAPLEN);
    if (!ensure(c, (size_t)c->rechdr + caplen)) {
        if (c->state) return c->state;
        return fail(c, FS_ERR_TRUNC, off, "truncated record: %u bytes of packet data, %zu present", caplen,
                    c->len - c->pos - c->rechdr);
    }
    if (!c->pcap_ns && frac >= 1000000u) {
        /* keep going: some writers overflow usec; fold it into seconds */
        sec += frac / 1000000u;
        frac %= 1000000u;
    }
    pkt->ts_ns = (uint64_t)sec * 1000000000ull + (c->pcap_ns ? (uint64_t)frac : (uint64_t)frac * 1000ull);
    pkt->offset = off;
    pkt->data = c->data + c->pos + c->rechdr;
    pkt->caplen = caplen;
    pkt->wirelen = len < caplen ? caplen : len;
    pkt->linktype = c->linktype;
    c->pos += c->rechdr + caplen;
    /* the next record's header and the packet headers after it, while this packet is decoded and metered
     * (prefetching past the window's end is harmless) */
    __builtin_prefetch(c->data + c->pos);
    __builtin_prefetch(c->data + c->pos + 64);
    return FS_OK;
}

static uint64_t pow10u(unsigned e)
{
    uint64_t v = 1;
    while (e--) v *= 10;
    return v;
}

static uint64_t pcapng_ts_ns(const struct iface *f, uint64_t ts)
{
    uint64_t ns;
    if (f->tsresol & 0x80) {
        unsigned shift = f->tsresol & 0x7f;
        ns = shift >= 64 ? 0 : (uint64_t)(((unsigned __int128)ts * 1000000000u) >> shift);
    } else if (f->tsresol <= 9) {
        ns = ts * pow10u(9u - f->tsresol);
    } else {
        ns = f->tsresol - 9u > 19 ? 0 : ts / pow10u(f->tsresol - 9u);
    }
    return ns + (uint64_t)f->tsoffset_s * 1000000000ull; /* unsigned: a hostile offset wraps, never overflows */
}

/* Section Header Block (section 4.1). c->pos is at the block. */
static fs_result read_shb(struct fs_capture *c, uint64_t off)
{
    if (!ensure(c, 28)) return c->state ? c->state : fail(c, FS_ERR_TRUNC, off, "truncated section header block");
    const uint8_t *p = c->data + c->pos;
    uint32_t bom_le = (uint32_t)p[11] << 24 | (uint32_t)p[10] << 16 | (uint32_t)p[9] << 8 | p[8];
    if (bom_le == 0x1A2B3C4D) c->be = 0;
    else if (bom_le == 0x4D3C2B1A) c->be = 1;
    else return fail(c, FS_ERR_FORMAT, off + 8, "bad pcapng byte-order magic 0x%08x", bom_le);
    uint16_t major = get16(c, p + 12);
    if (major != 1) return fail(c, FS_ERR_FORMAT, off + 12, "unsupported pcapng version %u", major);
    c->in_section = 1;
    c->nifs = 0; /* interface ids are per section */
    return FS_OK;
}

/* Interface Description Block (section 4.2): body = block without the 8-byte head and 4-byte tail. */
static fs_result read_idb(struct fs_capture *c, const uint8_t *body, uint32_t blen, uint64_t off)
{
    if (blen < 8) return fail(c, FS_ERR_FORMAT, off, "interface description block too short (%u bytes)", blen);
    fs_result rc = add_iface(c, get16(c, body), get32(c, body + 4));
    if (rc) return rc;
    struct iface *f = &c->ifs[c->nifs - 1];
    uint32_t o = 8;
    while (blen - o >= 4) {
        uint16_t code = get16(c, body + o), olen = get16(c, body + o + 2);
        o += 4;
        if (code == 0) break;
        if (olen > blen - o) break; /* damaged options: keep the defaults */
        if (code == 9 && olen >= 1) f->tsresol = body[o];
        if (code == 14 && olen >= 8) {
            uint64_t v = (uint64_t)get32(c, body + o) << 32 | get32(c, body + o + 4);
            if (!c->be) v = (uint64_t)get32(c, body + o + 4) << 32 | get32(c, body + o);
            f->tsoffset_s = (int64_t)v;
        }
        uint32_t padded = (olen + 3u) & ~3u;
        if (padded > blen - o) break;
        o += padded;
    }
    if (f->tsresol & 0x80 ? (f->tsresol & 0x7f) > 20 : f->tsresol > 6) c->nsec = 1;
    return FS_OK;
}

static fs_result next_pcapng(struct fs_capture *c, struct fs_capture_pkt *pkt)
{
    for (;;) {
        uint64_t off = cur_off(c);
        if (!ensure(c, 12)) {
            if (c->state) return c->state;
            if (c->len == c->pos) return FS_EOF;
            return fail(c, FS_ERR_TRUNC, off, "truncated block header (%zu of 12 bytes)", c->len - c->pos);
        }
        const uint8_t *p = c->data + c->pos;
        uint32_t type = get32(c, p);
        if (type == 0x0A0D0D0A) { /* palindromic: readable before the byte order is known */
            fs_result rc = read_shb(c, off);
            if (rc) return rc;
            p = c->data + c->pos;
        } else if (!c->in_section) {
            return fail(c, FS_ERR_FORMAT, off, "pcapng block type 0x%08x before any section header", type);
        }
        uint32_t blen = get32(c, p + 4);
        if (blen < 12 || blen % 4 != 0)
            return fail(c, FS_ERR_FORMAT, off, "bad pcapng block length %u (block type 0x%08x)", blen, type);
        if (blen > FS_CAPTURE_MAX_BLOCK)
            return fail(c, FS_ERR_FORMAT, off, "pcapng block of %u bytes exceeds the limit of %u", blen,
                        FS_CAPTURE_MAX_BLOCK);
        if (!ensure(c, blen)) {
            if (c->state) return c->state;
            return fail(c, FS_ERR_TRUNC, off, "truncated pcapng block: %u bytes declared, %zu present", blen,
                        c->len - c->pos);
        }
        p = c->data + c->pos;
        if (get32(c, p + blen - 4) != blen)
            return fail(c, FS_ERR_FORMAT, off + blen - 4, "pcapng block trailing length %u does not match %u",
                        get32(c, p + blen - 4), blen);
        const uint8_t *body = p + 8;
        uint32_t bl = blen - 12;
        c->pos += blen;
        fs_result rc = FS_OK;
        uint32_t ifid = 0, caplen = 0, origlen = 0;
        uint64_t ts = 0;
        const uint8_t *data = NULL;
        switch (type) {
        case 0x0A0D0D0A:
            continue;
        case 1:
            rc = read_idb(c, body, bl, off);
            if (rc) return rc;
            continue;
        case 6: /* Enhanced Packet Block, section 4.3 */
        case 2: /* Packet Block (obsolete), appendix */
            if (bl < 20) return fail(c, FS_ERR_FORMAT, off, "packet block too short (%u bytes)", blen);
            ifid = type == 6 ? get32(c, body) : get16(c, body);
            ts = (uint64_t)get32(c, body + 4) << 32 | get32(c, body + 8);
            caplen = get32(c, body + 12);
            origlen = get32(c, body + 16);
            if (caplen > bl - 20)
                return fail(c, FS_ERR_FORMAT, off, "packet block captured length %u exceeds block body %u", caplen,
                            bl - 20);
            data = body + 20;
            break;
        case 3: /* Simple Packet Block, section 4.4 */
            if (bl < 4) return fail(c, FS_ERR_FORMAT, off, "simple packet block too short (%u bytes)", blen);
            origlen = get32(c, body);
            caplen = bl - 4;
            if (origlen < caplen) caplen = origlen;
            if (c->nifs && c->ifs[0].snaplen && caplen > c->ifs[0].snaplen) caplen = c->ifs[0].snaplen;
            data = body + 4;
            break;
        default:
            c->skipped_blocks++;
            continue;
        }
        if (ifid >= c->nifs)
            return fail(c, FS_ERR_FORMAT, off, "packet block names interface %u, but the section has %zu", ifid,
                        c->nifs);
        pkt->ts_ns = type == 3 ? 0 : pcapng_ts_ns(&c->ifs[ifid], ts);
        pkt->offset = off;
        pkt->data = data;
        pkt->caplen = caplen;
        pkt->wirelen = origlen < caplen ? caplen : origlen;
        pkt->linktype = c->ifs[ifid].linktype;
        return FS_OK;
    }
}

fs_result fs_capture_next(struct fs_capture *c, struct fs_capture_pkt *pkt)
{
    if (c->state) return c->state;
    return c->fmt == FMT_PCAP ? next_pcap(c, pkt) : next_pcapng(c, pkt);
}

static struct fs_capture *alloc_reader(const char *name)
{
    struct fs_capture *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

static fs_result finish_open(struct fs_capture **out, struct fs_capture *c, char *err, size_t errlen)
{
    fs_result rc = read_header(c);
    if (rc) {
        if (err) snprintf(err, errlen, "%s", c->err);
        fs_capture_free(c);
        return rc;
    }
    *out = c;
    return FS_OK;
}

static fs_result open_path(struct fs_capture **out, const char *path, size_t bufsize, char *err, size_t errlen)
{
    int is_stdin = strcmp(path, "-") == 0;
    struct fs_capture *c = alloc_reader(is_stdin ? "(standard input)" : path);
    if (!c) return FS_ERR_NOMEM;
    c->fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        if (err) snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        fs_capture_free(c);
        return FS_ERR_IO;
    }
    c->close_fd = !is_stdin;
    if (!is_stdin) posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    c->cap = bufsize;
    c->buf = malloc(c->cap);
    if (!c->buf) {
        fs_capture_free(c);
        return FS_ERR_NOMEM;
    }
    c->data = c->buf;
    return finish_open(out, c, err, errlen);
}

fs_result fs_capture_open(struct fs_capture **out, const char *path, char *err, size_t errlen)
{
    return open_path(out, path, READ_CHUNK, err, errlen);
}

fs_result fs_capture_open_peek(struct fs_capture **out, const char *path, char *err, size_t errlen)
{
    return open_path(out, path, 64u << 10, err, errlen);
}

fs_result fs_capture_open_mem(struct fs_capture **out, const void *buf, size_t len, const char *name, char *err,
                              size_t errlen)
{
    struct fs_capture *c = alloc_reader(name);
    if (!c) return FS_ERR_NOMEM;
    c->data = buf;
    c->len = len;
    c->eof = 1;
    return finish_open(out, c, err, errlen);
}

const char *fs_capture_error(const struct fs_capture *c) { return c->err; }
uint64_t fs_capture_bytes_read(const struct fs_capture *c) { return c->base + c->pos; }
int fs_capture_is_nanosecond(const struct fs_capture *c) { return c->nsec; }
uint64_t fs_capture_skipped_blocks(const struct fs_capture *c) { return c->skipped_blocks; }

void fs_capture_free(struct fs_capture *c)
{
    if (!c) return;
    if (c->close_fd && c->fd >= 0) close(c->fd);
    free(c->buf);
    free(c->ifs);
    free(c);
}
