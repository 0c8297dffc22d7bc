/*
 * evstore_tenant.h - many stores under one root directory, one per tenant, as
 * `evstore serve` serves them: ROOT/tenants/<name>/ is the store of tenant <name>.
 *
 * A registry opens a tenant's store on its first use and keeps it open until the
 * registry is closed (opening is cheap and costs the same whatever the store's size).
 * Tenant names are 1 to 63 bytes: the first a-z or 0-9, the rest a-z, 0-9, '_' or '-'.
 * So a name is always one plain directory entry: never "..", never a slash, never a
 * character a shell or a URL would treat specially.
 */
#ifndef EVSTORE_TENANT_H
#define EVSTORE_TENANT_H

#include "evstore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EVS_MAX_TENANT_NAME_LEN 63

/* The tenant a single store is served as (EVS_TENANTS_SINGLE). */
#define EVS_TENANT_DEFAULT "default"

/* Flags for evs_tenants_open. */
#define EVS_TENANTS_LOCK                                                                           \
    0x1u /* take ROOT's server lock: one registry per root, across                                 \
          * processes; the holder's pid is written into it */
#define EVS_TENANTS_SINGLE                                                                         \
    0x2u /* ROOT is itself one store, served as the tenant                                         \
          * "default"; there are no others and none can be made */

typedef struct evs_tenants evs_tenants;

/** Check a tenant name against the rule above.
 *  @return 0, or EVS_EINVAL (the message says which byte is wrong and why). */
EVS_API int evs_tenant_name_check(const char *name);

/** Open the registry of the tenants under `root` (which must exist). Nothing is opened
 *  yet: each tenant's store is opened by its first evs_tenants_get.
 *
 *  With EVS_TENANTS_LOCK the registry holds an exclusive lock on ROOT/server.pid until
 *  it is closed (the kernel drops it when the process dies).
 *  @param store_opts  the options every tenant's store is opened with (NULL: defaults);
 *                     copied. EVS_OPEN_NOCREATE is always added: a registry never
 *                     creates a store by opening it.
 *  @return 0; EVS_EBUSY (another process holds the lock: the message names its pid,
 *          "ROOT is already served by pid N"); EVS_ENOTFOUND (root missing, or with
 *          EVS_TENANTS_SINGLE not a store); EVS_EINVAL (unknown flags); EVS_EIO;
 *          EVS_ENOMEM. Thread-safe; close it with evs_tenants_close. */
EVS_API int evs_tenants_open(evs_tenants **out, const char *root, const evs_options *store_opts,
                             unsigned flags);

/** The store of tenant `name`, opened on first use and kept open.
 *  @param out  receives the store; borrowed: valid until evs_tenants_close, which closes
 *              it. Never call evs_close on it.
 *  @return 0; EVS_EINVAL (bad name); EVS_ENOTFOUND (no such tenant); whatever evs_open
 *          returns for the tenant's store (the message is prefixed with the tenant).
 *          Thread-safe: concurrent first uses open the store once. */
EVS_API int evs_tenants_get(evs_store **out, evs_tenants *tenants, const char *name);

/** Create tenant `name` under `root`: ROOT/tenants/<name>/ with an empty store, created
 *  with `store_opts` (NULL: defaults; only its segment size matters). Works whether or
 *  not a registry of that root is open (a running server sees the tenant at once).
 *  @return 0; EVS_EINVAL (bad name); EVS_EEXIST (the tenant exists); EVS_ENOTSUP (root is
 *          a single store); EVS_ENOTFOUND (root missing); EVS_EIO; EVS_ENOSPC. */
EVS_API int evs_tenant_create(const char *root, const char *name, const evs_options *store_opts);

/** Call fn(ctx, name) for each tenant under `root`, sorted by name (for a single store:
 *  once, with "default"). Entries of ROOT/tenants/ whose names break the rule are
 *  skipped. A non-zero return from fn stops the walk and is returned.
 *  @return 0, fn's value, EVS_ENOTFOUND (root missing), EVS_EIO, EVS_ENOMEM. */
EVS_API int evs_tenants_each(const char *root, int (*fn)(void *ctx, const char *name), void *ctx);

/** Remove tenant `name` from the registry's root. Its directory ROOT/tenants/<name>/ is
 *  moved whole, by one rename, to ROOT/deleted/<name>.<nanoseconds since 1970>/:
 *  nothing is destroyed (remove that directory when sure), and the name is free at once
 *  (evs_tenant_create may make it again, as a new, empty store). After the call,
 *  evs_tenants_get and evs_tenants_each no longer find the tenant. A store of the tenant
 *  the registry has open stays valid for the calls still using it (it is closed by
 *  evs_tenants_close, whose result leaves it out); what they write after the move may
 *  fail, as the store's files have moved under them.
 *  @param moved_to  receives the new directory's path, NUL-terminated (cut to len
 *                   bytes), or NULL.
 *  @return 0; EVS_EINVAL (bad name, or a root path too long); EVS_ENOTFOUND (no such
 *          tenant); EVS_ENOTSUP (a registry of one store, EVS_TENANTS_SINGLE); EVS_EIO.
 *          Thread-safe. */
EVS_API int evs_tenants_remove(evs_tenants *tenants, const char *name, char *moved_to,
                               size_t len);

/** Close every store the registry opened, release the lock, free it. NULL is ignored.
 *  Call it after every other call on the registry, and every use of its stores, ended.
 *  @return 0, or the first failing evs_close's code (every store is closed regardless). */
EVS_API int evs_tenants_close(evs_tenants *tenants);

#ifdef __cplusplus
}
#endif

#endif /* EVSTORE_TENANT_H */
