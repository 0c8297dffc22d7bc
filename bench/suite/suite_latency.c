/*
 * suite_latency.c - W8: append-to-delivery latency through a subscription, in one
 * process (an appender thread, a subscriber thread) and across processes (the runner
 * appends, a child process subscribes). Sync mode none: what is measured is the
 * notification path, not the disk.
 *
 * The appender writes one event every cfg.w8_gap_us, each carrying its send time
 * (CLOCK_MONOTONIC, system-wide, so it holds across processes); the subscriber takes
 * the clock when the event is handed to it. The gap lets the subscriber go back to
 * sleep between events, so each delivery includes a wake-up: the case of a subscriber
 * waiting for work, not of one streaming through a backlog. The first WARMUP deliveries
 * (first touches of the store's pages, connection caches) are left out.
 *
 * Engines with a push mechanism bring a feed (suite.h): evstore's subscription
 * (suite_feed_evstore.c) and PostgreSQL's LISTEN/NOTIFY (suite_pg_notify.c). SQLite and
 * LMDB have none.
 */
#define _GNU_SOURCE
#include "suite_run.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WARMUP          20
#define READ_TIMEOUT_MS 10000

size_t suite_feed_payload(char *buf, size_t cap, uint64_t i, int64_t sent_ns)
{
    int n =
        snprintf(buf, cap,
                 "{\"orderId\":\"order-%05u\",\"sku\":\"SKU-%04u\",\"qty\":%u,\"price\":%u.%02u,"
                 "\"currency\":\"EUR\",\"t\":%lld}",
                 (unsigned)(i % 10000), (unsigned)(i * 7919 % 10000), (unsigned)(i % 9 + 1),
                 (unsigned)(i % 500), (unsigned)(i % 100), (long long)sent_ns);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int64_t suite_feed_sent_ns(const char *data, size_t len)
{
    /* "t" is the last field: the digits just before the closing brace. */
    if (len < 2 || data[len - 1] != '}')
        return -1;
    size_t i = len - 1;
    int64_t v = 0, scale = 1;
    while (i > 0 && data[i - 1] >= '0' && data[i - 1] <= '9' && scale <= 1000000000000000000) {
        v += (data[i - 1] - '0') * scale;
        scale *= 10;
        i--;
    }
    if (i < 4 || memcmp(data + i - 4, "\"t\":", 4) != 0)
        return -1;
    return v;
}

typedef struct lat_stats {
    double p50, p99, max; /* µs */
} lat_stats;

static int stats(double *lat_us, size_t n, lat_stats *out)
{
    if (n <= WARMUP)
        return -1;
    lat_us += WARMUP, n -= WARMUP;
    qsort(lat_us, n, sizeof *lat_us, suite_cmp_double);
    out->p50 = lat_us[n / 2];
    out->p99 = lat_us[n * 99 / 100];
    out->max = lat_us[n - 1];
    return 0;
}

/* n events from the subscriber, each one's latency in lat_us. */
static int collect(const suite_feed *f, void *r, size_t n, double *lat_us)
{
    for (size_t i = 0; i < n; i++) {
        int64_t sent;
        int rc = f->read(r, &sent, READ_TIMEOUT_MS);
        if (rc != 1) {
            fprintf(stderr, "suite: %s: W8 subscriber got %zu of %zu events (%s)\n", f->name, i, n,
                    rc == 0 ? "timed out" : "error");
            return SUITE_ERR;
        }
        lat_us[i] = (double)(suite_mono_ns() - sent) / 1e3;
    }
    return SUITE_OK;
}

/* One event every cfg.w8_gap_us; a late start never turns into a burst. */
static int write_paced(const suite_feed *f, void *w, size_t n)
{
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (size_t i = 0; i < n; i++) {
        next.tv_nsec += (long)cfg.w8_gap_us * 1000;
        while (next.tv_nsec >= 1000000000L)
            next.tv_nsec -= 1000000000L, next.tv_sec++;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        int64_t sent = suite_mono_ns();
        if (f->write(w, i, sent) != SUITE_OK)
            return SUITE_ERR;
        if (sent > (int64_t)next.tv_sec * 1000000000 + next.tv_nsec)
            next = (struct timespec){sent / 1000000000, sent % 1000000000};
    }
    return SUITE_OK;
}

static double record(engine *e, int rep, double *lat_us, size_t n)
{
    lat_stats s;
    if (stats(lat_us, n, &s) != 0)
        return -1;
    e->aux[0][rep] = s.p99;
    e->aux[1][rep] = s.max;
    return s.p50;
}

/* ---- in one process ---- */

typedef struct sub_thread {
    const suite_feed *f;
    const char *target;
    void *writer; /* shared with the subscriber when the feed can */
    size_t n;
    double *lat_us;
    pthread_barrier_t *ready;
    int rc;
} sub_thread;

static void *sub_run(void *arg)
{
    sub_thread *a = arg;
    void *r = NULL;
    a->rc = a->f->reader_open_shared ? a->f->reader_open_shared(&r, a->writer)
                                     : a->f->reader_open(&r, a->target);
    pthread_barrier_wait(a->ready);
    if (a->rc == SUITE_OK) {
        a->rc = collect(a->f, r, a->n, a->lat_us);
        a->f->reader_close(r);
    }
    return NULL;
}

static double m_inproc(engine *e, int rep)
{
    const suite_feed *f = e->d->feed;
    char target[4096];
    void *w;
    suite_store_dir(target, sizeof target, e, "w8-inproc", rep);
    if (f->prepare(target) != SUITE_OK)
        return -1;
    double *lat = malloc(cfg.w8_events * sizeof *lat), rate = -1;
    if (lat && f->writer_open(&w, target) == SUITE_OK) {
        pthread_barrier_t ready;
        pthread_barrier_init(&ready, NULL, 2);
        sub_thread a = {f, target, w, cfg.w8_events, lat, &ready, SUITE_ERR};
        pthread_t tid;
        if (pthread_create(&tid, NULL, sub_run, &a) == 0) {
            pthread_barrier_wait(&ready);
            int rc = a.rc == SUITE_OK ? write_paced(f, w, cfg.w8_events) : SUITE_ERR;
            pthread_join(tid, NULL);
            if (rc == SUITE_OK && a.rc == SUITE_OK)
                rate = record(e, rep, lat, cfg.w8_events);
        }
        pthread_barrier_destroy(&ready);
        f->writer_close(w);
    }
    free(lat);
    f->cleanup(target);
    return rate;
}

/* ---- across processes ---- */

static double m_xproc(engine *e, int rep)
{
    const suite_feed *f = e->d->feed;
    char target[4096], n[32], line[256];
    void *w;
    suite_store_dir(target, sizeof target, e, "w8-xproc", rep);
    snprintf(n, sizeof n, "%zu", cfg.w8_events);
    if (f->prepare(target) != SUITE_OK)
        return -1;
    double rate = -1;
    if (f->writer_open(&w, target) == SUITE_OK) {
        const char *const args[] = {"subscribe", e->d->name, target, n, NULL};
        suite_child c;
        if (suite_child_start(&c, args) == 0) {
            lat_stats s;
            int ok = suite_child_line(&c, line, sizeof line) == 0 && !strcmp(line, "ready") &&
                     write_paced(f, w, cfg.w8_events) == SUITE_OK &&
                     suite_child_line(&c, line, sizeof line) == 0 &&
                     sscanf(line, "%lf %lf %lf", &s.p50, &s.p99, &s.max) == 3;
            if (suite_child_finish(&c) == 0 && ok) {
                e->aux[0][rep] = s.p99;
                e->aux[1][rep] = s.max;
                rate = s.p50;
            }
        }
        f->writer_close(w);
    }
    f->cleanup(target);
    return rate;
}

/* The child: subscribe ENGINE TARGET N. Prints "ready" once subscribed, then
 * "p50 p99 max" (µs) after N events. */
int suite_latency_child(int argc, char **argv)
{
    const suite_driver *d = argc == 3 ? suite_driver_named(argv[0]) : NULL;
    if (!d || !d->feed)
        return 2;
    size_t n = strtoul(argv[2], NULL, 10);
    double *lat = malloc(n * sizeof *lat);
    void *r;
    if (!lat || d->feed->reader_open(&r, argv[1]) != SUITE_OK) {
        free(lat);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    lat_stats s;
    int rc = collect(d->feed, r, n, lat);
    d->feed->reader_close(r);
    if (rc == SUITE_OK && stats(lat, n, &s) == 0)
        printf("%.2f %.2f %.2f\n", s.p50, s.p99, s.max);
    free(lat);
    return rc == SUITE_OK && fflush(stdout) == 0 ? 0 : 1;
}

static int has_feed(const engine *e)
{
    return e->d->feed != NULL;
}

void suite_latency_run(void)
{
    static const suite_measure in = {.name = "W8-inproc-p50",
                                     .unit = "us",
                                     .run = m_inproc,
                                     .aux_name = {"W8-inproc-p99", "W8-inproc-max"},
                                     .aux_unit = {"us", "us"},
                                     .applies = has_feed,
                                     .on_failure = SUITE_FAIL_ONE},
                               x = {.name = "W8-xproc-p50",
                                    .unit = "us",
                                    .run = m_xproc,
                                    .aux_name = {"W8-xproc-p99", "W8-xproc-max"},
                                    .aux_unit = {"us", "us"},
                                    .applies = has_feed,
                                    .on_failure = SUITE_FAIL_ONE};
    suite_phase(&in, cfg.reps);
    suite_phase(&x, cfg.reps);
}
