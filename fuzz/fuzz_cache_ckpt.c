/*
 * fuzz_cache_ckpt.c - fuzz target for a durable consumer's checkpoint file
 * (consumers/NAME.ckpt: two checksummed slots written in turn), which opening the
 * consumer reads to know where delivery starts.
 *
 * Input: byte 0 holds flags, the rest makes the new checkpoint file of consumer "c1"
 * of the template store (fuzz_cache_common.h; its real checkpoint is FC_CKPT):
 *   0x04, 0x20  XORed over the real file, cut (FC_XOR, FC_CUT);
 *   0x08  fix both slots' checksums after the change (slots at bytes 0 and 512, 64
 *         bytes each, the CRC32C of the first 60 in the last 4): slots that lie.
 * Opening the consumer either fails with EVS_ECORRUPT naming the consumer (the listing
 * then says it is unreadable, or shows a checkpoint past the head), or starts delivery right after a checkpoint between 0 and the
 * head, with the true events; the listing agrees. An acknowledgement saved after that
 * is what the next open finds. A consumer reported corrupt is repaired by a reset.
 */
#define FC_TAG "ckpt"
#include "fuzz_cache_common.h"

#define F_FIX_CRCS 0x08u
#define CKPT_NAME  "consumers/c1.ckpt"

/* Both slots' checksums made right (each the CRC32C of its first 60 bytes). */
static void fix_crcs(unsigned char *ckpt, size_t len)
{
    for (size_t at = 0; at + 64 <= len && at <= 512; at += 512)
        evs__put_u32(ckpt + at + 60, evs__crc32c(0, ckpt + at, 60));
}

/* The listing's entry for c1. */
static evs_consumer_info listed(evs_store *s)
{
    evs_consumer_iter *it = NULL;
    FZ_CHECK(evs_consumers_open(&it, s) == 0);
    evs_consumer_info info, found;
    memset(&found, 0, sizeof found);
    int n = 0;
    while (evs_consumers_next(&info, it) > 0) {
        FZ_CHECK(strcmp(info.name, "c1") == 0);
        found = info;
        found.name = NULL; /* borrowed until close */
        n++;
    }
    evs_consumers_close(it);
    FZ_CHECK(n == 1);
    return found;
}

/* Open c1: on success, its checkpoint is within the log, and the events delivered
 * after it are the true ones; returns that checkpoint, or -1 when it failed. */
static int64_t open_and_take(evs_store *s, int64_t ack_more)
{
    evs_consumer *c = NULL;
    int rc = evs_consumer_open(&c, s, "c1", NULL);
    if (rc < 0) {
        FZ_CHECK(rc == EVS_ECORRUPT);
        FZ_CHECK(strstr(evs_errmsg(), "c1") != NULL);
        return -1;
    }
    int64_t ckpt = evs_consumer_checkpoint(c);
    FZ_CHECK(ckpt >= 0 && ckpt <= FC_EVENTS);
    evs_event ev;
    for (int64_t i = 1; i <= ack_more && ckpt + i <= FC_EVENTS; i++) {
        FZ_CHECK(evs_consumer_next(&ev, c, 0) == 1);
        FZ_CHECK(ev.pos == ckpt + i && fc_event_true(&ev));
        FZ_CHECK(evs_consumer_ack(c, ev.pos) == 0);
    }
    FZ_CHECK(evs_consumer_flush(c) == 0);
    evs_consumer_close(c);
    return ckpt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    data++;
    size--;
    fc_install(CKPT_NAME, data, size < 4096 ? size : 4096, flags,
               (flags & F_FIX_CRCS) ? fix_crcs : NULL);

    evs_options o = EVS_OPTIONS_INIT;
    o.sync_mode = EVS_SYNC_NONE;
    o.flags = EVS_OPEN_NOCREATE;
    evs_store *s = NULL;
    FZ_CHECK(evs_open(&s, fc_work, &o) == 0);
    FZ_CHECK(evs_head(s) == FC_EVENTS);
    evs_consumer_info before = listed(s);
    int64_t at = open_and_take(s, 3);
    if (fc_verbose)
        fprintf(stderr, "fuzz cache: checkpoint %" PRId64 ", listed %" PRId64 " (status %d)\n", at,
                before.checkpoint, before.status);
    if (at < 0) {
        /* Unreadable (no checkpoint shown), or past the head (shown): the listing says
         * which, with the status open gave, and a reset repairs it. */
        FZ_CHECK(before.status == EVS_ECORRUPT &&
                 (before.checkpoint == -1 || before.checkpoint > FC_EVENTS));
        FZ_CHECK(evs_consumer_reset(s, "c1", FC_CKPT) == 0);
        at = open_and_take(s, 0);
        FZ_CHECK(at == FC_CKPT);
    } else {
        FZ_CHECK(before.status == 0 && before.checkpoint == at);
        FZ_CHECK(before.lag == FC_EVENTS - at);
        /* What was acknowledged and flushed is what the next open finds. */
        int64_t want = at + 3 < FC_EVENTS ? at + 3 : FC_EVENTS;
        FZ_CHECK(open_and_take(s, 0) == want);
        FZ_CHECK(listed(s).checkpoint == want);
    }
    FZ_CHECK(evs_close(s) == 0);
    return 0;
}
