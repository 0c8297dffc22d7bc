/*
 * test_lifecycle_crash.c - crash trials for stream deletion, truncation and retention
 * settings: a forked process appends to a few streams and changes their settings
 * (soft delete, truncate, max count, hard delete) at random, reporting over a pipe each
 * acknowledged append, and each settings change before (intent) and after (done); it
 * is killed with SIGKILL at a random moment. The store is then reopened and checked:
 *   - evs_verify passes;
 *   - each stream's settings in force are those of its last change done, or of the
 *     one in flight when the process died (a change is one atomic append);
 *   - each stream reads exactly the versions those settings leave readable, in order,
 *     and every acknowledged event among them byte for byte (its data is a function of
 *     its id); no acknowledged version is lost from the stream's count.
 * Streams lc-0 and lc-1 are never deleted for good, so appends go on in every trial.
 * The same store carries on from trial to trial, so recovery runs on top of recovery.
 *
 * EVS_LIFECYCLE_CRASH_TRIALS sets the number of trials (default 25; `make crash-test`
 * runs 1,000) and EVS_TEST_SEED replays a run.
 */
#include "testutil.h"

#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define STREAMS   4
#define MAX_BATCH 3
#define MAX_VER   100000

enum { MSG_ACK, MSG_INTENT, MSG_DONE };

/* One pipe write each (atomic: smaller than PIPE_BUF). */
typedef struct msg {
    int kind;
    uint32_t stream;
    int64_t first_version; /* MSG_ACK */
    uint32_t count;
    unsigned char ids[MAX_BATCH][16];
    evs_stream_meta meta; /* MSG_INTENT, MSG_DONE: the settings the change leaves */
} msg;

typedef struct model_stream {
    unsigned char (*ids)[16]; /* by version; all zero when not acknowledged */
    int64_t acked_last;       /* highest acknowledged version, -1 none */
    evs_stream_meta done;     /* settings of the last change done */
    evs_stream_meta intent;   /* settings of the change in flight */
    bool in_flight;
} model_stream;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t data_for(char *buf, size_t len, const unsigned char id[16])
{
    char text[37];
    evs_uuid_format(text, id);
    return (size_t)snprintf(buf, len, "{\"id\":\"%s\"}", text);
}

static void send_msg(int fd, const msg *m)
{
    if (write(fd, m, sizeof *m) != (ssize_t)sizeof *m)
        _exit(21);
}

static void child_append(evs_store *s, int fd, uint64_t *rng, uint32_t k, const char *stream)
{
    msg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_ACK;
    m.stream = k;
    m.count = 1 + (uint32_t)(rng_next(rng) % MAX_BATCH);
    evs_event_in ev[MAX_BATCH];
    char data[MAX_BATCH][80];
    for (uint32_t i = 0; i < m.count; i++) {
        uint64_t r1 = rng_next(rng), r2 = rng_next(rng);
        memcpy(m.ids[i], &r1, 8);
        memcpy(m.ids[i] + 8, &r2, 8);
        memset(&ev[i], 0, sizeof ev[i]);
        ev[i].type = "E";
        ev[i].data = data[i];
        ev[i].data_len = data_for(data[i], sizeof data[i], m.ids[i]);
        ev[i].id = m.ids[i];
    }
    evs_append_result r;
    int rc = evs_append(&r, s, stream, EVS_EXPECT_ANY, ev, m.count);
    if (rc == EVS_EDELETED)
        return;
    if (rc != 0) {
        fprintf(stderr, "append: %s\n", evs_errmsg());
        _exit(22);
    }
    m.first_version = r.version - (int64_t)m.count + 1;
    send_msg(fd, &m);
}

static void child_change(evs_store *s, int fd, uint64_t *rng, uint32_t k, const char *stream)
{
    evs_stream_meta cur;
    evs_stream_info info;
    if (evs_stream_meta_get(&cur, s, stream) != 0 || evs_stream_get(&info, s, stream) != 0)
        _exit(23);
    if (cur.deleted)
        return;
    msg m;
    memset(&m, 0, sizeof m);
    m.stream = k;
    m.meta = cur;
    uint64_t op = rng_next(rng) % 16;
    int64_t before = -1;
    unsigned flags = 0;
    if (op < 4) { /* soft delete */
        if (info.last_version + 1 > m.meta.truncate_before)
            m.meta.truncate_before = info.last_version + 1;
    } else if (op < 9) { /* truncate a little further */
        before = cur.truncate_before + (int64_t)(rng_next(rng) % 4);
        m.meta.truncate_before = before;
    } else if (op < 15) {
        m.meta.max_count = (int64_t)(rng_next(rng) % 6);
    } else if (k >= 2) {
        flags = EVS_DELETE_HARD;
        m.meta.deleted = 1;
    } else {
        return;
    }
    m.kind = MSG_INTENT;
    send_msg(fd, &m);
    int rc = op >= 9 && op < 15 ? evs_stream_meta_set(s, stream, &m.meta)
                                 : evs_stream_delete(s, stream, before, flags);
    if (rc != 0) {
        fprintf(stderr, "change: %s\n", evs_errmsg());
        _exit(24);
    }
    /* A soft delete's cut is the stream's last version when it ran: read it back. */
    if (evs_stream_meta_get(&m.meta, s, stream) != 0)
        _exit(25);
    m.kind = MSG_DONE;
    send_msg(fd, &m);
}

static void child_main(const char *dir, int fd, uint64_t seed)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = (evs_sync_mode)(seed % 3); /* each survives a process crash */
    o.segment_size = 64u << 10;
    evs_store *s;
    if (evs_open(&s, dir, &o) != 0)
        _exit(10);
    uint64_t rng = (seed * 1000003u) | 1; /* not the parent's sequence, shifted */
    for (;;) {
        uint32_t k = (uint32_t)(rng_next(&rng) % STREAMS);
        char stream[32];
        snprintf(stream, sizeof stream, "lc-%u", k);
        if (rng_next(&rng) % 8 == 0)
            child_change(s, fd, &rng, k, stream);
        else
            child_append(s, fd, &rng, k, stream);
    }
}

typedef struct trial_state {
    char dir[4096];
    model_stream ms[STREAMS];
    long violations;
} trial_state;

static void violation(trial_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void violation(trial_state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "VIOLATION: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    st->violations++;
}

static bool same_meta(const evs_stream_meta *a, const evs_stream_meta *b)
{
    return a->truncate_before == b->truncate_before && a->max_count == b->max_count &&
           a->max_age_ns == b->max_age_ns && a->deleted == b->deleted;
}

static void check_stream(trial_state *st, evs_store *s, uint32_t k)
{
    model_stream *m = &st->ms[k];
    char stream[32];
    snprintf(stream, sizeof stream, "lc-%u", k);
    evs_stream_meta meta;
    evs_stream_info info;
    if (evs_stream_meta_get(&meta, s, stream) != 0 || evs_stream_get(&info, s, stream) != 0) {
        violation(st, "%s: settings unreadable: %s", stream, evs_errmsg());
        return;
    }
    if (!same_meta(&meta, &m->done) && !(m->in_flight && same_meta(&meta, &m->intent)))
        violation(st, "%s: settings in force (cut %" PRId64 ", max %" PRId64 ", deleted %d) are "
                  "neither the last change done nor the one in flight", stream,
                  meta.truncate_before, meta.max_count, meta.deleted);
    /* From now on the store's settings are the model's. */
    m->done = meta;
    m->in_flight = false;
    if (info.last_version < m->acked_last)
        violation(st, "%s: at version %" PRId64 ", below the acknowledged %" PRId64, stream,
                  info.last_version, m->acked_last);
    int64_t first = meta.truncate_before;
    if (meta.max_count > 0 && info.last_version - meta.max_count + 1 > first)
        first = info.last_version - meta.max_count + 1;
    evs_query q = EVS_QUERY_INIT;
    q.stream = stream;
    evs_cursor *c;
    if (evs_cursor_open(&c, s, &q) != 0) {
        violation(st, "%s: cursor: %s", stream, evs_errmsg());
        return;
    }
    evs_event ev;
    int rc;
    int64_t want = first;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (meta.deleted || ev.version != want)
            violation(st, "%s: read version %" PRId64 " where %s", stream, ev.version,
                      meta.deleted ? "nothing is readable" : "another was due");
        want = ev.version + 1;
        if (ev.version < MAX_VER && ev.version <= m->acked_last) {
            static const unsigned char zero[16];
            const unsigned char *id = m->ids[ev.version];
            char data[80];
            size_t len = data_for(data, sizeof data, ev.id);
            if (memcmp(id, zero, 16) != 0 && memcmp(id, ev.id, 16) != 0)
                violation(st, "%s: version %" PRId64 " is not the acknowledged event", stream,
                          ev.version);
            if (ev.data_len != len || memcmp(ev.data, data, len) != 0)
                violation(st, "%s: version %" PRId64 ": data is not the appended bytes", stream,
                          ev.version);
        }
    }
    if (rc < 0)
        violation(st, "%s: read failed: %s", stream, evs_errmsg());
    if (!meta.deleted && want <= info.last_version)
        violation(st, "%s: read stopped at version %" PRId64 " of %" PRId64, stream, want - 1,
                  info.last_version);
    evs_cursor_close(c);
}

static void check_store(trial_state *st)
{
    evs_options o = tu_fast_options();
    evs_store *s;
    if (evs_open(&s, st->dir, &o) != 0) {
        violation(st, "reopen failed: %s", evs_errmsg());
        return;
    }
    for (uint32_t k = 0; k < STREAMS; k++)
        check_stream(st, s, k);
    if (evs_verify(NULL, s, NULL, NULL) != 0)
        violation(st, "verify: %s", evs_errmsg());
    assert_evs_ok(evs_close(s));
}

static void take(trial_state *st, const msg *m)
{
    model_stream *ms = &st->ms[m->stream % STREAMS];
    if (m->kind == MSG_ACK) {
        for (uint32_t i = 0; i < m->count; i++) {
            int64_t v = m->first_version + i;
            if (v >= 0 && v < MAX_VER)
                memcpy(ms->ids[v], m->ids[i], 16);
            if (v > ms->acked_last)
                ms->acked_last = v;
        }
    } else if (m->kind == MSG_INTENT) {
        ms->intent = m->meta;
        ms->in_flight = true;
    } else {
        ms->done = m->meta;
        ms->in_flight = false;
    }
}

static void run_trial(trial_state *st, uint64_t *rng, long trial)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    uint64_t seed = rng_next(rng);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(st->dir, fds[1], seed);
    }
    close(fds[1]);
    struct timespec d = {0, (long)(rng_next(rng) % 50000) * 1000};
    nanosleep(&d, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        violation(st, "trial %ld: the writer ended on its own (status 0x%x)", trial, status);
    msg m;
    while (read(fds[0], &m, sizeof m) == (ssize_t)sizeof m)
        take(st, &m);
    close(fds[0]);
    check_store(st);
}

static void test_lifecycle_crash(void **state)
{
    (void)state;
    trial_state *st = calloc(1, sizeof *st);
    assert_non_null(st);
    for (int k = 0; k < STREAMS; k++) {
        st->ms[k].ids = calloc(MAX_VER, 16);
        assert_non_null(st->ms[k].ids);
        st->ms[k].acked_last = -1;
    }
    const char *env = getenv("EVS_LIFECYCLE_CRASH_TRIALS");
    long trials = env ? strtol(env, NULL, 10) : 25;
    const char *seed_env = getenv("EVS_TEST_SEED");
    uint64_t rng = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    if (!rng)
        rng = 1;
    printf("seed %" PRIu64 " (set EVS_TEST_SEED to replay)\n", rng);
    tu_tmpdir(st->dir, sizeof st->dir, "lc-crash");
    for (long t = 0; t < trials; t++)
        run_trial(st, &rng, t);
    int64_t events = 0;
    for (int k = 0; k < STREAMS; k++)
        events += st->ms[k].acked_last + 1;
    printf("%ld trials, %" PRId64 " acknowledged versions, %ld violations\n", trials, events,
           st->violations);
    tu_cleanup(st->dir);
    long v = st->violations;
    for (int k = 0; k < STREAMS; k++)
        free(st->ms[k].ids);
    free(st);
    assert_int_equal(v, 0);
}


/* ---- retention: segments dropped while the process dies ---------------------------- */

#define RT_MAX_POS 200000

typedef struct rt_ack {
    int64_t pos;
    unsigned char id[16];
} rt_ack;

/* Sessions of appends (open, 40 events, close) and drops (evs_retain by size), until
 * killed. Each acknowledged event goes over the pipe. */
static void retain_child(const char *dir, int fd, uint64_t seed)
{
    uint64_t rng = (seed * 1000003u) | 1;
    for (;;) {
        evs_options o = EVS_OPTIONS_INIT;
        o.sync_mode = (evs_sync_mode)(rng_next(&rng) % 3);
        o.segment_size = 64u << 10;
        evs_store *s;
        int rc = evs_open(&s, dir, &o);
        if (rc == EVS_EBUSY)
            continue;
        if (rc != 0)
            _exit(30);
        for (int i = 0; i < 40; i++) {
            rt_ack a;
            uint64_t r1 = rng_next(&rng), r2 = rng_next(&rng);
            memcpy(a.id, &r1, 8);
            memcpy(a.id + 8, &r2, 8);
            char data[80];
            evs_event_in ev;
            memset(&ev, 0, sizeof ev);
            ev.type = "E";
            ev.data = data;
            ev.data_len = data_for(data, sizeof data, a.id);
            ev.id = a.id;
            char stream[16];
            snprintf(stream, sizeof stream, "rt-%u", (unsigned)(r1 % 5));
            evs_append_result res;
            if (evs_append(&res, s, stream, EVS_EXPECT_ANY, &ev, 1) != 0) {
                fprintf(stderr, "append: %s\n", evs_errmsg());
                _exit(31);
            }
            a.pos = res.first_pos;
            if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
                _exit(32);
        }
        if (evs_close(s) != 0)
            _exit(33);
        evs_retain_opts ro = EVS_RETAIN_OPTS_INIT;
        ro.max_bytes = (int64_t)(100 + rng_next(&rng) % 200) << 10;
        evs_retain_report rep;
        rc = evs_retain(&rep, dir, &ro);
        if (rc != 0) {
            fprintf(stderr, "retain: %s\n", evs_errmsg());
            _exit(34);
        }
    }
}

typedef struct rt_state {
    char dir[4096];
    unsigned char (*ids)[16]; /* by position; zero when not acknowledged */
    int64_t start;            /* the start seen after the last trial */
    long violations;
} rt_state;

static void rt_check(rt_state *st)
{
    evs_options o = tu_fast_options();
    evs_store *s;
    if (evs_open(&s, st->dir, &o) != 0) {
        fprintf(stderr, "VIOLATION: reopen failed: %s\n", evs_errmsg());
        st->violations++;
        return;
    }
    evs_stat_info info;
    assert_evs_ok(evs_stat(&info, s));
    int64_t start = info.first_pos > 0 ? info.first_pos : 1;
    if (start < st->start) {
        fprintf(stderr, "VIOLATION: the start went back from %" PRId64 " to %" PRId64 "\n",
                st->start, start);
        st->violations++;
    }
    st->start = start;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int rc;
    int64_t want = start;
    static const unsigned char zero[16];
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (ev.pos != want) {
            fprintf(stderr, "VIOLATION: position %" PRId64 " where %" PRId64 " was due\n",
                    ev.pos, want);
            st->violations++;
        }
        want = ev.pos + 1;
        char data[80];
        size_t len = data_for(data, sizeof data, ev.id);
        if (ev.data_len != len || memcmp(ev.data, data, len) != 0 ||
            (ev.pos < RT_MAX_POS && memcmp(st->ids[ev.pos], zero, 16) != 0 &&
             memcmp(st->ids[ev.pos], ev.id, 16) != 0)) {
            fprintf(stderr, "VIOLATION: position %" PRId64 " is not the acknowledged event\n",
                    ev.pos);
            st->violations++;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "VIOLATION: read: %s\n", evs_errmsg());
        st->violations++;
    }
    evs_cursor_close(c);
    /* Every acknowledged event from the start on is there. */
    for (int64_t p = start; p < RT_MAX_POS; p++)
        if (memcmp(st->ids[p], zero, 16) != 0 && p >= want) {
            fprintf(stderr, "VIOLATION: acknowledged position %" PRId64 " is missing\n", p);
            st->violations++;
            break;
        }
    if (evs_verify(NULL, s, NULL, NULL) != 0) {
        fprintf(stderr, "VIOLATION: verify: %s\n", evs_errmsg());
        st->violations++;
    }
    assert_evs_ok(evs_close(s));
}

static void test_retain_crash(void **state)
{
    (void)state;
    rt_state *st = calloc(1, sizeof *st);
    assert_non_null(st);
    st->ids = calloc(RT_MAX_POS, 16);
    assert_non_null(st->ids);
    st->start = 1;
    const char *env = getenv("EVS_LIFECYCLE_CRASH_TRIALS");
    long trials = env ? strtol(env, NULL, 10) : 25;
    const char *seed_env = getenv("EVS_TEST_SEED");
    uint64_t rng = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    if (!rng)
        rng = 1;
    printf("seed %" PRIu64 " (set EVS_TEST_SEED to replay)\n", rng);
    tu_tmpdir(st->dir, sizeof st->dir, "rt-crash");
    long dropped_trials = 0;
    for (long t = 0; t < trials; t++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        uint64_t seed = rng_next(&rng);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            retain_child(st->dir, fds[1], seed);
        }
        close(fds[1]);
        struct timespec d = {0, (long)(rng_next(&rng) % 200000) * 1000};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            fprintf(stderr, "VIOLATION: trial %ld: the process ended on its own (0x%x)\n", t,
                    status);
            st->violations++;
        }
        rt_ack a;
        while (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a)
            if (a.pos > 0 && a.pos < RT_MAX_POS)
                memcpy(st->ids[a.pos], a.id, 16);
        close(fds[0]);
        int64_t before = st->start;
        rt_check(st);
        dropped_trials += st->start > before;
    }
    printf("%ld trials, log start %" PRId64 " (moved in %ld trials), %ld violations\n", trials,
           st->start, dropped_trials, st->violations);
    tu_cleanup(st->dir);
    long v = st->violations;
    free(st->ids);
    free(st);
    assert_int_equal(v, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lifecycle_crash),
                                       cmocka_unit_test(test_retain_crash)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
