/*
 * route_whoami.c - GET /v1/whoami: what the caller's token allows (tenant, scopes,
 * actor, id, name), never its secret. The web UI asks it at login to learn the token's
 * tenant and which views and buttons to offer; any valid token may ask.
 */
#include "server.h"

#include <microhttpd.h>
#include <string.h>

static void put_str(cli_out *o, const char *key, const char *value)
{
    (void)cli_out_str(o, key);
    (void)cli_out_json_str(o, value, strlen(value));
}

int route_whoami(srv_req *r)
{
    const tok_entry *t = &r->token;
    char scopes[64];
    tok_scopes_str(t->scopes, scopes, sizeof scopes);
    srv_out o;
    if (srv_out_init(&o) < 0)
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    put_str(&o.out, "{\"tenant\":", t->tenant);
    put_str(&o.out, ",\"scopes\":", scopes);
    put_str(&o.out, ",\"actor\":", t->actor);
    put_str(&o.out, ",\"id\":", t->id);
    put_str(&o.out, ",\"name\":", t->label);
    (void)cli_out_str(&o.out, r->s->auth == NULL ? ",\"auth\":false}\n" : ",\"auth\":true}\n");
    return srv_out_reply(r, &o, MHD_HTTP_OK, "application/json");
}
