/*
 * conn_hold.c - the library-choice benchmark's client: holds N connections to
 * 127.0.0.1:PORT on one epoll thread.
 *
 *   conn_hold PORT N idle SECONDS [PATH]  one keep-alive GET PATH (default /) each,
 *                                         then hold them idle
 *   conn_hold PORT N sse SECONDS [PATH]   GET PATH (default /sse) on each; count the
 *                                         events every stream got and the delay from
 *                                         the server's stamp to their arrival: the
 *                                         event's data (CLOCK_REALTIME ns) from the
 *                                         trivial servers, the envelope's "ts" from
 *                                         evstore serve
 *
 * It prints one line: connections made, events, and the delay's p50/p99/max. While it
 * holds them the caller reads the server's RSS.
 */
#define _GNU_SOURCE /* clock_gettime, nanosleep in strict C11 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The stamp of one SSE data line: a number, or an envelope's "ts" (RFC 3339, UTC). */
static long long stamp_of(const char *p)
{
    if (*p != '{')
        return atoll(p);
    const char *ts = strstr(p, "\"ts\":\"");
    if (ts == NULL)
        return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    long frac = 0;
    if (sscanf(ts + 6, "%4d-%2d-%2dT%2d:%2d:%2d.%9ld", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000000000LL + frac;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: conn_hold PORT N idle|sse SECONDS [PATH]\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]), sse = strcmp(argv[3], "sse") == 0;
    int seconds = atoi(argv[4]);
    struct rlimit rl = {(rlim_t)n + 64, (rlim_t)n + 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int ep = epoll_create1(0);
    const char *path = argc > 5 ? argv[5] : sse ? "/sse" : "/";
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path,
             sse ? "Accept: text/event-stream\r\n" : "");
    int made = 0;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            fprintf(stderr, "conn_hold: connection %d: %s\n", i, strerror(errno));
            if (fd >= 0)
                close(fd);
            break;
        }
        if (write(fd, req, strlen(req)) < 0)
            break;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        made++;
    }
    size_t cap = 1 << 20, count = 0;
    long long *delays = malloc(cap * sizeof *delays);
    long long end = now_ns() + (long long)seconds * 1000000000LL;
    long long replies = 0, closed = 0;
    char buf[65536];
    struct epoll_event evs[256];
    while (now_ns() < end) {
        int k = epoll_wait(ep, evs, 256, 100);
        long long t = now_ns();
        for (int i = 0; i < k; i++) {
            ssize_t r = read(evs[i].data.fd, buf, sizeof buf - 1);
            if (r <= 0) {
                closed++;
                epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
                continue;
            }
            buf[r] = 0;
            replies++;
            for (char *p = buf; (p = strstr(p, "data: ")) != NULL; p += 6) {
                long long stamp = stamp_of(p + 6);
                if (stamp > 0 && count < cap)
                    delays[count++] = t - stamp;
            }
        }
    }
    qsort(delays, count, sizeof *delays, cmp_ll);
    printf("connections %d reads %lld closed %lld events %zu", made, replies, closed, count);
    if (count > 0)
        printf(" delay_us p50 %.0f p99 %.0f max %.0f", delays[count / 2] / 1e3,
               delays[count * 99 / 100] / 1e3, delays[count - 1] / 1e3);
    printf("\n");
    return 0;
}
