/*
 * fuzz_record.c - fuzz target for the record decoder of the file backend
 * (evs__rec_decode in src/file/record.c), on arbitrary bytes.
 *
 * The decoder runs on mapped segment bytes that a crash or a disk may have damaged, so
 * it must never read past `avail` whatever the header claims. The input is copied into
 * an exact-size heap block and decoded with and without the checksum check; a record
 * that decodes must describe fields that all lie inside the bytes it was given, and
 * re-encoding what was decoded must give back the same bytes.
 */
#include "backend.h"
#include "format.h"
#include "fuzz_common.h"
#include "record.h"
#include "util.h"

#include <string.h>

/* What a writer can have made (positions from 1, versions and positions as int64_t, a
 * stream's first event without a link and every later one linked backwards). */
static bool values_possible(const rec_view *r)
{
    return r->pos >= 1 && r->pos <= INT64_MAX && r->version <= INT64_MAX && r->prev_pos < r->pos &&
           (r->version == 0) == (r->prev_pos == 0);
}

static void check_inside(const unsigned char *p, uint64_t avail, const rec_view *r)
{
    const char *lo = (const char *)p, *hi = (const char *)p + avail;
    FZ_CHECK(r->len >= REC_HDR_LEN && r->len <= avail);
    FZ_CHECK(r->stream == lo + REC_HDR_LEN);
    FZ_CHECK(r->type == r->stream + r->stream_len);
    FZ_CHECK(r->data + r->data_len == lo + r->len && r->data + r->data_len <= hi);
    if (r->meta)
        FZ_CHECK(r->meta + r->meta_len == r->data);
    /* Only a filler of a lost event (REC_LOST) may lack a stream name or a type. */
    bool lost = (r->flags & REC_LOST) != 0;
    FZ_CHECK((r->stream_len >= 1 || lost) && r->stream_len <= EVS_MAX_STREAM_LEN);
    FZ_CHECK((r->type_len >= 1 || lost) && r->type_len <= EVS_MAX_TYPE_LEN);
    FZ_CHECK((r->flags & ~REC_FLAGS_KNOWN) == 0);
    FZ_CHECK(r->id == p + REC_OFF_ID);
    FZ_CHECK(values_possible(r));
}

/* Encode the decoded record again and compare: decode and encode must agree on every
 * field of the layout. */
static void check_reencode(const unsigned char *p, const rec_view *r)
{
    if (r->meta_len != 0 && r->meta == NULL)
        return; /* metadata bytes without REC_HAS_META: the encoder would set the flag */
    if (evs__get_u16(p + REC_OFF_FLAGS + 2) != 0)
        return; /* the reserved field is not part of what decoding hands out */
    uint64_t size = evs__rec_size(r->stream_len, r->type_len, r->meta_len, r->data_len);
    unsigned char *dst = malloc(size);
    FZ_CHECK(dst != NULL);
    evs__batch_w b;
    memset(&b, 0, sizeof b);
    b.stream = r->stream;
    b.stream_len = r->stream_len;
    b.stream_hash = r->stream_hash;
    evs__event_w e;
    memset(&e, 0, sizeof e);
    e.type = r->type;
    e.type_len = r->type_len;
    e.type_hash = r->type_hash;
    e.data = r->data;
    e.data_len = r->data_len;
    e.meta = r->meta;
    e.meta_len = r->meta_len;
    memcpy(e.id, r->id, 16);
    e.id_given = (r->flags & REC_ID_GIVEN) != 0;
    evs__rec_encode(dst, r->pos, r->ts_ns, r->version, r->prev_pos, r->prev_off, &b, &e,
                    (uint16_t)(r->flags & (REC_COMMIT | REC_LOST)));
    FZ_CHECK(memcmp(dst + REC_OFF_LEN, p + REC_OFF_LEN, r->len - REC_OFF_LEN) == 0);
    rec_view again;
    FZ_CHECK(evs__rec_decode(dst, size, true, &again) == REC_OK);
    FZ_CHECK(again.len == r->len && again.pos == r->pos && again.version == r->version);
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *p = malloc(size ? size : 1);
    FZ_CHECK(p != NULL);
    if (size)
        memcpy(p, data, size);

    rec_view fast, full;
    memset(&fast, 0, sizeof fast);
    memset(&full, 0, sizeof full);
    int st_fast = evs__rec_decode(p, size, false, &fast);
    int st_full = evs__rec_decode(p, size, true, &full);
    /* Every status the decoder returns has a name: a status added to enum rec_status
     * without one shows up here. */
    FZ_CHECK(strcmp(evs__rec_status_str(st_fast), evs__rec_status_str(-1)) != 0);
    FZ_CHECK(strcmp(evs__rec_status_str(st_full), evs__rec_status_str(-1)) != 0);
    /* Without the checksum there is no REC_BADCRC. The decoder checks the framing
     * (REC_SHORT, REC_BADLEN), then the checksum, then the values (REC_BADVAL): the
     * checksum only ever turns a frame that passed into REC_BADCRC. */
    FZ_CHECK(st_fast != REC_BADCRC);
    if (st_fast == REC_SHORT || st_fast == REC_BADLEN)
        FZ_CHECK(st_full == st_fast);
    else
        FZ_CHECK(st_full == st_fast || st_full == REC_BADCRC);
    if (st_fast == REC_BADVAL)
        FZ_CHECK(!values_possible(&fast));

    if (st_fast == REC_OK) {
        check_inside(p, size, &fast);
        /* Touch every byte the view points at, so ASan checks the spans. */
        volatile unsigned sum = 0;
        for (size_t i = 0; i < fast.stream_len; i++)
            sum += (unsigned char)fast.stream[i];
        for (size_t i = 0; i < fast.type_len; i++)
            sum += (unsigned char)fast.type[i];
        for (size_t i = 0; i < fast.data_len; i++)
            sum += (unsigned char)fast.data[i];
        (void)sum;
    }
    if (st_full == REC_OK) {
        FZ_CHECK(evs__get_u32(p + REC_OFF_CRC) == evs__rec_crc(p, full.len));
        check_reencode(p, &full);
    }

    /* The same bytes at an 8-byte-aligned offset inside a larger block, with avail cut
     * short: framing must still be judged against avail alone. */
    if (size > REC_HDR_LEN) {
        rec_view cut;
        int st = evs__rec_decode(p, size - 1, true, &cut);
        if (st == REC_OK)
            FZ_CHECK(cut.len <= size - 1);
    }
    free(p);
    return 0;
}
