/*
 * live.c - live capture through libpcap; see live.h.
 */
#include "live.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fs_live {
    pcap_t *p;
    int linktype;
    fs_live_fn fn;
    void *arg;
    int nanosecond;
    int timeout_ms;
    int fd;                   /* pollable descriptor, or -1 */
};

fs_result fs_live_open(struct fs_live **out, const struct fs_live_opts *o, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    *out = NULL;
    struct fs_live *l = calloc(1, sizeof *l);
    if (!l) return FS_ERR_NOMEM;
    l->p = pcap_create(o->iface, ebuf);
    if (!l->p) {
        snprintf(err, errlen, "cannot capture on '%s': %s", o->iface, ebuf);
        free(l);
        return FS_ERR_IO;
    }
    pcap_set_snaplen(l->p, o->snaplen > 0 ? o->snaplen : 262144);
    pcap_set_promisc(l->p, o->promisc);
    pcap_set_timeout(l->p, o->timeout_ms > 0 ? o->timeout_ms : 100);
    pcap_set_buffer_size(l->p, (o->buffer_mb > 0 ? o->buffer_mb : 64) << 20);
    l->nanosecond = pcap_set_tstamp_precision(l->p, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int rc = pcap_activate(l->p);
    if (rc < 0) {
        snprintf(err, errlen, "cannot capture on '%s': %s", o->iface,
                 rc == PCAP_ERROR ? pcap_geterr(l->p) : pcap_statustostr(rc));
        fs_live_close(l);
        return FS_ERR_IO;
    }
    if (o->bpf && *o->bpf) {
        struct bpf_program prog;
        if (pcap_compile(l->p, &prog, o->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0 || pcap_setfilter(l->p, &prog) != 0) {
            snprintf(err, errlen, "BPF filter '%s': %s", o->bpf, pcap_geterr(l->p));
            fs_live_close(l);
            return FS_ERR_ARG;
        }
        pcap_freecode(&prog);
    }
    l->linktype = pcap_datalink(l->p);
    l->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 100;
    /* Non-blocking reads after a poll with our own timeout: with TPACKET_V3 a blocking read waits for the
     * kernel to retire a block, which it never does while no packet comes, so an idle interface would hold
     * the caller (and the windows it should close) indefinitely. */
    l->fd = pcap_get_selectable_fd(l->p);
    if (l->fd >= 0 && pcap_setnonblock(l->p, 1, ebuf) != 0) l->fd = -1;
    *out = l;
    return FS_OK;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct fs_live *l = (struct fs_live *)user;
    struct fs_capture_pkt cp;
    cp.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec * (l->nanosecond ? 1u : 1000u);
    cp.offset = 0;
    cp.data = bytes;
    cp.caplen = h->caplen;
    cp.wirelen = h->len < h->caplen ? h->caplen : h->len;
    cp.linktype = (uint32_t)l->linktype;
    l->fn(l->arg, &cp);
}

int fs_live_dispatch(struct fs_live *l, fs_live_fn fn, void *arg)
{
    l->fn = fn;
    l->arg = arg;
    if (l->fd >= 0) {
        struct pollfd pfd = { l->fd, POLLIN, 0 };
        if (poll(&pfd, 1, l->timeout_ms) == 0) return 0;
    }
    int n = pcap_dispatch(l->p, -1, on_packet, (u_char *)l);
    if (n == PCAP_ERROR_BREAK) return 0;
    return n < 0 ? -1 : n;
}

void fs_live_break(struct fs_live *l) { pcap_breakloop(l->p); }

const char *fs_live_error(struct fs_live *l) { return pcap_geterr(l->p); }

int fs_live_stats(struct fs_live *l, uint64_t *received, uint64_t *dropped)
{
    struct pcap_stat st;
    if (pcap_stats(l->p, &st) != 0) return -1;
    *received = st.ps_recv;
    *dropped = (uint64_t)st.ps_drop + st.ps_ifdrop;
    return 0;
}

void fs_live_close(struct fs_live *l)
{
    if (!l) return;
    if (l->p) pcap_close(l->p);
    free(l);
}
