/* fuzz_monitor.c - libFuzzer entry point: decoded packets and flow records through the host monitor, with
 * timestamps that jump forward and back (late data), windows closing, and every record checked.
 * Input: 1 byte choosing windows, lateness and whether packets go one by one or in batches
 * (fs_monitor_packets), then records: u16 time step (10 ms units; the top bit steps back), 1 byte link type and
 * kind, 1 byte length, the frame. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "monitor/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t links[] = { FS_LINK_ETHERNET, FS_LINK_RAW, FS_LINK_LINUX_SLL, FS_LINK_IPV4, FS_LINK_IPV6 };

static void on_rec(void *arg, int level, const struct fs_host_window *r)
{
    (void)arg;
    (void)level;
    /* what every record must satisfy */
    if (r->end_ns <= r->start_ns || (r->host_ipver != 4 && r->host_ipver != 6)) abort();
    if (r->out.new_flows > 0 && r->out.flows == 0) abort();
    if (r->out.flows > r->out.packets || r->in.flows > r->in.packets) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fs_decoder dec;
    static int ready;
    if (!ready) {
        if (fs_decoder_init(&dec, NULL)) return 0;
        ready = 1;
    }
    if (size < 1) return 0;
    struct fs_monitor_opts o;
    fs_monitor_opts_default(&o);
    o.all_hosts = 1;
    o.nwindows = 1 + data[0] % 3;
    o.windows_ns[0] = 1000000000ull;
    o.windows_ns[1] = 2000000000ull;
    o.windows_ns[2] = 8000000000ull;
    o.lateness_ns = (uint64_t)(data[0] >> 2 & 3) * 500000000ull;
    o.idle_ns = data[0] & 0x10 ? 3000000000ull : 0;
    o.max_conversations = data[0] & 0x20 ? 4 : 0;
    struct fs_monitor m;
    if (fs_monitor_init(&m, &o, on_rec, NULL) != FS_OK) return 0;
    uint64_t ts = 1700000000ull * 1000000000ull;
    size_t at = 1;
    int batched = data[0] & 0x40;
    struct fs_pkt batch[8];
    size_t nb = 0;
    while (at + 4 <= size) {
        unsigned step = (unsigned)data[at] << 8 | data[at + 1], kind = data[at + 2];
        size_t len = data[at + 3];
        at += 4;
        if (len > size - at) len = size - at;
        if (step & 0x8000) ts -= (uint64_t)(step & 0x7fff) * 10000000ull;
        else ts += (uint64_t)step * 10000000ull;
        struct fs_capture_pkt p = { .ts_ns = ts, .data = data + at, .caplen = (uint32_t)len, .wirelen = (uint32_t)len,
                                    .linktype = links[kind % (sizeof links / sizeof links[0])] };
        at += len;
        struct fs_pkt pkt;
        if (fs_decode(&dec, &p, &pkt)) {
            if (kind & 0x80) { /* as a flow record instead */
                struct fs_flow f;
                memset(&f, 0, sizeof f);
                f.key = pkt.key;
                f.first_ns = ts - (kind & 0x40 ? 2000000000ull : 0);
                f.last_ns = ts;
                f.dir[0].packets = 1 + (kind & 3);
                f.dir[0].bytes = pkt.ip_len;
                f.dir[1].packets = kind >> 4 & 1;
                f.dir[1].bytes = f.dir[1].packets * 40;
                f.dir[0].flags_or = pkt.tcp_flags;
                f.state = kind & 0x20 ? FS_FLOW_EXPORTED : 0;
                fs_monitor_flow(&m, &f, kind & 0x08 ? ts + 1 : 0);
            } else if (batched) {
                batch[nb++] = pkt;
                if (nb == 8) {
                    fs_monitor_packets(&m, batch, nb);
                    nb = 0;
                }
            } else {
                fs_monitor_packet(&m, &pkt);
            }
        }
        while (fs_decode_pending(&dec, &pkt)) fs_monitor_packet(&m, &pkt);
        if (kind == 0x7f) fs_monitor_advance(&m, ts + 5000000000ull);
    }
    if (nb) fs_monitor_packets(&m, batch, nb);
    fs_monitor_finish(&m);
    fs_monitor_release(&m);
    return 0;
}
