/*
 * core.h - the core's private declarations: the store handle and the helpers its
 * files share. src/sub includes it too: it sits on the core (the store handle, the
 * backend table). Backends and the CLI never do (docs/DESIGN.md, "The layers").
 */
#ifndef EVS_CORE_H
#define EVS_CORE_H

#include "backend.h"
#include "util.h"

#include <stdatomic.h>

struct evs_store {
    evs__backend *be;
    const evs__backend_methods *m;
    _Atomic int refs;            /* the handle + every open cursor and iterator */
    atomic_bool closed;          /* evs_close was called */
    bool readonly;               /* opened with EVS_OPEN_READONLY */
    evs__keytab *keys;           /* subject keys (keytab.h); NULL when the backend keeps
                                  * none */
};

/* Take and drop a reference; the last drop closes the backend and frees the store. */
void evs__store_ref(evs_store *s);
int evs__store_unref(evs_store *s);

/* What is wrong with a stream name or event type (into why, returning EVS_EINVAL), or
 * 0 with its length: length, control characters, UTF-8. */
int evs__name_problem(const char *name, size_t max_len, size_t *len_out, char *why,
                      size_t why_len);

/* Check a stream name or event type: length, UTF-8, no control characters. `what` is
 * "stream name" or "event type"; `where` prefixes the message. */
int evs__check_name(const char *name, size_t max_len, const char *what, const char *where,
                    size_t *len_out);

/* Wake every wait on the store's handle (the backend's wake), so that a thread whose
 * evs__wait_interrupt flag was just set stops waiting at once. */
void evs__store_wake(evs_store *s);

/* Report misuse: a NULL handle or a closed store. */
int evs__check_store(const evs_store *s, const char *fn);

#endif /* EVS_CORE_H */
