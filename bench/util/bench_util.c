/*
 * bench_util.c - micro-benchmarks of src/util. Prints one JSON object per line:
 *   {"bench":"crc32c","impl":"hw","bytes":4096,"gb_per_s":...}
 *   {"bench":"hash64","bytes":16,"ns_per_op":...}
 *   {"bench":"uuid_v4","ns_per_op":...}
 *   {"bench":"time_format","ns_per_op":...}   (and time_parse)
 * Each figure is the best of several timed rounds, so a noisy neighbour inflates nothing.
 * --quick runs fewer rounds.
 */
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink; /* keeps results alive so nothing is optimised away */

static int rounds = 7;
static double target_ns = 2e8; /* per round */

typedef uint64_t (*bench_fn)(void *ctx, uint64_t iters);

/* Best ns per iteration over `rounds` rounds of about target_ns each. */
static double best_ns_per_iter(bench_fn fn, void *ctx)
{
    uint64_t iters = 1;
    for (;;) {
        int64_t t0 = evs__monotonic_ns();
        sink += fn(ctx, iters);
        int64_t dt = evs__monotonic_ns() - t0;
        if (dt > 20000000)
            break;
        iters *= 2;
    }
    int64_t t0 = evs__monotonic_ns();
    sink += fn(ctx, iters);
    double per = (double)(evs__monotonic_ns() - t0) / (double)iters;
    uint64_t n = (uint64_t)(target_ns / per) + 1;
    double best = per;
    for (int r = 0; r < rounds; r++) {
        t0 = evs__monotonic_ns();
        sink += fn(ctx, n);
        double v = (double)(evs__monotonic_ns() - t0) / (double)n;
        if (v < best)
            best = v;
    }
    return best;
}

struct crc_ctx {
    const unsigned char *buf;
    size_t len;
    bool sw;
};

static uint64_t run_crc(void *arg, uint64_t iters)
{
    const struct crc_ctx *c = arg;
    uint32_t crc = 0;
    for (uint64_t i = 0; i < iters; i++)
        crc = c->sw ? evs__crc32c_sw(crc, c->buf, c->len) : evs__crc32c(crc, c->buf, c->len);
    return crc;
}

/* 1024 distinct 16-byte keys, cycled, so each call hashes a key already in cache without
 * a store to it just before (which would measure store forwarding, not the hash). */
static unsigned char hash_keys[1024][16];

static uint64_t run_hash16(void *arg, uint64_t iters)
{
    (void)arg;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < iters; i++)
        acc += evs__hash64(hash_keys[i & 1023], 16);
    return acc;
}

static uint64_t run_uuid(void *arg, uint64_t iters)
{
    (void)arg;
    unsigned char id[16];
    uint64_t acc = 0;
    for (uint64_t i = 0; i < iters; i++) {
        if (evs__uuid_v4(id) != 0)
            abort();
        acc += id[0];
    }
    return acc;
}

static uint64_t run_time_format(void *arg, uint64_t iters)
{
    (void)arg;
    char buf[32];
    uint64_t acc = 0;
    int64_t ts = 1795435200000000001LL;
    for (uint64_t i = 0; i < iters; i++) {
        acc += evs__time_format(buf, sizeof buf, ts + (int64_t)i * 1000003);
        acc += (unsigned char)buf[28];
    }
    return acc;
}

static uint64_t run_time_parse(void *arg, uint64_t iters)
{
    (void)arg;
    static const char text[] = "2026-11-23T12:00:00.000000001Z";
    uint64_t acc = 0;
    for (uint64_t i = 0; i < iters; i++) {
        int64_t ts;
        if (evs__time_parse(&ts, text, sizeof text - 1) != 0)
            abort();
        acc += (uint64_t)ts;
    }
    return acc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
        rounds = 2;
        target_ns = 3e7;
    }
    static const size_t sizes[] = {64, 256, 4096, 1 << 20};
    size_t max = sizes[sizeof sizes / sizeof sizes[0] - 1];
    unsigned char *buf = malloc(max);
    if (buf == NULL)
        return 1;
    for (size_t i = 0; i < max; i++)
        buf[i] = (unsigned char)(i * 131 + 7);

    uint32_t probe;
    bool have_hw = evs__crc32c_hw(&probe, 0, buf, 1);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int sw = 0; sw < 2; sw++) {
            struct crc_ctx c = {buf, sizes[s], sw == 1};
            double ns = best_ns_per_iter(run_crc, &c);
            printf("{\"bench\":\"crc32c\",\"impl\":\"%s\",\"bytes\":%zu,\"ns_per_op\":%.2f,"
                   "\"gb_per_s\":%.2f}\n",
                   sw ? "sw" : (have_hw ? "hw" : "sw-default"), sizes[s], ns,
                   (double)sizes[s] / ns);
        }
    }

    for (int k = 0; k < 1024; k++) {
        char name[17];
        (void)snprintf(name, sizeof name, "order-%010d", k * 7919);
        memcpy(hash_keys[k], name, 16);
    }
    printf("{\"bench\":\"hash64\",\"bytes\":16,\"ns_per_op\":%.2f}\n",
           best_ns_per_iter(run_hash16, NULL));
    printf("{\"bench\":\"uuid_v4\",\"ns_per_op\":%.2f}\n", best_ns_per_iter(run_uuid, NULL));
    printf("{\"bench\":\"time_format\",\"ns_per_op\":%.2f}\n",
           best_ns_per_iter(run_time_format, NULL));
    printf("{\"bench\":\"time_parse\",\"ns_per_op\":%.2f}\n",
           best_ns_per_iter(run_time_parse, NULL));
    free(buf);
    return (int)(sink & 0);
}
