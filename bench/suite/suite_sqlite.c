/*
 * suite_sqlite.c - the suite's SQLite driver: what a C programmer would build on SQLite
 * 3 for an event log. One table events(pos INTEGER PRIMARY KEY, stream, version, type,
 * ts, data) with UNIQUE(stream, version); WAL mode; synchronous=FULL for durable stores
 * (the WAL is synced at every commit) and OFF for unsynced ones; prepared statements
 * only. Each thread has its own connection; writes go through one process-wide mutex,
 * which is what SQLite's single writer amounts to anyway and spares the threads the
 * busy handler's sleeps (the best case for SQLite).
 *
 * Its best case (issue 26): the driver keeps its streams' last versions in memory
 * (suite_versions.h; loaded from the index when a store is opened), so an insert names
 * its version and reads nothing back; the UNIQUE index still turns away a wrong one. The
 * stateless variant (versions(db, 0)) finds each version in the store instead: one past
 * the stream's last, found through the index inside the INSERT, or read first when an
 * expected version must be checked. The tuning pragmas (page size, cache, checkpoints,
 * mmap) are suite_tuning.h's, chosen by measurement.
 *
 * W9 (filtered catch-up) runs the same SELECT two ways: kept off every index (NOT
 * INDEXED: a read of the whole table in position order) and on an index (INDEXED BY an
 * index on (type, pos) made by add_indexes, or the UNIQUE (stream, version) index for a
 * category, whose matches are then sorted by position).
 */
#define _GNU_SOURCE
#include "suite.h"
#include "suite_tuning.h"
#include "suite_versions.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct sq_db {
    char path[4096];
    int durable;
    pthread_mutex_t wlock; /* also guards vers and stateless */
    sqlite3 *schema;       /* the connection that created the store; kept until close */
    suite_versions *vers;
    int stateless;      /* 1: every version is read from the store */
    struct sq_db *next; /* in open_dbs */
} sq_db;

/* The stores open in this process, for settle(). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static sq_db *open_dbs;

static void track(sq_db *db, int open)
{
    pthread_mutex_lock(&open_lock);
    sq_db **p = &open_dbs;
    while (*p && *p != db)
        p = &(*p)->next;
    if (open && !*p)
        db->next = open_dbs, open_dbs = db;
    else if (!open && *p)
        *p = db->next;
    pthread_mutex_unlock(&open_lock);
}

enum {
    ST_INS_ANY,
    ST_INS_AT,
    ST_LAST,
    ST_NEXT_STREAM,
    ST_REPLAY,
    ST_STREAM,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_N
};

/* The version a new event gets without a check (stateless): one past the stream's last,
 * found through the UNIQUE(stream, version) index inside the same statement (one seek
 * to the end of the stream's keys, as for ST_LAST and ST_NEXT_STREAM). */
static const char *const sql_text[ST_N] = {
    "INSERT INTO events(stream,version,type,ts,data) VALUES(?1,"
    "(SELECT coalesce(max(version),-1)+1 FROM events WHERE stream=?1),?2,?3,?4)",
    "INSERT INTO events(stream,version,type,ts,data) VALUES(?1,?2,?3,?4,?5)",
    "SELECT coalesce(max(version),-1) FROM events WHERE stream=?1",
    "SELECT min(stream) FROM events WHERE stream>?1",
    "SELECT pos,stream,version,type,ts,data FROM events ORDER BY pos",
    "SELECT pos,stream,version,type,ts,data FROM events WHERE stream=?1 ORDER BY version",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};

typedef struct sq_conn {
    sq_db *db;
    sqlite3 *h;
    sqlite3_stmt *st[ST_N];
    int loading; /* load() set its cache size */
} sq_conn;

static int fail(sqlite3 *h, const char *what)
{
    fprintf(stderr, "suite: sqlite: %s: %s\n", what, h ? sqlite3_errmsg(h) : "out of memory");
    return SUITE_ERR;
}

static int sq_connect(sqlite3 **out, const char *path, int durable, int create)
{
    sqlite3 *h = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
        fail(h, "open");
        sqlite3_close(h);
        return SUITE_ERR;
    }
    const char *pragmas = durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                  : "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;";
    if (sqlite3_exec(h, SQ_TUNING, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(h, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(h, 10000) != SQLITE_OK) {
        fail(h, "pragmas");
        sqlite3_close(h);
        return SUITE_ERR;
    }
    *out = h;
    return SUITE_OK;
}

static int sq_open(void **out, const char *dir, int durable)
{
    if (mkdir(dir, 0755) != 0) {
        perror("suite: sqlite: mkdir");
        return SUITE_ERR;
    }
    sq_db *db = calloc(1, sizeof *db);
    if (!db)
        return SUITE_ERR;
    snprintf(db->path, sizeof db->path, "%s/events.db", dir);
    db->durable = durable;
    pthread_mutex_init(&db->wlock, NULL);
    if (!(db->vers = suite_versions_new()) ||
        sq_connect(&db->schema, db->path, durable, 1) != SUITE_OK) {
        suite_versions_free(db->vers);
        free(db);
        return SUITE_ERR;
    }
    const char *schema = "CREATE TABLE events(pos INTEGER PRIMARY KEY, stream TEXT NOT NULL,"
                         " version INTEGER NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL,"
                         " data TEXT NOT NULL, UNIQUE(stream, version))";
    if (sqlite3_exec(db->schema, schema, NULL, NULL, NULL) != SQLITE_OK) {
        fail(db->schema, "create table");
        sqlite3_close(db->schema);
        suite_versions_free(db->vers);
        free(db);
        return SUITE_ERR;
    }
    track(db, 1);
    *out = db;
    return SUITE_OK;
}

static void sq_conn_close(void *p)
{
    sq_conn *c = p;
    if (!c)
        return;
    for (int i = 0; i < ST_N; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->h);
    free(c);
}

static int sq_conn_open(void **out, void *p)
{
    sq_db *db = p;
    sq_conn *c = calloc(1, sizeof *c);
    if (!c)
        return SUITE_ERR;
    c->db = db;
    if (sq_connect(&c->h, db->path, db->durable, 0) != SUITE_OK) {
        free(c);
        return SUITE_ERR;
    }
    for (int i = 0; i < ST_N; i++) {
        if (sqlite3_prepare_v3(c->h, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
            SQLITE_OK) {
            fail(c->h, sql_text[i]);
            sq_conn_close(c);
            return SUITE_ERR;
        }
    }
    *out = c;
    return SUITE_OK;
}

/* Run a statement that returns no rows. An insert turned away by the UNIQUE index is
 * a conflict: another writer gave the stream that version first. */
static int run(sq_conn *c, int which)
{
    sqlite3_stmt *s = c->st[which];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(c->h) == SQLITE_CONSTRAINT_UNIQUE)
        return SUITE_CONFLICT;
    return rc == SQLITE_DONE ? SUITE_OK : fail(c->h, sql_text[which]);
}

/* The stream's last version: from the table, or from the index when the driver is
 * stateless or the table does not know the stream. */
static int last_version(sq_conn *c, const char *stream, int64_t *last)
{
    *last = c->db->stateless ? SUITE_VERSION_UNKNOWN : suite_versions_get(c->db->vers, stream);
    if (*last != SUITE_VERSION_UNKNOWN)
        return SUITE_OK;
    sqlite3_stmt *q = c->st[ST_LAST];
    sqlite3_bind_text(q, 1, stream, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *last = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? SUITE_OK : fail(c->h, "last version");
}

/* Insert e as the stream's given version; the table learns it. */
static int insert_version(sq_conn *c, const suite_ev *e, int64_t version, int64_t ts)
{
    sqlite3_stmt *s = c->st[ST_INS_AT];
    sqlite3_bind_text(s, 1, e->stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, version);
    sqlite3_bind_text(s, 3, suite_ev_type(e), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, ts);
    sqlite3_bind_text(s, 5, e->data, (int)e->data_len, SQLITE_STATIC);
    int rc = run(c, ST_INS_AT);
    if (rc == SUITE_OK && !c->db->stateless)
        suite_versions_set(c->db->vers, e->stream, version); /* on ENOMEM it forgets: safe */
    return rc;
}

/* Insert one event inside the current transaction (or as its own when there is none),
 * checking its expected version, or finding the next one for SUITE_EXPECT_ANY. */
static int insert(sq_conn *c, const suite_ev *e, int64_t ts)
{
    if (c->db->stateless && e->expect == SUITE_EXPECT_ANY) {
        sqlite3_stmt *s = c->st[ST_INS_ANY];
        sqlite3_bind_text(s, 1, e->stream, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, suite_ev_type(e), -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, ts);
        sqlite3_bind_text(s, 4, e->data, (int)e->data_len, SQLITE_STATIC);
        return run(c, ST_INS_ANY);
    }
    int64_t last;
    if (last_version(c, e->stream, &last) != SUITE_OK)
        return SUITE_ERR;
    if (e->expect != SUITE_EXPECT_ANY && e->expect != last)
        return SUITE_CONFLICT;
    return insert_version(c, e, last + 1, ts);
}

/* One transaction of n inserts; `checked`: each expect is checked (or, for
 * SUITE_EXPECT_ANY, found), else trusted (the large stores' load). A failed one leaves
 * the table forgotten: what it learnt was rolled back. */
static int batch(sq_conn *c, const suite_ev *ev, size_t n, int checked)
{
    pthread_mutex_lock(&c->db->wlock);
    int rc = run(c, ST_BEGIN);
    int64_t ts = suite_wall_ns();
    for (size_t i = 0; i < n && rc == SUITE_OK; i++)
        rc = checked ? insert(c, &ev[i], ts) : insert_version(c, &ev[i], ev[i].expect + 1, ts);
    if (rc == SUITE_OK)
        rc = run(c, ST_COMMIT);
    if (rc != SUITE_OK) {
        run(c, ST_ROLLBACK);
        suite_versions_forget(c->db->vers, 0);
    }
    pthread_mutex_unlock(&c->db->wlock);
    return rc;
}

static int sq_append_batch(void *p, const suite_ev *ev, size_t n)
{
    return batch(p, ev, n, 1);
}

static int sq_load(void *p, const suite_ev *ev, size_t n)
{
    sq_conn *c = p;
    /* A cache that holds the (stream, version) index, so each transaction does not read
     * back the pages the last one wrote (the filling connection only; never measured). */
    if (!c->loading &&
        sqlite3_exec(c->h, "PRAGMA cache_size = -262144", NULL, NULL, NULL) != SQLITE_OK)
        return fail(c->h, "cache_size");
    c->loading = 1;
    return batch(c, ev, n, 0);
}

static int sq_append_one(void *p, const suite_ev *ev)
{
    sq_conn *c = p;
    if (ev->expect != SUITE_EXPECT_ANY)
        return sq_append_batch(c, ev, 1);
    pthread_mutex_lock(&c->db->wlock);
    int rc = insert(c, ev, suite_wall_ns());
    if (rc != SUITE_OK)
        suite_versions_forget(c->db->vers, 0);
    pthread_mutex_unlock(&c->db->wlock);
    return rc;
}

/* Step a SELECT of all six columns, decoding each as a reader would. */
static int scan(sq_conn *c, sqlite3_stmt *s, int whole_payload, suite_sum *out)
{
    int rc;
    uint64_t n = 0, bytes = 0, sum = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        /* Decode every field, as evstore's cursor does for its readers. */
        (void)sqlite3_column_int64(s, 0);
        (void)sqlite3_column_text(s, 1);
        (void)sqlite3_column_bytes(s, 1);
        (void)sqlite3_column_int64(s, 2);
        (void)sqlite3_column_text(s, 3);
        (void)sqlite3_column_bytes(s, 3);
        (void)sqlite3_column_int64(s, 4);
        const unsigned char *d = sqlite3_column_blob(s, 5);
        size_t len = (size_t)sqlite3_column_bytes(s, 5);
        sum += whole_payload ? suite_touch(d, len) : d[0];
        bytes += len;
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(c->h, "select");
    out->events += n;
    out->bytes += bytes;
    out->checksum += sum;
    return SUITE_OK;
}

static int sq_replay(void *p, suite_sum *out)
{
    sq_conn *c = p;
    return scan(c, c->st[ST_REPLAY], 1, out);
}

static int sq_read_stream(void *p, const char *stream, suite_sum *out)
{
    sq_conn *c = p;
    sqlite3_bind_text(c->st[ST_STREAM], 1, stream, -1, SQLITE_STATIC);
    return scan(c, c->st[ST_STREAM], 0, out);
}

static int sq_reopen(void **out, const char *dir)
{
    sq_db *db = calloc(1, sizeof *db);
    if (!db)
        return SUITE_ERR;
    snprintf(db->path, sizeof db->path, "%s/events.db", dir);
    pthread_mutex_init(&db->wlock, NULL);
    if (!(db->vers = suite_versions_new()) || sq_connect(&db->schema, db->path, 0, 0) != SUITE_OK) {
        suite_versions_free(db->vers);
        pthread_mutex_destroy(&db->wlock);
        free(db);
        return SUITE_ERR;
    }
    suite_versions_forget(db->vers, 0); /* not loaded: versions(db, 1) loads it */
    track(db, 1);
    *out = db;
    return SUITE_OK;
}

/* A one-off statement on the store's first connection; its single value, if any, in
 * *value. */
static int once(sq_db *db, const char *sql, int64_t *value)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db->schema, sql, -1, &s, NULL) != SQLITE_OK)
        return fail(db->schema, sql);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && value)
        *value = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SUITE_OK : fail(db->schema, sql);
}

static int sq_head(void *p, int64_t *pos)
{
    *pos = -1;
    return once(p, "SELECT max(pos) FROM events", pos);
}

/* Every stream's last version into the table: a skip through the UNIQUE index, two
 * seeks a stream (the next stream's name, then its last version), not a read of it. */
static int load_versions(sq_db *db)
{
    sqlite3_stmt *next = NULL, *last = NULL;
    if (sqlite3_prepare_v2(db->schema, sql_text[ST_NEXT_STREAM], -1, &next, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db->schema, sql_text[ST_LAST], -1, &last, NULL) != SQLITE_OK) {
        sqlite3_finalize(next);
        return fail(db->schema, "prepare version load");
    }
    char stream[1024] = "";
    int rc = SUITE_OK;
    for (;;) {
        sqlite3_bind_text(next, 1, stream, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(next) != SQLITE_ROW) {
            rc = fail(db->schema, "version load");
            break;
        }
        const unsigned char *name = sqlite3_column_text(next, 0);
        if (!name) /* no stream after the last one: done */
            break;
        if ((size_t)sqlite3_column_bytes(next, 0) >= sizeof stream) {
            fprintf(stderr, "suite: sqlite: version load: a stream name is too long\n");
            rc = SUITE_ERR;
            break;
        }
        memcpy(stream, name, (size_t)sqlite3_column_bytes(next, 0) + 1);
        sqlite3_reset(next);
        sqlite3_bind_text(last, 1, stream, -1, SQLITE_STATIC);
        int found = sqlite3_step(last) == SQLITE_ROW;
        int64_t version = found ? sqlite3_column_int64(last, 0) : 0;
        sqlite3_reset(last);
        if (!found || suite_versions_set(db->vers, stream, version) != 0) {
            rc = found ? SUITE_ERR : fail(db->schema, "version load");
            break;
        }
    }
    sqlite3_finalize(next);
    sqlite3_finalize(last);
    return rc;
}

static int sq_versions(void *p, int on)
{
    sq_db *db = p;
    pthread_mutex_lock(&db->wlock);
    db->stateless = !on;
    suite_versions_forget(db->vers, on);
    int rc = on ? load_versions(db) : SUITE_OK;
    if (rc != SUITE_OK)
        suite_versions_forget(db->vers, 0);
    pthread_mutex_unlock(&db->wlock);
    return rc;
}

static int sq_add_indexes(void *p)
{
    return once(p, "CREATE INDEX events_type ON events(type, pos)", NULL);
}

static int sq_filtered(void *p, const suite_filter *f, suite_sum *out)
{
    static const char *const sql[2][2] = {
        {"SELECT pos,stream,version,type,ts,data FROM events NOT INDEXED WHERE type=?1"
         " ORDER BY pos",
         "SELECT pos,stream,version,type,ts,data FROM events INDEXED BY events_type"
         " WHERE type=?1 ORDER BY pos"},
        {"SELECT pos,stream,version,type,ts,data FROM events NOT INDEXED"
         " WHERE stream >= ?1 AND stream < ?2 ORDER BY pos",
         "SELECT pos,stream,version,type,ts,data FROM events INDEXED BY"
         " sqlite_autoindex_events_1 WHERE stream >= ?1 AND stream < ?2 ORDER BY pos"}};
    sq_conn *c = p;
    sqlite3_stmt *s;
    const char *q = sql[f->by_category][f->use_index];
    if (sqlite3_prepare_v2(c->h, q, -1, &s, NULL) != SQLITE_OK)
        return fail(c->h, q);
    /* A category C is the streams from "C-" up to (not including) "C." ('.' follows '-'). */
    char lo[64], hi[64];
    snprintf(lo, sizeof lo, "%s-", f->value);
    snprintf(hi, sizeof hi, "%s.", f->value);
    sqlite3_bind_text(s, 1, f->by_category ? lo : f->value, -1, SQLITE_TRANSIENT);
    if (f->by_category)
        sqlite3_bind_text(s, 2, hi, -1, SQLITE_TRANSIENT);
    int rc = scan(c, s, 1, out);
    sqlite3_finalize(s);
    return rc;
}

/* What SQLite leaves to do after a commit: the pages in the WAL not yet written back
 * to the database file (up to wal_autocheckpoint of them), which the next checkpoint
 * writes. Done between measurements, as PostgreSQL's checkpoint is, so that no
 * measurement, of SQLite or another engine, shares the disk with them, and a read
 * finds the store at rest. */
static void sq_settle(void)
{
    pthread_mutex_lock(&open_lock);
    for (sq_db *db = open_dbs; db; db = db->next) {
        pthread_mutex_lock(&db->wlock);
        if (sqlite3_wal_checkpoint_v2(db->schema, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
            SQLITE_OK)
            fail(db->schema, "checkpoint");
        pthread_mutex_unlock(&db->wlock);
    }
    pthread_mutex_unlock(&open_lock);
}

static void sq_close(void *p)
{
    sq_db *db = p;
    track(db, 0);
    sqlite3_close(db->schema);
    suite_versions_free(db->vers);
    pthread_mutex_destroy(&db->wlock);
    free(db);
}

const suite_driver suite_sqlite_driver = {
    .name = "sqlite",
    .open = sq_open,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .append_batch = sq_append_batch,
    .append_one = sq_append_one,
    .replay = sq_replay,
    .read_stream = sq_read_stream,
    .close = sq_close,
    .reopen = sq_reopen,
    .head = sq_head,
    .load = sq_load,
    .versions = sq_versions,
    .settle = sq_settle,
    .filtered = sq_filtered,
    .add_indexes = sq_add_indexes,
};
