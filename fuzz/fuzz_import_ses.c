/*
 * fuzz_import_ses.c - fuzz target for `evstore import --format simple-event-sourcing`'s
 * line parser (im_parse_ses in cli/import/import_ses.c): any JSON value per line.
 *
 * Beyond fuzz_import_common.h's checks: the data is the line without surrounding
 * whitespace, byte for byte, and the metadata is exactly {"ses_index":N} for the index
 * the parser was given.
 */
#include "fuzz_import_common.h"

#include <stdio.h>

static void check_ses(const im_line *l, const char *line, size_t len, const im_event *ev)
{
    FZ_CHECK(fz_inside(ev->data, ev->data_len, line, len));
    size_t before = (size_t)(ev->data - line), after = len - before - ev->data_len;
    FZ_CHECK(before == 0 || fz_blank(line, before));
    FZ_CHECK(after == 0 || fz_blank(ev->data + ev->data_len, after));
    char want[48];
    int n = snprintf(want, sizeof want, "{\"ses_index\":%lld}", (long long)l->seq);
    FZ_CHECK(ev->meta != NULL && ev->meta_len == (size_t)n &&
             memcmp(ev->meta, want, (size_t)n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run_lines(data, size, im_parse_ses, "ses", check_ses);
    return 0;
}
