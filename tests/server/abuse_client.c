/*
 * abuse_client.c - the clients of test_server_abuse.sh that curl cannot be: raw bytes,
 * many idle sockets, a byte a second, a stream nobody reads. Plain sockets on IPv4.
 *
 *   abuse_client raw PORT
 *       send stdin's bytes on one connection, shut the writing side, and print the
 *       status code of the answer, or "closed" when the server closed without one
 *       (or "silent" when nothing came for 10 s).
 *   abuse_client hold PORT N SECONDS SOURCE
 *       open N connections from address SOURCE (a 127.x.x.x) and send nothing; after
 *       SECONDS print "open A closed B": A connected, B of them closed by the server.
 *   abuse_client slow PORT N SECONDS SOURCE
 *       as hold, but each connection sends the next byte of a never-ending request
 *       header every second.
 *   abuse_client noread PORT N SECONDS SOURCE
 *       send stdin's bytes (a request) on N connections with a small receive buffer,
 *       then read nothing; after SECONDS print "open A closed B" (closed: the server
 *       reset or ended the connection, seen by reading what is left).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int connect_from(int port, const char *source, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (source != NULL) {
        if (inet_pton(AF_INET, source, &a.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            (void)close(fd);
            return -1;
        }
    }
    a.sin_port = htons((unsigned short)port);
    (void)inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* stdin's bytes, whole. */
static char *read_stdin(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    ssize_t got;
    while (p != NULL && (got = read(0, p + n, cap - n)) > 0) {
        n += (size_t)got;
        if (n == cap)
            p = realloc(p, cap *= 2);
    }
    *len = n;
    return p;
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int do_raw(int port)
{
    size_t len;
    char *req = read_stdin(&len);
    int fd = connect_from(port, NULL, 0);
    if (req == NULL || fd < 0) {
        perror("raw: connect");
        return 1;
    }
    /* The server may answer and close before it has read everything: that is fine. */
    (void)send_all(fd, req, len);
    (void)shutdown(fd, SHUT_WR);
    free(req);
    char head[64] = "";
    size_t have = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (have < sizeof head - 1 && poll(&p, 1, 10000) > 0) {
        ssize_t n = recv(fd, head + have, sizeof head - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    head[have] = '\0';
    (void)close(fd);
    if (have == 0)
        printf("%s\n", p.revents != 0 ? "closed" : "silent");
    else if (strncmp(head, "HTTP/1.", 7) == 0 && have >= 12)
        printf("%.3s\n", head + 9);
    else
        printf("garbage\n");
    return 0;
}

/* After the wait: is the connection closed by the server? Drains what is readable. */
static int server_closed(int fd)
{
    char buf[65536];
    (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
}

static int do_many(const char *mode, int port, int count, int seconds, const char *source)
{
    size_t req_len = 0;
    char *req = strcmp(mode, "noread") == 0 ? read_stdin(&req_len) : NULL;
    int *fds = calloc((size_t)count, sizeof *fds);
    if (fds == NULL)
        return 1;
    int open_n = 0;
    for (int i = 0; i < count; i++) {
        fds[i] = connect_from(port, source, req != NULL ? 4096 : 0);
        if (fds[i] >= 0 && req != NULL && send_all(fds[i], req, req_len) != 0) {
            (void)close(fds[i]);
            fds[i] = -1;
        }
        open_n += fds[i] >= 0;
    }
    static const char slow_req[] = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (int t = 0; t < seconds; t++) {
        struct timespec ts = {1, 0};
        (void)nanosleep(&ts, NULL);
        if (strcmp(mode, "slow") != 0)
            continue;
        for (int i = 0; i < count; i++) {
            if (fds[i] < 0)
                continue;
            char c = t < (int)sizeof slow_req - 1 ? slow_req[t] : 'a';
            if (send(fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
                (void)close(fds[i]);
                fds[i] = -2; /* closed by the server */
            }
        }
    }
    int closed = 0;
    for (int i = 0; i < count; i++) {
        if (fds[i] == -2)
            closed++;
        else if (fds[i] >= 0) {
            closed += server_closed(fds[i]);
            (void)close(fds[i]);
        }
    }
    printf("open %d closed %d\n", open_n, closed);
    free(fds);
    free(req);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "raw") == 0)
        return do_raw(atoi(argv[2]));
    if (argc == 6 && (strcmp(argv[1], "hold") == 0 || strcmp(argv[1], "slow") == 0 ||
                      strcmp(argv[1], "noread") == 0))
        return do_many(argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argv[5]);
    fprintf(stderr, "usage: abuse_client raw PORT | hold|slow|noread PORT N SECONDS SOURCE\n");
    return 2;
}
