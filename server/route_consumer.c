/*
 * route_consumer.c - durable consumers over HTTP, futoin-eventstream's reliable
 * consumers: poll (events after the checkpoint, with a long-poll wait and a limit),
 * ack, reset, delete, list with lag.
 *
 * A consumer's name is scoped by the token's actor: the store keeps "<actor>.<name>"
 * (actors have no '.'), so two services with their own tokens cannot take each other's
 * checkpoints, as futoin scopes components by credentials. A poll opens the consumer,
 * reads, and closes it: the checkpoint moves only with ack, so events not acknowledged
 * come again on the next poll (at least once). Ack moves the checkpoint forward only.
 * A token with the admin scope may list every actor's consumers (?all=1, under their
 * stored names) and reset or delete one by its stored name (?stored=1).
 */
#include "server.h"
#include "util.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#define POLL_LIMIT_DEFAULT 100
#define POLL_LIMIT_MAX     10000

/* The store's name for the path's consumer; false after a 400 reply. as_stored: the
 * path holds the name as the store keeps it (an admin acting on another actor's
 * consumer), taken as it is. */
static bool scoped_name(srv_req *r, bool as_stored, char out[EVS_MAX_CONSUMER_NAME_LEN + 1],
                        int *reply_rc)
{
    const char *name = r->name;
    size_t len = strlen(name);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            *reply_rc =
                srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                          "consumer name: byte %zu is not A-Z, a-z, 0-9, '.', '_' or '-'", i);
            return false;
        }
    }
    const char *actor = as_stored ? "" : r->token.actor;
    int n = actor[0] != '\0' ? snprintf(out, EVS_MAX_CONSUMER_NAME_LEN + 1, "%s.%s", actor, name)
                             : snprintf(out, EVS_MAX_CONSUMER_NAME_LEN + 1, "%s", name);
    if (n < 0 || n > EVS_MAX_CONSUMER_NAME_LEN) {
        *reply_rc = srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                              "consumer name is too long: with the actor's prefix at most %d "
                              "bytes",
                              EVS_MAX_CONSUMER_NAME_LEN);
        return false;
    }
    return true;
}

/* ?<param>=1: the request is about every actor's consumers under their stored names,
 * which only the admin scope may ask. false after a 400 or 403 reply. */
static bool every_actor(srv_req *r, const char *param, bool *out, int *reply_rc)
{
    int64_t v = 0;
    if (!srv_param_i64(r, param, 0, 1, &v, reply_rc))
        return false;
    *out = v == 1;
    if (*out && (r->token.scopes & TOK_SCOPE_ADMIN) == 0) {
        *reply_rc = srv_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
                              "%s=1 (every actor's consumers) needs the scope 'admin'", param);
        return false;
    }
    return true;
}

/* The tenant's store and the store's name of the path's consumer; NULL after a reply.
 * admin_param: the parameter that lets an admin name a consumer as stored, or NULL. */
static evs_store *target(srv_req *r, const char *admin_param,
                         char name[EVS_MAX_CONSUMER_NAME_LEN + 1], int *reply_rc)
{
    bool as_stored = false;
    if (admin_param != NULL && !every_actor(r, admin_param, &as_stored, reply_rc))
        return NULL;
    evs_store *store = srv_store(r, reply_rc);
    return store != NULL && scoped_name(r, as_stored, name, reply_rc) ? store : NULL;
}

static int reply_checkpoint(srv_req *r, int64_t pos)
{
    char body[64];
    int n = snprintf(body, sizeof body, "{\"checkpoint\":%lld}\n", (long long)pos);
    return srv_reply(r, MHD_HTTP_OK, "application/json", body, (size_t)n);
}

int route_consumer_poll(srv_req *r)
{
    static const char *const extra[] = {"wait", NULL};
    int reply_rc;
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    evs_store *store = target(r, NULL, name, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int64_t wait_s = 0;
    if (!srv_param_i64(r, "wait", 0, r->s->limits.wait_max_s, &wait_s, &reply_rc))
        return reply_rc;
    cli_filter f;
    if (srv_params_filter(r, &f, NULL, extra, &reply_rc) < 0)
        return reply_rc;
    uint64_t limit = f.query.limit != 0 ? f.query.limit : POLL_LIMIT_DEFAULT;
    if (limit > POLL_LIMIT_MAX)
        limit = POLL_LIMIT_MAX;
    evs_query filter = f.query;
    filter.limit = 0;
    if (filter.from_pos != 0 || filter.to_pos != 0 || filter.direction != EVS_FORWARD) {
        cli_filter_free(&f);
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                         "a consumer starts after its checkpoint: no from, to or backwards");
    }
    evs_consumer *c = NULL;
    int rc = evs_consumer_open(&c, store, name, &filter);
    cli_filter_free(&f);
    if (rc < 0)
        return srv_lib_error(r, rc);
    srv_out o;
    if (srv_out_init(&o) < 0) {
        (void)evs_consumer_close(c);
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    }
    bool array = srv_wants_array(r);
    if (array)
        (void)cli_out_str(&o.out, "[");
    int64_t deadline = evs__monotonic_ns() / 1000000 + wait_s * 1000;
    uint64_t got = 0;
    while (got < limit && !atomic_load(&r->s->draining)) {
        int64_t left = got == 0 ? deadline - evs__monotonic_ns() / 1000000 : 0;
        evs_event ev;
        rc = evs_consumer_next(&ev, c, left > 0 ? (int)(left < 250 ? left : 250) : 0);
        if (rc < 0)
            break;
        if (rc == 0) {
            if (got > 0 || left <= 0)
                break;
            continue;
        }
        if (array && got > 0)
            (void)cli_out_str(&o.out, ",");
        (void)cli_out_event(&o.out, &ev);
        got++;
    }
    (void)evs_consumer_close(c);
    if (rc < 0) {
        srv_out_free(&o);
        return srv_lib_error(r, rc);
    }
    if (array)
        (void)cli_out_str(&o.out, "]\n");
    return srv_out_reply(r, &o, MHD_HTTP_OK, array ? "application/json" : "application/x-ndjson");
}

/* The consumer's saved checkpoint, or -1 when it does not exist. */
static int checkpoint_of(evs_store *store, const char *name, int64_t *out)
{
    evs_consumer_iter *it = NULL;
    int rc = evs_consumers_open(&it, store);
    if (rc < 0)
        return rc;
    evs_consumer_info ci;
    *out = -1;
    while ((rc = evs_consumers_next(&ci, it)) > 0) {
        if (strcmp(ci.name, name) == 0)
            *out = ci.checkpoint;
    }
    evs_consumers_close(it);
    return rc < 0 ? rc : 0;
}

int route_consumer_ack(srv_req *r)
{
    int reply_rc;
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    evs_store *store = target(r, NULL, name, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int64_t pos = -1, now = 0;
    if (!srv_param_i64(r, "pos", 0, INT64_MAX, &pos, &reply_rc))
        return reply_rc;
    if (pos < 0)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                         "ack needs ?pos=N: the position of the last event processed");
    int rc = checkpoint_of(store, name, &now);
    if (rc < 0)
        return srv_lib_error(r, rc);
    if (now < 0)
        return srv_error(r, MHD_HTTP_NOT_FOUND, "not_found", "consumer '%s' does not exist",
                         r->name);
    if (pos < now)
        return srv_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
                         "ack %lld is below the checkpoint %lld: acks only go forward "
                         "(reset moves it back)",
                         (long long)pos, (long long)now);
    rc = evs_consumer_reset(store, name, pos);
    return rc < 0 ? srv_lib_error(r, rc) : reply_checkpoint(r, pos);
}

int route_consumer_reset(srv_req *r)
{
    int reply_rc;
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    evs_store *store = target(r, "stored", name, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int64_t to = 0;
    if (!srv_param_i64(r, "to", 0, INT64_MAX, &to, &reply_rc))
        return reply_rc;
    int rc = evs_consumer_reset(store, name, to);
    return rc < 0 ? srv_lib_error(r, rc) : reply_checkpoint(r, to);
}

int route_consumer_delete(srv_req *r)
{
    int reply_rc;
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    evs_store *store = target(r, "stored", name, &reply_rc);
    if (store == NULL)
        return reply_rc;
    int rc = evs_consumer_delete(store, name);
    if (rc < 0)
        return srv_lib_error(r, rc);
    return srv_reply(r, MHD_HTTP_OK, "application/json", "{\"deleted\":true}\n", 17);
}

int route_consumers_list(srv_req *r)
{
    int reply_rc;
    bool all = false;
    if (!every_actor(r, "all", &all, &reply_rc))
        return reply_rc;
    evs_store *store = srv_store(r, &reply_rc);
    if (store == NULL)
        return reply_rc;
    evs_consumer_iter *it = NULL;
    int rc = evs_consumers_open(&it, store);
    if (rc < 0)
        return srv_lib_error(r, rc);
    srv_out o;
    if (srv_out_init(&o) < 0) {
        evs_consumers_close(it);
        return srv_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded", "out of memory");
    }
    const char *actor = all ? "" : r->token.actor;
    size_t alen = strlen(actor);
    evs_consumer_info ci;
    while ((rc = evs_consumers_next(&ci, it)) > 0) {
        /* Only this actor's consumers, under the names it gave them. */
        if (alen > 0 && (strncmp(ci.name, actor, alen) != 0 || ci.name[alen] != '.'))
            continue;
        ci.name += alen > 0 ? alen + 1 : 0;
        cli_out_consumer(&o.out, &ci);
    }
    evs_consumers_close(it);
    if (rc < 0) {
        srv_out_free(&o);
        return srv_lib_error(r, rc);
    }
    return srv_out_reply(r, &o, MHD_HTTP_OK, "application/x-ndjson");
}
