/* test_decode.c - the packet decoder on hand-built frames, one per layer it handles. */
#include <arpa/inet.h>

#include "check.h"
#include "decode/decode.h"
#include "pktbuild.h"

static struct fs_decoder dec;

static int decode(const struct pb *p, uint32_t linktype, struct fs_pkt *out)
{
    struct fs_capture_pkt cp = { .ts_ns = 1000, .data = p->b, .caplen = (uint32_t)p->n, .wirelen = (uint32_t)p->n,
                                 .linktype = linktype };
    return fs_decode(&dec, &cp, out);
}

static uint32_t v4(const uint8_t *a) { return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3]; }

static void test_ethernet_vlan_tcp(void)
{
    struct pb p = { .n = 0 };
    pb_ether(&p, 0x8100);
    pb_be16(&p, 0x2000 | 100); /* priority 1, VLAN 100 */
    pb_be16(&p, 0x8100);
    pb_be16(&p, 200);
    pb_be16(&p, 0x0800);
    size_t ip = pb_ipv4(&p, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 6, 1, 0x4000);
    pb_tcp(&p, 1234, 80, 0x18, 10);
    pb_ipv4_end(&p, ip);
    struct fs_pkt k;
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.vlan, 100);
    CHECK_EQ_U(k.key.vlan2, 200);
    CHECK_EQ_U(v4(k.key.a), IP4(10, 0, 0, 1));
    CHECK_EQ_U(v4(k.key.b), IP4(10, 0, 0, 2));
    CHECK_EQ_U(k.key.pa, 1234);
    CHECK_EQ_U(k.key.pb, 80);
    CHECK_EQ_U(k.key.proto, 6);
    CHECK_EQ_U(k.ip_len, 50);
    CHECK_EQ_U(k.payload, 10);
    CHECK_EQ_U(k.tcp_flags, 0x18);
    /* Ethernet padding beyond the IP length does not count */
    pb_zero(&p, 8);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.ip_len, 50);
    CHECK_EQ_U(k.wirelen, p.n);
}

static void test_truncated_and_malformed(void)
{
    struct pb p = { .n = 0 };
    pb_ether(&p, 0x0800);
    size_t ip = pb_ipv4(&p, IP4(1, 1, 1, 1), IP4(2, 2, 2, 2), 6, 1, 0);
    pb_tcp(&p, 1, 2, 0x02, 0);
    pb_ipv4_end(&p, ip);
    struct fs_pkt k;
    uint64_t before = dec.stats.count[FS_SKIP_TRUNCATED];
    struct pb cut = p;
    cut.n = 14 + 20 + 10; /* TCP header cut before the flags */
    CHECK(!decode(&cut, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(dec.stats.count[FS_SKIP_TRUNCATED], before + 1);
    cut.n = 14 + 12; /* IPv4 header cut */
    CHECK(!decode(&cut, FS_LINK_ETHERNET, &k));
    cut.n = 5; /* Ethernet header cut */
    CHECK(!decode(&cut, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(dec.stats.count[FS_SKIP_TRUNCATED], before + 3);
    /* a snaplen cut after the TCP header still meters with the IP length */
    p.n -= 0;
    struct pb big = { .n = 0 };
    pb_ether(&big, 0x0800);
    ip = pb_ipv4(&big, IP4(1, 1, 1, 1), IP4(2, 2, 2, 2), 6, 1, 0);
    pb_tcp(&big, 1, 2, 0x10, 1000);
    pb_ipv4_end(&big, ip);
    big.n = 14 + 20 + 20 + 4;
    CHECK(decode(&big, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.ip_len, 1040);
    CHECK_EQ_U(k.payload, 1000);
    /* IHL below 5 is malformed */
    struct pb bad = p;
    bad.b[14] = 0x44;
    uint64_t mal = dec.stats.count[FS_SKIP_MALFORMED];
    CHECK(!decode(&bad, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(dec.stats.count[FS_SKIP_MALFORMED], mal + 1);
    /* ARP is not IP */
    struct pb arp = { .n = 0 };
    pb_ether(&arp, 0x0806);
    pb_zero(&arp, 28);
    uint64_t notip = dec.stats.count[FS_SKIP_NOT_IP];
    CHECK(!decode(&arp, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(dec.stats.count[FS_SKIP_NOT_IP], notip + 1);
    /* an unknown link type */
    CHECK(!decode(&p, 147, &k));
    CHECK(dec.stats.count[FS_SKIP_LINKTYPE] >= 1);
}

static void test_ipv6_ext_and_fragments(void)
{
    uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
    /* hop-by-hop, then a first fragment carrying UDP */
    struct pb p = { .n = 0 };
    pb_ether(&p, 0x86DD);
    size_t ip = pb_ipv6(&p, a, b, 0);
    pb_u8(&p, 44); /* hop-by-hop: next = fragment */
    pb_u8(&p, 0);
    pb_zero(&p, 6);
    pb_u8(&p, 17); /* fragment: next = UDP */
    pb_u8(&p, 0);
    pb_be16(&p, 0x0001); /* offset 0, M */
    pb_be32(&p, 0xabcd);
    size_t u = pb_udp(&p, 5353, 53);
    pb_zero(&p, 100);
    pb_udp_end(&p, u);
    pb_ipv6_end(&p, ip);
    struct fs_pkt k;
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.ipver, 6);
    CHECK_EQ_U(k.key.proto, 17);
    CHECK_EQ_U(k.key.pa, 5353);
    CHECK_EQ_U(k.ip_len, 40 + 8 + 8 + 108);
    CHECK_EQ_U(k.payload, 100);
    /* the later fragment has no UDP header but lands in the same flow */
    struct pb q = { .n = 0 };
    pb_ether(&q, 0x86DD);
    ip = pb_ipv6(&q, a, b, 44);
    pb_u8(&q, 17);
    pb_u8(&q, 0);
    pb_be16(&q, (14 << 3)); /* offset 14*8 = 112, last */
    pb_be32(&q, 0xabcd);
    pb_zero(&q, 60);
    pb_ipv6_end(&q, ip);
    CHECK(decode(&q, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pa, 5353);
    CHECK_EQ_U(k.key.pb, 53);
    CHECK_EQ_U(k.payload, 60);
    /* another id: an orphan, ports 0, counted */
    q.b[14 + 40 + 4] = 0x77;
    uint64_t orphans = dec.stats.count[FS_NOTE_FRAG_ORPHAN];
    CHECK(decode(&q, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pa, 0);
    CHECK_EQ_U(dec.stats.count[FS_NOTE_FRAG_ORPHAN], orphans + 1);

    /* IPv4: first fragment then a later one */
    struct pb f1 = { .n = 0 };
    pb_ether(&f1, 0x0800);
    ip = pb_ipv4(&f1, IP4(10, 1, 1, 1), IP4(10, 1, 1, 2), 17, 777, 0x2000);
    u = pb_udp(&f1, 1111, 2222);
    pb_zero(&f1, 64);
    pb_udp_end(&f1, u);
    pb_ipv4_end(&f1, ip);
    CHECK(decode(&f1, FS_LINK_ETHERNET, &k));
    struct pb f2 = { .n = 0 };
    pb_ether(&f2, 0x0800);
    ip = pb_ipv4(&f2, IP4(10, 1, 1, 1), IP4(10, 1, 1, 2), 17, 777, 9);
    pb_zero(&f2, 30);
    pb_ipv4_end(&f2, ip);
    CHECK(decode(&f2, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pa, 1111);
    CHECK_EQ_U(k.key.pb, 2222);
    CHECK_EQ_U(k.payload, 30);
    /* with later fragments switched off they are skipped and counted */
    dec.opts.later_fragments = 0;
    CHECK(!decode(&f2, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(dec.stats.count[FS_SKIP_FRAGMENT], 1);
    dec.opts.later_fragments = 1;
}

static void inner_tcp(struct pb *p)
{
    size_t ip = pb_ipv4(p, IP4(192, 168, 0, 1), IP4(192, 168, 0, 2), 6, 5, 0);
    pb_tcp(p, 40000, 443, 0x02, 0);
    pb_ipv4_end(p, ip);
}

static void check_inner(const struct fs_pkt *k, unsigned tunnel, uint32_t id)
{
    CHECK_EQ_U(v4(k->key.a), IP4(192, 168, 0, 1));
    CHECK_EQ_U(k->key.pb, 443);
    CHECK_EQ_U(k->key.proto, 6);
    CHECK_EQ_U(k->key.tunnel_type, tunnel);
    CHECK_EQ_U(k->key.tunnel_id, id);
    CHECK_EQ_U(k->ip_len, 40);
    CHECK_EQ_U(k->tcp_flags, 0x02);
}

static void test_tunnels(void)
{
    struct fs_pkt k;
    /* VXLAN: UDP 4789, VNI 42, inner Ethernet */
    struct pb p = { .n = 0 };
    pb_ether(&p, 0x0800);
    size_t ip = pb_ipv4(&p, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 17, 1, 0);
    size_t u = pb_udp(&p, 50000, 4789);
    pb_be32(&p, 0x08000000);
    pb_be32(&p, 42 << 8);
    pb_ether(&p, 0x0800);
    inner_tcp(&p);
    pb_udp_end(&p, u);
    pb_ipv4_end(&p, ip);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    check_inner(&k, FS_TUNNEL_VXLAN, 42);
    /* switched off: the outer UDP flow */
    dec.opts.decap = 0;
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pb, 4789);
    CHECK_EQ_U(k.key.tunnel_type, 0);
    dec.opts.decap = FS_DECAP_ALL;

    /* GRE with key 7 carrying IPv4 */
    p.n = 0;
    pb_ether(&p, 0x0800);
    ip = pb_ipv4(&p, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 47, 1, 0);
    pb_be16(&p, 0x2000);
    pb_be16(&p, 0x0800);
    pb_be32(&p, 7);
    inner_tcp(&p);
    pb_ipv4_end(&p, ip);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    check_inner(&k, FS_TUNNEL_GRE, 7);

    /* GTP-U G-PDU with a sequence number; TEID stays out of the key */
    p.n = 0;
    pb_ether(&p, 0x0800);
    ip = pb_ipv4(&p, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 17, 1, 0);
    u = pb_udp(&p, 2152, 2152);
    pb_u8(&p, 0x32);
    pb_u8(&p, 0xff);
    pb_be16(&p, 44);
    pb_be32(&p, 0x1234);
    pb_be32(&p, 0); /* sequence, N-PDU, next extension 0 */
    inner_tcp(&p);
    pb_udp_end(&p, u);
    pb_ipv4_end(&p, ip);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    check_inner(&k, FS_TUNNEL_GTP, 0);

    /* Geneve with 4 bytes of options, protocol IPv4 */
    p.n = 0;
    pb_ether(&p, 0x0800);
    ip = pb_ipv4(&p, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 17, 1, 0);
    u = pb_udp(&p, 1, 6081);
    pb_u8(&p, 1);
    pb_u8(&p, 0);
    pb_be16(&p, 0x0800);
    pb_be32(&p, 9 << 8);
    pb_be32(&p, 0);
    inner_tcp(&p);
    pb_udp_end(&p, u);
    pb_ipv4_end(&p, ip);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    check_inner(&k, FS_TUNNEL_GENEVE, 9);

    /* IPv4 in IPv4 */
    p.n = 0;
    pb_ether(&p, 0x0800);
    ip = pb_ipv4(&p, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 4, 1, 0);
    inner_tcp(&p);
    pb_ipv4_end(&p, ip);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    check_inner(&k, FS_TUNNEL_IPIP, 0);

    /* a VXLAN payload that is cut: the outer flow is metered, counted as a bad tunnel */
    p.n = 0;
    pb_ether(&p, 0x0800);
    ip = pb_ipv4(&p, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 17, 1, 0);
    u = pb_udp(&p, 50000, 4789);
    pb_be32(&p, 0x08000000);
    pb_be32(&p, 42 << 8);
    pb_ether(&p, 0x0800);
    pb_zero(&p, 6);
    pb_udp_end(&p, u);
    pb_ipv4_end(&p, ip);
    uint64_t bad = dec.stats.count[FS_NOTE_TUNNEL_BAD];
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pb, 4789);
    CHECK_EQ_U(dec.stats.count[FS_NOTE_TUNNEL_BAD], bad + 1);
}

static void test_link_types(void)
{
    struct fs_pkt k;
    struct pb ipkt = { .n = 0 };
    inner_tcp(&ipkt);
    struct pb p;
    /* MPLS, two labels */
    p.n = 0;
    pb_ether(&p, 0x8847);
    pb_be32(&p, 100 << 12);
    pb_be32(&p, (200 << 12) | 0x100 | 64);
    pb_bytes(&p, ipkt.b, ipkt.n);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pb, 443);
    /* PPPoE session */
    p.n = 0;
    pb_ether(&p, 0x8864);
    pb_u8(&p, 0x11);
    pb_u8(&p, 0);
    pb_be16(&p, 1);
    pb_be16(&p, (unsigned)ipkt.n + 2);
    pb_be16(&p, 0x0021);
    pb_bytes(&p, ipkt.b, ipkt.n);
    CHECK(decode(&p, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pb, 443);
    /* Linux cooked v1 */
    p.n = 0;
    pb_zero(&p, 14);
    pb_be16(&p, 0x0800);
    pb_bytes(&p, ipkt.b, ipkt.n);
    CHECK(decode(&p, FS_LINK_LINUX_SLL, &k));
    CHECK_EQ_U(k.key.pb, 443);
    /* Linux cooked v2 */
    p.n = 0;
    pb_be16(&p, 0x0800);
    pb_zero(&p, 18);
    pb_bytes(&p, ipkt.b, ipkt.n);
    CHECK(decode(&p, FS_LINK_LINUX_SLL2, &k));
    CHECK_EQ_U(k.key.pb, 443);
    /* BSD null, written little-endian and big-endian */
    p.n = 0;
    pb_le32(&p, 2);
    pb_bytes(&p, ipkt.b, ipkt.n);
    CHECK(decode(&p, FS_LINK_NULL, &k));
    CHECK_EQ_U(k.key.pb, 443);
    p.n = 0;
    pb_be32(&p, 2);
    pb_bytes(&p, ipkt.b, ipkt.n);
    CHECK(decode(&p, FS_LINK_NULL, &k));
    CHECK(decode(&p, FS_LINK_LOOP, &k));
    /* raw IP */
    CHECK(decode(&ipkt, FS_LINK_RAW, &k));
    CHECK(decode(&ipkt, FS_LINK_IPV4, &k));
    CHECK_EQ_U(k.key.pb, 443);
    /* ICMP echo: type and code, no ports */
    p.n = 0;
    size_t ip = pb_ipv4(&p, IP4(1, 1, 1, 1), IP4(2, 2, 2, 2), 1, 1, 0);
    pb_u8(&p, 8);
    pb_u8(&p, 0);
    pb_zero(&p, 6 + 56);
    pb_ipv4_end(&p, ip);
    CHECK(decode(&p, FS_LINK_RAW, &k));
    CHECK(k.has_icmp);
    CHECK_EQ_U(k.icmp_type, 8);
    CHECK_EQ_U(k.key.pa + k.key.pb, 0);
    CHECK_EQ_U(k.payload, 56);
}

/* A GTP-U datagram carrying TCP, cut into two IPv4 fragments. */
static void gtp_fragments(struct pb *f1, struct pb *f2, unsigned id)
{
    struct pb dg = { .n = 0 }; /* the UDP datagram */
    size_t u = pb_udp(&dg, 2152, 2152);
    pb_u8(&dg, 0x30);
    pb_u8(&dg, 0xff);
    pb_be16(&dg, 0);
    pb_be32(&dg, 7);
    size_t ip = pb_ipv4(&dg, IP4(192, 168, 0, 1), IP4(192, 168, 0, 2), 6, 5, 0);
    pb_tcp(&dg, 40000, 443, 0x18, 100);
    pb_ipv4_end(&dg, ip);
    pb_udp_end(&dg, u);
    f1->n = f2->n = 0;
    pb_ether(f1, 0x0800);
    ip = pb_ipv4(f1, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 17, id, 0x2000);
    pb_bytes(f1, dg.b, 64);
    pb_ipv4_end(f1, ip);
    pb_ether(f2, 0x0800);
    ip = pb_ipv4(f2, IP4(1, 0, 0, 1), IP4(1, 0, 0, 2), 17, id, 64 / 8);
    pb_bytes(f2, dg.b + 64, dg.n - 64);
    pb_ipv4_end(f2, ip);
}

static void test_reassembly(void)
{
    struct pb f1, f2;
    struct fs_pkt k;
    gtp_fragments(&f1, &f2, 4242);
    uint64_t decoded = dec.stats.decoded;
    CHECK(!decode(&f1, FS_LINK_ETHERNET, &k)); /* held */
    CHECK_EQ_U(dec.stats.decoded, decoded + 1);
    CHECK(!fs_decode_pending(&dec, &k));
    CHECK(decode(&f2, FS_LINK_ETHERNET, &k)); /* completes: one inner packet */
    CHECK_EQ_U(v4(k.key.a), IP4(192, 168, 0, 1));
    CHECK_EQ_U(k.key.pb, 443);
    CHECK_EQ_U(k.key.tunnel_type, FS_TUNNEL_GTP);
    CHECK_EQ_U(k.tcp_flags, 0x18);
    CHECK_EQ_U(k.ip_len, 140);
    CHECK_EQ_U(k.payload, 100);
    CHECK_EQ_U(k.wirelen, f1.n + f2.n);
    CHECK_EQ_U(dec.stats.count[FS_NOTE_REASSEMBLED], 1);
    CHECK_EQ_U(dec.stats.count[FS_NOTE_HELD], 1);
    /* the second fragment first: it is metered as an orphan; the first waits, then goes out as it is */
    gtp_fragments(&f1, &f2, 4343);
    CHECK(decode(&f2, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pa, 0);
    CHECK(!decode(&f1, FS_LINK_ETHERNET, &k));
    fs_decode_flush(&dec);
    CHECK(fs_decode_pending(&dec, &k));
    CHECK_EQ_U(k.key.pb, 2152);
    CHECK(!fs_decode_pending(&dec, &k));
    /* a first fragment whose rest never comes: released at the end as an outer packet */
    gtp_fragments(&f1, &f2, 4444);
    CHECK(!decode(&f1, FS_LINK_ETHERNET, &k));
    fs_decode_flush(&dec);
    CHECK(fs_decode_pending(&dec, &k));
    CHECK_EQ_U(k.key.pb, 2152);
    CHECK_EQ_U(k.ip_len, 84);
    CHECK_EQ_U(k.wirelen, f1.n);
    CHECK(!fs_decode_pending(&dec, &k));
    CHECK_EQ_U(dec.stats.count[FS_NOTE_REASM_RELEASED], 2);
    /* ... or after the fragment timeout, when the next fragment comes */
    gtp_fragments(&f1, &f2, 4545);
    CHECK(!decode(&f1, FS_LINK_ETHERNET, &k));
    struct fs_capture_pkt cp = { .ts_ns = 1000 + 31000000000ull, .data = f2.b, .caplen = (uint32_t)f2.n,
                                 .wirelen = (uint32_t)f2.n, .linktype = FS_LINK_ETHERNET };
    f2.b[14 + 5] = 0x99; /* another datagram's later fragment */
    CHECK(fs_decode(&dec, &cp, &k));
    CHECK(fs_decode_pending(&dec, &k));
    CHECK_EQ_U(k.ts_ns, 1000);
    /* with the tunnel not opened nothing is held */
    dec.opts.decap = 0;
    gtp_fragments(&f1, &f2, 4646);
    CHECK(decode(&f1, FS_LINK_ETHERNET, &k));
    CHECK(decode(&f2, FS_LINK_ETHERNET, &k));
    CHECK_EQ_U(k.key.pb, 2152);
    dec.opts.decap = FS_DECAP_ALL;
}

/* The shortcut for plain Ethernet/IPv4/TCP-UDP frames against the general decoder: frames around its
 * edges (options, fragments, tunnel ports, lengths short and long, other protocols), then random damage to
 * their headers; each decodes to the same packet, or is skipped for the same reason, both ways. */
static void test_shortcut_agrees(void)
{
    struct fs_decode_opts o;
    fs_decode_opts_default(&o);
    struct fs_decoder fast, general;
    fs_decoder_init(&fast, &o);
    o.general_only = 1;
    fs_decoder_init(&general, &o);
    static const unsigned ports[] = { 80, 53, 4789, 6081, 4754, 3544, 2152, 0, 65535 };
    static const unsigned protos[] = { 6, 17, 1, 132, 47 };
    uint64_t shortcut = 0, differ = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = check_rnd();
        struct pb p = { .n = 0 };
        pb_ether(&p, 0x0800);
        unsigned proto = protos[r % 5];
        unsigned frag = (r >> 3) % 4 == 0 ? (unsigned)((r >> 5) % 3 == 0 ? 0x2000 : 0x0010) : 0x4000;
        size_t ip = pb_ipv4(&p, IP4(10, 0, 0, 1 + (r >> 8) % 3), IP4(10, 0, 0, 2), proto, 7, frag);
        if (proto == 6) pb_tcp(&p, ports[(r >> 12) % 9], ports[(r >> 16) % 9], (unsigned)(r >> 20) & 0xff, (r >> 28) % 64);
        else if (proto == 17) {
            size_t u = pb_udp(&p, ports[(r >> 12) % 9], ports[(r >> 16) % 9]);
            pb_zero(&p, (r >> 28) % 64);
            pb_udp_end(&p, u);
        } else pb_zero(&p, 8 + (r >> 28) % 64);
        pb_ipv4_end(&p, ip);
        if ((r >> 34) % 4 == 0) pb_zero(&p, (r >> 36) % 16); /* Ethernet padding */
        uint32_t caplen = (uint32_t)p.n;
        if ((r >> 40) % 8 == 0) { /* damage: a byte of the headers, or a short capture */
            uint64_t d = check_rnd();
            if (d & 1) caplen = (uint32_t)(d >> 8) % (uint32_t)(p.n + 1);
            else p.b[(d >> 8) % 74 < p.n ? (d >> 8) % 74 : 0] = (uint8_t)(d >> 20);
        }
        struct fs_capture_pkt cp = { .ts_ns = 1000000000ull * (uint64_t)i, .data = p.b, .caplen = caplen,
                                     .wirelen = (uint32_t)p.n, .linktype = FS_LINK_ETHERNET };
        struct fs_pkt a, b, x;
        int ra = fs_decode(&fast, &cp, &a), rb = fs_decode(&general, &cp, &b);
        while (fs_decode_pending(&fast, &x)) {}
        while (fs_decode_pending(&general, &x)) {}
        if (ra != rb || (ra && memcmp(&a, &b, sizeof a) != 0)) differ++;
        shortcut += ra && !a.is_fragment && !a.key.tunnel_type && (a.key.proto == 6 || a.key.proto == 17);
    }
    CHECK_EQ_U(differ, 0);
    CHECK(shortcut > 50000); /* the shortcut's cases were many of them */
    CHECK(memcmp(&fast.stats, &general.stats, sizeof fast.stats) == 0);
    fs_decoder_release(&fast);
    fs_decoder_release(&general);
}

int main(void)
{
    struct fs_decode_opts o;
    fs_decode_opts_default(&o);
    if (fs_decoder_init(&dec, &o)) return 1;
    test_ethernet_vlan_tcp();
    test_truncated_and_malformed();
    test_ipv6_ext_and_fragments();
    test_tunnels();
    test_link_types();
    test_reassembly();
    test_shortcut_agrees();
    fs_decoder_release(&dec);
    return check_summary("test_decode");
}
