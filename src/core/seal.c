/*
 * seal.c - AES-256-GCM envelopes for the data of events appended with a subject.
 *
 * The cipher is OpenSSL's: a context is made per call, which costs an allocation
 * next to the encryption itself (measured in bench/RESULTS.md, "Erasure").
 */
#include "seal.h"
#include "util.h"

#include "evstore.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#define SEAL_VERSION    1
#define SEAL_AES256_GCM 1
#define NONCE_LEN       12

const char evs__erased_marker[] = "{\"$erased\":true}";
const size_t evs__erased_marker_len = sizeof evs__erased_marker - 1;

/* The additional authenticated data: the envelope's head and the event's id. */
static int gcm_aad(EVP_CIPHER_CTX *ctx, const unsigned char *head, const unsigned char id[16])
{
    int n;
    return EVP_CipherUpdate(ctx, NULL, &n, head, EVS__SEAL_HEAD_LEN) == 1 &&
                   EVP_CipherUpdate(ctx, NULL, &n, id, 16) == 1
               ? 0
               : -1;
}

int evs__seal(unsigned char *out, const unsigned char key[EVS__KEY_LEN], uint64_t key_id,
              const unsigned char event_id[16], const char *plain, size_t len)
{
    out[0] = 0;
    out[1] = SEAL_VERSION;
    out[2] = SEAL_AES256_GCM;
    out[3] = 0;
    evs__put_u64(out + 4, key_id);
    if (RAND_bytes(out + 12, NONCE_LEN) != 1)
        return evs__seterr(EVS_EIO, "no random nonce from OpenSSL for an encrypted event");
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return evs__seterr(EVS_ENOMEM, "out of memory encrypting an event");
    int n = 0, fin = 0;
    bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out + 12) == 1 &&
              gcm_aad(ctx, out, event_id) == 0 &&
              EVP_EncryptUpdate(ctx, out + EVS__SEAL_HEAD_LEN, &n, (const unsigned char *)plain,
                                (int)len) == 1 &&
              EVP_EncryptFinal_ex(ctx, out + EVS__SEAL_HEAD_LEN + n, &fin) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, EVS__SEAL_TAG_LEN,
                                  out + EVS__SEAL_HEAD_LEN + len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return evs__seterr(EVS_EIO, "OpenSSL failed to encrypt an event's data");
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

int evs__unseal(char *out, const unsigned char key[EVS__KEY_LEN], const unsigned char event_id[16],
                const char *sealed, size_t len, int64_t pos)
{
    const unsigned char *p = (const unsigned char *)sealed;
    size_t plain_len = len - EVS__SEAL_OVERHEAD;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return evs__seterr(EVS_ENOMEM, "out of memory decrypting an event");
    unsigned char tag[EVS__SEAL_TAG_LEN];
    memcpy(tag, p + EVS__SEAL_HEAD_LEN + plain_len, sizeof tag);
    int n = 0, fin = 0;
    bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, p + 12) == 1 &&
              gcm_aad(ctx, p, event_id) == 0 &&
              EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, p + EVS__SEAL_HEAD_LEN,
                                (int)plain_len) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) == 1 &&
              EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return evs__seterr(EVS_ECORRUPT,
                           "event at position %lld: its encrypted data fails authentication "
                           "under its key %016llx (damaged, or the key file is not this "
                           "store's)",
                           (long long)pos, (unsigned long long)evs__get_u64(p + 4));
    return 0;
}
