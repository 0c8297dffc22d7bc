/*
 * buf.c - a growable byte buffer (evs__buf), the project's one dynamic string/byte type.
 *
 * Growth is geometric (x2, minimum 64 bytes) so a sequence of appends costs amortised
 * O(1) per byte. One spare byte is always kept past `len` and set to NUL after every
 * append, so a buffer of text can be handed out as a C string without another copy.
 * Every failure is EVS_ENOMEM with the thread's error message set, and leaves the
 * buffer as it was.
 */
#include "evstore.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BUF_MIN_CAP 64

int evs__buf_reserve(evs__buf *b, size_t extra)
{
    /* +1 for the NUL kept past len. No object may exceed PTRDIFF_MAX bytes. */
    if (extra > (size_t)PTRDIFF_MAX - 1 - b->len)
        return evs__seterr(EVS_ENOMEM, "out of memory: buffer of %zu bytes cannot grow by %zu",
                           b->len, extra);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;

    size_t cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need)
        cap = cap > (size_t)PTRDIFF_MAX / 2 ? need : cap * 2;

    char *p = evs__realloc(b->ptr, cap);
    if (p == NULL)
        return evs__seterr(EVS_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int evs__buf_append(evs__buf *b, const void *p, size_t len)
{
    int rc = evs__buf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len > 0)
        memcpy(b->ptr + b->len, p, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return 0;
}

void evs__buf_free(evs__buf *b)
{
    if (b == NULL)
        return;
    evs__free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}
