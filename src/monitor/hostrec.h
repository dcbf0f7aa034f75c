/*
 * hostrec.h - the host statistics record: what one monitored host did in one window, traffic it sent ("out")
 * and traffic it received ("in") apart. `flowsift monitor` writes these to the store's "hosts" table and as
 * JSON lines; docs/flowsift-monitor.md defines every column.
 *
 * Each conversation's traffic in a window is seen as up to two one-way flows (as Stream4Flow and NetFlow v5
 * see it): the packets from A to B are a flow A sent and B received. So for a host, "out" counts the flows
 * it sent packets in, their packets, bytes and TCP flags, the distinct peers it sent to and the distinct
 * destination ports it sent to, and the heaviest protocols, destination ports and peers by bytes; "in" the
 * same for what it received, where the ports are its own destination ports.
 */
#ifndef FS_HOSTREC_H
#define FS_HOSTREC_H

#include <stdint.h>

#include "../flow/flow.h"

#define FS_HOST_TOP_PROTOS 3
#define FS_HOST_TOP_PORTS 5
#define FS_HOST_TOP_PEERS 5

struct fs_host_dir {
    uint64_t flows;                /* one-way flows with packets in the window */
    uint64_t new_flows;            /* of those, flows whose conversation began in the window */
    uint64_t packets, bytes;
    uint64_t avg_duration_ns;      /* mean duration of those flows' conversations so far */
    uint32_t peers, ports;         /* distinct peers and destination ports (HyperLogLog, exact up to 256) */
    uint32_t flags[FS_TCP_NFLAGS]; /* packets with each TCP flag (flows with it, for flow exports) */
    uint32_t proto[FS_HOST_TOP_PROTOS];
    uint64_t proto_bytes[FS_HOST_TOP_PROTOS];
    uint64_t proto_other;          /* bytes of the protocols not listed */
    uint32_t port[FS_HOST_TOP_PORTS];
    uint64_t port_bytes[FS_HOST_TOP_PORTS];
    uint64_t port_other;
    uint8_t peer[FS_HOST_TOP_PEERS][16];
    uint64_t peer_bytes[FS_HOST_TOP_PEERS];
    uint64_t peer_other;
    uint8_t top_peer[16];          /* the peer with the most flows: the most visited destination (out) */
    uint32_t top_port;             /* the destination port with the most flows: the most used port */
    uint8_t peer_ipver[FS_HOST_TOP_PEERS];
    uint8_t top_peer_ipver;
    uint8_t pad[2];
};

struct fs_host_window {
    uint64_t start_ns, end_ns;     /* the window [start, end) */
    uint8_t host[16];
    uint64_t sessions;             /* conversations of the host with packets in the window */
    uint32_t deviation;            /* largest deviation of a metric from the host's profile, in hundredths of
                                      a standard deviation (0 = no profile yet) */
    uint8_t deviation_metric;      /* enum fs_host_metric of that metric */
    uint8_t host_ipver;
    uint8_t pad[2];
    struct fs_host_dir out, in;
};

#define FS_HOST_NMEMBERS 111
extern const struct fs_flow_member fs_host_member_array[FS_HOST_NMEMBERS]; /* the "hosts" table's columns */

#endif
