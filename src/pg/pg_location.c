/*
 * pg_location.c - a store location "postgresql://user@host:port/db?schema=NAME" taken
 * apart: libpq gets the URI without the `schema` parameter (it would refuse one it does
 * not know), the backend gets the schema's name. Messages name the store by a form
 * without the password.
 */
#include "pg_internal.h"

#include <stdio.h>
#include <string.h>

/* The schema when the location names none. */
#define DEFAULT_SCHEMA "evstore"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode [s, s+len) into a new string; NULL with the error set. */
static char *decode(const char *s, size_t len, const char *location)
{
    char *out = evs__alloc(len + 1);
    if (!out) {
        evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", location);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[n++] = s[i] == '+' ? ' ' : s[i];
            continue;
        }
        int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            evs__free(out);
            evs__seterr(EVS_EINVAL, "'%.*s' in the schema parameter is not a percent escape",
                        (int)(len - i < 3 ? len - i : 3), s + i);
            return NULL;
        }
        out[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[n] = '\0';
    return out;
}

/* Keep every parameter but `schema` in the conninfo; the schema's value in pb. */
static int split_query(pg_backend *pb, const char *location, const char *query, evs__buf *kept)
{
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 7 && memcmp(p, "schema=", 7) == 0) {
            if (pb->schema)
                return evs__seterr(EVS_EINVAL, "'%s' gives the schema parameter twice", location);
            if (!(pb->schema = decode(p + 7, len - 7, location)))
                return evs__lasterr_code();
        } else if (len == 6 && memcmp(p, "schema", 6) == 0) {
            return evs__seterr(EVS_EINVAL, "'%s': the schema parameter has no value", location);
        } else if (len) {
            bool first = kept->len == 0;
            if ((first ? 0 : evs__buf_append(kept, "&", 1)) < 0 ||
                evs__buf_append(kept, p, len) < 0)
                return evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", location);
        }
        p += len + (end ? 1 : 0);
    }
    return 0;
}

int evs__pq_check_schema_name(const char *schema)
{
    size_t len = strlen(schema);
    if (len == 0 || len > EVS_PG_MAX_SCHEMA)
        return evs__seterr(EVS_EINVAL,
                           "the schema name must be 1 to %d bytes, not %zu (the notification "
                           "channel 'evs:NAME' must fit PostgreSQL's 63-byte names)",
                           EVS_PG_MAX_SCHEMA, len);
    /* Names stay plain so that they are the same quoted or not, in SQL text, in a
     * channel name and in a message. */
    size_t bad = strspn(schema, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789_-.");
    if (bad != len)
        return evs__seterr(EVS_EINVAL,
                           "the schema name '%s' has '%c' at byte %zu: use letters, digits, "
                           "'_', '-' and '.'",
                           schema, schema[bad], bad);
    return 0;
}

/* "postgresql://user@host:port/db?schema=NAME" from what libpq parsed. */
static int make_display(pg_backend *pb, const char *location)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(pb->conninfo, &err);
    if (!opts) {
        int rc = evs__seterr(EVS_EINVAL, "'%s' is not a PostgreSQL connection URI: %s", location,
                             err ? err : "out of memory");
        PQfreemem(err);
        return rc;
    }
    const char *user = "", *host = "", *port = "", *db = "";
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val ? o->val : "";
        if (!strcmp(o->keyword, "user"))
            user = v;
        else if (!strcmp(o->keyword, "host"))
            host = v;
        else if (!strcmp(o->keyword, "port"))
            port = v;
        else if (!strcmp(o->keyword, "dbname"))
            db = v;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "postgresql://%s%s%s%s%s/%s?schema=%s", user, *user ? "@" : "", host,
             *port ? ":" : "", port, db, pb->schema);
    PQconninfoFree(opts);
    pb->display = evs__strndup(buf, strlen(buf));
    return pb->display ? 0 : evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", location);
}

int evs__pq_parse_location(pg_backend *pb, const char *location)
{
    const char *q = strchr(location, '?');
    size_t base = q ? (size_t)(q - location) : strlen(location);
    evs__buf kept = {0};
    int rc = q ? split_query(pb, location, q + 1, &kept) : 0;
    if (rc == 0 && !pb->schema && !(pb->schema = evs__strndup(DEFAULT_SCHEMA, 7)))
        rc = evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", location);
    if (rc == 0 && (rc = evs__pq_check_schema_name(pb->schema)) < 0)
        evs__prefixerr("'%s'", location);
    if (rc == 0) {
        evs__buf ci = {0};
        if (evs__buf_append(&ci, location, base) < 0 ||
            (kept.len && (evs__buf_append(&ci, "?", 1) < 0 ||
                          evs__buf_append(&ci, kept.ptr, kept.len) < 0)) ||
            evs__buf_append(&ci, "", 1) < 0)
            rc = evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", location);
        pb->conninfo = ci.ptr; /* owned: freed with the handle */
    }
    evs__buf_free(&kept);
    if (rc < 0)
        return rc;
    snprintf(pb->channel, sizeof pb->channel, "evs:%s", pb->schema);
    if ((rc = make_display(pb, location)) < 0)
        return rc;
    return evs__pq_statements(pb);
}
