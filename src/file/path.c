/*
 * path.c - the names and paths of the files inside a store.
 */
#include "path.h"
#include "evstore.h"
#include "file_backend.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

int evs__path(const file_backend *fb, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", fb->dir, name);
    if (n < 0 || (size_t)n >= len)
        return evs__seterr(EVS_EINVAL, "path '%s/%s' is too long", fb->dir, name);
    return 0;
}

int evs__path_open_existing(const file_backend *fb, const char *name, char *path, int *fd)
{
    *fd = -1;
    int rc = evs__path(fb, name, path, STORE_PATH_MAX);
    if (rc < 0)
        return rc;
    *fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (*fd < 0 && errno != ENOENT)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    return 0;
}

void evs__seg_name(char *buf, size_t len, uint64_t first_pos, const char *ext)
{
    snprintf(buf, len, "%020" PRIu64 ".%s", first_pos, ext);
}

int evs__seg_path(const file_backend *fb, uint64_t first_pos, const char *ext, char *buf,
                  size_t len)
{
    char name[32];
    evs__seg_name(name, sizeof name, first_pos, ext);
    return evs__path(fb, name, buf, len);
}
