/*
 * import_batch.c - the events of `evstore import` on their way into the store: copied
 * into one arena as the readers hand them over, then committed in large
 * evs_append_multi calls (one batch per run of consecutive events of one stream), so an
 * import costs few commits and few syncs whatever its size.
 *
 * When the input carries stream versions (evstore's own format), an event must get
 * exactly the version it had, so a gap or an overlap stops the import at its line
 * instead of silently renumbering a stream. Within a run of one stream the versions
 * are checked as the events come; each batch expects the version before its first
 * event, which the library checks at the commit, so the common case costs no lookup per
 * event. A commit refused that way is searched for the first event out of line
 * (import_versions.c): what comes before it is committed, and it is reported at its
 * line. A concurrent writer shows up the same way rather than as interleaved streams.
 */
#include "import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Commit once this many events or bytes are gathered: large enough that per-commit
 * costs (a sync, the lock) vanish, small enough that a commit's write buffer stays in
 * the CPU's caches while the kernel copies it (measured on 1,000,000 events: 8 MiB
 * commits cost half again the CPU time of 512 KiB ones, mostly in that copy). */
#define COMMIT_EVENTS 10000
#define COMMIT_BYTES  ((size_t)512 << 10)

/* Where an event or a problem is: "file:line", "file, row id N", or just "file" before
 * its first line. */
static void where(const im_ctx *ic, const char *file, uint64_t line, char *buf, size_t len)
{
    if (line == 0)
        (void)snprintf(buf, len, "%s", file);
    else if (ic->rows)
        (void)snprintf(buf, len, "%s, row id %llu", file, (unsigned long long)line);
    else
        (void)snprintf(buf, len, "%s:%llu", file, (unsigned long long)line);
}

/* "1234 events were imported (through file:line), none after" or "nothing was
 * imported": everything before that place is in the store, nothing after it. */
static void imported_clause(const im_ctx *ic, char *buf, size_t len)
{
    char at[320];
    if (ic->imported == 0 && ic->duplicates == 0) {
        (void)snprintf(buf, len, "nothing was imported");
        return;
    }
    where(ic, ic->last_file, ic->last_line, at, sizeof at);
    (void)snprintf(buf, len, "%lld event%s %s imported (through %s), none after",
                   (long long)ic->imported, ic->imported == 1 ? "" : "s",
                   ic->imported == 1 ? "was" : "were", at);
}

static int report(im_ctx *ic, int code, const char *what)
{
    int rc = im_commit(ic);
    if (rc != CLI_EXIT_OK)
        return rc;
    im_progress_clear(&ic->progress);
    char done[512], at[320];
    imported_clause(ic, done, sizeof done);
    where(ic, ic->file, ic->line, at, sizeof at);
    cli_err("import", "%s: %s; %s", at, what, done);
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
    return report(ic, CLI_EXIT_ERROR, why);
}

static int put(evs__buf *b, const char *p, size_t len, size_t *off)
{
    *off = b->len;
    return evs__buf_append(b, p, len);
}

/* The library's limits, checked here so that the message names the line rather than
 * an index inside a commit of thousands. */
static int check_limits(im_ctx *ic, const im_event *ev)
{
    if (strlen(ev->stream) > EVS_MAX_STREAM_LEN)
        return im_bad(ic, "the stream name is longer than %u bytes", EVS_MAX_STREAM_LEN);
    if (strlen(ev->type) > EVS_MAX_TYPE_LEN)
        return im_bad(ic, "the type is longer than %u bytes", EVS_MAX_TYPE_LEN);
    if (ev->data_len + ev->meta_len > EVS_MAX_EVENT_LEN)
        return im_bad(ic, "data and metadata are %zu bytes, more than one event may hold (%u)",
                      ev->data_len + ev->meta_len, EVS_MAX_EVENT_LEN);
    return CLI_EXIT_OK;
}

int im_add(im_ctx *ic, const im_event *ev)
{
    int code = check_limits(ic, ev);
    if (code != CLI_EXIT_OK)
        return code;
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
    p->cut_before = false;
    p->file = ic->file;
    p->line = ic->line;
    p->has_id = ev->id != NULL || ev->origin != NULL;
    if (ev->id != NULL)
        memcpy(p->id, ev->id, 16);
    else if (ev->origin != NULL && im_id_derive(&ic->ids, ev, p->id) < 0)
        return report(ic, CLI_EXIT_ERROR, "cannot derive the event's id (SHA-1 failed)");
    if (ic->keep_ts && ev->orig_ts_ns <= 0)
        return im_bad(ic, "--keep-ts: the event has no time of its own to keep");
    p->ts_ns = ic->keep_ts ? ev->orig_ts_ns : 0;
    p->meta_len = ev->meta != NULL ? ev->meta_len : 0;
    p->data_len = ev->data_len;
    /* Consecutive events of one stream (the common case) share one copy of its name. */
    const im_pending *prev = ic->count > 0 ? p - 1 : NULL;
    bool same_stream = prev != NULL && strcmp(ic->arena.ptr + prev->stream_off, ev->stream) == 0;
    if (same_stream && ev->version >= 0 && prev->version >= 0 && ev->version != prev->version + 1)
        return im_bad(ic, IM_GAP_FMT, ev->stream, (long long)ev->version,
                      (long long)prev->version + 1);
    int rc = 0;
    if (same_stream)
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


/* Batches for pend[0..n): a new one where the stream changes, and where a versioned
 * event follows one without, so every versioned event is either checked against the
 * one before it (im_add) or is the first of a batch that expects its version - 1. */
size_t im_build_batches(im_ctx *ic, size_t n)
{
    const char *a = ic->arena.ptr;
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        const im_pending *p = &ic->pend[i];
        const im_pending *prev = i > 0 ? p - 1 : NULL;
        ic->sc.events[i] = (evs_event_in){a + p->type_off,
                                       a + p->data_off,
                                       p->data_len,
                                       p->meta_len > 0 ? a + p->meta_off : NULL,
                                       p->meta_len,
                                       p->has_id ? p->id : NULL,
                                       p->ts_ns};
        if (prev == NULL || p->stream_off != prev->stream_off || p->cut_before ||
            (p->version >= 0 && prev->version < 0)) {
            int64_t e = EVS_EXPECT_ANY;
            if (p->version >= 0)
                e = p->version > 0 ? p->version - 1 : EVS_EXPECT_NO_STREAM;
            ic->sc.batch_first[nb] = i;
            ic->sc.batches[nb++] = (evs_batch_in){a + p->stream_off, e, &ic->sc.events[i], 0};
        }
        ic->sc.batches[nb - 1].count++;
    }
    return nb;
}

/* Each committed event's position, to whoever asked (futoin's consumer checkpoints). A
 * batch that was already in the store keeps its original positions, which other
 * streams' events may stand between: the library names each one. */
static void report_positions(im_ctx *ic, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ic->committed(ic->committed_arg, ic->pend[i].line, ic->sc.positions[i]);
}

/* Append pend[0..n) in one call: the library's return code; on success the figures,
 * the positions and the place of the last event are brought up to date. */
int im_append_pending(im_ctx *ic, size_t n)
{
    size_t nb = im_build_batches(ic, n);
    int64_t *positions = ic->committed != NULL ? ic->sc.positions : NULL;
    int rc = evs_append_multi_positions(ic->sc.results, positions, ic->store, ic->sc.batches, nb);
    if (rc < 0)
        return rc;
    if (ic->committed != NULL)
        report_positions(ic, n);
    /* A batch whose ids all stand in its stream already wrote nothing (a re-import):
     * counted apart, so {"imported":N} is what was written. */
    int64_t dup = 0;
    for (size_t b = 0; b < nb; b++)
        dup += ic->sc.results[b].duplicate ? (int64_t)ic->sc.batches[b].count : 0;
    ic->imported += (int64_t)n - dup;
    ic->duplicates += dup;
    ic->last_file = ic->pend[n - 1].file;
    ic->last_line = ic->pend[n - 1].line;
    return 0;
}

/* A commit refused for an expected version: when an event of it is out of line, commit
 * the events before it and report it at its line. Else (or when that fails too) the
 * library's code, for the caller to report. */
static int commit_to_gap(im_ctx *ic, int rc)
{
    size_t k;
    int64_t next;
    int found = im_find_gap(ic, &k, &next);
    if (found < 0) {
        char what[600];
        (void)snprintf(what, sizeof what,
                       "a commit was refused for a stream version, and looking up the "
                       "versions failed: %s; none of its lines was imported",
                       evs_errmsg()[0] != '\0' ? evs_errmsg() : "out of memory");
        ic->count = 0;
        return report(ic, CLI_EXIT_ERROR, what);
    }
    if (found == 0 || (k > 0 && (rc = im_append_pending(ic, k)) < 0))
        return rc;
    const im_pending *p = &ic->pend[k];
    char stream[EVS_MAX_STREAM_LEN + 1];
    (void)snprintf(stream, sizeof stream, "%s", ic->arena.ptr + p->stream_off);
    ic->file = p->file;
    ic->line = p->line;
    ic->count = 0;
    ic->arena.len = 0;
    return im_bad(ic, IM_GAP_FMT, stream, (long long)p->version, (long long)next);
}

int im_commit(im_ctx *ic)
{
    if (ic->count == 0)
        return CLI_EXIT_OK;
    if (cli_scratch_reserve(&ic->sc, ic->count) < 0) {
        cli_err("import", "out of memory");
        return CLI_EXIT_ERROR;
    }
    int rc = im_append_pending(ic, ic->count);
    /* The lookups below succeed and clear the library's message: keep it. */
    char why[600];
    (void)snprintf(why, sizeof why, "%s", rc < 0 ? evs_errmsg() : "");
    if (rc == EVS_EIDCONFLICT && im_split_overlaps(ic) > 0) {
        rc = im_append_pending(ic, ic->count);
        (void)snprintf(why, sizeof why, "%s", rc < 0 ? evs_errmsg() : "");
    }
    if (rc == EVS_ECONFLICT) {
        rc = commit_to_gap(ic, rc);
        if (rc >= 0)
            return rc; /* an exit code: reported */
    } else if (rc == EVS_EINVAL) {
        rc = im_commit_to_refused(ic);
        if (rc >= 0)
            return rc;
        (void)snprintf(why, sizeof why, "%s", evs_errmsg());
    }
    if (rc < 0) {
        const im_pending *first = &ic->pend[0], *last = &ic->pend[ic->count - 1];
        char done[512], from[320], to[320];
        imported_clause(ic, done, sizeof done);
        im_progress_clear(&ic->progress);
        where(ic, first->file, first->line, from, sizeof from);
        where(ic, last->file, last->line, to, sizeof to);
        cli_err("import", "%s to %s: %s%s; none of these %s was imported; %s", from, to, why,
                cli_remedy("import", rc, why), ic->rows ? "rows" : "lines", done);
        ic->count = 0;
        return cli_exit_code(rc);
    }
    ic->count = 0;
    ic->arena.len = 0;
    im_progress_show(&ic->progress, ic->imported);
    return CLI_EXIT_OK;
}

void im_ctx_free(im_ctx *ic)
{
    im_progress_clear(&ic->progress);
    evs__buf_free(&ic->arena);
    evs__buf_free(&ic->scratch);
    evs__buf_free(&ic->result);
    free(ic->pend);
    cli_scratch_free(&ic->sc);
}
