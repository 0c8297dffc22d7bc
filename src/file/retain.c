/*
 * retain.c - evs_retain on the file backend: drop the oldest sealed segments.
 *
 * The order makes every crash safe: (1) a writer's open and close recovers the tail
 * and leaves the stream index's chain at the log's end, so the versions of streams
 * whose events go stay known; (2) with the store to itself (the open lock held
 * exclusively, as repair holds it) the new start is written and synced; (3) only then
 * are the files removed. A crash before (2) changes nothing; after it, segments below
 * the start are ignored by every open and removed by the next writer's.
 */
#include "retain.h"
#include "backend.h"
#include "file_backend.h"
#include "head.h"
#include "log_start.h"
#include "segment.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

const evs__backend_methods *evs__file_backend_methods(void);

/* Open to write and close: recovery, and a stream index run up to the log's end. */
static int settle(const char *path)
{
    const evs__backend_methods *m = evs__file_backend_methods();
    evs_options o = EVS_OPTIONS_INIT;
    o.flags = EVS_OPEN_NOCREATE;
    o.lock_wait_ms = 0;
    evs__backend *be;
    int rc = m->open(&be, path, &o);
    if (rc < 0)
        return rc;
    return m->close(be);
}

/* Does sealed segment s (followed by one starting at next_first) go? */
static int decide(file_backend *fb, seg *s, uint64_t next_first, const evs_retain_opts *o,
                  int64_t bytes_left, int64_t now, bool *drop)
{
    *drop = false;
    uint64_t last = next_first - 1;
    if (o->before_pos > 0 && last < (uint64_t)o->before_pos)
        *drop = true;
    if (o->max_bytes > 0 && bytes_left > o->max_bytes)
        *drop = true;
    if (!*drop && o->max_age_ns > 0 && last >= s->first_pos) {
        rec_view r;
        int rc = evs__seg_read_pos(fb, last, true, &r);
        if (rc < 0)
            return rc;
        *drop = r.ts_ns < now - o->max_age_ns;
    }
    return 0;
}

int evs__file_retain(const char *path, const evs_retain_opts *o, evs_retain_report *out)
{
    bool dry = (o->flags & EVS_RETAIN_DRY_RUN) != 0;
    int rc = dry ? 0 : settle(path);
    if (rc < 0)
        return evs__prefixerr("evs_retain '%s'", path);
    file_backend *fb;
    bool fresh;
    if ((rc = evs__fb_open_for_repair(&fb, path, dry, &fresh)) < 0)
        return evs__prefixerr("evs_retain '%s'", path);
    head_view h;
    evs__head_read(fb, &h);
    uint64_t covered = evs__head_snap(fb);
    out->old_start = out->new_start = (int64_t)fb->log_start;
    size_t n = evs__seg_count(fb);
    uint64_t *sizes = evs__calloc(n ? n : 1, sizeof *sizes);
    if (!sizes) {
        evs__fb_free(fb);
        return evs__seterr(EVS_ENOMEM, "evs_retain: out of memory");
    }
    int64_t total = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos == h.seg)
            sizes[i] = h.end;
        else
            rc = evs__seg_file_size(s, &sizes[i]);
        total += (int64_t)sizes[i];
    }
    /* The oldest run of sealed segments the policies let go, never past what the
     * stream index covers (a writer's close just brought it to the log's end). */
    size_t drop_n = 0;
    int64_t now = evs__now_ns();
    int64_t left = total;
    for (size_t i = 0; rc == 0 && i + 1 < n; i++) {
        seg *s = evs__seg_at(fb, i), *next = evs__seg_at(fb, i + 1);
        if (s->first_pos >= h.seg || next->first_pos - 1 > covered)
            break;
        bool drop;
        if ((rc = decide(fb, s, next->first_pos, o, left, now, &drop)) < 0 || !drop)
            break;
        left -= (int64_t)sizes[i];
        drop_n = i + 1;
    }
    if (rc == 0 && drop_n > 0) {
        uint64_t start = evs__seg_at(fb, drop_n)->first_pos;
        out->segments_dropped = (int64_t)drop_n;
        out->bytes_dropped = total - left;
        out->new_start = (int64_t)start;
        if (!dry) {
            uint64_t *firsts = evs__calloc(drop_n, sizeof *firsts);
            rc = firsts ? evs__log_start_raise(fb, start)
                        : evs__seterr(EVS_ENOMEM, "evs_retain: out of memory");
            for (size_t i = 0; rc == 0 && i < drop_n; i++)
                firsts[i] = evs__seg_at(fb, i)->first_pos;
            for (size_t i = 0; rc == 0 && i < drop_n; i++)
                /* The caches first: a crash between leaves no cache without its segment. */
                if (evs__seg_remove_caches(fb, firsts[i]) < 0 ||
                    evs__seg_remove_file(fb, firsts[i]) < 0)
                    rc = evs__prefixerr("evs_retain: the start moved to %" PRIu64
                                        ", but removing a segment below it failed (the "
                                        "next writer's open removes it)",
                                        start);
            if (rc == 0 && evs__dirsync(fb->dir) < 0)
                rc = evs__seterr_errno(errno, "evs_retain: cannot sync the directory '%s'",
                                       fb->dir);
            evs__free(firsts);
        }
    }
    evs__free(sizes);
    evs__fb_free(fb);
    return rc;
}
