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
 */
#include "sub_internal.h"

#include <inttypes.h>

struct evs_subscription {
    evs_store *store;
    evs_cursor *cur;
    int64_t position; /* every match at or below this has been handed out */
};

/* The filter as given, with the start position and the checks a subscription adds. */
static int make_query(evs_query *q, const evs_query *filter, int64_t from_pos, const char *fn)
{
    const evs_query all = EVS_QUERY_INIT;
    *q = filter ? *filter : all;
    if (q->version != EVS_QUERY_VERSION)
        return evs__seterr(EVS_EINVAL,
                           "%s: filter version %u is not %u; start from "
                           "EVS_QUERY_INIT",
                           fn, q->version, EVS_QUERY_VERSION);
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

int evs__subscription_next(evs_subscription *sub, evs_event *out, int timeout_ms)
{
    int64_t deadline = timeout_ms > 0 ? evs__monotonic_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        int64_t head = evs_head(sub->store);
        int rc = evs_cursor_next(sub->cur, out);
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
        rc = evs_wait(sub->store, head, wait_ms, NULL);
        if (rc == EVS_ETIMEDOUT) {
            evs__clearerr();
            return 0;
        }
        if (rc < 0)
            return rc;
    }
}

int evs_subscription_next(evs_subscription *sub, evs_event *out, int timeout_ms)
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

void evs_subscription_close(evs_subscription *sub)
{
    if (!sub)
        return;
    evs_cursor_close(sub->cur);
    evs__free(sub);
}
