/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of store segments.
 * Table-driven, one byte at a time: segments are checksummed once when written
 * and once when read, so simplicity wins over speed here.
 */
#ifndef FS_CRC32C_H
#define FS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0. */
uint32_t fs_crc32c(uint32_t crc, const void *data, size_t len);

#endif
