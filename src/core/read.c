/*
 * read.c - cursors and stream listings: the public wrappers around the backend's
 * iterators. Each holds a reference on the store so that evs_close may come first.
 */
#include "core.h"
#include "keytab.h"
#include "query.h"
#include "seal.h"
#include "visibility.h"

#include <openssl/crypto.h>
#include <string.h>

struct evs_cursor {
    evs_store *store;
    evs__be_cursor *bc;
    evs__query_c q;
    evs__buf plain; /* the decrypted data of the last event handed out */
    evs__sealer sealer;
    evs__vis *vis;    /* the streams' lifecycle settings (visibility.c) */
    uint64_t limit;   /* the query's limit, counted here: the backend's cursor does not
                       * know which events the settings leave out */
    uint64_t handed;  /* events handed out */
    bool ended;       /* the settings ended the read early */
};

struct evs_stream_iter {
    evs_store *store;
    evs__be_streams *bi;
};

int evs_cursor_open(evs_cursor **out, evs_store *store, const evs_query *query)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_cursor_open: out is NULL");
    *out = NULL;
    int rc = evs__check_store(store, "evs_cursor_open");
    if (rc < 0)
        return rc;
    evs_cursor *c = evs__calloc(1, sizeof *c);
    if (!c)
        return evs__seterr(EVS_ENOMEM, "out of memory opening a cursor");
    rc = evs__query_compile(&c->q, query);
    if (rc == 0) {
        c->limit = c->q.limit;
        c->q.limit = 0;
        rc = evs__vis_open(&c->vis, store->m, store->be, &c->q);
    }
    if (rc == 0)
        rc = store->m->cursor_open(&c->bc, store->be, &c->q);
    if (rc < 0) {
        evs__vis_close(c->vis);
        evs__query_free(&c->q);
        evs__free(c);
        return rc;
    }
    c->store = store;
    evs__store_ref(store);
    *out = c;
    evs__clearerr();
    return 0;
}

/* Hand out an encrypted event's data decrypted, or the erased marker when its key was
 * destroyed. */
static int unseal_event(evs_cursor *c, evs_event *ev)
{
    uint64_t key_id;
    int rc = evs__seal_key_id(&key_id, ev->data, ev->data_len, ev->pos);
    if (rc < 0)
        return rc;
    if (!c->store->keys)
        return evs__seterr(EVS_ECORRUPT,
                           "event at position %lld: its data is encrypted, and this backend "
                           "keeps no keys",
                           (long long)ev->pos);
    unsigned char key[EVS__KEY_LEN];
    rc = evs__keytab_lookup(c->store->keys, key_id, ev->pos, key);
    if (rc == 0) {
        ev->data = evs__erased_marker;
        ev->data_len = evs__erased_marker_len;
        return 1;
    }
    size_t plain_len = ev->data_len - EVS__SEAL_OVERHEAD;
    c->plain.len = 0;
    if (rc > 0 && evs__buf_reserve(&c->plain, plain_len + 1) < 0)
        rc = evs__seterr(EVS_ENOMEM, "out of memory decrypting the event at position %lld",
                         (long long)ev->pos);
    if (rc > 0)
        rc = evs__unseal(&c->sealer, c->plain.ptr, key, ev->id, ev->data, ev->data_len, ev->pos);
    OPENSSL_cleanse(key, sizeof key);
    if (rc < 0)
        return rc;
    ev->data = c->plain.ptr;
    ev->data_len = plain_len;
    return 1;
}

int evs_cursor_next(evs_event *out, evs_cursor *c)
{
    if (!c || !out)
        return evs__seterr(EVS_EMISUSE, "evs_cursor_next: cursor or out is NULL");
    if (atomic_load(&c->store->closed))
        return evs__seterr(EVS_ECLOSED, "evs_cursor_next: the store was closed");
    int rc = 0;
    while (!c->ended && (c->limit == 0 || c->handed < c->limit) &&
           (rc = c->store->m->cursor_next(c->bc, out)) > 0) {
        int seen = evs__vis_check(c->vis, out);
        if (seen == EVS__VIS_READ) {
            c->handed++;
            break;
        }
        if (seen == EVS__VIS_END)
            c->ended = true;
        rc = seen < 0 ? seen : 0;
        if (rc < 0)
            break;
    }
    if (rc > 0 && evs__is_sealed(out->data, out->data_len))
        rc = unseal_event(c, out);
    if (rc >= 0)
        evs__clearerr();
    return rc;
}

void evs_cursor_close(evs_cursor *c)
{
    if (!c)
        return;
    c->store->m->cursor_close(c->bc);
    evs__vis_close(c->vis);
    evs__query_free(&c->q);
    if (c->plain.ptr)
        OPENSSL_cleanse(c->plain.ptr, c->plain.cap);
    evs__buf_free(&c->plain);
    evs__sealer_free(&c->sealer);
    evs__store_unref(c->store);
    evs__free(c);
}

int evs_streams_open(evs_stream_iter **out, evs_store *store, const char *prefix)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_streams_open: out is NULL");
    *out = NULL;
    int rc = evs__check_store(store, "evs_streams_open");
    if (rc < 0)
        return rc;
    evs_stream_iter *it = evs__calloc(1, sizeof *it);
    if (!it)
        return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
    rc = store->m->streams_open(&it->bi, store->be, prefix, prefix ? strlen(prefix) : 0);
    if (rc < 0) {
        evs__free(it);
        return rc;
    }
    it->store = store;
    evs__store_ref(store);
    *out = it;
    evs__clearerr();
    return 0;
}

int evs_streams_next(const char **name, size_t *name_len, evs_stream_info *info,
                     evs_stream_iter *it)
{
    if (!it || !name || !name_len || !info)
        return evs__seterr(EVS_EMISUSE, "evs_streams_next: NULL argument");
    if (atomic_load(&it->store->closed))
        return evs__seterr(EVS_ECLOSED, "evs_streams_next: the store was closed");
    int rc = it->store->m->streams_next(it->bi, name, name_len, info);
    if (rc >= 0)
        evs__clearerr();
    return rc;
}

void evs_streams_close(evs_stream_iter *it)
{
    if (!it)
        return;
    it->store->m->streams_close(it->bi);
    evs__store_unref(it->store);
    evs__free(it);
}
