/*
 * bigmem.h - large tables in transparent huge pages.
 *
 * The flow table's entry pools and index are tens of megabytes read at random: with 4 KiB pages nearly
 * every lookup also misses the TLB (and under virtualisation a miss walks two page tables). Memory from
 * fs_big_alloc() is aligned to 2 MiB and advised as huge-page memory (madvise MADV_HUGEPAGE), which the
 * kernel honours when transparent huge pages are set to "always" or "madvise"; elsewhere it is plain memory.
 *
 * Ownership: the caller owns what fs_big_alloc() returns and gives it back with fs_big_free() and the same
 * size. The memory is zero-filled.
 */
#ifndef FS_BIGMEM_H
#define FS_BIGMEM_H

#include <stddef.h>

/* n bytes, zero-filled, or NULL. Requests below 2 MiB get no huge-page advice but the same contract. */
void *fs_big_alloc(size_t n);
void fs_big_free(void *p, size_t n);

#endif
