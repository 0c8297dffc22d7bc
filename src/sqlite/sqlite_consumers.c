/*
 * sqlite_consumers.c - durable consumers in the SQLite backend: checkpoints and filters
 * in the table evs_consumers, and each consumer's exclusive lock as a byte-range lock.
 *
 * The lock: one byte of the file "<database>-evslock", at an offset taken from a hash of
 * the consumer's name, locked with an open-file-description lock (F_OFD_SETLK). Such a
 * lock belongs to the file description, not the process: two handles in one process
 * exclude each other as two processes do, and the kernel drops it when its holder dies,
 * so a crashed consumer never blocks its successor. A row in the database could not be
 * released by a process that died.
 */
#define _GNU_SOURCE
#include "sqlite_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct evs__be_consumer {
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    int lock_fd;
};

static int lock_path(const sqlite_backend *sb, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s-evslock", sb->path);
    if (n < 0 || (size_t)n >= len)
        return evs__seterr(EVS_EINVAL, "the path of 'sqlite:%s' is too long", sb->path);
    return 0;
}

/* Collisions between two names' bytes would make them exclude each other; with 62 bits
 * of offset that takes billions of consumers. */
static struct flock lock_range(const char *name, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)(1 + (evs__hash64(name, strlen(name)) >> 2));
    fl.l_len = 1;
    return fl;
}

int evs__sq_consumer_lock(evs__backend *be, const char *name, evs__be_consumer **out)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    *out = NULL;
    if (sb->readonly)
        return evs__seterr(EVS_EREADONLY,
                           "consumer '%s': the store 'sqlite:%s' was opened "
                           "read-only",
                           name, sb->path);
    char path[4200];
    int rc = lock_path(sb, path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    struct flock fl = lock_range(name, F_WRLCK);
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        int err = errno;
        close(fd);
        if (err == EAGAIN || err == EACCES)
            return evs__seterr(EVS_EBUSY,
                               "consumer '%s' is busy: another handle (in this or another "
                               "process) has it open",
                               name);
        return evs__seterr_errno(err, "cannot lock '%s'", path);
    }
    evs__be_consumer *h = evs__calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        return evs__seterr(EVS_ENOMEM, "out of memory opening consumer '%s'", name);
    }
    snprintf(h->name, sizeof h->name, "%s", name);
    h->lock_fd = fd;
    *out = h;
    return 0;
}

void evs__sq_consumer_unlock(evs__backend *be, evs__be_consumer *h)
{
    (void)be;
    if (!h)
        return;
    close(h->lock_fd); /* drops the lock */
    evs__free(h);
}

static bool lock_held(const sqlite_backend *sb, const char *name)
{
    char path[4200];
    if (lock_path(sb, path, sizeof path) < 0)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct flock fl = lock_range(name, F_RDLCK);
    bool held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return held;
}

static int no_consumer(const sqlite_backend *sb, const char *name)
{
    return evs__seterr(EVS_ENOTFOUND, "no consumer '%s' in store 'sqlite:%s'", name, sb->path);
}

/* Run `sql` with the name bound to ?1 and up to three integers/texts after it. */
typedef struct args {
    const char *name;
    int64_t pos, ts;
    const char *text; /* ?4, or NULL */
} args;

static int run(sqlite_backend *sb, const char *sql, const args *a, int *changes)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(sb->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return evs__sq_err(sb, rc, "preparing a checkpoint statement");
    sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 3) {
        sqlite3_bind_int64(st, 2, a->pos);
        sqlite3_bind_int64(st, 3, a->ts);
    }
    if (sqlite3_bind_parameter_count(st) >= 4)
        sqlite3_bind_text(st, 4, a->text, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (changes)
        *changes = sqlite3_changes(sb->db);
    return rc == SQLITE_DONE ? 0 : evs__sq_err(sb, rc, "saving a checkpoint");
}

int evs__sq_checkpoint_load(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    pthread_mutex_lock(&sb->mu);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(sb->db, "SELECT pos, ts_ns FROM evs_consumers WHERE name = ?1", -1,
                                &st, NULL);
    if (rc != SQLITE_OK) {
        rc = evs__sq_err(sb, rc, "reading a checkpoint");
        pthread_mutex_unlock(&sb->mu);
        return rc;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *pos = sqlite3_column_int64(st, 0);
        *ts_ns = sqlite3_column_int64(st, 1);
        rc = 0;
    } else {
        rc = src == SQLITE_DONE ? no_consumer(sb, name)
                                : evs__sq_err(sb, src, "reading a checkpoint");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&sb->mu);
    return rc;
}

/* One statement, made durable when asked even where the handle's sync mode does not. */
static int save(sqlite_backend *sb, const char *sql, const args *a, bool durable, int *changes)
{
    pthread_mutex_lock(&sb->mu);
    bool raise = durable && sb->opts.sync_mode != EVS_SYNC_ALWAYS;
    int rc = raise ? evs__sq_exec(sb, "PRAGMA synchronous=FULL") : 0;
    if (rc == 0)
        rc = run(sb, sql, a, changes);
    if (raise)
        (void)evs__sq_exec(sb, sb->opts.sync_mode == EVS_SYNC_BATCH ? "PRAGMA synchronous=NORMAL"
                                                                    : "PRAGMA synchronous=OFF");
    pthread_mutex_unlock(&sb->mu);
    return rc;
}

int evs__sq_checkpoint_store(evs__backend *be, evs__be_consumer *h, int64_t pos, int64_t ts_ns,
                             bool durable)
{
    args a = {h->name, pos, ts_ns, NULL};
    return save((sqlite_backend *)be,
                "INSERT INTO evs_consumers(name, pos, ts_ns) VALUES(?1, ?2, ?3)"
                " ON CONFLICT(name) DO UPDATE SET pos = excluded.pos, ts_ns = excluded.ts_ns",
                &a, durable, NULL);
}

int evs__sq_filter_store(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                         int64_t ts_ns)
{
    args a = {h->name, pos, ts_ns, text};
    return save((sqlite_backend *)be,
                "INSERT INTO evs_consumers(name, pos, ts_ns, filter) VALUES(?1, ?2, ?3, ?4)"
                " ON CONFLICT(name) DO UPDATE SET pos = excluded.pos, ts_ns = excluded.ts_ns,"
                " filter = excluded.filter",
                &a, true, NULL);
}

int evs__sq_consumer_delete(evs__backend *be, evs__be_consumer *h)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    args a = {h->name, 0, 0, NULL};
    int changes = 0;
    int rc = save(sb, "DELETE FROM evs_consumers WHERE name = ?1", &a, true, &changes);
    if (rc == 0 && changes == 0)
        rc = no_consumer(sb, h->name);
    return rc;
}

int evs__sq_filter_load(evs__backend *be, const char *name, char **out)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    *out = NULL;
    pthread_mutex_lock(&sb->mu);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(sb->db, "SELECT filter FROM evs_consumers WHERE name = ?1", -1, &st,
                                NULL);
    if (rc != SQLITE_OK) {
        rc = evs__sq_err(sb, rc, "reading a consumer's filter");
        pthread_mutex_unlock(&sb->mu);
        return rc;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    rc = 0;
    if (src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        if (len > EVS__MAX_FILTER_TEXT)
            rc = evs__seterr(EVS_ECORRUPT,
                             "sqlite:%s: consumer '%s': the filter kept is %zu bytes, more "
                             "than %u",
                             sb->path, name, len, EVS__MAX_FILTER_TEXT);
        else if (!(*out = evs__strndup((const char *)sqlite3_column_text(st, 0), len)))
            rc = evs__seterr(EVS_ENOMEM, "out of memory reading consumer '%s'", name);
    } else if (src == SQLITE_DONE) {
        rc = no_consumer(sb, name);
    } else if (src != SQLITE_ROW) {
        rc = evs__sq_err(sb, src, "reading a consumer's filter");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&sb->mu);
    return rc;
}

/* The list is read whole first: the callback may call back into the handle. */
typedef struct entry {
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    int64_t pos, ts;
} entry;

static int read_all(sqlite_backend *sb, entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    size_t cap = 0;
    pthread_mutex_lock(&sb->mu);
    sqlite3_stmt *st;
    int rc =
        sqlite3_prepare_v2(sb->db, "SELECT name, pos, ts_ns FROM evs_consumers", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = evs__sq_err(sb, rc, "listing consumers");
        pthread_mutex_unlock(&sb->mu);
        return rc;
    }
    int src, err = 0;
    while (err == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            entry *n = evs__realloc(*out, cap * sizeof *n);
            if (!n) {
                err = evs__seterr(EVS_ENOMEM, "out of memory listing consumers");
                break;
            }
            *out = n;
        }
        entry *e = &(*out)[(*count)++];
        snprintf(e->name, sizeof e->name, "%s", (const char *)sqlite3_column_text(st, 0));
        e->pos = sqlite3_column_int64(st, 1);
        e->ts = sqlite3_column_int64(st, 2);
    }
    if (err == 0 && src != SQLITE_DONE)
        err = evs__sq_err(sb, src, "listing consumers");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&sb->mu);
    return err;
}

int evs__sq_consumer_list(evs__backend *be, evs__consumer_cb cb, void *ctx)
{
    sqlite_backend *sb = (sqlite_backend *)be;
    entry *all;
    size_t n;
    int rc = read_all(sb, &all, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        evs__consumer_entry ent = {all[i].name, 0, all[i].pos, all[i].ts, false, NULL};
        char *filter = NULL;
        ent.status = evs__sq_filter_load(be, all[i].name, &filter);
        if (ent.status == EVS_ENOTFOUND)
            continue; /* deleted meanwhile */
        if (ent.status == EVS_ENOMEM) {
            rc = ent.status;
            break;
        }
        evs__clearerr();
        ent.filter = filter;
        ent.open = lock_held(sb, all[i].name);
        rc = cb(ctx, &ent);
        evs__free(filter);
    }
    evs__free(all);
    return rc;
}
