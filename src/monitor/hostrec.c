/*
 * hostrec.c - the columns of the host statistics record (hostrec.h).
 */
#include "hostrec.h"

#include <stddef.h>

#define M(name, member) { name, offsetof(struct fs_host_window, member), sizeof(((struct fs_host_window *)0)->member) }
#define DIR(d)                                                                                                    \
    M(#d "_flows", d.flows), M(#d "_new_flows", d.new_flows), M(#d "_packets", d.packets), M(#d "_bytes", d.bytes), \
    M(#d "_avg_duration_ns", d.avg_duration_ns), M(#d "_peers", d.peers), M(#d "_ports", d.ports),                \
    M(#d "_fin", d.flags[0]), M(#d "_syn", d.flags[1]), M(#d "_rst", d.flags[2]), M(#d "_psh", d.flags[3]),        \
    M(#d "_ack", d.flags[4]), M(#d "_urg", d.flags[5]), M(#d "_ece", d.flags[6]), M(#d "_cwr", d.flags[7]),        \
    M(#d "_proto1", d.proto[0]), M(#d "_proto1_bytes", d.proto_bytes[0]), M(#d "_proto2", d.proto[1]),            \
    M(#d "_proto2_bytes", d.proto_bytes[1]), M(#d "_proto3", d.proto[2]), M(#d "_proto3_bytes", d.proto_bytes[2]), \
    M(#d "_proto_other_bytes", d.proto_other),                                                                   \
    M(#d "_port1", d.port[0]), M(#d "_port1_bytes", d.port_bytes[0]), M(#d "_port2", d.port[1]),                  \
    M(#d "_port2_bytes", d.port_bytes[1]), M(#d "_port3", d.port[2]), M(#d "_port3_bytes", d.port_bytes[2]),       \
    M(#d "_port4", d.port[3]), M(#d "_port4_bytes", d.port_bytes[3]), M(#d "_port5", d.port[4]),                  \
    M(#d "_port5_bytes", d.port_bytes[4]), M(#d "_port_other_bytes", d.port_other),                              \
    M(#d "_peer1", d.peer[0]), M(#d "_peer1_ipver", d.peer_ipver[0]), M(#d "_peer1_bytes", d.peer_bytes[0]),       \
    M(#d "_peer2", d.peer[1]), M(#d "_peer2_ipver", d.peer_ipver[1]), M(#d "_peer2_bytes", d.peer_bytes[1]),       \
    M(#d "_peer3", d.peer[2]), M(#d "_peer3_ipver", d.peer_ipver[2]), M(#d "_peer3_bytes", d.peer_bytes[2]),       \
    M(#d "_peer4", d.peer[3]), M(#d "_peer4_ipver", d.peer_ipver[3]), M(#d "_peer4_bytes", d.peer_bytes[3]),       \
    M(#d "_peer5", d.peer[4]), M(#d "_peer5_ipver", d.peer_ipver[4]), M(#d "_peer5_bytes", d.peer_bytes[4]),       \
    M(#d "_peer_other_bytes", d.peer_other), M(#d "_top_peer", d.top_peer), M(#d "_top_peer_ipver", d.top_peer_ipver), \
    M(#d "_top_port", d.top_port)

const struct fs_flow_member fs_host_member_array[FS_HOST_NMEMBERS] = {
    M("start_ns", start_ns), M("end_ns", end_ns), M("host", host), M("host_ipver", host_ipver),
    M("sessions", sessions), M("deviation", deviation), M("deviation_metric", deviation_metric),
    DIR(out), DIR(in),
};
