/*
 * segment_zstd.c - compressed sealed segments: writing a <first>.zseg in place of a
 * sealed <first>.seg, and reading it frame by frame as if it were the plain file.
 *
 * A reader sees the plain bytes at their plain offsets, in a private anonymous mapping
 * as long as the plain segment (s->data, like a plain segment's mapping): a frame is
 * decompressed into its place the first time a read touches it, after its checksum is
 * checked, and stays there until the store closes, so a pointer handed to a reader stays
 * valid as it does for a mapped plain file. Pages never touched cost nothing.
 */
#define _GNU_SOURCE
#include "segment_zstd.h"
#include "evstore.h"
#include "file_backend.h"
#include "format.h"
#include "frame_cache.h"
#include "path.h"
#include "record.h"
#include "sysio.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

/* Compression level: level 3 (zstd's default) leaves JSON events at about 5x in
 * 64 KiB frames; higher levels gain little there and cost the writer's thread time. */
#define ZSEG_LEVEL 3

struct zseg {
    int fd;
    char name[32]; /* "<first>.zseg", for errors */
    uint64_t plain_len;
    uint32_t frame_len;
    uint32_t count;
    unsigned char *table;         /* count x ZSEG_ENTRY_LEN, checked at open */
    unsigned char *plain;         /* the region's bytes, written by fill under mu */
    _Atomic unsigned char *ready; /* per frame: 1 once decompressed into place */
    pthread_mutex_t mu;           /* one decompression at a time per segment */
    ZSTD_DCtx *dctx;              /* made on first use, under mu */
    unsigned char *scratch;       /* a frame's compressed bytes, under mu */
    size_t scratch_cap;
    _Atomic uint64_t decompressed; /* frames decompressed so far, for tests */
};

uint64_t evs__zseg_plain_len(const zseg *z)
{
    return z->plain_len;
}

uint32_t evs__zseg_frame_len(const zseg *z)
{
    return z->frame_len;
}

void evs__zseg_free(zseg *z)
{
    if (!z)
        return;
    if (z->fd >= 0)
        evs__sys.close(z->fd);
    ZSTD_freeDCtx(z->dctx);
    pthread_mutex_destroy(&z->mu);
    evs__free(z->scratch);
    evs__fcache_forget(z);
    evs__free((void *)z->ready);
    evs__free(z->table);
    evs__free(z);
}

/* What is wrong with header h of a file `size` bytes long that should be segment
 * first_pos's: NULL when nothing; *off the byte offset of the bad field. */
static const char *header_fault(const file_backend *fb, uint64_t first_pos, const unsigned char *h,
                                uint64_t size, uint64_t *off)
{
    *off = 0;
    if (memcmp(h + ZSEG_OFF_MAGIC, ZSEG_MAGIC, 8) != 0)
        return "not a compressed segment (bad magic)";
    *off = ZSEG_OFF_CRC;
    if (evs__get_u32(h + ZSEG_OFF_CRC) != evs__crc32c(0, h, ZSEG_OFF_CRC))
        return "header checksum mismatch";
    *off = ZSEG_OFF_FMT;
    if (evs__get_u32(h + ZSEG_OFF_FMT) != EVS_FORMAT_VERSION)
        return "unknown format version";
    *off = ZSEG_OFF_FIRST;
    if (evs__get_u64(h + ZSEG_OFF_FIRST) != first_pos)
        return "header names another first position";
    *off = ZSEG_OFF_ID;
    if (memcmp(h + ZSEG_OFF_ID, fb->store_id, 16) != 0)
        return "the segment belongs to another store";
    uint32_t frame = evs__get_u32(h + ZSEG_OFF_FRAME);
    uint64_t plain = evs__get_u64(h + ZSEG_OFF_PLAIN);
    uint64_t count = evs__get_u32(h + ZSEG_OFF_COUNT);
    *off = ZSEG_OFF_FRAME;
    if (frame < 4096 || frame > (16u << 20) || (frame & (frame - 1)) != 0)
        return "impossible frame length";
    *off = ZSEG_OFF_PLAIN;
    if (plain < SEG_HDR_LEN || plain > UINT32_MAX + (uint64_t)1)
        return "impossible plain length";
    *off = ZSEG_OFF_COUNT;
    if (count != (plain + frame - 1) / frame)
        return "frame count does not cover the plain length";
    if (size < ZSEG_HDR_LEN + count * ZSEG_ENTRY_LEN)
        return "the file ends inside its frame table";
    return NULL;
}

/* Check the frame table t (count entries) of a file `size` bytes long: frames back to
 * back from the table's end to the file's end. NULL when whole; else why, with *off the
 * file offset of the bad entry. */
static const char *table_fault(const unsigned char *t, uint32_t count, uint32_t frame_len,
                               uint64_t size, uint64_t *off)
{
    uint64_t at = ZSEG_HDR_LEN + (uint64_t)count * ZSEG_ENTRY_LEN;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = t + (size_t)i * ZSEG_ENTRY_LEN;
        *off = ZSEG_HDR_LEN + (uint64_t)i * ZSEG_ENTRY_LEN;
        uint64_t len = evs__get_u32(e + ZSEG_ENT_LEN);
        if (evs__get_u64(e + ZSEG_ENT_OFF) != at)
            return "a frame does not start where the one before it ends";
        if (len == 0 || len > ZSTD_compressBound(frame_len) || at + len > size)
            return "a frame's length is impossible or runs past the end of the file";
        at += len;
    }
    *off = at;
    return at == size ? NULL : "the file does not end where its last frame does";
}

int evs__zseg_open(const file_backend *fb, seg *s, zseg **out, mapping **region)
{
    char path[STORE_PATH_MAX];
    int rc = evs__seg_path(fb, s->first_pos, "zseg", path, sizeof path);
    if (rc < 0)
        return rc;
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0)
        return errno == ENOENT ? EVS_ENOTFOUND
                               : evs__seterr_errno(errno, "cannot open segment '%s'", path);
    zseg *z = evs__calloc(1, sizeof *z);
    mapping *m = evs__calloc(1, sizeof *m);
    if (!z || !m) {
        evs__free(z);
        evs__free(m);
        evs__sys.close(fd);
        return evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", path);
    }
    z->fd = fd;
    pthread_mutex_init(&z->mu, NULL);
    evs__seg_name(z->name, sizeof z->name, s->first_pos, "zseg");
    unsigned char h[ZSEG_HDR_LEN];
    struct stat st;
    uint64_t off = 0;
    const char *why = NULL;
    if (evs__sys.fstat(fd, &st) < 0) {
        rc = evs__seterr_errno(errno, "cannot read segment '%s'", path);
        goto fail;
    }
    rc = (uint64_t)st.st_size < ZSEG_HDR_LEN ? 1 : evs__pread_all(fd, h, sizeof h, 0);
    if (rc < 0) {
        rc = evs__seterr_errno(errno, "cannot read segment '%s'", path);
        goto fail;
    }
    why = rc > 0 ? "the file is shorter than its header"
                 : header_fault(fb, s->first_pos, h, (uint64_t)st.st_size, &off);
    if (why)
        goto corrupt;
    z->plain_len = evs__get_u64(h + ZSEG_OFF_PLAIN);
    z->frame_len = evs__get_u32(h + ZSEG_OFF_FRAME);
    z->count = evs__get_u32(h + ZSEG_OFF_COUNT);
    size_t tlen = (size_t)z->count * ZSEG_ENTRY_LEN;
    z->table = evs__alloc(tlen);
    z->ready = evs__calloc(z->count, 1);
    if (!z->table || !z->ready) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory opening '%s'", path);
        goto fail;
    }
    if (evs__pread_all(fd, z->table, tlen, ZSEG_HDR_LEN) != 0) {
        rc = evs__seterr_errno(errno ? errno : EIO, "cannot read the frame table of '%s'", path);
        goto fail;
    }
    off = ZSEG_HDR_LEN;
    if (evs__crc32c(0, z->table, tlen) != evs__get_u32(h + ZSEG_OFF_TABCRC))
        why = "frame table checksum mismatch";
    else
        why = table_fault(z->table, z->count, z->frame_len, (uint64_t)st.st_size, &off);
    if (why)
        goto corrupt;
    size_t mlen = (size_t)((z->plain_len + 4095) & ~(uint64_t)4095);
    void *p = evs__sys.mmap(NULL, mlen, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        rc = evs__seterr_errno(errno, "cannot map the plain bytes of '%s'", path);
        goto fail;
    }
    z->plain = p;
    m->base = p;
    m->len = mlen;
    *out = z;
    *region = m;
    return fd;
corrupt:
    rc = evs__seterr(EVS_ECORRUPT, "segment %s: %s at byte %" PRIu64, z->name, why, off);
fail:
    evs__free(m);
    evs__zseg_free(z);
    return rc;
}

/* Decompress frame i into dst. The caller holds z->mu. */
static int fill_frame(zseg *z, uint32_t i, unsigned char *dst)
{
    const unsigned char *e = z->table + (size_t)i * ZSEG_ENTRY_LEN;
    uint64_t at = evs__get_u64(e + ZSEG_ENT_OFF);
    size_t len = evs__get_u32(e + ZSEG_ENT_LEN);
    uint64_t from = (uint64_t)i * z->frame_len;
    size_t want = (size_t)(z->plain_len - from < z->frame_len ? z->plain_len - from : z->frame_len);
    if (!z->dctx && !(z->dctx = ZSTD_createDCtx()))
        return evs__seterr(EVS_ENOMEM, "out of memory decompressing %s", z->name);
    if (len > z->scratch_cap) {
        unsigned char *n = evs__realloc(z->scratch, len);
        if (!n)
            return evs__seterr(EVS_ENOMEM, "out of memory decompressing %s", z->name);
        z->scratch = n;
        z->scratch_cap = len;
    }
    int rc = evs__pread_all(z->fd, z->scratch, len, (off_t)at);
    if (rc != 0)
        return evs__seterr_errno(rc < 0 ? errno : EIO, "cannot read segment %s at byte %" PRIu64,
                                 z->name, at);
    if (evs__crc32c(0, z->scratch, len) != evs__get_u32(e + ZSEG_ENT_CRC))
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: frame %" PRIu32 " at byte %" PRIu64
                           ": checksum mismatch (plain bytes %" PRIu64 "..%" PRIu64 " unreadable)",
                           z->name, i, at, from, from + want);
    atomic_fetch_add_explicit(&z->decompressed, 1, memory_order_relaxed);
    size_t got = ZSTD_decompressDCtx(z->dctx, dst, want, z->scratch, len);
    if (ZSTD_isError(got) || got != want)
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: frame %" PRIu32 " at byte %" PRIu64
                           " does not decompress to its %zu bytes (%s)",
                           z->name, i, at, want,
                           ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong length");
    return 0;
}

int evs__zseg_fill(zseg *z, uint64_t from, uint64_t to)
{
    if (to > z->plain_len)
        to = z->plain_len;
    if (from >= to)
        return 0;
    uint32_t last = (uint32_t)((to - 1) / z->frame_len);
    for (uint32_t i = (uint32_t)(from / z->frame_len); i <= last; i++) {
        if (atomic_load_explicit(&z->ready[i], memory_order_acquire))
            continue;
        pthread_mutex_lock(&z->mu);
        int rc = atomic_load_explicit(&z->ready[i], memory_order_relaxed)
                     ? 0
                     : fill_frame(z, i, z->plain + (uint64_t)i * z->frame_len);
        if (rc == 0)
            atomic_store_explicit(&z->ready[i], 1, memory_order_release);
        pthread_mutex_unlock(&z->mu);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int64_t evs__zseg_copy(zseg *z, void *buf, uint64_t off, size_t len)
{
    unsigned char *out = buf;
    size_t done = 0;
    while (len > 0) {
        uint32_t i = (uint32_t)(off / z->frame_len);
        uint64_t in = off - (uint64_t)i * z->frame_len;
        size_t n = (size_t)(z->frame_len - in < len ? z->frame_len - in : len);
        if (atomic_load_explicit(&z->ready[i], memory_order_acquire)) {
            memcpy(out, z->plain + off, n);
        } else if (!evs__fcache_get(z, i, (size_t)in, n, out)) {
            unsigned char *fb = evs__fcache_take(z->frame_len);
            int rc = fb ? 0 : evs__seterr(EVS_ENOMEM, "out of memory decompressing %s", z->name);
            if (rc == 0) {
                pthread_mutex_lock(&z->mu);
                rc = fill_frame(z, i, fb);
                pthread_mutex_unlock(&z->mu);
            }
            if (rc == 0) {
                memcpy(out, fb + in, n);
                evs__fcache_put(z, i, fb, z->frame_len);
            } else {
                evs__free(fb);
            }
            if (rc < 0) /* what comes before a damaged frame still reads */
                return done > 0 ? (int64_t)done : rc;
        }
        out += n;
        off += n;
        len -= n;
        done += n;
    }
    return (int64_t)done;
}

uint64_t evs__zseg_frames_decompressed(zseg *z)
{
    return atomic_load_explicit(&z->decompressed, memory_order_relaxed);
}

size_t evs__zseg_frames_filled(zseg *z)
{
    size_t n = 0;
    for (uint32_t i = 0; i < z->count; i++)
        n += atomic_load_explicit(&z->ready[i], memory_order_relaxed);
    return n;
}

/* ---- compressing ----------------------------------------------------------------- */

bool evs__zseg_stale_temp(const char *n)
{
    size_t len = strlen(n);
    if (len < 31 || strcmp(n + len - 4, ".tmp") != 0 || memcmp(n + 20, ".zseg.", 6) != 0)
        return false;
    for (int i = 0; i < 20; i++)
        if (n[i] < '0' || n[i] > '9')
            return false;
    return evs__tmp_pid_gone(n + 26, n + len - 4);
}

/* Are the plain segment's bytes p (len of them) its header and whole records, checksums
 * right, of consecutive positions below `next` (the next segment's first position)?
 * EVS_ECORRUPT naming file and offset if not. */
static int check_plain(const file_backend *fb, const seg *s, const char *name,
                       const unsigned char *p, uint64_t len, uint64_t next)
{
    char why[160];
    int64_t hoff;
    if (len < SEG_HDR_LEN)
        return evs__seterr(EVS_ECORRUPT, "segment %s: shorter than its header; not compressed",
                           name);
    if (evs__seg_header_bad(fb, s, p, why, sizeof why, &hoff))
        return evs__seterr(EVS_ECORRUPT, "segment %s: %s at byte %" PRId64 "; not compressed", name,
                           why, hoff);
    uint64_t off = SEG_HDR_LEN, n = 0;
    while (off < len) {
        rec_view r;
        int st = evs__rec_decode(p + off, len - off, true, &r);
        if (st == REC_OK && r.pos != s->first_pos + n)
            st = REC_BADVAL;
        if (st != REC_OK)
            return evs__seterr(EVS_ECORRUPT, "segment %s: %s at byte %" PRIu64 "; not compressed",
                               name, evs__rec_status_str(st), off);
        off += REC_ALIGN(r.len);
        n++;
    }
    if (n == 0 || s->first_pos + n > next)
        return evs__seterr(EVS_ECORRUPT,
                           "segment %s: holds %" PRIu64 " records, and the next segment starts "
                           "at position %" PRIu64 "; not compressed",
                           name, n, next);
    return 0;
}

/* Write the compressed image of p (len plain bytes) to fd: frames first, each checked
 * by decompressing it again, then the table and the header. */
static int write_image(const file_backend *fb, uint64_t first_pos, const char *tmp, int fd,
                       const unsigned char *p, uint64_t len, uint64_t *written)
{
    uint32_t count = (uint32_t)((len + ZSEG_FRAME_LEN - 1) / ZSEG_FRAME_LEN);
    size_t tlen = (size_t)count * ZSEG_ENTRY_LEN, bound = ZSTD_compressBound(ZSEG_FRAME_LEN);
    unsigned char *table = evs__calloc(1, tlen), *out = evs__alloc(bound),
                  *back = evs__alloc(ZSEG_FRAME_LEN);
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    int rc = 0;
    if (!table || !out || !back || !cctx || !dctx) {
        rc = evs__seterr(EVS_ENOMEM, "out of memory compressing '%s'", tmp);
        goto out;
    }
    uint64_t at = ZSEG_HDR_LEN + tlen;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t from = (uint64_t)i * ZSEG_FRAME_LEN;
        size_t n = (size_t)(len - from < ZSEG_FRAME_LEN ? len - from : ZSEG_FRAME_LEN);
        size_t c = ZSTD_compressCCtx(cctx, out, bound, p + from, n, ZSEG_LEVEL);
        if (ZSTD_isError(c)) {
            rc = evs__seterr(EVS_EIO, "cannot compress '%s': %s", tmp, ZSTD_getErrorName(c));
            goto out;
        }
        /* Never trust a frame that was not seen to give the plain bytes back. */
        size_t d = ZSTD_decompressDCtx(dctx, back, ZSEG_FRAME_LEN, out, c);
        if (ZSTD_isError(d) || d != n || memcmp(back, p + from, n) != 0) {
            rc = evs__seterr(EVS_EIO,
                             "compressing '%s': frame %" PRIu32 " does not decompress "
                             "to its plain bytes",
                             tmp, i);
            goto out;
        }
        if (evs__pwrite_all(fd, out, c, (off_t)at) < 0) {
            rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
            goto out;
        }
        unsigned char *e = table + (size_t)i * ZSEG_ENTRY_LEN;
        evs__put_u64(e + ZSEG_ENT_OFF, at);
        evs__put_u32(e + ZSEG_ENT_LEN, (uint32_t)c);
        evs__put_u32(e + ZSEG_ENT_CRC, evs__crc32c(0, out, c));
        at += c;
    }
    unsigned char h[ZSEG_HDR_LEN];
    memset(h, 0, sizeof h);
    memcpy(h + ZSEG_OFF_MAGIC, ZSEG_MAGIC, 8);
    evs__put_u32(h + ZSEG_OFF_FMT, EVS_FORMAT_VERSION);
    evs__put_u32(h + ZSEG_OFF_FRAME, ZSEG_FRAME_LEN);
    evs__put_u64(h + ZSEG_OFF_FIRST, first_pos);
    evs__put_u64(h + ZSEG_OFF_PLAIN, len);
    memcpy(h + ZSEG_OFF_ID, fb->store_id, 16);
    evs__put_u32(h + ZSEG_OFF_COUNT, count);
    evs__put_u32(h + ZSEG_OFF_TABCRC, evs__crc32c(0, table, tlen));
    evs__put_u32(h + ZSEG_OFF_CRC, evs__crc32c(0, h, ZSEG_OFF_CRC));
    if (evs__pwrite_all(fd, table, tlen, ZSEG_HDR_LEN) < 0 ||
        evs__pwrite_all(fd, h, sizeof h, 0) < 0)
        rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
    *written = at;
out:
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    evs__free(table);
    evs__free(out);
    evs__free(back);
    return rc;
}

/* Map the file at path read-only, whole: *p and *len; EVS_ENOTFOUND
 * (nothing set) when there is none. */
static int map_file(const char *path, const unsigned char **p, uint64_t *len)
{
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0)
        return errno == ENOENT ? EVS_ENOTFOUND
                               : evs__seterr_errno(errno, "cannot open segment '%s'", path);
    struct stat st;
    void *m = MAP_FAILED;
    if (evs__sys.fstat(fd, &st) == 0 && st.st_size > 0)
        m = evs__sys.mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    else if (st.st_size == 0)
        errno = EINVAL;
    int saved = errno;
    evs__sys.close(fd);
    if (m == MAP_FAILED)
        return evs__seterr_errno(saved, "cannot map segment '%s'", path);
    *p = m;
    *len = (uint64_t)st.st_size;
    return 0;
}

int evs__zseg_compress(file_backend *fb, uint64_t first_pos, uint64_t next, zseg_result *out)
{
    char plain[STORE_PATH_MAX], dest[STORE_PATH_MAX], tmp[STORE_TMP_PATH_MAX], name[32];
    int rc = evs__seg_path(fb, first_pos, "seg", plain, sizeof plain);
    if (rc == 0)
        rc = evs__seg_path(fb, first_pos, "zseg", dest, sizeof dest);
    if (rc < 0)
        return rc;
    evs__seg_name(name, sizeof name, first_pos, "seg");
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", dest, (int)getpid()); /* see evs__zseg_stale_temp */
    const unsigned char *p;
    uint64_t len;
    rc = map_file(plain, &p, &len);
    memset(out, 0, sizeof *out);
    if (rc == EVS_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    seg probe = {.first_pos = first_pos};
    rc = check_plain(fb, &probe, name, p, len, next);
    int fd = -1;
    if (rc == 0 && (fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
        rc = evs__seterr_errno(errno, "cannot create '%s'", tmp);
    if (rc == 0)
        rc = write_image(fb, first_pos, tmp, fd, p, len, &out->packed_len);
    if (rc == 0 && evs__datasync(fd) < 0)
        rc = evs__seterr_errno(errno, "cannot sync '%s'", tmp);
    if (fd >= 0)
        evs__sys.close(fd);
    evs__sys.munmap((void *)p, (size_t)len);
    /* Only a whole, synced file takes the name: then a crash leaves the plain file, or
     * both (the plain one is read), or, once the plain one is gone, this one. */
    if (rc == 0 && evs__sys.rename(tmp, dest) < 0)
        rc = evs__seterr_errno(errno, "cannot rename '%s' to '%s'", tmp, dest);
    if (rc < 0) {
        if (fd >= 0)
            (void)evs__sys.unlink(tmp);
        return rc;
    }
    if (evs__dirsync(fb->dir) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", fb->dir);
    if (evs__sys.unlink(plain) < 0 && errno != ENOENT)
        return evs__seterr_errno(errno, "cannot remove '%s'", plain);
    if (evs__dirsync(fb->dir) < 0)
        return evs__seterr_errno(errno, "cannot sync directory '%s'", fb->dir);
    out->done = true;
    out->plain_len = len;
    return 0;
}

/* ---- back to plain, for repair --------------------------------------------------- */

/* Decompress image f (flen bytes, its header checked: plain_len, frame_len, count) into
 * plain (zeroed, plain_len bytes): through the table when it is whole, else by walking
 * the frames from the table's end. Frames that fail stay zeros; *bad counts them. */
static void expand_frames(const unsigned char *f, uint64_t flen, unsigned char *plain,
                          uint64_t plain_len, uint32_t frame_len, uint32_t count, bool table_ok,
                          ZSTD_DCtx *dctx, uint32_t *bad)
{
    uint64_t at = ZSEG_HDR_LEN + (uint64_t)count * ZSEG_ENTRY_LEN;
    *bad = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t from = (uint64_t)i * frame_len;
        size_t want = (size_t)(plain_len - from < frame_len ? plain_len - from : frame_len);
        const unsigned char *e = f + ZSEG_HDR_LEN + (size_t)i * ZSEG_ENTRY_LEN;
        size_t len;
        if (table_ok) {
            at = evs__get_u64(e + ZSEG_ENT_OFF);
            len = evs__get_u32(e + ZSEG_ENT_LEN);
        } else {
            len = at < flen ? ZSTD_findFrameCompressedSize(f + at, (size_t)(flen - at)) : 0;
            if (len == 0 || ZSTD_isError(len)) { /* lost track: the rest stays zeros */
                *bad += count - i;
                return;
            }
        }
        bool ok = !table_ok || evs__crc32c(0, f + at, len) == evs__get_u32(e + ZSEG_ENT_CRC);
        size_t got = ok ? ZSTD_decompressDCtx(dctx, plain + from, want, f + at, len) : 0;
        if (!ok || ZSTD_isError(got) || got != want) {
            memset(plain + from, 0, want);
            ++*bad;
        }
        at += len;
    }
}

/* Write plain (len bytes) as segment first_pos's plain file, crash-safely, and remove
 * the compressed one. */
static int install_plain(file_backend *fb, uint64_t first_pos, const unsigned char *plain,
                         uint64_t len)
{
    char seg_path[STORE_PATH_MAX], zpath[STORE_PATH_MAX], tmp[STORE_TMP_PATH_MAX];
    int rc = evs__seg_path(fb, first_pos, "seg", seg_path, sizeof seg_path);
    if (rc == 0)
        rc = evs__seg_path(fb, first_pos, "zseg", zpath, sizeof zpath);
    if (rc < 0)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", zpath, (int)getpid()); /* swept like a compression's */
    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno, "cannot create '%s'", tmp);
    if (evs__pwrite_all(fd, plain, (size_t)len, 0) < 0 || evs__datasync(fd) < 0)
        rc = evs__seterr_errno(errno, "cannot write '%s'", tmp);
    evs__sys.close(fd);
    if (rc == 0 && evs__sys.rename(tmp, seg_path) < 0)
        rc = evs__seterr_errno(errno, "cannot rename '%s' to '%s'", tmp, seg_path);
    if (rc < 0) {
        (void)evs__sys.unlink(tmp);
        return rc;
    }
    if (evs__dirsync(fb->dir) < 0 || (evs__sys.unlink(zpath) < 0 && errno != ENOENT) ||
        evs__dirsync(fb->dir) < 0)
        return evs__seterr_errno(errno, "cannot replace '%s' by '%s'", zpath, seg_path);
    return 0;
}

int evs__zseg_expand_damaged(file_backend *fb, uint64_t first_pos, uint32_t *bad_frames)
{
    char zpath[STORE_PATH_MAX];
    *bad_frames = 0;
    int rc = evs__seg_path(fb, first_pos, "zseg", zpath, sizeof zpath);
    if (rc < 0)
        return rc;
    const unsigned char *f;
    uint64_t flen;
    rc = map_file(zpath, &f, &flen);
    if (rc < 0)
        return rc;
    uint64_t off;
    const char *why = flen < ZSEG_HDR_LEN ? "the file is shorter than its header"
                                          : header_fault(fb, first_pos, f, flen, &off);
    if (why) {
        evs__sys.munmap((void *)f, (size_t)flen);
        return evs__seterr(EVS_ECORRUPT,
                           "segment %020" PRIu64 ".zseg: %s at byte %" PRIu64
                           "; its frames cannot be told apart",
                           first_pos, why, flen < ZSEG_HDR_LEN ? 0 : off);
    }
    uint64_t plain_len = evs__get_u64(f + ZSEG_OFF_PLAIN);
    uint32_t frame_len = evs__get_u32(f + ZSEG_OFF_FRAME), count = evs__get_u32(f + ZSEG_OFF_COUNT);
    size_t tlen = (size_t)count * ZSEG_ENTRY_LEN;
    bool table_ok = evs__crc32c(0, f + ZSEG_HDR_LEN, tlen) == evs__get_u32(f + ZSEG_OFF_TABCRC) &&
                    !table_fault(f + ZSEG_HDR_LEN, count, frame_len, flen, &off);
    unsigned char *plain = evs__calloc(1, (size_t)plain_len);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!plain || !dctx)
        rc = evs__seterr(EVS_ENOMEM, "out of memory decompressing '%s'", zpath);
    else
        expand_frames(f, flen, plain, plain_len, frame_len, count, table_ok, dctx, bad_frames);
    evs__sys.munmap((void *)f, (size_t)flen);
    ZSTD_freeDCtx(dctx);
    if (rc == 0 && (*bad_frames > 0 || !table_ok))
        rc = install_plain(fb, first_pos, plain, plain_len);
    evs__free(plain);
    return rc;
}
