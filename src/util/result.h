/*
 * result.h - the one result type of flowsift and its strerror.
 *
 * Every fallible library function returns an fs_result; FS_OK is zero so
 * `if (rc)` reads naturally. Helpers that report an error also return it, in the
 * style of git's `return error(...)`.
 */
#ifndef FS_RESULT_H
#define FS_RESULT_H

typedef enum fs_result {
    FS_OK = 0,
    FS_EOF,          /* orderly end of input: not an error */
    FS_ERR_IO,       /* read/write/open failed; errno is meaningful */
    FS_ERR_FORMAT,   /* input bytes do not follow their format */
    FS_ERR_TRUNC,    /* input ended in the middle of a record */
    FS_ERR_NOMEM,    /* allocation failed or a memory cap was reached */
    FS_ERR_ARG,      /* bad option, argument or expression */
    FS_ERR_UNSUPP,   /* valid but not supported (e.g. an unknown link type) */
} fs_result;

const char *fs_strerror(fs_result rc);

#endif
