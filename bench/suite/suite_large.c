/*
 * suite_large.c - the large stores of W6, W7 and W9, and the order they run in.
 *
 * Every engine gets a store of 10 events and a large one filled from the same
 * generator (suite_gen: the W1 model plus types and categories of 0.1%, 1% and 10% of
 * the events). The
 * large store is filled to a tenth of its size first, W6 and W7 measure it there, then
 * it is filled up and W6, W7 and W9 measure it whole: the two sizes show whether open
 * time and memory grow with the store. Filling is not measured; it uses the engine's
 * unsynced mode and its fast load path where it has one. Each W9 repetition follows an
 * unmeasured one of the same engine, so every engine catches up over a warm store.
 *
 * All engines' stores exist at once (so the repetitions can be interleaved); at 10 M
 * events that is about 2-4 GB per engine, so the free space under the run's directory
 * is checked first, and everything is removed at the end.
 */
#include "suite_run.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* A load transaction takes LOAD_BATCH events: random streams dirty a page of the
 * (stream, version) index per event, so fewer, larger transactions write each page
 * fewer times. append_batch takes at most SUITE_MAX_BATCH. */
#define LOAD_BATCH      10000
#define BYTES_PER_EVENT 600 /* generous: LMDB and PostgreSQL take ~300-400 with indexes */
#define GEN_SEED        0x1A46E5EEDull

static uint64_t cur_events; /* events in the large stores now */
static suite_gen cur_gen;   /* the generator as the stores are now: W7/W9's answers */

static int large_capable(const engine *e)
{
    return e->ok && e->d->reopen;
}

/* Fill e's store at dir from generator state `from` up to `target` events, leaving the
 * generator's end state in *to when to is not NULL. */
static int fill(engine *e, const char *dir, int create, const suite_gen *from, uint64_t target,
                suite_gen *to)
{
    static suite_ev ev[LOAD_BATCH];
    suite_gen g;
    void *db, *conn;
    if (suite_gen_copy(&g, from) != 0)
        return -1;
    int rc = create ? e->d->open(&db, dir, 0) : e->d->reopen(&db, dir);
    if (rc != SUITE_OK) {
        suite_gen_free(&g);
        return -1;
    }
    if ((rc = e->d->conn_open(&conn, db)) == SUITE_OK) {
        double t0 = suite_now();
        uint64_t first = g.next;
        size_t max = e->d->load ? LOAD_BATCH : SUITE_MAX_BATCH;
        while (rc == SUITE_OK && g.next < target) {
            size_t n = target - g.next < max ? (size_t)(target - g.next) : max;
            for (size_t j = 0; j < n; j++) {
                suite_gen_next(&g, &ev[j]);
                if (!e->d->load)
                    ev[j].expect = SUITE_EXPECT_ANY; /* as W1 appends */
            }
            rc = e->d->load ? e->d->load(conn, ev, n) : e->d->append_batch(conn, ev, n);
        }
        e->d->conn_close(conn);
        if (target - first > 1000)
            fprintf(stderr, "suite: %s: filled to %llu events (%.0f events/s, not a result)\n",
                    e->d->name, (unsigned long long)target,
                    (double)(target - first) / (suite_now() - t0));
    }
    e->d->close(db);
    if (rc == SUITE_OK && to) {
        suite_gen_free(to);
        *to = g;
    } else {
        suite_gen_free(&g);
    }
    return rc == SUITE_OK ? 0 : -1;
}

/* Fill every engine's large store to `target`; cur_gen moves along. */
static void fill_all(uint64_t target, int create)
{
    suite_gen next = {0};
    for (int i = 0; i < nengines; i++) {
        engine *e = &engines[i];
        if (!e->large_ok)
            continue;
        if (fill(e, e->large_dir, create, &cur_gen, target, next.names ? NULL : &next) != 0) {
            fprintf(stderr, "suite: %s: filling the large store failed; it leaves W6, W7, W9\n",
                    e->d->name);
            e->large_ok = 0;
        }
    }
    if (next.names) {
        suite_gen_free(&cur_gen);
        cur_gen = next;
        cur_events = target;
    }
    /* The fills leave gigabytes for the kernel to write back: let it finish now rather
     * than while W6, W7 and W9 measure (it would take the CPU and the disk from
     * whichever engine runs then). */
    double t0 = suite_now();
    suite_settle();
    fprintf(stderr, "suite: large stores written back in %.1f s (not a result)\n",
            suite_now() - t0);
}

static int enough_space(int n)
{
    struct statvfs fs;
    double need = (double)n * (double)cfg.large * BYTES_PER_EVENT;
    if (statvfs(rundir, &fs) != 0)
        return 1; /* cannot tell: let the engines report ENOSPC if it comes to that */
    double avail = (double)fs.f_bavail * (double)fs.f_frsize;
    if (avail >= need)
        return 1;
    fprintf(stderr,
            "suite: W6, W7, W9 need about %.1f GB free under %s for %d engines at %llu events, "
            "and there are %.1f GB: skipped (try --large with fewer events, or --dir)\n",
            need / 1e9, rundir, n, (unsigned long long)cfg.large, avail / 1e9);
    return 0;
}

/* ---- the measurements, as the phase runner calls them ---- */

static int opens_locally(const engine *e)
{
    return e->d->head && !e->d->open_is_connect;
}

/* W9's variants fail alone (an engine that misses one still runs the next). */
static int has_filtered(const engine *e)
{
    return e->large_ok && e->d->filtered;
}

static int has_indexes(const engine *e)
{
    return e->large_ok && e->d->filtered && e->d->add_indexes;
}

static double m_w6(engine *e, int rep)
{
    return suite_w6_open(e, rep, cur_events);
}

static double m_w7(engine *e, int rep)
{
    return suite_w7_memory(e, rep, &cur_gen.all);
}

/* W9's filters: each by type and by category, at 1%, 0.1% and 10% of the events, run
 * without and then with the peers' secondary indexes. */
typedef struct w9_case {
    const char *name, *name_index;
    suite_filter plain, indexed;
    const suite_sum *want;
} w9_case;

static const w9_case w9_cases[] = {
    {"W9-type", "W9-type-index", {0, SUITE_RARE_TYPE, 0}, {0, SUITE_RARE_TYPE, 1},
     &cur_gen.rare_type},
    {"W9-category", "W9-category-index", {1, SUITE_RARE_CATEGORY, 0},
     {1, SUITE_RARE_CATEGORY, 1}, &cur_gen.rare_category},
    {"W9-type-0.1pct", "W9-type-0.1pct-index", {0, SUITE_RARER_TYPE, 0},
     {0, SUITE_RARER_TYPE, 1}, &cur_gen.rarer_type},
    {"W9-category-0.1pct", "W9-category-0.1pct-index", {1, SUITE_RARER_CATEGORY, 0},
     {1, SUITE_RARER_CATEGORY, 1}, &cur_gen.rarer_category},
    {"W9-type-10pct", "W9-type-10pct-index", {0, SUITE_COMMON_TYPE, 0},
     {0, SUITE_COMMON_TYPE, 1}, &cur_gen.common_type},
    {"W9-category-10pct", "W9-category-10pct-index", {1, SUITE_COMMON_CATEGORY, 0},
     {1, SUITE_COMMON_CATEGORY, 1}, &cur_gen.common_category},
};
#define W9_CASES (sizeof w9_cases / sizeof w9_cases[0])

static const w9_case *cur_w9; /* the case the phase running now measures */

static double m_w9(engine *e, int rep)
{
    (void)rep;
    return suite_w9_filtered(e, &cur_w9->plain, cur_events, cur_w9->want);
}

static double m_w9_index(engine *e, int rep)
{
    (void)rep;
    return suite_w9_filtered(e, &cur_w9->indexed, cur_events, cur_w9->want);
}

/* W6/W7 "read one": a stream of the large store that has events, and the 10-event
 * store's first stream, with their last versions. */
static char one_stream[24], tiny_stream[24];
static int64_t one_version, tiny_version;

static void pick_streams(void)
{
    for (uint64_t k = 777 % suite_gen_streams;; k = (k + 1) % suite_gen_streams)
        if (cur_gen.last_version[k] >= 0) {
            snprintf(one_stream, sizeof one_stream, "%s", cur_gen.names[k]);
            one_version = cur_gen.last_version[k];
            return;
        }
}

static int has_read_one(const engine *e)
{
    return e->d->read_one != NULL;
}

static double m_w6_one(engine *e, int rep)
{
    return suite_w6_read_one(e, rep, one_stream, one_version, tiny_stream, tiny_version);
}

static double m_w7_one(engine *e, int rep)
{
    return suite_w7_read_one(e, rep, one_stream, one_version);
}

/* W6 and W7 at the current size. Names carry the size ("W6-open-1M"). */
static void measure_size(int w6, int w7)
{
    /* The phase runner keeps the names' pointers only while it runs. */
    char sz[24], open[64], tiny[64], bare[64], tiny_bare[64], rss[64], base[64], server[64],
        rate[64];
    suite_size_label(cur_events, sz, sizeof sz);
    snprintf(open, sizeof open, "W6-open-%s", sz);
    snprintf(tiny, sizeof tiny, "W6-open-10-vs-%s", sz);
    snprintf(bare, sizeof bare, "W6-open-stateless-%s", sz);
    snprintf(tiny_bare, sizeof tiny_bare, "W6-open-stateless-10-vs-%s", sz);
    snprintf(rss, sizeof rss, "W7-RssAnon-%s", sz);
    snprintf(base, sizeof base, "W7-base-%s", sz);
    snprintf(server, sizeof server, "W7-server-%s", sz);
    snprintf(rate, sizeof rate, "W7-rate-%s", sz);
    const suite_measure m6 = {.name = open,
                              .unit = "us",
                              .run = m_w6,
                              .aux_name = {tiny, bare, tiny_bare},
                              .aux_unit = {"us", "us", "us"},
                              .applies = opens_locally,
                              .on_failure = SUITE_FAIL_LARGE},
                        m7 = {.name = rss,
                              .unit = "MiB",
                              .run = m_w7,
                              .aux_name = {base, server, rate},
                              .aux_unit = {"MiB", "MiB", "events/s"},
                              .on_failure = SUITE_FAIL_LARGE};
    if (w6)
        suite_phase(&m6, cfg.reps);
    if (w7) /* memory is no noisy figure: one repetition */
        suite_phase(&m7, 1);
    /* Open + read one stream, at this many streams (--large-streams). */
    char streams[24], one[96], one_tiny[64], one_rss[96], one_base[64];
    suite_size_label(suite_gen_streams, streams, sizeof streams);
    snprintf(one, sizeof one, "W6-read-one-%s-%s-streams", sz, streams);
    snprintf(one_tiny, sizeof one_tiny, "W6-read-one-10-vs-%s", sz);
    snprintf(one_rss, sizeof one_rss, "W7-read-one-RssAnon-%s-%s-streams", sz, streams);
    snprintf(one_base, sizeof one_base, "W7-read-one-base-%s", sz);
    const suite_measure m6one = {.name = one,
                                 .unit = "us",
                                 .run = m_w6_one,
                                 .aux_name = {one_tiny},
                                 .aux_unit = {"us"},
                                 .applies = has_read_one,
                                 .on_failure = SUITE_FAIL_LARGE},
                        m7one = {.name = one_rss,
                                 .unit = "MiB",
                                 .run = m_w7_one,
                                 .aux_name = {one_base},
                                 .aux_unit = {"MiB"},
                                 .applies = has_read_one,
                                 .on_failure = SUITE_FAIL_LARGE};
    pick_streams();
    if (w6)
        suite_phase(&m6one, cfg.reps);
    if (w7)
        suite_phase(&m7one, 1);
}

static void measure_filters(void)
{
    for (size_t i = 0; i < W9_CASES; i++) {
        cur_w9 = &w9_cases[i];
        const suite_measure m = {.name = cur_w9->name,
                                 .warm = 1,
                                 .unit = "events/s",
                                 .run = m_w9,
                                 .applies = has_filtered,
                                 .on_failure = SUITE_FAIL_ONE};
        suite_phase(&m, cfg.reps);
    }
    for (int i = 0; i < nengines; i++) {
        engine *e = &engines[i];
        if (!e->large_ok || !has_indexes(e))
            continue;
        void *db;
        double t0 = suite_now();
        int rc = e->d->reopen(&db, e->large_dir);
        if (rc == SUITE_OK) {
            rc = e->d->add_indexes(db);
            e->d->close(db);
        }
        if (rc != SUITE_OK) {
            fprintf(stderr, "suite: %s: W9 indexes failed; the index variant is left out\n",
                    e->d->name);
            e->large_ok = 0;
        } else {
            fprintf(stderr, "suite: %s: W9 indexes built in %.1f s (not a result)\n", e->d->name,
                    suite_now() - t0);
        }
    }
    for (size_t i = 0; i < W9_CASES; i++) {
        cur_w9 = &w9_cases[i];
        const suite_measure m = {.name = cur_w9->name_index,
                                 .warm = 1,
                                 .unit = "events/s",
                                 .run = m_w9_index,
                                 .applies = has_indexes,
                                 .on_failure = SUITE_FAIL_ONE};
        suite_phase(&m, cfg.reps);
    }
}

void suite_large_run(void)
{
    int w6 = suite_listed(cfg.workloads, "W6"), w7 = suite_listed(cfg.workloads, "W7"),
        w9 = suite_listed(cfg.workloads, "W9"), n = 0;
    for (int i = 0; i < nengines; i++)
        n += large_capable(&engines[i]);
    if (!n || !enough_space(n) || suite_gen_init(&cur_gen, &model, GEN_SEED) != 0)
        return;
    cur_events = 0;
    /* The 10-event store's first stream and its version there: the generator's start. */
    suite_gen g;
    suite_ev ev;
    if (suite_gen_copy(&g, &cur_gen) != 0)
        return;
    suite_gen_next(&g, &ev);
    snprintf(tiny_stream, sizeof tiny_stream, "%s", ev.stream);
    for (int i = 1; i < 10; i++)
        suite_gen_next(&g, &ev);
    for (uint64_t k = 0; k < suite_gen_streams; k++)
        if (!strcmp(g.names[k], tiny_stream))
            tiny_version = g.last_version[k];
    suite_gen_free(&g);
    fprintf(stderr, "suite: W6, W7, W9: filling the large stores ...\n");
    for (int i = 0; i < nengines; i++) {
        engine *e = &engines[i];
        e->large_ok = large_capable(e);
        if (!e->large_ok)
            continue;
        suite_store_dir(e->tiny_dir, sizeof e->tiny_dir, e, "tiny", 0);
        suite_store_dir(e->large_dir, sizeof e->large_dir, e, "large", 0);
        if (fill(e, e->tiny_dir, 1, &cur_gen, 10, NULL) != 0 ||
            fill(e, e->large_dir, 1, &cur_gen, 0, NULL) != 0) {
            fprintf(stderr, "suite: %s: cannot make the W6 stores\n", e->d->name);
            e->large_ok = 0;
        }
    }
    fill_all(cfg.large / 10, 0);
    measure_size(w6, w7);
    fill_all(cfg.large, 0);
    measure_size(w6, w7);
    if (w9)
        measure_filters();
    for (int i = 0; i < nengines; i++) {
        engine *e = &engines[i];
        if (e->tiny_dir[0]) {
            suite_drop_store(e, NULL, e->tiny_dir);
            suite_drop_store(e, NULL, e->large_dir);
        }
    }
    suite_gen_free(&cur_gen);
}
