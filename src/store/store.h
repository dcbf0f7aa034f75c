/*
 * store.h - the embedded flow store: a directory of immutable, compressed, columnar segments.
 *
 *   STORE/<table>/<YYYYMMDDTHH>/seg-<t_min>-<writer>-<seq>.fss
 *
 * A table (only "flows" today) is partitioned by the UTC hour of each record's
 * first packet. A segment holds up to FS_STORE_SEGMENT_ROWS records of one
 * partition, column by column, each column compressed with zstd and
 * checksummed (CRC-32C); its header carries the row count and time range and
 * every column its minimum and maximum, so a reader skips what a query cannot
 * match. docs/store-format.md draws the layout.
 *
 * Durability: a segment is written to a hidden temporary name, fsync'ed, renamed
 * into place and its directory fsync'ed, so it appears whole or not at all. A
 * writer killed at any moment leaves at most a temporary file, which
 * fs_store_open() removes and reports. A damaged segment is found by its checksums
 * and reported by name; the other segments stay readable.
 *
 * Ownership: fs_store_writer_new() returns a writer the caller frees with
 * fs_store_writer_close(), which publishes what is buffered. Records passed to
 * the scan callback are lent for the call.
 */
#ifndef FS_STORE_H
#define FS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../flow/flow.h"
#include "../util/result.h"
#include "colpred.h"

#define FS_STORE_SEGMENT_ROWS 65536
#define FS_STORE_GROUP_ROWS 8192    /* rows per row group: a segment file is one or more, decoded separately */
#define FS_DEFAULT_STORE "flowsift.store" /* where producers write when not told: $FLOWSIFT_STORE, else this */

/* Checks the store directory. A writer (create = 1) creates it if needed and
 * removes the temporary files of writers that died (a temporary file carries
 * its writer's pid; a live writer's is never touched); *removed counts them.
 * A reader (create = 0) changes nothing. */
fs_result fs_store_prepare(const char *dir, int create, uint64_t *removed, char *err, size_t errlen);

/* Bytes of the store's files on disk. */
uint64_t fs_store_size(const char *dir);

/* Retention: removes whole partitions of `table`, oldest first: those that ended more than keep_ns before
 * the end of the newest partition (0 = no age limit; age counts in data time, so a replayed capture keeps
 * the window the live run kept), then more while the store is larger than max_bytes (0 = no size limit;
 * the newest partition is never removed for size). Counts what went in *partitions and *bytes. */
fs_result fs_store_retain(const char *dir, const char *table, uint64_t keep_ns, uint64_t max_bytes,
                          uint64_t *partitions, uint64_t *bytes, char *err, size_t errlen);

struct fs_store_writer;

/* segment_rows: the most records of a segment, and how many records make an epoch, after which what is
 * buffered is published (1..FS_STORE_SEGMENT_ROWS; 0 = the most). */
fs_result fs_store_writer_new(struct fs_store_writer **out, const char *dir, const char *table, size_t segment_rows,
                              char *err, size_t errlen);
/* Buffers one record in the row group of its partition; the writer's own thread encodes a full group and
 * appends it to its segment file while producers go on. Several threads may add to one writer: records of all
 * of them share segments (better compressed, fewer files). */
fs_result fs_store_writer_add(struct fs_store_writer *w, const void *record);
/* The same for count records at once (one lock for all: threads batch their records). Records are of the
 * table's type (schema.h): struct fs_flow for "flows". */
fs_result fs_store_writer_add_many(struct fs_store_writer *w, const void *records, size_t count);
/* Publishes what is buffered and frees the writer. Returns the first error met. */
fs_result fs_store_writer_close(struct fs_store_writer *w, char *err, size_t errlen);

/* Decimals that print every time stored in `table` exactly: 6 when all are whole microseconds (the table's
 * .times marker, written by the writers, says so), else 9. */
int fs_store_time_decimals(const char *dir, const char *table);

struct fs_store_scan_stats {
    uint64_t partitions, segments, segments_damaged;
    uint64_t bytes;               /* read from the segments' files */
    uint64_t rows_read;           /* in the segments decoded */
    uint64_t groups;              /* row groups whose header was read */
    uint64_t groups_skipped;      /* not decoded: outside the time range, or pruned */
    uint64_t groups_pruned;       /* of those, ruled out by a condition and the columns' minima and maxima */
    uint64_t rows;                /* passed to fn */
};

typedef int (*fs_store_row_fn)(void *arg, const void *record); /* the table's type; nonzero stops the scan */
typedef void (*fs_store_damage_fn)(void *arg, const char *message);

/* A segment's selected rows, column by column (fs_store_query.batch). */
struct fs_store_batch {
    const uint32_t *sel;               /* row numbers, in order */
    size_t n;
    const void *impl;                  /* the reader's, for fs_store_batch_column() */
};

/* Column `name` of the batch's segment (decoded if the query asked for it): its values, row r at
 * data + r * *width; NULL if the query did not ask for it. */
const uint8_t *fs_store_batch_column(const struct fs_store_batch *b, const char *name, unsigned *width);

/* Called once per segment with the rows that pass the time range and the conditions; nonzero stops. */
typedef int (*fs_store_batch_fn)(void *arg, const struct fs_store_batch *b);

/* What a scan reads. */
struct fs_store_query {
    uint64_t since_ns, until_ns;       /* records whose first packet time is in [since, until); until 0 = no end */
    const char *columns;               /* space-separated columns to decode; NULL = all (others read as zero) */
    const struct fs_colpred *preds;    /* necessary conditions (colpred.h): rows failing one are not passed */
    size_t npreds;
    fs_store_batch_fn batch;           /* if set, called per segment instead of fn per record */
};

/* Calls fn for every record the query selects, partitions and segments in time
 * order. Segments outside the time range, or whose column minima and maxima
 * rule out a condition, are skipped unread. Only the columns asked for and those
 * of the conditions are read and decoded, and their checksums checked. A
 * damaged segment is reported through damage() and skipped. The record passed
 * to fn is lent for the call. Returns FS_OK, or an error if the store cannot be
 * read. qy NULL reads everything. */
fs_result fs_store_scan(const char *dir, const char *table, const struct fs_store_query *qy, fs_store_row_fn fn,
                        fs_store_damage_fn damage, void *arg, struct fs_store_scan_stats *stats, char *err,
                        size_t errlen);

struct fs_store_compact_stats {
    uint64_t partitions;
    uint64_t segments_before, segments_after;
    uint64_t segments_merged;     /* small segments merged, or segments out of time order re-sorted ... */
    uint64_t segments_written;    /* ... into these */
    uint64_t rows;                /* records they hold */
    uint64_t leftovers_removed;   /* segments an interrupted compaction had already replaced */
    uint64_t damaged;             /* segments left alone because they could not be read */
    uint64_t tmp_removed;         /* unpublished files of killed writers and compactions removed */
};

/* Compaction: in every partition of `table`, merges segments of fewer than FS_STORE_SEGMENT_ROWS / 2 records,
 * in time order, into segments of at most FS_STORE_SEGMENT_ROWS. Each merged segment (cseg-...) names the
 * segments it replaces; it is published (write, fsync, rename) before they are removed, and readers ignore a
 * replaced segment that is still there, so a reader never sees a record twice or misses one, and a compaction
 * killed at any moment loses nothing (the next one removes what it left). One compaction at a time per store
 * (a lock file); writers may ingest meanwhile. */
fs_result fs_store_compact(const char *dir, const char *table, struct fs_store_compact_stats *stats, char *err,
                           size_t errlen);

/* Reads one segment file of the flows table (for tests and fuzzing): returns the records in a
 * malloc'ed array the caller frees, or an error with a message. */
fs_result fs_store_read_segment(const uint8_t *buf, size_t len, const char *name, const char *columns,
                                struct fs_flow **rows, size_t *nrows, char *err, size_t errlen);
/* The same for a segment of any table (records of its type, schema.h). */
fs_result fs_store_read_table_segment(const char *table, const uint8_t *buf, size_t len, const char *name,
                                      const char *columns, void **rows, size_t *nrows, char *err, size_t errlen);

#endif
