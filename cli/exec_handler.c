/*
 * exec_handler.c - run a handler command for `evstore subscribe --exec` and tell
 * whether it handled everything it was given.
 *
 * The command is started with posix_spawnp, without a shell: its arguments are the
 * words evstore was given, so nothing is split or expanded twice. Its standard input
 * is a pipe; evstore keeps the pipe's read end open too (the probe), for two reasons:
 *  - after the handler ended, FIONREAD on the probe counts the bytes it never read. A
 *    handler that exits 0 with lines still in the pipe (`head -n 1`, a loop that
 *    breaks early) did not handle them, and acknowledging them would lose them: that
 *    is a failure, however it exited.
 *  - writes never fail with EPIPE or raise SIGPIPE, since a reader always exists. The
 *    write end is non-blocking instead, and a full pipe is waited on with poll in
 *    short slices, checking between them whether the handler has ended (waitpid
 *    WNOHANG): a handler that ends without reading is noticed, not waited on forever.
 * The child gets SIGPIPE (ignored by evstore, and an ignored signal stays ignored
 * across exec), SIGINT and SIGTERM back at their defaults and an empty signal mask, so
 * it behaves as it would when started from a shell.
 */
#define _GNU_SOURCE
#include "exec_handler.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* How long one wait for room in a full pipe lasts before evstore looks whether the
 * handler is still there. */
#define PIPE_WAIT_MS 50

struct exec_handler {
    pid_t pid;
    int in_fd;    /* the write end of the handler's standard input; -1 once closed */
    int probe_fd; /* evstore's copy of the read end */
    bool reaped;  /* waitpid has collected `status` */
    int status;
    char name[64]; /* argv[0], shortened, for messages */
};

/* The fd, moved above the standard descriptors so that a parent started with stdin
 * closed cannot have the pipe land on 0, 1 or 2 (close-on-exec kept). */
static int above_std(int fd)
{
    if (fd > STDERR_FILENO)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    int saved = errno;
    (void)close(fd);
    errno = saved;
    return moved;
}

static int spawn(exec_handler *h, char *const *argv, int read_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) {
        (void)posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigset_t defaults, none;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigemptyset(&none);
    rc = posix_spawn_file_actions_adddup2(&fa, read_fd, STDIN_FILENO);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc == 0)
        rc = posix_spawnp(&h->pid, argv[0], &fa, &attr, argv, environ);
    (void)posix_spawnattr_destroy(&attr);
    (void)posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int exec_handler_start(exec_handler **out, char *const *argv, char *why, size_t why_len)
{
    *out = NULL;
    exec_handler *h = calloc(1, sizeof *h);
    if (!h) {
        (void)snprintf(why, why_len, "out of memory");
        return -1;
    }
    (void)snprintf(h->name, sizeof h->name, "%s", argv[0]);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        (void)snprintf(why, why_len, "cannot make a pipe for '%s': %m", h->name);
        free(h);
        return -1;
    }
    h->probe_fd = above_std(fds[0]);
    h->in_fd = above_std(fds[1]);
    int rc = h->probe_fd < 0 || h->in_fd < 0 ? errno : 0;
    if (rc == 0 && fcntl(h->in_fd, F_SETFL, O_NONBLOCK) < 0)
        rc = errno;
    if (rc == 0)
        rc = spawn(h, argv, h->probe_fd);
    if (rc != 0) {
        char msg[256];
        (void)snprintf(why, why_len, "cannot run '%s': %s", h->name,
                       strerror_r(rc, msg, sizeof msg));
        if (h->probe_fd >= 0)
            (void)close(h->probe_fd);
        if (h->in_fd >= 0)
            (void)close(h->in_fd);
        free(h);
        return -1;
    }
    *out = h;
    return 0;
}

/* Has the handler ended? Collects its status when it has. */
static bool ended(exec_handler *h)
{
    if (h->reaped)
        return true;
    pid_t r = waitpid(h->pid, &h->status, WNOHANG);
    if (r == h->pid)
        h->reaped = true;
    return h->reaped;
}

int exec_handler_write(void *ctx, const char *p, size_t len, int *err)
{
    exec_handler *h = ctx;
    while (len > 0) {
        ssize_t n = write(h->in_fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            *err = errno;
            return -1;
        }
        /* Full: the handler is busy, or gone without reading. */
        if (ended(h)) {
            *err = EPIPE;
            return -1;
        }
        struct pollfd pfd = {.fd = h->in_fd, .events = POLLOUT, .revents = 0};
        (void)poll(&pfd, 1, PIPE_WAIT_MS); /* EINTR: simply look again */
    }
    return 0;
}

bool exec_handler_finish(exec_handler *h, char *why, size_t why_len)
{
    (void)close(h->in_fd); /* end of input: the handler sees EOF */
    while (!h->reaped) {
        pid_t r = waitpid(h->pid, &h->status, 0);
        if (r == h->pid)
            h->reaped = true;
        else if (r < 0 && errno != EINTR)
            break; /* ECHILD: cannot happen for our own child; treated as a failure */
    }
    int unread = 0;
    if (ioctl(h->probe_fd, FIONREAD, &unread) < 0)
        unread = 0;
    (void)close(h->probe_fd);
    bool ok = false;
    if (!h->reaped) {
        (void)snprintf(why, why_len, "'%s' could not be waited for: %m", h->name);
    } else if (WIFSIGNALED(h->status)) {
        int sig = WTERMSIG(h->status);
        const char *abbrev = sigabbrev_np(sig);
        (void)snprintf(why, why_len, "'%s' was killed by signal %d (SIG%s)", h->name, sig,
                       abbrev ? abbrev : "?");
    } else if (WEXITSTATUS(h->status) != 0) {
        (void)snprintf(why, why_len, "'%s' exited with status %d", h->name, WEXITSTATUS(h->status));
    } else if (unread > 0) {
        (void)snprintf(why, why_len,
                       "'%s' exited with status 0 but left %d bytes of its input unread", h->name,
                       unread);
    } else {
        ok = true;
    }
    free(h);
    return ok;
}
