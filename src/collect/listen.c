/*
 * listen.c - export listeners and senders' addresses; see listen.h.
 */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fs_export_listen(const char *spec, int type, int reuseport, int rcvbuf, int *fd_out, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    char host[256] = "";
    const char *port;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof host) {
            snprintf(err, errlen, "'%s': expected [IPV6]:PORT", spec);
            return -1;
        }
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        port = end + 2;
    } else if (strchr(spec, ':')) {
        const char *colon = strrchr(spec, ':');
        if ((size_t)(colon - spec) >= sizeof host) {
            snprintf(err, errlen, "'%s': address too long", spec);
            return -1;
        }
        memcpy(host, spec, (size_t)(colon - spec));
        port = colon + 1;
    } else {
        port = spec;
    }
    char *endp;
    long p = strtol(port, &endp, 10);
    if (!*port || *endp || p < 0 || p > 65535) {
        snprintf(err, errlen, "'%s': bad port", spec);
        return -1;
    }
    int v6 = 1;
    if (!host[0]) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        a->sin6_port = htons((uint16_t)p);
        sl = sizeof *a;
    } else if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)p);
        sl = sizeof *a;
        v6 = 0;
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        sl = sizeof *a;
    } else {
        snprintf(err, errlen, "'%s': '%s' is not an IPv4 or IPv6 address", spec, host);
        return -1;
    }
    int fd = socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "'%s': socket: %s", spec, strerror(errno));
        return -1;
    }
    int zero = 0, one = 1;
    if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(err, errlen, "'%s': SO_REUSEPORT: %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    if (v6 && !host[0]) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero); /* IPv4 too */
    /* a burst of exports must not overflow the socket: ask for 32 MB (the kernel caps it at rmem_max) */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    /* and what does overflow is not lost silently: the kernel tells each read how many it dropped */
    if (type == SOCK_DGRAM) setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || (type == SOCK_STREAM && listen(fd, 64) != 0)) {
        snprintf(err, errlen, "'%s': %s: %s", spec, type == SOCK_STREAM ? "bind/listen" : "bind", strerror(errno));
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

void fs_export_origin_of(const struct sockaddr_storage *ss, struct fs_export_origin *o)
{
    memset(o, 0, sizeof *o);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(o->addr, &a->sin_addr, 4);
        o->ipver = 4;
        o->port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) { /* an IPv4 exporter on the dual-stack socket */
            memcpy(o->addr, (const uint8_t *)&a->sin6_addr + 12, 4);
            o->ipver = 4;
        } else {
            memcpy(o->addr, &a->sin6_addr, 16);
            o->ipver = 6;
        }
        o->port = ntohs(a->sin6_port);
    }
}

