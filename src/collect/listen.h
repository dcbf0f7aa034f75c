/*
 * listen.h - sockets that receive flow exports, and who sent a datagram: shared by `flowsift collect` and
 * `flowsift monitor --listen`.
 *
 * A listener spec is PORT, ADDR:PORT or [IPV6]:PORT. A bare port listens on every IPv4 and IPv6 address (one
 * dual-stack socket); IPv4 senders on it are reported as IPv4, not as mapped IPv6 addresses.
 *
 * Ownership: the caller owns the descriptor fs_export_listen() returns and closes it.
 */
#ifndef FS_LISTEN_H
#define FS_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#include "netflow.h"

/* Opens a bound socket of `type` (SOCK_DGRAM, or SOCK_STREAM listening) for spec, with a receive buffer of
 * rcvbuf bytes (the kernel caps it at net.core.rmem_max) and, for UDP, the kernel's count of datagrams it
 * dropped (SO_RXQ_OVFL). reuseport: one of several sockets on the same address (SO_REUSEPORT), the kernel
 * spreading exporters over them by a hash of their address and port. 0, or -1 with a message naming spec. */
int fs_export_listen(const char *spec, int type, int reuseport, int rcvbuf, int *fd_out, char *err, size_t errlen);

/* The exporter a datagram or connection came from. */
void fs_export_origin_of(const struct sockaddr_storage *ss, struct fs_export_origin *o);

#endif
