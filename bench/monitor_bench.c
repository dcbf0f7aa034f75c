/*
 * monitor_bench.c - flow updates into per-host window statistics (src/monitor), measured alone.
 *
 *   monitor_bench HOSTS UPDATES [WINDOWS [PEERS]]
 *
 * Feeds UPDATES flow records between HOSTS monitored hosts (10.0.0.0/8) and PEERS outside peers (default
 * 1,000,000), with random ports and sizes, 50,000 records per second of event time, to fs_monitor_flows() with
 * windows WINDOWS (default 10s,30s,1m,5m,1h). Prints CPU seconds, records per CPU second, the monitor's peak
 * memory and the host records out. A pool of at most 1,000,000 records is generated before the clock starts
 * and used over and over with new times (20 s of event time apart, so each window's conversations are
 * distinct), so that long runs reach the steady state (maps grown, memory reused) without gigabytes of input.
 * Run by bench/monitor_bench.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/monitor.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t records;
static void on_rec(void *arg, int level, const struct fs_host_window *r)
{
    (void)arg;
    (void)level;
    (void)r;
    records++;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: monitor_bench HOSTS UPDATES [WINDOWS [PEERS]]\n");
        return 2;
    }
    uint64_t hosts = strtoull(argv[1], NULL, 10), n = strtoull(argv[2], NULL, 10);
    uint64_t peers = argc > 4 ? strtoull(argv[4], NULL, 10) : 1000000;
    struct fs_monitor_opts o;
    fs_monitor_opts_default(&o);
    if (argc > 3) {
        o.nwindows = 0;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", argv[3]);
        for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *end;
            double v = strtod(t, &end);
            uint64_t mul = *end == 'm' ? 60 : *end == 'h' ? 3600 : 1;
            o.windows_ns[o.nwindows++] = (uint64_t)(v * (double)mul * 1e9);
        }
    }
    struct fs_prefix net;
    fs_prefix_parse("10.0.0.0/8", &net);
    o.prefixes = &net;
    o.nprefixes = 1;
    uint64_t pool = n < 1000000 ? n : 1000000;
    struct fs_flow *v = calloc(pool, sizeof *v);
    uint64_t *age = calloc(pool, sizeof *age);
    if (!v || !age) return 1;
    uint64_t t0 = 1700000000ull * 1000000000ull;
    for (uint64_t i = 0; i < pool; i++) {
        struct fs_flow *f = &v[i];
        uint32_t h = (uint32_t)(rnd() % hosts), p = (uint32_t)(rnd() % peers);
        uint8_t ha[4] = { 10, (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h };
        uint8_t pa[4] = { 100 + (uint8_t)(p >> 24 & 63), (uint8_t)(p >> 16), (uint8_t)(p >> 8), (uint8_t)p };
        int out = rnd() & 1;
        memcpy(f->key.a, out ? ha : pa, 4);
        memcpy(f->key.b, out ? pa : ha, 4);
        f->key.pa = (uint16_t)(1024 + rnd() % 60000);
        static const uint16_t svc[] = { 80, 443, 53, 22, 25, 123, 3389, 8080 };
        f->key.pb = rnd() % 4 ? svc[rnd() % 8] : (uint16_t)(rnd() % 65536);
        f->key.proto = f->key.pb == 53 || f->key.pb == 123 ? 17 : 6;
        f->key.ipver = 4;
        age[i] = rnd() % 5000000000ull; /* duration */
        f->dir[0].packets = 1 + rnd() % 20;
        f->dir[0].bytes = f->dir[0].packets * (40 + rnd() % 1400);
        f->dir[1].packets = rnd() % 20;
        f->dir[1].bytes = f->dir[1].packets * (40 + rnd() % 1400);
        f->dir[0].flags[FS_TCP_ACK] = (uint32_t)f->dir[0].packets;
    }
    struct fs_monitor m;
    if (fs_monitor_init(&m, &o, on_rec, NULL) != FS_OK) return 1;
    double c0 = cpu_now();
    for (uint64_t i = 0; i < n; i += 256) {
        uint64_t at = i % pool, k = n - i < 256 ? n - i : 256;
        if (k > pool - at) k = pool - at;
        for (uint64_t j = 0; j < k; j++) { /* 50,000 records a second */
            v[at + j].last_ns = t0 + (i + j) * 20000;
            v[at + j].first_ns = v[at + j].last_ns - age[at + j];
        }
        if (fs_monitor_flows(&m, &v[at], k, 0) != FS_OK) return 1;
        i -= 256 - k; /* a batch cut by the pool's end goes on from its start */
    }
    fs_monitor_finish(&m);
    double cpu = cpu_now() - c0;
    printf("hosts %llu updates %llu cpu_s %.3f per_cpu_s %.0f ns_each %.1f bytes_peak %llu records %llu "
           "host_windows_max %llu\n",
           (unsigned long long)hosts, (unsigned long long)n, cpu, (double)n / cpu, cpu * 1e9 / (double)n,
           (unsigned long long)m.stats.bytes_peak, (unsigned long long)records,
           (unsigned long long)m.stats.records[o.nwindows - 1]);
    fs_monitor_release(&m);
    free(v);
    free(age);
    return 0;
}
