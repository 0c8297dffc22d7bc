/*
 * fuzz_import_common.h - what the fuzz targets of the import line parsers share
 * (fuzz_import_<format>.c): the input is one flags byte and then lines; every line goes
 * through the format's parser exactly as `evstore import` hands it over (the same
 * scratch bound, no newline, blank lines skipped), each in an exact-size heap copy and
 * with an exact-size scratch, so a read or write past either is a heap overflow ASan
 * reports.
 *
 * Flags: bit 0 sets --stream-field (to one of a few names, bits 1-2), bit 3 leaves the
 * default stream unset (ndjson without --stream), bits 4-7 pick the first seq number.
 *
 * On every parsed event: stream and type are non-empty NUL-terminated names without
 * control characters, in valid UTF-8; the data is one valid JSON value; the metadata,
 * if any, a valid JSON object; everything handed out lies inside the line or the
 * scratch, and the scratch was not overrun. A rejected line says why. The target adds
 * its format's own checks in a callback.
 */
#ifndef EVS_FUZZ_IMPORT_COMMON_H
#define EVS_FUZZ_IMPORT_COMMON_H

#include "evstore.h"
#include "fuzz_common.h"
#include "import_parse.h"
#include "json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef void (*fz_event_check)(const im_line *l, const char *line, size_t len, const im_event *ev);

static bool fz_inside(const void *p, size_t n, const char *lo, size_t lo_len)
{
    const char *c = p;
    return c >= lo && c + n <= lo + lo_len;
}

static void fz_check_name(const char *name)
{
    FZ_CHECK(name != NULL);
    size_t n = strlen(name);
    FZ_CHECK(n >= 1);
    for (size_t i = 0; i < n; i++)
        FZ_CHECK((unsigned char)name[i] >= 0x20 && name[i] != 0x7f);
    size_t bad;
    FZ_CHECK(evs__utf8_validate(name, n, &bad));
}

static void fz_check_event(const im_line *l, const char *line, size_t len, const im_event *ev,
                           size_t scratch_cap)
{
    FZ_CHECK(l->scratch_len <= scratch_cap);
    fz_check_name(ev->stream);
    fz_check_name(ev->type);
    evs__json_error err;
    FZ_CHECK(ev->data != NULL && ev->data_len > 0);
    FZ_CHECK(fz_inside(ev->data, ev->data_len, line, len) ||
             fz_inside(ev->data, ev->data_len, l->scratch, l->scratch_len));
    FZ_CHECK(evs__json_validate(ev->data, ev->data_len, EVS_MAX_JSON_DEPTH, &err));
    if (ev->meta != NULL) {
        FZ_CHECK(fz_inside(ev->meta, ev->meta_len, line, len) ||
                 fz_inside(ev->meta, ev->meta_len, l->scratch, l->scratch_len));
        FZ_CHECK(evs__json_validate(ev->meta, ev->meta_len, EVS_MAX_JSON_DEPTH, &err));
        FZ_CHECK(ev->meta_len >= 2 && ev->meta[0] == '{');
    }
    if (ev->id != NULL)
        FZ_CHECK(fz_inside(ev->id, 16, l->scratch, l->scratch_len));
}

static bool fz_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static void fz_run_lines(const uint8_t *data, size_t size, im_parse_fn parse,
                         const char *default_stream, fz_event_check extra)
{
    static const char *const fields[] = {"k", "type", "stream", "id"};
    if (size == 0)
        return;
    unsigned flags = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    int64_t seq = (int64_t)(flags >> 4) * 1000;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (!fz_blank(p, len)) {
            char *line = malloc(len);
            size_t cap = im_scratch_need(len);
            char *scratch = malloc(cap);
            FZ_CHECK(line != NULL && scratch != NULL);
            memcpy(line, p, len);
            im_line l;
            memset(&l, 0, sizeof l);
            l.default_stream = (flags & 8) != 0 ? NULL : default_stream;
            l.stream_field = (flags & 1) != 0 ? fields[(flags >> 1) & 3] : NULL;
            if (l.stream_field == NULL && l.default_stream == NULL && parse != im_parse_ndjson)
                l.default_stream = default_stream;
            l.seq = seq;
            l.scratch = scratch;
            im_event ev;
            memset(&ev, 0, sizeof ev);
            if (parse(&l, line, len, &ev) == 0) {
                fz_check_event(&l, line, len, &ev, cap);
                if (extra != NULL)
                    extra(&l, line, len, &ev);
                seq++;
            } else {
                FZ_CHECK(l.why[0] != '\0' && memchr(l.why, '\0', sizeof l.why) != NULL);
            }
            free(scratch);
            free(line);
        }
        p += len + 1;
    }
}

#endif /* EVS_FUZZ_IMPORT_COMMON_H */
