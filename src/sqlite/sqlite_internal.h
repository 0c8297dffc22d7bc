/*
 * sqlite_internal.h - the SQLite backend's handle and what its files share.
 *
 * A store is a set of tables in one SQLite database (docs/SQL.md): the events, a stream
 * name table, consumer checkpoints and a meta table with the schema version. The
 * database may hold the application's own tables too; that is what the outbox
 * (evs_sqlite_append_tx, include/evstore_sql.h) is for.
 *
 * One handle owns one connection, used by one thread at a time (`mu`). SQLite has one
 * writer per database: an append is one IMMEDIATE transaction that takes the write lock
 * first, reads the head and the stream's last version, and inserts at head + 1, so
 * positions are handed out in commit order and a rollback leaves no hole.
 */
#ifndef EVS_SQLITE_INTERNAL_H
#define EVS_SQLITE_INTERNAL_H

#include "backend.h"
#include "util.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

/* The schema this evstore writes and reads (docs/SQL.md keeps the history). */
#define EVS_SQL_SCHEMA_VERSION 1

/* Statements prepared once per handle. */
enum {
    SQ_HEAD,        /* the last position and its ts */
    SQ_STREAM_FIND, /* stream id by name */
    SQ_STREAM_ADD,  /* a new stream name */
    SQ_STREAM_LAST, /* a stream's last version and its position */
    SQ_INSERT,      /* one event */
    SQ_ID_FIND,     /* the version and position of an id in a stream */
    SQ_AT_VERSION,  /* the id and position of a stream's version */
    SQ_SCAN_FWD,    /* cursors (sqlite_cursor.c): every stream, forward from a position */
    SQ_SCAN_BWD,    /* ... backward */
    SQ_STREAM_FWD,  /* one stream, forward from a version */
    SQ_STREAM_BWD,  /* ... backward */
    SQ_COUNT
};

typedef struct sqlite_backend {
    evs__backend base;
    char *path; /* the database file, without the "sqlite:" */
    sqlite3 *db;
    bool borrowed; /* the outbox: the application's connection, inside its own
                    * transaction; never closed or committed here */
    bool readonly;
    evs_options opts;
    pthread_mutex_t mu; /* the connection is used by one thread at a time */
    sqlite3_stmt *st[SQ_COUNT];
    /* Waits: appends through this handle signal at once; other handles and processes
     * are seen by looking at the head every WAIT_POLL_MS. */
    /* Group commit (sqlite_commit.c): appends queued while one commits go into the
     * next transaction together, one sync for all of them. */
    pthread_mutex_t queue_mu;
    pthread_cond_t queue_cv;
    struct sq_request *queue;
    bool committing;
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv;
    uint64_t wake_gen;
    bool closing;
} sqlite_backend;

/* An SQLite result as an evstore error, with `what` and SQLite's own message. */
int evs__sq_err(sqlite_backend *sb, int sqlite_rc, const char *what);

/* The schema in sb->db: created when missing and `create` (inside the caller's
 * transaction, if any), checked against EVS_SQL_SCHEMA_VERSION otherwise.
 * *created tells which (may be NULL). */
int evs__sq_schema_ensure(sqlite_backend *sb, bool create, bool *created);

/* Prepare the handle's statements (after the schema exists). */
int evs__sq_prepare_all(sqlite_backend *sb);
void evs__sq_finalize_all(sqlite_backend *sb);

/* One statement run once with no results (BEGIN, SAVEPOINT ...). */
int evs__sq_exec(sqlite_backend *sb, const char *sql);

/* The last position (0 when empty) and its ts; the caller holds mu. */
int evs__sq_head_locked(sqlite_backend *sb, int64_t *pos, int64_t *ts);

/* Write the batches inside the transaction the caller has open (borrowed or not): all
 * or, on failure, nothing of them (a savepoint is rolled back). Caller holds mu. */
int evs__sq_append_in_tx(sqlite_backend *sb, const evs__batch_w *batches, size_t batch_count,
                         evs_append_result *out);

/* A backend around the application's connection `db` (the outbox): the schema is
 * created when missing, inside the transaction the application has open. Closed with
 * evs__sq_close_borrowed, which leaves the connection open. */
int evs__sq_open_borrowed(sqlite_backend **out, sqlite3 *db);
void evs__sq_close_borrowed(sqlite_backend *sb);

/* Make waiters look at the head again (an append of this handle committed). */
void evs__sq_signal(sqlite_backend *sb);

/* Backend methods defined outside sqlite_backend.c. */
int evs__sq_append(evs__backend *be, const evs__batch_w *batches, size_t batch_count,
                   evs_append_result *out);
int evs__sq_cursor_open(evs__be_cursor **out, evs__backend *be, const evs__query_c *q);
int evs__sq_cursor_next(evs__be_cursor *c, evs_event *out);
void evs__sq_cursor_close(evs__be_cursor *c);
int evs__sq_stream_get(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                       evs_stream_info *out);
int evs__sq_streams_open(evs__be_streams **out, evs__backend *be, const char *prefix,
                         size_t prefix_len);
int evs__sq_streams_next(evs__be_streams *it, const char **name, size_t *name_len,
                         evs_stream_info *info);
void evs__sq_streams_close(evs__be_streams *it);
int evs__sq_find_time(evs__backend *be, int64_t ts_ns, int64_t *out);
int evs__sq_verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report);
int evs__sq_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report);
int evs__sq_consumer_lock(evs__backend *be, const char *name, evs__be_consumer **out);
void evs__sq_consumer_unlock(evs__backend *be, evs__be_consumer *h);
int evs__sq_checkpoint_load(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns);
int evs__sq_checkpoint_store(evs__backend *be, evs__be_consumer *h, int64_t pos, int64_t ts_ns,
                             bool durable);
int evs__sq_consumer_delete(evs__backend *be, evs__be_consumer *h);
int evs__sq_consumer_list(evs__backend *be, evs__consumer_cb cb, void *ctx);
int evs__sq_filter_load(evs__backend *be, const char *name, char **out);
int evs__sq_filter_store(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                         int64_t ts_ns);

#endif /* EVS_SQLITE_INTERNAL_H */
