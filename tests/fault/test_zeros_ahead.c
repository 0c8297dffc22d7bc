/*
 * test_zeros_ahead.c - the zeros a writer in `always` mode keeps written ahead of the log
 * (src/file/writer.c), and what must hold around them:
 *  - while a store is open, its active segment runs on past the committed end in zeros;
 *    a second handle opens and appends through them; closing cuts them, so a closed
 *    store's segments end where their records do;
 *  - sealed segments never keep them (evs_verify checks every sealed segment's size);
 *  - a writer that dies with them in place leaves a store that opens (read-only and
 *    writable), loses nothing and verifies, and that repair finds undamaged;
 *  - a round that rolls to a new segment and then fails to write leaves nothing behind:
 *    no new segment, and the next append, which fits in the old one, reads back right;
 *  - a handle that read the segment while zeros ran on past its end does not take them
 *    for part of the file once they are cut.
 */
#include "testutil.h"

#include "faultutil.h"
#include "inject.h"

#include <sys/wait.h>

#define EVENTS 40

static evs_options always_options(uint64_t segment_size)
{
    evs_options o = EVS_OPTIONS_INIT; /* EVS_SYNC_ALWAYS */
    o.segment_size = segment_size;
    return o;
}

/* The head page's segment and committed end (src/file/format.h). */
static void head_end(const char *dir, uint64_t *seg, uint64_t *end)
{
    unsigned char b[16];
    fu_read_at(dir, "head", FU_HEAD_OFF_END - 8, b, sizeof b);
    *seg = fu_u64(b);
    *end = fu_u64(b + 8);
}

static int64_t active_size(const char *dir, uint64_t *end)
{
    uint64_t seg;
    head_end(dir, &seg, end);
    char name[64];
    fu_seg_name(name, sizeof name, seg);
    return fu_file_size_in(dir, name);
}

static bool zeros_between(const char *dir, uint64_t from, uint64_t to)
{
    uint64_t seg, end;
    head_end(dir, &seg, &end);
    char name[64];
    fu_seg_name(name, sizeof name, seg);
    static unsigned char buf[1 << 20];
    assert_true(to - from <= sizeof buf);
    fu_read_at(dir, name, (int64_t)from, buf, (size_t)(to - from));
    for (uint64_t i = 0; i < to - from; i++)
        if (buf[i])
            return false;
    return true;
}

static void append_n(evs_store *s, int n, const char *stream)
{
    for (int i = 0; i < n; i++)
        tu_append1(s, stream, "Deposited", "{\"amount\":12345}");
}

static void test_open_store_runs_on_in_zeros(void **state)
{
    (void)state;
    char dir[1024];
    tu_tmpdir(dir, sizeof dir, "zeros");
    evs_options o = always_options(64u << 20);
    evs_store *a, *b;
    assert_evs_ok(evs_open(&a, dir, &o));
    append_n(a, EVENTS, "acct-1");
    uint64_t end;
    int64_t size = active_size(dir, &end);
    assert_true(size > (int64_t)end);
    assert_true(zeros_between(dir, end, (uint64_t)size));

    /* A second writer in the same store takes the zeros for what they are. */
    assert_evs_ok(evs_open(&b, dir, &o));
    append_n(b, EVENTS, "acct-2");
    append_n(a, EVENTS, "acct-1");
    assert_int_equal(evs_head(a), 3 * EVENTS);
    assert_int_equal(evs_head(b), 3 * EVENTS);
    assert_evs_ok(evs_close(b));
    fu_verify_ok(a);
    assert_evs_ok(evs_close(a));
    size = active_size(dir, &end);
    assert_int_equal(size, (int64_t)end);
    tu_cleanup(dir);
}

static void test_sealed_segments_keep_none(void **state)
{
    (void)state;
    char dir[1024];
    tu_tmpdir(dir, sizeof dir, "zeros");
    evs_options o = always_options(64u << 10);
    evs_store *s;
    assert_evs_ok(evs_open(&s, dir, &o));
    char data[1200];
    memset(data, 'x', sizeof data);
    snprintf(data, sizeof data, "{\"pad\":\"%0*d\"}", 1100, 0);
    for (int i = 0; i < 300; i++)
        tu_append1(s, "big", "Padded", data);
    uint64_t firsts[64];
    size_t n = fu_list_segs(dir, firsts, 64);
    assert_true(n >= 4);
    /* verify takes a sealed segment's size for its end: zeros there are damage. */
    fu_verify_ok(s);
    assert_evs_ok(evs_close(s));
    tu_cleanup(dir);
}

/* A child appends in `always` mode and dies without closing. */
static void die_with_zeros(const char *dir, int events)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        evs_options o = always_options(64u << 20);
        evs_store *s;
        if (evs_open(&s, dir, &o) != 0)
            _exit(10);
        for (int i = 0; i < events; i++) {
            evs_event_in e = tu_event("Deposited", "{\"amount\":1}");
            if (evs_append(NULL, s, "acct-1", EVS_EXPECT_ANY, &e, 1) != 0)
                _exit(11);
        }
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_dead_writer_leaves_zeros(void **state)
{
    (void)state;
    char dir[1024];
    tu_tmpdir(dir, sizeof dir, "zeros");
    die_with_zeros(dir, EVENTS);
    uint64_t end;
    assert_true(active_size(dir, &end) > (int64_t)end);

    evs_options ro = always_options(64u << 20);
    ro.flags |= EVS_OPEN_READONLY;
    evs_store *s;
    assert_evs_ok(evs_open(&s, dir, &ro));
    assert_int_equal(evs_head(s), EVENTS);
    fu_verify_ok(s);
    assert_evs_ok(evs_close(s));

    /* After a reboot nothing says where the log ended: the scan finds it. */
    fu_fake_reboot(dir);
    assert_evs_ok(evs_open(&s, dir, &ro));
    assert_int_equal(evs_head(s), EVENTS);
    assert_evs_ok(evs_close(s));

    evs_options o = always_options(64u << 20);
    assert_evs_ok(evs_open(&s, dir, &o));
    assert_int_equal(evs_head(s), EVENTS);
    assert_int_equal(tu_append1(s, "acct-1", "Deposited", "{}"), EVENTS + 1);
    fu_verify_ok(s);
    assert_evs_ok(evs_close(s));

    /* Repair of a store whose writer died with zeros ahead finds nothing to cut. */
    die_with_zeros(dir, 3);
    assert_true(active_size(dir, &end) > (int64_t)end);
    evs_repair_opts ropts = EVS_REPAIR_OPTS_INIT;
    evs_repair_report rep;
    assert_evs_ok(evs_repair(&rep, dir, &ropts));
    assert_int_equal(rep.damaged, 0);
    assert_int_equal(rep.kept_last_pos, EVENTS + 4);
    tu_cleanup(dir);
}

/* Fill the first 64 KiB segment until an event of `big` bytes no longer fits (but a
 * small one still does). */
static void fill_segment(evs_store *s, const char *dir, size_t big)
{
    for (;;) {
        uint64_t end;
        (void)active_size(dir, &end);
        /* The event goes to stream "acct-2" with type "Padded". */
        if (end + ((FU_REC_HDR_LEN + 12 + big + 7) & ~(size_t)7) > (64u << 10))
            return;
        tu_append1(s, "acct-1", "Deposited", "{\"amount\":1}");
    }
}

/* The nth pwrite of an append that rolls to a new segment fails: the new segment goes
 * again, nothing of the append stays, and the next append (small enough for the old
 * segment) reads back. */
static void test_failed_roll_leaves_nothing(void **state)
{
    (void)state;
    static char big[6000];
    memset(big, 0, sizeof big);
    snprintf(big, sizeof big, "{\"pad\":\"%0*d\"}", 5000, 0);
    bool fired = true;
    for (long nth = 1; fired; nth++) {
        char dir[1024];
        tu_tmpdir(dir, sizeof dir, "zeros");
        evs_options o = always_options(64u << 10);
        evs_store *s;
        assert_evs_ok(evs_open(&s, dir, &o));
        fill_segment(s, dir, strlen(big));
        int64_t head = evs_head(s);

        inj_install();
        inj_arm(OP_PWRITE, nth, ENOSPC, false, false);
        evs_event_in e = tu_event("Padded", big);
        int rc = evs_append(NULL, s, "acct-2", EVS_EXPECT_ANY, &e, 1);
        fired = inj.fired;
        inj_remove();
        print_message("nth %ld fired %d rc %d: %s\n", nth, fired, rc, rc ? evs_errmsg() : "");
        if (!fired) {
            assert_evs_ok(rc);
            assert_evs_ok(evs_close(s));
            tu_cleanup(dir);
            break;
        }
        if (rc == 0) { /* the fault hit a cache file, not the append */
            assert_int_equal(evs_head(s), head + 1);
        } else {
            assert_int_equal(rc, EVS_ENOSPC);
            assert_int_equal(evs_head(s), head);
            char name[64];
            fu_seg_name(name, sizeof name, (uint64_t)head + 1);
            assert_int_equal(fu_file_size_in(dir, name), -1);
            int64_t pos = tu_append1(s, "acct-3", "Small", "{\"n\":7}");
            assert_int_equal(pos, head + 1);
            evs_query q = EVS_QUERY_INIT;
            q.from_pos = pos;
            evs_cursor *c;
            evs_event ev;
            assert_evs_ok(evs_cursor_open(&c, s, &q));
            assert_int_equal(evs_cursor_next(&ev, c), 1);
            assert_int_equal(ev.pos, pos);
            assert_true(ev.stream_len == 6 && memcmp(ev.stream, "acct-3", 6) == 0);
            evs_cursor_close(c);
            q = (evs_query)EVS_QUERY_INIT;
            q.stream = "acct-2";
            assert_int_equal(tu_count(s, &q), 0);
        }
        fu_verify_ok(s);
        assert_evs_ok(evs_close(s));
        assert_evs_ok(evs_open(&s, dir, &o));
        fu_verify_ok(s);
        assert_evs_ok(evs_close(s));
        tu_cleanup(dir);
    }
}

/* A second handle reads the segment while the writer's zeros run on past its end; the
 * writer closes and cuts them. A damaged index entry pointing where they were must then
 * be found out, not read: a read through a mapping past the end of the file faults. */
static void test_cut_zeros_stay_outside(void **state)
{
    (void)state;
    char dir[1024];
    tu_tmpdir(dir, sizeof dir, "zeros");
    evs_options o = always_options(64u << 20);
    evs_store *w, *r;
    assert_evs_ok(evs_open(&w, dir, &o));
    append_n(w, EVENTS, "acct-1");
    assert_evs_ok(evs_open(&r, dir, &o));
    evs_query q = EVS_QUERY_INIT;
    assert_int_equal(tu_count(r, &q), EVENTS);
    uint64_t end;
    assert_true(active_size(dir, &end) >= (int64_t)(512u << 10));
    assert_evs_ok(evs_close(w));
    assert_int_equal(active_size(dir, &end), (int64_t)end);

    /* Position 5's entry in the offset index (u32 little-endian) now points at a page
     * that the zeros filled and the file no longer has. */
    uint64_t seg;
    head_end(dir, &seg, &end);
    char idx[64];
    snprintf(idx, sizeof idx, "%020" PRIu64 ".idx", seg);
    uint32_t off = 512u << 10;
    unsigned char le[4] = {(unsigned char)off, (unsigned char)(off >> 8),
                           (unsigned char)(off >> 16), (unsigned char)(off >> 24)};
    fu_write_at(dir, idx, (int64_t)(5 - seg) * 4, le, sizeof le);

    q.from_pos = 5;
    evs_cursor *c;
    evs_event ev;
    assert_evs_ok(evs_cursor_open(&c, r, &q));
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.pos, 5);
    assert_int_equal(ev.data_len, strlen("{\"amount\":12345}"));
    evs_cursor_close(c);
    assert_int_equal(tu_count(r, &q), EVENTS - 4);
    assert_evs_ok(evs_close(r));
    tu_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_store_runs_on_in_zeros),
        cmocka_unit_test(test_sealed_segments_keep_none),
        cmocka_unit_test(test_dead_writer_leaves_zeros),
        cmocka_unit_test(test_failed_roll_leaves_nothing),
        cmocka_unit_test(test_cut_zeros_stay_outside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
