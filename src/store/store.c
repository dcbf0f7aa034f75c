/*
 * store.c - segment writing, reading and scanning; see store.h and docs/store-format.md.
 *
 * A segment's columns are the members of struct fs_flow (the mergeable
 * aggregates, not derived values), so a record reads back bit for bit and every
 * field of the field table can be computed from it. Column data are fixed-width
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
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "../util/crc32c.h"
#include "../util/rd.h"
#include "colpred.h"

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
#define MAX_COLS 256
#define ZSTD_LEVEL 3

/* The columns are the members of struct fs_flow, by name (fs_flow_members, flow.h). */
#define NCOLS ((size_t)FS_FLOW_NMEMBERS)
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

/* A temporary file is ".tmp-<pid>-<segment name>": it is a leftover once process <pid> is gone (a live
 * writer's file is never touched, whichever process looks). */
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

/* A buffered row's place in time order. */
struct sortkey {
    uint64_t first_ns;
    uint32_t row;
};

/* What one thread writing a full buffer out uses: the buffer and scratch space. */
struct flushctx {
    int busy;
    struct fs_flow *rows;         /* owned, FS_STORE_SEGMENT_ROWS: the full buffer while busy */
    uint8_t *gather, *packed;     /* owned scratch: one column, raw and compressed */
    uint64_t *tv, *tv2, *pfirst;  /* owned scratch: last_ns, a column's transformed values, first_ns (time order) */
    uint8_t *cols[NCOLS];         /* owned scratch: the buffered rows as columns, in arrival order */
    uint8_t *pcol;                /* owned scratch: one column in time order */
    struct sortkey *order;        /* owned scratch: the rows in time order */
    size_t packed_cap;
    ZSTD_CCtx *cctx;
    char err[512];
};

#define NFLUSH 2

struct fs_store_writer {
    char dir[2048];
    char table[64];
    uint64_t uid;                 /* random: segment names never collide between writers */
    uint64_t seq;                 /* atomic */
    /* Shared by threads: records go into `rows` under `lock`; the thread that fills it swaps it with an idle
     * flush context's buffer and writes the full one out with that context while the others go on adding;
     * up to NFLUSH threads write at once. */
    pthread_mutex_t lock;
    pthread_cond_t done;          /* a flush ended */
    struct fs_flow *rows;         /* owned, FS_STORE_SEGMENT_ROWS */
    size_t n, segment_rows;
    struct flushctx fc[NFLUSH];
    fs_result error;
    char err[512];
    const char *replaces;         /* borrowed, compaction only: names of the segments the next one replaces, each
                                     ending in '\n'; the segment is then named cseg-... */
};

fs_result fs_store_writer_new(struct fs_store_writer **out, const char *dir, const char *table, size_t segment_rows,
                              char *err, size_t errlen)
{
    struct fs_store_writer *w = calloc(1, sizeof *w);
    if (!w) return FS_ERR_NOMEM;
    w->segment_rows = segment_rows && segment_rows < FS_STORE_SEGMENT_ROWS ? segment_rows : FS_STORE_SEGMENT_ROWS;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    snprintf(w->table, sizeof w->table, "%s", table);
    if (getrandom(&w->uid, sizeof w->uid, 0) != (ssize_t)sizeof w->uid) w->uid = (uint64_t)getpid() << 20 ^ (uint64_t)time(NULL);
    w->rows = malloc(FS_STORE_SEGMENT_ROWS * sizeof *w->rows);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->done, NULL);
    int ok = w->rows != NULL;
    for (int f = 0; f < NFLUSH && ok; f++) {
        struct flushctx *c = &w->fc[f];
        c->rows = malloc(FS_STORE_SEGMENT_ROWS * sizeof *c->rows);
        c->gather = malloc((size_t)FS_STORE_SEGMENT_ROWS * 32);
        c->tv = malloc((size_t)FS_STORE_SEGMENT_ROWS * sizeof *c->tv);
        c->tv2 = malloc((size_t)FS_STORE_SEGMENT_ROWS * sizeof *c->tv2);
        c->pfirst = malloc((size_t)FS_STORE_SEGMENT_ROWS * sizeof *c->pfirst);
        c->pcol = malloc((size_t)FS_STORE_SEGMENT_ROWS * 32);
        c->order = malloc((size_t)FS_STORE_SEGMENT_ROWS * sizeof *c->order);
        c->packed_cap = ZSTD_compressBound((size_t)FS_STORE_SEGMENT_ROWS * 32);
        c->packed = malloc(c->packed_cap);
        c->cctx = ZSTD_createCCtx();
        ok = c->rows && c->gather && c->tv && c->tv2 && c->pfirst && c->pcol && c->order && c->packed && c->cctx;
        for (size_t k = 0; k < NCOLS && ok; k++) ok = (c->cols[k] = malloc((size_t)FS_STORE_SEGMENT_ROWS * fs_flow_members[k].width)) != NULL;
        if (ok) ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    }
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
    *out = w;
    return FS_OK;
}

static int cmp_first(const void *a, const void *b)
{
    const struct sortkey *x = a, *y = b;
    if (x->first_ns != y->first_ns) return x->first_ns < y->first_ns ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row; /* arrival order among equal times */
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

/* The largest of 10^9, 10^6, 10^3 that divides every tv[r] - tmin (times from microsecond and millisecond
 * captures), or 1. Constant divisors: the compiler multiplies instead of dividing. */
static uint64_t decimal_divisor(const uint64_t *tv, size_t n, uint64_t tmin)
{
    int k = 3;
    for (size_t r = 0; r < n && k; r++) {
        uint64_t x = tv[r] - tmin;
        while (k && x % (k == 3 ? 1000000000ull : k == 2 ? 1000000ull : 1000ull)) k--;
    }
    return k == 3 ? 1000000000ull : k == 2 ? 1000000ull : k == 1 ? 1000ull : 1;
}

#define PLANES_LOOP(D)                                                                                       \
    for (size_t r = 0; r < n; r++) {                                                                         \
        uint64_t q = (tv[r] - tmin) / (D);                                                                   \
        for (uint32_t b = 0; b < *sw; b++, q >>= 8) out[8 + b * n + r] = (uint8_t)q;                          \
    }

/* Writes tv[0..n) (between tmin and tmax) to out as their divisor and byte planes (CODEC_ZSTD_FOR and the
 * others); returns the base and sets *sw to the bytes a value takes. */
static uint64_t narrow_planes(uint8_t *out, const uint64_t *tv, size_t n, uint64_t tmin, uint64_t tmax, uint32_t *sw)
{
    uint64_t g = decimal_divisor(tv, n, tmin);
    *sw = 0;
    for (uint64_t range = (tmax - tmin) / g; range; range >>= 8) ++*sw;
    put_u64(out, g);
    switch (g) { /* plane b holds byte b of every offset: runs of zeros */
    case 1: PLANES_LOOP(1) break;
    case 1000: PLANES_LOOP(1000) break;
    case 1000000: PLANES_LOOP(1000000) break;
    default: PLANES_LOOP(1000000000) break;
    }
    return tmin;
}
#undef PLANES_LOOP

/* Writes rows[0..n) (all of one partition) as one segment. */
/* Writes rows perm[0..n) as one row group at offset base of fd; *size gets its bytes. Returns 0, -1 on an I/O
 * error (errno says which), -2 on another (w->err says which). */
static int write_group(struct fs_store_writer *w, struct flushctx *fc, int fd, uint64_t at, const struct sortkey *perm, size_t n,
                       int replaces, uint64_t *size)
{
    uint8_t header[HEADER_SIZE] = { 0 }, dir[(NCOLS + 1) * DIRENT_SIZE];
    size_t ndir = NCOLS + (replaces ? 1 : 0), dirlen = ndir * DIRENT_SIZE;
    memset(dir, 0, sizeof dir);
    uint64_t *firsts = fc->pfirst, *lasts = fc->tv; /* COL_FIRST_NS and COL_LAST_NS, in time order */
    for (size_t r = 0; r < n; r++) {
        firsts[r] = perm[r].first_ns;
        memcpy(&lasts[r], fc->cols[COL_LAST_NS] + 8 * (size_t)perm[r].row, 8);
    }
    uint64_t t_min = UINT64_MAX, t_max = 0, first_max = 0;
    for (size_t r = 0; r < n; r++) {
        if (firsts[r] < t_min) t_min = firsts[r];
        if (firsts[r] > first_max) first_max = firsts[r];
        if (lasts[r] > t_max) t_max = lasts[r];
    }
    uint64_t off = HEADER_SIZE + dirlen;
    int io = lseek(fd, (off_t)(at + off), SEEK_SET) < 0;
    for (size_t c = 0; c < NCOLS && !io; c++) {
        const struct fs_flow_member *col = &fs_flow_members[c];
        uint8_t *cv = fc->pcol; /* the column in time order (one column fits the cache: random reads are cheap) */
        const uint8_t *src = fc->cols[c];
        switch (col->width) {
        case 1: for (size_t r = 0; r < n; r++) cv[r] = src[perm[r].row]; break;
        case 2: for (size_t r = 0; r < n; r++) memcpy(cv + 2 * r, src + 2 * (size_t)perm[r].row, 2); break;
        case 4: for (size_t r = 0; r < n; r++) memcpy(cv + 4 * r, src + 4 * (size_t)perm[r].row, 4); break;
        case 8: for (size_t r = 0; r < n; r++) memcpy(cv + 8 * r, src + 8 * (size_t)perm[r].row, 8); break;
        case 16: for (size_t r = 0; r < n; r++) memcpy(cv + 16 * r, src + 16 * (size_t)perm[r].row, 16); break;
        default:
            for (size_t r = 0; r < n; r++) memcpy(cv + col->width * r, src + col->width * (size_t)perm[r].row, col->width);
        }
        uint64_t mn = UINT64_MAX, mx = 0;
        size_t raw;
        uint32_t codec = CODEC_ZSTD, sw = col->width;
        uint64_t base = 0;
        if (col->width <= 8) {
            uint64_t *tv = fc->tv2, tmin = UINT64_MAX, tmax = 0;
            switch (col->width) { /* the values, widened */
            case 1: for (size_t r = 0; r < n; r++) tv[r] = cv[r]; break;
            case 2: for (size_t r = 0; r < n; r++) { uint16_t x; memcpy(&x, cv + 2 * r, 2); tv[r] = x; } break;
            case 4: for (size_t r = 0; r < n; r++) { uint32_t x; memcpy(&x, cv + 4 * r, 4); tv[r] = x; } break;
            default: memcpy(tv, cv, n * 8); break;
            }
            int delta = c == COL_FIRST_NS, rel = !delta && strstr(col->name, "_ns") != NULL;
            for (size_t r = 0; r < n; r++) {
                if (tv[r] < mn) mn = tv[r];
                if (tv[r] > mx) mx = tv[r];
                delta &= r == 0 || tv[r] >= tv[r - 1];
                rel &= tv[r] == 0 || tv[r] >= firsts[r];
            }
            codec = delta ? CODEC_ZSTD_DELTA : rel ? CODEC_ZSTD_REL : CODEC_ZSTD_FOR;
            if (delta)
                for (size_t r = n; r-- > 0;) tv[r] = r ? tv[r] - tv[r - 1] : 0;
            else if (rel)
                for (size_t r = 0; r < n; r++) tv[r] = tv[r] ? tv[r] - firsts[r] + 1 : 0;
            for (size_t r = 0; r < n; r++) {
                if (tv[r] < tmin) tmin = tv[r];
                if (tv[r] > tmax) tmax = tv[r];
            }
            base = narrow_planes(fc->gather, tv, n, tmin, tmax, &sw);
        }
        raw = n * sw + (codec == CODEC_ZSTD ? 0 : 8);
        size_t clen = ZSTD_compress2(fc->cctx, fc->packed, fc->packed_cap, codec == CODEC_ZSTD ? cv : fc->gather, raw);
        if (ZSTD_isError(clen)) {
            fail(fc->err, sizeof fc->err, FS_ERR_NOMEM, "compression failed: %s", ZSTD_getErrorName(clen));
            return -2;
        }
        uint8_t *e = dir + c * DIRENT_SIZE;
        snprintf((char *)e, NAME_SIZE, "%s", col->name);
        put_u32(e + 32, col->width);
        put_u32(e + 36, codec);
        put_u64(e + 40, off);
        put_u64(e + 48, clen);
        put_u64(e + 56, raw);
        put_u64(e + 64, col->width <= 8 ? mn : 0);
        put_u64(e + 72, col->width <= 8 ? mx : 0);
        put_u32(e + 80, fs_crc32c(0, fc->packed, clen));
        put_u32(e + 84, sw);
        put_u64(e + 88, base);
        io = write_all(fd, fc->packed, clen) != 0;
        off += clen;
    }
    if (replaces && !io) { /* the names it replaces: an entry readers of other versions ignore */
        size_t len = strlen(w->replaces);
        uint8_t *e = dir + NCOLS * DIRENT_SIZE;
        snprintf((char *)e, NAME_SIZE, "%s", REPLACES_ENTRY);
        put_u32(e + 36, CODEC_NAMES);
        put_u64(e + 40, off);
        put_u64(e + 48, len);
        put_u64(e + 56, len);
        put_u32(e + 80, fs_crc32c(0, w->replaces, len));
        io = write_all(fd, w->replaces, len) != 0;
        off += len;
    }
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
    if (!io) io = lseek(fd, (off_t)at, SEEK_SET) < 0 || write_all(fd, header, sizeof header) != 0 ||
                  write_all(fd, dir, dirlen) != 0;
    *size = off;
    return io ? -1 : 0;
}

static fs_result write_segment(struct fs_store_writer *w, struct flushctx *fc, const struct sortkey *perm, size_t n)
{
    uint64_t hour = perm[0].first_ns / 3600000000000ull;
    time_t t = (time_t)(hour * 3600);
    struct tm tm;
    gmtime_r(&t, &tm);
    char part[4096], tmp[4400], final[4400];
    snprintf(part, sizeof part, "%s/%s/%04d%02d%02dT%02d", w->dir, w->table, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour);
    if (make_dir(part) != 0) return fail(fc->err, sizeof fc->err, FS_ERR_IO, "cannot create '%s': %s", part, strerror(errno));
    char name[128];
    snprintf(name, sizeof name, "%sseg-%020llu-%016llx-%06llu.fss", w->replaces ? "c" : "",
             (unsigned long long)perm[0].first_ns, (unsigned long long)w->uid,
             (unsigned long long)__atomic_fetch_add(&w->seq, 1, __ATOMIC_RELAXED));
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%s", part, (long)getpid(), name);
    snprintf(final, sizeof final, "%s/%s", part, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return fail(fc->err, sizeof fc->err, FS_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));

    /* row groups of FS_STORE_GROUP_ROWS: a query that needs a few rows decodes their group only */
    uint64_t base = 0;
    int io = 0;
    for (size_t g0 = 0; g0 < n && !io; g0 += FS_STORE_GROUP_ROWS) {
        size_t m = n - g0 < FS_STORE_GROUP_ROWS ? n - g0 : FS_STORE_GROUP_ROWS;
        uint64_t size = 0;
        io = write_group(w, fc, fd, base, perm + g0, m, g0 == 0 && w->replaces, &size);
        base += size;
    }
    if (io == -2) {
        close(fd);
        unlink(tmp);
        return FS_ERR_NOMEM;
    }
    if (!io) io = fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !io) {
        io = 1;
        saved = errno;
    }
    if (io || rename(tmp, final) != 0 || fsync_dir(part) != 0) {
        if (!io) saved = errno;
        unlink(tmp);
        return fail(fc->err, sizeof fc->err, FS_ERR_IO, "cannot write segment '%s': %s", final, strerror(saved));
    }
    return FS_OK;
}

/* Writes the buffered rows: one segment per partition (hour of the first packet). */
/* Writes rows[0..n) out, one segment per partition; the caller is the one flushing. */
static fs_result flush_rows(struct fs_store_writer *w, struct flushctx *fc, const struct fs_flow *rows, size_t n)
{
    if (!n) return FS_OK;
    /* rows to columns in buffer order, 64 rows at a time: the rows are read in memory order and stay in the
     * cache while every column takes its part */
    for (size_t r0 = 0; r0 < n; r0 += 64) {
        size_t r1 = r0 + 64 < n ? r0 + 64 : n;
        for (size_t c = 0; c < NCOLS; c++) {
            const struct fs_flow_member *col = &fs_flow_members[c];
            uint8_t *dst = fc->cols[c];
            const uint8_t *base = (const uint8_t *)rows + col->off;
            switch (col->width) {
            case 1: for (size_t r = r0; r < r1; r++) dst[r] = base[r * sizeof *rows]; break;
            case 2: for (size_t r = r0; r < r1; r++) memcpy(dst + 2 * r, base + r * sizeof *rows, 2); break;
            case 4: for (size_t r = r0; r < r1; r++) memcpy(dst + 4 * r, base + r * sizeof *rows, 4); break;
            case 8: for (size_t r = r0; r < r1; r++) memcpy(dst + 8 * r, base + r * sizeof *rows, 8); break;
            case 16: for (size_t r = r0; r < r1; r++) memcpy(dst + 16 * r, base + r * sizeof *rows, 16); break;
            default:
                for (size_t r = r0; r < r1; r++) memcpy(dst + col->width * r, base + r * sizeof *rows, col->width);
            }
        }
    }
    for (size_t r = 0; r < n; r++) fc->order[r] = (struct sortkey){ rows[r].first_ns, (uint32_t)r };
    qsort(fc->order, n, sizeof *fc->order, cmp_first);
    fs_result rc = FS_OK;
    for (size_t i = 0; i < n && rc == FS_OK;) { /* one segment per partition */
        uint64_t hour = fc->order[i].first_ns / 3600000000000ull;
        size_t j = i;
        while (j < n && fc->order[j].first_ns / 3600000000000ull == hour) j++;
        rc = write_segment(w, fc, fc->order + i, j - i);
        i = j;
    }
    return rc;
}

fs_result fs_store_writer_add_many(struct fs_store_writer *w, const struct fs_flow *f, size_t count)
{
    pthread_mutex_lock(&w->lock);
    fs_result rc = FS_OK;
    while (count && rc == FS_OK) {
        while (!w->error && w->n == w->segment_rows) pthread_cond_wait(&w->done, &w->lock); /* being swapped */
        if ((rc = w->error) != FS_OK) break;
        size_t k = w->segment_rows - w->n < count ? w->segment_rows - w->n : count;
        memcpy(w->rows + w->n, f, k * sizeof *f);
        w->n += k;
        f += k;
        count -= k;
        if (w->n == w->segment_rows) { /* full: this thread writes it out with an idle flush context */
            struct flushctx *c;
            while (!(c = !w->fc[0].busy ? &w->fc[0] : !w->fc[NFLUSH - 1].busy ? &w->fc[NFLUSH - 1] : NULL))
                pthread_cond_wait(&w->done, &w->lock);
            struct fs_flow *full = w->rows;
            size_t n = w->n;
            w->rows = c->rows;
            c->rows = full;
            w->n = 0;
            c->busy = 1;
            pthread_cond_broadcast(&w->done);
            pthread_mutex_unlock(&w->lock);
            rc = flush_rows(w, c, full, n);
            pthread_mutex_lock(&w->lock);
            c->busy = 0;
            if (rc && !w->error) {
                w->error = rc;
                snprintf(w->err, sizeof w->err, "%s", c->err);
            }
            pthread_cond_broadcast(&w->done);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

fs_result fs_store_writer_add(struct fs_store_writer *w, const struct fs_flow *f)
{
    return fs_store_writer_add_many(w, f, 1);
}

fs_result fs_store_writer_close(struct fs_store_writer *w, char *err, size_t errlen)
{
    if (!w) return FS_OK;
    fs_result rc = FS_OK;
    if (w->rows) { /* constructed: no thread adds any more, but some may still be flushing */
        pthread_mutex_lock(&w->lock);
        while (w->fc[0].busy || w->fc[NFLUSH - 1].busy) pthread_cond_wait(&w->done, &w->lock);
        pthread_mutex_unlock(&w->lock);
        rc = w->error;
        if (!rc && w->fc[0].cctx) {
            rc = flush_rows(w, &w->fc[0], w->rows, w->n);
            if (rc) snprintf(w->err, sizeof w->err, "%s", w->fc[0].err);
        }
        pthread_cond_destroy(&w->done);
        pthread_mutex_destroy(&w->lock);
    }
    if (rc && err) snprintf(err, errlen, "%s", w->err);
    free(w->rows);
    for (int f = 0; f < NFLUSH; f++) {
        struct flushctx *c = &w->fc[f];
        ZSTD_freeCCtx(c->cctx);
        free(c->rows);
        free(c->gather);
        free(c->tv);
        free(c->tv2);
        free(c->pfirst);
        free(c->pcol);
        free(c->order);
        for (size_t k = 0; k < NCOLS; k++) free(c->cols[k]);
        free(c->packed);
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
    ZSTD_DCtx *dctx;
    uint8_t *data[NCOLS];     /* owned: decoded column k, room for rows[k] values */
    uint64_t rows[NCOLS];
    uint8_t decoded[NCOLS];   /* column k of the current segment is in data[k] */
    int dirpos[NCOLS];        /* its entry in the directory, or -1 if the segment lacks it */
    uint8_t *cbuf;            /* owned: compressed bytes of one column */
    size_t ccap;
    uint8_t *narrow;          /* owned: one column's byte planes (CODEC_ZSTD_FOR), 8 * nrows_cap + 8 bytes */
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
    for (size_t k = 0; k < NCOLS; k++) free(r->data[k]);
    free(r->cbuf);
    free(r->narrow);
    free(r->wide);
    ZSTD_freeDCtx(r->dctx);
    free(r);
}

static struct seg_reader *reader_new(void)
{
    struct seg_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->dctx = ZSTD_createDCtx(); /* the buffers grow with the segments read */
    if (!r->dctx) {
        reader_free(r);
        return NULL;
    }
    return r;
}

static int col_index(const char *name)
{
    for (size_t k = 0; k < NCOLS; k++)
        if (strcmp(fs_flow_members[k].name, name) == 0) return (int)k;
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
        uint8_t *nn = realloc(r->narrow, (size_t)r->nrows * 8 + 8);
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
    for (size_t k = 0; k < NCOLS; k++) {
        r->dirpos[k] = -1;
        r->decoded[k] = 0;
    }
    for (uint32_t c = 0; c < r->ncols; c++) {
        char cname[NAME_SIZE + 1];
        memcpy(cname, r->dir + (size_t)c * DIRENT_SIZE, NAME_SIZE);
        cname[NAME_SIZE] = 0;
        int k = col_index(cname);
        if (k >= 0) r->dirpos[k] = (int)c; /* columns unknown to this version are ignored */
    }
    return FS_OK;
}

/* Range of column k's values in the segment (a column the segment lacks reads as zeros). */
static void seg_range(const struct seg_reader *r, int k, uint64_t *lo, uint64_t *hi)
{
    *lo = *hi = 0;
    if (k < 0 || r->dirpos[k] < 0 || fs_flow_members[k].width > 8) {
        if (k < 0 || fs_flow_members[k].width > 8) *hi = UINT64_MAX;
        return;
    }
    const uint8_t *e = r->dir + (size_t)r->dirpos[k] * DIRENT_SIZE;
    *lo = get_u64(e + 64);
    *hi = get_u64(e + 72);
}

/* Decodes n values stored with `codec` (CODEC_ZSTD_FOR, _DELTA, _REL) as sw byte planes of offsets from base
 * (sw 0..8), after their divisor g, into values of `width` bytes (1, 2, 4, 8) at dst. tmp has room for n 64-bit values; colmin is the
 * column's minimum (the first value of CODEC_ZSTD_DELTA); first is the segment's first_ns column (for
 * CODEC_ZSTD_REL). */
static void widen(const uint8_t *src, uint32_t sw, uint64_t base, uint64_t colmin, uint32_t codec, const uint64_t *first,
                  uint8_t *dst, uint32_t width, size_t n, uint64_t *tmp)
{
    uint64_t g = get_u64(src);
    src += 8;
    for (size_t i = 0; i < n; i++) tmp[i] = 0;
    for (uint32_t b = 0; b < sw; b++) {
        const uint8_t *plane = src + (size_t)b * n;
        for (size_t i = 0; i < n; i++) tmp[i] |= (uint64_t)plane[i] << (8 * b);
    }
    for (size_t i = 0; i < n; i++) tmp[i] = base + tmp[i] * g;
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

/* Decodes column k of the current segment into data[k], checking its checksum and size. */
static fs_result seg_column(struct seg_reader *r, const struct seg_src *src, int k, const char *name, char *err,
                            size_t errlen)
{
    if (r->decoded[k]) return FS_OK;
    const struct fs_flow_member *col = &fs_flow_members[k];
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
    int narrowed = codec == CODEC_ZSTD_FOR || codec == CODEC_ZSTD_DELTA || codec == CODEC_ZSTD_REL;
    if (!narrowed) sw = width;
    if ((codec != CODEC_ZSTD && !narrowed) || width != col->width || (narrowed && (width > 8 || sw > 8)) ||
        raw != (uint64_t)r->nrows * sw + (narrowed ? 8 : 0))
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
    uint8_t *dst = narrowed ? r->narrow : r->data[k];
    size_t cap = narrowed ? (size_t)r->nrows * 8 + 8 : rawlen;
    size_t got = ZSTD_decompressDCtx(r->dctx, dst, cap, r->cbuf, (size_t)clen);
    if (ZSTD_isError(got) || got != raw)
        return fail(err, errlen, FS_ERR_FORMAT, "'%s': column '%s' does not decompress", name, col->name);
    if (narrowed)
        widen(r->narrow, sw, base, get_u64(e + 64), codec, (const uint64_t *)r->data[kf], r->data[k], width,
              (size_t)r->nrows, r->wide);
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
static inline void fill_row(const struct seg_reader *r, const int *cols, size_t n, size_t i, struct fs_flow *f)
{
    for (size_t j = 0; j < n; j++) {
        const struct fs_flow_member *col = &fs_flow_members[cols[j]];
        memcpy((uint8_t *)f + col->off, r->data[cols[j]] + i * col->width, col->width);
    }
}

fs_result fs_store_read_segment(const uint8_t *buf, size_t len, const char *name, const char *want,
                                struct fs_flow **out, size_t *nout, char *err, size_t errlen)
{
    struct seg_reader *r = reader_new();
    if (!r) return FS_ERR_NOMEM;
    struct seg_src src = { buf, -1, len, 0 };
    fs_result rc = FS_OK;
    struct fs_flow *rows = NULL;
    size_t n = 0;
    do { /* every row group, every column checked, wanted or not */
        rc = seg_open(r, &src, name, err, errlen);
        int cols[NCOLS];
        size_t ncols = 0;
        for (size_t k = 0; k < NCOLS && rc == FS_OK; k++)
            if ((rc = seg_column(r, &src, (int)k, name, err, errlen)) == FS_OK && wanted(want, fs_flow_members[k].name))
                cols[ncols++] = (int)k;
        if (rc == FS_OK && n + r->nrows > (size_t)FS_STORE_SEGMENT_ROWS)
            rc = fail(err, errlen, FS_ERR_FORMAT, "'%s': more than %d records", name, FS_STORE_SEGMENT_ROWS);
        struct fs_flow *nv = rc ? NULL : realloc(rows, (n + r->nrows + 1) * sizeof *rows);
        if (!rc && !nv) rc = FS_ERR_NOMEM;
        if (!rc) {
            rows = nv;
            memset(rows + n, 0, r->nrows * sizeof *rows);
            for (size_t i = 0; i < r->nrows; i++) fill_row(r, cols, ncols, i, &rows[n + i]);
            n += r->nrows;
            src.base += r->gsize;
        }
    } while (rc == FS_OK && src.base < len);
    if (rc) {
        free(rows);
    } else {
        *out = rows ? rows : calloc(1, sizeof *rows);
        *nout = n;
        if (!*out) rc = FS_ERR_NOMEM;
    }
    reader_free(r);
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
    if (p->mode == FS_COLPRED_ONE) return select_col(r->data[k0], fs_flow_members[k0].width, p->op, p->value, sel, n);
    unsigned w0 = fs_flow_members[k0].width, w1 = fs_flow_members[k1].width;
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
    int k = col_index(name);
    if (k < 0 || !r->decoded[k]) return NULL;
    *width = fs_flow_members[k].width;
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
    int cols[NCOLS], pk[FS_COLPRED_MAX][2];
    size_t ncols = 0, npreds = qy ? qy->npreds : 0;
    if (npreds > FS_COLPRED_MAX) npreds = FS_COLPRED_MAX;
    for (size_t k = 0; k < NCOLS; k++)
        if (wanted(qy ? qy->columns : NULL, fs_flow_members[k].name)) cols[ncols++] = (int)k;
    for (size_t i = 0; i < npreds; i++) {
        const struct fs_colpred *p = &qy->preds[i];
        pk[i][0] = col_index(p->col[0]);
        pk[i][1] = p->mode == FS_COLPRED_ONE ? pk[i][0] : col_index(p->col[1]);
        if (pk[i][0] < 0 || pk[i][1] < 0 || fs_flow_members[pk[i][0]].width > 8 || fs_flow_members[pk[i][1]].width > 8)
            return fail(err, errlen, FS_ERR_ARG, "no integer column '%s' to test", p->col[pk[i][0] < 0 ? 0 : 1]);
    }
    const int kfirst = COL_FIRST_NS;
    struct seg_reader *r = reader_new();
    uint32_t *sel = malloc(FS_STORE_SEGMENT_ROWS * sizeof *sel);
    struct fs_flow *row = calloc(1, sizeof *row); /* members not decoded stay zero */
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
                rc = seg_column(r, &src, kfirst, path, msg, sizeof msg);
                const uint8_t *first = r->data[kfirst];
                for (size_t i = 0; i < r->nrows && rc == FS_OK; i++) {
                    uint64_t t;
                    memcpy(&t, first + 8 * i, 8);
                    sel[n] = (uint32_t)i;
                    n += t >= since_ns && t < until_ns;
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
static fs_result read_rows(const char *path, struct fs_flow **rows, size_t *n, size_t *cap, char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *buf = read_file(path, &len);
    if (!buf) return fail(err, errlen, FS_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    struct fs_flow *got;
    size_t k;
    fs_result rc = fs_store_read_segment(buf, len, path, NULL, &got, &k, err, errlen);
    free(buf);
    if (rc) return rc;
    if (*n + k > *cap) {
        size_t nc = *n + k;
        struct fs_flow *nv = realloc(*rows, nc * sizeof *nv);
        if (!nv) {
            free(got);
            return FS_ERR_NOMEM;
        }
        *rows = nv;
        *cap = nc;
    }
    memcpy(*rows + *n, got, k * sizeof *got);
    *n += k;
    free(got);
    return FS_OK;
}

/* Merges the segments names[0..n) of partition pdir into one compacted segment, then removes them. */
static fs_result compact_group(const char *dir, const char *table, const char *pdir, char **names, size_t n,
                               struct fs_store_compact_stats *st, char *err, size_t errlen)
{
    struct fs_flow *rows = NULL;
    size_t nrows = 0, cap = 0, listlen = 0;
    fs_result rc = FS_OK;
    for (size_t i = 0; i < n && rc == FS_OK; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", pdir, names[i]);
        rc = read_rows(path, &rows, &nrows, &cap, err, errlen);
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
    if (!rc) {
        w->replaces = list;
        for (size_t i = 0; i < nrows && rc == FS_OK; i++) rc = fs_store_writer_add(w, &rows[i]);
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
    struct seg_reader *r = rc ? NULL : reader_new();
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
        /* small segments, in time order, merged in groups of at most FS_STORE_SEGMENT_ROWS records */
        char **group = malloc((ns ? ns : 1) * sizeof *group);
        size_t ng = 0;
        uint64_t grows = 0;
        for (size_t s = 0; group && s <= ns && rc == FS_OK; s++) {
            uint64_t nrows = UINT64_MAX;
            if (s < ns) {
                char path[4400], msg[64];
                snprintf(path, sizeof path, "%s/%s", pdir, segs[s]);
                struct seg_src src;
                if (src_open(&src, path, -1) == 0) {
                    for (nrows = 0; src.base < src.size; src.base += r->gsize) { /* the file's row groups */
                        if (seg_open(r, &src, path, msg, sizeof msg) != FS_OK) {
                            nrows = UINT64_MAX;
                            st.damaged++;
                            break;
                        }
                        nrows += r->nrows;
                    }
                    close(src.fd);
                }
                if (nrows >= FS_STORE_SEGMENT_ROWS / 2) continue; /* large enough, or damaged: left alone */
            }
            if (s == ns || grows + nrows > FS_STORE_SEGMENT_ROWS) {
                if (ng >= 2) rc = compact_group(dir, table, pdir, group, ng, &st, err, errlen);
                ng = 0;
                grows = 0;
            }
            if (s < ns) {
                group[ng++] = segs[s];
                grows += nrows;
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
