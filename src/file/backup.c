/*
 * backup.c - a hot backup of an open store: what to take, in what order, and the
 * checks before the new backup replaces the earlier one.
 *
 * Order matters for consistency without stopping writers:
 *   1. consumers' checkpoints first: each names a position already committed, so none
 *      lies past the position the backup is taken at;
 *   2. the head (committed position, active segment, its end), then the segment list;
 *   3. sealed segments (those before the active one), which never change: taken over
 *      from the earlier backup when it holds them whole, else hard-linked or copied;
 *   4. the active segment, copied up to the head's end (later appends lie past it);
 *   5. the new backup opened as a store (which rebuilds its head page, `synced` file and
 *      stream index from its own log), verified, and its last event compared with the
 *      store's; then the `backup` file, and the swap (backup_dest.c).
 * A segment a reader or writer holds is never written here: only read, linked or copied.
 */
#define _GNU_SOURCE
#include "backup.h"
#include "backup_dest.h"
#include "file_backend.h"
#include "file_copy.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "path.h"
#include "record.h"
#include "segment.h"
#include "segment_locate.h"
#include "sysio.h"
#include "util.h"
#include "verify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef struct backup_job {
    file_backend *fb;
    backup_dest *bd;
    bool may_link; /* EVS_BACKUP_COPY not set */
    evs_backup_report *out;
} backup_job;

/* Take the store's file `name` (a small one, or a cache) along when it is there. */
static int take_optional(backup_job *j, const char *name, bool may_link)
{
    char from[STORE_TMP_PATH_MAX], to[STORE_TMP_PATH_MAX];
    int rc = evs__join_path(from, sizeof from, j->fb->dir, name);
    if (rc == 0)
        rc = evs__join_path(to, sizeof to, evs__bdest_stage(j->bd), name);
    bool linked;
    uint64_t bytes;
    if (rc == 0)
        rc = evs__link_or_copy(from, to, may_link, &linked, &bytes);
    if (rc == EVS_ENOTFOUND) {
        evs__clearerr();
        return 0;
    }
    return rc;
}

/* Copy consumers/NAME.ckpt files (whole: a slot written meanwhile leaves the other
 * slot valid, and the filter section is only ever replaced whole, by rename). */
static int take_consumers(backup_job *j)
{
    char from_dir[STORE_TMP_PATH_MAX], to_dir[STORE_TMP_PATH_MAX];
    int rc = evs__join_path(from_dir, sizeof from_dir, j->fb->dir, "consumers");
    if (rc < 0)
        return rc;
    DIR *d = opendir(from_dir);
    if (!d)
        return errno == ENOENT ? 0 : evs__seterr_errno(errno, "cannot read '%s'", from_dir);
    rc = evs__join_path(to_dir, sizeof to_dir, evs__bdest_stage(j->bd), "consumers");
    if (rc == 0 && evs__sys.mkdir(to_dir, 0755) < 0)
        rc = evs__seterr_errno(errno, "cannot create '%s'", to_dir);
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".ckpt") != 0)
            continue;
        char from[STORE_TMP_PATH_MAX], to[STORE_TMP_PATH_MAX];
        uint64_t bytes;
        rc = evs__join_path(from, sizeof from, from_dir, e->d_name);
        if (rc == 0)
            rc = evs__join_path(to, sizeof to, to_dir, e->d_name);
        if (rc == 0)
            rc = evs__copy_file(from, to, &bytes);
        if (rc == EVS_ENOTFOUND) { /* deleted meanwhile */
            evs__clearerr();
            rc = 0;
        }
    }
    closedir(d);
    if (rc == 0 && evs__dirsync(to_dir) < 0)
        rc = evs__seterr_errno(errno, "cannot sync directory '%s'", to_dir);
    return rc;
}

/* Does the earlier backup hold sealed segment s whole, as the store has it: the same
 * size, header (its creation time tells a segment remade by a repair) and last 4 KiB
 * (a backup that was opened and appended to has other records there)? */
static bool earlier_holds(backup_job *j, seg *s, uint64_t size, char *path, size_t len)
{
    const char *earlier = evs__bdest_earlier(j->bd);
    if (!earlier || evs__join_path(path, len, earlier, s->name) < 0 || size < SEG_HDR_LEN)
        return false;
    int fd = evs__sys.open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return false;
    unsigned char mine[4096], theirs[4096];
    size_t tail = size - SEG_HDR_LEN < sizeof mine ? (size_t)(size - SEG_HDR_LEN) : sizeof mine;
    off_t their_size = evs__sys.lseek(fd, 0, SEEK_END);
    int src = evs__seg_fd(s);
    bool same = their_size >= 0 && (uint64_t)their_size == size && src >= 0 &&
                evs__pread_all(fd, theirs, SEG_HDR_LEN, 0) == 0 &&
                evs__pread_all(src, mine, SEG_HDR_LEN, 0) == 0 &&
                memcmp(mine, theirs, SEG_HDR_LEN) == 0 &&
                evs__pread_all(fd, theirs, tail, (off_t)(size - tail)) == 0 &&
                evs__pread_all(src, mine, tail, (off_t)(size - tail)) == 0 &&
                memcmp(mine, theirs, tail) == 0;
    evs__sys.close(fd);
    evs__clearerr();
    return same;
}

static int take_sealed(backup_job *j, seg *s)
{
    char from[STORE_TMP_PATH_MAX], to[STORE_TMP_PATH_MAX], kept[STORE_TMP_PATH_MAX];
    uint64_t size = 0;
    int rc = evs__seg_file_size(s, &size);
    if (rc == 0)
        rc = evs__join_path(to, sizeof to, evs__bdest_stage(j->bd), s->name);
    if (rc < 0)
        return rc;
    bool linked = false;
    uint64_t bytes = size;
    if (earlier_holds(j, s, size, kept, sizeof kept)) {
        rc = evs__link_or_copy(kept, to, true, &linked, &bytes);
        j->out->segments_kept++;
    } else {
        rc = evs__seg_locate(j->fb, s->name, from, sizeof from);
        if (rc == 0)
            rc = evs__link_or_copy(from, to, j->may_link, &linked, &bytes);
        /* Archived between the look and the link (archive.c): it is there now. */
        if (rc == EVS_ENOTFOUND && evs__seg_locate(j->fb, s->name, from, sizeof from) == 0)
            rc = evs__link_or_copy(from, to, j->may_link, &linked, &bytes);
        if (rc == 0 && linked)
            j->out->segments_linked++;
        else if (rc == 0)
            j->out->segments_copied++;
    }
    if (rc < 0)
        return rc;
    if (!linked)
        j->out->bytes_copied += (int64_t)bytes;
    j->out->bytes_total += (int64_t)bytes;
    j->out->segments++;
    static const char *const caches[] = {"idx", "sdx", "tdx"};
    for (int i = 0; i < 3 && rc == 0; i++) {
        char name[40];
        evs__seg_name(name, sizeof name, s->first_pos, caches[i]);
        rc = take_optional(j, name, j->may_link);
    }
    return rc;
}

static int take_active(backup_job *j, seg *s, uint64_t end)
{
    char to[STORE_TMP_PATH_MAX];
    int rc = evs__join_path(to, sizeof to, evs__bdest_stage(j->bd), s->name);
    int fd = rc == 0 ? evs__seg_fd(s) : rc;
    if (fd < 0)
        return fd;
    rc = evs__copy_fd(fd, s->name, end, to);
    if (rc < 0)
        return rc;
    j->out->segments_copied++;
    j->out->segments++;
    j->out->bytes_copied += (int64_t)end;
    j->out->bytes_total += (int64_t)end;
    return 0;
}

/* Are the records at pos in the two stores the same bytes? */
static int same_record(file_backend *a, file_backend *b, uint64_t pos)
{
    rec_view x, y;
    int rc = evs__seg_read_pos(a, pos, true, &x);
    if (rc == 0)
        rc = evs__seg_read_pos(b, pos, true, &y);
    if (rc < 0)
        return rc;
    if (x.len != y.len || x.ts_ns != y.ts_ns || x.version != y.version ||
        x.stream_hash != y.stream_hash || memcmp(x.id, y.id, 16) != 0 ||
        x.data_len != y.data_len || memcmp(x.data, y.data, x.data_len) != 0)
        return evs__seterr(EVS_ECORRUPT,
                           "the backup's event at position %" PRIu64 " differs from the store's",
                           pos);
    return 0;
}

/* Keeps the first problem verification finds, for the message. */
static int first_problem(void *ctx, const evs_problem *p, int64_t done, int64_t total)
{
    (void)done;
    (void)total;
    char *first = ctx;
    if (p && !first[0])
        snprintf(first, 512, "%s, byte %" PRId64 ": %s", p->file ? p->file : "(store)",
                 p->offset, p->what ? p->what : "problem");
    return 0;
}

/* Open the new backup as a store: its head page, `synced` file and stream index are
 * made from its own log. Then verify it whole and check that it ends where the store
 * did at the backup's position, with the same event. */
static int check_backup(backup_job *j, uint64_t pos)
{
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_NOCREATE;
    o.lock_wait_ms = 0;
    evs__backend *be = NULL;
    const evs__backend_methods *m = evs__file_backend_methods();
    int rc = m->open(&be, evs__bdest_stage(j->bd), &o);
    if (rc < 0)
        return evs__prefixerr("the new backup in '%s' does not open", evs__bdest_stage(j->bd));
    evs_verify_report vr;
    memset(&vr, 0, sizeof vr);
    char first[512] = "";
    rc = evs__file_verify(be, first_problem, first, &vr);
    if (rc == EVS_ECORRUPT)
        rc = evs__seterr(EVS_ECORRUPT,
                         "the new backup failed verification (%" PRId64
                         " problems; the first: %s): the store has the same damage, run "
                         "'evstore verify' on it",
                         vr.problem_count, first);
    else if (rc < 0)
        (void)evs__prefixerr("verifying the new backup");
    j->out->events_verified = vr.events_checked;
    if (rc == 0 && (uint64_t)m->head(be) != pos)
        rc = evs__seterr(EVS_ECORRUPT,
                         "the new backup ends at position %" PRId64 ", not %" PRIu64,
                         m->head(be), pos);
    if (rc == 0 && pos > 0 && !evs__lost_find(j->fb, pos))
        rc = same_record(j->fb, (file_backend *)be, pos);
    int crc = m->close(be);
    return rc < 0 ? rc : crc;
}

int evs__file_backup(evs__backend *be, const char *dest, const evs_backup_opts *opts,
                     evs_backup_report *out)
{
    file_backend *fb = (file_backend *)be;
    backup_job j = {fb, NULL, !(opts->flags & EVS_BACKUP_COPY), out};
    int rc = evs__bdest_open(&j.bd, dest, fb->dir, fb->store_id);
    if (rc < 0)
        return rc;
    out->prev_pos = (int64_t)evs__bdest_earlier_pos(j.bd);
    rc = take_optional(&j, META_FILE, false);
    if (rc == 0)
        rc = take_optional(&j, LOST_FILE, false);
    if (rc == 0)
        rc = take_consumers(&j);
    head_view h;
    evs__head_read(fb, &h);
    if (rc == 0)
        rc = evs__seg_load_all(fb);
    size_t n = evs__seg_count(fb);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        seg *s = evs__seg_at(fb, i);
        if (!s || s->first_pos > h.seg || (h.pos == 0 && s->first_pos == h.seg))
            break;
        rc = s->first_pos < h.seg ? take_sealed(&j, s) : take_active(&j, s, h.end);
    }
    if (rc == 0 && evs__dirsync(evs__bdest_stage(j.bd)) < 0)
        rc = evs__seterr_errno(errno, "cannot sync directory '%s'", evs__bdest_stage(j.bd));
    if (rc == 0)
        rc = check_backup(&j, h.pos);
    if (rc == 0)
        rc = evs__bdest_mark(j.bd, h.pos);
    if (rc == 0)
        rc = evs__bdest_commit(j.bd);
    if (rc == 0)
        out->pos = (int64_t)h.pos;
    evs__bdest_free(j.bd);
    return rc;
}
