/*
 * fuzz_cache_tdx.c - fuzz target for the type directory of a sealed segment (.tdx: its
 * records grouped by type and by category), which reads filtered by types, category or
 * prefix use after checking its header, keys, names and runs.
 *
 * Input: byte 0 holds flags, the rest makes the new .tdx of one sealed segment of the
 * template store (fuzz_cache_common.h):
 *   bits 0-1  which sealed segment (modulo their number);
 *   0x04, 0x20  XORed over the real directory, cut (FC_XOR, FC_CUT);
 *   0x08      open read-only (no rebuild);
 *   0x10      fix every checksum after the change (header, keys and names, each run),
 *             so that the directory lies with correct checksums and the checks behind
 *             them get tested.
 * With checksums as they fall, every read must give the truth and verify must find the
 * store whole. A directory that lies with right checksums can hide records from the
 * filtered reads (docs/FORMAT.md says so), but no read may hand out an event that is
 * not the one appended at its position.
 */
#define FC_TAG "tdx"
#include "fuzz_cache_common.h"

#define F_READONLY 0x08u
#define F_FIX_CRCS 0x10u

static void fix_crcs(unsigned char *t, size_t len)
{
    if (len < TDX_HDR_LEN)
        return;
    uint64_t keys = (uint64_t)evs__get_u32(t + TDX_OFF_TKEYS) + evs__get_u32(t + TDX_OFF_CKEYS);
    uint64_t entries = TDX_HDR_LEN + keys * TDX_KEY_LEN +
                       ((evs__get_u32(t + TDX_OFF_NAMES) + 7ull) & ~7ull);
    if (entries <= len) {
        for (uint64_t k = 0; k < keys; k++) {
            unsigned char *key = t + TDX_HDR_LEN + k * TDX_KEY_LEN;
            uint64_t at = entries + evs__get_u32(key + TDX_KEY_FIRST) * (uint64_t)TDX_ENTRY_LEN;
            uint64_t n = evs__get_u32(key + TDX_KEY_N) * (uint64_t)TDX_ENTRY_LEN;
            if (at <= len && n <= len - at)
                evs__put_u32(key + TDX_KEY_CRC, evs__crc32c(0, t + at, n));
        }
        evs__put_u32(t + TDX_OFF_KEYCRC, evs__crc32c(0, t + TDX_HDR_LEN, entries - TDX_HDR_LEN));
    }
    evs__put_u32(t + TDX_OFF_CRC, evs__crc32c(0, t, TDX_OFF_CRC));
}

static bool filter_match(int64_t pos, const char *type, const char *category, const char *prefix)
{
    char stream[32];
    fc_stream_name(fc_stream_of(pos), stream, sizeof stream);
    if (type && strcmp(type, pos % 3 ? "Deposited" : "Withdrawn") != 0)
        return false;
    if (category && (strncmp(stream, category, strlen(category)) != 0 ||
                     (stream[strlen(category)] && stream[strlen(category)] != '-')))
        return false;
    return !prefix || strncmp(stream, prefix, strlen(prefix)) == 0;
}

/* Filtered reads, both ways: the truth, or (lying directories) only true events. */
static void check_filters(bool readonly, fc_level level)
{
    static const struct {
        const char *type, *category, *prefix;
    } f[] = {{"Deposited", NULL, NULL}, {"Withdrawn", NULL, NULL}, {NULL, "acct", NULL},
             {NULL, "acct-1", NULL},     {NULL, NULL, "acct-2"},    {NULL, NULL, "ac"},
             {"Withdrawn", "acct", NULL}, {"Deposited", NULL, "acct-0"}};
    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.flags = EVS_OPEN_NOCREATE | (readonly ? EVS_OPEN_READONLY : 0);
    evs_store *s = NULL;
    if (evs_open(&s, fc_work, &o) < 0) {
        FZ_CHECK(level != FC_STRICT);
        return;
    }
    static int64_t want[FC_EVENTS];
    fc_result res = {0, 0, 0};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        for (int back = 0; back < 2; back++) {
            size_t n = 0;
            for (int64_t k = 1; k <= FC_EVENTS; k++) {
                int64_t p = back ? FC_EVENTS + 1 - k : k;
                if (filter_match(p, f[i].type, f[i].category, f[i].prefix))
                    want[n++] = p;
            }
            evs_query q = EVS_QUERY_INIT;
            q.types = f[i].type ? &f[i].type : NULL;
            q.type_count = f[i].type ? 1 : 0;
            q.category = f[i].category;
            q.prefix = f[i].prefix;
            q.direction = back ? EVS_BACKWARD : EVS_FORWARD;
            fc_expect(s, &q, want, n, &res);
        }
    FZ_CHECK(res.fabricated == 0);
    if (level == FC_STRICT)
        FZ_CHECK(res.wrong == 0 && res.errors == 0);
    FZ_CHECK(evs_close(s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    bool lies = (flags & F_FIX_CRCS) != 0;
    char name[32];
    fc_seg_file((flags & 3u) % (fc_seg_count - 1), "tdx", name, sizeof name);
    fc_install(name, data + 1, size - 1, flags, lies ? fix_crcs : NULL);
    check_filters((flags & F_READONLY) != 0, lies ? FC_SAFE : FC_STRICT);
    fc_open_and_check((flags & F_READONLY) != 0, lies ? FC_SAFE : FC_STRICT);
    if (!(flags & F_READONLY))
        check_filters(true, lies ? FC_SAFE : FC_STRICT); /* what the writable one left */
    return 0;
}
