/*
 * pg_internal.h - the PostgreSQL backend's handle and what its files share.
 *
 * A store is a schema of one PostgreSQL database (docs/SQL.md): the events, a stream
 * name table, consumer checkpoints, a meta table with the schema version, and the
 * one-row table evs_head that holds the last position. The schema is named by the
 * location's `schema` parameter, so one database holds several stores beside the
 * application's own tables (the outbox, evs_pg_append_tx in include/evstore_sql.h).
 *
 * Positions in commit order: an append locks evs_head's row first (SELECT ... FOR
 * UPDATE), inserts at the position after it and writes the new head back in the same
 * transaction. The next append waits on that row lock until the first has committed
 * and is visible, then reads the head it left: so a transaction that holds position N
 * commits after every transaction holding a position below N, and a reader that has
 * seen N can never later find a committed event below N. A rollback releases the row
 * with its old value: no hole.
 *
 * One handle owns one connection, used by one thread at a time (`mu`), plus a second
 * one that LISTENs for the store's notifications (pg_wait.c) and one per open durable
 * consumer, which holds its advisory lock (pg_consumers.c).
 */
#ifndef EVS_PG_INTERNAL_H
#define EVS_PG_INTERNAL_H

#include "backend.h"
#include "util.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>

/* The schema this evstore writes and reads (docs/SQL.md keeps the history). */
#define EVS_PG_SCHEMA_VERSION 1

/* The longest schema name: the notification channel "evs:" + name must fit
 * PostgreSQL's 63-byte identifiers. */
#define EVS_PG_MAX_SCHEMA 59

/* Statements prepared once per owned connection (borrowed ones run them unprepared). */
enum {
    PQS_HEAD,        /* the last position and its ts */
    PQS_HEAD_LOCK,   /* the same, locking the row until the transaction ends */
    PQS_HEAD_SET,    /* the new head, and the notification that wakes waiters */
    PQS_STREAM_FIND, /* a stream's id, last version and last position, by name */
    PQS_STREAM_ADD,  /* a new stream name */
    PQS_INSERT,      /* one event, its stream by name */
    PQS_ID_FIND,     /* the version and position of an id in a stream */
    PQS_AT_VERSION,  /* the id and position of a stream's version */
    PQS_SCAN_FWD,    /* cursors (pg_cursor.c): every stream, forward from a position */
    PQS_SCAN_BWD,    /* ... backward */
    PQS_STREAM_FWD,  /* one stream, forward from a version */
    PQS_STREAM_BWD,  /* ... backward */
    PQS_TS_AT,       /* the ts of one position (the time seek) */
    PQS_COUNT
};

typedef struct pg_backend {
    evs__backend base;
    char *conninfo; /* the location without its schema parameter, for libpq */
    char *display;  /* "postgresql://host:port/db?schema=NAME", for messages (no password) */
    char *schema;   /* the schema's name */
    char *qschema;  /* ... quoted as an identifier */
    char channel[EVS_PG_MAX_SCHEMA + 8]; /* the notification channel, "evs:" + schema */
    char *sql[PQS_COUNT];                /* the statements, with the schema filled in */
    PGconn *conn;
    bool prepared; /* the statements are prepared on conn (lost when it reconnects) */
    bool borrowed; /* the outbox: the application's connection, inside its own
                    * transaction; never closed, committed or reset here */
    bool readonly;
    evs_options opts;
    pthread_mutex_t mu; /* the connection is used by one thread at a time */
    /* Group commit (pg_commit.c). */
    pthread_mutex_t queue_mu;
    pthread_cond_t queue_cv;
    struct pq_request *queue;
    bool committing;
    /* Waits (pg_wait.c). */
    struct pg_listener *listener;
} pg_backend;

/* Parameters of one statement, bound in binary (integers big-endian). */
#define PQ_MAX_PARAMS 8
typedef struct pq_params {
    int n;
    const char *value[PQ_MAX_PARAMS];
    int length[PQ_MAX_PARAMS];
    int format[PQ_MAX_PARAMS];
    uint64_t ints[PQ_MAX_PARAMS];
} pq_params;

void evs__pq_add_i64(pq_params *p, int64_t v);
void evs__pq_add_bytes(pq_params *p, const void *data, size_t len); /* text or bytea */

/* A result's field in binary format. */
int64_t evs__pq_get_i64(const PGresult *r, int row, int col);

/* A failed statement as an evstore error: `what`, then PostgreSQL's message and
 * SQLSTATE. Clears r. */
int evs__pq_fail(pg_backend *pb, PGresult *r, const char *what);
/* The same for a statement run on another connection than the handle's. */
int evs__pq_fail_on(const pg_backend *pb, PGconn *conn, PGresult *r, const char *what);

/* Run statement `which` (prepared on an owned connection, sent with its text on a
 * borrowed one); *out the result when it succeeded (PQclear it), else the error. A
 * statement outside a transaction that finds the session gone (a server restart) runs
 * again on a new one. */
int evs__pq_run(pg_backend *pb, int which, const pq_params *p, PGresult **out, const char *what);

/* Run SQL text with no parameters, binary results, as evs__pq_run. */
int evs__pq_query(pg_backend *pb, const char *sql, PGresult **out, const char *what);

/* Run SQL text with no parameters and no result wanted (BEGIN, SAVEPOINT ...). */
int evs__pq_exec(pg_backend *pb, const char *sql);

/* The location "postgresql://...?schema=NAME" split into what libpq takes and the
 * schema (pg_location.c); fills conninfo, schema, qschema, channel and display.
 * EVS_EINVAL naming what is wrong. */
int evs__pq_parse_location(pg_backend *pb, const char *location);

/* EVS_EINVAL unless `schema` is 1..EVS_PG_MAX_SCHEMA bytes of [A-Za-z0-9_.-]. */
int evs__pq_check_schema_name(const char *schema);

/* Connect `conninfo` with the session settings the backend needs; EVS_EIO naming the
 * display location when the server cannot be reached. */
int evs__pq_connect(pg_backend *pb, PGconn **out);

/* Before a use of the connection: reconnect when the server dropped it (a restart),
 * and prepare the statements again. Caller holds mu. */
int evs__pq_ready(pg_backend *pb);

/* The schema in pb->conn (pg_schema.c): created when missing and `create` (inside the
 * caller's transaction), checked against EVS_PG_SCHEMA_VERSION otherwise. *created
 * tells which (may be NULL). EVS_ENOTFOUND when missing and not `create`. */
int evs__pq_schema_ensure(pg_backend *pb, bool create, bool *created);

/* Fill pb->sql from the schema name. */
int evs__pq_statements(pg_backend *pb);
void evs__pq_free_statements(pg_backend *pb);

/* The last position (0 when empty) and its ts; the caller holds mu. */
int evs__pq_head_locked(pg_backend *pb, int64_t *pos, int64_t *ts);

/* Write the batches inside the transaction the caller has open (borrowed or not): all
 * or, on failure, nothing of them (a savepoint is rolled back). Caller holds mu. */
int evs__pq_append_in_tx(pg_backend *pb, const evs__batch_w *batches, size_t batch_count,
                         evs_append_result *out);

/* A backend around the application's connection (the outbox), its `schema`. Closed
 * with evs__pq_close_borrowed, which leaves the connection open. */
int evs__pq_open_borrowed(pg_backend **out, PGconn *conn, const char *schema);
void evs__pq_close_borrowed(pg_backend *pb);

/* Waiting (pg_wait.c): the listener is made at the first wait. */
int evs__pq_wait(evs__backend *be, int64_t after_pos, int timeout_ms, int64_t *head_out);
void evs__pq_wake(evs__backend *be, bool closing);
void evs__pq_signal(pg_backend *pb, int64_t head); /* an append of this handle committed */
void evs__pq_listener_free(pg_backend *pb);

/* Backend methods defined outside pg_backend.c. */
int evs__pq_append(evs__backend *be, const evs__batch_w *batches, size_t batch_count,
                   evs_append_result *out);
int evs__pq_cursor_open(evs__be_cursor **out, evs__backend *be, const evs__query_c *q);
int evs__pq_cursor_next(evs__be_cursor *c, evs_event *out);
void evs__pq_cursor_close(evs__be_cursor *c);
int evs__pq_stream_get(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                       evs_stream_info *out);
int evs__pq_streams_open(evs__be_streams **out, evs__backend *be, const char *prefix,
                         size_t prefix_len);
int evs__pq_streams_next(evs__be_streams *it, const char **name, size_t *name_len,
                         evs_stream_info *info);
void evs__pq_streams_close(evs__be_streams *it);
int evs__pq_find_time(evs__backend *be, int64_t ts_ns, int64_t *out);
int evs__pq_verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report);
int evs__pq_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report);
int evs__pq_consumer_lock(evs__backend *be, const char *name, evs__be_consumer **out);
void evs__pq_consumer_unlock(evs__backend *be, evs__be_consumer *h);
int evs__pq_checkpoint_load(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns);
int evs__pq_checkpoint_store(evs__backend *be, evs__be_consumer *h, int64_t pos, int64_t ts_ns,
                             bool durable);
int evs__pq_consumer_delete(evs__backend *be, evs__be_consumer *h);
int evs__pq_consumer_list(evs__backend *be, evs__consumer_cb cb, void *ctx);
int evs__pq_filter_load(evs__backend *be, const char *name, char **out);
int evs__pq_filter_store(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                         int64_t ts_ns);

#endif /* EVS_PG_INTERNAL_H */
