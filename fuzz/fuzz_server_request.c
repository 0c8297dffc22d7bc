/*
 * fuzz_server_request.c - fuzz target for what `evstore serve` does with a request
 * before it reaches the store: the route table's path matching (server/http_route.c),
 * the query's filter parameters (server/http_params.c, cli/cli_filter.c), and an append
 * body (server/append_body.c: JSON arrays and NDJSON through the CLI's line parser, and
 * the actor written into the metadata).
 *
 * The input is "METHOD PATH[?QUERY]\n" then the body. The path is matched as the server
 * matches decoded paths; the query is split at '&' and '=' (undecoded: the server gets
 * decoded pairs, which is a subset). The body is parsed as a one-stream append (with
 * the path's stream or "s") and as a multi-stream one, each as a JSON array and as
 * NDJSON.
 *
 * Checks beyond "no crash": a matched route's tenant passes the name rule or is
 * flagged, and its name sits inside the path; every parsed event's data is valid JSON
 * and its metadata, stamped with the actor, is a valid JSON object whose first member
 * is that actor and which has no other "actor" (however its key is escaped); a
 * one-stream parse only gives events of that stream.
 */
#include "append.h"
#include "fuzz_common.h"
#include "json.h"
#include "server.h"

#include <string.h>

#define ACTOR "fuzz-actor"
#define STAMP "{\"actor\":{\"id\":\"" ACTOR "\"}"

static void check_route(const char *method, const char *path)
{
    srv_path_match m;
    bool known;
    const srv_route *rt = srv_route_find(method, path, &m, &known);
    if (rt == NULL)
        return;
    FZ_CHECK(strcmp(rt->method, method) == 0);
    if (m.tenant[0] != '\0' && !m.tenant_too_long)
        FZ_CHECK(strlen(m.tenant) <= EVS_MAX_TENANT_NAME_LEN);
    if (m.name != NULL)
        FZ_CHECK(strstr(path, m.name) != NULL);
    free(m.name);
}

static void check_query(char *query)
{
    for (int stream_route = 0; stream_route < 2; stream_route++) {
        cli_filter f;
        if (cli_filter_init(&f, "fuzz", 64) != CLI_EXIT_OK)
            return;
        f.query_names = true;
        char copy[4096];
        (void)snprintf(copy, sizeof copy, "%s", query);
        char *kv = copy;
        for (int n = 0; kv != NULL && n < 64; n++) {
            char *amp = strchr(kv, '&');
            if (amp != NULL)
                *amp++ = '\0';
            char *eq = strchr(kv, '=');
            if (eq != NULL)
                *eq = '\0';
            char why[512];
            if (!srv_filter_param(&f, stream_route, kv, eq != NULL ? eq + 1 : NULL, why,
                                  sizeof why))
                FZ_CHECK(why[0] != '\0');
            kv = amp;
        }
        char why[256];
        (void)cli_filter_check(&f, why, sizeof why);
        cli_filter_free(&f);
    }
}

/* Count the members whose key, unescaped, is "actor". */
static int count_actor(void *ctx, const evs__json_member *m)
{
    char key[64];
    size_t len = 0;
    if (m->key_len < sizeof key && evs__json_unescape(m->key, m->key_len, key, &len, NULL) == 0 &&
        len == 5 && memcmp(key, "actor", 5) == 0)
        (*(int *)ctx)++;
    return 0;
}

static void check_body(const char *body, size_t len, const char *path_stream, bool ndjson)
{
    srv_events p;
    memset(&p, 0, sizeof p);
    char why[512];
    int rc = srv_events_parse(&p, body, len, ndjson, path_stream, why, sizeof why);
    if (rc != 0) {
        FZ_CHECK(why[0] != '\0');
        srv_events_free(&p);
        return;
    }
    FZ_CHECK(p.count > 0);
    if (srv_events_stamp_actor(&p, body, ACTOR) == 0) {
        evs_event_in *ev = calloc(p.count, sizeof *ev);
        FZ_CHECK(ev != NULL);
        srv_events_fill(ev, &p, body);
        for (size_t i = 0; i < p.count; i++) {
            FZ_CHECK(evs__json_validate(ev[i].data, ev[i].data_len, EVS_MAX_JSON_DEPTH + 1, NULL));
            FZ_CHECK(ev[i].metadata != NULL && ev[i].metadata[0] == '{');
            FZ_CHECK(evs__json_validate(ev[i].metadata, ev[i].metadata_len, EVS_MAX_JSON_DEPTH + 1,
                                        NULL));
            FZ_CHECK(strncmp(ev[i].metadata, STAMP, sizeof STAMP - 1) == 0);
            int actors = 0;
            (void)evs__json_object_walk(ev[i].metadata, ev[i].metadata_len, EVS_MAX_JSON_DEPTH + 1,
                                        count_actor, &actors, NULL);
            FZ_CHECK(actors == 1);
            if (path_stream != NULL)
                FZ_CHECK(strcmp(p.names.ptr + p.lines[i].stream_off, path_stream) == 0);
        }
        free(ev);
    }
    srv_events_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t head_len = nl != NULL ? (size_t)((const uint8_t *)nl - data) : size;
    if (head_len >= 4096)
        return 0;
    char head[4096];
    memcpy(head, data, head_len);
    head[head_len] = '\0';
    if (strlen(head) != head_len)
        return 0; /* a NUL: the server never sees one in a request line */
    char *sp = strchr(head, ' ');
    const char *method = "GET";
    char *path = head;
    if (sp != NULL) {
        *sp = '\0';
        method = head;
        path = sp + 1;
    }
    char *q = strchr(path, '?');
    if (q != NULL)
        *q++ = '\0';
    check_route(method, path);
    if (q != NULL)
        check_query(q);

    size_t body_len = nl != NULL ? size - head_len - 1 : 0;
    char *body = malloc(body_len + 1); /* exact size (+1 for the empty case) for ASan */
    FZ_CHECK(body != NULL);
    if (body_len > 0)
        memcpy(body, nl + 1, body_len);
    srv_path_match m;
    bool known;
    const char *stream = "s";
    const srv_route *rt = srv_route_find("POST", path, &m, &known);
    if (rt != NULL && m.name != NULL && m.name[0] != '\0')
        stream = m.name;
    for (int nd = 0; nd < 2; nd++) {
        check_body(body, body_len, stream, nd);
        check_body(body, body_len, NULL, nd);
    }
    if (rt != NULL)
        free(m.name);
    free(body);
    return 0;
}
