/*
 * route_ui.c - the web UI: GET /ui/ and /ui/{file} answer the files embedded from
 * server/ui/ (ui_assets.h), GET /ui redirects to /ui/. No token is needed for the files:
 * they hold no data; the UI asks the API for everything with the token the user pastes.
 *
 * The Content-Security-Policy lets the page load scripts, styles and images from this
 * server only and connect to this server only, so the UI makes no request elsewhere
 * even if a stored event's data holds markup.
 */
#include "server.h"
#include "ui_assets.h"

#include <microhttpd.h>
#include <string.h>

#define UI_CSP                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const ui_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < ui_asset_count; i++) {
        if (strcmp(ui_assets[i].name, name) == 0)
            return &ui_assets[i];
    }
    return NULL;
}

int route_ui_redirect(srv_req *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/ui/");
    enum MHD_Result rc = MHD_queue_response(r->conn, MHD_HTTP_PERMANENT_REDIRECT, resp);
    MHD_destroy_response(resp);
    srv_metrics_count(r, MHD_HTTP_PERMANENT_REDIRECT);
    return rc;
}

int route_ui_file(srv_req *r)
{
    const char *name = r->name != NULL ? r->name : "index.html";
    const ui_asset *a = find_asset(name);
    if (a == NULL)
        return srv_error(r, MHD_HTTP_NOT_FOUND, "not_found", "the web UI has no file '%s'", name);
    /* The bytes live as long as the program: the library sends them without a copy. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    (void)MHD_add_response_header(resp, "Content-Security-Policy", UI_CSP);
    (void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    (void)MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    enum MHD_Result rc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    srv_metrics_count(r, MHD_HTTP_OK);
    return rc;
}
