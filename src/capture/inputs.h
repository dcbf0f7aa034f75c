/*
 * inputs.h - the list of capture files that make one continuous capture.
 *
 * Paths may name files, directories (read recursively; hidden entries and files
 * that are not captures are skipped and counted) or "-" for standard input.
 * fs_inputs_order() peeks at each file's first packet and orders the list by
 * that timestamp, so a capture split into pieces (as by tcpdump -C or editcap -c)
 * is read back in order whatever the file names say.
 *
 * Ownership: the list owns its path strings; fs_inputs_release() frees them.
 */
#ifndef FS_INPUTS_H
#define FS_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/result.h"

struct fs_input {
    char *path;            /* owned */
    uint64_t size;         /* bytes, 0 for standard input */
    uint64_t first_ns;     /* first packet time; UINT64_MAX when the file has no packet */
    int nanosecond;        /* file carries sub-microsecond timestamps */
    int from_dir;          /* found by walking a directory */
};

struct fs_input_list {
    struct fs_input *v;    /* owned */
    size_t n, cap;
    uint64_t skipped_not_capture; /* directory entries that are not captures */
    uint64_t total_bytes;
};

void fs_inputs_init(struct fs_input_list *l);
void fs_inputs_release(struct fs_input_list *l);

/* Adds a path (file, directory or "-"). On error writes a message naming the path. */
fs_result fs_inputs_add(struct fs_input_list *l, const char *path, char *err, size_t errlen);

/* Adds every non-empty line of file `listpath` ("-" = standard input) as a path. */
fs_result fs_inputs_add_from(struct fs_input_list *l, const char *listpath, char *err, size_t errlen);

/* Peeks at first timestamps and sorts (stable) by them. Files in a directory that
 * turn out not to be captures are dropped and counted; a named file that is not
 * a capture stays, so that reading it reports the error. */
void fs_inputs_order(struct fs_input_list *l);

#endif
