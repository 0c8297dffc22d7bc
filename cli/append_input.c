/*
 * append_input.c - standard input for `evstore append`: big blocking reads into one
 * growing buffer, lines handed out as offsets into it, and a zero-timeout poll so the
 * caller can tell "more is already there" (keep gathering) from "the producer is
 * quiet" (commit now and acknowledge).
 *
 * Lines handed out stay in the buffer until the caller says they are no longer needed
 * (their events were committed): their data is passed to the library byte for byte,
 * without a copy.
 */
#include "append.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* Bytes asked of each read(2). Pipes give at most their capacity (64 KiB) per read;
 * regular files give the whole request, so a large one saves system calls. */
#define READ_LEN ((size_t)1 << 20)

void ap_input_init(ap_input *in, int fd)
{
    in->fd = fd;
    in->buf = (evs__buf)EVS__BUF_INIT;
    in->scan = 0;
    in->searched = 0;
    in->eof = false;
    in->line_no = 0;
}

void ap_input_free(ap_input *in)
{
    evs__buf_free(&in->buf);
}

int ap_input_next(ap_input *in, size_t *off, size_t *len)
{
    size_t avail = in->buf.len - in->scan;
    if (avail == 0)
        return in->eof ? AP_EOF : AP_NEED;
    /* Remember how far we looked, so a long line arriving in many pieces is searched
     * once, not once per piece. */
    size_t from = in->searched > in->scan ? in->searched : in->scan;
    const char *nl = memchr(in->buf.ptr + from, '\n', in->buf.len - from);
    size_t line_len;
    if (nl != NULL) {
        line_len = (size_t)(nl - (in->buf.ptr + in->scan));
    } else if (in->eof) {
        line_len = avail;
    } else {
        in->searched = in->buf.len;
        return avail > AP_MAX_LINE_LEN ? AP_TOO_LONG : AP_NEED;
    }
    if (line_len > AP_MAX_LINE_LEN)
        return AP_TOO_LONG;
    *off = in->scan;
    *len = line_len;
    in->scan += line_len + (nl != NULL ? 1 : 0);
    in->searched = in->scan;
    if (in->line_no++ == 0) {
        size_t bom = ap_bom_len(in->buf.ptr + *off, *len);
        *off += bom;
        *len -= bom;
    }
    return AP_LINE;
}

bool ap_input_ready(const ap_input *in)
{
    if (in->eof)
        return true;
    struct pollfd pfd = {.fd = in->fd, .events = POLLIN, .revents = 0};
    int n;
    do {
        n = poll(&pfd, 1, 0);
    } while (n < 0 && errno == EINTR);
    /* An error here is not worth failing for: say "ready", and the read that follows
     * reports whatever is wrong with the descriptor. */
    return n != 0;
}

int ap_input_fill(ap_input *in, size_t keep_from, size_t *shift)
{
    *shift = 0;
    /* Move the kept bytes down only when the free room runs short: moving after every
     * commit would copy the unparsed rest of a big block again and again. */
    if (keep_from > 0 && in->buf.cap - in->buf.len < READ_LEN + 1) {
        size_t keep = in->buf.len - keep_from;
        memmove(in->buf.ptr, in->buf.ptr + keep_from, keep);
        in->buf.len = keep;
        in->scan -= keep_from;
        in->searched = in->searched > keep_from ? in->searched - keep_from : 0;
        *shift = keep_from;
    }
    if (evs__buf_reserve(&in->buf, READ_LEN) < 0)
        return ENOMEM;
    size_t room = in->buf.cap - in->buf.len - 1; /* evs__buf keeps one byte for a NUL */
    ssize_t n;
    do {
        n = read(in->fd, in->buf.ptr + in->buf.len, room);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno;
    if (n == 0)
        in->eof = true;
    in->buf.len += (size_t)n;
    return 0;
}
