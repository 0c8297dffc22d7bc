/*
 * fuzz_cache_head.c - fuzz target for the shared head page (head: the committed head
 * under a seqlock, the synced position, the futex word). A handle believes its
 * committed head only when it carries the store's identity and this boot's id, and
 * its synced position when it is the store's page from any boot (the log must reach
 * that far); otherwise it rebuilds the page from the log.
 *
 * Input: byte 0 holds flags, the rest makes the new head file of the template store
 * (fuzz_cache_common.h), of any length (the real one is 4096 bytes):
 *   0x04, 0x20  XORed over the real page, cut (FC_XOR, FC_CUT);
 *   0x08  open read-only (a page too short is then not mapped, the head is scanned);
 *   0x10  give the page the store's identity and this boot's id (its first 40 bytes
 *         from the real page), so that its fields are believed.
 * A page that is not this store's must change nothing: every read gives the truth and
 * verify finds the store whole. This store's page is how other processes learn how far
 * the log reaches, so it may hide events or make opening refuse the store (a synced
 * position past the log's end); but nothing may be read past a file's end for it, and
 * no event handed out may be false.
 */
#define FC_TAG "head"
#include "fuzz_cache_common.h"

#define F_READONLY   0x08u
#define F_IDENTITY   0x10u
#define IDENTITY_LEN 40 /* magic, store id, boot id */
#define STORE_ID_END 24 /* magic and store id: a page of this store, from any boot */

static unsigned char real_head[HEAD_LEN];
static bool stamp;   /* give the page the real one's identity */
static bool trusted; /* the page is this store's */

static void put_identity(unsigned char *head, size_t len)
{
    if (stamp && len >= IDENTITY_LEN)
        memcpy(head, real_head, IDENTITY_LEN);
    /* A page of this store from another boot is believed too: its synced position
     * says how far the log must reach, and opening refuses a log that ends before. */
    trusted = len >= STORE_ID_END && memcmp(head, real_head, STORE_ID_END) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (real_head[0] == 0)
        FZ_CHECK(fc_read_file(fc_tmpl, HEAD_FILE, real_head, sizeof real_head) == HEAD_LEN);
    unsigned flags = data[0];
    stamp = (flags & F_IDENTITY) != 0;
    fc_install(HEAD_FILE, data + 1, size - 1 < 2 * HEAD_LEN ? size - 1 : 2 * HEAD_LEN, flags,
               put_identity);
    fc_open_and_check((flags & F_READONLY) != 0, trusted ? FC_SAFE : FC_STRICT);
    return 0;
}
