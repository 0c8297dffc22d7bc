/*
 * active_segment.c - the segment the writer appends to: opening it, starting the next
 * one, and the zeros the writer keeps written ahead of the log in it.
 */
#define _GNU_SOURCE
#include "active_segment.h"
#include "evstore.h"
#include "file_backend.h"
#include "head.h"
#include "lock.h"
#include "path.h"
#include "segment.h"
#include "synced_mark.h"
#include "sysio.h"
#include "util.h"
#include "writer_state.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void evs__active_close(file_backend *fb)
{
    pthread_mutex_lock(&fb->w->syncer_mu);
    if (fb->w->wfd >= 0)
        evs__sys.close(fb->w->wfd);
    if (fb->w->widx_fd >= 0)
        evs__sys.close(fb->w->widx_fd);
    fb->w->wfd = fb->w->widx_fd = -1;
    fb->w->wseg = 0;
    pthread_mutex_unlock(&fb->w->syncer_mu);
}

int evs__active_open(file_backend *fb, uint64_t first_pos)
{
    char path[STORE_PATH_MAX];
    evs__active_close(fb);
    int rc = evs__seg_path(fb, first_pos, "seg", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDWR, 0);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open segment '%s' for writing", path);
    if ((rc = evs__seg_path(fb, first_pos, "idx", path, sizeof path)) < 0) {
        evs__sys.close(fd);
        return rc;
    }
    int ifd = evs__sys.open(path, O_RDWR | O_CREAT, 0644);
    if (ifd < 0) {
        rc = evs__seterr_errno(errno, "cannot open '%s'", path);
        evs__sys.close(fd);
        return rc;
    }
    /* Scans step from each listed segment to the next, so the list must hold every
     * segment from the first on. When other processes made the ones before this one,
     * list the directory instead of adding this one alone after a gap. */
    rc = evs__seg_by_first(fb, first_pos) ? 0 : evs__seg_load_all(fb);
    if (rc == 0)
        rc = evs__seg_add(fb, first_pos, NULL);
    if (rc < 0) {
        evs__sys.close(fd);
        evs__sys.close(ifd);
        return rc;
    }
    pthread_mutex_lock(&fb->w->syncer_mu);
    fb->w->wfd = fd;
    fb->w->widx_fd = ifd;
    fb->w->wseg = first_pos;
    pthread_mutex_unlock(&fb->w->syncer_mu);
    return 0;
}

int evs__active_start(file_backend *fb, uint64_t first_pos)
{
    int rc = evs__seg_create_file(fb, first_pos);
    if (rc == EVS_EIO && errno == EEXIST) {
        /* Left by a writer that died after creating it and before committing into it
         * (recovery cuts the log before it): it holds nothing acknowledged. */
        if ((rc = evs__seg_remove_file(fb, first_pos)) == 0)
            rc = evs__seg_create_file(fb, first_pos);
    }
    if (rc < 0)
        return rc;
    return evs__active_open(fb, first_pos);
}

/* ---- zeros ahead of the log ------------------------------------------------------- */

/* An fdatasync that follows an append into new blocks must also write the metadata of
 * those blocks and of the file's size; one that follows a write over blocks already on
 * disk writes the data alone. Here that is 79-92 us instead of 137-170 us for 2,000
 * bytes, and 98-119 us instead of 202-234 us for 20,800 (medians of plain-file loops;
 * with the zeros written by the loop itself, 1 MiB at a time: 93-124 us and 125-156
 * us). So in `always` mode the writer keeps zeros written and synced ahead of the log,
 * as a database's write-ahead log recycles its files: each sync then mostly overwrites.
 * Past the committed end, the active segment holds only these zeros (a record never
 * starts with 8 zero bytes, which is how a dead writer's bytes are told from them);
 * they are cut when the segment is sealed, when the store is closed and by recovery. */
#define ZERO_AHEAD (1u << 20)

static unsigned char zero_block[64 << 10]; /* never written; not const, so not in the file */

static int write_zeros(int fd, uint64_t from, uint64_t to)
{
    while (from < to) {
        size_t n = to - from < sizeof zero_block ? (size_t)(to - from) : sizeof zero_block;
        if (evs__pwrite_all(fd, zero_block, n, (off_t)from) < 0)
            return -1;
        from += n;
    }
    return 0;
}

/* Before `len` bytes go at `end`: when they would pass the zeros, write more, up to
 * the next ZERO_AHEAD boundary past them (never past the segment size). This round's
 * sync then pays for the new blocks once, for the many rounds that follow. A large
 * write gains nothing: 1,000-event batches of 208 KB were 4-6% slower with zeros ahead
 * than without (medians of 7 alternated runs), so from ZERO_SKIP_FROM bytes on, a round
 * appends. When the disk is too full for them, the zeros written are taken back and
 * none are written again until the next segment: they must not take the room the
 * records and their index need. */
#define ZERO_SKIP_FROM (128u << 10)

void evs__zeros_ahead(file_backend *fb, uint64_t end, uint64_t len, uint64_t *file_size)
{
    uint64_t need = end + len;
    if (fb->opts.sync_mode != EVS_SYNC_ALWAYS || fb->w->zeros_paused || len >= ZERO_SKIP_FROM ||
        need <= *file_size)
        return;
    uint64_t to = (need + ZERO_AHEAD) & ~(uint64_t)(ZERO_AHEAD - 1);
    if (to > fb->opts.segment_size)
        to = fb->opts.segment_size;
    if (to <= need)
        return;
    if (write_zeros(fb->w->wfd, need > *file_size ? need : *file_size, to) < 0) {
        fb->w->zeros_paused = true;
        (void)evs__sys.ftruncate(fb->w->wfd, (off_t)*file_size);
        return;
    }
    *file_size = to;
}

void evs__writer_trim(file_backend *fb)
{
    if (fb->readonly || fb->w->wfd < 0 || atomic_load(&fb->w->poisoned) ||
        evs__wlock_acquire(fb, 0) < 0) {
        evs__clearerr();
        return;
    }
    head_view h;
    struct stat st;
    bool clean = false;
    evs__head_read(fb, &h);
    if (h.seg == fb->w->wseg && !evs__head_torn(fb) && evs__sys.fstat(fb->w->wfd, &st) == 0 &&
        evs__seg_tail_clean(fb->w->wfd, h.end, (uint64_t)st.st_size, &clean) == 0 && clean &&
        (uint64_t)st.st_size > h.end)
        (void)evs__sys.ftruncate(fb->w->wfd, (off_t)h.end);
    /* A store closed cleanly says durably how far its log reaches: after a reboot or
     * with its head page lost, an open still knows what must be there. */
    uint64_t synced = evs__head_synced(fb);
    if (!evs__head_torn(fb))
        (void)evs__synced_mark_raise(fb, synced < h.pos ? synced : h.pos);
    evs__wlock_release(fb);
    evs__clearerr();
}
