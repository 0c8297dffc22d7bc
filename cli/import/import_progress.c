/*
 * import_progress.c - the progress bar of `evstore import`: on standard error, and only
 * when that is a terminal, so a pipe or a log file never gets carriage returns. It
 * measures what was read of the input (bytes as stored, compressed or not; rows for a
 * database) against the total known at the start; for input of unknown size (standard
 * input, a pipe) it shows the counts without a bar.
 */
#include "import.h"

#include <stdio.h>
#include <sys/stat.h>

/* Redraw at most this often: a terminal that scrolls costs more than the import. */
#define REDRAW_NS 100000000

void im_progress_size_files(im_progress *p, char *const *paths, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        /* One input of unknown size (standard input, a pipe) makes the whole unknown. */
        if ((paths[i][0] == '-' && paths[i][1] == '\0') || stat(paths[i], &st) != 0 ||
            !S_ISREG(st.st_mode)) {
            p->total = 0;
            return;
        }
        total += (uint64_t)st.st_size;
    }
    p->total = total;
}

void im_progress_show(im_progress *p, int64_t events)
{
    if (!p->tty)
        return;
    int64_t now = evs__monotonic_ns();
    if (p->shown && now - p->last_ns < REDRAW_NS)
        return;
    p->last_ns = now;
    bool rows = p->rows;
    double scale = rows ? 1.0 : 1.0 / (1 << 20);
    if (p->total > 0) {
        uint64_t done = p->done < p->total ? p->done : p->total;
        int pct = (int)(done * 100 / p->total);
        (void)fprintf(stderr, "\r\033[Kimport: %3d%% [%-40.*s] %lld events, %.*f/%.*f %s", pct,
                      pct * 40 / 100, "########################################", (long long)events,
                      rows ? 0 : 1, (double)done * scale, rows ? 0 : 1, (double)p->total * scale,
                      rows ? "rows" : "MiB");
    } else {
        (void)fprintf(stderr, "\r\033[Kimport: %lld events, %.1f MiB read", (long long)events,
                      (double)p->done * scale);
    }
    (void)fflush(stderr);
    p->shown = true;
}

void im_progress_clear(im_progress *p)
{
    if (!p->shown)
        return;
    (void)fputs("\r\033[K", stderr);
    (void)fflush(stderr);
    p->shown = false;
}
