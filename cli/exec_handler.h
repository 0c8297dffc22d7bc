/*
 * exec_handler.h - one run of a handler command for `evstore subscribe --exec`
 * (exec_handler.c): start it with a pipe on its standard input, feed it bytes, close
 * its input and judge how it ended.
 */
#ifndef EVS_CLI_EXEC_HANDLER_H
#define EVS_CLI_EXEC_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct exec_handler exec_handler;

/* Start argv[0] (looked up in PATH when it has no '/') with argv, no shell, its
 * standard input a new pipe, its standard output and error evstore's. 0, or -1 with
 * `why` holding the reason ("cannot run 'x': No such file or directory"). */
int exec_handler_start(exec_handler **out, char *const *argv, char *why, size_t why_len);

/* Write len bytes to the handler's standard input, waiting while the pipe is full.
 * The signature of cli_out's sink. Returns 0, or -1 with *err set: EPIPE when the
 * handler ended before it read them all. Never raises SIGPIPE. */
int exec_handler_write(void *h, const char *p, size_t len, int *err);

/* Close the handler's standard input, wait for it to end and free it. Returns true
 * when it succeeded: it exited with status 0 and read everything written to it; else
 * false with `why` saying how it ended ("exited with status 3", "was killed by signal
 * 9 (SIGKILL)", "exited with status 0 but left 812 bytes of its input unread"). */
bool exec_handler_finish(exec_handler *h, char *why, size_t why_len);

#endif /* EVS_CLI_EXEC_HANDLER_H */
