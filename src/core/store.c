/*
 * store.c - the store handle: open, close, and the calls that pass straight to the
 * backend (sync, head, wait, stat, stream info).
 *
 * Closing with cursors still open is allowed (like sqlite3_close_v2): the handle is
 * marked closed, later cursor steps report EVS_ECLOSED, and the backend is closed when
 * the last cursor goes.
 */
#include "core.h"
#include "keytab.h"

#include <string.h>

/* Where each version's fields end; a new version adds its line. */
static const size_t options_ends[] = {0, EVS__FIELDS_END(evs_options, checkpoint_bytes),
                                      EVS__FIELDS_END(evs_options, compress_after)};
_Static_assert(sizeof options_ends / sizeof options_ends[0] == EVS_OPTIONS_VERSION + 1,
               "every options version has its line in options_ends");

int evs_options_init(evs_options *opts, unsigned int version)
{
    if (!opts)
        return evs__seterr(EVS_EINVAL, "evs_options_init: opts is NULL");
    const evs_options defaults = EVS_OPTIONS_INIT;
    int rc = evs__versioned_init(opts, &defaults, version, options_ends, EVS_OPTIONS_VERSION,
                                 "evs_options_init: options", "EVS_OPTIONS_INIT");
    if (rc == 0)
        evs__clearerr();
    return rc;
}

static int check_options(evs_options *o, const evs_options *given)
{
    const evs_options defaults = EVS_OPTIONS_INIT;
    *o = defaults;
    if (!given)
        return 0;
    int rc = evs__versioned_copy(o, &defaults, given, sizeof *o, options_ends,
                                 EVS_OPTIONS_VERSION, "evs_open: options", "EVS_OPTIONS_INIT");
    if (rc < 0)
        return rc;
    const unsigned known = EVS_OPEN_NOCREATE | EVS_OPEN_READONLY | EVS_OPEN_EXCLUSIVE_CREATE;
    if (o->flags & ~known)
        return evs__seterr(EVS_EINVAL, "evs_open: unknown flags 0x%x", o->flags & ~known);
    if (o->sync_mode != EVS_SYNC_ALWAYS && o->sync_mode != EVS_SYNC_BATCH &&
        o->sync_mode != EVS_SYNC_NONE)
        return evs__seterr(EVS_EINVAL, "evs_open: unknown sync mode %d", (int)o->sync_mode);
    if (o->sync_mode == EVS_SYNC_BATCH && (o->sync_interval_ms == 0 || o->sync_interval_ms > 60000))
        return evs__seterr(EVS_EINVAL, "evs_open: sync_interval_ms must be 1..60000, not %u",
                           o->sync_interval_ms);
    /* Offsets inside a segment are stored in 32 bits. 0 = the store's own size. */
    if (o->segment_size != 0 && (o->segment_size < (64u << 10) || o->segment_size > (1u << 30)))
        return evs__seterr(EVS_EINVAL,
                           "evs_open: segment_size must be between 64 KiB and 1 GiB, not %llu",
                           (unsigned long long)o->segment_size);
    if (o->lock_wait_ms < -1)
        return evs__seterr(EVS_EINVAL, "evs_open: lock_wait_ms must be -1, 0 or positive");
    /* Half the default segment: open after a crash scans at least the whole last
     * segment anyway, so more frequent stream index runs would not bound it any better,
     * and each one costs a sort and a write of the streams it holds. */
    if (o->checkpoint_bytes == 0)
        o->checkpoint_bytes = 32u << 20;
    return 0;
}

int evs_open(evs_store **out, const char *path, const evs_options *opts)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_open: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return evs__seterr(EVS_EINVAL, "evs_open: the store path is empty");
    evs_options o;
    int rc = check_options(&o, opts);
    if (rc < 0)
        return rc;
    const evs__backend_methods *m;
    const char *where;
    rc = evs__backend_locate(path, "evs_open", &m, &where);
    if (rc < 0)
        return rc;
    evs_store *s = evs__calloc(1, sizeof *s);
    if (!s)
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", path);
    /* Only the file backend keeps subject keys: a key file in its directory. */
    if (strcmp(m->name, "file") == 0 && (rc = evs__keytab_new(&s->keys, where)) < 0) {
        evs__free(s);
        return rc;
    }
    rc = m->open(&s->be, where, &o);
    if (rc < 0) {
        evs__keytab_free(s->keys);
        evs__free(s);
        return rc;
    }
    s->m = m;
    s->readonly = (o.flags & EVS_OPEN_READONLY) != 0;
    atomic_init(&s->refs, 1);
    atomic_init(&s->closed, false);
    *out = s;
    evs__clearerr();
    return 0;
}

void evs__store_ref(evs_store *s)
{
    atomic_fetch_add(&s->refs, 1);
}

int evs__store_unref(evs_store *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return 0;
    int rc = s->m->close(s->be);
    evs__keytab_free(s->keys);
    evs__free(s);
    return rc;
}

int evs_close(evs_store *store)
{
    if (!store)
        return 0;
    bool was = atomic_exchange(&store->closed, true);
    if (was)
        return evs__seterr(EVS_EMISUSE, "evs_close: store closed twice");
    /* Threads still waiting on the store (a push thread, a tail) end their wait. */
    store->m->wake(store->be, true);
    int rc = evs__store_unref(store);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs__check_store(const evs_store *s, const char *fn)
{
    if (!s)
        return evs__seterr(EVS_EMISUSE, "%s: store is NULL", fn);
    if (atomic_load(&s->closed))
        return evs__seterr(EVS_ECLOSED, "%s: store is closed", fn);
    return 0;
}

int evs_sync(evs_store *store)
{
    int rc = evs__check_store(store, "evs_sync");
    if (rc == 0)
        rc = store->m->sync(store->be);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int64_t evs_head(evs_store *store)
{
    if (evs__check_store(store, "evs_head") < 0)
        return 0;
    evs__clearerr();
    return store->m->head(store->be);
}

_Thread_local const atomic_bool *evs__wait_interrupt;

void evs__store_wake(evs_store *s)
{
    if (s)
        s->m->wake(s->be, false);
}

int evs_wait(int64_t *head_out, evs_store *store, int64_t after_pos, int timeout_ms)
{
    int rc = evs__check_store(store, "evs_wait");
    if (rc == 0)
        rc = store->m->wait(store->be, after_pos, timeout_ms, head_out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_stat(evs_stat_info *out, evs_store *store)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_stat: out is NULL");
    int rc = evs__check_store(store, "evs_stat");
    if (rc == 0)
        rc = store->m->stat(store->be, out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_stream_get(evs_stream_info *out, evs_store *store, const char *stream)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_stream_get: out is NULL");
    memset(out, 0, sizeof *out);
    out->last_version = -1;
    int rc = evs__check_store(store, "evs_stream_get");
    size_t len = 0;
    if (rc == 0)
        rc = evs__check_name(stream, EVS_MAX_STREAM_LEN, "stream name", "evs_stream_get", &len);
    if (rc == 0)
        rc = store->m->stream_get(store->be, stream, (uint32_t)len, evs__hash64(stream, len), out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_find_time(int64_t *out, evs_store *store, int64_t ts_ns)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_find_time: out is NULL");
    int rc = evs__check_store(store, "evs_find_time");
    if (rc == 0)
        rc = store->m->find_time(store->be, ts_ns, out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

/* evs_verify and evs_verify_quick: the same contract, a different backend method. */
static int verify_with(bool quick, evs_verify_report *report, evs_store *store,
                       evs_verify_cb cb, void *ctx)
{
    evs_verify_report local;
    if (!report)
        report = &local;
    memset(report, 0, sizeof *report);
    int rc = evs__check_store(store, quick ? "evs_verify_quick" : "evs_verify");
    if (rc == 0)
        rc = (quick ? store->m->verify_quick : store->m->verify)(store->be, cb, ctx, report);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_verify(evs_verify_report *report, evs_store *store, evs_verify_cb cb, void *ctx)
{
    return verify_with(false, report, store, cb, ctx);
}

int evs_verify_quick(evs_verify_report *report, evs_store *store, evs_verify_cb cb, void *ctx)
{
    return verify_with(true, report, store, cb, ctx);
}

int evs_compact(evs_store *store, unsigned int keep, evs_compact_report *report)
{
    evs_compact_report local;
    if (!report)
        report = &local;
    memset(report, 0, sizeof *report);
    int rc = evs__check_store(store, "evs_compact");
    if (rc == 0)
        rc = store->m->compact(store->be, keep, report);
    if (rc == 0)
        evs__clearerr();
    return rc;
}
