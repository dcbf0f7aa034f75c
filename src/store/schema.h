/*
 * schema.h - the tables a store holds. Each is a fixed-size record whose members are its columns; the store
 * writes and reads any such table the same way (store.c). Three exist: "flows" (struct fs_flow, flow.h),
 * "counters" (struct fs_ifcounters, ifcounters.h: sFlow interface counter samples) and "hosts" (struct
 * fs_host_window, monitor/hostrec.h: per-host window statistics).
 *
 * Column 0 is the time that partitions the table and that time ranges select, column 1 the end of the time a
 * record covers (both u64 nanoseconds since 1970, column 1 never before column 0). Columns whose name ends in
 * "_ns" are times.
 *
 * Ownership: schemas are static; fs_store_schema_find() lends one for the life of the program.
 */
#ifndef FS_STORE_SCHEMA_H
#define FS_STORE_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "../flow/flow.h"

#define FS_STORE_MAX_COLS 128

struct fs_store_schema {
    const char *table;
    size_t size;                            /* bytes of a record */
    const struct fs_flow_member *cols;      /* name, offset and width of each column */
    size_t ncols;
    uint32_t (*lane_width)(uint32_t width); /* a column wider than 8 bytes is stored as lanes of 4 or 8 bytes */
    /* Optional, for columns known to be zero: the kind of a row (bits), and whether column c is zero in every
     * row when all rows of a group share the kinds in `kinds` (the AND of theirs). */
    unsigned (*row_kind)(const void *row);
    int (*zero_in)(size_t c, unsigned kinds);
    /* Optional: the column whose values column c never goes below in a record (a maximum's minimum, a last
     * time's first), or -1. The store keeps c as its excess over that column when every row allows it (codec 6,
     * store-format.md). A reference column has no reference of its own. */
    int (*ref_of)(size_t c);
};

/* The schema of `table`, or NULL if the store has no such table. */
const struct fs_store_schema *fs_store_schema_find(const char *table);

/* The u64 at column c of a record. */
static inline uint64_t fs_store_u64(const struct fs_store_schema *s, const void *rec, size_t c)
{
    uint64_t v;
    __builtin_memcpy(&v, (const uint8_t *)rec + s->cols[c].off, 8);
    return v;
}

#endif
