/*
 * test_scan_paths.c - a forward scan reads the log through the segment's mapping after
 * filling its page tables (MADV_POPULATE_READ), and through a buffer with pread when
 * that cannot be done. Both ways must hand out the same events, and a segment cut
 * short must be reported, not read past its end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

#include "sysio.h"

#define EVENTS 3000

static evs__sysio real_sys;
static int madvise_err; /* 0: pass through; else fail populating with this errno */
static long populate_calls;

static int w_madvise(void *addr, size_t len, int advice)
{
    if (advice == MADV_POPULATE_READ) {
        populate_calls++;
        if (madvise_err) {
            errno = madvise_err;
            return -1;
        }
    }
    return real_sys.madvise(addr, len, advice);
}

static void shim_install(int err)
{
    real_sys = evs__sys;
    evs__sys.madvise = w_madvise;
    madvise_err = err;
    populate_calls = 0;
}

static void shim_remove(void)
{
    evs__sys = real_sys;
}

/* EVENTS events over 64 KiB segments (several of them), each payload naming its
 * number, so a replay can check it got every one in order. */
static void fill(evs_store *s)
{
    char json[300], stream[32];
    for (int i = 0; i < EVENTS; i++) {
        snprintf(stream, sizeof stream, "order-%d", i % 37);
        snprintf(json, sizeof json, "{\"n\":%d,\"pad\":\"%0*d\"}", i, 80 + i % 120, 0);
        assert_true(tu_append1(s, stream, "ItemAdded", json) > 0);
    }
}

/* Replay everything; every event must be the next one, with its own payload. */
static void replay_all(evs_store *s)
{
    evs_cursor *c;
    evs_event e;
    char buf[400], want[32];
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    int n = 0, rc;
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        assert_int_equal(e.pos, n + 1);
        snprintf(want, sizeof want, "{\"n\":%d,", n);
        assert_non_null(strstr(tu_data_str(&e, buf, sizeof buf), want));
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, EVENTS);
    evs_cursor_close(c);
}

static evs_store *open_filled(tu_fixture *f)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    fill(tu_fx_open(f, &o));
    /* Reopened: closing waits for the thread that makes the sealed segments' stream
     * directories, which populates mappings too and would count in populate_calls. */
    return tu_fx_reopen(f);
}

static void test_mapped_scan(void **state)
{
    evs_store *s = open_filled(*state);
    shim_install(0);
    replay_all(s);
    replay_all(s); /* page tables filled already */
    shim_remove();
    assert_true(populate_calls > 0); /* it did read through the mapping */
}

/* Populating fails (an I/O error, say): the scan reads those bytes with pread. */
static void test_buffered_scan_when_populate_fails(void **state)
{
    evs_store *s = open_filled(*state);
    shim_install(EIO);
    replay_all(s);
    shim_remove();
    assert_true(populate_calls > 0);
}

/* A sealed segment that lost its last 100 bytes: the scan stops at the cut record with
 * an error naming the segment, whichever way it reads. */
static void test_segment_cut_short(void **state)
{
    tu_fixture *f = *state;
    open_filled(f);
    tu_fx_close(f);
    char path[4200];
    snprintf(path, sizeof path, "%s/%020d.seg", f->dir, 1);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_int_equal(ftruncate(fd, size - 100), 0);
    close(fd);
    for (int err = 0; err <= EIO; err += EIO) {
        evs_options o = tu_fast_options();
        o.segment_size = 64u << 10;
        evs_store *s = tu_fx_open(f, &o);
        shim_install(err);
        evs_cursor *c;
        evs_event e;
        assert_evs_ok(evs_cursor_open(&c, s, NULL));
        int rc, n = 0;
        while ((rc = evs_cursor_next(&e, c)) > 0)
            n++;
        shim_remove();
        assert_int_equal(rc, EVS_ECORRUPT);
        assert_errmsg_has("00000000000000000001.seg");
        assert_true(n > 0 && n < EVENTS);
        evs_cursor_close(c);
        tu_fx_close(f);
    }
}

/* A kernel without MADV_POPULATE_READ (before Linux 5.14) says EINVAL: scans read with
 * pread from then on, in the whole process. Run last: it is not undone. */
static void test_populate_unsupported(void **state)
{
    evs_store *s = open_filled(*state);
    shim_install(EINVAL);
    replay_all(s);
    long after_first = populate_calls;
    replay_all(s);
    shim_remove();
    assert_int_equal(after_first, 1);
    assert_int_equal(populate_calls, 1); /* not asked again */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mapped_scan, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_buffered_scan_when_populate_fails, tu_setup,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_segment_cut_short, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_populate_unsupported, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
