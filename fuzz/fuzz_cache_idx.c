/*
 * fuzz_cache_idx.c - fuzz target for the offset index of a segment (.idx: one u32
 * byte offset per record), which reads by position trust once the record it points at
 * carries that position.
 *
 * Input: byte 0 holds flags, the rest makes the new .idx of one segment of the
 * template store (fuzz_cache_common.h):
 *   bits 0-1  which segment (modulo their number; the last one is being written);
 *   0x04, 0x20  the bytes are XORed over the real index, and the result cut at
 *             their length (FC_XOR, FC_CUT in fuzz_cache_common.h);
 *   0x08      open read-only (no rebuild: the index is bypassed by a scan).
 * Every read must give the truth and verify must find the store whole: the index has
 * no checksum, every entry is checked against the record it points at.
 */
#define FC_TAG "idx"
#include "fuzz_cache_common.h"

#define F_READONLY 0x08u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    char name[32];
    fc_seg_file((flags & 3u) % fc_seg_count, "idx", name, sizeof name);
    fc_install(name, data + 1, size - 1, flags, NULL);
    fc_open_and_check((flags & F_READONLY) != 0, FC_STRICT);
    if (!(flags & F_READONLY))
        fc_open_and_check(true, FC_STRICT); /* what the writable handle left */
    return 0;
}
