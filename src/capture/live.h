/*
 * live.h - live capture from a network interface through libpcap.
 *
 * A thin layer that hands packets over as struct fs_capture_pkt, the form the decoder takes from capture
 * files, so that every consumer reads a file and an interface alike. Packets come in batches
 * (pcap_dispatch, non-blocking, after a poll with a timeout), so a caller regains control at least every
 * `timeout_ms` even when no traffic arrives (to close windows on time).
 *
 * Ownership: fs_live_open() returns a handle the caller frees with fs_live_close(). Packet data passed to the
 * callback is lent for the call.
 */
#ifndef FS_LIVE_H
#define FS_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/result.h"
#include "capture.h"

struct fs_live;

struct fs_live_opts {
    const char *iface;
    const char *bpf;          /* BPF filter expression, or NULL */
    int snaplen;              /* default 262144 */
    int promisc;              /* default 1 */
    int timeout_ms;           /* read timeout, default 100 */
    int buffer_mb;            /* kernel buffer, default 64 */
};

fs_result fs_live_open(struct fs_live **out, const struct fs_live_opts *o, char *err, size_t errlen);

typedef void (*fs_live_fn)(void *arg, const struct fs_capture_pkt *pkt);
/* Waits up to the timeout for packets and passes each to fn; returns how many (0 on timeout), or -1 on
 * error (fs_live_error says what). */
int fs_live_dispatch(struct fs_live *l, fs_live_fn fn, void *arg);
/* Stops a dispatch in progress (from a signal handler). */
void fs_live_break(struct fs_live *l);
const char *fs_live_error(struct fs_live *l);
/* Packets the kernel received and dropped (pcap_stats), when known; 0 on success. */
int fs_live_stats(struct fs_live *l, uint64_t *received, uint64_t *dropped);
void fs_live_close(struct fs_live *l);

#endif
