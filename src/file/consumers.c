/*
 * consumers.c - durable consumers in the file backend: one lock file and one
 * checkpoint file per consumer, in the store's `consumers/` directory.
 *
 *   consumers/<name>.lock   empty; flock(LOCK_EX|LOCK_NB)ed while a handle has the
 *                           consumer open. The kernel drops it when the holder dies, so
 *                           a crashed consumer never blocks its successor.
 *   consumers/<name>.ckpt   two fixed 64-byte slots (at byte 0 and byte 512), written in
 *                           turn with pwrite; each holds magic, seq, pos, ts and a CRC32C.
 *                           The valid slot with the highest seq is the checkpoint (the
 *                           LMDB meta-page idea): a write torn by a crash
 *                           damages only the slot being written, and the other one still
 *                           holds the previous checkpoint. The slots sit in different
 *                           512-byte sectors so that a torn sector cannot hit both.
 *                           Then, from byte 576, the consumer's filter when one is
 *                           kept: magic, length, CRC32C, the canonical JSON text. Only
 *                           whole-file replacements write it, never a slot save, and a
 *                           reader of the slots never looks past byte 576, so a file
 *                           from an evstore that kept no filter (576 bytes) reads the
 *                           same, and such an evstore reads the slots of a newer file.
 *
 * Creating a checkpoint file, and replacing one (reset, repair of a damaged file), goes
 * through a temporary file: write, fsync, rename, fsync the directory, so
 * the file never exists half-written. docs/FORMAT.md describes the bytes.
 */
#define _GNU_SOURCE
#include "consumers.h"
#include "backend.h"
#include "file_backend.h"
#include "lost_ranges.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CONSUMERS_DIR  "consumers"
#define CKPT_MAGIC     "EVSCKPT1"
#define CKPT_SLOT_LEN  64
#define CKPT_SLOT_STEP 512 /* slot i starts at i * CKPT_SLOT_STEP */
#define CKPT_FILE_LEN  (CKPT_SLOT_STEP + CKPT_SLOT_LEN)
#define CKPT_OFF_MAGIC 0  /* 8 */
#define CKPT_OFF_SEQ   8  /* 8 bumped by every save; slot = seq % 2 */
#define CKPT_OFF_POS   16 /* 8 last acknowledged position */
#define CKPT_OFF_TS    24 /* 8 when it was acknowledged, ns since 1970 UTC */
#define CKPT_OFF_CRC   60 /* 4 CRC32C of bytes [0,60) */
/* The filter section, at CKPT_FILE_LEN: */
#define FILT_MAGIC     "EVSFILT1"
#define FILT_OFF_MAGIC 0  /* 8 */
#define FILT_OFF_LEN   8  /* 4 bytes of text */
#define FILT_OFF_CRC   12 /* 4 CRC32C of bytes [0,12) and the text */
#define FILT_HDR_LEN   16 /* the text follows; the file ends with it */

/* How long consumer_lock keeps trying before it reports EVS_EBUSY. A listing probes
 * each lock with a shared lock for a few microseconds; without this short grace an
 * open racing a listing would fail for no reason. A real holder keeps the lock far
 * longer. */
#define LOCK_GRACE_NS (20 * 1000000LL)

struct evs__be_consumer {
    char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
    int lock_fd;
    int ckpt_fd;  /* O_RDWR on the checkpoint file; -1 until the first save */
    uint64_t seq; /* seq of the newest valid slot on disk */
    bool replace; /* a save failed: the next one replaces the file whole */
    char *filter; /* the filter kept in the file (a replacement writes it), or NULL */
};

/* "<dir>/consumers/<name><ext>" */
static int cpath(const file_backend *fb, const char *name, const char *ext, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/" CONSUMERS_DIR "/%s%s", fb->dir, name, ext);
    if (n < 0 || (size_t)n >= len)
        return evs__seterr(EVS_EINVAL, "path of consumer '%s' in '%s' is too long", name, fb->dir);
    return 0;
}

/* The paths of two of a consumer's files (`ext_a`, `ext_b`: ".ckpt", ".lock"...) and of
 * the folder that holds them, each STORE_PATH_MAX bytes. */
static int cpaths(const file_backend *fb, const char *name, const char *ext_a, char *a,
                  const char *ext_b, char *b, char *dir)
{
    int rc = cpath(fb, name, ext_a, a, STORE_PATH_MAX);
    if (rc == 0)
        rc = cpath(fb, name, ext_b, b, STORE_PATH_MAX);
    if (rc == 0)
        rc = evs__path(fb, CONSUMERS_DIR, dir, STORE_PATH_MAX);
    return rc;
}

static int ensure_dir(file_backend *fb)
{
    char dir[STORE_PATH_MAX];
    int rc = evs__path(fb, CONSUMERS_DIR, dir, sizeof dir);
    if (rc < 0)
        return rc;
    if (evs__sys.mkdir(dir, 0755) == 0) {
        /* A new directory entry in the store: make it survive power loss with the first
         * checkpoint written into it. */
        if (evs__dirsync(fb->dir) < 0)
            return evs__seterr_errno(errno, "cannot sync directory '%s'", fb->dir);
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    return evs__seterr_errno(errno, "cannot create directory '%s'", dir);
}

/* ---- slots ------------------------------------------------------------------------ */

static void slot_encode(unsigned char *p, uint64_t seq, int64_t pos, int64_t ts_ns)
{
    memset(p, 0, CKPT_SLOT_LEN);
    memcpy(p + CKPT_OFF_MAGIC, CKPT_MAGIC, 8);
    evs__put_u64(p + CKPT_OFF_SEQ, seq);
    evs__put_u64(p + CKPT_OFF_POS, (uint64_t)pos);
    evs__put_u64(p + CKPT_OFF_TS, (uint64_t)ts_ns);
    evs__put_u32(p + CKPT_OFF_CRC, evs__crc32c(0, p, CKPT_OFF_CRC));
}

static bool slot_valid(const unsigned char *p, unsigned index)
{
    return memcmp(p + CKPT_OFF_MAGIC, CKPT_MAGIC, 8) == 0 &&
           evs__get_u32(p + CKPT_OFF_CRC) == evs__crc32c(0, p, CKPT_OFF_CRC) &&
           evs__get_u64(p + CKPT_OFF_SEQ) % 2 == index &&
           (int64_t)evs__get_u64(p + CKPT_OFF_POS) >= 0;
}

/* pread until len bytes or the end of the file; *got says how many. -1 with errno. */
static int pread_full(int fd, void *buf, size_t len, off_t off, size_t *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = evs__sys.pread(fd, (char *)buf + *got, len - *got, off + (off_t)*got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

/* Read the newest valid slot of an open checkpoint file. EVS_ECORRUPT when neither is
 * valid (the message names the file and says how to repair it). */
static int slots_read(int fd, const char *name, const char *path, uint64_t *seq, int64_t *pos,
                      int64_t *ts_ns)
{
    unsigned char buf[CKPT_FILE_LEN];
    memset(buf, 0, sizeof buf);
    size_t have;
    if (pread_full(fd, buf, sizeof buf, 0, &have) < 0)
        return evs__seterr_errno(errno, "cannot read '%s'", path);
    int best = -1;
    for (unsigned i = 0; i < 2; i++) {
        const unsigned char *p = buf + i * CKPT_SLOT_STEP;
        if (slot_valid(p, i) &&
            (best < 0 || evs__get_u64(p + CKPT_OFF_SEQ) >
                             evs__get_u64(buf + best * CKPT_SLOT_STEP + CKPT_OFF_SEQ)))
            best = (int)i;
    }
    if (best < 0)
        return evs__seterr(EVS_ECORRUPT,
                           "consumer '%s': checkpoint file '%s' is corrupt (%zu bytes, no "
                           "valid slot); reset the consumer to repair it",
                           name, path, have);
    const unsigned char *p = buf + best * CKPT_SLOT_STEP;
    *seq = evs__get_u64(p + CKPT_OFF_SEQ);
    *pos = (int64_t)evs__get_u64(p + CKPT_OFF_POS);
    *ts_ns = (int64_t)evs__get_u64(p + CKPT_OFF_TS);
    return 0;
}

/* ---- the filter section ------------------------------------------------------------ */

static int filter_damaged(const char *name, const char *path, const char *what)
{
    return evs__seterr(EVS_ECORRUPT,
                       "consumer '%s': the filter kept in '%s' is damaged (%s); reset the "
                       "consumer to drop it, or open it with a refilter",
                       name, path, what);
}

/* Read the filter section of an open checkpoint file: *out the text (evs__alloc'd) or
 * NULL when the file has none; EVS_ECORRUPT naming the file when it is damaged. */
static int filter_read(int fd, const char *name, const char *path, char **out)
{
    *out = NULL;
    unsigned char hdr[FILT_HDR_LEN];
    size_t got;
    if (pread_full(fd, hdr, sizeof hdr, CKPT_FILE_LEN, &got) < 0)
        return evs__seterr_errno(errno, "cannot read '%s'", path);
    if (got == 0)
        return 0; /* 576 bytes: kept no filter */
    if (got < sizeof hdr || memcmp(hdr + FILT_OFF_MAGIC, FILT_MAGIC, 8) != 0)
        return filter_damaged(name, path, "no filter header after the checkpoint slots");
    uint32_t len = evs__get_u32(hdr + FILT_OFF_LEN);
    if (len > EVS__MAX_FILTER_TEXT)
        return filter_damaged(name, path, "its length is out of range");
    char *text = evs__alloc((size_t)len + 2);
    if (!text)
        return evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", path);
    /* One byte more than the text, to see that the file ends with it. */
    if (pread_full(fd, text, (size_t)len + 1, CKPT_FILE_LEN + FILT_HDR_LEN, &got) < 0) {
        int saved = errno;
        evs__free(text);
        return evs__seterr_errno(saved, "cannot read '%s'", path);
    }
    const char *what = NULL;
    if (got != len)
        what = got < len ? "the file ends inside it" : "bytes follow it";
    else if (evs__crc32c(evs__crc32c(0, hdr, FILT_OFF_CRC), text, len) !=
             evs__get_u32(hdr + FILT_OFF_CRC))
        what = "checksum mismatch";
    else if (evs_json_validate(text, len) < 0)
        what = "not JSON";
    /* The canonical text is one line (strings escape control characters), and the
     * listing prints it as part of one: a crafted newline must not split the line. */
    else if (memchr(text, '\n', len) || memchr(text, '\r', len))
        what = "not one line";
    if (what) {
        evs__free(text);
        return filter_damaged(name, path, what);
    }
    text[len] = '\0';
    *out = text;
    return 0;
}

/* Write a whole new checkpoint file holding one slot (seq 1), and the handle's filter
 * when it has one, and rename it into place: used to create a checkpoint, to replace
 * an unreadable one, and to keep a new filter. */
static int ckpt_replace(file_backend *fb, evs__be_consumer *h, int64_t pos, int64_t ts_ns)
{
    char path[STORE_PATH_MAX], tmp[STORE_PATH_MAX], dir[STORE_PATH_MAX];
    int rc = cpaths(fb, h->name, ".ckpt", path, ".ckpt.tmp", tmp, dir);
    if (rc < 0)
        return rc;
    size_t text_len = h->filter ? strlen(h->filter) : 0;
    size_t len = CKPT_FILE_LEN + (h->filter ? FILT_HDR_LEN + text_len : 0);
    unsigned char *buf = evs__calloc(1, len);
    if (!buf)
        return evs__seterr(EVS_ENOMEM, "out of memory saving consumer '%s'", h->name);
    slot_encode(buf + CKPT_SLOT_STEP, 1, pos, ts_ns);
    if (h->filter) {
        unsigned char *f = buf + CKPT_FILE_LEN;
        memcpy(f + FILT_OFF_MAGIC, FILT_MAGIC, 8);
        evs__put_u32(f + FILT_OFF_LEN, (uint32_t)text_len);
        memcpy(f + FILT_HDR_LEN, h->filter, text_len);
        evs__put_u32(f + FILT_OFF_CRC,
                     evs__crc32c(evs__crc32c(0, f, FILT_OFF_CRC), h->filter, text_len));
    }
    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int saved = errno;
        evs__free(buf);
        return evs__seterr_errno(saved, "cannot create '%s'", tmp);
    }
    int wrc = evs__pwrite_all(fd, buf, len, 0);
    evs__free(buf);
    if (wrc < 0 || evs__sys.fsync(fd) < 0) {
        int saved = errno;
        evs__sys.close(fd);
        evs__sys.unlink(tmp);
        return evs__seterr_errno(saved, "cannot write '%s'", tmp);
    }
    evs__sys.close(fd);
    if (evs__sys.rename(tmp, path) < 0) {
        int saved = errno;
        evs__sys.unlink(tmp);
        return evs__seterr_errno(saved, "cannot rename '%s' to '%s'", tmp, path);
    }
    if (evs__dirsync(dir) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", dir);
    if (h->ckpt_fd >= 0)
        evs__sys.close(h->ckpt_fd);
    h->ckpt_fd = evs__sys.open(path, O_RDWR | O_CLOEXEC, 0);
    if (h->ckpt_fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    h->seq = 1;
    return 0;
}

/* ---- the methods ------------------------------------------------------------------ */

/* Is fd still the file at path? A consumer being deleted unlinks its lock file while
 * holding the lock; whoever opened the old file before that must not count its lock. */
static bool same_file(int fd, const char *path)
{
    struct stat a, b;
    return evs__sys.fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int evs__file_consumer_lock(evs__backend *be, const char *name, evs__be_consumer **out)
{
    file_backend *fb = (file_backend *)be;
    *out = NULL;
    if (fb->readonly)
        return evs__seterr(EVS_EREADONLY, "consumer '%s': the store '%s' was opened read-only",
                           name, fb->dir);
    char path[STORE_PATH_MAX];
    int rc = ensure_dir(fb);
    if (rc == 0)
        rc = cpath(fb, name, ".lock", path, sizeof path);
    if (rc < 0)
        return rc;
    int64_t deadline = evs__monotonic_ns() + LOCK_GRACE_NS;
    int fd;
    for (;;) {
        fd = evs__sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return evs__seterr_errno(errno, "cannot open '%s'", path);
        if (evs__sys.flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (same_file(fd, path))
                break;
            evs__sys.close(fd); /* deleted meanwhile: lock the new file */
            continue;
        }
        int err = errno;
        evs__sys.close(fd);
        if (err != EWOULDBLOCK && err != EINTR)
            return evs__seterr_errno(err, "cannot lock '%s'", path);
        if (evs__monotonic_ns() >= deadline)
            return evs__seterr(EVS_EBUSY,
                               "consumer '%s' is busy: another handle (in this or another "
                               "process) has it open",
                               name);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    evs__be_consumer *h = evs__calloc(1, sizeof *h);
    if (!h) {
        evs__sys.close(fd);
        return evs__seterr(EVS_ENOMEM, "out of memory opening consumer '%s'", name);
    }
    snprintf(h->name, sizeof h->name, "%s", name);
    h->lock_fd = fd;
    h->ckpt_fd = -1;
    *out = h;
    return 0;
}

void evs__file_consumer_unlock(evs__backend *be, evs__be_consumer *h)
{
    (void)be;
    if (!h)
        return;
    if (h->ckpt_fd >= 0)
        evs__sys.close(h->ckpt_fd);
    evs__sys.close(h->lock_fd); /* drops the flock */
    evs__free(h->filter);
    evs__free(h);
}

/* Open consumer `name`'s checkpoint file for reading, its path in `path`:
 * EVS_ENOTFOUND when the consumer does not exist. */
static int ckpt_open_read(const file_backend *fb, const char *name, char *path, size_t len, int *fd)
{
    int rc = cpath(fb, name, ".ckpt", path, len);
    if (rc < 0)
        return rc;
    *fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (*fd >= 0)
        return 0;
    if (errno == ENOENT)
        return evs__seterr(EVS_ENOTFOUND, "no consumer '%s' in store '%s'", name, fb->dir);
    return evs__seterr_errno(errno, "cannot open '%s'", path);
}

int evs__file_checkpoint_load(evs__backend *be, const char *name, int64_t *pos, int64_t *ts_ns)
{
    file_backend *fb = (file_backend *)be;
    char path[STORE_PATH_MAX];
    int fd;
    int rc = ckpt_open_read(fb, name, path, sizeof path, &fd);
    if (rc < 0)
        return rc;
    uint64_t seq;
    rc = slots_read(fd, name, path, &seq, pos, ts_ns);
    evs__sys.close(fd);
    return rc == 0 ? evs__lost_check_checkpoint(fb, name, *pos) : rc;
}

/* First save through a handle: find the newest slot on disk, or decide to replace.
 * The filter the file keeps goes into the handle, so that a replacement keeps it; a
 * damaged filter is dropped, and the file replaced without it (the repair that
 * evs_consumer_reset promises; the next open keeps its own filter then). */
static int ckpt_attach(file_backend *fb, evs__be_consumer *h, bool *replace)
{
    char path[STORE_PATH_MAX];
    int rc = cpath(fb, h->name, ".ckpt", path, sizeof path);
    if (rc < 0)
        return rc;
    *replace = true;
    int fd = evs__sys.open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "cannot open '%s'", path);
    char *filter = NULL;
    rc = filter_read(fd, h->name, path, &filter);
    bool filter_ok = rc == 0;
    if (rc == 0 && !h->filter) {
        h->filter = filter;
        filter = NULL;
    }
    evs__free(filter);
    if (rc == EVS_ECORRUPT)
        evs__clearerr();
    else if (rc < 0) {
        evs__sys.close(fd);
        return rc;
    }
    int64_t pos, ts;
    rc = slots_read(fd, h->name, path, &h->seq, &pos, &ts);
    if (rc == EVS_ECORRUPT || (rc == 0 && !filter_ok)) {
        evs__clearerr(); /* unreadable: replaced whole, which is the repair */
        evs__sys.close(fd);
        return 0;
    }
    if (rc < 0) {
        evs__sys.close(fd);
        return rc;
    }
    h->ckpt_fd = fd;
    *replace = false;
    return 0;
}

int evs__file_checkpoint_store(evs__backend *be, evs__be_consumer *h, int64_t pos, int64_t ts_ns,
                               bool durable)
{
    file_backend *fb = (file_backend *)be;
    const lost_range *lost = pos > 0 ? evs__lost_find(fb, (uint64_t)pos) : NULL;
    if (lost) /* only a reset can name such a position: no event has it */
        return evs__seterr(EVS_EINVAL,
                           "position %" PRId64 " lies in positions %" PRIu64 "..%" PRIu64
                           " that a repair declared lost: reset consumer '%s' to %" PRIu64
                           " (the next event is after them) or lower",
                           pos, lost->first, lost->last, h->name, lost->first - 1);
    if (h->ckpt_fd < 0) {
        bool replace = true;
        int rc = h->replace ? 0 : ckpt_attach(fb, h, &replace);
        if (rc < 0)
            return rc;
        if (replace) {
            rc = ckpt_replace(fb, h, pos, ts_ns);
            h->replace = rc < 0;
            return rc;
        }
    }
    uint64_t seq = h->seq + 1;
    unsigned char slot[CKPT_SLOT_LEN];
    slot_encode(slot, seq, pos, ts_ns);
    off_t off = (off_t)(seq % 2) * CKPT_SLOT_STEP;
    if (evs__pwrite_all(h->ckpt_fd, slot, sizeof slot, off) < 0 ||
        (durable && evs__datasync(h->ckpt_fd) < 0)) {
        int saved = errno;
        /* After a failed write or sync the page cache may not hold what the disk does:
         * the next save replaces the file whole rather than trusting either slot. */
        evs__sys.close(h->ckpt_fd);
        h->ckpt_fd = -1;
        h->replace = true;
        return evs__seterr_errno(saved, "consumer '%s': cannot save the checkpoint", h->name);
    }
    h->seq = seq;
    return 0;
}

int evs__file_filter_load(evs__backend *be, const char *name, char **out)
{
    *out = NULL;
    char path[STORE_PATH_MAX];
    int fd;
    int rc = ckpt_open_read((file_backend *)be, name, path, sizeof path, &fd);
    if (rc < 0)
        return rc;
    rc = filter_read(fd, name, path, out);
    evs__sys.close(fd);
    return rc;
}

int evs__file_filter_store(evs__backend *be, evs__be_consumer *h, const char *text, int64_t pos,
                           int64_t ts_ns)
{
    char *copy = evs__strndup(text, strlen(text));
    if (!copy)
        return evs__seterr(EVS_ENOMEM, "out of memory saving consumer '%s'", h->name);
    evs__free(h->filter);
    h->filter = copy;
    int rc = ckpt_replace((file_backend *)be, h, pos, ts_ns);
    /* A failed replacement may have left either file: the next save replaces again. */
    h->replace = rc < 0;
    return rc;
}

int evs__file_consumer_delete(evs__backend *be, evs__be_consumer *h)
{
    file_backend *fb = (file_backend *)be;
    char ckpt[STORE_PATH_MAX], lock[STORE_PATH_MAX], dir[STORE_PATH_MAX];
    int rc = cpaths(fb, h->name, ".ckpt", ckpt, ".lock", lock, dir);
    if (rc < 0)
        return rc;
    bool existed = true;
    if (evs__sys.unlink(ckpt) < 0) {
        if (errno != ENOENT)
            return evs__seterr_errno(errno, "cannot remove '%s'", ckpt);
        existed = false;
    }
    /* The lock file goes too (while we still hold its lock: see same_file). */
    if (evs__sys.unlink(lock) < 0 && errno != ENOENT)
        return evs__seterr_errno(errno, "cannot remove '%s'", lock);
    if (!existed)
        return evs__seterr(EVS_ENOTFOUND, "no consumer '%s' in store '%s'", h->name, fb->dir);
    if (evs__dirsync(dir) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", dir);
    return 0;
}

/* Does some handle hold the consumer's lock? Probed with a shared lock that is dropped
 * at once (consumer_lock tolerates the probe; see LOCK_GRACE_NS). */
static bool lock_held(const file_backend *fb, const char *name)
{
    char path[STORE_PATH_MAX];
    if (cpath(fb, name, ".lock", path, sizeof path) < 0)
        return false;
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool held = false;
    if (evs__sys.flock(fd, LOCK_SH | LOCK_NB) == 0)
        evs__sys.flock(fd, LOCK_UN);
    else
        held = errno == EWOULDBLOCK;
    evs__sys.close(fd);
    return held;
}

int evs__file_consumer_list(evs__backend *be, evs__consumer_cb cb, void *ctx)
{
    file_backend *fb = (file_backend *)be;
    char dir[STORE_PATH_MAX];
    int rc = evs__path(fb, CONSUMERS_DIR, dir, sizeof dir);
    if (rc < 0)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "cannot read directory '%s'", dir);
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || len - 5 > EVS_MAX_CONSUMER_NAME_LEN ||
            strcmp(e->d_name + len - 5, ".ckpt") != 0)
            continue;
        char name[EVS_MAX_CONSUMER_NAME_LEN + 1];
        memcpy(name, e->d_name, len - 5);
        name[len - 5] = '\0';
        evs__consumer_entry ent = {name, 0, -1, 0, false, NULL};
        ent.status = evs__file_checkpoint_load(be, name, &ent.pos, &ent.ts_ns);
        if (ent.status == EVS_ENOTFOUND)
            continue; /* deleted since readdir saw it */
        char *filter = NULL;
        if (ent.status == 0)
            ent.status = evs__file_filter_load(be, name, &filter);
        if (ent.status == EVS_ENOTFOUND)
            continue;
        if (ent.status == EVS_ENOMEM) {
            rc = ent.status;
            break;
        }
        evs__clearerr();
        ent.filter = filter;
        ent.open = lock_held(fb, name);
        rc = cb(ctx, &ent);
        evs__free(filter);
    }
    closedir(d);
    return rc;
}
