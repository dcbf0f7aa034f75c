/*
 * schema.c - the store's tables: "flows" and "counters" (see schema.h).
 */
#include "schema.h"

#include <string.h>

#include "../flow/ifcounters.h"
#include "../monitor/hostrec.h"

/* The arrays of u32 counters (TCP flags) are lanes of 4 bytes; addresses and 128-bit sums lanes of 8. */
static uint32_t flow_lane_width(uint32_t width) { return width == 4 * FS_TCP_NFLAGS ? 4 : 8; }
static uint32_t lanes_of_8(uint32_t width) { (void)width; return 8; }

enum { KIND_EXPORTED = 1, KIND_PACKETS = 2 };

/* Records from flow exports leave most members zero, records metered from packets the provenance of exports. */
static unsigned flow_row_kind(const void *row)
{
    const struct fs_flow *f = row;
    unsigned k = 0;
    if (f->state & FS_FLOW_EXPORTED) k |= KIND_EXPORTED;
    else if (f->source == FS_SOURCE_PACKETS) k |= KIND_PACKETS;
    return k;
}

static int flow_zero_in(size_t c, unsigned kinds)
{
    return ((kinds & KIND_EXPORTED) && fs_flow_member_zero_in_exports(c)) ||
           ((kinds & KIND_PACKETS) && fs_flow_member_zero_in_packets(c));
}

/* A maximum above its minimum, a time after another of the same record: stored as the excess, mostly zero or
 * small (the flows of one or two packets). */
static const char *const FLOW_REFS[][2] = {
    { "last_ns", "d0.last_ns" },       { "d1.last_ns", "d1.first_ns" }, { "iat_max", "iat_min" },
    { "d0.iat_max", "d0.iat_min" },    { "d1.iat_max", "d1.iat_min" },  { "d0.size_max", "d0.size_min" },
    { "d1.size_max", "d1.size_min" },  { "d0.pay_max", "d0.pay_min" },  { "d1.pay_max", "d1.pay_min" },
};

static int flow_ref_of(size_t c)
{
    if (c >= FS_FLOW_NMEMBERS) return -1;
    for (size_t i = 0; i < sizeof FLOW_REFS / sizeof FLOW_REFS[0]; i++)
        if (strcmp(fs_flow_member_array[c].name, FLOW_REFS[i][0]) == 0) {
            const struct fs_flow_member *r = fs_flow_member_find(FLOW_REFS[i][1]);
            return r ? (int)(r - fs_flow_member_array) : -1;
        }
    return -1;
}

static const struct fs_store_schema schemas[] = {
    { "flows", sizeof(struct fs_flow), fs_flow_member_array, FS_FLOW_NMEMBERS, flow_lane_width, flow_row_kind,
      flow_zero_in, flow_ref_of },
    { "counters", sizeof(struct fs_ifcounters), fs_ifcounters_member_array, FS_IFCOUNTERS_NMEMBERS, lanes_of_8, NULL,
      NULL, NULL },
    { "hosts", sizeof(struct fs_host_window), fs_host_member_array, FS_HOST_NMEMBERS, lanes_of_8, NULL, NULL, NULL },
};
_Static_assert(FS_FLOW_NMEMBERS <= FS_STORE_MAX_COLS && FS_IFCOUNTERS_NMEMBERS <= FS_STORE_MAX_COLS &&
                   FS_HOST_NMEMBERS <= FS_STORE_MAX_COLS,
               "FS_STORE_MAX_COLS holds every table's columns");

const struct fs_store_schema *fs_store_schema_find(const char *table)
{
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
        if (strcmp(schemas[i].table, table) == 0) return &schemas[i];
    return NULL;
}
