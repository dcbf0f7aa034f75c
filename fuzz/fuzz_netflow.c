/* fuzz_netflow.c - libFuzzer entry point: the flow export decoder (NetFlow v5, v9, IPFIX) on a sequence of
 * messages, so that templates learnt from one can decode the next; sFlow v5 too, counter samples included.
 * Input: messages, each a 2-byte big-endian length and that many bytes (a short last one takes what is left);
 * the exporter's port is the message's index modulo 4, so templates of several exporters mix. A fresh decoder
 * per input: what one input teaches never leaks into the next. An input that starts "flowsift-templates" is a
 * saved templates file instead (fs_nf_load_stream). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "collect/netflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Built with FS_FUZZ_ONLY set to 5, 9, 10 or 55 (fuzz_nf_v5, fuzz_nf_v9, fuzz_nf_ipfix, fuzz_nf_sflow), every
 * message is given that version in its first bytes, so the fuzzer spends its time in one decoder. */
#ifdef FS_FUZZ_ONLY
static size_t force_version(uint8_t *m, size_t n)
{
    if (FS_FUZZ_ONLY == 55) { /* sFlow: a 32-bit version 5 */
        if (n >= 4) m[0] = m[1] = m[2] = 0, m[3] = 5;
    } else if (n >= 2) {
        m[0] = 0;
        m[1] = FS_FUZZ_ONLY;
    }
    return n;
}
#endif

static size_t records;

static void count(void *arg, struct fs_flow *f)
{
    (void)arg;
    records += f->dir[0].packets != 0; /* read the record, so a sanitizer sees what the decoder left in it */
}

static void count_counters(void *arg, const struct fs_ifcounters *k)
{
    (void)arg;
    records += k->in_octets != 0; /* the same for sFlow counter samples */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fs_nf_decoder *d;
    if (fs_nf_new(&d) != FS_OK) return 0;
    fs_nf_on_counters(d, count_counters, NULL);
    if (size >= 18 && memcmp(data, "flowsift-templates", 18) == 0) { /* a saved templates file, then done */
        FILE *f = fmemopen((void *)(uintptr_t)data, size, "r");
        char err[256];
        size_t n;
        if (f) {
            fs_nf_load_stream(d, f, "fuzz", &n, err, sizeof err);
            fclose(f);
        }
        fs_nf_free(d);
        return 0;
    }
    struct fs_export_origin o = { .addr = { 192, 0, 2, 1 }, .ipver = 4 };
    size_t off = 0;
    for (unsigned i = 0; off + 2 <= size; i++) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (n > size - off) n = size - off;
        o.port = (uint16_t)(2055 + i % 4);
#ifdef FS_FUZZ_ONLY
        static uint8_t m[65536 + 2];
        memcpy(m, data + off, n);
        fs_nf_message(d, &o, 1700000000000000000ull, m, force_version(m, n), count, NULL);
#else
        fs_nf_message(d, &o, 1700000000000000000ull, data + off, n, count, NULL);
#endif
        off += n;
    }
    size_t ne;
    fs_nf_exporters(d, &ne);
    fs_nf_free(d);
    return 0;
}
