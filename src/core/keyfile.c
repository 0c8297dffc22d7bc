/*
 * keyfile.c - encoding and checking the key file's header and records.
 *
 * Records are only ever added at the end, one write and one sync each, so a crash can
 * tear only the last one; that is why a damaged record anywhere else is an error and
 * never skipped: skipping it would lose a key, and with it every event it encrypts.
 */
#include "keyfile.h"
#include "util.h"

#include "evstore.h"

#define KEYFILE_MAGIC   "EVSKEYS1"
#define KEYFILE_VERSION 1u
#define KIND_KEY        1u
#define KIND_DESTROYED  2u

void evs__keyfile_head(unsigned char out[EVS__KEYFILE_HEAD_LEN])
{
    memset(out, 0, EVS__KEYFILE_HEAD_LEN);
    memcpy(out, KEYFILE_MAGIC, 8);
    evs__put_u32(out + 8, KEYFILE_VERSION);
    evs__put_u32(out + 12, EVS__KEYFILE_HEAD_LEN);
    evs__put_u32(out + 60, evs__crc32c(0, out, 60));
}

size_t evs__keyrec_encode(unsigned char *out, const evs__keyrec *r)
{
    size_t subject_len = r->destroyed ? 0 : r->subject_len;
    size_t len = EVS__KEYREC_FIXED_LEN + subject_len;
    memset(out, 0, EVS__KEYREC_FIXED_LEN);
    evs__put_u32(out + 4, (uint32_t)len);
    out[8] = (unsigned char)(r->destroyed ? KIND_DESTROYED : KIND_KEY);
    evs__put_u16(out + 10, (uint16_t)subject_len);
    evs__put_u64(out + 16, r->id);
    if (!r->destroyed) {
        memcpy(out + 24, r->key, EVS__KEY_LEN);
        memcpy(out + EVS__KEYREC_FIXED_LEN, r->subject, subject_len);
    }
    evs__put_u32(out, evs__crc32c(0, out + 4, len - 4));
    return len;
}

static bool all_zero(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* Why the record at p (avail bytes to the end of the file) is not a good one, or NULL,
 * with *rec filled. */
static const char *decode(const unsigned char *p, size_t avail, evs__keyrec *rec, size_t *len_out)
{
    if (avail < EVS__KEYREC_FIXED_LEN)
        return "a record cut short";
    uint32_t len = evs__get_u32(p + 4);
    *len_out = len;
    if (len < EVS__KEYREC_FIXED_LEN || len > EVS__KEYREC_MAX_LEN)
        return "a record length out of range";
    if (len > avail)
        return "a record cut short";
    if (evs__get_u32(p) != evs__crc32c(0, p + 4, len - 4))
        return "a record checksum mismatch";
    unsigned kind = p[8];
    size_t subject_len = evs__get_u16(p + 10);
    if (p[9] != 0 || evs__get_u32(p + 12) != 0)
        return "reserved bytes not zero";
    if (subject_len != len - EVS__KEYREC_FIXED_LEN)
        return "a subject length that disagrees with the record length";
    rec->id = evs__get_u64(p + 16);
    if (rec->id == 0)
        return "key id 0";
    if (kind == KIND_KEY) {
        if (subject_len == 0)
            return "a key without a subject";
        rec->destroyed = false;
        memcpy(rec->key, p + 24, EVS__KEY_LEN);
        rec->subject = (const char *)p + EVS__KEYREC_FIXED_LEN;
        rec->subject_len = subject_len;
        return NULL;
    }
    if (kind == KIND_DESTROYED) {
        if (subject_len != 0 || !all_zero(p + 24, EVS__KEY_LEN))
            return "a destroyed key that still holds a subject or key bytes";
        rec->destroyed = true;
        memset(rec->key, 0, EVS__KEY_LEN);
        rec->subject = NULL;
        rec->subject_len = 0;
        return NULL;
    }
    return "an unknown record kind";
}

static int check_head(const unsigned char *buf, size_t len, const char *path)
{
    if (len < EVS__KEYFILE_HEAD_LEN || memcmp(buf, KEYFILE_MAGIC, 8) != 0)
        return evs__seterr(EVS_EFORMAT, "key file %s: not an evstore key file (no header)", path);
    if (evs__get_u32(buf + 60) != evs__crc32c(0, buf, 60))
        return evs__seterr(EVS_ECORRUPT,
                           "key file %s: bad header checksum at byte 60; restore it from a "
                           "backup (the encrypted events need its keys)",
                           path);
    uint32_t version = evs__get_u32(buf + 8);
    if (version != KEYFILE_VERSION)
        return evs__seterr(EVS_EFORMAT,
                           "key file %s: format version %u; this library reads version %u", path,
                           version, KEYFILE_VERSION);
    if (evs__get_u32(buf + 12) != EVS__KEYFILE_HEAD_LEN)
        return evs__seterr(EVS_ECORRUPT, "key file %s: header length %u, not %u", path,
                           evs__get_u32(buf + 12), EVS__KEYFILE_HEAD_LEN);
    return 0;
}

int evs__keyfile_parse(const unsigned char *buf, size_t len, const char *path, evs__keyrec_cb cb,
                       void *ctx, size_t *valid_end)
{
    *valid_end = 0;
    int rc = check_head(buf, len, path);
    if (rc < 0)
        return rc;
    size_t off = EVS__KEYFILE_HEAD_LEN;
    while (off < len) {
        evs__keyrec rec;
        size_t rec_len = 0;
        const char *why = decode(buf + off, len - off, &rec, &rec_len);
        if (why) {
            /* A torn last append: it runs past the end, or the file grew by zeros. */
            bool torn = rec_len >= EVS__KEYREC_FIXED_LEN && rec_len <= EVS__KEYREC_MAX_LEN
                            ? off + rec_len >= len
                            : all_zero(buf + off, len - off) || len - off < EVS__KEYREC_FIXED_LEN;
            if (torn)
                break;
            return evs__seterr(EVS_ECORRUPT,
                               "key file %s: %s at byte %zu; restore it from a backup (the "
                               "encrypted events need its keys)",
                               path, why, off);
        }
        if (cb && (rc = cb(ctx, &rec)) != 0)
            return rc;
        off += rec_len;
    }
    *valid_end = off;
    return 0;
}
