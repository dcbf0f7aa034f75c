/*
 * ifcounters.h - interface counter records: the counters an sFlow agent samples from an interface (sFlow v5
 * counter samples, generic interface counters, RFC 2233's ifTable), kept as records of their own in the
 * store's "counters" table.
 *
 * The counters are the agent's, as sent: cumulative since the interface started counting (rates are the
 * differences of successive samples of one agent, sub-agent and source). A sample without generic interface
 * counters (only Ethernet, VLAN or processor counters) keeps its source and has has_if 0.
 */
#ifndef FS_IFCOUNTERS_H
#define FS_IFCOUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

struct fs_ifcounters {
    uint64_t first_ns, last_ns;        /* when the sample came (both: a record covers one instant) */
    uint8_t exporter[16];              /* the agent (IPv4 in the first 4 bytes) */
    uint32_t domain;                   /* sub-agent id */
    uint32_t seq;                      /* the sample's sequence number (per source) */
    uint32_t source_type, source_index; /* the data source: type 0 = ifIndex */
    uint64_t if_speed;                 /* bits per second */
    uint64_t in_octets, out_octets;
    uint32_t if_index, if_type, if_direction, if_status; /* direction 1 full, 2 half duplex; status bit 0 admin up,
                                                             bit 1 operationally up */
    uint32_t in_ucast, in_mcast, in_bcast, in_discards, in_errors, in_unknown;
    uint32_t out_ucast, out_mcast, out_bcast, out_discards, out_errors;
    uint32_t promiscuous;
    uint8_t exporter_ipver;            /* 4 or 6 */
    uint8_t has_if;                    /* the sample carried generic interface counters */
    uint8_t pad[6];
};

#define FS_IFCOUNTERS_NMEMBERS 28
extern const struct fs_flow_member fs_ifcounters_member_array[FS_IFCOUNTERS_NMEMBERS]; /* the "counters" table's columns */

#endif
