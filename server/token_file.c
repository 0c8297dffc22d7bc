/*
 * token_file.c - ROOT/tokens: the server's bearer tokens, one line each, only their
 * SHA-256 kept (docs/API.md describes the file).
 *
 * A token reads "evs_<id>_<secret>": the id (8 random bytes in hex) names it in `token
 * list` and `token revoke`; the secret is 32 random bytes in hex from the kernel's
 * CSPRNG (getrandom). The file is replaced whole (temporary file, fsync, rename, fsync
 * of the directory), mode 0600, under an flock on ROOT/tokens.lock so that two
 * concurrent `token create` runs cannot lose each other's token.
 */
#define _GNU_SOURCE /* getrandom */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_HEADER  "# evstore tokens 1: id, sha256, tenant, scopes, actor, label, created_ns\n"
#define SECRET_BYTES 32
#define ID_BYTES     (TOK_ID_LEN / 2)

static const char *const scope_names[] = {"read", "append", "consume", "admin"};
#define SCOPE_COUNT (sizeof scope_names / sizeof scope_names[0])

bool tok_parse_scopes(const char *s, unsigned *out, char *why, size_t why_len)
{
    unsigned mask = 0;
    const char *p = s;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        size_t k = 0;
        while (k < SCOPE_COUNT &&
               !(strlen(scope_names[k]) == n && memcmp(p, scope_names[k], n) == 0))
            k++;
        if (k == SCOPE_COUNT) {
            (void)snprintf(why, why_len,
                           "unknown scope '%.*s' (scopes: read, append, consume, admin)", (int)n,
                           p);
            return false;
        }
        mask |= 1u << k;
        p += n;
        if (*p == ',')
            p++;
    }
    if (mask == 0) {
        (void)snprintf(why, why_len, "no scope given (scopes: read, append, consume, admin)");
        return false;
    }
    *out = mask;
    return true;
}

void tok_scopes_str(unsigned scopes, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < SCOPE_COUNT; k++) {
        if ((scopes & (1u << k)) == 0)
            continue;
        int n = snprintf(buf + at, len - at, "%s%s", at > 0 ? "," : "", scope_names[k]);
        if (n < 0 || (size_t)n >= len - at)
            break;
        at += (size_t)n;
    }
}

static void to_hex(char *out, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool from_hex(unsigned char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int h = 0; h < 2; h++) {
            char c = s[2 * i + (size_t)h];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16u;
            if (d == 16)
                return false;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return true;
}

static bool sha256(unsigned char out[TOK_HASH_LEN], const char *text, size_t len)
{
    unsigned int n = 0;
    return EVP_Digest(text, len, out, &n, EVP_sha256(), NULL) == 1 && n == TOK_HASH_LEN;
}

static bool kernel_random(unsigned char *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(out + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        got += (size_t)n;
    }
    return true;
}

void tok_list_free(tok_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* One line into *e; false when it is not a token line. */
static bool parse_line(tok_entry *e, char *line)
{
    char *f[7];
    size_t n = 0;
    for (char *p = line; n < 7; n++) {
        f[n] = p;
        char *tab = strchr(p, '\t');
        if (tab == NULL) {
            n++;
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (n != 7 || strlen(f[0]) != TOK_ID_LEN || strlen(f[1]) != 2 * TOK_HASH_LEN ||
        !from_hex(e->hash, f[1], TOK_HASH_LEN) || strlen(f[2]) > EVS_MAX_TENANT_NAME_LEN ||
        strlen(f[4]) > TOK_MAX_FIELD || strlen(f[5]) > TOK_MAX_FIELD)
        return false;
    char why[128];
    if (!tok_parse_scopes(f[3], &e->scopes, why, sizeof why))
        return false;
    (void)snprintf(e->id, sizeof e->id, "%s", f[0]);
    (void)snprintf(e->tenant, sizeof e->tenant, "%s", f[2]);
    (void)snprintf(e->actor, sizeof e->actor, "%s", f[4]);
    (void)snprintf(e->label, sizeof e->label, "%s", f[5]);
    e->created_ns = strtoll(f[6], NULL, 10);
    return true;
}

static void token_path(char *buf, size_t len, const char *root, const char *name)
{
    (void)snprintf(buf, len, "%s/%s", root, name);
}

int tok_load(tok_list *out, const char *root, char *why, size_t why_len)
{
    out->items = NULL;
    out->count = 0;
    char path[4096];
    token_path(path, sizeof path, root, "tokens");
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        (void)snprintf(why, why_len, "open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    size_t cap = 0, line_no = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line_no++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (out->count == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            tok_entry *p = realloc(out->items, cap * sizeof *p);
            if (p == NULL) {
                (void)snprintf(why, why_len, "out of memory");
                rc = -1;
                break;
            }
            out->items = p;
        }
        if (!parse_line(&out->items[out->count], line)) {
            (void)snprintf(why, why_len, "%s: line %zu is not a token line", path, line_no);
            rc = -1;
            break;
        }
        out->count++;
    }
    (void)fclose(f);
    if (rc < 0)
        tok_list_free(out);
    return rc;
}

/* Write the list as ROOT/tokens, replacing it atomically and durably. */
static int save(const tok_list *l, const char *root, char *why, size_t why_len)
{
    char path[4096], tmp[4200];
    token_path(path, sizeof path, root, "tokens");
    (void)snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        (void)snprintf(why, why_len, "create %s: %s", tmp, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        (void)close(fd);
        (void)snprintf(why, why_len, "out of memory");
        return -1;
    }
    (void)fputs(FILE_HEADER, f);
    for (size_t i = 0; i < l->count; i++) {
        const tok_entry *e = &l->items[i];
        char hex[2 * TOK_HASH_LEN + 1], scopes[64];
        to_hex(hex, e->hash, TOK_HASH_LEN);
        tok_scopes_str(e->scopes, scopes, sizeof scopes);
        (void)fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%lld\n", e->id, hex, e->tenant, scopes, e->actor,
                      e->label, (long long)e->created_ns);
    }
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        (void)unlink(tmp);
        (void)snprintf(why, why_len, "write %s: %s", path, strerror(err));
        return -1;
    }
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        (void)close(dfd);
    }
    return 0;
}

/* The writers' lock: held from reading the file to replacing it. */
static int lock_tokens(const char *root, char *why, size_t why_len)
{
    char path[4096];
    token_path(path, sizeof path, root, "tokens.lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        (void)snprintf(why, why_len, "lock %s: %s", path, strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        return -1;
    }
    return fd;
}

/* Change the list under the writers' lock: load, fn (-1 error, 0 nothing to save, 1
 * save), save. Returns fn's value, or -1 with why. */
typedef int (*edit_fn)(tok_list *l, void *ctx, char *why, size_t why_len);
static int edit_tokens(const char *root, edit_fn fn, void *ctx, char *why, size_t why_len)
{
    int lock = lock_tokens(root, why, why_len);
    if (lock < 0)
        return -1;
    tok_list l;
    int rc = tok_load(&l, root, why, why_len);
    if (rc == 0) {
        rc = fn(&l, ctx, why, why_len);
        if (rc == 1 && save(&l, root, why, why_len) != 0)
            rc = -1;
        tok_list_free(&l);
    }
    (void)close(lock);
    return rc;
}

static int add_entry(tok_list *l, void *ctx, char *why, size_t why_len)
{
    tok_entry *p = realloc(l->items, (l->count + 1) * sizeof *p);
    if (p == NULL) {
        (void)snprintf(why, why_len, "out of memory");
        return -1;
    }
    l->items = p;
    l->items[l->count++] = *(const tok_entry *)ctx;
    return 1;
}

int tok_create(tok_entry *e, char text[TOK_TEXT_MAX], const char *root, char *why, size_t why_len)
{
    unsigned char id[ID_BYTES], secret[SECRET_BYTES];
    if (!kernel_random(id, sizeof id) || !kernel_random(secret, sizeof secret)) {
        (void)snprintf(why, why_len, "the kernel gave no random bytes: %s", strerror(errno));
        return -1;
    }
    to_hex(e->id, id, sizeof id);
    char secret_hex[2 * SECRET_BYTES + 1];
    to_hex(secret_hex, secret, sizeof secret);
    (void)snprintf(text, TOK_TEXT_MAX, "evs_%s_%s", e->id, secret_hex);
    OPENSSL_cleanse(secret_hex, sizeof secret_hex);
    OPENSSL_cleanse(secret, sizeof secret);
    if (!sha256(e->hash, text, strlen(text))) {
        (void)snprintf(why, why_len, "SHA-256 failed");
        return -1;
    }
    if (e->actor[0] == '\0')
        (void)snprintf(e->actor, sizeof e->actor, "%s", e->id);
    return edit_tokens(root, add_entry, e, why, why_len) < 0 ? -1 : 0;
}

static int drop_entry(tok_list *l, void *ctx, char *why, size_t why_len)
{
    (void)why;
    (void)why_len;
    const char *id = ctx;
    size_t kept = 0;
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i].id, id) != 0)
            l->items[kept++] = l->items[i];
    }
    bool found = kept != l->count;
    l->count = kept;
    return found ? 1 : 0;
}

int tok_revoke(const char *root, const char *id, char *why, size_t why_len)
{
    return edit_tokens(root, drop_entry, (void *)id, why, why_len);
}

const tok_entry *tok_find(const tok_list *l, const char *text, size_t len)
{
    /* "evs_" id "_" secret: the id picks the entry, the hash of the whole text decides. */
    if (len < 4 + TOK_ID_LEN + 1 || memcmp(text, "evs_", 4) != 0 || text[4 + TOK_ID_LEN] != '_')
        return NULL;
    unsigned char hash[TOK_HASH_LEN];
    if (!sha256(hash, text, len))
        return NULL;
    for (size_t i = 0; i < l->count; i++) {
        const tok_entry *e = &l->items[i];
        if (memcmp(e->id, text + 4, TOK_ID_LEN) == 0 &&
            CRYPTO_memcmp(e->hash, hash, TOK_HASH_LEN) == 0)
            return e;
    }
    return NULL;
}
