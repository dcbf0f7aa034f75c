/*
 * pktbuild.h - builds frames and capture files byte by byte for the unit tests.
 *
 * struct pb is an append-only byte buffer; helpers add headers in network
 * order and patch lengths afterwards. Nothing here is clever: a test should show
 * exactly which bytes it feeds the code under test.
 */
#ifndef FS_PKTBUILD_H
#define FS_PKTBUILD_H

#include <stdint.h>
#include <string.h>

struct pb {
    uint8_t b[4096];
    size_t n;
};

static inline void pb_u8(struct pb *p, unsigned v) { p->b[p->n++] = (uint8_t)v; }
static inline void pb_be16(struct pb *p, unsigned v) { pb_u8(p, v >> 8); pb_u8(p, v); }
static inline void pb_be32(struct pb *p, uint32_t v) { pb_be16(p, v >> 16); pb_be16(p, v & 0xffff); }
static inline void pb_le16(struct pb *p, unsigned v) { pb_u8(p, v); pb_u8(p, v >> 8); }
static inline void pb_le32(struct pb *p, uint32_t v) { pb_le16(p, v & 0xffff); pb_le16(p, v >> 16); }
static inline void pb_bytes(struct pb *p, const void *d, size_t n) { memcpy(p->b + p->n, d, n); p->n += n; }
static inline void pb_zero(struct pb *p, size_t n) { memset(p->b + p->n, 0, n); p->n += n; }
static inline void pb_patch16(struct pb *p, size_t at, unsigned v) { p->b[at] = (uint8_t)(v >> 8); p->b[at + 1] = (uint8_t)v; }

static inline void pb_ether(struct pb *p, unsigned type)
{
    static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
    pb_bytes(p, macs, 12);
    pb_be16(p, type);
}

/* IPv4 header with total length patched by pb_ipv4_end(); returns its offset. */
static inline size_t pb_ipv4(struct pb *p, uint32_t src, uint32_t dst, unsigned proto, unsigned id, unsigned frag)
{
    size_t at = p->n;
    pb_u8(p, 0x45);
    pb_u8(p, 0);
    pb_be16(p, 0); /* total length */
    pb_be16(p, id);
    pb_be16(p, frag);
    pb_u8(p, 64);
    pb_u8(p, proto);
    pb_be16(p, 0);
    pb_be32(p, src);
    pb_be32(p, dst);
    return at;
}

static inline void pb_ipv4_end(struct pb *p, size_t at) { pb_patch16(p, at + 2, (unsigned)(p->n - at)); }

static inline size_t pb_ipv6(struct pb *p, const uint8_t *src, const uint8_t *dst, unsigned nh)
{
    size_t at = p->n;
    pb_be32(p, 0x60000000);
    pb_be16(p, 0); /* payload length */
    pb_u8(p, nh);
    pb_u8(p, 64);
    pb_bytes(p, src, 16);
    pb_bytes(p, dst, 16);
    return at;
}

static inline void pb_ipv6_end(struct pb *p, size_t at) { pb_patch16(p, at + 4, (unsigned)(p->n - at - 40)); }

static inline void pb_tcp(struct pb *p, unsigned sp, unsigned dp, unsigned flags, size_t payload)
{
    pb_be16(p, sp);
    pb_be16(p, dp);
    pb_be32(p, 1);
    pb_be32(p, 0);
    pb_u8(p, 5 << 4);
    pb_u8(p, flags);
    pb_be16(p, 65535);
    pb_be32(p, 0);
    for (size_t i = 0; i < payload; i++) pb_u8(p, 'x');
}

/* UDP with its length patched by pb_udp_end(); returns its offset. */
static inline size_t pb_udp(struct pb *p, unsigned sp, unsigned dp)
{
    size_t at = p->n;
    pb_be16(p, sp);
    pb_be16(p, dp);
    pb_be16(p, 0);
    pb_be16(p, 0);
    return at;
}

static inline void pb_udp_end(struct pb *p, size_t at) { pb_patch16(p, at + 4, (unsigned)(p->n - at)); }

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

#endif
