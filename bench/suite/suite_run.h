/*
 * suite_run.h - the runner's own declarations, shared by the files that hold its
 * workloads: suite_main.c (options, W1-W5, W2), suite_large.c (the large stores of W6,
 * W7 and W9), suite_open.c (W6), suite_memory.c (W7), suite_latency.c (W8),
 * suite_filter.c (W9) and suite_report.c (results and tables).
 */
#ifndef SUITE_RUN_H
#define SUITE_RUN_H

#include "suite.h"

#define MAX_REPS    15
#define MAX_ENGINES 5
#define MAX_AUX     3

typedef struct config {
    size_t events; /* W1 */
    int reps;
    double w2_seconds; /* per repetition */
    size_t w5_batches; /* per repetition, bounded by w5_seconds */
    double w5_seconds;
    size_t payload;
    size_t seq_bytes;       /* W10 */
    uint64_t large;         /* W6, W7, W9: events in the large store (W6, W7 also at 1/10) */
    uint64_t large_streams; /* streams the large store's events are spread over */
    size_t w8_events;       /* W8: events per repetition */
    unsigned w8_gap_us;     /* W8: time between two appends */
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
    double v[MAX_REPS];
    double aux[MAX_AUX][MAX_REPS]; /* further figures of a measurement (see suite_measure) */
    /* the large stores (suite_large.c) */
    int large_ok;         /* both stores built; cleared when a large workload fails */
    char large_dir[4096]; /* SUITE_LARGE events (first 1/10, then all) */
    char tiny_dir[4096];  /* 10 events */
} engine;

/* One measurement, run on every engine still standing with the repetitions
 * interleaved (rep 1 of every engine, then rep 2 ...), so the machine's drift hits
 * every engine alike. run() returns the main figure (< 0: failed, the engine leaves the
 * run) and may leave further figures in e->aux[k][rep], recorded under aux_name[k]. */
typedef struct suite_measure {
    const char *name, *unit;
    double (*run)(engine *e, int rep);
    const char *aux_name[MAX_AUX];
    const char *aux_unit[MAX_AUX];
    int probe; /* also run the fdatasync probe between repetitions (W2) */
    /* run once, unmeasured, just before each repetition of the same engine (W3, W9):
     * here a read that starts after seconds of idling, or after the other engines'
     * reads, ran up to 40% slower for a while, whichever engine it was */
    int warm;
    /* run after each repetition of each engine, outside the measurement: the reference
     * drivers beside W1 (suite_ref.c), which settle first. NULL: nothing. */
    void (*companion)(engine *e, int rep);
    /* the engines it applies to; NULL = all. Engines it skips stay in the run. */
    int (*applies)(const engine *e);
    /* what an engine that fails it leaves: the run, the large-store workloads (which
     * also need e->large_ok to run), or only this measurement */
    enum { SUITE_FAIL_RUN, SUITE_FAIL_LARGE, SUITE_FAIL_ONE } on_failure;
} suite_measure;

extern config cfg;
extern suite_model model;
extern char rundir[2048];
extern engine engines[MAX_ENGINES];
extern int nengines;

void suite_phase(const suite_measure *m, int reps);
/* Have every engine finish its background writes, then the kernel write back every
 * store of the run: what one engine left pending must not slow the next measurement. */
void suite_settle(void);
int suite_listed(const char *list, const char *name);
void suite_store_dir(char *out, size_t cap, const engine *e, const char *tag, int rep);
/* Close a store and remove its files (and what it keeps elsewhere). */
void suite_drop_store(engine *e, void *db, const char *dir);
int suite_cmp_double(const void *a, const void *b);

/* The median of n values (sorted in place). */
double suite_median(double *v, size_t n);
/* "10", "100k", "1M", "10M": how event counts appear in workload names. */
const char *suite_size_label(uint64_t n, char *buf, size_t cap);

/* ---- workloads in their own files ---- */

void suite_large_run(void); /* W6, W7, W9 on the large stores */
/* Each on e->large_dir (and W6 on e->tiny_dir), which hold `events` events. */
double suite_w6_open(engine *e, int rep, uint64_t events);
double suite_w7_memory(engine *e, int rep, const suite_sum *want);
/* W6/W7 "read one": open the large store, read stream `stream` whole (its last version
 * must be `want`), close. W6: the median time (aux[0]: the same on the 10-event store);
 * W7: RssAnon (MiB) of a fresh process at the end (aux[0]: before opening). */
double suite_w6_read_one(engine *e, int rep, const char *stream, int64_t want,
                         const char *tiny_stream, int64_t tiny_want);
double suite_w7_read_one(engine *e, int rep, const char *stream, int64_t want);
double suite_w9_filtered(engine *e, const suite_filter *f, uint64_t events, const suite_sum *want);
void suite_latency_run(void); /* W8 */

/* The reference drivers (suite_ref.c): W1 and W3 by bench/ref's programs, run after each
 * W1 repetition of the peers that have one; recorded as engine "<peer>-ref". */
void suite_ref_rep(engine *e, int rep);
void suite_ref_record(int reps);
/* Print the check of the peers' drivers against the reference drivers; the number of
 * failures (a driver under 80% of its reference's rate), 0 for a run too short to
 * judge (fewer than 1,000,000 events). */
int suite_ref_check(void);

/* ---- results (suite_report.c) ---- */

typedef struct result {
    char engine[16], workload[64], unit[16];
    double median, min, max;
} result;

const result *suite_find(const char *eng, const char *workload);
void suite_print_tables(void);

#endif
