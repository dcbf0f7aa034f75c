/*
 * extract.c - `flowsift extract`: captures -> flows with features -> CSV/JSON.
 *
 * The inputs are one continuous capture: files are ordered by their first
 * packet and read through one decoder and one meter, so a flow cut by a file
 * boundary comes out as one flow. A damaged file stops the run after flushing
 * what was read (exit 1), or with --keep-going is reported and skipped.
 */
#include <errno.h>
#include <getopt.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../capture/capture.h"
#include "../capture/inputs.h"
#include "../decode/decode.h"
#include "../field/field.h"
#include "../collect/export.h"
#include "../filter/filter.h"
#include "../flow/meter.h"
#include "../output/writer.h"
#include "../pipeline/pipeline.h"
#include "../store/store.h"
#include "cli.h"

static const char *const reason_keys[FS_REASON_COUNT] = {
    "linktype", "not_ip", "truncated", "malformed", "later_fragment_skipped", "fragment", "frag_orphan", "tunnel",
    "tunnel_bad", "snaplen", "reasm_merged", "reasm_datagrams", "reasm_released",
};

/* Where one metering thread's flows go: the filter, then its writer. Each in cache lines of its own (the
 * type's alignment; sinks sit side by side in an array and each thread writes its own for every record). */
struct sink {
    _Alignas(64) struct fs_writer writer;
    int csv;                        /* records go to the writer (CSV/JSON) */
    struct fs_store_writer *store;  /* borrowed: the run's one writer (x.store), NULL without a store */
    fs_result store_rc;             /* first store error */
    uint64_t stored;                /* records handed to the store */
    struct fs_flow *pending;        /* owned: records for the store and the exporter, SINK_BATCH at a time */
    size_t npending;
    struct fs_flow_exporter *exporter; /* borrowed: the run's one exporter (x.exporter), or NULL */
    fs_result export_rc;            /* first export error */
    const struct fs_filter *filter;
    const struct fs_field_ctx *ctx;
    uint64_t filtered_out;
};

struct extract {
    struct fs_decoder dec;
    struct fs_meter meter;          /* one thread */
    struct fs_pipeline pipe;        /* several threads */
    int threaded;
    struct sink *sinks;             /* sinks[0] owns the output; others clone it */
    struct fs_store_writer *store;  /* owned: the store writer the sinks share, NULL without a store */
    struct fs_flow_exporter *exporter; /* owned: IPFIX / NetFlow v9 out, NULL without --export */
    int nsinks;
    struct fs_filter *filter;
    struct fs_field_ctx ctx;
    struct fs_meter_stats mstats;   /* the meter's or the workers' sum, at the end */
    struct fs_pkt batch[32];        /* one thread: packets waiting to be metered together */
    size_t nbatch;
    uint64_t files_read, files_damaged, bytes_read;
    int quiet;
};

#define SINK_BATCH 256

static void sink_drain(struct sink *s);

static void on_flow(void *arg, struct fs_flow *f)
{
    struct sink *s = arg;
    if (s->filter && !fs_filter_match(s->filter, f, s->ctx)) {
        s->filtered_out++;
        return;
    }
    if (s->csv) fs_writer_flow(&s->writer, f);
    if ((s->store && !s->store_rc) || (s->exporter && !s->export_rc)) {
        s->pending[s->npending++] = *f;
        if (s->store) s->stored++;
        if (s->npending == SINK_BATCH) sink_drain(s);
    }
}

/* Hands a sink's batched records to the store and the exporter. */
static void sink_drain(struct sink *s)
{
    if (s->store && s->npending && !s->store_rc) s->store_rc = fs_store_writer_add_many(s->store, s->pending, s->npending);
    if (s->exporter && s->npending && !s->export_rc) s->export_rc = fs_flow_export_many(s->exporter, s->pending, s->npending);
    s->npending = 0;
}

#define METER_BATCH 32

/* Meters what is batched (one thread). */
static fs_result meter_batch(struct extract *x)
{
    fs_result rc = fs_meter_packets(&x->meter, x->batch, x->nbatch);
    x->nbatch = 0;
    return rc;
}

static fs_result meter_one(struct extract *x, struct fs_pkt *p)
{
    if (x->threaded) {
        fs_pipeline_packet(&x->pipe, p);
        return FS_OK;
    }
    fs_pkt_route(p, x->meter.opts.seed);
    x->batch[x->nbatch++] = *p;
    return x->nbatch == METER_BATCH ? meter_batch(x) : FS_OK;
}

/* Meters the fragments the decoder released from reassembly. */
static fs_result meter_pending(struct extract *x)
{
    struct fs_pkt p;
    while (fs_decode_pending(&x->dec, &p))
        if (meter_one(x, &p) != FS_OK) return FS_ERR_NOMEM;
    return FS_OK;
}

static uint64_t records_written(const struct extract *x)
{
    uint64_t n = 0;
    for (int i = 0; i < x->nsinks; i++)
        n += x->sinks[i].csv ? x->sinks[i].writer.records : x->sinks[i].stored;
    return n;
}

static uint64_t filtered_out(const struct extract *x)
{
    uint64_t n = 0;
    for (int i = 0; i < x->nsinks; i++) n += x->sinks[i].filtered_out;
    return n;
}

static void set_time_decimals(struct extract *x, int d)
{
    for (int i = 0; i < x->nsinks; i++) fs_writer_set_time_decimals(&x->sinks[i].writer, d);
}

static void help(void)
{
    printf("usage: flowsift extract [OPTIONS] INPUT...\n"
           "\n"
           "Reads packet captures (pcap, pcapng; files, directories, or - for standard input) as one continuous\n"
           "capture and writes one record per bidirectional flow, with counts, sizes, timing and TCP flag\n"
           "statistics overall and per direction. Files are read in the order of their first packet.\n"
           "Records go into the store $FLOWSIFT_STORE, or " FS_DEFAULT_STORE " in the current directory, for\n"
           "'flowsift query'; -o, -F, --fields or --preset print them as CSV or JSON instead.\n"
           "\n"
           "output:\n"
           "  -o, --output FILE        write records as CSV/JSON to FILE; - is standard output\n"
           "  -F, --format FMT         csv (with a header line) or json (one object a line) [csv]\n"
           "      --fields LIST        comma-separated fields or a preset name              [default]\n"
           "      --preset NAME        the same as --fields NAME\n"
           "      --store DIR          write the records into the store DIR (created if missing), read\n"
           "                           by 'flowsift query'; with -o too, both     [$FLOWSIFT_STORE or " FS_DEFAULT_STORE "]\n"
           "      --segment-rows N     records per store segment (smaller: published sooner)  [65536]\n"
           "      --retention AGE      then remove store partitions older than AGE (e.g. 30d), counted\n"
           "                           back from the newest data                          [keep all]\n"
           "      --max-size SIZE      then remove the oldest partitions while the store is larger [no limit]\n"
           "      --compact            then compact the store (see flowsift compact)\n"
           "      --export HOST:PORT   also send the records as IPFIX over UDP to a collector ([IPV6]:PORT too)\n"
           "      --export-file FILE   also write the records as an IPFIX file (RFC 5655)\n"
           "      --export-version V   10 (IPFIX) or 9 (NetFlow v9) for --export           [10]\n"
           "  -f, --filter EXPR        write only flows that match EXPR (see docs/filter.md),\n"
           "                           e.g. 'paysize == 0', 'proto tcp and dstp 22'\n"
           "\n"
           "flow semantics:\n"
           "      --idle-timeout T     end a flow after T without packets; 0 = never      [120s]\n"
           "      --active-timeout T   end a flow older than T, continuing as a new flow; 0 = never [1800s]\n"
           "      --tcp-teardown on|off  end TCP flows on FIN from both sides or RST        [on]\n"
           "      --close-grace T      packets within T after a teardown still belong to the flow [1s]\n"
           "      --size BASIS         packet size: ip (IP total length), frame (bytes on the wire)\n"
           "                           or payload (transport payload)                      [ip]\n"
           "      --stddev KIND        population or sample standard deviations          [population]\n"
           "      --decap LIST         tunnels to decapsulate: gre,vxlan,geneve,gtp,ipip,teredo, all or none;\n"
           "                           a tunnel not listed is metered as its outer flow   [all]\n"
           "      --no-vlan-key        do not separate flows by VLAN id\n"
           "      --fragments WHICH    all: later IP fragments count in their flow; first: skip them\n"
           "                           (the convention of nDPI and others)                [all]\n"
           "      --memcap BYTES       memory for live flows: a flow takes %zu bytes while it has at most\n"
           "                           %d packets, %zu after, and 16 to 32 in the index. From 90%% of the\n"
           "                           cap the idle timeout drops to --emergency-idle (flows end as\n"
           "                           'emergency-idle') until below 70%%; at the cap the least recently\n"
           "                           active flow ends as 'evict'; both are counted       [4G]\n"
           "      --max-flows N        the same cap in live flows, with the same policy   [none]\n"
           "      --emergency-idle T   idle timeout near the cap        [idle timeout / 10, at least 1s]\n"
           "\n"
           "inputs and errors:\n"
           "      --files-from FILE    read input paths from FILE, one a line (- = standard input)\n"
           "      --keep-going         after a damaged file, go on with the next (exit 0)\n"
           "\n"
           "performance:\n"
           "      --threads N|auto     threads in all: 1 does everything in one; N > 1 reads and decodes\n"
           "                           in one and meters in N - 1, each owning a share of the flows  [auto:\n"
           "                           twice the number of cores]\n"
           "\n"
           "reporting:\n"
           "      --stats FILE         write the run's counters as JSON to FILE\n"
           "  -q, --quiet              no summary on standard error\n"
           "      --progress on|off|auto  progress bar on standard error                  [auto: if a terminal]\n"
           "  -h, --help               this text\n"
           "\n"
           "Times take s (default), ms, us, m, h; counts take k, M, G. Field list: flowsift fields.\n"
           "Exit status: 0 done, 1 an input could not be read completely or output failed, 2 bad usage.\n",
           fs_meter_small_size(), FS_METER_LOG, fs_meter_big_size());
}

static int parse_decap(const char *s, unsigned *mask)
{
    if (strcmp(s, "all") == 0) { *mask = FS_DECAP_ALL; return 0; }
    if (strcmp(s, "none") == 0) { *mask = 0; return 0; }
    unsigned m = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned k;
        for (k = 1; k < FS_TUNNEL_COUNT; k++)
            if (strcmp(t, fs_tunnel_name(k)) == 0) break;
        if (k == FS_TUNNEL_COUNT) return -1;
        m |= 1u << k;
    }
    *mask = m;
    return 0;
}

static void write_stats(const char *path, const struct extract *x, double elapsed, double cpu)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) {
        fs_cli_warn("extract", "cannot write stats to '%s': %s", path, strerror(errno));
        return;
    }
    const struct fs_decode_stats *d = &x->dec.stats;
    const struct fs_meter_stats *m = &x->mstats;
    fprintf(f, "{\"files\":%llu,\"files_damaged\":%llu,\"bytes\":%llu,\"packets\":%llu,\"decoded\":%llu",
            (unsigned long long)x->files_read, (unsigned long long)x->files_damaged,
            (unsigned long long)x->bytes_read, (unsigned long long)d->packets, (unsigned long long)d->decoded);
    fprintf(f, ",\"reasons\":{");
    for (int i = 0; i < FS_REASON_COUNT; i++)
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", reason_keys[i], (unsigned long long)d->count[i]);
    fprintf(f, "},\"flows\":%llu,\"flows_written\":%llu,\"flows_filtered_out\":%llu,\"live_peak\":%llu,"
               "\"bytes_at_live_peak\":%llu,\"bytes_peak\":%llu,\"long_flows\":%llu,\"ended\":{",
            (unsigned long long)m->flows_emitted, (unsigned long long)records_written(x),
            (unsigned long long)filtered_out(x), (unsigned long long)m->live_peak,
            (unsigned long long)m->bytes_at_live_peak, (unsigned long long)m->bytes_peak,
            (unsigned long long)m->long_flows);
    for (int i = 1; i < FS_END_COUNT; i++)
        fprintf(f, "%s\"%s\":%llu", i > 1 ? "," : "", fs_end_reason_name((unsigned)i),
                (unsigned long long)m->ended[i]);
    fprintf(f, "},\"emergencies\":%llu,\"elapsed_s\":%.6f,\"cpu_s\":%.6f}\n", (unsigned long long)m->emergencies,
            elapsed, cpu);
    if (f != stdout) fclose(f);
}

static void summary(const struct extract *x, double elapsed)
{
    const struct fs_decode_stats *d = &x->dec.stats;
    const struct fs_meter_stats *m = &x->mstats;
    char a[32], b[32], c[32];
    uint64_t skipped = 0;
    for (int i = 0; i < FS_SKIP_COUNT; i++) skipped += d->count[i];
    double el = elapsed > 1e-9 ? elapsed : 1e-9;
    fprintf(stderr, "flowsift extract: %llu file%s, %s packets, %s in %.2f s (%.2f Mpps, %.2f Gbit/s)\n",
            (unsigned long long)x->files_read, x->files_read == 1 ? "" : "s", fs_human_int(d->packets, a, sizeof a),
            fs_human_bytes((double)x->bytes_read, b, sizeof b), elapsed, (double)d->packets / el / 1e6,
            (double)x->bytes_read * 8 / el / 1e9);
    fprintf(stderr, "  decoded   %s\n", fs_human_int(d->decoded, a, sizeof a));
    fprintf(stderr, "  skipped   %s", fs_human_int(skipped, a, sizeof a));
    const char *sep = " (";
    for (int i = 0; i < FS_SKIP_COUNT; i++)
        if (d->count[i]) {
            fprintf(stderr, "%s%s %s", sep, fs_decode_reason_name((unsigned)i), fs_human_int(d->count[i], a, sizeof a));
            sep = ", ";
        }
    fprintf(stderr, "%s\n", skipped ? ")" : "");
    sep = "  noted     ";
    for (int i = FS_SKIP_COUNT; i < FS_REASON_COUNT; i++)
        if (d->count[i]) {
            fprintf(stderr, "%s%s %s", sep, fs_decode_reason_name((unsigned)i), fs_human_int(d->count[i], a, sizeof a));
            sep = ", ";
        }
    if (strcmp(sep, ", ") == 0) fputc('\n', stderr);
    fprintf(stderr, "  flows     %s written", fs_human_int(records_written(x), a, sizeof a));
    if (x->filter) fprintf(stderr, ", %s filtered out", fs_human_int(filtered_out(x), b, sizeof b));
    sep = "; ended by ";
    for (int i = 1; i < FS_END_COUNT; i++)
        if (m->ended[i]) {
            fprintf(stderr, "%s%s %s", sep, fs_end_reason_name((unsigned)i), fs_human_int(m->ended[i], a, sizeof a));
            sep = ", ";
        }
    fprintf(stderr, "\n  memory    %s live flows at most, in %s (%.0f bytes a flow); %s at most\n",
            fs_human_int(m->live_peak, a, sizeof a), fs_human_bytes((double)m->bytes_at_live_peak, b, sizeof b),
            m->live_peak ? (double)m->bytes_at_live_peak / (double)m->live_peak : 0.0,
            fs_human_bytes((double)m->bytes_peak, c, sizeof c));
    if (m->ended[FS_END_EMERGENCY] || m->ended[FS_END_EVICT])
        fprintf(stderr, "  warning   the memory cap (--max-flows/--memcap) was reached: %s flows ended by the "
                        "emergency idle timeout, %s evicted; raise the cap or shorten the timeouts\n",
                fs_human_int(m->ended[FS_END_EMERGENCY], a, sizeof a), fs_human_int(m->ended[FS_END_EVICT], b, sizeof b));
    if (x->files_damaged)
        fprintf(stderr, "  damaged   %llu file%s (see the errors above)\n", (unsigned long long)x->files_damaged,
                x->files_damaged == 1 ? "" : "s");
}

enum {
    OPT_FIELDS = 256, OPT_PRESET, OPT_IDLE, OPT_ACTIVE, OPT_TEARDOWN, OPT_GRACE, OPT_SIZE, OPT_STDDEV, OPT_DECAP,
    OPT_NOVLAN, OPT_FRAGS, OPT_MAXFLOWS, OPT_THREADS, OPT_MEMCAP, OPT_EMERGENCY, OPT_STORE, OPT_SEGROWS,
    OPT_RETENTION, OPT_MAXSIZE, OPT_FILESFROM, OPT_KEEPGOING, OPT_STATS, OPT_PROGRESS, OPT_COMPACT, OPT_EXPORT,
    OPT_EXPORT_FILE, OPT_EXPORT_VERSION,
};

int fs_cmd_extract(int argc, char **argv)
{
    static const struct option opts[] = {
        { "output", required_argument, 0, 'o' },     { "format", required_argument, 0, 'F' },
        { "fields", required_argument, 0, OPT_FIELDS }, { "preset", required_argument, 0, OPT_PRESET },
        { "filter", required_argument, 0, 'f' },     { "idle-timeout", required_argument, 0, OPT_IDLE },
        { "active-timeout", required_argument, 0, OPT_ACTIVE }, { "tcp-teardown", required_argument, 0, OPT_TEARDOWN },
        { "close-grace", required_argument, 0, OPT_GRACE }, { "size", required_argument, 0, OPT_SIZE },
        { "stddev", required_argument, 0, OPT_STDDEV }, { "decap", required_argument, 0, OPT_DECAP },
        { "no-vlan-key", no_argument, 0, OPT_NOVLAN }, { "fragments", required_argument, 0, OPT_FRAGS }, { "max-flows", required_argument, 0, OPT_MAXFLOWS },
        { "files-from", required_argument, 0, OPT_FILESFROM }, { "keep-going", no_argument, 0, OPT_KEEPGOING },
        { "stats", required_argument, 0, OPT_STATS }, { "quiet", no_argument, 0, 'q' },
        { "threads", required_argument, 0, OPT_THREADS }, { "memcap", required_argument, 0, OPT_MEMCAP },
        { "emergency-idle", required_argument, 0, OPT_EMERGENCY }, { "store", required_argument, 0, OPT_STORE },
        { "segment-rows", required_argument, 0, OPT_SEGROWS }, { "retention", required_argument, 0, OPT_RETENTION },
        { "max-size", required_argument, 0, OPT_MAXSIZE }, { "compact", no_argument, 0, OPT_COMPACT },
        { "progress", required_argument, 0, OPT_PROGRESS }, { "export", required_argument, 0, OPT_EXPORT },
        { "export-file", required_argument, 0, OPT_EXPORT_FILE },
        { "export-version", required_argument, 0, OPT_EXPORT_VERSION }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *out_path = "-", *fields_spec = "default", *filter_expr = NULL, *stats_path = NULL, *store_dir = NULL;
    int out_given = 0, compact = 0;
    size_t segment_rows = 0;
    const char *export_to = NULL;
    int export_file = 0, export_version = 10;
    uint64_t keep_ns = 0, max_store = 0;
    enum fs_format format = FS_FORMAT_CSV;
    struct fs_meter_opts mo;
    struct fs_decode_opts dopt;
    fs_meter_opts_default(&mo);
    fs_decode_opts_default(&dopt);
    struct extract x;
    memset(&x, 0, sizeof x);
    struct fs_input_list inputs;
    fs_inputs_init(&inputs);
    int keep_going = 0, progress_mode = -1, threads = 0, closed = 0, c;
    char err[512];
    const char *C = "extract";

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:F:f:qh", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'o': out_path = optarg; out_given = 1; break;
        case OPT_STORE: store_dir = optarg; break;
        case OPT_EXPORT: export_to = optarg; export_file = 0; break;
        case OPT_EXPORT_FILE: export_to = optarg; export_file = 1; break;
        case OPT_EXPORT_VERSION:
            if ((export_version = fs_cli_export_version(C, optarg)) < 0) return 2;
            break;
        case OPT_COMPACT: compact = 1; break;
        case OPT_RETENTION:
            if (fs_parse_duration(optarg, &keep_ns) || keep_ns == 0)
                return fs_cli_error(C, "'%s' is not a duration", optarg) + 1;
            break;
        case OPT_MAXSIZE:
            if (fs_parse_bytes(optarg, &max_store) || max_store == 0) return fs_cli_error(C, "'%s' is not a size", optarg) + 1;
            break;
        case OPT_SEGROWS:
            if (fs_parse_count(optarg, &v) || v == 0 || v > FS_STORE_SEGMENT_ROWS)
                return fs_cli_error(C, "--segment-rows takes 1 to %d", FS_STORE_SEGMENT_ROWS) + 1;
            segment_rows = (size_t)v;
            break;
        case 'F':
            out_given = 1; /* printing options choose CSV/JSON output over the default store */
            if (strcmp(optarg, "csv") == 0) format = FS_FORMAT_CSV;
            else if (strcmp(optarg, "json") == 0 || strcmp(optarg, "jsonl") == 0) format = FS_FORMAT_JSON;
            else return fs_cli_error(C, "--format takes csv or json, not '%s'", optarg) + 1;
            break;
        case OPT_FIELDS:
        case OPT_PRESET: fields_spec = optarg; out_given = 1; break;
        case 'f': filter_expr = optarg; break;
        case OPT_IDLE:
        case OPT_ACTIVE:
        case OPT_GRACE:
        case OPT_EMERGENCY:
            if (fs_parse_duration(optarg, &v)) return fs_cli_error(C, "'%s' is not a duration", optarg) + 1;
            if (c == OPT_IDLE) mo.idle_ns = v;
            else if (c == OPT_ACTIVE) mo.active_ns = v;
            else if (c == OPT_EMERGENCY) mo.emergency_idle_ns = v ? v : 1;
            else mo.close_grace_ns = v;
            break;
        case OPT_MEMCAP:
            if (fs_parse_bytes(optarg, &v) || v < (1u << 20))
                return fs_cli_error(C, "--memcap takes a size of at least 1M") + 1;
            mo.memcap = v;
            break;
        case OPT_TEARDOWN:
            if (strcmp(optarg, "on") && strcmp(optarg, "off"))
                return fs_cli_error(C, "--tcp-teardown takes on or off") + 1;
            mo.tcp_teardown = strcmp(optarg, "on") == 0;
            break;
        case OPT_SIZE:
            if (strcmp(optarg, "ip") == 0) mo.size_basis = FS_SIZE_IP;
            else if (strcmp(optarg, "frame") == 0) mo.size_basis = FS_SIZE_FRAME;
            else if (strcmp(optarg, "payload") == 0) mo.size_basis = FS_SIZE_PAYLOAD;
            else return fs_cli_error(C, "--size takes ip, frame or payload, not '%s'", optarg) + 1;
            break;
        case OPT_STDDEV:
            if (strcmp(optarg, "population") == 0) x.ctx.sample_stddev = 0;
            else if (strcmp(optarg, "sample") == 0) x.ctx.sample_stddev = 1;
            else return fs_cli_error(C, "--stddev takes population or sample") + 1;
            break;
        case OPT_DECAP:
            if (parse_decap(optarg, &dopt.decap))
                return fs_cli_error(C, "--decap takes all, none or a list of gre,vxlan,geneve,gtp,ipip,teredo") + 1;
            break;
        case OPT_NOVLAN: dopt.vlan_in_key = 0; break;
        case OPT_FRAGS:
            if (strcmp(optarg, "all") && strcmp(optarg, "first"))
                return fs_cli_error(C, "--fragments takes all or first") + 1;
            dopt.later_fragments = strcmp(optarg, "all") == 0;
            break;
        case OPT_MAXFLOWS:
            if (fs_parse_count(optarg, &v) || v == 0) return fs_cli_error(C, "--max-flows takes a positive count") + 1;
            mo.max_flows = v;
            break;
        case OPT_FILESFROM:
            if (fs_inputs_add_from(&inputs, optarg, err, sizeof err)) {
                fs_inputs_release(&inputs);
                return fs_cli_error(C, "%s", err);
            }
            break;
        case OPT_KEEPGOING: keep_going = 1; break;
        case OPT_THREADS:
            if (strcmp(optarg, "auto") == 0) {
                threads = 0;
            } else {
                if (fs_parse_count(optarg, &v) || v < 1 || v > FS_PIPELINE_MAX_WORKERS + 1)
                    return fs_cli_error(C, "--threads takes auto or 1 to %d", FS_PIPELINE_MAX_WORKERS + 1) + 1;
                threads = (int)v;
            }
            break;
        case OPT_STATS: stats_path = optarg; break;
        case 'q': x.quiet = 1; break;
        case OPT_PROGRESS:
            if ((progress_mode = fs_cli_progress_mode(C, optarg)) == -2) return 2;
            break;
        case 'h': help(); fs_inputs_release(&inputs); return 0;
        default: fs_inputs_release(&inputs); fprintf(stderr, "Try 'flowsift extract --help'.\n"); return 2;
        }
    }
    for (int i = optind; i < argc; i++)
        if (fs_inputs_add(&inputs, argv[i], err, sizeof err)) {
            fs_inputs_release(&inputs);
            return fs_cli_error(C, "%s", err);
        }
    if (inputs.n == 0 && optind >= argc) {
        fs_inputs_release(&inputs);
        fprintf(stderr, "flowsift extract: no input (give capture files, directories or -)\n"
                        "Try 'flowsift extract --help'.\n");
        return 2;
    }

    int fields[FS_WRITER_MAX_FIELDS];
    static char labels[FS_WRITER_MAX_FIELDS][FS_FIELD_LABEL_MAX];
    int nfields = fs_cli_fields(C, fields_spec, fields, labels);
    if (nfields <= 0 || (filter_expr && fs_cli_filter(C, filter_expr, &x.filter))) {
        fs_inputs_release(&inputs);
        return 2;
    }
    if (threads == 0) { /* auto: two threads per core: while the reader waits, the metering threads use its core */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        long t = cpus < 1 ? 1 : 2 * cpus;
        threads = t > FS_PIPELINE_MAX_WORKERS + 1 ? FS_PIPELINE_MAX_WORKERS + 1 : (int)t;
    }
    fs_inputs_order(&inputs);
    if (inputs.skipped_not_capture)
        fs_cli_warn(C, "skipped %llu file%s in directories that are not captures",
                    (unsigned long long)inputs.skipped_not_capture, inputs.skipped_not_capture == 1 ? "" : "s");

    int rc = 0;
    /* a fresh hash seed per run, so crafted traffic cannot aim at one bucket; records do not depend on it */
    if (getrandom(&mo.seed, sizeof mo.seed, 0) != (ssize_t)sizeof mo.seed) mo.seed ^= (uint64_t)fs_now_seconds();
    static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
    x.threaded = threads > 1;
    x.nsinks = x.threaded ? threads - 1 : 1;
    x.sinks = aligned_alloc(_Alignof(struct sink), (size_t)x.nsinks * sizeof *x.sinks);
    if (x.sinks) memset(x.sinks, 0, (size_t)x.nsinks * sizeof *x.sinks);
    if (!x.sinks || fs_decoder_init(&x.dec, &dopt)) {
        rc = fs_cli_error(C, "out of memory");
        goto out;
    }
    if (!store_dir && !out_given) { /* the default: records go to the store */
        store_dir = getenv("FLOWSIFT_STORE");
        if (!store_dir || !*store_dir) store_dir = FS_DEFAULT_STORE;
    }
    if (store_dir) {
        uint64_t removed = 0;
        if (fs_store_prepare(store_dir, 1, &removed, err, sizeof err) != FS_OK) {
            rc = fs_cli_error(C, "%s", err);
            goto out;
        }
        if (removed)
            fs_cli_warn(C, "removed %llu unpublished segment file%s left in '%s' by an interrupted writer",
                        (unsigned long long)removed, removed == 1 ? "" : "s", store_dir);
    }
    if (export_to && fs_flow_exporter_new(&x.exporter, export_to, export_file, export_version, 0, err, sizeof err) != FS_OK) {
        rc = fs_cli_error(C, "%s", err);
        goto out;
    }
    for (int i = 0; i < x.nsinks; i++) {
        x.sinks[i].filter = x.filter;
        x.sinks[i].ctx = &x.ctx;
        x.sinks[i].exporter = x.exporter; /* one exporter for all threads: one sequence of messages */
        x.sinks[i].csv = !store_dir || out_given;
        if (store_dir && i == 0 && fs_store_writer_new(&x.store, store_dir, "flows", segment_rows, err, sizeof err) != FS_OK) {
            rc = fs_cli_error(C, "%s", err);
            goto out;
        }
        x.sinks[i].store = x.store; /* one writer for all threads: their records share segments */
        if ((x.store || x.exporter) && !(x.sinks[i].pending = malloc(SINK_BATCH * sizeof *x.sinks[i].pending))) {
            rc = fs_cli_error(C, "out of memory");
            goto out;
        }
    }
    if (fs_writer_open(&x.sinks[0].writer, x.sinks[0].csv ? out_path : "/dev/null", format, fields, labels, nfields,
                       &x.ctx)) {
        x.nsinks = 0;
        rc = fs_cli_error(C, "cannot open '%s' for writing: %s", out_path, strerror(errno));
        goto out;
    }
    int ns = 0;
    for (size_t i = 0; i < inputs.n; i++) ns |= inputs.v[i].nanosecond;
    fs_writer_set_time_decimals(&x.sinks[0].writer, ns ? 9 : 6);
    if (x.threaded) {
        void *args[FS_PIPELINE_MAX_WORKERS];
        fs_writer_header(&x.sinks[0].writer);
        fs_outbuf_flush(&x.sinks[0].writer.out); /* out before any worker's records */
        x.sinks[0].writer.out.lock = &out_lock;
        for (int i = 0; i < x.nsinks; i++) {
            if (i && fs_writer_clone(&x.sinks[i].writer, &x.sinks[0].writer, &out_lock)) {
                x.nsinks = i;
                rc = fs_cli_error(C, "out of memory");
                goto out;
            }
            args[i] = &x.sinks[i];
        }
        if (fs_pipeline_start(&x.pipe, x.nsinks, &mo, on_flow, args) != FS_OK) {
            rc = fs_cli_error(C, "cannot start %d metering threads", x.nsinks);
            goto out;
        }
    } else if (fs_meter_init(&x.meter, &mo, on_flow, &x.sinks[0]) != FS_OK) {
        rc = fs_cli_error(C, "out of memory");
        goto out;
    }

    struct fs_progress prog;
    fs_progress_init(&prog, progress_mode == -1 ? (isatty(2) && !x.quiet) : progress_mode, inputs.total_bytes);
    double t0 = fs_now_seconds(), cpu0 = fs_cpu_seconds();
    uint64_t done_bytes = 0;
    for (size_t i = 0; i < inputs.n; i++) {
        struct fs_capture *cap;
        fs_result r = fs_capture_open(&cap, inputs.v[i].path, err, sizeof err);
        if (r) {
            fs_cli_error(C, "%s", err);
            x.files_damaged++;
            if (!keep_going) { rc = 1; break; }
            continue;
        }
        if (strcmp(inputs.v[i].path, "-") == 0 && fs_capture_is_nanosecond(cap)) set_time_decimals(&x, 9);
        x.files_read++;
        struct fs_capture_pkt cp;
        struct fs_pkt pkt;
        uint64_t n = 0;
        while ((r = fs_capture_next(cap, &cp)) == FS_OK) {
            if (!x.threaded) { /* decode straight into the meter's batch */
                if (fs_decode(&x.dec, &cp, &x.batch[x.nbatch])) {
                    fs_pkt_route(&x.batch[x.nbatch], x.meter.opts.seed);
                    if (++x.nbatch == METER_BATCH && meter_batch(&x) != FS_OK) {
                        r = FS_ERR_NOMEM;
                        break;
                    }
                }
            } else if (fs_decode(&x.dec, &cp, &pkt)) {
                fs_pipeline_packet(&x.pipe, &pkt);
            }
            if (meter_pending(&x) != FS_OK) {
                r = FS_ERR_NOMEM;
                break;
            }
            if ((++n & 0xffff) == 0)
                fs_progress_update(&prog, done_bytes + fs_capture_bytes_read(cap), x.dec.stats.packets,
                                   x.threaded ? UINT64_MAX : x.meter.stats.flows_created);
        }
        uint64_t got = fs_capture_bytes_read(cap);
        x.bytes_read += got;
        done_bytes += inputs.v[i].size ? inputs.v[i].size : got;
        if (r != FS_EOF) {
            fs_progress_done(&prog);
            if (r == FS_ERR_NOMEM)
                fs_cli_error(C, "out of memory for flows after %llu live flows; lower --max-flows",
                             (unsigned long long)x.meter.live);
            else fs_cli_error(C, "%s (%llu packets read from this file are kept)", fs_capture_error(cap),
                              (unsigned long long)n);
            x.files_damaged++;
            fs_capture_free(cap);
            if (!keep_going || r == FS_ERR_NOMEM) { rc = 1; break; }
            continue;
        }
        fs_capture_free(cap);
    }
    fs_decode_flush(&x.dec);
    if (meter_pending(&x) != FS_OK || (!x.threaded && meter_batch(&x) != FS_OK))
        rc = fs_cli_error(C, "out of memory for flows");
    if (x.threaded) {
        fs_pipeline_finish(&x.pipe);
        fs_pipeline_stats(&x.pipe, &x.mstats);
    } else {
        fs_meter_flush(&x.meter);
        x.mstats = x.meter.stats;
    }
    fs_progress_done(&prog);
    double elapsed = fs_now_seconds() - t0, cpu = fs_cpu_seconds() - cpu0;
    for (int i = x.nsinks - 1; i >= 0; i--) /* clones first: sinks[0] closes the descriptor */
        if (fs_writer_close(&x.sinks[i].writer) && !rc)
            rc = fs_cli_error(C, "writing '%s' failed: %s", out_path, strerror(x.sinks[i].writer.out.err));
    closed = 1;
    uint64_t stored_bytes = 0, stored_rows = 0;
    for (int i = 0; i < x.nsinks; i++) {
        sink_drain(&x.sinks[i]);
        if ((x.sinks[i].store_rc || x.sinks[i].export_rc) && !rc) rc = 1; /* the closes below say why */
        stored_rows += x.sinks[i].stored;
        x.sinks[i].store = NULL;
        x.sinks[i].exporter = NULL;
    }
    uint64_t exported = 0, export_msgs = 0;
    if (x.exporter) {
        if (fs_flow_exporter_close(x.exporter, &exported, &export_msgs, err, sizeof err) != FS_OK) {
            if (!rc) rc = 1;
            fs_cli_error(C, "%s", err);
        }
        x.exporter = NULL;
    }
    if (x.store) { /* publishes what is buffered */
        if (fs_store_writer_close(x.store, err, sizeof err) != FS_OK) {
            if (!rc) rc = 1;
            fs_cli_error(C, "store '%s': %s", store_dir, err);
        }
        x.store = NULL;
    }
    elapsed = fs_now_seconds() - t0;
    if (store_dir && compact) {
        struct fs_store_compact_stats cs;
        if (fs_store_compact(store_dir, "flows", &cs, err, sizeof err) != FS_OK) rc = fs_cli_error(C, "%s", err);
        else if (!x.quiet)
            fprintf(stderr, "flowsift extract: compaction rewrote %llu segments of '%s' (small, or out of time order) into %llu\n",
                    (unsigned long long)cs.segments_merged, store_dir, (unsigned long long)cs.segments_written);
    }
    if (store_dir && (keep_ns || max_store)) {
        uint64_t parts = 0, gone = 0;
        if (fs_store_retain(store_dir, "flows", keep_ns, max_store, &parts, &gone, err, sizeof err) != FS_OK)
            rc = fs_cli_error(C, "%s", err);
        else if (parts && !x.quiet)
            fprintf(stderr, "flowsift extract: retention removed %llu partition%s of '%s'\n", (unsigned long long)parts,
                    parts == 1 ? "" : "s", store_dir);
    }
    stored_bytes = store_dir ? fs_store_size(store_dir) : 0;
    if (!x.quiet) {
        summary(&x, elapsed);
        if (store_dir) {
            char a[32], b[32];
            fprintf(stderr, "  store     %s records in '%s' (%s on disk, %.1f bytes per record)\n",
                    fs_human_int(stored_rows, a, sizeof a), store_dir, fs_human_bytes((double)stored_bytes, b, sizeof b),
                    stored_rows ? (double)stored_bytes / (double)stored_rows : 0.0);
        }
    }
    if (export_to && !x.quiet) {
        char a[32], b[32];
        fprintf(stderr, "  export    %s %s records in %s messages to '%s'\n", export_version == 10 ? "IPFIX" : "NetFlow v9",
                fs_human_int(exported, a, sizeof a), fs_human_int(export_msgs, b, sizeof b), export_to);
    }
    if (stats_path) write_stats(stats_path, &x, elapsed, cpu);
out:
    for (int i = x.nsinks - 1; i >= 0 && !closed; i--) fs_writer_close(&x.sinks[i].writer);
    fs_store_writer_close(x.store, NULL, 0);
    fs_flow_exporter_close(x.exporter, NULL, NULL, NULL, 0);
    for (int i = 0; x.sinks && i < x.nsinks; i++) free(x.sinks[i].pending);
    free(x.sinks);
    if (x.threaded) fs_pipeline_release(&x.pipe);
    fs_meter_release(&x.meter);
    fs_decoder_release(&x.dec);
    fs_filter_free(x.filter);
    fs_inputs_release(&inputs);
    return rc;
}

static void md_preset(void *arg, const char *name, const char *fields, const char *help)
{
    (void)arg;
    printf("| `%s` | %s | %s |\n", name, help, fields);
}

int fs_cmd_fields(int argc, char **argv)
{
    int md = argc > 1 && strcmp(argv[1], "--markdown") == 0;
    if (argc > 1 && !md) {
        printf("usage: flowsift fields [--markdown]\n\nLists every flow record field with its type, unit and "
               "meaning; --markdown prints the table of docs/fields.md.\n");
        return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
    }
    static const char *const types[] = { "integer", "real", "time", "address", "word" };
    if (md) {
        printf("| field | type | unit | meaning |\n|---|---|---|---|\n");
    }
    for (size_t i = 0; i < fs_field_count(); i++) {
        const struct fs_field *f = fs_field_at(i);
        if (md) printf("| `%s` | %s | %s | %s |\n", f->name, types[f->type], f->unit, f->help);
        else printf("%-14s %-8s %-8s %s\n", f->name, types[f->type], f->unit, f->help);
    }
    if (md) {
        printf("\n## Presets\n\n| preset | what | fields |\n|---|---|---|\n");
        fs_field_presets_each(md_preset, NULL);
    }
    return 0;
}
