/* test_capture.c - the capture reader on hand-built pcap and pcapng files. */
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "check.h"
#include "pktbuild.h"

typedef void (*put32_fn)(struct pb *, uint32_t);
typedef void (*put16_fn)(struct pb *, unsigned);

static void pcap_header(struct pb *p, uint32_t magic, int be, uint32_t linktype)
{
    put32_fn p32 = be ? pb_be32 : pb_le32;
    put16_fn p16 = be ? pb_be16 : pb_le16;
    p32(p, magic);
    p16(p, 2);
    p16(p, 4);
    p32(p, 0);
    p32(p, 0);
    p32(p, 65535);
    p32(p, linktype);
}

static void pcap_record(struct pb *p, int be, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len)
{
    put32_fn p32 = be ? pb_be32 : pb_le32;
    p32(p, sec);
    p32(p, frac);
    p32(p, caplen);
    p32(p, len);
    for (uint32_t i = 0; i < caplen; i++) pb_u8(p, i);
}

static void test_pcap_variants(void)
{
    struct fs_capture *c;
    struct fs_capture_pkt k;
    char err[256];
    for (int be = 0; be < 2; be++) {
        for (int ns = 0; ns < 2; ns++) {
            struct pb p = { .n = 0 };
            pcap_header(&p, ns ? 0xa1b23c4d : 0xa1b2c3d4, be, 1);
            pcap_record(&p, be, 100, 5, 20, 60);
            pcap_record(&p, be, 101, 7, 4, 4);
            CHECK(fs_capture_open_mem(&c, p.b, p.n, "mem", err, sizeof err) == FS_OK);
            CHECK(fs_capture_next(c, &k) == FS_OK);
            CHECK_EQ_U(k.ts_ns, 100000000000ull + (ns ? 5u : 5000u));
            CHECK_EQ_U(k.caplen, 20);
            CHECK_EQ_U(k.wirelen, 60);
            CHECK_EQ_U(k.linktype, 1);
            CHECK_EQ_U(k.offset, 24);
            CHECK_EQ_U(k.data[3], 3);
            CHECK(fs_capture_next(c, &k) == FS_OK);
            CHECK_EQ_U(k.offset, 24 + 16 + 20);
            CHECK(fs_capture_next(c, &k) == FS_EOF);
            CHECK_EQ_U(fs_capture_is_nanosecond(c), ns);
            fs_capture_free(c);
        }
    }
}

static void test_pcap_damage(void)
{
    struct fs_capture *c;
    struct fs_capture_pkt k;
    char err[256];
    struct pb p = { .n = 0 };
    pcap_header(&p, 0xa1b2c3d4, 0, 1);
    pcap_record(&p, 0, 1, 0, 30, 30);
    pcap_record(&p, 0, 2, 0, 30, 30);
    /* the second record cut in its data */
    CHECK(fs_capture_open_mem(&c, p.b, p.n - 10, "cut.pcap", err, sizeof err) == FS_OK);
    CHECK(fs_capture_next(c, &k) == FS_OK);
    CHECK(fs_capture_next(c, &k) == FS_ERR_TRUNC);
    CHECK(strstr(fs_capture_error(c), "'cut.pcap'") != NULL);
    CHECK(strstr(fs_capture_error(c), "byte offset 70") != NULL);
    CHECK(fs_capture_next(c, &k) == FS_ERR_TRUNC); /* sticky */
    fs_capture_free(c);
    /* a record header cut */
    CHECK(fs_capture_open_mem(&c, p.b, 24 + 46 + 5, "cut2.pcap", err, sizeof err) == FS_OK);
    CHECK(fs_capture_next(c, &k) == FS_OK);
    CHECK(fs_capture_next(c, &k) == FS_ERR_TRUNC);
    fs_capture_free(c);
    /* an absurd captured length */
    struct pb q = { .n = 0 };
    pcap_header(&q, 0xa1b2c3d4, 0, 1);
    pb_le32(&q, 1);
    pb_le32(&q, 0);
    pb_le32(&q, 0x7fffffff);
    pb_le32(&q, 60);
    CHECK(fs_capture_open_mem(&c, q.b, q.n, "big.pcap", err, sizeof err) == FS_OK);
    CHECK(fs_capture_next(c, &k) == FS_ERR_FORMAT);
    CHECK(strstr(fs_capture_error(c), "byte offset 24") != NULL);
    fs_capture_free(c);
    /* not a capture */
    CHECK(fs_capture_open_mem(&c, "hello world, not pcap", 21, "x.txt", err, sizeof err) == FS_ERR_FORMAT);
    CHECK(strstr(err, "'x.txt'") != NULL);
    CHECK(fs_capture_open_mem(&c, "ab", 2, "tiny", err, sizeof err) == FS_ERR_FORMAT);
    /* header only: a valid empty capture */
    CHECK(fs_capture_open_mem(&c, p.b, 24, "empty.pcap", err, sizeof err) == FS_OK);
    CHECK(fs_capture_next(c, &k) == FS_EOF);
    fs_capture_free(c);
}

/* pcapng block with body `body` of n bytes (padded), in little- or big-endian. */
static void ng_block(struct pb *p, int be, uint32_t type, const uint8_t *body, size_t n)
{
    put32_fn p32 = be ? pb_be32 : pb_le32;
    size_t padded = (n + 3) & ~(size_t)3;
    uint32_t len = (uint32_t)(12 + padded);
    p32(p, type);
    p32(p, len);
    pb_bytes(p, body, n);
    pb_zero(p, padded - n);
    p32(p, len);
}

static void test_pcapng(void)
{
    for (int be = 0; be < 2; be++) {
        put32_fn p32 = be ? pb_be32 : pb_le32;
        put16_fn p16 = be ? pb_be16 : pb_le16;
        struct pb p = { .n = 0 }, body;
        body.n = 0;
        p32(&body, 0x1A2B3C4D);
        p16(&body, 1);
        p16(&body, 0);
        pb_zero(&body, 8);
        ng_block(&p, be, 0x0A0D0D0A, body.b, body.n);
        /* interface 0: Ethernet, default microseconds */
        body.n = 0;
        p16(&body, 1);
        p16(&body, 0);
        p32(&body, 0);
        ng_block(&p, be, 1, body.b, body.n);
        /* interface 1: raw IP, nanoseconds (if_tsresol = 9) */
        body.n = 0;
        p16(&body, 101);
        p16(&body, 0);
        p32(&body, 0);
        p16(&body, 9);
        p16(&body, 1);
        pb_u8(&body, 9);
        pb_zero(&body, 3);
        p16(&body, 0);
        p16(&body, 0);
        ng_block(&p, be, 1, body.b, body.n);
        /* an unknown block (name resolution) is skipped */
        body.n = 0;
        pb_zero(&body, 4);
        ng_block(&p, be, 4, body.b, body.n);
        /* EPB on interface 1 */
        uint64_t ts = 1700000000123456789ull;
        body.n = 0;
        p32(&body, 1);
        p32(&body, (uint32_t)(ts >> 32));
        p32(&body, (uint32_t)ts);
        p32(&body, 5);
        p32(&body, 5);
        pb_bytes(&body, "\x45" "abcd", 5);
        ng_block(&p, be, 6, body.b, body.n);
        /* EPB on interface 0, microseconds */
        uint64_t us = 1700000000123456ull;
        body.n = 0;
        p32(&body, 0);
        p32(&body, (uint32_t)(us >> 32));
        p32(&body, (uint32_t)us);
        p32(&body, 3);
        p32(&body, 64);
        pb_bytes(&body, "xyz", 3);
        ng_block(&p, be, 6, body.b, body.n);
        struct fs_capture *c;
        struct fs_capture_pkt k;
        char err[256];
        CHECK(fs_capture_open_mem(&c, p.b, p.n, "ng", err, sizeof err) == FS_OK);
        CHECK(fs_capture_next(c, &k) == FS_OK);
        CHECK_EQ_U(k.linktype, 101);
        CHECK_EQ_U(k.ts_ns, ts);
        CHECK_EQ_U(k.caplen, 5);
        CHECK_EQ_U(k.data[0], 0x45);
        CHECK(fs_capture_next(c, &k) == FS_OK);
        CHECK_EQ_U(k.linktype, 1);
        CHECK_EQ_U(k.ts_ns, us * 1000);
        CHECK_EQ_U(k.wirelen, 64);
        CHECK(fs_capture_next(c, &k) == FS_EOF);
        CHECK_EQ_U(fs_capture_skipped_blocks(c), 1);
        CHECK(fs_capture_is_nanosecond(c));
        fs_capture_free(c);
        /* a block whose trailing length disagrees */
        p.b[p.n - 1] ^= 0x10;
        p.b[p.n - 4] ^= 0x10;
        CHECK(fs_capture_open_mem(&c, p.b, p.n, "ng2", err, sizeof err) == FS_OK);
        CHECK(fs_capture_next(c, &k) == FS_OK);
        CHECK(fs_capture_next(c, &k) == FS_ERR_FORMAT);
        fs_capture_free(c);
        /* a packet block naming an interface that does not exist */
        struct pb q = { .n = 0 };
        pb_bytes(&q, p.b, 28); /* the SHB */
        body.n = 0;
        p32(&body, 3);
        pb_zero(&body, 16);
        ng_block(&q, be, 6, body.b, body.n);
        CHECK(fs_capture_open_mem(&c, q.b, q.n, "ng3", err, sizeof err) == FS_OK);
        CHECK(fs_capture_next(c, &k) == FS_ERR_FORMAT);
        CHECK(strstr(fs_capture_error(c), "interface 3") != NULL);
        fs_capture_free(c);
    }
}

/* regression: a pcapng if_tsoffset near INT64_MAX once overflowed a signed multiplication (UBSan) */
static void test_pcapng_hostile_tsoffset(void)
{
    struct pb p = { .n = 0 }, body;
    body.n = 0;
    pb_le32(&body, 0x1A2B3C4D);
    pb_le16(&body, 1);
    pb_le16(&body, 0);
    pb_zero(&body, 8);
    ng_block(&p, 0, 0x0A0D0D0A, body.b, body.n);
    body.n = 0;
    pb_le16(&body, 1);
    pb_le16(&body, 0);
    pb_le32(&body, 0);
    pb_le16(&body, 14); /* if_tsoffset */
    pb_le16(&body, 8);
    pb_le32(&body, 0xffffffff);
    pb_le32(&body, 0x7fffffff);
    pb_le16(&body, 0);
    pb_le16(&body, 0);
    ng_block(&p, 0, 1, body.b, body.n);
    body.n = 0;
    pb_le32(&body, 0);
    pb_le32(&body, 0);
    pb_le32(&body, 1);
    pb_le32(&body, 1);
    pb_le32(&body, 1);
    pb_u8(&body, 0x45);
    ng_block(&p, 0, 6, body.b, body.n);
    struct fs_capture *c;
    struct fs_capture_pkt k;
    char err[256];
    CHECK(fs_capture_open_mem(&c, p.b, p.n, "offset", err, sizeof err) == FS_OK);
    CHECK(fs_capture_next(c, &k) == FS_OK);
    fs_capture_free(c);
}

int main(void)
{
    test_pcapng_hostile_tsoffset();
    test_pcap_variants();
    test_pcap_damage();
    test_pcapng();
    return check_summary("test_capture");
}
