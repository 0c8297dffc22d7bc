/*
 * ref_pg.c - the reference PostgreSQL driver (ref.h): W1 and W3 written as plainly as
 * possible, to check the suite's PostgreSQL driver against. It needs a running server:
 * SUITE_PG_CONNINFO says where (the suite exports it for its own server).
 *
 * The suite's schema, in a table of its own (ref_<pid>, dropped at the end):
 * (pos bigserial PRIMARY KEY, stream, version, type, ts, data) with UNIQUE(stream,
 * version), default durability (synchronous_commit on). A batch of 1,000 events is one
 * COPY, a single statement and so a single transaction synced at its end; each event's
 * version comes from an array of the streams' last versions. After W1, a CHECKPOINT, as
 * the suite's settle does. W3 opens a connection and reads the table in position order
 * through a cursor, 10,000 rows a fetch, parsing the numbers and summing every payload
 * byte. DIR is made and left empty: the data lives in the server.
 */
#include "ref.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 1000

typedef struct pg_store {
    PGconn *c; /* the writer */
    char table[32];
} pg_store;

static int fail(PGconn *c, PGresult *r, const char *what)
{
    fprintf(stderr, "ref pg: %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return -1;
}

/* Run a command that returns no rows (or rows nobody reads). */
static int exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail(c, r, sql);
    PQclear(r);
    return 0;
}

static PGconn *connect_server(void)
{
    PGconn *c = PQconnectdb(getenv("SUITE_PG_CONNINFO"));
    if (PQstatus(c) == CONNECTION_OK)
        return c;
    fail(c, NULL, "connect");
    PQfinish(c);
    return NULL;
}

/* One COPY text row: stream, version, type, ts, payload (a backslash, tab, newline or
 * carriage return in the payload escaped); returns its length. */
static size_t copy_row(char *row, const char *stream, int64_t version, int64_t ts, const char *data,
                       size_t len)
{
    size_t n = (size_t)snprintf(row, 256, "%s\t%lld\t%s\t%lld\t", stream, (long long)version,
                                SUITE_EVENT_TYPE, (long long)ts);
    for (size_t i = 0; i < len; i++) {
        char ch = data[i];
        if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
            row[n++] = '\\';
            ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
        }
        row[n++] = ch;
    }
    row[n++] = '\n';
    return n;
}

static int copy_batch(pg_store *s, const suite_model *m, size_t from, size_t to, int64_t *last)
{
    char sql[128], *row = malloc(256 + 2 * m->pool_stride);
    snprintf(sql, sizeof sql, "COPY %s(stream,version,type,ts,data) FROM STDIN", s->table);
    PGresult *r = PQexec(s->c, sql);
    if (!row || PQresultStatus(r) != PGRES_COPY_IN) {
        free(row);
        return fail(s->c, r, "copy");
    }
    PQclear(r);
    int64_t ts = suite_wall_ns();
    int ok = 1;
    for (size_t j = from; j < to && ok; j++) {
        uint32_t k = m->seq[j];
        size_t p = j % m->pool_n;
        size_t n =
            copy_row(row, m->names[k], ++last[k], ts, m->pool + p * m->pool_stride, m->pool_len[p]);
        ok = PQputCopyData(s->c, row, (int)n) == 1;
    }
    free(row);
    if (PQputCopyEnd(s->c, ok ? NULL : "ref pg: cannot send a row") != 1)
        return fail(s->c, NULL, "copy end");
    r = PQgetResult(s->c);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : fail(s->c, r, "copy");
    if (rc == 0)
        PQclear(r);
    while ((r = PQgetResult(s->c)) != NULL)
        PQclear(r);
    return rc;
}

static int append_all(void *ctx, const suite_model *m, int64_t *last)
{
    int rc = 0;
    for (size_t i = 0; i < m->n && rc == 0; i += BATCH)
        rc = copy_batch(ctx, m, i, i + BATCH < m->n ? i + BATCH : m->n, last);
    return rc;
}

/* What the suite does between measurements (its settle): the dirty pages written. */
static int settle(void *ctx)
{
    return exec(((pg_store *)ctx)->c, "CHECKPOINT");
}

static int replay(void *ctx, suite_sum *out)
{
    char sql[160];
    PGconn *c = connect_server();
    if (!c)
        return -1;
    snprintf(sql, sizeof sql,
             "DECLARE rc NO SCROLL CURSOR FOR SELECT pos,stream,version,type,ts,data FROM %s"
             " ORDER BY pos",
             ((pg_store *)ctx)->table);
    *out = (suite_sum){0, 0, 0};
    int rc = exec(c, "BEGIN") != 0 || exec(c, sql) != 0 ? -1 : 0;
    for (int n = 1; rc == 0 && n > 0;) {
        PGresult *r = PQexec(c, "FETCH 10000 FROM rc");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = fail(c, r, "fetch");
            break;
        }
        n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            long long pos = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            long long version = strtoll(PQgetvalue(r, i, 2), NULL, 10);
            long long ts = strtoll(PQgetvalue(r, i, 4), NULL, 10);
            size_t len = (size_t)PQgetlength(r, i, 5);
            if (pos <= 0 || version < 0 || ts <= 0 || PQgetlength(r, i, 1) == 0 ||
                PQgetlength(r, i, 3) == 0) {
                fprintf(stderr, "ref pg: a row makes no sense\n");
                rc = -1;
                break;
            }
            out->checksum += suite_touch(PQgetvalue(r, i, 5), len);
            out->bytes += len;
            out->events++;
        }
        PQclear(r);
    }
    if (rc == 0)
        rc = exec(c, "COMMIT");
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv)
{
    static const ref_engine pg = {"pg", append_all, settle, replay};
    if (!getenv("SUITE_PG_CONNINFO")) {
        fprintf(stderr, "%s: SUITE_PG_CONNINFO must say how to reach the server\n", argv[0]);
        return 2;
    }
    ref_args a;
    if (ref_start(&a, argc, argv, "no tuning") != 0)
        return 2;
    if (a.tuning) {
        fprintf(stderr, "%s: takes no tuning argument\n", argv[0]);
        return 2;
    }
    pg_store s;
    char sql[400];
    snprintf(s.table, sizeof s.table, "ref_%ld", (long)getpid());
    if (!(s.c = connect_server()))
        return 1;
    snprintf(sql, sizeof sql,
             "CREATE TABLE %s(pos bigserial PRIMARY KEY, stream text NOT NULL, version bigint"
             " NOT NULL, type text NOT NULL, ts bigint NOT NULL, data text NOT NULL,"
             " UNIQUE(stream, version))",
             s.table);
    int rc = exec(s.c, sql) != 0 ? 1 : ref_run(&a, &pg, &s);
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", s.table);
    exec(s.c, sql);
    PQfinish(s.c);
    return rc;
}
