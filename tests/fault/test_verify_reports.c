/*
 * test_verify_reports.c - what evs_verify says, beyond "whole" or "damaged": a segment
 * the process may not open is an error of the environment (the reason, not a list of
 * corrupt records); padding that is not zero is damage; and one damaged record is
 * reported once, not followed by a line for every stream whose events lie past it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "faultutil.h"
#include "sysio.h"

#define STREAMS 1000

static evs__sysio real_sys;
static char denied_name[64]; /* a segment file whose open fails with EACCES */

static int w_open(const char *path, int flags, mode_t mode)
{
    const char *base = strrchr(path, '/');
    if (denied_name[0] != '\0' && strcmp(base ? base + 1 : path, denied_name) == 0) {
        errno = EACCES;
        return -1;
    }
    return real_sys.open(path, flags, mode);
}

/* Several 64 KiB segments of events spread over STREAMS streams, closed, with a
 * stream index snapshot that covers them all. */
static void fill_store(tu_fixture *f)
{
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    o.checkpoint_bytes = 16u << 10;
    evs_store *s = tu_fx_open(f, &o);
    char stream[32];
    for (int i = 0; i < 3 * STREAMS; i++) {
        snprintf(stream, sizeof stream, "order-%d", i % STREAMS);
        /* Odd-length data, so most records end in padding. */
        assert_true(tu_append1(s, stream, "ItemAdded", i % 2 ? "{\"n\":1}" : "{\"n\":12}") > 0);
    }
    tu_fx_close(f);
}

/* The name of the store's first segment file, after checking it has at least `segs`. */
static void first_segment(const tu_fixture *f, size_t segs, char *name, size_t len)
{
    uint64_t firsts[64];
    assert_true(fu_list_segs(f->dir, firsts, 64) >= segs);
    fu_seg_name(name, len, firsts[0]);
}

static void test_unreadable_segment_is_not_damage(void **state)
{
    tu_fixture *f = *state;
    fill_store(f);
    uint64_t firsts[64];
    size_t n = fu_list_segs(f->dir, firsts, 64);
    assert_true(n >= 3);
    fu_seg_name(denied_name, sizeof denied_name, firsts[1]);

    real_sys = evs__sys;
    evs__sys.open = w_open;
    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_READONLY;
    evs_store *s = NULL;
    assert_evs_ok(evs_open(&s, f->dir, &o));
    for (int quick = 0; quick < 2; quick++) {
        fu_problems ps;
        memset(&ps, 0, sizeof ps);
        evs_verify_report rep;
        memset(&rep, 0, sizeof rep);
        int rc = quick ? evs_verify_quick(&rep, s, fu_collect, &ps)
                       : evs_verify(&rep, s, fu_collect, &ps);
        if (rc != EVS_EIO || ps.count != 0) {
            fu_print_problems(&ps);
            fail_msg("verify%s of a store with an unreadable segment: %s (%s), %d problems",
                     quick ? " --quick" : "", evs_errname(rc), evs_errmsg(), ps.count);
        }
        assert_errmsg_has("Permission denied");
        assert_errmsg_has(denied_name);
    }
    evs_close(s);
}

/* The syscall table is put back also when an assertion ends the test early. */
static int teardown_sys(void **state)
{
    if (denied_name[0] != '\0')
        evs__sys = real_sys;
    denied_name[0] = '\0';
    return tu_teardown(state);
}

static void test_nonzero_padding(void **state)
{
    tu_fixture *f = *state;
    fill_store(f);
    char name[64];
    first_segment(f, 2, name, sizeof name);
    fu_rec recs[64];
    size_t n = fu_seg_records(f->dir, name, recs, 64);
    const fu_rec *r = NULL;
    for (size_t i = 0; i < n && r == NULL; i++) {
        if (recs[i].len % 8 != 0)
            r = &recs[i];
    }
    assert_non_null(r);
    const unsigned char junk = 0x5a;
    fu_write_at(f->dir, name, r->off + r->len, &junk, 1);

    evs_store *s = tu_fx_open(f, NULL);
    fu_problems ps;
    memset(&ps, 0, sizeof ps);
    evs_verify_report rep;
    assert_evs(EVS_ECORRUPT, evs_verify(&rep, s, fu_collect, &ps));
    assert_int_equal(ps.count, 1);
    assert_string_equal(ps.file[0], name);
    assert_int_equal(ps.off[0], r->off + r->len);
    assert_int_equal(ps.pos[0], r->pos);
    assert_non_null(strstr(ps.what[0], "padding"));
}

static void test_damage_is_reported_once(void **state)
{
    tu_fixture *f = *state;
    fill_store(f);
    char name[64];
    first_segment(f, 3, name, sizeof name);
    fu_rec recs[8];
    assert_true(fu_seg_records(f->dir, name, recs, 8) == 8);
    fu_damage(f->dir, name, recs[4].data_off, 0x01); /* early: most streams lie past it */

    evs_options o = tu_fast_options();
    o.flags = EVS_OPEN_READONLY;
    evs_store *s = NULL;
    assert_evs_ok(evs_open(&s, f->dir, &o));
    fu_problems ps;
    memset(&ps, 0, sizeof ps);
    evs_verify_report rep;
    assert_evs(EVS_ECORRUPT, evs_verify(&rep, s, fu_collect, &ps));
    if (ps.count > 3) {
        fu_print_problems(&ps);
        fail_msg("one damaged record gave %d problems", ps.count);
    }
    assert_string_equal(ps.file[0], name);
    assert_int_equal(ps.off[0], recs[4].off);
    evs_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unreadable_segment_is_not_damage, tu_setup,
                                        teardown_sys),
        cmocka_unit_test_setup_teardown(test_nonzero_padding, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_damage_is_reported_once, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
