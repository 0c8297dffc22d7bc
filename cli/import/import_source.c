/*
 * import_source.c - an input of `evstore import` as decoded bytes: gzip, zstd or plain,
 * recognised by the first bytes (gzip's 1f 8b; zstd's frame magic 28 b5 2f fd or a
 * skippable frame's 5? 2a 4d 18), so that a file's name, or a pipe, changes nothing.
 *
 * Concatenated gzip members and zstd frames are read one after the other, as gzip -d
 * and zstd -d do. Everything else is an error rather than silently the end of the data:
 * a stream cut inside a member or frame (a truncated download), and bytes after the
 * last member that are not another one.
 */
#include "import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* Compressed input is read ahead in blocks of this size. */
#define RAW_LEN ((size_t)256 << 10)

static void errno_why(int err, char *why, size_t why_len)
{
    char sys[256];
    if (strerror_r(err, sys, sizeof sys) != 0)
        sys[0] = '\0';
    (void)snprintf(why, why_len, "%s", sys);
}

/* Read once into dst; returns the count (0 at the end) or -1 with *why. */
static ssize_t read_fd(im_source *s, void *dst, size_t len, char *why, size_t why_len)
{
    ssize_t n;
    do {
        n = read(s->fd, dst, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        errno_why(errno, why, why_len);
        return -1;
    }
    s->raw_read += (uint64_t)n;
    return n;
}

/* Top up the read-ahead once the decoder has taken all of it. 0, or -1 with *why. */
static int refill(im_source *s, char *why, size_t why_len)
{
    if (s->raw_off < s->raw_len || s->raw_eof)
        return 0;
    ssize_t n = read_fd(s, s->raw, s->raw_cap, why, why_len);
    if (n < 0)
        return -1;
    s->raw_off = 0;
    s->raw_len = (size_t)n;
    s->raw_eof = n == 0;
    return 0;
}

static im_codec sniff(const unsigned char *p, size_t len)
{
    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return IM_GZIP;
    if (len >= 4 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd && p[0] == 0x28)
        return IM_ZSTD;
    if (len >= 4 && (p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18)
        return IM_ZSTD;
    return IM_PLAIN;
}

int im_source_open(im_source *s, int fd, char *why, size_t why_len)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->raw_cap = RAW_LEN;
    s->raw = malloc(s->raw_cap);
    if (s->raw == NULL) {
        (void)snprintf(why, why_len, "out of memory");
        return -1;
    }
    /* A pipe may hand over fewer bytes than a magic number per read. */
    while (s->raw_len < 4 && !s->raw_eof) {
        ssize_t n = read_fd(s, s->raw + s->raw_len, s->raw_cap - s->raw_len, why, why_len);
        if (n < 0)
            return -1;
        s->raw_len += (size_t)n;
        s->raw_eof = n == 0;
    }
    s->codec = sniff(s->raw, s->raw_len);
    if (s->codec == IM_GZIP) {
        z_stream *z = calloc(1, sizeof *z);
        /* 16 + 15: a gzip wrapper and the largest window. */
        if (z == NULL || inflateInit2(z, 16 + 15) != Z_OK) {
            free(z);
            (void)snprintf(why, why_len, "out of memory");
            return -1;
        }
        s->dec = z;
    } else if (s->codec == IM_ZSTD) {
        s->dec = ZSTD_createDStream();
        if (s->dec == NULL) {
            (void)snprintf(why, why_len, "out of memory");
            return -1;
        }
    }
    return 0;
}

static ssize_t read_plain(im_source *s, char *dst, size_t cap, char *why, size_t why_len)
{
    if (s->raw_off < s->raw_len) {
        size_t n = s->raw_len - s->raw_off < cap ? s->raw_len - s->raw_off : cap;
        memcpy(dst, s->raw + s->raw_off, n);
        s->raw_off += n;
        return (ssize_t)n;
    }
    if (s->raw_eof)
        return 0;
    /* Past the sniffed bytes, straight into the caller's buffer. */
    ssize_t n = read_fd(s, dst, cap, why, why_len);
    s->raw_eof = n == 0;
    return n;
}

static ssize_t read_gzip(im_source *s, char *dst, size_t cap, char *why, size_t why_len)
{
    z_stream *z = s->dec;
    for (;;) {
        if (refill(s, why, why_len) < 0)
            return -1;
        size_t avail = s->raw_len - s->raw_off;
        bool at_end = avail == 0 && s->raw_eof;
        if (at_end && !s->in_frame)
            return 0;
        /* At the end inside a member, inflate still runs once: it may hold output. */
        z->next_in = s->raw + s->raw_off;
        z->avail_in = (uInt)avail;
        z->next_out = (Bytef *)dst;
        z->avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
        int rc = inflate(z, Z_NO_FLUSH);
        s->raw_off += avail - z->avail_in;
        size_t produced = (size_t)((char *)z->next_out - dst);
        if (rc == Z_STREAM_END) {
            s->in_frame = false;
            s->members++;
            (void)inflateReset(z);
        } else if (rc == Z_OK || rc == Z_BUF_ERROR) {
            s->in_frame = true;
        } else {
            const char *msg = z->msg != NULL ? z->msg : "invalid compressed data";
            if (s->members > 0 && !s->in_frame)
                (void)snprintf(why, why_len,
                               "bytes after the end of the gzip data are not gzip (%s)", msg);
            else
                (void)snprintf(why, why_len, "gzip: %s", msg);
            return -1;
        }
        if (produced > 0)
            return (ssize_t)produced;
        if (at_end && s->in_frame) {
            (void)snprintf(why, why_len, "the gzip data is cut short (truncated file?)");
            return -1;
        }
    }
}

static ssize_t read_zstd(im_source *s, char *dst, size_t cap, char *why, size_t why_len)
{
    for (;;) {
        if (refill(s, why, why_len) < 0)
            return -1;
        ZSTD_inBuffer in = {s->raw + s->raw_off, s->raw_len - s->raw_off, 0};
        bool at_end = in.size == 0 && s->raw_eof;
        /* Between frames, no input means the end (a call would ask for a new frame). */
        if (at_end && !s->in_frame)
            return 0;
        ZSTD_outBuffer out = {dst, cap, 0};
        size_t rc = ZSTD_decompressStream(s->dec, &out, &in);
        s->raw_off += in.pos;
        if (ZSTD_isError(rc)) {
            if (s->members > 0 && !s->in_frame)
                (void)snprintf(why, why_len,
                               "bytes after the end of the zstd data are not zstd (%s)",
                               ZSTD_getErrorName(rc));
            else
                (void)snprintf(why, why_len, "zstd: %s", ZSTD_getErrorName(rc));
            return -1;
        }
        /* 0: a frame is complete and flushed; else more of it is to come. */
        if (rc == 0)
            s->members++;
        s->in_frame = rc != 0;
        if (out.pos > 0)
            return (ssize_t)out.pos;
        if (at_end && s->in_frame) {
            (void)snprintf(why, why_len, "the zstd data is cut short (truncated file?)");
            return -1;
        }
    }
}

ssize_t im_source_read(im_source *s, char *dst, size_t cap, char *why, size_t why_len)
{
    switch (s->codec) {
    case IM_GZIP:
        return read_gzip(s, dst, cap, why, why_len);
    case IM_ZSTD:
        return read_zstd(s, dst, cap, why, why_len);
    default:
        return read_plain(s, dst, cap, why, why_len);
    }
}

void im_source_close(im_source *s)
{
    if (s->codec == IM_GZIP && s->dec != NULL) {
        (void)inflateEnd(s->dec);
        free(s->dec);
    } else if (s->codec == IM_ZSTD) {
        (void)ZSTD_freeDStream(s->dec);
    }
    s->dec = NULL;
    free(s->raw);
    s->raw = NULL;
    if (s->fd >= 0)
        (void)close(s->fd);
    s->fd = -1;
}
