/*
 * schema.c - the store's tables: "flows" and "counters" (see schema.h).
 */
#include "schema.h"

#include <string.h>

#include "../flow/ifcounters.h"

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

static const struct fs_store_schema schemas[] = {
    { "flows", sizeof(struct fs_flow), fs_flow_member_array, FS_FLOW_NMEMBERS, flow_lane_width, flow_row_kind,
      flow_zero_in },
    { "counters", sizeof(struct fs_ifcounters), fs_ifcounters_member_array, FS_IFCOUNTERS_NMEMBERS, lanes_of_8, NULL,
      NULL },
};
_Static_assert(FS_FLOW_NMEMBERS <= FS_STORE_MAX_COLS && FS_IFCOUNTERS_NMEMBERS <= FS_STORE_MAX_COLS,
               "FS_STORE_MAX_COLS holds every table's columns");

const struct fs_store_schema *fs_store_schema_find(const char *table)
{
    for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
        if (strcmp(schemas[i].table, table) == 0) return &schemas[i];
    return NULL;
}
