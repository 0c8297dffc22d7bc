/*
 * file_copy.c - durable copies and hard links of whole files.
 *
 * A copy goes through copy_file_range first (the kernel moves the bytes, or shares the
 * blocks on a file system that can), then read and write when the kernel cannot do it
 * between these two files. The copy is synced before it is named done: a backup or an
 * archived segment must not be one that a power loss leaves empty.
 */
#define _GNU_SOURCE
#include "file_copy.h"
#include "evstore.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK (1u << 20)

/* Copy through the kernel from `done` on; stops early (leaving the rest to read/write)
 * when it cannot copy between these files. -1 with errno on a real error. */
static int kernel_copy(int from, int to, uint64_t len, uint64_t *done)
{
    while (*done < len) {
        loff_t in = (loff_t)*done, out = (loff_t)*done;
        size_t want = len - *done > (1u << 30) ? (1u << 30) : (size_t)(len - *done);
        ssize_t n = copy_file_range(from, &in, to, &out, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                      errno == EINVAL || errno == EBADF))
            return 0;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0; /* the file ends early: the read path says so */
        *done += (uint64_t)n;
    }
    return 0;
}

int evs__copy_fd(int from_fd, const char *from_name, uint64_t len, const char *to)
{
    int to_fd = evs__sys.open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (to_fd < 0)
        return evs__seterr_errno(errno, "cannot create '%s'", to);
    int rc = 0;
    uint64_t done = 0;
    unsigned char *buf = NULL;
    if (kernel_copy(from_fd, to_fd, len, &done) < 0) {
        rc = evs__seterr_errno(errno, "cannot copy '%s' to '%s'", from_name, to);
        goto out;
    }
    if (done < len && !(buf = evs__alloc(COPY_CHUNK))) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory copying '%s'", from_name);
        goto out;
    }
    while (done < len) {
        size_t n = len - done < COPY_CHUNK ? (size_t)(len - done) : COPY_CHUNK;
        int r = evs__pread_all(from_fd, buf, n, (off_t)done);
        if (r != 0) {
            rc = r < 0 ? evs__seterr_errno(errno, "cannot read '%s' at byte %" PRIu64, from_name,
                                           done)
                       : evs__seterr(EVS_EIO,
                                     "'%s' ends before byte %" PRIu64 ": it shrank while it "
                                     "was copied",
                                     from_name, len);
            goto out;
        }
        if (evs__pwrite_all(to_fd, buf, n, (off_t)done) < 0) {
            rc = evs__seterr_errno(errno, "cannot write '%s' at byte %" PRIu64, to, done);
            goto out;
        }
        done += n;
    }
    if (evs__datasync(to_fd) < 0)
        rc = evs__seterr_errno(errno, "cannot sync '%s'", to);
out:
    evs__free(buf);
    evs__sys.close(to_fd);
    if (rc < 0)
        (void)evs__sys.unlink(to); /* a part copy is nobody's data */
    return rc;
}

int evs__copy_file(const char *from, const char *to, uint64_t *bytes)
{
    int fd = evs__sys.open(from, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? evs__seterr(EVS_ENOTFOUND, "'%s' does not exist", from)
                               : evs__seterr_errno(errno, "cannot open '%s'", from);
    struct stat st;
    int rc = evs__sys.fstat(fd, &st) < 0 ? evs__seterr_errno(errno, "cannot stat '%s'", from) : 0;
    if (rc == 0)
        rc = evs__copy_fd(fd, from, (uint64_t)st.st_size, to);
    if (rc == 0)
        *bytes = (uint64_t)st.st_size;
    evs__sys.close(fd);
    return rc;
}

/* Sync a linked file's data: its source may be a segment sealed in `none` sync mode. */
static int sync_path(const char *path)
{
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    int rc = evs__sys.fsync(fd) < 0 ? evs__seterr_errno(errno, "cannot sync '%s'", path) : 0;
    evs__sys.close(fd);
    return rc;
}

int evs__link_or_copy(const char *from, const char *to, bool may_link, bool *linked,
                      uint64_t *bytes)
{
    *linked = false;
    if (may_link) {
        struct stat st;
        if (stat(from, &st) < 0)
            return errno == ENOENT ? evs__seterr(EVS_ENOTFOUND, "'%s' does not exist", from)
                                   : evs__seterr_errno(errno, "cannot stat '%s'", from);
        if (link(from, to) == 0) {
            *linked = true;
            *bytes = (uint64_t)st.st_size;
            return sync_path(to);
        }
        /* Another file system, or one without hard links: copy. */
        if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
            return evs__seterr_errno(errno, "cannot link '%s' to '%s'", from, to);
    }
    return evs__copy_file(from, to, bytes);
}

int evs__join_path(char *buf, size_t len, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
        return evs__seterr(EVS_EINVAL, "path '%s/%s' is too long", dir, name);
    return 0;
}

static int remove_level(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "cannot read directory '%s'", dir);
    int rc = 0;
    struct dirent *e;
    char path[STORE_TMP_PATH_MAX];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((rc = evs__join_path(path, sizeof path, dir, e->d_name)) < 0)
            break;
        if (evs__sys.unlink(path) == 0 || errno == ENOENT)
            continue;
        if ((errno == EISDIR || errno == EPERM) && depth > 0)
            rc = remove_level(path, depth - 1);
        else
            rc = evs__seterr_errno(errno, "cannot remove '%s'", path);
    }
    closedir(d);
    if (rc == 0 && rmdir(dir) < 0 && errno != ENOENT)
        rc = evs__seterr_errno(errno, "cannot remove directory '%s'", dir);
    return rc;
}

int evs__remove_made_dir(const char *dir)
{
    return remove_level(dir, 1);
}
