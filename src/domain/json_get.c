/*
 * json_get.c - reading one member of a command's payload or an event's data: the
 * small JSON access handlers and apply functions need, on evstore's own validator and
 * object walker (no document is built).
 */
#include "domain_internal.h"

#include <errno.h>
#include <stdlib.h>

typedef struct find_ctx {
    const char *key;
    size_t key_len;
    const evs__json_member *found; /* copied out below: the walker's member is its own */
    evs__json_member member;
} find_ctx;

static int match_member(void *ctx, const evs__json_member *m)
{
    find_ctx *f = ctx;
    if (m->key_has_escape) {
        char tmp[512];
        size_t n;
        if (m->key_len > sizeof tmp || evs__json_unescape(m->key, m->key_len, tmp, &n, NULL) < 0)
            return 0;
        if (n != f->key_len || memcmp(tmp, f->key, n) != 0)
            return 0;
    } else if (m->key_len != f->key_len || memcmp(m->key, f->key, m->key_len) != 0) {
        return 0;
    }
    f->member = *m;
    f->found = &f->member;
    return 1; /* stop: the first member of that name counts */
}

/* 1 with *m, 0 when absent, EVS_EINVAL when json is not an object. */
static int find(evs__json_member *m, const char *json, size_t len, const char *key)
{
    evs__json_error err;
    if (!json || !key)
        return evs__seterr(EVS_EINVAL, "reading JSON member: %s is NULL", json ? "key" : "json");
    if (!evs__json_validate(json, len, EVS_MAX_JSON_DEPTH, &err))
        return evs__seterr(EVS_EINVAL, "reading member '%s': not valid JSON at byte %zu: %s", key,
                           err.offset, err.reason);
    find_ctx f = {key, strlen(key), NULL, {0}};
    int rc = evs__json_object_walk(json, len, EVS_MAX_JSON_DEPTH, match_member, &f, &err);
    if (rc < 0)
        return evs__seterr(EVS_EINVAL, "reading member '%s': the JSON is not an object", key);
    if (!f.found)
        return 0;
    *m = f.member;
    return 1;
}

int evs__json_get(const char **value, size_t *value_len, const char *json, size_t len,
                  const char *key)
{
    evs__json_member m = {0};
    int rc = find(&m, json, len, key);
    if (rc == 1) {
        *value = m.value;
        *value_len = m.value_len;
    }
    return rc;
}

int evs__json_get_string(char *buf, size_t cap, const char *json, size_t len, const char *key)
{
    evs__json_member m;
    int rc = find(&m, json, len, key);
    if (rc != 1)
        return rc;
    if (m.kind != EVS__JSON_STRING)
        return evs__seterr(EVS_EINVAL, "member '%s' is not a string", key);
    size_t raw = m.value_len - 2, n;
    char small[256];
    char *tmp = raw <= sizeof small ? small : evs__alloc(raw);
    if (!tmp)
        return evs__seterr(EVS_ENOMEM, "out of memory reading member '%s'", key);
    rc = evs__json_unescape(m.value + 1, raw, tmp, &n, NULL) < 0 ? EVS_EINVAL : 1;
    if (rc == 1 && n + 1 > cap)
        rc = evs__seterr(EVS_EINVAL, "member '%s' is %zu bytes, longer than %zu", key, n,
                         cap ? cap - 1 : 0);
    else if (rc == 1) {
        memcpy(buf, tmp, n);
        buf[n] = '\0';
    } else {
        evs__seterr(EVS_EINVAL, "member '%s' has a bad escape", key);
    }
    if (tmp != small)
        evs__free(tmp);
    return rc;
}

/* The number's text as a C string in buf, or EVS_EINVAL. */
static int number_text(char *buf, size_t cap, const char *json, size_t len, const char *key)
{
    evs__json_member m;
    int rc = find(&m, json, len, key);
    if (rc != 1)
        return rc;
    if (m.kind != EVS__JSON_NUMBER)
        return evs__seterr(EVS_EINVAL, "member '%s' is not a number", key);
    if (m.value_len >= cap)
        return evs__seterr(EVS_EINVAL, "member '%s': a number of %zu characters", key, m.value_len);
    memcpy(buf, m.value, m.value_len);
    buf[m.value_len] = '\0';
    return 1;
}

int evs__json_get_number(double *out, const char *json, size_t len, const char *key)
{
    char text[128];
    int rc = number_text(text, sizeof text, json, len, key);
    if (rc != 1)
        return rc;
    errno = 0;
    double v = strtod(text, NULL);
    if (errno == ERANGE && (v > 1 || v < -1))
        return evs__seterr(EVS_EINVAL, "member '%s': %s is out of range", key, text);
    *out = v;
    return 1;
}

int evs__json_get_int64(int64_t *out, const char *json, size_t len, const char *key)
{
    char text[128];
    int rc = number_text(text, sizeof text, json, len, key);
    if (rc != 1)
        return rc;
    if (strpbrk(text, ".eE"))
        return evs__seterr(EVS_EINVAL, "member '%s': %s is not an integer", key, text);
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        return evs__seterr(EVS_EINVAL, "member '%s': %s is out of range", key, text);
    *out = (int64_t)v;
    return 1;
}

/* The public names clear the thread's error when they succeed, as every call does. */
static int public_result(int rc)
{
    if (rc >= 0)
        evs__clearerr();
    return rc;
}

int evs_json_get(const char **value, size_t *value_len, const char *json, size_t len,
                 const char *key)
{
    return public_result(evs__json_get(value, value_len, json, len, key));
}

int evs_json_get_string(char *buf, size_t cap, const char *json, size_t len, const char *key)
{
    return public_result(evs__json_get_string(buf, cap, json, len, key));
}

int evs_json_get_number(double *out, const char *json, size_t len, const char *key)
{
    return public_result(evs__json_get_number(out, json, len, key));
}

int evs_json_get_int64(int64_t *out, const char *json, size_t len, const char *key)
{
    return public_result(evs__json_get_int64(out, json, len, key));
}
