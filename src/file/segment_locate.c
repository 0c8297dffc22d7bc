/*
 * segment_locate.c - the archive tier's half of finding a segment: the `archive` file
 * (where the archive is, and the policy), and opening or listing a segment wherever it
 * is. Moving segments there is archive.c's.
 *
 * The file is read when a segment is not where it was looked for, not kept in the
 * handle: another process may set the archive up, or move segments, while this handle
 * is open. It is two lines: a header, then the directory:
 *   evstore-archive 1 older_than_ns=N keep_bytes=N len=N crc32c=XXXXXXXX
 *   /mnt/cold/orders
 * with len the directory's bytes and the CRC32C over the header before " crc32c=" and
 * the directory (docs/FORMAT.md).
 */
#define _GNU_SOURCE
#include "segment_locate.h"
#include "evstore.h"
#include "file_backend.h"
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
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int conf_header(char *buf, size_t len, const archive_conf *c, size_t dir_len)
{
    return snprintf(buf, len, ARCHIVE_MAGIC " 1 older_than_ns=%" PRId64 " keep_bytes=%" PRId64
                              " len=%zu",
                    c->older_than_ns, c->keep_bytes, dir_len);
}

int evs__archive_conf_read(const file_backend *fb, archive_conf *conf)
{
    memset(conf, 0, sizeof *conf);
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, ARCHIVE_FILE, path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "cannot open '%s'", path);
    char buf[4096 + 256];
    ssize_t n = evs__sys.pread(fd, buf, sizeof buf - 1, 0);
    evs__sys.close(fd);
    if (n < 0)
        return evs__seterr_errno(errno, "cannot read '%s'", path);
    buf[n] = '\0';
    long long older = 0, keep = 0;
    size_t dir_len = 0;
    unsigned crc = 0;
    int used = 0;
    char head[200];
    bool ok = sscanf(buf, ARCHIVE_MAGIC " 1 older_than_ns=%lld keep_bytes=%lld len=%zu crc32c=%8x\n%n",
                     &older, &keep, &dir_len, &crc, &used) == 4 &&
              used > 0 && dir_len > 0 && dir_len < sizeof conf->dir &&
              (size_t)n == (size_t)used + dir_len + 1 && buf[n - 1] == '\n' && older >= 0 &&
              keep >= 0;
    if (ok) {
        conf->older_than_ns = older;
        conf->keep_bytes = keep;
        int h = conf_header(head, sizeof head, conf, dir_len);
        ok = strncmp(buf, head, (size_t)h) == 0 &&
             evs__crc32c(evs__crc32c(0, head, (size_t)h), buf + used, dir_len) == crc &&
             memchr(buf + used, '\0', dir_len) == NULL;
    }
    if (!ok) {
        memset(conf, 0, sizeof *conf);
        return evs__seterr(EVS_ECORRUPT,
                           "'%s' is damaged (a header line with a matching checksum, then the "
                           "archive directory): rewrite it with 'evstore archive DIR --to ADIR'",
                           path);
    }
    memcpy(conf->dir, buf + used, dir_len);
    conf->dir[dir_len] = '\0';
    return 0;
}

int evs__archive_conf_write(file_backend *fb, const archive_conf *conf)
{
    char path[STORE_PATH_MAX], tmp[STORE_TMP_PATH_MAX], text[4096 + 256];
    size_t dir_len = strlen(conf->dir);
    int rc = evs__path(fb, ARCHIVE_FILE, path, sizeof path);
    if (rc == 0)
        rc = evs__path(fb, ARCHIVE_FILE ".tmp", tmp, sizeof tmp);
    if (rc < 0)
        return rc;
    int h = conf_header(text, 200, conf, dir_len);
    uint32_t crc = evs__crc32c(evs__crc32c(0, text, (size_t)h), conf->dir, dir_len);
    int n = snprintf(text + h, sizeof text - (size_t)h, " crc32c=%08x\n%s\n", crc, conf->dir);
    size_t total = (size_t)h + (size_t)n;
    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot create '%s'", tmp);
    if (evs__pwrite_all(fd, text, total, 0) < 0 || evs__datasync(fd) < 0)
        rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
    evs__sys.close(fd);
    if (rc == 0 && evs__sys.rename(tmp, path) < 0)
        rc = evs__seterr_errno(errno, "cannot rename '%s' to '%s'", tmp, path);
    if (rc == 0 && evs__dirsync(fb->dir) < 0)
        rc = evs__seterr_errno(errno, "cannot sync directory '%s'", fb->dir);
    return rc;
}

/* The archive's path of segment `name`; *none when the store has no archive. */
static int archived_path(const file_backend *fb, const char *name, char *path, size_t len,
                         bool *none)
{
    archive_conf c;
    int rc = evs__archive_conf_read(fb, &c);
    *none = rc == 0 && !c.dir[0];
    if (rc < 0 || *none)
        return rc;
    return evs__join_path(path, len, c.dir, name);
}

int evs__seg_locate(const file_backend *fb, const char *name, char *path, size_t len)
{
    int rc = evs__path(fb, name, path, len);
    if (rc < 0 || access(path, F_OK) == 0 || errno != ENOENT)
        return rc;
    char there[STORE_TMP_PATH_MAX];
    bool none;
    rc = archived_path(fb, name, there, sizeof there, &none);
    if (rc < 0 || none || access(there, F_OK) != 0)
        return rc; /* the store's path: its open names the missing file */
    if (strlen(there) >= len)
        return evs__seterr(EVS_EINVAL, "path '%s' is too long", there);
    memcpy(path, there, strlen(there) + 1);
    return 0;
}

int evs__seg_open_located(const file_backend *fb, const char *name)
{
    char path[STORE_TMP_PATH_MAX];
    int rc = evs__path(fb, name, path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd >= 0 || errno != ENOENT)
        return fd >= 0 ? fd : evs__seterr_errno(errno, "cannot open segment '%s'", path);
    /* Not here: archived, maybe a moment ago by another process. */
    char there[STORE_TMP_PATH_MAX];
    bool none;
    rc = archived_path(fb, name, there, sizeof there, &none);
    if (rc < 0)
        return rc;
    if (none)
        return evs__seterr(EVS_ENOTFOUND, "cannot open segment '%s': it is missing", path);
    fd = evs__sys.open(there, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT)
        return evs__seterr(EVS_ENOTFOUND,
                           "segment %s is missing: neither '%s' nor the archive's '%s' exists",
                           name, path, there);
    return fd >= 0 ? fd : evs__seterr_errno(errno, "cannot open archived segment '%s'", there);
}

int evs__archive_list(file_backend *fb, int (*add)(file_backend *fb, uint64_t first_pos))
{
    archive_conf c;
    int rc = evs__archive_conf_read(fb, &c);
    if (rc < 0 || !c.dir[0])
        return rc;
    DIR *d = opendir(c.dir);
    if (!d)
        return evs__seterr_errno(errno, "cannot read the archive directory '%s'", c.dir);
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strlen(n) != 24 || strspn(n, "0123456789") != 20 || strcmp(n + 20, ".seg") != 0)
            continue;
        uint64_t first = 0;
        for (int i = 0; i < 20; i++)
            first = first * 10 + (uint64_t)(n[i] - '0');
        if (first > 0)
            rc = add(fb, first);
    }
    closedir(d);
    return rc;
}

bool evs__seg_in_archive(file_backend *fb, uint64_t first_pos)
{
    char name[40], there[STORE_TMP_PATH_MAX];
    bool none;
    evs__seg_name(name, sizeof name, first_pos, "seg");
    bool in = archived_path(fb, name, there, sizeof there, &none) == 0 && !none &&
              access(there, F_OK) == 0;
    evs__clearerr();
    return in;
}

bool evs__seg_is_archived(file_backend *fb, uint64_t first_pos)
{
    char name[40], here[STORE_PATH_MAX];
    evs__seg_name(name, sizeof name, first_pos, "seg");
    return evs__path(fb, name, here, sizeof here) == 0 && access(here, F_OK) != 0 &&
           errno == ENOENT && evs__seg_in_archive(fb, first_pos);
}
