/*
 * test_state_faults.c - I/O errors in read-model state files (evs_state_*), injected one
 * at a time through the syscall table (inject.h).
 *
 * Saving: the Nth open, pwrite (also a short one followed by ENOSPC), fsync or rename
 * fails with EIO or ENOSPC, for N = 1, 2, ... until the fault no longer fires. Each time:
 *  - the save fails with EVS_EIO or EVS_ENOSPC (matching the errno), and the message
 *    names the file and says what it holds;
 *  - the handle keeps the previous state and position;
 *  - no temporary file is left;
 *  - reopened, the file holds the previous state, whole; or the new one when only the
 *    final sync of its directory failed (the second open or fsync), which the message
 *    then says;
 *  - the next save, with the real table back, succeeds.
 * Loading: a failed open or read of the file is EVS_EIO naming it.
 */
#include "testutil.h"

#include "inject.h"

#define INITIAL "{}"
#define OLD     "{\"saved\":\"before\"}"
#define NEW     "{\"saved\":\"after\",\"pad\":\"0123456789abcdef0123456789abcdef\"}"

typedef struct fx {
    char dir[4096];
    char path[4200];
    char tmp[4300];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_tmpdir(f->dir, sizeof f->dir, "state-faults");
    if (mkdir(f->dir, 0755) < 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/model.state", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", f->path);
    inj_install();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    inj_remove();
    tu_cleanup(f->dir);
    free(f);
    return 0;
}

/* The file as a fresh handle loads it: its JSON must be `want` at `pos`. */
static void file_holds(const char *path, const char *want, int64_t pos)
{
    evs_state *st;
    evs_state_info info;
    assert_evs_ok(evs_state_open(&st, path, 1, INITIAL, strlen(INITIAL), 0));
    evs_state_get(&info, st);
    assert_int_equal(info.origin, EVS_STATE_LOADED);
    assert_int_equal(info.pos, pos);
    assert_int_equal(info.json_len, strlen(want));
    assert_memory_equal(info.json, want, strlen(want));
    evs_state_close(st);
}

/* One save of NEW over OLD with the fault armed; returns whether it fired. */
static bool save_under_fault(const fx *f, enum fault_op op, long nth, int err, bool short_write)
{
    evs_state *st;
    evs_state_info info;
    (void)unlink(f->path);
    assert_evs_ok(evs_state_open(&st, f->path, 1, INITIAL, strlen(INITIAL), 0));
    assert_evs_ok(evs_state_save(st, OLD, strlen(OLD), 10));

    inj_arm(op, nth, err, short_write, false);
    int rc = evs_state_save(st, NEW, strlen(NEW), 20);
    inj.armed = false;
    bool fired = inj.fired;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", evs_errmsg());
    if (!fired) {
        assert_int_equal(rc, 0);
        file_holds(f->path, NEW, 20);
        evs_state_close(st);
        return false;
    }
    /* The directory's sync comes after the rename: the only fault that leaves NEW. */
    bool dir_sync = (op == OP_OPEN && nth == 2) || (op == OP_FSYNC && nth == 2);
    assert_int_equal(rc, err == ENOSPC ? EVS_ENOSPC : EVS_EIO);
    if (!strstr(msg, f->path))
        fail_msg("fault #%ld: the message does not name the file: %s", nth, msg);
    if (!strstr(msg, dir_sync ? "in place" : "previous state"))
        fail_msg("fault #%ld: the message does not say what the file holds: %s", nth, msg);
    evs_state_get(&info, st);
    assert_int_equal(info.pos, 10);
    assert_memory_equal(info.json, OLD, strlen(OLD));
    assert_int_equal(access(f->tmp, F_OK), -1);
    if (dir_sync)
        file_holds(f->path, NEW, 20);
    else
        file_holds(f->path, OLD, 10);
    assert_evs_ok(evs_state_save(st, NEW, strlen(NEW), 30));
    file_holds(f->path, NEW, 30);
    evs_state_close(st);
    return true;
}

static void every_call_of(const fx *f, enum fault_op op, int err, bool short_write, long want)
{
    long n = 1;
    while (save_under_fault(f, op, n, err, short_write))
        n++;
    /* The calls one save makes: a fault past them must not fire. */
    assert_int_equal(n - 1, want);
}

static void test_save_faults(void **state)
{
    fx *f = *state;
    every_call_of(f, OP_OPEN, EIO, false, 2);   /* the temporary file, the directory */
    every_call_of(f, OP_PWRITE, EIO, false, 3); /* header, JSON, newline */
    every_call_of(f, OP_PWRITE, ENOSPC, false, 3);
    every_call_of(f, OP_PWRITE, ENOSPC, true, 3); /* a short write, then a full disk */
    every_call_of(f, OP_FSYNC, EIO, false, 2); /* the file, the directory */
    every_call_of(f, OP_RENAME, EIO, false, 1);
}

static void test_load_faults(void **state)
{
    fx *f = *state;
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, f->path, 1, INITIAL, strlen(INITIAL), 0));
    assert_evs_ok(evs_state_save(st, OLD, strlen(OLD), 10));
    evs_state_close(st);
    const enum fault_op ops[] = {OP_OPEN, OP_PREAD};
    for (size_t i = 0; i < 2; i++) {
        inj_arm(ops[i], 1, EIO, false, false);
        int rc = evs_state_open(&st, f->path, 1, INITIAL, strlen(INITIAL), 0);
        inj.armed = false;
        assert_true(inj.fired);
        assert_int_equal(rc, EVS_EIO);
        assert_non_null(strstr(evs_errmsg(), f->path));
        assert_null(st);
    }
    file_holds(f->path, OLD, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_faults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
