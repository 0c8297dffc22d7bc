/*
 * bench_erase.c - what erasure costs (include/evstore.h, "Erasure"): appends and reads
 * of events with a subject (data encrypted with AES-256-GCM under the subject's key)
 * against the same events without one, in the same run, on fresh stores:
 *
 *   appends: single events and batches of 100, sync none (so the figure is the CPU the
 *   encryption adds, not the disk) and sync always (what a durable append pays);
 *   1,000 subjects, their keys made before the clock starts, whose events come in runs
 *   of 100 or interleaved;
 *
 *   a whole-store forward read of each store (decryption per event);
 *
 *   the first event of a new subject (a key made and synced into the key file).
 *
 *   evs_bench_erase --dir DIR [--events N] [--reps R] [--quick]
 *
 * Repetitions of plain and encrypted runs alternate; medians are printed as one JSON
 * line per measurement with the ratio encrypted / plain. Runs without syncs are timed
 * in the process's CPU time, those with syncs in wall time.
 */
#define _GNU_SOURCE
#include "evstore.h"

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBJECTS 1000
#define BATCH    100

/* The shared machine runs other work: without syncs (the disk is not in the figure)
 * the CPU time the process used is a steadier clock than the wall. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_erase: %s: %s (%s)\n", what, evs_errname(rc), evs_errmsg());
    exit(1);
}

static int rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st, (void)f, (void)w;
    return remove(p);
}

static void rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* How customers follow one another: in runs of 100 events (a customer's events come
 * together, as in their own stream: one key set-up per run), or interleaved (each event
 * another customer's: a key set-up per event, the worst case). */
static bool interleaved;

/* A 200-byte order event, and metadata naming its customer: as the subject, or under
 * another key for the plain runs (the same bytes to store either way). */
static void make_event(char *data, size_t dlen, char *meta, size_t mlen, long i, bool subject)
{
    long customer = (interleaved ? i : i / 100) % SUBJECTS;
    snprintf(data, dlen,
             "{\"order\":%ld,\"customer\":\"user-%ld\",\"items\":[{\"sku\":\"A-1001\",\"qty\":2,"
             "\"price\":1999},{\"sku\":\"B-2002\",\"qty\":1,\"price\":4999}],\"total\":8997,"
             "\"currency\":\"EUR\",\"note\":\"deliver to the back door\"}",
             i, customer);
    snprintf(meta, mlen, "{\"%s\":\"user-%ld\"}", subject ? "subject" : "account", customer);
}

static evs_store *open_store(const char *dir, evs_sync_mode mode)
{
    rmtree(dir);
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = mode;
    evs_store *s;
    int rc = evs_open(&s, dir, &o);
    if (rc < 0)
        die("open", rc);
    return s;
}

/* Append n events in batches of `batch`; returns events per second. */
static double append_run(evs_store *s, long n, long batch, bool subject)
{
    static char data[BATCH][256], meta[BATCH][64];
    evs_event_in ev[BATCH];
    double t0 = now_s();
    for (long i = 0; i < n; i += batch) {
        long k = n - i < batch ? n - i : batch;
        for (long j = 0; j < k; j++) {
            make_event(data[j], sizeof data[j], meta[j], sizeof meta[j], i + j, subject);
            ev[j] = (evs_event_in){"OrderPlaced", data[j], strlen(data[j]), meta[j],
                                   strlen(meta[j]), NULL, 0};
        }
        int rc = evs_append(NULL, s, "orders", EVS_EXPECT_ANY, ev, (size_t)k);
        if (rc < 0)
            die("append", rc);
    }
    return (double)n / (now_s() - t0);
}

/* Every subject's key made before timing: the steady state of a store in use. */
static void warm_keys(evs_store *s, bool subject)
{
    if (append_run(s, SUBJECTS, BATCH, subject) <= 0)
        exit(1);
}

static double read_run(evs_store *s, long expect)
{
    double t0 = now_s();
    evs_cursor *c;
    int rc = evs_cursor_open(&c, s, NULL);
    if (rc < 0)
        die("cursor", rc);
    evs_event ev;
    long n = 0;
    size_t bytes = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        n++;
        bytes += ev.data_len;
    }
    evs_cursor_close(c);
    if (rc < 0 || n != expect || bytes == 0)
        die("read", rc < 0 ? rc : EVS_ECORRUPT);
    return (double)n / (now_s() - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct pair {
    const char *name;
    long batch;
    evs_sync_mode mode;
    long events;
    bool interleaved;
    bool read_after; /* also read the store back whole */
} pair;

int main(int argc, char **argv)
{
    const char *base = NULL;
    long events = 200000;
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            base = argv[++i];
        else if (strcmp(argv[i], "--events") == 0 && i + 1 < argc)
            events = atol(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            events = 50000, reps = 3;
        else {
            fprintf(stderr, "usage: evs_bench_erase --dir DIR [--events N] [--reps R] "
                            "[--quick]\n");
            return 2;
        }
    }
    if (!base || events < BATCH || reps < 1 || reps > 99) {
        fprintf(stderr, "evs_bench_erase: --dir is required; --events >= 100; --reps 1..99\n");
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/erase-bench", base);
    /* Durable single appends are slow (one sync each): fewer of them. */
    const pair runs[] = {
        {"append_1_sync_none", 1, EVS_SYNC_NONE, events, false, false},
        {"append_100_sync_none", BATCH, EVS_SYNC_NONE, events, false, true},
        {"append_100_sync_none_interleaved", BATCH, EVS_SYNC_NONE, events, true, true},
        {"append_1_sync_always", 1, EVS_SYNC_ALWAYS, 2000, false, false},
        {"append_100_sync_always", BATCH, EVS_SYNC_ALWAYS, events / 5, false, false},
    };
    printf("{\"bench\":\"erase\",\"events\":%ld,\"reps\":%d,\"subjects\":%d}\n", events, reps,
           SUBJECTS);
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        double plain[99], sealed[99], read_plain[99], read_sealed[99];
        interleaved = runs[r].interleaved;
        for (int k = 0; k < reps; k++) {
            for (int enc = 0; enc < 2; enc++) {
                clock_id = runs[r].mode == EVS_SYNC_NONE ? CLOCK_PROCESS_CPUTIME_ID
                                                          : CLOCK_MONOTONIC;
                evs_store *s = open_store(dir, runs[r].mode);
                warm_keys(s, enc);
                double rate = append_run(s, runs[r].events, runs[r].batch, enc);
                (enc ? sealed : plain)[k] = rate;
                if (runs[r].read_after)
                    (enc ? read_sealed : read_plain)[k] =
                        read_run(s, runs[r].events + SUBJECTS);
                evs_close(s);
            }
        }
        double mp = median(plain, reps), ms = median(sealed, reps);
        printf("{\"workload\":\"%s\",\"plain\":%.0f,\"encrypted\":%.0f,\"unit\":\"%s\","
               "\"ratio\":%.3f}\n",
               runs[r].name, mp, ms,
               runs[r].mode == EVS_SYNC_NONE ? "events/cpu-s" : "events/s", ms / mp);
        if (runs[r].read_after) {
            mp = median(read_plain, reps);
            ms = median(read_sealed, reps);
            printf("{\"workload\":\"read_all%s\",\"plain\":%.0f,\"encrypted\":%.0f,"
                   "\"unit\":\"events/cpu-s\",\"ratio\":%.3f}\n",
                   interleaved ? "_interleaved" : "", mp, ms, ms / mp);
        }
    }

    /* A new subject's first event: its key is made and synced into the key file. */
    double first[99];
    clock_id = CLOCK_MONOTONIC;
    interleaved = false;
    for (int k = 0; k < reps; k++) {
        evs_store *s = open_store(dir, EVS_SYNC_NONE);
        warm_keys(s, true);
        char data[256], meta[64];
        double t0 = now_s();
        for (long i = 0; i < 100; i++) {
            make_event(data, sizeof data, meta, sizeof meta, i, true);
            snprintf(meta, sizeof meta, "{\"subject\":\"new-%ld\"}", i);
            evs_event_in ev = {"OrderPlaced", data, strlen(data), meta, strlen(meta), NULL, 0};
            int rc = evs_append(NULL, s, "orders", EVS_EXPECT_ANY, &ev, 1);
            if (rc < 0)
                die("append", rc);
        }
        first[k] = (now_s() - t0) / 100 * 1e6;
        evs_close(s);
    }
    printf("{\"workload\":\"first_event_of_new_subject\",\"median\":%.0f,\"unit\":\"us\"}\n",
           median(first, reps));
    rmtree(dir);
    return 0;
}
