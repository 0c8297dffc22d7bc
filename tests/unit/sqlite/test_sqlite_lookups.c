/*
 * test_sqlite_lookups.c - the SQLite backend's per-append lookups cost the same
 * whatever the length of the stream: an append to a long stream with its own ids
 * must not walk the stream. Counted in SQLite's virtual-machine steps of the
 * handle's own statements, so the test does not depend on the machine's speed.
 */
#include "core.h"
#include "sqlite_internal.h"
#include "testutil.h"

#define LONG_STREAM 3000

static void id_for(unsigned char id[16], int n)
{
    memset(id, 0x5a, 16);
    memcpy(id, &n, sizeof n);
}

static int steps(sqlite_backend *sb, int which)
{
    return sqlite3_stmt_status(sb->st[which], SQLITE_STMTSTATUS_VM_STEP, 1);
}

static void test_long_stream_lookups(void **state)
{
    tu_fixture *f = *state;
    evs_options o = tu_fast_options();
    assert_evs_ok(evs_open(&f->s, f->dir, &o));
    sqlite_backend *sb = (sqlite_backend *)f->s->be;
    unsigned char id[16];
    for (int i = 0; i < LONG_STREAM; i++) {
        evs_event_in e = tu_event("Ev", "{}");
        id_for(id, i);
        e.id = id;
        assert_evs_ok(evs_append(NULL, f->s, "long-1", EVS_EXPECT_ANY, &e, 1));
    }
    for (int k = 0; k < SQ_COUNT; k++)
        steps(sb, k);
    evs_event_in e = tu_event("Ev", "{}");
    id_for(id, LONG_STREAM);
    e.id = id;
    assert_evs_ok(evs_append(NULL, f->s, "long-1", EVS_EXPECT_ANY, &e, 1));
    int id_steps = steps(sb, SQ_ID_FIND), last_steps = steps(sb, SQ_STREAM_LAST);
    print_message("one append to a stream of %d events: %d steps to look its id up, %d to "
                  "find the stream's end\n",
                  LONG_STREAM, id_steps, last_steps);
    assert_true(id_steps < 200);
    assert_true(last_steps < 200);
    /* A retry of an event deep in the stream is still found, as a duplicate. */
    id_for(id, 17);
    evs_append_result r;
    assert_evs_ok(evs_append(&r, f->s, "long-1", EVS_EXPECT_ANY, &e, 1));
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(r.version, 17);
}

/* The fixture's store is an SQLite one whatever EVS_TEST_BACKEND says. */
static int setup(void **state)
{
    tu_fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_sqlite_tmp(f->dir, sizeof f->dir, "lookups");
    *state = f;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_long_stream_lookups, setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
