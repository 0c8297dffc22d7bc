/*
 * alloc.c - the allocator every part of src/ goes through, with a fault injector.
 *
 * Tests call evs__alloc_fail_after(n, sticky) to make allocations fail on purpose and
 * check that each failure comes back as EVS_ENOMEM with nothing leaked (docs/TESTING.md,
 * allocation failures). The injector is one process-wide atomic counter; when it is disabled
 * (the normal state) the cost is one relaxed load per allocation.
 *
 * Semantics of the counter: after evs__alloc_fail_after(n, sticky) the next n
 * allocations succeed and the one after them fails (n = 0: the very next one fails).
 * With sticky, every allocation after that fails too, until evs__alloc_fail_after(-1,
 * false) disables the injector. Without sticky, the injector disables itself after the
 * one failure. evs__free is never failed.
 */
#include "util.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1; /* < 0: disabled */
static atomic_bool fail_sticky;

void evs__alloc_fail_after(long n, bool sticky)
{
    atomic_store(&fail_sticky, sticky);
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

static bool injected_failure(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (n >= 0) {
        if (n == 0) {
            if (atomic_load(&fail_sticky))
                return true;
            /* Only one thread gets the one-shot failure. */
            if (atomic_compare_exchange_weak(&fail_countdown, &n, -1))
                return true;
            continue;
        }
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return false;
    }
    return false;
}

/* A zero-byte request gets one byte so that NULL always and only means failure. Sizes
 * past PTRDIFF_MAX fail here: the C library refuses them anyway, and sanitizers abort
 * on them instead of returning NULL. */
void *evs__alloc(size_t len)
{
    if (len > PTRDIFF_MAX || injected_failure())
        return NULL;
    return malloc(len == 0 ? 1 : len);
}

void *evs__calloc(size_t count, size_t len)
{
    if (len != 0 && count > PTRDIFF_MAX / len)
        return NULL;
    if (injected_failure())
        return NULL;
    if (count == 0 || len == 0)
        return calloc(1, 1);
    return calloc(count, len);
}

/* realloc(p, 0) may free p and return NULL, or not, depending on the C library (and C23
 * makes it undefined); here it keeps a live 1-byte block so the caller's pointer is
 * never left dangling. On failure the old block is untouched, as with realloc. */
void *evs__realloc(void *ptr, size_t len)
{
    if (len > PTRDIFF_MAX || injected_failure())
        return NULL;
    return realloc(ptr, len == 0 ? 1 : len);
}

void evs__free(void *ptr)
{
    free(ptr);
}

/* Like POSIX strndup: copies at most len bytes, stopping early at a NUL. */
char *evs__strndup(const char *s, size_t len)
{
    const char *nul = memchr(s, '\0', len);
    size_t n = nul != NULL ? (size_t)(nul - s) : len;
    if (n == SIZE_MAX)
        return NULL;
    char *copy = evs__alloc(n + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}
