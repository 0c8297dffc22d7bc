/*
 * append_rules.c - the rules an append is checked against once the backend knows the
 * stream's state: the expected version, the writer's own times, and ids already in the
 * stream in another way. Every backend applies them at write time, under its write
 * lock, with the same messages.
 */
#include "backend.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>

int evs__check_expected(const evs__batch_w *b, int64_t actual)
{
    int64_t want = b->expected_version;
    bool ok = want == EVS_EXPECT_ANY || (want == EVS_EXPECT_NO_STREAM && actual < 0) ||
              (want == EVS_EXPECT_EXISTS && actual >= 0) || (want >= 0 && want == actual);
    if (ok)
        return 0;
    char exp[48], act[48];
    if (want == EVS_EXPECT_NO_STREAM)
        snprintf(exp, sizeof exp, "no stream");
    else if (want == EVS_EXPECT_EXISTS)
        snprintf(exp, sizeof exp, "an existing stream");
    else
        snprintf(exp, sizeof exp, "version %" PRId64, want);
    if (actual < 0)
        snprintf(act, sizeof act, "the stream does not exist");
    else
        snprintf(act, sizeof act, "the stream is at version %" PRId64, actual);
    return evs__seterr(EVS_ECONFLICT, "append to stream '%.*s': expected %s but %s",
                       (int)b->stream_len, b->stream, exp, act);
}

int evs__check_given_ts(const evs__batch_w *b, int64_t last, int64_t now)
{
    for (size_t i = 0; i < b->count; i++) {
        int64_t ts = b->events[i].ts_ns;
        if (ts == 0) {
            last = now > last ? now : last;
            continue;
        }
        if (ts < last) {
            char given[40], before[40];
            evs__time_format(given, sizeof given, ts);
            evs__time_format(before, sizeof before, last);
            return evs__seterr(EVS_EINVAL,
                               "append to stream '%.*s': event %zu: ts %s is before %s, the ts "
                               "of the event stored before it (ts never decreases)",
                               (int)b->stream_len, b->stream, i, given, before);
        }
        last = ts;
    }
    return 0;
}

int evs__id_conflict(const evs__batch_w *b, size_t i, int64_t version)
{
    char text[37];
    evs__uuid_format(text, b->events[i].id);
    return evs__seterr(EVS_EIDCONFLICT,
                       "event id %s (event index %zu of the batch) is already in stream '%.*s' at "
                       "version %" PRId64 ", but the batch is not the one appended then",
                       text, i, (int)b->stream_len, b->stream, version);
}

int evs__check_duplicate(const evs__batch_w *b, const evs__id_lookup *l, evs_append_result *res,
                         bool *dup)
{
    *dup = false;
    bool all_given = true, any = false;
    size_t top = 0;
    int64_t top_version = -1, top_pos = 0;
    for (size_t i = 0; i < b->count; i++) {
        all_given &= b->events[i].id_given;
        if (!b->events[i].id_given)
            continue;
        bool found;
        int64_t v, p;
        int rc = l->find(l->ctx, b->events[i].id, &found, &v, &p);
        if (rc < 0)
            return rc;
        if (found && v > top_version) {
            any = true;
            top = i;
            top_version = v;
            top_pos = p;
        }
    }
    if (!any)
        return 0;
    if (!all_given || top != b->count - 1)
        return evs__id_conflict(b, top, top_version);
    if (b->positions)
        b->positions[top] = top_pos;
    int64_t pos = top_pos;
    for (size_t j = top; j-- > 0;) {
        int64_t version = top_version - (int64_t)(top - j);
        bool same;
        int rc = l->at(l->ctx, version, b->events[j].id, &same, &pos);
        if (rc < 0)
            return rc;
        if (!same)
            return version < 0 ? evs__id_conflict(b, j + 1, version + 1)
                               : evs__id_conflict(b, j, version);
        if (b->positions)
            b->positions[j] = pos;
    }
    res->first_pos = pos;
    res->last_pos = top_pos;
    res->version = top_version;
    res->duplicate = 1;
    *dup = true;
    return 0;
}
