/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of store segments.
 * Queries check every column they read, so it is on the hot path of a scan: the
 * processor's instruction where there is one, a table otherwise.
 */
#ifndef FS_CRC32C_H
#define FS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0. */
uint32_t fs_crc32c(uint32_t crc, const void *data, size_t len);
/* The same, always with the table (for tests). */
uint32_t fs_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
