/*
 * registry.c - the compiled-in backends, one line each, and which one a store location
 * names. A new backend is a new folder plus one line here. Every method is required
 * (backend.h says why): a table that lacks one is refused here, once, instead of being
 * checked at every call.
 *
 * Locations: "sqlite:PATH" is an SQLite database file; "postgresql://..." (or
 * "postgres://...") a libpq connection URI with a `schema` parameter, which the
 * PostgreSQL backend is given whole; anything else is a directory of the file backend.
 */
#include "backend.h"
#include "util.h"

#include <string.h>

const evs__backend_methods *evs__file_backend_methods(void);
const evs__backend_methods *evs__sqlite_backend_methods(void);
const evs__backend_methods *evs__pg_backend_methods(void);

typedef const evs__backend_methods *(*backend_getter)(void);

static const struct {
    const char *name;
    const char *scheme; /* the location's prefix, NULL for plain paths */
    bool whole;         /* the backend is given the location with its prefix */
    backend_getter get;
} registry[] = {
    {"file", NULL, false, evs__file_backend_methods},
    {"sqlite", "sqlite:", false, evs__sqlite_backend_methods},
    {"postgresql", "postgresql://", true, evs__pg_backend_methods},
    {"postgresql", "postgres://", true, evs__pg_backend_methods},
};

const char *evs__backend_missing_method(const evs__backend_methods *m)
{
#define EVS__MISSING(method)                                                               \
    if (!m->method)                                                                        \
        return #method;
    EVS__BACKEND_METHODS(EVS__MISSING)
#undef EVS__MISSING
    return NULL;
}

const evs__backend_methods *evs__backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (strcmp(registry[i].name, name) != 0)
            continue;
        const evs__backend_methods *m = registry[i].get();
        const char *missing = evs__backend_missing_method(m);
        if (missing) {
            evs__seterr(EVS_ENOTSUP, "backend '%s' lacks its %s method", name, missing);
            return NULL;
        }
        return m;
    }
    evs__seterr(EVS_ENOTSUP, "backend '%s' is not compiled in", name);
    return NULL;
}

int evs__backend_locate(const char *location, const char *fn, const evs__backend_methods **m,
                        const char **path)
{
    size_t plain = 0;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        const char *scheme = registry[i].scheme;
        if (!scheme) {
            plain = i;
            continue;
        }
        size_t len = strlen(scheme);
        if (strncmp(location, scheme, len) != 0)
            continue;
        if (location[len] == '\0' && !registry[i].whole)
            return evs__seterr(EVS_EINVAL, "%s: '%s' names no database file after '%s'", fn,
                               location, scheme);
        *path = registry[i].whole ? location : location + len;
        *m = evs__backend_find(registry[i].name);
        return *m ? 0 : evs__prefixerr("%s", fn);
    }
    *path = location;
    *m = evs__backend_find(registry[plain].name);
    return *m ? 0 : evs__prefixerr("%s", fn);
}
