/*
 * cli.h - what the subcommands of the flowsift program share: option value
 * parsers, human-readable numbers, the progress bar and error printing.
 */
#ifndef FS_CLI_H
#define FS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "../field/field.h"

#define FS_VERSION "0.1.0"

/* "1.5", "250ms", "2m", "1h", "30s" -> ns. Returns 0 on success. */
int fs_parse_duration(const char *s, uint64_t *ns);
/* "1000", "10k", "4M", "2G" (powers of 1000) -> count. */
int fs_parse_count(const char *s, uint64_t *v);
/* "4G", "512M", "100k" (powers of 1024) or a plain byte count. */
int fs_parse_bytes(const char *s, uint64_t *v);

/* 1234567 -> "1,234,567" into buf. */
const char *fs_human_int(uint64_t v, char *buf, size_t len);
/* bytes -> "1.2 GB" (powers of 1000). */
const char *fs_human_bytes(double v, char *buf, size_t len);

/* Prints "flowsift CMD: message" to stderr and returns 1 (for use as exit code). */
int fs_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fs_cli_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress bar on stderr, redrawn at most 5 times a second; flows UINT64_MAX = not known. */
struct fs_progress {
    int enabled;
    uint64_t total_bytes;     /* 0 = unknown */
    double start, last_draw;
};
void fs_progress_init(struct fs_progress *p, int enabled, uint64_t total_bytes);
void fs_progress_update(struct fs_progress *p, uint64_t bytes, uint64_t packets, uint64_t flows);
void fs_progress_done(struct fs_progress *p);

double fs_now_seconds(void);   /* monotonic clock */
uint64_t fs_wall_ns(void);     /* the time of day, ns since 1970 (what packets and exports are stamped with) */
double fs_cpu_seconds(void);   /* user + system of this process */

/* "1700000000.5", "2024-05-01T13:00:00Z" (or a prefix of it), "now", "-1h" (relative to now) -> ns. */
int fs_parse_time(const char *s, uint64_t *ns);

struct fs_filter;
/* Compiles a filter; on a syntax error prints it with a caret under the column and returns 2. */
int fs_cli_filter(const char *cmd, const char *expr, struct fs_filter **out);
/* Parses --fields (names or a preset) into fields/labels (FS_WRITER_MAX_FIELDS each); prints the bad
 * name and returns -1 on error, else the count. */
int fs_cli_fields(const char *cmd, const char *spec, int *fields, char (*labels)[FS_FIELD_LABEL_MAX]);

/* --progress on|off|auto: 1, 0 or -1 (auto: when standard error is a terminal), or -2 after saying what is
 * wrong. */
int fs_cli_progress_mode(const char *cmd, const char *arg);

/* --export-version: 9 or 10, or -1 after saying what is wrong. */
int fs_cli_export_version(const char *cmd, const char *arg);

int fs_cmd_extract(int argc, char **argv);
int fs_cmd_query(int argc, char **argv);
int fs_cmd_collect(int argc, char **argv);
int fs_cmd_stats(int argc, char **argv);
int fs_cmd_retain(int argc, char **argv);
int fs_cmd_compact(int argc, char **argv);
int fs_cmd_monitor(int argc, char **argv);
int fs_cmd_fields(int argc, char **argv);

#endif
