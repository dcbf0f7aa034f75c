/* fuzz_capture.c - libFuzzer entry point: the capture reader, then the decoder on every packet it yields. */
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "decode/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fs_decoder dec;
    static int ready;
    if (!ready) {
        if (fs_decoder_init(&dec, NULL)) return 0;
        ready = 1;
    }
    struct fs_capture *c;
    char err[256];
    if (fs_capture_open_mem(&c, data, size, "fuzz", err, sizeof err) != FS_OK) return 0;
    struct fs_capture_pkt p;
    struct fs_pkt out;
    for (int n = 0; n < 100000 && fs_capture_next(c, &p) == FS_OK; n++) {
        fs_decode(&dec, &p, &out);
        while (fs_decode_pending(&dec, &out)) {
        }
    }
    fs_decode_flush(&dec);
    while (fs_decode_pending(&dec, &out)) {
    }
    fs_capture_free(c);
    return 0;
}
