/*
 * bench_domain.c - what the domain layer costs (include/evstore_domain.h), against raw
 * appends in the same run on the same store:
 *
 *   commands/s on 10,000 aggregates chosen at random, from 1 and from 8 threads, one
 *   event per command, sync always; beside the raw rates of the same run: W5 (batches
 *   of 100 appends with expected versions, one sync per batch) and single appends with
 *   an expected version from 1 and 8 threads (one event per call, as a command makes);
 *
 *   loads of those aggregates alone (what a command adds to its append, in CPU);
 *
 *   the load of one aggregate of 100,000 events, with a snapshot every 1,000 events and
 *   without snapshots (median of the repetitions).
 *
 *   evs_bench_domain --dir DIR [--seconds S] [--reps R] [--quick]
 *
 * Prints one JSON line per measurement and the ratios.
 */
#define _GNU_SOURCE
#include "evstore_domain.h"

#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AGGREGATES      10000
#define W5_BATCH        100
#define BIG_EVENTS      100000
#define BIG_PER_COMMAND 1000

static double seconds = 3;
static int reps = 20;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_domain: %s: %s (%s)\n", what, evs_errname(rc), evs_errmsg());
    exit(1);
}

static int rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st, (void)f, (void)w;
    return remove(p);
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Every event's data, raw or from a command. */
static const char *event_data = "{\"n\":1,\"note\":\"a payload of about 45 bytes\"}";

/* ---- the aggregate: a counter; Add emits one event, AddMany BIG_PER_COMMAND ------- */

typedef struct tally {
    int64_t value;
} tally;

static int add(void *user, evs_command_ctx *ctx, const void *state, const char *payload, size_t len)
{
    (void)state, (void)payload, (void)len, (void)user;
    return evs_command_emit(ctx, "Added", event_data, strlen(event_data));
}

static int add_many(void *user, evs_command_ctx *ctx, const void *state, const char *payload,
                    size_t len)
{
    int rc = 0;
    for (int i = 0; i < BIG_PER_COMMAND && rc == 0; i++)
        rc = add(user, ctx, state, payload, len);
    return rc;
}

/* A realistic apply: it reads the event's data. */
static int apply(void *user, void *state, const evs_event *ev)
{
    tally *t = state;
    int64_t n;
    (void)user;
    if (evs_json_get_int64(&n, ev->data, ev->data_len, "n") != 1)
        return EVS_EINVAL;
    t->value += n;
    return 0;
}

static const evs_command_def commands[] = {{"Add", add, NULL, 0}, {"AddMany", add_many, NULL, 0}};

static evs_aggregate_type bench_type(uint32_t snapshot_every)
{
    evs_aggregate_type t = {EVS_AGGREGATE_TYPE_VERSION,
                            "bench",
                            sizeof(tally),
                            NULL,
                            apply,
                            NULL,
                            commands,
                            2,
                            1,
                            snapshot_every,
                            NULL,
                            NULL,
                            NULL};
    return t;
}

static const evs_actor actor = {"bench", NULL, NULL, NULL, 0};

/* ---- raw appends ---------------------------------------------------------------- */

static int64_t versions[AGGREGATES]; /* each stream's last version, for raw appends */

static void stream_name(char *buf, size_t cap, int k)
{
    snprintf(buf, cap, "bench-%d", k);
}

/* One event in every aggregate, so that every run below finds them existing. */
static void populate(evs_store *s)
{
    static evs_event_in ev[1000];
    static evs_batch_in b[1000];
    static char names[1000][32];
    for (int k0 = 0; k0 < AGGREGATES; k0 += 1000) {
        for (int j = 0; j < 1000; j++) {
            stream_name(names[j], sizeof names[j], k0 + j);
            ev[j] = (evs_event_in){"Added", event_data, strlen(event_data), NULL, 0, NULL, 0};
            b[j] = (evs_batch_in){names[j], EVS_EXPECT_NO_STREAM, &ev[j], 1};
        }
        int rc = evs_append_multi(NULL, s, b, 1000);
        if (rc < 0)
            die("populate", rc);
    }
}

/* W5: batches of 100 appends to random streams with expected versions, synced. */
static double raw_w5(evs_store *s)
{
    evs_event_in ev[W5_BATCH];
    evs_batch_in b[W5_BATCH];
    char names[W5_BATCH][32];
    uint64_t r = 0x9E3779B97F4A7C15ull;
    int64_t done = 0;
    double t0 = now_s(), t = 0;
    while (t < seconds) {
        for (int j = 0; j < W5_BATCH; j++) {
            /* A stream twice in a batch is fine: each batch's expected version is
             * checked against the stream as the batches before it left it. */
            int k = (int)(next_rand(&r) % AGGREGATES);
            stream_name(names[j], sizeof names[j], k);
            ev[j] = (evs_event_in){"Added", event_data, strlen(event_data), NULL, 0, NULL, 0};
            b[j] = (evs_batch_in){names[j], versions[k]++, &ev[j], 1};
        }
        int rc = evs_append_multi(NULL, s, b, W5_BATCH);
        if (rc < 0)
            die("W5", rc);
        done += W5_BATCH;
        t = now_s() - t0;
    }
    return (double)done / t;
}

typedef struct job {
    evs_store *s;
    evs_domain *d;
    int index, threads;
    int64_t done, retries;
    double elapsed;
} job;

/* Single appends with an expected version; thread i owns the streams k = i mod n. */
static void *raw_single(void *arg)
{
    job *j = arg;
    uint64_t r = 0x2545F4914F6CDD1Dull * (uint64_t)(j->index + 1);
    evs_event_in ev = {"Added", event_data, strlen(event_data), NULL, 0, NULL, 0};
    char name[32];
    double t0 = now_s();
    while ((j->elapsed = now_s() - t0) < seconds) {
        int k = (int)(next_rand(&r) % (AGGREGATES / j->threads)) * j->threads + j->index;
        stream_name(name, sizeof name, k);
        int rc = evs_append(NULL, j->s, name, versions[k], &ev, 1);
        if (rc < 0)
            die("raw append", rc);
        versions[k]++;
        j->done++;
    }
    return NULL;
}

/* Commands on random aggregates (any thread any aggregate: conflicts are retried). */
static void *commands_job(void *arg)
{
    job *j = arg;
    uint64_t r = 0x94D049BB133111EBull * (uint64_t)(j->index + 1);
    char id[16];
    double t0 = now_s();
    while ((j->elapsed = now_s() - t0) < seconds) {
        snprintf(id, sizeof id, "%d", (int)(next_rand(&r) % AGGREGATES));
        evs_command_result res;
        int rc = evs_command(&res, NULL, j->d, &actor, "Add", id, "{}", 2, NULL);
        if (rc < 0)
            die("command", rc);
        j->retries += res.retries;
        j->done++;
    }
    return NULL;
}

/* Loads alone, 1 thread: what a command costs besides its append. */
static void *loads_job(void *arg)
{
    job *j = arg;
    uint64_t r = 0xBF58476D1CE4E5B9ull * (uint64_t)(j->index + 1);
    char id[16];
    double t0 = now_s();
    while ((j->elapsed = now_s() - t0) < seconds) {
        snprintf(id, sizeof id, "%d", (int)(next_rand(&r) % AGGREGATES));
        tally st;
        int rc = evs_aggregate_load(NULL, &st, j->d, "bench", id);
        if (rc < 0)
            die("load", rc);
        j->done++;
    }
    return NULL;
}

static double run_threads(void *(*fn)(void *), evs_store *s, evs_domain *d, int n, int64_t *retries)
{
    job jobs[8];
    pthread_t t[8];
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){s, d, i, n, 0, 0, 0};
        pthread_create(&t[i], NULL, fn, &jobs[i]);
    }
    double rate = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        rate += (double)jobs[i].done / jobs[i].elapsed;
        if (retries)
            *retries += jobs[i].retries;
    }
    return rate;
}

/* The stream's last versions after the command runs, for the raw runs that follow. */
static void reload_versions(evs_store *s)
{
    char name[32];
    for (int k = 0; k < AGGREGATES; k++) {
        evs_stream_info info;
        stream_name(name, sizeof name, k);
        int rc = evs_stream_get(&info, s, name);
        if (rc < 0)
            die("stream_get", rc);
        versions[k] = info.last_version;
    }
}

/* ---- loading a big aggregate ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_load_s(evs_domain *d, int n, int64_t want, int64_t *applied)
{
    double t[64];
    n = n > 64 ? 64 : n;
    for (int i = 0; i < n; i++) {
        tally st;
        evs_aggregate_info info;
        double t0 = now_s();
        int rc = evs_aggregate_load(&info, &st, d, "bench", "big");
        t[i] = now_s() - t0;
        if (rc < 0)
            die("load", rc);
        if (st.value != want)
            die("load: wrong state", EVS_ECORRUPT);
        *applied = info.events_applied;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return t[n / 2];
}

static void bench_load(evs_store *s)
{
    evs_aggregate_type with = bench_type(1000), without = bench_type(0);
    const evs_aggregate_type *tw[] = {&with}, *two[] = {&without};
    evs_domain *dw, *dn;
    int rc = evs_domain_open(&dw, s, tw, 1, NULL);
    if (rc == 0)
        rc = evs_domain_open(&dn, s, two, 1, NULL);
    if (rc < 0)
        die("domain_open", rc);
    for (int i = 0; i < BIG_EVENTS / BIG_PER_COMMAND; i++) {
        rc = evs_command(NULL, NULL, dw, &actor, "AddMany", "big", "{}", 2, NULL);
        if (rc < 0)
            die("AddMany", rc);
    }
    /* 100,000 events: the last command's events end on a multiple of 1,000, so a
     * snapshot stands at the very end. Then 999 more (the most a snapshot every 1,000
     * can leave to fold). */
    for (int round = 0; round < 2; round++) {
        int64_t want = BIG_EVENTS + (round ? BIG_PER_COMMAND - 1 : 0), a_with, a_without;
        if (round) {
            static evs_event_in ev[BIG_PER_COMMAND - 1];
            for (int i = 0; i < BIG_PER_COMMAND - 1; i++)
                ev[i] = (evs_event_in){"Added", event_data, strlen(event_data), NULL, 0, NULL, 0};
            rc = evs_append(NULL, s, "bench-big", EVS_EXPECT_ANY, ev, BIG_PER_COMMAND - 1);
            if (rc < 0)
                die("append", rc);
        }
        double with_s = median_load_s(dw, reps, want, &a_with);
        double without_s = median_load_s(dn, reps > 5 ? 5 : reps, want, &a_without);
        printf("{\"bench\":\"load\",\"events\":%" PRId64 ",\"snapshots\":1000,"
               "\"median_ms\":%.3f,\"applied\":%" PRId64 "}\n",
               want, with_s * 1e3, a_with);
        printf("{\"bench\":\"load\",\"events\":%" PRId64 ",\"snapshots\":0,"
               "\"median_ms\":%.3f,\"applied\":%" PRId64 "}\n",
               want, without_s * 1e3, a_without);
        printf("load of %" PRId64 " events: %.3f ms from a snapshot (%" PRId64
               " events after it), %.1f ms without snapshots: %.0fx faster\n",
               want, with_s * 1e3, a_with, without_s * 1e3, without_s / with_s);
    }
    evs_domain_close(dw);
    evs_domain_close(dn);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--quick"))
            seconds = 1, reps = 5;
        else {
            fprintf(stderr, "usage: evs_bench_domain --dir DIR [--seconds S] [--reps R] "
                            "[--quick]\n");
            return 2;
        }
    }
    if (!dir || seconds <= 0 || reps < 1) {
        fprintf(stderr, "evs_bench_domain: --dir is required; seconds and reps > 0\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-domain", dir);
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    evs_store *s;
    evs_options o = EVS_OPTIONS_INIT; /* sync always */
    int rc = evs_open(&s, path, &o);
    if (rc < 0)
        die("open", rc);
    evs_aggregate_type t = bench_type(1000);
    const evs_aggregate_type *types[] = {&t};
    evs_domain *d;
    rc = evs_domain_open(&d, s, types, 1, NULL);
    if (rc < 0)
        die("domain_open", rc);
    populate(s);
    for (int k = 0; k < AGGREGATES; k++)
        versions[k] = 0;
    /* Rounds interleave the measurements, so that the drift of a shared machine hits
     * each alike; each figure is the median of its rounds. Raw appends need the
     * streams' versions again after commands moved them. */
    enum { W5, RAW1, RAW8, CMD1, CMD8, LOADS, KINDS };
    static const char *const names[KINDS] = {"raw_w5 events/s",      "raw_single 1 thread",
                                             "raw_single 8 threads", "commands 1 thread",
                                             "commands 8 threads",   "loads 1 thread"};
    double m[KINDS][64];
    int64_t retries = 0;
    int rounds = reps > 64 ? 64 : reps;
    for (int r = 0; r < rounds; r++) {
        m[W5][r] = raw_w5(s);
        m[RAW1][r] = run_threads(raw_single, s, NULL, 1, NULL);
        m[CMD1][r] = run_threads(commands_job, s, d, 1, &retries);
        reload_versions(s);
        m[RAW8][r] = run_threads(raw_single, s, NULL, 8, NULL);
        m[CMD8][r] = run_threads(commands_job, s, d, 8, &retries);
        m[LOADS][r] = run_threads(loads_job, s, d, 1, NULL);
        reload_versions(s);
    }
    double med[KINDS];
    for (int k = 0; k < KINDS; k++) {
        qsort(m[k], (size_t)rounds, sizeof m[k][0], cmp_double);
        med[k] = m[k][rounds / 2];
        printf("{\"bench\":\"%s\",\"per_s_median\":%.0f,\"min\":%.0f,\"max\":%.0f,"
               "\"rounds\":%d}\n",
               names[k], med[k], m[k][0], m[k][rounds - 1], rounds);
    }
    printf("commands: %" PRId64 " retries in all\n", retries);
    printf("commands/s vs W5 (%.0f events/s): 1 thread %.3fx, 8 threads %.3fx\n", med[W5],
           med[CMD1] / med[W5], med[CMD8] / med[W5]);
    printf("commands/s vs single appends with expected versions: 1 thread %.3fx, 8 threads "
           "%.3fx\n",
           med[CMD1] / med[RAW1], med[CMD8] / med[RAW8]);
    evs_domain_close(d);
    bench_load(s);
    rc = evs_close(s);
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc < 0;
}
