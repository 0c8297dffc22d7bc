/*
 * suite_main.c - evs_bench_suite, the runner of the benchmark suite: evstore beside
 * SQLite, LMDB and PostgreSQL on the same workloads and the same events, in one run.
 *
 *   evs_bench_suite [--quick] [--events N] [--reps R] [--seconds S] [--payload 100|1024]
 *                   [--engines evstore,sqlite,lmdb,pg] [--workloads W1,W2,W3,W4,W5,W10]
 *                   [--dir DIR]
 *
 * Workloads (issue 6): W1 bulk append in batches of 1,000, one sync per batch (W1u: the
 * same unsynced); W2 durable single-event appends from 1 and 8 threads for S seconds;
 * W3 replay of everything, warm, touching every payload byte; W4 10,000 random streams
 * read whole; W5 batches of 100 appends with expected versions, synced; W10 the
 * machine's physical limits. W3-W5 run on the store W1's last repetition built.
 *
 * Repetitions are interleaved across engines (rep 1 of every engine, then rep 2 ...) so
 * the machine's drift hits every engine alike. Output: one JSON line per measurement
 * (median, min, max of the repetitions), then markdown tables of the ratios
 * evstore/peer and of the targets, met or missed.
 */
#define _GNU_SOURCE
#include "suite.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REPS    15
#define MAX_ENGINES 4
#define MAX_RESULTS 256
#define W1_BATCH    1000
#define W5_BATCH    100
#define W2_THREADS  8

typedef struct config {
    size_t events; /* W1 */
    int reps;
    double w2_seconds; /* per repetition */
    size_t w5_batches; /* per repetition, bounded by w5_seconds */
    double w5_seconds;
    size_t payload;
    size_t seq_bytes; /* W10 */
    const char *base;
    const char *engines;
    const char *workloads;
} config;

typedef struct engine {
    const suite_driver *d;
    int ok;   /* set up, and no failure so far */
    void *db; /* the store W1's last repetition built, for W3-W5 */
    char dir[4096];
    int64_t *vers; /* W5: each stream's last version in that store */
    uint64_t w5_rng;
    double v[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS];
} engine;

typedef struct result {
    char engine[16], workload[32], unit[16];
    double median, min, max;
} result;

static config cfg;
static suite_model model;
static result results[MAX_RESULTS];
static int nresults;
static int w2_threads = 1;
static char rundir[2048]; /* every file of the run lives under it; removed at the end */
static engine engines[MAX_ENGINES];
static int nengines;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void suite_record(const char *eng, const char *workload, const char *unit, double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    /* Median of an even count: the mean of the middle two. */
    double med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    printf("{\"engine\":\"%s\",\"workload\":\"%s\",\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,"
           "\"unit\":\"%s\",\"reps\":%d}\n",
           eng, workload, med, s[0], s[n - 1], unit, n);
    fflush(stdout);
    if (nresults < MAX_RESULTS) {
        result *r = &results[nresults++];
        snprintf(r->engine, sizeof r->engine, "%s", eng);
        snprintf(r->workload, sizeof r->workload, "%s", workload);
        snprintf(r->unit, sizeof r->unit, "%s", unit);
        r->median = med, r->min = s[0], r->max = s[n - 1];
    }
}

static const result *find(const char *eng, const char *workload)
{
    for (int i = 0; i < nresults; i++)
        if (!strcmp(results[i].engine, eng) && !strcmp(results[i].workload, workload))
            return &results[i];
    return NULL;
}

/* Is `name` in the comma-separated `list` (NULL = everything)? */
static int listed(const char *list, const char *name)
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

static void store_dir(char *out, size_t cap, const engine *e, const char *tag, int rep)
{
    snprintf(out, cap, "%s/%s-%s-%d", rundir, e->d->name, tag, rep);
}

/* Close a store and remove its files. */
static void drop_store(engine *e, void *db, const char *dir)
{
    e->d->close(db);
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

static double bulk_append(engine *e, int rep, int durable)
{
    char dir[4096];
    void *db, *conn;
    suite_ev ev[W1_BATCH];
    store_dir(dir, sizeof dir, e, durable ? "w1" : "w1u", rep);
    if (e->d->open(&db, dir, durable) != SUITE_OK)
        return -1;
    if (e->d->conn_open(&conn, db) != SUITE_OK) {
        drop_store(e, db, dir);
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
    if (rc == SUITE_OK && durable && rep == cfg.reps - 1) {
        e->db = db;
        snprintf(e->dir, sizeof e->dir, "%s", dir);
    } else {
        drop_store(e, db, dir);
    }
    return rc == SUITE_OK ? (double)model.n / t : -1;
}

static double m_w1(engine *e, int rep)
{
    return bulk_append(e, rep, 1);
}

static double m_w1u(engine *e, int rep)
{
    return bulk_append(e, rep, 0);
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
                               model.pool_len[p], e->vers[k]++};
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
                       SUITE_EXPECT_ANY};
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

/* Gather the threads' latencies into e->p50/p99[rep]; returns events/s or -1. */
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
    qsort(all, total, sizeof *all, cmp_double);
    e->p50[rep] = all[total / 2];
    e->p99[rep] = all[total * 99 / 100];
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
    store_dir(dir, sizeof dir, e, nt == 1 ? "w2-1t" : "w2-8t", rep);
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
    drop_store(e, db, dir);
    return rate;
}

/* ---- running the phases ---- */

/* The fdatasync probe, run as one more "engine" in W2-1t so that the W2 target divides
 * figures measured side by side rather than minutes apart. */
static double m_fsync_probe(engine *e, int rep)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/probe.dat", rundir);
    return suite_phys_fsync_rep(path, cfg.w2_seconds, &e->p50[rep], &e->p99[rep]);
}

static const suite_driver probe_driver = {.name = "machine"};

/* Run one workload on every engine still standing, repetitions interleaved, and record
 * it (with p50/p99 latencies when `lat`). An engine that fails drops out of the run.
 * With `probe`, each repetition also runs the fdatasync probe. */
static void phase(engine *es, int ne, const char *wl, const char *unit,
                  double (*measure)(engine *, int), int lat, int probe)
{
    engine pe = {.d = &probe_driver, .ok = probe};
    fprintf(stderr, "suite: %s ...\n", wl);
    for (int r = 0; r < cfg.reps; r++) {
        if (pe.ok && (pe.v[r] = m_fsync_probe(&pe, r)) < 0) {
            perror("suite: fdatasync probe");
            pe.ok = 0;
        }
        for (int i = 0; i < ne; i++) {
            if (!es[i].ok)
                continue;
            es[i].v[r] = measure(&es[i], r);
            if (es[i].v[r] < 0) {
                fprintf(stderr, "suite: %s: %s failed; the engine leaves the run\n", es[i].d->name,
                        wl);
                es[i].ok = 0;
            }
        }
    }
    if (pe.ok) {
        suite_record("machine", "W2-fdatasync-4k", "syncs/s", pe.v, cfg.reps);
        suite_record("machine", "W2-fdatasync-4k-p50", "us", pe.p50, cfg.reps);
        suite_record("machine", "W2-fdatasync-4k-p99", "us", pe.p99, cfg.reps);
    }
    for (int i = 0; i < ne; i++) {
        if (!es[i].ok)
            continue;
        suite_record(es[i].d->name, wl, unit, es[i].v, cfg.reps);
        if (lat) {
            char name[64];
            snprintf(name, sizeof name, "%s-p50", wl);
            suite_record(es[i].d->name, name, "us", es[i].p50, cfg.reps);
            snprintf(name, sizeof name, "%s-p99", wl);
            suite_record(es[i].d->name, name, "us", es[i].p99, cfg.reps);
        }
    }
}

/* ---- the report ---- */

static const char *const peers[] = {"sqlite", "lmdb", "pg", "machine"};

static void print_ratios(void)
{
    static const char *const wls[] = {"W1", "W1u", "W2-1t", "W2-8t", "W3", "W4", "W5"};
    printf("\n| workload | unit | evstore | sqlite | lmdb | pg | ev/sqlite | ev/lmdb | ev/pg |\n"
           "|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for (size_t w = 0; w < sizeof wls / sizeof *wls; w++) {
        const result *ev = find("evstore", wls[w]);
        if (!ev)
            continue;
        printf("| %s | %s | %.0f", wls[w], ev->unit, ev->median);
        for (int p = 0; p < 3; p++) {
            const result *r = find(peers[p], wls[w]);
            r ? printf(" | %.0f", r->median) : printf(" | -");
        }
        for (int p = 0; p < 3; p++) {
            const result *r = find(peers[p], wls[w]);
            r && r->median > 0 ? printf(" | %.2f", ev->median / r->median) : printf(" | -");
        }
        printf(" |\n");
    }
    printf("\nW2 latency, median of the repetitions' percentiles (us):\n\n"
           "| workload | evstore | sqlite | lmdb | pg | fdatasync probe |\n"
           "|---|--:|--:|--:|--:|--:|\n");
    static const char *const lats[] = {"W2-1t-p50", "W2-1t-p99", "W2-8t-p50", "W2-8t-p99"};
    for (size_t l = 0; l < sizeof lats / sizeof *lats; l++) {
        const result *ev = find("evstore", lats[l]);
        char probe[32];
        snprintf(probe, sizeof probe, "W2-fdatasync-4k%s", lats[l] + 5);
        printf("| %s | ", lats[l]);
        ev ? printf("%.0f", ev->median) : printf("-");
        for (int p = 0; p < 4; p++) {
            const result *r = find(peers[p], p == 3 ? probe : lats[l]);
            r ? printf(" | %.0f", r->median) : printf(" | -");
        }
        printf(" |\n");
    }
}

typedef struct target {
    const char *label;
    const char *num_engine, *num_wl, *den_engine, *den_wl;
    double floor;
    const char *goal;
} target;

static void print_targets(void)
{
    static const target ts[] = {
        {"W1 evstore / SQLite", "evstore", "W1", "sqlite", "W1", 20, ">= 20x"},
        {"W1 evstore / LMDB unsynced", "evstore", "W1", "lmdb", "W1u", 5, ">= 5x"},
        {"W2 1 thread / one fdatasync per append", "evstore", "W2-1t", "machine", "W2-fdatasync-4k",
         1 / 1.2, ">= 0.83 (within 1.2x)"},
        {"W2 8 threads / evstore 1 thread", "evstore", "W2-8t", "evstore", "W2-1t", 5, ">= 5x"},
        {"W2 8 threads / PostgreSQL 8 threads", "evstore", "W2-8t", "pg", "W2-8t", 2, ">= 2x"},
        {"W3 evstore / LMDB", "evstore", "W3", "lmdb", "W3", 2, ">= 2x"},
        {"W4 evstore / LMDB", "evstore", "W4", "lmdb", "W4", 5, ">= 5x"},
        {"W5 evstore / SQLite", "evstore", "W5", "sqlite", "W5", 20, ">= 20x"},
    };
    printf("\n| target | ratio | goal | status |\n|---|--:|---|---|\n");
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        const result *n = find(ts[i].num_engine, ts[i].num_wl);
        const result *d = find(ts[i].den_engine, ts[i].den_wl);
        if (!n || !d || d->median <= 0) {
            printf("| %s | - | %s | not measured |\n", ts[i].label, ts[i].goal);
            continue;
        }
        double ratio = n->median / d->median;
        printf("| %s | %.2f | %s | %s |\n", ts[i].label, ratio, ts[i].goal,
               ratio >= ts[i].floor ? "met" : "**MISSED**");
    }
    fflush(stdout);
}

/* ---- main ---- */

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick] [--events N] [--reps R] [--seconds S] [--payload 100|1024]\n"
            "       [--engines evstore,sqlite,lmdb,pg] [--workloads W1,W2,W3,W4,W5,W10]\n"
            "       [--dir DIR]\n",
            argv0);
    return 2;
}

static int parse_args(int argc, char **argv)
{
    cfg = (config){1000000, 3, 10, 1000, 10, 100, 256u << 20, "/tmp", NULL, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            cfg.events = 100000, cfg.w2_seconds = 1, cfg.w5_batches = 200;
            cfg.w5_seconds = 2, cfg.seq_bytes = 64u << 20;
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
        cfg.payload < 100 || cfg.payload > 65536)
        return usage(argv[0]);
    return 0;
}

/* The engines compiled in and asked for, each set up (a server started ...). */
static void setup_engines(void)
{
    static const suite_driver *const all[] = {
        &suite_evstore_driver,
#ifdef SUITE_HAVE_SQLITE
        &suite_sqlite_driver,
#endif
#ifdef SUITE_HAVE_LMDB
        &suite_lmdb_driver,
#endif
#ifdef SUITE_HAVE_PG
        &suite_pg_driver,
#endif
    };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        if (!listed(cfg.engines, all[i]->name))
            continue;
        engine *e = &engines[nengines];
        memset(e, 0, sizeof *e);
        e->d = all[i];
        nengines++; /* before setup: the signal handler must see what setup starts */
        e->ok = !all[i]->setup || all[i]->setup(rundir) == SUITE_OK;
    }
}

static void run_all(engine *es, int ne)
{
    int w1 = listed(cfg.workloads, "W1"), w3 = listed(cfg.workloads, "W3"),
        w4 = listed(cfg.workloads, "W4"), w5 = listed(cfg.workloads, "W5");
    if (w1 || w3 || w4 || w5) /* W1 builds the store the others read */
        phase(es, ne, "W1", "events/s", m_w1, 0, 0);
    if (w3)
        phase(es, ne, "W3", "events/s", m_w3, 0, 0);
    if (w4)
        phase(es, ne, "W4", "streams/s", m_w4, 0, 0);
    if (w5)
        phase(es, ne, "W5", "events/s", m_w5, 0, 0);
    for (int i = 0; i < ne; i++) {
        if (es[i].db)
            drop_store(&es[i], es[i].db, es[i].dir);
        es[i].db = NULL;
        free(es[i].vers);
        es[i].vers = NULL;
    }
    if (w1)
        phase(es, ne, "W1u", "events/s", m_w1u, 0, 0);
    if (listed(cfg.workloads, "W2")) {
        w2_threads = 1;
        phase(es, ne, "W2-1t", "events/s", m_w2, 1, 1);
        w2_threads = W2_THREADS;
        phase(es, ne, "W2-8t", "events/s", m_w2, 1, 0);
    }
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
    fprintf(stderr, "suite: %zu events, %zu-byte payloads, %d reps, W2 %.1f s, dir %s\n",
            cfg.events, cfg.payload, cfg.reps, cfg.w2_seconds, rundir);
    if (suite_model_init(&model, cfg.events, cfg.payload, 0x5EED5EED5EEDull) != 0) {
        fprintf(stderr, "suite: out of memory\n");
        return 1;
    }
    if (listed(cfg.workloads, "W10") || listed(cfg.workloads, "W2")) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/phys", rundir);
        fprintf(stderr, "suite: W10 ...\n");
        double secs = cfg.w2_seconds < 2 ? cfg.w2_seconds : 2;
        if (suite_phys_run(dir, cfg.reps, secs, cfg.seq_bytes) != 0)
            fprintf(stderr, "suite: W10 failed\n");
    }
    setup_engines();
    run_all(engines, nengines);
    for (int i = 0; i < nengines; i++)
        if (engines[i].d->teardown)
            engines[i].d->teardown();
    suite_rmtree(rundir);
    print_ratios();
    print_targets();
    suite_model_free(&model);
    return 0;
}
