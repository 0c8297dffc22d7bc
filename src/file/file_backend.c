/*
 * file_backend.c - the file backend's handle: open (create, map the head, recover a
 * torn tail), close, statistics, the head and waiting for it, and the method table
 * the core calls through.
 *
 * Opening is O(1) in the size of the store (docs/DESIGN.md, invariant 5): it reads the
 * meta file and the small `synced` and `lost` files, maps the head page and lists the
 * segment names. When the head page is from this boot, the active segment ends where it
 * says (a writer also checks the record there) and no earlier than the `synced` file
 * says, nothing else is read; the stream table is loaded (snapshot + tail) on first use.
 */
#define _GNU_SOURCE
#include "file_backend.h"
#include "log_start.h"
#include "active_segment.h"
#include "archive.h"
#include "backup.h"
#include "backend.h"
#include "compactor.h"
#include "consumers.h"
#include "cursor.h"
#include "format.h"
#include "head.h"
#include "lock.h"
#include "lost_ranges.h"
#include "meta.h"
#include "path.h"
#include "record.h"
#include "recover.h"
#include "repair.h"
#include "retain.h"
#include "segment.h"
#include "sindex.h"
#include "streamdir.h"
#include "streams.h"
#include "streamtab.h"
#include "synced_mark.h"
#include "syncer.h"
#include "sysio.h"
#include "util.h"
#include "verify.h"
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const evs__backend_methods file_methods;

static void fb_free(file_backend *fb)
{
    evs__syncer_stop(fb);
    evs__compactor_finish(fb); /* before the segments it reads go */
    evs__sdx_finish(fb);
    evs__sidx_merge_finish(fb); /* its thread reads the table's runs */
    evs__writer_free(fb);
    evs__tab_free(&fb->tab);
    evs__seg_free_all(fb);
    evs__head_unmap(fb);
    if (fb->lock_fd >= 0)
        evs__sys.close(fb->lock_fd);
    if (fb->open_fd >= 0)
        evs__sys.close(fb->open_fd); /* drops the open lock */
    pthread_rwlock_destroy(&fb->seg_lock);
    pthread_rwlock_destroy(&fb->tab_lock);
    pthread_mutex_destroy(&fb->map_mu);
    evs__sdx_builder_free(fb);
    evs__sidx_merger_free(fb);
    evs__compactor_free(fb);
    evs__free(fb->lost);
    evs__free(fb->dir);
    evs__free(fb);
}

static file_backend *fb_alloc(const char *path, const evs_options *opts)
{
    file_backend *fb = evs__calloc(1, sizeof *fb);
    if (!fb)
        return NULL;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    fb->dir = evs__strndup(path, len);
    if (!fb->dir) {
        evs__free(fb);
        return NULL;
    }
    fb->base.methods = &file_methods;
    fb->opts = *opts;
    fb->readonly = (opts->flags & EVS_OPEN_READONLY) != 0;
    fb->lock_fd = fb->open_fd = -1;
    fb->log_start = 1;
    pthread_rwlock_init(&fb->seg_lock, NULL);
    pthread_rwlock_init(&fb->tab_lock, NULL);
    pthread_mutex_init(&fb->map_mu, NULL);
    evs__tab_init(&fb->tab, fb);
    if (evs__writer_new(fb) < 0 || evs__sdx_builder_new(fb) < 0 || evs__sidx_merger_new(fb) < 0 ||
        evs__compactor_new(fb) < 0) {
        fb_free(fb);
        return NULL;
    }
    return fb;
}

/* Does the log end where the head says (zeros written ahead aside), at a record of the
 * position it says, and no earlier than the `synced` file says? Then no writer died
 * mid-commit, and the page is this log's. */
static int tail_is_clean(file_backend *fb, bool *clean)
{
    uint64_t mark;
    *clean = false;
    int rc = evs__synced_mark_read(fb, &mark); /* first: the head only moves on */
    if (rc < 0)
        return rc;
    head_view h;
    evs__head_read(fb, &h);
    if (evs__head_torn(fb) || mark > h.pos)
        return 0; /* mid-publish (its writer is at work, or died there), or a stale page */
    seg *last = evs__seg_at(fb, evs__seg_count(fb) - 1);
    if (!last) {
        *clean = h.pos == 0;
        return 0;
    }
    if (last->first_pos != h.seg)
        return 0;
    uint64_t size;
    rc = evs__seg_file_size(last, &size);
    if (rc == 0)
        rc = evs__seg_tail_clean(evs__seg_fd(last), h.end, size, clean);
    if (rc == 0 && *clean)
        *clean = evs__head_matches_log(fb, &h);
    return rc;
}

/* For a reader, in O(1): does the log hold what the head page of this boot says, and no
 * less than the `synced` file says? The segment it names exists and reaches its end.
 * Readers cut nothing, so they need not check the record there. */
static int head_fits_log(file_backend *fb, bool *fits)
{
    uint64_t mark;
    *fits = false;
    int rc = evs__synced_mark_read(fb, &mark);
    if (rc < 0)
        return rc;
    head_view h;
    evs__head_read(fb, &h);
    if (mark > h.pos)
        return 0;
    if (h.pos == 0 && evs__seg_count(fb) == 0) {
        *fits = true;
        return 0;
    }
    seg *s = evs__seg_by_first(fb, h.seg);
    if (!s) { /* a writer rolled to a new segment after the listing */
        if ((rc = evs__seg_load_all(fb)) < 0)
            return rc;
        s = evs__seg_by_first(fb, h.seg);
    }
    uint64_t size;
    *fits = s && evs__seg_file_size(s, &size) == 0 && size >= h.end;
    evs__clearerr();
    return 0;
}

/* The writer lock's file. `may_be_readonly`: for a dry run of repair, which changes
 * nothing and so runs where nothing may be written (a read-only mount): opened read-only
 * when it cannot be opened for writing (flock needs no write access), none when it is
 * missing there (then no writer can use the store either). */
static int open_lock_file(file_backend *fb, bool may_be_readonly)
{
    char path[STORE_PATH_MAX];
    int rc = evs__path(fb, "LOCK", path, sizeof path);
    if (rc < 0)
        return rc;
    fb->lock_fd = evs__sys.open(path, O_RDWR | O_CREAT, 0644);
    if (fb->lock_fd < 0 && may_be_readonly &&
        (errno == EROFS || errno == EACCES || errno == EPERM)) {
        fb->lock_fd = evs__sys.open(path, O_RDONLY, 0);
        if (fb->lock_fd < 0 && errno == ENOENT)
            return 0;
    }
    if (fb->lock_fd < 0)
        return evs__seterr_errno(errno, "cannot open '%s'", path);
    return 0;
}

static int open_writer(file_backend *fb)
{
    int rc = open_lock_file(fb, false);
    if (rc < 0)
        return rc;
    bool fresh;
    rc = evs__head_map(fb, &fresh);
    if (rc == 0)
        rc = evs__seg_load_all_sweep(fb);
    bool clean = false;
    if (rc == 0 && !fresh)
        rc = tail_is_clean(fb, &clean);
    /* The common case (a head page of this boot, and the log ends where it says) needs
     * no lock: open does not wait for another process's commit. Otherwise recover,
     * under the lock, after looking again (the other writer may have been mid-commit). */
    if (rc == 0 && !clean && (rc = evs__wlock_acquire(fb, fb->opts.lock_wait_ms)) == 0) {
        bool fresh2 = fresh;
        if (fresh) {
            evs__head_unmap(fb);
            rc = evs__head_map(fb, &fresh2);
        }
        if (rc == 0 && !fresh2)
            rc = tail_is_clean(fb, &clean);
        if (rc == 0 && !clean)
            rc = evs__recover(fb, !fresh2);
        evs__wlock_release(fb);
    }
    if (rc == 0 && fb->opts.sync_mode == EVS_SYNC_BATCH)
        rc = evs__syncer_start(fb);
    return rc;
}

static int open_reader(file_backend *fb)
{
    bool fresh;
    int rc = evs__head_map(fb, &fresh);
    if (rc == 0)
        rc = evs__seg_load_all(fb);
    bool fits = false;
    if (rc == 0 && !fresh)
        rc = head_fits_log(fb, &fits);
    if (rc < 0 || fits)
        return rc;
    /* No head page of this boot, or one the log does not match: find the end of the log
     * ourselves, changing nothing, on a private page. */
    if (fb->head_shared) {
        void *p = evs__sys.mmap(NULL, HEAD_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                -1, 0);
        if (p == MAP_FAILED)
            return evs__seterr_errno(errno, "cannot allocate the head page");
        memcpy(p, fb->head, HEAD_LEN); /* keep what the old page says was synced */
        evs__head_unmap(fb);
        fb->head = p;
        fb->head_shared = false;
    }
    return evs__recover(fb, false);
}

static int file_open(evs__backend **out, const char *path, const evs_options *opts)
{
    file_backend *fb = fb_alloc(path, opts);
    if (!fb)
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", path);
    bool create = !(opts->flags & (EVS_OPEN_NOCREATE | EVS_OPEN_READONLY));
    int rc = evs__meta_open_or_create(fb, create, (opts->flags & EVS_OPEN_EXCLUSIVE_CREATE) != 0);
    /* Before anything else is read: a repair may be rewriting the log right now. */
    if (rc == 0)
        rc = evs__openlock_shared(fb, opts->lock_wait_ms);
    if (rc == 0)
        rc = evs__lost_load(fb);
    if (rc == 0)
        rc = evs__log_start_load(fb);
    if (rc == 0)
        rc = fb->readonly ? open_reader(fb) : open_writer(fb);
    if (rc < 0) {
        evs__fb_free(fb);
        return rc;
    }
    *out = &fb->base;
    return 0;
}

void evs__fb_free(file_backend *fb)
{
    /* Freeing may clobber the error the caller is about to return: keep it. */
    int code = evs__lasterr_code();
    char msg[1024];
    memcpy(msg, evs__lasterr_msg(), sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    fb_free(fb);
    if (code)
        evs__seterr(code, "%s", msg);
}

int evs__fb_open_for_repair(file_backend **out, const char *path, bool dry_run, bool *head_fresh)
{
    *out = NULL;
    /* Read-only until repair knows it has something to do: a store with nothing to
     * repair is left exactly as it was, down to the head file. */
    evs_options opts = EVS_OPTIONS_INIT;
    opts.flags = EVS_OPEN_NOCREATE | EVS_OPEN_READONLY;
    file_backend *fb = fb_alloc(path, &opts);
    if (!fb)
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", path);
    int rc = evs__meta_open_or_create(fb, false, false);
    /* A repair shuts out every handle; a dry run changes nothing, so it opens as a
     * reader does. The writer lock (for a dry run: waited for, as a commit is short)
     * keeps the log's end still while it is read, and also shuts out a process of an
     * older evstore that does not know the open lock, should one be mid-commit. */
    if (rc == 0)
        rc = dry_run ? evs__openlock_shared(fb, 0) : evs__openlock_exclusive(fb);
    if (rc == 0)
        rc = open_lock_file(fb, dry_run);
    if (rc == 0 && fb->lock_fd >= 0)
        rc = evs__wlock_acquire(fb, dry_run ? -1 : 0);
    if (rc == 0)
        rc = evs__head_map(fb, head_fresh);
    if (rc == 0)
        rc = evs__log_start_load(fb);
    if (rc == 0)
        rc = evs__seg_load_all(fb);
    if (rc == 0)
        rc = evs__lost_load(fb);
    if (rc < 0) {
        evs__fb_free(fb);
        return rc;
    }
    *out = fb;
    return 0;
}

int evs__fb_repair_writable(file_backend *fb)
{
    fb->readonly = false;
    fb->opts.flags &= ~EVS_OPEN_READONLY;
    evs__head_unmap(fb);
    bool fresh;
    return evs__head_map(fb, &fresh);
}

static int file_close(evs__backend *be)
{
    file_backend *fb = (file_backend *)be;
    int rc = evs__syncer_close(fb);
    if (rc == 0)
        evs__writer_snapshot_at_close(fb);
    evs__writer_trim(fb);
    fb_free(fb);
    return rc;
}

static int64_t file_head(evs__backend *be)
{
    head_view h;
    evs__head_read((file_backend *)be, &h);
    return (int64_t)h.pos;
}

static int file_wait(evs__backend *be, int64_t after_pos, int timeout_ms, int64_t *head_out)
{
    uint64_t head;
    int rc = evs__head_wait((file_backend *)be, after_pos < 0 ? 0 : (uint64_t)after_pos, timeout_ms,
                            &head);
    if (rc == 0 && head_out)
        *head_out = (int64_t)head;
    return rc;
}

static void file_wake(evs__backend *be, bool closing)
{
    evs__head_wake((file_backend *)be, closing);
}

static int file_stat(evs__backend *be, evs_stat_info *out)
{
    file_backend *fb = (file_backend *)be;
    head_view h;
    evs__head_read(fb, &h);
    int rc = evs__seg_load_all(fb);
    if (rc == 0)
        rc = evs__tab_catch_up(fb);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    out->sync_mode = fb->opts.sync_mode;
    out->segment_size = fb->store_segment_size;
    size_t n = evs__seg_count(fb);
    for (size_t i = 0; i < n; i++) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos > h.seg)
            break;
        uint64_t size = h.end;
        if (s->first_pos != h.seg && (rc = evs__seg_file_size(s, &size)) < 0)
            return rc;
        out->segment_count++;
        out->log_bytes += (int64_t)size;
    }
    pthread_rwlock_rdlock(&fb->tab_lock);
    out->stream_count = (int64_t)evs__tab_stream_count(&fb->tab);
    pthread_rwlock_unlock(&fb->tab_lock);
    if (h.pos == 0)
        return 0;
    seg *first = evs__seg_at(fb, 0);
    /* The first event: lost ranges a repair declared hold none. */
    uint64_t first_pos = evs__lost_skip(fb, first ? first->first_pos : 1);
    out->first_pos = (int64_t)first_pos;
    out->last_pos = (int64_t)h.pos;
    out->lost_positions = (int64_t)evs__lost_count(fb, first ? first->first_pos : 1, h.pos);
    out->event_count =
        first_pos > h.pos
            ? 0
            : (int64_t)(h.pos - first_pos + 1 - evs__lost_count(fb, first_pos, h.pos));
    out->last_ts_ns = h.ts;
    if (first_pos > h.pos)
        return 0;
    rec_view r;
    if ((rc = evs__seg_read_pos(fb, first_pos, false, &r)) < 0)
        return rc;
    out->first_ts_ns = r.ts_ns;
    return 0;
}

static const evs__backend_methods file_methods = {
    .name = "file",
    .open = file_open,
    .close = file_close,
    .append = evs__file_append,
    .sync = evs__file_sync,
    .cursor_open = evs__file_cursor_open,
    .cursor_next = evs__file_cursor_next,
    .cursor_close = evs__file_cursor_close,
    .stream_get = evs__file_stream_get,
    .streams_open = evs__file_streams_open,
    .streams_next = evs__file_streams_next,
    .streams_close = evs__file_streams_close,
    .stat = file_stat,
    .head = file_head,
    .wait = file_wait,
    .find_time = evs__file_find_time,
    .verify = evs__file_verify,
    .consumer_lock = evs__file_consumer_lock,
    .consumer_unlock = evs__file_consumer_unlock,
    .checkpoint_load = evs__file_checkpoint_load,
    .checkpoint_store = evs__file_checkpoint_store,
    .consumer_delete = evs__file_consumer_delete,
    .consumer_list = evs__file_consumer_list,
    .verify_quick = evs__file_verify_quick,
    .repair = evs__file_repair,
    .retain = evs__file_retain,
    .wake = file_wake,
    .filter_load = evs__file_filter_load,
    .filter_store = evs__file_filter_store,
    .compact = evs__file_compact,
    .backup = evs__file_backup,
    .archive = evs__file_archive,
};

const evs__backend_methods *evs__file_backend_methods(void)
{
    return &file_methods;
}
