/*
 * test_io_faults.c - I/O errors and allocation failures, injected one at a time
 * (docs/DESIGN.md, invariant 3).
 *
 * I/O: a wrapper around the syscall table (inject.h, src/util/sysio.h) fails the
 * Nth call of one entry - pwrite, fdatasync, fsync, ftruncate, rename, open or mmap -
 * with EIO or ENOSPC, or makes the Nth pwrite short and the write after it fail with
 * ENOSPC (a disk filling up mid-write). For N = 1, 2, 3 ... until the fault no longer
 * fires, a representative workload runs: create a store (64 KiB segments, sync
 * always, frequent index snapshots), append single events and batches to three
 * streams so that segments roll, close, reopen, append more, read everything, close.
 * Then, with the real table back:
 *  - the call that met the fault failed with a clear error: EVS_ENOSPC for a full disk
 *    with a message that says so, EVS_EIO or EVS_EFATAL otherwise, never success;
 *  - after a failed fdatasync inside an append, every later append on that handle
 *    fails with EVS_EFATAL and a message saying why, until the store is reopened;
 *  - the store reopens, evs_verify finds it whole, every acknowledged append (one that
 *    returned 0) is there with its positions and data, and every failed append is there
 *    whole or not at all;
 *  - nothing leaks (LeakSanitizer checks at exit).
 * A double fault (a failed write whose undo, the ftruncate, fails too) must poison the
 * store, and reopening must recover.
 *
 * OOM: evs__alloc_fail_after(n, false) for n = 0, 1, 2 ... over evs_open, appends, a read
 * and evs_close: every failure is EVS_ENOMEM, and the same checks hold.
 *
 * Stores live on /dev/shm when it is writable: the faults are simulated, so a real disk
 * would only make the thousands of syncs slow.
 */
#include "testutil.h"

#include "faultutil.h"
#include "inject.h"
#include "util.h"

#include <stdbool.h>
#include <sys/mman.h>

/* ---- the model of what was appended ----------------------------------------------- */

#define MAX_ATTEMPTS 96
#define MAX_BATCH    4
#define DATA_PAD     2400 /* bytes of padding per event: 64 KiB segments roll */

typedef struct attempt {
    char stream[16];
    size_t count;
    size_t first_id;   /* ids first_id .. first_id+count-1 */
    int rc;            /* what evs_append returned */
    int64_t first_pos; /* when acknowledged */
    size_t found;      /* events of it found on reopen */
} attempt;

typedef struct model {
    attempt at[MAX_ATTEMPTS];
    size_t count;
    size_t next_id;
    bool poisoned; /* a sync failed inside an append on the current handle */
    int first_err; /* the first error the workload met, 0 if none */
    char first_msg[600];
} model;

static char pad[DATA_PAD + 1];

static void make_id(unsigned char id[16], size_t n)
{
    memset(id, 0, 16);
    id[0] = 0x10;
    id[6] = 0x40;
    id[8] = 0x80;
    for (int i = 0; i < 8; i++)
        id[15 - i] = (unsigned char)(n >> (8 * i));
}

static size_t id_number(const unsigned char id[16])
{
    size_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (size_t)id[15 - i] << (8 * i);
    return n;
}

static void note_error(model *m, int rc)
{
    if (m->first_err == 0) {
        m->first_err = rc;
        snprintf(m->first_msg, sizeof m->first_msg, "%s", evs_errmsg());
    }
}

/* What any failing call may return when an I/O fault (or, with oom, an allocation
 * failure) hit it. */
static void check_failure(int rc, bool oom)
{
    fu_check(rc < 0);
    fu_check(evs_errmsg()[0] != '\0');
    if (oom) {
        fu_check(rc == EVS_ENOMEM);
        return;
    }
    fu_check(rc == EVS_EIO || rc == EVS_ENOSPC || rc == EVS_EFATAL || rc == EVS_ENOMEM);
    if (rc == EVS_ENOSPC)
        fu_check(strstr(evs_errmsg(), "No space left") != NULL ||
                 strstr(evs_errmsg(), "disk is full") != NULL);
}

/* Append `count` events to stream acct-<k>; record the attempt and its outcome. */
static void do_append(model *m, evs_store *s, int k, size_t count, bool oom)
{
    assert_true(m->count < MAX_ATTEMPTS && count <= MAX_BATCH);
    attempt *a = &m->at[m->count++];
    snprintf(a->stream, sizeof a->stream, "acct-%d", k);
    a->count = count;
    a->first_id = m->next_id;
    m->next_id += count;

    unsigned char ids[MAX_BATCH][16];
    char data[MAX_BATCH][DATA_PAD + 64];
    evs_event_in in[MAX_BATCH];
    for (size_t i = 0; i < count; i++) {
        size_t n = a->first_id + i;
        make_id(ids[i], n);
        snprintf(data[i], sizeof data[i], "{\"n\":%zu,\"pad\":\"%.*s\"}", n,
                 (int)(DATA_PAD - n % 97), pad);
        in[i] = tu_event(i % 2 ? "Withdrawn" : "Deposited", data[i]);
        in[i].id = ids[i];
    }
    evs_append_result r;
    bool was_poisoned = m->poisoned;
    inj.in_append = true;
    a->rc = evs_append(&r, s, a->stream, EVS_EXPECT_ANY, in, count);
    inj.in_append = false;
    if (a->rc == 0) {
        fu_check(!was_poisoned);
        fu_check(r.last_pos == r.first_pos + (int64_t)count - 1);
        a->first_pos = r.first_pos;
        return;
    }
    note_error(m, a->rc);
    check_failure(a->rc, oom);
    if (was_poisoned)
        fu_check(a->rc == EVS_EFATAL);
    if (a->rc == EVS_EFATAL) {
        /* docs/DESIGN.md, invariant 3: after a failed sync (or a failed write that could not be
         * undone) every write is refused until the store is reopened, saying why. */
        m->poisoned = true;
        fu_check(strstr(evs_errmsg(), "refuses writes until reopened") != NULL);
        fu_check(strstr(evs_errmsg(), "fdatasync") != NULL ||
                 strstr(evs_errmsg(), "could not be undone") != NULL);
    }
}

static const evs_options *workload_options(void)
{
    static evs_options o;
    o = (evs_options)EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_ALWAYS;
    o.segment_size = 64 * 1024;
    o.checkpoint_bytes = 16 * 1024;
    return &o;
}

/* Open, retrying once the fault has fired (it is one-shot): an open that failed must
 * have failed cleanly. Returns NULL if the store cannot be opened even then. */
static evs_store *open_store(model *m, const char *dir, bool oom)
{
    evs_store *s = NULL;
    int rc = evs_open(&s, dir, workload_options());
    if (rc == 0)
        return s;
    note_error(m, rc);
    fu_check(s == NULL);
    check_failure(rc, oom);
    rc = evs_open(&s, dir, workload_options());
    if (rc != 0 && fu_print_budget-- > 0)
        print_error("[%s] open after the fault: %s %s\n", fu_where, evs_errname(rc), evs_errmsg());
    fu_check(rc == 0);
    return s;
}

/* Read everything; an injected fault may fail the read cleanly. */
static void read_all(evs_store *s, bool oom)
{
    evs_cursor *c = NULL;
    int rc = evs_cursor_open(&c, s, NULL);
    if (rc < 0) {
        check_failure(rc, oom);
        return;
    }
    evs_event ev;
    while ((rc = evs_cursor_next(&ev, c)) > 0)
        ;
    if (rc < 0)
        check_failure(rc, oom);
    evs_cursor_close(c);
}

static void close_store(model *m, evs_store *s, bool oom)
{
    int rc = evs_close(s);
    if (rc != 0) {
        note_error(m, rc);
        check_failure(rc, oom);
    }
    m->poisoned = false;
}

/* The workload. Two sessions: the first creates the store, the second opens it again. */
static void workload(model *m, const char *dir, bool oom, bool short_run)
{
    static const size_t sizes[] = {1, 3, 1, 1, 2, 4, 1, 3, 1, 2, 1, 1, 4, 1};
    size_t nsizes = short_run ? 4 : sizeof sizes / sizeof sizes[0];
    for (int session = 0; session < 2; session++) {
        evs_store *s = open_store(m, dir, oom);
        for (size_t i = 0; i < nsizes; i++)
            do_append(m, s, (int)(i % 3), sizes[i], oom);
        if (session == 1)
            read_all(s, oom);
        close_store(m, s, oom);
    }
}

/* With the real table back: the store opens, verify passes, every acknowledged append is
 * there and every failed one is there whole or not at all. */
static void check_store(model *m, const char *dir)
{
    evs_store *s = NULL;
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_NOCREATE;
    int rc = evs_open(&s, dir, &o);
    if (rc != 0 && fu_print_budget-- > 0)
        print_error("[%s] reopen: %s %s (first error of the run: %s %s)\n", fu_where,
                    evs_errname(rc), evs_errmsg(), evs_errname(m->first_err), m->first_msg);
    fu_check(rc == 0);
    fu_verify_ok(s);

    for (size_t i = 0; i < m->count; i++)
        m->at[i].found = 0;
    evs_cursor *c = NULL;
    fu_check_evs(0, evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int64_t expect_pos = 1;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        fu_check(ev.pos == expect_pos);
        expect_pos++;
        size_t n = id_number(ev.id);
        attempt *a = NULL;
        for (size_t i = 0; i < m->count && !a; i++)
            if (n >= m->at[i].first_id && n < m->at[i].first_id + m->at[i].count)
                a = &m->at[i];
        fu_check(a != NULL);
        fu_check(ev.stream_len == strlen(a->stream) &&
                 memcmp(ev.stream, a->stream, ev.stream_len) == 0);
        char want[64];
        int wl = snprintf(want, sizeof want, "{\"n\":%zu,\"pad\":\"", n);
        fu_check(ev.data_len == (size_t)wl + DATA_PAD - n % 97 + 2 &&
                 memcmp(ev.data, want, (size_t)wl) == 0);
        if (a->rc == 0)
            fu_check(ev.pos == a->first_pos + (int64_t)(n - a->first_id));
        a->found++;
    }
    fu_check(rc == 0);
    evs_cursor_close(c);
    for (size_t i = 0; i < m->count; i++) {
        const attempt *a = &m->at[i];
        if (a->rc == 0 && a->found != a->count && fu_print_budget-- > 0)
            print_error("[%s] acknowledged append %zu (%zu events to %s at pos %" PRId64
                        ") lost: %zu found\n",
                        fu_where, i, a->count, a->stream, a->first_pos, a->found);
        fu_check(a->rc != 0 || a->found == a->count);    /* nothing acknowledged is lost */
        fu_check(a->found == 0 || a->found == a->count); /* appends are atomic */
    }
    fu_check_evs(0, evs_close(s));
}

/* ---- store directories ------------------------------------------------------------ */

static char base_dir[4096];

static int setup(void **state)
{
    (void)state;
    const char *shm = "/dev/shm";
    if (access(shm, W_OK) == 0) {
        snprintf(base_dir, sizeof base_dir, "%s/evs-iofault-XXXXXX", shm);
        if (!mkdtemp(base_dir))
            return -1;
    } else {
        char store[4096];
        tu_tmpdir(store, sizeof store, "iofault");
        snprintf(base_dir, sizeof base_dir, "%s", store);
        *strrchr(base_dir, '/') = '\0';
    }
    memset(pad, 'x', DATA_PAD);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(base_dir);
    return 0;
}

static void fresh_dir(char *dir, size_t len)
{
    snprintf(dir, len, "%s/store", base_dir);
    tu_rmtree(dir);
}

/* ---- I/O faults ------------------------------------------------------------------- */

/* Calls of `op` made by one clean run of the workload. */
static long count_calls(enum fault_op op)
{
    char dir[4200];
    fresh_dir(dir, sizeof dir);
    static model m;
    memset(&m, 0, sizeof m);
    inj_arm(op, -1, 0, false, false);
    workload(&m, dir, false, false);
    long n = inj.calls;
    inj.armed = false;
    fu_check(m.first_err == 0);
    return n;
}

/* Fail the nth call of op for every n, each on a fresh store. */
static void fault_loop(enum fault_op op, int err, bool short_write, bool undo_fails)
{
    inj_install();
    long total = count_calls(op);
    assert_true(total > 0);
    static model m;
    volatile long runs = 0, failed = 0;
    long by_code[32] = {0}; /* runs by the first error met: [0] none, [-code] */
    jmp_buf jb;
    for (volatile long n = 1; n <= total; n++) {
        char dir[4200];
        fresh_dir(dir, sizeof dir);
        memset(&m, 0, sizeof m);
        fu_set_where("%s #%ld of %ld, %s%s%s", op_names[op], n, total, strerror(err),
                     short_write ? ", short write" : "", undo_fails ? ", undo fails" : "");
        fu_soft_jmp = &jb;
        if (setjmp(jb) == 0) {
            inj_arm(op, n, err, short_write, undo_fails);
            workload(&m, dir, false, false);
            inj.armed = false;
            inj.undo_fails = false;
            inj_remove();
            check_store(&m, dir);
            inj_install();
            if (-m.first_err >= 0 && -m.first_err < 32)
                by_code[-m.first_err]++;
        } else {
            failed++;
            inj_remove();
            inj_install();
        }
        fu_soft_jmp = NULL;
        runs++;
    }
    inj_remove();
    /* What the faults turned into, for the log: a fault that met no error was absorbed
     * (e.g. a failed index snapshot, which only costs a longer scan at the next open). */
    char summary[512];
    int len =
        snprintf(summary, sizeof summary, "%s (%s%s%s), %ld runs:", op_names[op], strerror(err),
                 short_write ? ", short write" : "", undo_fails ? ", undo fails" : "", runs);
    for (int c = 0; c < 32 && len < (int)sizeof summary; c++)
        if (by_code[c])
            len += snprintf(summary + len, sizeof summary - (size_t)len, " %s %ld",
                            c ? evs_errname(-c) : "absorbed", by_code[c]);
    print_message("%s\n", summary);
    if (failed)
        print_error("%s (%s%s): %ld of %ld runs failed\n", op_names[op], strerror(err),
                    short_write ? ", short write" : "", failed, runs);
    assert_int_equal(failed, 0);
}

static void test_pwrite_eio(void **state)
{
    (void)state;
    fault_loop(OP_PWRITE, EIO, false, false);
}

static void test_pwrite_enospc(void **state)
{
    (void)state;
    fault_loop(OP_PWRITE, ENOSPC, false, false);
}

static void test_pwrite_short_then_enospc(void **state)
{
    (void)state;
    fault_loop(OP_PWRITE, ENOSPC, true, false);
}

static void test_pwrite_undo_fails(void **state)
{
    (void)state;
    fault_loop(OP_PWRITE, EIO, false, true);
}

static void test_fdatasync_eio(void **state)
{
    (void)state;
    fault_loop(OP_FDATASYNC, EIO, false, false);
}

static void test_fdatasync_enospc(void **state)
{
    (void)state;
    fault_loop(OP_FDATASYNC, ENOSPC, false, false);
}

static void test_fsync_eio(void **state)
{
    (void)state;
    fault_loop(OP_FSYNC, EIO, false, false);
}

static void test_ftruncate_eio(void **state)
{
    (void)state;
    fault_loop(OP_FTRUNCATE, EIO, false, false);
}

static void test_rename_eio(void **state)
{
    (void)state;
    fault_loop(OP_RENAME, EIO, false, false);
}

static void test_rename_enospc(void **state)
{
    (void)state;
    fault_loop(OP_RENAME, ENOSPC, false, false);
}

static void test_open_eio(void **state)
{
    (void)state;
    fault_loop(OP_OPEN, EIO, false, false);
}

static void test_open_enospc(void **state)
{
    (void)state;
    fault_loop(OP_OPEN, ENOSPC, false, false);
}

static void test_mmap_fails(void **state)
{
    (void)state;
    fault_loop(OP_MMAP, ENOMEM, false, false);
}

/* The poisoned handle in detail: after one failed fdatasync inside an append, appends
 * fail with EVS_EFATAL naming the cause until the store is reopened, and the reopened
 * store takes appends again. */
static void test_failed_sync_poisons_until_reopen(void **state)
{
    (void)state;
    char dir[4200];
    fresh_dir(dir, sizeof dir);
    fu_set_where("poison");
    evs_store *s = NULL;
    assert_evs_ok(evs_open(&s, dir, workload_options()));
    tu_append1(s, "acct-1", "Opened", "{}");
    inj_install();
    inj_arm(OP_FDATASYNC, 1, EIO, false, false);
    evs_event_in e = tu_event("Deposited", "{\"amount\":1}");
    int rc = evs_append(NULL, s, "acct-1", EVS_EXPECT_ANY, &e, 1);
    inj.armed = false;
    assert_true(inj.fired);
    assert_true(rc == EVS_EIO || rc == EVS_EFATAL);
    assert_errmsg_has("fdatasync");
    for (int i = 0; i < 3; i++) {
        assert_evs(EVS_EFATAL, evs_append(NULL, s, "acct-2", EVS_EXPECT_ANY, &e, 1));
        assert_errmsg_has("refuses writes until reopened");
        assert_errmsg_has("fdatasync");
    }
    rc = evs_sync(s);
    assert_true(rc == EVS_EIO || rc == EVS_EFATAL);
    inj_remove();
    (void)evs_close(s);
    assert_evs_ok(evs_open(&s, dir, workload_options()));
    tu_append1(s, "acct-2", "Opened", "{}");
    fu_verify_ok(s);
    assert_evs_ok(evs_close(s));
}

/* A disk that fills up at sync time (delayed allocation) is reported as a full disk:
 * EVS_ENOSPC for the failing append, with the words, not a bare "sync failed". */
static void test_fdatasync_enospc_says_disk_full(void **state)
{
    (void)state;
    char dir[4200];
    fresh_dir(dir, sizeof dir);
    evs_store *s = NULL;
    assert_evs_ok(evs_open(&s, dir, workload_options()));
    tu_append1(s, "acct-1", "Opened", "{}"); /* the segment exists: the next sync is the log's */
    inj_install();
    inj_arm(OP_FDATASYNC, 1, ENOSPC, false, false);
    evs_event_in e = tu_event("Deposited", "{\"amount\":1}");
    int rc = evs_append(NULL, s, "acct-1", EVS_EXPECT_ANY, &e, 1);
    inj.armed = false;
    inj_remove();
    assert_int_equal(rc, EVS_ENOSPC);
    assert_errmsg_has("No space left");
    rc = evs_append(NULL, s, "acct-1", EVS_EXPECT_ANY, &e, 1);
    assert_int_equal(rc, EVS_EFATAL);
    assert_errmsg_has("No space left");
    (void)evs_close(s);
}

/* ---- allocation failures ---------------------------------------------------------- */

/* Did the injected failure stay unused? Then the next n allocations succeed and one
 * after them fails. */
static bool alloc_fault_unused(long n)
{
    bool unused = false;
    for (long i = 0; i <= n && !unused; i++) {
        void *p = evs__alloc(1);
        if (!p)
            unused = true;
        evs__free(p);
    }
    evs__alloc_fail_after(-1, false);
    return unused;
}

static void test_oom(void **state)
{
    (void)state;
    static model m;
    volatile long failed = 0, n;
    jmp_buf jb;
    for (n = 0; n < 100000; n++) {
        char dir[4200];
        fresh_dir(dir, sizeof dir);
        memset(&m, 0, sizeof m);
        fu_set_where("allocation #%ld fails", n);
        fu_soft_jmp = &jb;
        volatile bool done = false;
        if (setjmp(jb) == 0) {
            evs__alloc_fail_after(n, false);
            workload(&m, dir, true, true);
            done = alloc_fault_unused(n);
            check_store(&m, dir);
        } else {
            evs__alloc_fail_after(-1, false);
            failed++;
        }
        fu_soft_jmp = NULL;
        if (done)
            break;
    }
    print_message("OOM: %ld allocation points tried\n", n);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pwrite_eio),
        cmocka_unit_test(test_pwrite_enospc),
        cmocka_unit_test(test_pwrite_short_then_enospc),
        cmocka_unit_test(test_pwrite_undo_fails),
        cmocka_unit_test(test_fdatasync_eio),
        cmocka_unit_test(test_fdatasync_enospc),
        cmocka_unit_test(test_fsync_eio),
        cmocka_unit_test(test_ftruncate_eio),
        cmocka_unit_test(test_rename_eio),
        cmocka_unit_test(test_rename_enospc),
        cmocka_unit_test(test_open_eio),
        cmocka_unit_test(test_open_enospc),
        cmocka_unit_test(test_mmap_fails),
        cmocka_unit_test(test_failed_sync_poisons_until_reopen),
        cmocka_unit_test(test_fdatasync_enospc_says_disk_full),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
