/*
 * crc32c.c - CRC-32C with the reflected polynomial 0x82F63B78 (RFC 3720 appendix B.4).
 *
 * x86-64 processors since 2008 compute it in hardware (SSE 4.2 `crc32`, 8 bytes an
 * instruction); the choice is made once at run time, and elsewhere a table does it
 * a byte at a time. Both give the same value (a unit test compares them).
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int have_hw;

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t fs_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = ~crc;
    for (; len >= 8; len -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

uint32_t fs_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, init);
#if defined(__x86_64__)
    if (have_hw) return crc_hw(crc, data, len);
#endif
    return fs_crc32c_sw(crc, data, len);
}
