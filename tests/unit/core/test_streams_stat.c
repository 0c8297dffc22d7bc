/*
 * test_streams_stat.c - what the store says about its streams and itself.
 *
 * Covers: evs_stream_get (a missing stream: exists 0, last_version -1; existing ones:
 * counts and positions); evs_streams_open with and without a prefix lists each stream
 * exactly once with the right info, also after reopening when the stream index is
 * partly an on-disk snapshot (checkpoint_bytes 64 KiB, over 8 MiB of log) and partly
 * the log's tail, and as a snapshot taken at open; evs_stat figures (events, streams,
 * segments and their bytes against the files, first/last position and ts, this
 * handle's sync mode, the store's segment size); evs_head.
 */
#include "testutil.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <time.h>

/* ---- stream info, listings ------------------------------------------------------------ */

typedef struct sinfo {
    char name[32];
    int64_t first_pos;
    int64_t last_pos;
    int64_t last_version;
    int seen;
} sinfo;

#define LIST_STREAMS 1200

static void note_append(sinfo *st, const evs_append_result *r)
{
    if (st->last_version < 0)
        st->first_pos = r->first_pos;
    st->last_pos = r->last_pos;
    st->last_version = r->version;
}

static void check_stream_info(evs_store *s, const sinfo *st)
{
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, s, st->name));
    assert_int_equal(info.exists, 1);
    assert_int_equal(info.last_version, st->last_version);
    assert_int_equal(info.event_count, st->last_version + 1);
    assert_int_equal(info.first_pos, st->first_pos);
    assert_int_equal(info.last_pos, st->last_pos);
}

/* List with `prefix`; every listed stream must be in sts with the right info, seen
 * once; every stream of sts with the prefix must be listed. */
static void check_listing(evs_store *s, sinfo *sts, size_t count, const char *prefix)
{
    for (size_t i = 0; i < count; i++)
        sts[i].seen = 0;
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, s, prefix));
    const char *name;
    size_t name_len;
    evs_stream_info info;
    int rc;
    size_t listed = 0;
    while ((rc = evs_streams_next(&name, &name_len, &info, it)) > 0) {
        assert_int_equal(strlen(name), name_len);
        size_t i;
        for (i = 0; i < count; i++)
            if (strcmp(sts[i].name, name) == 0)
                break;
        if (i == count)
            fail_msg("listed stream '%s' was never appended to", name);
        if (sts[i].seen++)
            fail_msg("stream '%s' listed twice", name);
        if (prefix)
            assert_int_equal(strncmp(name, prefix, strlen(prefix)), 0);
        assert_int_equal(info.exists, 1);
        assert_int_equal(info.last_version, sts[i].last_version);
        assert_int_equal(info.event_count, sts[i].last_version + 1);
        assert_int_equal(info.first_pos, sts[i].first_pos);
        assert_int_equal(info.last_pos, sts[i].last_pos);
        listed++;
    }
    assert_evs(0, rc);
    evs_streams_close(it);
    size_t want = 0;
    for (size_t i = 0; i < count; i++) {
        bool match = !prefix || strncmp(sts[i].name, prefix, strlen(prefix)) == 0;
        if (match && sts[i].last_version >= 0) {
            want++;
            if (!sts[i].seen)
                fail_msg("stream '%s' not listed", sts[i].name);
        }
    }
    assert_int_equal(listed, want);
}

/* Position covered by the stream index (0 when it has no run): the furthest end of
 * its runs, which are named "<from>-<to>.run" (20 digits each). */
static int64_t snap_covered(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stream-index", dir);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int64_t covered = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == 45 && strcmp(e->d_name + 41, ".run") == 0) {
            int64_t to = strtoll(e->d_name + 21, NULL, 10);
            covered = to > covered ? to : covered;
        }
    closedir(d);
    return covered;
}

static void append_to(evs_store *s, sinfo *st, const char *data)
{
    evs_event_in e = tu_event("Ev", data);
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, st->name, st->last_version, &e, 1));
    note_append(st, &r);
}

static void test_stream_info_and_listing(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    const char *dir = f->dir;
    evs_options o = tu_fast_options();
    o.checkpoint_bytes = 64u << 10;
    o.segment_size = 4u << 20;
    evs_store *s = tu_fx_open(f, &o);

    /* Missing streams. */
    evs_stream_info info;
    memset(&info, 0x55, sizeof info);
    assert_evs_ok(evs_stream_get(&info, s, "nope-1"));
    assert_int_equal(info.exists, 0);
    assert_int_equal(info.last_version, -1);
    assert_int_equal(info.event_count, 0);
    assert_int_equal(info.first_pos, 0);
    assert_int_equal(info.last_pos, 0);
    evs_stream_iter *it;
    assert_evs_ok(evs_streams_open(&it, s, NULL));
    const char *name;
    size_t name_len;
    assert_int_equal(evs_streams_next(&name, &name_len, &info, it), 0);
    evs_streams_close(it);

    static sinfo sts[LIST_STREAMS + 200];
    size_t count = LIST_STREAMS;
    for (size_t i = 0; i < LIST_STREAMS; i++) {
        snprintf(sts[i].name, sizeof sts[i].name, "%s-%zu", i % 3 ? "acct" : "cart", i);
        sts[i].last_version = -1;
    }
    /* Over 8 MiB of log: ~1 KiB events, snapshots every so often (checkpoint 64 KiB). */
    static char data[1024];
    memset(data, 'd', sizeof data);
    data[0] = '"';
    data[sizeof data - 2] = '"';
    data[sizeof data - 1] = '\0';
    size_t bytes = 0;
    for (size_t i = 0; bytes < (8u << 20) + (512u << 10); i++) {
        append_to(s, &sts[i < LIST_STREAMS ? i : tu_rnd_below(LIST_STREAMS)], data);
        bytes += sizeof data + 100;
    }
    /* The stream index is the file backend's: elsewhere the listing is checked without
     * one. */
    bool files = tu_backend_is("file");
    int64_t covered = files ? snap_covered(dir) : 1;
    assert_true(covered > 0); /* the stream index has runs */

    /* Then a short tail of existing streams and new ones. Should a snapshot be written
     * meanwhile (covering it), another round follows, so that the last round is all
     * past the snapshot: some streams then live in the snapshot only, some in the tail
     * only, some in both. */
    int64_t round_start;
    int round = 0;
    do {
        round_start = evs_head(s) + 1;
        for (size_t i = 0; i < 20; i++)
            append_to(s, &sts[tu_rnd_below(LIST_STREAMS)], "{\"tail\":1}");
        for (size_t i = 0; i < 20; i++) {
            sinfo *st = &sts[count++];
            snprintf(st->name, sizeof st->name, "tail%d-%zu", round, i);
            st->last_version = -1;
            append_to(s, st, "{\"new\":1}");
        }
        round++;
    } while (files && snap_covered(dir) >= round_start && round < 5);
    assert_true(!files || snap_covered(dir) < round_start);

    for (size_t i = 0; i < count; i++)
        check_stream_info(s, &sts[i]);
    check_listing(s, sts, count, NULL);
    check_listing(s, sts, count, "");
    check_listing(s, sts, count, "cart-");
    check_listing(s, sts, count, "acct-11");
    check_listing(s, sts, count, "tail");
    check_listing(s, sts, count, "zzz");

    /* Reopen: closing indexed the tail too; the index is the base; each stream once. */
    tu_fx_close(f);
    assert_true(!files || snap_covered(dir) >= round_start);
    s = tu_fx_open(f, &o);
    check_listing(s, sts, count, NULL);
    check_listing(s, sts, count, "cart-");
    check_listing(s, sts, count, "tail");
    for (size_t i = 0; i < count; i++)
        check_stream_info(s, &sts[i]);
    /* The listing is a snapshot taken at open. */
    assert_evs_ok(evs_streams_open(&it, s, "late-"));
    tu_append1(s, "late-1", "Ev", "1");
    assert_int_equal(evs_streams_next(&name, &name_len, &info, it), 0);
    evs_streams_close(it);
    assert_evs_ok(evs_streams_open(&it, s, "late-"));
    assert_int_equal(evs_streams_next(&name, &name_len, &info, it), 1);
    assert_string_equal(name, "late-1");
    assert_int_equal(info.last_pos, evs_head(s));
    assert_int_equal(evs_streams_next(&name, &name_len, &info, it), 0);
    evs_streams_close(it);

    evs_stat_info si;
    assert_evs_ok(evs_stat(&si, s));
    assert_int_equal(si.stream_count, (int64_t)count + 1);
    tu_fx_close(f);
}

/* ---- stat, head ---------------------------------------------------------------------- */

/* Count the *.seg files in dir and add up their sizes. */
static void seg_files(const char *dir, int64_t *count, int64_t *bytes)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    *count = *bytes = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".seg") != 0)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        (*count)++;
        *bytes += st.st_size;
    }
    closedir(d);
}

static void test_stat_and_head(void **state)
{
    tu_fixture *f = *state;
    const char *dir = f->dir;
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *s = tu_fx_open(f, &o);
    evs_stat_info si;
    memset(&si, 0x55, sizeof si);
    assert_evs_ok(evs_stat(&si, s));
    assert_int_equal(si.event_count, 0);
    assert_int_equal(si.stream_count, 0);
    assert_int_equal(si.first_pos, 0);
    assert_int_equal(si.last_pos, 0);
    assert_int_equal(si.first_ts_ns, 0);
    assert_int_equal(si.last_ts_ns, 0);
    assert_int_equal(si.sync_mode, EVS_SYNC_NONE);
    /* Segments are the file backend's; the others report none. */
    bool files = tu_backend_is("file");
    assert_int_equal(si.segment_size, files ? 64u << 10 : 0);
    assert_int_equal(evs_head(s), 0);

    char data[600];
    memset(data, 'z', sizeof data);
    data[0] = '"';
    data[sizeof data - 2] = '"';
    data[sizeof data - 1] = '\0';
    for (int i = 0; i < 500; i++) {
        char stream[16];
        snprintf(stream, sizeof stream, "st-%d", i % 37);
        assert_int_equal(tu_append1(s, stream, "Ev", data), i + 1);
        assert_int_equal(evs_head(s), i + 1);
    }
    assert_evs_ok(evs_stat(&si, s));
    assert_int_equal(si.event_count, 500);
    assert_int_equal(si.stream_count, 37);
    assert_int_equal(si.first_pos, 1);
    assert_int_equal(si.last_pos, 500);
    if (files) {
        int64_t nseg, nbytes;
        seg_files(dir, &nseg, &nbytes);
        assert_true(nseg >= 4);
        assert_int_equal(si.segment_count, nseg);
        assert_int_equal(si.log_bytes, nbytes);
    } else {
        assert_int_equal(si.segment_count, 0);
        assert_true(si.log_bytes >= 500 * 600);
    }
    evs_query q = EVS_QUERY_INIT;
    q.limit = 1;
    evs_cursor *c;
    evs_event ev;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(si.first_ts_ns, ev.ts_ns);
    evs_cursor_close(c);
    q.direction = EVS_BACKWARD;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.pos, 500);
    assert_int_equal(si.last_ts_ns, ev.ts_ns);
    evs_cursor_close(c);

    /* The same after reopening, with the options of this open. */
    tu_fx_close(f);
    o.sync_mode = EVS_SYNC_BATCH;
    s = tu_fx_open(f, &o);
    evs_stat_info again;
    assert_evs_ok(evs_stat(&again, s));
    assert_int_equal(again.event_count, 500);
    assert_int_equal(again.stream_count, 37);
    assert_int_equal(again.segment_count, si.segment_count);
    assert_int_equal(again.log_bytes, si.log_bytes);
    assert_int_equal(again.first_ts_ns, si.first_ts_ns);
    assert_int_equal(again.last_ts_ns, si.last_ts_ns);
    assert_int_equal(again.sync_mode, EVS_SYNC_BATCH);
    assert_int_equal(again.segment_size, files ? 64u << 10 : 0);
    assert_int_equal(evs_head(s), 500);
    /* A store keeps the segment size it was created with: 0 means that one. */
    tu_fx_close(f);
    o = tu_fast_options();
    o.segment_size = 0;
    s = tu_fx_open(f, &o);
    assert_evs_ok(evs_stat(&again, s));
    assert_int_equal(again.segment_size, files ? 64u << 10 : 0);
    assert_int_equal(again.sync_mode, EVS_SYNC_NONE);
    assert_int_equal(again.log_bytes, si.log_bytes);
    tu_fx_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_info_and_listing, tu_setup, tu_teardown),
        cmocka_unit_test_setup_teardown(test_stat_and_head, tu_setup, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
