/*
 * ref_sqlite.c - the reference SQLite driver (ref.h): W1 and W3 written as plainly as
 * possible, to check the suite's SQLite driver against.
 *
 * The suite's schema: events(pos INTEGER PRIMARY KEY, stream, version, type, ts, data)
 * with UNIQUE(stream, version). WAL with synchronous=FULL, so every COMMIT is synced.
 * A batch of 1,000 events is one BEGIN IMMEDIATE ... COMMIT of prepared inserts; each
 * event's version comes from an array of the streams' last versions. W3 opens a
 * connection and reads the table in position order, decoding every column and summing
 * every payload byte, once unmeasured and once measured on a new connection (the
 * suite's W3 is warm the same way, each read on a connection of its own).
 *
 * TUNING replaces the default tuning pragmas below (run before the durability pragmas,
 * so a page size in it takes effect): how the suite's choice was measured.
 */
#include "ref.h"
#include "suite_tuning.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH 1000

/* The same tuning as the suite's SQLite driver (suite_sqlite.c, SQ_TUNING). */
static const char *const default_tuning = SQ_TUNING;

static int fail(sqlite3 *h, const char *what)
{
    fprintf(stderr, "ref sqlite: %s: %s\n", what, sqlite3_errmsg(h));
    return -1;
}

static int exec(sqlite3 *h, const char *sql)
{
    return sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(h, sql);
}

typedef struct sq_store {
    sqlite3 *h; /* the writer, open until the end, as the suite's store is */
    const char *path, *tuning;
} sq_store;

static int append_all(void *ctx, const suite_model *m, int64_t *last)
{
    sqlite3 *h = ((sq_store *)ctx)->h;
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(h,
                           "INSERT INTO events(stream,version,type,ts,data) VALUES(?1,?2,?3,?4,?5)",
                           -1, &ins, NULL) != SQLITE_OK)
        return fail(h, "prepare insert");
    int rc = 0;
    for (size_t i = 0; i < m->n && rc == 0; i += BATCH) {
        rc = exec(h, "BEGIN IMMEDIATE");
        int64_t ts = suite_wall_ns();
        for (size_t j = i; j < i + BATCH && j < m->n && rc == 0; j++) {
            uint32_t k = m->seq[j];
            size_t p = j % m->pool_n;
            sqlite3_bind_text(ins, 1, m->names[k], -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, ++last[k]);
            sqlite3_bind_text(ins, 3, SUITE_EVENT_TYPE, -1, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 4, ts);
            sqlite3_bind_text(ins, 5, m->pool + p * m->pool_stride, (int)m->pool_len[p],
                              SQLITE_STATIC);
            rc = sqlite3_step(ins) == SQLITE_DONE ? 0 : fail(h, "insert");
            sqlite3_reset(ins);
        }
        if (rc == 0)
            rc = exec(h, "COMMIT");
    }
    sqlite3_finalize(ins);
    return rc;
}

/* A connection with the suite's settings; NULL on failure (said). */
static sqlite3 *connect(const char *path, const char *tuning)
{
    sqlite3 *h = NULL;
    if (sqlite3_open(path, &h) != SQLITE_OK) {
        fail(h, "open");
    } else if (exec(h, tuning) == 0 &&
               exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL") == 0) {
        return h;
    }
    sqlite3_close(h);
    return NULL;
}

/* What the suite does between measurements (its settle): the WAL written back. */
static int settle(void *ctx)
{
    return exec(((sq_store *)ctx)->h, "PRAGMA wal_checkpoint(TRUNCATE)");
}

static int replay(void *ctx, suite_sum *out)
{
    sqlite3_stmt *s;
    sqlite3 *h = connect(((sq_store *)ctx)->path, ((sq_store *)ctx)->tuning);
    if (!h)
        return -1;
    if (sqlite3_prepare_v2(h, "SELECT pos,stream,version,type,ts,data FROM events ORDER BY pos", -1,
                           &s, NULL) != SQLITE_OK) {
        fail(h, "prepare select");
        sqlite3_close(h);
        return -1;
    }
    int rc;
    *out = (suite_sum){0, 0, 0};
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        (void)sqlite3_column_int64(s, 0);
        (void)sqlite3_column_text(s, 1);
        (void)sqlite3_column_bytes(s, 1);
        (void)sqlite3_column_int64(s, 2);
        (void)sqlite3_column_text(s, 3);
        (void)sqlite3_column_bytes(s, 3);
        (void)sqlite3_column_int64(s, 4);
        const unsigned char *d = sqlite3_column_blob(s, 5);
        size_t len = (size_t)sqlite3_column_bytes(s, 5);
        out->checksum += suite_touch(d, len);
        out->bytes += len;
        out->events++;
    }
    sqlite3_finalize(s);
    rc = rc == SQLITE_DONE ? 0 : fail(h, "select");
    sqlite3_close(h);
    return rc;
}

int main(int argc, char **argv)
{
    ref_args a;
    if (ref_start(&a, argc, argv, "TUNING PRAGMAS") != 0)
        return 2;
    char path[4200];
    snprintf(path, sizeof path, "%s/events.db", a.dir);
    static const ref_engine sqlite = {"sqlite", append_all, settle, replay};
    sq_store s = {NULL, path, a.tuning ? a.tuning : default_tuning};
    sqlite3 *h = s.h = connect(path, s.tuning);
    if (!h || exec(h, "CREATE TABLE events(pos INTEGER PRIMARY KEY, stream TEXT NOT NULL,"
                      " version INTEGER NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL,"
                      " data TEXT NOT NULL, UNIQUE(stream, version))") != 0)
        return 1;
    int rc = ref_run(&a, &sqlite, &s);
    sqlite3_close(h);
    return rc;
}
