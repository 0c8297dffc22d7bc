/*
 * export_sink.c - the output of `evstore export`: standard output or a file, plain,
 * gzip or zstd.
 *
 * A file is written whole or not at all: into a temporary file beside it, synced, then
 * renamed over the target and the directory synced, so a crash or an error never
 * leaves a half-written export where a complete one is expected (and an older export
 * of the same name stays until the new one is complete).
 *
 * zstd frames carry a checksum of their content, so `import` notices a damaged file
 * instead of importing damaged events.
 */
/* O_TMPFILE and linkat's AT_SYMLINK_FOLLOW are Linux's. */
#define _GNU_SOURCE
#include "export_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* zstd's default level: several hundred MB/s, about gzip -6's ratio on NDJSON. */
#define ZSTD_LEVEL 3

static void report_errno(const char *what, const char *path, int err)
{
    char why[256];
    if (strerror_r(err, why, sizeof why) != 0)
        why[0] = '\0';
    cli_err("export", "%s '%s': %s", what, path, why);
}

static int write_fd(int fd, const char *p, size_t len, int *err)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = errno;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int gz_sink(void *ctx, const char *p, size_t len, int *err)
{
    ex_sink *s = ctx;
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? 1u << 30 : (unsigned)len;
        errno = 0;
        int n = gzwrite(s->gz, p, chunk);
        if (n <= 0) {
            *err = errno != 0 ? errno : EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Feed p[0..len) to zstd (mode ZSTD_e_end: and close the frame), writing what comes out.
 * 0, or -1 with *err (EIO for a compressor error, which only memory can cause). */
static int zstd_feed(ex_sink *s, const char *p, size_t len, ZSTD_EndDirective mode, int *err)
{
    ZSTD_inBuffer in = {p, len, 0};
    size_t left;
    do {
        ZSTD_outBuffer out = {s->zbuf, s->zbuf_cap, 0};
        left = ZSTD_compressStream2(s->zc, &out, &in, mode);
        if (ZSTD_isError(left)) {
            *err = EIO;
            return -1;
        }
        if (write_fd(s->fd, s->zbuf, out.pos, err) < 0)
            return -1;
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
    return 0;
}

static int zstd_sink(void *ctx, const char *p, size_t len, int *err)
{
    return zstd_feed(ctx, p, len, ZSTD_e_continue, err);
}

/* The directory part of `path` ("." when it has none), in a new string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (dir != NULL) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* Create the temporary file beside `path`, with the permissions a plain creat() would
 * have given. Where the file system can, it has no name until the export is complete
 * (O_TMPFILE), so a process killed mid-export leaves nothing behind; elsewhere it is a
 * named FILE.tmp.XXXXXX that an error, but not a SIGKILL, removes. */
static int open_temp(ex_sink *s, const char *path)
{
    size_t len = strlen(path) + 32;
    char *dir = dir_of(path);
    s->tmp_path = malloc(len);
    if (s->tmp_path == NULL || dir == NULL) {
        free(dir);
        cli_err("export", "out of memory");
        return -1;
    }
    s->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    free(dir);
    if (s->fd >= 0) {
        s->unnamed = true;
        (void)snprintf(s->tmp_path, len, "%s.tmp.%ld", path, (long)getpid());
        return 0;
    }
    (void)snprintf(s->tmp_path, len, "%s.tmp.XXXXXX", path);
    s->fd = mkstemp(s->tmp_path);
    if (s->fd < 0) {
        report_errno("cannot create a file beside", path, errno);
        free(s->tmp_path);
        s->tmp_path = NULL;
        return -1;
    }
    mode_t mask = umask(0);
    (void)umask(mask);
    (void)fchmod(s->fd, 0666 & ~mask);
    return 0;
}

/* Give the finished unnamed file its temporary name, for the rename over `path`. */
static int name_temp(ex_sink *s)
{
    char fd_path[64];
    (void)snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", s->fd);
    (void)unlink(s->tmp_path); /* left by an earlier process of this pid, killed here */
    if (linkat(AT_FDCWD, fd_path, AT_FDCWD, s->tmp_path, AT_SYMLINK_FOLLOW) < 0) {
        report_errno("cannot give the finished export a name:", s->tmp_path, errno);
        return -1;
    }
    s->unnamed = false;
    return 0;
}

static int start_gzip(ex_sink *s, cli_out *out)
{
    /* gzclose closes the descriptor it was given: give it a duplicate, so the file can
     * still be synced (or stdout still closed by exit) afterwards. */
    int dfd = dup(s->fd);
    s->gz = dfd >= 0 ? gzdopen(dfd, "wb6") : NULL;
    if (s->gz == NULL) {
        if (dfd >= 0)
            (void)close(dfd);
        cli_err("export", "cannot start gzip compression");
        return -1;
    }
    out->sink = gz_sink;
    out->sink_ctx = s;
    return 0;
}

static int start_zstd(ex_sink *s, cli_out *out)
{
    s->zc = ZSTD_createCCtx();
    s->zbuf_cap = ZSTD_CStreamOutSize();
    s->zbuf = malloc(s->zbuf_cap);
    if (s->zc == NULL || s->zbuf == NULL ||
        ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1))) {
        cli_err("export", "cannot start zstd compression");
        return -1;
    }
    out->sink = zstd_sink;
    out->sink_ctx = s;
    return 0;
}

int ex_sink_open(ex_sink *s, const char *path, ex_codec codec, cli_out *out)
{
    memset(s, 0, sizeof *s);
    s->fd = STDOUT_FILENO;
    s->codec = codec;
    if (path != NULL && open_temp(s, path) < 0)
        return -1;
    if (cli_out_init(out, s->fd, 1u << 20) < 0) {
        cli_err("export", "out of memory");
        return -1;
    }
    if (codec == EX_GZIP)
        return start_gzip(s, out);
    if (codec == EX_ZSTD)
        return start_zstd(s, out);
    return 0;
}

/* The compressor's last bytes. 0, or -1 (reported). */
static int end_codec(ex_sink *s, const char *path, bool ok)
{
    int rc = 0;
    if (s->gz != NULL) {
        int zrc = gzclose(s->gz);
        s->gz = NULL;
        if (ok && zrc != Z_OK) {
            report_errno("writing the end of the gzip stream to", path ? path : "stdout",
                         errno != 0 ? errno : EIO);
            rc = -1;
        }
    }
    if (s->zc != NULL) {
        int err = 0;
        if (ok && zstd_feed(s, NULL, 0, ZSTD_e_end, &err) < 0) {
            report_errno("writing the end of the zstd stream to", path ? path : "stdout", err);
            rc = -1;
        }
        (void)ZSTD_freeCCtx(s->zc);
        s->zc = NULL;
    }
    free(s->zbuf);
    s->zbuf = NULL;
    return rc;
}

int ex_sink_close(ex_sink *s, const char *path, bool ok)
{
    if (end_codec(s, path, ok) < 0)
        ok = false;
    if (s->tmp_path == NULL)
        return ok ? 0 : -1;
    if (ok && fsync(s->fd) < 0) {
        report_errno("cannot sync", s->tmp_path, errno);
        ok = false;
    }
    if (ok && s->unnamed && name_temp(s) < 0)
        ok = false;
    if (close(s->fd) < 0 && ok) {
        report_errno("cannot close", s->tmp_path, errno);
        ok = false;
    }
    if (ok && rename(s->tmp_path, path) < 0) {
        report_errno("cannot rename the finished export to", path, errno);
        ok = false;
    }
    if (!ok) {
        if (!s->unnamed) /* an unnamed file goes with its descriptor */
            (void)unlink(s->tmp_path);
    } else {
        /* The rename itself is durable only once the directory is synced. */
        char *slash = strrchr(s->tmp_path, '/');
        if (slash != NULL)
            slash[slash == s->tmp_path ? 1 : 0] = '\0';
        int dfd = open(slash != NULL ? s->tmp_path : ".", O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            (void)close(dfd);
        }
    }
    free(s->tmp_path);
    s->tmp_path = NULL;
    return ok ? 0 : -1;
}
