/*
 * test_sub_concurrent.c - subscriptions under concurrent appenders.
 *
 * Covers: several appender threads write batches to streams of three categories while
 * subscribers with different filters (none, types, category, prefix, one stream, types
 * and category together) read: pull subscribers started before the appends, push
 * subscribers started during them, pull subscribers started after them, and
 * EVS_FROM_END subscribers started during them. Each must see exactly the events its
 * filter selects - in position order, none missing, none twice - as computed by this
 * test's own matcher from what the appenders recorded. Then the catch-up -> live switch
 * under load: 20 rounds in which a subscriber (pull or push, alternately) starts at a
 * random moment while three threads append, and must see every position of the round
 * exactly once, in order.
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define APPENDERS    4
#define PER_APPENDER 300
#define TOTAL        (APPENDERS * PER_APPENDER)

static const char *const STREAMS[] = {"order-0", "order-1", "order-2", "user-0", "user-1",
                                      "user-2",  "acct-0",  "acct-1",  "acct-2", "orders-9"};
#define STREAM_COUNT (sizeof STREAMS / sizeof STREAMS[0])
static const char *const TYPES[] = {"A", "B", "C"};

/* What was appended at each position (1-based), filled in by the appenders. */
typedef struct written {
    const char *stream;
    const char *type;
} written;

static written log_[TOTAL + 1];

typedef struct appender {
    evs_store *s;
    unsigned seed;
    atomic_int *done_events; /* shared progress counter */
} appender;

static void *append_main(void *p)
{
    appender *a = p;
    int left = PER_APPENDER;
    while (left > 0) {
        int n = 1 + (int)(rand_r(&a->seed) % 4);
        if (n > left)
            n = left;
        const char *stream = STREAMS[rand_r(&a->seed) % STREAM_COUNT];
        evs_event_in ev[4];
        const char *types[4];
        for (int i = 0; i < n; i++) {
            types[i] = TYPES[rand_r(&a->seed) % 3];
            ev[i] = tu_event(types[i], "{}");
        }
        evs_append_result r;
        assert_evs_ok(evs_append(&r, a->s, stream, EVS_EXPECT_ANY, ev, (size_t)n));
        assert_int_equal(r.last_pos - r.first_pos + 1, n);
        for (int i = 0; i < n; i++) /* each position is written by one thread only */
            log_[r.first_pos + i] = (written){stream, types[i]};
        atomic_fetch_add(a->done_events, n);
        left -= n;
    }
    return NULL;
}

/* ---- filters, and this test's own idea of what they select ---------------------------- */

typedef struct filter {
    const char *name;
    const char *types[2];
    size_t type_count;
    const char *category, *prefix, *stream;
} filter;

static const filter FILTERS[] = {
    {"everything", {NULL, NULL}, 0, NULL, NULL, NULL},
    {"types A,C", {"A", "C"}, 2, NULL, NULL, NULL},
    {"category order", {NULL, NULL}, 0, "order", NULL, NULL},
    {"prefix us", {NULL, NULL}, 0, NULL, "us", NULL},
    {"stream acct-2", {NULL, NULL}, 0, NULL, NULL, "acct-2"},
    {"type B in category user", {"B", NULL}, 1, "user", NULL, NULL},
};
#define FILTER_COUNT (sizeof FILTERS / sizeof FILTERS[0])

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool selects(const filter *f, const written *w)
{
    if (f->type_count) {
        bool any = false;
        for (size_t i = 0; i < f->type_count; i++)
            any |= strcmp(w->type, f->types[i]) == 0;
        if (!any)
            return false;
    }
    if (f->category) {
        size_t n = strlen(f->category);
        if (strncmp(w->stream, f->category, n) != 0 || (w->stream[n] && w->stream[n] != '-'))
            return false;
    }
    if (f->prefix && !starts_with(w->stream, f->prefix))
        return false;
    if (f->stream && strcmp(w->stream, f->stream) != 0)
        return false;
    return true;
}

static evs_query to_query(const filter *f)
{
    evs_query q = EVS_QUERY_INIT;
    q.types = f->type_count ? f->types : NULL;
    q.type_count = f->type_count;
    q.category = f->category;
    q.prefix = f->prefix;
    q.stream = f->stream;
    return q;
}

/* ---- what a subscriber saw ------------------------------------------------------------- */

typedef struct seen {
    int64_t pos[TOTAL];
    char stream[TOTAL][12];
    char type[TOTAL][2];
    int count;
} seen;

static void note(seen *s, const evs_event *ev)
{
    assert_true(s->count < TOTAL); /* more than was ever written: duplicates */
    s->pos[s->count] = ev->pos;
    assert_true(ev->stream_len < sizeof s->stream[0] && ev->type_len == 1);
    memcpy(s->stream[s->count], ev->stream, ev->stream_len);
    s->stream[s->count][ev->stream_len] = '\0';
    s->type[s->count][0] = ev->type[0];
    s->count++;
}

static void check(const seen *s, const filter *f, int64_t after, const char *how)
{
    int i = 0;
    for (int64_t p = after + 1; p <= TOTAL; p++) {
        if (!selects(f, &log_[p]))
            continue;
        if (i >= s->count || s->pos[i] != p)
            print_error(
                "%s subscriber, filter '%s': event %d is %" PRId64 ", want %" PRId64 " (%s %s)\n",
                how, f->name, i, i < s->count ? s->pos[i] : -1, p, log_[p].stream, log_[p].type);
        assert_true(i < s->count);
        assert_int_equal(s->pos[i], p);
        assert_string_equal(s->stream[i], log_[p].stream);
        assert_int_equal(s->type[i][0], log_[p].type[0]);
        i++;
    }
    if (i != s->count)
        print_error("%s subscriber, filter '%s': %d extra events\n", how, f->name, s->count - i);
    assert_int_equal(i, s->count);
}

/* A pull subscriber on its own thread, reading until told the final head and past it. */
typedef struct puller {
    evs_subscription *sub;
    seen got;
    atomic_llong final_head; /* 0 until the appenders are done */
} puller;

static void *pull_main(void *p)
{
    puller *pl = p;
    for (;;) {
        evs_event ev;
        int rc = evs_subscription_next(&ev, pl->sub, 20);
        assert_true(rc >= 0);
        if (rc == 1) {
            note(&pl->got, &ev);
            continue;
        }
        int64_t final = atomic_load(&pl->final_head);
        if (final && evs_subscription_position(pl->sub) >= final)
            return NULL;
    }
}

static int push_note(void *user, const evs_event *ev)
{
    note(user, ev);
    return 0;
}

static void test_filters_under_concurrent_appends(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    static puller before[FILTER_COUNT];
    static seen during[FILTER_COUNT], after_[FILTER_COUNT];
    static puller tail[2];
    memset(before, 0, sizeof before);
    memset(during, 0, sizeof during);
    memset(after_, 0, sizeof after_);
    memset(tail, 0, sizeof tail);
    pthread_t pull_threads[FILTER_COUNT + 2];

    for (size_t i = 0; i < FILTER_COUNT; i++) {
        evs_query q = to_query(&FILTERS[i]);
        assert_evs_ok(evs_subscribe(&before[i].sub, f->s, &q, EVS_FROM_START));
        assert_int_equal(pthread_create(&pull_threads[i], NULL, pull_main, &before[i]), 0);
    }

    atomic_int done_events = 0;
    appender ap[APPENDERS];
    pthread_t ap_threads[APPENDERS];
    for (int i = 0; i < APPENDERS; i++) {
        ap[i] = (appender){f->s, (unsigned)tu_rnd(), &done_events};
        assert_int_equal(pthread_create(&ap_threads[i], NULL, append_main, &ap[i]), 0);
    }

    /* During: push subscribers from the start, and two pull subscribers from the end. */
    while (atomic_load(&done_events) < TOTAL / 3)
        tu_sleep_ms(1);
    evs_push *pushers[FILTER_COUNT];
    for (size_t i = 0; i < FILTER_COUNT; i++) {
        evs_query q = to_query(&FILTERS[i]);
        evs_subscription *sub;
        assert_evs_ok(evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
        assert_evs_ok(evs_push_subscription(&pushers[i], sub, push_note, &during[i]));
    }
    int64_t tail_start[2];
    for (int i = 0; i < 2; i++) {
        evs_query q = to_query(&FILTERS[i * 2]);
        assert_evs_ok(evs_subscribe(&tail[i].sub, f->s, &q, EVS_FROM_END));
        tail_start[i] = evs_subscription_position(tail[i].sub);
        assert_int_equal(pthread_create(&pull_threads[FILTER_COUNT + i], NULL, pull_main, &tail[i]),
                         0);
    }

    for (int i = 0; i < APPENDERS; i++)
        pthread_join(ap_threads[i], NULL);
    assert_int_equal(evs_head(f->s), TOTAL);
    for (size_t i = 0; i < FILTER_COUNT; i++)
        atomic_store(&before[i].final_head, TOTAL);
    for (int i = 0; i < 2; i++)
        atomic_store(&tail[i].final_head, TOTAL);
    for (size_t i = 0; i < FILTER_COUNT + 2; i++)
        pthread_join(pull_threads[i], NULL);
    for (size_t i = 0; i < FILTER_COUNT; i++) {
        assert_evs(1, evs_push_wait(pushers[i], TOTAL, 10000));
        assert_evs_ok(evs_push_close(NULL, pushers[i]));
    }

    /* After: catch-up only, then nothing more. */
    for (size_t i = 0; i < FILTER_COUNT; i++) {
        evs_query q = to_query(&FILTERS[i]);
        evs_subscription *sub;
        assert_evs_ok(evs_subscribe(&sub, f->s, &q, EVS_FROM_START));
        evs_event ev;
        int rc;
        while ((rc = evs_subscription_next(&ev, sub, 0)) == 1)
            note(&after_[i], &ev);
        assert_evs(0, rc);
        evs_subscription_close(sub);
    }

    for (size_t i = 0; i < FILTER_COUNT; i++) {
        check(&before[i].got, &FILTERS[i], 0, "before");
        check(&during[i], &FILTERS[i], 0, "push, during");
        check(&after_[i], &FILTERS[i], 0, "after");
        evs_subscription_close(before[i].sub);
    }
    for (int i = 0; i < 2; i++) {
        check(&tail[i].got, &FILTERS[i * 2], tail_start[i], "from-end, during");
        evs_subscription_close(tail[i].sub);
    }
    /* The filters were not all trivially empty or full. */
    assert_true(after_[4].count > 0 && after_[4].count < TOTAL / 4);
    assert_int_equal(after_[0].count, TOTAL);
}

/* ---- catch-up -> live under load ------------------------------------------------------- */

#define ROUND_APPENDERS 3
#define ROUND_EVENTS    100 /* per appender */

typedef struct round_appender {
    evs_store *s;
    unsigned seed;
} round_appender;

static void *round_append_main(void *p)
{
    round_appender *a = p;
    for (int left = ROUND_EVENTS; left > 0;) {
        int n = 1 + (int)(rand_r(&a->seed) % 3);
        n = n > left ? left : n;
        evs_event_in ev[3];
        for (int i = 0; i < n; i++)
            ev[i] = tu_event("R", "{}");
        assert_evs_ok(evs_append(NULL, a->s, "round-1", EVS_EXPECT_ANY, ev, (size_t)n));
        left -= n;
    }
    return NULL;
}

typedef struct sequence {
    int64_t next; /* the position expected next */
    int64_t last; /* the round's last position */
    bool broken;
} sequence;

static int expect_next(void *user, const evs_event *ev)
{
    sequence *q = user;
    if (ev->pos != q->next) {
        print_error("got position %" PRId64 ", want %" PRId64 "\n", ev->pos, q->next);
        q->broken = true;
        return 1;
    }
    q->next++;
    return 0;
}

static void test_catch_up_to_live_under_load(void **state)
{
    tu_fixture *f = *state;
    tu_seed_rng();
    int64_t t0 = tu_mono_ms();
    for (int round = 0; round < 20; round++) {
        int64_t start = evs_head(f->s);
        round_appender ap[ROUND_APPENDERS];
        pthread_t th[ROUND_APPENDERS];
        for (int i = 0; i < ROUND_APPENDERS; i++) {
            ap[i] = (round_appender){f->s, (unsigned)tu_rnd()};
            assert_int_equal(pthread_create(&th[i], NULL, round_append_main, &ap[i]), 0);
        }
        tu_sleep_ms((int)tu_rnd_below(6));
        sequence q = {start + 1, start + ROUND_APPENDERS * ROUND_EVENTS, false};
        evs_subscription *sub;
        assert_evs_ok(evs_subscribe(&sub, f->s, NULL, start + 1));
        if (round % 2 == 0) {
            evs_push *p;
            assert_evs_ok(evs_push_subscription(&p, sub, expect_next, &q));
            for (int i = 0; i < ROUND_APPENDERS; i++)
                pthread_join(th[i], NULL);
            assert_evs(1, evs_push_wait(p, q.last, 10000));
            assert_evs_ok(evs_push_close(NULL, p));
        } else {
            evs_event ev;
            while (q.next <= q.last && !q.broken) {
                assert_evs(1, evs_subscription_next(&ev, sub, 5000));
                expect_next(&q, &ev);
            }
            for (int i = 0; i < ROUND_APPENDERS; i++)
                pthread_join(th[i], NULL);
            assert_evs(0, evs_subscription_next(&ev, sub, 0)); /* nothing twice */
            evs_subscription_close(sub);
        }
        assert_false(q.broken);
        assert_int_equal(q.next, q.last + 1);
    }
    print_message("20 rounds of 3 x %d appends with a subscriber joining: %" PRId64 " ms\n",
                  ROUND_EVENTS, tu_mono_ms() - t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filters_under_concurrent_appends, tu_setup_open,
                                        tu_teardown),
        cmocka_unit_test_setup_teardown(test_catch_up_to_live_under_load, tu_setup_open,
                                        tu_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
