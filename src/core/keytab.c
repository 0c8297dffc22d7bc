/*
 * keytab.c - the in-memory table of a store's subject keys, kept in step with the key
 * file (keyfile_io.c).
 *
 * Two open-addressing indexes over one array of entries: by key id (reads) and by
 * subject (appends). A subject may own several keys when two processes made one at
 * once; appends use the newest, reads any, and a forget destroys them all.
 */
#include "keytab.h"
#include "keyfile_io.h"
#include "util.h"

#include "evstore.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* How often a reader looks whether another process changed the key file. */
#define RECHECK_NS (100 * 1000 * 1000)

typedef struct entry {
    uint64_t id;
    uint64_t subject_hash;
    char *subject; /* NULL once destroyed */
    size_t subject_len;
    bool destroyed;
    unsigned char key[EVS__KEY_LEN];
} entry;

struct evs__keytab {
    char *dir;
    char *path;
    pthread_rwlock_t lock;  /* the fields below */
    pthread_rwlock_t gate;  /* appends (shared) against forget (exclusive) */
    entry *ents;
    size_t count, cap;
    uint32_t *by_id;        /* entry index + 1, 0 = empty; `slots` of them */
    uint32_t *by_subject;
    size_t slots;
    bool loaded;
    evs__file_sig sig;      /* the file the table was loaded from */
    size_t valid_end;       /* where the file's next record goes */
    _Atomic int64_t next_check_ns;
};

int evs__keytab_new(evs__keytab **out, const char *dir)
{
    *out = NULL;
    evs__keytab *t = evs__calloc(1, sizeof *t);
    size_t n = strlen(dir) + sizeof "/keys";
    if (t) {
        t->dir = evs__strndup(dir, strlen(dir));
        t->path = evs__alloc(n);
    }
    if (!t || !t->dir || !t->path) {
        evs__keytab_free(t);
        return evs__seterr(EVS_ENOMEM, "out of memory opening the key table");
    }
    snprintf(t->path, n, "%s/keys", dir);
    pthread_rwlock_init(&t->lock, NULL);
    pthread_rwlock_init(&t->gate, NULL);
    *out = t;
    return 0;
}

static void clear_entries(entry *ents, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        OPENSSL_cleanse(ents[i].key, EVS__KEY_LEN);
        evs__free(ents[i].subject);
    }
    evs__free(ents);
}

void evs__keytab_free(evs__keytab *t)
{
    if (!t)
        return;
    if (t->path) {
        pthread_rwlock_destroy(&t->lock);
        pthread_rwlock_destroy(&t->gate);
    }
    clear_entries(t->ents, t->count);
    evs__free(t->by_id);
    evs__free(t->by_subject);
    evs__free(t->dir);
    evs__free(t->path);
    evs__free(t);
}

void evs__keytab_append_begin(evs__keytab *t)
{
    pthread_rwlock_rdlock(&t->gate);
}

void evs__keytab_append_end(evs__keytab *t)
{
    pthread_rwlock_unlock(&t->gate);
}

/* ---- the indexes ------------------------------------------------------------------ */

static size_t slot_of(uint64_t hash, size_t slots)
{
    return (size_t)(hash * 0x9E3779B97F4A7C15ull >> 20) & (slots - 1);
}

static void index_put(evs__keytab *t, size_t i)
{
    const entry *e = &t->ents[i];
    size_t s = slot_of(e->id, t->slots);
    while (t->by_id[s])
        s = (s + 1) & (t->slots - 1);
    t->by_id[s] = (uint32_t)i + 1;
    if (e->destroyed)
        return;
    s = slot_of(e->subject_hash, t->slots);
    for (; t->by_subject[s]; s = (s + 1) & (t->slots - 1)) {
        const entry *o = &t->ents[t->by_subject[s] - 1];
        if (!o->destroyed && o->subject_hash == e->subject_hash &&
            o->subject_len == e->subject_len && memcmp(o->subject, e->subject, e->subject_len) == 0)
            break; /* the newer key of the subject takes the slot */
    }
    t->by_subject[s] = (uint32_t)i + 1;
}

/* Rebuild both indexes for `count` entries, with room to spare. */
static int reindex(evs__keytab *t)
{
    size_t slots = 64;
    while (slots < t->count * 2 + 2)
        slots <<= 1;
    uint32_t *by_id = evs__calloc(slots, sizeof *by_id);
    uint32_t *by_subject = evs__calloc(slots, sizeof *by_subject);
    if (!by_id || !by_subject) {
        evs__free(by_id);
        evs__free(by_subject);
        return evs__seterr(EVS_ENOMEM, "out of memory indexing the key table");
    }
    evs__free(t->by_id);
    evs__free(t->by_subject);
    t->by_id = by_id;
    t->by_subject = by_subject;
    t->slots = slots;
    for (size_t i = 0; i < t->count; i++)
        index_put(t, i);
    return 0;
}

static entry *find_id(const evs__keytab *t, uint64_t id)
{
    if (!t->slots)
        return NULL;
    for (size_t s = slot_of(id, t->slots); t->by_id[s]; s = (s + 1) & (t->slots - 1))
        if (t->ents[t->by_id[s] - 1].id == id)
            return &t->ents[t->by_id[s] - 1];
    return NULL;
}

static entry *find_subject(const evs__keytab *t, const char *subject, size_t len, uint64_t hash)
{
    if (!t->slots)
        return NULL;
    for (size_t s = slot_of(hash, t->slots); t->by_subject[s]; s = (s + 1) & (t->slots - 1)) {
        entry *e = &t->ents[t->by_subject[s] - 1];
        if (!e->destroyed && e->subject_hash == hash && e->subject_len == len &&
            memcmp(e->subject, subject, len) == 0)
            return e;
    }
    return NULL;
}

/* Add an entry, growing the array and (past half full) the indexes. */
static int add_entry(evs__keytab *t, const evs__keyrec *r)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        entry *ents = evs__realloc(t->ents, cap * sizeof *ents);
        if (!ents)
            return evs__seterr(EVS_ENOMEM, "out of memory loading the key table");
        t->ents = ents;
        t->cap = cap;
    }
    entry *e = &t->ents[t->count];
    memset(e, 0, sizeof *e);
    e->id = r->id;
    e->destroyed = r->destroyed;
    if (!r->destroyed) {
        e->subject = evs__strndup(r->subject, r->subject_len);
        if (!e->subject)
            return evs__seterr(EVS_ENOMEM, "out of memory loading the key table");
        e->subject_len = r->subject_len;
        e->subject_hash = evs__hash64(r->subject, r->subject_len);
        memcpy(e->key, r->key, EVS__KEY_LEN);
    }
    t->count++;
    if (t->count * 2 + 2 > t->slots)
        return reindex(t);
    index_put(t, t->count - 1);
    return 0;
}

/* ---- loading ---------------------------------------------------------------------- */

static int load_rec(void *ctx, const evs__keyrec *r)
{
    evs__keytab *t = ctx;
    entry *e = find_id(t, r->id);
    if (e) {
        /* Two records of one id: a destroyed one wins (keys are never reused). */
        if (r->destroyed && !e->destroyed) {
            OPENSSL_cleanse(e->key, EVS__KEY_LEN);
            e->destroyed = true;
            return reindex(t);
        }
        return 0;
    }
    return add_entry(t, r);
}

/* Load the table from the file again. The table is left empty on failure, so that no
 * stale key outlives a damaged file. Caller holds the write lock. */
static int load_locked(evs__keytab *t)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    evs__file_sig sig;
    int rc = evs__keyfile_read(t->path, &buf, &len, &sig);
    clear_entries(t->ents, t->count);
    t->ents = NULL;
    t->count = t->cap = 0;
    t->loaded = false;
    bool missing = rc == 1; /* no file: no keys yet */
    if (rc >= 0)
        rc = reindex(t);
    if (rc == 0 && !missing)
        rc = evs__keyfile_parse(buf, len, t->path, load_rec, t, &t->valid_end);
    evs__free(buf);
    if (rc < 0) {
        clear_entries(t->ents, t->count);
        t->ents = NULL;
        t->count = t->cap = 0;
        return rc;
    }
    t->sig = sig;
    t->loaded = true;
    return 0;
}

/* Load again when the file is not the one loaded (or always, with force). */
static int refresh_locked(evs__keytab *t, bool force)
{
    evs__file_sig now;
    int rc = evs__keyfile_sig(t->path, &now);
    if (rc < 0)
        return rc;
    atomic_store(&t->next_check_ns, evs__monotonic_ns() + RECHECK_NS);
    if (!force && t->loaded && evs__file_sig_equal(&now, &t->sig))
        return 0;
    return load_locked(t);
}

/* ---- appends ---------------------------------------------------------------------- */

/* Make a key for the subject and write it; the caller holds the table's write lock
 * and the file's. */
static int create_key(evs__keytab *t, const char *subject, size_t len)
{
    evs__keyrec r;
    memset(&r, 0, sizeof r);
    r.subject = subject;
    r.subject_len = len;
    do {
        if (RAND_bytes((unsigned char *)&r.id, sizeof r.id) != 1)
            return evs__seterr(EVS_EIO, "no random key id from OpenSSL");
    } while (r.id == 0 || find_id(t, r.id));
    if (RAND_bytes(r.key, EVS__KEY_LEN) != 1)
        return evs__seterr(EVS_EIO, "no random key from OpenSSL");
    size_t end = 0;
    int rc = evs__keyfile_add(t->dir, t->path, t->sig.exists, t->valid_end, &r, &end);
    if (rc == 0)
        rc = add_entry(t, &r);
    OPENSSL_cleanse(r.key, EVS__KEY_LEN);
    if (rc < 0)
        return rc;
    /* The table holds what the file holds now: take its new identity without reading
     * it all again (making n subjects' keys stays linear in n). */
    t->valid_end = end;
    return evs__keyfile_sig(t->path, &t->sig);
}

static int copy_key(const entry *e, uint64_t *id, unsigned char key[EVS__KEY_LEN])
{
    *id = e->id;
    memcpy(key, e->key, EVS__KEY_LEN);
    return 0;
}

int evs__keytab_refresh(evs__keytab *t)
{
    evs__file_sig now;
    int rc = evs__keyfile_sig(t->path, &now);
    if (rc < 0)
        return rc;
    pthread_rwlock_rdlock(&t->lock);
    bool same = t->loaded && evs__file_sig_equal(&now, &t->sig);
    pthread_rwlock_unlock(&t->lock);
    if (same)
        return 0;
    pthread_rwlock_wrlock(&t->lock);
    rc = refresh_locked(t, false);
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

int evs__keytab_key_for(evs__keytab *t, const char *subject, size_t len, uint64_t *id,
                        unsigned char key[EVS__KEY_LEN])
{
    uint64_t hash = evs__hash64(subject, len);
    int rc;
    pthread_rwlock_rdlock(&t->lock);
    if (t->loaded) {
        const entry *e = find_subject(t, subject, len, hash);
        if (e) {
            rc = copy_key(e, id, key);
            pthread_rwlock_unlock(&t->lock);
            return rc;
        }
    }
    pthread_rwlock_unlock(&t->lock);

    pthread_rwlock_wrlock(&t->lock);
    rc = refresh_locked(t, false);
    const entry *e = rc == 0 ? find_subject(t, subject, len, hash) : NULL;
    if (rc == 0 && !e) {
        int fd;
        rc = evs__keyfile_lock(t->dir, &fd);
        if (rc == 0) {
            /* Another process may have made it since (the file then changed). */
            rc = refresh_locked(t, false);
            if (rc == 0 && !(e = find_subject(t, subject, len, hash)))
                rc = create_key(t, subject, len);
            if (rc == 0 && !e)
                e = find_subject(t, subject, len, hash);
            evs__keyfile_unlock(fd);
        }
    }
    if (rc == 0 && e)
        rc = copy_key(e, id, key);
    else if (rc == 0)
        rc = evs__seterr(EVS_EIO, "key file %s: the key just added is not there", t->path);
    pthread_rwlock_unlock(&t->lock);
    return rc;
}

/* ---- reads ------------------------------------------------------------------------ */

static int lookup_in(const evs__keytab *t, uint64_t id, unsigned char key[EVS__KEY_LEN])
{
    const entry *e = find_id(t, id);
    if (!e)
        return -1;
    if (e->destroyed)
        return 0;
    memcpy(key, e->key, EVS__KEY_LEN);
    return 1;
}

int evs__keytab_lookup(evs__keytab *t, uint64_t id, int64_t pos, unsigned char key[EVS__KEY_LEN])
{
    int found = -1;
    if (evs__monotonic_ns() < atomic_load(&t->next_check_ns)) {
        pthread_rwlock_rdlock(&t->lock);
        if (t->loaded)
            found = lookup_in(t, id, key);
        pthread_rwlock_unlock(&t->lock);
        if (found >= 0)
            return found;
    }
    /* Time to look at the file, or a key the table lacks: another process may just
     * have made it, or destroyed it. */
    pthread_rwlock_wrlock(&t->lock);
    int rc = refresh_locked(t, false);
    if (rc == 0 && (found = lookup_in(t, id, key)) < 0 && t->sig.exists)
        rc = evs__seterr(EVS_ECORRUPT,
                         "event at position %lld: its key %016llx is not in key file %s (the "
                         "file was replaced by another store's or an older copy; restore it "
                         "from a backup)",
                         (long long)pos, (unsigned long long)id, t->path);
    else if (rc == 0 && found < 0)
        rc = evs__seterr(EVS_ECORRUPT,
                         "event at position %lld: its data is encrypted but key file %s is "
                         "missing; restore it from a backup",
                         (long long)pos, t->path);
    else if (rc < 0)
        evs__prefixerr("event at position %lld", (long long)pos);
    pthread_rwlock_unlock(&t->lock);
    return rc < 0 ? rc : found;
}

/* ---- forget ----------------------------------------------------------------------- */

static bool owned_by(const entry *e, const char *subject, size_t len, uint64_t hash)
{
    return !e->destroyed && e->subject_hash == hash && e->subject_len == len &&
           memcmp(e->subject, subject, len) == 0;
}

/* The key file's new content: every record, the subject's keys as destroyed. */
static int image_without(const evs__keytab *t, const char *subject, size_t len, uint64_t hash,
                         evs__buf *img)
{
    unsigned char head[EVS__KEYFILE_HEAD_LEN], rec[EVS__KEYREC_MAX_LEN];
    evs__keyfile_head(head);
    int rc = evs__buf_append(img, head, sizeof head);
    for (size_t i = 0; rc == 0 && i < t->count; i++) {
        const entry *e = &t->ents[i];
        evs__keyrec r;
        memset(&r, 0, sizeof r);
        r.id = e->id;
        r.destroyed = e->destroyed || owned_by(e, subject, len, hash);
        if (!r.destroyed) {
            memcpy(r.key, e->key, EVS__KEY_LEN);
            r.subject = e->subject;
            r.subject_len = e->subject_len;
        }
        rc = evs__buf_append(img, rec, evs__keyrec_encode(rec, &r));
        OPENSSL_cleanse(r.key, EVS__KEY_LEN);
    }
    return rc < 0 ? evs__seterr(EVS_ENOMEM, "out of memory rewriting key file %s", t->path) : 0;
}

static int forget_locked(evs__keytab *t, const char *subject, size_t len, size_t *destroyed)
{
    int rc = evs__keyfile_scrub_leftover(t->dir);
    if (rc == 0)
        rc = refresh_locked(t, true);
    if (rc < 0)
        return rc;
    uint64_t hash = evs__hash64(subject, len);
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += owned_by(&t->ents[i], subject, len, hash);
    if (n == 0)
        return evs__seterr(EVS_ENOTFOUND,
                           "subject '%.*s' has no key in %s (never used with an event, or "
                           "forgotten already)",
                           (int)(len > 200 ? 200 : len), subject, t->path);
    evs__buf img = EVS__BUF_INIT;
    rc = image_without(t, subject, len, hash, &img);
    if (rc == 0)
        rc = evs__keyfile_replace(t->dir, t->path, (const unsigned char *)img.ptr, img.len);
    if (img.ptr)
        OPENSSL_cleanse(img.ptr, img.len);
    evs__buf_free(&img);
    if (rc < 0)
        return rc;
    *destroyed = n;
    /* Wipe the keys from memory too, then take the new file's identity. */
    for (size_t i = 0; i < t->count; i++) {
        entry *e = &t->ents[i];
        if (owned_by(e, subject, len, hash)) {
            OPENSSL_cleanse(e->key, EVS__KEY_LEN);
            e->destroyed = true;
        }
    }
    rc = reindex(t);
    return rc == 0 ? refresh_locked(t, true) : rc;
}

int evs__keytab_forget(evs__keytab *t, const char *subject, size_t len, size_t *destroyed)
{
    *destroyed = 0;
    pthread_rwlock_wrlock(&t->gate);
    pthread_rwlock_wrlock(&t->lock);
    int fd;
    int rc = evs__keyfile_lock(t->dir, &fd);
    if (rc == 0) {
        rc = forget_locked(t, subject, len, destroyed);
        evs__keyfile_unlock(fd);
    }
    pthread_rwlock_unlock(&t->lock);
    pthread_rwlock_unlock(&t->gate);
    return rc;
}
