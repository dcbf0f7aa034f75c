/*
 * record.h - records of any store table (schema.h) as CSV or JSON lines, column by column, for the tables
 * that have no field table of their own (the flows table has field.c and writer.h): times (columns ending in
 * "_ns") as seconds under the name without "_ns", 16-byte columns as IPv4 or IPv6 addresses (the version from
 * the column "<name>_ipver", not printed itself; version 0: no address, empty in CSV and null in JSON), other columns as unsigned integers.
 *
 * Ownership: the writer owns the file it opened (not standard output) and closes it in fs_record_writer_close().
 */
#ifndef FS_RECORD_H
#define FS_RECORD_H

#include <stdio.h>

#include "../store/schema.h"
#include "../util/result.h"
#include "writer.h"

struct fs_record_writer {
    FILE *f;
    int owned;
    const struct fs_store_schema *sc;
    enum fs_format format;
    int decimals;                          /* of times: 6 or 9 */
    int ver_col[FS_STORE_MAX_COLS];        /* a 16-byte column's version column, or -1 */
    unsigned char hidden[FS_STORE_MAX_COLS]; /* a version column, printed with its address */
    char names[FS_STORE_MAX_COLS][40];
    char json_key[FS_STORE_MAX_COLS][48];  /* "name": of each column */
    unsigned char name_len[FS_STORE_MAX_COLS]; /* of json_key */
    unsigned char kind[FS_STORE_MAX_COLS];   /* how column c prints (record.c) */
    char *line;                            /* owned: one record's text, written with one fwrite */
    size_t line_cap;
    int failed;                            /* a record could not be formatted (no memory) */
    int header_done;
    unsigned long long written;
};

/* Opens path ("-" = standard output) for records of schema sc. */
fs_result fs_record_writer_open(struct fs_record_writer *w, const char *path, const struct fs_store_schema *sc,
                                enum fs_format format, int time_decimals);
void fs_record_write(struct fs_record_writer *w, const void *rec);
/* Flushes and closes; FS_ERR_IO if anything could not be written. */
fs_result fs_record_writer_close(struct fs_record_writer *w);

#endif
