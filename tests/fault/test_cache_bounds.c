/*
 * test_cache_bounds.c - nothing is read past the end of a file through a mapping.
 *
 * The .idx of a segment is mapped with room for a whole segment's entries, so that the
 * active segment's growing index is rarely remapped; reading an entry the file does not
 * hold faults (SIGBUS) instead of failing. These stores lack bytes their caches or
 * their head page promise: the last segment is gone (deleted, or moved aside by a
 * repair that was killed before it rebuilt the index), or a sealed segment's .idx is
 * cut short. Opening, verifying and reading them must end with an error or the right
 * events, never with a signal; an .idx entry that points at the wrong bytes is not
 * believed. The same for stream index runs whose checksums are right but whose counts
 * or entries point outside them or the log: they are not used.
 */
#define _GNU_SOURCE
#include "faultutil.h"

#include <dirent.h>

#include "format.h"
#include "util.h"

#define BIG_EVENTS 12000

/* BIG_EVENTS events over 1 MiB segments (three of them), each payload naming its
 * position, then closed; firsts gets the segments' first positions (returns how many). */
static size_t fill_big(tu_fixture *f, uint64_t firsts[8])
{
    evs_options o = tu_fast_options();
    o.segment_size = 1u << 20;
    evs_store *s = tu_fx_open(f, &o);
    char json[160], stream[32];
    for (int i = 1; i <= BIG_EVENTS; i++) {
        snprintf(stream, sizeof stream, "s-%d", i % 7);
        snprintf(json, sizeof json, "{\"i\":%d,\"pad\":\"%0100d\"}", i, 0);
        assert_int_equal(tu_append1(s, stream, "T", json), i);
    }
    tu_fx_close(f);
    size_t n = fu_list_segs(f->dir, firsts, 8);
    assert_true(n >= 3);
    return n;
}

static evs_store *open_big(tu_fixture *f, bool readonly)
{
    evs_options o = tu_fast_options();
    o.segment_size = 1u << 20;
    if (readonly)
        o.flags |= EVS_OPEN_READONLY;
    return tu_fx_open(f, &o);
}

/* Read every event from `from` on; returns the last code of evs_cursor_next (or the error, 0 at the
 * end), and checks that each event is the next position with its own
 * payload. */
static int read_from(evs_store *s, int64_t from, int64_t *last_pos)
{
    evs_query q = EVS_QUERY_INIT;
    q.from_pos = from;
    evs_cursor *c;
    int rc = evs_cursor_open(&c, s, &q);
    if (rc < 0)
        return rc;
    evs_event e;
    char buf[200], want[32];
    int64_t expect = from;
    while ((rc = evs_cursor_next(&e, c)) > 0) {
        assert_int_equal(e.pos, expect);
        snprintf(want, sizeof want, "{\"i\":%" PRId64 ",", expect);
        assert_non_null(strstr(tu_data_str(&e, buf, sizeof buf), want));
        expect++;
    }
    *last_pos = expect - 1;
    evs_cursor_close(c);
    return rc;
}

/* Every reader over a store whose log ends before what its caches and head say: each
 * returns an error (naming what is wrong) or stops where the log does. */
static void read_everything_safely(tu_fixture *f, int64_t log_end)
{
    evs_store *s;
    evs_options o = tu_fast_options();
    o.segment_size = 1u << 20;
    o.flags |= EVS_OPEN_READONLY | EVS_OPEN_NOCREATE;
    int rc = evs_open(&s, f->dir, &o);
    if (rc < 0) {
        /* Refusing to open a store that lost synced events is right too. */
        assert_int_equal(rc, EVS_ECORRUPT);
        return;
    }
    fu_problems ps;
    memset(&ps, 0, sizeof ps);
    evs_verify_report rep;
    rc = evs_verify(&rep, s, fu_collect, &ps);
    assert_true(rc < 0 || ps.count > 0);

    int64_t last = 0;
    rc = read_from(s, 1, &last);
    assert_true(rc <= 0);
    assert_true(last <= log_end);
    /* Positions the missing segment held, found by the index. */
    for (int64_t from = log_end - 2; from <= BIG_EVENTS; from += 997) {
        rc = read_from(s, from, &last);
        assert_true(rc <= 0);
        if (from > log_end)
            assert_true(rc < 0 || last < from);
    }
    for (int i = 0; i < 7; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "s-%d", i);
        evs_query q = EVS_QUERY_INIT;
        q.stream = stream;
        int64_t n = 0;
        evs_cursor *c;
        if (evs_cursor_open(&c, s, &q) == 0) {
            evs_event e;
            while ((rc = evs_cursor_next(&e, c)) > 0)
                n++;
            assert_true(rc <= 0);
            assert_true(n <= BIG_EVENTS / 7 + 1);
            evs_cursor_close(c);
        }
        evs_stream_info info;
        rc = evs_stream_get(&info, s, stream);
        assert_true(rc <= 0);
    }
    evs_close(s);
}

/* The last segment of three is deleted: its positions are gone, the head page and
 * index.snap still cover them. */
static void test_last_segment_deleted(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[8];
    size_t n = fill_big(f, firsts);
    char name[32];
    fu_seg_name(name, sizeof name, firsts[n - 1]);
    char path[4200];
    fu_path(path, sizeof path, f->dir, name);
    assert_int_equal(unlink(path), 0);
    read_everything_safely(f, (int64_t)firsts[n - 1] - 1);
}

/* As a repair killed after moving the segments past its cut aside and before it
 * rebuilt the index leaves it: the later segments and their caches are gone, the
 * index snapshot and the head page are not. */
static void test_repair_killed_before_index(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[8];
    size_t n = fill_big(f, firsts);
    const char *exts[] = {"seg", "idx", "sdx"};
    for (size_t i = 1; i < n; i++)
        for (int k = 0; k < 3; k++) {
            char name[64], path[4200];
            snprintf(name, sizeof name, "%020" PRIu64 ".%s", firsts[i], exts[k]);
            fu_path(path, sizeof path, f->dir, name);
            (void)unlink(path);
        }
    read_everything_safely(f, (int64_t)firsts[1] - 1);
}

/* A sealed segment's .idx lost its second half: a read by position in the first half
 * maps it; a read in the second half must not read past its end, and finds the event
 * all the same (the index is rebuilt, or the segment scanned). */
static void test_idx_cut_short(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[8];
    fill_big(f, firsts);
    char name[64];
    snprintf(name, sizeof name, "%020" PRIu64 ".idx", firsts[0]);
    int64_t entries = (int64_t)(firsts[1] - firsts[0]);
    fu_truncate(f->dir, name, entries / 2 * 4);
    for (int ro = 0; ro <= 1; ro++) {
        evs_store *s = open_big(f, ro);
        int64_t last;
        assert_evs_ok(read_from(s, 10, &last));
        assert_int_equal(last, BIG_EVENTS);
        assert_evs_ok(read_from(s, entries - 3, &last));
        assert_int_equal(last, BIG_EVENTS);
        tu_fx_close(f);
        fu_truncate(f->dir, name, entries / 2 * 4); /* the writable handle rebuilt it */
    }
}

/* The .idx entry of position 1 says byte 136, inside the first record, where the eight
 * bytes at REC_OFF_POS (that record's flags, reserved field and link) read as 1: an
 * entry that passes a look at the position field alone. Reads by position must not
 * trust it: forward from 1 and the whole log backward give every event. */
static void test_idx_entry_lies_plausibly(void **state)
{
    tu_fixture *f = *state;
    uint64_t firsts[8];
    fill_big(f, firsts);
    char name[64];
    snprintf(name, sizeof name, "%020" PRIu64 ".idx", firsts[0]);
    unsigned char entry[4] = {136, 0, 0, 0};
    fu_write_at(f->dir, name, 0, entry, sizeof entry);
    for (int ro = 1; ro >= 0; ro--) {
        evs_store *s = open_big(f, ro);
        int64_t last;
        assert_evs_ok(read_from(s, 1, &last));
        assert_int_equal(last, BIG_EVENTS);
        evs_query q = EVS_QUERY_INIT;
        q.direction = EVS_BACKWARD;
        evs_cursor *c;
        evs_event e;
        assert_evs_ok(evs_cursor_open(&c, s, &q));
        int64_t want = BIG_EVENTS;
        int rc;
        while ((rc = evs_cursor_next(&e, c)) > 0)
            assert_int_equal(e.pos, want--);
        assert_evs_ok(rc);
        assert_int_equal(want, 0);
        evs_cursor_close(c);
        fu_verify_ok(s);
        tu_fx_close(f);
    }
}

/* Every run of the stream index rewritten by `change` (then its checksums fixed, so
 * that only the checks behind them can refuse it). */
static void change_runs(tu_fixture *f, void (*change)(unsigned char *run, size_t len))
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/" SIDX_DIR, f->dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int runs = 0;
    while ((e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 45)
            continue;
        char name[64];
        snprintf(name, sizeof name, SIDX_DIR "/%.45s", e->d_name);
        int64_t len = fu_file_size_in(f->dir, name);
        assert_true(len >= 2 * SIDX_PAGE_LEN);
        unsigned char *run = malloc((size_t)len);
        assert_non_null(run);
        fu_read_at(f->dir, name, 0, run, (size_t)len);
        change(run, (size_t)len);
        evs__put_u32(run + SIDX_OFF_CRC, evs__crc32c(0, run, SIDX_OFF_CRC));
        for (int64_t pg = SIDX_PAGE_LEN; pg < len; pg += SIDX_PAGE_LEN)
            evs__put_u32(run + pg + SIDX_PG_CRC, evs__crc32c(0, run + pg, SIDX_PG_CRC));
        fu_write_at(f->dir, name, 0, run, (size_t)len);
        free(run);
        runs++;
    }
    closedir(d);
    assert_true(runs > 0);
}

/* The index changed by `change`: every stream, listed and looked up, is what the log
 * says, and verify finds the store whole. */
static void index_lie(tu_fixture *f, void (*change)(unsigned char *run, size_t len))
{
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    o.checkpoint_bytes = 64u << 10;
    evs_store *s = tu_fx_open(f, &o);
    char json[160], stream[32];
    for (int i = 1; i <= 1000; i++) {
        snprintf(stream, sizeof stream, "s-%d", i % 7);
        snprintf(json, sizeof json, "{\"i\":%d,\"pad\":\"%0100d\"}", i, 0);
        assert_int_equal(tu_append1(s, stream, "T", json), i);
    }
    tu_fx_close(f);
    change_runs(f, change);

    for (int ro = 1; ro >= 0; ro--) {
        o.flags = ro ? EVS_OPEN_READONLY : 0;
        s = tu_fx_open(f, &o);
        evs_stream_iter *it;
        assert_evs_ok(evs_streams_open(&it, s, NULL));
        const char *name;
        size_t name_len;
        evs_stream_info info;
        int listed = 0, rc;
        while ((rc = evs_streams_next(&name, &name_len, &info, it)) > 0) {
            assert_true(name_len == 3 && name[0] == 's' && name[1] == '-');
            int k = name[2] - '0';
            assert_true(k >= 0 && k < 7);
            assert_int_equal(info.last_pos % 7, k);
            listed++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(listed, 7);
        evs_streams_close(it);
        for (int k = 0; k < 7; k++) {
            snprintf(stream, sizeof stream, "s-%d", k);
            assert_evs_ok(evs_stream_get(&info, s, stream));
            assert_int_equal(info.last_pos, 1000 - (1000 - k) % 7);
        }
        fu_verify_ok(s);
        tu_fx_close(f);
    }
}

/* Each entry's last event at an offset far past the end of any segment. */
static void offset_far_past_the_end(unsigned char *run, size_t len)
{
    for (size_t i = 0; i < evs__get_u32(run + SIDX_OFF_ENTRIES) && i < SIDX_PAGE_ENTRIES &&
                       SIDX_PAGE_LEN + (i + 1) * SIDX_ENTRY_LEN <= len;
         i++)
        evs__put_u32(run + SIDX_PAGE_LEN + i * SIDX_ENTRY_LEN + 32, 0xfffffff0u);
}

/* 2^32 - 1 entries: the pages the header implies are not in the file. */
static void entry_count_too_big(unsigned char *run, size_t len)
{
    (void)len;
    evs__put_u32(run + SIDX_OFF_ENTRIES, UINT32_MAX);
}

/* A page that says it holds more entries than a page can. */
static void page_count_too_big(unsigned char *run, size_t len)
{
    (void)len;
    evs__put_u32(run + SIDX_PAGE_LEN + SIDX_PG_COUNT, 100000);
}

static void test_index_offset_far_past_the_end(void **state)
{
    index_lie(*state, offset_far_past_the_end);
}

static void test_index_entry_count_too_big(void **state)
{
    index_lie(*state, entry_count_too_big);
}

static void test_index_page_count_too_big(void **state)
{
    index_lie(*state, page_count_too_big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_last_segment_deleted, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_repair_killed_before_index, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_idx_cut_short, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_idx_entry_lies_plausibly, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_index_offset_far_past_the_end, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_index_entry_count_too_big, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_index_page_count_too_big, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
