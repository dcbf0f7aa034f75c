/*
 * group.c - group-by and aggregation with an open-addressing table of fixed-size binary keys; see group.h.
 */
#include "group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 8
#define MAX_AGGS 16
#define KEY_BYTES (MAX_KEYS * 24)

enum agg_kind { AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_AVG, AGG_DISTINCT };

/* A set of 64-bit value hashes (open addressing; 0 marks an empty slot, a value hashing to 0 is stored as 1):
 * exact but for a 2^-64 chance per pair of values to count one. */
struct set {
    uint64_t *v;
    uint32_t cap, n;
};

static int set_add(struct set *s, uint64_t h)
{
    if (!h) h = 1;
    if ((s->n + 1) * 2 > s->cap) {
        uint32_t ncap = s->cap ? s->cap * 2 : 8;
        uint64_t *nv = calloc(ncap, sizeof *nv);
        if (!nv) return -1;
        for (uint32_t i = 0; i < s->cap; i++)
            if (s->v[i]) {
                uint32_t j = (uint32_t)s->v[i] & (ncap - 1);
                while (nv[j]) j = (j + 1) & (ncap - 1);
                nv[j] = s->v[i];
            }
        free(s->v);
        s->v = nv;
        s->cap = ncap;
    }
    uint32_t j = (uint32_t)h & (s->cap - 1);
    while (s->v[j] && s->v[j] != h) j = (j + 1) & (s->cap - 1);
    if (!s->v[j]) {
        s->v[j] = h;
        s->n++;
    }
    return 0;
}

struct keyspec {
    int field;
    int prefix;          /* addresses: prefix length; -1 none */
    uint64_t bucket_ns;  /* times: bucket width; 0 none */
};

struct aggspec {
    enum agg_kind kind;
    int field;           /* -1 for count */
    char label[48];
};

/* A group's aggregates. Groups are numbered in order of appearance; their keys (klen bytes each) and the
 * keys as values (nkeys each, for output) are in arrays of their own, so the hot part stays small. */
struct entry {
    uint64_t count;
    struct set *sets;    /* distinct aggregates: one set each, owned */
    double v[];          /* naggs of them: an entry takes estride bytes, not room for MAX_AGGS */
};

struct slot {            /* the index: open addressing, at most half full */
    uint64_t hash;
    uint32_t idx;        /* group number + 1; 0 = empty */
    uint32_t pad;
};

struct fs_group {
    struct keyspec keys[MAX_KEYS];
    int nkeys;
    struct aggspec aggs[MAX_AGGS];
    int naggs, by, ndistinct;
    struct slot *slots;  /* owned, cap of them */
    uint8_t *ents;       /* owned: n entries used of ncap, estride bytes each (ENT) */
    size_t estride;
    uint8_t *keybytes;   /* owned: group i's key at i * klen */
    struct fs_value *keyvals; /* owned: group i's key values at i * nkeys; NULL if keys_only */
    int keys_only;       /* grouping on columns: key values are made from the key bytes when written */
    uint64_t cap, n, ncap;
    size_t klen;
};

#define ENT(g, i) ((struct entry *)(void *)((g)->ents + (size_t)(i) * (g)->estride))

static int parse_field(const char *name, size_t len, char *err, size_t errlen)
{
    char buf[64];
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, name, len);
    buf[len] = 0;
    int f = fs_field_find(buf);
    if (f < 0) snprintf(err, errlen, "unknown field '%s' (see 'flowsift fields')", buf);
    return f;
}

static fs_result parse_aggs(struct fs_group *g, const char *spec, char *err, size_t errlen)
{
    const char *s = spec;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (g->naggs == MAX_AGGS) return snprintf(err, errlen, "more than %d aggregates", MAX_AGGS), FS_ERR_ARG;
        struct aggspec *a = &g->aggs[g->naggs];
        snprintf(a->label, sizeof a->label, "%.*s", (int)len, s);
        static const struct { const char *p; enum agg_kind k; } kinds[] = {
            { "sum:", AGG_SUM }, { "min:", AGG_MIN }, { "max:", AGG_MAX }, { "avg:", AGG_AVG },
            { "distinct:", AGG_DISTINCT },
        };
        if (len == 5 && strncmp(s, "count", 5) == 0) {
            a->kind = AGG_COUNT;
            a->field = -1;
        } else {
            size_t k, plen = 0;
            for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
                plen = strlen(kinds[k].p);
                if (len > plen && strncmp(s, kinds[k].p, plen) == 0) break;
            }
            if (k == sizeof kinds / sizeof kinds[0])
                return snprintf(err, errlen, "'%s': aggregates are count, sum:F, min:F, max:F, avg:F, distinct:F",
                                a->label),
                       FS_ERR_ARG;
            a->kind = kinds[k].k;
            a->field = parse_field(s + plen, len - plen, err, errlen);
            if (a->field < 0) return FS_ERR_ARG;
            enum fs_ftype t = fs_field_at((size_t)a->field)->type;
            if (a->kind == AGG_DISTINCT) g->ndistinct++;
            else if (t == FS_FT_ADDR || t == FS_FT_STR)
                return snprintf(err, errlen, "'%s': %s needs a numeric field", a->label, kinds[k].p), FS_ERR_ARG;
        }
        g->naggs++;
        s += len;
        if (*s == ',') s++;
    }
    return g->naggs ? FS_OK : (snprintf(err, errlen, "no aggregate given"), FS_ERR_ARG);
}

fs_result fs_group_new(struct fs_group **out, const char *group_by, const char *agg, const char *by, char *err,
                       size_t errlen)
{
    struct fs_group *g = calloc(1, sizeof *g);
    if (!g) return FS_ERR_NOMEM;
    fs_result rc = FS_OK;
    for (const char *s = group_by; *s && rc == FS_OK;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        const char *slash = memchr(s, '/', len);
        struct keyspec *k = &g->keys[g->nkeys];
        if (g->nkeys == MAX_KEYS) {
            rc = FS_ERR_ARG;
            snprintf(err, errlen, "more than %d group-by fields", MAX_KEYS);
            break;
        }
        k->prefix = -1;
        k->field = parse_field(s, slash ? (size_t)(slash - s) : len, err, errlen);
        if (k->field < 0) {
            rc = FS_ERR_ARG;
            break;
        }
        if (slash) {
            long v = strtol(slash + 1, NULL, 10);
            enum fs_ftype t = fs_field_at((size_t)k->field)->type;
            if (t == FS_FT_ADDR && v >= 0 && v <= 128) k->prefix = (int)v;
            else if (t == FS_FT_TIME && v > 0) k->bucket_ns = (uint64_t)v * 1000000000ull;
            else {
                rc = FS_ERR_ARG;
                snprintf(err, errlen, "'%.*s': a prefix length goes with an address, a bucket in seconds with a time",
                         (int)len, s);
                break;
            }
        }
        g->nkeys++;
        s += len;
        if (*s == ',') s++;
    }
    if (rc == FS_OK) rc = parse_aggs(g, agg ? agg : "count,sum:packets,sum:size", err, errlen);
    if (rc == FS_OK && by) {
        g->by = -1;
        char sum[64];
        snprintf(sum, sizeof sum, "sum:%s", by); /* --by bytes means the sum of bytes */
        int bf = fs_field_find(by); /* an alias names the same field: bytes is size */
        for (int i = 0; i < g->naggs; i++)
            if (strcmp(g->aggs[i].label, by) == 0 || (g->aggs[i].kind == AGG_SUM && bf >= 0 && g->aggs[i].field == bf))
                g->by = i;
        if (g->by < 0 && fs_field_find(by) >= 0 && parse_aggs(g, sum, err, errlen) == FS_OK) g->by = g->naggs - 1;
        if (g->by < 0) {
            rc = FS_ERR_ARG;
            snprintf(err, errlen, "--by '%s' is neither an aggregate nor a field", by);
        }
    }
    g->cap = 1024;
    g->klen = (size_t)g->nkeys * 24;
    g->estride = sizeof(struct entry) + (size_t)g->naggs * sizeof(double);
    if (rc == FS_OK && !(g->slots = calloc(g->cap, sizeof *g->slots))) rc = FS_ERR_NOMEM;
    if (rc) {
        fs_group_free(g);
        return rc;
    }
    *out = g;
    return FS_OK;
}

/* Hash of the first n bytes of a key (n a multiple of 8; the rest of a key is zero). */
static uint64_t hash_key(const uint8_t *k, size_t n)
{
    uint64_t h = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, k + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static fs_result grow(struct fs_group *g)
{
    uint64_t ncap = g->cap * 2;
    struct slot *nt = calloc(ncap, sizeof *nt);
    if (!nt) return FS_ERR_NOMEM;
    for (uint64_t i = 0; i < g->cap; i++) {
        if (!g->slots[i].idx) continue;
        uint64_t j = g->slots[i].hash & (ncap - 1);
        while (nt[j].idx) j = (j + 1) & (ncap - 1);
        nt[j] = g->slots[i];
    }
    free(g->slots);
    g->slots = nt;
    g->cap = ncap;
    return FS_OK;
}

/* Room for one more group in the dense arrays. */
static fs_result reserve(struct fs_group *g)
{
    if (g->n < g->ncap) return FS_OK;
    uint64_t nc = g->ncap ? g->ncap * 2 : 1024;
    uint8_t *ne = realloc(g->ents, nc * g->estride);
    if (ne) g->ents = ne;
    uint8_t *nk = realloc(g->keybytes, nc * (g->klen ? g->klen : 1));
    if (nk) g->keybytes = nk;
    struct fs_value *nv = g->keys_only ? NULL : realloc(g->keyvals, nc * (size_t)(g->nkeys ? g->nkeys : 1) * sizeof *nv);
    if (nv) g->keyvals = nv;
    if (!ne || !nk || (!nv && !g->keys_only)) return FS_ERR_NOMEM;
    g->ncap = nc;
    return FS_OK;
}

/* The group of key (its first klen bytes); a new one takes kv (nkeys values, for output), or, if kv is NULL,
 * leaves them for the caller at g->keyvals + (number) * nkeys. NULL without memory. */
static struct entry *group_of_hashed(struct fs_group *g, const uint8_t *key, uint64_t kh, const struct fs_value *kv)
{
    if ((g->n + 1) * 2 > g->cap && grow(g) != FS_OK) return NULL;
    size_t klen = g->klen;
    uint64_t j = kh & (g->cap - 1);
    while (g->slots[j].idx &&
           (g->slots[j].hash != kh || memcmp(g->keybytes + (g->slots[j].idx - 1) * klen, key, klen) != 0))
        j = (j + 1) & (g->cap - 1);
    if (!g->slots[j].idx) {
        if (reserve(g) != FS_OK) return NULL;
        memset(ENT(g, g->n), 0, g->estride);
        memcpy(g->keybytes + g->n * klen, key, klen);
        if (kv && !g->keys_only) memcpy(g->keyvals + g->n * (size_t)g->nkeys, kv, (size_t)g->nkeys * sizeof *kv);
        g->slots[j].hash = kh;
        g->slots[j].idx = (uint32_t)++g->n;
    }
    return ENT(g, g->slots[j].idx - 1);
}

static struct entry *group_of(struct fs_group *g, const uint8_t *key, const struct fs_value *kv)
{
    return group_of_hashed(g, key, hash_key(key, g->klen), kv);
}

/* Adds value x of a record to aggregate a of group e (whose count already includes the record). */
static inline void agg_update(struct entry *e, enum agg_kind kind, int a, double x)
{
    switch (kind) {
    case AGG_SUM:
    case AGG_AVG: e->v[a] += x; break;
    case AGG_MIN: e->v[a] = e->count == 1 || x < e->v[a] ? x : e->v[a]; break;
    case AGG_MAX: e->v[a] = e->count == 1 || x > e->v[a] ? x : e->v[a]; break;
    case AGG_COUNT:
    case AGG_DISTINCT: break;
    }
}

fs_result fs_group_add(struct fs_group *g, struct fs_flow_view *view)
{
    uint8_t key[KEY_BYTES];
    struct fs_value kv[MAX_KEYS];
    memset(key, 0, g->klen); /* only the bytes in use: hashed and compared */
    for (int i = 0; i < g->nkeys; i++) {
        struct fs_value *v = &kv[i];
        memset(v, 0, sizeof *v);
        fs_field_get(view, (size_t)g->keys[i].field, v);
        uint8_t *k = key + i * 24;
        if (v->missing) {
            k[0] = 1;
            continue;
        }
        switch (v->type) {
        case FS_FT_ADDR:
            for (int bit = g->keys[i].prefix < 0 ? 128 : g->keys[i].prefix; bit < 128; bit++)
                v->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
            k[1] = (uint8_t)v->ipver;
            memcpy(k + 2, v->addr, 16);
            break;
        case FS_FT_STR:
            snprintf(v->buf, sizeof v->buf, "%s", v->s);
            v->s = v->buf;
            memcpy(k + 2, v->buf, 16);
            break;
        case FS_FT_DOUBLE:
            memcpy(k + 2, &v->d, 8);
            break;
        default:
            if (v->type == FS_FT_TIME && g->keys[i].bucket_ns) v->u -= v->u % g->keys[i].bucket_ns;
            memcpy(k + 2, &v->u, 8);
        }
    }
    struct entry *e = group_of(g, key, kv);
    if (!e) return FS_ERR_NOMEM;
    if (g->ndistinct && !e->sets && !(e->sets = calloc((size_t)g->naggs, sizeof *e->sets))) return FS_ERR_NOMEM;
    e->count++;
    for (int a = 0; a < g->naggs; a++) {
        const struct aggspec *s = &g->aggs[a];
        if (s->kind == AGG_COUNT) continue;
        struct fs_value v;
        memset(&v, 0, sizeof v);
        fs_field_get(view, (size_t)s->field, &v);
        if (s->kind == AGG_DISTINCT) {
            if (v.missing) continue;
            uint8_t buf[24] = { 0 };
            size_t n = 8;
            if (v.type == FS_FT_ADDR) {
                buf[0] = (uint8_t)v.ipver;
                memcpy(buf + 1, v.addr, 16);
                n = 17;
            } else if (v.type == FS_FT_STR) {
                n = strlen(v.s) < sizeof buf ? strlen(v.s) : sizeof buf;
                memcpy(buf, v.s, n);
            } else if (v.type == FS_FT_DOUBLE) {
                memcpy(buf, &v.d, 8);
            } else {
                memcpy(buf, &v.u, 8);
            }
            uint64_t h = 0x9ae16a3b2f90404full;
            for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3ull;
            h ^= h >> 29;
            h *= 0xbf58476d1ce4e5b9ull;
            h ^= h >> 32;
            if (set_add(&e->sets[a], h) != 0) return FS_ERR_NOMEM;
            continue;
        }
        if (v.missing) continue;
        agg_update(e, s->kind, a, v.type == FS_FT_DOUBLE ? v.d : (double)v.u);
    }
    return FS_OK;
}

static double agg_value(const struct fs_group *g, const struct entry *e, int a)
{
    switch (g->aggs[a].kind) {
    case AGG_COUNT: return (double)e->count;
    case AGG_AVG: return e->count ? e->v[a] / (double)e->count : 0;
    case AGG_DISTINCT: return e->sets ? (double)e->sets[a].n : 0;
    default: return e->v[a];
    }
}

static const struct fs_group *sort_group;

static int cmp_entries(const void *pa, const void *pb)
{
    const struct fs_group *g = sort_group;
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    double x = agg_value(g, ENT(g, a), g->by), y = agg_value(g, ENT(g, b), g->by);
    if (x != y) return x > y ? -1 : 1;
    /* ties in key order: the output never depends on hashing */
    return g->klen ? memcmp(g->keybytes + a * g->klen, g->keybytes + b * g->klen, g->klen) : 0;
}

/* A group's key values from its key bytes (keys_only: every key a number, a time or an address). */
static void key_values(const struct fs_group *g, const uint8_t *key, struct fs_value *kv)
{
    for (int i = 0; i < g->nkeys; i++) {
        const uint8_t *k = key + i * 24;
        memset(&kv[i], 0, sizeof kv[i]);
        kv[i].type = fs_field_at((size_t)g->keys[i].field)->type;
        if (kv[i].type == FS_FT_ADDR) {
            memcpy(kv[i].addr, k + 2, 16);
            kv[i].ipver = k[1];
        } else {
            memcpy(&kv[i].u, k + 2, 8);
        }
    }
}

/* Replaces the root of the heap v[0..h) (ordered so that each parent comes after its children in
 * cmp_entries order) by x and sifts it down. */
static void heap_down(uint32_t *v, uint64_t h, uint32_t x)
{
    uint64_t c = 0;
    for (;;) {
        uint64_t l = 2 * c + 1, m = c;
        uint32_t best = x;
        if (l < h && cmp_entries(&v[l], &best) > 0) m = l, best = v[l];
        if (l + 1 < h && cmp_entries(&v[l + 1], &best) > 0) m = l + 1, best = v[l + 1];
        if (m == c) break;
        v[c] = v[m];
        c = m;
    }
    v[c] = x;
}

fs_result fs_group_write(struct fs_group *g, struct fs_outbuf *o, int json, uint64_t top)
{
    uint32_t *v = malloc((g->n ? g->n : 1) * sizeof *v);
    if (!v) return FS_ERR_NOMEM;
    uint64_t n = g->n;
    sort_group = g;
    if (top && n > top) { /* the top groups through a heap of `top` (its root the least of them), then sorted */
        uint64_t h = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint32_t x = (uint32_t)i;
            if (h == top) {
                if (cmp_entries(&x, &v[0]) >= 0) continue; /* not above the least kept */
                heap_down(v, h, x);
            } else {
                uint64_t c = h++; /* sift up: parents come later in the order than children */
                while (c > 0 && cmp_entries(&v[(c - 1) / 2], &x) < 0) {
                    v[c] = v[(c - 1) / 2];
                    c = (c - 1) / 2;
                }
                v[c] = x;
            }
        }
        n = h;
    } else {
        for (uint64_t i = 0; i < n; i++) v[i] = (uint32_t)i;
    }
    qsort(v, n, sizeof *v, cmp_entries);
    if (!json) {
        for (int i = 0; i < g->nkeys; i++) {
            if (i) fs_outbuf_putc(o, ',');
            fs_outbuf_puts(o, fs_field_at((size_t)g->keys[i].field)->name);
        }
        for (int a = 0; a < g->naggs; a++) {
            if (a || g->nkeys) fs_outbuf_putc(o, ',');
            fs_outbuf_puts(o, g->aggs[a].label);
        }
        fs_outbuf_putc(o, '\n');
    }
    for (uint64_t r = 0; r < n; r++) {
        const struct entry *e = ENT(g, v[r]);
        struct fs_value made[MAX_KEYS];
        const struct fs_value *keyval = made;
        if (g->keys_only) key_values(g, g->keybytes + (size_t)v[r] * g->klen, made);
        else keyval = g->keyvals + (size_t)v[r] * (size_t)g->nkeys;
        if (json) fs_outbuf_putc(o, '{');
        for (int i = 0; i < g->nkeys; i++) {
            const struct fs_field *fd = fs_field_at((size_t)g->keys[i].field);
            if (i) fs_outbuf_putc(o, ',');
            if (json) {
                fs_outbuf_json_str(o, fd->name);
                fs_outbuf_putc(o, ':');
            }
            struct fs_value kv = keyval[i];
            if (kv.type == FS_FT_STR) kv.s = kv.buf; /* the copy's own text */
            fs_put_value(o, json, 9, fd, &kv);
        }
        for (int a = 0; a < g->naggs; a++) {
            if (a || g->nkeys) fs_outbuf_putc(o, ',');
            if (json) {
                fs_outbuf_json_str(o, g->aggs[a].label);
                fs_outbuf_putc(o, ':');
            }
            double x = agg_value(g, e, a);
            int whole = g->aggs[a].kind != AGG_AVG && x == (double)(uint64_t)x;
            fs_outbuf_fixed(o, x, whole ? 0 : 3);
        }
        fs_outbuf_puts(o, json ? "}\n" : "\n");
    }
    free(v);
    return FS_OK;
}

uint64_t fs_group_count(const struct fs_group *g) { return g->n; }

void fs_group_fields(const struct fs_group *g, void (*fn)(void *arg, int field), void *arg)
{
    for (int i = 0; i < g->nkeys; i++) fn(arg, g->keys[i].field);
    for (int a = 0; a < g->naggs; a++)
        if (g->aggs[a].field >= 0) fn(arg, g->aggs[a].field);
}

void fs_group_free(struct fs_group *g)
{
    if (!g) return;
    for (uint64_t i = 0; i < g->n; i++)
        if (ENT(g, i)->sets) {
            for (int a = 0; a < g->naggs; a++) free(ENT(g, i)->sets[a].v);
            free(ENT(g, i)->sets);
        }
    free(g->slots);
    free(g->ents);
    free(g->keybytes);
    free(g->keyvals);
    free(g);
}

/* ---- on a scan's columns ---- */

/* Where field `field` lives in a batch: how (fs_field_stored) and its columns. */
struct colref {
    int how;
    const uint8_t *c0, *c1;
    unsigned w0, w1;
};

static int colref_of(const struct fs_store_batch *b, int field, struct colref *c)
{
    char col[2][FS_FIELD_LABEL_MAX];
    memset(c, 0, sizeof *c);
    c->how = fs_field_stored((size_t)field, col);
    if (!c->how) return -1;
    c->c0 = fs_store_batch_column(b, col[0], &c->w0);
    c->c1 = c->how == 1 ? c->c0 : fs_store_batch_column(b, col[1], &c->w1);
    if (c->how == 1) c->w1 = c->w0;
    return c->c0 && c->c1 ? 0 : -1;
}

static inline uint64_t col_value(const struct colref *c, size_t r)
{
    uint64_t v = fs_column_load(c->c0, c->w0, r);
    return c->how == 2 ? v + fs_column_load(c->c1, c->w1, r) : v;
}

int fs_group_columnar(const struct fs_group *g)
{
    char col[2][FS_FIELD_LABEL_MAX];
    for (int i = 0; i < g->nkeys; i++) {
        const struct fs_field *fd = fs_field_at((size_t)g->keys[i].field);
        int how = fs_field_stored((size_t)g->keys[i].field, col);
        if (!how || (fd->type != FS_FT_U64 && fd->type != FS_FT_TIME && fd->type != FS_FT_ADDR)) return 0;
    }
    for (int a = 0; a < g->naggs; a++) {
        const struct aggspec *s = &g->aggs[a];
        if (s->kind == AGG_COUNT) continue;
        const struct fs_field *fd = fs_field_at((size_t)s->field);
        int how = fs_field_stored((size_t)s->field, col);
        if (s->kind == AGG_DISTINCT || how < 1 || how > 2 || (fd->type != FS_FT_U64 && fd->type != FS_FT_TIME)) return 0;
    }
    return 1;
}

/* The key bytes fs_group_add() makes from the same values, for row r. Each key's 24 bytes are built as three
 * 64-bit words in registers and stored whole: hash_key() then loads what was stored at the same width, where
 * byte-wise stores would stall every load it makes. */
static void batch_key(const struct fs_group *g, const struct colref *kc, size_t r, uint8_t *key)
{
    for (int i = 0; i < g->nkeys; i++) {
        uint64_t w[3];
        if (kc[i].how == 3) { /* byte 1: the IP version, bytes 2-17: the address */
            uint8_t a[16];
            memcpy(a, kc[i].c0 + 16 * r, 16);
            for (int bit = g->keys[i].prefix < 0 ? 128 : g->keys[i].prefix; bit < 128; bit++)
                a[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
            uint64_t lo, mid;
            uint16_t hi;
            memcpy(&lo, a, 8);
            memcpy(&mid, a + 6, 8);
            memcpy(&hi, a + 14, 2);
            w[0] = (uint64_t)kc[i].c1[r] << 8 | lo << 16;
            w[1] = mid;
            w[2] = hi;
        } else { /* bytes 2-9: the value */
            uint64_t u = col_value(&kc[i], r);
            if (g->keys[i].bucket_ns) u -= u % g->keys[i].bucket_ns;
            w[0] = u << 16;
            w[1] = u >> 48;
            w[2] = 0;
        }
        memcpy(key + i * 24, w, 24);
    }
}

fs_result fs_group_add_batch(struct fs_group *g, const struct fs_store_batch *b)
{
    struct colref kc[MAX_KEYS], ac[MAX_AGGS];
    if (!g->n) g->keys_only = 1; /* grouping on columns from the start: key values are made when written */
    for (int i = 0; i < g->nkeys; i++)
        if (colref_of(b, g->keys[i].field, &kc[i]) != 0) return FS_ERR_ARG;
    for (int a = 0; a < g->naggs; a++)
        if (g->aggs[a].kind != AGG_COUNT && colref_of(b, g->aggs[a].field, &ac[a]) != 0) return FS_ERR_ARG;
    enum { CHUNK = 16 }; /* the keys of a chunk of rows first, their index slots prefetched, then the groups */
    uint8_t keys[CHUNK][KEY_BYTES];
    uint64_t hashes[CHUNK];
    for (size_t j0 = 0; j0 < b->n; j0 += CHUNK) {
        size_t m = b->n - j0 < CHUNK ? b->n - j0 : CHUNK;
        for (size_t j = 0; j < m; j++) {
            batch_key(g, kc, b->sel[j0 + j], keys[j]);
            hashes[j] = hash_key(keys[j], g->klen);
            __builtin_prefetch(&g->slots[hashes[j] & (g->cap - 1)]);
        }
        for (size_t j = 0; j < m; j++) {
            size_t r = b->sel[j0 + j];
            uint64_t before = g->n;
            struct entry *e = group_of_hashed(g, keys[j], hashes[j], NULL);
            if (!e) return FS_ERR_NOMEM;
            if (g->n != before && !g->keys_only) /* groups that rows began: their key values are kept */
                key_values(g, keys[j], g->keyvals + (g->n - 1) * (size_t)g->nkeys);
            e->count++;
            for (int a = 0; a < g->naggs; a++)
                if (g->aggs[a].kind != AGG_COUNT) agg_update(e, g->aggs[a].kind, a, (double)col_value(&ac[a], r));
        }
    }
    return FS_OK;
}
