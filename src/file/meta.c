/*
 * meta.c - evstore.meta, the file that makes a directory a store: it holds the format
 * version and the store's id. It is written once, at creation, by temp file + fsync +
 * rename + directory fsync, so a crash leaves either no store or a whole one.
 */
#include "meta.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t len = strlen(dir);
    if (len >= sizeof tmp)
        return evs__seterr(EVS_EINVAL, "directory path is too long (%zu bytes)", len);
    memcpy(tmp, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (evs__sys.mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return evs__seterr_errno(errno, "cannot create directory '%s'", tmp);
        tmp[i] = c;
    }
    return 0;
}

/* A directory may become a store only when it holds nothing but what a concurrent
 * creator may have left: never turn a user's directory of other files into a store. */
static int check_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return evs__seterr_errno(errno, "cannot read directory '%s'", dir);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "LOCK") ||
            !strcmp(n, META_FILE ".tmp"))
            continue;
        rc = evs__seterr(EVS_EFORMAT,
                         "'%s' is not an evstore store (no %s) and is not empty (it holds "
                         "'%s'); refusing to create a store there",
                         dir, META_FILE, n);
        break;
    }
    closedir(d);
    return rc;
}

static int meta_check(file_backend *fb, const unsigned char *m, const char *path)
{
    if (memcmp(m + META_OFF_MAGIC, META_MAGIC, 8) != 0)
        return evs__seterr(EVS_EFORMAT, "%s: not an evstore store (bad magic)", path);
    if (evs__get_u32(m + META_OFF_CRC) != evs__crc32c(0, m, META_OFF_CRC))
        return evs__seterr(EVS_ECORRUPT, "%s: checksum mismatch in the store's meta file", path);
    uint32_t fmt = evs__get_u32(m + META_OFF_FMT);
    if (fmt > EVS_FORMAT_VERSION)
        return evs__seterr(EVS_EFORMAT,
                           "%s: store format version %u is newer than this evstore supports "
                           "(%u); upgrade evstore",
                           path, fmt, EVS_FORMAT_VERSION);
    if (fmt == 0)
        return evs__seterr(EVS_EFORMAT, "%s: format version 0 is not valid", path);
    memcpy(fb->store_id, m + META_OFF_ID, 16);
    uint64_t segsz = evs__get_u64(m + META_OFF_SEGSZ);
    fb->store_segment_size = segsz >= (64u << 10) && segsz <= (1u << 30) ? segsz : 64u << 20;
    if (fb->opts.segment_size == 0)
        fb->opts.segment_size = fb->store_segment_size;
    return 0;
}

static int meta_read(file_backend *fb, const char *path, bool *exists)
{
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0) {
        if (errno == ENOENT) {
            *exists = false;
            return 0;
        }
        if (errno == ENOTDIR)
            return evs__seterr(EVS_ENOTFOUND,
                               "no evstore store at '%s' (it is not a directory)",
                               fb->dir);
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    }
    *exists = true;
    unsigned char m[META_LEN];
    int r = evs__pread_all(fd, m, META_LEN, 0);
    int saved = errno;
    evs__sys.close(fd);
    if (r < 0)
        return evs__seterr_errno(saved, "cannot read '%s'", path);
    if (r > 0)
        return evs__seterr(EVS_EFORMAT, "%s: too short to be an evstore meta file", path);
    return meta_check(fb, m, path);
}

static int meta_write(file_backend *fb, const char *path)
{
    char tmp[STORE_PATH_MAX];
    int rc = evs__path(fb, META_FILE ".tmp", tmp, sizeof tmp);
    if (rc < 0)
        return rc;
    unsigned char m[META_LEN];
    memset(m, 0, sizeof m);
    memcpy(m + META_OFF_MAGIC, META_MAGIC, 8);
    evs__put_u32(m + META_OFF_FMT, EVS_FORMAT_VERSION);
    rc = evs__uuid_v4(fb->store_id);
    if (rc < 0)
        return rc;
    memcpy(m + META_OFF_ID, fb->store_id, 16);
    evs__put_u64(m + META_OFF_CTIME, (uint64_t)evs__now_ns());
    if (fb->opts.segment_size == 0)
        fb->opts.segment_size = 64u << 20;
    fb->store_segment_size = fb->opts.segment_size;
    evs__put_u64(m + META_OFF_SEGSZ, fb->opts.segment_size);
    evs__put_u32(m + META_OFF_CRC, evs__crc32c(0, m, META_OFF_CRC));

    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot create '%s'", tmp);
    if (evs__pwrite_all(fd, m, META_LEN, 0) < 0 || evs__sys.fsync(fd) < 0) {
        int saved = errno;
        evs__sys.close(fd);
        evs__sys.unlink(tmp);
        return evs__seterr_errno(saved, "cannot write '%s'", tmp);
    }
    evs__sys.close(fd);
    if (evs__sys.rename(tmp, path) < 0)
        return evs__seterr_errno(errno, "cannot rename '%s' to '%s'", tmp, path);
    if (evs__dirsync(fb->dir) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", fb->dir);
    return 0;
}

int evs__meta_open_or_create(file_backend *fb, bool may_create, bool exclusive)
{
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, META_FILE, path, sizeof path);
    if (rc < 0)
        return rc;
    bool exists = false;
    rc = meta_read(fb, path, &exists);
    if (rc < 0)
        return rc;
    if (exists)
        return exclusive ? evs__seterr(EVS_EEXIST, "a store already exists at '%s'", fb->dir)
                         : 0;
    if (!may_create)
        return evs__seterr(EVS_ENOTFOUND, "no evstore store at '%s' (%s is missing)", fb->dir,
                           META_FILE);

    rc = mkdir_p(fb->dir);
    if (rc == 0)
        rc = check_empty(fb->dir); /* before the LOCK file, so a refusal changes nothing */
    if (rc == EVS_EFORMAT) {
        /* Or another process created the store meanwhile: its files are what we saw. */
        int rc2 = meta_read(fb, path, &exists);
        if (rc2 < 0)
            return rc2;
        if (exists)
            return exclusive ? evs__seterr(EVS_EEXIST, "a store already exists at '%s'", fb->dir)
                             : (evs__clearerr(), 0);
    }
    if (rc < 0)
        return rc;
    /* Creators serialise on the LOCK file so that two processes creating the same store
     * at once end with one store id, not two. */
    char lpath[STORE_PATH_MAX];
    rc = evs__path(fb, "LOCK", lpath, sizeof lpath);
    if (rc < 0)
        return rc;
    int lfd = evs__sys.open(lpath, O_RDWR | O_CREAT, 0644);
    if (lfd < 0)
        return evs__seterr_errno(errno, "cannot create '%s'", lpath);
    while (evs__sys.flock(lfd, LOCK_EX) < 0 && errno == EINTR)
        ;
    rc = meta_read(fb, path, &exists);
    if (rc == 0 && !exists) {
        rc = check_empty(fb->dir);
        if (rc == 0)
            rc = meta_write(fb, path);
    } else if (rc == 0 && exclusive) {
        rc = evs__seterr(EVS_EEXIST, "a store already exists at '%s'", fb->dir);
    }
    evs__sys.flock(lfd, LOCK_UN);
    evs__sys.close(lfd);
    return rc;
}
