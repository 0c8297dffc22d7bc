/*
 * faultutil.h - helpers shared by the fault tests (tests/fault): copying a store
 * directory, damaging files byte by byte, walking a segment's records with the layout of
 * src/file/format.h (only the fields the tests need), faking a reboot in the head page,
 * and collecting what evs_verify reports. Everything is static so that each test
 * executable stays self-contained.
 */
#ifndef EVS_FAULTUTIL_H
#define EVS_FAULTUTIL_H

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>

/* The bits of the on-disk format the tests touch (src/file/format.h). */
#define FU_SEG_HDR_LEN   64
#define FU_REC_HDR_LEN   88
#define FU_REC_OFF_LEN   4
#define FU_REC_OFF_POS   8
#define FU_REC_OFF_DLEN  68
#define FU_REC_OFF_MLEN  72
#define FU_REC_OFF_SLEN  76
#define FU_REC_OFF_TLEN  78
#define FU_REC_OFF_FLAGS 80
#define FU_REC_COMMIT    0x1u
#define FU_HEAD_OFF_BOOT 24
#define FU_HEAD_BOOT_LEN 16
#define FU_HEAD_OFF_SEQ  40
#define FU_HEAD_OFF_POS  48
#define FU_HEAD_OFF_END  64
#define FU_HEAD_OFF_SYNCED 80

/* What the test was doing, printed with every failed fu_check: loops over hundreds of
 * cases need to say which one broke. */
static char fu_where[512];

/* Soft failures: a loop over many cases may set fu_soft_jmp so that a failed check
 * jumps back to it (the loop counts the failure and goes on) instead of ending the
 * test; fu_print_budget bounds how many failures are printed in detail. */
static jmp_buf *fu_soft_jmp;
static int fu_print_budget = 1000000;

#define fu_set_where(...) snprintf(fu_where, sizeof fu_where, __VA_ARGS__)

static inline void fu_failed(const char *file, int line)
{
    if (fu_soft_jmp)
        longjmp(*fu_soft_jmp, 1);
    _fail(file, line);
}

#define fu_check(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (fu_print_budget-- > 0)                                                             \
                print_error("%s:%d: [%s] check failed: %s\n", __FILE__, __LINE__, fu_where,        \
                            #cond);                                                                \
            fu_failed(__FILE__, __LINE__);                                                         \
        }                                                                                          \
    } while (0)

#define fu_check_evs(want, call)                                                                   \
    do {                                                                                           \
        int fu_rc_ = (call);                                                                       \
        if (fu_rc_ != (want)) {                                                                    \
            if (fu_print_budget-- > 0)                                                             \
                print_error("%s:%d: [%s] %s returned %d (%s), want %s; message: %s\n", __FILE__,   \
                            __LINE__, fu_where, #call, fu_rc_, evs_errname(fu_rc_),                \
                            evs_errname(want), evs_errmsg());                                      \
            fu_failed(__FILE__, __LINE__);                                                         \
        }                                                                                          \
    } while (0)

static inline void fu_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Size of a file, or -1 when it does not exist. */
static inline int64_t fu_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return (int64_t)st.st_size;
}

static inline int64_t fu_file_size_in(const char *dir, const char *name)
{
    char path[4200];
    fu_path(path, sizeof path, dir, name);
    return fu_file_size(path);
}

static inline void fu_truncate(const char *dir, const char *name, int64_t len)
{
    char path[4200];
    fu_path(path, sizeof path, dir, name);
    if (truncate(path, (off_t)len) < 0) {
        print_error("truncate %s to %" PRId64 ": %s\n", path, len, strerror(errno));
        fail();
    }
}

static inline void fu_read_at(const char *dir, const char *name, int64_t off, void *buf, size_t len)
{
    char path[4200];
    fu_path(path, sizeof path, dir, name);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static inline void fu_write_at(const char *dir, const char *name, int64_t off, const void *buf,
                               size_t len)
{
    char path[4200];
    fu_path(path, sizeof path, dir, name);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* XOR the byte at `off` of a store file with `mask` (0x01 << k flips one bit, 0xff
 * flips a whole byte). */
static inline void fu_damage(const char *dir, const char *name, int64_t off, unsigned char mask)
{
    unsigned char b;
    fu_read_at(dir, name, off, &b, 1);
    b ^= mask;
    fu_write_at(dir, name, off, &b, 1);
}

static inline int fu_copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = -1;
            break;
        }
    if (n < 0)
        rc = -1;
    close(in);
    close(out);
    return rc;
}

/* Copy every regular file of store directory `from` into `to`, which is removed first
 * if it exists, and those of its stream index folder. */
static inline void fu_copy_store(const char *from, const char *to)
{
    tu_rmtree(to);
    assert_int_equal(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char src[4200], dst[4200];
        fu_path(src, sizeof src, from, e->d_name);
        fu_path(dst, sizeof dst, to, e->d_name);
        struct stat st;
        if (strcmp(e->d_name, "stream-index") == 0) {
            char sub_from[4200], sub_to[4200]; /* the names are short: no truncation */
            if (snprintf(sub_from, sizeof sub_from, "%.4080s/stream-index", from) > 0 &&
                snprintf(sub_to, sizeof sub_to, "%.4080s/stream-index", to) > 0 &&
                stat(sub_from, &st) == 0 && S_ISDIR(st.st_mode))
                fu_copy_store(sub_from, sub_to);
            continue;
        }
        if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (fu_copy_file(src, dst) < 0) {
            print_error("copy %s to %s: %s\n", src, dst, strerror(errno));
            closedir(d);
            fail();
        }
    }
    closedir(d);
}

static inline int fu_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first positions of the store's segments, ascending; returns how many. */
static inline size_t fu_list_segs(const char *dir, uint64_t *firsts, size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *s = e->d_name;
        if (strlen(s) != 24 || strcmp(s + 20, ".seg") != 0)
            continue;
        assert_true(n < max);
        firsts[n++] = strtoull(s, NULL, 10);
    }
    closedir(d);
    qsort(firsts, n, sizeof *firsts, fu_cmp_u64);
    return n;
}

static inline void fu_seg_name(char *buf, size_t len, uint64_t first)
{
    snprintf(buf, len, "%020" PRIu64 ".seg", first);
}

/* Make the head page look as if written before a reboot: another boot id. */
static inline void fu_fake_reboot(const char *dir)
{
    unsigned char other[FU_HEAD_BOOT_LEN];
    memset(other, 0x5a, sizeof other);
    fu_write_at(dir, "head", FU_HEAD_OFF_BOOT, other, sizeof other);
}

/* Make the head page say that positions up to pos were synced, as a writer that died
 * before syncing the later ones leaves it. */
static inline void fu_set_head_synced(const char *dir, uint64_t pos)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(pos >> (8 * i));
    fu_write_at(dir, "head", FU_HEAD_OFF_SYNCED, b, sizeof b);
}

static inline void fu_remove_head(const char *dir)
{
    char path[4200];
    fu_path(path, sizeof path, dir, "head");
    assert_int_equal(unlink(path), 0);
}

/* A stand-in for fdatasync and fsync (set into evs__sys) in tests that simulate crashes
 * by copying or cutting files, not by losing the page cache: real syncs would only
 * make them slow. */
static inline int fu_no_sync(int fd)
{
    (void)fd;
    return 0;
}

/* Remove the `synced` file (the durable record of how far the log was synced), as if
 * the writer that made the last appends died before it could write it: a tail cut in
 * them is then a torn write, not a loss. */
static inline void fu_remove_synced(const char *dir)
{
    char path[4200];
    fu_path(path, sizeof path, dir, "synced");
    assert_true(unlink(path) == 0 || errno == ENOENT);
}

/* Remove the store's stream index (a cache): an open that must recover then reads the
 * whole log, not just what lies past the index. */
static inline void fu_remove_index(const char *dir)
{
    char path[4200];
    fu_path(path, sizeof path, dir, "stream-index");
    tu_rmtree(path);
}

/* One record of a segment, as the tests see it. */
typedef struct fu_rec {
    int64_t off;      /* byte offset of the record in its segment */
    uint32_t len;     /* unpadded length */
    int64_t pos;      /* global position */
    unsigned flags;   /* REC_* */
    int64_t data_off; /* byte offset of its data (JSON) in the segment */
    uint32_t data_len;
    int64_t type_off; /* byte offset of its type name */
} fu_rec;

static inline uint32_t fu_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t fu_u64(const unsigned char *p)
{
    return (uint64_t)fu_u32(p) | (uint64_t)fu_u32(p + 4) << 32;
}

/* Walk the records of segment file `name` (an undamaged one) from its header on.
 * Returns how many were put in out[0..max). */
static inline size_t fu_seg_records(const char *dir, const char *name, fu_rec *out, size_t max)
{
    int64_t size = fu_file_size_in(dir, name);
    assert_true(size >= FU_SEG_HDR_LEN);
    size_t n = 0;
    int64_t off = FU_SEG_HDR_LEN;
    while (off + FU_REC_HDR_LEN <= size && n < max) {
        unsigned char h[FU_REC_HDR_LEN];
        fu_read_at(dir, name, off, h, sizeof h);
        fu_rec r;
        r.off = off;
        r.len = fu_u32(h + FU_REC_OFF_LEN);
        assert_true(r.len >= FU_REC_HDR_LEN && off + r.len <= size);
        r.pos = (int64_t)fu_u64(h + FU_REC_OFF_POS);
        r.flags = (unsigned)(h[FU_REC_OFF_FLAGS] | h[FU_REC_OFF_FLAGS + 1] << 8);
        uint32_t slen = (uint32_t)(h[FU_REC_OFF_SLEN] | h[FU_REC_OFF_SLEN + 1] << 8);
        uint32_t tlen = (uint32_t)(h[FU_REC_OFF_TLEN] | h[FU_REC_OFF_TLEN + 1] << 8);
        uint32_t mlen = fu_u32(h + FU_REC_OFF_MLEN);
        r.data_len = fu_u32(h + FU_REC_OFF_DLEN);
        r.type_off = off + FU_REC_HDR_LEN + slen;
        r.data_off = r.type_off + tlen + mlen;
        out[n++] = r;
        off += (r.len + 7) & ~(int64_t)7;
    }
    return n;
}

/* What evs_verify reported, for assertions. */
#define FU_MAX_PROBLEMS 16

typedef struct fu_problems {
    int count;
    char file[FU_MAX_PROBLEMS][64];
    int64_t off[FU_MAX_PROBLEMS];
    int64_t pos[FU_MAX_PROBLEMS];
    char what[FU_MAX_PROBLEMS][256];
} fu_problems;

static inline int fu_collect(void *ctx, const evs_problem *p, int64_t done, int64_t total)
{
    (void)done;
    (void)total;
    fu_problems *ps = ctx;
    if (!p)
        return 0;
    if (ps->count < FU_MAX_PROBLEMS) {
        int i = ps->count;
        snprintf(ps->file[i], sizeof ps->file[i], "%s", p->file ? p->file : "(null)");
        ps->off[i] = p->offset;
        ps->pos[i] = p->pos;
        snprintf(ps->what[i], sizeof ps->what[i], "%s", p->what ? p->what : "(null)");
    }
    ps->count++;
    return 0;
}

static inline void fu_print_problems(const fu_problems *ps)
{
    for (int i = 0; i < ps->count && i < FU_MAX_PROBLEMS; i++)
        print_error("  problem: %s @%" PRId64 " pos %" PRId64 ": %s\n", ps->file[i], ps->off[i],
                    ps->pos[i], ps->what[i]);
}

/* Run evs_verify expecting a whole store; print what it found otherwise. */
static inline void fu_verify_ok(evs_store *s)
{
    fu_problems ps;
    memset(&ps, 0, sizeof ps);
    evs_verify_report rep;
    int rc = evs_verify(&rep, s, fu_collect, &ps);
    if (rc != 0 || ps.count != 0) {
        if (fu_print_budget-- > 0) {
            print_error("[%s] evs_verify returned %s with %d problem(s): %s\n", fu_where,
                        evs_errname(rc), ps.count, evs_errmsg());
            fu_print_problems(&ps);
        }
        fu_failed(__FILE__, __LINE__);
    }
}

/* Does the message name `file` and "byte <off>"? */
static inline int fu_msg_names(const char *msg, const char *file, int64_t off)
{
    char want[64];
    snprintf(want, sizeof want, "byte %" PRId64, off);
    const char *at = strstr(msg, want);
    /* "byte 640" must not match a message about byte 6400. */
    return strstr(msg, file) != NULL && at != NULL &&
           (at[strlen(want)] < '0' || at[strlen(want)] > '9');
}

#endif /* EVS_FAULTUTIL_H */
