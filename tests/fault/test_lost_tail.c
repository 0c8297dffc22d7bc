/*
 * test_lost_tail.c - the log's end lost after it was synced, and head pages that do not
 * match the log.
 *
 * A store of 3,000 events in `always` mode (64 KiB segments, several sealed) loses the
 * end of its log: the last segment deleted, or cut to half; with the head page as it
 * was, from an earlier boot, or gone (then only the `synced` file knows how far the log
 * reached). Every open, reader or writer, must refuse with EVS_ECORRUPT naming the
 * missing positions: none may take the shorter log for a torn tail, and the next append
 * must not hand out a position that was acknowledged.
 *
 * A head page from a diverged copy of the store (same store id, same boot) must not
 * make an open cut committed records; and when recovery does cut whole committed
 * records (damage past the synced end, whole appends after it), their bytes are kept
 * in a repair folder.
 *
 * A writer killed after its log rolled over several segments, with the head page lost:
 * the `synced` file, raised when each segment was sealed, still says what the sealed
 * segments held, so losing them is refused.
 */
#include "testutil.h"

#include "faultutil.h"
#include "sysio.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENTS 3000

typedef struct fixture {
    char dir[1024];  /* the store, closed cleanly */
    char work[1040]; /* a damaged copy */
    uint64_t segs[64];
    size_t nseg;
} fixture;

static evs_options always_options(void)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_ALWAYS;
    o.segment_size = 64u << 10;
    return o;
}

/* Append EVENTS events in batches of 10, in streams s-0..s-6. */
static void fill(evs_store *s)
{
    for (int i = 0; i < EVENTS; i += 10) {
        evs_event_in in[10];
        char data[10][64];
        for (int k = 0; k < 10; k++) {
            snprintf(data[k], sizeof data[k], "{\"i\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}", i + k);
            in[k] = tu_event("T", data[k]);
        }
        char stream[16];
        snprintf(stream, sizeof stream, "s-%d", (i / 10) % 7);
        assert_evs_ok(evs_append(NULL, s, stream, EVS_EXPECT_ANY, in, 10));
    }
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    tu_tmpdir(fx->dir, sizeof fx->dir, "losttail");
    snprintf(fx->work, sizeof fx->work, "%s.work", fx->dir); /* beside it, in its folder */
    evs_options o = always_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->dir, &o));
    fill(s);
    assert_evs_ok(evs_close(s));
    fx->nseg = fu_list_segs(fx->dir, fx->segs, 64);
    assert_true(fx->nseg >= 4);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tu_cleanup(fx->dir); /* the folder, with every copy beside the store */
    free(fx);
    return 0;
}

/* Every kind of open refuses, naming the first missing position and the last synced. */
static void check_refused(const char *dir, int64_t first_missing, int64_t last_synced)
{
    char want[96];
    snprintf(want, sizeof want, "positions %" PRId64 "..%" PRId64 " are missing,", first_missing,
             last_synced);
    evs_options modes[2] = {always_options(), always_options()};
    modes[1].flags = EVS_OPEN_READONLY;
    for (int m = 0; m < 2; m++) {
        fu_set_where("%s open of %s", m ? "read-only" : "writable", dir);
        evs_store *s = NULL;
        fu_check_evs(EVS_ECORRUPT, evs_open(&s, dir, &modes[m]));
        if (!strstr(evs_errmsg(), want))
            print_error("message: %s\nwant: %s\n", evs_errmsg(), want);
        fu_check(strstr(evs_errmsg(), want) != NULL);
    }
}

enum head_variant { HEAD_KEPT, HEAD_OTHER_BOOT, HEAD_DELETED };

static void prepare(fixture *fx, bool delete_last, enum head_variant hv, int64_t *first_missing)
{
    fu_copy_store(fx->dir, fx->work);
    char name[32];
    fu_seg_name(name, sizeof name, fx->segs[fx->nseg - 1]);
    if (delete_last) {
        char path[4200];
        fu_path(path, sizeof path, fx->work, name);
        assert_int_equal(unlink(path), 0);
        *first_missing = (int64_t)fx->segs[fx->nseg - 1];
    } else {
        static fu_rec recs[EVENTS];
        size_t n = fu_seg_records(fx->work, name, recs, EVENTS);
        assert_true(n > 4);
        int64_t half = fu_file_size_in(fx->work, name) / 2;
        /* The append the cut runs through goes whole: the first missing position is
         * the one after the last commit record wholly before the cut. */
        int64_t after_commit = (int64_t)fx->segs[fx->nseg - 1];
        for (size_t i = 0; i < n && recs[i].off + (int64_t)recs[i].len <= half; i++)
            if (recs[i].flags & FU_REC_COMMIT)
                after_commit = recs[i].pos + 1;
        fu_truncate(fx->work, name, half);
        *first_missing = after_commit;
    }
    if (hv == HEAD_OTHER_BOOT)
        fu_fake_reboot(fx->work);
    else if (hv == HEAD_DELETED)
        fu_remove_head(fx->work);
}

static void test_last_segment_deleted(void **state)
{
    fixture *fx = *state;
    for (int hv = HEAD_KEPT; hv <= HEAD_DELETED; hv++) {
        int64_t first;
        prepare(fx, true, (enum head_variant)hv, &first);
        check_refused(fx->work, first, EVENTS);
        tu_rmtree(fx->work);
    }
}

static void test_last_segment_cut_to_half(void **state)
{
    fixture *fx = *state;
    for (int hv = HEAD_KEPT; hv <= HEAD_DELETED; hv++) {
        int64_t first;
        prepare(fx, false, (enum head_variant)hv, &first);
        check_refused(fx->work, first, EVENTS);
        tu_rmtree(fx->work);
    }
}

/* Without the head page and the `synced` file nothing says how far the log reached: a
 * cut log is taken for a torn tail (what a crash of the machine leaves). */
static void test_nothing_known_is_a_torn_tail(void **state)
{
    fixture *fx = *state;
    int64_t first;
    prepare(fx, false, HEAD_DELETED, &first);
    fu_remove_synced(fx->work);
    evs_options o = always_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->work, &o));
    assert_int_equal(evs_head(s), first - 1);
    fu_verify_ok(s);
    assert_evs_ok(evs_close(s));
}

/* Repair declares the missing positions lost; the store opens again afterwards. */
static void test_repair_after_loss(void **state)
{
    fixture *fx = *state;
    int64_t first;
    prepare(fx, true, HEAD_KEPT, &first);
    evs_repair_report rep;
    evs_repair_opts ro = EVS_REPAIR_OPTS_INIT;
    assert_evs_ok(evs_repair(&rep, fx->work, &ro));
    assert_true(rep.damaged);
    assert_int_equal(rep.kept_last_pos, first - 1);
    assert_int_equal(rep.first_lost_pos, first);
    assert_int_equal(rep.last_lost_pos, EVENTS);
    evs_options o = always_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->work, &o));
    fu_verify_ok(s);
    assert_evs_ok(evs_close(s));
}

/* ---- positions are never reused ----------------------------------------------------- */

/* A repair that cuts positions 1..22 (damage in the first record) declares them lost:
 * the next append gets 23, reads and verify step over them, and a durable consumer that
 * had acknowledged one of them is refused, and listed by repair, until it is reset. */
static void test_positions_not_reused_after_repair(void **state)
{
    fixture *fx = *state;
    char dir[1040];
    snprintf(dir, sizeof dir, "%s.reuse", fx->dir);
    evs_options o = always_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, dir, &o));
    for (int i = 0; i < 22; i++)
        tu_append1(s, "cart-42", "Added", "{\"sku\":\"A1\"}");
    evs_consumer *c;
    evs_event ev;
    assert_evs_ok(evs_consumer_open(&c, s, "billing", NULL));
    assert_int_equal(evs_consumer_next(&ev, c, 0), 1);
    assert_evs_ok(evs_consumer_ack(c, ev.pos));
    evs_consumer_close(c);
    assert_evs_ok(evs_close(s));
    char name[32];
    fu_seg_name(name, sizeof name, 1);
    fu_damage(dir, name, FU_SEG_HDR_LEN + FU_REC_HDR_LEN + 2, 0x01);

    evs_repair_report rep;
    evs_repair_opts ro = EVS_REPAIR_OPTS_INIT;
    ro.flags = EVS_REPAIR_DRY_RUN;
    assert_evs(EVS_OK, evs_repair(&rep, dir, &ro));
    assert_int_equal(rep.consumers_affected, 1);
    assert_string_equal(rep.consumers_affected_names, "billing");
    ro.flags = 0;
    assert_evs_ok(evs_repair(&rep, dir, &ro));
    assert_int_equal(rep.kept_last_pos, 0);
    assert_int_equal(rep.last_lost_pos, 22);
    assert_int_equal(rep.consumers_affected, 1);

    assert_evs_ok(evs_open(&s, dir, &o));
    assert_int_equal(evs_head(s), 22);
    assert_int_equal(tu_append1(s, "cart-42", "Added", "{\"sku\":\"B2\"}"), 23);
    evs_verify_report vr;
    assert_evs_ok(evs_verify(&vr, s, NULL, NULL));
    assert_int_equal(vr.lost_count, 22);
    evs_stat_info st;
    assert_evs_ok(evs_stat(&st, s));
    assert_int_equal(st.event_count, 1);
    assert_int_equal(st.lost_positions, 22);
    /* Reads from inside the lost range start after it, forward and backward. */
    evs_query q = EVS_QUERY_INIT;
    q.from_pos = 5;
    evs_cursor *cur;
    assert_evs_ok(evs_cursor_open(&cur, s, &q));
    assert_int_equal(evs_cursor_next(&ev, cur), 1);
    assert_int_equal(ev.pos, 23);
    assert_int_equal(evs_cursor_next(&ev, cur), 0);
    evs_cursor_close(cur);
    q = (evs_query)EVS_QUERY_INIT;
    q.direction = EVS_BACKWARD;
    assert_evs_ok(evs_cursor_open(&cur, s, &q));
    assert_int_equal(evs_cursor_next(&ev, cur), 1);
    assert_int_equal(ev.pos, 23);
    assert_int_equal(evs_cursor_next(&ev, cur), 0);
    evs_cursor_close(cur);

    /* Finding a time steps over them too: the first event at or after any time up to
     * the new one's is 23. */
    int64_t found = 0;
    assert_evs_ok(evs_find_time(&found, s, 1));
    assert_int_equal(found, 23);
    assert_evs_ok(evs_find_time(&found, s, ev.ts_ns));
    assert_int_equal(found, 23);
    assert_evs_ok(evs_find_time(&found, s, ev.ts_ns + 1));
    assert_int_equal(found, 24);

    /* The consumer saw position 1, which is gone: refused until reset. */
    evs_consumer *c2 = NULL;
    assert_evs(EVS_ELOST, evs_consumer_open(&c2, s, "billing", NULL));
    assert_non_null(strstr(evs_errmsg(), "billing"));
    assert_evs(EVS_EINVAL, evs_consumer_reset(s, "billing", 5)); /* a lost position */
    assert_evs_ok(evs_consumer_reset(s, "billing", 0));
    assert_evs_ok(evs_consumer_open(&c2, s, "billing", NULL));
    assert_int_equal(evs_consumer_next(&ev, c2, 0), 1);
    assert_int_equal(ev.pos, 23);
    evs_consumer_close(c2);
    assert_evs_ok(evs_close(s));

    /* A second repair finds nothing to do; the store reopens whole. */
    assert_evs_ok(evs_repair(&rep, dir, &ro));
    assert_int_equal(rep.damaged, 0);
    tu_rmtree(dir);
}

/* ---- head pages that are not this log's ------------------------------------------------ */

static void append_n(const char *dir, int n, const char *stream, size_t pad)
{
    evs_options o = always_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, dir, &o));
    char data[1200];
    snprintf(data, sizeof data, "{\"p\":\"%0*d\"}", (int)pad, 0);
    for (int i = 0; i < n; i++)
        tu_append1(s, stream, "T", data);
    assert_evs_ok(evs_close(s));
}

/* A copy of the store goes on with other appends; its head page is copied back over
 * the first store's, whose log is longer and whose records lie elsewhere. Opening must
 * not cut the first store's committed records on the page's word. */
static void test_head_page_of_diverged_copy(void **state)
{
    fixture *fx = *state;
    char a[1040], b[1040];
    snprintf(a, sizeof a, "%s.a", fx->dir);
    snprintf(b, sizeof b, "%s.b", fx->dir);
    append_n(a, 20, "base", 10);
    fu_copy_store(a, b);
    append_n(b, 3, "big", 300);
    append_n(a, 17, "small", 10);
    char from[4200], to[4200];
    fu_path(from, sizeof from, b, "head");
    fu_path(to, sizeof to, a, "head");
    assert_int_equal(fu_copy_file(from, to), 0);

    evs_options o = always_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, a, &o));
    assert_int_equal(evs_head(s), 37);
    assert_int_equal(tu_append1(s, "after", "T", "{}"), 38);
    fu_verify_ok(s);
    evs_query q = EVS_QUERY_INIT;
    q.stream = "small";
    evs_cursor *c;
    evs_event ev;
    int n = 0;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    while (evs_cursor_next(&ev, c) == 1)
        n++;
    evs_cursor_close(c);
    assert_int_equal(n, 17);
    assert_evs_ok(evs_close(s));
    tu_rmtree(a);
    tu_rmtree(b);
}

/* Damage past the synced end with whole appends after it: recovery cuts there (the disk
 * lost a block among writes it never confirmed), but keeps the bytes it cuts. */
static void test_recovery_keeps_committed_bytes_it_cuts(void **state)
{
    fixture *fx = *state;
    fu_copy_store(fx->dir, fx->work);
    char name[32];
    fu_seg_name(name, sizeof name, fx->segs[fx->nseg - 1]);
    static fu_rec recs[EVENTS];
    size_t n = fu_seg_records(fx->work, name, recs, EVENTS);
    assert_true(n > 30);
    size_t b = n - 25; /* an append's first record; two whole appends follow */
    while (!(recs[b - 1].flags & FU_REC_COMMIT))
        b--;
    const fu_rec *bad = &recs[b];
    int64_t size = fu_file_size_in(fx->work, name);
    fu_remove_synced(fx->work);
    fu_set_head_synced(fx->work, (uint64_t)bad->pos - 1);
    fu_fake_reboot(fx->work);
    fu_damage(fx->work, name, bad->off + FU_REC_HDR_LEN + 4, 0x01);

    evs_options o = always_options();
    evs_store *s;
    assert_evs_ok(evs_open(&s, fx->work, &o));
    int64_t head = evs_head(s);
    assert_true(head < bad->pos);
    assert_evs_ok(evs_close(s));

    /* The folder holds the bytes from the cut on, unchanged. */
    DIR *d = opendir(fx->work);
    assert_non_null(d);
    struct dirent *e;
    char saved[2100] = "";
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "repair-", 7) == 0)
            snprintf(saved, sizeof saved, "%s/%s", fx->work, e->d_name);
    closedir(d);
    assert_true(saved[0] != '\0');
    int64_t cut = fu_file_size_in(fx->work, name);
    char tail[128];
    snprintf(tail, sizeof tail, "%s.from-%" PRId64, name, cut);
    assert_int_equal(fu_file_size_in(saved, tail), size - cut);
    assert_true(fu_file_size_in(saved, "REPAIR.txt") > 0);
}

/* A writer killed after its log rolled over several segments, never closed, and its head
 * page lost too: what the sealed segments held was synced when each was sealed, and the
 * `synced` file says so. Losing the last two segments must be refused, not taken for a
 * log that ended there. */
static void test_sealed_segments_known_after_crash(void **state)
{
    fixture *fx = *state;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s.crashed", fx->dir);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        evs_options o = always_options();
        evs_store *s;
        if (evs_open(&s, dir, &o) < 0)
            _exit(3);
        fill(s);
        raise(SIGKILL); /* no close: nothing more is written */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    uint64_t segs[64];
    size_t n = fu_list_segs(dir, segs, 64);
    assert_true(n >= 4);
    for (size_t i = n - 2; i < n; i++) {
        char name[32], path[4200];
        fu_seg_name(name, sizeof name, segs[i]);
        fu_path(path, sizeof path, dir, name);
        assert_int_equal(unlink(path), 0);
    }
    fu_remove_head(dir);
    check_refused(dir, (int64_t)segs[n - 2], (int64_t)segs[n - 1] - 1);
}

int main(void)
{
    evs__sys.fdatasync = fu_no_sync; /* crashes are simulated by cutting files */
    evs__sys.fsync = fu_no_sync;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_segment_deleted),
        cmocka_unit_test(test_last_segment_cut_to_half),
        cmocka_unit_test(test_nothing_known_is_a_torn_tail),
        cmocka_unit_test(test_repair_after_loss),
        cmocka_unit_test(test_positions_not_reused_after_repair),
        cmocka_unit_test(test_head_page_of_diverged_copy),
        cmocka_unit_test(test_recovery_keeps_committed_bytes_it_cuts),
        cmocka_unit_test(test_sealed_segments_known_after_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
