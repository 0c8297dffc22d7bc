/*
 * test_lifecycle.c - stream deletion, truncation and per-stream retention
 * (evs_stream_delete, evs_stream_meta_set/get).
 *
 * Covers: soft delete (reads empty, appends go on at the next version and only they
 * are read), hard delete (a tombstone: appends, settings and deletes refused with
 * EVS_EDELETED), truncate-before (only moves forward), max count (the window moves as
 * the stream grows), max age (events given old times), the reserved streams refused to
 * plain appends, bad arguments changing nothing, the settings surviving a reopen, limit
 * counted over the events read, and random operations checked against a model: every
 * read kind (stream forward and backward, the log, a category, a subscription, a
 * durable consumer) returns exactly the events the model says are readable.
 */
#include "testutil.h"

#include <inttypes.h>

#define NS_PER_S 1000000000LL

static evs_store *open_store(const char *dir)
{
    evs_store *s;
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.segment_size = 64u << 10;
    assert_evs_ok(evs_open(&s, dir, &o));
    return s;
}

static void append_n(evs_store *s, const char *stream, int n)
{
    for (int i = 0; i < n; i++)
        tu_append1(s, stream, "E", "{}");
}

/* The versions of `stream` a read returns, in order, into v (at most cap); the count. */
static size_t read_versions(evs_store *s, const char *stream, int direction, int64_t *v,
                            size_t cap)
{
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    q.direction = direction;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    size_t n = 0;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        assert_true(n < cap);
        v[n++] = ev.version;
    }
    assert_evs_ok(rc);
    evs_cursor_close(c);
    return n;
}

/* Events of `stream` in a whole-log read. */
static int64_t log_count_of(evs_store *s, const char *stream)
{
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int64_t n = 0;
    int rc;
    while ((rc = evs_cursor_next(&ev, c)) > 0)
        n += ev.stream_len == strlen(stream) && memcmp(ev.stream, stream, ev.stream_len) == 0;
    assert_evs_ok(rc);
    evs_cursor_close(c);
    return n;
}

static void test_soft_delete(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-soft");
    evs_store *s = open_store(dir);
    append_n(s, "order-1", 5);
    append_n(s, "order-2", 2);
    assert_evs_ok(evs_stream_delete(s, "order-1", -1, 0));
    int64_t v[16];
    assert_int_equal(read_versions(s, "order-1", EVS_FORWARD, v, 16), 0);
    assert_int_equal(read_versions(s, "order-1", EVS_BACKWARD, v, 16), 0);
    assert_int_equal(log_count_of(s, "order-1"), 0);
    assert_int_equal(log_count_of(s, "order-2"), 2);
    evs_stream_meta m;
    assert_evs_ok(evs_stream_meta_get(&m, s, "order-1"));
    assert_int_equal(m.truncate_before, 5);
    assert_int_equal(m.deleted, 0);

    /* Appending again continues the versions; only the new event is read. */
    evs_event_in e = tu_event("E", "{\"again\":1}");
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, "order-1", 4, &e, 1));
    assert_int_equal(r.version, 5);
    assert_int_equal(read_versions(s, "order-1", EVS_FORWARD, v, 16), 1);
    assert_int_equal(v[0], 5);
    assert_int_equal(log_count_of(s, "order-1"), 1);

    /* Settings survive a reopen. */
    evs_close(s);
    s = open_store(dir);
    assert_int_equal(read_versions(s, "order-1", EVS_FORWARD, v, 16), 1);
    assert_int_equal(log_count_of(s, "order-1"), 1);
    evs_close(s);
    tu_cleanup(dir);
}

static void test_hard_delete(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-hard");
    evs_store *s = open_store(dir);
    append_n(s, "user-1", 3);
    assert_evs_ok(evs_stream_delete(s, "user-1", -1, EVS_DELETE_HARD));
    evs_event_in e = tu_event("E", "{}");
    assert_evs(EVS_EDELETED, evs_append(NULL, s, "user-1", EVS_EXPECT_ANY, &e, 1));
    assert_errmsg_has("user-1");
    assert_errmsg_has("deleted for good");
    /* In a multi-stream append, nothing of any batch is written. */
    int64_t head = evs_head(s);
    evs_batch_in b[2] = {{"user-2", EVS_EXPECT_ANY, &e, 1}, {"user-1", EVS_EXPECT_ANY, &e, 1}};
    assert_evs(EVS_EDELETED, evs_append_multi(NULL, s, b, 2));
    assert_int_equal(evs_head(s), head);
    evs_stream_meta m = {0, 5, 0, 0};
    assert_evs(EVS_EDELETED, evs_stream_meta_set(s, "user-1", &m));
    assert_evs(EVS_EDELETED, evs_stream_delete(s, "user-1", -1, 0));
    assert_evs(EVS_EDELETED, evs_stream_delete(s, "user-1", -1, EVS_DELETE_HARD));
    int64_t v[8];
    assert_int_equal(read_versions(s, "user-1", EVS_FORWARD, v, 8), 0);
    assert_int_equal(log_count_of(s, "user-1"), 0);
    assert_evs_ok(evs_stream_meta_get(&m, s, "user-1"));
    assert_int_equal(m.deleted, 1);
    /* A tombstone on a stream that never existed reserves the name. */
    assert_evs_ok(evs_stream_delete(s, "ghost", -1, EVS_DELETE_HARD));
    assert_evs(EVS_EDELETED, evs_append(NULL, s, "ghost", EVS_EXPECT_NO_STREAM, &e, 1));
    evs_close(s);
    s = open_store(dir);
    assert_evs(EVS_EDELETED, evs_append(NULL, s, "user-1", EVS_EXPECT_ANY, &e, 1));
    evs_close(s);
    tu_cleanup(dir);
}

static void test_truncate(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-trunc");
    evs_store *s = open_store(dir);
    append_n(s, "acct-1", 6);
    assert_evs_ok(evs_stream_delete(s, "acct-1", 3, 0));
    int64_t v[16];
    assert_int_equal(read_versions(s, "acct-1", EVS_FORWARD, v, 16), 3);
    assert_int_equal(v[0], 3);
    assert_int_equal(v[2], 5);
    assert_int_equal(read_versions(s, "acct-1", EVS_BACKWARD, v, 16), 3);
    assert_int_equal(v[0], 5);
    assert_int_equal(v[2], 3);
    /* From a version below the cut starts at the cut. */
    evs_query q = EVS_QUERY_INIT;
    q.stream = "acct-1";
    q.from_version = 1;
    assert_int_equal(tu_count(s, &q), 3);
    /* Backward from below the cut: nothing. */
    q.direction = EVS_BACKWARD;
    q.from_version = 2;
    assert_int_equal(tu_count(s, &q), 0);
    /* The cut only moves forward; a refusal writes nothing. */
    int64_t head = evs_head(s);
    assert_evs(EVS_EINVAL, evs_stream_delete(s, "acct-1", 2, 0));
    assert_errmsg_has("below 3");
    evs_stream_meta m = {1, 0, 0, 0};
    assert_evs(EVS_EINVAL, evs_stream_meta_set(s, "acct-1", &m));
    assert_int_equal(evs_head(s), head);
    /* Past the last version: the stream reads empty until it grows past the cut. */
    assert_evs_ok(evs_stream_delete(s, "acct-1", 7, 0));
    assert_int_equal(read_versions(s, "acct-1", EVS_FORWARD, v, 16), 0);
    append_n(s, "acct-1", 2); /* versions 6 and 7 */
    assert_int_equal(read_versions(s, "acct-1", EVS_FORWARD, v, 16), 1);
    assert_int_equal(v[0], 7);
    evs_close(s);
    tu_cleanup(dir);
}

static void test_max_count(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-count");
    evs_store *s = open_store(dir);
    append_n(s, "sensor-1", 10);
    evs_stream_meta m = {0, 3, 0, 0};
    assert_evs_ok(evs_stream_meta_set(s, "sensor-1", &m));
    int64_t v[16];
    assert_int_equal(read_versions(s, "sensor-1", EVS_FORWARD, v, 16), 3);
    assert_int_equal(v[0], 7);
    append_n(s, "sensor-1", 2);
    assert_int_equal(read_versions(s, "sensor-1", EVS_BACKWARD, v, 16), 3);
    assert_int_equal(v[0], 11);
    assert_int_equal(v[2], 9);
    assert_int_equal(log_count_of(s, "sensor-1"), 3);
    /* Unset: everything is read again (max count hides, it does not cut). */
    m.max_count = 0;
    assert_evs_ok(evs_stream_meta_set(s, "sensor-1", &m));
    assert_int_equal(read_versions(s, "sensor-1", EVS_FORWARD, v, 16), 12);
    evs_close(s);
    tu_cleanup(dir);
}

static void test_max_age(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-age");
    evs_store *s = open_store(dir);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * NS_PER_S + now.tv_nsec;
    /* Three events two hours old, two an hour old, two now. */
    int64_t ages[] = {7200, 7200, 7200, 3600, 3600, 0, 0};
    for (size_t i = 0; i < 7; i++) {
        evs_event_in e = tu_event("E", "{}");
        e.ts_ns = now_ns - ages[i] * NS_PER_S;
        assert_evs_ok(evs_append(NULL, s, "log-1", EVS_EXPECT_ANY, &e, 1));
    }
    evs_stream_meta m = {0, 0, 5400 * NS_PER_S, 0};
    assert_evs_ok(evs_stream_meta_set(s, "log-1", &m));
    int64_t v[16];
    assert_int_equal(read_versions(s, "log-1", EVS_FORWARD, v, 16), 4);
    assert_int_equal(v[0], 3);
    assert_int_equal(read_versions(s, "log-1", EVS_BACKWARD, v, 16), 4);
    assert_int_equal(v[3], 3);
    assert_int_equal(log_count_of(s, "log-1"), 4);
    m.max_age_ns = 1800 * NS_PER_S;
    assert_evs_ok(evs_stream_meta_set(s, "log-1", &m));
    assert_int_equal(read_versions(s, "log-1", EVS_FORWARD, v, 16), 2);
    evs_close(s);
    tu_cleanup(dir);
}

static void test_reserved_and_bad_input(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-bad");
    evs_store *s = open_store(dir);
    append_n(s, "a", 2);
    int64_t head = evs_head(s);
    evs_event_in e = tu_event(EVS_META_EVENT_TYPE, "{\"deleted\":true}");
    assert_evs(EVS_EINVAL, evs_append(NULL, s, "$meta-a", EVS_EXPECT_ANY, &e, 1));
    assert_errmsg_has("reserved");
    assert_evs(EVS_EINVAL, evs_append(NULL, s, "$lifecycle", EVS_EXPECT_ANY, &e, 1));
    assert_evs(EVS_EINVAL, evs_stream_delete(s, "a", -2, 0));
    assert_evs(EVS_EINVAL, evs_stream_delete(s, "a", 1, EVS_DELETE_HARD));
    assert_evs(EVS_EINVAL, evs_stream_delete(s, "a", -1, 0x10));
    assert_evs(EVS_EINVAL, evs_stream_delete(s, "$meta-a", -1, 0));
    assert_evs(EVS_EINVAL, evs_stream_delete(s, "", -1, 0));
    evs_stream_meta m = {0, -1, 0, 0};
    assert_evs(EVS_EINVAL, evs_stream_meta_set(s, "a", &m));
    m = (evs_stream_meta){0, 0, 0, 1};
    assert_evs(EVS_EINVAL, evs_stream_meta_set(s, "a", &m));
    assert_evs(EVS_EMISUSE, evs_stream_meta_set(s, "a", NULL));
    char longname[EVS_MAX_STREAM_LEN + 1];
    memset(longname, 'x', EVS_MAX_STREAM_LEN);
    longname[EVS_MAX_STREAM_LEN] = '\0';
    assert_evs(EVS_EINVAL, evs_stream_delete(s, longname, -1, 0));
    assert_errmsg_has("prefix");
    assert_int_equal(evs_head(s), head);
    int64_t v[4];
    assert_int_equal(read_versions(s, "a", EVS_FORWARD, v, 4), 2);
    evs_close(s);
    tu_cleanup(dir);
}

static void test_limit_counts_read_events(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-limit");
    evs_store *s = open_store(dir);
    append_n(s, "gone", 5);
    append_n(s, "kept", 3);
    assert_evs_ok(evs_stream_delete(s, "gone", -1, 0));
    evs_query q = EVS_QUERY_INIT;
    q.limit = 2;
    q.prefix = "k";
    assert_int_equal(tu_count(s, &q), 2);
    q.prefix = NULL;
    q.types = (const char *const[]){"E"};
    q.type_count = 1;
    q.limit = 3;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, &q));
    evs_event ev;
    int n = 0;
    while (evs_cursor_next(&ev, c) > 0) {
        assert_int_equal(ev.stream_len, 4);
        assert_memory_equal(ev.stream, "kept", 4);
        n++;
    }
    assert_int_equal(n, 3);
    evs_cursor_close(c);
    evs_close(s);
    tu_cleanup(dir);
}

/* ---- random operations against a model ------------------------------------------ */

#define MSTREAMS 6
#define MAXEV    600

typedef struct mstream {
    char name[24];
    int64_t last;      /* last version, -1 none */
    int64_t pos[MAXEV]; /* position of each version */
    int64_t cut;       /* truncate_before */
    int64_t max_count;
    bool hard;
} mstream;

static bool model_reads(const mstream *m, int64_t version)
{
    if (m->hard || version < m->cut)
        return false;
    return m->max_count == 0 || version > m->last - m->max_count;
}

static void check_against_model(evs_store *s, const mstream *ms)
{
    /* Each stream, both ways. */
    for (int i = 0; i < MSTREAMS; i++) {
        static int64_t v[MAXEV];
        size_t n = read_versions(s, ms[i].name, EVS_FORWARD, v, MAXEV), k = 0;
        for (int64_t ver = 0; ver <= ms[i].last; ver++)
            if (model_reads(&ms[i], ver)) {
                assert_true(k < n);
                assert_int_equal(v[k++], ver);
            }
        assert_int_equal(k, n);
        size_t nb = read_versions(s, ms[i].name, EVS_BACKWARD, v, MAXEV);
        assert_int_equal(nb, n);
    }
    /* The log, a category, a consumer: every event read is one the model reads, and
     * their number is the model's. */
    int64_t want_all = 0, want_cat = 0;
    for (int i = 0; i < MSTREAMS; i++)
        for (int64_t ver = 0; ver <= ms[i].last; ver++)
            if (model_reads(&ms[i], ver)) {
                want_all++;
                want_cat += i % 2 == 0;
            }
    for (int kind = 0; kind < 3; kind++) {
        evs_query q = EVS_QUERY_INIT;
        q.category = kind == 1 ? "even" : NULL;
        evs_subscription *sub = NULL;
        evs_cursor *c = NULL;
        if (kind == 2)
            assert_evs_ok(evs_subscribe(&sub, s, &q, EVS_FROM_START));
        else
            assert_evs_ok(evs_cursor_open(&c, s, &q));
        evs_event ev;
        int64_t got = 0;
        int rc;
        while ((rc = kind == 2 ? evs_subscription_next(&ev, sub, 0) : evs_cursor_next(&ev, c)) >
               0) {
            if (ev.stream[0] == '$')
                continue;
            int i;
            for (i = 0; i < MSTREAMS; i++)
                if (ev.stream_len == strlen(ms[i].name) &&
                    memcmp(ev.stream, ms[i].name, ev.stream_len) == 0)
                    break;
            assert_true(i < MSTREAMS);
            assert_true(model_reads(&ms[i], ev.version));
            assert_int_equal(ms[i].pos[ev.version], ev.pos);
            got++;
        }
        assert_evs_ok(rc);
        assert_int_equal(got, kind == 1 ? want_cat : want_all);
        evs_cursor_close(c);
        evs_subscription_close(sub);
    }
}

static void test_model(void **state)
{
    (void)state;
    tu_seed_rng();
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-model");
    evs_store *s = open_store(dir);
    static mstream ms[MSTREAMS];
    memset(ms, 0, sizeof ms);
    for (int i = 0; i < MSTREAMS; i++) {
        snprintf(ms[i].name, sizeof ms[i].name, "%s-%d", i % 2 == 0 ? "even" : "odd", i);
        ms[i].last = -1;
    }
    for (int step = 0; step < 400; step++) {
        mstream *m = &ms[tu_rnd_below(MSTREAMS)];
        unsigned op = (unsigned)tu_rnd_below(20);
        if (op < 13) {
            int n = 1 + (int)tu_rnd_below(3);
            for (int k = 0; k < n && m->last + 1 < MAXEV; k++) {
                evs_event_in e = tu_event("E", "{}");
                evs_append_result r;
                int rc = evs_append(&r, s, m->name, EVS_EXPECT_ANY, &e, 1);
                if (m->hard) {
                    assert_int_equal(rc, EVS_EDELETED);
                    break;
                }
                assert_evs_ok(rc);
                m->pos[++m->last] = r.first_pos;
            }
        } else if (op < 15) {
            int rc = evs_stream_delete(s, m->name, -1, 0);
            assert_int_equal(rc, m->hard ? EVS_EDELETED : 0);
            if (!m->hard && m->last + 1 > m->cut)
                m->cut = m->last + 1;
        } else if (op < 17) {
            int64_t before = m->cut + (int64_t)tu_rnd_below(4);
            int rc = evs_stream_delete(s, m->name, before, 0);
            assert_int_equal(rc, m->hard ? EVS_EDELETED : 0);
            if (!m->hard)
                m->cut = before;
        } else if (op < 19) {
            evs_stream_meta meta = {m->cut, (int64_t)tu_rnd_below(5), 0, 0};
            int rc = evs_stream_meta_set(s, m->name, &meta);
            assert_int_equal(rc, m->hard ? EVS_EDELETED : 0);
            if (!m->hard)
                m->max_count = meta.max_count;
        } else if (tu_rnd_below(4) == 0) {
            assert_int_equal(evs_stream_delete(s, m->name, -1, EVS_DELETE_HARD),
                             m->hard ? EVS_EDELETED : 0);
            m->hard = true;
        }
        if (step % 50 == 49)
            check_against_model(s, ms);
    }
    evs_close(s);
    s = open_store(dir);
    check_against_model(s, ms);
    evs_close(s);
    tu_cleanup(dir);
}

/* A durable consumer holding a position in a stretch that became unreadable goes on
 * after it, and is handed only readable events. */
static void test_consumer_over_deleted(void **state)
{
    (void)state;
    char dir[4096];
    tu_tmpdir(dir, sizeof dir, "lc-consumer");
    evs_store *s = open_store(dir);
    append_n(s, "a", 3); /* 1..3 */
    append_n(s, "b", 3); /* 4..6 */
    evs_consumer *c;
    assert_evs_ok(evs_consumer_open(&c, s, "proj", NULL));
    evs_event ev;
    assert_int_equal(evs_consumer_next(&ev, c, 0), 1);
    assert_int_equal(ev.pos, 1);
    assert_evs_ok(evs_consumer_ack(c, 1));
    assert_evs_ok(evs_consumer_close(c));
    assert_evs_ok(evs_stream_delete(s, "a", -1, 0));
    assert_evs_ok(evs_consumer_open(&c, s, "proj", NULL));
    assert_int_equal(evs_consumer_next(&ev, c, 0), 1);
    assert_int_equal(ev.pos, 4);
    evs_consumer_close(c);
    evs_close(s);
    tu_cleanup(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soft_delete),
        cmocka_unit_test(test_hard_delete),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_max_count),
        cmocka_unit_test(test_max_age),
        cmocka_unit_test(test_reserved_and_bad_input),
        cmocka_unit_test(test_limit_counts_read_events),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_consumer_over_deleted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
