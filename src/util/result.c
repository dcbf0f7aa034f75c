/* result.c - text for each fs_result code. */
#include "result.h"

const char *fs_strerror(fs_result rc)
{
    switch (rc) {
    case FS_OK: return "success";
    case FS_EOF: return "end of input";
    case FS_ERR_IO: return "input/output error";
    case FS_ERR_FORMAT: return "malformed input";
    case FS_ERR_TRUNC: return "truncated input";
    case FS_ERR_NOMEM: return "out of memory";
    case FS_ERR_ARG: return "invalid argument";
    case FS_ERR_UNSUPP: return "not supported";
    }
    return "unknown error";
}
