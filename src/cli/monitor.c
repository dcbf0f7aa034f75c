/*
 * monitor.c - `flowsift monitor`: traffic -> per-host statistics over windows of 1 s to 1 h.
 *
 * Sources: capture files read as fast as possible or at their recorded pace (--speed), a live interface
 * (libpcap), flow exports received over UDP (NetFlow v5/v9, IPFIX, sFlow: the collector's decoder), and the
 * flow records of a store. One source per run. Records go to the store's "hosts" table and, with -o, as JSON
 * lines or CSV. A run ends at the end of its input, after --duration, or on SIGINT/SIGTERM; every open window
 * is then closed and written.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../capture/capture.h"
#include "../capture/inputs.h"
#include "../capture/live.h"
#include "../collect/listen.h"
#include "../collect/netflow.h"
#include "../decode/decode.h"
#include "../monitor/monitor.h"
#include "../monitor/profile.h"
#include "../output/record.h"
#include "../store/store.h"
#include "cli.h"

static const char *const C = "monitor";

struct mon {
    struct fs_monitor m;
    const char *store_dir;
    uint64_t stored, published;      /* records handed to the store writer; of those, published */
    double last_publish;
    struct fs_decoder dec;
    struct fs_store_writer *store;   /* owned, or NULL */
    fs_result store_rc;
    struct fs_record_writer out;
    int out_open;
    fs_result rc;                    /* first out-of-memory */
    uint64_t files, files_damaged, bytes_read, datagrams;
    struct fs_live *live;
    int quiet;
    struct fs_pkt batch[64];         /* decoded packets not yet monitored (fs_monitor_packets fetches ahead) */
    size_t nbatch;
    struct fs_profiles prof;
    int prof_level;                  /* the window length profiled (index), or -1 */
    char prof_path[4400];            /* where profiles are kept, or "" (memory only) */
    double last_prof_save;
};

static volatile sig_atomic_t stop_requested;
static struct fs_live *live_to_break;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (live_to_break) fs_live_break(live_to_break);
}

static void note(struct mon *x, fs_result r);

static void on_host(void *arg, int level, const struct fs_host_window *r)
{
    struct mon *x = arg;
    struct fs_host_window scored;
    const struct fs_host_window *rec = r;
    if (level == x->prof_level) {
        scored = *r;
        note(x, fs_profiles_apply(&x->prof, &scored));
        rec = &scored;
    }
    if (x->store && !x->store_rc) {
        x->store_rc = fs_store_writer_add(x->store, rec);
        x->stored++;
    }
    if (x->out_open) fs_record_write(&x->out, rec);
}

static void note(struct mon *x, fs_result r)
{
    if (r != FS_OK && x->rc == FS_OK) x->rc = r;
}

/* Monitors the batched packets. Called before the clock is moved by other means than packets (live, paced)
 * and at the end of input, so that a batch never holds packets across a window's close. */
static void flush_packets(struct mon *x)
{
    if (x->nbatch) note(x, fs_monitor_packets(&x->m, x->batch, x->nbatch));
    x->nbatch = 0;
}

static void batch_packet(struct mon *x, const struct fs_pkt *p)
{
    x->batch[x->nbatch++] = *p;
    if (x->nbatch == sizeof x->batch / sizeof x->batch[0]) flush_packets(x);
}

/* One captured frame: decoded and monitored, with any fragments it released. */
static void take_frame(struct mon *x, const struct fs_capture_pkt *cp)
{
    struct fs_pkt p;
    if (fs_decode(&x->dec, cp, &p)) batch_packet(x, &p);
    while (fs_decode_pending(&x->dec, &p)) batch_packet(x, &p);
}

#define PUBLISH_EVERY 5.0 /* seconds: how stale the store may be behind a live run */

static void save_profiles(struct mon *x)
{
    char err[4400];
    x->last_prof_save = fs_now_seconds();
    if (x->prof_level >= 0 && x->prof_path[0] && fs_profiles_save(&x->prof, x->prof_path, err, sizeof err) != FS_OK)
        fs_cli_error(C, "%s", err);
}

/* A live run: what closed is written out now, and what the store holds is published every few seconds (a
 * new writer each time: readers see whole segments only), so that readers follow within seconds. */
static void publish(struct mon *x)
{
    if (x->out_open) fflush(x->out.f);
    double now = fs_now_seconds();
    if (now - x->last_prof_save >= 600) save_profiles(x);
    if (!x->store || x->stored == x->published || now - x->last_publish < PUBLISH_EVERY) return;
    char err[512];
    x->last_publish = now;
    if (fs_store_writer_close(x->store, err, sizeof err) != FS_OK) fs_cli_error(C, "store '%s': %s", x->store_dir, err);
    x->store = NULL;
    x->published = x->stored;
    if (fs_store_writer_new(&x->store, x->store_dir, "hosts", 0, err, sizeof err) != FS_OK) {
        fs_cli_error(C, "store '%s': %s", x->store_dir, err);
        x->store_rc = FS_ERR_IO;
    }
}

static void on_live(void *arg, const struct fs_capture_pkt *cp) { take_frame(arg, cp); }

/* Sleeps until wall time `until` (monotonic seconds), moving the event clock along meanwhile so that windows
 * close during gaps of the replayed capture. */
static void pace_until(struct mon *x, double until, double wall0, uint64_t ts0, double speed)
{
    flush_packets(x);
    for (;;) {
        double now = fs_now_seconds();
        if (now >= until || stop_requested) return;
        double step = until - now > 0.1 ? 0.1 : until - now;
        struct timespec ts = { (time_t)step, (long)((step - (double)(time_t)step) * 1e9) };
        nanosleep(&ts, NULL);
        now = fs_now_seconds();
        note(x, fs_monitor_advance(&x->m, ts0 + (uint64_t)((now - wall0) * speed * 1e9)));
        publish(x);
    }
}

static int read_files(struct mon *x, struct fs_input_list *in, double speed, int keep_going, int progress)
{
    struct fs_progress prog;
    fs_progress_init(&prog, progress, in->total_bytes);
    char err[512];
    int rc = 0;
    uint64_t done = 0, ts0 = 0;
    double wall0 = 0;
    int paced = speed > 0, first = 1;
    for (size_t i = 0; i < in->n && !stop_requested; i++) {
        struct fs_capture *cap;
        if (fs_capture_open(&cap, in->v[i].path, err, sizeof err) != FS_OK) {
            fs_cli_error(C, "%s", err);
            x->files_damaged++;
            if (!keep_going) return 1;
            continue;
        }
        x->files++;
        struct fs_capture_pkt cp;
        fs_result r = FS_EOF;
        uint64_t n = 0;
        while (!stop_requested && (r = fs_capture_next(cap, &cp)) == FS_OK) {
            if (paced) {
                if (first) {
                    ts0 = cp.ts_ns;
                    wall0 = fs_now_seconds();
                    first = 0;
                }
                if (cp.ts_ns > ts0) pace_until(x, wall0 + (double)(cp.ts_ns - ts0) / 1e9 / speed, wall0, ts0, speed);
            }
            take_frame(x, &cp);
            if (x->rc != FS_OK) break;
            if ((++n & 0xffff) == 0)
                fs_progress_update(&prog, done + fs_capture_bytes_read(cap), x->dec.stats.packets, UINT64_MAX);
        }
        if (stop_requested) r = FS_EOF;
        uint64_t got = fs_capture_bytes_read(cap);
        x->bytes_read += got;
        done += in->v[i].size ? in->v[i].size : got;
        if (r != FS_EOF && x->rc == FS_OK) {
            fs_progress_done(&prog);
            fs_cli_error(C, "%s (%llu packets read from this file are kept)", fs_capture_error(cap),
                         (unsigned long long)n);
            x->files_damaged++;
            if (!keep_going) rc = 1;
        }
        fs_capture_free(cap);
        if (rc || x->rc != FS_OK) break;
    }
    fs_progress_done(&prog);
    return rc;
}

static int read_live(struct mon *x, const struct fs_live_opts *lo, uint64_t duration_ns)
{
    char err[512];
    if (fs_live_open(&x->live, lo, err, sizeof err) != FS_OK) return fs_cli_error(C, "%s", err);
    live_to_break = x->live;
    uint64_t start = fs_wall_ns();
    if (!x->quiet) fprintf(stderr, "flowsift monitor: capturing on '%s' (SIGINT or SIGTERM ends)\n", lo->iface);
    int rc = 0;
    while (!stop_requested && x->rc == FS_OK) {
        if (fs_live_dispatch(x->live, on_live, x) < 0) {
            rc = fs_cli_error(C, "capture on '%s' failed: %s", lo->iface, fs_live_error(x->live));
            break;
        }
        flush_packets(x);
        uint64_t now = fs_wall_ns();
        note(x, fs_monitor_advance(&x->m, now));
        publish(x);
        if (duration_ns && now - start >= duration_ns) break;
    }
    live_to_break = NULL;
    return rc;
}

/* The records of one datagram, taken by the monitor together (fs_monitor_flows fetches ahead). */
#define EXPORT_BATCH 64

struct export_ctx {
    struct mon *x;
    uint64_t recv_ns;
    struct fs_flow batch[EXPORT_BATCH];
    size_t n;
};

static void export_flush(struct export_ctx *e)
{
    if (e->n) note(e->x, fs_monitor_flows(&e->x->m, e->batch, e->n, e->recv_ns));
    e->n = 0;
}

static void on_export_flow(void *arg, struct fs_flow *f)
{
    struct export_ctx *e = arg;
    e->batch[e->n++] = *f;
    if (e->n == EXPORT_BATCH) export_flush(e);
}

static int read_udp(struct mon *x, const char *spec, uint64_t duration_ns)
{
    char err[512];
    int fd;
    if (fs_export_listen(spec, SOCK_DGRAM, 0, 32 << 20, &fd, err, sizeof err) != 0)
        return fs_cli_error(C, "cannot listen: %s", err);
    struct timeval tv = { 0, 100000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct fs_nf_decoder *nf;
    if (fs_nf_new(&nf) != FS_OK) {
        close(fd);
        return fs_cli_error(C, "out of memory");
    }
    if (!x->quiet) fprintf(stderr, "flowsift monitor: listening on '%s' (SIGINT or SIGTERM ends)\n", spec);
    static uint8_t buf[65536];
    static struct export_ctx ectx;
    struct export_ctx *e = &ectx;
    e->n = 0;
    uint64_t start = fs_wall_ns();
    while (!stop_requested && x->rc == FS_OK) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        uint64_t now = fs_wall_ns();
        if (n >= 0) {
            struct fs_export_origin o;
            fs_export_origin_of(&from, &o);
            x->datagrams++;
            e->x = x;
            e->recv_ns = now;
            fs_nf_message(nf, &o, now, buf, (size_t)n, on_export_flow, e);
            export_flush(e);
        }
        note(x, fs_monitor_advance(&x->m, now));
        publish(x);
        if (duration_ns && now - start >= duration_ns) break;
    }
    fs_nf_finish(nf);
    fs_nf_free(nf);
    close(fd);
    return 0;
}

static int on_stored_flow(void *arg, const void *rec)
{
    struct mon *x = arg;
    const struct fs_flow *f = rec;
    note(x, fs_monitor_flow(&x->m, f, f->first_ns)); /* a store is read in the order of first packets */
    return x->rc != FS_OK || stop_requested;
}

static void on_damage(void *arg, const char *message)
{
    (void)arg;
    fs_cli_warn(C, "%s", message);
}

static int read_store(struct mon *x, const char *dir)
{
    char err[1024];
    if (fs_store_prepare(dir, 0, NULL, err, sizeof err) != FS_OK) return fs_cli_error(C, "%s", err);
    struct fs_store_scan_stats st;
    if (fs_store_scan(dir, "flows", NULL, on_stored_flow, on_damage, x, &st, err, sizeof err) != FS_OK)
        return fs_cli_error(C, "%s", err);
    return st.segments_damaged != 0;
}

static void help(void)
{
    printf("usage: flowsift monitor [OPTIONS] [CAPTURE...]\n"
           "\n"
           "Per-host statistics over event-time windows: for every monitored host, what it sent and what it\n"
           "received in each window (flows, packets, bytes, average flow duration, distinct peers and ports,\n"
           "TCP flag counts, sessions, top protocols, ports and peers by bytes, most visited peer and most used\n"
           "port). Every window length comes from one pass. Records go into the store's 'hosts' table\n"
           "($FLOWSIFT_STORE or " FS_DEFAULT_STORE "), read with 'flowsift query --table hosts'; -o prints them too.\n"
           "\n"
           "sources (one):\n"
           "  CAPTURE...               pcap/pcapng files or directories, read as fast as possible\n"
           "      --speed X            replay them at X times their recorded pace (1 = real time)\n"
           "  -i, --interface IFACE    capture live with libpcap\n"
           "      --bpf EXPR           BPF filter for live capture\n"
           "      --snaplen N          bytes captured of each packet                       [262144]\n"
           "      --no-promisc         do not put the interface in promiscuous mode\n"
           "      --listen [ADDR:]PORT receive NetFlow v5/v9, IPFIX or sFlow over UDP (each record in the\n"
           "                           window of its arrival)\n"
           "      --from-store DIR     the flow records of a store (each in the window of its first packet)\n"
           "      --duration T         stop a live capture or listener after T\n"
           "\n"
           "hosts and windows:\n"
           "  -n, --net PREFIX         a monitored network (10.0.0.0/8, 2001:db8::/32, 192.0.2.7); repeat\n"
           "                           or separate with commas\n"
           "      --all-hosts          monitor every address seen\n"
           "  -w, --windows LIST       window lengths, each a multiple of the one before   [10s,30s,1m,5m,1h]\n"
           "      --lateness T         how long a window waits for late data after its end  [2s]\n"
           "      --idle-timeout T     a conversation silent for T starts anew (new flows)  [120s]\n"
           "      --max-conversations N  live conversations of packets (about 100 bytes each, and 200 more in\n"
           "                           each open base window they are active in); packets of more are not\n"
           "                           counted, and are reported                                 [10M]\n"
           "      --size BASIS         bytes: ip (IP total length) or frame (on the wire)   [ip]\n"
           "\n"
           "profiles (docs/flowsift-monitor.md):\n"
           "      --profile-window T   the window length profiled and scored by hour of the week: each of its\n"
           "                           records gets a deviation from the host's usual traffic  [5m if listed,\n"
           "                           else the longest]\n"
           "      --profile-alpha A    weight of a new window in the profile's moving averages   [0.1]\n"
           "      --max-profiles N     hosts profiled (about %zu bytes each)                [100k]\n"
           "      --no-profiles        no profiles, no deviations\n"
           "      --profiles FILE      keep the profiles in FILE            [STORE/profiles/hosts-LENGTH.prof]\n"
           "\n"
           "output:\n"
           "      --store DIR          the store for the records                      [$FLOWSIFT_STORE or " FS_DEFAULT_STORE "]\n"
           "      --no-store           do not write a store\n"
           "  -o, --output FILE        also write the records to FILE (- = standard output)\n"
           "  -F, --format FMT         json (one object a line) or csv                       [json]\n"
           "  -q, --quiet              no summary on standard error\n"
           "      --progress on|off|auto  progress bar for files                            [auto]\n"
           "      --keep-going         after a damaged capture file, go on with the next\n"
           "  -h, --help               this text\n"
           "\n"
           "Exit status: 0 done, 1 an input could not be read completely or output failed, 2 bad usage.\n"
           "See docs/flowsift-monitor.md for every column and the exact semantics.\n", sizeof(struct fs_host_profile));
}

static int parse_windows(const char *s, struct fs_monitor_opts *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    o->nwindows = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (o->nwindows == FS_MONITOR_MAX_LEVELS || fs_parse_duration(t, &v) || v < 1000000) return -1;
        if (o->nwindows && (v <= o->windows_ns[o->nwindows - 1] || v % o->windows_ns[o->nwindows - 1])) return -1;
        o->windows_ns[o->nwindows++] = v;
    }
    return o->nwindows ? 0 : -1;
}

static void summary(const struct mon *x, double elapsed)
{
    const struct fs_monitor_stats *s = &x->m.stats;
    char a[32], b[32], c[32];
    fprintf(stderr, "flowsift monitor: %s packets, %s flow records in %.2f s\n", fs_human_int(s->packets, a, sizeof a),
            fs_human_int(s->flows, b, sizeof b), elapsed);
    if (x->files) fprintf(stderr, "  files     %llu read, %llu damaged, %s\n", (unsigned long long)x->files,
                          (unsigned long long)x->files_damaged, fs_human_bytes((double)x->bytes_read, a, sizeof a));
    if (x->datagrams) fprintf(stderr, "  received  %s datagrams\n", fs_human_int(x->datagrams, a, sizeof a));
    fprintf(stderr, "  skipped   %s without a monitored host, %s late (packets), %s late (flows)\n",
            fs_human_int(s->unmonitored, a, sizeof a), fs_human_int(s->late_packets, b, sizeof b),
            fs_human_int(s->late_flows, c, sizeof c));
    fprintf(stderr, "  updates   %s one-way flows into host windows; %s conversations (%s live at most)\n",
            fs_human_int(s->updates, a, sizeof a), fs_human_int(s->conversations, b, sizeof b),
            fs_human_int(s->conv_live_peak, c, sizeof c));
    for (int l = 0; l < x->m.opts.nwindows; l++) {
        uint64_t w = x->m.opts.windows_ns[l];
        fprintf(stderr, "  %5llu%s    %s host records in %s windows\n",
                (unsigned long long)(w % 60000000000ull ? w / 1000000000ull : w % 3600000000000ull ? w / 60000000000ull
                                                                                               : w / 3600000000000ull),
                w % 60000000000ull ? "s" : w % 3600000000000ull ? "m" : "h", fs_human_int(s->records[l], a, sizeof a),
                fs_human_int(s->windows[l], b, sizeof b));
    }
    fprintf(stderr, "  memory    %s at most", fs_human_bytes((double)s->bytes_peak, a, sizeof a));
    if (x->prof_level >= 0)
        fprintf(stderr, "; %s host profiles, %s", fs_human_int(x->prof.n, b, sizeof b),
                fs_human_bytes((double)x->prof.cap * sizeof(struct fs_host_profile), c, sizeof c));
    fputc('\n', stderr);
    if (x->prof_level >= 0)
        fprintf(stderr, "  profiles  %s records scored against a warm profile%s%s\n",
                fs_human_int(x->prof.scored, a, sizeof a), x->prof.refused ? "; not profiled (--max-profiles): " : "",
                x->prof.refused ? fs_human_int(x->prof.refused, b, sizeof b) : "");
    if (s->refused)
        fprintf(stderr, "  warning   %s packets and flow records not counted: --max-conversations were live\n",
                fs_human_int(s->refused, a, sizeof a));
}

enum { OPT_SPEED = 256, OPT_BPF, OPT_SNAPLEN, OPT_NOPROMISC, OPT_LISTEN, OPT_FROMSTORE, OPT_DURATION, OPT_ALL,
       OPT_LATENESS, OPT_IDLE, OPT_MAXHOSTS, OPT_SIZE, OPT_STORE, OPT_NOSTORE, OPT_PROGRESS, OPT_KEEPGOING,
       OPT_PWINDOW, OPT_PALPHA, OPT_MAXPROF, OPT_NOPROF, OPT_PROFILES };

int fs_cmd_monitor(int argc, char **argv)
{
    static const struct option opts[] = {
        { "speed", required_argument, 0, OPT_SPEED },     { "interface", required_argument, 0, 'i' },
        { "bpf", required_argument, 0, OPT_BPF },         { "snaplen", required_argument, 0, OPT_SNAPLEN },
        { "no-promisc", no_argument, 0, OPT_NOPROMISC },  { "listen", required_argument, 0, OPT_LISTEN },
        { "from-store", required_argument, 0, OPT_FROMSTORE }, { "duration", required_argument, 0, OPT_DURATION },
        { "net", required_argument, 0, 'n' },             { "all-hosts", no_argument, 0, OPT_ALL },
        { "windows", required_argument, 0, 'w' },         { "lateness", required_argument, 0, OPT_LATENESS },
        { "idle-timeout", required_argument, 0, OPT_IDLE }, { "max-conversations", required_argument, 0, OPT_MAXHOSTS },
        { "size", required_argument, 0, OPT_SIZE },       { "store", required_argument, 0, OPT_STORE },
        { "no-store", no_argument, 0, OPT_NOSTORE },      { "output", required_argument, 0, 'o' },
        { "format", required_argument, 0, 'F' },          { "quiet", no_argument, 0, 'q' },
        { "progress", required_argument, 0, OPT_PROGRESS }, { "keep-going", no_argument, 0, OPT_KEEPGOING },
        { "profile-window", required_argument, 0, OPT_PWINDOW }, { "profile-alpha", required_argument, 0, OPT_PALPHA },
        { "max-profiles", required_argument, 0, OPT_MAXPROF }, { "no-profiles", no_argument, 0, OPT_NOPROF },
        { "profiles", required_argument, 0, OPT_PROFILES },
        { "help", no_argument, 0, 'h' },                  { 0, 0, 0, 0 },
    };
    static struct mon x;
    memset(&x, 0, sizeof x);
    static struct fs_prefix prefixes[FS_MONITOR_MAX_PREFIXES];
    struct fs_monitor_opts mo;
    fs_monitor_opts_default(&mo);
    mo.prefixes = prefixes;
    struct fs_live_opts lo = { NULL, NULL, 0, 1, 100, 64 };
    const char *listen_spec = NULL, *from_store = NULL, *store_dir = NULL, *out_path = NULL;
    int no_store = 0, keep_going = 0, progress_mode = -1, c;
    double speed = 0, palpha = 0.1;
    uint64_t duration = 0, v, pwindow = 0, max_profiles = 100000;
    int no_profiles = 0;
    const char *profiles_path = NULL;
    enum fs_format format = FS_FORMAT_JSON;
    char err[1024];

    optind = 1;
    while ((c = getopt_long(argc, argv, "i:n:w:o:F:qh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_SPEED: {
            char *end;
            speed = strtod(optarg, &end);
            if (end == optarg || *end || !(speed > 0)) return fs_cli_error(C, "--speed takes a positive number") + 1;
            break;
        }
        case 'i': lo.iface = optarg; break;
        case OPT_BPF: lo.bpf = optarg; break;
        case OPT_SNAPLEN:
            if (fs_parse_count(optarg, &v) || v < 64 || v > 262144) return fs_cli_error(C, "--snaplen takes 64 to 262144") + 1;
            lo.snaplen = (int)v;
            break;
        case OPT_NOPROMISC: lo.promisc = 0; break;
        case OPT_LISTEN: listen_spec = optarg; break;
        case OPT_FROMSTORE: from_store = optarg; break;
        case OPT_DURATION:
            if (fs_parse_duration(optarg, &duration) || !duration) return fs_cli_error(C, "'%s' is not a duration", optarg) + 1;
            break;
        case 'n': {
            char buf[4096];
            snprintf(buf, sizeof buf, "%s", optarg);
            for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (mo.nprefixes == FS_MONITOR_MAX_PREFIXES)
                    return fs_cli_error(C, "at most %d networks", FS_MONITOR_MAX_PREFIXES) + 1;
                if (fs_prefix_parse(t, &prefixes[mo.nprefixes]))
                    return fs_cli_error(C, "--net: '%s' is not an address or prefix", t) + 1;
                mo.nprefixes++;
            }
            break;
        }
        case OPT_ALL: mo.all_hosts = 1; break;
        case 'w':
            if (parse_windows(optarg, &mo))
                return fs_cli_error(C, "--windows: '%s' is not a list of at most %d lengths of at least 1ms, each a "
                                       "multiple of the one before", optarg, FS_MONITOR_MAX_LEVELS) + 1;
            break;
        case OPT_LATENESS:
        case OPT_IDLE:
            if (fs_parse_duration(optarg, &v)) return fs_cli_error(C, "'%s' is not a duration", optarg) + 1;
            if (c == OPT_LATENESS) mo.lateness_ns = v;
            else mo.idle_ns = v;
            break;
        case OPT_MAXHOSTS:
            if (fs_parse_count(optarg, &v) || !v)
                return fs_cli_error(C, "--max-conversations takes a positive count") + 1;
            mo.max_conversations = v;
            break;
        case OPT_SIZE:
            if (strcmp(optarg, "ip") == 0) mo.size_basis = FS_SIZE_IP;
            else if (strcmp(optarg, "frame") == 0) mo.size_basis = FS_SIZE_FRAME;
            else return fs_cli_error(C, "--size takes ip or frame, not '%s'", optarg) + 1;
            break;
        case OPT_STORE: store_dir = optarg; break;
        case OPT_NOSTORE: no_store = 1; break;
        case 'o': out_path = optarg; break;
        case 'F':
            if (strcmp(optarg, "json") == 0 || strcmp(optarg, "jsonl") == 0) format = FS_FORMAT_JSON;
            else if (strcmp(optarg, "csv") == 0) format = FS_FORMAT_CSV;
            else return fs_cli_error(C, "--format takes json or csv, not '%s'", optarg) + 1;
            break;
        case 'q': x.quiet = 1; break;
        case OPT_PROGRESS:
            if ((progress_mode = fs_cli_progress_mode(C, optarg)) == -2) return 2;
            break;
        case OPT_KEEPGOING: keep_going = 1; break;
        case OPT_PWINDOW:
            if (fs_parse_duration(optarg, &pwindow) || !pwindow) return fs_cli_error(C, "'%s' is not a duration", optarg) + 1;
            break;
        case OPT_PALPHA: {
            char *end;
            palpha = strtod(optarg, &end);
            if (end == optarg || *end || !(palpha > 0 && palpha <= 1))
                return fs_cli_error(C, "--profile-alpha takes a number in (0, 1]") + 1;
            break;
        }
        case OPT_MAXPROF:
            if (fs_parse_count(optarg, &max_profiles) || !max_profiles)
                return fs_cli_error(C, "--max-profiles takes a positive count") + 1;
            break;
        case OPT_NOPROF: no_profiles = 1; break;
        case OPT_PROFILES: profiles_path = optarg; break;
        case 'h': help(); return 0;
        default: fprintf(stderr, "Try 'flowsift monitor --help'.\n"); return 2;
        }
    }
    int nsources = (optind < argc) + !!lo.iface + !!listen_spec + !!from_store;
    if (nsources != 1) {
        fprintf(stderr, "flowsift monitor: give one source: capture files, -i IFACE, --listen PORT or --from-store DIR\n"
                        "Try 'flowsift monitor --help'.\n");
        return 2;
    }
    if (!mo.all_hosts && !mo.nprefixes) {
        fprintf(stderr, "flowsift monitor: say which hosts to monitor: --net PREFIX (repeatable) or --all-hosts\n");
        return 2;
    }
    if (speed > 0 && optind >= argc) return fs_cli_error(C, "--speed replays capture files") + 1;
    x.prof_level = -1;
    if (!no_profiles) {
        for (int l = 0; l < mo.nwindows; l++)
            if (pwindow ? mo.windows_ns[l] == pwindow : (mo.windows_ns[l] == 300000000000ull || l == mo.nwindows - 1)) {
                x.prof_level = l;
                break;
            }
        if (x.prof_level < 0) return fs_cli_error(C, "--profile-window must be one of the --windows") + 1;
        fs_profiles_init(&x.prof, mo.windows_ns[x.prof_level], palpha, max_profiles);
    }
    struct fs_input_list inputs;
    fs_inputs_init(&inputs);
    for (int i = optind; i < argc; i++)
        if (fs_inputs_add(&inputs, argv[i], err, sizeof err)) {
            fs_inputs_release(&inputs);
            return fs_cli_error(C, "%s", err);
        }
    fs_inputs_order(&inputs);

    int rc = 0;
    if (getrandom(&mo.seed, sizeof mo.seed, 0) != (ssize_t)sizeof mo.seed) mo.seed ^= (uint64_t)fs_now_seconds();
    struct fs_decode_opts dopt;
    fs_decode_opts_default(&dopt);
    if (fs_decoder_init(&x.dec, &dopt) || fs_monitor_init(&x.m, &mo, on_host, &x) != FS_OK) {
        fs_inputs_release(&inputs);
        return fs_cli_error(C, "out of memory");
    }
    if (!store_dir && !no_store) {
        store_dir = getenv("FLOWSIFT_STORE");
        if (!store_dir || !*store_dir) store_dir = FS_DEFAULT_STORE;
    }
    if (no_store) store_dir = NULL;
    x.store_dir = store_dir;
    x.last_publish = fs_now_seconds();
    if (store_dir) {
        uint64_t removed = 0;
        if (fs_store_prepare(store_dir, 1, &removed, err, sizeof err) != FS_OK ||
            fs_store_writer_new(&x.store, store_dir, "hosts", 0, err, sizeof err) != FS_OK) {
            rc = fs_cli_error(C, "%s", err);
            goto out;
        }
    }
    if (x.prof_level >= 0) {
        if (profiles_path) {
            snprintf(x.prof_path, sizeof x.prof_path, "%s", profiles_path);
        } else if (store_dir) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/profiles", store_dir);
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                rc = fs_cli_error(C, "cannot create '%s': %s", dir, strerror(errno));
                goto out;
            }
            snprintf(x.prof_path, sizeof x.prof_path, "%s/hosts-%llus.prof", dir,
                     (unsigned long long)(mo.windows_ns[x.prof_level] / 1000000000ull));
        }
        uint64_t loaded = 0;
        if (x.prof_path[0] && fs_profiles_load(&x.prof, x.prof_path, &loaded, err, sizeof err) != FS_OK) {
            rc = fs_cli_error(C, "%s (move it away to start new profiles, or give --no-profiles)", err);
            goto out;
        }
        if (loaded && !x.quiet)
            fprintf(stderr, "flowsift monitor: %llu host profiles from '%s'\n", (unsigned long long)loaded, x.prof_path);
    }
    if (out_path) {
        if (fs_record_writer_open(&x.out, out_path, fs_store_schema_find("hosts"), format, 9) != FS_OK) {
            rc = fs_cli_error(C, "cannot open '%s' for writing: %s", out_path, strerror(errno));
            goto out;
        }
        x.out_open = 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double t0 = fs_now_seconds();
    if (inputs.n) rc = read_files(&x, &inputs, speed, keep_going,
                                  progress_mode == -1 ? (isatty(2) && !x.quiet && speed == 0) : progress_mode);
    else if (lo.iface) rc = read_live(&x, &lo, duration);
    else if (listen_spec) rc = read_udp(&x, listen_spec, duration);
    else rc = read_store(&x, from_store);
    fs_decode_flush(&x.dec);
    struct fs_pkt p;
    while (fs_decode_pending(&x.dec, &p)) batch_packet(&x, &p);
    flush_packets(&x);
    note(&x, fs_monitor_finish(&x.m));
    if (x.rc != FS_OK) rc = fs_cli_error(C, "out of memory (lower --max-conversations or shorten --idle-timeout)");
    if (x.live) {
        uint64_t recv, drop;
        if (!x.quiet && fs_live_stats(x.live, &recv, &drop) == 0 && drop)
            fs_cli_warn(C, "the kernel dropped %llu of %llu packets", (unsigned long long)drop, (unsigned long long)recv);
        fs_live_close(x.live);
        x.live = NULL;
    }
    if (x.out_open) {
        x.out_open = 0;
        if (fs_record_writer_close(&x.out) != FS_OK && !rc) rc = fs_cli_error(C, "writing '%s' failed", out_path);
    }
    if (x.store) {
        if (x.store_rc && !rc) rc = 1;
        if (fs_store_writer_close(x.store, err, sizeof err) != FS_OK) rc = fs_cli_error(C, "store '%s': %s", store_dir, err);
        x.store = NULL;
    }
    if (x.prof_level >= 0) save_profiles(&x);
    if (!x.quiet) summary(&x, fs_now_seconds() - t0);
out:
    if (x.out_open) fs_record_writer_close(&x.out);
    fs_store_writer_close(x.store, NULL, 0);
    fs_live_close(x.live);
    fs_monitor_release(&x.m);
    if (x.prof_level >= 0) fs_profiles_free(&x.prof);
    fs_decoder_release(&x.dec);
    fs_inputs_release(&inputs);
    return rc;
}
