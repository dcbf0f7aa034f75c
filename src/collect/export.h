/*
 * export.h - flow records out as IPFIX (RFC 7011) or NetFlow v9 (RFC 3954): over UDP to a collector, or as an
 * IPFIX file (RFC 5655), so that existing collectors (nfcapd, pmacct, IPFIXcol, Logstash, ...) take flowsift's
 * flows.
 *
 * Each direction of a record that has packets becomes one unidirectional data record (source, destination,
 * ports, protocol, TCP flags seen, packets, bytes, first and last time in milliseconds, VLAN, interfaces, the
 * ICMP type and code of the flow's first ICMP packet, the end reason), as NetFlow exporters send them and every collector understands. IPv4 and IPv6 records use two
 * templates, sent in the first message and again every 32 messages over UDP (a collector that starts later,
 * or lost a datagram, learns them), and once at the start of a file. Messages stay under 1,400 bytes over UDP
 * (no IP fragmentation on common paths) and 32 KB in files. Sequence numbers follow the RFCs (IPFIX: data
 * records; v9: messages). NetFlow v9 times are uptime milliseconds: the exporter's "boot" is put one second
 * before the first record it sends, and the header's clock follows the records' time (a replayed capture keeps
 * its times).
 *
 * Thread safety: one exporter may be fed by several threads (fs_flow_export_many takes a lock).
 * Ownership: fs_flow_exporter_new() returns an exporter the caller frees with fs_flow_exporter_close(), which
 * sends what is buffered.
 */
#ifndef FS_EXPORT_H
#define FS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../flow/flow.h"
#include "../util/result.h"

struct fs_flow_exporter;

/* target: "HOST:PORT" or "[IPV6]:PORT" (UDP), or with file = 1 a path for an IPFIX file. version: 10 (IPFIX) or
 * 9 (NetFlow v9; not with file). domain: the observation domain / source id. */
fs_result fs_flow_exporter_new(struct fs_flow_exporter **out, const char *target, int file, int version, uint32_t domain,
                               char *err, size_t errlen);
/* Exports n records (both directions of each, as they have packets). */
fs_result fs_flow_export_many(struct fs_flow_exporter *x, const struct fs_flow *f, size_t n);
/* Sends what is buffered and frees the exporter; *records and *messages (may be NULL) say what went out. */
fs_result fs_flow_exporter_close(struct fs_flow_exporter *x, uint64_t *records, uint64_t *messages, char *err,
                                 size_t errlen);

#endif
