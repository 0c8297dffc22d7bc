/*
 * store_repair.c - evs_repair: check the options, then hand the store's directory to
 * the backend, which makes sure nobody has it open and does the work. There is no
 * handle: a store that needs repair may be one that evs_open refuses.
 */
#include "core.h"

#include <string.h>

/* Where each version's fields end; a new version adds its line. */
static const size_t repair_opts_ends[] = {0, EVS__FIELDS_END(evs_repair_opts, flags)};
_Static_assert(sizeof repair_opts_ends / sizeof repair_opts_ends[0] ==
                   EVS_REPAIR_OPTS_VERSION + 1,
               "every repair options version has its line in repair_opts_ends");

static int check_opts(evs_repair_opts *o, const evs_repair_opts *given)
{
    const evs_repair_opts defaults = EVS_REPAIR_OPTS_INIT;
    *o = defaults;
    if (!given)
        return 0;
    int rc = evs__versioned_copy(o, &defaults, given, sizeof *o, repair_opts_ends,
                                 EVS_REPAIR_OPTS_VERSION, "evs_repair: options",
                                 "EVS_REPAIR_OPTS_INIT");
    if (rc < 0)
        return rc;
    const unsigned int known = EVS_REPAIR_DRY_RUN | EVS_REPAIR_KEEP_INTACT;
    if (o->flags & ~known)
        return evs__seterr(EVS_EINVAL, "evs_repair: unknown flags 0x%x", o->flags & ~known);
    return 0;
}

int evs_repair(evs_repair_report *out, const char *dir, const evs_repair_opts *opts)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_repair: out is NULL");
    memset(out, 0, sizeof *out);
    if (!dir || !*dir)
        return evs__seterr(EVS_EINVAL, "evs_repair: the store path is empty");
    evs_repair_opts o;
    int rc = check_opts(&o, opts);
    if (rc < 0)
        return rc;
    const evs__backend_methods *m;
    const char *where;
    rc = evs__backend_locate(dir, "evs_repair", &m, &where);
    if (rc < 0)
        return rc;
    rc = m->repair(where, &o, out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

/* Where each version's fields end; a new version adds its line. */
static const size_t retain_ends[] = {0, EVS__FIELDS_END(evs_retain_opts, before_pos)};
_Static_assert(sizeof retain_ends / sizeof retain_ends[0] == EVS_RETAIN_OPTS_VERSION + 1,
               "every retain options version has its line in retain_ends");

int evs_retain(evs_retain_report *out, const char *dir, const evs_retain_opts *opts)
{
    if (!out)
        return evs__seterr(EVS_EMISUSE, "evs_retain: out is NULL");
    memset(out, 0, sizeof *out);
    if (!dir || !*dir)
        return evs__seterr(EVS_EINVAL, "evs_retain: the store path is empty");
    const evs_retain_opts defaults = EVS_RETAIN_OPTS_INIT;
    evs_retain_opts o;
    int rc = evs__versioned_copy(&o, &defaults, opts ? opts : &defaults, sizeof o, retain_ends,
                                 EVS_RETAIN_OPTS_VERSION, "evs_retain: options",
                                 "EVS_RETAIN_OPTS_INIT");
    if (rc < 0)
        return rc;
    if (o.flags & ~EVS_RETAIN_DRY_RUN)
        return evs__seterr(EVS_EINVAL, "evs_retain: unknown flags 0x%x",
                           o.flags & ~EVS_RETAIN_DRY_RUN);
    if (o.max_age_ns < 0 || o.max_bytes < 0 || o.before_pos < 0)
        return evs__seterr(EVS_EINVAL, "evs_retain: max_age_ns, max_bytes and before_pos "
                                       "must be >= 0 (0 = not used)");
    if (!o.max_age_ns && !o.max_bytes && !o.before_pos)
        return evs__seterr(EVS_EINVAL, "evs_retain: no policy given (max_age_ns, max_bytes "
                                       "or before_pos)");
    const evs__backend_methods *m;
    const char *where;
    rc = evs__backend_locate(dir, "evs_retain", &m, &where);
    if (rc < 0)
        return rc;
    rc = m->retain(where, &o, out);
    if (rc == 0)
        evs__clearerr();
    return rc;
}
