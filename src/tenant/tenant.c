/*
 * tenant.c - the tenant registry: ROOT/tenants/<name>/ stores, opened on first use and
 * kept open, behind one mutex (a lookup is a short scan of a small array; the store
 * handles themselves are thread-safe and used outside the lock).
 */
#include "evstore_tenant.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_FILE "server.pid"

struct tenant_slot {
    char name[EVS_MAX_TENANT_NAME_LEN + 1]; /* "" once removed: never matches a name */
    evs_store *store;
};

struct evs_tenants {
    char *root;
    evs_options opts; /* for every tenant's store, NOCREATE added */
    unsigned flags;
    int lock_fd; /* ROOT/server.pid, held with flock; -1 without EVS_TENANTS_LOCK */
    pthread_mutex_t mu;
    struct tenant_slot *slots;
    size_t count;
    size_t cap;
};

int evs_tenant_name_check(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return evs__seterr(EVS_EINVAL, "tenant name is empty");
    size_t len = strlen(name);
    if (len > EVS_MAX_TENANT_NAME_LEN)
        return evs__seterr(EVS_EINVAL, "tenant name is %zu bytes long; at most %d", len,
                           EVS_MAX_TENANT_NAME_LEN);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum || (i > 0 && (c == '_' || c == '-')))
            continue;
        return evs__seterr(EVS_EINVAL,
                           "tenant name '%.*s': byte %zu (0x%02x) is not allowed; a name is "
                           "a-z or 0-9, then a-z, 0-9, '_' or '-'",
                           (int)len, name, i, c);
    }
    evs__clearerr();
    return 0;
}

/* ROOT/tenants/<name>, or ROOT itself for a single store. */
static char *tenant_dir(const char *root, const char *name, bool single)
{
    size_t len = strlen(root) + strlen(name) + sizeof "/tenants/";
    char *p = evs__alloc(len);
    if (p == NULL)
        return NULL;
    if (single)
        (void)snprintf(p, len, "%s", root);
    else
        (void)snprintf(p, len, "%s/tenants/%s", root, name);
    return p;
}

/* Take ROOT/server.pid exclusively, or say who has it. */
static int take_lock(evs_tenants *t)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", t->root, LOCK_FILE) >= (int)sizeof path)
        return evs__seterr(EVS_EINVAL, "root path is too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "open %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        (void)close(fd);
        if (err != EWOULDBLOCK)
            return evs__seterr_errno(err, "lock %s", path);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return evs__seterr(EVS_EBUSY, "%s is already served by pid %s", t->root,
                           pid[0] != '\0' ? pid : "(unknown)");
    }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        int err = errno;
        (void)close(fd);
        return evs__seterr_errno(err, "write %s", path);
    }
    t->lock_fd = fd;
    return 0;
}

static bool is_store(const char *dir)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_NOCREATE | EVS_OPEN_READONLY;
    evs_store *s = NULL;
    if (evs_open(&s, dir, &o) != 0)
        return false;
    (void)evs_close(s);
    return true;
}

int evs_tenants_open(evs_tenants **out, const char *root, const evs_options *store_opts,
                     unsigned flags)
{
    *out = NULL;
    if ((flags & ~(EVS_TENANTS_LOCK | EVS_TENANTS_SINGLE)) != 0)
        return evs__seterr(EVS_EINVAL, "unknown registry flags 0x%x", flags);
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        return evs__seterr(EVS_ENOTFOUND, "root %s is not a directory", root);
    if ((flags & EVS_TENANTS_SINGLE) != 0 && !is_store(root))
        return evs__seterr(EVS_ENOTFOUND, "%s is not a store", root);
    evs_tenants *t = evs__calloc(1, sizeof *t);
    if (t == NULL || (t->root = evs__strndup(root, strlen(root))) == NULL) {
        evs__free(t);
        return evs__seterr(EVS_ENOMEM, "out of memory");
    }
    evs_options defaults = EVS_OPTIONS_INIT;
    t->opts = store_opts != NULL ? *store_opts : defaults;
    t->opts.flags |= EVS_OPEN_NOCREATE;
    t->opts.flags &= ~(unsigned)EVS_OPEN_EXCLUSIVE_CREATE;
    t->flags = flags;
    t->lock_fd = -1;
    pthread_mutex_init(&t->mu, NULL);
    if ((flags & EVS_TENANTS_LOCK) != 0) {
        int rc = take_lock(t);
        if (rc < 0) {
            (void)evs_tenants_close(t);
            return rc;
        }
    }
    *out = t;
    evs__clearerr();
    return 0;
}

static struct tenant_slot *find_slot(evs_tenants *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->slots[i].name, name) == 0)
            return &t->slots[i];
    }
    return NULL;
}

/* Open tenant `name`'s store into a new slot; t->mu is held. */
static int open_slot(evs_tenants *t, const char *name, evs_store **out)
{
    bool single = (t->flags & EVS_TENANTS_SINGLE) != 0;
    if (single && strcmp(name, EVS_TENANT_DEFAULT) != 0)
        return evs__seterr(EVS_ENOTFOUND,
                           "tenant '%s' does not exist (this root is one "
                           "store, served as tenant 'default')",
                           name);
    if (t->count == t->cap) {
        size_t cap = t->cap != 0 ? t->cap * 2 : 8;
        struct tenant_slot *s = evs__realloc(t->slots, cap * sizeof *s);
        if (s == NULL)
            return evs__seterr(EVS_ENOMEM, "out of memory");
        t->slots = s;
        t->cap = cap;
    }
    char *dir = tenant_dir(t->root, name, single);
    if (dir == NULL)
        return evs__seterr(EVS_ENOMEM, "out of memory");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        evs__free(dir);
        return evs__seterr(EVS_ENOTFOUND, "tenant '%s' does not exist", name);
    }
    evs_store *store = NULL;
    int rc = evs_open(&store, dir, &t->opts);
    evs__free(dir);
    if (rc < 0)
        return evs__prefixerr("tenant '%s'", name);
    struct tenant_slot *slot = &t->slots[t->count++];
    (void)snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->store = store;
    *out = store;
    return 0;
}

int evs_tenants_get(evs_store **out, evs_tenants *t, const char *name)
{
    *out = NULL;
    int rc = evs_tenant_name_check(name);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&t->mu);
    struct tenant_slot *slot = find_slot(t, name);
    if (slot != NULL) {
        *out = slot->store;
        rc = 0;
    } else {
        rc = open_slot(t, name, out);
    }
    pthread_mutex_unlock(&t->mu);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_tenant_create(const char *root, const char *name, const evs_options *store_opts)
{
    int rc = evs_tenant_name_check(name);
    if (rc < 0)
        return rc;
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        return evs__seterr(EVS_ENOTFOUND, "root %s is not a directory", root);
    char *parent = tenant_dir(root, "", false);
    if (parent == NULL)
        return evs__seterr(EVS_ENOMEM, "out of memory");
    bool single = is_store(root);
    if (!single && mkdir(parent, 0755) != 0 && errno != EEXIST) {
        rc = evs__seterr_errno(errno, "create %s", parent);
        evs__free(parent);
        return rc;
    }
    evs__free(parent);
    if (single)
        return evs__seterr(EVS_ENOTSUP,
                           "%s is one store, served as tenant 'default'; "
                           "tenants need a root of their own",
                           root);
    char *dir = tenant_dir(root, name, false);
    if (dir == NULL)
        return evs__seterr(EVS_ENOMEM, "out of memory");
    /* mkdir first: of two concurrent creators exactly one makes the directory. */
    if (mkdir(dir, 0755) != 0) {
        rc = errno == EEXIST ? evs__seterr(EVS_EEXIST, "tenant '%s' already exists", name)
                             : evs__seterr_errno(errno, "create %s", dir);
        evs__free(dir);
        return rc;
    }
    evs_options o = EVS_OPTIONS_INIT;
    if (store_opts != NULL)
        o = *store_opts;
    o.flags &= ~(unsigned)(EVS_OPEN_NOCREATE | EVS_OPEN_READONLY);
    evs_store *s = NULL;
    rc = evs_open(&s, dir, &o);
    if (rc == 0)
        rc = evs_close(s);
    if (rc < 0) {
        rc = evs__prefixerr("create tenant '%s'", name);
        (void)rmdir(dir); /* only succeeds when nothing was written into it */
    }
    evs__free(dir);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int evs_tenants_each(const char *root, int (*fn)(void *ctx, const char *name), void *ctx)
{
    if (is_store(root))
        return fn(ctx, EVS_TENANT_DEFAULT);
    char *parent = tenant_dir(root, "", false);
    if (parent == NULL)
        return evs__seterr(EVS_ENOMEM, "out of memory");
    DIR *d = opendir(parent);
    if (d == NULL) {
        int err = errno;
        evs__free(parent);
        struct stat st;
        if (err == ENOENT && stat(root, &st) == 0)
            return 0; /* no tenant made yet */
        return err == ENOENT ? evs__seterr(EVS_ENOTFOUND, "root %s does not exist", root)
                             : evs__seterr_errno(err, "list %s", root);
    }
    evs__free(parent);
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (evs_tenant_name_check(e->d_name) != 0)
            continue;
        if (count == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            char **p = evs__realloc(names, cap * sizeof *p);
            if (p == NULL) {
                rc = evs__seterr(EVS_ENOMEM, "out of memory");
                break;
            }
            names = p;
        }
        if ((names[count] = evs__strndup(e->d_name, strlen(e->d_name))) == NULL)
            rc = evs__seterr(EVS_ENOMEM, "out of memory");
        else
            count++;
    }
    (void)closedir(d);
    evs__clearerr();
    if (rc == 0 && count > 0)
        qsort(names, count, sizeof *names, cmp_names);
    for (size_t i = 0; i < count; i++) {
        if (rc == 0)
            rc = fn(ctx, names[i]);
        evs__free(names[i]);
    }
    evs__free(names);
    return rc;
}

/* ROOT/deleted/<name>.<ns>, the place a removed tenant's directory goes. */
static int deleted_dir(char *out, size_t len, const char *root, const char *name)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    int n = snprintf(out, len, "%s/deleted/%s.%lld", root, name, ns);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int evs_tenants_remove(evs_tenants *t, const char *name, char *moved_to, size_t len)
{
    if (moved_to != NULL && len > 0)
        moved_to[0] = '\0';
    int rc = evs_tenant_name_check(name);
    if (rc < 0)
        return rc;
    if ((t->flags & EVS_TENANTS_SINGLE) != 0)
        return evs__seterr(EVS_ENOTSUP,
                           "%s is one store, served as tenant 'default'; it cannot be removed",
                           t->root);
    char from[4096], to[4096], parent[4096];
    if (snprintf(from, sizeof from, "%s/tenants/%s", t->root, name) >= (int)sizeof from ||
        snprintf(parent, sizeof parent, "%s/deleted", t->root) >= (int)sizeof parent ||
        deleted_dir(to, sizeof to, t->root, name) != 0)
        return evs__seterr(EVS_EINVAL, "root path is too long");
    pthread_mutex_lock(&t->mu);
    struct stat st;
    if (stat(from, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = evs__seterr(EVS_ENOTFOUND, "tenant '%s' does not exist", name);
    else if (mkdir(parent, 0755) != 0 && errno != EEXIST)
        rc = evs__seterr_errno(errno, "create %s", parent);
    else if (rename(from, to) != 0)
        rc = evs__seterr_errno(errno, "move %s to %s", from, to);
    else {
        /* Calls still using the store keep it: it is closed with the registry. */
        struct tenant_slot *slot = find_slot(t, name);
        if (slot != NULL)
            slot->name[0] = '\0';
        if (moved_to != NULL && len > 0)
            (void)snprintf(moved_to, len, "%s", to);
    }
    pthread_mutex_unlock(&t->mu);
    if (rc == 0) {
        /* The rename is made durable by syncing both parents. */
        int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            (void)close(fd);
        }
        (void)snprintf(parent, sizeof parent, "%s/tenants", t->root);
        fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            (void)close(fd);
        }
        evs__clearerr();
    }
    return rc;
}

int evs_tenants_close(evs_tenants *t)
{
    if (t == NULL)
        return 0;
    int first = 0;
    for (size_t i = 0; i < t->count; i++) {
        int rc = evs_close(t->slots[i].store);
        /* A removed tenant's close is not reported: its directory was moved under it. */
        if (rc < 0 && first == 0 && t->slots[i].name[0] != '\0')
            first = rc;
    }
    if (t->lock_fd >= 0)
        (void)close(t->lock_fd);
    pthread_mutex_destroy(&t->mu);
    evs__free(t->slots);
    evs__free(t->root);
    evs__free(t);
    return first;
}
