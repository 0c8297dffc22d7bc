/*
 * backup_dest.c - where a backup goes.
 *
 * A backup is built whole in a directory beside its destination, verified there, and
 * then swapped for the destination with renameat2(RENAME_EXCHANGE): one rename, so a
 * crash leaves the destination as it was or as the new backup, never between. That is
 * why the destination's parent must hold it (not a mount point of its own). The earlier
 * backup, swapped out, is removed afterwards; if a crash leaves it (or a half-built
 * new one) beside the destination, the next backup removes it first.
 */
#define _GNU_SOURCE
#include "backup_dest.h"
#include "evstore.h"
#include "file_copy.h"
#include "format.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct backup_dest {
    char dest[STORE_PATH_MAX];
    char parent[STORE_PATH_MAX];
    char stage[STORE_TMP_PATH_MAX + 100];
    bool earlier;          /* dest holds an earlier backup */
    bool exists;           /* dest exists (an earlier backup, or an empty directory) */
    uint64_t earlier_pos;
    int lock_fd;           /* dest's OPEN, locked exclusively while we work */
    bool committed;
};

/* The marker line's text before " crc32c=" for pos. */
static int mark_text(char *buf, size_t len, uint64_t pos, int64_t time_ns)
{
    return snprintf(buf, len, BACKUP_MAGIC " 1 pos=%" PRIu64 " time=%" PRId64, pos, time_ns);
}

int evs__backup_mark_read(const char *dir, uint64_t *pos)
{
    char path[STORE_TMP_PATH_MAX];
    int rc = evs__join_path(path, sizeof path, dir, BACKUP_FILE);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? EVS_ENOTFOUND : evs__seterr_errno(errno, "cannot open '%s'", path);
    char buf[256];
    ssize_t n = evs__sys.pread(fd, buf, sizeof buf - 1, 0);
    evs__sys.close(fd);
    if (n < 0)
        return evs__seterr_errno(errno, "cannot read '%s'", path);
    buf[n] = '\0';
    unsigned long long p = 0;
    long long t = 0;
    unsigned crc = 0;
    int used = 0;
    char expect[160];
    if (sscanf(buf, BACKUP_MAGIC " 1 pos=%llu time=%lld crc32c=%8x\n%n", &p, &t, &crc, &used) != 3 ||
        used != n || mark_text(expect, sizeof expect, p, t) <= 0 ||
        strncmp(buf, expect, strlen(expect)) != 0 ||
        evs__crc32c(0, expect, strlen(expect)) != crc)
        return evs__seterr(EVS_ECORRUPT,
                           "'%s' is damaged (not one line 'evstore-backup 1 pos=N time=N "
                           "crc32c=X' with a matching checksum)",
                           path);
    *pos = p;
    return 0;
}

int evs__bdest_mark(backup_dest *bd, uint64_t pos)
{
    char line[200], tmp[STORE_TMP_PATH_MAX], path[STORE_TMP_PATH_MAX];
    int n = mark_text(line, sizeof line, pos, evs__now_ns());
    n += snprintf(line + n, sizeof line - (size_t)n, " crc32c=%08x\n",
                  evs__crc32c(0, line, (size_t)n));
    int rc = evs__join_path(tmp, sizeof tmp, bd->stage, BACKUP_FILE ".tmp");
    if (rc == 0)
        rc = evs__join_path(path, sizeof path, bd->stage, BACKUP_FILE);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot create '%s'", tmp);
    if (evs__pwrite_all(fd, line, (size_t)n, 0) < 0 || evs__datasync(fd) < 0)
        rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
    evs__sys.close(fd);
    if (rc == 0 && evs__sys.rename(tmp, path) < 0)
        rc = evs__seterr_errno(errno, "cannot rename '%s'", tmp);
    if (rc == 0 && evs__dirsync(bd->stage) < 0)
        rc = evs__seterr_errno(errno, "cannot sync directory '%s'", bd->stage);
    return rc;
}

/* The store id in dir/evstore.meta: 0, EVS_ENOTFOUND (no such file), or an error. */
static int read_store_id(const char *dir, unsigned char id[16])
{
    char path[STORE_TMP_PATH_MAX];
    int rc = evs__join_path(path, sizeof path, dir, META_FILE);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? EVS_ENOTFOUND : evs__seterr_errno(errno, "cannot open '%s'", path);
    unsigned char m[META_LEN];
    int r = evs__pread_all(fd, m, sizeof m, 0);
    evs__sys.close(fd);
    if (r != 0 || memcmp(m + META_OFF_MAGIC, META_MAGIC, 8) != 0 ||
        evs__get_u32(m + META_OFF_CRC) != evs__crc32c(0, m, META_OFF_CRC))
        return evs__seterr(EVS_ECORRUPT, "'%s' is not a whole evstore.meta", path);
    memcpy(id, m + META_OFF_ID, 16);
    return 0;
}

/* Does dir hold nothing but "." and ".."? */
static int dir_empty(const char *dir, bool *empty)
{
    DIR *d = opendir(dir);
    if (!d)
        return evs__seterr_errno(errno, "cannot read directory '%s'", dir);
    *empty = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            *empty = false;
    closedir(d);
    return 0;
}

/* Is `name` one that a backup being built holds: a segment or its cache (20 digits and
 * an extension), or a file or folder of a store? */
static bool backup_file_name(const char *name)
{
    static const char *const names[] = {META_FILE, HEAD_FILE, SYNCED_FILE, LOST_FILE, "LOCK",
                                        OPEN_FILE, BACKUP_FILE, BACKUP_FILE ".tmp", "consumers",
                                        "stream-index"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    size_t digits = strspn(name, "0123456789");
    return digits == 20 && name[20] == '.';
}

/* Is the leftover at the stage path one a killed backup of this store left: a
 * directory of nothing but such names, whose evstore.meta, once whole, is this store's?
 * (A backup killed while it copied evstore.meta leaves it partial.) */
static int leftover_is_ours(const char *dir, const unsigned char store_id[16], bool *ours)
{
    DIR *d = opendir(dir);
    if (!d)
        return evs__seterr_errno(errno, "cannot read directory '%s'", dir);
    *ours = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            !backup_file_name(e->d_name))
            *ours = false;
    closedir(d);
    unsigned char id[16];
    int rc = read_store_id(dir, id);
    if (rc == 0 && memcmp(id, store_id, 16) != 0)
        *ours = false;
    evs__clearerr();
    return 0;
}

/* Remove a leftover of an interrupted backup at the stage path, never anything else. */
static int remove_leftover(const backup_dest *bd, const unsigned char store_id[16])
{
    struct stat st;
    if (lstat(bd->stage, &st) < 0)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "cannot stat '%s'", bd->stage);
    bool ours = false;
    int rc = S_ISDIR(st.st_mode) ? leftover_is_ours(bd->stage, store_id, &ours) : 0;
    if (rc < 0)
        return rc;
    if (!ours)
        return evs__seterr(EVS_EEXIST,
                           "'%s' is in the way of the backup and is not one this store's backup "
                           "left; move it away",
                           bd->stage);
    return evs__remove_made_dir(bd->stage);
}

/* Check what dest is; lock an earlier backup there against handles. */
static int check_dest(backup_dest *bd, const char *store_dir, const unsigned char store_id[16])
{
    struct stat st, src, par;
    if (stat(bd->dest, &st) < 0) {
        if (errno != ENOENT)
            return evs__seterr_errno(errno, "backup destination '%s'", bd->dest);
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return evs__seterr(EVS_EINVAL, "backup destination '%s' is not a directory", bd->dest);
    if (stat(store_dir, &src) == 0 && src.st_dev == st.st_dev && src.st_ino == st.st_ino)
        return evs__seterr(EVS_EINVAL, "backup destination '%s' is the store itself", bd->dest);
    if (stat(bd->parent, &par) < 0)
        return evs__seterr_errno(errno, "cannot stat '%s'", bd->parent);
    if (par.st_dev != st.st_dev)
        return evs__seterr(EVS_EINVAL,
                           "backup destination '%s' is a mount point: a backup is built beside "
                           "its destination and swapped in, so name a directory inside it",
                           bd->dest);
    bd->exists = true;
    bool empty = false;
    int rc = dir_empty(bd->dest, &empty);
    if (rc < 0 || empty)
        return rc;
    unsigned char id[16];
    rc = read_store_id(bd->dest, id);
    if (rc == 0)
        rc = evs__backup_mark_read(bd->dest, &bd->earlier_pos);
    if (rc == EVS_ENOTFOUND)
        return evs__seterr(EVS_EINVAL,
                           "backup destination '%s' is not empty and holds no backup: name a "
                           "new or empty directory",
                           bd->dest);
    if (rc < 0)
        return rc;
    if (memcmp(id, store_id, 16) != 0)
        return evs__seterr(EVS_EEXIST,
                           "backup destination '%s' holds a backup of another store: name a new "
                           "or empty directory",
                           bd->dest);
    bd->earlier = true;
    char path[STORE_TMP_PATH_MAX];
    if ((rc = evs__join_path(path, sizeof path, bd->dest, OPEN_FILE)) < 0)
        return rc;
    bd->lock_fd = evs__sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (bd->lock_fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    if (evs__sys.flock(bd->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK
                   ? evs__seterr(EVS_EBUSY,
                                 "backup destination '%s' is open as a store; close it first",
                                 bd->dest)
                   : evs__seterr_errno(errno, "cannot lock '%s'", path);
    return 0;
}

int evs__bdest_open(backup_dest **out, const char *dest, const char *store_dir,
                    const unsigned char store_id[16])
{
    *out = NULL;
    backup_dest *bd = evs__calloc(1, sizeof *bd);
    if (!bd)
        return evs__seterr(EVS_ENOMEM, "out of memory starting a backup");
    bd->lock_fd = -1;
    size_t len = strlen(dest);
    while (len > 1 && dest[len - 1] == '/')
        len--;
    if (len >= sizeof bd->dest) {
        evs__free(bd);
        return evs__seterr(EVS_EINVAL, "backup destination '%s' is too long a path", dest);
    }
    memcpy(bd->dest, dest, len);
    const char *slash = strrchr(bd->dest, '/');
    const char *base = slash ? slash + 1 : bd->dest;
    if (slash == bd->dest)
        snprintf(bd->parent, sizeof bd->parent, "/");
    else if (slash)
        snprintf(bd->parent, sizeof bd->parent, "%.*s", (int)(slash - bd->dest), bd->dest);
    else
        snprintf(bd->parent, sizeof bd->parent, ".");
    int rc = 0;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        rc = evs__seterr(EVS_EINVAL, "backup destination '%s' must name a directory by its name",
                         dest);
    else if ((size_t)snprintf(bd->stage, sizeof bd->stage, "%s/.%s" BACKUP_STAGE_SUFFIX,
                              bd->parent, base) >= sizeof bd->stage)
        rc = evs__seterr(EVS_EINVAL, "backup destination '%s' is too long a path", dest);
    if (rc == 0)
        rc = check_dest(bd, store_dir, store_id);
    if (rc == 0)
        rc = remove_leftover(bd, store_id);
    if (rc == 0 && evs__sys.mkdir(bd->stage, 0755) < 0)
        rc = evs__seterr_errno(errno, "cannot create '%s'", bd->stage);
    if (rc < 0) {
        bd->committed = true; /* nothing of ours to remove */
        evs__bdest_free(bd);
        return rc;
    }
    *out = bd;
    return 0;
}

const char *evs__bdest_stage(const backup_dest *bd)
{
    return bd->stage;
}

const char *evs__bdest_earlier(const backup_dest *bd)
{
    return bd->earlier ? bd->dest : NULL;
}

uint64_t evs__bdest_earlier_pos(const backup_dest *bd)
{
    return bd->earlier_pos;
}

int evs__bdest_commit(backup_dest *bd)
{
    if (evs__dirsync(bd->stage) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", bd->stage);
    if (bd->exists) {
        if (renameat2(AT_FDCWD, bd->stage, AT_FDCWD, bd->dest, RENAME_EXCHANGE) < 0)
            return evs__seterr_errno(errno, "cannot swap the new backup '%s' for '%s'", bd->stage,
                                     bd->dest);
    } else if (renameat2(AT_FDCWD, bd->stage, AT_FDCWD, bd->dest, RENAME_NOREPLACE) < 0) {
        return evs__seterr_errno(errno, "cannot rename the new backup '%s' to '%s'", bd->stage,
                                 bd->dest);
    }
    bd->committed = true;
    if (evs__dirsync(bd->parent) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", bd->parent);
    /* The earlier backup (or the empty directory) now sits at the stage path. A failure
     * to remove it leaves a leftover the next backup removes: the backup stands. */
    if (bd->exists && evs__remove_made_dir(bd->stage) < 0)
        evs__clearerr();
    return 0;
}

void evs__bdest_free(backup_dest *bd)
{
    if (!bd)
        return;
    if (!bd->committed) {
        int code = evs__lasterr_code();
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", evs__lasterr_msg());
        (void)evs__remove_made_dir(bd->stage);
        if (code)
            evs__seterr(code, "%s", msg);
    }
    if (bd->lock_fd >= 0)
        evs__sys.close(bd->lock_fd);
    evs__free(bd);
}
