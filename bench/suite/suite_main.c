/*
 * suite_main.c - evs_bench_suite, the runner of the benchmark suite: evstore beside
 * SQLite, LMDB and PostgreSQL on the same workloads and the same events, in one run.
 *
 *   evs_bench_suite [--quick] [--events N] [--reps R] [--seconds S] [--payload 100|1024]
 *                   [--large N] [--large-streams N] [--engines evstore,sqlite,lmdb,pg,evsqlite,evpg]
 *                   [--workloads W1,W2,W3,W4,W5,W6,W7,W8,W9,W10] [--dir DIR]
 *
 * Workloads (issue 6): W1 bulk append in batches of 1,000, one sync per batch (W1u: the
 * same unsynced); W2 durable single-event appends from 1 and 8 threads for S seconds;
 * W3 replay of everything, warm (each repetition follows an unmeasured one), touching
 * every payload byte; W4 10,000 random streams read whole; W5 batches of 100 appends
 * with expected versions, synced; W10 the machine's physical limits. W3-W5 run on the
 * store W1's last repetition built.
 * On a large store of N events (--large, default 10,000,000; 300,000 with --quick),
 * measured at N/10 and at N (suite_large.c): W6 open time against a store of 10
 * events; W7 anonymous memory at the end of a full replay, in a fresh child process per
 * engine; W9 a filter selecting 1% of the events caught up over the whole store. W8
 * (suite_latency.c): append-to-delivery latency through a subscription, in one process
 * and across processes.
 *
 * This file: options, the engines, W1-W5, W2 and the phase runner. Repetitions are
 * interleaved across engines (rep 1 of every engine, then rep 2 ...) so the machine's
 * drift hits every engine alike. Output (suite_report.c): one JSON line per measurement
 * (median, min, max of the repetitions), then markdown tables of the ratios
 * evstore/peer and of the targets, met or missed, and the check of the peers'
 * drivers against the reference drivers (suite_ref.c), which makes the exit status 1
 * when a driver is under 80% of its reference's rate (in runs of 1,000,000 events or
 * more).
 */
#define _GNU_SOURCE
#include "suite_run.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define W1_BATCH   1000
#define W5_BATCH   100
#define W2_THREADS 8

config cfg;
suite_model model;
char rundir[2048]; /* every file of the run lives under it; removed at the end */
engine engines[MAX_ENGINES];
int nengines;
static int w2_threads = 1;
static double run_start; /* for the progress lines */

/* Is `name` in the comma-separated `list` (NULL = everything)? */
int suite_listed(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return 1;
        p += len + (end != NULL);
    }
    return 0;
}

void suite_store_dir(char *out, size_t cap, const engine *e, const char *tag, int rep)
{
    snprintf(out, cap, "%s/%s-%s-%d", rundir, e->d->name, tag, rep);
}

void suite_drop_store(engine *e, void *db, const char *dir)
{
    if (db)
        e->d->close(db);
    if (e->d->destroy)
        e->d->destroy(dir);
    suite_rmtree(dir); /* PostgreSQL keeps its data in the server: no dir, nothing to do */
}

static int check(engine *e, const char *what, uint64_t got_n, uint64_t want_n, uint64_t got_s,
                 uint64_t want_s)
{
    if (got_n == want_n && got_s == want_s)
        return 0;
    fprintf(stderr, "suite: %s: %s read back %llu events (checksum %llu), expected %llu (%llu)\n",
            e->d->name, what, (unsigned long long)got_n, (unsigned long long)got_s,
            (unsigned long long)want_n, (unsigned long long)want_s);
    return -1;
}

/* ---- W1 / W1u: bulk append in batches of 1,000 ---- */

/* stateless: the peer reads each stream's version from the store (versions(db, 0)). */
static double bulk_append(engine *e, int rep, int durable, int stateless)
{
    char dir[4096];
    void *db, *conn;
    suite_ev ev[W1_BATCH];
    suite_store_dir(dir, sizeof dir, e, stateless ? "w1s" : durable ? "w1" : "w1u", rep);
    if (e->d->open(&db, dir, durable) != SUITE_OK)
        return -1;
    if ((stateless && e->d->versions(db, 0) != SUITE_OK) ||
        e->d->conn_open(&conn, db) != SUITE_OK) {
        suite_drop_store(e, db, dir);
        return -1;
    }
    int rc = SUITE_OK;
    double t0 = suite_now();
    for (size_t i = 0; i < model.n && rc == SUITE_OK; i += W1_BATCH) {
        size_t n = model.n - i < W1_BATCH ? model.n - i : W1_BATCH;
        for (size_t j = 0; j < n; j++)
            suite_model_event(&model, i + j, &ev[j]);
        rc = e->d->append_batch(conn, ev, n);
    }
    double t = suite_now() - t0;
    e->d->conn_close(conn);
    /* Keep the durable store of the last repetition for W3-W5. */
    if (rc == SUITE_OK && durable && !stateless && rep == cfg.reps - 1) {
        e->db = db;
        snprintf(e->dir, sizeof e->dir, "%s", dir);
    } else {
        suite_drop_store(e, db, dir);
    }
    return rc == SUITE_OK ? (double)model.n / t : -1;
}

static double m_w1(engine *e, int rep)
{
    return bulk_append(e, rep, 1, 0);
}

static double m_w1u(engine *e, int rep)
{
    return bulk_append(e, rep, 0, 0);
}

static double m_w1s(engine *e, int rep)
{
    return bulk_append(e, rep, 1, 1);
}

/* The stateless rows: the peers that keep a table of versions, without it. */
static int keeps_versions(const engine *e)
{
    return e->d->versions != NULL;
}

/* ---- W3: replay everything ---- */

static double m_w3(engine *e, int rep)
{
    void *conn;
    suite_sum sum = {0, 0, 0};
    (void)rep;
    if (!e->db || e->d->conn_open(&conn, e->db) != SUITE_OK)
        return -1;
    double t0 = suite_now();
    int rc = e->d->replay(conn, &sum);
    double t = suite_now() - t0;
    e->d->conn_close(conn);
    if (rc != SUITE_OK || check(e, "W3", sum.events, model.n, sum.checksum, model.total_sum))
        return -1;
    return (double)sum.events / t;
}

/* ---- W4: 10,000 random streams read whole ---- */

static double m_w4(engine *e, int rep)
{
    void *conn;
    suite_sum sum = {0, 0, 0};
    uint64_t rng = 0x9E3779B97F4A7C15ull + (uint64_t)rep, want = 0;
    if (!e->db || e->d->conn_open(&conn, e->db) != SUITE_OK)
        return -1;
    int rc = SUITE_OK;
    double t0 = suite_now();
    for (int i = 0; i < SUITE_STREAMS && rc == SUITE_OK; i++) {
        uint32_t k = (uint32_t)(suite_rand(&rng) % SUITE_STREAMS);
        want += model.counts[k];
        rc = e->d->read_stream(conn, model.names[k], &sum);
    }
    double t = suite_now() - t0;
    e->d->conn_close(conn);
    /* Every payload starts with '{': the first-byte checksum is 123 per event. */
    if (rc != SUITE_OK || check(e, "W4", sum.events, want, sum.checksum, want * '{'))
        return -1;
    return SUITE_STREAMS / t;
}

/* ---- W5: batches of 100 appends with expected versions, synced ---- */

static double m_w5(engine *e, int rep)
{
    void *conn;
    suite_ev ev[W5_BATCH];
    (void)rep;
    if (!e->db || e->d->conn_open(&conn, e->db) != SUITE_OK)
        return -1;
    if (!e->vers) {
        e->vers = malloc(sizeof *e->vers * SUITE_STREAMS);
        if (!e->vers)
            return -1;
        for (int k = 0; k < SUITE_STREAMS; k++)
            e->vers[k] = (int64_t)model.counts[k] - 1;
        e->w5_rng = 0xD1B54A32D192ED03ull;
    }
    int rc = SUITE_OK;
    size_t done = 0;
    double t0 = suite_now(), t = 0;
    for (size_t b = 0; b < cfg.w5_batches && rc == SUITE_OK && t < cfg.w5_seconds; b++) {
        for (size_t j = 0; j < W5_BATCH; j++) {
            uint32_t k = (uint32_t)(suite_rand(&e->w5_rng) % SUITE_STREAMS);
            size_t p = (done + j) % model.pool_n;
            ev[j] = (suite_ev){model.names[k], model.pool + p * model.pool_stride,
                               model.pool_len[p], e->vers[k]++, NULL};
        }
        rc = e->d->append_batch(conn, ev, W5_BATCH);
        done += W5_BATCH;
        t = suite_now() - t0;
    }
    e->d->conn_close(conn);
    if (rc == SUITE_CONFLICT)
        fprintf(stderr, "suite: %s: W5 reported a conflict where there is none\n", e->d->name);
    return rc == SUITE_OK ? (double)done / t : -1;
}

static double m_w5s(engine *e, int rep)
{
    if (!e->db || e->d->versions(e->db, 0) != SUITE_OK)
        return -1;
    double rate = m_w5(e, rep);
    /* Back to the table for the next repetition of W5 (loading it is not measured). */
    return e->d->versions(e->db, 1) == SUITE_OK ? rate : -1;
}

/* ---- W2: durable single-event appends from 1 or 8 threads ---- */

typedef struct w2_thread {
    engine *e;
    void *db;
    pthread_barrier_t *start;
    uint64_t rng;
    double end;
    double *lat; /* µs per append */
    size_t n, cap;
    int rc;
} w2_thread;

static void *w2_run(void *arg)
{
    w2_thread *w = arg;
    void *conn = NULL;
    w->rc = w->e->d->conn_open(&conn, w->db);
    pthread_barrier_wait(w->start);
    if (w->rc != SUITE_OK)
        return NULL;
    double t0 = suite_now(), t = t0;
    while (t - t0 < cfg.w2_seconds) {
        uint32_t k = (uint32_t)(suite_rand(&w->rng) % SUITE_STREAMS);
        size_t p = w->n % model.pool_n;
        suite_ev ev = {model.names[k], model.pool + p * model.pool_stride, model.pool_len[p],
                       SUITE_EXPECT_ANY, NULL};
        double a = suite_now();
        if ((w->rc = w->e->d->append_one(conn, &ev)) != SUITE_OK)
            break;
        t = suite_now();
        if (w->n == w->cap) {
            size_t cap = w->cap ? 2 * w->cap : 1 << 14;
            double *more = realloc(w->lat, cap * sizeof *more);
            if (!more) {
                w->rc = SUITE_ERR;
                break;
            }
            w->lat = more, w->cap = cap;
        }
        w->lat[w->n++] = (t - a) * 1e6;
    }
    w->end = t;
    w->e->d->conn_close(conn);
    return NULL;
}

/* Gather the threads' latencies into e->aux[0] (p50) and [1] (p99); returns events/s or -1. */
static double w2_gather(engine *e, int rep, w2_thread *w, int nt, double t0)
{
    size_t total = 0;
    double end = t0;
    int rc = SUITE_OK;
    for (int i = 0; i < nt; i++) {
        total += w[i].n;
        end = w[i].end > end ? w[i].end : end;
        rc = w[i].rc != SUITE_OK ? w[i].rc : rc;
    }
    double *all = total ? malloc(total * sizeof *all) : NULL;
    size_t at = 0;
    for (int i = 0; i < nt; i++) {
        if (all && w[i].n)
            memcpy(all + at, w[i].lat, w[i].n * sizeof *all);
        at += w[i].n;
        free(w[i].lat);
    }
    if (rc != SUITE_OK || !all) {
        free(all);
        return -1;
    }
    qsort(all, total, sizeof *all, suite_cmp_double);
    e->aux[0][rep] = all[total / 2];
    e->aux[1][rep] = all[total * 99 / 100];
    free(all);
    return (double)total / (end - t0);
}

static double m_w2(engine *e, int rep)
{
    char dir[4096];
    void *db;
    w2_thread w[W2_THREADS];
    pthread_t tid[W2_THREADS];
    pthread_barrier_t start;
    int nt = w2_threads;
    suite_store_dir(dir, sizeof dir, e, nt == 1 ? "w2-1t" : "w2-8t", rep);
    if (e->d->open(&db, dir, 1) != SUITE_OK)
        return -1;
    pthread_barrier_init(&start, NULL, (unsigned)nt + 1);
    int started = 0;
    for (int i = 0; i < nt; i++) {
        w[i] = (w2_thread){e, db, &start,  0x2545F4914F6CDD1Dull * (uint64_t)(i + 1), 0, NULL,
                           0, 0,  SUITE_OK};
        if (pthread_create(&tid[i], NULL, w2_run, &w[i]) != 0)
            break;
        started++;
    }
    if (started < nt) { /* release the ones waiting, with an error */
        fprintf(stderr, "suite: cannot start W2 threads\n");
        exit(1);
    }
    pthread_barrier_wait(&start);
    double t0 = suite_now();
    for (int i = 0; i < nt; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&start);
    double rate = w2_gather(e, rep, w, nt, t0);
    suite_drop_store(e, db, dir);
    return rate;
}

/* ---- running the phases ---- */

/* The fdatasync probe, run as one more "engine" in W2-1t so that the W2 target divides
 * figures measured side by side rather than minutes apart. */
static double m_fsync_probe(engine *e, int rep)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/probe.dat", rundir);
    return suite_phys_fsync_rep(path, cfg.w2_seconds, &e->aux[0][rep], &e->aux[1][rep]);
}

static const suite_driver probe_driver = {.name = "machine"};

static int in_phase(const suite_measure *m, const engine *e)
{
    return e->ok && (m->on_failure != SUITE_FAIL_LARGE || e->large_ok) &&
           (!m->applies || m->applies(e));
}

void suite_settle(void)
{
    for (int i = 0; i < nengines; i++)
        if (engines[i].ok && engines[i].d->settle)
            engines[i].d->settle();
    int fd = open(rundir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)syncfs(fd);
        close(fd);
    }
}

/* Each repetition of each engine starts settled (suite_settle): without it, an engine
 * measured after another's bulk load shared the disk with that load's write-back. */
void suite_phase(const suite_measure *m, int reps)
{
    static const char *const leaves[] = {"the run", "the large-store workloads", "this one"};
    engine pe = {.d = &probe_driver, .ok = m->probe};
    int failed[MAX_ENGINES] = {0};
    fprintf(stderr, "suite: [%4.0f s] %s ...\n", suite_now() - run_start, m->name);
    for (int r = 0; r < reps; r++) {
        if (pe.ok)
            suite_settle();
        if (pe.ok && (pe.v[r] = m_fsync_probe(&pe, r)) < 0) {
            perror("suite: fdatasync probe");
            pe.ok = 0;
        }
        for (int i = 0; i < nengines; i++) {
            engine *e = &engines[i];
            if (failed[i] || !in_phase(m, e))
                continue;
            suite_settle();
            e->v[r] = m->warm ? m->run(e, r) : 0;
            if (e->v[r] >= 0)
                e->v[r] = m->run(e, r);
            if (e->v[r] >= 0 && m->companion)
                m->companion(e, r);
            if (e->v[r] < 0) {
                fprintf(stderr, "suite: %s: %s failed; the engine leaves %s\n", e->d->name, m->name,
                        leaves[m->on_failure]);
                failed[i] = 1;
                if (m->on_failure == SUITE_FAIL_RUN)
                    e->ok = 0;
                else if (m->on_failure == SUITE_FAIL_LARGE)
                    e->large_ok = 0;
            }
        }
    }
    if (pe.ok) {
        suite_record("machine", "W2-fdatasync-4k", "syncs/s", pe.v, reps);
        suite_record("machine", "W2-fdatasync-4k-p50", "us", pe.aux[0], reps);
        suite_record("machine", "W2-fdatasync-4k-p99", "us", pe.aux[1], reps);
    }
    for (int i = 0; i < nengines; i++) {
        engine *e = &engines[i];
        if (failed[i] || !in_phase(m, e))
            continue;
        suite_record(e->d->name, m->name, m->unit, e->v, reps);
        for (int k = 0; k < MAX_AUX && m->aux_name[k]; k++)
            if (e->aux[k][0] >= 0) /* < 0: this engine has no such figure */
                suite_record(e->d->name, m->aux_name[k], m->aux_unit[k], e->aux[k], reps);
    }
}

/* ---- main ---- */

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick] [--events N] [--reps R] [--seconds S] [--payload 100|1024]\n"
            "       [--large N] [--large-streams N] [--engines evstore,sqlite,lmdb,pg,evsqlite,evpg]\n"
            "       [--workloads W1,W2,W3,W4,W5,W6,W7,W8,W9,W10] [--dir DIR]\n"
            "exit status: 0 done; 1 a peer's driver under 80%% of its reference driver's rate\n"
            "(bench/ref; judged from 1,000,000 events on), or the run could not start;\n"
            "2 bad arguments\n",
            argv0);
    return 2;
}

static int parse_args(int argc, char **argv)
{
    cfg = (config){.events = 1000000,
                   .reps = 3,
                   .w2_seconds = 10,
                   .w5_batches = 1000,
                   .w5_seconds = 10,
                   .payload = 100,
                   .seq_bytes = 256u << 20,
                   .large = 10000000,
                   .large_streams = SUITE_STREAMS,
                   .w8_events = 10000,
                   .w8_gap_us = 200,
                   .base = "/tmp"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) { /* the whole `make bench QUICK=1` in about 2 minutes */
            cfg.events = 100000, cfg.w2_seconds = 0.5, cfg.w5_batches = 200;
            cfg.w5_seconds = 1, cfg.seq_bytes = 64u << 20;
            cfg.large = 300000, cfg.w8_events = 1000;
            continue;
        }
        if (!v)
            return usage(argv[0]);
        i++;
        if (!strcmp(a, "--events"))
            cfg.events = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--reps"))
            cfg.reps = atoi(v);
        else if (!strcmp(a, "--seconds"))
            cfg.w2_seconds = cfg.w5_seconds = atof(v);
        else if (!strcmp(a, "--payload"))
            cfg.payload = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--large"))
            cfg.large = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--large-streams"))
            cfg.large_streams = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--engines"))
            cfg.engines = v;
        else if (!strcmp(a, "--workloads"))
            cfg.workloads = v;
        else if (!strcmp(a, "--dir"))
            cfg.base = v;
        else
            return usage(argv[0]);
    }
    if (cfg.events < 1 || cfg.reps < 1 || cfg.reps > MAX_REPS || cfg.w2_seconds <= 0 ||
        cfg.payload < 100 || cfg.payload > 65536 || cfg.large < 1000 || cfg.large_streams < 1000 ||
        cfg.large_streams > 100000000)
        return usage(argv[0]);
    suite_gen_streams = cfg.large_streams;
    return 0;
}

static const suite_driver *const all_drivers[] = {
    &suite_evstore_driver,
    &suite_evstore_sqlite_driver,
#ifdef SUITE_HAVE_SQLITE
    &suite_sqlite_driver,
#endif
#ifdef SUITE_HAVE_LMDB
    &suite_lmdb_driver,
#endif
#ifdef SUITE_HAVE_PG
    &suite_pg_driver,
    &suite_evstore_pg_driver, /* after pg, whose server it uses */
#endif
};

const suite_driver *suite_driver_named(const char *name)
{
    for (size_t i = 0; i < sizeof all_drivers / sizeof *all_drivers; i++)
        if (!strcmp(all_drivers[i]->name, name))
            return all_drivers[i];
    return NULL;
}

/* The engines compiled in and asked for, each set up (a server started ...). */
static void setup_engines(void)
{
    for (size_t i = 0; i < sizeof all_drivers / sizeof *all_drivers; i++) {
        if (!suite_listed(cfg.engines, all_drivers[i]->name))
            continue;
        /* evstore on SQLite runs when named (--engines evsqlite,sqlite), not by default. */
        if (all_drivers[i] == &suite_evstore_sqlite_driver && !cfg.engines)
            continue;
#ifdef SUITE_HAVE_PG
        if (all_drivers[i] == &suite_evstore_pg_driver && !cfg.engines)
            continue; /* the same for evstore on PostgreSQL (--engines pg,evpg) */
#endif
        engine *e = &engines[nengines];
        memset(e, 0, sizeof *e);
        e->d = all_drivers[i];
        nengines++; /* before setup: the signal handler must see what setup starts */
        e->ok = !e->d->setup || e->d->setup(rundir) == SUITE_OK;
    }
}

static void run_all(void)
{
    static const suite_measure w1 = {.name = "W1",
                                     .unit = "events/s",
                                     .run = m_w1,
                                     .companion = suite_ref_rep},
                               w1s = {.name = "W1-stateless",
                                      .unit = "events/s",
                                      .run = m_w1s,
                                      .applies = keeps_versions,
                                      .on_failure = SUITE_FAIL_ONE},
                               w5s = {.name = "W5-stateless",
                                      .unit = "events/s",
                                      .run = m_w5s,
                                      .applies = keeps_versions,
                                      .on_failure = SUITE_FAIL_ONE},
                               w3 = {.name = "W3", .unit = "events/s", .run = m_w3, .warm = 1},
                               w4 = {.name = "W4", .unit = "streams/s", .run = m_w4},
                               w5 = {.name = "W5", .unit = "events/s", .run = m_w5},
                               w1u = {.name = "W1u", .unit = "events/s", .run = m_w1u},
                               w2_1 = {.name = "W2-1t",
                                       .unit = "events/s",
                                       .run = m_w2,
                                       .aux_name = {"W2-1t-p50", "W2-1t-p99"},
                                       .aux_unit = {"us", "us"},
                                       .probe = 1},
                               w2_8 = {.name = "W2-8t",
                                       .unit = "events/s",
                                       .run = m_w2,
                                       .aux_name = {"W2-8t-p50", "W2-8t-p99"},
                                       .aux_unit = {"us", "us"}};
    int on1 = suite_listed(cfg.workloads, "W1"), on3 = suite_listed(cfg.workloads, "W3"),
        on4 = suite_listed(cfg.workloads, "W4"), on5 = suite_listed(cfg.workloads, "W5");
    if (on1 || on3 || on4 || on5) { /* W1 builds the store the others read */
        suite_phase(&w1, cfg.reps);
        suite_ref_record(cfg.reps);
    }
    if (on1)
        suite_phase(&w1s, cfg.reps);
    if (on3)
        suite_phase(&w3, cfg.reps);
    if (on4)
        suite_phase(&w4, cfg.reps);
    if (on5) {
        suite_phase(&w5, cfg.reps);
        suite_phase(&w5s, cfg.reps);
    }
    for (int i = 0; i < nengines; i++) {
        if (engines[i].db)
            suite_drop_store(&engines[i], engines[i].db, engines[i].dir);
        engines[i].db = NULL;
        free(engines[i].vers);
        engines[i].vers = NULL;
    }
    if (on1)
        suite_phase(&w1u, cfg.reps);
    if (suite_listed(cfg.workloads, "W2")) {
        w2_threads = 1;
        suite_phase(&w2_1, cfg.reps);
        w2_threads = W2_THREADS;
        suite_phase(&w2_8, cfg.reps);
    }
    if (suite_listed(cfg.workloads, "W8"))
        suite_latency_run();
    if (suite_listed(cfg.workloads, "W6") || suite_listed(cfg.workloads, "W7") ||
        suite_listed(cfg.workloads, "W9"))
        suite_large_run();
}

/* Ctrl-C or a kill: stop any server, remove the run's files, die of the signal. Only
 * async-signal-safe calls: the drivers' abort, fork, execv, waitpid. */
static void on_signal(int sig)
{
    for (int i = 0; i < nengines; i++)
        if (engines[i].d->abort)
            engines[i].d->abort();
    pid_t pid = fork();
    if (pid == 0) {
        const char *const argv[] = {"/bin/rm", "-rf", rundir, NULL};
        execv(argv[0], (char *const *)argv); /* execv does not write to them */
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--child"))
        return suite_child_main(argc - 2, argv + 2);
    if (parse_args(argc, argv) != 0)
        return 2;
    mkdir(cfg.base, 0755);
    snprintf(rundir, sizeof rundir, "%s/evs-suite-%d", cfg.base, (int)getpid());
    if (mkdir(rundir, 0755) != 0) {
        perror("suite: run dir");
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    run_start = suite_now();
    fprintf(stderr,
            "suite: %zu events, %zu-byte payloads, %d reps, W2 %.1f s, large store "
            "%llu events, dir %s\n",
            cfg.events, cfg.payload, cfg.reps, cfg.w2_seconds, (unsigned long long)cfg.large,
            rundir);
    if (suite_model_init(&model, cfg.events, cfg.payload, SUITE_MODEL_SEED) != 0) {
        fprintf(stderr, "suite: out of memory\n");
        return 1;
    }
    if (suite_listed(cfg.workloads, "W10") || suite_listed(cfg.workloads, "W2")) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/phys", rundir);
        fprintf(stderr, "suite: W10 ...\n");
        double secs = cfg.w2_seconds < 2 ? cfg.w2_seconds : 2;
        if (suite_phys_run(dir, cfg.reps, secs, cfg.seq_bytes) != 0)
            fprintf(stderr, "suite: W10 failed\n");
    }
    setup_engines();
    run_all();
    for (int i = 0; i < nengines; i++)
        if (engines[i].d->teardown)
            engines[i].d->teardown();
    suite_rmtree(rundir);
    fprintf(stderr, "suite: done in %.0f s\n", suite_now() - run_start);
    suite_print_tables();
    int failed = suite_ref_check();
    suite_model_free(&model);
    return failed ? 1 : 0;
}
