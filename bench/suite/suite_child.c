/*
 * suite_child.c - the suite's child processes. Some figures must come from a process
 * of their own: W7's memory (a fresh process holds nothing of the runner's 100 MB of
 * model and results, and one engine's allocations cannot mix with another's) and W8's
 * cross-process subscriber. A child is this same program run again through
 * /proc/self/exe with `--child ROLE ARGS...`; it reports on one line per result through
 * a pipe from its stdout, and its stderr is the runner's.
 */
#define _GNU_SOURCE
#include "suite.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 16

int suite_child_start(suite_child *c, const char *const args[])
{
    const char *argv[MAX_ARGS + 3] = {"evs_bench_suite", "--child"};
    int n = 2;
    for (int i = 0; args[i] && n < MAX_ARGS + 2; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return suite_child_exec(c, "/proc/self/exe", argv);
}

int suite_child_exec(suite_child *c, const char *prog, const char *const argv[])
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* dup2 clears O_CLOEXEC on the copy: only stdout survives the exec. */
        if (dup2(fd[1], 1) < 0)
            _exit(126);
        execv(prog, (char *const *)argv); /* execv does not write to them */
        _exit(127);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return -1;
    }
    c->pid = pid;
    c->out = fdopen(fd[0], "r");
    if (!c->out) {
        close(fd[0]);
        suite_child_finish(c);
        return -1;
    }
    return 0;
}

int suite_child_line(suite_child *c, char *buf, size_t cap)
{
    if (!c->out || !fgets(buf, (int)cap, c->out))
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int suite_child_finish(suite_child *c)
{
    if (c->out)
        fclose(c->out); /* a child still writing gets EPIPE rather than blocking */
    c->out = NULL;
    int st;
    while (waitpid((pid_t)c->pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

long suite_rss_anon_kib(long pid)
{
    char path[64], line[256];
    if (pid)
        snprintf(path, sizeof path, "/proc/%ld/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "RssAnon:", 8)) {
            kib = strtol(line + 8, NULL, 10);
            break;
        }
    if (f)
        fclose(f);
    return kib;
}

int suite_child_main(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "replay"))
        return suite_memory_child(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "one"))
        return suite_read_one_child(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "subscribe"))
        return suite_latency_child(argc - 1, argv + 1);
    fprintf(stderr, "suite: unknown child role\n");
    return 2;
}
