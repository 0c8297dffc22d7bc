/*
 * test_threads.c - one store handle shared by many threads (the "Threads" contract of
 * evstore.h, docs/DESIGN.md invariant 6 inside one process).
 *
 * Eight writer threads append batches of 1..20 events at once, in three ways: each to
 * its own stream with numeric expected versions; all to one stream with
 * EVS_EXPECT_ANY; all to one stream with numeric expected versions, retrying on
 * EVS_ECONFLICT from the version evs_stream_get reports. Each runs with
 * EVS_SYNC_ALWAYS (group commit) and with EVS_SYNC_NONE. Meanwhile reader threads tail
 * the log with a forward cursor (woken by evs_wait), tail a stream, read the whole log
 * again and again, and poll evs_stream_get and evs_head; none of them may ever see a
 * gap, an event twice, or a version or head going backwards. Afterwards every appended
 * event is in the log exactly once (matched by id) at the position its append
 * returned, positions are 1..N, every stream's versions are 0..k in position order,
 * and evs_verify passes, also after reopening.
 *
 * Also: evs_close while another thread holds an open cursor (the close is deferred;
 * the cursor's next step returns EVS_ECLOSED and the event it handed out stays
 * readable until then); and, reduced to one thread, the failure the expected-version
 * writers found: an append that conflicts where the active segment is full.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define NWRITERS  8
#define MAX_BATCH 20
#define MAX_SEQ   (200 * MAX_BATCH) /* events one writer may append */

enum mode { OWN_STREAMS, SAME_STREAM_ANY, SAME_STREAM_EXPECTED };

static const char *mode_name(enum mode m)
{
    return m == OWN_STREAMS       ? "own streams"
           : m == SAME_STREAM_ANY ? "same stream, any version"
                                  : "same stream, expected versions";
}

/* Failures seen on other threads: cmocka's assertions may only run on the main thread,
 * so threads note what went wrong here and the main thread fails the test. */
static pthread_mutex_t g_fail_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_fail_count;
static char g_fail_msg[1024];

static void thread_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void thread_fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_fail_mu);
    if (g_fail_count++ == 0)
        snprintf(g_fail_msg, sizeof g_fail_msg, "%s", msg);
    if (g_fail_count <= 10)
        fprintf(stderr, "thread failure: %s\n", msg);
    pthread_mutex_unlock(&g_fail_mu);
}

static void check_no_thread_failure(void)
{
    if (g_fail_count)
        print_error("%d failure(s) on other threads; the first: %s\n", g_fail_count, g_fail_msg);
    assert_int_equal(g_fail_count, 0);
}

/* Each test gets a fresh store directory in *state, removed by the teardown even when
 * the test fails. */
static int setup_dir(void **state)
{
    return tu_setup_dir(state, "threads");
}
#define IN_DIR(test) cmocka_unit_test_setup_teardown(test, setup_dir, tu_teardown_dir)

static uint32_t xorshift(uint32_t *st)
{
    uint32_t x = *st;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *st = x;
}

/* An event id says who appended it: writer, sequence number. */
static void make_id(unsigned char id[16], int writer, int seq)
{
    memset(id, 0, 16);
    id[0] = 0xee;
    id[1] = (unsigned char)writer;
    id[2] = (unsigned char)(seq >> 24);
    id[3] = (unsigned char)(seq >> 16);
    id[4] = (unsigned char)(seq >> 8);
    id[5] = (unsigned char)seq;
    id[6] = 0x40;
    id[8] = 0x80;
}

static bool parse_id(const unsigned char id[16], int *writer, int *seq)
{
    if (id[0] != 0xee || id[1] >= NWRITERS)
        return false;
    *writer = id[1];
    *seq = id[2] << 24 | id[3] << 16 | id[4] << 8 | id[5];
    return *seq >= 0 && *seq < MAX_SEQ;
}

/* The shared state of one run. */
typedef struct run {
    evs_store *s;
    enum mode mode;
    int appends; /* per writer */
    atomic_bool writers_done;
    _Atomic int64_t final_head;    /* set once the writers are done */
    _Atomic int64_t final_version; /* of the tailed stream */
    const char *tailed_stream;
} run;

typedef struct writer {
    run *r;
    int id;
    int64_t pos[MAX_SEQ]; /* position each of its events got */
    int count;            /* events appended */
    int conflicts;
} writer;

static void stream_of(const run *r, int writer_id, char *buf, size_t len)
{
    if (r->mode == OWN_STREAMS)
        snprintf(buf, len, "own-%d", writer_id);
    else
        snprintf(buf, len, "shared");
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    run *r = w->r;
    uint32_t rnd = 0x9e3779b9u * (uint32_t)(w->id + 1);
    char stream[32];
    stream_of(r, w->id, stream, sizeof stream);
    int64_t version = -1; /* what this writer believes the stream's last version is */
    evs_event_in in[MAX_BATCH];
    unsigned char ids[MAX_BATCH][16];
    char data[MAX_BATCH][48];
    for (int a = 0; a < r->appends; a++) {
        int n = 1 + (int)(xorshift(&rnd) % MAX_BATCH);
        if (w->count + n > MAX_SEQ)
            break;
        for (int i = 0; i < n; i++) {
            make_id(ids[i], w->id, w->count + i);
            snprintf(data[i], sizeof data[i], "{\"w\":%d,\"seq\":%d}", w->id, w->count + i);
            in[i] = tu_event(i % 3 ? "Ticked" : "Tocked", data[i]);
            in[i].id = ids[i];
        }
        evs_append_result res;
        int rc;
        for (int attempt = 0;; attempt++) {
            int64_t expected = r->mode == SAME_STREAM_ANY ? EVS_EXPECT_ANY
                               : version < 0              ? EVS_EXPECT_NO_STREAM
                                                          : version;
            rc = evs_append(&res, r->s, stream, expected, in, (size_t)n);
            if (rc != EVS_ECONFLICT || r->mode != SAME_STREAM_EXPECTED || attempt > 100000)
                break;
            w->conflicts++;
            evs_stream_info info;
            if (evs_stream_get(&info, r->s, stream) != 0) {
                thread_fail("writer %d: evs_stream_get: %s", w->id, evs_errmsg());
                return NULL;
            }
            version = info.last_version;
        }
        if (rc != 0) {
            thread_fail("writer %d, append %d of %d events to %s: %s (%s)", w->id, a, n, stream,
                        evs_errname(rc), evs_errmsg());
            return NULL;
        }
        if (res.last_pos - res.first_pos + 1 != n || res.duplicate ||
            (r->mode != SAME_STREAM_ANY && res.version != version + n)) {
            thread_fail("writer %d: append of %d returned positions %" PRId64 "..%" PRId64
                        ", version %" PRId64 " after %" PRId64,
                        w->id, n, res.first_pos, res.last_pos, res.version, version);
            return NULL;
        }
        version = res.version;
        for (int i = 0; i < n; i++)
            w->pos[w->count + i] = res.first_pos + i;
        w->count += n;
    }
    return NULL;
}

/* A stream's last version as seen in position order. */
typedef struct stream_seen {
    char name[32];
    int64_t version;
} stream_seen;

typedef struct seen_set {
    bool seen[NWRITERS][MAX_SEQ];
    stream_seen streams[NWRITERS + 1];
    int nstreams;
} seen_set;

/* Check one event read in position order against what came before it. */
static bool accept_event(seen_set *ss, const evs_event *ev, int64_t want_pos, const char *who)
{
    int wr, seq;
    if (ev->pos != want_pos) {
        thread_fail("%s: read position %" PRId64 " where %" PRId64 " was due", who, ev->pos,
                    want_pos);
        return false;
    }
    if (!parse_id(ev->id, &wr, &seq)) {
        thread_fail("%s: position %" PRId64 " has an id no writer made", who, ev->pos);
        return false;
    }
    if (ss->seen[wr][seq]) {
        thread_fail("%s: event %d/%d read twice (again at position %" PRId64 ")", who, wr, seq,
                    ev->pos);
        return false;
    }
    ss->seen[wr][seq] = true;
    int k = 0;
    while (k < ss->nstreams && (strlen(ss->streams[k].name) != ev->stream_len ||
                                memcmp(ss->streams[k].name, ev->stream, ev->stream_len) != 0))
        k++;
    if (k == ss->nstreams) {
        if (k == NWRITERS + 1 || ev->stream_len >= sizeof ss->streams[k].name) {
            thread_fail("%s: unexpected stream at position %" PRId64, who, ev->pos);
            return false;
        }
        memcpy(ss->streams[k].name, ev->stream, ev->stream_len);
        ss->streams[k].name[ev->stream_len] = '\0';
        ss->streams[k].version = -1;
        ss->nstreams++;
    }
    if (ev->version != ss->streams[k].version + 1) {
        thread_fail("%s: stream %s has version %" PRId64 " after %" PRId64 " (position %" PRId64
                    ")",
                    who, ss->streams[k].name, ev->version, ss->streams[k].version, ev->pos);
        return false;
    }
    ss->streams[k].version = ev->version;
    return true;
}

/* Tails the whole log with one forward cursor, sleeping in evs_wait at its end. */
static void *tail_reader_main(void *arg)
{
    run *r = arg;
    seen_set *ss = calloc(1, sizeof *ss);
    evs_cursor *c;
    if (!ss || evs_cursor_open(&c, r->s, NULL) != 0) {
        thread_fail("tail reader: cannot start: %s", evs_errmsg());
        free(ss);
        return NULL;
    }
    int64_t last = 0;
    for (;;) {
        evs_event ev;
        int rc = evs_cursor_next(&ev, c);
        if (rc > 0) {
            if (!accept_event(ss, &ev, last + 1, "tail reader"))
                break;
            last = ev.pos;
            continue;
        }
        if (rc < 0) {
            thread_fail("tail reader: %s: %s", evs_errname(rc), evs_errmsg());
            break;
        }
        if (atomic_load(&r->writers_done) && last == atomic_load(&r->final_head))
            break;
        rc = evs_wait(NULL, r->s, last, 200);
        if (rc != 0 && rc != EVS_ETIMEDOUT) {
            thread_fail("tail reader: evs_wait: %s", evs_errmsg());
            break;
        }
    }
    evs_cursor_close(c);
    free(ss);
    return NULL;
}

/* Tails one stream: versions 0, 1, 2 ... without a gap. */
static void *stream_reader_main(void *arg)
{
    run *r = arg;
    evs_query q = EVS_QUERY_INIT;
    q.stream = r->tailed_stream;
    evs_cursor *c;
    if (evs_cursor_open(&c, r->s, &q) != 0) {
        thread_fail("stream reader: cannot start: %s", evs_errmsg());
        return NULL;
    }
    int64_t version = -1, pos = 0;
    for (;;) {
        evs_event ev;
        int rc = evs_cursor_next(&ev, c);
        if (rc > 0) {
            if (ev.version != version + 1 || ev.pos <= pos) {
                thread_fail("stream reader: %s version %" PRId64 " at position %" PRId64
                            " after version %" PRId64 " at %" PRId64,
                            r->tailed_stream, ev.version, ev.pos, version, pos);
                break;
            }
            version = ev.version;
            pos = ev.pos;
            continue;
        }
        if (rc < 0) {
            thread_fail("stream reader: %s: %s", evs_errname(rc), evs_errmsg());
            break;
        }
        if (atomic_load(&r->writers_done) && version == atomic_load(&r->final_version))
            break;
        rc = evs_wait(NULL, r->s, evs_head(r->s), 50);
        if (rc != 0 && rc != EVS_ETIMEDOUT) {
            thread_fail("stream reader: evs_wait: %s", evs_errmsg());
            break;
        }
    }
    evs_cursor_close(c);
    return NULL;
}

/* Reads the whole log from the start, again and again, while the writers run. */
static void *rescan_reader_main(void *arg)
{
    run *r = arg;
    seen_set *ss = malloc(sizeof *ss);
    if (!ss) {
        thread_fail("rescan reader: out of memory");
        return NULL;
    }
    int rounds = 0;
    while (!atomic_load(&r->writers_done) || rounds == 0) {
        memset(ss, 0, sizeof *ss);
        int64_t head_before = evs_head(r->s);
        evs_cursor *c;
        if (evs_cursor_open(&c, r->s, NULL) != 0) {
            thread_fail("rescan reader: cursor: %s", evs_errmsg());
            break;
        }
        evs_event ev;
        int rc;
        int64_t last = 0;
        while ((rc = evs_cursor_next(&ev, c)) > 0 && accept_event(ss, &ev, last + 1, "rescan"))
            last = ev.pos;
        evs_cursor_close(c);
        if (rc < 0) {
            thread_fail("rescan reader: %s: %s", evs_errname(rc), evs_errmsg());
            break;
        }
        if (rc > 0)
            break; /* accept_event failed */
        if (last < head_before) {
            thread_fail("rescan reader: read up to %" PRId64 " but the head was %" PRId64
                        " before it started",
                        last, head_before);
            break;
        }
        rounds++;
    }
    free(ss);
    return NULL;
}

/* Polls evs_stream_get and evs_head: nothing may go backwards or disagree. */
static void *poller_main(void *arg)
{
    run *r = arg;
    int64_t head = 0, version = -1, last_pos = 0, first_pos = 0;
    while (!atomic_load(&r->writers_done)) {
        int64_t h = evs_head(r->s);
        if (h < head) {
            thread_fail("poller: head went from %" PRId64 " back to %" PRId64, head, h);
            return NULL;
        }
        head = h;
        evs_stream_info info;
        int rc = evs_stream_get(&info, r->s, r->tailed_stream);
        if (rc != 0) {
            thread_fail("poller: evs_stream_get: %s", evs_errmsg());
            return NULL;
        }
        if (!info.exists)
            continue;
        if (info.last_version < version || info.last_pos < last_pos ||
            info.event_count != info.last_version + 1 ||
            (first_pos && info.first_pos != first_pos) || info.last_pos > evs_head(r->s)) {
            thread_fail("poller: %s went from version %" PRId64 " (last position %" PRId64
                        ") to %" PRId64 " (%" PRId64 "), count %" PRId64 ", first %" PRId64,
                        r->tailed_stream, version, last_pos, info.last_version, info.last_pos,
                        info.event_count, info.first_pos);
            return NULL;
        }
        version = info.last_version;
        last_pos = info.last_pos;
        first_pos = info.first_pos;
    }
    return NULL;
}

/* After the run: the log holds exactly the appended events, where the appends said. */
static void check_log(evs_store *s, writer *ws, int64_t total)
{
    seen_set *ss = calloc(1, sizeof *ss);
    assert_non_null(ss);
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int rc;
    int64_t last = 0;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (!accept_event(ss, &ev, last + 1, "final read"))
            break;
        int wr = 0, seq = 0;
        parse_id(ev.id, &wr, &seq);
        if (seq >= ws[wr].count || ws[wr].pos[seq] != ev.pos) {
            thread_fail("final read: event %d/%d is at position %" PRId64
                        ", its append said %" PRId64,
                        wr, seq, ev.pos, seq < ws[wr].count ? ws[wr].pos[seq] : -1);
            break;
        }
        last = ev.pos;
    }
    evs_cursor_close(c);
    check_no_thread_failure();
    assert_evs_ok(rc);
    assert_int_equal(last, total);
    for (int w = 0; w < NWRITERS; w++)
        for (int i = 0; i < ws[w].count; i++)
            assert_true(ss->seen[w][i]);
    free(ss);

    evs_verify_report rep;
    assert_evs_ok(evs_verify(&rep, s, NULL, NULL));
    assert_int_equal(rep.events_checked, total);
    assert_int_equal(rep.problem_count, 0);
}

static void run_writers(const char *dir, enum mode mode, evs_sync_mode sync, int appends)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = sync;
    o.segment_size = 64u << 10; /* appends cross segments while others read */
    run r;
    memset(&r, 0, sizeof r);
    r.mode = mode;
    r.appends = appends;
    r.tailed_stream = mode == OWN_STREAMS ? "own-3" : "shared";
    atomic_init(&r.writers_done, false);
    atomic_init(&r.final_head, -1);
    atomic_init(&r.final_version, -2);
    assert_evs_ok(evs_open(&r.s, dir, &o));
    g_fail_count = 0;

    writer *ws = calloc(NWRITERS, sizeof *ws);
    assert_non_null(ws);
    pthread_t wt[NWRITERS], tail, stream, rescan, poller;
    assert_int_equal(pthread_create(&tail, NULL, tail_reader_main, &r), 0);
    assert_int_equal(pthread_create(&stream, NULL, stream_reader_main, &r), 0);
    assert_int_equal(pthread_create(&rescan, NULL, rescan_reader_main, &r), 0);
    assert_int_equal(pthread_create(&poller, NULL, poller_main, &r), 0);
    for (int i = 0; i < NWRITERS; i++) {
        ws[i].r = &r;
        ws[i].id = i;
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &ws[i]), 0);
    }
    int64_t total = 0;
    int conflicts = 0;
    for (int i = 0; i < NWRITERS; i++) {
        pthread_join(wt[i], NULL);
        total += ws[i].count;
        conflicts += ws[i].conflicts;
    }
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, r.s, r.tailed_stream));
    atomic_store(&r.final_version, info.last_version);
    atomic_store(&r.final_head, total);
    atomic_store(&r.writers_done, true);
    pthread_join(tail, NULL);
    pthread_join(stream, NULL);
    pthread_join(rescan, NULL);
    pthread_join(poller, NULL);
    check_no_thread_failure();
    print_message("%s, sync %s: %" PRId64 " events, %d conflicts retried\n", mode_name(mode),
                  sync == EVS_SYNC_ALWAYS ? "always" : "none", total, conflicts);

    assert_int_equal(evs_head(r.s), total);
    check_log(r.s, ws, total);
    assert_evs_ok(evs_close(r.s));

    /* What was acknowledged is all there after reopening. */
    assert_evs_ok(evs_open(&r.s, dir, &o));
    assert_int_equal(evs_head(r.s), total);
    check_log(r.s, ws, total);
    assert_evs_ok(evs_close(r.s));
    free(ws);
}

static void test_own_streams_sync_always(void **state)
{
    run_writers(*state, OWN_STREAMS, EVS_SYNC_ALWAYS, 15);
}

static void test_own_streams_sync_none(void **state)
{
    run_writers(*state, OWN_STREAMS, EVS_SYNC_NONE, 60);
}

static void test_same_stream_any_sync_always(void **state)
{
    run_writers(*state, SAME_STREAM_ANY, EVS_SYNC_ALWAYS, 15);
}

static void test_same_stream_any_sync_none(void **state)
{
    run_writers(*state, SAME_STREAM_ANY, EVS_SYNC_NONE, 60);
}

static void test_same_stream_expected_sync_always(void **state)
{
    run_writers(*state, SAME_STREAM_EXPECTED, EVS_SYNC_ALWAYS, 15);
}

static void test_same_stream_expected_sync_none(void **state)
{
    run_writers(*state, SAME_STREAM_EXPECTED, EVS_SYNC_NONE, 60);
}

/* ---- evs_close while a cursor is open on another thread ------------------------- */

typedef struct close_ctx {
    evs_store *s;
    pthread_barrier_t opened; /* the cursor has handed out an event */
    pthread_barrier_t closed; /* evs_close has returned */
    int next_rc;              /* what the cursor's step after the close returned */
    int data_ok;              /* the event handed out before the close was still intact */
    int iter_rc;
} close_ctx;

static void *cursor_holder_main(void *arg)
{
    close_ctx *cc = arg;
    evs_cursor *c = NULL;
    evs_stream_iter *it = NULL;
    evs_event ev;
    memset(&ev, 0, sizeof ev);
    int rc = evs_cursor_open(&c, cc->s, NULL);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = evs_cursor_next(&ev, c) == 1 ? 0 : -1;
    cc->iter_rc = evs_streams_open(&it, cc->s, NULL);
    if (rc != 0)
        thread_fail("cursor holder: cannot read: %s", evs_errmsg());
    pthread_barrier_wait(&cc->opened);
    pthread_barrier_wait(&cc->closed);
    /* The event handed out before the close is valid until the next step. */
    cc->data_ok =
        rc == 0 && ev.pos == 3 && ev.data_len == 9 && memcmp(ev.data, "{\"i\": 2 }", 9) == 0;
    cc->next_rc = c ? evs_cursor_next(&ev, c) : -1;
    evs_cursor_close(c);
    evs_streams_close(it);
    return NULL;
}

static void test_close_with_open_cursor(void **state)
{
    const char *dir = *state;
    evs_options o = tu_fast_options();
    close_ctx cc;
    memset(&cc, 0, sizeof cc);
    assert_evs_ok(evs_open(&cc.s, dir, &o));
    for (int i = 0; i < 10; i++) {
        char data[24];
        snprintf(data, sizeof data, "{\"i\": %d }", i);
        tu_append1(cc.s, "close-1", "Happened", data);
    }
    g_fail_count = 0;
    pthread_barrier_init(&cc.opened, NULL, 2);
    pthread_barrier_init(&cc.closed, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cursor_holder_main, &cc), 0);
    pthread_barrier_wait(&cc.opened);
    assert_evs_ok(evs_close(cc.s)); /* returns at once; the backend waits for the cursor */
    pthread_barrier_wait(&cc.closed);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&cc.opened);
    pthread_barrier_destroy(&cc.closed);
    check_no_thread_failure();
    assert_int_equal(cc.iter_rc, 0);
    assert_true(cc.data_ok);
    assert_int_equal(cc.next_rc, EVS_ECLOSED);

    /* Everything was closed properly: the store opens cleanly and is whole. */
    evs_store *s;
    assert_evs_ok(evs_open(&s, dir, &o));
    assert_int_equal(evs_head(s), 10);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));
}

/* ---- an append that conflicts where a segment is full ---------------------------- */

/* n events, all in `stream`, whichever way they are read. */
static void check_every_path(evs_store *s, const char *stream, int64_t n)
{
    evs_query q = EVS_QUERY_INIT;
    assert_int_equal(tu_count(s, &q), n);
    q.direction = EVS_BACKWARD;
    assert_int_equal(tu_count(s, &q), n);
    q.stream = stream;
    assert_int_equal(tu_count(s, &q), n);
    q.direction = EVS_FORWARD;
    assert_int_equal(tu_count(s, &q), n);
    evs_stream_info info;
    assert_evs_ok(evs_stream_get(&info, s, stream));
    assert_int_equal(info.last_version, n - 1);
    assert_int_equal(evs_head(s), n);
}

/* Found by the expected-version writers above, reduced to one thread: an append that
 * does not fit in the active segment and then fails its expected-version check must
 * leave no trace. The next append (which fits) must be readable by every path: forward,
 * backward, by stream, after reopening. */
static void test_conflict_at_full_segment(void **state)
{
    const char *dir = *state;
    evs_options o = tu_fast_options();
    o.segment_size = 64u << 10;
    evs_store *s;
    assert_evs_ok(evs_open(&s, dir, &o));
    static char big[20001];
    memset(big, 'x', sizeof big - 1);
    big[0] = big[sizeof big - 2] = '"'; /* a JSON string */
    evs_event_in e = tu_event("Big", big);
    for (int i = 0; i < 3; i++) /* 60 KB of the 64 KiB segment */
        assert_evs_ok(evs_append(NULL, s, "full-1", i == 0 ? EVS_EXPECT_NO_STREAM : i - 1, &e, 1));
    assert_evs(EVS_ECONFLICT, evs_append(NULL, s, "full-1", 7, &e, 1)); /* would roll */
    evs_event_in small = tu_event("Small", "{}");
    evs_append_result r;
    assert_evs_ok(evs_append(&r, s, "full-1", 2, &small, 1));
    assert_int_equal(r.first_pos, 4);
    check_every_path(s, "full-1", 4);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    /* With an id, the append walks the stream to rule out a retry. */
    static const unsigned char id[16] = {0x11, 0x22, 0x33, 0x44, 0, 0, 0x40, 0, 0x80};
    evs_event_in again = tu_event("Again", "[]");
    again.id = id;
    assert_evs_ok(evs_append(&r, s, "full-1", 3, &again, 1));
    assert_int_equal(r.first_pos, 5);
    check_every_path(s, "full-1", 5);
    assert_evs_ok(evs_close(s));
    assert_evs_ok(evs_open(&s, dir, &o));
    check_every_path(s, "full-1", 5);
    assert_evs_ok(evs_verify(NULL, s, NULL, NULL));
    assert_evs_ok(evs_close(s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IN_DIR(test_own_streams_sync_always),
        IN_DIR(test_own_streams_sync_none),
        IN_DIR(test_same_stream_any_sync_always),
        IN_DIR(test_same_stream_any_sync_none),
        IN_DIR(test_same_stream_expected_sync_always),
        IN_DIR(test_same_stream_expected_sync_none),
        IN_DIR(test_close_with_open_cursor),
        IN_DIR(test_conflict_at_full_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
