/*
 * segment.c - segment files: naming, listing, creating, mapping them for reading, and
 * their offset indexes (.idx: the byte offset of every record, by position).
 *
 * Segments are mapped read-only and read in place; writes go through the writer's own
 * descriptor (the page cache keeps the two coherent). A mapping is replaced by a
 * larger one when a segment outgrows it, and the old one is kept until close, so a
 * pointer handed to a reader stays valid for as long as the API promises.
 */
#define _GNU_SOURCE
#include "segment.h"
#include "segment_zstd.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "head.h"
#include "path.h"
#include "record.h"
#include "segment_locate.h"
#include "sysio.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_ROUND(n) (((n) + 4095u) & ~(uint64_t)4095u)

size_t evs__seg_count(file_backend *fb)
{
    pthread_rwlock_rdlock(&fb->seg_lock);
    size_t n = fb->seg_count;
    pthread_rwlock_unlock(&fb->seg_lock);
    return n;
}

seg *evs__seg_at(file_backend *fb, size_t i)
{
    pthread_rwlock_rdlock(&fb->seg_lock);
    seg *s = i < fb->seg_count ? fb->segs[i] : NULL;
    pthread_rwlock_unlock(&fb->seg_lock);
    return s;
}

/* Index of the last segment whose first_pos <= pos, or -1. Caller holds seg_lock. */
static long find_index(const file_backend *fb, uint64_t pos)
{
    long lo = 0, hi = (long)fb->seg_count - 1, found = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (fb->segs[mid]->first_pos <= pos) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

seg *evs__seg_find(file_backend *fb, uint64_t pos)
{
    pthread_rwlock_rdlock(&fb->seg_lock);
    long i = find_index(fb, pos);
    seg *s = i >= 0 ? fb->segs[i] : NULL;
    pthread_rwlock_unlock(&fb->seg_lock);
    return s;
}

seg *evs__seg_by_first(file_backend *fb, uint64_t first_pos)
{
    seg *s = evs__seg_find(fb, first_pos);
    return s && s->first_pos == first_pos ? s : NULL;
}

seg *evs__seg_next(file_backend *fb, const seg *s)
{
    pthread_rwlock_rdlock(&fb->seg_lock);
    long i = find_index(fb, s->first_pos);
    seg *n = (i >= 0 && (size_t)i + 1 < fb->seg_count) ? fb->segs[i + 1] : NULL;
    pthread_rwlock_unlock(&fb->seg_lock);
    return n;
}

int evs__seg_add(file_backend *fb, uint64_t first_pos, seg **out)
{
    pthread_rwlock_wrlock(&fb->seg_lock);
    long i = find_index(fb, first_pos);
    if (i >= 0 && fb->segs[i]->first_pos == first_pos) {
        if (out)
            *out = fb->segs[i];
        pthread_rwlock_unlock(&fb->seg_lock);
        return 0;
    }
    int rc = 0;
    seg *s = evs__calloc(1, sizeof *s);
    if (!s) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory adding a segment");
        goto out;
    }
    atomic_init(&s->fd, -1);
    s->fb = fb;
    s->first_pos = first_pos;
    evs__seg_name(s->name, sizeof s->name, first_pos, "seg");
    if (fb->seg_count == fb->seg_cap) {
        size_t cap = fb->seg_cap ? fb->seg_cap * 2 : 16;
        seg **n = evs__realloc(fb->segs, cap * sizeof *n);
        if (!n) {
            rc = evs__seterr(EVS_ENOMEM, "out of memory adding a segment");
            goto out;
        }
        fb->segs = n;
        fb->seg_cap = cap;
    }
    size_t at = (size_t)(i + 1);
    memmove(fb->segs + at + 1, fb->segs + at, (fb->seg_count - at) * sizeof *fb->segs);
    fb->segs[at] = s;
    fb->seg_count++;
    if (out)
        *out = s;
    s = NULL;
out:
    evs__free(s);
    pthread_rwlock_unlock(&fb->seg_lock);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A segment file name is exactly 20 decimal digits and ".seg", or ".zseg" when it is
 * compressed (segment_zstd.c). */
static bool parse_seg_name(const char *n, uint64_t *first)
{
    size_t len = strlen(n);
    if (!(len == 24 && strcmp(n + 20, ".seg") == 0) && !(len == 25 && strcmp(n + 20, ".zseg") == 0))
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (n[i] < '0' || n[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(n[i] - '0');
    }
    *first = v;
    return v > 0;
}

/* The temporary file of a cache (.idx, .sdx, .tdx) being written is "<segment>.<ext>.<pid>.tmp".
 * One whose process is gone was left by a crash and will never be renamed: remove it.
 * A pid that names no process here counts as gone. A writer in another pid namespace
 * sharing the directory could lose its temporary file so; that costs it only the
 * cache (its rename fails, and a later reader makes it again). */
static bool stale_temp(const char *n)
{
    size_t len = strlen(n);
    if (len < 30 || strcmp(n + len - 4, ".tmp") != 0 ||
        (memcmp(n + 20, ".idx.", 5) != 0 && memcmp(n + 20, ".sdx.", 5) != 0 &&
         memcmp(n + 20, ".tdx.", 5) != 0))
        return false;
    for (int i = 0; i < 20; i++)
        if (n[i] < '0' || n[i] > '9')
            return false;
    return evs__tmp_pid_gone(n + 25, n + len - 4);
}

bool evs__tmp_pid_gone(const char *digits, const char *end)
{
    long pid = 0;
    for (const char *p = digits; p < end; p++) {
        if (*p < '0' || *p > '9' || pid > 1L << 30)
            return false;
        pid = pid * 10 + (*p - '0');
    }
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int add_first(file_backend *fb, uint64_t first_pos)
{
    return evs__seg_add(fb, first_pos, NULL);
}

static int list_dir(file_backend *fb, bool sweep)
{
    DIR *d = opendir(fb->dir);
    if (!d)
        return evs__seterr_errno(errno, "cannot read directory '%s'", fb->dir);
    uint64_t *firsts = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t first;
        if (!parse_seg_name(e->d_name, &first)) {
            char path[STORE_PATH_MAX];
            if (sweep && (stale_temp(e->d_name) || evs__zseg_stale_temp(e->d_name)) &&
                evs__path(fb, e->d_name, path, sizeof path) == 0)
                (void)evs__sys.unlink(path); /* a cache's leftover: at worst it stays */
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *nf = evs__realloc(firsts, cap * sizeof *nf);
            if (!nf) {
                rc = evs__seterr(EVS_ENOMEM, "out of memory listing segments");
                break;
            }
            firsts = nf;
        }
        firsts[n++] = first;
    }
    closedir(d);
    if (rc == 0) {
        if (n > 1)
            qsort(firsts, n, sizeof *firsts, cmp_u64);
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (firsts[i] >= fb->log_start)
                rc = evs__seg_add(fb, firsts[i], NULL);
            else if (sweep) /* dropped by retention, which died before removing it */
                (void)evs__seg_remove_file(fb, firsts[i]);
        }
    }
    evs__free(firsts);
    if (rc == 0) /* sealed segments moved to the archive directory (archive.c) */
        rc = evs__archive_list(fb, add_first);
    return rc;
}

int evs__seg_load_all(file_backend *fb)
{
    return list_dir(fb, false);
}

int evs__seg_load_all_sweep(file_backend *fb)
{
    return list_dir(fb, true);
}

int evs__seg_create_file(file_backend *fb, uint64_t first_pos)
{
    char path[STORE_PATH_MAX];
    int rc = evs__seg_path(fb, first_pos, "seg", path, sizeof path);
    if (rc < 0)
        return rc;
    unsigned char h[SEG_HDR_LEN];
    memset(h, 0, sizeof h);
    memcpy(h + SEG_OFF_MAGIC, SEG_MAGIC, 8);
    evs__put_u32(h + SEG_OFF_FMT, EVS_FORMAT_VERSION);
    evs__put_u32(h + SEG_OFF_HLEN, SEG_HDR_LEN);
    evs__put_u64(h + SEG_OFF_FIRST, first_pos);
    evs__put_u64(h + SEG_OFF_CTIME, (uint64_t)evs__now_ns());
    memcpy(h + SEG_OFF_ID, fb->store_id, 16);
    evs__put_u32(h + SEG_OFF_CRC, evs__crc32c(0, h, SEG_OFF_CRC));

    int fd = evs__sys.open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot create segment '%s'", path);
    /* The header is synced and the directory entry made durable before any record goes
     * in, so after a power loss a segment either exists whole or not at all. */
    if (evs__pwrite_all(fd, h, sizeof h, 0) < 0 || evs__datasync(fd) < 0) {
        rc = evs__seterr_errno(errno, "cannot write segment header '%s'", path);
        evs__sys.close(fd);
        evs__sys.unlink(path);
        return rc;
    }
    evs__sys.close(fd);
    if (evs__dirsync(fb->dir) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", fb->dir);
    return 0;
}

void evs__seg_forget(file_backend *fb, uint64_t first_pos)
{
    pthread_rwlock_wrlock(&fb->seg_lock);
    long i = find_index(fb, first_pos);
    if (i >= 0 && fb->segs[i]->first_pos == first_pos) {
        seg *s = fb->segs[i];
        memmove(fb->segs + i, fb->segs + i + 1, (fb->seg_count - (size_t)i - 1) * sizeof *fb->segs);
        fb->seg_count--;
        /* Kept until close: a reader may still hold it. */
        s->dropped_next = fb->dropped;
        fb->dropped = s;
    }
    pthread_rwlock_unlock(&fb->seg_lock);
}

static int remove_files(file_backend *fb, uint64_t first_pos, const char *const *exts, int n)
{
    char path[STORE_PATH_MAX];
    for (int i = 0; i < n; i++) {
        int rc = evs__seg_path(fb, first_pos, exts[i], path, sizeof path);
        if (rc < 0)
            return rc;
        if (evs__sys.unlink(path) < 0 && errno != ENOENT)
            return evs__seterr_errno(errno, "cannot remove '%s'", path);
    }
    return 0;
}

int evs__seg_remove_file(file_backend *fb, uint64_t first_pos)
{
    static const char *const exts[] = {"seg", "zseg", "idx", "sdx", "tdx"};
    evs__seg_forget(fb, first_pos);
    return remove_files(fb, first_pos, exts, 5);
}

int evs__seg_remove_caches(file_backend *fb, uint64_t first_pos)
{
    static const char *const exts[] = {"idx", "sdx", "tdx"};
    return remove_files(fb, first_pos, exts, 3);
}

/* Opening a segment's file decides whether it is read plain or compressed, once. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;

/* Open s's file: the plain one (in the store's folder or the archive's), else the
 * compressed one. The caller holds open_mu. */
static int open_file(seg *s)
{
    int fd = evs__seg_open_located(s->fb, s->name);
    if (fd == EVS_ENOTFOUND) {
        zseg *z;
        mapping *region;
        fd = evs__zseg_open(s->fb, s, &z, &region);
        if (fd == EVS_ENOTFOUND)
            return evs__seterr_errno(ENOENT,
                                     "cannot open segment '%s' (nor its .zseg, here or in the "
                                     "archive)",
                                     s->name);
        if (fd < 0)
            return fd;
        /* z before data, data before fd: a reader that sees the region sees z. */
        atomic_store(&s->z, z);
        atomic_store(&s->data, region);
    } else if (fd < 0) {
        return fd;
    }
    atomic_store(&s->fd, fd);
    return fd;
}

int evs__seg_fd(seg *s)
{
    int fd = atomic_load(&s->fd);
    if (fd >= 0)
        return fd;
    pthread_mutex_lock(&open_mu);
    fd = atomic_load(&s->fd);
    if (fd < 0)
        fd = open_file(s);
    pthread_mutex_unlock(&open_mu);
    return fd;
}

int evs__seg_file_size(seg *s, uint64_t *out)
{
    int fd = evs__seg_fd(s);
    if (fd < 0)
        return fd;
    zseg *z = atomic_load(&s->z);
    if (z) {
        *out = evs__zseg_plain_len(z);
        return 0;
    }
    /* lseek, not fstat: a query of the file's ctime makes the writer's next write stamp
     * the inode with the fine-grained clock (Linux 6.13 on), and its fdatasync then
     * writes the inode too (writer_prepare in commit.c). */
    off_t size = evs__sys.lseek(fd, 0, SEEK_END);
    if (size < 0)
        return evs__seterr_errno(errno, "cannot find the size of segment '%s'", s->name);
    *out = (uint64_t)size;
    return 0;
}

int64_t evs__seg_pread(seg *s, void *buf, size_t len, uint64_t off)
{
    int fd = evs__seg_fd(s);
    if (fd < 0)
        return fd;
    zseg *z = atomic_load(&s->z);
    if (z) {
        uint64_t plain = evs__zseg_plain_len(z);
        size_t n = off >= plain ? 0 : (size_t)(plain - off < len ? plain - off : len);
        return evs__zseg_copy(z, buf, off, n);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = evs__sys.pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return evs__seterr_errno(errno, "cannot read segment %s at byte %" PRIu64, s->name,
                                     off + got);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (int64_t)got;
}

bool evs__seg_header_bad(const file_backend *fb, const seg *s, const unsigned char *h, char *why,
                         size_t why_len, int64_t *off)
{
    *off = 0;
    if (memcmp(h + SEG_OFF_MAGIC, SEG_MAGIC, 8) != 0 ||
        evs__get_u32(h + SEG_OFF_CRC) != evs__crc32c(0, h, SEG_OFF_CRC)) {
        snprintf(why, why_len, "bad segment header (magic or checksum)");
        return true;
    }
    if (evs__get_u64(h + SEG_OFF_FIRST) != s->first_pos) {
        *off = SEG_OFF_FIRST;
        snprintf(why, why_len, "header says first position %" PRIu64,
                 evs__get_u64(h + SEG_OFF_FIRST));
        return true;
    }
    if (memcmp(h + SEG_OFF_ID, fb->store_id, 16) != 0) {
        *off = SEG_OFF_ID;
        snprintf(why, why_len, "the segment belongs to another store");
        return true;
    }
    return false;
}

/* A new read-only mapping of len bytes of fd, or NULL with the error set (naming what). */
static mapping *map_new(int fd, uint64_t len, const char *what)
{
    mapping *m = evs__calloc(1, sizeof *m);
    void *p = m ? evs__sys.mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (p == MAP_FAILED) {
        if (m)
            evs__seterr_errno(errno, "cannot map %s", what);
        else
            evs__seterr(EVS_ENOMEM, "out of memory mapping %s", what);
        evs__free(m);
        return NULL;
    }
    m->base = p;
    m->len = len;
    return m;
}

/* Put m in *slot; the mapping it replaces is kept until close, since a reader may still
 * hold a pointer into it. The caller holds map_mu. */
static void map_publish(file_backend *fb, _Atomic(mapping *) *slot, mapping *m)
{
    mapping *cur = atomic_load(slot);
    if (cur) {
        cur->retired_next = fb->retired;
        fb->retired = cur;
    }
    atomic_store(slot, m);
}

/* Replace *slot's mapping by one of at least need_len bytes of fd. */
static const mapping *map_grow(file_backend *fb, _Atomic(mapping *) *slot, int fd,
                               uint64_t need_len, const char *what)
{
    pthread_mutex_lock(&fb->map_mu);
    mapping *cur = atomic_load(slot);
    if (cur && cur->len >= need_len) {
        pthread_mutex_unlock(&fb->map_mu);
        return cur;
    }
    /* Map well past the file's end (at least a segment's worth): touching pages past
     * EOF would fault, but nothing reads past the committed end, and a roomy mapping is
     * replaced rarely. */
    uint64_t len = need_len;
    if (len < fb->opts.segment_size + (1u << 20))
        len = fb->opts.segment_size + (1u << 20);
    if (cur && len < cur->len * 2)
        len = cur->len * 2;
    mapping *m = map_new(fd, PAGE_ROUND(len), what);
    if (m)
        map_publish(fb, slot, m);
    pthread_mutex_unlock(&fb->map_mu);
    return m;
}

const mapping *evs__seg_map_range(file_backend *fb, seg *s, uint64_t from, uint64_t to)
{
    zseg *z = atomic_load(&s->z);
    if (!z) {
        mapping *m = atomic_load(&s->data);
        if (m && m->len >= to && !atomic_load(&s->z))
            return m;
        int fd = evs__seg_fd(s);
        if (fd < 0)
            return NULL;
        z = atomic_load(&s->z);
        if (!z)
            return map_grow(fb, &s->data, fd, to, s->name);
    }
    return evs__zseg_fill(z, from, to) < 0 ? NULL : atomic_load(&s->data);
}

const mapping *evs__seg_map(file_backend *fb, seg *s, uint64_t need_len)
{
    return evs__seg_map_range(fb, s, 0, need_len);
}

/* Is [0, end) inside the file? Reads through the mapping past the end of the file
 * would fault, so every offset that comes from disk (links, indexes) is checked. What a
 * handle remembers of a file's size must stay true while the file is in use: the
 * committed part only grows, but past it the segment being written holds zeros that its
 * writer cuts when it seals the segment or closes the store (commit.c,
 * active_segment.c). So for that segment no more than the head's end is remembered; the
 * head is read before the size, and records reach the file before the head that covers
 * them is published. */
static int check_extent(seg *s, uint64_t off, uint64_t end)
{
    if (end <= atomic_load_explicit(&s->size_seen, memory_order_relaxed))
        return 0;
    head_view h;
    evs__head_read(s->fb, &h);
    uint64_t size = 0; /* set on success; gcc -O2 cannot see that every failure returns */
    int rc = evs__seg_file_size(s, &size);
    if (rc < 0)
        return rc;
    if (end > size)
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: a record at byte %" PRIu64 " would end at byte %" PRIu64
                           ", past the end of the file (%" PRIu64 " bytes)",
                           s->name, off, end, size);
    atomic_store_explicit(&s->size_seen, s->first_pos == h.seg && size > h.end ? h.end : size,
                          memory_order_relaxed);
    return 0;
}

int evs__seg_check_end(seg *s, uint64_t end)
{
    /* The last record's zero padding (under 8 bytes) is never read, and a read-only
     * handle does not put it back when a crash cut it. */
    return check_extent(s, 0, end >= 8 ? end - 7 : end);
}

int evs__seg_cut(file_backend *fb, uint64_t first_pos, uint64_t end)
{
    char path[STORE_PATH_MAX];
    int rc = evs__seg_path(fb, first_pos, "seg", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDWR, 0);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    off_t size = evs__sys.lseek(fd, 0, SEEK_END);
    if (size < 0 || ((uint64_t)size != end && evs__sys.ftruncate(fd, (off_t)end) < 0))
        rc = evs__seterr_errno(errno, "cannot cut '%s' at byte %" PRIu64, path, end);
    else if (evs__datasync(fd) < 0)
        rc = evs__seterr_errno(errno, "cannot sync '%s'", path);
    int saved = errno;
    evs__sys.close(fd);
    errno = saved;
    /* This handle's note of how long the file is known to be would let a read past the
     * new end through. */
    seg *s = evs__seg_by_first(fb, first_pos);
    if (s)
        atomic_store(&s->size_seen, 0);
    return rc;
}

bool evs__all_zero(const unsigned char *p, size_t n)
{
    /* p[0] is zero and every byte equals the one after it. */
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int evs__seg_tail_clean(int fd, uint64_t end, uint64_t size, bool *clean)
{
    *clean = size == end;
    if (size <= end)
        return 0;
    unsigned char b[8];
    size_t n = size - end < sizeof b ? (size_t)(size - end) : sizeof b;
    int rc = evs__pread_all(fd, b, n, (off_t)end);
    if (rc != 0) /* 1: the file shrank under us */
        return evs__seterr_errno(rc < 0 ? errno : EIO, "cannot read the end of the active segment");
    *clean = evs__all_zero(b, n);
    return 0;
}

int evs__seg_read_at(file_backend *fb, seg *s, uint64_t off, bool check_crc, rec_view *out)
{
    int rc = check_extent(s, off, off + REC_HDR_LEN);
    if (rc < 0)
        return rc;
    const mapping *m = evs__seg_map_range(fb, s, off, off + REC_HDR_LEN);
    if (!m)
        return evs__lasterr_code();
    uint32_t len = evs__get_u32(m->base + off + REC_OFF_LEN);
    if (len > REC_HDR_LEN && (rc = check_extent(s, off, off + len)) < 0)
        return rc;
    if (len > REC_HDR_LEN && atomic_load(&s->z) && !(m = evs__seg_map_range(fb, s, off, off + len)))
        return evs__lasterr_code();
    int st = evs__rec_decode(m->base + off, m->len - off, check_crc, out);
    if (st == REC_SHORT && out->len >= REC_HDR_LEN) {
        m = evs__seg_map_range(fb, s, off, off + out->len);
        if (!m)
            return evs__lasterr_code();
        st = evs__rec_decode(m->base + off, m->len - off, check_crc, out);
    }
    if (st != REC_OK)
        return evs__seterr(EVS_ECORRUPT, "segment %s: %s at byte %" PRIu64,
                           s->name, evs__rec_status_str(st), off);
    return 0;
}

bool evs__seg_tail_matches(file_backend *fb, seg *s, uint64_t seg_len, uint32_t last_off,
                           uint32_t last_crc, uint64_t last_pos)
{
    uint64_t len = 0;
    if (evs__seg_file_size(s, &len) < 0 || len != seg_len || last_off < SEG_HDR_LEN ||
        (uint64_t)last_off + REC_HDR_LEN > len) {
        evs__clearerr();
        return false;
    }
    /* Read, not mapped: a compressed segment then keeps nothing decompressed for it. */
    (void)fb;
    unsigned char h[REC_HDR_LEN];
    bool ok = evs__seg_pread(s, h, sizeof h, last_off) == (int64_t)sizeof h &&
              evs__get_u32(h + REC_OFF_CRC) == last_crc &&
              evs__get_u64(h + REC_OFF_POS) == last_pos;
    evs__clearerr();
    return ok;
}

mapping *evs__seg_map_cache(file_backend *fb, seg *s, const char *ext, size_t min_len,
                            bool (*check)(file_backend *fb, seg *s, const mapping *m),
                            bool *missing)
{
    char path[STORE_PATH_MAX];
    *missing = false;
    if (evs__seg_path(fb, s->first_pos, ext, path, sizeof path) < 0) {
        evs__clearerr();
        return NULL;
    }
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0) {
        *missing = errno == ENOENT;
        return NULL;
    }
    struct stat st;
    void *p = MAP_FAILED;
    if (evs__sys.fstat(fd, &st) == 0 && (uint64_t)st.st_size >= min_len)
        p = evs__sys.mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    evs__sys.close(fd);
    if (p == MAP_FAILED)
        return NULL;
    mapping *m = evs__calloc(1, sizeof *m);
    if (m) {
        m->base = p;
        m->len = (size_t)st.st_size;
        bool fit = check(fb, s, m);
        evs__clearerr();
        if (fit)
            return m;
    }
    evs__sys.munmap(p, (size_t)st.st_size);
    evs__free(m);
    evs__clearerr();
    return NULL;
}

int evs__seg_write_cache(file_backend *fb, uint64_t first_pos, const char *ext, const void *buf,
                         size_t len)
{
    char path[STORE_PATH_MAX], tmp[STORE_TMP_PATH_MAX];
    int rc = evs__seg_path(fb, first_pos, ext, path, sizeof path);
    if (rc < 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()); /* see stale_temp */
    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot create '%s'", tmp);
    if (evs__pwrite_all(fd, buf, len, 0) < 0)
        rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
    evs__sys.close(fd);
    if (rc == 0 && evs__sys.rename(tmp, path) < 0)
        rc = evs__seterr_errno(errno, "cannot rename '%s' to '%s'", tmp, path);
    if (rc < 0)
        (void)evs__sys.unlink(tmp);
    return rc;
}

/* Rebuild a sealed segment's .idx from the segment itself, atomically replacing the
 * file (several processes may do this at once: they write identical bytes). */
static int idx_rebuild(file_backend *fb, seg *s, uint64_t count)
{
    evs__buf b = EVS__BUF_INIT;
    int rc = evs__buf_reserve(&b, count * IDX_ENTRY_LEN);
    if (rc < 0)
        return rc;
    uint64_t off = SEG_HDR_LEN;
    for (uint64_t i = 0; i < count; i++) {
        rec_view r;
        rc = evs__seg_read_at(fb, s, off, false, &r);
        if (rc < 0)
            goto out;
        if (r.pos != s->first_pos + i) {
            rc = evs__seterr(EVS_ECORRUPT,
                             "segment %s: record at byte %" PRIu64 " has position %" PRIu64
                             " where %" PRIu64 " was expected",
                             s->name, off, r.pos, s->first_pos + i);
            goto out;
        }
        evs__put_u32((unsigned char *)b.ptr + b.len, (uint32_t)off);
        b.len += IDX_ENTRY_LEN;
        off += REC_ALIGN(r.len);
    }
    if (!fb->readonly) /* a read-only handle scans instead */
        rc = evs__seg_write_cache(fb, s->first_pos, "idx", b.ptr, b.len);
out:
    evs__buf_free(&b);
    return rc;
}

/* Make s->idx a mapping of the .idx open at fd (size bytes, inode ino) and return it.
 * The mapping is roomy (a segment's worth of entries) so that the active segment's
 * growing index is remapped rarely; the same file seen longer only raises file_len. */
static const mapping *idx_remap(file_backend *fb, seg *s, int fd, uint64_t size, uint64_t ino,
                                const char *name)
{
    pthread_mutex_lock(&fb->map_mu);
    mapping *cur = atomic_load(&s->idx);
    if (cur && cur->file_id == ino && cur->len >= size) {
        if (size > atomic_load(&cur->file_len))
            atomic_store(&cur->file_len, size);
        pthread_mutex_unlock(&fb->map_mu);
        return cur;
    }
    /* Entries per byte of segment are bounded by the minimum record size. */
    uint64_t len = (fb->opts.segment_size / REC_HDR_LEN + 1) * IDX_ENTRY_LEN;
    mapping *m = map_new(fd, PAGE_ROUND(len > size ? len : size), name);
    if (m) {
        atomic_init(&m->file_len, size);
        m->file_id = ino;
        map_publish(fb, &s->idx, m);
    }
    pthread_mutex_unlock(&fb->map_mu);
    return m;
}

/* Map the .idx of s so that its file holds `count` entries, or return NULL (the caller
 * then scans). What may be read is bounded by the file's size, never by the mapping's
 * length or the segment's: an index shorter than its segment (cut by a crash, damaged,
 * or of a segment whose successor is missing) must not be read past its end. */
static const mapping *idx_map(file_backend *fb, seg *s, uint64_t count)
{
    mapping *m = atomic_load(&s->idx);
    uint64_t need = count * IDX_ENTRY_LEN;
    if (m && atomic_load(&m->file_len) >= need)
        return m;
    char name[32], path[STORE_PATH_MAX];
    evs__seg_name(name, sizeof name, s->first_pos, "idx");
    if (evs__path(fb, name, path, sizeof path) < 0)
        return NULL;
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    struct stat st;
    const mapping *r = NULL;
    if (evs__sys.fstat(fd, &st) == 0 && (uint64_t)st.st_size >= need)
        r = idx_remap(fb, s, fd, (uint64_t)st.st_size, (uint64_t)st.st_ino, name);
    evs__sys.close(fd);
    return r && atomic_load(&r->file_len) >= need ? r : NULL;
}

/* Find the record of pos by walking s from its start: the slow path for a missing or
 * damaged index. */
static int offset_by_scan(file_backend *fb, seg *s, uint64_t pos, uint64_t *off_out)
{
    uint64_t off = SEG_HDR_LEN;
    for (;;) {
        rec_view r;
        int rc = evs__seg_read_at(fb, s, off, false, &r);
        if (rc < 0)
            return rc;
        if (r.pos == pos) {
            *off_out = off;
            return 0;
        }
        if (r.pos > pos)
            return evs__seterr(EVS_ECORRUPT, "segment %s: position %" PRIu64 " is missing", s->name,
                               pos);
        off += REC_ALIGN(r.len);
    }
}

/* Does byte off of s start a whole record of position pos (checksum aside)? A compressed
 * segment's record is copied out, so that nothing decompressed stays for it. */
static bool record_of(file_backend *fb, seg *s, uint64_t off, uint64_t pos)
{
    rec_view r;
    if (evs__seg_fd(s) >= 0 && !atomic_load(&s->z))
        return evs__seg_read_at(fb, s, off, false, &r) == 0 && r.pos == pos;
    unsigned char h[REC_HDR_LEN], *whole = NULL;
    bool ok = evs__seg_pread(s, h, sizeof h, off) == (int64_t)sizeof h &&
              evs__get_u64(h + REC_OFF_POS) == pos;
    uint32_t len = ok ? evs__get_u32(h + REC_OFF_LEN) : 0;
    ok = ok && len >= REC_HDR_LEN && (whole = evs__alloc(len)) != NULL &&
         evs__seg_pread(s, whole, len, off) == (int64_t)len &&
         evs__rec_decode(whole, len, false, &r) == REC_OK;
    evs__free(whole);
    return ok;
}

int evs__seg_offset(file_backend *fb, seg *s, uint64_t pos, uint64_t *off_out)
{
    uint64_t i = pos - s->first_pos;
    for (int attempt = 0; attempt < 2; attempt++) {
        const mapping *m = idx_map(fb, s, i + 1);
        if (m) {
            uint64_t off = evs__get_u32(m->base + i * IDX_ENTRY_LEN);
            /* The entry must lead to a whole record of that position: eight bytes that
             * read as the position can be something else (a record's flags and link). */
            if (off >= SEG_HDR_LEN && off % 8 == 0 && record_of(fb, s, off, pos)) {
                *off_out = off;
                return 0;
            }
        }
        /* Missing, short or wrong: a sealed segment's index is rebuilt once; the active
         * segment's belongs to the writer, which repairs it on recovery. */
        seg *next = evs__seg_next(fb, s);
        if (attempt > 0 || !next)
            break;
        if (idx_rebuild(fb, s, next->first_pos - s->first_pos) < 0)
            break;
        pthread_mutex_lock(&fb->map_mu);
        mapping *old = atomic_exchange(&s->idx, NULL);
        if (old) {
            old->retired_next = fb->retired;
            fb->retired = old;
        }
        pthread_mutex_unlock(&fb->map_mu);
    }
    evs__clearerr();
    return offset_by_scan(fb, s, pos, off_out);
}

int evs__seg_read_pos(file_backend *fb, uint64_t pos, bool check_crc, rec_view *out)
{
    seg *s = evs__seg_find(fb, pos);
    if (!s)
        return evs__seterr(EVS_ECORRUPT, "no segment holds position %" PRIu64, pos);
    uint64_t off;
    int rc = evs__seg_offset(fb, s, pos, &off);
    if (rc < 0)
        return rc;
    rc = evs__seg_read_at(fb, s, off, check_crc, out);
    if (rc == 0 && out->pos != pos)
        rc = evs__seterr(EVS_ECORRUPT,
                         "segment %s: byte %" PRIu64 " holds position %" PRIu64
                         ", expected %" PRIu64,
                         s->name, off, out->pos, pos);
    return rc;
}

static void unmap_chain(mapping *m)
{
    while (m) {
        mapping *next = m->retired_next;
        evs__sys.munmap((void *)m->base, m->len);
        evs__free(m);
        m = next;
    }
}

static void seg_free(seg *s)
{
    unmap_chain(atomic_load(&s->data));
    unmap_chain(atomic_load(&s->idx));
    unmap_chain(atomic_load(&s->sdx.map));
    unmap_chain(atomic_load(&s->tdx.map));
    int fd = atomic_load(&s->fd);
    if (fd >= 0 && !atomic_load(&s->z))
        evs__sys.close(fd);
    evs__zseg_free(atomic_load(&s->z)); /* closes the compressed file's descriptor */
    evs__free(s);
}

void evs__seg_free_all(file_backend *fb)
{
    for (size_t i = 0; i < fb->seg_count; i++)
        seg_free(fb->segs[i]);
    while (fb->dropped) {
        seg *next = fb->dropped->dropped_next;
        seg_free(fb->dropped);
        fb->dropped = next;
    }
    evs__free(fb->segs);
    fb->segs = NULL;
    fb->seg_count = fb->seg_cap = 0;
    unmap_chain(fb->retired);
    fb->retired = NULL;
}
