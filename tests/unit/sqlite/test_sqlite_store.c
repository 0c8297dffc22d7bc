/*
 * test_sqlite_store.c - what is the SQLite backend's own: which backend a location
 * names, the schema and its version (a newer or foreign schema refused, never
 * misread; the application's own tables left alone), open flags on a database file,
 * and evs_verify finding rows that break evstore's promises.
 */
#include "testutil.h"

#include <sqlite3.h>

typedef struct fx {
    char loc[4200];   /* "sqlite:DIR/store.db" */
    const char *path; /* the file */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tu_sqlite_tmp(f->loc, sizeof f->loc, "sq");
    f->path = f->loc + 7;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_cleanup(f->loc);
    free(f);
    return 0;
}

/* Run SQL on the database file directly, as another program would. */
static void sql(const char *path, const char *text)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
        print_error("%s: %s\n", text, err ? err : "?");
    assert_null(err);
    sqlite3_close(db);
}

static void test_locations(void **state)
{
    fx *f = *state;
    evs_store *s = NULL;
    /* PostgreSQL locations go to that backend (port 1: no server answers there). */
    assert_evs(EVS_EIO, evs_open(&s, "postgresql://evs@127.0.0.1:1/app?schema=a", NULL));
    assert_errmsg_has("cannot connect");
    assert_null(s);
    assert_evs(EVS_EIO, evs_open(&s, "postgres://evs@127.0.0.1:1/app", NULL));
    assert_evs(EVS_EINVAL, evs_open(&s, "sqlite:", NULL));
    assert_errmsg_has("names no database file");
    evs_repair_report rep;
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    assert_evs_ok(evs_close(s));
    assert_evs(EVS_ENOTSUP, evs_repair(&rep, f->loc, NULL));
    assert_errmsg_has("sqlite backend has no repair");
    /* A plain path is the file backend still: a directory, not a database file. */
    char dir[4200];
    snprintf(dir, sizeof dir, "%s.dir", f->path);
    assert_evs_ok(evs_open(&s, dir, NULL));
    assert_evs_ok(evs_close(s));
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    tu_rmtree(dir);
}

static void test_open_flags(void **state)
{
    fx *f = *state;
    evs_store *s;
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_NOCREATE;
    assert_evs(EVS_ENOTFOUND, evs_open(&s, f->loc, &o));
    assert_int_equal(access(f->path, F_OK), -1); /* nothing created */
    o.flags = EVS_OPEN_READONLY;
    assert_evs(EVS_ENOTFOUND, evs_open(&s, f->loc, &o));
    o.flags = EVS_OPEN_EXCLUSIVE_CREATE;
    assert_evs_ok(evs_open(&s, f->loc, &o));
    tu_append1(s, "a-1", "A", "{}");
    assert_evs_ok(evs_close(s));
    assert_evs(EVS_EEXIST, evs_open(&s, f->loc, &o));
    assert_errmsg_has("already exists");
    o.flags = EVS_OPEN_READONLY;
    assert_evs_ok(evs_open(&s, f->loc, &o));
    assert_int_equal(evs_head(s), 1);
    evs_event_in e = tu_event("A", "{}");
    assert_evs(EVS_EREADONLY, evs_append(NULL, s, "a-1", EVS_EXPECT_ANY, &e, 1));
    assert_evs_ok(evs_close(s));
}

static void test_schema_version(void **state)
{
    fx *f = *state;
    evs_store *s;
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    tu_append1(s, "a-1", "A", "{}");
    assert_evs_ok(evs_close(s));
    sql(f->path, "UPDATE evs_meta SET value = 2 WHERE key = 'schema_version'");
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("schema is version 2, made by a newer evstore");
    sql(f->path, "UPDATE evs_meta SET value = 0 WHERE key = 'schema_version'");
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("schema version 0");
    sql(f->path, "DELETE FROM evs_meta");
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("no schema_version");
    sql(f->path, "INSERT INTO evs_meta VALUES('schema_version', 1)");
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    assert_int_equal(evs_head(s), 1);
    assert_evs_ok(evs_close(s));
}

static void test_beside_other_tables(void **state)
{
    fx *f = *state;
    /* Someone else's evs_events: not ours, refused. */
    sql(f->path, "CREATE TABLE evs_events(x)");
    evs_store *s;
    assert_evs(EVS_EFORMAT, evs_open(&s, f->loc, NULL));
    assert_errmsg_has("not an evstore schema");
    sql(f->path, "DROP TABLE evs_events; CREATE TABLE accounts(id TEXT PRIMARY KEY, cents INT);"
                 "INSERT INTO accounts VALUES('alice', 100)");
    /* The application's database without a store: NOCREATE says how to make one. */
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_NOCREATE;
    assert_evs(EVS_ENOTFOUND, evs_open(&s, f->loc, &o));
    assert_errmsg_has("evstore init sqlite:");
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    tu_append1(s, "account-alice", "Opened", "{\"cents\":100}");
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT cents FROM accounts", -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 100);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

typedef struct seen {
    int count;
    char first[256];
} seen;

static int collect(void *ctx, const evs_problem *p, int64_t done, int64_t total)
{
    (void)done;
    (void)total;
    seen *s = ctx;
    if (p && s->count++ == 0)
        snprintf(s->first, sizeof s->first, "%s", p->what);
    return 0;
}

static void test_verify_finds_row_damage(void **state)
{
    fx *f = *state;
    evs_store *s;
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    for (int i = 0; i < 5; i++)
        tu_append1(s, "a-1", "A", "{}");
    evs_verify_report rep;
    assert_evs_ok(evs_verify(&rep, s, NULL, NULL));
    assert_int_equal(rep.events_checked, 5);
    assert_int_equal(rep.streams_checked, 1);
    assert_evs_ok(evs_close(s));

    sql(f->path, "DELETE FROM evs_events WHERE pos = 3");
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    seen got = {0, ""};
    assert_evs(EVS_ECORRUPT, evs_verify(&rep, s, collect, &got));
    assert_int_equal(got.count, 2); /* position 3, and version 2 of a-1 */
    assert_non_null(strstr(got.first, "position 3 is missing"));
    assert_evs(EVS_ECORRUPT, evs_verify_quick(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));

    sql(f->path, "INSERT INTO evs_events SELECT 3, stream_id, 2, ts_ns, type, '{\"a\":', NULL,"
                 " randomblob(16) FROM evs_events WHERE pos = 2");
    assert_evs_ok(evs_open(&s, f->loc, NULL));
    got.count = 0;
    assert_evs(EVS_ECORRUPT, evs_verify(NULL, s, collect, &got));
    assert_int_equal(got.count, 1);
    assert_non_null(strstr(got.first, "the data is not JSON"));
    assert_evs_ok(evs_verify_quick(NULL, s, NULL, NULL)); /* quick reads no payload */
    assert_evs_ok(evs_close(s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_locations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beside_other_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_finds_row_damage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
