/*
 * server.h - what the files of `evstore serve` share: the server's state, one request,
 * the route table, replies, tokens.
 *
 *   http_daemon.c    libmicrohttpd set-up, limits, request bodies, dispatch, draining
 *   http_route.c     the route table and path matching
 *   http_reply.c     replies: JSON errors, buffers, streamed bodies
 *   http_params.c    query parameters into the CLI's filters
 *   tenant_inflight.c  appends in flight per tenant
 *   http_limits.c    the memory bounds beside libmicrohttpd's own: bodies held in
 *                    memory, SSE send buffers, the log line of a dropped client
 *   route_*.c        one file per group of routes (route_tenant_delete.c: deleting
 *                    a tenant, and how its streams learn of it)
 *   token_file.c     DIR/tokens: hashed tokens, atomically replaced
 *   token_auth.c     Authorization: Bearer, reloaded when the file changes
 *   cmd_*.c          `evstore serve`, `evstore token`, `evstore tenant`
 *
 * The server uses only the public API (evstore.h, evstore_tenant.h) and the CLI's shared
 * helpers (cli_common.h: filters, envelopes, records).
 */
#ifndef EVS_SERVER_H
#define EVS_SERVER_H

#include "cli_common.h"
#include "evstore.h"
#include "evstore_tenant.h"
#include "util.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Daemon;
struct sockaddr;

/* ---- tokens ------------------------------------------------------------------------ */

#define TOK_SCOPE_READ    0x1u
#define TOK_SCOPE_APPEND  0x2u
#define TOK_SCOPE_CONSUME 0x4u
#define TOK_SCOPE_ADMIN   0x8u
#define TOK_SCOPE_ANY     (TOK_SCOPE_READ | TOK_SCOPE_APPEND | TOK_SCOPE_CONSUME | TOK_SCOPE_ADMIN)

#define TOK_ID_LEN     16 /* hex digits of the public id */
#define TOK_HASH_LEN   32 /* SHA-256 */
#define TOK_MAX_FIELD  64 /* actor and label, bytes */
#define TOK_ANY_TENANT "*"

typedef struct tok_entry {
    char id[TOK_ID_LEN + 1];
    unsigned char hash[TOK_HASH_LEN];
    char tenant[EVS_MAX_TENANT_NAME_LEN + 1]; /* a tenant, or "*" for every tenant */
    unsigned scopes;
    char actor[TOK_MAX_FIELD + 1]; /* [A-Za-z0-9_-]; the id when none was given */
    char label[TOK_MAX_FIELD + 1]; /* free text without control characters, or "" */
    int64_t created_ns;
} tok_entry;

typedef struct tok_list {
    tok_entry *items;
    size_t count;
} tok_list;

/* Read ROOT/tokens (a missing file is an empty list). 0, or -1 with the reason in why. */
int tok_load(tok_list *out, const char *root, char *why, size_t why_len);
void tok_list_free(tok_list *l);
/* Make a token: fills *e (hash only) and writes the secret text (NUL-terminated) into
 * text[TOK_TEXT_MAX], then adds it to ROOT/tokens. 0, or -1 with why. */
#define TOK_TEXT_MAX 96
int tok_create(tok_entry *e, char text[TOK_TEXT_MAX], const char *root, char *why, size_t why_len);
/* Remove the token with this id. 1 removed, 0 no such token, -1 error (why). */
int tok_revoke(const char *root, const char *id, char *why, size_t why_len);
/* "read,append" into a scope mask; false for an unknown word (why names it). */
bool tok_parse_scopes(const char *s, unsigned *out, char *why, size_t why_len);
/* The scope mask as text, "read,append". */
void tok_scopes_str(unsigned scopes, char *buf, size_t len);
/* The entry the token text belongs to (hash compared in constant time), or NULL. */
const tok_entry *tok_find(const tok_list *l, const char *text, size_t len);

/* The live view the server checks requests against: reloaded when the file changes. */
typedef struct tok_auth tok_auth;
int tok_auth_open(tok_auth **out, const char *root, char *why, size_t why_len);
void tok_auth_close(tok_auth *a);
/* Look a bearer token up; copies its entry into *out. false when unknown. */
bool tok_auth_check(tok_auth *a, const char *text, size_t len, tok_entry *out);

/* ---- the server ---------------------------------------------------------------------- */

typedef struct srv_limits {
    size_t body_max;          /* bytes of a request body (413 past it) */
    size_t header_max;        /* bytes of the request line and headers together */
    unsigned connections_max; /* open connections */
    unsigned per_ip_max;      /* open connections from one address, 0 = no limit */
    unsigned timeout_s;       /* a connection silent this long is closed */
    unsigned wait_max_s;      /* the longest long-poll ?wait= */
    unsigned heartbeat_ms;    /* SSE comment lines while nothing happens */
    size_t bodies_max;        /* bytes of request bodies in memory, all connections */
    size_t sse_buffer;        /* SO_SNDBUF of an SSE stream's socket */
    unsigned inflight_max;    /* appends in flight per tenant (429 past it) */
} srv_limits;

/* A latency histogram (metrics_hist.c): counts per bucket, the last one +Inf. */
#define SRV_HIST_BUCKETS 16
typedef struct srv_hist {
    atomic_llong counts[SRV_HIST_BUCKETS + 1];
    atomic_llong sum_us;
} srv_hist;

/* Route classes of the request duration histogram. */
enum {
    SRV_CLASS_PROBE,     /* /health, /ready */
    SRV_CLASS_APPEND,    /* the append routes */
    SRV_CLASS_READ,      /* reads, stream lists, stat */
    SRV_CLASS_POLL,      /* reads with wait= (the wait is in the duration) */
    SRV_CLASS_SUBSCRIBE, /* SSE: until the stream's headers are queued */
    SRV_CLASS_CONSUME,   /* durable consumers */
    SRV_CLASS_ADMIN,     /* tenants, /metrics */
    SRV_CLASS_OTHER,     /* no route, or another */
    SRV_ROUTE_CLASSES
};

/* Counters for GET /metrics (metrics.c). Requests by route and status; the statuses the
 * server gives each have a slot, the last slot takes any other. */
#define SRV_ROUTES_MAX   24
#define SRV_STATUS_SLOTS 17
typedef struct srv_metrics {
    atomic_llong requests[SRV_ROUTES_MAX + 1][SRV_STATUS_SLOTS]; /* [route or unmatched] */
    atomic_llong latency_us[SRV_ROUTES_MAX + 1]; /* summed, handler entry to reply queued */
    atomic_llong appends;         /* successful append requests (one or several streams) */
    atomic_llong events_appended; /* events written by them (duplicates not counted) */
    atomic_llong bytes_appended;  /* request body bytes of those appends */
    srv_hist request_hist[SRV_ROUTE_CLASSES]; /* request durations by route class */
    srv_hist append_hist;                     /* append call to acknowledgement */
} srv_metrics;

typedef struct srv {
    const char *root;
    struct MHD_Daemon *daemon; /* for the open-connection count */
    evs_tenants *tenants;
    tok_auth *auth; /* NULL with --no-auth */
    bool single;    /* the root is one store, tenant "default" */
    srv_limits limits;
    evs_options store_opts;
    const char *tls_cert; /* PEM text, or NULL for plain HTTP */
    const char *tls_key;
    atomic_bool draining;   /* SIGTERM: long polls and SSE streams end */
    atomic_int sse_clients; /* SSE streams open now */
    atomic_llong requests;  /* requests answered */
    atomic_llong body_bytes; /* request body bytes reserved now (srv_body_reserve) */
    atomic_uint tenants_removed; /* DELETE tenant calls that succeeded */
    srv_metrics metrics;
} srv;

/* One request, from its headers to its reply. */
typedef struct srv_req {
    srv *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    evs__buf body;
    bool body_too_large;
    bool body_over_budget; /* the bodies in memory would pass --max-bodies */
    size_t body_reserved;  /* bytes of srv.body_bytes this request holds */
    bool sse;              /* an SSE stream: its end is logged when it times out */
    unsigned retry_after_s; /* sent as Retry-After with the reply when > 0 */
    bool inflight_held;     /* counted in its tenant's appends in flight */
    /* What the route matched. */
    char tenant[EVS_MAX_TENANT_NAME_LEN + 1];
    bool tenant_too_long; /* the path's tenant was longer than any name (cut in tenant) */
    const char *name;     /* the stream or consumer of the path, NUL-terminated, or NULL */
    char *name_buf;       /* owns `name` */
    tok_entry token;      /* the caller, when authenticated */
    bool authed;
    int route_index;  /* in srv_routes, or srv_route_count when none matched */
    int64_t start_ns; /* when the request's headers were in (monotonic) */
} srv_req;

/* A route: METHOD and a pattern with {tenant}, {stream}, {consumer} and {file} segments
 * ({stream} takes the rest of the path: stream names may hold slashes). */
typedef int (*srv_handler)(srv_req *r);
typedef struct srv_route {
    const char *method;
    const char *pattern;
    unsigned scope; /* TOK_SCOPE_* needed, 0 = no token needed */
    srv_handler fn;
    bool operator_only; /* outside /v1/t/: needs a token for every tenant ('*') */
} srv_route;

extern const srv_route srv_routes[];
extern const size_t srv_route_count;

/* Start listening on addr (http_daemon.c); NULL when the library cannot. */
struct MHD_Daemon *srv_daemon_start(srv *s, const struct sockaddr *addr);
/* Serve GET /metrics without a token on addr (metrics_listen.c); NULL when the library
 * cannot listen there. */
struct MHD_Daemon *srv_metrics_daemon_start(srv *s, const struct sockaddr *addr);

/* What a path holds besides its route. */
typedef struct srv_path_match {
    char tenant[EVS_MAX_TENANT_NAME_LEN + 1]; /* "" when the route has none; cut when... */
    bool tenant_too_long;                     /* ... it was longer than any name */
    char *name; /* the {stream} or {consumer}, allocated (the caller frees), or NULL */
    bool oom;   /* the name could not be copied */
} srv_path_match;

/* Match method and path: the route with *m filled, or NULL with *path_known set when
 * the path exists for another method (405 rather than 404). Needs no connection: the
 * fuzz target calls it too. */
const srv_route *srv_route_find(const char *method, const char *path, srv_path_match *m,
                                bool *path_known);
/* srv_route_find for a request: fills r->tenant and r->name (*oom: the name could not be
 * copied). */
const srv_route *srv_route_match(srv_req *r, bool *path_known, bool *oom);

/* ---- replies (each returns what the MHD access handler returns) --------------------- */

/* {"error":code,"message":message} with `status`. */
int srv_error(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* srv_error with the arguments as a va_list. */
int srv_verror(srv_req *r, unsigned status, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* srv_error with Retry-After: 1, for 429 and 503 answers the client may retry. */
int srv_error_retry(srv_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The library's last error (evs_errmsg) for rc, with the status that fits it. */
int srv_lib_error(srv_req *r, int rc);
/* A whole body from memory, copied. */
int srv_reply(srv_req *r, unsigned status, const char *content_type, const char *body, size_t len);
/* A body made by a producer, called as the client reads: fill buf (at most max bytes)
 * and return the count, 0 to wait for more (never: producers block instead), or
 * SRV_BODY_END / SRV_BODY_FAIL. `done` frees the state. */
#define SRV_BODY_END  (-1)
#define SRV_BODY_FAIL (-2)
typedef long (*srv_producer)(void *state, char *buf, size_t max);
int srv_reply_stream(srv_req *r, unsigned status, const char *content_type, srv_producer fn,
                     void *state, void (*done)(void *state));

/* True when the client asked for a JSON array (Accept: application/json). */
bool srv_wants_array(srv_req *r);
/* A query parameter's value, or NULL. */
const char *srv_param(srv_req *r, const char *name);
/* A header's value, or NULL. */
const char *srv_header(srv_req *r, const char *name);

/* A cli_out whose output collects in `buf` (for replies built whole). */
typedef struct srv_out {
    cli_out out;
    evs__buf buf;
} srv_out;
int srv_out_init(srv_out *o);
void srv_out_free(srv_out *o);
/* Flush and reply with what was written. */
int srv_out_reply(srv_req *r, srv_out *o, unsigned status, const char *content_type);

/* ---- memory bounds (http_limits.c) ------------------------------------------------- */

/* Count len more bytes of this request's body against --max-bodies; false (nothing
 * counted) when they would pass it. */
bool srv_body_reserve(srv_req *r, size_t len);
/* Give back what the request reserved (when it ends). */
void srv_body_release(srv_req *r);
/* Bound the send buffer of an SSE stream's socket (--sse-buffer) and mark the request
 * as a stream, so that a subscriber dropped for not reading is logged. */
void srv_sse_socket_bound(srv_req *r);
/* Log a request that ended because its client went silent (why: libmicrohttpd's
 * termination code); other endings are not logged. */
void srv_log_ended(srv_req *r, int why);

/* ---- appends in flight per tenant (tenant_inflight.c) --------------------------------- */

/* Count the request among its tenant's appends in flight: true, or false after a 429
 * (or 503) reply whose return value is in *reply_rc. */
bool srv_inflight_enter(srv_req *r, int *reply_rc);
/* Uncount it (nothing when it was not counted). */
void srv_inflight_leave(srv_req *r);

/* ---- query parameters (http_params.c) ------------------------------------------------ */

/* The read filters of the query (from, to, type..., category, prefix, since, until,
 * backwards, limit) into f; for a whole-stream route (path_stream, the stream of the
 * path, not NULL) from_version instead of from and to. Unknown parameters other than
 * those in `extra` (NULL-terminated) are refused. Returns 0, or replies 400 itself and
 * returns -1 with *reply_rc set. */
int srv_params_filter(srv_req *r, cli_filter *f, const char *path_stream, const char *const *extra,
                      int *reply_rc);
/* One filter parameter into f (the work of srv_params_filter for one key, without a
 * connection: the fuzz target calls it). false with the reason in why. */
bool srv_filter_param(cli_filter *f, bool stream_route, const char *key, const char *value,
                      char *why, size_t why_len);
/* An integer parameter in [min, max]; absent = *out untouched. false after a 400 reply
 * (the handler's return value in *reply_rc). */
bool srv_param_i64(srv_req *r, const char *name, int64_t min, int64_t max, int64_t *out,
                   int *reply_rc);

/* ---- an append's body (append_body.c) ------------------------------------------------- */

/* The events of a body. Offsets into the body and the names buffer, as the CLI's line
 * parser makes them (append.h). */
typedef struct srv_events {
    struct ap_line *lines;
    size_t count;
    size_t cap;
    evs__buf names;    /* stream and type names */
    evs__buf meta;     /* metadata rewritten with the actor */
    size_t *meta_off; /* per line, in meta; NULL when no actor was stamped */
    size_t *meta_len;
} srv_events;

/* Parse a body (a JSON array of events, or NDJSON when `ndjson`) into *p, zeroed by the
 * caller. path_stream: the stream of a one-stream route (lines may not name another or
 * an expected version), or NULL (every line names its stream). Returns 0, -1 for bad
 * input or -2 out of memory, with the reason in why. Free *p with srv_events_free. */
int srv_events_parse(srv_events *p, const char *body, size_t len, bool ndjson,
                     const char *path_stream, char *why, size_t why_len);
/* Give every event metadata with "actor": actor first, then the client's members but its
 * own "actor". 0, or -1 out of memory. */
int srv_events_stamp_actor(srv_events *p, const char *body, const char *actor);
/* The events as the library takes them (ev has room for p->count). */
void srv_events_fill(evs_event_in *ev, const srv_events *p, const char *body);
void srv_events_free(srv_events *p);

/* ---- route handlers ------------------------------------------------------------------- */

int route_health(srv_req *r);
int route_ready(srv_req *r);
int route_append_stream(srv_req *r);
int route_append_multi(srv_req *r);
int route_read_events(srv_req *r);
int route_read_stream(srv_req *r);
int route_list_streams(srv_req *r);
int route_stat(srv_req *r);
int route_subscribe(srv_req *r);
int route_consumers_list(srv_req *r);
int route_consumer_poll(srv_req *r);
int route_consumer_ack(srv_req *r);
int route_consumer_reset(srv_req *r);
int route_consumer_delete(srv_req *r);
int route_tenants_list(srv_req *r);
int route_metrics(srv_req *r);
/* Count a reply for GET /metrics (called by every reply). */
void srv_metrics_count(srv_req *r, unsigned status);
int route_tenant_create(srv_req *r);
/* GET /v1/whoami (route_whoami.c); the web UI's files (route_ui.c). */
int route_whoami(srv_req *r);
int route_ui_redirect(srv_req *r);
int route_ui_file(srv_req *r);
int route_tenant_delete(srv_req *r);
/* True when `tenant` no longer has `store` (it was deleted, perhaps made again). Cheap
 * until a tenant is deleted: *seen holds the count of deletions already looked at
 * (start it at s->tenants_removed). */
bool srv_tenant_gone(srv *s, const char *tenant, evs_store *store, unsigned *seen);

/* ---- latency histograms (metrics_hist.c) ---------------------------------------------- */

/* Count one duration of ns nanoseconds. Thread-safe, lock-free. */
void srv_hist_observe(srv_hist *h, int64_t ns);
/* The route class (SRV_CLASS_*) of a request whose route is matched. */
int srv_route_class(srv_req *r);
/* The histograms in the Prometheus text format. */
void srv_hist_put_all(cli_out *o, const srv_metrics *m);

/* The tenant's store for a route with {tenant}; replies 404 itself when missing. */
evs_store *srv_store(srv_req *r, int *reply_rc);

#endif /* EVS_SERVER_H */
