/*
 * export.c - IPFIX and NetFlow v9 messages from flow records; see export.h.
 *
 * Template (both versions; v9 field types share the IPFIX numbers below 128): source and destination address
 * (8 and 12, or 27 and 28 for IPv6), ports 7 and 11, protocol 4, TCP flags 6 (one byte), bytes 1 and packets 2
 * (eight bytes each), ingress and egress interface 10 and 14, VLAN 58, ICMP type and code 32 (139 for IPv6),
 * and the times: IPFIX
 * flowStartMilliseconds and flowEndMilliseconds (152, 153, eight bytes) and flowEndReason (136); v9
 * FIRST_SWITCHED and LAST_SWITCHED (22, 21: uptime milliseconds, four bytes).
 */
#include "export.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_MAX 1400
#define FILE_MAX 32768
#define TEMPLATE_EVERY 32       /* UDP messages between template resends */
#define TID_V4 256
#define TID_V6 257

struct tf {
    uint16_t id, len;
};

static const struct tf ipfix_v4[] = { { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 1 }, { 1, 8 }, { 2, 8 },
                                      { 10, 4 }, { 14, 4 }, { 58, 2 }, { 32, 2 }, { 152, 8 }, { 153, 8 }, { 136, 1 } };
static const struct tf v9_v4[] = { { 8, 4 }, { 12, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 1 }, { 1, 8 }, { 2, 8 },
                                   { 10, 4 }, { 14, 4 }, { 58, 2 }, { 32, 2 }, { 22, 4 }, { 21, 4 } };
#define NF(a) (sizeof a / sizeof a[0])

struct fs_flow_exporter {
    pthread_mutex_t lock;
    int fd;
    int file;                     /* an IPFIX file rather than a socket */
    int version;
    uint32_t domain;
    size_t max;                   /* bytes of a message */
    uint8_t msg[FILE_MAX];
    size_t len;                   /* bytes in msg, header included */
    size_t set_at;                /* where the open data set starts (0: none) */
    uint16_t set_tid;
    uint32_t msg_records;         /* data records in msg */
    uint64_t seq;                 /* IPFIX: data records sent before; v9: messages sent */
    uint64_t messages, records;
    int need_templates;
    uint64_t boot_ns;             /* v9: uptime 0 */
    uint64_t clock_ns;            /* the records' time: largest last time exported */
    int err;                      /* errno of the first failed send */
};

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v & 0xffff); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)), put32(p + 4, (uint32_t)v); }

static const struct tf *fields_of(const struct fs_flow_exporter *x, size_t *n)
{
    *n = x->version == 10 ? NF(ipfix_v4) : NF(v9_v4);
    return x->version == 10 ? ipfix_v4 : v9_v4;
}

static size_t record_len(const struct fs_flow_exporter *x, int v6)
{
    size_t n, len = 0;
    const struct tf *f = fields_of(x, &n);
    for (size_t i = 0; i < n; i++) len += (f[i].id == 8 || f[i].id == 12) && v6 ? 16 : f[i].len;
    return len;
}

static void begin_message(struct fs_flow_exporter *x)
{
    x->len = x->version == 10 ? 16 : 20;
    x->set_at = 0;
    x->msg_records = 0;
}

static void close_set(struct fs_flow_exporter *x)
{
    if (!x->set_at) return;
    if (x->version == 9)
        while ((x->len - x->set_at) % 4) x->msg[x->len++] = 0; /* v9 FlowSets end on a 4-byte boundary */
    put16(x->msg + x->set_at + 2, (unsigned)(x->len - x->set_at));
    x->set_at = 0;
}

static void send_message(struct fs_flow_exporter *x)
{
    close_set(x);
    size_t hdr = x->version == 10 ? 16 : 20;
    if (x->len <= hdr) return;
    uint8_t *h = x->msg;
    uint32_t now_s = (uint32_t)(x->clock_ns / 1000000000ull);
    put16(h, (unsigned)x->version);
    if (x->version == 10) {
        put16(h + 2, (unsigned)x->len);
        put32(h + 4, now_s);
        put32(h + 8, (uint32_t)x->seq);
        put32(h + 12, x->domain);
        x->seq += x->msg_records;
    } else {
        put16(h + 2, x->msg_records);  /* v9 "count": records of every kind; the templates are added below */
        put32(h + 4, (uint32_t)((x->clock_ns - x->boot_ns) / 1000000ull));
        put32(h + 8, now_s);
        put32(h + 12, (uint32_t)x->seq);
        put32(h + 16, x->domain);
        x->seq++;
    }
    ssize_t w = 0;
    for (size_t off = 0; off < x->len; off += (size_t)w) {
        w = write(x->fd, x->msg + off, x->len - off);
        if (w < 0 && errno == EINTR) {
            w = 0;
            continue;
        }
        if (w <= 0) {
            if (!x->err) x->err = w < 0 ? errno : EIO;
            break;
        }
        if (!x->file) break; /* a datagram goes whole or not at all */
    }
    x->messages++;
    if (!x->file && x->messages % TEMPLATE_EVERY == 0) x->need_templates = 1;
    begin_message(x);
}

static void add_templates(struct fs_flow_exporter *x)
{
    size_t n;
    const struct tf *f = fields_of(x, &n);
    size_t at = x->len;
    put16(x->msg + at, x->version == 10 ? 2 : 0);
    x->len += 4;
    for (int v6 = 0; v6 < 2; v6++) {
        put16(x->msg + x->len, v6 ? TID_V6 : TID_V4);
        put16(x->msg + x->len + 2, (unsigned)n);
        x->len += 4;
        for (size_t i = 0; i < n; i++) {
            unsigned id = f[i].id, len = f[i].len;
            if (v6 && (id == 8 || id == 12)) id = id == 8 ? 27 : 28, len = 16;
            if (v6 && id == 32) id = 139; /* icmpTypeCodeIPv6 */
            put16(x->msg + x->len, id);
            put16(x->msg + x->len + 2, len);
            x->len += 4;
        }
        x->msg_records += x->version == 9; /* v9 counts template records too */
    }
    put16(x->msg + at + 2, (unsigned)(x->len - at));
    x->need_templates = 0;
}

/* One direction of f as a data record. */
static void add_record(struct fs_flow_exporter *x, const struct fs_flow *f, int d)
{
    const struct fs_flow_dir *dir = &f->dir[d];
    int v6 = f->key.ipver == 6;
    size_t rl = record_len(x, v6);
    uint16_t tid = v6 ? TID_V6 : TID_V4;
    size_t tlen = x->need_templates ? 4 + 2 * (4 + 4 * NF(ipfix_v4)) : 0;
    if (x->len + tlen + 4 + rl + 3 > x->max) send_message(x);
    if (x->need_templates) add_templates(x);
    if (!x->set_at || x->set_tid != tid) {
        close_set(x);
        x->set_at = x->len;
        x->set_tid = tid;
        put16(x->msg + x->len, tid);
        x->len += 4;
    }
    const uint8_t *src = d ? f->key.b : f->key.a, *dst = d ? f->key.a : f->key.b;
    uint8_t *p = x->msg + x->len;
    size_t alen = v6 ? 16 : 4;
    memcpy(p, src, alen), p += alen;
    memcpy(p, dst, alen), p += alen;
    put16(p, d ? f->key.pb : f->key.pa), p += 2;
    put16(p, d ? f->key.pa : f->key.pb), p += 2;
    *p++ = f->key.proto;
    *p++ = dir->flags_or;
    put64(p, dir->bytes), p += 8;
    put64(p, dir->packets), p += 8;
    put32(p, d ? f->out_if : f->in_if), p += 4;
    put32(p, d ? f->in_if : f->out_if), p += 4;
    put16(p, f->key.vlan), p += 2;
    put16(p, (f->state & FS_FLOW_HAS_ICMP) ? (unsigned)(f->icmp_type << 8 | f->icmp_code) : 0), p += 2;
    uint64_t first = dir->first_ns ? dir->first_ns : f->first_ns, last = dir->last_ns ? dir->last_ns : f->last_ns;
    if (x->version == 10) {
        put64(p, first / 1000000ull), p += 8;
        put64(p, last / 1000000ull), p += 8;
        static const uint8_t reason[FS_END_COUNT] = { 0, 1, 2, 3, 3, 4, 5, 1 }; /* flowEndReason */
        *p++ = f->end_reason < FS_END_COUNT ? reason[f->end_reason] : 0;
    } else {
        if (!x->boot_ns) x->boot_ns = first > 1000000000ull ? first - 1000000000ull : 1;
        put32(p, (uint32_t)((first - (first >= x->boot_ns ? x->boot_ns : first)) / 1000000ull)), p += 4;
        put32(p, (uint32_t)((last - (last >= x->boot_ns ? x->boot_ns : last)) / 1000000ull)), p += 4;
    }
    x->len = (size_t)(p - x->msg);
    x->msg_records++;
    x->records++;
    if (last > x->clock_ns) x->clock_ns = last;
}

fs_result fs_flow_export_many(struct fs_flow_exporter *x, const struct fs_flow *f, size_t n)
{
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 2; d++)
            if (f[i].dir[d].packets) add_record(x, &f[i], d);
    int err = x->err;
    pthread_mutex_unlock(&x->lock);
    return err ? FS_ERR_IO : FS_OK;
}

static int udp_socket(const char *target, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    if (target[0] == '[') {
        const char *end = strchr(target, ']');
        if (!end || end[1] != ':' || (size_t)(end - target - 1) >= sizeof host) goto bad;
        memcpy(host, target + 1, (size_t)(end - target - 1));
        host[end - target - 1] = 0;
        port = end + 2;
    } else {
        const char *colon = strrchr(target, ':');
        if (!colon || (size_t)(colon - target) >= sizeof host) goto bad;
        memcpy(host, target, (size_t)(colon - target));
        host[colon - target] = 0;
        port = colon + 1;
    }
    char *endp;
    long p = strtol(port, &endp, 10);
    if (!*port || *endp || p <= 0 || p > 65535) goto bad;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)p);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
        sl = sizeof(struct sockaddr_in6);
    } else {
        goto bad;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "export to '%s': %s", target, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
bad:
    snprintf(err, errlen, "export to '%s': expected IPV4:PORT or [IPV6]:PORT", target);
    return -1;
}

fs_result fs_flow_exporter_new(struct fs_flow_exporter **out, const char *target, int file, int version, uint32_t domain,
                               char *err, size_t errlen)
{
    if ((version != 9 && version != 10) || (file && version != 10)) {
        snprintf(err, errlen, "export: version %d %s", version, file ? "files are IPFIX (10)" : "is not 9 or 10");
        return FS_ERR_ARG;
    }
    struct fs_flow_exporter *x = calloc(1, sizeof *x);
    if (!x) return FS_ERR_NOMEM;
    x->fd = file ? open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : udp_socket(target, err, errlen);
    if (x->fd < 0) {
        if (file) snprintf(err, errlen, "cannot create '%s': %s", target, strerror(errno));
        free(x);
        return FS_ERR_IO;
    }
    pthread_mutex_init(&x->lock, NULL);
    x->file = file;
    x->version = version;
    x->domain = domain;
    x->max = file ? FILE_MAX : UDP_MAX;
    x->need_templates = 1;
    begin_message(x);
    *out = x;
    return FS_OK;
}

fs_result fs_flow_exporter_close(struct fs_flow_exporter *x, uint64_t *records, uint64_t *messages, char *err,
                                 size_t errlen)
{
    if (!x) return FS_OK;
    send_message(x);
    fs_result rc = x->err ? FS_ERR_IO : FS_OK;
    if (x->err && err) snprintf(err, errlen, "export: %s", strerror(x->err));
    if (close(x->fd) != 0 && rc == FS_OK) {
        rc = FS_ERR_IO;
        if (err) snprintf(err, errlen, "export: %s", strerror(errno));
    }
    if (records) *records = x->records;
    if (messages) *messages = x->messages;
    pthread_mutex_destroy(&x->lock);
    free(x);
    return rc;
}
