/*
 * suite.h - shared declarations of the benchmark suite (evs_bench_suite): the driver
 * interface every engine implements (suite_evstore.c, suite_sqlite.c, suite_lmdb.c,
 * suite_pg.c), the push feeds of W8 (suite_feed_evstore.c, suite_pg_notify.c), the
 * event models (suite_model.c), the physical-limit probes (suite_phys.c), the child
 * processes (suite_child.c) and the runner's reporting hook (suite_report.c).
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
#define SUITE_MODEL_SEED 0x5EED5EED5EEDull /* W1's event sequence (also the reference drivers') */

/* The large stores of W6, W7 and W9 add kinds of event to the model for W9's filters,
 * at three selectivities. Types: event i has SUITE_RARE_TYPE when i % 100 == 99 (1%),
 * SUITE_RARER_TYPE when i % 1000 == 998 (0.1%), SUITE_COMMON_TYPE when i % 10 == 3
 * (10%). Streams: stream k is "<SUITE_RARE_CATEGORY>-<k>" when k % 100 == 0 (1%),
 * "<SUITE_RARER_CATEGORY>-<k>" when k % 1000 == 1 (0.1%), "<SUITE_COMMON_CATEGORY>-<k>"
 * when k % 10 == 5 (10%), else "order-<k>"; events pick streams uniformly. */
#define SUITE_RARE_TYPE       "ItemRemoved"
#define SUITE_RARE_CATEGORY   "refund"
#define SUITE_RARER_TYPE      "ItemVoided"
#define SUITE_RARER_CATEGORY  "void"
#define SUITE_COMMON_TYPE     "ItemViewed"
#define SUITE_COMMON_CATEGORY "return"

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
    int64_t expect;   /* SUITE_EXPECT_ANY or the stream's expected last version */
    const char *type; /* NULL: SUITE_EVENT_TYPE */
} suite_ev;

static inline const char *suite_ev_type(const suite_ev *e)
{
    return e->type ? e->type : SUITE_EVENT_TYPE;
}

/* W9: which events a filtered catch-up selects. */
typedef struct suite_filter {
    int by_category;   /* 0: events of type `value`; 1: streams of category `value` */
    const char *value; /* one of the types or categories above */
    int use_index;     /* 1: the engine may use a secondary index (made by add_indexes);
                        * 0: it reads every event, as evstore does */
} suite_filter;

struct suite_feed;

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

    /* ---- the large-store workloads (W6, W7, W9); NULL = not supported ---- */

    /* Open a store that open() made earlier, possibly in another process, in the
     * engine's unsynced mode: for reads and for more appends. */
    int (*reopen)(void **db, const char *dir);
    /* W6's first query on a store just opened: its last position. */
    int (*head)(void *db, int64_t *pos);
    /* W6/W7 "read one": stream `stream`'s last version (-1: none), from a store just
     * opened, and its events read (payloads touched). NULL: not measured. */
    int (*read_one)(void *db, const char *stream, int64_t *last_version);
    /* Fill a store fast, unmeasured: like append_batch, but with up to 10,000 events,
     * and each ev.expect is the stream's true last version, which the driver may use
     * without checking it. NULL: the runner uses append_batch. */
    int (*load)(void *conn, const suite_ev *ev, size_t n);
    /* The table of stream versions an appending process keeps (suite_versions.h): open()
     * starts it empty, reopen() without it (every append then reads its stream's version
     * from the store until the table knows it). on = 1: load it from the store, as a
     * service does when it starts (W6 times this with the open); on = 0: drop it and
     * read every append's version from the store, as a stateless service does (the
     * "-stateless" rows). NULL: the engine keeps its own (evstore). */
    int (*versions)(void *db, int on);
    /* W9: every event the filter selects, in position order, each payload touched
     * whole (sums as replay does). */
    int (*filtered)(void *conn, const suite_filter *f, suite_sum *out);
    /* W9: build the secondary indexes that filtered() may use with use_index. NULL:
     * the engine has none to offer (only its full read is measured). */
    int (*add_indexes)(void *db);
    /* W7: the process that does the reading for conn, whose memory is reported beside
     * the client's (PostgreSQL's backend); NULL or 0: none. */
    long (*server_pid)(void *conn);
    /* Remove what a closed store keeps outside its dir (a server's table). NULL: the
     * runner's removal of dir is all. */
    void (*destroy)(const char *dir);
    /* Finish the writes the engine still has pending in the background (a server's
     * checkpoint), so that the next measurement, of whichever engine, does not share
     * the disk with them. NULL: nothing runs in the background. */
    void (*settle)(void);
    /* 1: opening is connecting to a running server, so W6 (start-up) leaves it out. */
    int open_is_connect;
    /* W8: how a subscriber learns of new events; NULL: the engine has no push. */
    const struct suite_feed *feed;
} suite_driver;

/* W8: append-to-delivery latency. A feed writes events carrying the send time
 * (CLOCK_MONOTONIC ns, which is system-wide, so it holds across processes) and
 * delivers them to a subscriber that started at the end. `target` names the store
 * (a directory, or a table for a server). All return SUITE_OK or SUITE_ERR. */
typedef struct suite_feed {
    const char *name;
    /* Make an empty store at target; cleanup() removes it. */
    int (*prepare)(const char *target);
    void (*cleanup)(const char *target);
    int (*writer_open)(void **w, const char *target);
    /* Event number i (from 0), sent at sent_ns. */
    int (*write)(void *w, uint64_t i, int64_t sent_ns);
    void (*writer_close)(void *w);
    /* A subscriber that sees only events written after it opened. */
    int (*reader_open)(void **r, const char *target);
    /* The same on the writer's own handle, as threads of one program share a store.
     * NULL: in one process too the subscriber has its own (a connection). */
    int (*reader_open_shared)(void **r, void *w);
    /* Wait up to timeout_ms for the next event: 1 with its send time in *sent_ns, 0 on
     * timeout, SUITE_ERR. */
    int (*read)(void *r, int64_t *sent_ns, int timeout_ms);
    void (*reader_close)(void *r);
} suite_feed;

/* W8's payload: the model's shape plus "t", the send time; returns its length. */
size_t suite_feed_payload(char *buf, size_t cap, uint64_t i, int64_t sent_ns);
/* The "t" of such a payload; -1 when there is none. */
int64_t suite_feed_sent_ns(const char *data, size_t len);

extern const suite_driver suite_evstore_driver;
extern const suite_driver suite_evstore_sqlite_driver; /* evstore on sqlite:DIR/events.db */
extern const suite_feed suite_evstore_feed;
/* The compiled-in driver called `name`, or NULL. */
const suite_driver *suite_driver_named(const char *name);
#ifdef SUITE_HAVE_SQLITE
extern const suite_driver suite_sqlite_driver;
#endif
#ifdef SUITE_HAVE_LMDB
extern const suite_driver suite_lmdb_driver;
#endif
#ifdef SUITE_HAVE_PG
extern const suite_driver suite_pg_driver;
extern const suite_driver suite_evstore_pg_driver; /* evstore on a schema of that server */
extern const suite_feed suite_pg_feed;
/* How to reach the suite's server: set by the driver's setup and passed to child
 * processes through the environment (SUITE_PG_CONNINFO). NULL: no server. */
const char *suite_pg_conninfo(void);
/* A store's table in the server: named after the last part of its directory. */
void suite_pg_table(char *out, size_t cap, const char *dir);
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

/* The large stores' sequence (W6, W7, W9): events generated one by one, as many as
 * wanted (10,000,000 need no table), with the model's payloads, the rare type and
 * category above, and each event's expect set to its stream's last version. The
 * generator also keeps what a full read and each W9 filter must return. */
typedef struct suite_gen {
    const suite_model *m;
    char (*names)[24];     /* suite_gen_streams streams, the W9 categories' included */
    int64_t *last_version; /* per stream, -1 before its first event */
    uint64_t rng;
    uint64_t next; /* index of the next event */
    suite_sum all, rare_type, rare_category; /* 1% */
    suite_sum rarer_type, rarer_category;    /* 0.1% */
    suite_sum common_type, common_category;  /* 10% */
} suite_gen;

/* Streams the generator of the large stores spreads events over (default SUITE_STREAMS;
 * --large-streams). */
extern uint64_t suite_gen_streams;
int suite_gen_init(suite_gen *g, const suite_model *m, uint64_t seed);
int suite_gen_copy(suite_gen *dst, const suite_gen *src); /* dst uninitialised */
void suite_gen_free(suite_gen *g);
void suite_gen_next(suite_gen *g, suite_ev *out);

uint64_t suite_rand(uint64_t *state); /* xorshift64; state must not be 0 */
double suite_now(void);               /* CLOCK_MONOTONIC seconds */
int64_t suite_mono_ns(void);          /* CLOCK_MONOTONIC ns */
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

/* ---- child processes (suite_child.c) ---- */

/* This program run again as a child, `evs_bench_suite --child ROLE ARGS...`, with a
 * pipe from its stdout: a fresh process, so its memory holds nothing of the parent's. */
typedef struct suite_child {
    long pid;
    void *out; /* FILE * of the pipe */
} suite_child;

int suite_child_start(suite_child *c, const char *const args[]);
/* Another program (argv[0] its name) with a pipe from its stdout, as the same. */
int suite_child_exec(suite_child *c, const char *prog, const char *const argv[]);
/* The child's next line (newline removed); -1 at its end. */
int suite_child_line(suite_child *c, char *buf, size_t cap);
/* Wait for the child to exit; 0 when it exited with status 0. */
int suite_child_finish(suite_child *c);
/* The child side: run ROLE (argv after --child); returns the exit status. */
int suite_child_main(int argc, char **argv);
/* RssAnon of process `pid` (0 = this one) in KiB, from /proc/PID/status; -1 if unknown. */
long suite_rss_anon_kib(long pid);

/* The roles children run (suite_memory.c, suite_latency.c). */
int suite_memory_child(int argc, char **argv);
/* The W7 "read one" child: ENGINE DIR STREAM. */
int suite_read_one_child(int argc, char **argv);
int suite_latency_child(int argc, char **argv);

/* ---- reporting (suite_report.c) and physical limits (suite_phys.c) ---- */

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
