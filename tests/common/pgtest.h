/*
 * pgtest.h - a throw-away PostgreSQL server for tests: initdb in a temporary directory,
 * the server listening on 127.0.0.1 on a free port (no Unix socket), stopped by its PID
 * at the end. Run as root, initdb and the server run as the `postgres` user (initdb
 * refuses root). The server binaries come from $EVS_PG_BINDIR, else the newest
 * /usr/lib/postgresql/N/bin (the `postgresql` package). Header-only, plain C: the
 * fixture program (tests/pg/pg_server.c) and the PostgreSQL tests that stop and start
 * their own server include it.
 */
#ifndef EVS_PGTEST_H
#define EVS_PGTEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct pgt_server {
    char dir[2048];    /* the temporary directory: data/, server.log */
    char bindir[1024]; /* initdb, pg_ctl */
    char uri[256];     /* "postgresql://evs@127.0.0.1:PORT/postgres", no schema */
    int port;
    bool drop;         /* run the binaries as uid/gid (we are root) */
    uid_t uid;
    gid_t gid;
} pgt_server;

static inline int pgt_find_bindir(pgt_server *s)
{
    const char *env = getenv("EVS_PG_BINDIR");
    if (env && *env) {
        snprintf(s->bindir, sizeof s->bindir, "%s", env);
        return 0;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) != 0)
        return -1;
    size_t best = 0;
    for (size_t i = 1; i < g.gl_pathc; i++)
        if (atoi(g.gl_pathv[i] + 20) > atoi(g.gl_pathv[best] + 20))
            best = i;
    snprintf(s->bindir, sizeof s->bindir, "%s", g.gl_pathv[best]);
    globfree(&g);
    *strrchr(s->bindir, '/') = '\0';
    return 0;
}

static inline int pgt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Run a server binary as the server's user, output appended to dir/server.log, and
 * wait for it. 0 when it exited 0. */
static inline int pgt_run(const pgt_server *s, const char *const argv[])
{
    char log[2200];
    snprintf(log, sizeof log, "%s/server.log", s->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0666);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) {
            dup2(null, 0);
            close(null);
        }
        if (s->drop && (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0))
            _exit(126);
        setenv("LC_ALL", "C", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The server's last lines, to stderr: why it did not start. */
static inline void pgt_show_log(const pgt_server *s)
{
    char log[2200];
    snprintf(log, sizeof log, "%s/server.log", s->dir);
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char tail[2001];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > 2000 ? size - 2000 : 0, SEEK_SET);
    size_t n = fread(tail, 1, 2000, f);
    tail[n] = '\0';
    fprintf(stderr, "--- end of %s:\n%s\n", log, tail);
    fclose(f);
}

/* Start (or start again) the server of an initialised s; pg_ctl waits until it
 * answers. `fsync`: off for tests that never lose the machine, to spare the disk. */
static inline int pgt_start(pgt_server *s, bool fsync)
{
    char bin[1100], data[2100], opts[300];
    snprintf(bin, sizeof bin, "%s/pg_ctl", s->bindir);
    snprintf(data, sizeof data, "%s/data", s->dir);
    snprintf(opts, sizeof opts,
             "-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
             "-c max_connections=300 -c fsync=%s -c max_locks_per_transaction=256",
             s->port, fsync ? "on" : "off");
    const char *argv[] = {bin, "start", "-w", "-t", "120", "-D", data, "-o", opts, NULL};
    if (pgt_run(s, argv) != 0) {
        fprintf(stderr, "pgtest: the server in %s did not start\n", s->dir);
        pgt_show_log(s);
        return -1;
    }
    return 0;
}

/* A new server in a new directory under `base`: initdb, then started. */
static inline int pgt_create(pgt_server *s, const char *base, bool fsync)
{
    memset(s, 0, sizeof *s);
    if (pgt_find_bindir(s) != 0) {
        fprintf(stderr, "pgtest: no PostgreSQL server binaries (install postgresql, or set "
                        "EVS_PG_BINDIR)\n");
        return -1;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            fprintf(stderr, "pgtest: running as root and there is no 'postgres' user\n");
            return -1;
        }
        s->uid = pw->pw_uid;
        s->gid = pw->pw_gid;
        s->drop = true;
    }
    mkdir(base, 0755);
    snprintf(s->dir, sizeof s->dir, "%s/evs-pg-XXXXXX", base);
    if (!mkdtemp(s->dir)) {
        fprintf(stderr, "pgtest: mkdtemp %s: %s\n", s->dir, strerror(errno));
        return -1;
    }
    if (s->drop && chown(s->dir, s->uid, s->gid) != 0) {
        fprintf(stderr, "pgtest: chown %s: %s\n", s->dir, strerror(errno));
        return -1;
    }
    char bin[1100], data[2100];
    snprintf(bin, sizeof bin, "%s/initdb", s->bindir);
    snprintf(data, sizeof data, "%s/data", s->dir);
    const char *initdb[] = {bin,   "-D",   data, "-U", "evs", "-A", "trust", "-E", "UTF8",
                            "--locale=C", "--no-sync", NULL};
    if (pgt_run(s, initdb) != 0) {
        fprintf(stderr, "pgtest: initdb failed in %s\n", s->dir);
        pgt_show_log(s);
        return -1;
    }
    s->port = pgt_free_port();
    if (s->port <= 0) {
        fprintf(stderr, "pgtest: no free port on 127.0.0.1\n");
        return -1;
    }
    snprintf(s->uri, sizeof s->uri, "postgresql://evs@127.0.0.1:%d/postgres", s->port);
    return pgt_start(s, fsync);
}

/* The postmaster's PID from data/postmaster.pid; 0 when it is not running. */
static inline pid_t pgt_pid(const pgt_server *s)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/data/postmaster.pid", s->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid > 0 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

/* The server killed the way a crash would: `pg_ctl stop -m immediate` (no shutdown
 * checkpoint; the next start replays the WAL). */
static inline int pgt_stop_immediate(pgt_server *s)
{
    char bin[1100], data[2100];
    snprintf(bin, sizeof bin, "%s/pg_ctl", s->bindir);
    snprintf(data, sizeof data, "%s/data", s->dir);
    const char *argv[] = {bin, "stop", "-w", "-m", "immediate", "-D", data, NULL};
    return pgt_run(s, argv);
}

static inline void pgt_rmtree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/* Stop the server by its PID (SIGINT: PostgreSQL's fast shutdown; SIGQUIT after 20 s,
 * SIGKILL after 30 s) and remove its directory. */
static inline void pgt_destroy(pgt_server *s)
{
    pid_t pid = pgt_pid(s);
    if (pid > 0) {
        kill(pid, SIGINT);
        for (int i = 0; i < 3000 && kill(pid, 0) == 0; i++) {
            if (i == 2000)
                kill(pid, SIGQUIT);
            struct timespec ts = {0, 10000000L};
            nanosleep(&ts, NULL);
        }
        if (kill(pid, 0) == 0)
            kill(pid, SIGKILL);
    }
    if (s->dir[0])
        pgt_rmtree(s->dir);
    s->dir[0] = '\0';
}

/* The fixture's state file: the server's directory and URI, one per line. */
static inline int pgt_save(const pgt_server *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n%s\n%s\n%d\n", s->dir, s->uri, s->bindir, s->port);
    return fclose(f) == 0 ? 0 : -1;
}

static inline int pgt_load(pgt_server *s, const char *path)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fscanf(f, "%2047[^\n]\n%255[^\n]\n%1023[^\n]\n%d", s->dir, s->uri, s->bindir,
                    &s->port) == 4;
    fclose(f);
    return ok ? 0 : -1;
}

#endif /* EVS_PGTEST_H */
