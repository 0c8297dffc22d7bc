/*
 * test_consumer_faults.c - I/O errors while a durable consumer saves its checkpoint,
 * injected through the syscall table (inject.h).
 *
 * evs_consumer_close saves the acknowledgements still unsaved, durably. When that final
 * save fails (its pwrite or its fdatasync), close returns EVS_EIO or EVS_ENOSPC with a
 * message naming the consumer, the consumer is closed all the same (its name is free
 * again), and the next open resumes after the last checkpoint that was saved: the
 * events of the lost acknowledgements are delivered again, never skipped.
 */
#include "testutil.h"

#include "inject.h"

static int setup(void **state)
{
    if (tu_setup_open(state) < 0)
        return -1;
    tu_fixture *f = *state;
    for (int i = 1; i <= 6; i++)
        tu_append1(f->s, "s-1", "T", "{}");
    inj_install();
    return 0;
}

static int teardown(void **state)
{
    inj_remove();
    return tu_teardown(state);
}

/* Checkpoint 2 saved; then 3 and 4 acknowledged and the close's save hit by `op`. */
static void close_under_fault(tu_fixture *f, const char *name, enum fault_op op, int err)
{
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, name, NULL));
    assert_int_equal(tu_consumer_next_pos(c), 1);
    assert_int_equal(tu_consumer_next_pos(c), 2);
    assert_evs_ok(evs_consumer_ack(c, 2));
    assert_evs_ok(evs_consumer_flush(c));
    assert_int_equal(tu_consumer_next_pos(c), 3);
    assert_int_equal(tu_consumer_next_pos(c), 4);
    assert_evs_ok(evs_consumer_ack(c, 4));

    inj_arm(op, 1, err, false, false);
    int rc = evs_consumer_close(c);
    inj.armed = false;
    assert_true(inj.fired);
    assert_int_equal(rc, err == ENOSPC ? EVS_ENOSPC : EVS_EIO);
    assert_int_equal(evs_errcode(), rc);
    if (!strstr(evs_errmsg(), name))
        fail_msg("the message does not name the consumer: %s", evs_errmsg());

    /* Closed all the same: the name opens again. */
    assert_evs_ok(evs_consumer_open(&c, f->s, name, NULL));
    int64_t next = tu_consumer_next_pos(c);
    /* A failed pwrite left the old checkpoint (resume at 3); after a failed fdatasync
     * the page cache may hold the new one (resume at 5), which the disk may or may
     * not: either way nothing past the last acknowledgement is skipped. */
    if (op == OP_PWRITE)
        assert_int_equal(next, 3);
    else
        assert_true(next == 3 || next == 5);
    assert_evs_ok(evs_consumer_close(c));
    assert_string_equal(evs_errmsg(), "");
}

static void test_close_pwrite_fails(void **state)
{
    close_under_fault(*state, "pw", OP_PWRITE, EIO);
}

static void test_close_pwrite_full(void **state)
{
    close_under_fault(*state, "full", OP_PWRITE, ENOSPC);
}

static void test_close_sync_fails(void **state)
{
    close_under_fault(*state, "sync", OP_FDATASYNC, EIO);
}

/* Nothing to save: close succeeds without a write, and NULL is accepted. */
static void test_close_clean(void **state)
{
    tu_fixture *f = *state;
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, f->s, "clean", NULL));
    assert_int_equal(tu_consumer_next_pos(c), 1);
    assert_evs_ok(evs_consumer_ack(c, 1));
    assert_evs_ok(evs_consumer_flush(c));
    inj_arm(OP_PWRITE, 1, EIO, false, false);
    assert_evs_ok(evs_consumer_close(c));
    inj.armed = false;
    assert_false(inj.fired);
    assert_evs_ok(evs_consumer_close(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_pwrite_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_pwrite_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_sync_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_clean, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
