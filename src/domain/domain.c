/*
 * domain.c - the domain handle: a checked copy of the aggregate types, an index of
 * every command by name (sorted, searched by bisection), the retry budget and the
 * tracer. Nothing in it changes after open, which is what lets any number of threads
 * run commands through one domain without a lock.
 */
#include "domain_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct evs_domain {
    evs_store *store;
    evs_aggregate_type *types; /* type_count copies */
    size_t type_count;
    evs__command_entry *commands; /* sorted by name */
    size_t command_count;
    int max_retries;
    evs_tracer tracer;
    bool has_tracer;
};

/* Type and command names: what a stream category and a metadata field can hold
 * without escaping. Type names exclude '-', which separates the category from the id. */
static bool name_ok(const char *s, bool allow_dash)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > EVS__MAX_NAME_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || (allow_dash && c == '-');
        if (!ok)
            return false;
    }
    return true;
}

static int type_error(size_t i, const char *name, const char *what)
{
    return evs__seterr(EVS_EINVAL, "evs_domain_open: aggregate type %zu ('%s'): %s", i,
                       name ? name : "(null)", what);
}

static int check_type(const evs_aggregate_type *t, size_t i)
{
    if (!t)
        return type_error(i, NULL, "the type is NULL");
    if (t->version < 1 || t->version > EVS_AGGREGATE_TYPE_VERSION)
        return type_error(i, t->name, "version is not 1..EVS_AGGREGATE_TYPE_VERSION");
    if (!name_ok(t->name, false))
        return type_error(i, t->name, "name must be 1..128 bytes of A-Z a-z 0-9 '_' '.' (no '-')");
    if (t->state_size == 0)
        return type_error(i, t->name, "state_size is 0");
    if (!t->apply)
        return type_error(i, t->name, "apply is NULL");
    if (t->state_version == 0)
        return type_error(i, t->name, "state_version must be >= 1");
    if (!t->encode != !t->decode)
        return type_error(i, t->name, "encode and decode must both be given, or neither");
    if (t->command_count > 0 && !t->commands)
        return type_error(i, t->name, "commands is NULL but command_count is not 0");
    for (size_t k = 0; k < t->command_count; k++) {
        const evs_command_def *c = &t->commands[k];
        if (!name_ok(c->name, true) || !c->handler)
            return evs__seterr(EVS_EINVAL, "evs_domain_open: type '%s', command %zu ('%s'): %s",
                               t->name, k, c->name ? c->name : "(null)",
                               c->handler ? "name must be 1..128 bytes of A-Z a-z 0-9 '_' '.' '-'"
                                          : "handler is NULL");
        for (size_t r = 0; r < c->role_count; r++)
            if (!c->roles || !c->roles[r])
                return evs__seterr(EVS_EINVAL,
                                   "evs_domain_open: type '%s', command '%s': role %zu is NULL",
                                   t->name, c->name, r);
    }
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const evs__command_entry *)a)->name, ((const evs__command_entry *)b)->name);
}

/* Fill the sorted command index; EVS_EINVAL when a name is used twice. */
static int index_commands(evs_domain *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->type_count; i++)
        n += d->types[i].command_count;
    d->commands = evs__calloc(n ? n : 1, sizeof *d->commands);
    if (!d->commands)
        return evs__seterr(EVS_ENOMEM, "evs_domain_open: out of memory for %zu commands", n);
    for (size_t i = 0; i < d->type_count; i++)
        for (size_t k = 0; k < d->types[i].command_count; k++)
            d->commands[d->command_count++] = (evs__command_entry){
                d->types[i].commands[k].name, &d->types[i].commands[k], &d->types[i]};
    qsort(d->commands, n, sizeof *d->commands, entry_cmp);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(d->commands[i].name, d->commands[i - 1].name))
            return evs__seterr(EVS_EINVAL,
                               "evs_domain_open: command '%s' is defined by types '%s' and "
                               "'%s': command names must be unique in a domain",
                               d->commands[i].name, d->commands[i - 1].type->name,
                               d->commands[i].type->name);
    return 0;
}

static int copy_types(evs_domain *d, const evs_aggregate_type *const *types, size_t count)
{
    if (count == 0 || !types)
        return evs__seterr(EVS_EINVAL, "evs_domain_open: no aggregate types");
    for (size_t i = 0; i < count; i++) {
        int rc = check_type(types[i], i);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(types[j]->name, types[i]->name))
                return type_error(i, types[i]->name, "two types have this name");
    }
    d->types = evs__calloc(count, sizeof *d->types);
    if (!d->types)
        return evs__seterr(EVS_ENOMEM, "evs_domain_open: out of memory for %zu types", count);
    for (size_t i = 0; i < count; i++)
        d->types[i] = *types[i];
    d->type_count = count;
    return 0;
}

int evs_domain_open(evs_domain **out, evs_store *store, const evs_aggregate_type *const *types,
                    size_t type_count, const evs_domain_opts *opts)
{
    if (!out || !store) {
        if (out)
            *out = NULL;
        return evs__seterr(EVS_EMISUSE, "evs_domain_open: %s is NULL", out ? "store" : "out");
    }
    *out = NULL;
    evs_domain_opts o = EVS_DOMAIN_OPTS_INIT;
    if (opts) {
        if (opts->version < 1 || opts->version > EVS_DOMAIN_OPTS_VERSION)
            return evs__seterr(EVS_EINVAL, "evs_domain_open: opts.version %u is not 1..%u",
                               opts->version, EVS_DOMAIN_OPTS_VERSION);
        o = *opts;
    }
    if (o.max_retries < 0)
        return evs__seterr(EVS_EINVAL, "evs_domain_open: opts.max_retries %d is negative",
                           o.max_retries);
    evs_domain *d = evs__calloc(1, sizeof *d);
    if (!d)
        return evs__seterr(EVS_ENOMEM, "evs_domain_open: out of memory");
    d->store = store;
    d->max_retries = o.max_retries;
    if (o.tracer) {
        d->tracer = *o.tracer;
        d->has_tracer = true;
    }
    int rc = copy_types(d, types, type_count);
    if (rc == 0)
        rc = index_commands(d);
    if (rc < 0) {
        evs_domain_close(d);
        return rc;
    }
    *out = d;
    evs__clearerr();
    return 0;
}

void evs_domain_close(evs_domain *d)
{
    if (!d)
        return;
    evs__free(d->commands);
    evs__free(d->types);
    evs__free(d);
}

evs_store *evs__domain_store(const evs_domain *d)
{
    return d->store;
}

int evs__domain_max_retries(const evs_domain *d)
{
    return d->max_retries;
}

const evs_tracer *evs__domain_tracer(const evs_domain *d)
{
    return d->has_tracer ? &d->tracer : NULL;
}

const evs__command_entry *evs__domain_command(const evs_domain *d, const char *name)
{
    evs__command_entry key = {name, NULL, NULL};
    return bsearch(&key, d->commands, d->command_count, sizeof key, entry_cmp);
}

const evs_aggregate_type *evs__domain_type(const evs_domain *d, const char *name)
{
    for (size_t i = 0; i < d->type_count; i++)
        if (!strcmp(d->types[i].name, name))
            return &d->types[i];
    return NULL;
}

void evs__domain_note(const evs_domain *d, const char *fmt, ...)
{
    if (!d->has_tracer || !d->tracer.note)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->tracer.note(d->tracer.user, line);
}

int evs__aggregate_stream(char **out, const evs_aggregate_type *t, const char *aggregate_id)
{
    *out = NULL;
    size_t tn = strlen(t->name), n = aggregate_id ? strlen(aggregate_id) : 0;
    /* Room for the reserved snapshot stream's prefix too, so every aggregate can have
     * snapshots. */
    size_t max = EVS_MAX_STREAM_LEN - tn - 1 - strlen(EVS__SNAPSHOT_PREFIX);
    size_t bad;
    if (n == 0 || n > max)
        return evs__seterr(EVS_EINVAL, "aggregate id of type '%s' must be 1..%zu bytes, not %zu",
                           t->name, max, n);
    if (!evs__utf8_validate(aggregate_id, n, &bad))
        return evs__seterr(EVS_EINVAL, "aggregate id of type '%s': invalid UTF-8 at byte %zu",
                           t->name, bad);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)aggregate_id[i] < 0x20 || aggregate_id[i] == 0x7f)
            return evs__seterr(
                EVS_EINVAL, "aggregate id of type '%s': control character at byte %zu", t->name, i);
    char *s = evs__alloc(tn + 1 + n + 1);
    if (!s)
        return evs__seterr(EVS_ENOMEM, "out of memory naming an aggregate's stream");
    memcpy(s, t->name, tn);
    s[tn] = '-';
    memcpy(s + tn + 1, aggregate_id, n + 1);
    *out = s;
    return 0;
}
