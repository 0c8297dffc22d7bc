/*
 * import_input.c - one input file of `evstore import`, line by line.
 *
 * Everything goes through zlib's gzread, which decompresses gzip and passes other
 * bytes through unchanged: a .gz export and a plain one are read the same way, told
 * apart by their content rather than their name.
 */
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define READ_LEN ((size_t)1 << 20)

int im_input_open(im_input *in, const char *path)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char why[256];
        if (strerror_r(errno, why, sizeof why) != 0)
            why[0] = '\0';
        cli_err("import", "cannot open '%s': %s; nothing of it was imported", path, why);
        return -1;
    }
    in->gz = gzdopen(fd, "rb");
    if (in->gz == NULL) {
        (void)close(fd);
        cli_err("import", "out of memory opening '%s'", path);
        return -1;
    }
    (void)gzbuffer(in->gz, 256u << 10);
    return 0;
}

void im_input_close(im_input *in)
{
    if (in->gz != NULL)
        (void)gzclose_r(in->gz);
    in->gz = NULL;
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
    int n = gzread(in->gz, in->buf.ptr + in->buf.len, (unsigned)READ_LEN);
    if (n < 0) {
        int zerr;
        const char *msg = gzerror(in->gz, &zerr);
        char sys[256] = "";
        if (zerr == Z_ERRNO && strerror_r(errno, sys, sizeof sys) != 0)
            sys[0] = '\0';
        (void)snprintf(why, why_len, "%s", zerr == Z_ERRNO ? sys : msg);
        return -1;
    }
    if (n == 0) {
        /* gzread reports a truncated gzip stream as an end with an error set. */
        int zerr;
        const char *msg = gzerror(in->gz, &zerr);
        if (zerr != Z_OK) {
            (void)snprintf(why, why_len, "%s", msg);
            return -1;
        }
        in->eof = true;
    }
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
            in->line_no++;
            return 1;
        }
        if (in->eof)
            return 0;
        if (avail > AP_MAX_LINE_LEN) {
            (void)snprintf(why, why_len, "line %llu is longer than %zu bytes",
                           (unsigned long long)in->line_no + 1, AP_MAX_LINE_LEN);
            return -1;
        }
        size_t done = avail;
        if (fill(in, why, why_len) < 0)
            return -1;
        searched = in->scan + done;
    }
}

int im_each_line(im_ctx *ic, const char *path, size_t slack, im_line_fn fn, void *arg)
{
    im_input in;
    if (im_input_open(&in, path) < 0)
        return CLI_EXIT_ERROR;
    ic->file = path;
    int code = CLI_EXIT_OK;
    const char *line;
    size_t len;
    char why[512];
    int r;
    while (code == CLI_EXIT_OK && (r = im_input_next(&in, &line, &len, why, sizeof why)) != 0) {
        ic->line = in.line_no;
        if (r < 0) {
            ic->line = in.line_no + 1;
            code = im_read_error(ic, why);
            break;
        }
        ic->bytes_in += len + 1;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
            k++;
        if (k == len)
            continue;
        ic->scratch.len = 0;
        if (evs__buf_reserve(&ic->scratch, 2 * len + slack) < 0)
            code = im_read_error(ic, "out of memory");
        else
            code = fn(ic, line, len, in.line_no, arg);
    }
    im_input_close(&in);
    return code;
}
