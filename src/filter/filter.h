/*
 * filter.h - the expression language that chooses flow records.
 *
 * The same language serves `extract --filter` and (later) `query`:
 *
 *   expr    := term { ("or" | "||") term }
 *   term    := factor { ("and" | "&&") factor }
 *   factor  := ("not" | "!") factor | "(" expr ")" | primary
 *   primary := FIELD [OP] VALUE            e.g. paysize == 0, dstp 22, end == rst
 *            | ["src" | "dst"] "host" ADDR  either address (or the named one) equals ADDR
 *            | ["src" | "dst"] "net" PREFIX address within PREFIX (10.0.0.0/8, 2001:db8::/32)
 *            | ["src" | "dst"] "port" N     either port (or the named one) equals N
 *            | "proto" NAME|N | "tcp" | "udp" | "icmp" | "icmp6" | "sctp" | "gre" | "esp"
 *            | "ip4" | "ip6"
 *   OP      := == | = | != | < | <= | > | >=     (absent: ==)
 *   VALUE   := number [k|M|G] | address | word
 *
 * Words are case-sensitive; keywords are lower case. A syntax error reports the
 * 1-based column where it was found.
 *
 * Ownership: fs_filter_compile returns a filter the caller frees with fs_filter_free().
 */
#ifndef FS_FILTER_H
#define FS_FILTER_H

#include <stddef.h>

#include "../field/field.h"
#include "../store/colpred.h"
#include "../util/result.h"

struct fs_filter;

/* Compiles expr. On error returns FS_ERR_ARG, writes a message to err and the
 * 1-based column of the problem to *col. */
fs_result fs_filter_compile(const char *expr, struct fs_filter **out, char *err, size_t errlen, size_t *col);

/* 1 if the record matches. */
int fs_filter_match(const struct fs_filter *f, const struct fs_flow *flow, const struct fs_field_ctx *ctx);

void fs_filter_free(struct fs_filter *f);

/* Calls fn for every field the filter reads; field -1 stands for the key (addresses, ports, IP version). */
void fs_filter_fields(const struct fs_filter *f, void (*fn)(void *arg, int field), void *arg);

/* Fills out[0..max) with necessary conditions of the filter on stored columns (colpred.h): the conjuncts
 * of its top level that have that form. Returns how many; *whole (if not NULL) says whether they are the whole
 * filter (a record passes it exactly when it passes them all). */
size_t fs_filter_colpreds(const struct fs_filter *f, struct fs_colpred *out, size_t max, int *whole);

/* Protocol number by name ("tcp" -> 6), or -1. */
int fs_proto_by_name(const char *name);

#endif
