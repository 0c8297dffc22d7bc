/*
 * versioned.c - reading the public structs that carry a version (evs_options,
 * evs_repair_opts, evs_query) from a caller built against any header since version 1.
 *
 * Such a struct only ever grows at its end, so a caller built against an older header
 * passes a shorter struct: only the bytes of its own version may be read or written,
 * and the fields added since keep their defaults.
 */
#include "util.h"

#include "evstore.h"

static int check_version(unsigned version, unsigned current, const char *what,
                         const char *init)
{
    if (version >= 1 && version <= current)
        return 0;
    if (version == 0)
        return evs__seterr(EVS_EINVAL, "%s: version 0 is not a version; initialise it with %s",
                           what, init);
    return evs__seterr(EVS_EINVAL,
                       "%s: version %u is newer than this library's %u: the program was built "
                       "against a newer evstore header; initialise it with %s",
                       what, version, current, init);
}

int evs__versioned_copy(void *dst, const void *defaults, const void *given, size_t size,
                        const size_t *ends, unsigned current, const char *what,
                        const char *init)
{
    memcpy(dst, defaults, size);
    unsigned version;
    memcpy(&version, given, sizeof version);
    int rc = check_version(version, current, what, init);
    if (rc < 0)
        return rc;
    memcpy(dst, given, ends[version]);
    return 0;
}

int evs__versioned_init(void *dst, const void *defaults, unsigned version, const size_t *ends,
                        unsigned current, const char *what, const char *init)
{
    int rc = check_version(version, current, what, init);
    if (rc < 0)
        return rc;
    memcpy(dst, defaults, ends[version]);
    memcpy(dst, &version, sizeof version);
    return 0;
}
