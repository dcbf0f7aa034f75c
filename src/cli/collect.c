/*
 * collect.c - `flowsift collect`: flow exports (NetFlow v5/v9, IPFIX, sFlow v5) into flow records.
 *
 * Messages come from UDP listeners (IPv4 and IPv6, any number), from captures of export traffic (the UDP
 * payloads of every packet, with the packet's source as the exporter), from IPFIX files (RFC 5655: messages
 * one after another) and from files holding one raw message. Every record goes through the filter to the
 * store (by default, as with extract) and/or CSV or JSON lines. A summary, with counters per exporter, ends
 * the run: on end of input, after --count messages or --duration, or on SIGINT/SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../capture/capture.h"
#include "../collect/export.h"
#include "../collect/listen.h"
#include "../collect/netflow.h"
#include "../filter/filter.h"
#include "../output/record.h"
#include "../output/table.h"
#include "../output/writer.h"
#include "../store/store.h"
#include "cli.h"

#define C "collect"
#define MAX_LISTEN 16
#define STORE_BATCH 256

/* Where sFlow counter samples go: the store's "counters" table (its writer made with the first record) and/or
 * --counters FILE. Shared by the receiving threads; samples are few (one per interface every 20 s or so), so
 * one lock per record. */
struct counters_out {
    pthread_mutex_t lock;
    const char *store_dir;        /* NULL: not into a store */
    struct fs_store_writer *store;
    struct fs_record_writer file;
    int to_file;
    fs_result rc;
    char err[1024];
    uint64_t records;
};

static void on_counters(void *arg, const struct fs_ifcounters *k)
{
    struct counters_out *co = arg;
    pthread_mutex_lock(&co->lock);
    if (co->store_dir && !co->store && !co->rc)
        co->rc = fs_store_writer_new(&co->store, co->store_dir, "counters", 0, co->err, sizeof co->err);
    if (co->store && !co->rc) co->rc = fs_store_writer_add(co->store, k);
    if (co->to_file) fs_record_write(&co->file, k);
    co->records++;
    pthread_mutex_unlock(&co->lock);
}

/* One receiving thread's state (the main thread's, or a --workers thread's copy): its decoder, its batch for
 * the store and its counts; the outputs are shared. */
struct collect {
    struct fs_nf_decoder *nf;
    struct fs_writer writer;        /* the main thread's; workers write through `out` */
    struct fs_writer *out;          /* CSV/JSON output: &writer of the main thread's state */
    pthread_mutex_t *out_lock;      /* with workers: serializes out and exporter (the store takes its own lock) */
    int csv;
    struct fs_store_writer *store;
    struct fs_flow pending[STORE_BATCH];
    size_t npending;
    fs_result store_rc;
    struct fs_flow_exporter *exporter; /* --export, --export-file */
    fs_result export_rc;
    struct fs_filter *filter;
    struct fs_field_ctx ctx;
    uint64_t written, stored, filtered_out;
    uint64_t packets_not_udp;       /* capture inputs: packets that carried no UDP datagram */
    uint64_t files_read, files_damaged;
};

static void on_flow(void *arg, struct fs_flow *f)
{
    struct collect *x = arg;
    if (x->filter && !fs_filter_match(x->filter, f, &x->ctx)) {
        x->filtered_out++;
        return;
    }
    if (x->out_lock && (x->csv || x->exporter)) pthread_mutex_lock(x->out_lock);
    if (x->csv) {
        fs_writer_flow(x->out, f);
        x->written++;
    }
    if (x->exporter && !x->export_rc) x->export_rc = fs_flow_export_many(x->exporter, f, 1);
    if (x->out_lock && (x->csv || x->exporter)) pthread_mutex_unlock(x->out_lock);
    if (x->store && !x->store_rc) {
        x->pending[x->npending++] = *f;
        x->stored++;
        if (x->npending == STORE_BATCH) {
            x->store_rc = fs_store_writer_add_many(x->store, x->pending, x->npending);
            x->npending = 0;
        }
    }
}

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void help(void)
{
    printf("usage: flowsift collect [OPTIONS] [FILE ...]\n"
           "\n"
           "Receives flow exports - NetFlow v5, NetFlow v9, IPFIX, sFlow v5 - and writes every flow record as extract\n"
           "does: into the store $FLOWSIFT_STORE, or " FS_DEFAULT_STORE " in the current directory, unless -o is\n"
           "given. Records keep their exporter, observation domain and sampling interval (fields exporter,\n"
           "domain, sampling, source); what an export does not carry (sizes, payloads, inter-arrival times)\n"
           "prints empty. Templates are kept per exporter address and port, domain and template id.\n"
           "\n"
           "Inputs: UDP listeners (-l), and FILEs: captures of export traffic (pcap, pcapng: the UDP payload of\n"
           "every packet, sent by the packet's source), IPFIX files (RFC 5655), or one raw message.\n"
           "\n"
           "options:\n"
           "  -l, --listen ADDR          receive UDP on ADDR: PORT, IPV4:PORT or [IPV6]:PORT (a bare port\n"
           "                             listens on every IPv4 and IPv6 address); repeatable\n"
           "      --tcp ADDR             accept IPFIX exporters over TCP on ADDR (as -l); repeatable\n"
           "      --rcvbuf SIZE          UDP socket buffer (the kernel caps it at net.core.rmem_max)  [32M]\n"
           "      --workers N|auto       receive and decode UDP in N threads, each with its own sockets\n"
           "                             (SO_REUSEPORT: the kernel keeps each exporter on one)        [1]\n"
           "  -o, --output FILE          write records to FILE ('-' = standard output); then not to the store\n"
           "                             unless --store is given too\n"
           "  -F, --format csv|json      output format                                              [csv]\n"
           "      --fields LIST          fields or a preset (flowsift fields)                        [default]\n"
           "  -f, --filter EXPR          keep only records that match EXPR (docs/filter.md)\n"
           "      --store DIR            write records into the store DIR        [$FLOWSIFT_STORE or " FS_DEFAULT_STORE "]\n"
           "      --templates FILE       keep templates in FILE across restarts   [STORE/collect-templates with a store]\n"
           "      --counters FILE        also write sFlow counter samples (interface counters) to FILE as\n"
           "                             -F says; with a store they go to its table 'counters' too\n"
           "      --hold-time TIME       how long data that came before its template waits for it (at most\n"
           "                             64 sets, 256 KB per exporter); 0: not at all                  [10m]\n"
           "      --export HOST:PORT     also send the records on as IPFIX over UDP (or [IPV6]:PORT)\n"
           "      --export-file FILE     also write the records as an IPFIX file (RFC 5655)\n"
           "      --export-version V     10 (IPFIX) or 9 (NetFlow v9) for --export                 [10]\n"
           "      --stats FILE           counters per exporter as CSV in FILE, every 10 s and at the end;\n"
           "                             'flowsift stats FILE' shows them    [STORE/collect-stats.csv with a store]\n"
           "      --count N              stop after N messages\n"
           "      --duration TIME        stop after TIME (e.g. 30s, 5m) of listening\n"
           "  -q, --quiet                no summary\n"
           "  -h, --help                 this help\n"
           "\n"
           "Listening ends on SIGINT or SIGTERM, after --count or --duration; what was received is written and the\n"
           "store's segments published. docs/flowsift-collect.md is the manual page.\n");
}

/* "2055", "127.0.0.1:2055", "[::1]:2055" -> sockets (a bare port: one IPv6 socket that also takes IPv4). */
static int rcvbuf = 32 << 20; /* --rcvbuf */

/* The kernel's count of datagrams socket fd dropped for want of buffer room, now (SO_MEMINFO; the count that
 * SO_RXQ_OVFL attaches to each datagram is the one when that datagram was queued, so it misses the drops after the
 * last one); `seen` when the kernel does not say. */
static uint32_t socket_drops_now(int fd, uint32_t seen)
{
#if defined(SO_MEMINFO)
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t len = sizeof mem;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof *mem)
        return mem[SK_MEMINFO_DROPS] > seen ? mem[SK_MEMINFO_DROPS] : seen;
#else
    (void)fd;
#endif
    return seen;
}

/* Packets the kernel dropped before they reached any socket: its per-CPU input backlogs were full
 * (/proc/net/softnet_stat, second column; all traffic, not only exports). Linux; 0 where unreadable. */
static uint64_t backlog_drops(void)
{
    FILE *f = fopen("/proc/net/softnet_stat", "r");
    if (!f) return 0;
    uint64_t sum = 0;
    unsigned long long processed, dropped;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%llx %llx", &processed, &dropped) == 2) sum += dropped;
    fclose(f);
    return sum;
}

/* The UDP payload of a captured packet and who sent it; 0 if it carries none. */
static int udp_payload(const struct fs_capture_pkt *cp, struct fs_export_origin *o, const uint8_t **pl, size_t *plen)
{
    const uint8_t *p = cp->data;
    size_t n = cp->caplen, off = 0;
    unsigned type = 0;
    switch (cp->linktype) {
    case FS_LINK_ETHERNET:
        if (n < 14) return 0;
        type = (unsigned)(p[12] << 8 | p[13]);
        off = 14;
        while ((type == 0x8100 || type == 0x88a8) && off + 4 <= n) {
            type = (unsigned)(p[off + 2] << 8 | p[off + 3]);
            off += 4;
        }
        break;
    case FS_LINK_LINUX_SLL:
        if (n < 16) return 0;
        type = (unsigned)(p[14] << 8 | p[15]);
        off = 16;
        break;
    case FS_LINK_NULL:
    case FS_LINK_LOOP:
        off = 4;
        type = 0;
        break;
    case FS_LINK_RAW:
    case FS_LINK_IPV4:
    case FS_LINK_IPV6:
        type = 0;
        break;
    default: return 0;
    }
    if (off >= n) return 0;
    if (type == 0) type = (p[off] >> 4) == 6 ? 0x86DD : 0x0800;
    memset(o, 0, sizeof *o);
    size_t l4;
    if (type == 0x0800) {
        if (off + 20 > n || (p[off] >> 4) != 4) return 0;
        size_t ihl = (size_t)(p[off] & 15) * 4;
        if (ihl < 20 || p[off + 9] != 17 || ((p[off + 6] & 0x3f) | p[off + 7])) return 0; /* UDP, not a fragment */
        memcpy(o->addr, p + off + 12, 4);
        o->ipver = 4;
        l4 = off + ihl;
    } else if (type == 0x86DD) {
        if (off + 40 > n || p[off + 6] != 17) return 0;
        memcpy(o->addr, p + off + 8, 16);
        o->ipver = 6;
        l4 = off + 40;
    } else {
        return 0;
    }
    if (l4 + 8 > n) return 0;
    o->port = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
    size_t ulen = (size_t)(p[l4 + 4] << 8 | p[l4 + 5]);
    size_t have = n - l4;
    if (ulen < 8) return 0;
    if (ulen > have) ulen = have; /* cut by the snap length: what is there is decoded (and found short) */
    *pl = p + l4 + 8;
    *plen = ulen - 8;
    return 1;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) == 0 && st.st_size >= 0) {
        buf = malloc((size_t)st.st_size + 1);
        size_t got = 0;
        while (buf && got < (size_t)st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        *len = got;
    }
    close(fd);
    return buf;
}

/* One input file: a capture, an IPFIX file, or one raw message. Returns 0, or 1 if it could not be read. */
static int collect_file(struct collect *x, const char *path, uint64_t *messages)
{
    struct fs_capture *cap;
    char err[768];
    size_t len = 0;
    uint8_t *buf = slurp(path, &len);
    if (!buf) {
        fs_cli_error(C, "cannot read '%s': %s", path, strerror(errno));
        return 1;
    }
    uint32_t magic = len >= 4 ? (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3] : 0;
    int is_capture = magic == 0xa1b2c3d4 || magic == 0xd4c3b2a1 || magic == 0xa1b23c4d || magic == 0x4d3cb2a1 ||
                     magic == 0x0a0d0d0a;
    struct fs_export_origin file_origin = { .ipver = 0 };
    if (!is_capture) {
        /* an IPFIX file is messages one after another (RFC 5655); anything else, one message */
        size_t off = 0;
        int ipfix = len >= 4 && buf[0] == 0 && buf[1] == 10;
        while (off < len) {
            size_t mlen = len - off;
            if (ipfix && mlen >= 4) {
                size_t l = (size_t)(buf[off + 2] << 8 | buf[off + 3]);
                if (l >= 16 && l <= mlen) mlen = l;
            }
            fs_nf_message(x->nf, &file_origin, fs_wall_ns(), buf + off, mlen, on_flow, x);
            ++*messages;
            off += mlen;
            if (!ipfix) break;
        }
        free(buf);
        x->files_read++;
        return 0;
    }
    free(buf);
    if (fs_capture_open(&cap, path, err, sizeof err) != FS_OK) {
        fs_cli_error(C, "%s", err);
        return 1;
    }
    struct fs_capture_pkt cp;
    fs_result r;
    while ((r = fs_capture_next(cap, &cp)) == FS_OK) {
        struct fs_export_origin o;
        const uint8_t *pl;
        size_t plen;
        if (!udp_payload(&cp, &o, &pl, &plen)) {
            x->packets_not_udp++;
            continue;
        }
        fs_nf_message(x->nf, &o, cp.ts_ns, pl, plen, on_flow, x);
        ++*messages;
    }
    int bad = r != FS_EOF;
    if (bad) fs_cli_error(C, "%s", fs_capture_error(cap));
    fs_capture_free(cap);
    x->files_read++;
    return bad;
}

static void print_counters(const struct fs_nf_counters *c)
{
    char a[32], b[32], t[32];
    fprintf(stderr, "%s messages, %s records, %s templates", fs_human_int(c->messages, a, sizeof a),
            fs_human_int(c->records, b, sizeof b), fs_human_int(c->templates, t, sizeof t));
    if (c->withdrawals) fprintf(stderr, ", %s withdrawn", fs_human_int(c->withdrawals, a, sizeof a));
    if (c->options_records) fprintf(stderr, ", %s options records", fs_human_int(c->options_records, a, sizeof a));
    if (c->held)
        fprintf(stderr, ", %s data sets before their template (%s records decoded once it came)",
                fs_human_int(c->held, a, sizeof a), fs_human_int(c->late_records, b, sizeof b));
    if (c->missing_template)
        fprintf(stderr, ", %s data sets without their template (dropped)", fs_human_int(c->missing_template, a, sizeof a));
    if (c->other_port_records)
        fprintf(stderr, ", %s records decoded with a template from another port of the exporter",
                fs_human_int(c->other_port_records, a, sizeof a));
    if (c->refused)
        fprintf(stderr, ", %s messages refused (exporter table full)", fs_human_int(c->refused, a, sizeof a));
    if (c->sequence_gaps) fprintf(stderr, ", %s lost by sequence numbers", fs_human_int(c->sequence_gaps, a, sizeof a));
    if (c->unknown_fields) fprintf(stderr, ", %s fields skipped", fs_human_int(c->unknown_fields, a, sizeof a));
    if (c->counter_samples) fprintf(stderr, ", %s counter samples", fs_human_int(c->counter_samples, a, sizeof a));
    for (unsigned k = 0; k < FS_NF_PROBLEM_COUNT; k++)
        if (c->malformed[k]) fprintf(stderr, ", malformed (%s) %s", fs_nf_problem_name(k), fs_human_int(c->malformed[k], a, sizeof a));
    fprintf(stderr, "\n");
}

static void summary(const struct collect *x, double elapsed, const char *store_dir)
{
    const struct fs_nf_counters *t = fs_nf_totals(x->nf);
    char a[32], b[32];
    fprintf(stderr, "flowsift collect: %s records from %s messages in %.2f s\n", fs_human_int(t->records, a, sizeof a),
            fs_human_int(t->messages, b, sizeof b), elapsed);
    fprintf(stderr, "  all       ");
    print_counters(t);
    size_t n;
    const struct fs_nf_exporter_stats *e = fs_nf_exporters(x->nf, &n);
    for (size_t i = 0; i < n && i < 50; i++) {
        char addr[INET6_ADDRSTRLEN] = "(file)";
        if (e[i].origin.ipver) inet_ntop(e[i].origin.ipver == 4 ? AF_INET : AF_INET6, e[i].origin.addr, addr, sizeof addr);
        fprintf(stderr, "  exporter  %s port %u, %s domain %u: ", addr, e[i].origin.port,
                e[i].version == 5 ? "NetFlow v5" : e[i].version == 9 ? "NetFlow v9" : e[i].version == 10 ? "IPFIX" : "sFlow v5",
                e[i].domain);
        print_counters(&e[i].c);
    }
    if (n > 50) fprintf(stderr, "  ... and %zu more exporters\n", n - 50);
    if (x->packets_not_udp) fprintf(stderr, "  skipped   %s captured packets without a UDP datagram\n",
                                    fs_human_int(x->packets_not_udp, a, sizeof a));
    if (x->filter) fprintf(stderr, "  filtered  %s records out\n", fs_human_int(x->filtered_out, a, sizeof a));
    if (store_dir) fprintf(stderr, "  store     %s records in '%s'\n", fs_human_int(x->stored, a, sizeof a), store_dir);
}

/* An IPFIX exporter's TCP connection (RFC 7011 section 10.4): a stream of messages, each framed by the length
 * in its header. */
#define MAX_CONNS 256
struct conn {
    int fd;
    struct fs_export_origin origin;
    uint8_t buf[65536 + 4096];
    size_t len;
};

/* Reads what the connection has and decodes every whole message; returns -1 when the session is over (closed
 * by the exporter, or a header that is not IPFIX's: the stream cannot be framed any more). */
static int conn_read(struct collect *x, struct conn *c, uint64_t *messages)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
    c->len += (size_t)n;
    size_t off = 0;
    while (c->len - off >= 4) {
        size_t mlen = (size_t)(c->buf[off + 2] << 8 | c->buf[off + 3]);
        if (c->buf[off] != 0 || c->buf[off + 1] != 10 || mlen < 16) {
            char a[INET6_ADDRSTRLEN];
            inet_ntop(c->origin.ipver == 4 ? AF_INET : AF_INET6, c->origin.addr, a, sizeof a);
            fs_cli_warn(C, "TCP exporter %s port %u: byte %zu of its stream is not an IPFIX message header; "
                           "connection closed", a, c->origin.port, off);
            return -1;
        }
        if (c->len - off < mlen) break;
        fs_nf_message(x->nf, &c->origin, fs_wall_ns(), c->buf + off, mlen, on_flow, x);
        ++*messages;
        off += mlen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return 0;
}

/* The counters as CSV, one line for all exporters and one per exporter, replaced atomically (readers never see
 * half a file): what `flowsift stats` shows, while the collector runs (every 10 s) and after it ended. */
static const char *const STAT_COLUMNS = "exporter,port,version,domain,messages,records,templates,withdrawn,"
                                         "options_records,held,late_records,dropped_no_template,sequence_lost,"
                                         "fields_skipped,truncated,unknown_version,bad_length,bad_template,bad_set_id,"
                                         "counter_samples,socket_drops,other_port_records,refused";

static void stat_line(FILE *f, const char *who, unsigned port, unsigned version, uint32_t domain,
                      const struct fs_nf_counters *c, uint64_t socket_drops)
{
    fprintf(f, "%s,%u,%u,%u,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu", who, port, version, domain,
            (unsigned long long)c->messages, (unsigned long long)c->records, (unsigned long long)c->templates,
            (unsigned long long)c->withdrawals, (unsigned long long)c->options_records, (unsigned long long)c->held,
            (unsigned long long)c->late_records, (unsigned long long)c->missing_template,
            (unsigned long long)c->sequence_gaps, (unsigned long long)c->unknown_fields);
    for (unsigned k = 0; k < FS_NF_PROBLEM_COUNT; k++) fprintf(f, ",%llu", (unsigned long long)c->malformed[k]);
    fprintf(f, ",%llu,%llu,%llu,%llu\n", (unsigned long long)c->counter_samples, (unsigned long long)socket_drops,
            (unsigned long long)c->other_port_records, (unsigned long long)c->refused);
}

static int write_stats(const struct fs_nf_decoder *nf, const char *path, uint64_t socket_drops)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%s\n", STAT_COLUMNS);
    stat_line(f, "all", 0, 0, 0, fs_nf_totals(nf), socket_drops); /* the sockets' drops: no exporter known */
    size_t n;
    const struct fs_nf_exporter_stats *e = fs_nf_exporters(nf, &n);
    for (size_t i = 0; i < n; i++) {
        char addr[INET6_ADDRSTRLEN] = "file";
        if (e[i].origin.ipver) inet_ntop(e[i].origin.ipver == 4 ? AF_INET : AF_INET6, e[i].origin.addr, addr, sizeof addr);
        stat_line(f, addr, e[i].origin.port, e[i].version, e[i].domain, &e[i].c, 0);
    }
    int bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

enum { OPT_FIELDS = 256, OPT_STORE, OPT_COUNT, OPT_DURATION, OPT_TEMPLATES, OPT_EXPORT, OPT_EXPORT_FILE, OPT_EXPORT_VERSION,
       OPT_STATS, OPT_TCP, OPT_RCVBUF, OPT_HOLD, OPT_WORKERS, OPT_COUNTERS };

/* Saves the templates of nf when gen (the generations of all decoders, added up) changed since *saved_gen. */
static int save_templates(const struct fs_nf_decoder *nf, uint64_t gen, const char *path, uint64_t *saved_gen)
{
    char err[4400];
    if (!path || gen == *saved_gen) return 0;
    if (fs_nf_save(nf, path, err, sizeof err) != FS_OK) {
        fs_cli_error(C, "%s", err);
        return 1;
    }
    *saved_gen = gen;
    return 0;
}

/* Reads the datagrams waiting on UDP socket fd (256 at most, unless last: then all) and decodes them; at most
 * `limit` (0: no limit). *drops takes the socket's count of datagrams dropped. Returns how many were read. */
static uint64_t read_datagrams(struct collect *x, int fd, uint32_t *drops, uint8_t *buf, int last, uint64_t limit)
{
    uint64_t n = 0;
    for (int k = 0; (k < 256 || last) && (!limit || n < limit); k++) {
        struct sockaddr_storage ss;
        union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(uint32_t))]; } ctl;
        struct iovec iov = { buf, 65536 };
        struct msghdr mh = { .msg_name = &ss, .msg_namelen = sizeof ss, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = ctl.b, .msg_controllen = sizeof ctl.b };
        ssize_t len = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (len < 0) break;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL) {
                uint32_t d; /* the socket's count since it opened */
                memcpy(&d, CMSG_DATA(cm), sizeof d);
                *drops = d;
            }
        struct fs_export_origin o;
        fs_export_origin_of(&ss, &o);
        fs_nf_message(x->nf, &o, fs_wall_ns(), buf, (size_t)len, on_flow, x);
        n++;
    }
    return n;
}

/* --workers: threads that receive on sockets of their own, opened with SO_REUSEPORT on every UDP address, and
 * decode with decoders of their own. The kernel sends an exporter's datagrams (one address and port) to one
 * socket, so its templates and sequence numbers stay in one decoder. The main thread reads the files, the TCP
 * sessions and its own sockets, and adds the workers' decoders up for the statistics, the saved templates and the
 * summary. */
struct worker {
    struct collect x;             /* own decoder, store batch and counts; outputs shared */
    pthread_t thread;
    pthread_mutex_t lock;         /* held while decoding: the main thread reads the decoder under it */
    int fds[MAX_LISTEN], nfds;
    uint32_t drops[MAX_LISTEN];
    _Atomic uint64_t messages;
    int started;
};

static atomic_int workers_stop;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t *buf = malloc(65536);
    if (!buf) return NULL;
    struct pollfd pfd[MAX_LISTEN];
    for (int last = 0; !last;) {
        /* the end comes from the main thread (which takes the signals): one more pass reads what the sockets hold */
        last = atomic_load(&workers_stop);
        for (int i = 0; i < w->nfds; i++) pfd[i] = (struct pollfd){ w->fds[i], POLLIN, 0 };
        int r = poll(pfd, (nfds_t)w->nfds, last ? 0 : 200);
        pthread_mutex_lock(&w->lock);
        for (int i = 0; r > 0 && i < w->nfds; i++)
            if (pfd[i].revents & POLLIN)
                atomic_fetch_add(&w->messages, read_datagrams(&w->x, w->fds[i], &w->drops[i], buf, last, 0));
        pthread_mutex_unlock(&w->lock);
    }
    free(buf);
    return NULL;
}

/* Every decoder's knowledge added up into a new decoder (*gen: their generations, added up), or the main
 * thread's own when there are no workers; NULL without memory. */
static struct fs_nf_decoder *all_decoders(struct collect *x, struct worker *w, int nw, uint64_t *gen)
{
    *gen = fs_nf_generation(x->nf);
    if (!nw) return x->nf;
    struct fs_nf_decoder *all;
    if (fs_nf_new(&all) != FS_OK) return NULL;
    int bad = fs_nf_absorb(all, x->nf) != FS_OK;
    for (int i = 0; i < nw; i++) {
        pthread_mutex_lock(&w[i].lock);
        bad |= fs_nf_absorb(all, w[i].x.nf) != FS_OK;
        *gen += fs_nf_generation(w[i].x.nf);
        pthread_mutex_unlock(&w[i].lock);
    }
    if (bad) {
        fs_nf_free(all);
        return NULL;
    }
    return all;
}

/* The datagrams every UDP socket dropped, as the kernel counts them now. */
static uint64_t udp_drops(const int *fds, const int *tcp, uint32_t *drops, int nfds, struct worker *w, int nw)
{
    uint64_t sum = 0;
    for (int k = 0; k < nfds; k++) sum += drops[k] = tcp[k] ? 0 : socket_drops_now(fds[k], drops[k]);
    for (int i = 0; i < nw; i++)
        for (int k = 0; k < w[i].nfds; k++) sum += socket_drops_now(w[i].fds[k], 0);
    return sum;
}

int fs_cmd_collect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, 0, 'l' },   { "output", required_argument, 0, 'o' },
        { "format", required_argument, 0, 'F' },   { "fields", required_argument, 0, OPT_FIELDS },
        { "filter", required_argument, 0, 'f' },   { "store", required_argument, 0, OPT_STORE },
        { "count", required_argument, 0, OPT_COUNT }, { "duration", required_argument, 0, OPT_DURATION },
        { "templates", required_argument, 0, OPT_TEMPLATES }, { "export", required_argument, 0, OPT_EXPORT },
        { "export-file", required_argument, 0, OPT_EXPORT_FILE },
        { "export-version", required_argument, 0, OPT_EXPORT_VERSION }, { "stats", required_argument, 0, OPT_STATS },
        { "tcp", required_argument, 0, OPT_TCP }, { "rcvbuf", required_argument, 0, OPT_RCVBUF },
        { "hold-time", required_argument, 0, OPT_HOLD }, { "workers", required_argument, 0, OPT_WORKERS },
        { "counters", required_argument, 0, OPT_COUNTERS },
        { "quiet", no_argument, 0, 'q' },          { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *listen[MAX_LISTEN], *out_path = "-", *fields_spec = "default", *filter_expr = NULL, *store_dir = NULL;
    const char *templates_path = NULL, *export_to = NULL, *stats_path = NULL, *counters_path = NULL;
    static char default_stats[4200];
    int export_file = 0, export_version = 10;
    static char default_templates[4200];
    int nlisten = 0, out_given = 0, quiet = 0, c, tcp[MAX_LISTEN] = { 0 };
    enum fs_format format = FS_FORMAT_CSV;
    uint64_t max_messages = 0, duration_ns = 0, hold_ns = FS_NF_HOLD_NS, nworkers = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:o:F:f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
        case OPT_TCP:
            if (nlisten == MAX_LISTEN) return fs_cli_error(C, "at most %d listeners", MAX_LISTEN) + 1;
            tcp[nlisten] = c == OPT_TCP;
            listen[nlisten++] = optarg;
            break;
        case 'o': out_path = optarg; out_given = 1; break;
        case 'F':
            if (strcmp(optarg, "csv") == 0) format = FS_FORMAT_CSV;
            else if (strcmp(optarg, "json") == 0) format = FS_FORMAT_JSON;
            else return fs_cli_error(C, "-F takes csv or json") + 1;
            break;
        case OPT_FIELDS: fields_spec = optarg; break;
        case 'f': filter_expr = optarg; break;
        case OPT_STORE: store_dir = optarg; break;
        case OPT_TEMPLATES: templates_path = optarg; break;
        case OPT_COUNTERS: counters_path = optarg; break;
        case OPT_STATS: stats_path = optarg; break;
        case OPT_RCVBUF: {
            uint64_t v;
            if (fs_parse_bytes(optarg, &v) || v < 4096 || v > (1u << 30))
                return fs_cli_error(C, "--rcvbuf takes a size from 4k to 1G") + 1;
            rcvbuf = (int)v;
            break;
        }
        case OPT_EXPORT: export_to = optarg; export_file = 0; break;
        case OPT_EXPORT_FILE: export_to = optarg; export_file = 1; break;
        case OPT_EXPORT_VERSION:
            if ((export_version = fs_cli_export_version(C, optarg)) < 0) return 2;
            break;
        case OPT_COUNT:
            if (fs_parse_count(optarg, &max_messages) || !max_messages)
                return fs_cli_error(C, "--count takes a positive number") + 1;
            break;
        case OPT_WORKERS:
            if (strcmp(optarg, "auto") == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                nworkers = n > 0 ? (uint64_t)n : 1;
            } else if (fs_parse_count(optarg, &nworkers) || !nworkers || nworkers > 64) {
                return fs_cli_error(C, "--workers takes a number from 1 to 64, or auto") + 1;
            }
            break;
        case OPT_HOLD:
            if (fs_parse_duration(optarg, &hold_ns)) return fs_cli_error(C, "--hold-time takes a time such as 10m") + 1;
            break;
        case OPT_DURATION:
            if (fs_parse_duration(optarg, &duration_ns) || !duration_ns)
                return fs_cli_error(C, "--duration takes a positive time such as 30s") + 1;
            break;
        case 'q': quiet = 1; break;
        case 'h': help(); return 0;
        default: fprintf(stderr, "Try 'flowsift collect --help'.\n"); return 2;
        }
    }
    if (nlisten == 0 && optind >= argc) {
        fprintf(stderr, "flowsift collect: no input (give -l PORT to listen, or files)\nTry 'flowsift collect --help'.\n");
        return 2;
    }
    struct collect *x = calloc(1, sizeof *x);
    if (!x) return fs_cli_error(C, "out of memory");
    int fields[FS_WRITER_MAX_FIELDS];
    static char labels[FS_WRITER_MAX_FIELDS][FS_FIELD_LABEL_MAX];
    int nfields = fs_cli_fields(C, fields_spec, fields, labels);
    if (nfields <= 0 || (filter_expr && fs_cli_filter(C, filter_expr, &x->filter))) {
        free(x);
        return 2;
    }
    int rc = 0, fds[MAX_LISTEN], nfds = 0, writer_open = 0, nw = 0;
    struct worker *workers = NULL;
    pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
    static struct counters_out cout; /* static: the record writer's tables are large */
    memset(&cout, 0, sizeof cout);
    pthread_mutex_init(&cout.lock, NULL);
    uint32_t sock_drops[MAX_LISTEN] = { 0 }; /* datagrams each UDP socket's buffer had no room for */
    char err[1024];
    if (fs_nf_new(&x->nf) != FS_OK) {
        rc = fs_cli_error(C, "out of memory");
        goto out;
    }
    fs_nf_set_hold(x->nf, hold_ns);
    fs_nf_on_counters(x->nf, on_counters, &cout);
    for (int i = 0; i < nlisten; i++) {
        if (fs_export_listen(listen[i], tcp[i] ? SOCK_STREAM : SOCK_DGRAM, nworkers > 1 && !tcp[i], rcvbuf, &fds[nfds], err,
                          sizeof err) != 0) {
            rc = fs_cli_error(C, "%s", err);
            goto out;
        }
        nfds++;
    }
    if (!store_dir && !out_given) {
        store_dir = getenv("FLOWSIFT_STORE");
        if (!store_dir || !*store_dir) store_dir = FS_DEFAULT_STORE;
    }
    if (store_dir) {
        uint64_t removed = 0;
        if (fs_store_prepare(store_dir, 1, &removed, err, sizeof err) != FS_OK ||
            fs_store_writer_new(&x->store, store_dir, "flows", 0, err, sizeof err) != FS_OK) {
            rc = fs_cli_error(C, "%s", err);
            goto out;
        }
    }
    if (!templates_path && store_dir) { /* a store keeps the templates of the collectors that write to it */
        snprintf(default_templates, sizeof default_templates, "%s/collect-templates", store_dir);
        templates_path = default_templates;
    }
    if (!stats_path && store_dir) {
        snprintf(default_stats, sizeof default_stats, "%s/collect-stats.csv", store_dir);
        stats_path = default_stats;
    }
    uint64_t saved_gen = 0;
    if (templates_path) {
        size_t restored = 0;
        if (fs_nf_load(x->nf, templates_path, &restored, err, sizeof err) != FS_OK) {
            rc = fs_cli_error(C, "%s", err);
            goto out;
        }
        saved_gen = fs_nf_generation(x->nf); /* and the workers' after they load the same file */
        if (restored && !quiet)
            fprintf(stderr, "flowsift collect: %zu template%s restored from '%s'\n", restored, restored == 1 ? "" : "s",
                    templates_path);
    }
    if (export_to && fs_flow_exporter_new(&x->exporter, export_to, export_file, export_version, 0, err, sizeof err) != FS_OK) {
        rc = fs_cli_error(C, "%s", err);
        goto out;
    }
    x->csv = !store_dir || out_given;
    cout.store_dir = store_dir;
    if (counters_path) {
        if (fs_record_writer_open(&cout.file, counters_path, fs_store_schema_find("counters"), format, 9) != FS_OK) {
            rc = fs_cli_error(C, "cannot open '%s' for writing: %s", counters_path, strerror(errno));
            goto out;
        }
        cout.to_file = 1;
    }
    if (fs_writer_open(&x->writer, x->csv ? out_path : "/dev/null", format, fields, labels, nfields, &x->ctx)) {
        rc = fs_cli_error(C, "cannot open '%s' for writing: %s", out_path, strerror(errno));
        goto out;
    }
    writer_open = 1;
    fs_writer_set_time_decimals(&x->writer, 9); /* v5 headers and IPFIX times may be finer than microseconds */
    x->out = &x->writer;
    int nudp = 0;
    for (int i = 0; i < nfds; i++) nudp += !tcp[i];
    if (nworkers > 1 && nudp) {
        if (!(workers = calloc(nworkers - 1, sizeof *workers))) {
            rc = fs_cli_error(C, "out of memory");
            goto out;
        }
        x->out_lock = &out_lock;
        for (int i = 0; i < (int)nworkers - 1; i++) {
            struct worker *w = &workers[nw];
            w->x = *x; /* the outputs, filter and store, shared; a decoder and counts of its own */
            w->x.nf = NULL;
            w->x.npending = 0;
            w->x.written = w->x.stored = w->x.filtered_out = 0;
            pthread_mutex_init(&w->lock, NULL);
            nw++;
            if (fs_nf_new(&w->x.nf) != FS_OK) {
                rc = fs_cli_error(C, "out of memory");
                goto out;
            }
            fs_nf_set_hold(w->x.nf, hold_ns);
            fs_nf_on_counters(w->x.nf, on_counters, &cout);
            size_t restored;
            if (templates_path && fs_nf_load(w->x.nf, templates_path, &restored, err, sizeof err) != FS_OK) {
                rc = fs_cli_error(C, "%s", err);
                goto out;
            }
            saved_gen += fs_nf_generation(w->x.nf);
            for (int k = 0; k < nlisten; k++) {
                if (tcp[k]) continue;
                if (fs_export_listen(listen[k], SOCK_DGRAM, 1, rcvbuf, &w->fds[w->nfds], err, sizeof err) != 0) {
                    rc = fs_cli_error(C, "%s", err);
                    goto out;
                }
                w->nfds++;
            }
        }
    }
    double t0 = fs_now_seconds();
    uint64_t messages = 0, backlog0 = backlog_drops();
    for (int i = optind; i < argc && !stop_requested; i++)
        if (collect_file(x, argv[i], &messages)) {
            x->files_damaged++;
            rc = 1;
        }
    if (nfds) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (!quiet) {
            fprintf(stderr, "flowsift collect: listening on");
            for (int i = 0; i < nlisten; i++) fprintf(stderr, " %s", listen[i]);
            if (nw) fprintf(stderr, " with %d receiving threads", nw + 1);
            fprintf(stderr, " (SIGINT or SIGTERM ends)\n");
        }
        for (int i = 0; i < nw; i++) {
            if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
                rc = fs_cli_error(C, "cannot start a receiving thread: %s", strerror(errno));
                break;
            }
            workers[i].started = 1;
        }
        static uint8_t buf[65536];
        static struct conn conns[MAX_CONNS]; /* 17 MB of buffers: not on the stack */
        int nconns = 0;
        struct pollfd pfd[MAX_LISTEN + MAX_CONNS];
        uint64_t deadline = duration_ns ? fs_wall_ns() + duration_ns : 0, next_save = fs_wall_ns() + 10000000000ull;
        for (int last = 0; !last;) {
            /* a signal ends the loop after one more pass that reads what the sockets already hold */
            uint64_t received = messages;
            for (int i = 0; i < nw; i++) received += atomic_load(&workers[i].messages);
            last = rc || stop_requested || (max_messages && received >= max_messages);
            if (fs_wall_ns() >= next_save) { /* a collector killed loses 10 s of templates at most */
                uint64_t gen;
                struct fs_nf_decoder *all = all_decoders(x, workers, nw, &gen);
                if (all) {
                    save_templates(all, gen, templates_path, &saved_gen);
                    if (stats_path) write_stats(all, stats_path, udp_drops(fds, tcp, sock_drops, nfds, workers, nw));
                    if (all != x->nf) fs_nf_free(all);
                }
                next_save = fs_wall_ns() + 10000000000ull;
            }
            int timeout = last ? 0 : 200;
            if (deadline && !last) {
                uint64_t now = fs_wall_ns();
                if (now >= deadline) break;
                if ((deadline - now) / 1000000 < 200) timeout = (int)((deadline - now) / 1000000) + 1;
            }
            for (int i = 0; i < nfds; i++) pfd[i] = (struct pollfd){ fds[i], POLLIN, 0 };
            for (int i = 0; i < nconns; i++) pfd[nfds + i] = (struct pollfd){ conns[i].fd, POLLIN, 0 };
            int r = poll(pfd, (nfds_t)(nfds + nconns), timeout);
            if (r < 0 && errno != EINTR) {
                rc = fs_cli_error(C, "poll: %s", strerror(errno));
                break;
            }
            for (int i = 0; r > 0 && i < nfds; i++) {
                if (!(pfd[i].revents & POLLIN)) continue;
                if (tcp[i]) { /* an IPFIX exporter connects: one transport session */
                    struct sockaddr_storage ss;
                    socklen_t sl = sizeof ss;
                    int cfd = accept(fds[i], (struct sockaddr *)&ss, &sl);
                    if (cfd < 0) continue;
                    if (nconns == MAX_CONNS) {
                        fs_cli_warn(C, "more than %d TCP exporters: a connection refused", MAX_CONNS);
                        close(cfd);
                        continue;
                    }
                    conns[nconns] = (struct conn){ .fd = cfd };
                    fs_export_origin_of(&ss, &conns[nconns].origin);
                    nconns++;
                    continue;
                }
                if (max_messages && received >= max_messages) break;
                uint64_t n = read_datagrams(x, fds[i], &sock_drops[i], buf, last, max_messages ? max_messages - received : 0);
                messages += n;
                received += n;
            }
            for (int i = nconns - 1; r > 0 && i >= 0; i--) {
                if (!(pfd[nfds + i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                if (conn_read(x, &conns[i], &messages) != 0) { /* closed, or not IPFIX: the session ends */
                    fs_nf_forget(x->nf, &conns[i].origin);
                    close(conns[i].fd);
                    conns[i] = conns[--nconns];
                }
            }
        }
        for (int i = 0; i < nconns; i++) close(conns[i].fd);
    }
    /* the workers read what their sockets hold and end; their decoders and counts join the main thread's */
    atomic_store(&workers_stop, 1);
    uint64_t gen = fs_nf_generation(x->nf), dropped = udp_drops(fds, tcp, sock_drops, nfds, NULL, 0);
    char per_thread[64 * 24] = "";
    size_t pt = (size_t)snprintf(per_thread, sizeof per_thread, "%llu", (unsigned long long)messages);
    for (int i = 0; i < nw; i++) {
        struct worker *w = &workers[i];
        if (w->started) pthread_join(w->thread, NULL);
        w->started = 0;
        fs_nf_finish(w->x.nf);
        gen += fs_nf_generation(w->x.nf);
        if (fs_nf_absorb(x->nf, w->x.nf) != FS_OK && !rc) rc = fs_cli_error(C, "out of memory");
        if (x->store && w->x.npending && !w->x.store_rc)
            w->x.store_rc = fs_store_writer_add_many(x->store, w->x.pending, w->x.npending);
        w->x.npending = 0;
        x->written += w->x.written;
        x->stored += w->x.stored;
        x->filtered_out += w->x.filtered_out;
        if (!x->store_rc) x->store_rc = w->x.store_rc;
        if (!x->export_rc) x->export_rc = w->x.export_rc;
        messages += atomic_load(&w->messages);
        pt += (size_t)snprintf(per_thread + pt, sizeof per_thread - pt, " / %llu",
                               (unsigned long long)atomic_load(&w->messages));
        for (int k = 0; k < w->nfds; k++) dropped += socket_drops_now(w->fds[k], w->drops[k]);
    }
    fs_nf_finish(x->nf); /* what still waits for a template is dropped, and counted */
    if (save_templates(x->nf, gen, templates_path, &saved_gen) && !rc) rc = 1;
    if (stats_path && write_stats(x->nf, stats_path, dropped) != 0)
        rc = fs_cli_error(C, "cannot write '%s': %s", stats_path, strerror(errno));
    double elapsed = fs_now_seconds() - t0;
    if (fs_writer_close(&x->writer) && !rc) rc = fs_cli_error(C, "writing '%s' failed", out_path);
    writer_open = 0;
    if (x->store) {
        if (x->npending && !x->store_rc) x->store_rc = fs_store_writer_add_many(x->store, x->pending, x->npending);
        x->npending = 0;
        if (fs_store_writer_close(x->store, err, sizeof err) != FS_OK || x->store_rc) {
            rc = 1;
            fs_cli_error(C, "store '%s': %s", store_dir, err);
        }
        x->store = NULL;
    }
    if (cout.store && fs_store_writer_close(cout.store, cout.err, sizeof cout.err) != FS_OK && !cout.rc) cout.rc = FS_ERR_IO;
    cout.store = NULL;
    if (cout.rc) rc = fs_cli_error(C, "store '%s', table counters: %s", store_dir, cout.err);
    if (cout.to_file && fs_record_writer_close(&cout.file) != FS_OK)
        rc = fs_cli_error(C, "writing '%s' failed", counters_path);
    cout.to_file = 0;
    uint64_t exported = 0, export_msgs = 0;
    if (x->exporter) {
        if (fs_flow_exporter_close(x->exporter, &exported, &export_msgs, err, sizeof err) != FS_OK || x->export_rc) {
            rc = 1;
            fs_cli_error(C, "%s", err);
        }
        x->exporter = NULL;
    }
    if (!quiet) {
        summary(x, elapsed, store_dir);
        if (nfds) {
            char a[32], b[32];
            fprintf(stderr, "  received  %s datagrams and messages; %s more dropped, the socket buffers had no room "
                            "(kernel count)%s\n", fs_human_int(messages, b, sizeof b), fs_human_int(dropped, a, sizeof a),
                    dropped ? ": raise --rcvbuf and net.core.rmem_max" : "");
            if (nw) fprintf(stderr, "  threads   %s datagrams and messages received by each\n", per_thread);
            uint64_t backlog = backlog_drops() - backlog0;
            if (backlog)
                fprintf(stderr, "  dropped   %s packets of all traffic before any socket, the kernel's input backlog "
                                "full (/proc/net/softnet_stat): raise net.core.netdev_max_backlog\n",
                        fs_human_int(backlog, a, sizeof a));
        }
        if (cout.records && (store_dir || counters_path)) {
            char a[32];
            fprintf(stderr, "  counters  %s interface counter records (sFlow counter samples) into %s%s%s%s%s\n",
                    fs_human_int(cout.records, a, sizeof a), store_dir ? "the store's table 'counters'" : "",
                    store_dir && counters_path ? " and " : "", counters_path ? "'" : "",
                    counters_path ? counters_path : "", counters_path ? "'" : "");
        }
        if (export_to) {
            char a[32], b[32];
            fprintf(stderr, "  export    %s %s records in %s messages to '%s'\n", export_version == 10 ? "IPFIX" : "NetFlow v9",
                    fs_human_int(exported, a, sizeof a), fs_human_int(export_msgs, b, sizeof b), export_to);
        }
    }
out:
    atomic_store(&workers_stop, 1);
    fs_store_writer_close(cout.store, NULL, 0);
    if (cout.to_file) fs_record_writer_close(&cout.file);
    pthread_mutex_destroy(&cout.lock);
    for (int i = 0; i < nw; i++) {
        if (workers[i].started) pthread_join(workers[i].thread, NULL);
        for (int k = 0; k < workers[i].nfds; k++) close(workers[i].fds[k]);
        fs_nf_free(workers[i].x.nf);
        pthread_mutex_destroy(&workers[i].lock);
    }
    free(workers);
    if (writer_open) fs_writer_close(&x->writer);
    fs_store_writer_close(x->store, NULL, 0);
    fs_flow_exporter_close(x->exporter, NULL, NULL, NULL, 0);
    for (int i = 0; i < nfds; i++) close(fds[i]);
    fs_nf_free(x->nf);
    fs_filter_free(x->filter);
    free(x);
    return rc;
}

int fs_cmd_stats(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: flowsift stats STORE|FILE\n\nShows the counters a collector keeps per exporter (flowsift collect\n"
               "--stats FILE, by default STORE/collect-stats.csv), as a table, and how old they are: while the\n"
               "collector runs they are rewritten every 10 s.\n");
        return argc == 2 ? 0 : 2;
    }
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s", argv[1]);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(path, sizeof path, "%s/collect-stats.csv", argv[1]);
    FILE *f = fopen(path, "r");
    if (!f || fstat(fileno(f), &st) != 0) {
        if (f) fclose(f);
        return fs_cli_error("stats", "cannot read '%s': %s", path, strerror(errno));
    }
    double age = (double)time(NULL) - (double)st.st_mtime;
    printf("%s, written %.0f s ago\n\n", path, age < 0 ? 0 : age);
    fflush(stdout);
    fs_result rc = fs_table_print(f, stdout);
    fclose(f);
    return rc == FS_OK ? 0 : 1;
}
