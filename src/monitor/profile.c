/*
 * profile.c - host profiles by hour of the week; see profile.h.
 *
 * File: "FSPROF01", u32 version 1, u32 metrics, u32 slots, u32 profiles, u64 window_ns, f64 alpha, then the
 * profiles (struct fs_host_profile, little-endian, as in memory), then u32 CRC-32C of everything before it.
 */
#include "profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/crc32c.h"

#define MAGIC "FSPROF01"
#define VAR_FLOOR 0.25
#define GAP_FILL_MAX (7ull * 24 * 3600 * 1000000000ull) /* fill silent windows of at most a week */

static const char *const METRIC_NAMES[FS_METRIC_END] = {
    "none", "out_flows", "out_bytes", "out_peers", "out_ports", "in_flows", "in_bytes", "in_peers", "in_ports",
};

const char *fs_host_metric_name(unsigned m) { return m < FS_METRIC_END ? METRIC_NAMES[m] : "?"; }

struct hkey {
    uint8_t addr[16];
    uint8_t ipver;
    uint8_t pad[7];
};

void fs_profiles_init(struct fs_profiles *p, uint64_t window_ns, double alpha, uint64_t max_hosts)
{
    memset(p, 0, sizeof *p);
    p->window_ns = window_ns;
    p->alpha = alpha > 0 && alpha <= 1 ? alpha : 0.1;
    p->max_hosts = max_hosts ? max_hosts : 100000;
    fs_bmap_init(&p->index, sizeof(struct hkey), sizeof(uint32_t));
}

void fs_profiles_free(struct fs_profiles *p)
{
    fs_bmap_free(&p->index);
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

static struct hkey key_of(const uint8_t host[16], uint8_t ipver)
{
    struct hkey k;
    memset(&k, 0, sizeof k);
    memcpy(k.addr, host, 16);
    k.ipver = ipver;
    return k;
}

const struct fs_host_profile *fs_profiles_find(const struct fs_profiles *p, const uint8_t host[16], uint8_t ipver)
{
    struct hkey k = key_of(host, ipver);
    const uint32_t *i = fs_bmap_find(&p->index, &k, fs_bmap_hash(&k, sizeof k));
    return i ? &p->v[*i] : NULL;
}

/* The profile of a host, created empty if there is room; NULL when there is none. */
static struct fs_host_profile *profile_get(struct fs_profiles *p, const uint8_t host[16], uint8_t ipver, int *nomem)
{
    struct hkey k = key_of(host, ipver);
    uint64_t h = fs_bmap_hash(&k, sizeof k);
    uint32_t *i = fs_bmap_find(&p->index, &k, h);
    if (i) return &p->v[*i];
    if (p->n >= p->max_hosts) return NULL;
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 64;
        struct fs_host_profile *v = realloc(p->v, (size_t)cap * sizeof *v);
        if (!v) {
            *nomem = 1;
            return NULL;
        }
        p->v = v;
        p->cap = cap;
    }
    i = fs_bmap_get(&p->index, &k, h, NULL);
    if (!i) {
        *nomem = 1;
        return NULL;
    }
    *i = p->n;
    struct fs_host_profile *pr = &p->v[p->n++];
    memset(pr, 0, sizeof *pr);
    memcpy(pr->host, host, 16);
    pr->ipver = ipver;
    pr->last_idx = UINT64_MAX;
    return pr;
}

static unsigned slot_of(uint64_t start_ns)
{
    uint64_t hours = start_ns / 3600000000000ull;
    /* 1970-01-01 was a Thursday: count days from Monday */
    return (unsigned)(((hours / 24 + 3) % 7) * 24 + hours % 24);
}

static void learn(struct fs_profiles *p, struct fs_host_profile *pr, unsigned s, const double *x)
{
    double a = pr->n[s] == 0 ? 1.0 : p->alpha;
    for (int m = 0; m < FS_PROFILE_METRICS; m++) {
        double mean = pr->mean[s][m], var = pr->var[s][m];
        double d = x[m] - mean, inc = a * d;
        pr->mean[s][m] = (float)(mean + inc);
        pr->var[s][m] = pr->n[s] == 0 ? 0.0f : (float)((1 - a) * (var + d * inc));
    }
    if (pr->n[s] < UINT16_MAX) pr->n[s]++;
}

fs_result fs_profiles_apply(struct fs_profiles *p, struct fs_host_window *rec)
{
    int nomem = 0;
    struct fs_host_profile *pr = profile_get(p, rec->host, rec->host_ipver, &nomem);
    if (!pr) {
        if (nomem) return FS_ERR_NOMEM;
        p->refused++;
        return FS_OK;
    }
    uint64_t idx = rec->start_ns / p->window_ns;
    if (pr->last_idx != UINT64_MAX && idx > pr->last_idx + 1) { /* silent windows since the last: zeros */
        static const double zeros[FS_PROFILE_METRICS];
        uint64_t from = pr->last_idx + 1, max = GAP_FILL_MAX / p->window_ns;
        if (idx - from > max) from = idx - max;
        for (uint64_t w = from; w < idx; w++) learn(p, pr, slot_of(w * p->window_ns), zeros);
    }
    const uint64_t v[FS_PROFILE_METRICS] = {
        rec->out.flows, rec->out.bytes, rec->out.peers, rec->out.ports,
        rec->in.flows,  rec->in.bytes,  rec->in.peers,  rec->in.ports,
    };
    double x[FS_PROFILE_METRICS];
    for (int m = 0; m < FS_PROFILE_METRICS; m++) x[m] = log1p((double)v[m]);
    unsigned s = slot_of(rec->start_ns);
    if (pr->n[s] >= FS_PROFILE_WARMUP) {
        double best = 0;
        int which = 0;
        for (int m = 0; m < FS_PROFILE_METRICS; m++) {
            double z = fabs(x[m] - pr->mean[s][m]) / sqrt(pr->var[s][m] + VAR_FLOOR);
            if (z > best) {
                best = z;
                which = m + 1;
            }
        }
        double c = best * 100 + 0.5;
        rec->deviation = c >= UINT32_MAX ? UINT32_MAX : (uint32_t)c;
        rec->deviation_metric = (uint8_t)which;
        p->scored++;
    }
    if (pr->last_idx == UINT64_MAX || idx > pr->last_idx) { /* a window seen again (a rerun) is not learnt twice */
        learn(p, pr, s, x);
        pr->last_idx = idx;
    }
    return FS_OK;
}

fs_result fs_profiles_save(const struct fs_profiles *p, const char *path, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        return FS_ERR_IO;
    }
    uint8_t head[40];
    uint32_t u[4] = { 1, FS_PROFILE_METRICS, FS_PROFILE_SLOTS, p->n };
    memcpy(head, MAGIC, 8);
    memcpy(head + 8, u, 16);
    memcpy(head + 24, &p->window_ns, 8);
    memcpy(head + 32, &p->alpha, 8);
    uint32_t crc = fs_crc32c(0, head, sizeof head);
    int bad = fwrite(head, sizeof head, 1, f) != 1;
    if (p->n) {
        crc = fs_crc32c(crc, p->v, (size_t)p->n * sizeof *p->v);
        bad |= fwrite(p->v, sizeof *p->v, p->n, f) != p->n;
    }
    bad |= fwrite(&crc, 4, 1, f) != 1;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        return FS_ERR_IO;
    }
    return FS_OK;
}

fs_result fs_profiles_load(struct fs_profiles *p, const char *path, uint64_t *loaded, char *err, size_t errlen)
{
    *loaded = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return FS_OK;
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return FS_ERR_IO;
    }
    uint8_t head[40];
    uint32_t u[4];
    uint64_t wns;
    fs_result rc = FS_ERR_FORMAT;
    struct fs_host_profile *v = NULL;
    if (fread(head, sizeof head, 1, f) != 1 || memcmp(head, MAGIC, 8) != 0) {
        snprintf(err, errlen, "'%s' is not a profile file", path);
        goto out;
    }
    memcpy(u, head + 8, 16);
    memcpy(&wns, head + 24, 8);
    if (u[0] != 1 || u[1] != FS_PROFILE_METRICS || u[2] != FS_PROFILE_SLOTS || wns != p->window_ns) {
        snprintf(err, errlen, "'%s' holds profiles of another kind (version %u, window %.0f s)", path, u[0],
                 (double)wns / 1e9);
        goto out;
    }
    if (u[3] > p->max_hosts) {
        snprintf(err, errlen, "'%s' holds %u profiles, more than --max-profiles", path, u[3]);
        goto out;
    }
    v = u[3] ? malloc((size_t)u[3] * sizeof *v) : NULL;
    uint32_t crc;
    if (u[3] && !v) {
        rc = FS_ERR_NOMEM;
        snprintf(err, errlen, "out of memory for the profiles of '%s'", path);
        goto out;
    }
    int short_read = (u[3] && fread(v, sizeof *v, u[3], f) != u[3]) || fread(&crc, 4, 1, f) != 1;
    uint32_t want = fs_crc32c(0, head, sizeof head);
    if (!short_read && u[3]) want = fs_crc32c(want, v, (size_t)u[3] * sizeof *v);
    if (short_read || crc != want) {
        snprintf(err, errlen, "'%s' is damaged (truncated, or its checksum does not match)", path);
        goto out;
    }
    for (uint32_t i = 0; i < u[3]; i++) {
        int nomem = 0;
        struct fs_host_profile *pr = profile_get(p, v[i].host, v[i].ipver, &nomem);
        if (!pr) {
            rc = FS_ERR_NOMEM;
            snprintf(err, errlen, "out of memory for the profiles of '%s'", path);
            goto out;
        }
        *pr = v[i];
        (*loaded)++;
    }
    rc = FS_OK;
out:
    free(v);
    fclose(f);
    return rc;
}
