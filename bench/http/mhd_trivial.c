/*
 * mhd_trivial.c - the library-choice benchmark's server on libmicrohttpd: GET / answers
 * "ok"; GET /sse is a Server-Sent Events stream that gets one tick event every
 * TICK_MS from a shared clock (the server-side half of bench/http/README.md).
 *
 *   [POOL=BYTES] mhd_trivial PORT tpc|epoll [THREADS]
 *
 * tpc: one thread per connection (blocking handlers; the SSE reader sleeps on a
 * condition variable). epoll: an epoll thread pool of THREADS (default 2), GET / only.
 */
#define _GNU_SOURCE /* clock_gettime, nanosleep in strict C11 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 100

static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tick_cond = PTHREAD_COND_INITIALIZER;
static long tick_count;

static void *ticker(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {0, TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&tick_lock);
        tick_count++;
        pthread_cond_broadcast(&tick_cond);
        pthread_mutex_unlock(&tick_lock);
    }
    return NULL;
}

/* Each SSE connection remembers the last tick it sent. */
static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    long *seen = cls;
    (void)pos;
    pthread_mutex_lock(&tick_lock);
    while (tick_count == *seen)
        pthread_cond_wait(&tick_cond, &tick_lock);
    *seen = tick_count;
    pthread_mutex_unlock(&tick_lock);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int n = snprintf(buf, max, "id: %ld\ndata: %lld\n\n", *seen,
                     (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    return n;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)cls; (void)version; (void)upload; (void)upload_size; (void)method;
    if (*state == NULL) {
        *state = conn; /* first call: headers only */
        return MHD_YES;
    }
    struct MHD_Response *resp;
    if (strcmp(url, "/sse") == 0) {
        long *seen = malloc(sizeof *seen);
        pthread_mutex_lock(&tick_lock);
        *seen = tick_count;
        pthread_mutex_unlock(&tick_lock);
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, sse_reader, seen, free);
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    } else {
        resp = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    }
    enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mhd_trivial PORT tpc|epoll [THREADS]\n");
        return 2;
    }
    unsigned port = (unsigned)strtoul(argv[1], NULL, 10);
    int tpc = strcmp(argv[2], "tpc") == 0;
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 2;
    /* Bytes of MHD's per-connection pool (request headers and the response's buffer). */
    size_t pool = getenv("POOL") ? (size_t)strtoul(getenv("POOL"), NULL, 10) : 32768;
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    pthread_create(&t, NULL, ticker, NULL);
    struct MHD_Daemon *d;
    if (tpc)
        d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                 MHD_USE_POLL,
                             (uint16_t)port, NULL, NULL, handle, NULL,
                             MHD_OPTION_CONNECTION_LIMIT, 20000u,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                             MHD_OPTION_THREAD_STACK_SIZE, (size_t)(128 * 1024),
                             MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_END);
    else
        d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, (uint16_t)port, NULL,
                             NULL, handle, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads,
                             MHD_OPTION_CONNECTION_LIMIT, 20000u,
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                             MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_trivial: cannot start on port %u\n", port);
        return 1;
    }
    pause();
    return 0;
}
