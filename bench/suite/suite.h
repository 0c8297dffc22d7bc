/*
 * suite.h - shared declarations of the benchmark suite (evs_bench_suite): the driver
 * interface every engine implements (suite_evstore.c, suite_sqlite.c, suite_lmdb.c,
 * suite_pg.c), the event model (suite_model.c), the physical-limit probes
 * (suite_phys.c) and the runner's reporting hook (suite_main.c).
 *
 * Every engine gets the same events in the same order, so the runner can check that
 * each one reads back exactly what was written (counts and a byte checksum) and the
 * ratios compare like with like.
 */
#ifndef SUITE_H
#define SUITE_H

#include <stddef.h>
#include <stdint.h>

#define SUITE_STREAMS    10000 /* streams "order-0" .. "order-9999" */
#define SUITE_MAX_BATCH  1000  /* largest append_batch a driver must take */
#define SUITE_EVENT_TYPE "ItemAdded"

/* suite_ev.expect: no check, the engine gives the stream's next version. Any other
 * value is the stream's current last version (-1: the stream must not exist), checked
 * inside the same transaction as the insert (optimistic concurrency). */
#define SUITE_EXPECT_ANY (-2)

/* Driver return codes. */
#define SUITE_OK       0
#define SUITE_ERR      (-1) /* the driver printed what failed to stderr */
#define SUITE_CONFLICT (-2) /* expected version did not match; nothing written */

typedef struct suite_ev {
    const char *stream; /* NUL-terminated */
    const char *data;   /* JSON payload */
    size_t data_len;
    int64_t expect; /* SUITE_EXPECT_ANY or the stream's expected last version */
} suite_ev;

/* What a read saw: compared with the model to prove every engine read everything. */
typedef struct suite_sum {
    uint64_t events;
    uint64_t bytes;
    uint64_t checksum; /* sum of every payload byte (W3) or of first bytes (W4) */
} suite_sum;

/* One engine. `db` is a store opened by open(); `conn` is a per-thread handle made by
 * conn_open() (a connection for the SQL engines, the shared handle for the others).
 * All calls return SUITE_OK, SUITE_ERR or SUITE_CONFLICT. */
typedef struct suite_driver {
    const char *name;
    /* Once per run, before any open (start a server, ...). NULL = nothing to do.
     * SUITE_ERR means the engine is skipped; the driver says why on stderr. */
    int (*setup)(const char *tmp_base);
    void (*teardown)(void);
    /* Stop at once what setup started; async-signal-safe (the runner's SIGINT/SIGTERM
     * handler calls it, then removes the run's directory). NULL = nothing. */
    void (*abort)(void);
    /* A fresh, empty store under `dir` (which does not exist yet). durable: every
     * commit is synced before it returns; 0: the engine's unsynced mode. */
    int (*open)(void **db, const char *dir, int durable);
    int (*conn_open)(void **conn, void *db);
    void (*conn_close)(void *conn);
    /* n events (n <= SUITE_MAX_BATCH) each to its own stream, in one atomic commit:
     * all or none, one sync when durable. */
    int (*append_batch)(void *conn, const suite_ev *ev, size_t n);
    /* One event, one commit (durable per the open mode). Called from many threads,
     * each with its own conn. */
    int (*append_one)(void *conn, const suite_ev *ev);
    /* Every event in position order, decoding all fields, summing every payload byte. */
    int (*replay)(void *conn, suite_sum *out);
    /* One stream whole, in version order; sums the first payload byte of each event. */
    int (*read_stream)(void *conn, const char *stream, suite_sum *out);
    void (*close)(void *db);
} suite_driver;

extern const suite_driver suite_evstore_driver;
#ifdef SUITE_HAVE_SQLITE
extern const suite_driver suite_sqlite_driver;
#endif
#ifdef SUITE_HAVE_LMDB
extern const suite_driver suite_lmdb_driver;
#endif
#ifdef SUITE_HAVE_PG
extern const suite_driver suite_pg_driver;
#endif

/* ---- event model (suite_model.c) ---- */

typedef struct suite_model {
    char (*names)[24];  /* SUITE_STREAMS stream names ("order-<k>") */
    char *pool;         /* pool_n payloads, pool_stride bytes apart */
    size_t *pool_len;   /* each payload's length */
    uint64_t *pool_sum; /* each payload's byte sum */
    size_t pool_n, pool_stride;
    uint32_t *seq; /* stream index of event i, for the n events of W1 */
    size_t n;
    uint32_t *counts;   /* events per stream after the n events */
    uint64_t total_sum; /* byte sum of the n payloads */
    uint64_t total_bytes;
} suite_model;

/* Build the model: `events` events over SUITE_STREAMS streams, chosen by a seeded
 * xorshift, with JSON payloads of about `payload_size` bytes (100 or 1024). */
int suite_model_init(suite_model *m, size_t events, size_t payload_size, uint64_t seed);
void suite_model_free(suite_model *m);
/* Event i of the sequence (its payload is pool entry i % pool_n). */
void suite_model_event(const suite_model *m, size_t i, suite_ev *out);

uint64_t suite_rand(uint64_t *state); /* xorshift64; state must not be 0 */
double suite_now(void);               /* CLOCK_MONOTONIC seconds */
int64_t suite_wall_ns(void);          /* CLOCK_REALTIME ns, the ts the peers store */
int suite_rmtree(const char *dir);    /* remove a directory tree; 0 or -1 */

/* Sum every byte of a payload: what "touching every payload byte" means everywhere. */
static inline uint64_t suite_touch(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    return s;
}

/* ---- reporting (suite_main.c) and physical limits (suite_phys.c) ---- */

/* Record the repetitions of one measurement: prints one JSON line (median, min, max)
 * and keeps the median for the ratio table. */
void suite_record(const char *eng, const char *workload, const char *unit, double *v, int n);

/* W10: fdatasync of a 4 KiB append, sequential write with and without fdatasync,
 * memcpy. Files go under `dir`, which is removed afterwards. */
int suite_phys_run(const char *dir, int reps, double seconds, size_t seq_bytes);
/* One repetition of the fdatasync probe on file `path` (removed after): syncs/s, or -1;
 * the p50 and p99 latencies in µs go to *p50 and *p99. */
double suite_phys_fsync_rep(const char *path, double seconds, double *p50, double *p99);

#endif
