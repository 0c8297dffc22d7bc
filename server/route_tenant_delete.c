/*
 * route_tenant_delete.c - DELETE /v1/tenants/{tenant} (an operator token with admin):
 * the tenant's directory is moved aside whole (evs_tenants_remove: nothing destroyed,
 * the name free at once), its tokens are revoked so that a tenant made again under the
 * name does not accept them, and its SSE streams end with an event saying why.
 * Requests in flight keep the store they hold; what they write after the move may fail.
 */
#include "server.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

/* Revoke every token of `tenant`; the count, or -1 with why. */
static int revoke_tokens(const char *root, const char *tenant, char *why, size_t why_len)
{
    tok_list l = {0};
    if (tok_load(&l, root, why, why_len) != 0)
        return -1;
    int revoked = 0;
    for (size_t i = 0; i < l.count; i++) {
        if (strcmp(l.items[i].tenant, tenant) != 0)
            continue;
        int rc = tok_revoke(root, l.items[i].id, why, why_len);
        if (rc < 0) {
            tok_list_free(&l);
            return -1;
        }
        revoked += rc;
    }
    tok_list_free(&l);
    return revoked;
}

int route_tenant_delete(srv_req *r)
{
    char moved[4096];
    int rc = evs_tenants_remove(r->s->tenants, r->tenant, moved, sizeof moved);
    if (rc < 0)
        return srv_lib_error(r, rc);
    atomic_fetch_add(&r->s->tenants_removed, 1);
    char why[512];
    int revoked = revoke_tokens(r->s->root, r->tenant, why, sizeof why);
    if (revoked < 0)
        return srv_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "io_error",
                         "tenant '%s' was moved to %s, but its tokens were not revoked: %s",
                         r->tenant, moved, why);
    /* The new place relative to the root: the answer names no path of the machine. */
    size_t root_len = strlen(r->s->root);
    const char *rel = strncmp(moved, r->s->root, root_len) == 0 && moved[root_len] == '/'
                          ? moved + root_len + 1
                          : moved;
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    (void)cli_out_str(&o.out, "{\"tenant\":");
    (void)cli_out_json_str(&o.out, r->tenant, strlen(r->tenant));
    (void)cli_out_str(&o.out, ",\"deleted\":true,\"moved_to\":");
    (void)cli_out_json_str(&o.out, rel, strlen(rel));
    (void)cli_out_str(&o.out, ",\"tokens_revoked\":");
    (void)cli_out_i64(&o.out, revoked);
    (void)cli_out_str(&o.out, "}\n");
    return srv_out_reply(r, &o, MHD_HTTP_OK, "application/json");
}

bool srv_tenant_gone(srv *s, const char *tenant, evs_store *store, unsigned *seen)
{
    unsigned now = atomic_load(&s->tenants_removed);
    if (now == *seen)
        return false;
    *seen = now;
    evs_store *current = NULL;
    return evs_tenants_get(&current, s->tenants, tenant) < 0 || current != store;
}
