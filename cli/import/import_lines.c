/*
 * import_lines.c - the walk over line-based inputs (ndjson, tiny-event-sourcing,
 * eventlog, simple-event-sourcing): each non-blank line goes through its format's
 * parser (import_parse.h) and on to the commits (import_batch.c). A line the parser
 * rejects, or input that cannot be read, stops the import with one message naming the
 * file and the line, after committing everything before it.
 */
#include "import.h"

#include <stdio.h>
#include <string.h>

/* eventlog's positions are the day * 10^8 + the line: past that, they would collide. */
#define EVENTLOG_MAX_LINES 100000000u

static bool is_blank(const char *line, size_t len)
{
    for (size_t k = 0; k < len; k++)
        if (line[k] != ' ' && line[k] != '\t' && line[k] != '\r')
            return false;
    return true;
}

/* One line: parse it into an event and hand that over. Returns an exit code. */
static int one_line(im_ctx *ic, im_line *l, const char *line, size_t len, im_parse_fn parse)
{
    ic->scratch.len = 0;
    if (evs__buf_reserve(&ic->scratch, im_scratch_need(len)) < 0)
        return im_read_error(ic, "out of memory");
    l->scratch = ic->scratch.ptr;
    l->scratch_len = 0;
    im_event ev;
    if (parse(l, line, len, &ev) < 0)
        return im_bad(ic, "%s", l->why);
    return im_add(ic, &ev);
}

int im_lines_file(im_ctx *ic, const char *path, im_parse_fn parse, im_seq *seq)
{
    char why[512];
    ic->file = path;
    ic->line = 0;
    im_input in;
    if (im_input_open(&in, path, why, sizeof why) < 0)
        return im_read_error(ic, why);
    uint64_t done_before = ic->progress.done;
    im_line l;
    l.default_stream = ic->default_stream;
    l.stream_field = ic->stream_field;
    l.file_ts_ns = seq->file_ts_ns;
    l.want_ts = ic->keep_ts;
    int code = CLI_EXIT_OK;
    const char *line;
    size_t len;
    int r;
    while (code == CLI_EXIT_OK && (r = im_input_next(&in, &line, &len, why, sizeof why)) != 0) {
        ic->line = in.line_no;
        ic->progress.done = done_before + in.src.raw_read;
        if (r < 0) {
            char what[600];
            (void)snprintf(what, sizeof what, "cannot read: %s", why);
            ic->line = in.line_no + 1;
            code = im_read_error(ic, what);
        } else if (is_blank(line, len)) {
            continue;
        } else if (seq->per_line && in.line_no > EVENTLOG_MAX_LINES) {
            code = im_bad(ic, "more than 10^8 lines in one day's file (eventlog's limit)");
        } else {
            l.seq = seq->per_line ? seq->next + (int64_t)in.line_no - 1 : seq->next++;
            code = one_line(ic, &l, line, len, parse);
        }
    }
    ic->progress.done = done_before + in.src.raw_read;
    im_input_close(&in);
    return code;
}

int im_lines_files(im_ctx *ic, char *const *paths, size_t count, im_parse_fn parse,
                   bool seq_per_file)
{
    im_progress_size_files(&ic->progress, paths, count);
    im_seq seq = {0, false, 0};
    int code = CLI_EXIT_OK;
    for (size_t i = 0; i < count && code == CLI_EXIT_OK; i++) {
        if (seq_per_file)
            seq.next = 0;
        code = im_lines_file(ic, paths[i], parse, &seq);
    }
    return code == CLI_EXIT_OK ? im_commit(ic) : code;
}
