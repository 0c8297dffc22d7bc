/*
 * suite_pg_notify.c - W8's PostgreSQL feed, the comparable of a subscription: the
 * appender inserts each event and, in the same statement (so in the same transaction),
 * NOTIFYs a channel named after the table; the subscriber LISTENs, sleeps in poll() on
 * its connection's socket, and on a notification SELECTs the rows past the last
 * position it has seen. That is the whole event, as evstore's subscriber gets it, not
 * just the notification. synchronous_commit=off, as evstore's sync mode none.
 */
#define _GNU_SOURCE
#include "suite.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct notify_conn {
    PGconn *c;
    char table[64];
    /* subscriber */
    long long last_pos;
    PGresult *rows; /* the last SELECT's, handed out one by one */
    int row, nrows;
} notify_conn;

static int fail(PGconn *c, PGresult *r, const char *what)
{
    fprintf(stderr, "suite: pg feed: %s: %s", what,
            r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return SUITE_ERR;
}

static int run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail(c, r, sql);
    PQclear(r);
    return SUITE_OK;
}

static notify_conn *connect_to(const char *target)
{
    const char *ci = suite_pg_conninfo();
    notify_conn *n = ci ? calloc(1, sizeof *n) : NULL;
    if (!n)
        return NULL;
    suite_pg_table(n->table, sizeof n->table, target);
    n->c = PQconnectdb(ci);
    if (PQstatus(n->c) != CONNECTION_OK) {
        fail(n->c, NULL, "connect");
        PQfinish(n->c);
        free(n);
        return NULL;
    }
    return n;
}

static void disconnect(notify_conn *n)
{
    PQclear(n->rows);
    PQfinish(n->c);
    free(n);
}

/* Make (create) or drop the feed's table, on a connection of its own. */
static int make_table(const char *target, int create)
{
    notify_conn *n = connect_to(target);
    if (!n)
        return SUITE_ERR;
    char sql[512];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", n->table);
    int rc = run(n->c, sql);
    snprintf(sql, sizeof sql,
             "CREATE TABLE %s(pos bigserial PRIMARY KEY, stream text NOT NULL, version bigint"
             " NOT NULL, type text NOT NULL, ts bigint NOT NULL, data text NOT NULL,"
             " UNIQUE(stream, version))",
             n->table);
    if (rc == SUITE_OK && create)
        rc = run(n->c, sql);
    disconnect(n);
    return rc;
}

static int pn_prepare(const char *target)
{
    return make_table(target, 1);
}

static void pn_cleanup(const char *target)
{
    make_table(target, 0);
}

static int prepare(notify_conn *n, const char *name, const char *sql, int nparams)
{
    PGresult *r = PQprepare(n->c, name, sql, nparams, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fail(n->c, r, name);
    PQclear(r);
    return SUITE_OK;
}

static int pn_writer_open(void **w, const char *target)
{
    notify_conn *n = connect_to(target);
    if (!n)
        return SUITE_ERR;
    /* The notification goes out when the statement's transaction commits, with the row. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "WITH e AS (INSERT INTO %s(stream,version,type,ts,data) VALUES($1,$2,$3,$4,$5)"
             " RETURNING pos) SELECT pg_notify('%s', pos::text) FROM e",
             n->table, n->table);
    if (run(n->c, "SET synchronous_commit = off") != SUITE_OK ||
        prepare(n, "ins", sql, 5) != SUITE_OK) {
        disconnect(n);
        return SUITE_ERR;
    }
    *w = n;
    return SUITE_OK;
}

static int pn_write(void *w, uint64_t i, int64_t sent_ns)
{
    notify_conn *n = w;
    char stream[24], version[24], ts[24], data[256];
    /* Stream i % 10000 gets its events in turn: its version is i / 10000. */
    snprintf(stream, sizeof stream, "order-%u", (unsigned)(i % SUITE_STREAMS));
    snprintf(version, sizeof version, "%llu", (unsigned long long)(i / SUITE_STREAMS));
    snprintf(ts, sizeof ts, "%lld", (long long)suite_wall_ns());
    if (!suite_feed_payload(data, sizeof data, i, sent_ns))
        return SUITE_ERR;
    const char *v[5] = {stream, version, SUITE_EVENT_TYPE, ts, data};
    PGresult *r = PQexecPrepared(n->c, "ins", 5, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail(n->c, r, "insert");
    PQclear(r);
    return SUITE_OK;
}

static void pn_close(void *p)
{
    disconnect(p);
}

static int pn_reader_open(void **r, const char *target)
{
    notify_conn *n = connect_to(target);
    if (!n)
        return SUITE_ERR;
    char sql[256];
    snprintf(sql, sizeof sql, "LISTEN %s", n->table);
    int rc = run(n->c, sql);
    snprintf(sql, sizeof sql, "SELECT pos, data FROM %s WHERE pos > $1 ORDER BY pos", n->table);
    if (rc == SUITE_OK)
        rc = prepare(n, "since", sql, 1);
    if (rc == SUITE_OK) {
        /* Only what comes after the LISTEN: start at the table's end. */
        snprintf(sql, sizeof sql, "SELECT coalesce(max(pos), 0) FROM %s", n->table);
        PGresult *res = PQexec(n->c, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            n->last_pos = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            PQclear(res);
        } else {
            rc = fail(n->c, res, "max(pos)");
        }
    }
    if (rc != SUITE_OK) {
        disconnect(n);
        return SUITE_ERR;
    }
    *r = n;
    return SUITE_OK;
}

/* Fetch the rows past last_pos. */
static int fetch(notify_conn *n)
{
    char last[24];
    snprintf(last, sizeof last, "%lld", n->last_pos);
    const char *v[1] = {last};
    PQclear(n->rows);
    n->rows = PQexecPrepared(n->c, "since", 1, v, NULL, NULL, 0);
    if (PQresultStatus(n->rows) != PGRES_TUPLES_OK) {
        int rc = fail(n->c, n->rows, "select new rows");
        n->rows = NULL;
        return rc;
    }
    n->row = 0;
    n->nrows = PQntuples(n->rows);
    return SUITE_OK;
}

static int pn_read(void *p, int64_t *sent_ns, int timeout_ms)
{
    notify_conn *n = p;
    int64_t deadline = suite_mono_ns() + (int64_t)timeout_ms * 1000000;
    while (!n->rows || n->row >= n->nrows) {
        if (!PQconsumeInput(n->c))
            return fail(n->c, NULL, "consume input");
        int notified = 0;
        PGnotify *note;
        while ((note = PQnotifies(n->c)) != NULL) {
            notified = 1;
            PQfreemem(note);
        }
        if (notified) {
            if (fetch(n) != SUITE_OK)
                return SUITE_ERR;
            continue;
        }
        int64_t left_ms = (deadline - suite_mono_ns()) / 1000000;
        if (left_ms <= 0)
            return 0;
        struct pollfd pfd = {PQsocket(n->c), POLLIN, 0};
        if (poll(&pfd, 1, (int)left_ms) < 0)
            return SUITE_ERR;
    }
    const char *data = PQgetvalue(n->rows, n->row, 1);
    n->last_pos = strtoll(PQgetvalue(n->rows, n->row, 0), NULL, 10);
    n->row++;
    *sent_ns = suite_feed_sent_ns(data, strlen(data));
    return *sent_ns < 0 ? SUITE_ERR : 1;
}

const suite_feed suite_pg_feed = {
    .name = "pg",
    .prepare = pn_prepare,
    .cleanup = pn_cleanup,
    .writer_open = pn_writer_open,
    .write = pn_write,
    .writer_close = pn_close,
    .reader_open = pn_reader_open,
    .read = pn_read,
    .reader_close = pn_close,
};
