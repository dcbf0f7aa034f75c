/* fuzz_segment.c - libFuzzer entry point: the store's segment reader on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fs_flow *rows;
    size_t n;
    char err[256];
    if (fs_store_read_segment(data, size, "fuzz", &rows, &n, err, sizeof err) == FS_OK) free(rows);
    return 0;
}
