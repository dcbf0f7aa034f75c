/*
 * query.c - `flowsift query`: records from a store, chosen by time and filter, as CSV or JSON.
 *
 * This first version scans: partitions and segments outside the time range are
 * skipped by their names and headers, every other record is tested against the
 * filter. Grouping, top-N and column pruning come next (issue 4).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../field/field.h"
#include "../filter/filter.h"
#include "../output/record.h"
#include "../output/table.h"
#include "../output/writer.h"
#include "../query/group.h"
#include "../store/store.h"
#include "cli.h"

struct query {
    struct fs_group *group;         /* aggregate mode */
    struct fs_flow *top;            /* record top-N mode, and --ordered: matching records, owned */
    size_t ntop, captop;
    int top_field;
    int ordered;                    /* --ordered: top holds one partition's records, written sorted */
    uint64_t hour, written;         /* --ordered: the hour top's records began in; records written */
    struct fs_writer writer;
    struct fs_filter *filter;
    struct fs_field_ctx ctx;
    uint64_t limit, matched, damaged;
    int filter_done;                /* the scan's column conditions are the whole filter */
};

/* Keeps a copy of f in q->top; nonzero if out of memory. */
static int keep(struct query *q, const struct fs_flow *f)
{
    if (q->ntop == q->captop) {
        size_t ncap = q->captop ? q->captop * 2 : 4096;
        struct fs_flow *nv = realloc(q->top, ncap * sizeof *nv);
        if (!nv) return 1;
        q->top = nv;
        q->captop = ncap;
    }
    q->top[q->ntop++] = *f;
    return 0;
}

/* --ordered: the kept records (one partition's) written in order of first packet; nonzero once --limit is
 * reached. */
static int write_ordered(struct query *q)
{
    qsort(q->top, q->ntop, sizeof *q->top, fs_flow_cmp_first);
    for (size_t i = 0; i < q->ntop && q->written < q->limit; i++, q->written++) fs_writer_flow(&q->writer, &q->top[i]);
    q->ntop = 0;
    return q->written >= q->limit;
}

static int on_row(void *arg, const void *record)
{
    struct query *q = arg;
    const struct fs_flow *f = record;
    if (q->filter && !q->filter_done && !fs_filter_match(q->filter, f, &q->ctx)) return 0;
    q->matched++;
    if (q->group) {
        struct fs_flow_view view;
        fs_flow_view_init(&view, f, &q->ctx);
        return fs_group_add(q->group, &view) != FS_OK;
    }
    if (q->top_field >= 0) return keep(q, f);
    if (q->ordered) { /* the scan reads partitions (hours of first packets) one after another, in time order */
        uint64_t hour = f->first_ns / 3600000000000ull;
        if (q->ntop && hour != q->hour && write_ordered(q)) return 1;
        q->hour = hour;
        return keep(q, f);
    }
    fs_writer_flow(&q->writer, f);
    return q->matched >= q->limit;
}

static int on_batch(void *arg, const struct fs_store_batch *b)
{
    struct query *q = arg;
    q->matched += b->n;
    return fs_group_add_batch(q->group, b) != FS_OK;
}

static void on_damage(void *arg, const char *msg)
{
    struct query *q = arg;
    q->damaged++;
    fs_cli_error("query", "%s (segment skipped)", msg);
}

struct need {
    char *buf;
    size_t len;
};

static void add_field(void *arg, int field)
{
    struct need *n = arg;
    if (field < 0) { /* the key, for host/net/port terms */
        for (const char *const *f = (const char *const[]){ "srcaddr", "dstaddr", "srcp", "dstp", "ipver", NULL }; *f; f++)
            fs_field_columns((size_t)fs_field_find(*f), n->buf, n->len);
        return;
    }
    fs_field_columns((size_t)field, n->buf, n->len);
}

static const struct query *sorting;

static double sort_value(const struct fs_flow *f)
{
    struct fs_value v;
    fs_field_value(f, (size_t)sorting->top_field, &sorting->ctx, &v);
    return v.missing ? -1 : v.type == FS_FT_DOUBLE ? v.d : (double)v.u;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = sort_value(a), y = sort_value(b);
    return x > y ? -1 : x < y;
}

static void help(void)
{
    printf("usage: flowsift query [OPTIONS] STORE [FILTER...]\n"
           "\n"
           "Writes the flow records of a store (made by 'flowsift extract --store STORE') that match FILTER, in\n"
           "the filter language of extract (docs/filter.md), e.g.  flowsift query /data/flows 'paysize == 0'\n"
           "\n"
           "  --since TIME          records whose first packet is at or after TIME            [the beginning]\n"
           "  --until TIME          ... and before TIME                                        [the end]\n"
           "                        TIME: seconds since 1970, 2024-05-01T13:00:00Z, or relative to now: -1h, -30m\n"
           "  -o, --output FILE     where records go; - is standard output                     [-]\n"
           "  -F, --format FMT      table (aligned), csv or json           [table on a terminal, else csv]\n"
           "      --fields LIST     comma-separated fields or a preset (flowsift fields)       [default]\n"
           "      --preset NAME     the same as --fields NAME\n"
           "      --limit N         stop after N records                                       [no limit]\n"
           "      --table NAME      flows; counters: the interface counters of sFlow counter samples;\n"
           "                        hosts: per-host window statistics of flowsift monitor\n"
           "      --host ADDR       with --table hosts: the records of one host\n"
           "                        (every column, in the time range)                           [flows]\n"
           "      --ordered         records in order of their first packet (holds the matching records of\n"
           "                        one hourly partition in memory at a time)         [the order stored]\n"
           "\n"
           "aggregation (docs/flowsift-query.md):\n"
           "      --group-by LIST   group by fields; addresses may take a prefix (srcaddr/24), times a\n"
           "                        bucket in seconds (first/3600)\n"
           "      --agg LIST        count, sum:F, min:F, max:F, avg:F           [count,sum:packets,sum:size]\n"
           "      --top N           the N largest groups (or records, without --group-by)\n"
           "      --by X            sort by aggregate X, or by field X (sum of X for groups)  [the first]\n"
           "      --stddev KIND     population or sample                                      [population]\n"
           "      --all-columns     decode every column (default: only those the query needs)\n"
           "      --no-skip         read every segment in the time range, build every record and test it\n"
           "                        with the whole filter (default: conditions on single columns are\n"
           "                        tested on the columns, segments whose minima and maxima rule one out\n"
           "                        are not read, and grouping on stored columns builds no record); for\n"
           "                        checking\n"
           "  -q, --quiet           no summary on standard error\n"
           "  -h, --help            this text\n"
           "\n"
           "Exit status: 0 done, 1 the store could not be read (or a segment was damaged), 2 bad usage.\n");
}

/* Prints the CSV in csv (rewound) as an aligned table to out_path ('-': standard output) and closes csv;
 * returns 0 or the error status. */
static int print_aligned(FILE *csv, const char *out_path)
{
    int status = 0;
    rewind(csv);
    FILE *out = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "w");
    if (!out || fs_table_print(csv, out) != FS_OK || (out != stdout && fclose(out) != 0))
        status = fs_cli_error("query", "writing '%s' failed", out_path);
    fflush(stdout);
    fclose(csv);
    return status;
}

/* A table other than flows (the interface counters of sFlow counter samples): its records in a time range,
 * every column, as CSV, JSON or an aligned table. Filters, groups and fields belong to flows. */
struct rows_out {
    struct fs_record_writer w;
    uint64_t limit, n;
    int host_col, ver_col;          /* with --host: the host column and its version column, else -1 */
    uint8_t host[16];
    uint8_t host_ver;
};

static int on_record(void *arg, const void *record)
{
    struct rows_out *o = arg;
    if (o->host_col >= 0) { /* --host: this host's records only */
        const struct fs_store_schema *sc = o->w.sc;
        const uint8_t *r = record;
        if (memcmp(r + sc->cols[o->host_col].off, o->host, 16) != 0 || r[sc->cols[o->ver_col].off] != o->host_ver)
            return 0;
    }
    if (o->n >= o->limit) return 1;
    fs_record_write(&o->w, record);
    o->n++;
    return 0;
}

static void on_record_damage(void *arg, const char *message)
{
    (void)arg;
    fs_cli_warn("query", "%s", message);
}

static int query_table(const char *store, const char *tname, uint64_t since, uint64_t until, uint64_t limit,
                       const char *out_path, enum fs_format format, int aligned, int quiet, const char *host)
{
    const char *C = "query";
    char err[1024];
    const struct fs_store_schema *sc = fs_store_schema_find(tname);
    if (!sc) return fs_cli_error(C, "a store has no table '%s' (flows, counters, hosts)", tname) + 1;
    if (fs_store_prepare(store, 0, NULL, err, sizeof err) != FS_OK) return fs_cli_error(C, "%s", err);
    FILE *csv = aligned ? tmpfile() : NULL;
    static struct rows_out o;
    memset(&o, 0, sizeof o);
    o.limit = limit;
    o.host_col = o.ver_col = -1;
    if (host) {
        const struct fs_flow_member *hc = NULL, *vc = NULL;
        for (size_t c = 0; c < sc->ncols; c++) {
            if (strcmp(sc->cols[c].name, "host") == 0) hc = &sc->cols[c], o.host_col = (int)c;
            if (strcmp(sc->cols[c].name, "host_ipver") == 0) vc = &sc->cols[c], o.ver_col = (int)c;
        }
        if (!hc || !vc) return fs_cli_error(C, "--host is for the hosts table") + 1;
        if (inet_pton(AF_INET, host, o.host) == 1) o.host_ver = 4;
        else if (inet_pton(AF_INET6, host, o.host) == 1) o.host_ver = 6;
        else return fs_cli_error(C, "--host: '%s' is not an IPv4 or IPv6 address", host) + 1;
    }
    fs_result orc = aligned ? fs_record_writer_open(&o.w, "-", sc, FS_FORMAT_CSV, fs_store_time_decimals(store, tname))
                            : fs_record_writer_open(&o.w, out_path, sc, format, fs_store_time_decimals(store, tname));
    if (aligned && csv) o.w.f = csv;
    if (orc != FS_OK || (aligned && !csv)) {
        if (csv) fclose(csv);
        return fs_cli_error(C, "cannot open '%s' for writing: %s", out_path, strerror(errno));
    }
    double t0 = fs_now_seconds();
    struct fs_store_query sq = { since, until, NULL, NULL, 0, NULL };
    struct fs_store_scan_stats st;
    fs_result rc = fs_store_scan(store, tname, &sq, on_record, on_record_damage, &o, &st, err, sizeof err);
    int status = rc ? fs_cli_error(C, "%s", err) : 0;
    if (aligned) {
        if (fs_record_writer_close(&o.w) != FS_OK) status = fs_cli_error(C, "writing a temporary file failed");
        int st2 = print_aligned(csv, out_path);
        status = status ? status : st2;
    } else if (fs_record_writer_close(&o.w) != FS_OK) {
        status = fs_cli_error(C, "writing '%s' failed", out_path);
    }
    if (!quiet) {
        char a[32];
        fprintf(stderr, "flowsift query: %s records of table '%s' in %.3f s; %llu segments, %llu damaged\n",
                fs_human_int(o.n, a, sizeof a), tname, fs_now_seconds() - t0, (unsigned long long)st.segments,
                (unsigned long long)st.segments_damaged);
    }
    return status ? status : st.segments_damaged != 0;
}

int fs_cmd_query(int argc, char **argv)
{
    static const struct option opts[] = {
        { "since", required_argument, 0, 's' },  { "until", required_argument, 0, 'u' },
        { "output", required_argument, 0, 'o' }, { "format", required_argument, 0, 'F' },
        { "fields", required_argument, 0, 'f' }, { "preset", required_argument, 0, 'f' },
        { "limit", required_argument, 0, 'l' },  { "stddev", required_argument, 0, 'd' },
        { "quiet", no_argument, 0, 'q' },        { "help", no_argument, 0, 'h' },
        { "group-by", required_argument, 0, 'g' }, { "agg", required_argument, 0, 'a' },
        { "top", required_argument, 0, 't' },     { "by", required_argument, 0, 'b' },
        { "all-columns", no_argument, 0, 'A' }, { "no-skip", no_argument, 0, 'K' },
        { "ordered", no_argument, 0, 'O' },     { "table", required_argument, 0, 'T' },
        { "host", required_argument, 0, 'H' },
        { 0, 0, 0, 0 },
    };
    const char *C = "query", *out_path = "-", *fields_spec = "default";
    enum fs_format format = FS_FORMAT_CSV;
    int table = -1; /* -1: a table when standard output is a terminal */
    uint64_t since = 0, until = UINT64_MAX;
    int quiet = 0, all_columns = 0, no_skip = 0, c;
    const char *group_by = NULL, *agg = NULL, *by = NULL, *tname = "flows", *host = NULL;
    uint64_t top = 0;
    struct query q;
    memset(&q, 0, sizeof q);
    q.limit = UINT64_MAX;
    q.top_field = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:F:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
        case 'u':
            if (fs_parse_time(optarg, c == 's' ? &since : &until))
                return fs_cli_error(C, "'%s' is not a time (seconds, 2024-05-01T13:00:00Z or -1h)", optarg) + 1;
            break;
        case 'o': out_path = optarg; if (table < 0) table = 0; break;
        case 'F':
            table = strcmp(optarg, "table") == 0;
            if (strcmp(optarg, "csv") == 0 || table) format = FS_FORMAT_CSV;
            else if (strcmp(optarg, "json") == 0) format = FS_FORMAT_JSON;
            else return fs_cli_error(C, "--format takes table, csv or json") + 1;
            break;
        case 'f': fields_spec = optarg; break;
        case 'l':
            if (fs_parse_count(optarg, &q.limit) || q.limit == 0) return fs_cli_error(C, "--limit takes a positive count") + 1;
            break;
        case 'd': q.ctx.sample_stddev = strcmp(optarg, "sample") == 0; break;
        case 'q': quiet = 1; break;
        case 'g': group_by = optarg; break;
        case 'A': all_columns = 1; break;
        case 'K': no_skip = 1; break;
        case 'O': q.ordered = 1; break;
        case 'T': tname = optarg; break;
        case 'H': host = optarg; break;
        case 'a': agg = optarg; break;
        case 'b': by = optarg; break;
        case 't':
            if (fs_parse_count(optarg, &top) || top == 0) return fs_cli_error(C, "--top takes a positive count") + 1;
            break;
        case 'h': help(); return 0;
        default: fprintf(stderr, "Try 'flowsift query --help'.\n"); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "flowsift query: no store given\nTry 'flowsift query --help'.\n");
        return 2;
    }
    const char *store = argv[optind++];
    if (host && strcmp(tname, "hosts") != 0)
        return fs_cli_error(C, "--host chooses records of the hosts table (--table hosts); for flows, filter with "
                               "'host ADDR'") + 1;
    if (strcmp(tname, "flows") != 0) {
        if (optind < argc || group_by || agg || top || by || q.ordered || strcmp(fields_spec, "default") != 0)
            return fs_cli_error(C, "filters, --fields, --group-by, --agg, --top, --by and --ordered are for the "
                                   "flows table; '%s' gives every column of its records in the time range", tname) + 1;
        if (table < 0) table = format == FS_FORMAT_CSV && isatty(1);
        return query_table(store, tname, since, until, q.limit, out_path, format, table, quiet, host);
    }
    char expr[8192] = "";
    for (int i = optind; i < argc; i++) {
        if (strlen(expr) + strlen(argv[i]) + 2 >= sizeof expr) return fs_cli_error(C, "filter too long") + 1;
        if (i > optind) strcat(expr, " ");
        strcat(expr, argv[i]);
    }
    char err[1024];
    if (expr[0] && fs_cli_filter(C, expr, &q.filter)) return 2;
    int fields[FS_WRITER_MAX_FIELDS];
    static char labels[FS_WRITER_MAX_FIELDS][FS_FIELD_LABEL_MAX];
    int nfields = fs_cli_fields(C, fields_spec, fields, labels);
    if (nfields <= 0) {
        fs_filter_free(q.filter);
        return 2;
    }
    if (q.ordered && (group_by || agg || top || by)) {
        fs_filter_free(q.filter);
        return fs_cli_error(C, "--ordered orders records; groups and --top have their own order") + 1;
    }
    if (group_by || agg) {
        if (fs_group_new(&q.group, group_by ? group_by : "", agg, by, err, sizeof err) != FS_OK) {
            fs_filter_free(q.filter);
            return fs_cli_error(C, "%s", err) + 1;
        }
    } else if (top || by) {
        q.top_field = fs_field_find(by ? by : "size");
        if (q.top_field < 0 || fs_field_at((size_t)q.top_field)->type == FS_FT_ADDR ||
            fs_field_at((size_t)q.top_field)->type == FS_FT_STR) {
            fs_filter_free(q.filter);
            return fs_cli_error(C, "--by '%s' is not a numeric field", by) + 1;
        }
    }
    if (fs_store_prepare(store, 0, NULL, err, sizeof err) != FS_OK) {
        fs_filter_free(q.filter);
        return fs_cli_error(C, "%s", err);
    }
    if (table < 0) table = format == FS_FORMAT_CSV && isatty(1);
    FILE *csv = table ? tmpfile() : NULL; /* a table is CSV aligned at the end */
    if (table && !csv) {
        fs_filter_free(q.filter);
        return fs_cli_error(C, "cannot create a temporary file: %s", strerror(errno));
    }
    if (table ? fs_writer_init_fd(&q.writer, fileno(csv), format, fields, labels, nfields, &q.ctx)
              : fs_writer_open(&q.writer, out_path, format, fields, labels, nfields, &q.ctx)) {
        fs_filter_free(q.filter);
        if (csv) fclose(csv);
        return fs_cli_error(C, "cannot open '%s' for writing: %s", out_path, strerror(errno));
    }
    fs_writer_set_time_decimals(&q.writer, fs_store_time_decimals(store, "flows"));
    double t0 = fs_now_seconds();
    struct fs_store_scan_stats st;
    /* decode only the columns the filter, the output, the grouping and the ordering need */
    static char columns[8192];
    struct need nd = { columns, sizeof columns };
    add_field(&nd, fs_field_find("first"));
    if (q.filter) fs_filter_fields(q.filter, add_field, &nd);
    if (q.group) fs_group_fields(q.group, add_field, &nd);
    else for (int i = 0; i < nfields; i++) add_field(&nd, fields[i]);
    if (q.top_field >= 0) add_field(&nd, q.top_field);
    struct fs_colpred preds[FS_COLPRED_MAX];
    int whole = 1; /* no filter, or one that its column conditions make up */
    size_t npreds = q.filter && !no_skip ? fs_filter_colpreds(q.filter, preds, FS_COLPRED_MAX, &whole) : 0;
    if (q.filter && no_skip) whole = 0;
    struct fs_store_query sq = { since, until, all_columns ? NULL : columns, preds, npreds, NULL };
    q.filter_done = q.filter && whole; /* the scan passes only records that match */
    if (q.group && whole && !no_skip && fs_group_columnar(q.group)) sq.batch = on_batch; /* no record is built */
    fs_result rc = fs_store_scan(store, "flows", &sq, on_row, on_damage, &q, &st, err, sizeof err);
    if (q.group) {
        fs_group_write(q.group, &q.writer.out, format == FS_FORMAT_JSON, top);
        q.writer.header_done = 1;
    } else if (q.top_field >= 0) {
        sorting = &q;
        qsort(q.top, q.ntop, sizeof *q.top, cmp_desc);
        for (size_t i = 0; i < q.ntop && i < (top ? top : q.ntop) && i < q.limit; i++) fs_writer_flow(&q.writer, &q.top[i]);
    } else if (q.ordered && !rc) {
        write_ordered(&q);
    }
    double el = fs_now_seconds() - t0;
    int status = 0;
    if (rc) status = fs_cli_error(C, "%s", err);
    if (fs_writer_close(&q.writer)) status = fs_cli_error(C, "writing '%s' failed", out_path);
    if (csv && print_aligned(csv, out_path)) status = 1;
    if (q.damaged) status = 1;
    if (!quiet) {
        char a[32], b[32], d[32], e[32];
        fprintf(stderr, "flowsift query: %s records of %s scanned in %.3f s (%s rows/s); %llu segments, %llu row "
                        "groups read, %llu skipped by time, %llu by column ranges; %llu segments damaged; %s read\n",
                fs_human_int(q.matched, a, sizeof a), fs_human_int(st.rows_read, b, sizeof b), el,
                fs_human_int((uint64_t)((double)st.rows_read / (el > 1e-9 ? el : 1e-9)), d, sizeof d),
                (unsigned long long)st.segments, (unsigned long long)(st.groups - st.groups_skipped),
                (unsigned long long)(st.groups_skipped - st.groups_pruned), (unsigned long long)st.groups_pruned,
                (unsigned long long)st.segments_damaged, fs_human_bytes((double)st.bytes, e, sizeof e));
    }
    if (q.group && !quiet) fprintf(stderr, "  groups    %llu\n", (unsigned long long)fs_group_count(q.group));
    fs_group_free(q.group);
    free(q.top);
    fs_filter_free(q.filter);
    return status;
}

/* The tables retain and compact work on: every one the store has. */
static const char *const TABLES[] = { "flows", "counters", "hosts" };

static int has_table(const char *store, const char *table)
{
    char path[4400];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", store, table);
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int fs_cmd_retain(int argc, char **argv)
{
    const char *C = "retain";
    uint64_t keep = 0, max_bytes = 0;
    static const struct option opts[] = {
        { "retention", required_argument, 0, 'r' }, { "max-size", required_argument, 0, 'm' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (fs_parse_duration(optarg, &keep) || keep == 0) return fs_cli_error(C, "'%s' is not a duration", optarg) + 1;
            break;
        case 'm':
            if (fs_parse_bytes(optarg, &max_bytes) || max_bytes == 0) return fs_cli_error(C, "'%s' is not a size", optarg) + 1;
            break;
        case 'h':
            printf("usage: flowsift retain STORE [--retention AGE] [--max-size SIZE]\n\n"
                   "Removes whole hourly partitions of the store, oldest first: those older than AGE (e.g. 30d)\n"
                   "counted back from the newest data in the store, then more while the store is larger than SIZE\n"
                   "(e.g. 50G; the newest partition always stays). 'flowsift extract --store' takes the same options.\n");
            return 0;
        default: fprintf(stderr, "Try 'flowsift retain --help'.\n"); return 2;
        }
    }
    if (optind + 1 != argc || (!keep && !max_bytes)) {
        fprintf(stderr, "flowsift retain: give one store and --retention and/or --max-size\n");
        return 2;
    }
    uint64_t parts = 0, bytes = 0;
    char err[1024], b[32];
    for (size_t t = 0; t < sizeof TABLES / sizeof TABLES[0]; t++) {
        uint64_t p, n;
        if (t > 0 && !has_table(argv[optind], TABLES[t])) continue;
        if (fs_store_retain(argv[optind], TABLES[t], keep, max_bytes, &p, &n, err, sizeof err) != FS_OK)
            return fs_cli_error(C, "%s", err);
        parts += p;
        bytes += n;
    }
    fprintf(stderr, "flowsift retain: removed %llu partition%s (%s)\n", (unsigned long long)parts, parts == 1 ? "" : "s",
            fs_human_bytes((double)bytes, b, sizeof b));
    return 0;
}

int fs_cmd_compact(int argc, char **argv)
{
    const char *C = "compact";
    int quiet = 0, c;
    static const struct option opts[] = {
        { "quiet", no_argument, 0, 'q' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = 1; break;
        case 'h':
            printf("usage: flowsift compact [-q] STORE\n\n"
                   "Merges the small segments of each hourly partition (fewer than %d records: written by a\n"
                   "short run, by --segment-rows, or by late records) into segments of up to %d, so queries open\n"
                   "fewer files, and rewrites in time order a segment whose row groups overlap in time (a writer\n"
                   "sorts each group of 8,192 records, not the segment), so short time windows read a group or\n"
                   "two instead of most of the hour. Safe at any moment: readers may query and writers ingest\n"
                   "meanwhile; a merged segment is published before the ones it replaces are removed, and\n"
                   "readers never count a record twice; a compaction killed midway is finished by the next one.\n"
                   "One compaction runs at a time.\n"
                   "  -q, --quiet   no summary\n",
                   FS_STORE_SEGMENT_ROWS / 2, FS_STORE_SEGMENT_ROWS);
            return 0;
        default: fprintf(stderr, "Try 'flowsift compact --help'.\n"); return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "flowsift compact: give one store\n");
        return 2;
    }
    struct fs_store_compact_stats st;
    char err[1024], a[32], b[32];
    double t0 = fs_now_seconds();
    struct stat sb;
    if (stat(argv[optind], &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fs_cli_error(C, "cannot open store '%s': %s", argv[optind], strerror(errno ? errno : ENOTDIR));
    fs_result rc = fs_store_compact(argv[optind], "flows", &st, err, sizeof err);
    for (size_t t = 1; t < sizeof TABLES / sizeof TABLES[0] && !rc; t++) {
        struct fs_store_compact_stats more;
        if (!has_table(argv[optind], TABLES[t])) continue;
        rc = fs_store_compact(argv[optind], TABLES[t], &more, err, sizeof err);
        _Static_assert(sizeof st % sizeof(uint64_t) == 0, "the stats are counters");
        uint64_t a8[sizeof st / 8], b8[sizeof st / 8];
        memcpy(a8, &st, sizeof st);
        memcpy(b8, &more, sizeof st);
        for (size_t k = 0; k < sizeof st / 8; k++) a8[k] += b8[k];
        memcpy(&st, a8, sizeof st);
    }
    if (!quiet)
        fprintf(stderr, "flowsift compact: %llu partition%s, %s segments before, %s after: %llu merged or re-sorted into %llu (%llu "
                        "records) in %.3f s; removed: %llu replaced by an earlier compaction, %llu unpublished files "
                        "of killed runs; %llu damaged left alone\n",
                (unsigned long long)st.partitions, st.partitions == 1 ? "" : "s",
                fs_human_int(st.segments_before, a, sizeof a), fs_human_int(st.segments_after, b, sizeof b),
                (unsigned long long)st.segments_merged, (unsigned long long)st.segments_written,
                (unsigned long long)st.rows, fs_now_seconds() - t0, (unsigned long long)st.leftovers_removed,
                (unsigned long long)st.tmp_removed, (unsigned long long)st.damaged);
    if (rc) return fs_cli_error(C, "%s", err);
    return st.damaged ? 1 : 0;
}
