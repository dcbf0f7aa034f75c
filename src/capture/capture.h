/*
 * capture.h - reads packet records from classic pcap and pcapng files.
 *
 * Why not libpcap's savefile reader: flowsift reads captures in large blocks
 * into one reused buffer (no per-packet system call or copy), must name the byte
 * offset of damage in its errors, must keep pcapng's per-interface link types and
 * timestamp resolutions, and needs a parser small enough to fuzz on its own.
 * libpcap remains the source for live capture.
 *
 * Formats: pcap with micro- or nanosecond timestamps in either byte order, the
 * "modified" pcap of old Linux patches, and pcapng (several sections, several
 * interfaces each with its own link type, if_tsresol and if_tsoffset; EPB, SPB
 * and the obsolete packet block). Other pcapng blocks are skipped.
 *
 * Ownership: fs_capture_open* returns a reader the caller owns and frees with
 * fs_capture_free(). The packet data returned by fs_capture_next() is borrowed
 * and valid until the next call on the same reader.
 */
#ifndef FS_CAPTURE_H
#define FS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/result.h"

/* DLT_* / LINKTYPE_* values this project names (see tcpdump.org/linktypes.html) */
enum {
    FS_LINK_NULL = 0,
    FS_LINK_ETHERNET = 1,
    FS_LINK_RAW = 101,
    FS_LINK_RAW_OPENBSD = 12,
    FS_LINK_RAW_BSDOS = 14,
    FS_LINK_LOOP = 108,
    FS_LINK_LINUX_SLL = 113,
    FS_LINK_IPV4 = 228,
    FS_LINK_IPV6 = 229,
    FS_LINK_LINUX_SLL2 = 276,
};

struct fs_capture_pkt {
    uint64_t ts_ns;         /* nanoseconds since the epoch (if_tsoffset applied) */
    uint64_t offset;        /* byte offset of the record in its file */
    const uint8_t *data;    /* borrowed: valid until the next fs_capture_next() */
    uint32_t caplen;        /* bytes present at data */
    uint32_t wirelen;       /* length on the wire (never below caplen) */
    uint32_t linktype;      /* LINKTYPE_* of the packet's interface */
};

struct fs_capture;

/* Opens a file; path "-" reads standard input. On failure returns an error and,
 * if err is not NULL, a message naming the file. */
fs_result fs_capture_open(struct fs_capture **out, const char *path, char *err, size_t errlen);

/* The same with a small first buffer, for a look at the first packets only. */
fs_result fs_capture_open_peek(struct fs_capture **out, const char *path, char *err, size_t errlen);

/* Reads from a memory buffer (borrowed for the reader's life); name is used in messages. */
fs_result fs_capture_open_mem(struct fs_capture **out, const void *buf, size_t len, const char *name,
                              char *err, size_t errlen);

/* Next packet: FS_OK, FS_EOF at a clean end, or an error (FS_ERR_TRUNC, FS_ERR_FORMAT,
 * FS_ERR_IO, FS_ERR_NOMEM) after which fs_capture_error() says what and where.
 * After an error the reader stays at the error. */
fs_result fs_capture_next(struct fs_capture *c, struct fs_capture_pkt *pkt);

const char *fs_capture_error(const struct fs_capture *c);
uint64_t fs_capture_bytes_read(const struct fs_capture *c);
int fs_capture_is_nanosecond(const struct fs_capture *c); /* pcap ns magic, or pcapng resolution finer than 1 us */
uint64_t fs_capture_skipped_blocks(const struct fs_capture *c); /* pcapng blocks skipped as unknown */

void fs_capture_free(struct fs_capture *c);

/* Largest captured length accepted for one packet, and largest pcapng block. */
#define FS_CAPTURE_MAX_CAPLEN (1u << 20)
#define FS_CAPTURE_MAX_BLOCK (16u << 20)

#endif
