/*
 * test_retain.c - store retention and discard (evs_retain, evs_discard): the oldest
 * sealed segments dropped, the log's start moved, positions unchanged.
 *
 * Covers, against a model of every event appended: by size and by age (events given
 * old times), a dry run changing nothing, refusals (a handle open: EVS_EBUSY; bad
 * options) changing nothing; after a drop, exactly the events from the new start are
 * read byte for byte by a log read both ways, by every stream both ways (a stream
 * whose first events went reads from its first kept version), by a subscription and
 * by a consumer whose checkpoint lies before the start; appends go on numbering the
 * versions, also of a stream none of whose events are left; find_time, stat and verify
 * know the start, also after a reopen and with the stream index rebuilt; discard by
 * every consumer and by a named set, and its refusals.
 */
#include "testutil.h"

#include <inttypes.h>

#define NS_PER_S 1000000000LL
#define MAXEV    4000
#define NSTREAMS 5

typedef struct mev {
    int stream; /* -1: not one of ours */
    int64_t version;
    char data[160];
} mev;

typedef struct model {
    mev ev[MAXEV + 1]; /* by position */
    int64_t head;
    int64_t versions[NSTREAMS];
} model;

static const char *sname(int i)
{
    static const char *const names[NSTREAMS] = {"early-1", "acct-1", "acct-2", "acct-3", "late-1"};
    return names[i];
}

static evs_store *open_store(const char *dir)
{
    evs_store *s;
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.segment_size = 64u << 10;
    assert_evs_ok(evs_open(&s, dir, &o));
    return s;
}

static void append_one(evs_store *s, model *m, int stream, int64_t ts_ns)
{
    int64_t pos = m->head + 1;
    assert_true(pos <= MAXEV);
    mev *e = &m->ev[pos];
    e->stream = stream;
    snprintf(e->data, sizeof e->data, "{\"pos\":%" PRId64 ",\"pad\":\"%064d\"}", pos, 7);
    evs_event_in in = tu_event("E", e->data);
    in.ts_ns = ts_ns;
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, sname(stream), EVS_EXPECT_ANY, &in, 1));
    assert_int_equal(r.first_pos, pos);
    e->version = r.version;
    m->versions[stream] = r.version;
    m->head = pos;
}

/* early-1 only at first, then acct-* mixed, late-1 only at the end. */
static void fill(evs_store *s, model *m, int n, int64_t ts_ns)
{
    for (int i = 0; i < n; i++) {
        int st = m->head < 300 ? 0 : 1 + (int)(m->head % 3);
        append_one(s, m, st, ts_ns);
    }
}

static void check_log(evs_store *s, const model *m, int64_t start)
{
    for (int dir = 0; dir < 2; dir++) {
        evs_query q = EVS_QUERY_INIT;
        q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
        evs_cursor *c;
        assert_evs_ok(evs_cursor_open(&c, s, &q));
        evs_event ev;
        int64_t want = dir ? m->head : start, n = 0;
        int rc;
        while ((rc = evs_cursor_next(&ev, c)) > 0) {
            assert_int_equal(ev.pos, want);
            const mev *e = &m->ev[ev.pos];
            assert_int_equal(ev.version, e->version);
            assert_int_equal(ev.data_len, strlen(e->data));
            assert_memory_equal(ev.data, e->data, ev.data_len);
            want += dir ? -1 : 1;
            n++;
        }
        assert_evs_ok(rc);
        evs_cursor_close(c);
        assert_int_equal(n, m->head - start + 1);
    }
    /* Each stream, both ways: exactly its events from the start on. */
    for (int st = 0; st < NSTREAMS; st++) {
        int64_t want = 0;
        for (int64_t p = start; p <= m->head; p++)
            want += m->ev[p].stream == st;
        for (int dir = 0; dir < 2; dir++) {
            evs_query q = EVS_QUERY_INIT;
            q.stream = sname(st);
            q.direction = dir ? EVS_BACKWARD : EVS_FORWARD;
            evs_cursor *c;
            assert_evs_ok(evs_cursor_open(&c, s, &q));
            evs_event ev;
            int64_t n = 0, prev = -1;
            int rc;
            while ((rc = evs_cursor_next(&ev, c)) > 0) {
                assert_true(ev.pos >= start);
                assert_int_equal(m->ev[ev.pos].stream, st);
                assert_int_equal(ev.version, m->ev[ev.pos].version);
                if (prev >= 0)
                    assert_int_equal(ev.version, dir ? prev - 1 : prev + 1);
                prev = ev.version;
                n++;
            }
            assert_evs_ok(rc);
            evs_cursor_close(c);
            assert_int_equal(n, want);
        }
    }
    evs_stat_info st;
    assert_evs_ok(evs_stat(&st, s));
    assert_int_equal(st.first_pos, start);
    assert_int_equal(st.event_count, m->head - start + 1);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
}

static int64_t segments_in(const char *dir)
{
    evs_store *s;
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_READONLY;
    assert_evs_ok(evs_open(&s, dir, &o));
    evs_stat_info st;
    assert_evs_ok(evs_stat(&st, s));
    evs_close(s);
    return st.segment_count;
}

static void test_by_size(void **state)
{
    (void)state;
    static model m;
    memset(&m, 0, sizeof m);
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "retain-size");
    evs_store *s = open_store(dir);
    fill(s, &m, 2500, 0);
    evs_close(s);
    int64_t segs = segments_in(dir);
    assert_true(segs >= 5);

    evs_retain_opts o = EVS_RETAIN_OPTS_INIT;
    o.max_bytes = 250 << 10;
    o.flags = EVS_RETAIN_DRY_RUN;
    evs_retain_report dry, rep;
    assert_evs_ok(evs_retain(&dry, dir, &o));
    assert_true(dry.segments_dropped > 0);
    assert_int_equal(segments_in(dir), segs); /* the dry run changed nothing */

    /* Refused while a handle is open; nothing changes. */
    s = open_store(dir);
    o.flags = 0;
    assert_evs(EVS_EBUSY, evs_retain(&rep, dir, &o));
    evs_close(s);
    assert_int_equal(segments_in(dir), segs);

    assert_evs_ok(evs_retain(&rep, dir, &o));
    assert_int_equal(rep.segments_dropped, dry.segments_dropped);
    assert_int_equal(rep.new_start, dry.new_start);
    assert_int_equal(rep.old_start, 1);
    assert_true(rep.new_start > 300); /* early-1 is gone whole */
    assert_int_equal(segments_in(dir), segs - rep.segments_dropped);

    s = open_store(dir);
    check_log(s, &m, rep.new_start);
    /* Positions before the start: a read from one starts at the start. */
    evs_query q = EVS_QUERY_INIT;
    q.from_pos = 2;
    q.limit = 1;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    assert_int_equal(evs_cursor_next(&ev, c), 1);
    assert_int_equal(ev.pos, rep.new_start);
    evs_cursor_close(c);
    int64_t t;
    assert_evs_ok(evs_find_time(&t, s, 1));
    assert_int_equal(t, rep.new_start);
    /* Appends go on numbering versions, for a stream with no event left too. */
    int64_t early_last = m.versions[0];
    append_one(s, &m, 0, 0);
    assert_int_equal(m.versions[0], early_last + 1);
    fill(s, &m, 50, 0);
    check_log(s, &m, rep.new_start);
    evs_close(s);

    /* The stream index rebuilt from the log: still right (a stream with no event
     * left before the rebuild would start over; early-1 has one now). */
    char idx[4200];
    snprintf(idx, sizeof idx, "%s/stream-index", dir);
    tu_rmtree(idx);
    s = open_store(dir);
    check_log(s, &m, rep.new_start);
    evs_close(s);
    tu_cleanup(dir);
}

static void test_by_age(void **state)
{
    (void)state;
    static model m;
    memset(&m, 0, sizeof m);
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "retain-age");
    evs_store *s = open_store(dir);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * NS_PER_S + now.tv_nsec;
    fill(s, &m, 1200, now_ns - 7200 * NS_PER_S);
    int64_t old_last = m.head;
    fill(s, &m, 1200, now_ns - 60 * NS_PER_S);
    evs_close(s);
    evs_retain_opts o = EVS_RETAIN_OPTS_INIT;
    o.max_age_ns = 3600 * NS_PER_S;
    evs_retain_report rep;
    assert_evs_ok(evs_retain(&rep, dir, &o));
    assert_true(rep.segments_dropped > 0);
    assert_true(rep.new_start <= old_last + 1); /* only segments wholly old */
    assert_true(rep.new_start > 1);
    s = open_store(dir);
    check_log(s, &m, rep.new_start);
    evs_close(s);
    /* Again: nothing more is old enough. */
    evs_retain_report again;
    assert_evs_ok(evs_retain(&again, dir, &o));
    assert_int_equal(again.segments_dropped, 0);
    assert_int_equal(again.new_start, rep.new_start);
    tu_cleanup(dir);
}

static void test_bad_options(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "retain-bad");
    evs_store *s = open_store(dir);
    tu_append1(s, "a", "E", "{}");
    evs_close(s);
    evs_retain_report rep;
    evs_retain_opts o = EVS_RETAIN_OPTS_INIT;
    assert_evs(EVS_EINVAL, evs_retain(&rep, dir, &o));
    assert_errmsg_has("no policy");
    o.max_bytes = -1;
    assert_evs(EVS_EINVAL, evs_retain(&rep, dir, &o));
    o.max_bytes = 1;
    o.flags = 0x80;
    assert_evs(EVS_EINVAL, evs_retain(&rep, dir, &o));
    o.flags = 0;
    /* The only segment is the one being written: it stays. */
    assert_evs_ok(evs_retain(&rep, dir, &o));
    assert_int_equal(rep.segments_dropped, 0);
    assert_evs(EVS_EMISUSE, evs_retain(NULL, dir, &o));
    char missing[4200];
    snprintf(missing, sizeof missing, "%s-none", dir);
    assert_true(evs_retain(&rep, missing, &o) < 0);
    assert_evs(EVS_EINVAL, evs_discard(&rep, dir, NULL, 0, 0)); /* no consumer */
    const char *names[] = {"nobody"};
    assert_evs(EVS_ENOTFOUND, evs_discard(&rep, dir, names, 1, 0));
    tu_cleanup(dir);
}

static void test_discard(void **state)
{
    (void)state;
    static model m;
    memset(&m, 0, sizeof m);
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "discard");
    evs_store *s = open_store(dir);
    fill(s, &m, 2500, 0);
    /* fast acknowledges 2000, slow 900. */
    const char *who[] = {"fast", "slow"};
    const int64_t at[] = {2000, 900};
    for (int i = 0; i < 2; i++) {
        evs_consumer *c;
        assert_evs_ok(evs_consumer_open(&c, s, who[i], NULL));
        assert_evs_ok(evs_consumer_ack(c, at[i]));
        assert_evs_ok(evs_consumer_close(c));
    }
    evs_close(s);
    evs_retain_report rep;
    assert_evs_ok(evs_discard(&rep, dir, NULL, 0, 0));
    assert_true(rep.segments_dropped > 0);
    assert_true(rep.new_start <= 901); /* slow's next event stays */
    int64_t first_start = rep.new_start;
    /* Only fast counted: more goes, but nothing fast has not acknowledged. */
    assert_evs_ok(evs_discard(&rep, dir, who, 1, 0));
    assert_true(rep.new_start > first_start);
    assert_true(rep.new_start <= 2001);
    /* slow, holding a position before the start, goes on from the start. */
    s = open_store(dir);
    check_log(s, &m, rep.new_start);
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, s, "slow", NULL));
    evs_event ev;
    assert_int_equal(evs_consumer_next(&ev, c, 0), 1);
    assert_int_equal(ev.pos, rep.new_start);
    assert_evs_ok(evs_consumer_close(c));
    evs_subscription *sub;
    assert_evs_ok(evs_subscribe(&sub, s, NULL, 3));
    assert_int_equal(evs_subscription_next(&ev, sub, 0), 1);
    assert_int_equal(ev.pos, rep.new_start);
    evs_subscription_close(sub);
    evs_close(s);
    tu_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_size),
        cmocka_unit_test(test_by_age),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_discard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
