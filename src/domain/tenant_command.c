/*
 * tenant_command.c - commands per tenant: one set of aggregate types over every
 * tenant's store of a registry (include/evstore_tenant.h). A domain is opened over a
 * tenant's store on its first command and kept; the lookup is a short scan under a
 * mutex, the command itself runs outside it (a domain is immutable once open).
 *
 * A tenant deleted and made again has a new store: the registry hands it out, the old
 * domain no longer matches it and a new one is opened. Old domains are kept until the
 * set is closed, since a command may still be running on one.
 */
#include "domain_internal.h"
#include "evstore_tenant.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tenant_domain {
    char tenant[EVS_MAX_TENANT_NAME_LEN + 1];
    evs_store *store; /* the store the domain was opened over */
    evs_domain *domain;
};

struct evs_tenant_domains {
    evs_tenants *tenants;
    const evs_aggregate_type *const *types; /* the caller's, as evs_domain_open's */
    size_t type_count;
    evs_domain_opts opts;
    evs_tracer tracer;
    pthread_mutex_t mu;
    evs__buf items; /* struct tenant_domain, one after the other */
};

static struct tenant_domain *items_of(const evs_tenant_domains *td, size_t *count)
{
    *count = td->items.len / sizeof(struct tenant_domain);
    return (struct tenant_domain *)(void *)td->items.ptr;
}

int evs_tenant_domains_open(evs_tenant_domains **out, evs_tenants *tenants,
                            const evs_aggregate_type *const *types, size_t type_count,
                            const evs_domain_opts *opts)
{
    if (out == NULL || tenants == NULL)
        return evs__seterr(EVS_EMISUSE, "evs_tenant_domains_open: out and tenants are required");
    *out = NULL;
    evs_tenant_domains *td = evs__calloc(1, sizeof *td);
    if (td == NULL)
        return evs__seterr(EVS_ENOMEM, "out of memory");
    evs_domain_opts defaults = EVS_DOMAIN_OPTS_INIT;
    td->tenants = tenants;
    td->types = types;
    td->type_count = type_count;
    td->opts = opts != NULL ? *opts : defaults;
    if (td->opts.tracer != NULL) {
        /* Kept by value: the caller's tracer need not outlive this call. */
        td->tracer = *td->opts.tracer;
        td->opts.tracer = &td->tracer;
    }
    pthread_mutex_init(&td->mu, NULL);
    *out = td;
    evs__clearerr();
    return 0;
}

/* The domain of `tenant` over `store`, opened if none matches; mu is held. */
static int domain_for(evs_domain **out, evs_tenant_domains *td, const char *tenant,
                      evs_store *store)
{
    size_t count;
    struct tenant_domain *items = items_of(td, &count);
    for (size_t i = 0; i < count; i++) {
        if (items[i].store == store && strcmp(items[i].tenant, tenant) == 0) {
            *out = items[i].domain;
            return 0;
        }
    }
    struct tenant_domain it = {.store = store};
    (void)snprintf(it.tenant, sizeof it.tenant, "%s", tenant);
    int rc = evs_domain_open(&it.domain, store, td->types, td->type_count, &td->opts);
    if (rc < 0)
        return rc;
    if (evs__buf_append(&td->items, &it, sizeof it) != 0) {
        evs_domain_close(it.domain);
        return evs__seterr(EVS_ENOMEM, "out of memory");
    }
    *out = it.domain;
    return 0;
}

int evs_tenant_domain(evs_domain **out, evs_tenant_domains *td, const char *tenant)
{
    if (out == NULL || td == NULL)
        return evs__seterr(EVS_EMISUSE, "evs_tenant_domain: out and the set are required");
    *out = NULL;
    evs_store *store = NULL;
    int rc = evs_tenants_get(&store, td->tenants, tenant);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&td->mu);
    rc = domain_for(out, td, tenant, store);
    pthread_mutex_unlock(&td->mu);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_tenant_command(evs_command_result *out, void *state_out, evs_tenant_domains *td,
                       const char *tenant, const evs_actor *actor, const char *command,
                       const char *aggregate_id, const char *payload, size_t payload_len,
                       const evs_command_opts *opts)
{
    if (td == NULL || actor == NULL)
        return evs__seterr(EVS_EMISUSE, "evs_tenant_command: the set and the actor are required");
    if (tenant == NULL)
        tenant = actor->tenant;
    if (tenant == NULL)
        return evs__seterr(EVS_EINVAL,
                           "which tenant? neither the call nor actor '%s' names one", actor->id);
    if (actor->tenant != NULL && strcmp(actor->tenant, tenant) != 0)
        return evs__seterr(EVS_EFORBIDDEN,
                           "actor '%s' belongs to tenant '%s' and cannot run %s in tenant "
                           "'%s'",
                           actor->id, actor->tenant, command != NULL ? command : "commands",
                           tenant);
    evs_domain *d = NULL;
    int rc = evs_tenant_domain(&d, td, tenant);
    if (rc < 0)
        return rc;
    return evs_command(out, state_out, d, actor, command, aggregate_id, payload, payload_len,
                       opts);
}

void evs_tenant_domains_close(evs_tenant_domains *td)
{
    if (td == NULL)
        return;
    size_t count;
    struct tenant_domain *items = items_of(td, &count);
    for (size_t i = 0; i < count; i++)
        evs_domain_close(items[i].domain);
    pthread_mutex_destroy(&td->mu);
    evs__buf_free(&td->items);
    evs__free(td);
}
