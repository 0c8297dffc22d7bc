/*
 * synced_mark.c - the `synced` file: a durable lower bound of how far the log reaches.
 *
 * The head page says how far the log was synced, but it is a cache: it may be missing,
 * of another boot, or copied from elsewhere. An open that finds the log ending before a
 * position known to have been synced must refuse (the file system lost acknowledged
 * records) instead of taking the shorter log for a torn tail. This file is what is
 * known after the head page is gone. It is written (and synced) only when a writer
 * seals a segment (once per segment, after the commit that rolled over is published),
 * closes the store, after recovery, and with a durable stream index run, so an append
 * pays for it only when it starts a new segment.
 *
 * The log's start (log_start.c) is kept in a file of the same shape.
 *
 * Two 64-byte slots in different 512-byte sectors, written in turn (the LMDB meta-page
 * idea, as the consumer checkpoints): a write torn by a crash damages only the slot
 * being written; the other keeps the previous value. docs/FORMAT.md has the bytes.
 */
#define _GNU_SOURCE
#include "synced_mark.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

/* The newest valid slot of buf (len bytes read): its seq and position; false if none. */
static bool newest_slot(const file_backend *fb, const char *magic, const unsigned char *buf,
                        size_t len, uint64_t *seq, uint64_t *pos)
{
    bool found = false;
    for (unsigned i = 0; i < 2; i++) {
        const unsigned char *p = buf + i * SYNCED_SLOT_STEP;
        if (i * SYNCED_SLOT_STEP + SYNCED_SLOT_LEN > len ||
            memcmp(p + SYNCED_OFF_MAGIC, magic, 8) != 0 ||
            evs__get_u32(p + SYNCED_OFF_CRC) != evs__crc32c(0, p, SYNCED_OFF_CRC) ||
            memcmp(p + SYNCED_OFF_ID, fb->store_id, 16) != 0)
            continue;
        uint64_t s = evs__get_u64(p + SYNCED_OFF_SEQ);
        if (s % 2 != i || (found && s < *seq))
            continue;
        *seq = s;
        *pos = evs__get_u64(p + SYNCED_OFF_POS);
        found = true;
    }
    return found;
}

/* Read the file open as fd: 0 with *seq and *pos (both 0 when nothing valid is there). */
static int read_slots(const file_backend *fb, const char *magic, int fd, const char *path,
                      uint64_t *seq, uint64_t *pos)
{
    unsigned char buf[SYNCED_FILE_LEN];
    memset(buf, 0, sizeof buf);
    ssize_t n;
    do
        n = evs__sys.pread(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return evs__seterr_errno(errno, "cannot read '%s'", path);
    *seq = *pos = 0;
    (void)newest_slot(fb, magic, buf, (size_t)n, seq, pos);
    return 0;
}

int evs__pos_mark_read(file_backend *fb, const char *file, const char *magic, uint64_t *pos)
{
    char path[STORE_PATH_MAX];
    *pos = 0;
    int fd;
    int rc = evs__path_open_existing(fb, file, path, &fd);
    if (fd < 0)
        return rc;
    uint64_t seq;
    rc = read_slots(fb, magic, fd, path, &seq, pos);
    evs__sys.close(fd);
    return rc;
}

int evs__synced_mark_read(file_backend *fb, uint64_t *pos)
{
    return evs__pos_mark_read(fb, SYNCED_FILE, SYNCED_MAGIC, pos);
}

int evs__pos_mark_write(file_backend *fb, const char *file, const char *magic, uint64_t pos,
                        bool only_up)
{
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, file, path, sizeof path);
    if (rc < 0)
        return rc;
    bool created = false;
    int fd = evs__sys.open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT) {
        fd = evs__sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        created = fd >= 0;
    }
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    uint64_t seq, cur;
    rc = read_slots(fb, magic, fd, path, &seq, &cur);
    if (rc == 0 && !(only_up && pos <= cur) && !(!only_up && pos == cur && seq > 0)) {
        unsigned char slot[SYNCED_SLOT_LEN];
        memset(slot, 0, sizeof slot);
        seq++;
        memcpy(slot + SYNCED_OFF_MAGIC, magic, 8);
        evs__put_u64(slot + SYNCED_OFF_SEQ, seq);
        evs__put_u64(slot + SYNCED_OFF_POS, pos);
        memcpy(slot + SYNCED_OFF_ID, fb->store_id, 16);
        evs__put_u32(slot + SYNCED_OFF_CRC, evs__crc32c(0, slot, SYNCED_OFF_CRC));
        if (evs__pwrite_all(fd, slot, sizeof slot, (off_t)((seq % 2) * SYNCED_SLOT_STEP)) < 0 ||
            evs__datasync(fd) < 0)
            rc = evs__seterr_errno(errno, "cannot write '%s'", path);
        else if (created && evs__dirsync(fb->dir) < 0)
            rc = evs__seterr_errno(errno, "cannot sync the directory '%s'", fb->dir);
    }
    evs__sys.close(fd);
    return rc;
}

int evs__synced_mark_raise(file_backend *fb, uint64_t pos)
{
    return evs__pos_mark_write(fb, SYNCED_FILE, SYNCED_MAGIC, pos, true);
}

int evs__synced_mark_set(file_backend *fb, uint64_t pos)
{
    return evs__pos_mark_write(fb, SYNCED_FILE, SYNCED_MAGIC, pos, false);
}
