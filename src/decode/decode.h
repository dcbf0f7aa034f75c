/*
 * decode.h - turns a captured frame into the facts a flow meter needs.
 *
 * The decoder walks link layer (Ethernet, Linux cooked v1/v2, raw IP, BSD
 * null/loopback, PPP, Cisco HDLC, 802.11 with or without radiotap), 802.1Q/QinQ
 * tags, PBB, VN-Tag, FabricPath, MPLS, PPPoE, IPv4 and IPv6 with extension
 * headers, and TCP/UDP/SCTP/ICMP headers; it decapsulates GRE (also in UDP, and
 * ERSPAN I-III), VXLAN, Geneve, GTP-U, IP-in-IP and Teredo so that the inner flow
 * is metered (each can be switched off, and then the outer flow is metered). It never reads past the captured
 * bytes: every read goes through struct fs_rd.
 *
 * Sizes come from the IP header, not the captured length, so a snaplen cut does
 * not change a flow's byte counts. Packets that cannot be metered are counted by
 * reason in struct fs_decode_stats and skipped.
 *
 * A decoder is stateful only through its fragment table, which maps IP fragment
 * ids to the ports of their first fragment so that later fragments are counted
 * in their flow, and its reassembly of fragmented tunnel datagrams (reasm.h).
 * One decoder per reading thread; it owns both.
 */
#ifndef FS_DECODE_H
#define FS_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "../capture/capture.h"
#include "../flow/key.h"

/* Why a packet was not metered, or a fact worth counting about one that was. */
enum fs_decode_reason {
    FS_SKIP_LINKTYPE,       /* link type not supported */
    FS_SKIP_NOT_IP,         /* ARP, LLDP, STP, ...: no IP inside */
    FS_SKIP_TRUNCATED,      /* captured bytes end inside a header flowsift needs */
    FS_SKIP_MALFORMED,      /* header fields contradict each other */
    FS_SKIP_FRAGMENT,       /* a later IP fragment, when asked to meter first fragments only */
    FS_SKIP_COUNT,
    /* counted, still metered: */
    FS_NOTE_FRAGMENT = FS_SKIP_COUNT, /* an IP fragment */
    FS_NOTE_FRAG_ORPHAN,    /* a later fragment whose first fragment was not seen: ports 0 */
    FS_NOTE_TUNNEL,         /* packet was decapsulated */
    FS_NOTE_TUNNEL_BAD,     /* tunnel payload undecodable: outer flow metered instead */
    FS_NOTE_SNAPLEN,        /* frame cut by the snaplen (sizes still from headers) */
    FS_NOTE_HELD,           /* fragments of a tunnel datagram held for reassembly */
    FS_NOTE_REASSEMBLED,    /* tunnel datagrams reassembled: one inner packet each */
    FS_NOTE_REASM_RELEASED, /* held fragments released unassembled (timeout, table full, end): outer packets */
    FS_REASON_COUNT
};

const char *fs_decode_reason_name(unsigned r);

struct fs_decode_stats {
    uint64_t packets;   /* frames offered */
    uint64_t decoded;   /* frames that produced a packet for the meter */
    uint64_t count[FS_REASON_COUNT];
};

enum {
    FS_DECAP_GRE = 1u << FS_TUNNEL_GRE,
    FS_DECAP_VXLAN = 1u << FS_TUNNEL_VXLAN,
    FS_DECAP_GENEVE = 1u << FS_TUNNEL_GENEVE,
    FS_DECAP_GTP = 1u << FS_TUNNEL_GTP,
    FS_DECAP_IPIP = 1u << FS_TUNNEL_IPIP,
    FS_DECAP_TEREDO = 1u << FS_TUNNEL_TEREDO,
    FS_DECAP_ALL = FS_DECAP_GRE | FS_DECAP_VXLAN | FS_DECAP_GENEVE | FS_DECAP_GTP | FS_DECAP_IPIP | FS_DECAP_TEREDO,
};

struct fs_decode_opts {
    unsigned decap;          /* FS_DECAP_* mask: tunnels to look into (default FS_DECAP_ALL) */
    int vlan_in_key;         /* VLAN ids are part of the flow key (default 1) */
    int later_fragments;     /* meter later IP fragments in their flow (default 1); 0 skips them, as
                                nDPI and several other meters do */
    uint64_t frag_timeout_ns;/* how long a first fragment's ports are remembered (default 30 s) */
    int general_only;        /* skip the shortcut for plain Ethernet/IPv4/TCP-UDP frames (default 0): for
                                tests that compare the two ways */
};

void fs_decode_opts_default(struct fs_decode_opts *o);

/* What the meter gets for one packet. */
struct fs_pkt {
    struct fs_flow_key key;  /* as seen: a = sender */
    uint64_t ts_ns;
    uint32_t wirelen;        /* frame length on the wire */
    uint32_t ip_len;         /* total length of the metered IP packet (inner one if tunnelled) */
    uint32_t payload;        /* bytes after the transport header, from IP lengths */
    uint8_t tcp_flags;       /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 */
    uint8_t icmp_type, icmp_code;
    uint8_t has_icmp;
    uint8_t is_fragment;     /* an IP fragment (first or later) */
    /* set by fs_pkt_route() when a packet is handed to another thread, so the meter need not redo them: */
    uint8_t routed;          /* key is canonical, from_b and hash are valid */
    uint8_t from_b;          /* the packet went key.b -> key.a */
    uint64_t hash;           /* fs_key_hash() of the canonical key */
};

struct fs_frag_entry;
struct fs_reasm;

struct fs_decoder {
    struct fs_decode_opts opts;
    struct fs_decode_stats stats;
    struct fs_frag_entry *frags;   /* owned: fixed-size fragment table */
    size_t frag_mask;
    struct fs_reasm *reasm;        /* owned: tunnel datagrams being reassembled (reasm.h) */
};

/* Sets up a caller-owned decoder (allocates the fragment table). */
int fs_decoder_init(struct fs_decoder *d, const struct fs_decode_opts *opts);
void fs_decoder_release(struct fs_decoder *d);

/* Decodes one frame. Returns 1 and fills *out when the packet is to be metered,
 * 0 when it was skipped (the reason is counted in d->stats) or held for
 * reassembly (FS_NOTE_HELD). After each call, fs_decode_pending() must be
 * drained: fragments released from reassembly come out there. */
int fs_decode(struct fs_decoder *d, const struct fs_capture_pkt *cp, struct fs_pkt *out);

/* Next released fragment to meter (an outer packet); 0 when there is none. */
int fs_decode_pending(struct fs_decoder *d, struct fs_pkt *out);

/* End of input: releases every datagram still being reassembled (then drain fs_decode_pending). */
void fs_decode_flush(struct fs_decoder *d);

#endif
