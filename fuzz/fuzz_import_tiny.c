/*
 * fuzz_import_tiny.c - fuzz target for `evstore import --format tiny-event-sourcing`'s
 * line parser (im_parse_tiny in cli/import/import_tiny.c), which rebuilds each event's data
 * from the line's members in the scratch.
 *
 * Beyond fuzz_import_common.h's checks: the rebuilt data is an object without the
 * "index" and "type" members and with every other member of the line, and the line's
 * index was the expected one.
 */
#include "cli_common.h"
#include "fuzz_import_common.h"

struct count_walk {
    size_t members;
    bool has_index, has_type;
    int64_t index;
};

static int count_member(void *ctx, const evs__json_member *m)
{
    struct count_walk *w = ctx;
    if (im_key_is(m, "index")) {
        w->has_index = true;
        if (!cli_parse_i64(m->value, m->value_len, 0, INT64_MAX, &w->index))
            w->index = -1;
    } else if (im_key_is(m, "type")) {
        w->has_type = true;
    } else {
        w->members++;
    }
    return 0;
}

static void check_tiny(const im_line *l, const char *line, size_t len, const im_event *ev)
{
    struct count_walk in = {0, false, false, -1}, out = {0, false, false, -1};
    FZ_CHECK(evs__json_object_walk(line, len, EVS_MAX_JSON_DEPTH + 1, count_member, &in, NULL) ==
             0);
    FZ_CHECK(in.has_index && in.index == l->seq);
    FZ_CHECK(ev->data[0] == '{');
    FZ_CHECK(evs__json_object_walk(ev->data, ev->data_len, EVS_MAX_JSON_DEPTH + 1, count_member,
                                   &out, NULL) == 0);
    /* Keys with escapes are never "index" or "type", on either side alike. */
    FZ_CHECK(!out.has_index && !out.has_type);
    FZ_CHECK(out.members == in.members);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run_lines(data, size, im_parse_tiny, "tiny", check_tiny);
    return 0;
}
