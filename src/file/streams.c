/*
 * streams.c - stream info and the list of streams, from the stream table.
 */
#include "streams.h"
#include "backend.h"
#include "file_backend.h"
#include "streamtab.h"
#include "util.h"

#include <string.h>

static void fill_info(evs_stream_info *out, const stream_val *v)
{
    out->exists = v->last_version >= 0;
    out->last_version = v->last_version;
    out->event_count = v->last_version + 1;
    out->first_pos = out->exists ? (int64_t)v->first_pos : 0;
    out->last_pos = out->exists ? (int64_t)v->last_pos : 0;
}

int evs__file_stream_get(evs__backend *be, const char *stream, uint32_t len, uint64_t hash,
                         evs_stream_info *out)
{
    file_backend *fb = (file_backend *)be;
    stream_val v;
    int rc = evs__tab_lookup(fb, stream, len, hash, &v);
    if (rc < 0)
        return rc;
    fill_info(out, &v);
    return 0;
}

/* A listing is a copy taken under the lock: names packed in one buffer. */
typedef struct listed {
    size_t name_off;
    uint32_t name_len;
    stream_val v;
} listed;

struct evs__be_streams {
    evs__buf names;
    listed *items;
    size_t count;
    size_t cap;
    size_t next;
    const char *prefix;
    size_t prefix_len;
};

static int collect(void *ctx, const char *name, uint32_t len, const stream_val *v)
{
    evs__be_streams *it = ctx;
    if (len < it->prefix_len || memcmp(name, it->prefix, it->prefix_len) != 0)
        return 0;
    if (it->count == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 256;
        listed *n = evs__realloc(it->items, cap * sizeof *n);
        if (!n)
            return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
        it->items = n;
        it->cap = cap;
    }
    listed *l = &it->items[it->count];
    l->name_off = it->names.len;
    l->name_len = len;
    l->v = *v;
    int rc = evs__buf_append(&it->names, name, len);
    if (rc == 0)
        rc = evs__buf_append(&it->names, "", 1);
    if (rc == 0)
        it->count++;
    return rc;
}

int evs__file_streams_open(evs__be_streams **out, evs__backend *be, const char *prefix,
                           size_t prefix_len)
{
    file_backend *fb = (file_backend *)be;
    /* A base found wrong on the way is dropped by the next catch-up: once more then. */
    for (int attempt = 0;; attempt++) {
        int rc = evs__tab_catch_up(fb);
        if (rc < 0)
            return rc;
        evs__be_streams *it = evs__calloc(1, sizeof *it);
        if (!it)
            return evs__seterr(EVS_ENOMEM, "out of memory listing streams");
        it->prefix = prefix ? prefix : "";
        it->prefix_len = prefix ? prefix_len : 0;
        pthread_rwlock_rdlock(&fb->tab_lock);
        rc = evs__tab_each(&fb->tab, collect, it);
        pthread_rwlock_unlock(&fb->tab_lock);
        if (rc == 0) {
            *out = it;
            return 0;
        }
        evs__file_streams_close(it);
        if (rc != EVS_ECORRUPT || attempt > 0)
            return rc;
        evs__clearerr();
    }
}

int evs__file_streams_next(evs__be_streams *it, const char **name, size_t *name_len,
                           evs_stream_info *info)
{
    if (it->next == it->count)
        return 0;
    const listed *l = &it->items[it->next++];
    *name = it->names.ptr + l->name_off;
    *name_len = l->name_len;
    fill_info(info, &l->v);
    return 1;
}

void evs__file_streams_close(evs__be_streams *it)
{
    if (!it)
        return;
    evs__buf_free(&it->names);
    evs__free(it->items);
    evs__free(it);
}
