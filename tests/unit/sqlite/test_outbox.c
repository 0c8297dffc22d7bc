/*
 * test_outbox.c - evs_sqlite_append_tx: events inside the application's own
 * transaction. Visible to other handles if and only if the transaction commits; a
 * rollback leaves no event and no hole in the positions; conflicts come back from the
 * call, before the commit, with the transaction still open; ids stay idempotent across
 * connections; a subscriber of another handle receives what was committed.
 */
#include "testutil.h"

#include "evstore_sql.h"

#include <sqlite3.h>

typedef struct fx {
    char loc[4200];
    const char *path;
    sqlite3 *db;  /* the application's connection */
    evs_store *s; /* a store handle on the same database, as a reader elsewhere */
} fx;

static void exec(sqlite3 *db, const char *text)
{
    char *err = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
        print_error("%s: %s\n", text, err ? err : "?");
    assert_null(err);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tu_sqlite_tmp(f->loc, sizeof f->loc, "outbox");
    f->path = f->loc + 7;
    if (sqlite3_open(f->path, &f->db) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(f->db, 5000);
    exec(f->db, "PRAGMA journal_mode=WAL; CREATE TABLE accounts(id TEXT PRIMARY KEY,"
                " cents INTEGER NOT NULL); INSERT INTO accounts VALUES('alice', 1000),"
                " ('bob', 0)");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    evs_close(f->s);
    sqlite3_close(f->db);
    tu_cleanup(f->loc);
    free(f);
    return 0;
}

static int64_t cents(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT cents FROM accounts WHERE id = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void open_reader(fx *f)
{
    evs_options o = tu_fast_options();
    assert_evs_ok(evs_open(&f->s, f->loc, &o));
}

static void test_visible_iff_committed(void **state)
{
    fx *f = *state;
    exec(f->db, "BEGIN IMMEDIATE; UPDATE accounts SET cents = cents - 300 WHERE id = 'alice';"
                "UPDATE accounts SET cents = cents + 300 WHERE id = 'bob'");
    evs_event_in e = tu_event("Transferred", "{\"from\":\"alice\",\"to\":\"bob\",\"cents\":300}");
    evs_append_result r;
    assert_evs_ok(evs_sqlite_append_tx(&r, f->db, "transfer-1", EVS_EXPECT_NO_STREAM, &e, 1));
    assert_int_equal(r.first_pos, 1);
    assert_int_equal(r.version, 0);
    assert_int_equal(r.duplicate, 0);
    /* Another handle (the schema was made inside the transaction too): nothing yet. */
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_NOCREATE;
    assert_evs(EVS_ENOTFOUND, evs_open(&f->s, f->loc, &o));
    exec(f->db, "COMMIT");
    open_reader(f);
    assert_int_equal(evs_head(f->s), 1);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, f->s, "transfer-1"));
    assert_int_equal(info.last_version, 0);
    assert_int_equal(cents(f->db, "bob"), 300);

    /* A second transaction, seen by the reader only once committed. */
    exec(f->db, "BEGIN IMMEDIATE");
    assert_evs_ok(evs_sqlite_append_tx(&r, f->db, "transfer-2", EVS_EXPECT_NO_STREAM, &e, 1));
    assert_int_equal(r.first_pos, 2);
    assert_int_equal(evs_head(f->s), 1);
    exec(f->db, "COMMIT");
    assert_int_equal(evs_head(f->s), 2);
    assert_evs_ok(evs_verify(NULL, f->s, NULL, NULL));
}

static void test_rollback_leaves_no_hole(void **state)
{
    fx *f = *state;
    open_reader(f);
    tu_append1(f->s, "transfer-0", "Transferred", "{}");
    evs_event_in three[3] = {tu_event("A", "1"), tu_event("B", "2"), tu_event("C", "3")};
    for (int round = 0; round < 3; round++) {
        exec(f->db, "BEGIN IMMEDIATE; UPDATE accounts SET cents = 0 WHERE id = 'alice'");
        evs_append_result r;
        assert_evs_ok(evs_sqlite_append_tx(&r, f->db, "transfer-x", EVS_EXPECT_ANY, three, 3));
        assert_int_equal(r.first_pos, 2);
        exec(f->db, "ROLLBACK");
    }
    assert_int_equal(cents(f->db, "alice"), 1000);
    assert_int_equal(evs_head(f->s), 1);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, f->s, "transfer-x"));
    assert_int_equal(info.exists, 0);
    /* The next append, by either way, takes the next position: no hole. */
    assert_int_equal(tu_append1(f->s, "transfer-0", "Transferred", "{}"), 2);
    exec(f->db, "BEGIN IMMEDIATE");
    evs_append_result r;
    assert_evs_ok(evs_sqlite_append_tx(&r, f->db, "transfer-x", EVS_EXPECT_NO_STREAM, three, 3));
    exec(f->db, "COMMIT");
    assert_int_equal(r.first_pos, 3);
    assert_int_equal(r.last_pos, 5);
    assert_int_equal(tu_count(f->s, NULL), 5);
    assert_evs_ok(evs_verify(NULL, f->s, NULL, NULL));
}

static void test_conflict_before_commit(void **state)
{
    fx *f = *state;
    open_reader(f);
    tu_append1(f->s, "account-alice", "Opened", "{}");
    exec(f->db, "BEGIN IMMEDIATE; UPDATE accounts SET cents = 1 WHERE id = 'bob'");
    evs_event_in e = tu_event("Debited", "{\"cents\":5}");
    assert_evs(EVS_ECONFLICT, evs_sqlite_append_tx(NULL, f->db, "account-alice", 5, &e, 1));
    assert_errmsg_has("expected version 5 but the stream is at version 0");
    /* The application's transaction is still open, its own change in it. */
    assert_int_equal(sqlite3_get_autocommit(f->db), 0);
    assert_int_equal(cents(f->db, "bob"), 1);
    /* A multi-stream append: the second batch conflicts, the first is undone too. */
    evs_batch_in b[2] = {{"account-bob", EVS_EXPECT_NO_STREAM, &e, 1},
                         {"account-alice", EVS_EXPECT_NO_STREAM, &e, 1}};
    assert_evs(EVS_ECONFLICT, evs_sqlite_append_multi_tx(NULL, NULL, f->db, b, 2));
    assert_errmsg_has("batch index 1");
    exec(f->db, "COMMIT");
    assert_int_equal(cents(f->db, "bob"), 1);
    assert_int_equal(evs_head(f->s), 1);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, f->s, "account-bob"));
    assert_int_equal(info.exists, 0);
    /* Bad input: refused with the core's message, nothing written. */
    exec(f->db, "BEGIN IMMEDIATE");
    evs_event_in bad = tu_event("Debited", "{\"cents\":");
    assert_evs(EVS_EINVAL,
               evs_sqlite_append_tx(NULL, f->db, "account-bob", EVS_EXPECT_ANY, &bad, 1));
    assert_errmsg_has("field 'data' is not valid JSON");
    exec(f->db, "COMMIT");
    assert_int_equal(evs_head(f->s), 1);
}

static void test_misuse(void **state)
{
    fx *f = *state;
    evs_event_in e = tu_event("A", "{}");
    assert_evs(EVS_EMISUSE, evs_sqlite_append_tx(NULL, f->db, "a-1", EVS_EXPECT_ANY, &e, 1));
    assert_errmsg_has("no transaction is open");
    assert_evs(EVS_EMISUSE, evs_sqlite_append_tx(NULL, NULL, "a-1", EVS_EXPECT_ANY, &e, 1));
    /* A newer schema is refused inside the transaction too. */
    open_reader(f);
    evs_close(f->s);
    f->s = NULL;
    exec(f->db, "UPDATE evs_meta SET value = 9 WHERE key = 'schema_version'; BEGIN IMMEDIATE");
    assert_evs(EVS_EFORMAT, evs_sqlite_append_tx(NULL, f->db, "a-1", EVS_EXPECT_ANY, &e, 1));
    exec(f->db, "ROLLBACK");
}

static void test_ids_idempotent(void **state)
{
    fx *f = *state;
    unsigned char id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    evs_event_in e = tu_event("Transferred", "{}");
    e.id = id;
    evs_append_result r;
    exec(f->db, "BEGIN IMMEDIATE");
    assert_evs_ok(evs_sqlite_append_tx(&r, f->db, "transfer-9", EVS_EXPECT_NO_STREAM, &e, 1));
    exec(f->db, "COMMIT");
    /* The retry after a timeout, on a new connection: a duplicate, nothing written. */
    sqlite3 *again;
    assert_int_equal(sqlite3_open(f->path, &again), SQLITE_OK);
    exec(again, "BEGIN IMMEDIATE");
    assert_evs_ok(evs_sqlite_append_tx(&r, again, "transfer-9", EVS_EXPECT_NO_STREAM, &e, 1));
    exec(again, "COMMIT");
    sqlite3_close(again);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.first_pos, 1);
    open_reader(f);
    assert_int_equal(evs_head(f->s), 1);
    /* And through a store handle. */
    assert_evs_ok(evs_append(&r, f->s, "transfer-9", EVS_EXPECT_ANY, &e, 1));
    assert_int_equal(r.duplicate, 1);
}

static void test_subscriber_gets_committed(void **state)
{
    fx *f = *state;
    open_reader(f);
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, f->s, NULL, EVS_FROM_START));
    evs_event_in e = tu_event("Transferred", "{}");
    exec(f->db, "BEGIN IMMEDIATE");
    assert_evs_ok(evs_sqlite_append_tx(NULL, f->db, "t-1", EVS_EXPECT_ANY, &e, 1));
    exec(f->db, "ROLLBACK; BEGIN IMMEDIATE");
    assert_evs_ok(evs_sqlite_append_tx(NULL, f->db, "t-2", EVS_EXPECT_ANY, &e, 1));
    exec(f->db, "COMMIT");
    evs_event ev;
    assert_evs(1, evs_subscription_next(&ev, sub, 2000));
    assert_int_equal(ev.pos, 1);
    assert_int_equal(ev.stream_len, 3);
    assert_memory_equal(ev.stream, "t-2", 3);
    assert_evs(0, evs_subscription_next(&ev, sub, 50));
    evs_subscription_close(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_visible_iff_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_leaves_no_hole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_before_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscriber_gets_committed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
