/*
 * cli_create.c - opening a store to write to (append, import), creating it only when
 * the command was asked to (--create), and taking a creation back when the command that
 * made the store failed before storing anything, so that a typo in a path never leaves
 * a store behind.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cli_common.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

evs_store *cli_open_write(const char *cmd, const char *dir, const evs_options *opts, bool create,
                          cli_created *made, int *exit_code)
{
    made->store = made->dir = false;
    evs_options o = *opts;
    o.flags |= EVS_OPEN_NOCREATE;
    evs_store *store = NULL;
    int rc = evs_open(&store, dir, &o);
    if (rc == EVS_ENOTFOUND && create) {
        struct stat st;
        made->dir = stat(dir, &st) < 0 && errno == ENOENT;
        o.flags = (opts->flags & ~EVS_OPEN_NOCREATE) | EVS_OPEN_EXCLUSIVE_CREATE;
        rc = evs_open(&store, dir, &o);
        made->store = rc == 0;
        if (rc == EVS_EEXIST) { /* another process made it first: use it */
            made->dir = false;
            o.flags = opts->flags & ~EVS_OPEN_EXCLUSIVE_CREATE;
            rc = evs_open(&store, dir, &o);
        }
    } else if (rc == EVS_ENOTFOUND) {
        cli_err(cmd,
                "there is no store in '%s'; create it with 'evstore init %s' or give "
                "--create",
                dir, dir);
        *exit_code = CLI_EXIT_ERROR;
        return NULL;
    }
    if (rc < 0) {
        *exit_code = cli_lib_err(cmd, rc);
        return NULL;
    }
    if (made->store)
        cli_err(cmd, "created a new store in '%s'", dir);
    *exit_code = CLI_EXIT_OK;
    return store;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)f;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

void cli_discard_created(const char *cmd, const char *dir, const cli_created *made)
{
    if (!made->store)
        return;
    /* An SQLite database or a PostgreSQL schema may hold the application's own tables
     * beside the store's: never removed. The empty store's tables stay. */
    if (strncmp(dir, "sqlite:", 7) == 0 || strncmp(dir, "postgresql://", 13) == 0 ||
        strncmp(dir, "postgres://", 11) == 0) {
        cli_err(cmd, "nothing was stored; the new store's empty tables stay in '%s'", dir);
        return;
    }
    /* The directory's contents are the store's alone: it was made empty, or made by this
     * command. nftw visits a directory after its contents (FTW_DEPTH). */
    int rc = nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    if (rc == 0 && !made->dir && mkdir(dir, 0755) < 0)
        rc = -1;
    if (rc < 0)
        cli_err(cmd, "could not remove the store it created in '%s': %s", dir, strerror(errno));
    else
        cli_err(cmd, "nothing was stored: removed the new store in '%s' again", dir);
}
