/*
 * writer.h - prints flow records as CSV (with a header line) or JSON lines.
 *
 * The columns are a list of field indexes (see field.h); the same list gives the
 * CSV header and the JSON keys. Values: integers as digits, reals fixed-point with
 * the field's decimals, times as seconds since the epoch with 6 or 9 decimals,
 * addresses in their usual text form; a missing value is an empty CSV cell and
 * JSON null.
 *
 * Ownership: the writer owns its outbuf (and the descriptor when it opened a path).
 */
#ifndef FS_WRITER_H
#define FS_WRITER_H

#include "../field/field.h"
#include "../util/outbuf.h"

enum fs_format { FS_FORMAT_CSV, FS_FORMAT_JSON };

#define FS_WRITER_MAX_FIELDS 256

struct fs_writer {
    struct fs_outbuf out;
    enum fs_format format;
    int fields[FS_WRITER_MAX_FIELDS];
    const struct fs_field *fds[FS_WRITER_MAX_FIELDS]; /* their descriptions */
    struct { uint16_t off[2]; uint8_t width[2]; uint8_t how; } direct[FS_WRITER_MAX_FIELDS]; /* fs_field_members() */
    char labels[FS_WRITER_MAX_FIELDS][FS_FIELD_LABEL_MAX]; /* column names and JSON keys */
    int nfields;
    int time_decimals;         /* 6 or 9 */
    struct fs_field_ctx ctx;
    uint64_t records;
    int header_done;
};

/* Formats one value as CSV (json = 0) or JSON would carry it. */
void fs_put_value(struct fs_outbuf *o, int json, int time_decimals, const struct fs_field *fd, const struct fs_value *v);

/* Opens path ("-" = standard output). The field list and labels are copied;
 * labels may be NULL (then the fields' own names are used). */
fs_result fs_writer_open(struct fs_writer *w, const char *path, enum fs_format format, const int *fields,
                         char (*labels)[FS_FIELD_LABEL_MAX], int nfields, const struct fs_field_ctx *ctx);
/* The same on a descriptor the writer does not own (not closed). */
fs_result fs_writer_init_fd(struct fs_writer *w, int fd, enum fs_format format, const int *fields,
                            char (*labels)[FS_FIELD_LABEL_MAX], int nfields, const struct fs_field_ctx *ctx);
/* Sets the timestamp precision before the first record (6 = us, 9 = ns). */
void fs_writer_set_time_decimals(struct fs_writer *w, int decimals);
void fs_writer_flow(struct fs_writer *w, const struct fs_flow *flow);

/* Another writer to the same descriptor for another thread: same format and
 * columns, its own buffer, writes serialised by `lock`; no header. */
fs_result fs_writer_clone(struct fs_writer *w, const struct fs_writer *from, pthread_mutex_t *lock);
/* Writes the CSV header now (before clones start writing). */
void fs_writer_header(struct fs_writer *w);
/* Writes the CSV header if no record was written yet, flushes and closes (a
 * clone's descriptor stays open: its original owns it). */
fs_result fs_writer_close(struct fs_writer *w);

#endif
