/*
 * bench_core.c - the first evstore benchmark: append N events (~100-byte JSON payload,
 * 10,000 streams "order-<k>", type ItemAdded) in batches, then replay them all in
 * position order touching every payload byte, and read some streams whole.
 * Prints one JSON line per measurement (median of the repetitions, min, max).
 *
 *   evs_bench_core [--events N] [--batch B] [--reps R] [--sync none|batch|always]
 *                  [--dir DIR] [--quick] [--only append|replay|streams]
 *
 * The side-by-side suite against SQLite, LMDB and PostgreSQL is a separate driver;
 * this one tracks evstore's own speed.
 */
#define _GNU_SOURCE
#include "bench_common.h"
#include "evstore.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STREAMS 10000

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench: %s: %s (%s)\n", what, evs_errname(rc), evs_errmsg());
    exit(1);
}

static void report(const char *name, const char *unit, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bc_cmp_double);
    printf("{\"bench\":\"%s\",\"unit\":\"%s\",\"median\":%.0f,\"min\":%.0f,\"max\":%.0f,"
           "\"reps\":%d}\n",
           name, unit, v[n / 2], v[0], v[n - 1], n);
    fflush(stdout);
}

/* Deterministic stream choice. */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    return bc_rnd(&rng_state);
}

int main(int argc, char **argv)
{
    long events = 1000000, batch = 1000;
    int reps = 3;
    evs_sync_mode sync = EVS_SYNC_NONE;
    const char *base = "/tmp";
    const char *only = NULL; /* run the append always (it builds the store), time one phase */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            events = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            base = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--quick"))
            events = 200000;
        else if (!strcmp(argv[i], "--sync") && i + 1 < argc) {
            const char *m = argv[++i];
            sync = !strcmp(m, "always") ? EVS_SYNC_ALWAYS
                   : !strcmp(m, "batch") ? EVS_SYNC_BATCH
                                         : EVS_SYNC_NONE;
        } else {
            fprintf(stderr, "usage: %s [--events N] [--batch B] [--reps R] [--sync MODE] "
                            "[--dir DIR] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (events < batch || batch < 1 || reps < 1)
        return 2;
    if (reps > 15)
        reps = 15;

    /* Payloads: ~100 bytes of JSON each, one per stream slot, built once. */
    char (*payload)[128] = malloc(sizeof *payload * STREAMS);
    char (*names)[32] = malloc(sizeof *names * STREAMS);
    size_t *plen = malloc(sizeof *plen * STREAMS);
    for (int k = 0; k < STREAMS; k++) {
        snprintf(names[k], sizeof names[k], "order-%d", k);
        plen[k] = (size_t)snprintf(payload[k], sizeof payload[k],
                                   "{\"orderId\":\"order-%05d\",\"sku\":\"SKU-%04d\",\"qty\":%d,"
                                   "\"price\":%d.99,\"note\":\"gift wrap please\"}",
                                   k, k % 9973, k % 7 + 1, k % 100);
    }
    evs_event_in *ev = calloc((size_t)batch, sizeof *ev);
    evs_batch_in *bi = calloc((size_t)batch, sizeof *bi);

    double append_rate[15], replay_rate[15], replay_bytes[15], stream_rate[15];
    double append_cpu[15], replay_cpu[15];
    for (int r = 0; r < reps; r++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/evs-bench-%d-%d", base, (int)getpid(), r);
        evs_options o = EVS_OPTIONS_INIT;
        o.sync_mode = sync;
        evs_store *s;
        int rc = evs_open(&s, dir, &o);
        if (rc < 0)
            die("open", rc);

        /* Append: each batch is one evs_append_multi of `batch` one-event batches to
         * random streams, so every batch is one atomic write and (per mode) one sync. */
        double t0 = bc_now_s(), c0 = bc_cpu_s();
        for (long done = 0; done < events; done += batch) {
            for (long i = 0; i < batch; i++) {
                int k = (int)(rnd() % STREAMS);
                ev[i].type = "ItemAdded";
                ev[i].data = payload[k];
                ev[i].data_len = plen[k];
                bi[i].stream = names[k];
                bi[i].expected_version = EVS_EXPECT_ANY;
                bi[i].events = &ev[i];
                bi[i].count = 1;
            }
            if ((rc = evs_append_multi(NULL, s, bi, (size_t)batch)) < 0)
                die("append", rc);
        }
        double t1 = bc_now_s();
        append_rate[r] = (double)events / (t1 - t0);
        append_cpu[r] = (double)events / (bc_cpu_s() - c0);

        /* Replay: every event in position order, summing every payload byte. */
        evs_cursor *c;
        evs_event e;
        uint64_t sum = 0, n = 0, bytes = 0;
        replay_rate[r] = replay_bytes[r] = stream_rate[r] = 0;
        if (only && strcmp(only, "replay") != 0)
            goto streams;
        if ((rc = evs_cursor_open(&c, s, NULL)) < 0)
            die("cursor", rc);
        t0 = bc_now_s();
        c0 = bc_cpu_s();
        while ((rc = evs_cursor_next(&e, c)) > 0) {
            sum += bc_touch(e.data, e.data_len);
            bytes += e.data_len;
            n++;
        }
        t1 = bc_now_s();
        replay_cpu[r] = (double)n / (bc_cpu_s() - c0);
        if (rc < 0 || n != (uint64_t)events)
            die("replay", rc);
        evs_cursor_close(c);
        replay_rate[r] = (double)n / (t1 - t0);
        replay_bytes[r] = (double)bytes / (t1 - t0) / 1e6;

    streams:
        /* Streams: read 10,000 random streams whole, in version order. */
        if (only && strcmp(only, "streams") != 0)
            goto done;
        t0 = bc_now_s();
        for (int i = 0; i < STREAMS; i++) {
            evs_query q = EVS_QUERY_INIT;
            q.stream = names[rnd() % STREAMS];
            if ((rc = evs_cursor_open(&c, s, &q)) < 0)
                die("stream cursor", rc);
            while ((rc = evs_cursor_next(&e, c)) > 0)
                sum += (unsigned char)e.data[0];
            if (rc < 0)
                die("stream read", rc);
            evs_cursor_close(c);
        }
        t1 = bc_now_s();
        stream_rate[r] = STREAMS / (t1 - t0);
    done:
        if (sum == 42)
            printf("#\n"); /* keeps the sums alive */
        evs_close(s);
        bc_rmtree(dir);
    }
    const char *mode = sync == EVS_SYNC_ALWAYS ? "always" : sync == EVS_SYNC_BATCH ? "batch" : "none";
    char name[96];
    snprintf(name, sizeof name, "append_%ld_batch%ld_sync_%s", events, batch, mode);
    report(name, "events/s", append_rate, reps);
    strcat(name, "_per_cpu_second");
    report(name, "events/s", append_cpu, reps);
    if (!only || !strcmp(only, "replay")) {
        report("replay_all_forward", "events/s", replay_rate, reps);
        report("replay_all_forward_per_cpu_second", "events/s", replay_cpu, reps);
        report("replay_all_forward_payload", "MB/s", replay_bytes, reps);
    }
    if (!only || !strcmp(only, "streams"))
        report("read_stream_whole", "streams/s", stream_rate, reps);
    free(payload);
    free(names);
    free(plen);
    free(ev);
    free(bi);
    return 0;
}
