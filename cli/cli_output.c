/*
 * cli_output.c - the buffered stdout writer and the event envelope printer.
 *
 * stdio is not used for event output: replaying millions of events through printf
 * costs more than reading them from the store. Numbers are formatted by hand, strings
 * are escaped straight into one large buffer, and the buffer goes out with write(2)
 * when full. data and metadata are copied raw: the store holds them as valid JSON.
 */
#include "cli_common.h"
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_out_init(cli_out *o, int fd, size_t cap)
{
    o->fd = fd;
    o->sink = NULL;
    o->sink_ctx = NULL;
    o->len = 0;
    o->cap = cap;
    o->err = 0;
    o->buf = malloc(cap);
    return o->buf != NULL ? 0 : -1;
}

void cli_out_free(cli_out *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = 0;
    o->cap = 0;
}

static int write_all(cli_out *o, const char *p, size_t len)
{
    if (o->sink != NULL) {
        int err = 0;
        if (len > 0 && o->sink(o->sink_ctx, p, len, &err) < 0) {
            o->err = err != 0 ? err : EIO;
            return -1;
        }
        return 0;
    }
    while (len > 0) {
        ssize_t n = write(o->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            o->err = errno;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cli_out_flush(cli_out *o)
{
    if (o->err != 0)
        return -1;
    int rc = write_all(o, o->buf, o->len);
    o->len = 0;
    return rc;
}

int cli_out_write(void *ctx, const char *p, size_t len)
{
    cli_out *o = ctx;
    if (o->err != 0)
        return -1;
    if (len <= o->cap - o->len) {
        memcpy(o->buf + o->len, p, len);
        o->len += len;
        return 0;
    }
    if (cli_out_flush(o) < 0)
        return -1;
    /* A value larger than the buffer (a big data payload) goes out directly rather
     * than through a second copy. */
    if (len > o->cap)
        return write_all(o, p, len);
    memcpy(o->buf, p, len);
    o->len = len;
    return 0;
}

int cli_out_str(cli_out *o, const char *s)
{
    return cli_out_write(o, s, strlen(s));
}

int cli_out_i64(cli_out *o, int64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof tmp;
    char *p = end;
    /* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return cli_out_write(o, p, (size_t)(end - p));
}

int cli_out_json_str(cli_out *o, const char *s, size_t len)
{
    if (cli_out_write(o, "\"", 1) < 0)
        return -1;
    /* Fast path: most names need no escaping at all. */
    size_t i = 0;
    while (i < len && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
        i++;
    if (i == len) {
        if (cli_out_write(o, s, len) < 0)
            return -1;
    } else if (evs__json_escape(s, len, cli_out_write, o) != 0 || o->err != 0) {
        return -1;
    }
    return cli_out_write(o, "\"", 1);
}

int cli_out_event(cli_out *o, const evs_event *ev)
{
    char id[37];
    char ts[48];
    evs_uuid_format(id, ev->id);
    size_t ts_len = evs_time_format(ts, sizeof ts, ev->ts_ns);

    (void)cli_out_write(o, "{\"pos\":", 7);
    (void)cli_out_i64(o, ev->pos);
    (void)cli_out_write(o, ",\"stream\":", 10);
    (void)cli_out_json_str(o, ev->stream, ev->stream_len);
    (void)cli_out_write(o, ",\"version\":", 11);
    (void)cli_out_i64(o, ev->version);
    (void)cli_out_write(o, ",\"id\":\"", 7);
    (void)cli_out_write(o, id, 36);
    (void)cli_out_write(o, "\",\"type\":", 9);
    (void)cli_out_json_str(o, ev->type, ev->type_len);
    (void)cli_out_write(o, ",\"ts\":\"", 7);
    (void)cli_out_write(o, ts, ts_len);
    (void)cli_out_write(o, "\",\"data\":", 9);
    (void)cli_out_write(o, ev->data, ev->data_len);
    if (ev->metadata != NULL) {
        (void)cli_out_write(o, ",\"metadata\":", 12);
        (void)cli_out_write(o, ev->metadata, ev->metadata_len);
    }
    /* Errors are sticky, so checking once at the end catches any of the writes. */
    (void)cli_out_write(o, "}\n", 2);
    return o->err != 0 ? -1 : 0;
}

int cli_out_report(const char *cmd, const cli_out *o)
{
    if (o->err == 0)
        return CLI_EXIT_OK;
    if (o->err == EPIPE)
        return CLI_EXIT_OK;
    char why[256];
    if (strerror_r(o->err, why, sizeof why) != 0)
        why[0] = '\0';
    cli_err(cmd, "writing to standard output: %s", why);
    return CLI_EXIT_ERROR;
}
