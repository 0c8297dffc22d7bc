/*
 * subscription.c - pull subscriptions: catch up on the stored events a filter selects,
 * then follow new ones as they are committed, in this or any other process.
 *
 * A subscription is a forward cursor plus evs_wait, nothing more. A forward cursor
 * already reads on past the head it saw when it was opened, so "catching up" and
 * "live" are the same loop: step the cursor; when it has nothing, sleep on the store's
 * futex until the head moves; step again. The cursor's own position is the only record
 * of what was handed out, so there is no hand-over from a catch-up reader to a live
 * feed, and no window in which an event could be missed or seen twice. Nothing is
 * buffered: the subscriber reads the log at its own pace (backpressure for free) and
 * the writer never waits for it.
 *
 * What to wait for. The cursor does not say how far it has scanned (a filter skips
 * events without handing them out), so each step first reads the head, H. A cursor
 * that returns 0 has scanned every committed event up to a head it read itself, which
 * is >= H (heads only grow). Waiting for "head > H" is therefore never too late (no
 * lost wake-up) and at worst one loop early, when events arrived between reading H and
 * the cursor's own look: the next step finds them or reads a newer H. No busy loop:
 * every wake-up means the head moved.
 *
 * Live subscriptions (evs_subscribe_live) add one rule before each step: when the head
 * is more than max_lag positions past what the subscription has passed, the cursor is
 * reopened at head - max_lag + 1 and the positions in between count as skipped. The
 * positions below the new start were either handed out or never will be, so nothing
 * is handed out twice; re-scanning a few non-matching events the old cursor had
 * already passed is harmless.
 */
#include "query.h"
#include "sub_internal.h"

#include <inttypes.h>
#include <stdio.h>

struct evs_subscription {
    evs_store *store;
    evs_cursor *cur;
    int64_t position; /* every match at or below this has been handed out (or skipped) */
    int64_t max_lag;  /* live: the most backlog allowed, in positions; 0 = never skip */
    int64_t skipped;  /* live: positions jumped over */
    evs__filter filter; /* live: the filter, to reopen the cursor further on */
};

/* The filter as given, with the start position and the checks a subscription adds. */
static int make_query(evs_query *q, const evs_query *filter, int64_t from_pos, const char *fn)
{
    char what[64];
    (void)snprintf(what, sizeof what, "%s: filter", fn);
    int rc = evs__query_adopt(q, filter, what);
    if (rc < 0)
        return rc;
    if (q->direction != EVS_FORWARD)
        return evs__seterr(EVS_EINVAL, "%s: filter direction must be EVS_FORWARD", fn);
    if (q->to_pos != 0 || q->limit != 0)
        return evs__seterr(EVS_EINVAL,
                           "%s: filter to_pos (%" PRId64 ") and limit (%" PRIu64
                           ") must be 0: a subscription does not end",
                           fn, q->to_pos, q->limit);
    if (from_pos < EVS_FROM_END)
        return evs__seterr(EVS_EINVAL,
                           "%s: from_pos %" PRId64 " is not EVS_FROM_START, EVS_FROM_END "
                           "or a position",
                           fn, from_pos);
    q->from_pos = from_pos;
    return 0;
}

int evs__subscribe(evs_subscription **out, evs_store *store, const evs_query *filter,
                   int64_t from_pos, const char *fn)
{
    *out = NULL;
    int rc = evs__check_store(store, fn);
    evs_query q;
    if (rc == 0)
        rc = make_query(&q, filter, from_pos, fn);
    if (rc < 0)
        return rc;
    int64_t position = 0;
    if (from_pos == EVS_FROM_END) {
        position = evs_head(store);
        q.from_pos = position + 1;
    } else if (from_pos > 0) {
        position = from_pos - 1;
    }
    evs_subscription *sub = evs__calloc(1, sizeof *sub);
    if (!sub)
        return evs__seterr(EVS_ENOMEM, "%s: out of memory", fn);
    rc = evs_cursor_open(&sub->cur, store, &q);
    if (rc < 0) {
        evs__free(sub);
        return evs__prefixerr("%s", fn);
    }
    sub->store = store;
    sub->position = position;
    *out = sub;
    return 0;
}

int evs_subscribe(evs_subscription **out, evs_store *store, const evs_query *filter,
                  int64_t from_pos)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_subscribe: out is NULL");
    int rc = evs__subscribe(out, store, filter, from_pos, "evs_subscribe");
    if (rc == 0)
        evs__clearerr();
    return rc;
}

/* Whole milliseconds left until deadline_ns, rounded up so a wait never ends early. */
static int ms_left(int64_t deadline_ns)
{
    int64_t left = deadline_ns - evs__monotonic_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Live: leave everything up to head - max_lag behind, unseen. */
static int skip_ahead(evs_subscription *sub, int64_t head)
{
    int64_t to = head - sub->max_lag;
    evs_query q = sub->filter.q;
    q.from_pos = to + 1;
    evs_cursor *cur;
    int rc = evs_cursor_open(&cur, sub->store, &q);
    if (rc < 0)
        return evs__prefixerr("live subscription skipping to position %" PRId64, to + 1);
    evs_cursor_close(sub->cur);
    sub->cur = cur;
    sub->skipped += to - sub->position;
    sub->position = to;
    return 0;
}

evs_store *evs__subscription_store(const evs_subscription *sub)
{
    return sub->store;
}

int evs__subscription_next(evs_subscription *sub, evs_event *out, int timeout_ms)
{
    int64_t deadline = timeout_ms > 0 ? evs__monotonic_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        int64_t head = evs_head(sub->store);
        int rc;
        if (sub->max_lag > 0 && head - sub->position > sub->max_lag &&
            (rc = skip_ahead(sub, head)) < 0)
            return rc;
        rc = evs_cursor_next(out, sub->cur);
        if (rc > 0) {
            sub->position = out->pos;
            return 1;
        }
        if (rc < 0)
            return rc;
        if (head > sub->position)
            sub->position = head; /* scanned through it: see the top of the file */
        int wait_ms = -1;
        if (timeout_ms == 0 || (timeout_ms > 0 && (wait_ms = ms_left(deadline)) == 0))
            return 0;
        rc = evs_wait(NULL, sub->store, head, wait_ms);
        if (rc == EVS_ETIMEDOUT) {
            evs__clearerr();
            return 0;
        }
        if (rc < 0)
            return rc;
    }
}

int evs_subscription_next(evs_event *out, evs_subscription *sub, int timeout_ms)
{
    if (!sub || !out)
        return evs__seterr(EVS_EMISUSE, "evs_subscription_next: subscription or out is NULL");
    if (timeout_ms < -1)
        return evs__seterr(EVS_EINVAL,
                           "evs_subscription_next: timeout_ms %d is not -1, 0 or positive",
                           timeout_ms);
    int rc = evs__subscription_next(sub, out, timeout_ms);
    if (rc >= 0)
        evs__clearerr();
    return rc;
}

int64_t evs_subscription_position(const evs_subscription *sub)
{
    return sub ? sub->position : 0;
}

int evs_subscribe_live(evs_subscription **out, evs_store *store, const evs_query *filter,
                       int64_t max_lag)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_subscribe_live: out is NULL");
    *out = NULL;
    if (max_lag < 1)
        return evs__seterr(EVS_EINVAL,
                           "evs_subscribe_live: max_lag %" PRId64 " is not a number of "
                           "positions >= 1",
                           max_lag);
    evs_subscription *sub;
    int rc = evs__subscribe(&sub, store, filter, EVS_FROM_END, "evs_subscribe_live");
    if (rc < 0)
        return rc;
    /* Copied only now that the cursor has checked every field of it. */
    rc = evs__filter_copy(&sub->filter, filter);
    if (rc < 0) {
        evs_subscription_close(sub);
        return rc;
    }
    sub->max_lag = max_lag;
    *out = sub;
    evs__clearerr();
    return 0;
}

int64_t evs_subscription_skipped(const evs_subscription *sub)
{
    return sub ? sub->skipped : 0;
}

void evs_subscription_close(evs_subscription *sub)
{
    if (!sub)
        return;
    evs_cursor_close(sub->cur);
    evs__filter_free(&sub->filter);
    evs__free(sub);
}
