/*
 * append_commit.c - one commit of `evstore append`: the pending lines become one
 * evs_append_multi call with a batch per run of consecutive lines of the same stream,
 * each batch with its expected version; after the call returns, the acknowledgements.
 * Also the messages that say which lines were written when something fails.
 */
#include "append.h"
#include "cli_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "lines 1-16 were written, lines 17 and after were not", for the first line that was
 * not written. */
void ap_written_clause(char *buf, size_t len, uint64_t first_unwritten)
{
    unsigned long long w = (unsigned long long)first_unwritten - 1;
    if (w == 0)
        (void)snprintf(buf, len, "no lines were written");
    else if (w == 1)
        (void)snprintf(buf, len, "line 1 was written, lines 2 and after were not");
    else
        (void)snprintf(buf, len, "lines 1-%llu were written, lines %llu and after were not", w,
                       w + 1);
}

static void line_range(char *buf, size_t len, uint64_t first, uint64_t last)
{
    if (first == last)
        (void)snprintf(buf, len, "line %llu", (unsigned long long)first);
    else
        (void)snprintf(buf, len, "lines %llu-%llu", (unsigned long long)first,
                       (unsigned long long)last);
}

int ap_report_oom(void)
{
    cli_err("append", "out of memory");
    return CLI_EXIT_ERROR;
}

/* The number right after `prefix` at p, or -1. */
static long long number_at(const char *p, const char *prefix, const char **end_out)
{
    size_t n = strlen(prefix);
    if (strncmp(p, prefix, n) != 0 || p[n] < '0' || p[n] > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + n, &end, 10);
    if (errno != 0 || v > 1000000000ULL)
        return -1;
    *end_out = end;
    return (long long)v;
}

/* The index of the failed batch from the library's message, which names it as "batch
 * index 2 (of 5 batches): ..." (conflicts) or "append (batch index 2) to stream ..."
 * (invalid events); -1 when it names none. Requiring the exact shape keeps a stream that
 * happens to be called "batch index 7" from being taken for it. */
static long long failed_batch(const char *msg, size_t batch_count)
{
    static const char prefix[] = "batch index ";
    for (const char *p = strstr(msg, prefix); p != NULL; p = strstr(p + 1, prefix)) {
        const char *end;
        long long b = number_at(p, prefix, &end);
        if (b < 0 || (size_t)b >= batch_count)
            continue;
        const char *of_end = NULL;
        if ((number_at(end, " (of ", &of_end) == (long long)batch_count &&
             strncmp(of_end, " batches)", 9) == 0) ||
            (p > msg && p[-1] == '(' && *end == ')'))
            return b;
    }
    return -1;
}

/* The index in its batch of the event the library's message names: "...: event index
 * 3: ..." (a bad event) or "event id UUID (event index 3 of the batch) ..." (an id
 * conflict); -1 when it names none. */
static long long failed_event(const char *msg)
{
    const char *end;
    const char *p = strstr(msg, ": event index ");
    long long k = p != NULL ? number_at(p, ": event index ", &end) : -1;
    if (k >= 0)
        return k;
    p = strstr(msg, "event id ");
    if (p == NULL || strlen(p) < 9 + 36)
        return -1;
    k = number_at(p + 9 + 36, " (event index ", &end);
    return k >= 0 && strncmp(end, " of the batch)", 14) == 0 ? k : -1;
}

/* A failed evs_append_multi: nothing of this commit was written. Name the line of the
 * event or the lines of the batch the library's message points at, or the commit's. */
static int report_commit_error(const ap_ctx *ac, int rc, size_t batch_count)
{
    const char *msg = evs_errmsg();
    if (msg[0] == '\0')
        msg = evs_errstr(rc);
    long long b = batch_count == 1 ? 0 : failed_batch(msg, batch_count);
    size_t first = 0, last = ac->count - 1;
    if (b >= 0) {
        first = ac->sc.batch_first[b];
        last = (size_t)b + 1 < batch_count ? ac->sc.batch_first[b + 1] - 1 : ac->count - 1;
        long long k = failed_event(msg);
        if (k >= 0 && (size_t)k <= last - first)
            first = last = first + (size_t)k;
        /* The line number names the batch now: the library's index would be noise. */
        const char *rest = strstr(msg, " batches): ");
        if (strncmp(msg, "batch index ", 12) == 0 && rest != NULL)
            msg = rest + 11;
    }
    char lines[64], written[128];
    line_range(lines, sizeof lines, ac->lines[first].line_no, ac->lines[last].line_no);
    ap_written_clause(written, sizeof written, ac->lines[0].line_no);
    cli_err("append", "%s: %s%s; %s", lines, msg, cli_remedy("append", rc, msg), written);
    return cli_exit_code(rc);
}

/* ---- commits ------------------------------------------------------------------------ */

/* The expected version of a batch of `count` events starting with line `first`, and
 * the stream's state as this batch leaves it. */
static int batch_expected(ap_ctx *ac, const ap_line *first, const char *stream, size_t count,
                          int64_t *out)
{
    ap_stream_state *st = ap_streams_find(&ac->streams, stream);
    bool from_option = st == NULL && ac->o.has_expected && !first->has_expected;
    int64_t e = EVS_EXPECT_ANY;
    if (first->has_expected)
        e = first->expected;
    else if (st != NULL && st->pinned)
        e = st->version;
    else if (from_option)
        e = ac->o.expected;
    bool is_explicit = first->has_expected || from_option;
    bool pins = e >= 0 || e == EVS_EXPECT_NO_STREAM;
    /* A stream needs remembering once it pins a version, or so that --expected-version
     * is not applied to it a second time. */
    if (st == NULL && (pins || ac->o.has_expected)) {
        st = ap_streams_add(&ac->streams, stream);
        if (st == NULL)
            return -1;
    }
    if (st != NULL && pins) {
        st->pinned = true;
        st->version = (e >= 0 ? e : -1) + (int64_t)count;
    } else if (st != NULL && is_explicit) {
        st->pinned = false;
    }
    *out = e;
    return 0;
}

static int reserve_scratch(ap_ctx *ac)
{
    if (ac->count <= ac->sc.cap)
        return 0;
    size_t cap = ac->sc.cap == 0 ? 256 : ac->sc.cap;
    while (cap < ac->count)
        cap *= 2;
    return cli_scratch_reserve(&ac->sc, cap);
}

/* Turn the pending lines into events and batches. Returns the batch count, or 0 when
 * out of memory. */
static size_t build_batches(ap_ctx *ac)
{
    if (reserve_scratch(ac) < 0)
        return 0;
    const char *base = ac->in.buf.ptr;
    const char *names = ac->names.ptr;
    size_t nb = 0;
    for (size_t i = 0; i < ac->count; i++) {
        const ap_line *l = &ac->lines[i];
        ac->sc.events[i] =
            (evs_event_in){names + l->type_off, base + l->data_off,
                           l->data_len,         l->meta_len > 0 ? base + l->meta_off : NULL,
                           l->meta_len,         l->has_id ? l->id : NULL, 0};
        /* Equal names of consecutive lines share one copy (append_line.c), so comparing
         * offsets compares the names. */
        if (i == 0 || l->stream_off != ac->lines[i - 1].stream_off || l->has_expected) {
            ac->sc.batch_first[nb] = i;
            ac->sc.batches[nb] = (evs_batch_in){names + l->stream_off, 0, &ac->sc.events[i], 0};
            nb++;
        }
        ac->sc.batches[nb - 1].count++;
    }
    for (size_t b = 0; b < nb; b++) {
        const ap_line *first = &ac->lines[ac->sc.batch_first[b]];
        if (batch_expected(ac, first, ac->sc.batches[b].stream, ac->sc.batches[b].count,
                           &ac->sc.batches[b].expected_version) < 0)
            return 0;
    }
    return nb;
}

/* One line per event, with the position the library gave it: a retried batch's events
 * keep the positions they were first stored at, which other streams' events may stand
 * between. Versions are consecutive in every batch. */
static void print_acks(ap_ctx *ac, size_t batch_count)
{
    cli_out *o = &ac->out;
    const int64_t *pos = ac->sc.positions;
    for (size_t b = 0; b < batch_count; b++) {
        const evs_batch_in *bt = &ac->sc.batches[b];
        const evs_append_result *r = &ac->sc.results[b];
        size_t stream_len = strlen(bt->stream);
        for (size_t k = 0; k < bt->count; k++) {
            (void)cli_out_write(o, "{\"pos\":", 7);
            (void)cli_out_i64(o, *pos++);
            (void)cli_out_write(o, ",\"stream\":", 10);
            (void)cli_out_json_str(o, bt->stream, stream_len);
            (void)cli_out_write(o, ",\"version\":", 11);
            (void)cli_out_i64(o, r->version - (int64_t)(bt->count - 1 - k));
            (void)cli_out_write(o, "}\n", 2);
        }
    }
    /* Flushed per commit, so a consumer of the acknowledgements hears at once. */
    (void)cli_out_flush(o);
}

int ap_commit(ap_ctx *ac)
{
    if (ac->count == 0)
        return CLI_EXIT_OK;
    size_t nb = build_batches(ac);
    if (nb == 0)
        return ap_report_oom();
    int rc = evs_append_multi_positions(ac->sc.results, ac->sc.positions, ac->store,
                                        ac->sc.batches, nb);
    if (rc < 0)
        return report_commit_error(ac, rc, nb);
    /* The library's versions are the truth (they also cover duplicate batches); the
     * last batch of a stream in this commit leaves its state. */
    for (size_t b = 0; b < nb; b++) {
        ap_stream_state *st = ap_streams_find(&ac->streams, ac->sc.batches[b].stream);
        if (st != NULL && st->pinned)
            st->version = ac->sc.results[b].version;
    }
    if (!ac->o.quiet)
        print_acks(ac, nb);
    uint64_t next_line = ac->lines[ac->count - 1].line_no + 1;
    ac->count = 0;
    ac->line_bytes = 0;
    ac->payload_len = 0;
    ac->names.len = 0;
    if (ac->out.err != 0 && ac->out.err != EPIPE) {
        char written[128];
        ap_written_clause(written, sizeof written, next_line);
        cli_out_report("append", &ac->out);
        cli_err("append", "stopped after the acknowledgement failed; %s", written);
        return CLI_EXIT_ERROR;
    }
    return CLI_EXIT_OK;
}
