/*
 * token_auth.c - the tokens a running server accepts. Each check compares the tokens
 * file's identity (inode, size, modification time) with the one loaded, and reloads
 * when it changed: `token create` and `token revoke` replace the file by rename, so a
 * change is always a new inode, and a revoked token stops working with the next
 * request, without a restart. A file that cannot be read keeps the last good list.
 */
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct tok_auth {
    char *root;
    pthread_mutex_t mu;
    tok_list list;
    struct stat seen; /* the file the list came from; st_ino 0 = none */
};

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reload when the file changed; a->mu is held. */
static void refresh(tok_auth *a)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/tokens", a->root);
    struct stat st;
    if (stat(path, &st) != 0)
        memset(&st, 0, sizeof st);
    if (same_file(&st, &a->seen))
        return;
    tok_list fresh;
    char why[256];
    if (tok_load(&fresh, a->root, why, sizeof why) != 0) {
        (void)fprintf(stderr, "evstore serve: keeping the tokens loaded before: %s\n", why);
        return;
    }
    tok_list_free(&a->list);
    a->list = fresh;
    a->seen = st;
}

int tok_auth_open(tok_auth **out, const char *root, char *why, size_t why_len)
{
    tok_auth *a = calloc(1, sizeof *a);
    if (a == NULL || (a->root = strdup(root)) == NULL) {
        free(a);
        (void)snprintf(why, why_len, "out of memory");
        return -1;
    }
    pthread_mutex_init(&a->mu, NULL);
    if (tok_load(&a->list, root, why, why_len) != 0) {
        tok_auth_close(a);
        return -1;
    }
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/tokens", root);
    if (stat(path, &a->seen) != 0)
        memset(&a->seen, 0, sizeof a->seen);
    *out = a;
    return 0;
}

void tok_auth_close(tok_auth *a)
{
    if (a == NULL)
        return;
    tok_list_free(&a->list);
    pthread_mutex_destroy(&a->mu);
    free(a->root);
    free(a);
}

bool tok_auth_check(tok_auth *a, const char *text, size_t len, tok_entry *out)
{
    pthread_mutex_lock(&a->mu);
    refresh(a);
    const tok_entry *e = tok_find(&a->list, text, len);
    if (e != NULL)
        *out = *e;
    pthread_mutex_unlock(&a->mu);
    return e != NULL;
}
