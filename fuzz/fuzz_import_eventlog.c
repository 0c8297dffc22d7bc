/*
 * fuzz_import_eventlog.c - fuzz target for `evstore import --format eventlog`'s line
 * parser (im_parse_eventlog in cli/import/import_eventlog.c), which copies the eventlog id raw
 * into metadata it builds in the scratch.
 *
 * Beyond fuzz_import_common.h's checks: the data is the line's "event" object, and the
 * metadata carries the position the parser was given.
 */
#include "fuzz_import_common.h"

#include <stdio.h>

struct pos_walk {
    bool found;
    int64_t pos;
};

static int find_pos(void *ctx, const evs__json_member *m)
{
    struct pos_walk *w = ctx;
    if (im_key_is(m, "eventlog_pos")) {
        char buf[32];
        if (m->value_len < sizeof buf) {
            memcpy(buf, m->value, m->value_len);
            buf[m->value_len] = '\0';
            w->pos = strtoll(buf, NULL, 10);
            w->found = true;
        }
    }
    return 0;
}

static void check_eventlog(const im_line *l, const char *line, size_t len, const im_event *ev)
{
    FZ_CHECK(ev->data[0] == '{' && fz_inside(ev->data, ev->data_len, line, len));
    FZ_CHECK(ev->meta != NULL);
    struct pos_walk w = {false, -1};
    FZ_CHECK(
        evs__json_object_walk(ev->meta, ev->meta_len, EVS_MAX_JSON_DEPTH, find_pos, &w, NULL) == 0);
    FZ_CHECK(w.found && w.pos == l->seq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run_lines(data, size, im_parse_eventlog, "eventlog", check_eventlog);
    return 0;
}
