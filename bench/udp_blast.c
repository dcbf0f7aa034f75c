/*
 * udp_blast.c - the benchmark's UDP exporter stand-in (bench/collect_bench.sh). Not part of flowsift.
 *
 *   udp_blast record PORT FILE     receive datagrams on 127.0.0.1:PORT until none came for 2 s, append each to
 *                                  FILE (IPFIX messages carry their own length, so FILE is an IPFIX file)
 *   udp_blast send FILE PORT [N [K [RATE]]]  send FILE's IPFIX messages to 127.0.0.1:PORT as datagrams, N times
 *                                  over (default 1), from K sockets (K exporters, default 1: each sends every
 *                                  message, in turn), as fast as the sockets take them or, with RATE, at RATE
 *                                  datagrams per second in all; prints datagrams and seconds
 *
 * build: cc -O2 -o udp_blast udp_blast.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: udp_blast record PORT FILE | send FILE PORT [N [K [RATE]]]\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int big = 256 << 20;
    if (strcmp(argv[1], "record") == 0) {
        a.sin_port = htons((uint16_t)atoi(argv[2]));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("bind");
            return 1;
        }
        FILE *out = fopen(argv[3], "wb");
        if (!out) {
            perror(argv[3]);
            return 1;
        }
        static unsigned char buf[65536];
        unsigned long n = 0;
        struct pollfd p = { fd, POLLIN, 0 };
        int timeout = 30000; /* the first one may take a while */
        while (poll(&p, 1, timeout) > 0) {
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r > 0) {
                fwrite(buf, 1, (size_t)r, out);
                n++;
            }
            timeout = 2000;
        }
        fclose(out);
        fprintf(stderr, "recorded %lu datagrams\n", n);
        return 0;
    }
    FILE *in = fopen(argv[2], "rb");
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    fseek(in, 0, SEEK_END);
    long len = ftell(in);
    fseek(in, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)len);
    if (!data || fread(data, 1, (size_t)len, in) != (size_t)len) return 1;
    fclose(in);
    a.sin_port = htons((uint16_t)atoi(argv[3]));
    int times = argc > 4 ? atoi(argv[4]) : 1, nsock = argc > 5 ? atoi(argv[5]) : 1;
    double rate = argc > 6 ? atof(argv[6]) : 0;
    if (nsock < 1 || nsock > 256) nsock = 1;
    int fds[256];
    fds[0] = fd;
    for (int i = 1; i < nsock; i++) fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < nsock; i++) {
        if (connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0) {
            perror("connect");
            return 1;
        }
        setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    }
    unsigned long sent = 0;
    double t0 = now();
    for (int k = 0; k < times; k++)
        for (long off = 0; off + 4 <= len;) {
            long m = data[off + 2] << 8 | data[off + 3];
            if (m < 16 || off + m > len) break;
            for (int i = 0; i < nsock; i++)
                if (send(fds[i], data + off, (size_t)m, 0) == m) sent++;
            off += m;
            if (rate > 0) { /* paced: wait until the time the datagrams sent so far are due */
                double due = t0 + (double)sent / rate, ahead;
                while ((ahead = due - now()) > 0) {
                    if (ahead > 200e-6) {
                        struct timespec ts = { 0, (long)((ahead - 100e-6) * 1e9) };
                        nanosleep(&ts, NULL);
                    }
                }
            }
        }
    printf("%lu %.3f\n", sent, now() - t0);
    return 0;
}
