/*
 * pg_consumers.c - durable consumers in the PostgreSQL backend: checkpoints and filters
 * in the table evs_consumers, and each consumer's exclusive lock as a session advisory
 * lock held by a connection of its own.
 *
 * The lock belongs to that connection: two handles exclude each other whether they are
 * in one process, two, or on two machines, and the server drops it when its holder's
 * connection ends, so a crashed consumer never blocks its successor. (A row in the
 * table could not be released by a process that died.) The key is a 64-bit hash of
 * the schema and the consumer's name. Checkpoints are written through the same
 * connection, after checking that it still holds the lock: a server restart ends the
 * session and its lock, and the consumer then takes it again or reports EVS_EBUSY.
 */
#include "pg_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct evs__be_consumer {
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    int64_t key;
    PGconn *conn;
};

static int64_t lock_key(const pg_backend *pb, const char *name)
{
    char buf[EVS_PG_MAX_SCHEMA + EVS_MAX_CONSUMER_NAME_LEN + 2];
    int n = snprintf(buf, sizeof buf, "%s/%s", pb->schema, name);
    return (int64_t)evs__hash64(buf, (size_t)n);
}

/* Run `sql` on `conn` with the parameters; the error names `what`. */
static int run_on(pg_backend *pb, PGconn *conn, const char *sql, const pq_params *p,
                  PGresult **out, const char *what)
{
    PGresult *r = PQexecParams(conn, sql, p->n, NULL, p->value, p->length, p->format, 1);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        return evs__pq_fail_on(pb, conn, r, what);
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* Try the lock on h->conn: 0, or EVS_EBUSY when another session holds it. */
static int take_lock(pg_backend *pb, evs__be_consumer *h)
{
    pq_params p = {0};
    evs__pq_add_i64(&p, h->key);
    PGresult *r;
    int rc = run_on(pb, h->conn, "SELECT pg_try_advisory_lock($1)", &p, &r, "locking a consumer");
    if (rc < 0)
        return rc;
    bool got = PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0] == 1;
    PQclear(r);
    if (!got)
        return evs__seterr(EVS_EBUSY,
                           "consumer '%s' is busy: another handle (in this or another "
                           "process, or on another machine) has it open",
                           h->name);
    return 0;
}

int evs__pq_consumer_lock(evs__backend *be, const char *name, evs__be_consumer **out)
{
    pg_backend *pb = (pg_backend *)be;
    *out = NULL;
    if (pb->readonly)
        return evs__seterr(EVS_EREADONLY, "consumer '%s': the store %s was opened read-only",
                           name, pb->display);
    evs__be_consumer *h = evs__calloc(1, sizeof *h);
    if (!h)
        return evs__seterr(EVS_ENOMEM, "out of memory opening consumer '%s'", name);
    snprintf(h->name, sizeof h->name, "%s", name);
    h->key = lock_key(pb, name);
    int rc = evs__pq_connect(pb, &h->conn);
    if (rc == 0)
        rc = take_lock(pb, h);
    if (rc < 0) {
        PQfinish(h->conn);
        evs__free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void evs__pq_consumer_unlock(evs__backend *be, evs__be_consumer *h)
{
    (void)be;
    if (!h)
        return;
    /* Ending the session drops the lock too, but the server does it after the client
     * has gone: unlocked first, the consumer is free when this returns. */
    pq_params p = {0};
    evs__pq_add_i64(&p, h->key);
    PQclear(PQexecParams(h->conn, "SELECT pg_advisory_unlock($1)", p.n, NULL, p.value, p.length,
                         p.format, 1));
    PQfinish(h->conn);
    evs__free(h);
}

/* Before a write through the consumer's connection: when the server dropped it, a new
 * session must win the lock again before anything is written. */
static int still_locked(pg_backend *pb, evs__be_consumer *h)
{
    if (PQstatus(h->conn) == CONNECTION_OK)
        return 0;
    PQfinish(h->conn);
    h->conn = NULL;
    int rc = evs__pq_connect(pb, &h->conn);
    if (rc == 0)
        rc = take_lock(pb, h);
    if (rc < 0)
        return evs__prefixerr("consumer '%s' lost its connection and its lock", h->name);
    return 0;
}

static int no_consumer(const pg_backend *pb, const char *name)
{
    return evs__seterr(EVS_ENOTFOUND, "no consumer '%s' in store %s", name, pb->display);
}

/* The consumer's row: pos, ts_ns, filter. *found. */
static int read_row(pg_backend *pb, const char *name, PGresult **out)
{
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT pos, ts_ns, filter FROM %s.evs_consumers WHERE name = $1",
             pb->qschema);
    pq_params p = {0};
    evs__pq_add_bytes(&p, name, strlen(name));
    pthread_mutex_lock(&pb->mu);
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = run_on(pb, pb->conn, sql, &p, out, "reading a checkpoint");
    pthread_mutex_unlock(&pb->mu);
    return rc;
}

int evs__pq_checkpoint_load(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns)
{
    pg_backend *pb = (pg_backend *)be;
    PGresult *r;
    int rc = read_row(pb, name, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return no_consumer(pb, name);
    }
    *pos = evs__pq_get_i64(r, 0, 0);
    *ts_ns = evs__pq_get_i64(r, 0, 1);
    PQclear(r);
    return 0;
}

/* One statement through the consumer's connection; made durable when asked even where
 * the handle's sync mode does not (synchronous_commit for this transaction only). */
static int save(pg_backend *pb, evs__be_consumer *h, const char *fmt, const pq_params *p,
                bool durable, int *changed)
{
    int rc = still_locked(pb, h);
    if (rc < 0)
        return rc;
    char sql[600];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(sql, sizeof sql, fmt, pb->qschema); /* fmt: one of this file's statements */
#pragma GCC diagnostic pop
    bool raise = durable && pb->opts.sync_mode != EVS_SYNC_ALWAYS;
    if (raise) {
        PGresult *b = PQexec(h->conn, "BEGIN; SET LOCAL synchronous_commit = on");
        if (PQresultStatus(b) != PGRES_COMMAND_OK)
            return evs__pq_fail_on(pb, h->conn, b, "saving a checkpoint");
        PQclear(b);
    }
    PGresult *r = NULL;
    rc = run_on(pb, h->conn, sql, p, &r, "saving a checkpoint");
    if (rc == 0 && changed)
        *changed = atoi(PQcmdTuples(r));
    PQclear(r);
    if (raise)
        PQclear(PQexec(h->conn, rc == 0 ? "COMMIT" : "ROLLBACK"));
    return rc;
}

int evs__pq_checkpoint_store(evs__backend *be, evs__be_consumer *h, int64_t pos, int64_t ts_ns,
                             bool durable)
{
    pq_params p = {0};
    evs__pq_add_bytes(&p, h->name, strlen(h->name));
    evs__pq_add_i64(&p, pos);
    evs__pq_add_i64(&p, ts_ns);
    return save((pg_backend *)be, h,
                "INSERT INTO %s.evs_consumers(name, pos, ts_ns) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO UPDATE SET pos = excluded.pos, ts_ns = excluded.ts_ns",
                &p, durable, NULL);
}

int evs__pq_filter_store(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                         int64_t ts_ns)
{
    pq_params p = {0};
    evs__pq_add_bytes(&p, h->name, strlen(h->name));
    evs__pq_add_i64(&p, pos);
    evs__pq_add_i64(&p, ts_ns);
    evs__pq_add_bytes(&p, text, strlen(text));
    return save((pg_backend *)be, h,
                "INSERT INTO %s.evs_consumers(name, pos, ts_ns, filter) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (name) DO UPDATE SET pos = excluded.pos, ts_ns = excluded.ts_ns,"
                " filter = excluded.filter",
                &p, true, NULL);
}

int evs__pq_consumer_delete(evs__backend *be, evs__be_consumer *h)
{
    pg_backend *pb = (pg_backend *)be;
    pq_params p = {0};
    evs__pq_add_bytes(&p, h->name, strlen(h->name));
    int changed = 0;
    int rc = save(pb, h, "DELETE FROM %s.evs_consumers WHERE name = $1", &p, true, &changed);
    if (rc == 0 && changed == 0)
        rc = no_consumer(pb, h->name);
    return rc;
}

int evs__pq_filter_load(evs__backend *be, const char *name, char **out)
{
    pg_backend *pb = (pg_backend *)be;
    *out = NULL;
    PGresult *r;
    int rc = read_row(pb, name, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) != 1)
        rc = no_consumer(pb, name);
    else if (!PQgetisnull(r, 0, 2)) {
        size_t len = (size_t)PQgetlength(r, 0, 2);
        if (len > EVS__MAX_FILTER_TEXT)
            rc = evs__seterr(EVS_ECORRUPT,
                             "%s: consumer '%s': the filter kept is %zu bytes, more than %u",
                             pb->display, name, len, EVS__MAX_FILTER_TEXT);
        else if (!(*out = evs__strndup(PQgetvalue(r, 0, 2), len)))
            rc = evs__seterr(EVS_ENOMEM, "out of memory reading consumer '%s'", name);
    }
    PQclear(r);
    return rc;
}

/* The keys of the advisory locks held now in this database, sorted. */
static int held_keys(pg_backend *pb, PGresult **out)
{
    pq_params none = {0};
    return run_on(pb, pb->conn,
                  "SELECT (classid::bigint << 32) | objid::bigint AS key FROM pg_locks"
                  " WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND database ="
                  " (SELECT oid FROM pg_database WHERE datname = current_database())"
                  " ORDER BY key",
                  &none, out, "listing consumers");
}

static bool key_held(const PGresult *keys, int64_t key)
{
    for (int i = 0; i < PQntuples(keys); i++)
        if (evs__pq_get_i64(keys, i, 0) == key)
            return true;
    return false;
}

/* The list and the locks are read first, the connection let go: the callback may call
 * back into the handle. */
int evs__pq_consumer_list(evs__backend *be, evs__consumer_cb cb, void *ctx)
{
    pg_backend *pb = (pg_backend *)be;
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT name, pos, ts_ns, filter FROM %s.evs_consumers",
             pb->qschema);
    pq_params none = {0};
    PGresult *rows = NULL, *keys = NULL;
    pthread_mutex_lock(&pb->mu);
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = run_on(pb, pb->conn, sql, &none, &rows, "listing consumers");
    if (rc == 0)
        rc = held_keys(pb, &keys);
    pthread_mutex_unlock(&pb->mu);
    for (int i = 0; rc == 0 && i < PQntuples(rows); i++) {
        char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
        int len = PQgetlength(rows, i, 0);
        snprintf(name, sizeof name, "%.*s", len, PQgetvalue(rows, i, 0));
        evs__consumer_entry ent = {name, 0, evs__pq_get_i64(rows, i, 1),
                                   evs__pq_get_i64(rows, i, 2), false, NULL};
        char *filter = NULL;
        if (!PQgetisnull(rows, i, 3)) {
            size_t flen = (size_t)PQgetlength(rows, i, 3);
            if (flen > EVS__MAX_FILTER_TEXT)
                ent.status = EVS_ECORRUPT;
            else if (!(filter = evs__strndup(PQgetvalue(rows, i, 3), flen))) {
                rc = evs__seterr(EVS_ENOMEM, "out of memory listing consumers");
                break;
            }
        }
        ent.filter = filter;
        ent.open = key_held(keys, lock_key(pb, name));
        rc = cb(ctx, &ent);
        evs__free(filter);
    }
    PQclear(rows);
    PQclear(keys);
    return rc;
}
