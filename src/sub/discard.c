/*
 * discard.c - evs_discard: drop what every durable consumer has acknowledged
 * (futoin-eventstream's discarder), through evs_retain.
 *
 * The checkpoints are read first, with a read-only handle that is closed again before
 * evs_retain takes the store to itself. A checkpoint only grows, so one that moves in
 * between only leaves more behind than could go.
 *
 * An "only once archived" condition (the archive tier) belongs in the file backend's
 * choice of segments (retain.c, decide()), next to the other policies.
 */
#include "core.h"

#include <inttypes.h>
#include <string.h>

/* Is `name` among names[0..count)? */
static bool named(const char *name, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* The lowest checkpoint of the consumers that count, into *low; how many counted. */
static int lowest_checkpoint(evs_store *s, const char *const *names, size_t count, int64_t *low,
                             size_t *counted)
{
    evs_consumer_iter *it;
    int rc = evs_consumers_open(&it, s);
    if (rc < 0)
        return rc;
    evs_consumer_info ci;
    *counted = 0;
    while ((rc = evs_consumers_next(&ci, it)) > 0) {
        if (count && !named(ci.name, names, count))
            continue;
        if (ci.status != 0) {
            rc = evs__seterr(EVS_ECORRUPT,
                             "evs_discard: consumer '%s' has an unreadable checkpoint; reset "
                             "it or leave it out",
                             ci.name);
            break;
        }
        if (*counted == 0 || ci.checkpoint < *low)
            *low = ci.checkpoint;
        (*counted)++;
    }
    evs_consumers_close(it);
    return rc < 0 ? rc : 0;
}

int evs_discard(evs_retain_report *out, const char *dir, const char *const *consumers,
                size_t count, unsigned int flags)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_discard: out is NULL");
    memset(out, 0, sizeof *out);
    if (flags & ~EVS_RETAIN_DRY_RUN)
        return evs__seterr(EVS_EINVAL, "evs_discard: unknown flags 0x%x",
                           flags & ~EVS_RETAIN_DRY_RUN);
    if (count && !consumers)
        return evs__seterr(EVS_EMISUSE, "evs_discard: %zu consumers but the array is NULL",
                           count);
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_NOCREATE | EVS_OPEN_READONLY;
    evs_store *s;
    int rc = evs_open(&s, dir, &o);
    if (rc < 0)
        return rc;
    int64_t low = 0;
    size_t counted = 0;
    rc = lowest_checkpoint(s, consumers, count, &low, &counted);
    evs_close(s);
    if (rc < 0)
        return rc;
    if (counted < (count ? count : 1)) {
        if (count)
            return evs__seterr(EVS_ENOTFOUND,
                               "evs_discard: %zu of the %zu consumers named do not exist",
                               count - counted, count);
        return evs__seterr(EVS_EINVAL,
                           "evs_discard: the store has no durable consumer: nothing is "
                           "acknowledged, nothing to discard");
    }
    evs_retain_opts ro = EVS_RETAIN_OPTS_INIT;
    ro.flags = flags;
    ro.before_pos = low + 1; /* >= 1: a consumer at 0 keeps everything */
    return evs_retain(out, dir, &ro);
}
