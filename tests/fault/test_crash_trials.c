/*
 * test_crash_trials.c - crash trials: a forked writer (several threads, random batch
 * sizes, random streams, random expected versions) reports every append it saw
 * acknowledged over a pipe and is killed with SIGKILL at a random moment; then the
 * store is reopened and checked, Jepsen-style:
 *   - every acknowledged event is there, at its acknowledged position, byte-identical;
 *   - no event id appears twice (an unacknowledged one may appear once);
 *   - positions are gap-free and stream versions contiguous in position order;
 *   - evs_verify passes.
 * The same store carries on from trial to trial, so recovery runs on top of recovery.
 *
 * EVS_CRASH_TRIALS sets the number of trials (default 200; `make crash-test` runs
 * 10,000) and EVS_TEST_SEED replays a run. The last line counts trials and violations.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define STREAMS   24
#define THREADS   3
#define MAX_BATCH 5
#define MAX_ACKED (1u << 20)

/* What the writer reports per acknowledged append (one pipe write, atomic). */
typedef struct ack_msg {
    int64_t first_pos;
    uint32_t count;
    uint32_t stream;
    unsigned char ids[MAX_BATCH][16];
} ack_msg;

typedef struct acked {
    int64_t pos;
    unsigned char id[16];
} acked;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The data of an event is a function of its id, so a reader can check it exactly. */
static size_t data_for(char *buf, size_t len, const unsigned char id[16])
{
    char text[37];
    evs_uuid_format(text, id);
    return (size_t)snprintf(buf, len, "{\"id\":\"%s\",\"pad\":\"%.*s\"}", text, (int)(id[0] % 64),
                            "0123456789abcdef0123456789abcdef0123456789abcdef"
                            "0123456789abcdef");
}

typedef struct writer_arg {
    evs_store *store;
    int pipe_fd;
    uint64_t seed;
} writer_arg;

static void *writer_thread(void *p)
{
    writer_arg *a = p;
    uint64_t rng = a->seed;
    char datas[MAX_BATCH][200];
    char stream[32];
    for (uint64_t n = 0;; n++) {
        uint32_t k = (uint32_t)(rng_next(&rng) % STREAMS);
        uint32_t count = 1 + (uint32_t)(rng_next(&rng) % MAX_BATCH);
        snprintf(stream, sizeof stream, "crash-%u", k);
        ack_msg m;
        memset(&m, 0, sizeof m);
        evs_event_in ev[MAX_BATCH];
        for (uint32_t i = 0; i < count; i++) {
            uint64_t r1 = rng_next(&rng), r2 = rng_next(&rng);
            memcpy(m.ids[i], &r1, 8);
            memcpy(m.ids[i] + 8, &r2, 8);
            m.ids[i][6] = (unsigned char)((m.ids[i][6] & 0x0f) | 0x40);
            m.ids[i][8] = (unsigned char)((m.ids[i][8] & 0x3f) | 0x80);
            memset(&ev[i], 0, sizeof ev[i]);
            ev[i].type = (r1 & 1) ? "Credited" : "Debited";
            ev[i].data = datas[i];
            ev[i].data_len = data_for(datas[i], sizeof datas[i], m.ids[i]);
            ev[i].id = m.ids[i];
        }
        /* Expected versions: any, the version just read (may race another thread and
         * conflict), or no_stream (conflicts once the stream exists). */
        int64_t expected = EVS_EXPECT_ANY;
        uint64_t how = rng_next(&rng) % 4;
        if (how == 1) {
            evs_stream_info info;
            if (evs_stream_get(&info, a->store, stream) == 0)
                expected = info.last_version;
        } else if (how == 2) {
            expected = EVS_EXPECT_NO_STREAM;
        }
        evs_append_result r;
        int rc = evs_append(&r, a->store, stream, expected, ev, count);
        if (rc == EVS_ECONFLICT)
            continue;
        if (rc != 0)
            _exit(20);
        m.first_pos = r.first_pos;
        m.count = count;
        m.stream = k;
        if (write(a->pipe_fd, &m, sizeof m) != (ssize_t)sizeof m)
            _exit(21);
    }
    return NULL;
}

static void writer_main(const char *dir, int pipe_fd, uint64_t seed, evs_sync_mode mode)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = mode;
    o.segment_size = 64u << 10; /* rolls often: crashes land around them too */
    evs_store *s;
    if (evs_open(&s, dir, &o) != 0)
        _exit(10);
    pthread_t t[THREADS];
    writer_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (writer_arg){s, pipe_fd, seed * 1000003u + (uint64_t)i + 1};
        pthread_create(&t[i], NULL, writer_thread, &args[i]);
    }
    for (;;)
        pause(); /* until SIGKILL */
}

typedef struct trial_state {
    char dir[4096];
    acked *acks;
    size_t nacks;
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

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* Reopen the store and check it against every append acknowledged so far. */
static void check_store(trial_state *st)
{
    evs_options o = tu_fast_options();
    evs_store *s;
    int rc = evs_open(&s, st->dir, &o);
    if (rc != 0) {
        violation(st, "reopen failed: %s", evs_errmsg());
        return;
    }
    int64_t head = evs_head(s);
    unsigned char(*ids)[16] = malloc((size_t)(head + 1) * 16);
    int64_t versions[STREAMS];
    for (int k = 0; k < STREAMS; k++)
        versions[k] = -1;
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, s, NULL));
    evs_event ev;
    int64_t expect_pos = 1;
    while ((rc = evs_cursor_next(&ev, c)) > 0) {
        if (ev.pos != expect_pos)
            violation(st, "position %" PRId64 " follows %" PRId64, ev.pos, expect_pos - 1);
        expect_pos = ev.pos + 1;
        memcpy(ids[ev.pos], ev.id, 16);
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)ev.stream_len, ev.stream);
        unsigned k = (unsigned)strtoul(name + 6, NULL, 10); /* "crash-<k>" */
        if (k < STREAMS) {
            if (ev.version != versions[k] + 1)
                violation(st, "stream crash-%u: version %" PRId64 " follows %" PRId64, k,
                          ev.version, versions[k]);
            versions[k] = ev.version;
        }
        char want[200];
        size_t want_len = data_for(want, sizeof want, ev.id);
        if (ev.data_len != want_len || memcmp(ev.data, want, want_len) != 0)
            violation(st, "position %" PRId64 ": data is not the appended bytes", ev.pos);
    }
    if (rc < 0)
        violation(st, "read failed: %s", evs_errmsg());
    evs_cursor_close(c);
    if (expect_pos != head + 1)
        violation(st, "read %" PRId64 " events, head is %" PRId64, expect_pos - 1, head);
    /* Every acknowledged event at its acknowledged position. */
    for (size_t i = 0; i < st->nacks; i++) {
        const acked *a = &st->acks[i];
        if (a->pos > head || memcmp(ids[a->pos], a->id, 16) != 0)
            violation(st, "acknowledged position %" PRId64 " is %s", a->pos,
                      a->pos > head ? "missing" : "another event");
    }
    /* No id twice. */
    qsort(ids + 1, (size_t)head, 16, cmp_id);
    for (int64_t p = 2; p <= head; p++)
        if (memcmp(ids[p - 1], ids[p], 16) == 0)
            violation(st, "an event id appears twice");
    free(ids);
    if (evs_verify(NULL, s, NULL, NULL) != 0)
        violation(st, "verify: %s", evs_errmsg());
    assert_evs_ok(evs_close(s));
}

static void run_trial(trial_state *st, uint64_t *rng, long trial)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    evs_sync_mode mode = (evs_sync_mode)(rng_next(rng) % 3);
    uint64_t seed = rng_next(rng);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        writer_main(st->dir, fds[1], seed, mode);
    }
    close(fds[1]);
    /* Let it run 0..20 ms (0: killed while opening or recovering), then kill it. */
    struct timespec d = {0, (long)(rng_next(rng) % 20000) * 1000};
    nanosleep(&d, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        violation(st, "trial %ld: writer ended on its own (status 0x%x)", trial, status);
    ack_msg m;
    ssize_t n;
    while ((n = read(fds[0], &m, sizeof m)) == (ssize_t)sizeof m) {
        for (uint32_t i = 0; i < m.count && st->nacks < MAX_ACKED; i++) {
            st->acks[st->nacks].pos = m.first_pos + i;
            memcpy(st->acks[st->nacks].id, m.ids[i], 16);
            st->nacks++;
        }
    }
    close(fds[0]);
    check_store(st);
}

static void test_crash_trials(void **state)
{
    (void)state;
    trial_state *st = calloc(1, sizeof *st);
    assert_non_null(st);
    st->acks = malloc(MAX_ACKED * sizeof *st->acks);
    assert_non_null(st->acks);
    const char *env = getenv("EVS_CRASH_TRIALS");
    long trials = env ? strtol(env, NULL, 10) : 200;
    const char *seed_env = getenv("EVS_TEST_SEED");
    uint64_t rng = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    if (!rng)
        rng = 1;
    printf("seed %" PRIu64 " (set EVS_TEST_SEED to replay)\n", rng);
    long done = 0;
    for (long t = 0; t < trials; t++, done++) {
        if (t % 500 == 0) {
            /* A fresh store now and then keeps the checks fast. */
            if (st->dir[0])
                tu_cleanup(st->dir);
            tu_tmpdir(st->dir, sizeof st->dir, "crash");
            st->nacks = 0;
        }
        run_trial(st, &rng, t);
    }
    printf("%ld trials, %zu acknowledged events checked in the last store, %ld violations\n", done,
           st->nacks, st->violations);
    tu_cleanup(st->dir);
    long v = st->violations;
    free(st->acks);
    free(st);
    assert_int_equal(v, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_crash_trials)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
