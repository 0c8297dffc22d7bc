/*
 * tar_writer.c - a POSIX ustar (pax's base format) writer for a backup's files.
 *
 * A backup holds only directories and regular files with short names (a segment's is
 * 24 bytes) of at most a few GiB, which the plain ustar header carries (names up to
 * 100 bytes, sizes up to 8 GiB in its octal field); anything else is refused with a
 * message rather than written in a form tar might read differently. The bytes come
 * from the files' descriptors in 1 MiB reads, so memory stays flat.
 */
#define _GNU_SOURCE
#include "tar_writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 512
#define CHUNK (1u << 20)
#define USTAR_MAX_SIZE ((uint64_t)077777777777) /* 11 octal digits */

typedef struct tar_out {
    int fd;
    char *buf; /* CHUNK bytes */
    char *why;
    size_t why_len;
} tar_out;

/* Say why in t->why: "<what>: <errno's text>", or what alone when err is 0. */
static int fail(tar_out *t, const char *what, const char *name, int err)
{
    char text[256] = "";
    if (err && strerror_r(err, text, sizeof text) != 0)
        snprintf(text, sizeof text, "error %d", err);
    snprintf(t->why, t->why_len, "%s '%s'%s%s", what, name, err ? ": " : "", text);
    return -1;
}

static int write_all(tar_out *t, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(t->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fail(t, "cannot write the archive to", "stdout", errno);
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* v as len - 1 octal digits with leading zeros, then a NUL (the caller keeps v in
 * range: sizes are checked against USTAR_MAX_SIZE). */
static void octal(char *field, size_t len, uint64_t v)
{
    field[len - 1] = '\0';
    for (size_t i = len - 1; i-- > 0; v >>= 3)
        field[i] = (char)('0' + (v & 7));
}

static int header(tar_out *t, const char *name, char type, uint64_t size, mode_t mode,
                  time_t mtime)
{
    unsigned char h[BLOCK];
    memset(h, 0, sizeof h);
    if (strlen(name) >= 100)
        return fail(t, "too long a name for a tar member:", name, 0);
    memcpy(h, name, strlen(name));
    octal((char *)h + 100, 8, mode & 07777);
    octal((char *)h + 108, 8, 0);
    octal((char *)h + 116, 8, 0);
    octal((char *)h + 124, 12, size);
    octal((char *)h + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0));
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof h; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return write_all(t, h, sizeof h);
}

static int file_member(tar_out *t, const char *path, const char *name, const struct stat *st)
{
    if ((uint64_t)st->st_size > USTAR_MAX_SIZE)
        return fail(t, "larger than a tar member can be (8 GiB):", path, 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(t, "cannot open", path, errno);
    uint64_t size = (uint64_t)st->st_size, done = 0;
    int rc = header(t, name, '0', size, st->st_mode, st->st_mtime);
    while (rc == 0 && done < size) {
        size_t want = size - done < CHUNK ? (size_t)(size - done) : CHUNK;
        ssize_t n = pread(fd, t->buf, want, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = fail(t, "cannot read", path, n < 0 ? errno : EIO);
        else if ((rc = write_all(t, t->buf, (size_t)n)) == 0)
            done += (uint64_t)n;
    }
    close(fd);
    static const char zeros[BLOCK];
    if (rc == 0 && size % BLOCK)
        rc = write_all(t, zeros, BLOCK - size % BLOCK);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The members of dir, named prefix/..., in name order (a stable archive). */
static int dir_members(tar_out *t, const char *dir, const char *prefix, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return fail(t, "cannot read directory", dir, errno);
    size_t n = 0, cap = 0;
    char **names = NULL;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = fail(t, "out of memory listing", dir, 0);
                break;
            }
            names = nn;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            rc = fail(t, "out of memory listing", dir, 0);
        else
            n++;
    }
    closedir(d);
    if (rc == 0)
        qsort(names, n, sizeof *names, cmp_names);
    char path[8192], name[8192];
    for (size_t i = 0; rc == 0 && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(name, sizeof name, "%s/%s", prefix, names[i]);
        struct stat st;
        if (lstat(path, &st) < 0)
            rc = fail(t, "cannot stat", path, errno);
        else if (S_ISREG(st.st_mode))
            rc = file_member(t, path, name, &st);
        else if (S_ISDIR(st.st_mode) && depth > 0) {
            size_t len = strlen(name);
            if (len + 1 < sizeof name)
                memcpy(name + len, "/", 2);
            rc = header(t, name, '5', 0, st.st_mode, st.st_mtime);
            name[len] = '\0';
            if (rc == 0)
                rc = dir_members(t, path, name, depth - 1);
        } else {
            rc = fail(t, "neither a file nor a folder a backup holds:", path, 0);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int tar_write_dir(int fd, const char *dir, const char *top, char *why, size_t why_len)
{
    tar_out t = {fd, malloc(CHUNK), why, why_len};
    if (!t.buf)
        return fail(&t, "out of memory writing", "the archive", 0);
    struct stat st;
    char name[256];
    snprintf(name, sizeof name, "%s/", top);
    int rc = stat(dir, &st) < 0 ? fail(&t, "cannot stat", dir, errno)
                                : header(&t, name, '5', 0, st.st_mode, st.st_mtime);
    if (rc == 0)
        rc = dir_members(&t, dir, top, 1);
    static const char end[2 * BLOCK];
    if (rc == 0)
        rc = write_all(&t, end, sizeof end);
    free(t.buf);
    return rc;
}
