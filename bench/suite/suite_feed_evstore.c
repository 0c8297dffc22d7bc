/*
 * suite_feed_evstore.c - W8's evstore feed: the appender calls evs_append (sync mode
 * none, one event per call, 10,000 streams in turn) and the subscriber is
 * evs_subscribe from the end + evs_subscription_next, which sleeps on the store's
 * futex until a commit wakes it. In one process the subscriber shares the appender's
 * store handle, as threads of one program do; across processes each has its own.
 */
#include "evstore.h"
#include "suite.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct feed_reader {
    evs_store *s;
    evs_subscription *sub;
    int owns_store;
} feed_reader;

static int fail(const char *what, int rc)
{
    fprintf(stderr, "suite: evstore feed: %s: %s (%s)\n", what, evs_errname(rc), evs_errmsg());
    return SUITE_ERR;
}

static int open_store(evs_store **s, const char *dir, unsigned flags)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.flags = flags;
    int rc = evs_open(s, dir, &o);
    return rc < 0 ? fail("open", rc) : SUITE_OK;
}

static int fe_prepare(const char *dir)
{
    evs_store *s;
    if (open_store(&s, dir, EVS_OPEN_EXCLUSIVE_CREATE) != SUITE_OK)
        return SUITE_ERR;
    int rc = evs_close(s);
    return rc < 0 ? fail("close", rc) : SUITE_OK;
}

static void fe_cleanup(const char *dir)
{
    suite_rmtree(dir);
}

static int fe_writer_open(void **w, const char *dir)
{
    return open_store((evs_store **)w, dir, EVS_OPEN_NOCREATE);
}

static int fe_write(void *w, uint64_t i, int64_t sent_ns)
{
    char stream[24], data[256];
    snprintf(stream, sizeof stream, "order-%u", (unsigned)(i % SUITE_STREAMS));
    size_t len = suite_feed_payload(data, sizeof data, i, sent_ns);
    evs_event_in ev = {SUITE_EVENT_TYPE, data, len, NULL, 0, NULL, 0};
    int rc = evs_append(NULL, w, stream, EVS_EXPECT_ANY, &ev, 1);
    return rc < 0 ? fail("append", rc) : SUITE_OK;
}

static void fe_writer_close(void *w)
{
    int rc = evs_close(w);
    if (rc < 0)
        fail("close", rc);
}

static int subscribe(feed_reader *r)
{
    int rc = evs_subscribe(&r->sub, r->s, NULL, EVS_FROM_END);
    return rc < 0 ? fail("subscribe", rc) : SUITE_OK;
}

static int fe_reader_open(void **out, const char *dir)
{
    feed_reader *r = calloc(1, sizeof *r);
    if (!r || open_store(&r->s, dir, EVS_OPEN_NOCREATE) != SUITE_OK) {
        free(r);
        return SUITE_ERR;
    }
    r->owns_store = 1;
    if (subscribe(r) != SUITE_OK) {
        evs_close(r->s);
        free(r);
        return SUITE_ERR;
    }
    *out = r;
    return SUITE_OK;
}

static int fe_reader_open_shared(void **out, void *w)
{
    feed_reader *r = calloc(1, sizeof *r);
    if (!r)
        return SUITE_ERR;
    r->s = w;
    if (subscribe(r) != SUITE_OK) {
        free(r);
        return SUITE_ERR;
    }
    *out = r;
    return SUITE_OK;
}

static int fe_read(void *p, int64_t *sent_ns, int timeout_ms)
{
    feed_reader *r = p;
    evs_event e;
    int rc = evs_subscription_next(&e, r->sub, timeout_ms);
    if (rc < 0)
        return fail("subscription_next", rc);
    if (rc == 0)
        return 0;
    *sent_ns = suite_feed_sent_ns(e.data, e.data_len);
    return *sent_ns < 0 ? SUITE_ERR : 1;
}

static void fe_reader_close(void *p)
{
    feed_reader *r = p;
    evs_subscription_close(r->sub);
    if (r->owns_store)
        evs_close(r->s);
    free(r);
}

const suite_feed suite_evstore_feed = {
    .name = "evstore",
    .prepare = fe_prepare,
    .cleanup = fe_cleanup,
    .writer_open = fe_writer_open,
    .write = fe_write,
    .writer_close = fe_writer_close,
    .reader_open = fe_reader_open,
    .reader_open_shared = fe_reader_open_shared,
    .read = fe_read,
    .reader_close = fe_reader_close,
};
