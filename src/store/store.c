/*
 * store.c - segment writing, reading and scanning; see store.h and docs/store-format.md.
 *
 * A segment's columns are the members of its table's record (schema.h: struct
 * fs_flow for flows, the mergeable aggregates, not derived values), so a record
 * reads back bit for bit and every field of the field table can be computed
 * from it. Column data are fixed-width
 * little-endian arrays; columns are found by name, so a reader ignores columns
 * it does not know and zero-fills columns a segment lacks.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "../util/crc32c.h"
#include "../util/rd.h"
#include "colpred.h"
#include "schema.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the segment format is little-endian; a big-endian port needs byte swapping here"
#endif

#define MAGIC "FSSEG01\n"
#define HEADER_SIZE 64
#define DIRENT_SIZE 96
#define NAME_SIZE 32
#define CODEC_ZSTD 1     /* the values as they are, zstd-compressed */
#define CODEC_NAMES 9    /* not a column: REPLACES_ENTRY's list of segment names, each ending in '\n', uncompressed */
#define REPLACES_ENTRY "@replaces"
/* Integer columns (up to 8 bytes) are stored as transformed values t, then as (t - the smallest t) / g, g the
 * largest of 10^9, 10^6, 10^3 and 1 that divides all those differences (1000 for times from a microsecond
 * capture), in the fewest
 * bytes that hold the largest: a little-endian u64 g, then byte planes (plane b: byte b of every value),
 * zstd-compressed: */
#define CODEC_ZSTD_FOR 2   /* t = v */
#define CODEC_ZSTD_DELTA 3 /* t = v - (the previous row's v), 0 for the first row, which holds the column minimum: the
                              column never decreases (rows are in time order) */
#define CODEC_ZSTD_REL 4   /* t = v ? v - first_ns + 1 : 0; times of the same record, never before its first_ns */
/* Wider columns (addresses, 128-bit sums of squares, arrays of counters) as lanes: u32 lane count and u32 lane
 * width (4 or 8), then per lane (bytes [l * width, (l + 1) * width) of every value, a little-endian integer):
 * u64 base, u32 bytes per value (sw), u32 0, u64 divisor g, then n values (v - base) / g of sw little-endian
 * bytes each, packed one after the other (not planes: a repeated address stays a repeated byte string for zstd);
 * all zstd-compressed. An IPv4 address or a sum that fits 64 bits costs nothing for its unused lanes. */
#define CODEC_ZSTD_LANES 5
/* A column whose values never go below another column's in the same row (the schema's ref_of: a maximum and its
 * minimum, a last time and a first): u32 the reference column's place in the directory, u32 0, then as codec 2
 * with t = value - the reference's value. The reference column is not itself of this codec. */
#define CODEC_ZSTD_DIFF 6
#define LANE_HEAD 24
#define MAX_COLS 256
#define ZSTD_LEVEL 1

/* The columns are the members of the table's record, by name (schema.h); arrays per column hold the most. */
#define NCOLS_MAX FS_STORE_MAX_COLS
#define NARROW_MAX(n) ((size_t)(n) * 32 + 8 + 8 * LANE_HEAD) /* the most any column's encoding takes */
#define NARROW_BYTES(n) (NARROW_MAX(n) + 8) /* its buffers: lanes store and load 8 bytes for values of fewer */

#define COL_FIRST_NS 0
#define COL_LAST_NS 1

static fs_result fail(char *err, size_t errlen, fs_result rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* ---- directories ---- */

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0) {
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", path);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = 0;
            fsync_dir(parent[0] ? parent : "/");
        }
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

/* Walks dir and its subdirectories (to `depth` levels), calling fn on every file. */
static void walk(const char *dir, int depth, void (*fn)(void *arg, const char *path, const char *name,
                                                        const struct stat *st), void *arg)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0) walk(path, depth - 1, fn, arg);
        } else {
            fn(arg, path, de->d_name, &st);
        }
    }
    closedir(d);
}

/* A temporary file is ".tmp-<pid>-...": a segment being written (or a compaction's), a leftover once process
 * <pid> is gone (a live writer's file is never touched, whichever process looks). */
static void remove_if_tmp(void *arg, const char *path, const char *name, const struct stat *st)
{
    (void)st;
    if (strncmp(name, ".tmp-", 5) != 0) return;
    long pid = strtol(name + 5, NULL, 10);
    if (pid > 0 && (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)) return;
    if (unlink(path) == 0) ++*(uint64_t *)arg;
}

static void add_size(void *arg, const char *path, const char *name, const struct stat *st)
{
    (void)path;
    (void)name;
    *(uint64_t *)arg += (uint64_t)st->st_size;
}

uint64_t fs_store_size(const char *dir)
{
    uint64_t n = 0;
    walk(dir, 3, add_size, &n);
    return n;
}

fs_result fs_store_prepare(const char *dir, int create, uint64_t *removed, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (!create || errno != ENOENT) return fail(err, errlen, FS_ERR_IO, "cannot open store '%s': %s", dir, strerror(errno));
        if (make_dir(dir) != 0) return fail(err, errlen, FS_ERR_IO, "cannot create store '%s': %s", dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return fail(err, errlen, FS_ERR_ARG, "store '%s' is not a directory", dir);
    }
    uint64_t n = 0;
    if (create) walk(dir, 2, remove_if_tmp, &n); /* writers clean up after dead writers; readers touch nothing */
    if (removed) *removed = n;
    return FS_OK;
}

/* ---- writing ---- */

/* A row's place in time order within its row group. */
struct sortkey {
    uint64_t first_ns;
    uint32_t row;
};

/* Scratch space for encoding one row group; one per thread that encodes (the writer's, and the closer's). */
struct flushctx {
    int sub_us;                   /* the row group just built holds a time that is not a whole microsecond */
    const struct fs_store_schema *sc; /* the table's */
    uint8_t zero[NCOLS_MAX];      /* transpose cleared column c: all its values are zero */
    uint8_t *gather;              /* owned: one column's encoding, before compression */
    uint8_t *out;                 /* owned: one row group as written (header, directory, compressed columns) */
    uint64_t *tv;                 /* owned: a column's transformed values */
    uint64_t *tv2;                /* owned: room for another column's worth (codec 6's excesses) */
    uint8_t *cols[NCOLS_MAX];     /* owned: one row group as columns, in time order */
    struct sortkey *order, *order_tmp; /* owned: the rows in time order, and room to sort them */
    size_t out_cap;
    ZSTD_CCtx *cctx;
    char err[512];
};

/* An epoch: segment_rows records added (or fewer, at close). Its records of each partition make one segment,
 * published once the epoch is over and every bucket of it written. */
struct epoch {
    struct epoch *next;           /* w->epochs: every epoch with something not yet published */
    unsigned pending;             /* buckets of it queued or being encoded */
    unsigned files;               /* its segments not yet published */
    int sealed;                   /* over: no more buckets */
};

/* A segment file being written: the row groups of one partition from one epoch. */
struct outfile {
    struct outfile *next;         /* w->files: every file not yet published */
    struct epoch *ep;
    uint64_t hour;                /* the partition: the UTC hour of the records' first packets */
    uint64_t first_min;           /* the smallest first-packet time written: the segment's name */
    uint64_t seq;
    int fd;                       /* -1 until its first group is written */
    unsigned claimed;             /* row groups taken for it by an encoding thread */
    int sub_us;                   /* it holds a time that is not a whole microsecond */
};

/* Records on their way to the writer's thread: at most FS_STORE_GROUP_ROWS of one epoch, of one partition or,
 * for the bucket of the partitions that find no open one (w->mixed), of several. */
struct bucket {
    struct bucket *next;          /* in w->free or in the queue */
    uint8_t *rows;                /* owned: FS_STORE_GROUP_ROWS records of the table's size */
    size_t n;
    struct epoch *ep;
    uint64_t lo;                  /* the partition's first-packet times, [lo, lo + HOUR_NS); MIXED if several */
};

#define COLS_BYTES(sc) ((size_t)FS_STORE_GROUP_ROWS * (sc)->size + (sc)->ncols * 64) /* >= the columns, aligned */
#define NFLUSH 2                  /* threads that encode: the writer's, and at close the closer's */
#define MAX_OPEN 4                /* partitions with a bucket of their own at once; the others share w->mixed */
#define MAX_BUCKETS 8             /* buckets in memory: MAX_OPEN + 1 filling, the rest queued or being encoded */
#define HOUR_NS 3600000000000ull
#define MIXED UINT64_MAX

struct fs_store_writer {
    char dir[2048];
    char table[64];
    const struct fs_store_schema *sc; /* the table's */
    atomic_int marked_ns;         /* this writer has written "ns" into the table's .times */
    uint64_t uid;                 /* random: segment names never collide between writers */
    uint64_t seq;
    /* Records from any thread go under `lock` into the bucket of their partition (open[]), or, when MAX_OPEN
     * partitions already have one, into the shared `mixed` bucket. A full bucket is queued; the writer's own
     * thread sorts it, encodes and compresses each partition's rows in it as a row group and appends that to
     * the partition's segment file, while the producers go on: a producer waits only when MAX_BUCKETS buckets
     * are in memory. Every segment_rows records end an epoch: its partial buckets are queued, and its segments
     * are published once they are written, so a segment never holds more than segment_rows records and a
     * record is published within segment_rows records of its arrival. */
    pthread_mutex_t lock;
    pthread_cond_t done;          /* a bucket came back free */
    pthread_cond_t work;          /* a bucket was queued, an epoch can be published, or stop was set */
    pthread_t thread;
    int started, stop;
    struct bucket *open[MAX_OPEN], *mixed;
    size_t nopen;
    struct bucket *free, *qhead, *qtail;
    struct bucket *all[MAX_BUCKETS]; /* owned */
    size_t nbuckets;
    struct epoch *cur;            /* the epoch records are added to; NULL after close ended it */
    struct epoch *epochs;         /* owned: cur and those not yet published */
    struct outfile *files;        /* owned: not yet published */
    size_t epoch_rows, segment_rows;
    struct flushctx fc[NFLUSH];
    fs_result error;
    char err[512];
    const char *replaces;         /* borrowed, compaction only: names of the segments the segment replaces, each
                                     ending in '\n'; its first group carries them and it is named cseg-... */
};

/* Sorts keys[0..n) by first_ns, stably (rows of equal times keep their arrival order): a least-significant-digit
 * radix sort of first_ns - min, 11 bits a pass, with as many passes as the range needs (four for an hour in
 * nanoseconds) and none for a digit all keys share. tmp has room for n keys; returns whichever of the two holds
 * the result. */
static struct sortkey *sort_by_time(struct sortkey *keys, struct sortkey *tmp, size_t n)
{
    uint64_t mn = UINT64_MAX, mx = 0;
    for (size_t r = 0; r < n; r++) {
        mn = keys[r].first_ns < mn ? keys[r].first_ns : mn;
        mx = keys[r].first_ns > mx ? keys[r].first_ns : mx;
    }
    uint32_t count[2048];
    for (unsigned shift = 0; n > 1 && shift < 64 && (mx - mn) >> shift; shift += 11) {
        memset(count, 0, sizeof count);
        for (size_t r = 0; r < n; r++) count[(keys[r].first_ns - mn) >> shift & 2047]++;
        if (count[(keys[0].first_ns - mn) >> shift & 2047] == n) continue; /* one digit for all: in order */
        uint32_t at = 0;
        for (size_t d = 0; d < 2048; d++) {
            uint32_t k = count[d];
            count[d] = at;
            at += k;
        }
        for (size_t r = 0; r < n; r++) tmp[count[(keys[r].first_ns - mn) >> shift & 2047]++] = keys[r];
        struct sortkey *t = keys;
        keys = tmp;
        tmp = t;
    }
    return keys;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Bytes that hold x: 0 for 0. */
static uint32_t bytes_for(uint64_t x)
{
    uint32_t b = 0;
    for (; x; x >>= 8) b++;
    return b;
}

/* The divisor g that makes the offsets tv[r] - tmin (all between 0 and tmax - tmin) smallest, and the bytes *sw
 * the largest (tmax - tmin) / g then takes: the largest of 10^9, 10^6 and 10^3 that divides them all (times
 * from microsecond and millisecond captures), or the largest power of two that does when that saves bytes (the
 * high half of an IPv4-mapped address moves in multiples of 2^32). *shift gets log2 g for a power of two, else
 * -1. Every decimal divisor is a multiple of 8, so offsets with a low bit set rule them out without a division. */
static uint64_t choose_divisor(const uint64_t *tv, size_t n, uint64_t tmin, uint64_t tmax, int *shift, uint32_t *sw)
{
    *shift = 0;
    *sw = 0;
    if (tmin == tmax) return 1;
    uint64_t bits = 0;
    for (size_t r = 0; r < n; r++) bits |= tv[r] - tmin;
    int tz = __builtin_ctzll(bits); /* bits != 0: tmax > tmin */
    int k = tz >= 9 ? 3 : tz >= 6 ? 2 : tz >= 3 ? 1 : 0;
    for (size_t r = 0; r < n && k; r++) { /* constant divisors: the compiler multiplies instead of dividing */
        uint64_t x = tv[r] - tmin;
        while (k && x % (k == 3 ? 1000000000ull : k == 2 ? 1000000ull : 1000ull)) k--;
    }
    uint64_t gd = k == 3 ? 1000000000ull : k == 2 ? 1000000ull : k == 1 ? 1000ull : 1;
    uint32_t swd = bytes_for((tmax - tmin) / gd), swb = bytes_for((tmax - tmin) >> tz);
    if (swb < swd) {
        *shift = tz;
        *sw = swb;
        return (uint64_t)1 << tz;
    }
    *shift = -1;
    *sw = swd;
    return gd;
}

/* tv[r] = (tv[r] - tmin) / g in place, g from choose_divisor. */
static void quotients(uint64_t *tv, size_t n, uint64_t tmin, uint64_t g, int shift)
{
#define QUOT_LOOP(EXPR) for (size_t r = 0; r < n; r++) { uint64_t x = tv[r] - tmin; tv[r] = (EXPR); }
    if (shift >= 0) QUOT_LOOP(x >> shift)
    else if (g == 1000) QUOT_LOOP(x / 1000)
    else if (g == 1000000) QUOT_LOOP(x / 1000000)
    else if (g == 1000000000) QUOT_LOOP(x / 1000000000)
    else QUOT_LOOP(x)
#undef QUOT_LOOP
}

/* Rows ord[0..n) of rows (one row group, in time order) to the columns fc->cols, 32 rows at a time: each row is
 * fetched once (prefetched a block ahead) and stays in the cache while every column takes its part; the columns
 * are written in sequence and stay in the cache for encoding. */
static void transpose(struct flushctx *fc, const uint8_t *rows, const struct sortkey *ord, size_t n)
{
    const struct fs_store_schema *sc = fc->sc;
    const size_t size = sc->size;
    /* Records of some kinds leave columns zero (for flows: records from flow exports most members, records from
     * packets the provenance of exports): when all rows of the group share such a kind, those columns are
     * cleared rather than gathered. */
    unsigned kinds = ~0u;
    for (size_t r = 0; r < n && kinds && sc->row_kind; r++) kinds &= sc->row_kind(rows + (size_t)ord[r].row * size);
    for (size_t c = 0; c < sc->ncols; c++) fc->zero[c] = (uint8_t)(sc->zero_in && kinds && sc->zero_in(c, kinds));
    for (size_t r0 = 0; r0 < n; r0 += 32) {
        size_t r1 = r0 + 32 < n ? r0 + 32 : n;
        for (size_t r = r1; r < r1 + 32 && r < n; r++)
            for (size_t b = 0; b < size; b += 64) __builtin_prefetch(rows + (size_t)ord[r].row * size + b);
        for (size_t c = 0; c < sc->ncols; c++) {
            const struct fs_flow_member *col = &sc->cols[c];
            uint8_t *dst = fc->cols[c];
            if (fc->zero[c]) {
                memset(dst + col->width * r0, 0, col->width * (r1 - r0));
                continue;
            }
            const uint8_t *base = (const uint8_t *)rows + col->off;
#define ROW(r) (base + (size_t)ord[r].row * size)
            switch (col->width) {
            case 1: for (size_t r = r0; r < r1; r++) dst[r] = *ROW(r); break;
            case 2: for (size_t r = r0; r < r1; r++) memcpy(dst + 2 * r, ROW(r), 2); break;
            case 4: for (size_t r = r0; r < r1; r++) memcpy(dst + 4 * r, ROW(r), 4); break;
            case 8: for (size_t r = r0; r < r1; r++) memcpy(dst + 8 * r, ROW(r), 8); break;
            case 16: for (size_t r = r0; r < r1; r++) memcpy(dst + 16 * r, ROW(r), 16); break;
            default:
                for (size_t r = r0; r < r1; r++) memcpy(dst + col->width * r, ROW(r), col->width);
            }
#undef ROW
        }
    }
}

/* Encodes column c of the row group (n rows in fc->cols) into fc->gather: the raw bytes of its codec, before
 * compression. Returns their length; sets the directory fields that depend on the values. */
/* The smallest and largest of v[0..n): four running minima and maxima, so that each compare waits for the one
 * four values back, not the one before (a single chain of compares and conditional moves is latency-bound). */
static void minmax(const uint64_t *v, size_t n, uint64_t *mn, uint64_t *mx)
{
    uint64_t lo[4] = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX }, hi[4] = { 0, 0, 0, 0 };
    size_t r = 0;
    for (; r + 4 <= n; r += 4)
        for (int k = 0; k < 4; k++) {
            lo[k] = v[r + k] < lo[k] ? v[r + k] : lo[k];
            hi[k] = v[r + k] > hi[k] ? v[r + k] : hi[k];
        }
    for (; r < n; r++) {
        lo[0] = v[r] < lo[0] ? v[r] : lo[0];
        hi[0] = v[r] > hi[0] ? v[r] : hi[0];
    }
    for (int k = 1; k < 4; k++) {
        lo[0] = lo[k] < lo[0] ? lo[k] : lo[0];
        hi[0] = hi[k] > hi[0] ? hi[k] : hi[0];
    }
    *mn = lo[0];
    *mx = hi[0];
}

static size_t encode_column(struct flushctx *fc, size_t c, size_t n, uint32_t *codec, uint32_t *sw, uint64_t *base,
                            uint64_t *mn, uint64_t *mx)
{
    const struct fs_flow_member *col = &fc->sc->cols[c];
    const uint8_t *cv = fc->cols[c];
    const uint64_t *firsts = (const uint64_t *)(void *)fc->cols[COL_FIRST_NS];
    uint64_t *tv = fc->tv;
    int shift;
    if (col->width > 8) { /* lanes, each narrowed and packed */
        uint32_t lw = fc->sc->lane_width(col->width), nl = col->width / lw;
        uint8_t *o = fc->gather;
        put_u32(o, nl);
        put_u32(o + 4, lw);
        o += 8;
        for (uint32_t l = 0; l < nl; l++) {
            uint64_t tmin = 0, tmax = 0;
            const uint8_t *lane = cv + (size_t)l * lw;
            if (!fc->zero[c]) { /* (a column cleared by transpose is zero: nothing to read) */
                if (lw == 4)
                    for (size_t r = 0; r < n; r++) { uint32_t x; memcpy(&x, lane + col->width * r, 4); tv[r] = x; }
                else
                    for (size_t r = 0; r < n; r++) memcpy(&tv[r], lane + col->width * r, 8);
                minmax(tv, n, &tmin, &tmax);
            }
            uint32_t lsw;
            uint64_t g = choose_divisor(tv, n, tmin, tmax, &shift, &lsw);
            uint8_t *head = o;
            o += LANE_HEAD;
            if (lsw) {
                quotients(tv, n, tmin, g, shift);
                /* packed, not planes: equal values stay equal byte runs; 8 bytes stored and lsw kept (slack in
                 * NARROW_BYTES): no call per value */
                for (size_t r = 0; r < n; r++, o += lsw) memcpy(o, &tv[r], 8);
            }
            put_u64(head, tmin);
            put_u32(head + 8, lsw);
            put_u32(head + 12, 0); /* reserved */
            put_u64(head + 16, g);
        }
        *codec = CODEC_ZSTD_LANES;
        *sw = 0;
        *base = *mn = *mx = 0;
        return (size_t)(o - fc->gather);
    }
    if (fc->zero[c]) { /* cleared by transpose: all zero, encoded as the general path below would */
        *mn = *mx = *base = 0;
        *codec = CODEC_ZSTD_FOR;
        *sw = 0;
        put_u64(fc->gather, 1);
        return 8;
    }
    switch (col->width) { /* the values, widened */
    case 1: for (size_t r = 0; r < n; r++) tv[r] = cv[r]; break;
    case 2: for (size_t r = 0; r < n; r++) { uint16_t x; memcpy(&x, cv + 2 * r, 2); tv[r] = x; } break;
    case 4: for (size_t r = 0; r < n; r++) { uint32_t x; memcpy(&x, cv + 4 * r, 4); tv[r] = x; } break;
    default: memcpy(tv, cv, n * 8); break;
    }
    uint64_t lo, hi, tmin, tmax;
    minmax(tv, n, &lo, &hi);
    *mn = lo;
    *mx = hi;
    *codec = CODEC_ZSTD_FOR;
    tmin = lo;
    tmax = hi;
    int ref = fc->sc->ref_of ? fc->sc->ref_of(c) : -1, diff = ref >= 0 && fc->sc->cols[ref].width <= 8;
    if (diff) { /* the excess over the reference column, if no row is below it */
        const uint8_t *rv = fc->cols[ref];
        unsigned rw = fc->sc->cols[ref].width;
        uint64_t *ex = fc->tv2;
        for (size_t r = 0; r < n && diff; r++) {
            uint64_t x = 0;
            memcpy(&x, rv + (size_t)rw * r, rw);
            diff = tv[r] >= x;
            ex[r] = tv[r] - x;
        }
        if (diff) {
            memcpy(tv, ex, n * sizeof *tv);
            minmax(tv, n, &tmin, &tmax);
            *codec = CODEC_ZSTD_DIFF;
        }
    }
    uint8_t *head = fc->gather;
    if (diff) {
        put_u32(head, (uint32_t)ref); /* its place in the directory: the writer writes the columns in order */
        put_u32(head + 4, 0);
        head += 8;
    }
    int delta = !diff && c == COL_FIRST_NS, rel = !diff && !delta && strstr(col->name, "_ns") != NULL; /* times */
    for (size_t r = 1; r < n && delta; r++) delta = tv[r] >= tv[r - 1];
    for (size_t r = 0; r < n && rel; r++) rel = tv[r] == 0 || tv[r] >= firsts[r];
    if (delta || rel) {
        *codec = delta ? CODEC_ZSTD_DELTA : CODEC_ZSTD_REL;
        if (delta)
            for (size_t r = n; r-- > 0;) tv[r] = r ? tv[r] - tv[r - 1] : 0;
        else
            for (size_t r = 0; r < n; r++) tv[r] = tv[r] ? tv[r] - firsts[r] + 1 : 0;
        minmax(tv, n, &tmin, &tmax);
    }
    uint64_t g = choose_divisor(tv, n, tmin, tmax, &shift, sw);
    put_u64(head, g);
    if (*sw) quotients(tv, n, tmin, g, shift);
    uint8_t *out = head + 8;
    for (uint32_t b = 0; b < *sw; b++, out += n) /* plane b holds byte b of every value: runs of zeros */
        for (size_t r = 0; r < n; r++) out[r] = (uint8_t)(tv[r] >> (8 * b));
    *base = tmin;
    return n * *sw + 8 + (diff ? 8 : 0);
}

/* Makes room for need bytes in fc->out (it grows to the largest group seen, then stays); -1, with fc->err set,
 * if there is no memory for it. */
static int out_room(struct flushctx *fc, size_t need)
{
    if (need <= fc->out_cap) return 0;
    size_t cap = fc->out_cap * 2 > need ? fc->out_cap * 2 : need;
    uint8_t *nb = realloc(fc->out, cap);
    if (!nb) {
        fail(fc->err, sizeof fc->err, FS_ERR_NOMEM, "out of memory for a row group of %zu bytes", cap);
        return -1;
    }
    fc->out = nb;
    fc->out_cap = cap;
    return 0;
}

/* Builds the row group of the n rows of the columns (in time order) in fc->out: header, directory and
 * compressed columns, as written. Returns its size; 0 on an error, which fc->err says. */
/* The time columns: first_ns, last_ns and those of each direction. */
static int is_time_column(const struct fs_store_schema *sc, size_t c)
{
    const char *name = sc->cols[c].name;
    size_t len = strlen(name);
    return len > 3 && strcmp(name + len - 3, "_ns") == 0;
}

/* The table's .times marker says whether every stored time is a whole microsecond ("us"), so that readers
 * print 6 decimals as extract did for microsecond captures, or not ("ns": 9 decimals; also when the file is
 * missing, as in stores made before it existed). A writer of a new, empty table writes "us" unless the file
 * exists; a writer about to publish a segment holding a finer time writes "ns" over it first, so "us" is
 * never seen while such a segment is. Returns 0, or -1 with errno. */
static int set_times(const char *dir, const char *table, const char *what, int replace)
{
    char path[4400], tmp[4450];
    snprintf(path, sizeof path, "%s/%s/.times", dir, table);
    snprintf(tmp, sizeof tmp, "%s/%s/.times.tmp-%ld", dir, table, (long)getpid());
    int fd = open(replace ? tmp : path, O_WRONLY | O_CREAT | (replace ? O_TRUNC : O_EXCL) | O_CLOEXEC, 0644);
    if (fd < 0) return replace || errno != EEXIST ? -1 : 0;
    char line[8];
    int n = snprintf(line, sizeof line, "%s\n", what);
    int bad = write_all(fd, line, (size_t)n) != 0 || fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (!bad && replace && rename(tmp, path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        if (replace) unlink(tmp);
        errno = saved;
        return -1;
    }
    char tdir[4400];
    snprintf(tdir, sizeof tdir, "%s/%s", dir, table);
    return fsync_dir(tdir);
}

/* Whether a table directory holds no partition yet (hidden files aside). */
static int table_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') empty = 0;
    closedir(d);
    return empty;
}

int fs_store_time_decimals(const char *dir, const char *table)
{
    char path[4400], line[8] = { 0 };
    snprintf(path, sizeof path, "%s/%s/.times", dir, table);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 9;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    return n >= 3 && memcmp(line, "us\n", 3) == 0 ? 6 : 9;
}

static size_t build_group(struct fs_store_writer *w, struct flushctx *fc, size_t n, int replaces)
{
    const struct fs_store_schema *sc = fc->sc;
    size_t ndir = sc->ncols + (replaces ? 1 : 0), dirlen = ndir * DIRENT_SIZE;
    const uint64_t *firsts = (const uint64_t *)(void *)fc->cols[COL_FIRST_NS];
    const uint64_t *lasts = (const uint64_t *)(void *)fc->cols[COL_LAST_NS];
    uint64_t t_min = UINT64_MAX, t_max = 0, first_max = 0;
    for (size_t r = 0; r < n; r++) {
        t_min = firsts[r] < t_min ? firsts[r] : t_min;
        first_max = firsts[r] > first_max ? firsts[r] : first_max;
        t_max = lasts[r] > t_max ? lasts[r] : t_max;
    }
    uint64_t sub_us = 0; /* any time not a whole microsecond (the table's .times marker, below) */
    for (size_t c = 0; c < sc->ncols && !sub_us; c++)
        if (is_time_column(sc, c))
            for (size_t r = 0; r < n; r++) sub_us |= ((const uint64_t *)(void *)fc->cols[c])[r] % 1000;
    fc->sub_us = sub_us != 0;
    size_t off = HEADER_SIZE + dirlen;
    memset(fc->out, 0, off);
    for (size_t c = 0; c < sc->ncols; c++) {
        uint32_t codec, sw;
        uint64_t base, mn, mx;
        size_t raw = encode_column(fc, c, n, &codec, &sw, &base, &mn, &mx);
        if (out_room(fc, off + ZSTD_compressBound(raw) + 4096) != 0) return 0;
        size_t clen = ZSTD_compress2(fc->cctx, fc->out + off, fc->out_cap - off, fc->gather, raw);
        if (ZSTD_isError(clen)) {
            fail(fc->err, sizeof fc->err, FS_ERR_NOMEM, "compression failed: %s", ZSTD_getErrorName(clen));
            return 0;
        }
        const struct fs_flow_member *col = &sc->cols[c];
        uint8_t *e = fc->out + HEADER_SIZE + c * DIRENT_SIZE;
        snprintf((char *)e, NAME_SIZE, "%s", col->name);
        put_u32(e + 32, col->width);
        put_u32(e + 36, codec);
        put_u64(e + 40, off);
        put_u64(e + 48, clen);
        put_u64(e + 56, raw);
        put_u64(e + 64, mn);
        put_u64(e + 72, mx);
        put_u32(e + 80, fs_crc32c(0, fc->out + off, clen));
        put_u32(e + 84, sw);
        put_u64(e + 88, base);
        off += clen;
    }
    if (replaces) { /* the names it replaces: an entry readers of other versions ignore */
        size_t len = strlen(w->replaces);
        if (out_room(fc, off + len) != 0) return 0;
        uint8_t *e = fc->out + HEADER_SIZE + sc->ncols * DIRENT_SIZE;
        snprintf((char *)e, NAME_SIZE, "%s", REPLACES_ENTRY);
        put_u32(e + 36, CODEC_NAMES);
        put_u64(e + 40, off);
        put_u64(e + 48, len);
        put_u64(e + 56, len);
        put_u32(e + 80, fs_crc32c(0, w->replaces, len));
        memcpy(fc->out + off, w->replaces, len);
        off += len;
    }
    uint8_t *header = fc->out, *dir = fc->out + HEADER_SIZE;
    memcpy(header, MAGIC, 8);
    put_u32(header + 8, 1);
    put_u32(header + 12, (uint32_t)ndir);
    put_u64(header + 16, n);
    put_u64(header + 24, t_min);
    put_u64(header + 32, t_max);
    put_u64(header + 40, first_max);
    put_u64(header + 48, off); /* the row group's size */
    put_u32(header + 56, fs_crc32c(0, dir, dirlen));
    put_u32(header + 60, fs_crc32c(0, header, 60));
    return off;
}

/* The directory of f's partition, and f's path in it: its temporary name while it is written (final = 0),
 * or its published one, named after its first record. */
static void seg_path(const struct fs_store_writer *w, const struct outfile *f, int final, char part[4096],
                     char path[4400])
{
    time_t t = (time_t)(f->hour * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(part, 4096, "%s/%s/%04d%02d%02dT%02d", w->dir, w->table, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour);
    if (final)
        snprintf(path, 4400, "%s/%sseg-%020llu-%016llx-%06llu.fss", part, w->replaces ? "c" : "",
                 (unsigned long long)f->first_min, (unsigned long long)w->uid, (unsigned long long)f->seq);
    else
        snprintf(path, 4400, "%s/.tmp-%ld-seg-%016llx-%06llu.fss", part, (long)getpid(),
                 (unsigned long long)w->uid, (unsigned long long)f->seq);
}

/* Appends the row group built in fc->out (len bytes; its earliest record first_ns) to f's file, creating the
 * file with its first group. Called with the lock held: groups of one file are appended one at a time. */
static fs_result append_group(struct fs_store_writer *w, struct flushctx *fc, struct outfile *f, size_t len,
                              uint64_t first_ns)
{
    char part[4096], path[4400];
    seg_path(w, f, 0, part, path);
    if (f->fd < 0) {
        if (make_dir(part) != 0)
            return fail(fc->err, sizeof fc->err, FS_ERR_IO, "cannot create '%s': %s", part, strerror(errno));
        f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f->fd < 0) return fail(fc->err, sizeof fc->err, FS_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    }
    if (write_all(f->fd, fc->out, len) != 0)
        return fail(fc->err, sizeof fc->err, FS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    f->first_min = first_ns < f->first_min ? first_ns : f->first_min;
    return FS_OK;
}

/* Publishes f, whose groups are all written: fsync, rename to its final name, fsync of the directory. The
 * temporary file is removed if any step fails. Called without the lock; f is no longer in w->files. */
static fs_result publish(struct fs_store_writer *w, struct flushctx *fc, struct outfile *f)
{
    char part[4096], tmp[4400], final[4400];
    seg_path(w, f, 0, part, tmp);
    seg_path(w, f, 1, part, final);
    int io = fsync(f->fd) != 0, saved = errno;
    if (close(f->fd) != 0 && !io) {
        io = 1;
        saved = errno;
    }
    f->fd = -1;
    if (!io && f->sub_us && !atomic_load(&w->marked_ns)) { /* before the segment is visible (see .times) */
        if (set_times(w->dir, w->table, "ns", 1) != 0) {
            io = 1;
            saved = errno;
        } else {
            atomic_store(&w->marked_ns, 1);
        }
    }
    if (io || rename(tmp, final) != 0 || fsync_dir(part) != 0) {
        if (!io) saved = errno;
        unlink(tmp);
        return fail(fc->err, sizeof fc->err, FS_ERR_IO, "cannot write segment '%s': %s", final, strerror(saved));
    }
    return FS_OK;
}

/* The first error is the writer's: every later add reports it, and nothing more is published. */
static void set_error(struct fs_store_writer *w, fs_result rc, const char *msg)
{
    if (rc && !w->error) {
        w->error = rc;
        snprintf(w->err, sizeof w->err, "%s", msg);
    }
}

/* Frees the epochs that are over with nothing left to write or publish; called with the lock held. */
static void reap_epochs(struct fs_store_writer *w)
{
    for (struct epoch **p = &w->epochs; *p;) {
        struct epoch *e = *p;
        if (e->sealed && !e->pending && !e->files) {
            *p = e->next;
            free(e);
        } else {
            p = &e->next;
        }
    }
}

/* A segment whose epoch is over and written, taken out of w->files; NULL if none. Lock held. */
static struct outfile *take_ready(struct fs_store_writer *w)
{
    for (struct outfile **p = &w->files; *p; p = &(*p)->next) {
        struct outfile *f = *p;
        if (f->ep->sealed && !f->ep->pending) {
            *p = f->next;
            return f;
        }
    }
    return NULL;
}

/* The segment of partition `hour` in epoch ep, created if there is none; NULL if out of memory. Lock held. */
static struct outfile *file_for(struct fs_store_writer *w, struct epoch *ep, uint64_t hour)
{
    for (struct outfile *f = w->files; f; f = f->next)
        if (f->ep == ep && f->hour == hour) return f;
    struct outfile *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->ep = ep;
    f->hour = hour;
    f->first_min = UINT64_MAX;
    f->fd = -1;
    f->seq = w->seq++;
    f->next = w->files;
    w->files = f;
    ep->files++;
    return f;
}

/* Sorts bucket b by first-packet time and writes each partition's rows in it as one row group, appended to
 * that partition's segment of b's epoch. Called with the lock held; releases it while encoding. */
static void write_bucket(struct fs_store_writer *w, struct flushctx *fc, struct bucket *b)
{
    for (size_t r = 0; r < b->n; r++)
        fc->order[r] = (struct sortkey){ fs_store_u64(w->sc, b->rows + r * w->sc->size, 0), (uint32_t)r };
    const struct sortkey *ord = sort_by_time(fc->order, fc->order_tmp, b->n);
    for (size_t i = 0, j; i < b->n && !w->error; i = j) { /* one partition's rows: one row group */
        uint64_t hour = ord[i].first_ns / HOUR_NS, lo = hour * HOUR_NS;
        for (j = i + 1; j < b->n && ord[j].first_ns - lo < HOUR_NS;) j++;
        struct outfile *f = file_for(w, b->ep, hour);
        if (!f) {
            set_error(w, FS_ERR_NOMEM, "out of memory for a segment");
            break;
        }
        int first = f->claimed++ == 0; /* with replaces, one thread writes: the first claimed is written first */
        pthread_mutex_unlock(&w->lock);
        transpose(fc, b->rows, ord + i, j - i);
        size_t len = build_group(w, fc, j - i, first && w->replaces);
        pthread_mutex_lock(&w->lock);
        if (!w->error) set_error(w, len ? append_group(w, fc, f, len, ord[i].first_ns) : FS_ERR_NOMEM, fc->err);
        f->sub_us |= fc->sub_us;
    }
}

/* Writes out queued buckets, oldest first, and publishes the segments of the epochs they complete, until
 * stop is set and nothing is left; called with the lock held, by the writer's thread and, at close, by the
 * closing thread too (two buckets encoded at once). */
static void drain(struct fs_store_writer *w, struct flushctx *fc)
{
    for (;;) {
        struct outfile *f = w->error ? NULL : take_ready(w);
        if (f) {
            pthread_mutex_unlock(&w->lock);
            fs_result rc = publish(w, fc, f);
            pthread_mutex_lock(&w->lock);
            set_error(w, rc, fc->err);
            f->ep->files--;
            free(f);
            reap_epochs(w);
            continue;
        }
        struct bucket *b = w->qhead;
        if (!b) {
            if (w->stop) break;
            pthread_cond_wait(&w->work, &w->lock);
            continue;
        }
        if (!(w->qhead = b->next)) w->qtail = NULL;
        if (!w->error) write_bucket(w, fc, b); /* after a failure, buckets are dropped */
        b->ep->pending--;
        b->n = 0;
        b->next = w->free;
        w->free = b;
        reap_epochs(w);
        pthread_cond_broadcast(&w->done);
    }
}

static void *writer_main(void *arg)
{
    struct fs_store_writer *w = arg;
    pthread_setname_np(pthread_self(), "flowsift-store"); /* for top -H and perf */
    pthread_mutex_lock(&w->lock);
    drain(w, &w->fc[0]);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Queues bucket b (an open one, or the mixed one) for the writer's thread; an empty one goes back free.
 * Called with the lock held. */
static void dispatch(struct fs_store_writer *w, struct bucket *b)
{
    for (size_t i = 0; i < w->nopen; i++)
        if (w->open[i] == b) w->open[i] = w->open[--w->nopen];
    if (w->mixed == b) w->mixed = NULL;
    if (!b->n) {
        b->next = w->free;
        w->free = b;
        return;
    }
    b->ep->pending++;
    b->next = NULL;
    if (w->qtail) w->qtail->next = b;
    else w->qhead = b;
    w->qtail = b;
    pthread_cond_signal(&w->work);
}

/* Ends the epoch (segment_rows records added, or close: last): its partial buckets are queued, and its segments
 * go out once they are written. Called with the lock held. */
static void end_epoch(struct fs_store_writer *w, int last)
{
    while (w->nopen) dispatch(w, w->open[w->nopen - 1]);
    if (w->mixed) dispatch(w, w->mixed);
    w->cur->sealed = 1;
    w->cur = NULL;
    if (!last) {
        if ((w->cur = calloc(1, sizeof *w->cur)) != NULL) {
            w->cur->next = w->epochs;
            w->epochs = w->cur;
        } else {
            set_error(w, FS_ERR_NOMEM, "out of memory for an epoch");
        }
    }
    reap_epochs(w);
    w->epoch_rows = 0;
    pthread_cond_broadcast(&w->work);
}

/* The bucket for a record whose first packet is at first_ns: its partition's, opened if there is none and
 * fewer than MAX_OPEN are, else the mixed one. NULL after waiting for a free bucket (the lock was released:
 * the caller looks again) or on an error (w->error). Called with the lock held. */
static struct bucket *bucket_for(struct fs_store_writer *w, uint64_t first_ns)
{
    uint64_t lo = first_ns / HOUR_NS * HOUR_NS;
    for (size_t i = 0; i < w->nopen; i++)
        if (w->open[i]->lo == lo) return w->open[i];
    if (w->nopen == MAX_OPEN && w->mixed) return w->mixed;
    struct bucket *b = w->free;
    if (b) {
        w->free = b->next;
    } else if (w->nbuckets < MAX_BUCKETS) {
        b = calloc(1, sizeof *b);
        if (b && !(b->rows = malloc((size_t)FS_STORE_GROUP_ROWS * w->sc->size))) {
            free(b);
            b = NULL;
        }
        if (!b) {
            set_error(w, FS_ERR_NOMEM, "out of memory for the store's buffers");
            return NULL;
        }
        w->all[w->nbuckets++] = b;
    } else {
        pthread_cond_wait(&w->done, &w->lock);
        return NULL;
    }
    b->n = 0;
    b->ep = w->cur;
    if (w->nopen < MAX_OPEN) {
        b->lo = lo;
        w->open[w->nopen++] = b;
    } else {
        b->lo = MIXED;
        w->mixed = b;
    }
    return b;
}

fs_result fs_store_writer_new(struct fs_store_writer **out, const char *dir, const char *table, size_t segment_rows,
                              char *err, size_t errlen)
{
    const struct fs_store_schema *sc = fs_store_schema_find(table);
    if (!sc) return fail(err, errlen, FS_ERR_ARG, "a store has no table '%s'", table);
    struct fs_store_writer *w = calloc(1, sizeof *w);
    if (!w) return FS_ERR_NOMEM;
    w->sc = sc;
    w->segment_rows = segment_rows && segment_rows < FS_STORE_SEGMENT_ROWS ? segment_rows : FS_STORE_SEGMENT_ROWS;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    snprintf(w->table, sizeof w->table, "%s", table);
    if (getrandom(&w->uid, sizeof w->uid, 0) != (ssize_t)sizeof w->uid) w->uid = (uint64_t)getpid() << 20 ^ (uint64_t)time(NULL);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->done, NULL);
    pthread_cond_init(&w->work, NULL);
    w->epochs = w->cur = calloc(1, sizeof *w->cur);
    int ok = w->cur != NULL;
    for (int f = 0; f < NFLUSH && ok; f++) {
        struct flushctx *c = &w->fc[f];
        c->sc = sc;
        c->gather = malloc(NARROW_BYTES(FS_STORE_GROUP_ROWS));
        c->tv = malloc((size_t)FS_STORE_GROUP_ROWS * sizeof *c->tv);
        c->tv2 = malloc((size_t)FS_STORE_GROUP_ROWS * sizeof *c->tv2);
        c->order = malloc((size_t)FS_STORE_GROUP_ROWS * sizeof *c->order);
        c->order_tmp = malloc((size_t)FS_STORE_GROUP_ROWS * sizeof *c->order_tmp);
        c->out_cap = 1 << 20;
        c->out = malloc(c->out_cap);
        c->cctx = ZSTD_createCCtx();
        ok = c->gather && c->tv && c->tv2 && c->order && c->order_tmp && c->out && c->cctx;
        if (ok) ok = (c->cols[0] = malloc(COLS_BYTES(sc))) != NULL;
        for (size_t k = 1; k < sc->ncols && ok; k++) /* one allocation, each column 64-byte aligned */
            c->cols[k] = c->cols[k - 1] + ((size_t)FS_STORE_GROUP_ROWS * sc->cols[k - 1].width + 63) / 64 * 64;
        if (ok) ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    }
    if (ok) ok = w->started = pthread_create(&w->thread, NULL, writer_main, w) == 0;
    if (!ok) {
        fs_store_writer_close(w, NULL, 0);
        return FS_ERR_NOMEM;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, table);
    if (make_dir(dir) != 0 || make_dir(path) != 0) {
        fail(err, errlen, FS_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        fs_store_writer_close(w, NULL, 0);
        return FS_ERR_IO;
    }
    if (table_is_empty(path)) set_times(dir, table, "us", 0); /* a store made before markers keeps none */
    *out = w;
    return FS_OK;
}

fs_result fs_store_writer_add_many(struct fs_store_writer *w, const void *records, size_t count)
{
    const struct fs_store_schema *sc = w->sc;
    const size_t size = sc->size;
    const uint8_t *f = records;
    pthread_mutex_lock(&w->lock);
    fs_result rc = FS_OK;
    struct bucket *b = NULL; /* valid while the lock is held: NULL after anything that may release it */
    while (count && (rc = w->error) == FS_OK) {
        if (w->epoch_rows == w->segment_rows) {
            end_epoch(w, 0);
            b = NULL;
        } else if (!b || b->lo == MIXED || fs_store_u64(sc, f, 0) - b->lo >= HOUR_NS) { /* its partition's bucket */
            b = bucket_for(w, fs_store_u64(sc, f, 0));
            if (b && b->lo == MIXED) { /* one record: the next may have an open bucket */
                memcpy(b->rows + b->n++ * size, f, size);
                f += size;
                count--;
                w->epoch_rows++;
                if (b->n == FS_STORE_GROUP_ROWS) dispatch(w, b);
                b = NULL;
            }
        } else { /* the run of records of b's partition, as far as b and the epoch have room */
            size_t k = FS_STORE_GROUP_ROWS - b->n, room = w->segment_rows - w->epoch_rows, run = 1;
            k = k < room ? k : room;
            k = k < count ? k : count;
            while (run < k && fs_store_u64(sc, f + run * size, 0) - b->lo < HOUR_NS) run++;
            memcpy(b->rows + b->n * size, f, run * size);
            b->n += run;
            w->epoch_rows += run;
            f += run * size;
            count -= run;
            if (b->n == FS_STORE_GROUP_ROWS) {
                dispatch(w, b);
                b = NULL;
            }
        }
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

fs_result fs_store_writer_add(struct fs_store_writer *w, const void *record)
{
    return fs_store_writer_add_many(w, record, 1);
}

fs_result fs_store_writer_close(struct fs_store_writer *w, char *err, size_t errlen)
{
    if (!w) return FS_OK;
    fs_result rc = FS_OK;
    if (w->started) { /* no thread adds any more: end the epoch and help the writer's thread write it out */
        pthread_mutex_lock(&w->lock);
        if (!w->error) end_epoch(w, 1);
        w->stop = 1;
        pthread_cond_broadcast(&w->work);
        if (!w->replaces) drain(w, &w->fc[1]); /* a compacted segment's groups go out in order, from one thread */
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        rc = w->error;
    }
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    if (rc && err) snprintf(err, errlen, "%s", w->err);
    while (w->files) { /* unpublished after an error: removed */
        struct outfile *f = w->files;
        w->files = f->next;
        if (f->fd >= 0) {
            char part[4096], tmp[4400];
            seg_path(w, f, 0, part, tmp);
            close(f->fd);
            unlink(tmp);
        }
        free(f);
    }
    while (w->epochs) {
        struct epoch *e = w->epochs;
        w->epochs = e->next;
        free(e);
    }
    for (size_t i = 0; i < w->nbuckets; i++) {
        free(w->all[i]->rows);
        free(w->all[i]);
    }
    for (int f = 0; f < NFLUSH; f++) {
        struct flushctx *c = &w->fc[f];
        ZSTD_freeCCtx(c->cctx);
        free(c->gather);
        free(c->tv);
        free(c->tv2);
        free(c->order);
        free(c->order_tmp);
        free(c->cols[0]);
        free(c->out);
    }
    free(w);
    return rc;
}


/* ---- reading ---- */

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Where a segment's bytes come from: memory (tests, fuzzing) or a file read piece by piece. */
struct seg_src {
    const uint8_t *mem;
    int fd;
    uint64_t size;      /* of the file */
    uint64_t base;      /* where the row group being read starts; offsets below are relative to it */
};

static int src_read(const struct seg_src *s, uint64_t off, void *buf, size_t n)
{
    if (s->base > s->size || off > s->size - s->base || n > s->size - s->base - off) return -1;
    if (n == 0) return 0; /* buf may be NULL (an empty column's never-grown buffer) */
    off += s->base;
    if (s->mem) {
        memcpy(buf, s->mem + off, n);
        return 0;
    }
    uint8_t *b = buf;
    while (n) {
        ssize_t k = pread(s->fd, b, n, (off_t)off);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            return -1;
        }
        b += k;
        off += (uint64_t)k;
        n -= (size_t)k;
    }
    return 0;
}

/* Makes src read the file at path, or the descriptor fd if it is >= 0 (taken over). Returns 0, or -1 with
 * errno set and no descriptor left open. */
static int src_open(struct seg_src *src, const char *path, int fd)
{
    memset(src, 0, sizeof *src);
    src->fd = fd >= 0 ? fd : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (src->fd >= 0 && fstat(src->fd, &st) == 0) {
        src->size = (uint64_t)st.st_size;
        return 0;
    }
    int saved = errno;
    if (src->fd >= 0) close(src->fd);
    src->fd = -1;
    errno = saved;
    return -1;
}

/* Reads segments one after another, keeping its buffers: the header and directory of the current
 * segment, and the columns decoded from it so far. */
struct seg_reader {
    const struct fs_store_schema *sc; /* the table's: the columns known */
    ZSTD_DCtx *dctx;
    uint8_t *data[NCOLS_MAX]; /* owned: decoded column k, room for rows[k] values */
    uint64_t rows[NCOLS_MAX];
    uint8_t decoded[NCOLS_MAX]; /* column k of the current segment is in data[k] */
    int dirpos[NCOLS_MAX];    /* its entry in the directory, or -1 if the segment lacks it */
    uint8_t *cbuf;            /* owned: compressed bytes of one column */
    size_t ccap;
    uint8_t *narrow;          /* owned: one column's encoding (planes, lanes), NARROW_BYTES(nrows_cap) */
    uint8_t *held;            /* owned: the same for a codec 6 column while its reference is decoded */
    uint64_t held_cap;        /* rows it has room for */
    uint64_t *wide;           /* owned: the same widened, nrows_cap values */
    uint64_t nrows_cap;
    uint8_t dir[MAX_COLS * DIRENT_SIZE];
    uint64_t nrows, t_min, first_max; /* of the row group */
    uint64_t gsize;           /* bytes of the row group */
    uint32_t ncols;
    uint64_t bytes_read;      /* over all segments */
};

static void reader_free(struct seg_reader *r)
{
    for (size_t k = 0; k < NCOLS_MAX; k++) free(r->data[k]);
    free(r->cbuf);
    free(r->narrow);
    free(r->held);
    free(r->wide);
    ZSTD_freeDCtx(r->dctx);
    free(r);
}

static struct seg_reader *reader_new(const struct fs_store_schema *sc)
{
    struct seg_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->sc = sc;
    r->dctx = ZSTD_createDCtx(); /* the buffers grow with the segments read */
    if (!r->dctx) {
        reader_free(r);
        return NULL;
    }
    return r;
}

static int col_index(const struct fs_store_schema *sc, const char *name)
{
    for (size_t k = 0; k < sc->ncols; k++)
        if (strcmp(sc->cols[k].name, name) == 0) return (int)k;
    return -1;
}

/* Reads and checks the header and column directory of a segment. */
static fs_result seg_open(struct seg_reader *r, const struct seg_src *src, const char *name, char *err, size_t errlen)
{
    uint8_t h[HEADER_SIZE];
    if (src_read(src, 0, h, HEADER_SIZE) != 0 || memcmp(h, MAGIC, 8) != 0)
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': not a flowsift segment at byte %llu", name,
                    (unsigned long long)src->base);
    if (get_u32(h + 60) != fs_crc32c(0, h, 60))
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': header checksum mismatch", name);
    if (get_u32(h + 8) != 1) return fail(err, errlen, FS_ERR_UNSUPP, "'%s': segment version %u", name, get_u32(h + 8));
    r->ncols = get_u32(h + 12);
    r->nrows = get_u64(h + 16);
    r->t_min = get_u64(h + 24);
    r->first_max = get_u64(h + 40);
    if (r->ncols > MAX_COLS || r->nrows > FS_STORE_SEGMENT_ROWS)
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': implausible header (%u columns, %llu rows)", name, r->ncols,
                    (unsigned long long)r->nrows);
    r->gsize = get_u64(h + 48);
    if (r->gsize < HEADER_SIZE || r->gsize > src->size - src->base)
        return fail(err, errlen, FS_ERR_TRUNC, "'%s': %llu bytes from byte %llu, the header says %llu", name,
                    (unsigned long long)(src->size - src->base), (unsigned long long)src->base,
                    (unsigned long long)r->gsize);
    if (r->nrows > r->nrows_cap) {
        uint8_t *nn = realloc(r->narrow, NARROW_BYTES(r->nrows));
        if (nn) r->narrow = nn;
        uint64_t *nw = realloc(r->wide, (size_t)r->nrows * 8);
        if (nw) r->wide = nw;
        if (!nn || !nw) return FS_ERR_NOMEM;
        r->nrows_cap = r->nrows;
    }
    size_t dirlen = (size_t)r->ncols * DIRENT_SIZE;
    if (src_read(src, HEADER_SIZE, r->dir, dirlen) != 0)
        return fail(err, errlen, FS_ERR_TRUNC, "'%s': column directory cut short", name);
    r->bytes_read += HEADER_SIZE + dirlen;
    if (get_u32(h + 56) != fs_crc32c(0, r->dir, dirlen))
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': column directory checksum mismatch", name);
    for (size_t k = 0; k < r->sc->ncols; k++) {
        r->dirpos[k] = -1;
        r->decoded[k] = 0;
    }
    for (uint32_t c = 0; c < r->ncols; c++) {
        char cname[NAME_SIZE + 1];
        memcpy(cname, r->dir + (size_t)c * DIRENT_SIZE, NAME_SIZE);
        cname[NAME_SIZE] = 0;
        int k = col_index(r->sc, cname);
        if (k >= 0) r->dirpos[k] = (int)c; /* columns unknown to this version are ignored */
    }
    return FS_OK;
}

/* Range of column k's values in the segment (a column the segment lacks reads as zeros). */
static void seg_range(const struct seg_reader *r, int k, uint64_t *lo, uint64_t *hi)
{
    *lo = *hi = 0;
    if (k < 0 || r->dirpos[k] < 0 || r->sc->cols[k].width > 8) {
        if (k < 0 || r->sc->cols[k].width > 8) *hi = UINT64_MAX;
        return;
    }
    const uint8_t *e = r->dir + (size_t)r->dirpos[k] * DIRENT_SIZE;
    *lo = get_u64(e + 64);
    *hi = get_u64(e + 72);
}

/* tmp[0..n) = base + (the values of the sw byte planes after src's u64 divisor) * that divisor. */
static void unplane(const uint8_t *src, uint32_t sw, uint64_t base, size_t n, uint64_t *tmp)
{
    uint64_t g = get_u64(src);
    src += 8;
    if (!sw) {
        for (size_t i = 0; i < n; i++) tmp[i] = base;
        return;
    }
    for (size_t i = 0; i < n; i++) tmp[i] = src[i];
    /* a loop per plane, its shift a constant: the compiler vectorizes each */
#define PLANE(B) \
    if (sw > (B)) for (size_t i = 0; i < n; i++) tmp[i] |= (uint64_t)src[(size_t)(B) * n + i] << (8 * (B));
    PLANE(1) PLANE(2) PLANE(3) PLANE(4) PLANE(5) PLANE(6) PLANE(7)
#undef PLANE
    if (g == 1)
        for (size_t i = 0; i < n; i++) tmp[i] += base;
    else
        for (size_t i = 0; i < n; i++) tmp[i] = base + tmp[i] * g;
}

/* Decodes the len bytes of a CODEC_ZSTD_LANES column of n values of `width` bytes into dst; -1 if malformed.
 * src has 8 readable bytes past its len. */
static int unlane(const uint8_t *src, size_t len, uint8_t *dst, uint32_t width, uint32_t want_lw, size_t n,
                  uint64_t *tmp)
{
    const uint8_t *end = src + len;
    if (len < 8) return -1;
    uint32_t nl = get_u32(src), lw = get_u32(src + 4);
    if (lw != want_lw || (uint64_t)nl * lw != width) return -1;
    src += 8;
    for (uint32_t l = 0; l < nl; l++) {
        if ((size_t)(end - src) < LANE_HEAD) return -1;
        uint64_t base = get_u64(src);
        uint32_t sw = get_u32(src + 8);
        if (sw > lw || get_u32(src + 12) != 0 || (size_t)(end - src - LANE_HEAD) < (size_t)n * sw) return -1;
        uint64_t g = get_u64(src + 16);
        const uint8_t *v = src + LANE_HEAD;
        uint64_t mask = sw == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * sw)) - 1;
        for (size_t i = 0; i < n; i++, v += sw) { /* 8 bytes loaded, sw kept: the buffer has NARROW_BYTES */
            uint64_t q;
            memcpy(&q, v, 8);
            tmp[i] = base + (q & mask) * g;
        }
        uint8_t *lane = dst + (size_t)l * lw;
        if (lw == 4)
            for (size_t i = 0; i < n; i++) { uint32_t x = (uint32_t)tmp[i]; memcpy(lane + (size_t)width * i, &x, 4); }
        else
            for (size_t i = 0; i < n; i++) memcpy(lane + (size_t)width * i, &tmp[i], 8);
        src += LANE_HEAD + (size_t)n * sw;
    }
    return src == end ? 0 : -1;
}

/* Decodes n values stored with `codec` (CODEC_ZSTD_FOR, _DELTA, _REL) as sw byte planes of offsets from base
 * (sw 0..8), after their divisor g, into values of `width` bytes (1, 2, 4, 8) at dst. tmp has room for n 64-bit values; colmin is the
 * column's minimum (the first value of CODEC_ZSTD_DELTA); first is the segment's first_ns column (for
 * CODEC_ZSTD_REL). */
static void widen(const uint8_t *src, uint32_t sw, uint64_t base, uint64_t colmin, uint32_t codec, const uint64_t *first,
                  uint8_t *dst, uint32_t width, size_t n, uint64_t *tmp)
{
    unplane(src, sw, base, n, tmp);
    if (codec == CODEC_ZSTD_DELTA)
        for (size_t i = 0; i < n; i++) tmp[i] += i ? tmp[i - 1] : colmin - tmp[0];
    else if (codec == CODEC_ZSTD_REL)
        for (size_t i = 0; i < n; i++) tmp[i] = tmp[i] ? tmp[i] - 1 + first[i] : 0;
#define WIDEN_LOOP(T)                                                                                        \
    for (size_t i = 0; i < n; i++) {                                                                         \
        T t = (T)tmp[i];                                                                                     \
        memcpy(dst + i * sizeof(T), &t, sizeof(T));                                                          \
    }
    switch (width) {
    case 1: WIDEN_LOOP(uint8_t) break;
    case 2: WIDEN_LOOP(uint16_t) break;
    case 4: WIDEN_LOOP(uint32_t) break;
    default: memcpy(dst, tmp, n * 8); break;
    }
#undef WIDEN_LOOP
}

static fs_result seg_column_diff(struct seg_reader *r, const struct seg_src *src, int k, uint32_t width, uint32_t sw,
                                 uint64_t base, size_t len, const char *name, char *err, size_t errlen);

/* Decodes column k of the current segment into data[k], checking its checksum and size. */
static fs_result seg_column(struct seg_reader *r, const struct seg_src *src, int k, const char *name, char *err,
                            size_t errlen)
{
    if (r->decoded[k]) return FS_OK;
    const struct fs_flow_member *col = &r->sc->cols[k];
    size_t rawlen = (size_t)r->nrows * col->width;
    if (r->nrows > r->rows[k] || !r->data[k]) {
        uint8_t *nd = realloc(r->data[k], rawlen ? rawlen : 1);
        if (!nd) return FS_ERR_NOMEM;
        r->data[k] = nd;
        r->rows[k] = r->nrows;
    }
    if (r->dirpos[k] < 0) { /* written by a version without it */
        memset(r->data[k], 0, rawlen);
        r->decoded[k] = 1;
        return FS_OK;
    }
    const uint8_t *e = r->dir + (size_t)r->dirpos[k] * DIRENT_SIZE;
    uint32_t width = get_u32(e + 32), codec = get_u32(e + 36), sw = get_u32(e + 84);
    uint64_t off = get_u64(e + 40), clen = get_u64(e + 48), raw = get_u64(e + 56), base = get_u64(e + 88);
    if (off > r->gsize || clen > r->gsize - off)
        return fail(err, errlen, FS_ERR_TRUNC, "'%s': column '%s' runs past the end of its row group", name, col->name);
    int diff = codec == CODEC_ZSTD_DIFF;
    int narrowed = codec == CODEC_ZSTD_FOR || codec == CODEC_ZSTD_DELTA || codec == CODEC_ZSTD_REL || diff;
    int laned = codec == CODEC_ZSTD_LANES;
    if (!narrowed) sw = width;
    if ((codec != CODEC_ZSTD && !narrowed && !laned) || width != col->width || (narrowed && (width > 8 || sw > 8)) ||
        (laned ? width <= 8 || raw > NARROW_MAX(r->nrows)
               : raw != (uint64_t)r->nrows * sw + (narrowed ? 8 : 0) + (diff ? 8 : 0)))
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': column '%s' has codec %u, width %u/%u and %llu bytes for %llu rows",
                    name, col->name, codec, width, sw, (unsigned long long)raw, (unsigned long long)r->nrows);
    const int kf = COL_FIRST_NS;
    if (codec == CODEC_ZSTD_REL) { /* first the column it is relative to (the buffers are shared) */
        if (k == kf) return fail(err, errlen, FS_ERR_FORMAT, "'%s': column '%s' relative to itself", name, col->name);
        fs_result rc = seg_column(r, src, kf, name, err, errlen);
        if (rc) return rc;
    }
    if (clen > r->ccap) {
        uint8_t *nb = realloc(r->cbuf, (size_t)clen);
        if (!nb) return FS_ERR_NOMEM;
        r->cbuf = nb;
        r->ccap = (size_t)clen;
    }
    if (src_read(src, off, r->cbuf, (size_t)clen) != 0)
        return fail(err, errlen, FS_ERR_IO, "'%s': cannot read column '%s'", name, col->name);
    r->bytes_read += clen;
    if (get_u32(e + 80) != fs_crc32c(0, r->cbuf, (size_t)clen))
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': column '%s' checksum mismatch", name, col->name);
    uint8_t *dst = narrowed || laned ? r->narrow : r->data[k];
    size_t cap = narrowed || laned ? NARROW_MAX(r->nrows) : rawlen;
    size_t got = ZSTD_decompressDCtx(r->dctx, dst, cap, r->cbuf, (size_t)clen);
    if (ZSTD_isError(got) || got != raw || (laned && unlane(r->narrow, got, r->data[k], width, r->sc->lane_width(width), (size_t)r->nrows, r->wide)))
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': column '%s' does not decompress", name, col->name);
    if (diff) /* the excess over another column: that one first, this one's bytes kept meanwhile */
        return seg_column_diff(r, src, k, width, sw, base, (size_t)got, name, err, errlen);
    if (narrowed)
        widen(r->narrow, sw, base, get_u64(e + 64), codec, (const uint64_t *)r->data[kf], r->data[k], width,
              (size_t)r->nrows, r->wide);
    r->decoded[k] = 1;
    return FS_OK;
}

/* Codec 6: column k's excess over its reference column, decompressed into r->narrow (len bytes). */
static fs_result seg_column_diff(struct seg_reader *r, const struct seg_src *src, int k, uint32_t width, uint32_t sw,
                                 uint64_t base, size_t len, const char *name, char *err, size_t errlen)
{
    const struct fs_flow_member *col = &r->sc->cols[k];
    uint32_t refpos = get_u32(r->narrow);
    int kr = -1;
    for (size_t j = 0; j < r->sc->ncols; j++)
        if (r->dirpos[j] >= 0 && (uint32_t)r->dirpos[j] == refpos) kr = (int)j;
    if (kr < 0 || kr == k || r->sc->cols[kr].width > 8 ||
        get_u32(r->dir + (size_t)refpos * DIRENT_SIZE + 36) == CODEC_ZSTD_DIFF)
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': column '%s' is relative to no usable column", name, col->name);
    if (r->nrows > r->held_cap) {
        uint8_t *nh = realloc(r->held, NARROW_BYTES(r->nrows));
        if (!nh) return FS_ERR_NOMEM;
        r->held = nh;
        r->held_cap = r->nrows;
    }
    memcpy(r->held, r->narrow, len);
    fs_result rc = seg_column(r, src, kr, name, err, errlen); /* may use r->narrow and r->wide */
    if (rc) return rc;
    size_t n = (size_t)r->nrows;
    widen(r->held + 8, sw, base, 0, CODEC_ZSTD_FOR, NULL, r->data[k], width, n, r->wide);
    const uint8_t *rv = r->data[kr];
    unsigned rw = r->sc->cols[kr].width;
    for (size_t i = 0; i < n; i++) { /* value = excess + reference, at the column's width */
        uint64_t x = 0, v = 0;
        memcpy(&x, rv + (size_t)rw * i, rw);
        memcpy(&v, r->data[k] + (size_t)width * i, width);
        v += x;
        memcpy(r->data[k] + (size_t)width * i, &v, width);
    }
    r->decoded[k] = 1;
    return FS_OK;
}

/* Is column `name` among the space-separated `columns` (NULL: all)? */
static int wanted(const char *list, const char *name)
{
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

/* Copies row i's decoded columns cols[0..n) into f. */
static inline void fill_row(const struct seg_reader *r, const int *cols, size_t n, size_t i, void *rec)
{
    for (size_t j = 0; j < n; j++) {
        const struct fs_flow_member *col = &r->sc->cols[cols[j]];
        memcpy((uint8_t *)rec + col->off, r->data[cols[j]] + i * col->width, col->width);
    }
}

fs_result fs_store_read_table_segment(const char *table, const uint8_t *buf, size_t len, const char *name,
                                      const char *want, void **out, size_t *nout, char *err, size_t errlen)
{
    const struct fs_store_schema *sc = fs_store_schema_find(table);
    if (!sc) return fail(err, errlen, FS_ERR_ARG, "a store has no table '%s'", table);
    struct seg_reader *r = reader_new(sc);
    if (!r) return FS_ERR_NOMEM;
    struct seg_src src = { buf, -1, len, 0 };
    fs_result rc = FS_OK;
    uint8_t *rows = NULL;
    size_t n = 0;
    do { /* every row group, every column checked, wanted or not */
        rc = seg_open(r, &src, name, err, errlen);
        int cols[NCOLS_MAX];
        size_t ncols = 0;
        for (size_t k = 0; k < sc->ncols && rc == FS_OK; k++)
            if ((rc = seg_column(r, &src, (int)k, name, err, errlen)) == FS_OK && wanted(want, sc->cols[k].name))
                cols[ncols++] = (int)k;
        if (rc == FS_OK && n + r->nrows > (size_t)FS_STORE_SEGMENT_ROWS)
            rc = fail(err, errlen, FS_ERR_FORMAT, "'%s': more than %d records", name, FS_STORE_SEGMENT_ROWS);
        uint8_t *nv = rc ? NULL : realloc(rows, (n + r->nrows + 1) * sc->size);
        if (!rc && !nv) rc = FS_ERR_NOMEM;
        if (!rc) {
            rows = nv;
            memset(rows + n * sc->size, 0, r->nrows * sc->size);
            for (size_t i = 0; i < r->nrows; i++) fill_row(r, cols, ncols, i, rows + (n + i) * sc->size);
            n += r->nrows;
            src.base += r->gsize;
        }
    } while (rc == FS_OK && src.base < len);
    if (rc) {
        free(rows);
    } else {
        *out = rows ? rows : calloc(1, sc->size);
        *nout = n;
        if (!*out) rc = FS_ERR_NOMEM;
    }
    reader_free(r);
    return rc;
}

fs_result fs_store_read_segment(const uint8_t *buf, size_t len, const char *name, const char *want,
                                struct fs_flow **out, size_t *nout, char *err, size_t errlen)
{
    void *rows = NULL;
    fs_result rc = fs_store_read_table_segment("flows", buf, len, name, want, &rows, nout, err, errlen);
    *out = rows;
    return rc;
}

/* Keeps in sel[0..n) the rows whose value of column k, of the given width, passes `op c`. */
static size_t select_col(const uint8_t *data, unsigned width, enum fs_colpred_op op, uint64_t c, uint32_t *sel,
                         size_t n)
{
    size_t m = 0;
#define SELECT_LOOP(T)                                                                                        \
    for (size_t j = 0; j < n; j++) {                                                                         \
        T v;                                                                                                 \
        memcpy(&v, data + (size_t)sel[j] * sizeof(T), sizeof(T));                                            \
        sel[m] = sel[j];                                                                                     \
        m += (size_t)fs_colpred_cmp(op, v, c);                                                               \
    }
    switch (width) {
    case 1: SELECT_LOOP(uint8_t) break;
    case 2: SELECT_LOOP(uint16_t) break;
    case 4: SELECT_LOOP(uint32_t) break;
    case 8: SELECT_LOOP(uint64_t) break;
    default: return n;
    }
#undef SELECT_LOOP
    return m;
}

/* Keeps in sel[0..n) the rows that pass p, whose columns are k0 and k1. */
static size_t select_pred(const struct seg_reader *r, const struct fs_colpred *p, int k0, int k1, uint32_t *sel,
                          size_t n)
{
    if (p->mode == FS_COLPRED_ONE) return select_col(r->data[k0], r->sc->cols[k0].width, p->op, p->value, sel, n);
    unsigned w0 = r->sc->cols[k0].width, w1 = r->sc->cols[k1].width;
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        uint64_t a = fs_column_load(r->data[k0], w0, sel[j]), b = fs_column_load(r->data[k1], w1, sel[j]);
        int pass = p->mode == FS_COLPRED_SUM ? fs_colpred_cmp(p->op, a + b, p->value)
                                             : fs_colpred_cmp(p->op, a, p->value) || fs_colpred_cmp(p->op, b, p->value);
        sel[m] = sel[j];
        m += (size_t)pass;
    }
    return m;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir that satisfy keep(); caller frees each and the array. */
static char **list_dir(const char *dir, int want_dirs, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        size_t len = strlen(de->d_name);
        int is_seg = len > 4 && strcmp(de->d_name + len - 4, ".fss") == 0;
        if (want_dirs == is_seg) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[(*n)++] = strdup(de->d_name);
    }
    closedir(d);
    if (*n) qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Partition name YYYYMMDDTHH -> first ns of the hour, or UINT64_MAX if not a partition. */
static uint64_t partition_start(const char *name)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strlen(name) != 11 || name[8] != 'T' ||
        sscanf(name, "%4d%2d%2dT%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour) != 4)
        return UINT64_MAX;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? UINT64_MAX : (uint64_t)t * 1000000000ull;
}

const uint8_t *fs_store_batch_column(const struct fs_store_batch *b, const char *name, unsigned *width)
{
    const struct seg_reader *r = b->impl;
    int k = col_index(r->sc, name);
    if (k < 0 || !r->decoded[k]) return NULL;
    *width = r->sc->cols[k].width;
    return r->data[k];
}

/* The list of segment names a compacted segment replaces ('\n'-terminated names), malloc'ed; NULL if it has
 * none or it cannot be read (then the segment is reported damaged when it is read). */
static char *seg_replaces(struct seg_reader *r, const struct seg_src *src)
{
    for (uint32_t c = 0; c < r->ncols; c++) {
        const uint8_t *e = r->dir + (size_t)c * DIRENT_SIZE;
        if (strncmp((const char *)e, REPLACES_ENTRY, NAME_SIZE) != 0 || get_u32(e + 36) != CODEC_NAMES) continue;
        uint64_t off = get_u64(e + 40), len = get_u64(e + 48);
        if (len > (1u << 20)) return NULL;
        char *names = malloc((size_t)len + 1);
        if (!names || src_read(src, off, names, (size_t)len) != 0 || get_u32(e + 80) != fs_crc32c(0, names, (size_t)len)) {
            free(names);
            return NULL;
        }
        names[len] = 0;
        return names;
    }
    return NULL;
}

/* Whether `name` is a line of the '\n'-separated list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return 1;
        p = eol ? eol + 1 : p + len;
    }
    return 0;
}

/* The list of names the compacted segment `name` of partition pdir replaces (seg_replaces), or NULL; *vanished
 * is set if the file is gone. */
static char *file_replaces(struct seg_reader *r, const char *pdir, const char *name, int *vanished)
{
    char path[4400], msg[64];
    snprintf(path, sizeof path, "%s/%s", pdir, name);
    struct seg_src src;
    if (src_open(&src, path, -1) != 0) {
        if (errno == ENOENT) *vanished = 1;
        return NULL;
    }
    char *names = seg_open(r, &src, path, msg, sizeof msg) == FS_OK ? seg_replaces(r, &src) : NULL;
    close(src.fd);
    return names;
}

/* A segment of a partition to read, opened before any is read. */
struct segfile {
    char *name;
    int fd;          /* -1: open when it comes (out of descriptors) */
};

static void close_partition(struct segfile *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].fd >= 0) close(v[i].fd);
        free(v[i].name);
    }
    free(v);
}

/* The segments of partition pdir a reader must read: all of them but those a compacted segment (cseg-)
 * replaces. All are opened first, so a compaction that publishes its segment and removes the ones it replaced
 * meanwhile cannot make the reader miss or repeat records: an open file stays readable, and a listed file that
 * has vanished makes it list the partition again. */
static struct segfile *open_partition(struct seg_reader *r, const char *pdir, size_t *nout)
{
    for (int attempt = 0;; attempt++) {
        size_t ns;
        char **segs = list_dir(pdir, 0, &ns);
        char *ignore = NULL;
        size_t ilen = 0;
        int vanished = 0;
        for (size_t s = 0; s < ns && !vanished; s++) { /* what the compacted segments replace */
            if (strncmp(segs[s], "cseg-", 5) != 0) continue;
            char *names = file_replaces(r, pdir, segs[s], &vanished);
            size_t len = names ? strlen(names) : 0;
            char *ni = len ? realloc(ignore, ilen + len + 1) : NULL;
            if (ni) {
                ignore = ni;
                memcpy(ignore + ilen, names, len + 1);
                ilen += len;
            }
            free(names);
        }
        struct segfile *v = calloc(ns ? ns : 1, sizeof *v);
        size_t n = 0;
        for (size_t s = 0; v && s < ns && !vanished; s++) {
            if (listed(ignore, segs[s])) continue;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", pdir, segs[s]);
            v[n].fd = open(path, O_RDONLY | O_CLOEXEC);
            if (v[n].fd < 0 && errno == ENOENT) vanished = 1;
            v[n++].name = strdup(segs[s]);
        }
        free(ignore);
        free_list(segs, ns);
        if (!vanished || attempt == 20 || !v) {
            *nout = n;
            return v;
        }
        close_partition(v, n);
    }
}

fs_result fs_store_scan(const char *dir, const char *table, const struct fs_store_query *qy, fs_store_row_fn fn,
                        fs_store_damage_fn damage, void *arg, struct fs_store_scan_stats *stats, char *err,
                        size_t errlen)
{
    struct fs_store_scan_stats st = { 0 };
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/%s", dir, table);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return fail(err, errlen, FS_ERR_IO, "cannot open store '%s': %s", dir, stat(dir, &sb) ? strerror(errno) : "not a directory");
    uint64_t since_ns = qy ? qy->since_ns : 0, until_ns = qy && qy->until_ns ? qy->until_ns : UINT64_MAX;
    /* the columns to decode: those asked for, then those of the conditions */
    const struct fs_store_schema *sc = fs_store_schema_find(table);
    if (!sc) return fail(err, errlen, FS_ERR_ARG, "a store has no table '%s'", table);
    int cols[NCOLS_MAX], pk[FS_COLPRED_MAX][2];
    size_t ncols = 0, npreds = qy ? qy->npreds : 0;
    if (npreds > FS_COLPRED_MAX) npreds = FS_COLPRED_MAX;
    for (size_t k = 0; k < sc->ncols; k++)
        if (wanted(qy ? qy->columns : NULL, sc->cols[k].name)) cols[ncols++] = (int)k;
    for (size_t i = 0; i < npreds; i++) {
        const struct fs_colpred *p = &qy->preds[i];
        pk[i][0] = col_index(sc, p->col[0]);
        pk[i][1] = p->mode == FS_COLPRED_ONE ? pk[i][0] : col_index(sc, p->col[1]);
        if (pk[i][0] < 0 || pk[i][1] < 0 || sc->cols[pk[i][0]].width > 8 || sc->cols[pk[i][1]].width > 8)
            return fail(err, errlen, FS_ERR_ARG, "no integer column '%s' to test", p->col[pk[i][0] < 0 ? 0 : 1]);
    }
    const int kfirst = COL_FIRST_NS;
    struct seg_reader *r = reader_new(sc);
    uint32_t *sel = malloc(FS_STORE_SEGMENT_ROWS * sizeof *sel);
    uint8_t *row = calloc(1, sc->size); /* members not decoded stay zero */
    if (!r || !sel || !row) {
        if (r) reader_free(r);
        free(sel);
        free(row);
        return FS_ERR_NOMEM;
    }
    size_t np;
    char **parts = list_dir(tdir, 1, &np);
    int stop = 0;
    for (size_t p = 0; p < np && !stop; p++) {
        uint64_t start = partition_start(parts[p]);
        if (start == UINT64_MAX) continue;
        if (start >= until_ns || start + 3600000000000ull <= since_ns) continue; /* records' first times lie in the hour */
        st.partitions++;
        char pdir[4200];
        snprintf(pdir, sizeof pdir, "%s/%s", tdir, parts[p]);
        size_t ns;
        struct segfile *segs = open_partition(r, pdir, &ns);
        for (size_t s = 0; s < ns && !stop; s++) {
            char path[4400], msg[1024];
            snprintf(path, sizeof path, "%s/%s", pdir, segs[s].name);
            struct seg_src src;
            int opened = src_open(&src, path, segs[s].fd);
            segs[s].fd = -1; /* src has it, closed below */
            if (opened != 0) {
                snprintf(msg, sizeof msg, "cannot read '%.600s': %s", path, strerror(errno));
                st.segments_damaged++;
                if (damage) damage(arg, msg);
                continue;
            }
            st.segments++;
            fs_result rc = FS_OK;
            for (src.base = 0; src.base < src.size && rc == FS_OK && !stop; src.base += r->gsize) { /* row groups */
                rc = seg_open(r, &src, path, msg, sizeof msg);
                if (rc != FS_OK) break;
                st.groups++;
                int skip = r->t_min >= until_ns || r->first_max < since_ns, pruned = 0;
                for (size_t i = 0; i < npreds && !skip; i++) { /* what the columns' minima and maxima rule out */
                    uint64_t lo0, hi0, lo1, hi1;
                    seg_range(r, pk[i][0], &lo0, &hi0);
                    seg_range(r, pk[i][1], &lo1, &hi1);
                    skip = pruned = !fs_colpred_may(&qy->preds[i], lo0, hi0, lo1, hi1);
                }
                if (skip) {
                    st.groups_skipped++;
                    st.groups_pruned += (uint64_t)pruned;
                    continue;
                }
                /* the rows in the time range that pass the conditions, then the columns they need */
                size_t n = 0;
                if (r->t_min >= since_ns && r->first_max < until_ns) { /* all in the range: no need to look */
                    for (; n < r->nrows; n++) sel[n] = (uint32_t)n;
                } else {
                    rc = seg_column(r, &src, kfirst, path, msg, sizeof msg);
                    const uint8_t *first = r->data[kfirst];
                    for (size_t i = 0; i < r->nrows && rc == FS_OK; i++) {
                        uint64_t t;
                        memcpy(&t, first + 8 * i, 8);
                        sel[n] = (uint32_t)i;
                        n += t >= since_ns && t < until_ns;
                    }
                }
                for (size_t i = 0; i < npreds && rc == FS_OK && n; i++) {
                    rc = seg_column(r, &src, pk[i][0], path, msg, sizeof msg);
                    if (rc == FS_OK) rc = seg_column(r, &src, pk[i][1], path, msg, sizeof msg);
                    if (rc == FS_OK) n = select_pred(r, &qy->preds[i], pk[i][0], pk[i][1], sel, n);
                }
                for (size_t j = 0; j < ncols && rc == FS_OK && n; j++) rc = seg_column(r, &src, cols[j], path, msg, sizeof msg);
                if (rc != FS_OK) break;
                st.rows_read += r->nrows;
                if (qy && qy->batch) { /* the caller works on the columns */
                    struct fs_store_batch b = { sel, n, r };
                    st.rows += n;
                    stop = n ? qy->batch(arg, &b) : 0;
                    continue;
                }
                for (size_t j = 0; j < n && !stop; j++) {
                    fill_row(r, cols, ncols, sel[j], row);
                    st.rows++;
                    stop = fn(arg, row);
                }
            }
            close(src.fd);
            if (rc != FS_OK) { /* the groups before the damage were read; the rest of the file is not */
                st.segments_damaged++;
                if (damage) damage(arg, msg);
            }
        }
        close_partition(segs, ns);
    }
    free_list(parts, np);
    st.bytes = r->bytes_read;
    reader_free(r);
    free(sel);
    free(row);
    if (stats) *stats = st;
    return FS_OK;
}

/* ---- compaction ---- */

/* A whole file, malloc'ed; NULL with errno on failure. */
static uint8_t *read_file(const char *path, size_t *len)
{
    struct seg_src src;
    if (src_open(&src, path, -1) != 0) return NULL;
    uint8_t *buf = malloc(src.size ? (size_t)src.size : 1);
    if (buf && src_read(&src, 0, buf, (size_t)src.size) != 0) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    *len = (size_t)src.size;
    int saved = errno;
    close(src.fd);
    errno = saved;
    return buf;
}

/* Reads a whole segment file into rows (appended to *rows, *n of *cap); returns FS_OK or the damage. */
static fs_result read_rows(const struct fs_store_schema *sc, const char *path, uint8_t **rows, size_t *n, size_t *cap,
                           char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *buf = read_file(path, &len);
    if (!buf) return fail(err, errlen, FS_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    void *got;
    size_t k;
    fs_result rc = fs_store_read_table_segment(sc->table, buf, len, path, NULL, &got, &k, err, errlen);
    free(buf);
    if (rc) return rc;
    if (*n + k > *cap) {
        size_t nc = *n + k;
        uint8_t *nv = realloc(*rows, nc * sc->size);
        if (!nv) {
            free(got);
            return FS_ERR_NOMEM;
        }
        *rows = nv;
        *cap = nc;
    }
    memcpy(*rows + *n * sc->size, got, k * sc->size);
    *n += k;
    free(got);
    return FS_OK;
}

/* Merges the segments names[0..n) of partition pdir into one compacted segment, its rows in time order, then
 * removes them. */
/* A record's place in (first, last) time order, for compaction. */
struct timekey {
    uint64_t first, last;
    size_t row;
};

static int timekey_cmp(const void *a, const void *b)
{
    const struct timekey *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->last != y->last) return x->last < y->last ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Sorts n records of schema sc by their first, then last time; returns the sorted copy (malloc'ed) or NULL. */
static uint8_t *sort_rows(const struct fs_store_schema *sc, const uint8_t *rows, size_t n)
{
    struct timekey *k = malloc((n ? n : 1) * sizeof *k);
    uint8_t *out = malloc((n ? n : 1) * sc->size);
    if (!k || !out) {
        free(k);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (struct timekey){ fs_store_u64(sc, rows + i * sc->size, 0), fs_store_u64(sc, rows + i * sc->size, 1), i };
    qsort(k, n, sizeof *k, timekey_cmp);
    for (size_t i = 0; i < n; i++) memcpy(out + i * sc->size, rows + k[i].row * sc->size, sc->size);
    free(k);
    return out;
}

static fs_result compact_group(const char *dir, const char *table, const char *pdir, char **names, size_t n,
                               struct fs_store_compact_stats *st, char *err, size_t errlen)
{
    const struct fs_store_schema *sc = fs_store_schema_find(table);
    if (!sc) return fail(err, errlen, FS_ERR_ARG, "a store has no table '%s'", table);
    uint8_t *rows = NULL;
    size_t nrows = 0, cap = 0, listlen = 0;
    fs_result rc = FS_OK;
    for (size_t i = 0; i < n && rc == FS_OK; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", pdir, names[i]);
        rc = read_rows(sc, path, &rows, &nrows, &cap, err, errlen);
        listlen += strlen(names[i]) + 1;
    }
    char *list = rc ? NULL : malloc(listlen + 1);
    if (!rc && !list) rc = FS_ERR_NOMEM;
    struct fs_store_writer *w = NULL;
    if (!rc) {
        list[0] = 0;
        for (size_t i = 0; i < n; i++) strcat(strcat(list, names[i]), "\n");
        rc = fs_store_writer_new(&w, dir, table, FS_STORE_SEGMENT_ROWS, err, errlen);
    }
    if (!rc) { /* in time order: the row groups of the merged segment cover consecutive times */
        uint8_t *sorted = sort_rows(sc, rows, nrows);
        w->replaces = list;
        rc = sorted ? fs_store_writer_add_many(w, sorted, nrows) : FS_ERR_NOMEM;
        free(sorted);
        fs_result crc = fs_store_writer_close(w, err, errlen); /* publishes the compacted segment */
        if (!rc) rc = crc;
    }
    if (!rc) { /* its replacement is published: the parts may go (readers ignore them until then) */
        for (size_t i = 0; i < n; i++) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", pdir, names[i]);
            unlink(path);
        }
        fsync_dir(pdir);
        st->segments_merged += n;
        st->segments_written++;
        st->rows += nrows;
    }
    free(list);
    free(rows);
    return rc;
}

fs_result fs_store_compact(const char *dir, const char *table, struct fs_store_compact_stats *stats, char *err,
                           size_t errlen)
{
    struct fs_store_compact_stats st = { 0 };
    char tdir[4096], lockpath[4096];
    snprintf(tdir, sizeof tdir, "%s/%s", dir, table);
    snprintf(lockpath, sizeof lockpath, "%s/.compact.lock", dir);
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0) return fail(err, errlen, FS_ERR_IO, "cannot open store '%s': %s", dir, strerror(errno));
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        close(lock);
        return fail(err, errlen, FS_ERR_IO, "another compaction of '%s' is running", dir);
    }
    uint64_t tmp_removed = 0; /* what killed writers and compactions left unpublished */
    fs_result rc = fs_store_prepare(dir, 1, &tmp_removed, err, errlen);
    st.tmp_removed = tmp_removed;
    const struct fs_store_schema *sc = fs_store_schema_find(table);
    if (!rc && !sc) rc = fail(err, errlen, FS_ERR_ARG, "a store has no table '%s'", table);
    struct seg_reader *r = rc ? NULL : reader_new(sc);
    if (!r) {
        close(lock);
        return rc ? rc : FS_ERR_NOMEM;
    }
    size_t np;
    char **parts = list_dir(tdir, 1, &np);
    for (size_t p = 0; p < np && rc == FS_OK; p++) {
        if (partition_start(parts[p]) == UINT64_MAX) continue;
        char pdir[4200];
        snprintf(pdir, sizeof pdir, "%s/%s", tdir, parts[p]);
        size_t ns;
        char **segs = list_dir(pdir, 0, &ns);
        /* finish what an interrupted compaction left: parts whose compacted segment is published */
        for (size_t s = 0; s < ns; s++) {
            if (strncmp(segs[s], "cseg-", 5) != 0) continue;
            char path[4400];
            int vanished = 0;
            char *names = file_replaces(r, pdir, segs[s], &vanished);
            for (size_t t = 0; names && t < ns; t++)
                if (t != s && listed(names, segs[t])) {
                    snprintf(path, sizeof path, "%s/%s", pdir, segs[t]);
                    if (unlink(path) == 0) st.leftovers_removed++;
                }
            free(names);
        }
        free_list(segs, ns);
        segs = list_dir(pdir, 0, &ns);
        st.segments_before += ns;
        /* small segments, in time order, merged in groups of at most FS_STORE_SEGMENT_ROWS records; a segment
         * whose row groups overlap in time (a writer sorts each group, not the segment) rewritten in order */
        char **group = malloc((ns ? ns : 1) * sizeof *group);
        size_t ng = 0;
        uint64_t grows = 0;
        int gsorted = 1;
        for (size_t s = 0; group && s <= ns && rc == FS_OK; s++) {
            uint64_t nrows = UINT64_MAX;
            int sorted = 1;
            if (s < ns) {
                char path[4400], msg[64];
                snprintf(path, sizeof path, "%s/%s", pdir, segs[s]);
                struct seg_src src;
                if (src_open(&src, path, -1) == 0) {
                    uint64_t prev_max = 0;
                    for (nrows = 0; src.base < src.size; src.base += r->gsize) { /* the file's row groups */
                        if (seg_open(r, &src, path, msg, sizeof msg) != FS_OK) {
                            nrows = UINT64_MAX;
                            st.damaged++;
                            break;
                        }
                        if (nrows && r->t_min < prev_max) sorted = 0; /* starts before the previous one ends */
                        prev_max = r->first_max;
                        nrows += r->nrows;
                    }
                    close(src.fd);
                }
                if (nrows == UINT64_MAX || (nrows >= FS_STORE_SEGMENT_ROWS / 2 && sorted))
                    continue; /* damaged, or large enough and in time order: left alone */
            }
            if (s == ns || grows + nrows > FS_STORE_SEGMENT_ROWS) {
                if (ng >= 2 || (ng == 1 && !gsorted)) rc = compact_group(dir, table, pdir, group, ng, &st, err, errlen);
                ng = 0;
                grows = 0;
                gsorted = 1;
            }
            if (s < ns) {
                group[ng++] = segs[s];
                grows += nrows;
                gsorted &= sorted;
            }
        }
        free(group);
        free_list(segs, ns);
        segs = list_dir(pdir, 0, &ns);
        st.segments_after += ns;
        st.partitions++;
        free_list(segs, ns);
    }
    free_list(parts, np);
    reader_free(r);
    close(lock);
    if (stats) *stats = st;
    return rc;
}

static uint64_t remove_partition(const char *pdir)
{
    size_t n;
    uint64_t bytes = 0;
    char **files = list_dir(pdir, 0, &n);
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", pdir, files[i]);
        struct stat st;
        if (stat(path, &st) == 0 && unlink(path) == 0) bytes += (uint64_t)st.st_size;
    }
    free_list(files, n);
    uint64_t rest = 0;
    walk(pdir, 0, remove_if_tmp, &rest); /* a writer's leftovers go too */
    rmdir(pdir);
    return bytes;
}

fs_result fs_store_retain(const char *dir, const char *table, uint64_t keep_ns, uint64_t max_bytes,
                          uint64_t *partitions, uint64_t *bytes, char *err, size_t errlen)
{
    uint64_t older_than_ns = 0;
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/%s", dir, table);
    *partitions = *bytes = 0;
    struct stat sb;
    if (stat(dir, &sb) != 0) return fail(err, errlen, FS_ERR_IO, "cannot open store '%s': %s", dir, strerror(errno));
    size_t np;
    char **parts = list_dir(tdir, 1, &np);
    uint64_t size = max_bytes ? fs_store_size(dir) : 0;
    for (size_t p = np; keep_ns && p-- > 0;) { /* the newest partition's end is "now" in data time */
        uint64_t start = partition_start(parts[p]);
        if (start == UINT64_MAX) continue;
        uint64_t end = start + 3600000000000ull;
        older_than_ns = end > keep_ns ? end - keep_ns : 0;
        break;
    }
    for (size_t p = 0; p < np; p++) { /* names sort oldest first */
        uint64_t start = partition_start(parts[p]);
        if (start == UINT64_MAX) continue;
        int too_old = older_than_ns && start + 3600000000000ull <= older_than_ns;
        int too_big = max_bytes && size > max_bytes && p + 1 < np;
        if (!too_old && !too_big) break;
        char pdir[4200];
        snprintf(pdir, sizeof pdir, "%s/%s", tdir, parts[p]);
        uint64_t b = remove_partition(pdir);
        size = size > b ? size - b : 0;
        *bytes += b;
        ++*partitions;
    }
    free_list(parts, np);
    if (*partitions) fsync_dir(tdir);
    return FS_OK;
}
