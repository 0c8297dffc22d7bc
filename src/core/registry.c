/*
 * registry.c - the compiled-in backends, one line each. A new backend is a new folder
 * plus one line here. Every method is required (backend.h says why): a table that
 * lacks one is refused here, once, instead of being checked at every call.
 */
#include "backend.h"
#include "util.h"

#include <string.h>

const evs__backend_methods *evs__file_backend_methods(void);

typedef const evs__backend_methods *(*backend_getter)(void);

static const struct {
    const char *name;
    backend_getter get;
} registry[] = {
    {"file", evs__file_backend_methods},
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
