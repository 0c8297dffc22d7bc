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
#include "fuzz_cache_common.h"

#define F_READONLY 0x08u
#define F_FIX_CRCS 0x10u

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fc_init("snap");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    data++;
    size--;
    fc_fresh();
    size_t len;
    unsigned char *snap = fc_cache_bytes(SNAP_FILE, data, size, flags, &len);
    bool lie = (flags & F_FIX_CRCS) && len >= SNAP_HDR_LEN + 4;
    if (lie) {
        evs__put_u32(snap + SNAP_OFF_CRC, evs__crc32c(0, snap, SNAP_OFF_CRC));
        evs__put_u32(snap + len - 4, evs__crc32c(0, snap + SNAP_HDR_LEN, len - SNAP_HDR_LEN - 4));
    }
    fc_write_file(fc_work, SNAP_FILE, snap, len);
    free(snap);
    fc_open_and_check((flags & F_READONLY) != 0, lie ? FC_DETECT : FC_STRICT);
    return 0;
}
