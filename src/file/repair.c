/*
 * repair.c - repair, step two: with no handle open anywhere (the open lock held
 * exclusively), cut the log where repair_scan.c found the intact log to end, keeping
 * every byte cut off, and rebuild what depends on the log.
 *
 * Order, so that an interruption at any point leaves a store that the next repair (or
 * open) finishes and no byte only in memory:
 *   1. make DIR/repair-<UTC time>/ and copy the kept segment's bytes past the cut into
 *      it (synced), then write REPAIR.txt there saying what is cut and why;
 *   2. move the later segment files into it whole (rename: no copy, no space needed)
 *      and remove their offset indexes (caches);
 *   3. sync both directories, then truncate the kept segment at the cut (synced);
 *   4. rebuild the stream index from the table the scan built, then let
 *      recovery fix the last segment's offset index and publish the new head.
 * Until step 3 the damage is still in place, so a second run finds the same cut.
 *
 * Nothing is cut when only the head page of this boot disagrees with the log (it
 * promises more log than there is, after a truncation): it is republished.
 */
#define _GNU_SOURCE
#include "repair.h"
#include "backend.h"
#include "consumers.h"
#include "file_backend.h"
#include "format.h"
#include "head.h"
#include "lost_ranges.h"
#include "path.h"
#include "recover.h"
#include "save_aside.h"
#include "segment.h"
#include "segment_zstd.h"
#include "streamtab.h"
#include "synced_mark.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct repair_job {
    file_backend *fb;
    repair_plan *plan;
    char save_dir[4096]; /* full path of the folder the cut bytes go to */
} repair_job;

static int make_save_dir(repair_job *job)
{
    return evs__aside_make_dir(job->fb, job->save_dir, sizeof job->save_dir);
}

static int save_path(const repair_job *job, const char *name, char *buf, size_t len)
{
    return evs__aside_path(job->save_dir, name, buf, len);
}

/* REPAIR.txt: what the folder holds and why, for whoever finds it later. */
static int write_note(repair_job *job, const char *tail_name, const evs_repair_report *r)
{
    const repair_plan *p = job->plan;
    file_backend *fb = job->fb;
    evs__buf b = EVS__BUF_INIT;
    char line[1400], when[40];
    evs__time_format(when, sizeof when, evs__now_ns());
    int rc = 0;
#define NOTE(...)                                                                                  \
    do {                                                                                           \
        snprintf(line, sizeof line, __VA_ARGS__);                                                  \
        if (rc == 0)                                                                               \
            rc = evs__buf_append(&b, line, strlen(line));                                          \
    } while (0)
    NOTE("evstore repair of the store '%s', %s\n\n", fb->dir, when);
    for (size_t i = 0; i < p->fills.n; i++) {
        const fill_region *g = &p->fills.r[i];
        NOTE("Damage in %s, bytes %" PRIu64 "..%" PRIu64 ": positions %" PRIu64 "..%" PRIu64
             " (%" PRIu64 " events) are declared lost and their bytes replaced by fillers; the "
             "records after them are kept as they were. The bytes are here as "
             "%s.bytes-%" PRIu64 "-%" PRIu64 ".\n",
             g->s->name, g->from, g->to, g->first_pos, g->end_pos - 1, g->end_pos - g->first_pos,
             g->s->name, g->from, g->to);
    }
    if (p->fills.n > 0)
        NOTE("First damage: %s, byte %" PRId64 " (position %" PRIu64 "): %s\n", p->fill_file,
             p->fill_off, p->fill_pos, p->fill_what);
    if (r->consumers_affected > 0 && !p->cut)
        NOTE("Durable consumers that processed lost events, to be reset: %s\n",
             r->consumers_affected_names);
    if (!p->cut) {
        rc = rc == 0 ? evs__aside_note(job->save_dir, b.ptr, b.len) : rc;
        evs__buf_free(&b);
        return rc;
    }
    NOTE("%s: %s, byte %" PRId64 " (position %" PRIu64 "): %s\n",
         p->fills.n ? "Damage the log is cut at" : "First damage", p->damage_file, p->damage_off,
         p->damage_pos, p->what);
    NOTE("The log now ends at position %" PRIu64 ".\n", p->kept.pos);
    if (p->last_lost > p->kept.pos)
        NOTE("Positions %" PRIu64 "..%" PRIu64 " (%" PRIu64 " events) were cut off. They are "
             "declared lost and never used again: the next event gets position %" PRIu64 ".\n",
             p->kept.pos + 1, p->last_lost, p->last_lost - p->kept.pos, p->last_lost + 1);
    else
        NOTE("No committed event was cut off: the bytes hold no complete append.\n");
    if (r->consumers_affected > 0)
        NOTE("Durable consumers that processed lost events, to be reset: %s\n",
             r->consumers_affected_names);
    NOTE("\nThe files here are the log's bytes from the cut on, unchanged:\n");
    if (tail_name[0])
        NOTE("  %-44s bytes %" PRIu64 "..%" PRIu64 " of %020" PRIu64 ".seg\n", tail_name,
             p->kept.end, p->kept_seg_size, p->kept.seg);
    size_t n = evs__seg_count(fb);
    for (size_t i = 0; i < n; i++) {
        seg *s = evs__seg_at(fb, i);
        if (s->first_pos > p->kept.seg || p->kept.seg == 0)
            NOTE("  %-44s the whole segment file\n", s->name);
    }
#undef NOTE
    if (rc == 0)
        rc = evs__aside_note(job->save_dir, b.ptr, b.len);
    evs__buf_free(&b);
    return rc;
}

/* Step 2: move every segment after the kept one into the repair folder. */
static int move_later_segments(repair_job *job)
{
    file_backend *fb = job->fb;
    const repair_plan *p = job->plan;
    for (size_t i = evs__seg_count(fb); i-- > 0;) {
        seg *s = evs__seg_at(fb, i);
        if (p->kept.seg != 0 && s->first_pos <= p->kept.seg)
            break;
        char from[STORE_PATH_MAX], to[STORE_PATH_MAX], name[32];
        /* A compressed segment is moved as it is. */
        evs__seg_name(name, sizeof name, s->first_pos,
                      evs__seg_fd(s) >= 0 && atomic_load(&s->z) ? "zseg" : "seg");
        evs__clearerr();
        int rc = evs__path(fb, name, from, sizeof from);
        if (rc == 0)
            rc = save_path(job, name, to, sizeof to);
        if (rc < 0)
            return rc;
        if (evs__sys.rename(from, to) < 0)
            return evs__seterr_errno(errno, "cannot move '%s' to '%s'", from, to);
        if ((rc = evs__seg_remove_caches(fb, s->first_pos)) < 0)
            return rc;
        evs__seg_forget(fb, s->first_pos);
    }
    return 0;
}

/* Step 3: the kept segment ends at the cut (a cut inside the last record's zero padding
 * is put back, as recovery does). */
static int truncate_kept(repair_job *job)
{
    file_backend *fb = job->fb;
    const repair_plan *p = job->plan;
    if (p->kept.seg == 0 || p->kept_seg_size == p->kept.end)
        return 0;
    return evs__seg_cut(fb, p->kept.seg, p->kept.end);
}

/* The stream index goes before the log changes under it: a run whose last record is
 * intact would otherwise still be believed after fillers replaced records it points at. */
static int drop_snapshot(repair_job *job)
{
    file_backend *fb = job->fb;
    int rc = evs__tab_drop_base_after(fb, 0);
    if (rc < 0)
        return rc;
    evs__head_set_snap(fb, 0);
    return 0;
}

/* Step 4, first half: the stream index from the scan's table (none for an empty log). */
static int rebuild_index(repair_job *job)
{
    file_backend *fb = job->fb;
    repair_plan *p = job->plan;
    int rc = drop_snapshot(job);
    if (rc < 0)
        return rc;
    if (p->kept.pos == 0)
        return 0;
    pthread_rwlock_wrlock(&fb->tab_lock);
    evs__tab_free(&fb->tab);
    fb->tab = p->tab; /* the table moves into the handle, which frees it */
    evs__tab_init(&p->tab, NULL);
    fb->tab.fb = fb;
    fb->tab.loaded = true;
    fb->tab.known_pos = p->kept.pos;
    fb->tab.known_seg = p->kept.seg;
    fb->tab.known_off = p->kept.end;
    rc = evs__tab_persist(fb, true);
    pthread_rwlock_unlock(&fb->tab_lock);
    return rc;
}

/* Step 4, second half: the head page and the last segment's offset index, by the same
 * recovery an open runs (it reads only the last segment, the snapshot covering the
 * rest); then the synced position, which only repair may move back. */
static int republish(repair_job *job)
{
    /* First what the log is known to reach (the last lost position, when some are
     * declared lost), or recovery would refuse the shorter log. */
    const repair_plan *p = job->plan;
    uint64_t reach = p->last_lost > p->kept.pos ? p->last_lost : p->kept.pos;
    evs__head_rewind_synced(job->fb, reach);
    int rc = evs__synced_mark_set(job->fb, reach);
    return rc < 0 ? rc : evs__recover(job->fb, false);
}

/* Positions kept.pos+1 .. last_lost were handed out (acknowledged, published, or held by
 * records past the damage): no later event may have them. The kept log is sealed where
 * it ends, a new segment starts after the last of them, and the `lost` file says they
 * are lost. The segment goes first: a repair stopped between the two leaves a gap that
 * open refuses and the next repair finishes, never a log that would hand out a lost
 * position again. */
static int declare_lost(repair_job *job)
{
    file_backend *fb = job->fb;
    const repair_plan *p = job->plan;
    int rc = 0;
    if (p->kept.seg != 0)
        rc = evs__seg_cut(fb, p->kept.seg, p->kept.end); /* a sealed segment ends at its log */
    if (rc == 0)
        rc = evs__seg_create_file(fb, p->last_lost + 1);
    if (rc == 0)
        rc = evs__lost_add(fb, p->kept.pos + 1, p->last_lost);
    return rc < 0 ? evs__prefixerr("repair stopped halfway (run it again to finish it)") : 0;
}

/* Nothing of the store has changed yet: take back the folder and what it holds. */
static void unsave(repair_job *job, const char *tail_name, size_t parts)
{
    char name[96], path[STORE_PATH_MAX];
    for (size_t i = 0; i < parts; i++) {
        const fill_region *g = &job->plan->fills.r[i];
        snprintf(name, sizeof name, "%s.bytes-%" PRIu64 "-%" PRIu64, g->s->name, g->from, g->to);
        if (save_path(job, name, path, sizeof path) == 0)
            (void)evs__sys.unlink(path);
    }
    const char *made[2] = {tail_name, "REPAIR.txt"};
    for (int i = 0; i < 2; i++)
        if (made[i][0] && save_path(job, made[i], path, sizeof path) == 0)
            (void)evs__sys.unlink(path);
    (void)rmdir(job->save_dir);
}

/* Step 1: every byte the repair will overwrite (fill regions) or cut goes into the
 * folder first, synced, with REPAIR.txt. */
static int save_aside(repair_job *job, evs_repair_report *out)
{
    file_backend *fb = job->fb;
    repair_plan *p = job->plan;
    int rc = make_save_dir(job);
    if (rc < 0)
        return rc;
    snprintf(out->saved_to, sizeof out->saved_to, "%s", job->save_dir);
    char tail_name[64] = "", part[96];
    size_t parts = 0;
    for (; rc == 0 && parts < p->fills.n; parts++) {
        const fill_region *g = &p->fills.r[parts];
        rc = evs__aside_copy_part(job->save_dir, g->s, g->from, g->to, part, sizeof part);
    }
    seg *kept = p->cut && p->kept.seg ? evs__seg_by_first(fb, p->kept.seg) : NULL;
    if (rc == 0 && kept && p->kept_seg_size > p->kept.end)
        rc = evs__aside_copy(job->save_dir, kept, p->kept.end, p->kept_seg_size, tail_name,
                             sizeof tail_name);
    if (rc == 0)
        rc = write_note(job, tail_name, out);
    if (rc < 0) {
        unsave(job, tail_name, parts);
        out->saved_to[0] = '\0';
        return evs__prefixerr("repair changed nothing");
    }
    return 0;
}

/* Steps 2-3 of --keep-intact: the lost positions listed (synced), then each region's
 * bytes replaced by its fillers (synced), then the caches made from those segments
 * dropped (the fillers' offsets may differ from the damaged records'). A repair stopped
 * in between is finished by the next: the list already holds the range, and the scan
 * finds the same damage (or fillers, which are whole records) again. */
static int fill_lost(repair_job *job)
{
    file_backend *fb = job->fb;
    fill_plan *fp = &job->plan->fills;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < fp->n; i++)
        rc = evs__lost_add(fb, fp->r[i].first_pos, fp->r[i].end_pos - 1);
    if (rc == 0 && (rc = drop_snapshot(job)) == 0 && evs__dirsync(fb->dir) < 0)
        rc = evs__seterr_errno(errno, "cannot sync the directory '%s'", fb->dir);
    for (size_t i = 0; rc == 0 && i < fp->n; i++)
        rc = evs__fill_write(fb, fp, &fp->r[i]);
    for (size_t i = 0; rc == 0 && i < fp->n; i++)
        rc = evs__seg_remove_caches(fb, fp->r[i].s->first_pos);
    return rc < 0 ? evs__prefixerr("repair stopped halfway (run it again to finish it)") : 0;
}

static int cut_log(repair_job *job)
{
    file_backend *fb = job->fb;
    int rc = move_later_segments(job);
    if (rc == 0 && (evs__dirsync(job->save_dir) < 0 || evs__dirsync(fb->dir) < 0))
        rc = evs__seterr_errno(errno, "cannot sync the directories of '%s'", fb->dir);
    if (rc == 0)
        rc = truncate_kept(job);
    if (rc < 0)
        return evs__prefixerr("repair stopped halfway (run it again to finish it)");
    return 0;
}

typedef struct affected {
    const repair_plan *plan;
    evs_repair_report *out;
} affected;

/* Append item to the comma-separated list (cap bytes), or "..." once it no longer fits. */
static void list_append(char *list, size_t cap, const char *item)
{
    size_t used = strlen(list);
    if (used + strlen(item) + 1 + 4 < cap)
        snprintf(list + used, cap - used, "%s%s", used ? "," : "", item);
    else if (used + 4 < cap && strcmp(list + (used >= 3 ? used - 3 : 0), "...") != 0)
        snprintf(list + used, cap - used, "...");
}

/* Does this repair lose position pos? */
static bool loses(const repair_plan *p, int64_t pos)
{
    for (size_t i = 0; i < p->fills.n; i++)
        if (pos >= (int64_t)p->fills.r[i].first_pos && pos < (int64_t)p->fills.r[i].end_pos)
            return true;
    return pos > (int64_t)p->kept.pos && pos <= (int64_t)p->last_lost;
}

static int note_affected(void *ctx, const evs__consumer_entry *e)
{
    affected *a = ctx;
    if ((e->status != 0 && e->status != EVS_ELOST) || !loses(a->plan, e->pos))
        return 0;
    list_append(a->out->consumers_affected_names, sizeof a->out->consumers_affected_names,
                e->name);
    a->out->consumers_affected++;
    return 0;
}

/* The durable consumers whose checkpoint lies in the positions this repair loses: they
 * processed events that are gone, and must be reset. */
static int list_affected(file_backend *fb, const repair_plan *p, evs_repair_report *out)
{
    if (p->last_lost <= p->kept.pos && p->fills.n == 0)
        return 0;
    affected a = {p, out};
    int rc = evs__file_consumer_list(&fb->base, note_affected, &a);
    evs__clearerr();
    return rc;
}

/* "F..L" (or "F") of a lost range into the report's list. */
static void list_range(evs_repair_report *out, uint64_t first, uint64_t last)
{
    char item[48];
    if (first == last)
        snprintf(item, sizeof item, "%" PRIu64, first);
    else
        snprintf(item, sizeof item, "%" PRIu64 "..%" PRIu64, first, last);
    list_append(out->lost_ranges_list, sizeof out->lost_ranges_list, item);
    out->lost_ranges++;
}

static void fill_report(const repair_plan *p, evs_repair_report *out)
{
    bool tail = p->cut || p->head_ahead;
    out->damaged = tail || p->fills.n > 0;
    out->kept_last_pos = (int64_t)p->kept.pos;
    for (size_t i = 0; i < p->fills.n; i++) {
        const fill_region *g = &p->fills.r[i];
        if (i == 0)
            out->first_lost_pos = (int64_t)g->first_pos;
        out->last_lost_pos = (int64_t)g->end_pos - 1;
        out->lost_count += (int64_t)(g->end_pos - g->first_pos);
        list_range(out, g->first_pos, g->end_pos - 1);
    }
    out->bytes_moved = (int64_t)p->fill_bytes;
    out->files_moved = (int64_t)p->fills.n;
    if (tail) { /* with nothing lost, first_lost_pos is still kept_last_pos + 1 */
        if (out->first_lost_pos == 0)
            out->first_lost_pos = (int64_t)p->kept.pos + 1;
        if (p->last_lost > p->kept.pos || p->fills.n == 0)
            out->last_lost_pos = (int64_t)p->last_lost;
        if (p->last_lost > p->kept.pos) {
            out->lost_count += (int64_t)(p->last_lost - p->kept.pos);
            list_range(out, p->kept.pos + 1, p->last_lost);
        }
    }
    if (p->cut) {
        out->bytes_moved += (int64_t)p->bytes_cut; /* a dry run: what would move */
        out->files_moved += (int64_t)p->files_cut + (p->kept.seg && p->kept_seg_size > p->kept.end);
    }
    bool first_filled = p->fills.n > 0;
    if (out->damaged) {
        snprintf(out->damage_file, sizeof out->damage_file, "%s",
                 first_filled ? p->fill_file : p->damage_file);
        out->damage_offset = first_filled ? p->fill_off : p->damage_off;
        out->damage_pos = (int64_t)(first_filled ? p->fill_pos : p->damage_pos);
        snprintf(out->damage_what, sizeof out->damage_what, "%s",
                 first_filled ? p->fill_what : p->what);
    }
}

/* Step 0: a compressed segment with damaged frames goes back to plain, the damage as
 * zeros at its plain offsets, so that the scan finds it where it is and the rest is kept
 * (a dry run sees such a segment as damaged from its start). */
static int expand_damaged(file_backend *fb)
{
    for (size_t i = 0; i < evs__seg_count(fb); i++) {
        seg *s = evs__seg_at(fb, i);
        char plain[STORE_PATH_MAX];
        int rc = evs__seg_path(fb, s->first_pos, "seg", plain, sizeof plain);
        if (rc < 0)
            return rc;
        struct stat st;
        if (stat(plain, &st) == 0 || errno != ENOENT)
            continue;
        uint32_t bad;
        if (evs__zseg_expand_damaged(fb, s->first_pos, &bad) < 0) {
            evs__clearerr(); /* no frame to tell apart, or no file: the scan says so */
            continue;
        }
        /* A fresh struct reads the file now there, as the old one's mappings may be. */
        uint64_t first = s->first_pos;
        evs__seg_forget(fb, first);
        if ((rc = evs__seg_add(fb, first, NULL)) < 0)
            return rc;
    }
    return 0;
}

int evs__file_repair(const char *path, const evs_repair_opts *opts, evs_repair_report *out)
{
    bool dry_run = (opts->flags & EVS_REPAIR_DRY_RUN) != 0;
    bool keep_intact = (opts->flags & EVS_REPAIR_KEEP_INTACT) != 0;
    file_backend *fb;
    bool head_fresh;
    int rc = evs__fb_open_for_repair(&fb, path, dry_run, &head_fresh);
    if (rc < 0)
        return rc;
    if (!dry_run)
        rc = expand_damaged(fb);
    repair_plan plan;
    if (rc == 0)
        rc = evs__repair_scan(fb, head_fresh, keep_intact, &plan);
    else
        memset(&plan, 0, sizeof plan);
    bool saves = plan.cut || plan.fills.n > 0;
    if (rc == 0)
        fill_report(&plan, out);
    if (rc == 0 && out->damaged)
        rc = list_affected(fb, &plan, out);
    if (rc == 0 && dry_run && saves) /* the folder a repair run now would make */
        rc = evs__aside_dir_name(fb, out->saved_to, sizeof out->saved_to);
    if (rc == 0 && !dry_run && out->damaged)
        rc = evs__fb_repair_writable(fb);
    repair_job job = {fb, &plan, ""};
    if (rc == 0 && !dry_run && saves)
        rc = save_aside(&job, out);
    if (rc == 0 && !dry_run && plan.fills.n > 0)
        rc = fill_lost(&job);
    if (rc == 0 && !dry_run && plan.cut)
        rc = cut_log(&job);
    if (rc == 0 && !dry_run && (plan.cut || plan.head_ahead) && plan.last_lost > plan.kept.pos)
        rc = declare_lost(&job);
    /* The scan's table makes the index cheap to rebuild, and recovery then reads only
     * the last segment. */
    if (rc == 0 && !dry_run && out->damaged)
        rc = rebuild_index(&job);
    if (rc == 0 && !dry_run && out->damaged)
        rc = republish(&job);
    evs__repair_plan_free(&plan);
    evs__fb_free(fb);
    return rc;
}
