/*
 * error.c - the calling thread's last error: a code (EVS_E*) and a one-line message.
 *
 * Kept per thread, not per handle, so that a store shared by many threads never mixes
 * messages and so that a call that fails before any handle exists can still explain
 * itself (docs/DESIGN.md, 'Errors'). Messages longer than the buffer are cut at a UTF-8 character
 * boundary; nothing here allocates, so reporting ENOMEM cannot itself fail.
 */
#include "evstore.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ERRMSG_CAP 1024

struct last_error {
    int code;             /* EVS_E*, 0 when clear */
    int sys_errno;        /* the errno behind it, 0 when it came from no system call */
    char msg[ERRMSG_CAP]; /* NUL-terminated, one line */
};

static _Thread_local struct last_error last_err;

/* After a truncating snprintf the last character may be a partial UTF-8 sequence; cut
 * back to the start of that sequence so the message stays valid UTF-8. */
static void trim_partial_utf8(char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len - (i - 1) < need)
        s[i - 1] = '\0';
}

/* Format into dst[cap]; on truncation keep the cut clean. The attribute makes the
 * compiler check every caller's format string against its arguments (and lets it
 * accept the non-literal format here). */
static void format_into(char *dst, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void format_into(char *dst, size_t cap, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, cap, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
    if (n < 0) {
        dst[0] = '\0';
        return;
    }
    if ((size_t)n >= cap)
        trim_partial_utf8(dst, cap - 1);
}

/* Formatting goes through a scratch buffer first because callers may pass the current
 * message itself as an argument ("%s", evs__lasterr_msg()). */
int evs__vseterr(int code, const char *fmt, va_list ap)
{
    char tmp[ERRMSG_CAP];
    format_into(tmp, sizeof tmp, fmt, ap);
    last_err.code = code;
    last_err.sys_errno = 0;
    memcpy(last_err.msg, tmp, strlen(tmp) + 1);
    return code;
}

int evs__seterr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    evs__vseterr(code, fmt, ap);
    va_end(ap);
    return code;
}

/* strerror_r is the XSI variant (int result) under plain _POSIX_C_SOURCE and the GNU
 * variant (char * result, may ignore buf) when _GNU_SOURCE is defined by the build.
 * _Generic on the call's type picks the right adapter without evaluating it twice. */
static const char *strerror_xsi(int rc, const char *buf)
{
    return rc == 0 ? buf : NULL;
}

static const char *strerror_gnu(const char *res, const char *buf)
{
    (void)buf;
    return res;
}

#define STRERROR_R(err, buf, len)                                                                  \
    _Generic(strerror_r((err), (buf), (len)),                                              \
        int: strerror_xsi,                                                                 \
        char *: strerror_gnu)(strerror_r((err), (buf), (len)), (buf))

static int code_from_errno(int err)
{
    switch (err) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return EVS_ENOSPC;
    case ENOMEM:
        return EVS_ENOMEM;
    default:
        return EVS_EIO;
    }
}

int evs__seterr_errno(int err, const char *fmt, ...)
{
    char sys[256];
    const char *text = STRERROR_R(err, sys, sizeof sys);
    char unknown[48];
    if (text == NULL || text[0] == '\0') {
        (void)snprintf(unknown, sizeof unknown, "errno %d", err);
        text = unknown;
    }

    /* Leave room for the ": <strerror>" suffix so a long context never cuts the
     * reason, which is the part an operator needs. */
    char tmp[ERRMSG_CAP];
    size_t suffix_len = strlen(text) + 2;
    size_t head_cap = sizeof tmp - suffix_len;
    va_list ap;
    va_start(ap, fmt);
    format_into(tmp, head_cap, fmt, ap);
    va_end(ap);
    size_t head_len = strlen(tmp);
    tmp[head_len] = ':';
    tmp[head_len + 1] = ' ';
    memcpy(tmp + head_len + 2, text, suffix_len - 1);

    int code = code_from_errno(err);
    last_err.code = code;
    last_err.sys_errno = err;
    memcpy(last_err.msg, tmp, strlen(tmp) + 1);
    return code;
}

int evs__prefixerr(const char *fmt, ...)
{
    char tmp[ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    format_into(tmp, sizeof tmp, fmt, ap);
    va_end(ap);

    size_t len = strlen(tmp);
    if (last_err.msg[0] != '\0' && len + 2 < sizeof tmp) {
        tmp[len] = ':';
        tmp[len + 1] = ' ';
        size_t room = sizeof tmp - (len + 2);
        size_t old_len = strlen(last_err.msg);
        if (old_len >= room) {
            old_len = room - 1;
            memcpy(tmp + len + 2, last_err.msg, old_len);
            tmp[len + 2 + old_len] = '\0';
            trim_partial_utf8(tmp, len + 2 + old_len);
        } else {
            memcpy(tmp + len + 2, last_err.msg, old_len + 1);
        }
    }
    memcpy(last_err.msg, tmp, strlen(tmp) + 1);
    return last_err.code;
}

void evs__clearerr(void)
{
    last_err.code = 0;
    last_err.sys_errno = 0;
    last_err.msg[0] = '\0';
}

int evs__lasterr_code(void)
{
    return last_err.code;
}

int evs__lasterr_errno(void)
{
    return last_err.sys_errno;
}

const char *evs__lasterr_msg(void)
{
    return last_err.msg;
}
