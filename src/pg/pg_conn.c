/*
 * pg_conn.c - the connection: connecting with the backend's session settings,
 * reconnecting after the server went away, running statements with binary parameters
 * and results, and PostgreSQL's errors as evstore's.
 *
 * Every statement runs in binary format both ways: integers travel as 8 big-endian
 * bytes, texts and byteas as their bytes, so nothing is printed or parsed as text.
 */
#include "pg_internal.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>

void evs__pq_add_i64(pq_params *p, int64_t v)
{
    int i = p->n++;
    p->ints[i] = htobe64((uint64_t)v);
    p->value[i] = (const char *)&p->ints[i];
    p->length[i] = 8;
    p->format[i] = 1;
}

void evs__pq_add_bytes(pq_params *p, const void *data, size_t len)
{
    int i = p->n++;
    p->value[i] = data; /* NULL binds SQL NULL */
    p->length[i] = (int)len;
    p->format[i] = 1;
}

int64_t evs__pq_get_i64(const PGresult *r, int row, int col)
{
    uint64_t v;
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    memcpy(&v, PQgetvalue(r, row, col), 8);
    return (int64_t)be64toh(v);
}

/* libpq's messages span lines (a hint on the next, tab-indented): one line, for
 * messages that are one line each. */
static void one_line(char *msg)
{
    size_t w = 0;
    for (size_t r = 0; msg[r]; r++) {
        char c = msg[r] == '\n' || msg[r] == '\t' ? ' ' : msg[r];
        if (c == ' ' && (w == 0 || msg[w - 1] == ' '))
            continue;
        msg[w++] = c;
    }
    while (w && msg[w - 1] == ' ')
        w--;
    msg[w] = '\0';
}

/* SQLSTATE classes and codes as evstore's errors. */
static int code_for(const char *state)
{
    if (!state)
        return EVS_EIO; /* no result at all: the connection failed */
    if (!strcmp(state, "53100"))
        return EVS_ENOSPC;
    if (!strcmp(state, "53200"))
        return EVS_ENOMEM;
    if (!strcmp(state, "25006"))
        return EVS_EREADONLY;
    if (!strcmp(state, "55P03") || !strcmp(state, "40001") || !strcmp(state, "40P01"))
        return EVS_EBUSY;
    if (!strncmp(state, "42", 2))
        return EVS_EFORMAT; /* a table or column missing: not the schema we know */
    if (!strncmp(state, "XX", 2))
        return EVS_ECORRUPT;
    return EVS_EIO;
}

int evs__pq_fail(pg_backend *pb, PGresult *r, const char *what)
{
    return evs__pq_fail_on(pb, pb->conn, r, what);
}

int evs__pq_fail_on(const pg_backend *pb, PGconn *conn, PGresult *r, const char *what)
{
    const char *field = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char sqlstate[8] = "";
    snprintf(sqlstate, sizeof sqlstate, "%s", field ? field : "");
    const char *state = field ? sqlstate : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg)
        msg = conn ? PQerrorMessage(conn) : "no connection";
    char text[600];
    snprintf(text, sizeof text, "%s", msg);
    one_line(text);
    int code = code_for(state);
    PQclear(r);
    if (state && !strcmp(state, "55P03"))
        return evs__seterr(code,
                           "%s is busy: %s waited for a lock past lock_wait_ms (%d ms): another "
                           "transaction holds it (%s)",
                           pb->display, what, pb->opts.lock_wait_ms, text);
    return evs__seterr(code, "%s: %s: %s%s%s%s", pb->display, what, text, state ? " (SQLSTATE " : "",
                       state ? state : "", state ? ")" : "");
}

/* Send a statement: prepared `which`, or `sql` text when which < 0 or nothing is
 * prepared. */
static PGresult *send_statement(pg_backend *pb, int which, const char *sql, const pq_params *p)
{
    if (which >= 0 && pb->prepared) {
        char name[16];
        snprintf(name, sizeof name, "evs_%d", which);
        return PQexecPrepared(pb->conn, name, p->n, p->value, p->length, p->format, 1);
    }
    return PQexecParams(pb->conn, which >= 0 ? pb->sql[which] : sql, p->n, NULL, p->value,
                        p->length, p->format, 1);
}

static bool failed(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK;
}

static int run(pg_backend *pb, int which, const char *sql, const pq_params *p, PGresult **out,
               const char *what)
{
    static const pq_params none = {0};
    if (!p)
        p = &none;
    bool alone = !pb->borrowed && PQtransactionStatus(pb->conn) == PQTRANS_IDLE;
    PGresult *r = send_statement(pb, which, sql, p);
    /* A statement outside any transaction found the session gone (the server restarted
     * since the last use): nothing of it ran, so it runs again on a new session. */
    if (failed(r) && alone && PQstatus(pb->conn) != CONNECTION_OK) {
        PQclear(r);
        int rc = evs__pq_ready(pb);
        if (rc < 0)
            return rc;
        r = send_statement(pb, which, sql, p);
    }
    if (failed(r))
        return evs__pq_fail(pb, r, what);
    *out = r;
    return 0;
}

int evs__pq_run(pg_backend *pb, int which, const pq_params *p, PGresult **out, const char *what)
{
    return run(pb, which, NULL, p, out, what);
}

int evs__pq_query(pg_backend *pb, const char *sql, PGresult **out, const char *what)
{
    return run(pb, -1, sql, NULL, out, what);
}

int evs__pq_exec(pg_backend *pb, const char *sql)
{
    PGresult *r = PQexec(pb->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        return evs__pq_fail(pb, r, sql);
    PQclear(r);
    return 0;
}

/* The session: notices kept quiet, UTF-8, the sync mode, how long to wait for locks. */
static int session(pg_backend *pb, PGconn *conn)
{
    char sql[400];
    int wait = pb->opts.lock_wait_ms;
    /* lock_timeout 0 means no limit to PostgreSQL; evstore's 0 means do not wait. */
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%d", wait < 0 ? 0 : wait == 0 ? 1 : wait);
    /* synchronous_commit off: a commit returns before its WAL is flushed; the WAL writer
     * flushes within a few hundred ms, so a server crash may lose the last commits
     * (never reorder them): evstore's batch and none modes. */
    snprintf(sql, sizeof sql,
             "SET client_min_messages = warning; SET client_encoding = 'UTF8';"
             " SET synchronous_commit = %s; SET lock_timeout = %s;"
             " SET default_transaction_isolation = 'read committed';"
             " SET default_transaction_read_only = %s",
             pb->opts.sync_mode == EVS_SYNC_ALWAYS ? "on" : "off", timeout,
             pb->readonly ? "on" : "off");
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
        one_line(msg);
        PQclear(r);
        return evs__seterr(EVS_EIO, "%s: setting up the session: %s", pb->display, msg);
    }
    PQclear(r);
    return 0;
}

static int connect_failed(pg_backend *pb, PGconn *conn)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s", conn ? PQerrorMessage(conn) : "out of memory");
    one_line(msg);
    PQfinish(conn);
    return evs__seterr(EVS_EIO, "%s: cannot connect: %s", pb->display, msg);
}

int evs__pq_connect(pg_backend *pb, PGconn **out)
{
    PGconn *conn = PQconnectdb(pb->conninfo);
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return connect_failed(pb, conn);
    int rc = session(pb, conn);
    if (rc < 0) {
        PQfinish(conn);
        return rc;
    }
    *out = conn;
    return 0;
}

static int prepare_all(pg_backend *pb)
{
    for (int i = 0; i < PQS_COUNT; i++) {
        char name[16];
        snprintf(name, sizeof name, "evs_%d", i);
        PGresult *r = PQprepare(pb->conn, name, pb->sql[i], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return evs__pq_fail(pb, r, "preparing statements");
        PQclear(r);
    }
    pb->prepared = true;
    return 0;
}

int evs__pq_ready(pg_backend *pb)
{
    if (pb->borrowed)
        return 0;
    if (PQstatus(pb->conn) != CONNECTION_OK) {
        /* The server restarted or the network broke: a new session, its statements
         * prepared anew. What was in flight failed with the error the caller saw. */
        pb->prepared = false;
        PQreset(pb->conn);
        if (PQstatus(pb->conn) != CONNECTION_OK) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(pb->conn));
            one_line(msg);
            return evs__seterr(EVS_EIO, "%s: the connection was lost and cannot be made again: %s",
                               pb->display, msg);
        }
        int rc = session(pb, pb->conn);
        if (rc < 0)
            return rc;
    }
    return pb->prepared ? 0 : prepare_all(pb);
}
