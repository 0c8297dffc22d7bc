/*
 * fuzz_import_ndjson.c - fuzz target for `evstore import --format ndjson`'s line parser
 * (im_parse_ndjson in cli/import/import_ndjson.c): evstore's own envelope lines.
 *
 * Beyond fuzz_import_common.h's checks: a line with a string "ts" keeps it in the
 * metadata as "imported_ts" (the parsed metadata has that key), and an event's stream
 * is the line's own or the default.
 */
#include "fuzz_import_common.h"

static int has_imported_ts(void *ctx, const evs__json_member *m)
{
    (void)ctx;
    return im_key_is(m, "imported_ts") ? 1 : 0;
}

struct ts_walk {
    bool has_ts;
};

static int find_ts(void *ctx, const evs__json_member *m)
{
    struct ts_walk *w = ctx;
    if (im_key_is(m, "ts") && m->kind == EVS__JSON_STRING)
        w->has_ts = true;
    return 0;
}

static void check_ndjson(const im_line *l, const char *line, size_t len, const im_event *ev)
{
    struct ts_walk w = {false};
    FZ_CHECK(evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 1, find_ts, &w, NULL) == 0);
    if (w.has_ts)
        FZ_CHECK(ev->meta != NULL &&
                 evs__json_object_walk(ev->meta, ev->meta_len, EVS_MAX_JSON_DEPTH, has_imported_ts,
                                       NULL, NULL) == 1);
    if (ev->stream == l->default_stream)
        FZ_CHECK(l->default_stream != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run_lines(data, size, im_parse_ndjson, "fuzz", check_ndjson);
    return 0;
}
