/*
 * profile.h - long-term host profiles: what each host usually does at each hour of the week, and how far a
 * window departs from it.
 *
 * For every profiled host and each of FS_PROFILE_METRICS metrics (flows, bytes, distinct peers and distinct
 * ports, sent and received), one exponentially weighted mean and variance per hour of the week (168 slots:
 * hour of day by day of week, UTC), of log(1 + value) of the windows of one length (the profile window).
 * Logarithms, because traffic is heavy-tailed: a host that usually sends 1 MB and now sends 10 MB departs as
 * far as one that usually sends 1 kB and now sends 10 kB. A window where the host was silent counts as zeros
 * (filled in when it is next seen, up to a week of windows).
 *
 * Each window of the profile length is scored before it updates its slot: z = |x - mean| / sqrt(var + 0.25)
 * per metric (the floor keeps a constant history from making every change infinite), the largest z goes
 * into the record's `deviation` (hundredths) with its metric. A slot scores only after FS_PROFILE_WARMUP
 * windows have updated it; before that the deviation is 0. Only windows newer than the last one learnt
 * update a profile (a capture read again is scored, not learnt twice).
 *
 * Profiles are saved as one file (profile file format in docs/flowsift-monitor.md; written to a temporary
 * name, fsynced and renamed, checksummed) and loaded at the next start, so they survive restarts.
 *
 * Memory: sizeof(struct fs_host_profile) (about 11 KB) per profiled host; at most `max_hosts` hosts, the rest
 * are counted as refused and not scored.
 *
 * Ownership: the profiles own their arrays; fs_profiles_free() releases them.
 */
#ifndef FS_PROFILE_H
#define FS_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/bmap.h"
#include "../util/result.h"
#include "hostrec.h"

enum fs_host_metric {
    FS_METRIC_NONE = 0,
    FS_METRIC_OUT_FLOWS, FS_METRIC_OUT_BYTES, FS_METRIC_OUT_PEERS, FS_METRIC_OUT_PORTS,
    FS_METRIC_IN_FLOWS, FS_METRIC_IN_BYTES, FS_METRIC_IN_PEERS, FS_METRIC_IN_PORTS,
    FS_METRIC_END
};
#define FS_PROFILE_METRICS (FS_METRIC_END - 1)
#define FS_PROFILE_SLOTS 168
#define FS_PROFILE_WARMUP 3

const char *fs_host_metric_name(unsigned m);

struct fs_host_profile {
    uint8_t host[16];
    uint8_t ipver;
    uint8_t pad[7];
    uint64_t last_idx;                      /* window index (start / length) of the last update */
    uint16_t n[FS_PROFILE_SLOTS];           /* updates of each slot (saturating) */
    float mean[FS_PROFILE_SLOTS][FS_PROFILE_METRICS];
    float var[FS_PROFILE_SLOTS][FS_PROFILE_METRICS];
};

struct fs_profiles {
    uint64_t window_ns;                     /* the profile window length */
    double alpha;                           /* weight of a new window (default 0.1) */
    uint64_t max_hosts;
    struct fs_bmap index;                   /* host key -> uint32 index into v */
    struct fs_host_profile *v;              /* owned */
    uint32_t n, cap;
    uint64_t refused;                       /* records not scored: max_hosts profiles exist */
    uint64_t scored;                        /* records with a deviation (the slot was warm) */
};

void fs_profiles_init(struct fs_profiles *p, uint64_t window_ns, double alpha, uint64_t max_hosts);
void fs_profiles_free(struct fs_profiles *p);

/* Scores a record of the profile window length (sets deviation and deviation_metric) and learns from it.
 * FS_ERR_NOMEM without memory (the record is then left unscored). */
fs_result fs_profiles_apply(struct fs_profiles *p, struct fs_host_window *rec);

/* The profile of a host, or NULL. */
const struct fs_host_profile *fs_profiles_find(const struct fs_profiles *p, const uint8_t host[16], uint8_t ipver);

/* Writes every profile to path (atomically). */
fs_result fs_profiles_save(const struct fs_profiles *p, const char *path, char *err, size_t errlen);
/* Reads profiles saved for the same window length; a missing file is no error (*loaded = 0). A file of
 * another window length, or damaged, is an error that names it (the caller may start afresh). */
fs_result fs_profiles_load(struct fs_profiles *p, const char *path, uint64_t *loaded, char *err, size_t errlen);

#endif
