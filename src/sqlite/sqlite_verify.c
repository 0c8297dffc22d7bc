/*
 * sqlite_verify.c - evs_verify and evs_verify_quick on an SQLite store.
 *
 * SQLite checks its own pages (PRAGMA integrity_check, or quick_check for the quick
 * form); on top of that both check what evstore promises about the rows: positions
 * 1, 2, 3 ... without a gap, each stream's versions 0, 1, 2 ... in position order, and
 * timestamps that never decrease. The full form also reads every event's data and
 * metadata and checks that they are JSON (the metadata an object).
 */
#include "json.h"
#include "sqlite_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct check {
    sqlite_backend *sb;
    evs_verify_cb cb;
    void *ctx;
    evs_verify_report *report;
    const char *file; /* the database's name, for the report */
    bool stopped;     /* the callback asked to stop */
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
    evs_problem p = {k->file, -1, pos, what};
    if (k->cb && !k->stopped && k->cb(k->ctx, &p, 0, 0))
        k->stopped = true;
}

/* Each row of `sql` is one problem: (pos, text). */
static int each_problem(check *k, const char *sql)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(k->sb->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(k->sb, rc, "verifying");
    while (!k->stopped && (rc = sqlite3_step(st)) == SQLITE_ROW)
        problem(k, sqlite3_column_int64(st, 0), "%s", (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evs__sq_err(k->sb, rc, "verifying");
}

static int pages(check *k, bool quick)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(k->sb->db, quick ? "PRAGMA quick_check" : "PRAGMA integrity_check",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(k->sb, rc, "checking the database");
    while (!k->stopped && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") != 0)
            problem(k, 0, "SQLite: %s", line);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0
                                                 : evs__sq_err(k->sb, rc, "checking the database");
}

static const char *const row_checks[] = {
    /* A position with no event just below it (other than 1). */
    "SELECT e.pos, 'position ' || (e.pos - 1) || ' is missing: positions must have no gap'"
    " FROM evs_events e WHERE e.pos > 1 AND NOT EXISTS"
    " (SELECT 1 FROM evs_events WHERE pos = e.pos - 1)",
    "SELECT pos, 'positions start at ' || pos || ', not 1' FROM"
    " (SELECT min(pos) AS pos FROM evs_events) WHERE pos <> 1",
    /* Versions: from 0, no gap, in position order. */
    "SELECT pos, 'stream ''' || name || ''': version ' || version || ' follows version ' ||"
    " coalesce(prev, 'none') || ' (versions go 0, 1, 2 ... in position order)' FROM"
    " (SELECT e.pos, e.version, s.name, lag(e.version) OVER (PARTITION BY e.stream_id ORDER BY"
    " e.pos) AS prev FROM evs_events e JOIN evs_streams s ON s.id = e.stream_id)"
    " WHERE version <> coalesce(prev + 1, 0)",
    "SELECT pos, 'ts ' || ts_ns || ' is before ' || prev || ', the ts of the event before it'"
    " FROM (SELECT pos, ts_ns, lag(ts_ns) OVER (ORDER BY pos) AS prev FROM evs_events)"
    " WHERE ts_ns < prev",
    "SELECT 0, 'stream ''' || name || ''' has no events' FROM evs_streams s WHERE NOT EXISTS"
    " (SELECT 1 FROM evs_events WHERE stream_id = s.id)",
};

/* The full form: every event's JSON. */
static int payloads(check *k, int64_t total)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        k->sb->db, "SELECT pos, data, metadata FROM evs_events ORDER BY pos", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(k->sb, rc, "verifying");
    while (!k->stopped && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t pos = sqlite3_column_int64(st, 0);
        const char *data = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        evs__json_error err;
        if (!data || !evs__json_validate(data, len, EVS_MAX_JSON_DEPTH, &err))
            problem(k, pos, "the data is not JSON: %s at byte %zu", data ? err.reason : "NULL",
                    data ? err.offset : 0);
        k->report->bytes_checked += (int64_t)len;
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
            const char *meta = (const char *)sqlite3_column_text(st, 2);
            size_t mlen = (size_t)sqlite3_column_bytes(st, 2);
            size_t i = 0;
            while (i < mlen && strchr(" \t\r\n", meta[i]))
                i++;
            if (!evs__json_validate(meta, mlen, EVS_MAX_JSON_DEPTH, &err))
                problem(k, pos, "the metadata is not JSON: %s at byte %zu", err.reason, err.offset);
            else if (i == mlen || meta[i] != '{')
                problem(k, pos, "the metadata is not a JSON object");
            k->report->bytes_checked += (int64_t)mlen;
        }
        k->report->events_checked++;
        if (k->cb && (pos & 4095) == 0 && !k->stopped && k->cb(k->ctx, NULL, pos, total))
            k->stopped = true;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : evs__sq_err(k->sb, rc, "verifying");
}

static int count(sqlite_backend *sb, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(sb->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(sb, rc, "verifying");
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : evs__sq_err(sb, rc, "verifying");
}

static int run_checks(check *k, bool quick)
{
    int64_t events = 0;
    int rc = pages(k, quick);
    if (rc == 0)
        rc = count(k->sb, "SELECT count(*) FROM evs_events", &events);
    if (rc == 0)
        rc = count(k->sb, "SELECT count(*) FROM evs_streams", &k->report->streams_checked);
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
    sqlite_backend *sb = (sqlite_backend *)be;
    const char *slash = strrchr(sb->path, '/');
    check k = {sb, cb, ctx, report, slash ? slash + 1 : sb->path, false};
    pthread_mutex_lock(&sb->mu);
    /* One read transaction: appends go on meanwhile, the check sees one state. */
    int rc = evs__sq_exec(sb, "BEGIN");
    if (rc == 0) {
        rc = run_checks(&k, quick);
        sqlite3_exec(sb->db, "COMMIT", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&sb->mu);
    if (rc == 0 && report->problem_count)
        rc = evs__seterr(EVS_ECORRUPT, "sqlite:%s: %" PRId64 " problem%s found", sb->path,
                         report->problem_count, report->problem_count == 1 ? "" : "s");
    return rc;
}

int evs__sq_verify(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report)
{
    return verify(be, cb, ctx, report, false);
}

int evs__sq_verify_quick(evs__backend *be, evs_verify_cb cb, void *ctx, evs_verify_report *report)
{
    return verify(be, cb, ctx, report, true);
}
