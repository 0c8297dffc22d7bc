/*
 * append_seal.c - subjects at append time: which events have one, and the encryption
 * of their data (seal.c) under their subject's key (keytab.c).
 */
#define _GNU_SOURCE /* memmem */
#include "append_seal.h"
#include "json.h"
#include "keytab.h"
#include "seal.h"

#include <openssl/crypto.h>
#include <stdio.h>

static const char SUBJECT_KEY[] = "subject";
#define SUBJECT_KEY_LEN (sizeof SUBJECT_KEY - 1)

/* What the metadata walk found. */
typedef struct subject_hit {
    const evs__json_member *first; /* points at `member` once found */
    evs__json_member member;
    int count;
} subject_hit;

static bool is_subject_key(const evs__json_member *m)
{
    if (!m->key_has_escape)
        return m->key_len == SUBJECT_KEY_LEN && memcmp(m->key, SUBJECT_KEY, SUBJECT_KEY_LEN) == 0;
    /* Unescaping never grows; a key this long cannot spell "subject". */
    char key[64];
    size_t len;
    if (m->key_len > sizeof key || evs__json_unescape(m->key, m->key_len, key, &len, NULL) < 0)
        return false;
    return len == SUBJECT_KEY_LEN && memcmp(key, SUBJECT_KEY, SUBJECT_KEY_LEN) == 0;
}

static int on_member(void *ctx, const evs__json_member *m)
{
    subject_hit *hit = ctx;
    if (!is_subject_key(m))
        return 0;
    if (hit->count++ == 0) {
        hit->member = *m;
        hit->first = &hit->member;
    }
    return 0;
}

const char *evs__subject_problem(const char *s, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > EVS_MAX_SUBJECT_LEN)
        return "is longer than EVS_MAX_SUBJECT_LEN (256) bytes";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return "holds a control character";
    size_t bad;
    if (!evs__utf8_validate(s, len, &bad))
        return "is not valid UTF-8";
    return NULL;
}

/* The subject of metadata meta[0..len): 0 with w->subject set or left NULL. */
static int subject_in_meta(evs__event_w *w, const char *meta, size_t len, char *why,
                           size_t why_len)
{
    /* Metadata that cannot spell the key (not even with escapes) costs no walk. */
    if (!memmem(meta, len, SUBJECT_KEY, SUBJECT_KEY_LEN) && !memchr(meta, '\\', len))
        return 0;
    subject_hit hit = {NULL, {0}, 0};
    if (evs__json_object_walk(meta, len, EVS_MAX_JSON_DEPTH, on_member, &hit, NULL) < 0) {
        snprintf(why, why_len, "field 'metadata' is not a JSON object");
        return EVS_EINVAL;
    }
    if (!hit.first)
        return 0;
    if (hit.count > 1) {
        snprintf(why, why_len, "field 'metadata' names 'subject' %d times", hit.count);
        return EVS_EINVAL;
    }
    const evs__json_member *m = hit.first;
    if (m->kind != EVS__JSON_STRING) {
        snprintf(why, why_len, "field 'metadata.subject' must be a string");
        return EVS_EINVAL;
    }
    const char *raw = m->value + 1;
    size_t raw_len = m->value_len - 2;
    if (!memchr(raw, '\\', raw_len)) {
        w->subject = raw;
        w->subject_len = (uint32_t)raw_len;
    } else {
        char *copy = evs__alloc(raw_len + 1);
        size_t n = 0;
        if (!copy)
            return evs__seterr(EVS_ENOMEM, "out of memory reading an event's subject");
        if (evs__json_unescape(raw, raw_len, copy, &n, NULL) < 0) {
            evs__free(copy);
            snprintf(why, why_len, "field 'metadata.subject' has a bad escape");
            return EVS_EINVAL;
        }
        w->subject = copy;
        w->subject_len = (uint32_t)n;
        w->subject_owned = true;
    }
    const char *problem = evs__subject_problem(w->subject, w->subject_len);
    if (problem) {
        snprintf(why, why_len, "field 'metadata.subject' %s", problem);
        return EVS_EINVAL;
    }
    return 0;
}

int evs__subject_find(evs__event_w *w, const evs_event_in *in, const char *fallback, char *why,
                      size_t why_len)
{
    w->subject = NULL;
    w->subject_len = 0;
    w->subject_owned = false;
    w->sealed = false;
    if (in->metadata) {
        int rc = subject_in_meta(w, in->metadata, in->metadata_len, why, why_len);
        if (rc < 0)
            return rc;
    }
    if (!fallback)
        return 0;
    size_t len = strnlen(fallback, EVS_MAX_SUBJECT_LEN + 1);
    if (w->subject) {
        if (w->subject_len != len || memcmp(w->subject, fallback, len) != 0) {
            snprintf(why, why_len,
                     "field 'metadata.subject' differs from the append's subject option");
            return EVS_EINVAL;
        }
        return 0;
    }
    const char *problem = evs__subject_problem(fallback, len);
    if (problem) {
        snprintf(why, why_len, "the append's subject option %s", problem);
        return EVS_EINVAL;
    }
    w->subject = fallback;
    w->subject_len = (uint32_t)len;
    return 0;
}

void evs__subject_release(evs__event_w *events, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (events[i].subject_owned) {
            evs__free((char *)events[i].subject);
            events[i].subject_owned = false;
        }
}

bool evs__append_has_subject(const evs__batch_w *batches, size_t batch_count)
{
    for (size_t b = 0; b < batch_count; b++)
        for (size_t i = 0; i < batches[b].count; i++)
            if (batches[b].events[i].subject)
                return true;
    return false;
}

int evs__append_seal(evs__keytab *keys, evs__batch_w *batches, size_t batch_count,
                     evs__buf *sealed)
{
    size_t total = 0;
    for (size_t b = 0; b < batch_count; b++)
        for (size_t i = 0; i < batches[b].count; i++)
            if (batches[b].events[i].subject)
                total += batches[b].events[i].data_len + EVS__SEAL_OVERHEAD;
    if (total == 0)
        return 0;
    if (!keys)
        return evs__seterr(EVS_ENOTSUP, "append: events with a subject (encrypted for erasure) "
                                        "need the file backend");
    int rc = evs__keytab_refresh(keys);
    if (rc < 0)
        return rc;
    /* One buffer for every envelope: reserved whole first, so pointers into it hold. */
    if (evs__buf_reserve(sealed, total) < 0)
        return evs__seterr(EVS_ENOMEM, "out of memory encrypting %zu bytes of events", total);
    unsigned char key[EVS__KEY_LEN];
    uint64_t key_id = 0;
    evs__sealer sealer = EVS__SEALER_INIT;
    const char *memo = NULL; /* the subject `key` belongs to */
    uint32_t memo_len = 0;
    for (size_t b = 0; b < batch_count && rc == 0; b++) {
        /* The core built these events; the batch's view of them is const for backends. */
        evs__event_w *events = (evs__event_w *)batches[b].events;
        for (size_t i = 0; i < batches[b].count && rc == 0; i++) {
            evs__event_w *e = &events[i];
            if (!e->subject)
                continue;
            if (!memo || memo_len != e->subject_len || memcmp(memo, e->subject, memo_len) != 0) {
                rc = evs__keytab_key_for(keys, e->subject, e->subject_len, &key_id, key);
                if (rc < 0)
                    break;
                memo = e->subject;
                memo_len = e->subject_len;
            }
            unsigned char *out = (unsigned char *)sealed->ptr + sealed->len;
            rc = evs__seal(&sealer, out, key, key_id, e->id, e->data, e->data_len);
            if (rc < 0)
                break;
            e->data = (const char *)out;
            e->data_len += EVS__SEAL_OVERHEAD;
            e->sealed = true;
            sealed->len += e->data_len;
            batches[b].payload_len += EVS__SEAL_OVERHEAD;
        }
    }
    OPENSSL_cleanse(key, sizeof key);
    evs__sealer_free(&sealer);
    return rc;
}
