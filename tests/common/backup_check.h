/*
 * backup_check.h - what the backup and archive tests share: a store's events compared
 * byte for byte with another store's prefix.
 */
#ifndef EVS_BACKUP_CHECK_H
#define EVS_BACKUP_CHECK_H

#include "evstore.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline bool bc_same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Do stores a and b hold the same events, field for field and byte for byte, at every
 * position up to `upto` (b holding nothing past it)? 0 when they do; else -1 with what
 * differs in why. */
static inline int bc_compare_prefix(evs_store *a, evs_store *b, int64_t upto, char *why,
                                    size_t why_len)
{
    evs_query q = EVS_QUERY_INIT;
    evs_cursor *ca = NULL, *cb = NULL;
    int rc = -1;
    if (evs_cursor_open(&ca, a, &q) < 0 || evs_cursor_open(&cb, b, &q) < 0) {
        snprintf(why, why_len, "cursor: %s", evs_errmsg());
        goto out;
    }
    for (;;) {
        evs_event x, y;
        int ra = evs_cursor_next(&x, ca);
        if (ra == 1 && x.pos > upto)
            ra = 0;
        int rb = evs_cursor_next(&y, cb);
        if (ra < 0 || rb < 0) {
            snprintf(why, why_len, "read: %s", evs_errmsg());
            goto out;
        }
        if (ra == 0 && rb == 0)
            break;
        if (ra != rb) {
            snprintf(why, why_len, "one store ends first (store at %lld, copy at %lld)",
                     ra ? (long long)x.pos : 0LL, rb ? (long long)y.pos : 0LL);
            goto out;
        }
        if (x.pos != y.pos || x.version != y.version || x.ts_ns != y.ts_ns ||
            memcmp(x.id, y.id, 16) != 0 ||
            !bc_same_bytes(x.stream, x.stream_len, y.stream, y.stream_len) ||
            !bc_same_bytes(x.type, x.type_len, y.type, y.type_len) ||
            !bc_same_bytes(x.data, x.data_len, y.data, y.data_len) ||
            (x.metadata == NULL) != (y.metadata == NULL) ||
            (x.metadata &&
             !bc_same_bytes(x.metadata, x.metadata_len, y.metadata, y.metadata_len))) {
            snprintf(why, why_len, "the events at position %lld differ", (long long)x.pos);
            goto out;
        }
    }
    rc = 0;
out:
    evs_cursor_close(ca);
    evs_cursor_close(cb);
    return rc;
}

#endif /* EVS_BACKUP_CHECK_H */
