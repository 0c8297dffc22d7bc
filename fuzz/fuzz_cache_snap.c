/*
 * fuzz_cache_snap.c - fuzz target for the stream index (the runs in stream-index/: each
 * stream's last version, position and offset as of a position, in checksummed pages),
 * which lookups read a page at a time, checking each page and each entry they use
 * against the log. The target replaces the template's first run.
 *
 * Input: byte 0 holds flags, the rest makes the new run:
 *   0x04, 0x20  XORed over the real run, cut (FC_XOR, FC_CUT);
 *   0x08  open read-only;
 *   0x10  fix the header's and every page's checksum after the change: a run that
 *         lies with correct checksums.
 * Damage the checksums catch must change nothing: every read gives the truth and verify
 * finds the store whole. A lie with correct checksums may be believed where the log
 * cannot contradict it, but nothing may be read out of bounds for it, no event handed
 * out may be false, and every difference it makes to the answers must be reported by
 * verify.
 */
#define FC_TAG "snap"
#include "fuzz_cache_common.h"

#define F_READONLY 0x08u
#define F_FIX_CRCS 0x10u

static bool lie; /* the input's snapshot has right checksums, whatever it says */

static void fix_crcs(unsigned char *run, size_t len)
{
    lie = len >= 64;
    if (!lie)
        return;
    evs__put_u32(run + SIDX_OFF_CRC, evs__crc32c(0, run, SIDX_OFF_CRC));
    for (size_t pg = SIDX_PAGE_LEN; pg + SIDX_PAGE_LEN <= len; pg += SIDX_PAGE_LEN)
        evs__put_u32(run + pg + SIDX_PG_CRC, evs__crc32c(0, run + pg, SIDX_PG_CRC));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    lie = false;
    fc_install(fc_run0, data + 1, size - 1, flags, (flags & F_FIX_CRCS) ? fix_crcs : NULL);
    fc_open_and_check((flags & F_READONLY) != 0, lie ? FC_DETECT : FC_STRICT);
    return 0;
}
