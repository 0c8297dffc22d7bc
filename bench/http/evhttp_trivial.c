/*
 * evhttp_trivial.c - the library-choice benchmark's server on libevent's evhttp: GET /
 * answers "ok"; GET /sse is a Server-Sent Events stream that gets one tick event every
 * TICK_MS, sent to every open stream by one timer (one event loop, one thread).
 *
 *   evhttp_trivial PORT
 */
#define _GNU_SOURCE /* clock_gettime, nanosleep in strict C11 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define TICK_MS 100

struct sse_client {
    struct evhttp_request *req;
    LIST_ENTRY(sse_client) link;
};
static LIST_HEAD(, sse_client) clients = LIST_HEAD_INITIALIZER(clients);
static long tick_count;

static void on_close(struct evhttp_connection *conn, void *arg)
{
    struct sse_client *c = arg;
    (void)conn;
    LIST_REMOVE(c, link);
    free(c);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    tick_count++;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct sse_client *c;
    LIST_FOREACH(c, &clients, link) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add_printf(b, "id: %ld\ndata: %lld\n\n", tick_count,
                            (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
        evhttp_send_reply_chunk(c->req, b);
        evbuffer_free(b);
    }
}

static void handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    if (strcmp(uri, "/sse") == 0) {
        struct sse_client *c = calloc(1, sizeof *c);
        c->req = req;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/event-stream");
        evhttp_send_reply_start(req, 200, "OK");
        LIST_INSERT_HEAD(&clients, c, link);
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, c);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "ok", 2);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: evhttp_trivial PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_gencb(http, handle, NULL);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1])) != 0) {
        fprintf(stderr, "evhttp_trivial: cannot bind\n");
        return 1;
    }
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(tick, &tv);
    event_base_dispatch(base);
    return 0;
}
