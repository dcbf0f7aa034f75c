/* fuzz_segment.c - libFuzzer entry point: the store's segment reader on arbitrary bytes.
 * Half the inputs are parsed as they are; for the other half the target first repairs the header, directory
 * and column checksums of its copy, so that mutations reach the parsing behind the checksums. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_checksums(uint8_t *b, size_t n)
{
    if (n < 64) return;
    uint32_t ncols;
    memcpy(&ncols, b + 12, 4);
    if (ncols <= 256 && n - 64 >= (size_t)ncols * 96) {
        for (uint32_t c = 0; c < ncols; c++) {
            uint8_t *e = b + 64 + (size_t)c * 96;
            uint64_t off, clen;
            memcpy(&off, e + 40, 8);
            memcpy(&clen, e + 48, 8);
            if (off <= n && clen <= n - off) {
                uint32_t crc = fs_crc32c(0, b + off, clen);
                memcpy(e + 80, &crc, 4);
            }
        }
        uint32_t dcrc = fs_crc32c(0, b + 64, (size_t)ncols * 96);
        memcpy(b + 56, &dcrc, 4);
    }
    uint32_t hcrc = fs_crc32c(0, b, 60);
    memcpy(b + 60, &hcrc, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size && (data[size - 1] & 1)) fix_checksums(copy, size);
    struct fs_flow *rows;
    size_t n;
    char err[256];
    if (fs_store_read_segment(copy, size, "fuzz", NULL, &rows, &n, err, sizeof err) == FS_OK) free(rows);
    free(copy);
    return 0;
}
