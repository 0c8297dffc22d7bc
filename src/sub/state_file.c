/*
 * state_file.c - the bytes of a read-model state file, read back with every check, and
 * replaced atomically.
 *
 * A state file is one header line, the JSON state, and a newline:
 *
 *   evstore-state 1 pos=1042 model=2 len=29 crc32c=d847c77d\n
 *   {"byUrl":{"a":{"n":1}},"k":0}\n
 *
 * Fields in this order, separated by one space, numbers in decimal without sign or
 * leading zeros: the format version (1); pos, the position of the last event the state
 * reflects; model, the application's projection version; len, the bytes of JSON; and
 * crc32c, 8 lowercase hex digits of the CRC32C of the header up to (not including) the
 * space before "crc32c=", followed by the JSON bytes. The file ends right after the
 * JSON's newline. A text header keeps the file readable with head(1) and jq (tail -n +2);
 * the checksum covers the header's numbers too, so a flipped digit in pos is caught,
 * and the length makes a truncated file distinguishable from a short state.
 * docs/FORMAT.md has the same description for readers in other languages.
 *
 * Replacing (docs/DESIGN.md, 'Replacing a file'): write PATH.tmp, fsync it, rename it over PATH, fsync the
 * directory. Until the rename the old file is untouched; after it the new one is whole.
 *
 * Every call goes through the syscall table (sysio.h), as the file backend's do, so
 * that test_state_faults can fail each one.
 */
#include "sub_internal.h"
#include "sysio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC      "evstore-state "
#define STATE_VERSION    1
#define STATE_HEADER_MAX 160 /* longest possible header line is about 110 bytes */

/* ---- reading ---------------------------------------------------------------------- */

/* Parse "<name><digits>" at *p (name includes the '='), at most max. Canonical decimal
 * only: the checksum makes any other spelling a damaged file anyway. */
static bool take_number(const char **p, const char *end, const char *name, uint64_t max,
                        uint64_t *out)
{
    size_t nlen = strlen(name);
    if ((size_t)(end - *p) < nlen || memcmp(*p, name, nlen) != 0)
        return false;
    const char *s = *p + nlen;
    uint64_t v = 0;
    const char *digits = s;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    if (s == digits || (s - digits > 1 && *digits == '0'))
        return false;
    *out = v;
    *p = s;
    return true;
}

static bool take_hex32(const char **p, const char *end, uint32_t *out)
{
    if (end - *p < 8)
        return false;
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char ch = (*p)[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *p += 8;
    *out = v;
    return true;
}

typedef struct header {
    size_t line_len;    /* bytes of the header line, newline included */
    size_t crc_covered; /* header bytes the checksum covers */
    uint64_t version, pos, model, len;
    uint32_t crc;
} header;

/* Parse the header line of buf[0..size). Errors name `path`. */
static int parse_header(const char *path, const char *buf, size_t size, header *h)
{
    size_t magic_len = sizeof STATE_MAGIC - 1;
    size_t cmp = size < magic_len ? size : magic_len;
    if (memcmp(buf, STATE_MAGIC, cmp) != 0)
        return evs__seterr(EVS_EFORMAT,
                           "'%s' is not an evstore state file (it does not start with "
                           "'evstore-state')",
                           path);
    if (size == 0)
        return evs__seterr(EVS_ECORRUPT, "state file '%s' is empty", path);
    const char *nl = memchr(buf, '\n', size < STATE_HEADER_MAX ? size : STATE_HEADER_MAX);
    if (!nl) {
        if (size < STATE_HEADER_MAX)
            return evs__seterr(EVS_ECORRUPT,
                               "state file '%s' is truncated: it ends inside its header "
                               "line, after %zu bytes",
                               path, size);
        return evs__seterr(EVS_ECORRUPT,
                           "state file '%s' is damaged: no end of its header line within "
                           "the first %d bytes",
                           path, STATE_HEADER_MAX);
    }
    const char *p = buf + magic_len, *end = nl;
    if (!take_number(&p, end, "", UINT32_MAX, &h->version) || h->version == 0)
        return evs__seterr(EVS_ECORRUPT,
                           "state file '%s' is damaged: bad format version in its header", path);
    if (h->version != STATE_VERSION)
        return evs__seterr(EVS_EFORMAT,
                           "state file '%s' has format version %" PRIu64
                           "; this evstore reads version %d",
                           path, h->version, STATE_VERSION);
    const char *at = p;
    bool ok = take_number(&p, end, " pos=", INT64_MAX, &h->pos) &&
              take_number(&p, end, " model=", UINT32_MAX, &h->model) &&
              take_number(&p, end, " len=", SIZE_MAX / 2, &h->len);
    if (ok) {
        h->crc_covered = (size_t)(p - buf);
        at = p;
        ok = end - p == 16 && memcmp(p, " crc32c=", 8) == 0;
    }
    if (ok) {
        p += 8;
        ok = take_hex32(&p, end, &h->crc);
    }
    if (!ok)
        return evs__seterr(EVS_ECORRUPT,
                           "state file '%s' is damaged: malformed header near byte %zu (want "
                           "'evstore-state 1 pos=N model=N len=N crc32c=XXXXXXXX')",
                           path, (size_t)(at - buf));
    h->line_len = (size_t)(nl - buf) + 1;
    return 0;
}

/* Check everything after the header: length, final newline, checksum, JSON. */
static int check_body(const char *path, const char *buf, size_t size, const header *h)
{
    size_t want = h->line_len + (size_t)h->len + 1;
    if (size < want)
        return evs__seterr(EVS_ECORRUPT,
                           "state file '%s' is truncated: its header announces %" PRIu64
                           " bytes of state, but the file ends %zu bytes early",
                           path, h->len, want - size);
    if (size > want)
        return evs__seterr(EVS_ECORRUPT,
                           "state file '%s' is damaged: %zu unexpected bytes after the end "
                           "of its state",
                           path, size - want);
    const char *json = buf + h->line_len;
    if (json[h->len] != '\n')
        return evs__seterr(EVS_ECORRUPT,
                           "state file '%s' is damaged: the state is not followed by a "
                           "newline",
                           path);
    uint32_t crc = evs__crc32c(evs__crc32c(0, buf, h->crc_covered), json, (size_t)h->len);
    if (crc != h->crc)
        return evs__seterr(EVS_ECORRUPT,
                           "state file '%s' is damaged: checksum mismatch (the header says "
                           "%08x, the contents give %08x)",
                           path, h->crc, crc);
    /* A whole file with a good checksum that is not JSON was not written by evstore. */
    if (evs_json_validate(json, (size_t)h->len) < 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", evs_errmsg());
        return evs__seterr(EVS_ECORRUPT, "state file '%s': the state is not valid JSON: %s", path,
                           why);
    }
    return 0;
}

/* The whole file into a new buffer. */
static int slurp(const char *path, char **out, size_t *out_len)
{
    int fd = evs__sys.open(path, O_RDONLY, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return EVS_ENOTFOUND;
        return evs__seterr_errno(errno, "cannot open state file '%s'", path);
    }
    struct stat st;
    int rc = 0;
    if (evs__sys.fstat(fd, &st) < 0)
        rc = evs__seterr_errno(errno, "cannot stat state file '%s'", path);
    else if (!S_ISREG(st.st_mode))
        rc = evs__seterr(EVS_EINVAL, "state file '%s' is not a regular file", path);
    char *buf = NULL;
    size_t have = 0;
    if (rc == 0) {
        size_t size = (size_t)st.st_size;
        buf = evs__alloc(size ? size : 1);
        if (!buf)
            rc = evs__seterr(EVS_ENOMEM, "out of memory reading state file '%s' (%zu bytes)", path,
                             size);
        /* A file that shrinks meanwhile reads short, which the checks report. */
        while (rc == 0 && have < size) {
            ssize_t got = evs__sys.pread(fd, buf + have, size - have, (off_t)have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                rc = evs__seterr_errno(errno, "cannot read state file '%s'", path);
            if (got <= 0)
                break;
            have += (size_t)got;
        }
    }
    evs__sys.close(fd);
    if (rc < 0) {
        evs__free(buf);
        return rc;
    }
    *out = buf;
    *out_len = have;
    return 0;
}

int evs__state_file_read(const char *path, evs__state_doc *out)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t size = 0;
    int rc = slurp(path, &buf, &size);
    if (rc < 0)
        return rc;
    header h = {0};
    rc = parse_header(path, buf, size, &h);
    if (rc == 0)
        rc = check_body(path, buf, size, &h);
    if (rc < 0) {
        evs__free(buf);
        return rc;
    }
    memmove(buf, buf + h.line_len, (size_t)h.len);
    out->json = buf;
    out->json_len = (size_t)h.len;
    out->pos = (int64_t)h.pos;
    out->model_version = (uint32_t)h.model;
    return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

/* fsync the directory holding `path`, so that a rename into it survives power loss. */
static int sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (evs__dirsync(dir) < 0)
        return evs__seterr_errno(errno,
                                 "state file '%s': the new state is in place but syncing its "
                                 "directory '%s' failed, so it may not survive a power loss",
                                 path, dir);
    return 0;
}

int evs__state_file_write(const char *path, const char *json, size_t json_len, int64_t pos,
                          uint32_t model_version)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return evs__seterr(EVS_EINVAL, "state file path '%s' is too long", path);
    char head[STATE_HEADER_MAX];
    int n = snprintf(head, sizeof head, STATE_MAGIC "%d pos=%" PRId64 " model=%" PRIu32 " len=%zu",
                     STATE_VERSION, pos, model_version, json_len);
    uint32_t crc = evs__crc32c(evs__crc32c(0, head, (size_t)n), json, json_len);
    n += snprintf(head + n, sizeof head - (size_t)n, " crc32c=%08" PRIx32 "\n", crc);

    int fd = evs__sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return evs__seterr_errno(errno,
                                 "state file '%s': cannot create '%s'; the file still holds "
                                 "the previous state",
                                 path, tmp);
    const char *failed = NULL; /* the step that failed */
    int err = 0;
    off_t at = n;
    if (evs__pwrite_all(fd, head, (size_t)n, 0) < 0 ||
        evs__pwrite_all(fd, json, json_len, at) < 0 ||
        evs__pwrite_all(fd, "\n", 1, at + (off_t)json_len) < 0)
        failed = "write to";
    else if (evs__sys.fsync(fd) < 0)
        failed = "fsync";
    if (failed)
        err = errno;
    if (evs__sys.close(fd) < 0 && !failed) {
        failed = "close";
        err = errno;
    }
    if (!failed && evs__sys.rename(tmp, path) < 0) {
        failed = "rename";
        err = errno;
    }
    if (failed) {
        (void)evs__sys.unlink(tmp);
        return evs__seterr_errno(err,
                                 "state file '%s': cannot %s '%s'; the file still holds the "
                                 "previous state",
                                 path, failed, tmp);
    }
    return sync_parent(path);
}
