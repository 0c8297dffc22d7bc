/*
 * fuzz_keyfile.c - fuzz target for the key file's parser (evs__keyfile_parse in
 * src/core/keyfile.c), on arbitrary bytes.
 *
 * A damaged key file must give a clear error, never a key read from outside its
 * record. Whatever the parser accepts must be what a writer could have written: each
 * record it hands out encodes back to exactly the bytes it came from, one after the
 * other from the header on, and the records end at *valid_end, inside the input; what
 * follows is a torn tail (all zeros, or one record cut short).
 */
#include "evstore.h"
#include "fuzz_common.h"
#include "keyfile.h"

#include <string.h>

typedef struct walk {
    const unsigned char *buf;
    size_t len;
    size_t off; /* where the next record must start */
} walk;

static int on_record(void *ctx, const evs__keyrec *r)
{
    walk *w = ctx;
    unsigned char enc[EVS__KEYREC_MAX_LEN];
    size_t n = evs__keyrec_encode(enc, r);
    FZ_CHECK(w->off + n <= w->len);
    FZ_CHECK(memcmp(enc, w->buf + w->off, n) == 0);
    FZ_CHECK(r->id != 0);
    if (r->destroyed)
        FZ_CHECK(r->subject == NULL && r->subject_len == 0);
    else
        FZ_CHECK(r->subject_len >= 1 && r->subject_len <= EVS_MAX_SUBJECT_LEN &&
                 (const unsigned char *)r->subject == w->buf + w->off + EVS__KEYREC_FIXED_LEN);
    w->off += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *p = malloc(size ? size : 1);
    FZ_CHECK(p != NULL);
    if (size)
        memcpy(p, data, size);
    walk w = {p, size, EVS__KEYFILE_HEAD_LEN};
    size_t end = 0;
    int rc = evs__keyfile_parse(p, size, "fuzz", on_record, &w, &end);
    FZ_CHECK(rc == 0 || rc == EVS_ECORRUPT || rc == EVS_EFORMAT);
    if (rc == 0) {
        FZ_CHECK(end == w.off && end >= EVS__KEYFILE_HEAD_LEN && end <= size);
        unsigned char head[EVS__KEYFILE_HEAD_LEN];
        evs__keyfile_head(head);
        FZ_CHECK(memcmp(head, p, 16) == 0);
    }
    free(p);
    return 0;
}
