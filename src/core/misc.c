/*
 * misc.c - version, error reporting, name checks, and the public helpers that expose
 * util and json functions (UUIDs, RFC 3339 time, JSON validation).
 */
#include "core.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

int evs_version(void)
{
    return EVS_VERSION_NUMBER;
}

const char *evs_version_string(void)
{
    return EVS_VERSION_STRING;
}

const char *evs_errstr(int code)
{
    if (code == EVS_OK)
        return "ok";
#define EVS__ERR_STR(name, value, text)                                                       \
    if (code == (value))                                                                      \
        return text;
    EVS_ERROR_MAP(EVS__ERR_STR)
#undef EVS__ERR_STR
    return "unknown error";
}

const char *evs_errname(int code)
{
    if (code == EVS_OK)
        return "EVS_OK";
#define EVS__ERR_NAME(name, value, text)                                                      \
    if (code == (value))                                                                      \
        return "EVS_" #name;
    EVS_ERROR_MAP(EVS__ERR_NAME)
#undef EVS__ERR_NAME
    return "EVS_UNKNOWN";
}

const char *evs_errmsg(void)
{
    return evs__lasterr_msg();
}

int evs_errcode(void)
{
    return evs__lasterr_code();
}

/* A name's problem, or 0: length, control characters, UTF-8. */
int evs__name_problem(const char *name, size_t max_len, size_t *len_out, char *why,
                        size_t why_len)
{
    if (!name) {
        snprintf(why, why_len, "is missing (NULL)");
        return EVS_EINVAL;
    }
    /* Appends check a name per event, and names are short: one byte loop over the first
     * 32 bytes finds the end and checks them (a call to strnlen cost more than the whole
     * loop). Longer names go on with strnlen and a branch-free pass eight bytes at a
     * time. A byte below 0x20 or equal to 0x7f sets the top bit of `bad`, a byte of 0x80
     * or more that of `high`; UTF-8 is only checked when such a byte was seen. */
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
    uint64_t bad = 0, high = 0;
    size_t quick = max_len < 32 ? max_len + 1 : 32, len = 0;
    for (; len < quick && name[len] != '\0'; len++) {
        unsigned char c = (unsigned char)name[len];
        bad |= (c < 0x20 || c == 0x7f) ? 0x80 : 0;
        high |= c;
    }
    size_t i = len;
    if (len == quick)
        len += strnlen(name + len, max_len + 1 - len);
    if (len > max_len) {
        snprintf(why, why_len, "is longer than %zu bytes", max_len);
        return EVS_EINVAL;
    }
    if (len == 0) {
        snprintf(why, why_len, "is empty");
        return EVS_EINVAL;
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, name + i, 8);
        uint64_t del = w ^ (0x7f * ones);
        bad |= ((w - 0x20 * ones) & ~w) | ((del - ones) & ~del);
        high |= w;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bad |= (c < 0x20 || c == 0x7f) ? 0x80 : 0;
        high |= c;
    }
    if (bad & tops) {
        i = 0;
        while ((unsigned char)name[i] >= 0x20 && (unsigned char)name[i] != 0x7f)
            i++;
        snprintf(why, why_len, "has a control character (0x%02x) at byte %zu",
                 (unsigned char)name[i], i);
        return EVS_EINVAL;
    }
    size_t bad_at;
    if ((high & tops) && !evs__utf8_validate(name, len, &bad_at)) {
        snprintf(why, why_len, "is not valid UTF-8 (byte %zu)", bad_at);
        return EVS_EINVAL;
    }
    *len_out = len;
    return 0;
}

int evs__check_name(const char *name, size_t max_len, const char *what, const char *where,
                    size_t *len_out)
{
    char why[128];
    if (evs__name_problem(name, max_len, len_out, why, sizeof why))
        return evs__seterr(EVS_EINVAL, "%s: %s %s", where, what, why);
    return 0;
}

void evs_uuid_format(char buf[37], const unsigned char id[16])
{
    evs__uuid_format(buf, id);
}

int evs_uuid_parse(unsigned char out[16], const char *text, size_t len)
{
    int rc = evs__uuid_parse(out, text, len);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

size_t evs_time_format(char *buf, size_t buf_len, int64_t ts_ns)
{
    return evs__time_format(buf, buf_len, ts_ns);
}

int evs_time_parse(int64_t *out, const char *text, size_t len)
{
    int rc = evs__time_parse(out, text, len);
    if (rc == 0)
        evs__clearerr();
    return rc;
}

int evs_json_validate(const char *buf, size_t len)
{
    evs__json_error err;
    if (!buf)
        return evs__seterr(EVS_EINVAL, "JSON text is NULL");
    if (!evs__json_validate(buf, len, EVS_MAX_JSON_DEPTH, &err))
        return evs__seterr(EVS_EINVAL, "invalid JSON at byte %zu: %s", err.offset, err.reason);
    evs__clearerr();
    return 0;
}
