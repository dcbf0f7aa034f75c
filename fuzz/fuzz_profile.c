/* fuzz_profile.c - libFuzzer entry point: the host profile file reader (monitor/profile.c) on arbitrary
 * bytes. For inputs whose first byte is odd the target first sets the trailing checksum right, so that
 * mutations reach what lies behind it; every loaded profile is then scored once. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor/profile.h"
#include "util/crc32c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fs-fuzz-profile-%ld", (long)getpid());
    }
    if (size < 2) return 0;
    uint8_t *b = malloc(size - 1);
    if (!b) return 0;
    memcpy(b, data + 1, size - 1);
    size_t n = size - 1;
    if ((data[0] & 1) && n >= 4) {
        uint32_t crc = fs_crc32c(0, b, n - 4);
        memcpy(b + n - 4, &crc, 4);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b);
        return 0;
    }
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    struct fs_profiles p;
    fs_profiles_init(&p, 300000000000ull, 0.1, 64);
    uint64_t loaded;
    char err[512] = "";
    if (fs_profiles_load(&p, path, &loaded, err, sizeof err) == FS_OK) {
        for (uint32_t i = 0; i < p.n; i++) {
            struct fs_host_window r;
            memset(&r, 0, sizeof r);
            memcpy(r.host, p.v[i].host, 16);
            r.host_ipver = p.v[i].ipver;
            r.start_ns = 1700000000ull * 1000000000ull;
            r.out.bytes = 1000;
            fs_profiles_apply(&p, &r);
        }
    } else if (!err[0]) {
        abort(); /* an error must say what */
    }
    fs_profiles_free(&p);
    unlink(path);
    return 0;
}
