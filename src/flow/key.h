/*
 * key.h - the flow key: what makes two packets part of one flow.
 *
 * A key is the 5-tuple plus VLAN ids and tunnel id, 48 bytes, compared as whole
 * words (fs_key_equal; padding is always zero). Addresses are 16 bytes; IPv4 uses the first 4
 * and leaves the rest zero. A packet's key is "as seen" (a = sender); the flow
 * table works on the canonical form, where (a, pa) <= (b, pb), so both directions
 * of a conversation hash and compare alike.
 */
#ifndef FS_KEY_H
#define FS_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fs_flow_key {
    uint8_t a[16];        /* source address as seen / lower address when canonical */
    uint8_t b[16];
    uint16_t pa, pb;      /* ports (0 for protocols without ports) */
    uint16_t vlan;        /* outer 802.1Q id, 0 = none (or not part of the key) */
    uint16_t vlan2;       /* inner (QinQ) id, 0 = none */
    uint32_t tunnel_id;   /* VXLAN/Geneve VNI or GRE key; 0 = none (GTP TEIDs differ per direction) */
    uint8_t proto;        /* IP protocol number */
    uint8_t ipver;        /* 4 or 6 */
    uint8_t tunnel_type;  /* enum fs_tunnel of the innermost decapsulated tunnel */
    uint8_t pad;
};

_Static_assert(sizeof(struct fs_flow_key) == 48, "flow key must stay 48 bytes");

enum fs_tunnel {
    FS_TUNNEL_NONE = 0,
    FS_TUNNEL_GRE,
    FS_TUNNEL_VXLAN,
    FS_TUNNEL_GENEVE,
    FS_TUNNEL_GTP,
    FS_TUNNEL_IPIP,
    FS_TUNNEL_TEREDO,
    FS_TUNNEL_COUNT
};

const char *fs_tunnel_name(unsigned t);

/* Swaps the two endpoints in place. */
/* Word i (0..5) of a key, and storing one: routing reads and writes keys as whole 8-byte words, because a
 * wider or narrower access to bytes just stored another way waits for the stores to reach the cache. */
static inline uint64_t fs_key_word(const struct fs_flow_key *k, int i)
{
    uint64_t v;
    memcpy(&v, (const char *)k + 8 * i, 8);
    return v;
}

static inline void fs_key_set_word(struct fs_flow_key *k, int i, uint64_t v) { memcpy((char *)k + 8 * i, &v, 8); }

_Static_assert(offsetof(struct fs_flow_key, pa) == 32 && offsetof(struct fs_flow_key, pb) == 34,
               "the ports are the low half of key word 4");

static inline void fs_key_swap(struct fs_flow_key *k)
{
    uint64_t a0 = fs_key_word(k, 0), a1 = fs_key_word(k, 1), b0 = fs_key_word(k, 2), b1 = fs_key_word(k, 3);
    fs_key_set_word(k, 0, b0);
    fs_key_set_word(k, 1, b1);
    fs_key_set_word(k, 2, a0);
    fs_key_set_word(k, 3, a1);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w4 = fs_key_word(k, 4); /* pa in bits 0-15, pb in 16-31 */
    fs_key_set_word(k, 4, (w4 & ~(uint64_t)0xffffffff) | (w4 >> 16 & 0xffff) | (w4 & 0xffff) << 16);
#else
    uint16_t p = k->pa;
    k->pa = k->pb;
    k->pb = p;
#endif
}

/* Whether two keys are equal (all 48 bytes, padding included). */
static inline int fs_key_equal(const struct fs_flow_key *x, const struct fs_flow_key *y)
{
    uint64_t d = 0;
    for (int i = 0; i < 6; i++) d |= fs_key_word(x, i) ^ fs_key_word(y, i);
    return d == 0;
}

static inline uint64_t fs_be64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline int fs_key_canonicalize(struct fs_flow_key *k)
{
    /* the addresses compare as memcmp would: as two big-endian 64-bit words each */
    uint64_t a0 = fs_be64_at(k->a), b0 = fs_be64_at(k->b), a1 = fs_be64_at(k->a + 8), b1 = fs_be64_at(k->b + 8);
    if (a0 > b0 || (a0 == b0 && (a1 > b1 || (a1 == b1 && k->pa > k->pb)))) {
        fs_key_swap(k);
        return 1;
    }
    return 0;
}

/* Seeded hash of a canonical key: symmetric because the key is canonical. */
static inline uint64_t fs_key_hash(const struct fs_flow_key *k, uint64_t seed)
{
    uint64_t h = seed ^ 0x243f6a8885a308d3ull;
    for (int i = 0; i < 6; i++) {
        h ^= fs_key_word(k, i);
        h *= 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

#endif
