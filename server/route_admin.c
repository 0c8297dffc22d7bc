/*
 * route_admin.c - GET /health (the process answers), GET /ready (it takes requests:
 * not while draining), and tenant administration with an operator token.
 */
#include "server.h"

#include <microhttpd.h>
#include <string.h>

int route_health(srv_req *r)
{
    return srv_reply(r, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}\n", 16);
}

int route_ready(srv_req *r)
{
    if (atomic_load(&r->s->draining))
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "draining",
                         "the server is shutting down");
    return srv_reply(r, MHD_HTTP_OK, "application/json", "{\"status\":\"ready\"}\n", 19);
}

static int put_tenant(void *ctx, const char *name)
{
    cli_out *o = ctx;
    (void)cli_out_str(o, "{\"tenant\":");
    (void)cli_out_json_str(o, name, strlen(name));
    return cli_out_str(o, "}\n") < 0 ? -1 : 0;
}

int route_tenants_list(srv_req *r)
{
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    int rc = evs_tenants_each(r->s->root, put_tenant, &o.out);
    if (rc < 0) {
        srv_out_free(&o);
        return srv_lib_error(r, rc);
    }
    return srv_out_reply(r, &o, MHD_HTTP_OK, "application/x-ndjson");
}

int route_tenant_create(srv_req *r)
{
    int rc = evs_tenant_create(r->s->root, r->tenant, &r->s->store_opts);
    if (rc < 0)
        return srv_lib_error(r, rc);
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    (void)put_tenant(&o.out, r->tenant);
    return srv_out_reply(r, &o, MHD_HTTP_CREATED, "application/json");
}
