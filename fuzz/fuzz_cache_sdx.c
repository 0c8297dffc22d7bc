/*
 * fuzz_cache_sdx.c - fuzz target for the stream directory of a sealed segment (.sdx:
 * where each stream's records are in it), which whole-stream reads use after checking
 * its header, checksum, size and that it was made from the segment as it is.
 *
 * Input: byte 0 holds flags, the rest makes the new .sdx of one sealed segment of the
 * template store (fuzz_cache_common.h):
 *   bits 0-1  which sealed segment (modulo their number);
 *   0x04, 0x20  XORed over the real directory, cut (FC_XOR, FC_CUT);
 *   0x08      open read-only (no rebuild);
 *   0x10      fix the header's and the body's checksums after the change, so that the
 *             directory lies with correct checksums and the checks behind them (every
 *             entry used must point at a record of its stream) get tested.
 * Every read must give the truth and verify must find the store whole, lie or not: a
 * reader never trusts an entry it has not found at the record it names.
 */
#define FC_TAG "sdx"
#include "fuzz_cache_common.h"

#define F_READONLY 0x08u
#define F_FIX_CRCS 0x10u

static void fix_crcs(unsigned char *sdx, size_t len)
{
    if (len < SDX_HDR_LEN + 4)
        return;
    evs__put_u32(sdx + SDX_OFF_CRC, evs__crc32c(0, sdx, SDX_OFF_CRC));
    evs__put_u32(sdx + len - 4, evs__crc32c(0, sdx + SDX_HDR_LEN, len - SDX_HDR_LEN - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    char name[32];
    fc_seg_file((flags & 3u) % (fc_seg_count - 1), "sdx", name, sizeof name);
    fc_install(name, data + 1, size - 1, flags, (flags & F_FIX_CRCS) ? fix_crcs : NULL);
    fc_open_and_check((flags & F_READONLY) != 0, FC_STRICT);
    if (!(flags & F_READONLY))
        fc_open_and_check(true, FC_STRICT); /* what the writable handle left */
    return 0;
}
