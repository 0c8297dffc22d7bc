/*
 * registry.c - the compiled-in backends, one line each. A new backend is a new folder
 * plus one line here.
 */
#include "backend.h"

#include <string.h>

const evs__backend_methods *evs__file_backend_methods(void);

typedef const evs__backend_methods *(*backend_getter)(void);

static const struct {
    const char *name;
    backend_getter get;
} registry[] = {
    {"file", evs__file_backend_methods},
};

const evs__backend_methods *evs__backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i].name, name) == 0)
            return registry[i].get();
    return NULL;
}
