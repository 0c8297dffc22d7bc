/*
 * reader.c - a table of event handlers over a durable consumer (the seed's
 * StreamReader.poll with a named checkpoint): the consumer's filter is the table's
 * types, each event goes to its type's handler, and a handled event is acknowledged.
 * A refusal stops the poll before the acknowledgement, so the event comes again.
 */
#include "domain_internal.h"

#include <inttypes.h>

struct evs_reader {
    evs_consumer *c;
    evs_store *store;
    evs_event_handler *handlers;
    const char **types; /* the filter's type list, same order */
    size_t count;
    void *user;
    evs_tracer tracer;
    bool has_tracer;
    char *name;
};

static int check_table(const evs_event_handler *h, size_t n)
{
    if (!h || n == 0)
        return evs__seterr(EVS_EINVAL, "evs_reader_open: the handler table is empty");
    for (size_t i = 0; i < n; i++) {
        if (!h[i].type || !*h[i].type || !h[i].fn)
            return evs__seterr(EVS_EINVAL, "evs_reader_open: handler %zu has no %s", i,
                               h[i].fn ? "type" : "function");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(h[k].type, h[i].type))
                return evs__seterr(EVS_EINVAL, "evs_reader_open: type '%s' is in the table twice",
                                   h[i].type);
    }
    return 0;
}

int evs_reader_open(evs_reader **out, evs_store *store, const char *name,
                    const evs_event_handler *handlers, size_t handler_count, void *user,
                    const evs_tracer *tracer)
{
    if (!out || !store)
        return evs__seterr(EVS_EMISUSE, "evs_reader_open: %s is NULL", out ? "store" : "out");
    *out = NULL;
    int rc = check_table(handlers, handler_count);
    if (rc < 0)
        return rc;
    evs_reader *r = evs__calloc(1, sizeof *r);
    if (r) {
        r->handlers = evs__calloc(handler_count, sizeof *r->handlers);
        r->types = evs__calloc(handler_count, sizeof *r->types);
        r->name = name ? evs__strndup(name, strlen(name)) : NULL;
    }
    if (!r || !r->handlers || !r->types || (name && !r->name)) {
        (void)evs_reader_close(r);
        return evs__seterr(EVS_ENOMEM, "evs_reader_open: out of memory");
    }
    for (size_t i = 0; i < handler_count; i++) {
        r->handlers[i] = handlers[i];
        r->types[i] = handlers[i].type;
    }
    r->count = handler_count;
    r->store = store;
    r->user = user;
    if (tracer) {
        r->tracer = *tracer;
        r->has_tracer = true;
    }
    evs_query filter = EVS_QUERY_INIT;
    filter.types = r->types;
    filter.type_count = handler_count;
    rc = evs_consumer_open(&r->c, store, name, &filter);
    if (rc < 0) {
        int keep = rc;
        char msg[1024];
        (void)snprintf(msg, sizeof msg, "%s", evs_errmsg());
        (void)evs_reader_close(r);
        return evs__seterr(keep, "%s", msg);
    }
    *out = r;
    return 0;
}

static const evs_event_handler *handler_of(const evs_reader *r, const evs_event *ev)
{
    for (size_t i = 0; i < r->count; i++)
        if (strlen(r->handlers[i].type) == ev->type_len &&
            !memcmp(r->handlers[i].type, ev->type, ev->type_len))
            return &r->handlers[i];
    return NULL;
}

int evs_reader_poll(int64_t *handled, evs_reader *r, int64_t max_events)
{
    if (handled)
        *handled = 0;
    if (!r)
        return evs__seterr(EVS_EMISUSE, "evs_reader_poll: r is NULL");
    int64_t head = evs_head(r->store), n = 0;
    evs_event ev;
    int rc = 0;
    while ((max_events <= 0 || n < max_events) && (rc = evs_consumer_next(&ev, r->c, 0)) > 0) {
        const evs_event_handler *h = handler_of(r, &ev);
        int64_t t0 = evs__monotonic_ns();
        int hrc = h ? h->fn(r->user, &ev) : 0;
        if (r->has_tracer && r->tracer.event)
            r->tracer.event(r->tracer.user, r->name, &ev, hrc, evs__monotonic_ns() - t0);
        if (hrc != 0) {
            rc = evs__seterr(EVS_EHANDLER,
                             "reader '%s': the handler of '%.*s' returned %d at position %" PRId64
                             "; it is delivered again by the next poll",
                             r->name, (int)ev.type_len, ev.type, hrc, ev.pos);
            break;
        }
        rc = evs_consumer_ack(r->c, ev.pos);
        if (rc < 0)
            break;
        n++;
        if (ev.pos >= head)
            break;
    }
    if (handled)
        *handled = n;
    if (rc < 0)
        return rc;
    rc = evs_consumer_flush(r->c);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int64_t evs_reader_checkpoint(const evs_reader *r)
{
    return r ? evs_consumer_checkpoint(r->c) : 0;
}

int evs_reader_close(evs_reader *r)
{
    if (!r)
        return 0;
    int rc = evs_consumer_close(r->c);
    evs__free(r->handlers);
    evs__free(r->types);
    evs__free(r->name);
    evs__free(r);
    return rc;
}
