/*
 * consumer.c - durable consumers: a subscription with a name whose checkpoint (the
 * last acknowledged position) the store keeps, so that it resumes at checkpoint + 1
 * after a restart or a crash (at-least-once).
 *
 * Storage goes through the backend table (consumer_lock ... consumer_list in
 * backend.h); this file never touches files. What it decides:
 *  - Exclusive by name: the backend's lock is taken without waiting, so a second open
 *    anywhere fails with EVS_EBUSY rather than becoming a silent standby. A standby is
 *    then a loop around evs_consumer_open, which the caller controls.
 *  - Acks are cheap: kept in memory and saved (a pwrite, no sync) when 1000 have piled
 *    up or 100 ms have passed since the last save, checked on every ack and next, and
 *    before next goes to sleep (so an idle consumer's checkpoint is current on disk).
 *    flush and close save durably. An ack lost in a crash only means redelivery.
 *  - When every event handed out is acknowledged and the subscription has scanned
 *    further (events its filter skips), the checkpoint moves up to what was scanned:
 *    nothing unacknowledged is passed over, and a filtered consumer's lag does not
 *    grow with events it will never see. Checked only when the consumer is idle.
 *  - The filter is kept with the checkpoint (consumer_filter.c writes it canonically),
 *    since a checkpoint only means something for the filter that made it: an event
 *    before it that another filter matches was never delivered. An open with a
 *    different filter is refused unless the caller asks to refilter; a consumer kept
 *    without a filter (made by an older evstore) takes the first one it is opened with.
 *  - A read model opens its consumer at its state file's position instead
 *    (evs__consumer_open_at): that position becomes the checkpoint, backwards too, and
 *    a damaged checkpoint file is simply replaced, since it no longer decides anything.
 */
#include "sub_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define SAVE_EVERY_ACKS 1000
#define SAVE_EVERY_NS   (100 * 1000000LL)

struct evs_consumer {
    evs_store *store;    /* referenced: the backend outlives our lock */
    evs__be_consumer *h; /* the backend's lock on the name */
    evs_subscription *sub;
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    int64_t acked;     /* the checkpoint in memory */
    int64_t head_seen; /* a head read before: heads never go down, so acks up to it need
                        * no new look (a round trip on a database backend) */
    int64_t acked_ts;  /* when it was acknowledged */
    int64_t saved;     /* the checkpoint last written (maybe not synced) */
    int64_t synced;    /* the checkpoint last written durably */
    int64_t saved_at;  /* monotonic ns of the last save attempt */
    unsigned pending;  /* acks since that save */
    int64_t delivered; /* position of the last event handed out */
};

struct evs_consumer_iter {
    evs_consumer_info *items; /* names owned by the iterator */
    size_t count;
    size_t cap;
    size_t next;
};

/* Names become file names: a closed, portable alphabet, no separators, bounded. */
static int check_name(const char *name, const char *fn)
{
    if (!name)
        return evs__seterr(EVS_EINVAL, "%s: consumer name is missing (NULL)", fn);
    size_t len = strnlen(name, EVS_MAX_CONSUMER_NAME_LEN + 1);
    if (len == 0)
        return evs__seterr(EVS_EINVAL, "%s: consumer name is empty", fn);
    if (len > EVS_MAX_CONSUMER_NAME_LEN)
        return evs__seterr(EVS_EINVAL, "%s: consumer name is longer than %d bytes", fn,
                           EVS_MAX_CONSUMER_NAME_LEN);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return evs__seterr(EVS_EINVAL,
                               "%s: consumer name '%.*s' has byte 0x%02x at offset %zu; "
                               "names use only A-Z a-z 0-9 . _ -",
                               fn, (int)len, name, ch, i);
    }
    return 0;
}

/* ---- checkpoint saving ------------------------------------------------------------ */

static int save(evs_consumer *c, bool durable)
{
    c->saved_at = evs__monotonic_ns();
    int rc = c->store->m->checkpoint_store(c->store->be, c->h, c->acked, c->acked_ts, durable);
    if (rc < 0)
        return rc;
    c->saved = c->acked;
    if (durable)
        c->synced = c->acked;
    c->pending = 0;
    return 0;
}

/* Save when the batch is full or old enough. */
static int maybe_save(evs_consumer *c)
{
    if (c->acked == c->saved)
        return 0;
    if (c->pending >= SAVE_EVERY_ACKS || evs__monotonic_ns() - c->saved_at >= SAVE_EVERY_NS)
        return save(c, false);
    return 0;
}

/* ---- open / next / ack / flush / close -------------------------------------------- */

/* The filter the consumer keeps (*kept, NULL when none), unless it is to be replaced
 * anyway (`replacing`: a damaged one is then simply dropped). */
static int load_kept_filter(evs_consumer *c, bool replacing, char **kept)
{
    *kept = NULL;
    int rc = c->store->m->filter_load(c->store->be, c->name, kept);
    if (rc == EVS_ECORRUPT && replacing) {
        evs__clearerr();
        rc = 0;
    }
    return rc;
}

static int refuse_filter(const evs_consumer *c, const char *kept, const char *asked, int64_t pos)
{
    return evs__seterr(EVS_EINVAL,
                       "consumer '%s' keeps the filter %s, and this open asks for %s: events up "
                       "to its checkpoint %" PRId64 " that only the new filter matches were "
                       "never delivered and would be skipped. Open it with its filter, "
                       "refilter it knowingly (EVS_CONSUMER_REFILTER; evstore subscribe "
                       "--refilter), or use another name",
                       c->name, kept, asked, pos);
}

/* Keep the filter asked for, or check it against the one kept. `text` is the asked
 * filter's canonical form; `write` says whether the checkpoint must be saved anyway. */
static int settle_filter(evs_consumer *c, const char *kept, const char *text, unsigned flags,
                         bool refilter, bool write)
{
    bool differs = kept && strcmp(kept, text) != 0;
    if (differs && !refilter)
        return refuse_filter(c, kept, text, c->acked);
    if (write)
        c->acked_ts = evs__now_ns();
    /* New, adopted from an older store, or refiltered: the whole checkpoint is
     * rewritten, filter included. Otherwise the filter on disk is already this one.
     * EVS_CONSUMER_ADOPT_NEXT leaves a consumer that keeps none without one. */
    bool adopt_next = (flags & EVS_CONSUMER_ADOPT_NEXT) != 0 && !kept;
    bool keep_text = (!kept || differs) && !adopt_next;
    if (!keep_text)
        return write ? save(c, true) : 0;
    c->saved_at = evs__monotonic_ns();
    int rc = c->store->m->filter_store(c->store->be, c->h, text, c->acked, c->acked_ts);
    if (rc == 0)
        c->saved = c->synced = c->acked;
    return rc;
}

/* Find where to resume: the checkpoint, or `at` (>= 0) which then becomes the
 * checkpoint. `fn` names the public function in messages. */
static int consumer_start(evs_consumer *c, const evs_query *filter, int64_t at, unsigned flags,
                          const char *fn)
{
    const evs__backend_methods *m = c->store->m;
    int64_t pos = 0, ts = 0;
    int rc = m->checkpoint_load(c->store->be, c->name, &pos, &ts);
    bool create = rc == EVS_ENOTFOUND;
    /* Resuming at a given position does not need the old checkpoint: a damaged file is
     * simply replaced by the save below. */
    bool replace = at >= 0 && (rc == EVS_ECORRUPT || rc == EVS_ELOST);
    if (rc < 0 && !create && !replace)
        return rc;
    evs__clearerr();
    /* Resuming at 0 (a read model replaying) skips nothing, whatever the filter. */
    bool refilter = (flags & EVS_CONSUMER_REFILTER) != 0 || at == 0;
    bool write = create || replace || (at >= 0 && at != pos);
    if (at >= 0)
        pos = at;
    /* Acks never pass the head, so a checkpoint past it means the log lost events it
     * once had (a power loss with sync mode none or batch). Resuming would silently
     * skip the events appended anew at those positions: let the caller decide. */
    int64_t head = evs_head(c->store);
    if (pos > head)
        return evs__seterr(EVS_ECORRUPT,
                           "consumer '%s': %s %" PRId64 " is past the store's head %" PRId64
                           " (the log lost its last events); reset the consumer",
                           c->name, at >= 0 ? "resume position" : "checkpoint", pos, head);
    /* The filter is checked before a new consumer is written: a bad one creates
     * nothing. */
    rc = evs__subscribe(&c->sub, c->store, filter, pos + 1, fn);
    if (rc < 0)
        return rc;
    c->acked = c->saved = c->synced = c->delivered = pos;
    c->acked_ts = ts;
    char *kept = NULL, *text = NULL;
    rc = create || replace ? 0 : load_kept_filter(c, refilter, &kept);
    if (rc == 0)
        rc = evs__filter_encode(filter, c->name, &text);
    if (rc == 0)
        rc = settle_filter(c, kept, text, flags, refilter, write);
    evs__free(kept);
    evs__free(text);
    /* The time-based save counts from here: writing the filter above may take long
     * on a busy disk, and must not make the first ack save at once. */
    c->saved_at = evs__monotonic_ns();
    return rc;
}

static int consumer_open(evs_consumer **out, evs_store *store, const char *name,
                         const evs_query *filter, int64_t at, unsigned flags, const char *fn)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "%s: out is NULL", fn);
    *out = NULL;
    int rc = check_name(name, fn);
    if (rc == 0)
        rc = evs__check_store(store, fn);
    if (rc < 0)
        return rc;
    evs_consumer *c = evs__calloc(1, sizeof *c);
    if (!c)
        return evs__seterr(EVS_ENOMEM, "out of memory opening consumer '%s'", name);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->store = store;
    rc = store->m->consumer_lock(store->be, name, &c->h);
    if (rc == 0)
        rc = consumer_start(c, filter, at, flags, fn);
    if (rc < 0) {
        evs_subscription_close(c->sub);
        store->m->consumer_unlock(store->be, c->h);
        evs__free(c);
        return rc;
    }
    evs__store_ref(store);
    *out = c;
    return 0;
}

int evs_consumer_open(evs_consumer **out, evs_store *store, const char *name,
                      const evs_query *filter)
{
    int rc = consumer_open(out, store, name, filter, -1, 0, "evs_consumer_open");
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_consumer_open_v2(evs_consumer **out, evs_store *store, const char *name,
                         const evs_query *filter, unsigned flags)
{
    const char *fn = "evs_consumer_open_v2";
    const unsigned known = EVS_CONSUMER_REFILTER | EVS_CONSUMER_ADOPT_NEXT;
    if (flags & ~known) {
        if (out)
            *out = NULL;
        return evs__seterr(EVS_EINVAL, "%s: unknown flags 0x%x", fn, flags & ~known);
    }
    int rc = consumer_open(out, store, name, filter, -1, flags, fn);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs__consumer_open_at(evs_consumer **out, evs_store *store, const char *name,
                          const evs_query *filter, int64_t at, const char *fn)
{
    assert(at >= 0);
    return consumer_open(out, store, name, filter, at, 0, fn);
}

int64_t evs__consumer_scanned(const evs_consumer *c)
{
    return evs_subscription_position(c->sub);
}

evs_store *evs__consumer_store(const evs_consumer *c)
{
    return c->store;
}

const char *evs__consumer_name(const evs_consumer *c)
{
    return c->name;
}

/* Idle, with every delivered event acknowledged: move past what the filter skipped. */
static void advance_idle(evs_consumer *c)
{
    int64_t scanned = evs_subscription_position(c->sub);
    if (c->acked >= c->delivered && scanned > c->acked) {
        c->acked = scanned;
        c->acked_ts = evs__now_ns();
    }
}

static int consumer_next(evs_consumer *c, evs_event *out, int timeout_ms)
{
    int rc = maybe_save(c);
    if (rc < 0)
        return rc;
    rc = evs__subscription_next(c->sub, out, 0);
    if (rc == 0) {
        advance_idle(c);
        if (timeout_ms == 0)
            return maybe_save(c);
        /* About to sleep: the best moment to write what is pending. */
        if (c->acked != c->saved && (rc = save(c, false)) < 0)
            return rc;
        rc = evs__subscription_next(c->sub, out, timeout_ms);
    }
    if (rc > 0)
        c->delivered = out->pos;
    return rc;
}

int evs_consumer_next(evs_event *out, evs_consumer *c, int timeout_ms)
{
    if (!c || !out)
        return evs__seterr(EVS_EMISUSE, "evs_consumer_next: consumer or out is NULL");
    if (timeout_ms < -1)
        return evs__seterr(EVS_EINVAL,
                           "evs_consumer_next: timeout_ms %d is not -1, 0 or "
                           "positive",
                           timeout_ms);
    int rc = evs__check_store(c->store, "evs_consumer_next");
    if (rc == 0)
        rc = consumer_next(c, out, timeout_ms);
    if (rc >= 0)
        evs__clearerr();
    return rc;
}

int evs_consumer_ack(evs_consumer *c, int64_t pos)
{
    if (!c)
        return evs__seterr(EVS_EMISUSE, "evs_consumer_ack: consumer is NULL");
    int rc = evs__check_store(c->store, "evs_consumer_ack");
    if (rc < 0)
        return rc;
    if (pos < c->acked)
        return evs__seterr(EVS_EINVAL,
                           "consumer '%s': ack of position %" PRId64 " is below its checkpoint "
                           "%" PRId64 "; acknowledgements only move forward",
                           c->name, pos, c->acked);
    if (pos > c->acked) {
        if (pos > c->head_seen)
            c->head_seen = evs_head(c->store);
        if (pos > c->head_seen)
            return evs__seterr(EVS_EINVAL,
                               "consumer '%s': ack of position %" PRId64
                               " is past the store's head (%" PRId64 ")",
                               c->name, pos, c->head_seen);
        c->acked = pos;
        c->acked_ts = evs__now_ns();
        c->pending++;
    }
    rc = maybe_save(c);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int64_t evs_consumer_checkpoint(const evs_consumer *c)
{
    return c ? c->acked : 0;
}

int evs_consumer_flush(evs_consumer *c)
{
    if (!c)
        return evs__seterr(EVS_EMISUSE, "evs_consumer_flush: consumer is NULL");
    int rc = c->acked == c->synced ? 0 : save(c, true);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs__consumer_close(evs_consumer *c)
{
    if (!c)
        return 0;
    /* The backend is alive (we hold a reference) even when evs_close came first, so the
     * last acknowledgements are saved either way. A failed save is returned, with its
     * message, but the consumer is closed all the same: keeping the name locked would
     * not make the next save any likelier to succeed. */
    int rc = c->acked != c->synced ? save(c, true) : 0;
    evs_store *store = c->store;
    store->m->consumer_unlock(store->be, c->h);
    evs_subscription_close(c->sub);
    evs__free(c);
    evs__store_unref(store);
    return rc;
}

int evs_consumer_close(evs_consumer *c)
{
    int rc = evs__consumer_close(c);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

/* ---- reset / delete --------------------------------------------------------------- */

int evs_consumer_reset(evs_store *store, const char *name, int64_t pos)
{
    const char *fn = "evs_consumer_reset";
    int rc = check_name(name, fn);
    if (rc == 0)
        rc = evs__check_store(store, fn);
    if (rc < 0)
        return rc;
    int64_t head = evs_head(store);
    if (pos < 0 || pos > head)
        return evs__seterr(EVS_EINVAL,
                           "%s: position %" PRId64 " for consumer '%s' is not between 0 and "
                           "the head (%" PRId64 ")",
                           fn, pos, name, head);
    const evs__backend_methods *m = store->m;
    evs__be_consumer *h;
    rc = m->consumer_lock(store->be, name, &h);
    if (rc < 0)
        return rc;
    int64_t old, ts;
    rc = m->checkpoint_load(store->be, name, &old, &ts);
    if (rc == EVS_ECORRUPT || rc == EVS_ELOST)
        rc = 0; /* the store below replaces the damaged (or lost) checkpoint: the repair */
    if (rc == 0)
        rc = m->checkpoint_store(store->be, h, pos, evs__now_ns(), true);
    if (rc == EVS_ENOTFOUND) {
        /* The lock file was created just now for nothing: take it away again. */
        (void)m->consumer_delete(store->be, h);
        rc = evs__seterr(EVS_ENOTFOUND, "%s: no consumer '%s'", fn, name);
    }
    m->consumer_unlock(store->be, h);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_consumer_delete(evs_store *store, const char *name)
{
    int rc = check_name(name, "evs_consumer_delete");
    if (rc == 0)
        rc = evs__check_store(store, "evs_consumer_delete");
    if (rc < 0)
        return rc;
    evs__be_consumer *h;
    rc = store->m->consumer_lock(store->be, name, &h);
    if (rc < 0)
        return rc;
    rc = store->m->consumer_delete(store->be, h);
    store->m->consumer_unlock(store->be, h);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

/* ---- listing ---------------------------------------------------------------------- */

typedef struct list_ctx {
    evs_consumer_iter *it;
    int64_t head;
} list_ctx;

static int list_add(void *ctx, const evs__consumer_entry *e)
{
    list_ctx *lc = ctx;
    evs_consumer_iter *it = lc->it;
    if (it->count == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        evs_consumer_info *items = evs__realloc(it->items, cap * sizeof *items);
        if (!items)
            return evs__seterr(EVS_ENOMEM, "out of memory listing consumers");
        it->items = items;
        it->cap = cap;
    }
    char *name = evs__strndup(e->name, strlen(e->name));
    char *filter = e->filter ? evs__strndup(e->filter, strlen(e->filter)) : NULL;
    if (!name || (e->filter && !filter)) {
        evs__free(name);
        evs__free(filter);
        return evs__seterr(EVS_ENOMEM, "out of memory listing consumers");
    }
    evs_consumer_info *info = &it->items[it->count++];
    memset(info, 0, sizeof *info);
    info->name = name;
    info->filter = filter;
    info->open = e->open;
    info->status = e->status;
    bool readable = e->status == 0 || e->status == EVS_ELOST; /* lost: shown, to be reset */
    info->checkpoint = readable ? e->pos : -1;
    info->ack_ts_ns = readable ? e->ts_ns : 0;
    info->lag = readable ? (lc->head > e->pos ? lc->head - e->pos : 0) : -1;
    /* Past the head, the log lost events it once had: evs_consumer_open refuses it
     * until a reset, so the listing says so too. */
    if (readable && e->pos > lc->head && info->status == 0)
        info->status = EVS_ECORRUPT;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const evs_consumer_info *)a)->name, ((const evs_consumer_info *)b)->name);
}

int evs_consumers_open(evs_consumer_iter **out, evs_store *store)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_consumers_open: out is NULL");
    *out = NULL;
    int rc = evs__check_store(store, "evs_consumers_open");
    if (rc < 0)
        return rc;
    evs_consumer_iter *it = evs__calloc(1, sizeof *it);
    if (!it)
        return evs__seterr(EVS_ENOMEM, "out of memory listing consumers");
    list_ctx lc = {it, evs_head(store)};
    rc = store->m->consumer_list(store->be, list_add, &lc);
    if (rc < 0) {
        evs_consumers_close(it);
        return rc;
    }
    if (it->count > 1)
        qsort(it->items, it->count, sizeof *it->items, by_name);
    *out = it;
    evs__clearerr();
    return 0;
}

int evs_consumers_next(evs_consumer_info *out, evs_consumer_iter *it)
{
    if (!it || !out)
        return evs__seterr(EVS_EMISUSE, "evs_consumers_next: iterator or out is NULL");
    evs__clearerr();
    if (it->next == it->count)
        return 0;
    *out = it->items[it->next++];
    return 1;
}

void evs_consumers_close(evs_consumer_iter *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->count; i++) {
        evs__free((void *)it->items[i].name);
        evs__free((void *)it->items[i].filter);
    }
    evs__free(it->items);
    evs__free(it);
}
