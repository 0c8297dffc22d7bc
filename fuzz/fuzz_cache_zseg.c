/*
 * fuzz_cache_zseg.c - fuzz target for a compressed sealed segment (.zseg: header, frame
 * table, zstd frames), which is the log itself once compressed: whatever its bytes, a
 * read gives the true events or fails with a message, never reads past a buffer or a
 * file, never hands out an event that was not appended; and verify reports every
 * difference from the truth.
 *
 * The template store (fuzz_cache_common.h) has its sealed segments compressed once.
 * Input: byte 0 holds flags, the rest makes the new .zseg of one sealed segment:
 *   bits 0-1  which sealed segment (modulo their number);
 *   0x04, 0x20  XORed over the real file, cut (FC_XOR, FC_CUT);
 *   0x08      open read-only;
 *   0x10      fix the header's, the frame table's and every frame's checksum after the
 *             change, so that the checks behind them (table layout, zstd's own frame
 *             checks, the plain length, the records' checksums) get tested.
 */
#define FC_TAG        "zseg"
#define FC_AFTER_INIT fz_compress_template
static void fz_compress_template(void);
#include "fuzz_cache_common.h"

#define F_READONLY 0x08u
#define F_FIX_CRCS 0x10u

static void fz_compress_template(void)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    evs_store *s = NULL;
    FZ_CHECK(evs_open(&s, fc_tmpl, &o) == 0);
    evs_compact_report rep;
    FZ_CHECK(evs_compact(s, 0, &rep) == 0);
    FZ_CHECK(rep.segments == (int64_t)fc_seg_count - 1);
    FZ_CHECK(evs_close(s) == 0);
}

static void fix_crcs(unsigned char *z, size_t len)
{
    if (len < ZSEG_HDR_LEN)
        return;
    uint64_t count = evs__get_u32(z + ZSEG_OFF_COUNT);
    if (count > (len - ZSEG_HDR_LEN) / ZSEG_ENTRY_LEN)
        count = (len - ZSEG_HDR_LEN) / ZSEG_ENTRY_LEN;
    for (uint64_t i = 0; i < count; i++) {
        unsigned char *e = z + ZSEG_HDR_LEN + i * ZSEG_ENTRY_LEN;
        uint64_t at = evs__get_u64(e + ZSEG_ENT_OFF), n = evs__get_u32(e + ZSEG_ENT_LEN);
        if (at <= len && n <= len - at)
            evs__put_u32(e + ZSEG_ENT_CRC, evs__crc32c(0, z + at, (size_t)n));
    }
    evs__put_u32(z + ZSEG_OFF_TABCRC,
                 evs__crc32c(0, z + ZSEG_HDR_LEN, (size_t)count * ZSEG_ENTRY_LEN));
    evs__put_u32(z + ZSEG_OFF_CRC, evs__crc32c(0, z, ZSEG_OFF_CRC));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    char name[32];
    fc_seg_file((flags & 3u) % (fc_seg_count - 1), "zseg", name, sizeof name);
    fc_install(name, data + 1, size - 1, flags, (flags & F_FIX_CRCS) ? fix_crcs : NULL);
    fc_open_and_check((flags & F_READONLY) != 0, FC_DETECT);
    if (!(flags & F_READONLY))
        fc_open_and_check(true, FC_DETECT); /* what the writable handle left */
    return 0;
}
