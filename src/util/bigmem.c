/* bigmem.c - anonymous mappings advised as huge pages; see bigmem.h. */
#include "bigmem.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE_SIZE ((size_t)2 << 20)

void *fs_big_alloc(size_t n)
{
    if (n == 0) n = 1;
    if (n < HUGE_SIZE) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* map one huge page more than asked, then trim both ends to a 2 MiB boundary */
    size_t len = (n + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
    uint8_t *raw = mmap(NULL, len + HUGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE_SIZE - 1) & ~(uintptr_t)(HUGE_SIZE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + len + HUGE_SIZE - (p + len));
    if (tail) munmap(p + len, tail);
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

void fs_big_free(void *p, size_t n)
{
    if (!p) return;
    if (n == 0) n = 1;
    if (n >= HUGE_SIZE) n = (n + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
    munmap(p, n);
}
