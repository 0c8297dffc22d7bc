/*
 * import_futoin.c - `evstore import --format futoin`: futoin-eventstream's SQLite
 * databases. Events live in evt_queue (the active table) and evt_history (the
 * warehouse that DBEventArchiver fills), each row an id, an all-upper-case type, the
 * data as JSON text and a ts (SQLite's CURRENT_TIMESTAMP, UTC text); consumers in
 * evt_consumers (import_futoin_consumers.c).
 *
 * Every PATH is opened read-only, in one read transaction, so the tables are read as
 * of one moment even while futoin runs. The tables of all files are merged by id, in
 * ascending order, into one sequence of events: the archiver copies events into the
 * history before the discarder deletes them from the queue, so one id is often in both.
 * Rows with the same id are one event when type, data and ts agree byte for byte
 * (counted as "merged"); when they disagree, the import stops there rather than pick
 * one.
 *
 * An event: type as is; data byte for byte (checked to be JSON); stream --stream
 * (default "futoin") or the data's --stream-field; metadata
 *   {"futoin_id":57,"imported_ts":"2024-01-02T03:04:05.000000000Z"}
 * with futoin's id, and its ts as RFC 3339 under the name evstore's own import uses
 * for an original time (the store sets ts itself). SQLite keeps times as UTC text or
 * Unix seconds; that form holds either to the nanosecond.
 */
#include "import_futoin.h"
#include "import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The event tables, in the order a tie (one id in both) is reported. */
static const char *const event_tables[] = {"evt_history", "evt_queue"};
#define EVENT_TABLES 2

struct fu_table {
    const char *file;
    const char *name; /* one of event_tables */
    sqlite3_stmt *st; /* SELECT id, type, data, ts ... ORDER BY id */
    bool has_row;
    int64_t id; /* of the current row */
};

struct fu_state {
    im_ctx *ic;
    sqlite3 **dbs;
    size_t db_count;
    struct fu_table *tables;
    size_t table_count;
    fu_consumers consumers;
    int64_t merged; /* rows that were the same event as a row of another table */
};

enum { COL_ID, COL_TYPE, COL_DATA, COL_TS };

static int db_error(const char *path, const char *what, sqlite3 *db)
{
    cli_err("import", "%s: %s%s; nothing was imported", path, what, sqlite3_errmsg(db));
    return CLI_EXIT_ERROR;
}

/* The next row of a table; ids must rise. Returns an exit code. */
static int step(struct fu_state *fs, struct fu_table *t)
{
    int64_t prev = t->id;
    bool had = t->has_row;
    int rc = sqlite3_step(t->st);
    t->has_row = rc == SQLITE_ROW;
    if (rc == SQLITE_DONE)
        return CLI_EXIT_OK;
    im_ctx *ic = fs->ic;
    ic->file = t->file;
    if (rc != SQLITE_ROW) {
        char what[600];
        (void)snprintf(what, sizeof what, "%s: cannot read the row after this one: %s", t->name,
                       sqlite3_errmsg(sqlite3_db_handle(t->st)));
        ic->line = had ? (uint64_t)prev : 0;
        return im_read_error(ic, what);
    }
    if (sqlite3_column_type(t->st, COL_ID) != SQLITE_INTEGER) {
        ic->line = had ? (uint64_t)prev : 0;
        return im_bad(ic, "%s: the row after this one has id '%.40s', not a whole number", t->name,
                      (const char *)sqlite3_column_text(t->st, COL_ID));
    }
    t->id = sqlite3_column_int64(t->st, COL_ID);
    ic->line = t->id > 0 ? (uint64_t)t->id : 0;
    if (t->id < 1)
        return im_bad(ic, "%s: id %lld is not an event id (futoin counts from 1)", t->name,
                      (long long)t->id);
    if (had && t->id <= prev)
        return im_bad(ic, "%s: id %lld is there twice", t->name, (long long)t->id);
    return CLI_EXIT_OK;
}

/* Open one database, its event tables and its consumers. Returns an exit code. */
static int open_db(struct fu_state *fs, const char *path)
{
    sqlite3 **db = &fs->dbs[fs->db_count++];
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return db_error(path, "cannot open: ", *db);
    /* One snapshot for all tables, even while futoin writes. */
    if (sqlite3_exec(*db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(path, "cannot read: ", *db);
    bool has[EVENT_TABLES] = {false, false};
    bool has_consumers = false;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(*db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st,
                           NULL) != SQLITE_OK)
        return db_error(path, "cannot read: ", *db);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (int i = 0; name != NULL && i < EVENT_TABLES; i++)
            has[i] = has[i] || strcmp(name, event_tables[i]) == 0;
        has_consumers = has_consumers || (name != NULL && strcmp(name, "evt_consumers") == 0);
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_error(path, "cannot read: ", *db);
    if (!has[0] && !has[1]) {
        cli_err("import",
                "%s: no table evt_queue or evt_history: not a futoin-eventstream database; "
                "nothing was imported",
                path);
        return CLI_EXIT_INVALID;
    }
    for (int i = 0; i < EVENT_TABLES; i++) {
        if (!has[i])
            continue;
        struct fu_table *t = &fs->tables[fs->table_count++];
        *t = (struct fu_table){path, event_tables[i], NULL, false, 0};
        char sql[128];
        (void)snprintf(sql, sizeof sql, "SELECT id, type, data, ts FROM %s ORDER BY id",
                       event_tables[i]);
        if (sqlite3_prepare_v2(*db, sql, -1, &t->st, NULL) != SQLITE_OK) {
            char what[64];
            (void)snprintf(what, sizeof what, "table %s: ", event_tables[i]);
            return db_error(path, what, *db);
        }
    }
    if (has_consumers && fu_consumers_load(&fs->consumers, *db, path) < 0)
        return CLI_EXIT_ERROR;
    return CLI_EXIT_OK;
}

/* Rows of all tables, for the progress bar: counted only when a bar is drawn, since
 * counting reads every table once more. */
static void count_rows(struct fu_state *fs)
{
    im_progress *p = &fs->ic->progress;
    p->rows = true;
    p->total = 0;
    for (size_t i = 0; p->tty && i < fs->table_count; i++) {
        sqlite3_stmt *st;
        char sql[64];
        (void)snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", fs->tables[i].name);
        if (sqlite3_prepare_v2(sqlite3_db_handle(fs->tables[i].st), sql, -1, &st, NULL) ==
            SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                p->total += (uint64_t)sqlite3_column_int64(st, 0);
            (void)sqlite3_finalize(st);
        }
    }
}

/* ts as UTC nanoseconds: text as SQLite writes it (UTC, no zone: "2024-01-02 03:04:05")
 * or RFC 3339, or an integer, SQLite's other time form (Unix seconds). 0, or -1. */
static int row_time(sqlite3_stmt *st, int64_t *ns, char *why, size_t why_len)
{
    int type = sqlite3_column_type(st, COL_TS);
    if (type == SQLITE_INTEGER) {
        int64_t secs = sqlite3_column_int64(st, COL_TS);
        if (__builtin_mul_overflow(secs, (int64_t)1000000000, ns)) {
            (void)snprintf(why, why_len, "ts %lld (Unix seconds) is out of range", (long long)secs);
            return -1;
        }
        return 0;
    }
    if (type != SQLITE_TEXT) {
        (void)snprintf(why, why_len, "ts is %s, not a time (text or Unix seconds)",
                       type == SQLITE_NULL    ? "NULL"
                       : type == SQLITE_FLOAT ? "a fraction (a Julian day?)"
                                              : "a blob");
        return -1;
    }
    const char *text = (const char *)sqlite3_column_text(st, COL_TS);
    size_t len = (size_t)sqlite3_column_bytes(st, COL_TS);
    /* SQLite's own form ends in a digit (no zone: UTC). Tried first with the 'Z' it
     * lacks, since a failed parse costs a formatted message. */
    char zoned[64];
    if (len > 0 && len + 1 < sizeof zoned && text[len - 1] >= '0' && text[len - 1] <= '9') {
        memcpy(zoned, text, len);
        zoned[len] = 'Z';
        if (evs_time_parse(ns, zoned, len + 1) == 0)
            return 0;
    }
    if (evs_time_parse(ns, text, len) == 0)
        return 0;
    (void)snprintf(why, why_len, "ts '%.60s' is not a time: %s", text, evs_errmsg());
    return -1;
}

/* The type column: a name, as evstore's rules for types have it. NULL when bad. */
static const char *row_type(sqlite3_stmt *st, char *why, size_t why_len)
{
    const char *type = (const char *)sqlite3_column_text(st, COL_TYPE);
    size_t len = (size_t)sqlite3_column_bytes(st, COL_TYPE);
    size_t bad;
    const char *problem = NULL;
    if (type == NULL || len == 0)
        problem = "is empty";
    else if (!evs__utf8_validate(type, len, &bad))
        problem = "is not UTF-8";
    for (size_t i = 0; problem == NULL && i < len; i++)
        if ((unsigned char)type[i] < 0x20 || type[i] == 0x7f)
            problem = "holds a control character";
    if (problem == NULL)
        return type;
    (void)snprintf(why, why_len, "type %s", problem);
    return NULL;
}

static void put(char *out, size_t *n, const char *s, size_t len)
{
    memcpy(out + *n, s, len);
    *n += len;
}

/* An id (>= 1) in decimal at out; its length. By hand: snprintf per row shows. */
static size_t put_id(char *out, int64_t id)
{
    char digits[20];
    size_t n = 0;
    for (uint64_t v = (uint64_t)id; v > 0; v /= 10)
        digits[n++] = (char)('0' + v % 10);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

/* {"futoin_id":...,"imported_ts":"..."} at the end of the scratch. */
static void build_meta(im_line *l, int64_t id, int64_t ns, im_event *ev)
{
    char *out = l->scratch + l->scratch_len;
    size_t n = 0;
    put(out, &n, "{\"futoin_id\":", 13);
    n += put_id(out + n, id);
    put(out, &n, ",\"imported_ts\":\"", 16);
    n += evs_time_format(out + n, 40, ns);
    put(out, &n, "\"}", 2);
    ev->meta = out;
    ev->meta_len = n;
    l->scratch_len += n;
}

struct stream_walk {
    const char *field;
    evs__json_member m;
    bool found;
};

static int stream_member(void *vctx, const evs__json_member *m)
{
    struct stream_walk *w = vctx;
    (void)im_field_at(m, w->field, &w->m, &w->found);
    return 0;
}

/* One row as an event, handed to the commits. Returns an exit code. */
static int row_event(struct fu_state *fs, const struct fu_table *t)
{
    im_ctx *ic = fs->ic;
    sqlite3_stmt *st = t->st;
    char why[512];
    im_event ev = IM_EVENT_INIT(NULL, NULL, NULL, 0);
    ev.type = row_type(st, why, sizeof why);
    if (ev.type == NULL)
        return im_bad(ic, "%s: %s", t->name, why);
    ev.data = (const char *)sqlite3_column_text(st, COL_DATA);
    ev.data_len = (size_t)sqlite3_column_bytes(st, COL_DATA);
    evs__json_error jerr = {0, NULL};
    if (ev.data == NULL)
        return im_bad(ic, "%s: data is NULL", t->name);
    if (!evs__json_validate(ev.data, ev.data_len, EVS_MAX_JSON_DEPTH, &jerr))
        return im_bad(ic, "%s: data is not JSON: %s at byte %zu", t->name,
                      jerr.reason != NULL ? jerr.reason : "error", jerr.offset);
    int64_t ns;
    if (row_time(st, &ns, why, sizeof why) < 0)
        return im_bad(ic, "%s: %s", t->name, why);
    ic->scratch.len = 0;
    /* The stream (at most the data) and the metadata (under 100 bytes). */
    if (evs__buf_reserve(&ic->scratch, ev.data_len + 256) < 0)
        return im_read_error(ic, "out of memory");
    im_line l = {ic->default_stream, ic->stream_field, 0, 0, false, ic->scratch.ptr, 0, ""};
    struct stream_walk w = {ic->stream_field, {NULL, 0, false, NULL, 0, EVS__JSON_INVALID}, false};
    if (ic->stream_field != NULL)
        (void)evs__json_object_walk(ev.data, ev.data_len, EVS_MAX_JSON_DEPTH, stream_member, &w,
                                    NULL);
    if (im_line_stream(&l, w.found ? &w.m : NULL, "data.", &ev.stream) < 0)
        return im_bad(ic, "%s: %s", t->name, l.why);
    build_meta(&l, t->id, ns, &ev);
    ev.orig_ts_ns = ns;
    ev.origin = "futoin";
    ev.origin_seq = t->id;
    return im_add(ic, &ev);
}

static bool same_column(sqlite3_stmt *a, sqlite3_stmt *b, int col)
{
    int ta = sqlite3_column_type(a, col);
    if (ta != sqlite3_column_type(b, col))
        return false;
    const void *pa = ta == SQLITE_BLOB ? sqlite3_column_blob(a, col) : sqlite3_column_text(a, col);
    const void *pb = ta == SQLITE_BLOB ? sqlite3_column_blob(b, col) : sqlite3_column_text(b, col);
    int la = sqlite3_column_bytes(a, col), lb = sqlite3_column_bytes(b, col);
    return la == lb && (la == 0 || memcmp(pa, pb, (size_t)la) == 0);
}

/* The rows of all tables in id order, as events. Returns an exit code. */
static int merge(struct fu_state *fs)
{
    static const char *const cols[] = {"id", "type", "data", "ts"};
    int code = CLI_EXIT_OK;
    for (size_t i = 0; i < fs->table_count && code == CLI_EXIT_OK; i++)
        code = step(fs, &fs->tables[i]);
    while (code == CLI_EXIT_OK) {
        struct fu_table *first = NULL;
        for (size_t i = 0; i < fs->table_count; i++) {
            struct fu_table *t = &fs->tables[i];
            if (t->has_row && (first == NULL || t->id < first->id))
                first = t;
        }
        if (first == NULL)
            break;
        fs->ic->file = first->file;
        fs->ic->line = (uint64_t)first->id;
        for (size_t i = 0; i < fs->table_count && code == CLI_EXIT_OK; i++) {
            struct fu_table *t = &fs->tables[i];
            if (t == first || !t->has_row || t->id != first->id)
                continue;
            for (int col = COL_TYPE; col <= COL_TS && code == CLI_EXIT_OK; col++)
                if (!same_column(first->st, t->st, col))
                    code = im_bad(fs->ic,
                                  "id %lld is in %s and in %s (%s) with a different %s: which "
                                  "one is right is for you to decide",
                                  (long long)first->id, first->name, t->name, t->file, cols[col]);
            fs->merged++;
        }
        if (code == CLI_EXIT_OK)
            code = row_event(fs, first);
        int64_t id = first->id;
        for (size_t i = 0; i < fs->table_count && code == CLI_EXIT_OK; i++) {
            struct fu_table *t = &fs->tables[i];
            if (t->has_row && t->id == id) {
                fs->ic->progress.done++;
                code = step(fs, t);
            }
        }
    }
    return code;
}

static int finish(struct fu_state *fs)
{
    im_ctx *ic = fs->ic;
    int code = im_commit(ic);
    if (code == CLI_EXIT_OK)
        code = fu_consumers_create(&fs->consumers, ic->store);
    if (code != CLI_EXIT_OK)
        return code;
    char num[48];
    (void)snprintf(num, sizeof num, ",\"merged\":%lld", (long long)fs->merged);
    if (evs__buf_append(&ic->result, num, strlen(num)) < 0 ||
        fu_consumers_result(&fs->consumers, &ic->result) < 0) {
        cli_err("import", "out of memory");
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}

int im_futoin_files(im_ctx *ic, char **paths, size_t count)
{
    struct fu_state fs;
    memset(&fs, 0, sizeof fs);
    fs.ic = ic;
    fs.dbs = calloc(count, sizeof *fs.dbs);
    fs.tables = calloc(count * EVENT_TABLES, sizeof *fs.tables);
    int code = CLI_EXIT_OK;
    if (fs.dbs == NULL || fs.tables == NULL) {
        cli_err("import", "out of memory");
        code = CLI_EXIT_ERROR;
    }
    for (size_t i = 0; i < count && code == CLI_EXIT_OK; i++)
        code = open_db(&fs, paths[i]);
    if (code == CLI_EXIT_OK &&
        fu_consumers_prepare(&fs.consumers, ic->store, evs_head(ic->store)) < 0)
        code = CLI_EXIT_INVALID;
    if (code == CLI_EXIT_OK) {
        ic->rows = true;
        ic->committed = fu_consumers_committed;
        ic->committed_arg = &fs.consumers;
        count_rows(&fs);
        code = merge(&fs);
    }
    if (code == CLI_EXIT_OK)
        code = finish(&fs);
    for (size_t i = 0; i < fs.table_count; i++)
        (void)sqlite3_finalize(fs.tables[i].st);
    for (size_t i = 0; i < fs.db_count; i++)
        (void)sqlite3_close(fs.dbs[i]);
    fu_consumers_free(&fs.consumers);
    free(fs.tables);
    free(fs.dbs);
    return code;
}
