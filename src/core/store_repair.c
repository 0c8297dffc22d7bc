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
