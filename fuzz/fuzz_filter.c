/* fuzz_filter.c - libFuzzer entry point: the filter parser, then evaluation on a fixed record. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *expr = malloc(size + 1);
    if (!expr) return 0;
    memcpy(expr, data, size);
    expr[size] = 0;
    struct fs_filter *f;
    char err[256];
    size_t col;
    if (fs_filter_compile(expr, &f, err, sizeof err, &col) == FS_OK) {
        struct fs_flow flow;
        memset(&flow, 0, sizeof flow);
        flow.key.ipver = 4;
        flow.key.proto = 6;
        flow.dir[0].packets = 2;
        fs_filter_match(f, &flow, NULL);
        fs_filter_free(f);
    } else if (col == 0 || col > size + 1) {
        abort(); /* an error must point into the expression */
    }
    free(expr);
    return 0;
}
