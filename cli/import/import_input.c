/*
 * import_input.c - one input file of `evstore import`, split into lines. The bytes come
 * from import_source.c, decompressed whatever the file's name says.
 */
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_LEN ((size_t)1 << 20)

int im_input_open(im_input *in, const char *path, char *why, size_t why_len)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char sys[256];
        if (strerror_r(errno, sys, sizeof sys) != 0)
            sys[0] = '\0';
        (void)snprintf(why, why_len, "cannot open: %s", sys);
        return -1;
    }
    char cause[256];
    if (im_source_open(&in->src, fd, cause, sizeof cause) < 0) {
        im_source_close(&in->src);
        (void)snprintf(why, why_len, "cannot read: %s", cause);
        return -1;
    }
    return 0;
}

void im_input_close(im_input *in)
{
    im_source_close(&in->src);
    evs__buf_free(&in->buf);
}

/* Read more; 0, or -1 with *why. */
static int fill(im_input *in, char *why, size_t why_len)
{
    /* Drop the lines handed out before reading on. */
    if (in->scan > 0) {
        memmove(in->buf.ptr, in->buf.ptr + in->scan, in->buf.len - in->scan);
        in->buf.len -= in->scan;
        in->scan = 0;
    }
    if (evs__buf_reserve(&in->buf, READ_LEN) < 0) {
        (void)snprintf(why, why_len, "out of memory");
        return -1;
    }
    ssize_t n = im_source_read(&in->src, in->buf.ptr + in->buf.len, READ_LEN, why, why_len);
    if (n < 0)
        return -1;
    in->eof = n == 0;
    in->buf.len += (size_t)n;
    return 0;
}

int im_input_next(im_input *in, const char **line, size_t *len, char *why, size_t why_len)
{
    size_t searched = in->scan;
    for (;;) {
        char *start = in->buf.ptr + in->scan;
        size_t avail = in->buf.len - in->scan;
        char *nl = avail > 0 ? memchr(in->buf.ptr + searched, '\n', in->buf.len - searched) : NULL;
        if (nl != NULL || (in->eof && avail > 0)) {
            *line = start;
            *len = nl != NULL ? (size_t)(nl - start) : avail;
            in->scan += *len + (nl != NULL ? 1 : 0);
            if (in->line_no++ == 0) {
                size_t bom = ap_bom_len(*line, *len);
                *line += bom;
                *len -= bom;
            }
            return 1;
        }
        if (in->eof)
            return 0;
        if (avail > AP_MAX_LINE_LEN) {
            (void)snprintf(why, why_len, "line %llu is %s", (unsigned long long)in->line_no + 1,
                           AP_TOO_LONG_MSG);
            return -1;
        }
        size_t done = avail;
        if (fill(in, why, why_len) < 0)
            return -1;
        searched = in->scan + done;
    }
}

char *im_path_join(const char *dir, const char *name)
{
    size_t n = (dir != NULL ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *path = malloc(n);
    if (path != NULL)
        (void)snprintf(path, n, "%s%s%s", dir != NULL ? dir : "", dir != NULL ? "/" : "", name);
    return path;
}
