/*
 * erase.c - the public calls of erasure: appending with a subject, forgetting one, and
 * telling an erased event. The work is in append_seal.c, keytab.c and seal.c.
 */
#include "append_seal.h"
#include "core.h"
#include "keytab.h"
#include "seal.h"

#include <stdio.h>

/* Where each version's fields end; a new version adds its line. */
static const size_t append_opts_ends[] = {0, EVS__FIELDS_END(evs_append_opts, subject)};
_Static_assert(sizeof append_opts_ends / sizeof append_opts_ends[0] ==
                   EVS_APPEND_OPTS_VERSION + 1,
               "every append options version has its line in append_opts_ends");

int evs_append_with(evs_append_result *out, int64_t *positions, evs_store *store,
                    const char *stream, int64_t expected_version, const evs_event_in *events,
                    size_t count, const evs_append_opts *opts)
{
    int rc = evs__check_store(store, "evs_append");
    if (rc < 0)
        return rc;
    const evs_append_opts defaults = EVS_APPEND_OPTS_INIT;
    evs_append_opts o = defaults;
    if (opts && (rc = evs__versioned_copy(&o, &defaults, opts, sizeof o, append_opts_ends,
                                          EVS_APPEND_OPTS_VERSION, "evs_append_with: options",
                                          "EVS_APPEND_OPTS_INIT")) < 0)
        return rc;
    evs_batch_in b = {stream, expected_version, events, count};
    return evs__append_through(store->m, store->be, store->keys, o.subject, out, positions, &b,
                               1);
}

int evs_forget(size_t *destroyed, evs_store *store, const char *subject)
{
    size_t n = 0;
    if (destroyed)
        *destroyed = 0;
    int rc = evs__check_store(store, "evs_forget");
    if (rc < 0)
        return rc;
    size_t len = subject ? strnlen(subject, EVS_MAX_SUBJECT_LEN + 1) : 0;
    const char *problem = evs__subject_problem(subject, len);
    if (problem)
        return evs__seterr(EVS_EINVAL, "evs_forget: the subject %s", problem);
    if (store->readonly)
        return evs__seterr(EVS_EREADONLY, "evs_forget: the store was opened read-only");
    if (!store->keys)
        return evs__seterr(EVS_ENOTSUP, "evs_forget: this backend keeps no subject keys");
    rc = evs__keytab_forget(store->keys, subject, len, &n);
    if (rc < 0)
        return rc;
    if (destroyed)
        *destroyed = n;
    evs__clearerr();
    return 0;
}

const char *evs_erased_data(void)
{
    return evs__erased_marker;
}

int evs_event_erased(const evs_event *ev)
{
    return ev && ev->data == evs__erased_marker;
}
