/* fuzz_decode.c - libFuzzer entry point: the packet decoder and the meter on one frame.
 * Input: 1 byte choosing the link type, 1 byte of decoder options, then the frame. */
#include <stddef.h>
#include <stdint.h>

#include "decode/decode.h"
#include "flow/meter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t links[] = { FS_LINK_ETHERNET, FS_LINK_RAW, FS_LINK_NULL, FS_LINK_LOOP, FS_LINK_LINUX_SLL,
                                  FS_LINK_LINUX_SLL2, FS_LINK_IPV4, FS_LINK_IPV6, 9, 50, 104, 12, 14, 147 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fs_decoder dec;
    static struct fs_meter meter;
    static int ready;
    if (!ready) {
        if (fs_decoder_init(&dec, NULL) || fs_meter_init(&meter, NULL, NULL, NULL)) return 0;
        ready = 1;
    }
    if (size < 2) return 0;
    dec.opts.decap = data[1] & 1 ? FS_DECAP_ALL : (unsigned)data[1] >> 3;
    dec.opts.later_fragments = !(data[1] & 2);
    dec.opts.vlan_in_key = !(data[1] & 4);
    struct fs_capture_pkt p = { .ts_ns = (uint64_t)size * 1000, .data = data + 2, .caplen = (uint32_t)(size - 2),
                                .wirelen = (uint32_t)(size - 2), .linktype = links[data[0] % (sizeof links / sizeof links[0])] };
    struct fs_pkt out;
    if (fs_decode(&dec, &p, &out)) fs_meter_packet(&meter, &out);
    if (size > 2 && data[2] == 0xff) fs_decode_flush(&dec); /* sometimes end the input here */
    while (fs_decode_pending(&dec, &out)) fs_meter_packet(&meter, &out);
    if (meter.live > 10000) fs_meter_flush(&meter);
    return 0;
}
