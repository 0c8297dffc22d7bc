/*
 * sqlite_append.c - appends: expected versions, idempotent ids, writer-given times,
 * all inside one transaction.
 *
 * Positions: the append runs under SQLite's write lock (BEGIN IMMEDIATE, or the
 * application's transaction for the outbox, which holds the lock from its first write
 * until it ends), reads the last position and inserts at the next ones. No other writer
 * can commit in between, so positions are handed out in commit order; a rollback takes
 * its positions back with it, so no committed event ever stands above a hole.
 */
#include "sqlite_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Run a one-row query, *row = whether it returned one. */
static int step_row(sqlite_backend *sb, sqlite3_stmt *st, bool *row, const char *what)
{
    int rc = sqlite3_step(st);
    *row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return 0;
    return evs__sq_err(sb, rc, what);
}

int evs__sq_head_locked(sqlite_backend *sb, int64_t *pos, int64_t *ts)
{
    sqlite3_stmt *st = sb->st[SQ_HEAD];
    bool row;
    int rc = step_row(sb, st, &row, "reading the head");
    *pos = row ? sqlite3_column_int64(st, 0) : 0;
    if (ts)
        *ts = row ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    return rc;
}

/* The stream's id (0 when it has none yet), last version (-1) and last position. */
static int stream_state(sqlite_backend *sb, const evs__batch_w *b, int64_t *id, int64_t *last,
                        int64_t *last_pos)
{
    sqlite3_stmt *st = sb->st[SQ_STREAM_FIND];
    sqlite3_bind_text(st, 1, b->stream, (int)b->stream_len, SQLITE_STATIC);
    bool row;
    int rc = step_row(sb, st, &row, "looking a stream up");
    *id = row ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    *last = -1;
    *last_pos = 0;
    if (rc < 0 || !*id)
        return rc;
    st = sb->st[SQ_STREAM_LAST];
    sqlite3_bind_int64(st, 1, *id);
    rc = step_row(sb, st, &row, "reading a stream's last version");
    if (row) {
        *last = sqlite3_column_int64(st, 0);
        *last_pos = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc;
}

/* The stream an id lookup runs in. */
typedef struct id_scope {
    sqlite_backend *sb;
    int64_t stream_id;
} id_scope;

/* The version and position holding `id` in the stream; *found. */
static int find_id(void *ctx, const unsigned char *id, bool *found, int64_t *version,
                   int64_t *pos)
{
    id_scope *sc = ctx;
    sqlite3_stmt *st = sc->sb->st[SQ_ID_FIND];
    sqlite3_bind_int64(st, 1, sc->stream_id);
    sqlite3_bind_blob(st, 2, id, 16, SQLITE_STATIC);
    int rc = step_row(sc->sb, st, found, "looking an event id up");
    if (*found) {
        *version = sqlite3_column_int64(st, 0);
        *pos = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc;
}

/* Does the stream's `version` hold `id`? *pos its position. */
static int id_at(void *ctx, int64_t version, const unsigned char *id, bool *same, int64_t *pos)
{
    id_scope *sc = ctx;
    sqlite3_stmt *st = sc->sb->st[SQ_AT_VERSION];
    sqlite3_bind_int64(st, 1, sc->stream_id);
    sqlite3_bind_int64(st, 2, version);
    bool row;
    int rc = step_row(sc->sb, st, &row, "reading an event id");
    *same =
        row && sqlite3_column_bytes(st, 0) == 16 && memcmp(sqlite3_column_blob(st, 0), id, 16) == 0;
    *pos = row ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    return rc;
}

static int add_stream(sqlite_backend *sb, const evs__batch_w *b, int64_t *id)
{
    sqlite3_stmt *st = sb->st[SQ_STREAM_ADD];
    sqlite3_bind_text(st, 1, b->stream, (int)b->stream_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return evs__sq_err(sb, rc, "adding a stream");
    *id = sqlite3_last_insert_rowid(sb->db);
    return 0;
}

static int insert_event(sqlite_backend *sb, int64_t pos, int64_t stream_id, int64_t version,
                        int64_t ts, const evs__event_w *e)
{
    sqlite3_stmt *st = sb->st[SQ_INSERT];
    sqlite3_bind_int64(st, 1, pos);
    sqlite3_bind_int64(st, 2, stream_id);
    sqlite3_bind_int64(st, 3, version);
    sqlite3_bind_int64(st, 4, ts);
    sqlite3_bind_text(st, 5, e->type, (int)e->type_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->data, (int)e->data_len, SQLITE_STATIC);
    if (e->meta)
        sqlite3_bind_text(st, 7, e->meta, (int)e->meta_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_blob(st, 8, e->id, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : evs__sq_err(sb, rc, "inserting an event");
}

typedef struct tail {
    int64_t head;
    int64_t last_ts;
    int64_t now;
} tail;

static int append_batch(sqlite_backend *sb, const evs__batch_w *b, tail *t, evs_append_result *res)
{
    int64_t stream_id, last, last_pos;
    int rc = stream_state(sb, b, &stream_id, &last, &last_pos);
    if (rc < 0)
        return rc;
    if (b->any_id_given && last >= 0) {
        id_scope sc = {sb, stream_id};
        evs__id_lookup l = {&sc, find_id, id_at};
        bool dup;
        if ((rc = evs__check_duplicate(b, &l, res, &dup)) < 0 || dup)
            return rc;
    }
    if ((rc = evs__check_expected(b, last)) < 0 ||
        (rc = evs__check_given_ts(b, t->last_ts, t->now)) < 0)
        return rc;
    if (!stream_id && (rc = add_stream(sb, b, &stream_id)) < 0)
        return rc;
    res->first_pos = t->head + 1;
    for (size_t i = 0; i < b->count; i++) {
        const evs__event_w *e = &b->events[i];
        int64_t ts = e->ts_ns ? e->ts_ns : t->now > t->last_ts ? t->now : t->last_ts;
        if ((rc = insert_event(sb, t->head + 1, stream_id, last + 1, ts, e)) < 0)
            return rc;
        t->head++;
        t->last_ts = ts;
        last++;
    }
    res->last_pos = t->head;
    res->version = last;
    res->duplicate = 0;
    return 0;
}

int evs__sq_append_in_tx(sqlite_backend *sb, const evs__batch_w *batches, size_t batch_count,
                         evs_append_result *out)
{
    int rc = evs__sq_exec(sb, "SAVEPOINT evs_append");
    if (rc < 0)
        return rc;
    tail t = {0, 0, evs__now_ns()};
    rc = evs__sq_head_locked(sb, &t.head, &t.last_ts);
    size_t i = 0;
    for (; rc == 0 && i < batch_count; i++)
        rc = append_batch(sb, &batches[i], &t, &out[i]);
    if (rc == 0)
        return evs__sq_exec(sb, "RELEASE evs_append");
    if (batch_count > 1 && i > 0)
        evs__prefixerr("batch index %zu (of %zu batches)", i - 1, batch_count);
    /* Keep the error of the append, not of its undoing. */
    int code = evs__lasterr_code();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", evs__lasterr_msg());
    sqlite3_exec(sb->db, "ROLLBACK TO evs_append; RELEASE evs_append", NULL, NULL, NULL);
    return evs__seterr(code, "%s", msg);
}
