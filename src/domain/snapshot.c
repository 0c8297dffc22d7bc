/*
 * snapshot.c - snapshot records: the state of an aggregate at a version, kept as an
 * event of the reserved stream "$snapshot-<stream>" (docs/DESIGN.md says why a stream
 * and not a file), written in the same atomic append as the events that reached that
 * version, and read back newest first.
 *
 * The event's data (docs/FORMAT.md):
 *   {"stream":"calculator-c1","version":999,"state_version":1,"crc32c":123,
 *    "state":"<base64 of the encoded state>"}
 * Trusted only when every check holds: the stream is this one, the state version is the
 * type's, the checksum matches the decoded bytes, decode accepts them, and (checked by
 * the loader) the aggregate's event at `version` stands at the position just before the
 * snapshot's own, as the shared append put it. Anything else is ignored with a note.
 */
#include "domain_internal.h"

#include <inttypes.h>

int evs__snapshot_stream(char **out, const char *stream)
{
    size_t p = strlen(EVS__SNAPSHOT_PREFIX), n = strlen(stream);
    *out = evs__alloc(p + n + 1);
    if (!*out)
        return evs__seterr(EVS_ENOMEM, "out of memory naming a snapshot stream");
    memcpy(*out, EVS__SNAPSHOT_PREFIX, p);
    memcpy(*out + p, stream, n + 1);
    return 0;
}

static int write_to_buf(void *wctx, const void *bytes, size_t len)
{
    return evs__buf_append(wctx, bytes, len);
}

int evs__snapshot_encode(evs__buf *out, const evs_aggregate_type *t, const void *state,
                         const char *stream, int64_t version)
{
    evs__buf raw = EVS__BUF_INIT;
    int rc = t->encode ? t->encode(t->user, state, write_to_buf, &raw)
                       : evs__buf_append(&raw, state, t->state_size);
    char head[160];
    if (rc == 0) {
        rc = evs__buf_append(out, "{\"stream\":", 10);
        if (rc == 0)
            rc = evs__json_put_string(out, stream, strlen(stream));
        int n = snprintf(head, sizeof head,
                         ",\"version\":%" PRId64 ",\"state_version\":%" PRIu32
                         ",\"crc32c\":%" PRIu32 ",\"state\":\"",
                         version, t->state_version, evs__crc32c(0, raw.ptr, raw.len));
        if (rc == 0)
            rc = evs__buf_append(out, head, (size_t)n);
    }
    if (rc == 0)
        rc = evs__base64_encode(out, (const unsigned char *)raw.ptr, raw.len);
    if (rc == 0)
        rc = evs__buf_append(out, "\"}", 2);
    evs__buf_free(&raw);
    return rc;
}

/* Why a snapshot's data cannot be used, or "" when it can: `raw` receives the state's
 * bytes. */
static const char *check_data(evs__buf *raw, int64_t *version, const evs_aggregate_type *t,
                              const char *stream, const evs_event *ev, char *why, size_t cap)
{
    char name[EVS_MAX_STREAM_LEN + 1];
    int64_t state_version, crc;
    const char *text;
    size_t text_len;
    if (evs__json_get_string(name, sizeof name, ev->data, ev->data_len, "stream") != 1 ||
        evs__json_get_int64(version, ev->data, ev->data_len, "version") != 1 ||
        evs__json_get_int64(&state_version, ev->data, ev->data_len, "state_version") != 1 ||
        evs__json_get_int64(&crc, ev->data, ev->data_len, "crc32c") != 1 ||
        evs__json_get(&text, &text_len, ev->data, ev->data_len, "state") != 1 || text_len < 2 ||
        text[0] != '"')
        return "damaged: a field is missing or malformed";
    if (strcmp(name, stream) != 0)
        return "damaged: it names another stream";
    if (*version < 0)
        return "damaged: a negative version";
    if (state_version != (int64_t)t->state_version) {
        (void)snprintf(why, cap, "stale: state version %" PRId64 ", the type's is %" PRIu32,
                       state_version, t->state_version);
        return why;
    }
    if (evs__base64_decode(raw, text + 1, text_len - 2) < 0)
        return "damaged: the state is not base64";
    if ((int64_t)evs__crc32c(0, raw->ptr, raw->len) != crc)
        return "damaged: checksum mismatch";
    if (!t->decode && raw->len != t->state_size) {
        (void)snprintf(why, cap, "damaged: %zu bytes of state, the type has %zu", raw->len,
                       t->state_size);
        return why;
    }
    return "";
}

/* Put the snapshot's bytes into the state; "" or why not. */
static const char *decode_into(void *state, const evs_aggregate_type *t, const evs__buf *raw)
{
    if (!t->decode) {
        memcpy(state, raw->ptr, raw->len);
        return "";
    }
    if (t->decode(t->user, state, raw->ptr ? raw->ptr : "", raw->len) == 0)
        return "";
    evs__state_release(state, t);
    if (evs__state_init(state, t) < 0)
        return NULL; /* the init error stands */
    return "damaged: decode refused it";
}

int evs__snapshot_read(int64_t *version, int64_t *pos, void *state, const evs_domain *d,
                       const evs_aggregate_type *t, const char *stream)
{
    char *snap_stream;
    int rc = evs__snapshot_stream(&snap_stream, stream);
    if (rc < 0)
        return rc;
    evs_query q = EVS_QUERY_INIT;
    q.stream = snap_stream;
    q.direction = EVS_BACKWARD;
    q.limit = 1;
    evs_cursor *c;
    rc = evs_cursor_open(&c, evs__domain_store(d), &q);
    evs__free(snap_stream);
    if (rc < 0)
        return rc;
    evs_event ev;
    rc = evs_cursor_next(&ev, c);
    if (rc <= 0) {
        evs_cursor_close(c);
        return rc;
    }
    evs__buf raw = EVS__BUF_INIT;
    char why[256];
    const char *problem = check_data(&raw, version, t, stream, &ev, why, sizeof why);
    if (!*problem)
        problem = decode_into(state, t, &raw);
    int64_t snap_pos = ev.pos;
    evs_cursor_close(c);
    evs__buf_free(&raw);
    if (!problem)
        return evs__lasterr_code();
    if (*problem) {
        evs__domain_note(d,
                         "snapshot of %s at position %" PRId64 " ignored (%s); loading from "
                         "its events",
                         stream, snap_pos, problem);
        return 0;
    }
    *pos = snap_pos - 1;
    return 1;
}
