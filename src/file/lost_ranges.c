/*
 * lost_ranges.c - the `lost` file: positions a repair declared lost.
 *
 * A position, once handed out, never names another event. When `evstore repair` cuts
 * positions that were handed out (or may have been: acknowledged, published, seen by
 * a consumer), the log does not reuse them: it continues after the highest of them,
 * in a new segment, and the range in between is written here. `repair --keep-intact`
 * lists here the positions of damaged records it replaced by fillers (REC_LOST) too.
 * Positions stay gap-free except for these ranges: a scan steps over them, a read from
 * inside one starts after it, verify and stat count them as lost, not as damage.
 *
 * The file is small (one entry per repair that lost something), read whole at open, and
 * only ever replaced whole by repair (temporary file, sync, rename, directory sync), with
 * no other handle open. docs/FORMAT.md has the bytes.
 */
#define _GNU_SOURCE
#include "lost_ranges.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "path.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOST_HDR_LEN   16 /* magic 8, format version 4, count 4 */
#define LOST_ENTRY_LEN 16 /* first u64, last u64 */
#define LOST_MAX       (1u << 16)

int evs__lost_load(file_backend *fb)
{
    char path[STORE_PATH_MAX];
    int fd;
    int rc = evs__path_open_existing(fb, LOST_FILE, path, &fd);
    if (fd < 0)
        return rc;
    struct stat st;
    unsigned char *buf = NULL;
    if (evs__sys.fstat(fd, &st) < 0) {
        rc = evs__seterr_errno(errno, "cannot stat '%s'", path);
    } else if (st.st_size < LOST_HDR_LEN + 4 ||
               st.st_size > LOST_HDR_LEN + 4 + (off_t)LOST_MAX * LOST_ENTRY_LEN) {
        rc = evs__seterr(EVS_ECORRUPT, "'%s' is %lld bytes: not a list of lost positions", path,
                         (long long)st.st_size);
    } else if (!(buf = evs__alloc((size_t)st.st_size))) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", path);
    } else if (evs__pread_all(fd, buf, (size_t)st.st_size, 0) != 0) {
        rc = evs__seterr_errno(errno, "cannot read '%s'", path);
    }
    evs__sys.close(fd);
    size_t len = (size_t)st.st_size;
    uint32_t n = rc == 0 ? evs__get_u32(buf + 12) : 0;
    if (rc == 0 && (memcmp(buf, LOST_MAGIC, 8) != 0 || evs__get_u32(buf + 8) != EVS_FORMAT_VERSION ||
                    len != LOST_HDR_LEN + (size_t)n * LOST_ENTRY_LEN + 4 ||
                    evs__get_u32(buf + len - 4) != evs__crc32c(0, buf, len - 4)))
        rc = evs__seterr(EVS_ECORRUPT,
                         "'%s' is damaged (magic, version, length or checksum): the positions "
                         "a repair declared lost are unknown",
                         path);
    lost_range *r = rc == 0 && n ? evs__calloc(n, sizeof *r) : NULL;
    if (rc == 0 && n && !r)
        rc = evs__seterr(EVS_ENOMEM, "out of memory reading '%s'", path);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        r[i].first = evs__get_u64(buf + LOST_HDR_LEN + i * LOST_ENTRY_LEN);
        r[i].last = evs__get_u64(buf + LOST_HDR_LEN + i * LOST_ENTRY_LEN + 8);
        if (r[i].first == 0 || r[i].last < r[i].first || (i && r[i].first <= r[i - 1].last))
            rc = evs__seterr(EVS_ECORRUPT, "'%s': entry %" PRIu32 " is not a range after the "
                             "one before", path, i);
    }
    evs__free(buf);
    if (rc < 0) {
        evs__free(r);
        return rc;
    }
    evs__free(fb->lost);
    fb->lost = r;
    fb->lost_n = n;
    return 0;
}

const lost_range *evs__lost_find(const file_backend *fb, uint64_t pos)
{
    for (size_t i = 0; i < fb->lost_n; i++)
        if (pos >= fb->lost[i].first && pos <= fb->lost[i].last)
            return &fb->lost[i];
    return NULL;
}

uint64_t evs__lost_skip(const file_backend *fb, uint64_t pos)
{
    const lost_range *r = evs__lost_find(fb, pos);
    return r ? r->last + 1 : pos;
}

bool evs__lost_bridges(const file_backend *fb, uint64_t next_pos, uint64_t first_pos)
{
    const lost_range *r = evs__lost_find(fb, next_pos);
    return r && r->first == next_pos && r->last + 1 == first_pos;
}

uint64_t evs__lost_count(const file_backend *fb, uint64_t from, uint64_t to)
{
    uint64_t n = 0;
    for (size_t i = 0; i < fb->lost_n; i++) {
        uint64_t a = fb->lost[i].first > from ? fb->lost[i].first : from;
        uint64_t b = fb->lost[i].last < to ? fb->lost[i].last : to;
        if (a <= b)
            n += b - a + 1;
    }
    return n;
}

int evs__lost_add(file_backend *fb, uint64_t first, uint64_t last)
{
    size_t at = 0;
    while (at < fb->lost_n && fb->lost[at].last < first)
        at++;
    if (at < fb->lost_n && fb->lost[at].first <= first && last <= fb->lost[at].last)
        return 0; /* listed by a repair that stopped before it was done */
    if (at < fb->lost_n && fb->lost[at].first <= last)
        return evs__seterr(EVS_EINVAL, "lost positions %" PRIu64 "..%" PRIu64
                           " overlap the ones lost before", first, last);
    size_t n = fb->lost_n + 1;
    size_t len = LOST_HDR_LEN + n * LOST_ENTRY_LEN + 4;
    unsigned char *buf = evs__calloc(1, len);
    lost_range *r = evs__realloc(fb->lost, n * sizeof *r);
    if (!buf || !r) {
        evs__free(buf);
        if (r)
            fb->lost = r;
        return evs__seterr(EVS_ENOMEM, "out of memory writing the lost positions");
    }
    fb->lost = r;
    memmove(r + at + 1, r + at, (fb->lost_n - at) * sizeof *r);
    r[at] = (lost_range){first, last};
    memcpy(buf, LOST_MAGIC, 8);
    evs__put_u32(buf + 8, EVS_FORMAT_VERSION);
    evs__put_u32(buf + 12, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        evs__put_u64(buf + LOST_HDR_LEN + i * LOST_ENTRY_LEN, r[i].first);
        evs__put_u64(buf + LOST_HDR_LEN + i * LOST_ENTRY_LEN + 8, r[i].last);
    }
    evs__put_u32(buf + len - 4, evs__crc32c(0, buf, len - 4));
    char path[STORE_PATH_MAX], tmp[STORE_TMP_PATH_MAX];
    int rc = evs__path(fb, LOST_FILE, path, sizeof path);
    if (rc == 0)
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = rc == 0 ? evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (rc == 0 && fd < 0)
        rc = evs__seterr_errno(errno, "cannot create '%s'", tmp);
    if (rc == 0 && (evs__pwrite_all(fd, buf, len, 0) < 0 || evs__datasync(fd) < 0))
        rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
    if (fd >= 0)
        evs__sys.close(fd);
    if (rc == 0 && evs__sys.rename(tmp, path) < 0)
        rc = evs__seterr_errno(errno, "cannot rename '%s' to '%s'", tmp, path);
    if (rc == 0 && evs__dirsync(fb->dir) < 0)
        rc = evs__seterr_errno(errno, "cannot sync the directory '%s'", fb->dir);
    evs__free(buf);
    if (rc < 0) {
        memmove(r + at, r + at + 1, (fb->lost_n - at) * sizeof *r);
        return rc;
    }
    fb->lost_n = n;
    return 0;
}

int evs__lost_check_checkpoint(const file_backend *fb, const char *name, int64_t pos)
{
    const lost_range *r = pos > 0 ? evs__lost_find(fb, (uint64_t)pos) : NULL;
    if (!r)
        return 0;
    return evs__seterr(EVS_ELOST,
                       "consumer '%s': its checkpoint, position %" PRId64 ", lies in positions "
                       "%" PRIu64 "..%" PRIu64 " that a repair declared lost: it processed events "
                       "that are gone; once its own state no longer holds them, reset it "
                       "('evstore consumer reset %s --to %" PRIu64 "': the next event is "
                       "%" PRIu64 ")",
                       name, pos, r->first, r->last, name, r->first - 1, r->last + 1);
}
