/*
 * record.c - one log record: encode it, check its framing and checksum, decode it in
 * place. The layout is in format.h.
 */
#include "file_internal.h"

#include <string.h>

uint64_t evs__rec_size(uint32_t stream_len, uint32_t type_len, uint32_t meta_len,
                       uint32_t data_len)
{
    return REC_ALIGN((uint64_t)REC_HDR_LEN + stream_len + type_len + meta_len + data_len);
}

uint32_t evs__rec_crc(const unsigned char *p, uint32_t len)
{
    return evs__crc32c(0, p + REC_OFF_LEN, len - REC_OFF_LEN);
}

void evs__rec_encode(unsigned char *dst, uint64_t pos, int64_t ts_ns, uint64_t version,
                     uint64_t prev_pos, uint32_t prev_off, const evs__batch_w *b,
                     const evs__event_w *e, uint16_t flags)
{
    uint32_t len = REC_HDR_LEN + b->stream_len + e->type_len + e->meta_len + e->data_len;
    if (e->meta)
        flags |= REC_HAS_META;
    if (e->id_given)
        flags |= REC_ID_GIVEN;

    evs__put_u32(dst + REC_OFF_LEN, len);
    evs__put_u64(dst + REC_OFF_POS, pos);
    evs__put_u64(dst + REC_OFF_TS, (uint64_t)ts_ns);
    evs__put_u64(dst + REC_OFF_VERSION, version);
    evs__put_u64(dst + REC_OFF_PREV, prev_pos);
    memcpy(dst + REC_OFF_ID, e->id, 16);
    evs__put_u64(dst + REC_OFF_SHASH, b->stream_hash);
    evs__put_u32(dst + REC_OFF_THASH, e->type_hash);
    evs__put_u32(dst + REC_OFF_DATA_LEN, e->data_len);
    evs__put_u32(dst + REC_OFF_META_LEN, e->meta_len);
    evs__put_u16(dst + REC_OFF_SLEN, (uint16_t)b->stream_len);
    evs__put_u16(dst + REC_OFF_TLEN, (uint16_t)e->type_len);
    evs__put_u16(dst + REC_OFF_FLAGS, flags);
    evs__put_u16(dst + REC_OFF_FLAGS + 2, 0);
    evs__put_u32(dst + REC_OFF_PREV_OFF, prev_off);

    unsigned char *p = dst + REC_HDR_LEN;
    memcpy(p, b->stream, b->stream_len);
    p += b->stream_len;
    memcpy(p, e->type, e->type_len);
    p += e->type_len;
    if (e->meta_len)
        memcpy(p, e->meta, e->meta_len);
    p += e->meta_len;
    memcpy(p, e->data, e->data_len);
    p += e->data_len;
    memset(p, 0, REC_ALIGN(len) - len);

    evs__put_u32(dst + REC_OFF_CRC, evs__rec_crc(dst, len));
}

int evs__rec_decode(const unsigned char *p, uint64_t avail, bool check_crc, rec_view *out)
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
    if (body + REC_HDR_LEN != len || out->stream_len == 0 ||
        out->stream_len > EVS_MAX_STREAM_LEN || out->type_len == 0 ||
        out->type_len > EVS_MAX_TYPE_LEN || (out->flags & ~REC_FLAGS_KNOWN) != 0)
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

const char *evs__rec_status_str(int status)
{
    switch (status) {
    case REC_OK:
        return "ok";
    case REC_SHORT:
        return "record runs past the end of the file";
    case REC_BADLEN:
        return "impossible record length or field sizes";
    case REC_BADCRC:
        return "checksum mismatch";
    case REC_BADVAL:
        return "impossible position, version or stream link";
    default:
        return "unknown record status";
    }
}
