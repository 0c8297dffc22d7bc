/*
 * cmd_serve.c - `evstore serve`: options, the registry, the tokens, the daemon, and the
 * shutdown: SIGTERM or SIGINT stops accepting, lets requests in flight finish, ends SSE
 * streams and long polls (they check every 250 ms), then closes every store.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char serve_help[] =
    "usage: evstore serve [DIR] [--root DIR] [--listen HOST:PORT] [OPTIONS]\n"
    "\n"
    "Serve stores over HTTP (docs/API.md). --root DIR serves every tenant under\n"
    "DIR/tenants/ (made with 'evstore tenant create'); a DIR that is a store is served\n"
    "as the tenant 'default'. Requests carry 'Authorization: Bearer TOKEN' (tokens from\n"
    "'evstore token create'). One server per DIR. It prints one JSON line once it\n"
    "listens: {\"listening\":\"HOST:PORT\",\"pid\":N}. SIGTERM or SIGINT drains it.\n"
    "The web UI is at http://HOST:PORT/ui/ (log in with a token).\n"
    "\n"
    "options:\n"
    "  --root DIR            the root of the tenants\n"
    "  --listen HOST:PORT    IPv4 address and port (default 127.0.0.1:8080; port 0 picks\n"
    "                        a free one)\n"
    "  --no-auth             no tokens: for development on a loopback address only\n"
    "  --max-body BYTES      largest request body (default 16777216)\n"
    "  --max-header BYTES    request line and headers together (default 8192)\n"
    "  --max-connections N   open connections (default 1024)\n"
    "  --max-connections-per-ip N\n"
    "                        open connections from one address (default 0: no limit)\n"
    "  --max-bodies BYTES    request bodies held in memory by all connections together;\n"
    "                        past it 503 with Retry-After (default 268435456)\n"
    "  --max-inflight-appends N\n"
    "                        appends in flight per tenant; past it 429 with\n"
    "                        Retry-After (default 256)\n"
    "  --timeout SECONDS     close a connection silent this long (default 30)\n"
    "  --sse-buffer BYTES    socket send buffer of an SSE stream; a subscriber that lets\n"
    "                        it fill and reads nothing for --timeout is dropped\n"
    "                        (default 65536)\n"
    "  --heartbeat-ms MS     SSE heartbeat interval, below --timeout (default 15000,\n"
    "                        or half of a --timeout under 30)\n"
    "  --tls-cert FILE       serve HTTPS with this certificate (PEM) ...\n"
    "  --tls-key FILE        ... and this private key (PEM)\n"
    "  --metrics-listen HOST:PORT\n"
    "                        also serve GET /metrics there, without a token (for\n"
    "                        scrapers on a private interface; plain HTTP)\n"
    "  --routes              print the routes (METHOD PATH) and exit\n"
    "\n"
    "exit codes: 0 stopped by a signal, 1 error, 2 usage\n";

enum {
    OPT_ROOT,
    OPT_LISTEN,
    OPT_NO_AUTH,
    OPT_MAX_BODY,
    OPT_MAX_HEADER,
    OPT_MAX_CONN,
    OPT_MAX_PER_IP,
    OPT_MAX_BODIES,
    OPT_SSE_BUFFER,
    OPT_MAX_INFLIGHT,
    OPT_TIMEOUT,
    OPT_HEARTBEAT,
    OPT_ROUTES,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_METRICS_LISTEN
};
static const cli_optdef serve_opts[] = {
    [OPT_ROOT] = {"root", true, 0},
    [OPT_LISTEN] = {"listen", true, 0},
    [OPT_NO_AUTH] = {"no-auth", false, 0},
    [OPT_MAX_BODY] = {"max-body", true, 0},
    [OPT_MAX_HEADER] = {"max-header", true, 0},
    [OPT_MAX_CONN] = {"max-connections", true, 0},
    [OPT_MAX_PER_IP] = {"max-connections-per-ip", true, 0},
    [OPT_MAX_BODIES] = {"max-bodies", true, 0},
    [OPT_SSE_BUFFER] = {"sse-buffer", true, 0},
    [OPT_MAX_INFLIGHT] = {"max-inflight-appends", true, 0},
    [OPT_TIMEOUT] = {"timeout", true, 0},
    [OPT_HEARTBEAT] = {"heartbeat-ms", true, 0},
    [OPT_ROUTES] = {"routes", false, 0},
    [OPT_TLS_CERT] = {"tls-cert", true, 0},
    [OPT_TLS_KEY] = {"tls-key", true, 0},
    [OPT_METRICS_LISTEN] = {"metrics-listen", true, 0},
    {NULL, false, 0},
};

struct serve_args {
    const char *dir;
    bool root_given;
    const char *listen;
    const char *metrics_listen; /* or NULL */
    bool no_auth;
    bool routes;
    const char *tls_cert; /* file names */
    const char *tls_key;
    srv_limits limits;
};

static bool parse_listen(const char *text, struct sockaddr_in *out)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text)
        return false;
    char host[64];
    size_t n = (size_t)(colon - text);
    if (n >= sizeof host)
        return false;
    memcpy(host, text, n);
    host[n] = '\0';
    int64_t port;
    if (!cli_parse_i64(colon + 1, strlen(colon + 1), 0, 65535, &port))
        return false;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

static int number_opt(const char *name, const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (!cli_parse_i64(v, strlen(v), min, max, out))
        return cli_usage("serve", "--%s wants a number from %lld to %lld, not '%s'", name,
                         (long long)min, (long long)max, v);
    return CLI_EXIT_OK;
}

static int parse_args(struct serve_args *a, int argc, char **argv)
{
    cli_parser p;
    cli_parser_init(&p, "serve", argc, argv);
    int opt;
    int64_t n = 0;
    while ((opt = cli_parser_next(&p, serve_opts)) != CLI_OPT_END) {
        int code = CLI_EXIT_OK;
        switch (opt) {
        case CLI_OPT_HELP:
            return cli_help(serve_help) == CLI_EXIT_OK ? -1 : CLI_EXIT_ERROR;
        case CLI_OPT_ARG:
        case OPT_ROOT:
            if (a->dir != NULL)
                return cli_usage("serve", "one DIR only, not also '%s'", p.value);
            a->dir = p.value;
            a->root_given = opt == OPT_ROOT;
            break;
        case OPT_LISTEN:
            a->listen = p.value;
            break;
        case OPT_METRICS_LISTEN:
            a->metrics_listen = p.value;
            break;
        case OPT_NO_AUTH:
            a->no_auth = true;
            break;
        case OPT_ROUTES:
            a->routes = true;
            break;
        case OPT_TLS_CERT:
            a->tls_cert = p.value;
            break;
        case OPT_TLS_KEY:
            a->tls_key = p.value;
            break;
        case OPT_MAX_BODY:
            code = number_opt("max-body", p.value, 1024, EVS_MAX_BATCH_LEN, &n);
            a->limits.body_max = (size_t)n;
            break;
        case OPT_MAX_HEADER:
            code = number_opt("max-header", p.value, 4096, 1 << 20, &n);
            a->limits.header_max = (size_t)n;
            break;
        case OPT_MAX_CONN:
            code = number_opt("max-connections", p.value, 1, 100000, &n);
            a->limits.connections_max = (unsigned)n;
            break;
        case OPT_MAX_PER_IP:
            code = number_opt("max-connections-per-ip", p.value, 0, 100000, &n);
            a->limits.per_ip_max = (unsigned)n;
            break;
        case OPT_MAX_BODIES:
            code = number_opt("max-bodies", p.value, 1024, INT64_MAX, &n);
            a->limits.bodies_max = (size_t)n;
            break;
        case OPT_SSE_BUFFER:
            code = number_opt("sse-buffer", p.value, 4096, 64 << 20, &n);
            a->limits.sse_buffer = (size_t)n;
            break;
        case OPT_MAX_INFLIGHT:
            code = number_opt("max-inflight-appends", p.value, 1, 100000, &n);
            a->limits.inflight_max = (unsigned)n;
            break;
        case OPT_TIMEOUT:
            code = number_opt("timeout", p.value, 1, 3600, &n);
            a->limits.timeout_s = (unsigned)n;
            break;
        case OPT_HEARTBEAT:
            code = number_opt("heartbeat-ms", p.value, 10, 3600000, &n);
            a->limits.heartbeat_ms = (unsigned)n;
            break;
        default:
            return CLI_EXIT_USAGE;
        }
        if (code != CLI_EXIT_OK)
            return code;
    }
    return CLI_EXIT_OK;
}

/* A PEM file's text, NUL-terminated (the library wants it in memory). NULL with the
 * reason printed. */
static char *read_pem(const char *option, const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        cli_err("serve", "--%s %s: %s", option, path, strerror(errno));
        return NULL;
    }
    evs__buf b = EVS__BUF_INIT;
    char chunk[4096];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = b.len + n <= (1u << 20) && evs__buf_append(&b, chunk, n) == 0;
    ok = ok && !ferror(f) && evs__buf_append(&b, "", 1) == 0;
    (void)fclose(f);
    if (!ok || strstr(b.ptr, "-----BEGIN ") == NULL) {
        cli_err("serve", "--%s %s: not a PEM file (or larger than 1 MiB)", option, path);
        evs__buf_free(&b);
        return NULL;
    }
    return b.ptr;
}

static int print_routes(void)
{
    for (size_t i = 0; i < srv_route_count; i++)
        printf("%s %s\n", srv_routes[i].method, srv_routes[i].pattern);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

/* Open the registry and the tokens; CLI_EXIT_OK or the reported failure's code. */
static int open_state(srv *s, const struct serve_args *a)
{
    evs_options probe = EVS_OPTIONS_INIT;
    probe.flags = EVS_OPEN_NOCREATE | EVS_OPEN_READONLY;
    evs_store *st = NULL;
    s->single = !a->root_given && evs_open(&st, a->dir, &probe) == 0;
    (void)evs_close(st);
    int rc = evs_tenants_open(&s->tenants, a->dir, &s->store_opts,
                              EVS_TENANTS_LOCK | (s->single ? EVS_TENANTS_SINGLE : 0));
    if (rc < 0)
        return cli_lib_err("serve", rc);
    if (!a->no_auth) {
        char why[512];
        if (tok_auth_open(&s->auth, a->dir, why, sizeof why) != 0) {
            cli_err("serve", "%s", why);
            return CLI_EXIT_ERROR;
        }
    }
    return CLI_EXIT_OK;
}

/* Let the connections finish what they are doing: SSE streams and long polls end
 * within 250 ms of `draining`, requests in flight complete. Idle keep-alive
 * connections are closed by MHD_stop_daemon after DRAIN_MS at most. */
#define DRAIN_MS 5000
static void drain(struct MHD_Daemon *d)
{
    for (int waited = 0; waited < DRAIN_MS; waited += 20) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
}

int cli_cmd_serve(int argc, char **argv)
{
    struct serve_args a = {.listen = "127.0.0.1:8080",
                           .limits = {.body_max = 16u << 20,
                                      .header_max = 8u << 10,
                                      .connections_max = 1024,
                                      .per_ip_max = 0,
                                      .timeout_s = 30,
                                      .wait_max_s = 600,
                                      .heartbeat_ms = 0,
                                      .bodies_max = 256u << 20,
                                      .sse_buffer = 64u << 10,
                                      .inflight_max = 256}};
    int code = parse_args(&a, argc, argv);
    if (code != CLI_EXIT_OK)
        return code < 0 ? CLI_EXIT_OK : code;
    if (a.routes)
        return print_routes();
    if (a.dir == NULL)
        return cli_usage("serve", "which directory? evstore serve DIR or --root DIR");
    struct sockaddr_in addr;
    if (!parse_listen(a.listen, &addr))
        return cli_usage("serve", "--listen wants IPV4:PORT such as 127.0.0.1:8080, not '%s'",
                         a.listen);
    struct sockaddr_in maddr;
    if (a.metrics_listen != NULL && !parse_listen(a.metrics_listen, &maddr))
        return cli_usage("serve",
                         "--metrics-listen wants IPV4:PORT such as 127.0.0.1:9090, not '%s'",
                         a.metrics_listen);
    if (a.limits.heartbeat_ms == 0) /* not given: 15 s, or half the timeout */
        a.limits.heartbeat_ms =
            a.limits.timeout_s * 500u < 15000u ? a.limits.timeout_s * 500u : 15000u;
    if (a.limits.heartbeat_ms >= a.limits.timeout_s * 1000u)
        return cli_usage("serve",
                         "--heartbeat-ms %u must be shorter than --timeout %u s: an idle SSE "
                         "stream sends only heartbeats, and a connection silent for --timeout "
                         "is closed",
                         a.limits.heartbeat_ms, a.limits.timeout_s);
    if ((a.tls_cert == NULL) != (a.tls_key == NULL))
        return cli_usage("serve", "--tls-cert and --tls-key go together");
    if (a.no_auth && (ntohl(addr.sin_addr.s_addr) >> 24) != 127)
        return cli_usage("serve",
                         "--no-auth serves without tokens and is for development on a "
                         "loopback address (127.x.x.x) only, not %s",
                         a.listen);

    static srv s; /* static: the daemon's threads use it until it is stopped */
    evs_options defaults = EVS_OPTIONS_INIT;
    s.root = a.dir;
    s.limits = a.limits;
    s.store_opts = defaults;
    char *cert = NULL, *key = NULL;
    if (a.tls_cert != NULL) {
        cert = read_pem("tls-cert", a.tls_cert);
        key = cert != NULL ? read_pem("tls-key", a.tls_key) : NULL;
        if (key == NULL) {
            free(cert);
            return CLI_EXIT_ERROR;
        }
        s.tls_cert = cert;
        s.tls_key = key;
    }
    code = open_state(&s, &a);
    /* Signals are taken by sigwait below; every thread started after this inherits the
     * mask, so none of them is interrupted by them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct MHD_Daemon *d = NULL;
    if (code == CLI_EXIT_OK && (d = srv_daemon_start(&s, (const struct sockaddr *)&addr)) == NULL) {
        cli_err("serve",
                "cannot listen on %s (in use, not an address of this machine, or a "
                "certificate and key that do not fit)",
                a.listen);
        code = CLI_EXIT_ERROR;
    }
    s.daemon = d;
    struct MHD_Daemon *md = NULL;
    if (code == CLI_EXIT_OK && a.metrics_listen != NULL &&
        (md = srv_metrics_daemon_start(&s, (const struct sockaddr *)&maddr)) == NULL) {
        cli_err("serve", "cannot listen on %s for --metrics-listen (in use, or not an address "
                "of this machine)",
                a.metrics_listen);
        MHD_stop_daemon(d);
        code = CLI_EXIT_ERROR;
    }
    if (code == CLI_EXIT_OK) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        char host[INET_ADDRSTRLEN];
        (void)inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
        printf("{\"listening\":\"%s:%u\",\"pid\":%ld,\"tls\":%s", host,
               info != NULL ? (unsigned)info->port : 0u, (long)getpid(),
               cert != NULL ? "true" : "false");
        if (md != NULL) {
            info = MHD_get_daemon_info(md, MHD_DAEMON_INFO_BIND_PORT);
            (void)inet_ntop(AF_INET, &maddr.sin_addr, host, sizeof host);
            printf(",\"metrics\":\"%s:%u\"", host, info != NULL ? (unsigned)info->port : 0u);
        }
        printf("}\n");
        (void)fflush(stdout);
        int sig = 0;
        (void)sigwait(&stop, &sig);
        atomic_store(&s.draining, true);
        MHD_socket listener = MHD_quiesce_daemon(d);
        drain(d);
        MHD_stop_daemon(d);
        if (md != NULL)
            MHD_stop_daemon(md);
        if (listener != MHD_INVALID_SOCKET)
            (void)close(listener); /* ours after quiesce, once the daemon is stopped */
        fprintf(stderr, "evstore serve: stopped by signal %d after %lld requests\n", sig,
                (long long)atomic_load(&s.requests));
    }
    if (evs_tenants_close(s.tenants) < 0 && code == CLI_EXIT_OK)
        code = cli_lib_err("serve", evs_errcode());
    tok_auth_close(s.auth);
    if (key != NULL)
        memset(key, 0, strlen(key));
    free(cert);
    free(key);
    return code;
}
