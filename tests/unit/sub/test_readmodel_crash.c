/*
 * test_readmodel_crash.c - a read model whose process is killed with SIGKILL at random
 * moments, restarted each time, while the store keeps growing.
 *
 * The read model (push form, saving every few ms) sums amounts per account and chains
 * a hash over the positions it applied, in order: a duplicate, a gap or a reordering
 * in the saved state changes the hash. After every kill the state file must open (a
 * kill never leaves it damaged) and hold exactly the model of the events up to its
 * position, as this test recomputes it from the log. At the end a last run catches up
 * and the state equals the model of the whole log; the handler's own log of the
 * positions it was handed shows every event reached a handler at least once (the
 * redeliveries after kills are counted and printed).
 *
 * Children never use the parent's store handle, and leave only by SIGKILL or _exit with
 * a code naming what failed.
 */
#include "testutil.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#define ACCOUNTS 10
#define ROUNDS   16
#define INITIAL  "{\"n\":0,\"h\":\"0000000000000000\",\"sum\":[0,0,0,0,0,0,0,0,0,0]}"

typedef struct model {
    long long n; /* events applied */
    uint64_t h;  /* h * 1000003 + pos, over the events applied, in order */
    long long sum[ACCOUNTS];
    char json[512];
    int seen_fd;   /* positions handed to the handler are appended here; -1 none */
    long delay_us; /* per event, to give the kills something to interrupt */
} model;

static void model_reset(model *m)
{
    memset(m->sum, 0, sizeof m->sum);
    m->n = 0;
    m->h = 0;
}

static int apply(void *user, const evs_event *ev)
{
    model *m = user;
    if (m->seen_fd >= 0 && write(m->seen_fd, &ev->pos, sizeof ev->pos) != sizeof ev->pos)
        return -1;
    char num[32];
    if (ev->stream_len != 5 || ev->data_len >= sizeof num)
        return -2;
    memcpy(num, ev->data, ev->data_len);
    num[ev->data_len] = '\0';
    m->sum[ev->stream[4] - '0'] += strtoll(num, NULL, 10);
    m->n++;
    m->h = m->h * 1000003u + (uint64_t)ev->pos;
    if (m->delay_us) {
        struct timespec ts = {0, m->delay_us * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int dump(void *user, const char **json, size_t *len)
{
    model *m = user;
    int n = snprintf(m->json, sizeof m->json, "{\"n\":%lld,\"h\":\"%016llx\",\"sum\":[", m->n,
                     (unsigned long long)m->h);
    for (int i = 0; i < ACCOUNTS; i++)
        n += snprintf(m->json + n, sizeof m->json - (size_t)n, "%s%lld", i ? "," : "", m->sum[i]);
    n += snprintf(m->json + n, sizeof m->json - (size_t)n, "]}");
    *json = m->json;
    *len = (size_t)n;
    return 0;
}

/* Rebuild the in-memory model from a saved state. */
static bool restore(model *m, const char *json, size_t len)
{
    char buf[512];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, json, len);
    buf[len] = '\0';
    unsigned long long h;
    long long *s = m->sum;
    int got =
        sscanf(buf,
               "{\"n\":%lld,\"h\":\"%llx\",\"sum\":[%lld,%lld,%lld,%lld,%lld,%lld,%lld,"
               "%lld,%lld,%lld]}",
               &m->n, &h, &s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7], &s[8], &s[9]);
    m->h = h;
    return got == 12;
}

static evs_query accounts_only(void)
{
    evs_query q = EVS_QUERY_INIT;
    q.category = "acc";
    return q;
}

/* Open the read model and start pushing into m. Returns a code for _exit on failure. */
static int start_projection(evs_store *s, const char *state_path, model *m, evs_push **p)
{
    evs_state *st;
    if (evs_state_open(&st, state_path, 1, INITIAL, strlen(INITIAL), 0) < 0)
        return 21;
    evs_readmodel *rm;
    evs_query q = accounts_only();
    if (evs_readmodel_open(&rm, s, "ledger", &q, st) < 0)
        return 22;
    evs_state_info info;
    evs_state_get(&info, evs_readmodel_state(rm));
    model_reset(m);
    if (!restore(m, info.json, info.json_len)) {
        evs_readmodel_close(rm);
        return 23;
    }
    return evs_push_readmodel(p, rm, apply, dump, m, 10) < 0 ? 24 : 0;
}

/* `ready_fd` gets one byte once the projection runs. */
static void child(const char *dir, const char *state_path, const char *seen_path, int ready_fd)
{
    evs_options o = tu_fast_options();
    evs_store *s;
    if (evs_open(&s, dir, &o) < 0)
        _exit(20);
    static model m;
    m.seen_fd = open(seen_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    m.delay_us = 20;
    if (m.seen_fd < 0)
        _exit(25);
    evs_push *p;
    int code = start_projection(s, state_path, &m, &p);
    if (code) {
        fprintf(stderr, "child: %s\n", evs_errmsg());
        _exit(code);
    }
    if (write(ready_fd, "r", 1) != 1)
        _exit(27);
    for (;;) {
        int rc = evs_push_wait(p, INT64_MAX, 50);
        if (rc < 0) {
            fprintf(stderr, "child: %s\n", evs_errmsg());
            _exit(26);
        }
    }
}

static void append_events(evs_store *s, int first, int count)
{
    for (int i = first; i < first + count; i += 5) {
        evs_event_in ev[5];
        char data[5][16];
        for (int k = 0; k < 5; k++) {
            snprintf(data[k], sizeof data[k], "%d", (i + k) * 7919 % 1000 - 500);
            ev[k] = tu_event("Amount", data[k]);
        }
        char stream[8];
        snprintf(stream, sizeof stream, "acc-%d", i / 5 % ACCOUNTS);
        assert_evs_ok(evs_append(NULL, s, stream, EVS_EXPECT_ANY, ev, 5));
        if (i % 35 == 0) /* something the read model's filter passes over */
            tu_append1(s, "noise-1", "Other", "0");
    }
}

/* The model of the account events up to pos, recomputed from the log. */
static void reference(evs_store *s, int64_t pos, char *json, size_t cap)
{
    model m;
    memset(&m, 0, sizeof m);
    m.seen_fd = -1;
    evs_query q = accounts_only();
    q.to_pos = pos;
    evs_cursor *c;
    if (pos > 0) {
        assert_evs_ok(evs_cursor_open(&c, s, &q));
        evs_event ev;
        int rc;
        while ((rc = evs_cursor_next(&ev, c)) > 0)
            assert_int_equal(apply(&m, &ev), 0);
        assert_evs(0, rc);
        evs_cursor_close(c);
    }
    const char *j;
    size_t len;
    dump(&m, &j, &len);
    assert_true(len < cap);
    memcpy(json, j, len);
    json[len] = '\0';
}

/* The saved state must be exactly the model of the log up to its position. */
static int64_t check_state(evs_store *s, const char *state_path)
{
    evs_state *st;
    assert_evs_ok(evs_state_open(&st, state_path, 1, INITIAL, strlen(INITIAL), 0));
    evs_state_info info;
    evs_state_get(&info, st);
    char want[512], got[512];
    reference(s, info.pos, want, sizeof want);
    assert_true(info.json_len < sizeof got);
    memcpy(got, info.json, info.json_len);
    got[info.json_len] = '\0';
    if (strcmp(got, want) != 0)
        print_error("state at %" PRId64 ": %s\nlog says: %s\n", info.pos, got, want);
    assert_string_equal(got, want);
    evs_state_close(st);
    return info.pos;
}

static void test_sigkill_random_moments(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    char state_path[4300], seen_path[4300];
    tu_beside(state_path, sizeof state_path, f->dir, ".state");
    tu_beside(seen_path, sizeof seen_path, f->dir, ".seen");
    int next = 0;
    append_events(f->s, next, 1500);
    next += 1500;
    int64_t progress[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child(f->dir, state_path, seen_path, ready[1]);
        /* A quarter of the kills land while the child starts (opening the store, the
         * consumer, the state file); the rest while it applies events. */
        char b;
        if (round % 4 != 0)
            assert_int_equal(read(ready[0], &b, 1), 1);
        tu_sleep_ms((int)tu_rnd_below(round % 4 ? 60 : 30));
        if (round % 2) { /* the log grows while the read model runs */
            append_events(f->s, next, 100);
            next += 100;
        }
        kill(pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0)
            ;
        if (!WIFSIGNALED(status))
            print_error("round %d: the child exited with %d\n", round, WEXITSTATUS(status));
        assert_true(WIFSIGNALED(status));
        close(ready[0]);
        close(ready[1]);
        progress[round] = check_state(f->s, state_path);
    }

    /* A last run, to the end of the log. */
    static model m;
    m.seen_fd = open(seen_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(m.seen_fd >= 0);
    evs_push *p;
    assert_int_equal(start_projection(f->s, state_path, &m, &p), 0);
    int64_t head = evs_head(f->s);
    assert_evs(1, evs_push_wait(p, head, 20000));
    assert_evs_ok(evs_push_close(NULL, p));
    close(m.seen_fd);
    assert_int_equal(check_state(f->s, state_path), head);

    /* Every account event was handed to a handler at least once. */
    FILE *fp = fopen(seen_path, "rb");
    assert_non_null(fp);
    unsigned char *times = calloc((size_t)head + 1, 1);
    assert_non_null(times);
    int64_t pos;
    long handed = 0;
    while (fread(&pos, sizeof pos, 1, fp) == 1) {
        assert_true(pos >= 1 && pos <= head);
        if (times[pos] < 255)
            times[pos]++;
        handed++;
    }
    fclose(fp);
    long account_events = 0, again = 0;
    evs_query q = accounts_only();
    evs_cursor *c;
    assert_evs_ok(evs_cursor_open(&c, f->s, &q));
    evs_event ev;
    while (evs_cursor_next(&ev, c) > 0) {
        if (times[ev.pos] == 0)
            print_error("event %" PRId64 " never reached a handler\n", ev.pos);
        assert_true(times[ev.pos] > 0);
        again += times[ev.pos] - 1;
        account_events++;
    }
    evs_cursor_close(c);
    free(times);
    print_message("%d kills; state positions after them:", ROUNDS);
    for (int i = 0; i < ROUNDS; i++)
        print_message(" %" PRId64, progress[i]);
    print_message("\n%ld account events, %ld handler calls, %ld redeliveries after kills\n",
                  account_events, handed, again);
    assert_int_equal(account_events, next);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigkill_random_moments, tu_setup_open, tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
