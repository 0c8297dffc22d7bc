/*
 * keyfile_io.c - the key file on disk.
 *
 * Adding a key appends one record and syncs it before the key encrypts anything, so a
 * crash loses at most a key nothing used. Destroying keys writes a new file
 * (`keys.tmp`), syncs it and renames it over `keys`; before the rename the old file is
 * also linked as `keys.old`, and after it `keys.old` is overwritten with zeros, synced
 * and removed. The rename alone would leave the old bytes in blocks the file system
 * merely marked free; the link keeps them reachable until they are overwritten, also
 * across a crash (the next change scrubs a `keys.old` it finds first).
 */
#define _GNU_SOURCE
#include "keyfile_io.h"
#include "sysio.h"
#include "util.h"

#include "evstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

/* Far more than any key file: a million subjects' records. A larger size is damage. */
#define KEYFILE_MAX_LEN ((size_t)1 << 30)

bool evs__file_sig_equal(const evs__file_sig *a, const evs__file_sig *b)
{
    if (a->exists != b->exists)
        return false;
    return !a->exists || (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
                          a->mtime.tv_sec == b->mtime.tv_sec &&
                          a->mtime.tv_nsec == b->mtime.tv_nsec);
}

static void sig_from(evs__file_sig *sig, const struct stat *st)
{
    sig->exists = true;
    sig->dev = st->st_dev;
    sig->ino = st->st_ino;
    sig->size = st->st_size;
    sig->mtime = st->st_mtim;
}

int evs__keyfile_sig(const char *path, evs__file_sig *sig)
{
    struct stat st;
    memset(sig, 0, sizeof *sig);
    if (stat(path, &st) == 0) {
        sig_from(sig, &st);
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    return evs__seterr_errno(errno, "key file %s: cannot stat it", path);
}

int evs__keyfile_read(const char *path, unsigned char **buf, size_t *len, evs__file_sig *sig)
{
    *buf = NULL;
    *len = 0;
    memset(sig, 0, sizeof *sig);
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        return evs__seterr_errno(errno, "key file %s: cannot open it", path);
    }
    struct stat st;
    int rc = 0;
    if (evs__sys.fstat(fd, &st) != 0) {
        rc = evs__seterr_errno(errno, "key file %s: cannot stat it", path);
        goto out;
    }
    if ((size_t)st.st_size > KEYFILE_MAX_LEN) {
        rc = evs__seterr(EVS_ECORRUPT, "key file %s: %lld bytes, more than a key file holds",
                         path, (long long)st.st_size);
        goto out;
    }
    *buf = evs__alloc(st.st_size ? (size_t)st.st_size : 1);
    if (!*buf) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory reading key file %s", path);
        goto out;
    }
    /* A file that shrank while read is read again by the next look. */
    int r = evs__pread_all(fd, *buf, (size_t)st.st_size, 0);
    if (r < 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot read it", path);
    else if (r > 0)
        rc = evs__seterr(EVS_EIO, "key file %s: it shrank while being read; try again", path);
    *len = (size_t)st.st_size;
    sig_from(sig, &st);
out:
    if (rc < 0) {
        evs__free(*buf);
        *buf = NULL;
    }
    evs__sys.close(fd);
    return rc;
}

static void join(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

int evs__keyfile_lock(const char *dir, int *fd)
{
    char path[4096];
    join(path, sizeof path, dir, "keys.lock");
    *fd = evs__sys.open(path, O_RDWR | O_CREAT, 0644);
    if (*fd < 0)
        return evs__seterr_errno(errno, "key file lock %s: cannot open it", path);
    while (evs__sys.flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int err = errno;
            evs__sys.close(*fd);
            return evs__seterr_errno(err, "key file lock %s: cannot lock it", path);
        }
    }
    return 0;
}

void evs__keyfile_unlock(int fd)
{
    evs__sys.flock(fd, LOCK_UN);
    evs__sys.close(fd);
}

/* Write img to `name` in dir, sync it, rename it to `to`, sync the directory. */
static int write_renamed(const char *dir, const char *tmp, const char *to,
                         const unsigned char *img, size_t len)
{
    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return evs__seterr_errno(errno, "key file %s: cannot create it", tmp);
    int rc = 0;
    if (evs__pwrite_all(fd, img, len, 0) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot write it", tmp);
    else if (evs__sys.fsync(fd) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot sync it", tmp);
    evs__sys.close(fd);
    if (rc == 0 && evs__sys.rename(tmp, to) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot rename it to %s", tmp, to);
    if (rc == 0 && evs__dirsync(dir) != 0)
        rc = evs__seterr_errno(errno, "store directory %s: cannot sync it", dir);
    if (rc < 0)
        evs__sys.unlink(tmp);
    return rc;
}

int evs__keyfile_add(const char *dir, const char *path, bool exists, size_t valid_end,
                     const evs__keyrec *r, size_t *end)
{
    char tmp[4096];
    join(tmp, sizeof tmp, dir, "keys.tmp");
    if (!exists) {
        unsigned char head[EVS__KEYFILE_HEAD_LEN];
        evs__keyfile_head(head);
        int rc = write_renamed(dir, tmp, path, head, sizeof head);
        if (rc < 0)
            return rc;
        valid_end = sizeof head;
    }
    unsigned char rec[EVS__KEYREC_MAX_LEN];
    size_t len = evs__keyrec_encode(rec, r);
    int fd = evs__sys.open(path, O_RDWR, 0);
    if (fd < 0)
        return evs__seterr_errno(errno, "key file %s: cannot open it to add a key", path);
    int rc = 0;
    struct stat st;
    if (evs__sys.fstat(fd, &st) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot stat it", path);
    else if ((size_t)st.st_size > valid_end && evs__sys.ftruncate(fd, (off_t)valid_end) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot cut its torn last record", path);
    else if (evs__pwrite_all(fd, rec, len, (off_t)valid_end) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot add a key at byte %zu", path,
                               valid_end);
    else if (evs__datasync(fd) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot sync the key added", path);
    evs__sys.close(fd);
    *end = valid_end + len;
    return rc;
}

/* Overwrite every byte of the file with zeros and sync, then remove it. */
static int scrub(const char *dir, const char *path)
{
    int fd = evs__sys.open(path, O_WRONLY, 0);
    if (fd < 0)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "key file %s: cannot open it", path);
    struct stat st;
    int rc = 0;
    static const unsigned char zeros[4096];
    if (evs__sys.fstat(fd, &st) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot stat it", path);
    for (off_t off = 0; rc == 0 && off < st.st_size; off += (off_t)sizeof zeros) {
        size_t n = st.st_size - off < (off_t)sizeof zeros ? (size_t)(st.st_size - off)
                                                           : sizeof zeros;
        if (evs__pwrite_all(fd, zeros, n, off) != 0)
            rc = evs__seterr_errno(errno, "key file %s: cannot overwrite it", path);
    }
    if (rc == 0 && evs__sys.fsync(fd) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot sync its overwrite", path);
    evs__sys.close(fd);
    if (rc == 0 && evs__sys.unlink(path) != 0)
        rc = evs__seterr_errno(errno, "key file %s: cannot remove it", path);
    if (rc == 0 && evs__dirsync(dir) != 0)
        rc = evs__seterr_errno(errno, "store directory %s: cannot sync it", dir);
    return rc;
}

int evs__keyfile_scrub_leftover(const char *dir)
{
    char old[4096], live[4096];
    join(old, sizeof old, dir, "keys.old");
    join(live, sizeof live, dir, "keys");
    /* A crash between the link and the rename leaves `keys.old` naming the live file:
     * then only the name goes. Overwriting it would destroy every key. */
    struct stat st_old, st_live;
    if (stat(old, &st_old) != 0)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "key file %s: cannot stat it", old);
    if (stat(live, &st_live) == 0 && st_live.st_dev == st_old.st_dev &&
        st_live.st_ino == st_old.st_ino) {
        if (evs__sys.unlink(old) != 0)
            return evs__seterr_errno(errno, "key file %s: cannot remove it", old);
        return 0;
    }
    return scrub(dir, old);
}

int evs__keyfile_replace(const char *dir, const char *path, const unsigned char *img, size_t len)
{
    char tmp[4096], old[4096];
    join(tmp, sizeof tmp, dir, "keys.tmp");
    join(old, sizeof old, dir, "keys.old");
    int rc = evs__keyfile_scrub_leftover(dir);
    if (rc < 0)
        return rc;
    if (link(path, old) != 0)
        return evs__seterr_errno(errno, "key file %s: cannot link it as %s", path, old);
    rc = write_renamed(dir, tmp, path, img, len);
    if (rc < 0) {
        /* The old file is still `keys`: only the extra name goes. */
        evs__sys.unlink(old);
        return rc;
    }
    return scrub(dir, old);
}
