/*
 * ifcounters.c - the members of an interface counter record, by name: the columns of the store's "counters"
 * table (see ifcounters.h).
 */
#include "ifcounters.h"

#define MEMBER(n, m) { n, offsetof(struct fs_ifcounters, m), (uint32_t)sizeof(((struct fs_ifcounters *)0)->m) }

const struct fs_flow_member fs_ifcounters_member_array[FS_IFCOUNTERS_NMEMBERS] = {
    MEMBER("first_ns", first_ns), MEMBER("last_ns", last_ns), MEMBER("exporter", exporter),
    MEMBER("exporter_ipver", exporter_ipver), MEMBER("domain", domain), MEMBER("seq", seq),
    MEMBER("source_type", source_type), MEMBER("source_index", source_index), MEMBER("has_if", has_if),
    MEMBER("if_index", if_index), MEMBER("if_type", if_type), MEMBER("if_speed", if_speed),
    MEMBER("if_direction", if_direction), MEMBER("if_status", if_status), MEMBER("in_octets", in_octets),
    MEMBER("in_ucast", in_ucast), MEMBER("in_mcast", in_mcast), MEMBER("in_bcast", in_bcast),
    MEMBER("in_discards", in_discards), MEMBER("in_errors", in_errors), MEMBER("in_unknown", in_unknown),
    MEMBER("out_octets", out_octets), MEMBER("out_ucast", out_ucast), MEMBER("out_mcast", out_mcast),
    MEMBER("out_bcast", out_bcast), MEMBER("out_discards", out_discards), MEMBER("out_errors", out_errors),
    MEMBER("promiscuous", promiscuous),
};

