/*
 * pg_verify.c - evs_verify and evs_verify_quick on a PostgreSQL store.
 *
 * PostgreSQL checks its own pages (data checksums, when the cluster has them); both
 * forms check what evstore promises about the rows: positions 1, 2, 3 ... without a
 * gap, the head row at the last of them, each stream's versions 0, 1, 2 ... in position
 * order, timestamps that never decrease, every event's stream known. The full form also
 * reads every event's data and metadata and checks that they are JSON (the metadata an
 * object). Everything is read in one repeatable-read snapshot while appends go on.
 */
#include "json.h"
#include "pg_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FETCH_ROWS 1000

typedef struct check {
    pg_backend *pb;
    evs_verify_cb cb;
    void *ctx;
    evs_verify_report *report;
    bool stopped; /* the callback asked to stop */
} check;

static void problem(check *k, int64_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(check *k, int64_t pos, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    k->report->problem_count++;
    evs_problem p = {k->pb->schema, -1, pos, what};
    if (k->cb && !k->stopped && k->cb(k->ctx, &p, 0, 0))
        k->stopped = true;
}

/* %1$s is the quoted schema; each row is one problem: (pos, text). */
static const char *const row_checks[] = {
    "SELECT e.pos, 'position ' || (e.pos - 1) || ' is missing: positions must have no gap'"
    " FROM %1$s.evs_events e WHERE e.pos > 1 AND NOT EXISTS"
    " (SELECT 1 FROM %1$s.evs_events WHERE pos = e.pos - 1)",
    "SELECT pos, 'positions start at ' || pos || ', not 1' FROM"
    " (SELECT min(pos) AS pos FROM %1$s.evs_events) m WHERE pos <> 1",
    "SELECT h.pos, 'evs_head is at position ' || h.pos || ' but the last event is at '"
    " || m.pos FROM %1$s.evs_head h, (SELECT coalesce(max(pos), 0) AS pos FROM"
    " %1$s.evs_events) m WHERE h.pos <> m.pos",
    "SELECT pos, 'stream ''' || name || ''': version ' || version || ' follows version ' ||"
    " coalesce(prev::text, 'none') || ' (versions go 0, 1, 2 ... in position order)' FROM"
    " (SELECT e.pos, e.version, s.name, lag(e.version) OVER (PARTITION BY e.stream_id ORDER BY"
    " e.pos) AS prev FROM %1$s.evs_events e JOIN %1$s.evs_streams s ON s.id = e.stream_id) v"
    " WHERE version <> coalesce(prev + 1, 0)",
    "SELECT pos, 'ts ' || ts_ns || ' is before ' || prev || ', the ts of the event before it'"
    " FROM (SELECT pos, ts_ns, lag(ts_ns) OVER (ORDER BY pos) AS prev FROM %1$s.evs_events) t"
    " WHERE ts_ns < prev",
    "SELECT e.pos, 'stream id ' || e.stream_id || ' is not in evs_streams' FROM"
    " %1$s.evs_events e WHERE NOT EXISTS (SELECT 1 FROM %1$s.evs_streams s WHERE"
    " s.id = e.stream_id)",
    "SELECT 0, 'stream ''' || name || ''' has no events' FROM %1$s.evs_streams s WHERE NOT"
    " EXISTS (SELECT 1 FROM %1$s.evs_events WHERE stream_id = s.id)",
};

/* Run SQL text (schema filled in) in text format. */
static int query(check *k, const char *fmt, PGresult **out)
{
    char sql[1200];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(sql, sizeof sql, fmt, k->pb->qschema);
#pragma GCC diagnostic pop
    PGresult *r = PQexec(k->pb->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        return evs__pq_fail(k->pb, r, "verifying");
    *out = r;
    return 0;
}

static int each_problem(check *k, const char *fmt)
{
    PGresult *r;
    int rc = query(k, fmt, &r);
    for (int i = 0; rc == 0 && !k->stopped && i < PQntuples(r); i++)
        problem(k, strtoll(PQgetvalue(r, i, 0), NULL, 10), "%s", PQgetvalue(r, i, 1));
    if (rc == 0)
        PQclear(r);
    return rc;
}

static int count(check *k, const char *fmt, int64_t *out)
{
    PGresult *r;
    int rc = query(k, fmt, &r);
    if (rc == 0) {
        *out = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
        PQclear(r);
    }
    return rc;
}

static void check_json(check *k, int64_t pos, const char *text, size_t len, bool meta)
{
    evs__json_error err;
    if (!evs__json_validate(text, len, EVS_MAX_JSON_DEPTH, &err)) {
        problem(k, pos, "the %s is not JSON: %s at byte %zu", meta ? "metadata" : "data",
                err.reason, err.offset);
        return;
    }
    size_t i = 0;
    while (meta && i < len && strchr(" \t\r\n", text[i]))
        i++;
    if (meta && (i == len || text[i] != '{'))
        problem(k, pos, "the metadata is not a JSON object");
}

/* The full form: every event's JSON, FETCH_ROWS at a time through a cursor. */
static int payloads(check *k, int64_t total)
{
    PGresult *r;
    int rc = query(k,
                   "DECLARE evs_verify NO SCROLL CURSOR FOR SELECT pos, data, metadata FROM"
                   " %1$s.evs_events ORDER BY pos",
                   &r);
    if (rc < 0)
        return rc;
    PQclear(r);
    for (;;) {
        if ((rc = query(k, "FETCH 1000 FROM evs_verify", &r)) < 0)
            return rc;
        int n = PQntuples(r);
        for (int i = 0; i < n && !k->stopped; i++) {
            int64_t pos = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            size_t len = (size_t)PQgetlength(r, i, 1);
            check_json(k, pos, PQgetvalue(r, i, 1), len, false);
            k->report->bytes_checked += (int64_t)len;
            if (!PQgetisnull(r, i, 2)) {
                size_t mlen = (size_t)PQgetlength(r, i, 2);
                check_json(k, pos, PQgetvalue(r, i, 2), mlen, true);
                k->report->bytes_checked += (int64_t)mlen;
            }
            k->report->events_checked++;
            if (k->cb && (pos & 4095) == 0 && !k->stopped && k->cb(k->ctx, NULL, pos, total))
                k->stopped = true;
        }
        PQclear(r);
        if (n < FETCH_ROWS || k->stopped)
            return 0;
    }
}

static int run_checks(check *k, bool quick)
{
    int64_t events = 0;
    int rc = count(k, "SELECT count(*) FROM %1$s.evs_events", &events);
    if (rc == 0)
        rc = count(k, "SELECT count(*) FROM %1$s.evs_streams", &k->report->streams_checked);
    for (size_t i = 0; rc == 0 && !k->stopped && i < sizeof row_checks / sizeof *row_checks; i++)
        rc = each_problem(k, row_checks[i]);
    if (rc == 0 && !quick)
        rc = payloads(k, events);
    if (quick)
        k->report->events_checked = events;
    return rc;
}

static int verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report,
                  bool quick)
{
    pg_backend *pb = (pg_backend *)be;
    check k = {pb, cb, ctx, report, false};
    pthread_mutex_lock(&pb->mu);
    int rc = evs__pq_ready(pb);
    if (rc == 0)
        rc = evs__pq_exec(pb, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rc == 0) {
        rc = run_checks(&k, quick);
        PQclear(PQexec(pb->conn, "ROLLBACK"));
    }
    pthread_mutex_unlock(&pb->mu);
    if (rc == 0 && report->problem_count)
        rc = evs__seterr(EVS_ECORRUPT, "%s: %" PRId64 " problem%s found", pb->display,
                         report->problem_count, report->problem_count == 1 ? "" : "s");
    return rc;
}

int evs__pq_verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report)
{
    return verify(be, cb, ctx, report, false);
}

int evs__pq_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report)
{
    return verify(be, cb, ctx, report, true);
}
