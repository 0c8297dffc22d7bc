/*
 * record.c - one log record: encode it, check its framing and checksum, decode it in
 * place. The layout is in format.h.
 */
#include "record.h"
#include "backend.h"
#include "format.h"
#include "util.h"

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
    if (e->sealed)
        flags |= REC_SEALED;

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
    return evs__rec_decode_inline(p, avail, check_crc, out);
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
