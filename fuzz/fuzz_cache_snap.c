/*
 * fuzz_cache_snap.c - fuzz target for the stream index snapshot (index.snap: every
 * stream's last version, position and offset as of one position), which opening maps
 * and uses in place after checking its header, its store, its whole-body checksum and
 * that the record it last covered is still the one it saw.
 *
 * Input: byte 0 holds flags, the rest makes the new index.snap of the template store
 * (fuzz_cache_common.h):
 *   0x04, 0x20  XORed over the real snapshot, cut (FC_XOR, FC_CUT);
 *   0x08  open read-only;
 *   0x10  fix the header's checksum and the trailer (the body's checksum) after the
 *         change: a snapshot that lies with correct checksums.
 * Damage the checksums catch must change nothing: every read gives the truth and verify
 * finds the store whole. A lie with correct checksums may be believed (a writer made
 * it), but nothing may be read out of bounds for it, no event handed out may be false,
 * and every difference it makes to the answers must be reported by verify.
 */
#define FC_TAG "snap"
#include "fuzz_cache_common.h"

#define F_READONLY 0x08u
#define F_FIX_CRCS 0x10u

static bool lie; /* the input's snapshot has right checksums, whatever it says */

static void fix_crcs(unsigned char *snap, size_t len)
{
    lie = len >= SNAP_HDR_LEN + 4;
    if (!lie)
        return;
    evs__put_u32(snap + SNAP_OFF_CRC, evs__crc32c(0, snap, SNAP_OFF_CRC));
    evs__put_u32(snap + len - 4, evs__crc32c(0, snap + SNAP_HDR_LEN, len - SNAP_HDR_LEN - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    lie = false;
    fc_install(SNAP_FILE, data + 1, size - 1, flags, (flags & F_FIX_CRCS) ? fix_crcs : NULL);
    fc_open_and_check((flags & F_READONLY) != 0, lie ? FC_DETECT : FC_STRICT);
    return 0;
}
