/*
 * group.h - grouping records by fields and aggregating them: the top-talker questions.
 *
 *   --group-by srcaddr/24,dstp   --agg count,sum:size,max:duration   --top 10 --by sum:size
 *
 * A group key is a list of fields; an address field may carry a prefix length
 * (srcaddr/24, dstaddr/64) and a time field a bucket in seconds (first/3600).
 * Aggregates are count, sum:F, min:F, max:F and avg:F over any numeric field
 * (sums are kept in double precision: exact up to 2^53), and distinct:F, the
 * number of distinct values of any field (exact: a set of 64-bit hashes per
 * group, so memory grows with the distinct values). Groups are
 * kept in a hash table in memory (one entry per distinct key) and written sorted
 * by one aggregate, largest first.
 *
 * Ownership: fs_group_new() returns a grouper the caller frees with fs_group_free().
 */
#ifndef FS_GROUP_H
#define FS_GROUP_H

#include <stdint.h>

#include "../field/field.h"
#include "../output/writer.h"
#include "../store/store.h"
#include "../util/result.h"

struct fs_group;

/* Parses the specs (agg may be NULL: count,sum:packets,sum:size; by may be NULL: the first aggregate). */
fs_result fs_group_new(struct fs_group **out, const char *group_by, const char *agg, const char *by, char *err,
                       size_t errlen);
fs_result fs_group_add(struct fs_group *g, struct fs_flow_view *view);

/* Whether every key and aggregate is a stored column, a sum of two, or an address, with no distinct count: then
 * fs_group_add_batch() adds a scan's rows straight from its columns, with the results of fs_group_add(). */
int fs_group_columnar(const struct fs_group *g);
fs_result fs_group_add_batch(struct fs_group *g, const struct fs_store_batch *b);
/* Writes at most `top` groups (0 = all), sorted, as CSV with a header or JSON lines. */
fs_result fs_group_write(struct fs_group *g, struct fs_outbuf *o, int json, uint64_t top);
uint64_t fs_group_count(const struct fs_group *g);
/* Calls fn for every field the grouping reads (keys and aggregates). */
void fs_group_fields(const struct fs_group *g, void (*fn)(void *arg, int field), void *arg);
void fs_group_free(struct fs_group *g);

#endif
