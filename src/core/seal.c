/*
 * seal.c - AES-256-GCM envelopes for the data of events appended with a subject.
 *
 * The cipher is OpenSSL's. Its cost per event is kept to the encryption itself: the
 * cipher is fetched once per process (an implicit fetch on every init is OpenSSL 3's
 * slow path), a context is reused across events, and its key schedule is set up again
 * only when the key changes.
 */
#include "seal.h"
#include "util.h"

#include "evstore.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#define SEAL_VERSION    1
#define SEAL_AES256_GCM 1
#define NONCE_LEN       12

const char evs__erased_marker[] = "{\"$erased\":true}";
const size_t evs__erased_marker_len = sizeof evs__erased_marker - 1;

static pthread_once_t cipher_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *cipher; /* kept for the process's life */

static void fetch_cipher(void)
{
    cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

/* The context, ready for `encrypting` under key (id key_id) with nonce iv. */
static int ready(evs__sealer *s, bool encrypting, const unsigned char *key, uint64_t key_id,
                 const unsigned char *iv)
{
    pthread_once(&cipher_once, fetch_cipher);
    if (!cipher)
        return evs__seterr(EVS_EIO, "OpenSSL has no AES-256-GCM");
    if (!s->ctx && !(s->ctx = EVP_CIPHER_CTX_new()))
        return evs__seterr(EVS_ENOMEM, "out of memory for a cipher context");
    bool same = s->key_id == key_id && s->encrypting == encrypting;
    int ok = EVP_CipherInit_ex2(s->ctx, same ? NULL : cipher, same ? NULL : key, iv,
                                encrypting ? 1 : 0, NULL);
    if (ok != 1) {
        s->key_id = 0;
        return evs__seterr(EVS_EIO, "OpenSSL failed to set up AES-256-GCM");
    }
    s->key_id = key_id;
    s->encrypting = encrypting;
    return 0;
}

void evs__sealer_free(evs__sealer *s)
{
    EVP_CIPHER_CTX_free(s->ctx); /* cleanses the key schedule */
    s->ctx = NULL;
    s->key_id = 0;
}

/* The additional authenticated data: the envelope's head and the event's id. */
static bool gcm_aad(EVP_CIPHER_CTX *ctx, const unsigned char *head, const unsigned char id[16])
{
    int n;
    return EVP_CipherUpdate(ctx, NULL, &n, head, EVS__SEAL_HEAD_LEN) == 1 &&
           EVP_CipherUpdate(ctx, NULL, &n, id, 16) == 1;
}

static int next_nonce(evs__sealer *s, unsigned char out[NONCE_LEN])
{
    if (!s->nonce_ready) {
        if (RAND_bytes(s->nonce, NONCE_LEN) != 1)
            return evs__seterr(EVS_EIO, "no random nonce from OpenSSL for an encrypted event");
        s->nonce_ready = true;
    }
    memcpy(out, s->nonce, NONCE_LEN);
    evs__put_u64(s->nonce + 4, evs__get_u64(s->nonce + 4) + 1);
    return 0;
}

int evs__seal(evs__sealer *s, unsigned char *out, const unsigned char key[EVS__KEY_LEN],
              uint64_t key_id, const unsigned char event_id[16], const char *plain, size_t len)
{
    out[0] = 0;
    out[1] = SEAL_VERSION;
    out[2] = SEAL_AES256_GCM;
    out[3] = 0;
    evs__put_u64(out + 4, key_id);
    int rc = next_nonce(s, out + 12);
    if (rc == 0)
        rc = ready(s, true, key, key_id, out + 12);
    if (rc < 0)
        return rc;
    int n = 0, fin = 0;
    bool ok = gcm_aad(s->ctx, out, event_id) &&
              EVP_EncryptUpdate(s->ctx, out + EVS__SEAL_HEAD_LEN, &n, (const unsigned char *)plain,
                                (int)len) == 1 &&
              EVP_EncryptFinal_ex(s->ctx, out + EVS__SEAL_HEAD_LEN + n, &fin) == 1 &&
              EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, EVS__SEAL_TAG_LEN,
                                  out + EVS__SEAL_HEAD_LEN + len) == 1;
    if (!ok) {
        s->key_id = 0;
        return evs__seterr(EVS_EIO, "OpenSSL failed to encrypt an event's data");
    }
    return 0;
}

int evs__seal_key_id(uint64_t *key_id, const char *sealed, size_t len, int64_t pos)
{
    const unsigned char *p = (const unsigned char *)sealed;
    if (len < EVS__SEAL_OVERHEAD)
        return evs__seterr(EVS_ECORRUPT,
                           "event at position %lld: encrypted data of %zu bytes, shorter than "
                           "its %u-byte envelope",
                           (long long)pos, len, EVS__SEAL_OVERHEAD);
    if (p[1] != SEAL_VERSION || p[2] != SEAL_AES256_GCM)
        return evs__seterr(EVS_ECORRUPT,
                           "event at position %lld: encrypted data of envelope version %u, "
                           "cipher %u; this library knows version 1, cipher 1 (AES-256-GCM)",
                           (long long)pos, p[1], p[2]);
    *key_id = evs__get_u64(p + 4);
    return 0;
}

int evs__unseal(evs__sealer *s, char *out, const unsigned char key[EVS__KEY_LEN],
                const unsigned char event_id[16], const char *sealed, size_t len, int64_t pos)
{
    const unsigned char *p = (const unsigned char *)sealed;
    size_t plain_len = len - EVS__SEAL_OVERHEAD;
    uint64_t key_id = evs__get_u64(p + 4);
    int rc = ready(s, false, key, key_id, p + 12);
    if (rc < 0)
        return rc;
    unsigned char tag[EVS__SEAL_TAG_LEN];
    memcpy(tag, p + EVS__SEAL_HEAD_LEN + plain_len, sizeof tag);
    int n = 0, fin = 0;
    bool ok = gcm_aad(s->ctx, p, event_id) &&
              EVP_DecryptUpdate(s->ctx, (unsigned char *)out, &n, p + EVS__SEAL_HEAD_LEN,
                                (int)plain_len) == 1 &&
              EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) == 1 &&
              EVP_DecryptFinal_ex(s->ctx, (unsigned char *)out + n, &fin) == 1;
    if (!ok)
        return evs__seterr(EVS_ECORRUPT,
                           "event at position %lld: its encrypted data fails authentication "
                           "under its key %016llx (damaged, or the key file is not this "
                           "store's)",
                           (long long)pos, (unsigned long long)key_id);
    return 0;
}
