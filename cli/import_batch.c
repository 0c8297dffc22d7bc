/*
 * import_batch.c - the events of `evstore import` on their way into the store: copied
 * into one arena as the readers hand them over, then committed in large
 * evs_append_multi calls (one batch per run of consecutive events of one stream), so an
 * import costs few commits and few syncs whatever its size.
 *
 * When the input carries stream versions (evstore's own format), each is checked
 * before it is gathered: an event must get exactly the version it had, so a gap or an
 * overlap is reported at its line instead of silently renumbering a stream. Each batch
 * also expects the version before its first event, so a concurrent writer shows up as a
 * conflict rather than as interleaved streams.
 */
#include "import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Commit once this many events or bytes are gathered: large enough that per-commit
 * costs (a sync, the lock) vanish, small enough to keep memory modest. */
#define COMMIT_EVENTS 10000
#define COMMIT_BYTES  ((size_t)8 << 20)

bool im_key_is(const evs_json_member *m, const char *name)
{
    return !m->key_has_escape && strlen(name) == m->key_len &&
           memcmp(m->key, name, m->key_len) == 0;
}

int im_string(im_ctx *ic, const evs_json_member *m, const char *field, const char **out, int *code)
{
    if (m->kind != EVS_JSON_STRING) {
        *code = im_bad(ic, "field \"%s\" must be a string", field);
        return -1;
    }
    char *dst = ic->scratch.ptr + ic->scratch.len;
    size_t n;
    evs_json_error jerr;
    if (evs__json_unescape(m->value + 1, m->value_len - 2, dst, &n, &jerr) != 0) {
        *code = im_bad(ic, "field \"%s\": invalid escape: %s", field, jerr.reason);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)dst[i];
        if (c < 0x20 || c == 0x7f) {
            *code = im_bad(ic, "field \"%s\" contains a control character", field);
            return -1;
        }
    }
    if (n == 0) {
        *code = im_bad(ic, "field \"%s\" must not be empty", field);
        return -1;
    }
    dst[n] = '\0';
    ic->scratch.len += n + 1;
    *out = dst;
    return 0;
}

static void progress(im_ctx *ic, bool last)
{
    if (!ic->progress)
        return;
    int64_t now = evs__monotonic_ns();
    if (!last && now - ic->last_progress_ns < 250000000)
        return;
    ic->last_progress_ns = now;
    /* \r and erase-line keep it on one terminal line; it goes once the import ends. */
    if (last)
        (void)fputs("\r\033[K", stderr);
    else
        (void)fprintf(stderr, "\r\033[Kevstore import: %lld events, %.1f MiB read",
                      (long long)ic->imported, (double)ic->bytes_in / (1 << 20));
    (void)fflush(stderr);
}

/* "1234 events were imported (through file:line)" or "nothing was imported". */
static void imported_clause(const im_ctx *ic, char *buf, size_t len)
{
    if (ic->imported == 0)
        (void)snprintf(buf, len, "nothing was imported");
    else
        (void)snprintf(buf, len, "%lld event%s %s imported (through %s:%llu), none after",
                       (long long)ic->imported, ic->imported == 1 ? "" : "s",
                       ic->imported == 1 ? "was" : "were", ic->last_file,
                       (unsigned long long)ic->last_line);
}

static int report(im_ctx *ic, int code, const char *what)
{
    int rc = im_commit(ic);
    if (rc != CLI_EXIT_OK)
        return rc;
    progress(ic, true);
    char done[512];
    imported_clause(ic, done, sizeof done);
    cli_err("import", "%s:%llu: %s; %s", ic->file, (unsigned long long)ic->line, what, done);
    return code;
}

int im_bad(im_ctx *ic, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return report(ic, CLI_EXIT_INVALID, what);
}

int im_read_error(im_ctx *ic, const char *why)
{
    char what[600];
    (void)snprintf(what, sizeof what, "cannot read: %s", why);
    return report(ic, CLI_EXIT_ERROR, what);
}

/* The version check: the event must get `version` in its stream. */
static int check_version(im_ctx *ic, const char *stream, int64_t version)
{
    ap_stream_state *st = ap_streams_find(&ic->versions, stream);
    if (st == NULL) {
        evs_stream_info info;
        int rc = evs_stream_get(&info, ic->store, stream);
        if (rc < 0)
            return report(ic, cli_exit_code(rc), evs_errmsg());
        st = ap_streams_add(&ic->versions, stream);
        if (st == NULL)
            return report(ic, CLI_EXIT_ERROR, "out of memory");
        st->version = info.last_version;
    }
    if (version != st->version + 1)
        return im_bad(ic,
                      "stream '%s' has version %lld, but the next version of that stream is "
                      "%lld (counting the store and the input so far): versions must follow "
                      "each other without gaps",
                      stream, (long long)version, (long long)st->version + 1);
    st->version = version;
    return CLI_EXIT_OK;
}

static int put(evs_buf *b, const char *p, size_t len, size_t *off)
{
    *off = b->len;
    return evs__buf_append(b, p, len);
}

int im_add(im_ctx *ic, const im_event *ev)
{
    if (ev->version >= 0) {
        int code = check_version(ic, ev->stream, ev->version);
        if (code != CLI_EXIT_OK)
            return code;
    }
    if (ic->count == ic->cap) {
        size_t cap = ic->cap == 0 ? 1024 : ic->cap * 2;
        im_pending *p = realloc(ic->pend, cap * sizeof *p);
        if (p == NULL)
            return report(ic, CLI_EXIT_ERROR, "out of memory");
        ic->pend = p;
        ic->cap = cap;
    }
    im_pending *p = &ic->pend[ic->count];
    p->version = ev->version;
    p->file = ic->file;
    p->line = ic->line;
    p->has_id = ev->id != NULL;
    if (p->has_id)
        memcpy(p->id, ev->id, 16);
    p->meta_len = ev->meta != NULL ? ev->meta_len : 0;
    p->data_len = ev->data_len;
    /* Consecutive events of one stream (the common case) share one copy of its name. */
    const im_pending *prev = ic->count > 0 ? p - 1 : NULL;
    int rc = 0;
    if (prev != NULL && strcmp(ic->arena.ptr + prev->stream_off, ev->stream) == 0)
        p->stream_off = prev->stream_off;
    else
        rc = put(&ic->arena, ev->stream, strlen(ev->stream) + 1, &p->stream_off);
    if (rc == 0 && prev != NULL && strcmp(ic->arena.ptr + prev->type_off, ev->type) == 0)
        p->type_off = prev->type_off;
    else if (rc == 0)
        rc = put(&ic->arena, ev->type, strlen(ev->type) + 1, &p->type_off);
    if (rc == 0)
        rc = put(&ic->arena, ev->data, ev->data_len, &p->data_off);
    if (rc == 0 && ev->meta != NULL)
        rc = put(&ic->arena, ev->meta, ev->meta_len, &p->meta_off);
    if (rc != 0)
        return report(ic, CLI_EXIT_ERROR, "out of memory");
    ic->count++;
    if (ic->count >= COMMIT_EVENTS || ic->arena.len >= COMMIT_BYTES)
        return im_commit(ic);
    return CLI_EXIT_OK;
}

static int reserve_scratch(im_ctx *ic)
{
    if (ic->count <= ic->scratch_cap)
        return 0;
    size_t cap = ic->count;
    evs_event_in *ev = realloc(ic->events, cap * sizeof *ev);
    if (ev == NULL)
        return -1;
    ic->events = ev;
    evs_batch_in *bt = realloc(ic->batches, cap * sizeof *bt);
    if (bt == NULL)
        return -1;
    ic->batches = bt;
    evs_append_result *res = realloc(ic->results, cap * sizeof *res);
    if (res == NULL)
        return -1;
    ic->results = res;
    size_t *first = realloc(ic->batch_first, cap * sizeof *first);
    if (first == NULL)
        return -1;
    ic->batch_first = first;
    ic->scratch_cap = cap;
    return 0;
}

static size_t build_batches(im_ctx *ic)
{
    const char *a = ic->arena.ptr;
    size_t nb = 0;
    for (size_t i = 0; i < ic->count; i++) {
        const im_pending *p = &ic->pend[i];
        ic->events[i] = (evs_event_in){a + p->type_off, a + p->data_off,
                                       p->data_len,     p->meta_len > 0 ? a + p->meta_off : NULL,
                                       p->meta_len,     p->has_id ? p->id : NULL};
        if (i == 0 || p->stream_off != ic->pend[i - 1].stream_off) {
            int64_t e = EVS_EXPECT_ANY;
            if (p->version >= 0)
                e = p->version > 0 ? p->version - 1 : EVS_EXPECT_NO_STREAM;
            ic->batch_first[nb] = i;
            ic->batches[nb++] = (evs_batch_in){a + p->stream_off, e, &ic->events[i], 0};
        }
        ic->batches[nb - 1].count++;
    }
    return nb;
}

int im_commit(im_ctx *ic)
{
    if (ic->count == 0)
        return CLI_EXIT_OK;
    if (reserve_scratch(ic) < 0) {
        cli_err("import", "out of memory");
        return CLI_EXIT_ERROR;
    }
    size_t nb = build_batches(ic);
    int rc = evs_append_multi(ic->results, ic->store, ic->batches, nb);
    const im_pending *first = &ic->pend[0], *last = &ic->pend[ic->count - 1];
    if (rc < 0) {
        char done[512];
        imported_clause(ic, done, sizeof done);
        progress(ic, true);
        cli_err("import", "%s:%llu to %s:%llu: %s; none of these lines was imported; %s",
                first->file, (unsigned long long)first->line, last->file,
                (unsigned long long)last->line, evs_errmsg(), done);
        ic->count = 0;
        return cli_exit_code(rc);
    }
    /* A batch whose ids all stand in its stream already wrote nothing (a re-import):
     * counted apart, so {"imported":N} is what was written. */
    int64_t dup = 0;
    for (size_t b = 0; b < nb; b++)
        dup += ic->results[b].duplicate ? (int64_t)ic->batches[b].count : 0;
    ic->imported += (int64_t)ic->count - dup;
    ic->duplicates += dup;
    ic->last_file = last->file;
    ic->last_line = last->line;
    ic->count = 0;
    ic->arena.len = 0;
    progress(ic, false);
    return CLI_EXIT_OK;
}

void im_ctx_free(im_ctx *ic)
{
    progress(ic, true);
    evs__buf_free(&ic->arena);
    evs__buf_free(&ic->scratch);
    ap_streams_free(&ic->versions);
    free(ic->pend);
    free(ic->events);
    free(ic->batches);
    free(ic->results);
    free(ic->batch_first);
}
