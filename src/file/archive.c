/*
 * archive.c - the archive tier's mover: which sealed segments go (the policy), and
 * moving each so that a crash at any moment leaves it whole in one place or both,
 * never in neither:
 *   copy to "<archive>/<seg>.tmp", sync it; rename it to "<archive>/<seg>", sync the
 *   archive directory; compare it with the original byte for byte; remove the original,
 *   sync the store's directory.
 * While both exist, readers use the original (segment_locate.c), and the next run
 * compares again and removes it. Only one mover runs at a time: it holds a flock on the
 * archive directory. Appends go on meanwhile: only sealed segments move, and nothing
 * here takes the writer's lock.
 */
#define _GNU_SOURCE
#include "archive.h"
#include "file_backend.h"
#include "file_copy.h"
#include "format.h"
#include "head.h"
#include "path.h"
#include "segment.h"
#include "segment_locate.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMPARE_CHUNK (1u << 20)

/* Set the archive directory (made absolute: other processes resolve it from their own
 * working directory) and the rules into the `archive` file; refuse to leave archived
 * segments behind in another directory. */
static int set_conf(file_backend *fb, const evs_archive_opts *o, archive_conf *c)
{
    char real[PATH_MAX];
    if (!realpath(o->dir, real))
        return errno == ENOENT
                   ? evs__seterr(EVS_ENOTFOUND, "archive directory '%s' does not exist", o->dir)
                   : evs__seterr_errno(errno, "archive directory '%s'", o->dir);
    struct stat a, st;
    if (stat(real, &a) < 0 || !S_ISDIR(a.st_mode))
        return evs__seterr(EVS_EINVAL, "archive directory '%s' is not a directory", o->dir);
    if (stat(fb->dir, &st) == 0 && st.st_dev == a.st_dev && st.st_ino == a.st_ino)
        return evs__seterr(EVS_EINVAL, "archive directory '%s' is the store itself", o->dir);
    if (strlen(real) >= sizeof c->dir)
        return evs__seterr(EVS_EINVAL, "archive directory '%s' is too long a path", real);
    if (c->dir[0] && strcmp(c->dir, real) != 0) {
        size_t n = evs__seg_count(fb);
        for (size_t i = 0; i < n; i++)
            if (evs__seg_is_archived(fb, evs__seg_at(fb, i)->first_pos))
                return evs__seterr(EVS_EINVAL,
                                   "segments of the store are archived in '%s': moving the "
                                   "archive to '%s' is not supported",
                                   c->dir, real);
    }
    memcpy(c->dir, real, strlen(real) + 1);
    c->older_than_ns = o->older_than_ns;
    c->keep_bytes = o->keep_bytes;
    return evs__archive_conf_write(fb, c);
}

/* Are the files `a` and `b` (`size` bytes each, a's known) the same bytes? */
static int same_bytes(const char *a, const char *b, uint64_t size, bool *same)
{
    int fa = evs__sys.open(a, O_RDONLY | O_CLOEXEC, 0);
    int fb_ = fa >= 0 ? evs__sys.open(b, O_RDONLY | O_CLOEXEC, 0) : -1;
    unsigned char *x = evs__alloc(2 * (size_t)COMPARE_CHUNK);
    int rc = 0;
    *same = false;
    if (fa < 0 || fb_ < 0) {
        rc = evs__seterr_errno(errno, "cannot open '%s'", fa < 0 ? a : b);
        goto out;
    }
    if (!x) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory comparing '%s'", a);
        goto out;
    }
    off_t end = evs__sys.lseek(fb_, 0, SEEK_END);
    if (end < 0 || (uint64_t)end != size)
        goto out;
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < COMPARE_CHUNK ? (size_t)(size - off) : COMPARE_CHUNK;
        int r1 = evs__pread_all(fa, x, n, (off_t)off);
        int r2 = r1 == 0 ? evs__pread_all(fb_, x + COMPARE_CHUNK, n, (off_t)off) : 0;
        if (r1 < 0 || r2 < 0) {
            rc = evs__seterr_errno(errno, "cannot read '%s' at byte %" PRIu64, r1 < 0 ? a : b, off);
            goto out;
        }
        if (r1 || r2 || memcmp(x, x + COMPARE_CHUNK, n) != 0)
            goto out;
        off += n;
    }
    *same = true;
out:
    evs__free(x);
    if (fa >= 0)
        evs__sys.close(fa);
    if (fb_ >= 0)
        evs__sys.close(fb_);
    return rc;
}

/* Move sealed segment `name` (`size` bytes) from the store's directory to the archive,
 * or finish a move that was stopped. */
static int move_one(file_backend *fb, const char *arch, const char *name, uint64_t size)
{
    char here[STORE_PATH_MAX], there[STORE_TMP_PATH_MAX], tmp[STORE_TMP_PATH_MAX + 8];
    int rc = evs__path(fb, name, here, sizeof here);
    if (rc == 0)
        rc = evs__join_path(there, sizeof there, arch, name);
    if (rc < 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp", there);
    bool same = false;
    if (access(there, F_OK) == 0 && (rc = same_bytes(here, there, size, &same)) < 0)
        return rc;
    if (!same) {
        if (evs__sys.unlink(tmp) < 0 && errno != ENOENT)
            return evs__seterr_errno(errno, "cannot remove '%s'", tmp);
        uint64_t bytes;
        if ((rc = evs__copy_file(here, tmp, &bytes)) < 0)
            return rc;
        if (bytes != size) {
            (void)evs__sys.unlink(tmp);
            return evs__seterr(EVS_EIO, "sealed segment '%s' changed size while it was archived",
                               here);
        }
        if (evs__sys.rename(tmp, there) < 0)
            return evs__seterr_errno(errno, "cannot rename '%s' to '%s'", tmp, there);
        if (evs__dirsync(arch) < 0)
            return evs__seterr_errno(errno, "cannot sync the archive directory '%s'", arch);
        if ((rc = same_bytes(here, there, size, &same)) < 0)
            return rc;
        if (!same)
            return evs__seterr(EVS_ECORRUPT,
                               "the archived copy '%s' differs from '%s' after it was synced: "
                               "the segment stays in the store (check the archive's disk)",
                               there, here);
    }
    if (evs__sys.unlink(here) < 0)
        return evs__seterr_errno(errno, "cannot remove '%s' (it is archived)", here);
    if (evs__dirsync(fb->dir) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", fb->dir);
    return 0;
}

/* When the segment after s was begun: when s was sealed. */
static int sealed_at(file_backend *fb, seg *next, int64_t *ns)
{
    unsigned char h[SEG_HDR_LEN];
    int fd = evs__seg_fd(next);
    if (fd < 0)
        return fd;
    if (evs__pread_all(fd, h, sizeof h, 0) != 0)
        return evs__seterr_errno(errno ? errno : EIO, "cannot read the header of segment %s",
                                 next->name);
    (void)fb;
    *ns = (int64_t)evs__get_u64(h + SEG_OFF_CTIME);
    return 0;
}

int evs__file_archive(evs__backend *be, const evs_archive_opts *opts, evs_archive_report *out)
{
    file_backend *fb = (file_backend *)be;
    if (fb->readonly)
        return evs__seterr(EVS_EREADONLY, "evs_archive: the store '%s' was opened read-only",
                           fb->dir);
    archive_conf c;
    int rc = evs__archive_conf_read(fb, &c);
    if (rc == 0)
        rc = evs__seg_load_all(fb);
    if (rc == 0 && opts->dir)
        rc = set_conf(fb, opts, &c);
    if (rc < 0)
        return rc;
    if (!c.dir[0])
        return evs__seterr(EVS_EINVAL, "the store '%s' has no archive directory: name one "
                                       "(evs_archive_opts.dir, evstore archive --to)",
                           fb->dir);
    int64_t older = opts->dir || opts->older_than_ns || opts->keep_bytes ? opts->older_than_ns
                                                                         : c.older_than_ns;
    int64_t keep = opts->dir || opts->older_than_ns || opts->keep_bytes ? opts->keep_bytes
                                                                        : c.keep_bytes;
    int lock = evs__sys.open(c.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (lock < 0)
        return evs__seterr_errno(errno, "cannot open the archive directory '%s'", c.dir);
    if (evs__sys.flock(lock, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? evs__seterr(EVS_EBUSY, "another evs_archive is moving "
                                                           "segments to '%s'", c.dir)
                                  : evs__seterr_errno(errno, "cannot lock '%s'", c.dir);
        evs__sys.close(lock);
        return rc;
    }
    head_view h;
    evs__head_read(fb, &h);
    size_t n = evs__seg_count(fb);
    /* Bytes of log after each segment, from the newest back: the size rule's measure. */
    uint64_t *sizes = evs__calloc(n ? n : 1, sizeof *sizes);
    if (!sizes)
        rc = evs__seterr(EVS_ENOMEM, "out of memory archiving");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos < h.seg)
            rc = evs__seg_file_size(s, &sizes[i]);
        else if (s->first_pos == h.seg)
            sizes[i] = h.end;
    }
    int64_t now = evs__now_ns();
    uint64_t newer = 0;
    for (size_t i = n; rc == 0 && i-- > 0;) {
        seg *s = evs__seg_at(fb, i);
        bool sealed = s->first_pos < h.seg && i + 1 < n;
        bool archived = sealed && evs__seg_is_archived(fb, s->first_pos);
        bool go = false;
        if (sealed && !archived) {
            int64_t at = 0;
            /* A move stopped between the copy and the removal is finished whatever the
             * rules say: it was chosen then. */
            go = (!older && !keep) || evs__seg_in_archive(fb, s->first_pos);
            if (!go && older && (rc = sealed_at(fb, evs__seg_at(fb, i + 1), &at)) == 0)
                go = at < now - older;
            go = go || (keep && newer >= (uint64_t)keep);
        }
        if (rc == 0 && go && (rc = move_one(fb, c.dir, s->name, sizes[i])) == 0) {
            out->segments_moved++;
            out->bytes_moved += (int64_t)sizes[i];
            archived = true;
        }
        if (archived) {
            out->segments_archived++;
            out->bytes_archived += (int64_t)sizes[i];
        } else if (s->first_pos <= h.seg) {
            out->segments_local++;
            out->bytes_local += (int64_t)sizes[i];
        }
        newer += sizes[i];
    }
    evs__free(sizes);
    evs__sys.close(lock); /* drops the flock */
    return rc;
}
