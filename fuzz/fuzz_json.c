/*
 * fuzz_json.c - fuzz target for src/json: evs__json_validate, evs__json_object_walk,
 * evs__json_unescape and evs__json_escape on arbitrary bytes.
 *
 * Beyond "no crash, no out-of-bounds read" it checks that the functions agree:
 *  - the public evs_json_validate says what evs__json_validate says;
 *  - a shallower depth limit never accepts what a deeper one rejects;
 *  - the walk succeeds exactly on the valid documents whose value is an object, and
 *    every member it hands out is a key that unescapes plus a value that is valid JSON
 *    by itself and lies inside the input;
 *  - unescaping never grows, a validated string unescapes to valid UTF-8, and escaping
 *    that text gives a string that validates and unescapes back to the same bytes;
 *  - unescaping arbitrary bytes never writes past raw_len bytes, and reports an error
 *    offset inside the input.
 */
#include "evstore.h"
#include "fuzz_common.h"
#include "json.h"

#include <stdbool.h>
#include <string.h>

typedef struct grow_buf {
    char *p;
    size_t len;
    size_t cap;
} grow_buf;

static int grow_write(void *ctx, const char *p, size_t len)
{
    grow_buf *b = ctx;
    if (b->len + len > b->cap) {
        size_t cap = (b->len + len) * 2 + 16;
        char *n = realloc(b->p, cap);
        if (!n)
            return -1;
        b->p = n;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

/* The string body raw[0..raw_len) came from a valid document: check the unescape and
 * escape round trip on it. */
static void check_string_body(const char *raw, size_t raw_len)
{
    /* An exact-size heap block, so that ASan sees any write past raw_len. */
    char *text = malloc(raw_len ? raw_len : 1);
    FZ_CHECK(text != NULL);
    size_t text_len = 0;
    evs__json_error err;
    FZ_CHECK(evs__json_unescape(raw, raw_len, text, &text_len, &err) == 0);
    FZ_CHECK(text_len <= raw_len);
    size_t bad = 0;
    FZ_CHECK(evs__utf8_validate(text, text_len, &bad));

    grow_buf q = {NULL, 0, 0};
    FZ_CHECK(grow_write(&q, "\"", 1) == 0);
    FZ_CHECK(evs__json_escape(text, text_len, grow_write, &q) == 0);
    FZ_CHECK(grow_write(&q, "\"", 1) == 0);
    FZ_CHECK(evs__json_validate(q.p, q.len, 1, &err));

    char *again = malloc(q.len);
    FZ_CHECK(again != NULL);
    size_t again_len = 0;
    FZ_CHECK(evs__json_unescape(q.p + 1, q.len - 2, again, &again_len, &err) == 0);
    FZ_CHECK(again_len == text_len && memcmp(again, text, text_len) == 0);
    free(again);
    free(q.p);
    free(text);
}

typedef struct walk_ctx {
    const char *buf;
    size_t len;
    size_t members;
} walk_ctx;

static int on_member(void *vctx, const evs__json_member *m)
{
    walk_ctx *w = vctx;
    w->members++;
    FZ_CHECK(m->key >= w->buf && m->key + m->key_len <= w->buf + w->len);
    FZ_CHECK(m->value >= w->buf && m->value + m->value_len <= w->buf + w->len);
    FZ_CHECK(m->key_has_escape == (memchr(m->key, '\\', m->key_len) != NULL));
    check_string_body(m->key, m->key_len);

    evs__json_error err;
    FZ_CHECK(m->value_len > 0);
    FZ_CHECK(evs__json_validate(m->value, m->value_len, EVS_MAX_JSON_DEPTH, &err));
    FZ_CHECK(m->kind != EVS__JSON_INVALID);
    if (m->kind == EVS__JSON_STRING) {
        FZ_CHECK(m->value_len >= 2 && m->value[0] == '"' && m->value[m->value_len - 1] == '"');
        check_string_body(m->value + 1, m->value_len - 2);
    }
    return 0;
}

/* Walk buf as an object; the walk must succeed exactly when `want_ok`. */
static void check_walk(const char *buf, size_t len, int depth, bool want_ok)
{
    walk_ctx w = {buf, len, 0};
    evs__json_error err = {0, NULL};
    int rc = evs__json_object_walk(buf, len, depth, on_member, &w, &err);
    FZ_CHECK(rc == 0 || rc == -1);
    FZ_CHECK((rc == 0) == want_ok);
    if (rc != 0)
        FZ_CHECK(err.reason != NULL && err.offset <= len);
}

static const char *first_non_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private exact-size copy: an out-of-bounds read past the input is then a heap
     * overflow ASan reports, also in the standalone driver. */
    char *buf = malloc(size ? size : 1);
    FZ_CHECK(buf != NULL);
    if (size)
        memcpy(buf, data, size);

    evs__json_error err = {0, NULL};
    bool ok = evs__json_validate(buf, size, EVS_MAX_JSON_DEPTH, &err);
    if (!ok)
        FZ_CHECK(err.reason != NULL && err.offset <= size);
    FZ_CHECK((evs_json_validate(buf, size) == 0) == ok);

    evs__json_error err3 = {0, NULL};
    bool ok3 = evs__json_validate(buf, size, 3, &err3);
    FZ_CHECK(!ok3 || ok);

    const char *start = first_non_ws(buf, buf + size);
    bool is_object = start < buf + size && *start == '{';
    check_walk(buf, size, EVS_MAX_JSON_DEPTH, ok && is_object);
    check_walk(buf, size, 3, ok3 && is_object);

    if (ok && start < buf + size && *start == '"') {
        const char *end = buf + size;
        while (end > start &&
               (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
            end--;
        check_string_body(start + 1, (size_t)(end - start) - 2);
    }

    /* Arbitrary bytes as a string body: errors are fine, overflows are not. */
    char *out = malloc(size ? size : 1);
    FZ_CHECK(out != NULL);
    size_t out_len = 0;
    evs__json_error uerr = {0, NULL};
    if (evs__json_unescape(buf, size, out, &out_len, &uerr) == 0)
        FZ_CHECK(out_len <= size);
    else
        FZ_CHECK(uerr.reason != NULL && uerr.offset <= size);
    free(out);

    size_t bad = 0;
    if (!evs__utf8_validate(buf, size, &bad))
        FZ_CHECK(bad < size);

    free(buf);
    return 0;
}
