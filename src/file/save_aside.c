/*
 * save_aside.c - keeping the log's bytes that are about to be cut: a folder
 * DIR/repair-<UTC time>/ that receives them unchanged, synced, before anything is cut.
 * Repair uses it for everything it cuts or overwrites with fillers (--keep-intact);
 * recovery for a cut that would drop committed
 * records (damage before them, past the synced end), so no cut ever loses a committed
 * record's bytes.
 */
#define _GNU_SOURCE
#include "save_aside.h"
#include "evstore.h"
#include "file_backend.h"
#include "path.h"
#include "segment.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COPY_CHUNK (1u << 20)

/* DIR/repair-YYYYMMDDTHHMMSSZ (-2, -3 ... when one of that second exists) into dir:
 * made when `make`, else only named (the first such name that is free). */
static int aside_dir(file_backend *fb, bool make, char *dir, size_t dir_len)
{
    time_t now = (time_t)(evs__now_ns() / 1000000000);
    struct tm tm;
    char stamp[32];
    if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0)
        snprintf(stamp, sizeof stamp, "%lld", (long long)now);
    for (int i = 1; i < 100; i++) {
        char suffix[8] = "";
        if (i > 1)
            snprintf(suffix, sizeof suffix, "-%d", i);
        int n = snprintf(dir, dir_len, "%s/repair-%s%s", fb->dir, stamp, suffix);
        if (n < 0 || (size_t)n >= dir_len)
            return evs__seterr(EVS_EINVAL, "path of the repair folder in '%s' is too long",
                               fb->dir);
        struct stat st;
        if (make ? evs__sys.mkdir(dir, 0755) == 0 : stat(dir, &st) < 0 && errno == ENOENT)
            return 0;
        if (errno != EEXIST && make)
            return evs__seterr_errno(errno, "cannot create '%s'", dir);
    }
    return evs__seterr(EVS_EEXIST, "too many repair folders named repair-%s in '%s'", stamp,
                       fb->dir);
}

int evs__aside_make_dir(file_backend *fb, char *dir, size_t dir_len)
{
    return aside_dir(fb, true, dir, dir_len);
}

int evs__aside_dir_name(file_backend *fb, char *dir, size_t dir_len)
{
    return aside_dir(fb, false, dir, dir_len);
}

int evs__aside_path(const char *dir, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len)
        return evs__seterr(EVS_EINVAL, "path '%s/%s' is too long", dir, name);
    return 0;
}

/* Copy bytes [from, size) of s into dir/name, synced. */
static int copy_range(const char *dir, seg *s, uint64_t from, uint64_t size, const char *name)
{
    char path[STORE_PATH_MAX];
    int rc = evs__aside_path(dir, name, path, sizeof path);
    if (rc < 0)
        return rc;
    unsigned char *buf = evs__alloc(COPY_CHUNK);
    if (!buf)
        return evs__seterr(EVS_ENOMEM, "out of memory saving the log's bytes aside");
    int fd = evs__sys.open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        evs__free(buf);
        return evs__seterr_errno(errno, "cannot create '%s'", path);
    }
    for (uint64_t at = from; at < size && rc == 0; at += COPY_CHUNK) {
        size_t n = size - at < COPY_CHUNK ? (size_t)(size - at) : COPY_CHUNK;
        int64_t got = evs__seg_pread(s, buf, n, at); /* plain bytes, also when compressed */
        if (got < 0)
            rc = (int)got;
        else if ((size_t)got < n)
            rc = evs__seterr(EVS_EIO, "segment %s shrank while it was saved", s->name);
        else if (evs__pwrite_all(fd, buf, n, (off_t)(at - from)) < 0)
            rc = evs__seterr_errno(errno, "cannot write '%s'", path);
    }
    if (rc == 0 && evs__datasync(fd) < 0)
        rc = evs__seterr_errno(errno, "cannot sync '%s'", path);
    evs__sys.close(fd);
    evs__free(buf);
    if (rc < 0)
        evs__sys.unlink(path);
    return rc;
}

int evs__aside_copy(const char *dir, seg *s, uint64_t from, uint64_t size, char *name_out,
                    size_t name_len)
{
    if (from == 0)
        snprintf(name_out, name_len, "%s", s->name);
    else
        snprintf(name_out, name_len, "%s.from-%" PRIu64, s->name, from);
    return copy_range(dir, s, from, size, name_out);
}

int evs__aside_copy_part(const char *dir, seg *s, uint64_t from, uint64_t to, char *name_out,
                         size_t name_len)
{
    snprintf(name_out, name_len, "%s.bytes-%" PRIu64 "-%" PRIu64, s->name, from, to);
    return copy_range(dir, s, from, to, name_out);
}

int evs__aside_note(const char *dir, const char *text, size_t len)
{
    char path[STORE_PATH_MAX];
    int rc = evs__aside_path(dir, "REPAIR.txt", path, sizeof path);
    int fd = rc == 0 ? evs__sys.open(path, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
    if (rc == 0 && fd < 0)
        rc = evs__seterr_errno(errno, "cannot create '%s'", path);
    if (rc == 0 && (evs__pwrite_all(fd, text, len, 0) < 0 || evs__datasync(fd) < 0))
        rc = evs__seterr_errno(errno, "cannot write '%s'", path);
    if (fd >= 0)
        evs__sys.close(fd);
    return rc;
}
