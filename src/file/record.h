/*
 * record.h - one record: encoding it, checking and decoding it in place (record.c).
 */
#ifndef EVS_FILE_RECORD_H
#define EVS_FILE_RECORD_H

#include "backend.h"
#include "format.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

/* A record decoded in place: pointers into the mapped segment. */
typedef struct rec_view {
    uint32_t len;           /* unpadded length */
    uint64_t pos;
    int64_t ts_ns;
    uint64_t version;
    uint64_t prev_pos;
    uint32_t prev_off;
    const unsigned char *id;
    uint64_t stream_hash;
    uint32_t type_hash;
    uint32_t data_len;
    uint32_t meta_len;
    uint16_t stream_len;
    uint16_t type_len;
    uint16_t flags;
    const char *stream;
    const char *type;
    const char *meta;
    const char *data;
} rec_view;

enum rec_status {
    REC_OK = 0,
    REC_SHORT,  /* the bytes end before the record does */
    REC_BADLEN, /* length or field sizes impossible */
    REC_BADCRC, /* checksum mismatch */
    REC_BADVAL  /* a position, version or link no writer can have made */
};

/* The checksum a record of `len` bytes at p must carry. */
uint32_t evs__rec_crc(const unsigned char *p, uint32_t len);

/* Check and decode the record at p, of which `avail` bytes exist. With check_crc
 * false only the framing is checked (for hot paths that verified the bytes before). */
int evs__rec_decode(const unsigned char *p, uint64_t avail, bool check_crc, rec_view *out);

/* evs__rec_decode's body, inlined where a scan decodes every record in turn. */
static inline int evs__rec_decode_inline(const unsigned char *p, uint64_t avail, bool check_crc,
                                         rec_view *out)
{
    if (avail < REC_HDR_LEN)
        return REC_SHORT;
    uint32_t len = evs__get_u32(p + REC_OFF_LEN);
    if (len < REC_HDR_LEN)
        return REC_BADLEN;
    out->len = len;
    out->data_len = evs__get_u32(p + REC_OFF_DATA_LEN);
    out->meta_len = evs__get_u32(p + REC_OFF_META_LEN);
    out->stream_len = evs__get_u16(p + REC_OFF_SLEN);
    out->type_len = evs__get_u16(p + REC_OFF_TLEN);
    out->flags = evs__get_u16(p + REC_OFF_FLAGS);
    uint64_t body = (uint64_t)out->stream_len + out->type_len + out->meta_len + out->data_len;
    /* The whole header is here: sizes that do not add up are damage, even when the
     * length points past the end of the file (a torn write leaves a consistent header
     * of a record that simply does not fit). */
    if (body + REC_HDR_LEN != len || out->stream_len > EVS_MAX_STREAM_LEN ||
        out->type_len > EVS_MAX_TYPE_LEN || (out->flags & ~REC_FLAGS_KNOWN) != 0 ||
        ((out->stream_len == 0 || out->type_len == 0) && !(out->flags & REC_LOST)))
        return REC_BADLEN;
    if (len > avail)
        return REC_SHORT;
    if (check_crc && evs__get_u32(p + REC_OFF_CRC) != evs__rec_crc(p, len))
        return REC_BADCRC;

    out->pos = evs__get_u64(p + REC_OFF_POS);
    out->ts_ns = (int64_t)evs__get_u64(p + REC_OFF_TS);
    out->version = evs__get_u64(p + REC_OFF_VERSION);
    out->prev_pos = evs__get_u64(p + REC_OFF_PREV);
    out->prev_off = evs__get_u32(p + REC_OFF_PREV_OFF);
    /* The API hands these out as int64_t >= 0 (positions >= 1): a record outside that
     * range was not made by a writer, checksum or not. */
    if (out->pos == 0 || out->pos > INT64_MAX || out->version > INT64_MAX ||
        out->prev_pos >= out->pos || (out->version == 0) != (out->prev_pos == 0))
        return REC_BADVAL;
    out->id = p + REC_OFF_ID;
    out->stream_hash = evs__get_u64(p + REC_OFF_SHASH);
    out->type_hash = evs__get_u32(p + REC_OFF_THASH);
    const char *c = (const char *)p + REC_HDR_LEN;
    out->stream = c;
    out->type = c + out->stream_len;
    out->meta = (out->flags & REC_HAS_META) ? out->type + out->type_len : NULL;
    out->data = out->type + out->type_len + out->meta_len;
    return REC_OK;
}

/* Bytes a record takes on disk, padding included. */
uint64_t evs__rec_size(uint32_t stream_len, uint32_t type_len, uint32_t meta_len,
                       uint32_t data_len);
/* Encode one record at dst (evs__rec_size bytes, zero padding written). */
void evs__rec_encode(unsigned char *dst, uint64_t pos, int64_t ts_ns, uint64_t version,
                     uint64_t prev_pos, uint32_t prev_off, const evs__batch_w *b,
                     const evs__event_w *e, uint16_t flags);
/* Human name of a rec_status. */
const char *evs__rec_status_str(int status);

#endif /* EVS_FILE_RECORD_H */
