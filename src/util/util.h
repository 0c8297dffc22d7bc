/*
 * util.h - generic helpers shared by every layer: allocation (with fault injection),
 * growable buffers, thread-local error detail, CRC32C, hashing, UUIDs, time.
 *
 * src/util depends on nothing else in the project.
 */
#ifndef EVS_UTIL_H
#define EVS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- allocation ------------------------------------------------------------------- */
/* Every allocation in src/ goes through these so tests can fail the Nth one
 * (evs__alloc_fail_after). They return NULL on failure and never abort. */
void *evs__alloc(size_t len);
void *evs__calloc(size_t count, size_t len);
void *evs__realloc(void *ptr, size_t len);
void evs__free(void *ptr);
char *evs__strndup(const char *s, size_t len); /* NUL-terminated copy */

/* Test hook: make the allocation that comes `n` calls from now fail, and every one after
 * it while `sticky`; n < 0 disables. Process-wide. */
void evs__alloc_fail_after(long n, bool sticky);

/* ---- growable byte buffer --------------------------------------------------------- */
typedef struct evs__buf {
    char *ptr;  /* NULL until the first reserve */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
} evs__buf;

#define EVS__BUF_INIT {NULL, 0, 0}

int evs__buf_reserve(evs__buf *b, size_t extra);            /* 0 or EVS_ENOMEM */
int evs__buf_append(evs__buf *b, const void *p, size_t len); /* 0 or EVS_ENOMEM */
void evs__buf_free(evs__buf *b);

/* ---- versioned public structs ----------------------------------------------------- */
/* A public struct that starts with `unsigned int version` and grows only at its end.
 * ends[v], for v in 1..current, is where version v's fields end (EVS__FIELDS_END of its
 * last field); ends[0] is unused. The version is checked first: EVS_EINVAL for 0 or a
 * version above current, the message naming `what` and `init`, the _INIT macro to use. */
#define EVS__FIELDS_END(type, last_field) \
    (offsetof(type, last_field) + sizeof(((type *)0)->last_field))
/* Fill *dst (`size` bytes) with *defaults, then copy over the fields of *given's
 * version, so that the fields added after it keep their defaults. */
int evs__versioned_copy(void *dst, const void *defaults, const void *given, size_t size,
                        const size_t *ends, unsigned current, const char *what,
                        const char *init);
/* Write the defaults of `version`'s fields, and that version, into *dst: a caller of an
 * older version has no room for the fields added since. */
int evs__versioned_init(void *dst, const void *defaults, unsigned version, const size_t *ends,
                        unsigned current, const char *what, const char *init);

/* ---- errors ----------------------------------------------------------------------- */
/* Set the calling thread's error (code + printf-style message) and return `code`, so
 * that `return evs__seterr(EVS_EINVAL, "...", ...);` reads naturally. */
int evs__seterr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int evs__vseterr(int code, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Set an I/O error from errno: ENOSPC -> EVS_ENOSPC, ENOMEM -> EVS_ENOMEM, else
 * EVS_EIO; the message ends with ": <strerror(err)>". Returns the code. */
int evs__seterr_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with "<context>: " (keeps the code). Returns the code. */
int evs__prefixerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void evs__clearerr(void);
int evs__lasterr_code(void);
/* The errno behind the last error when a system call failed (evs__seterr_errno), else
 * 0: for callers that must tell "not there" from "not allowed". */
int evs__lasterr_errno(void);
const char *evs__lasterr_msg(void);

/* ---- CRC32C (Castagnoli), hardware accelerated when the CPU has SSE4.2 ------------ */
/* Standard CRC32C: evs__crc32c(0, "123456789", 9) == 0xE3069283. Chainable:
 * evs__crc32c(evs__crc32c(0, a, n), b, m) == crc of a||b. */
uint32_t evs__crc32c(uint32_t crc, const void *buf, size_t len);
/* Test hooks: the portable implementation, and the hardware one (returns false, leaving
 * *out alone, when the CPU or the build has none). */
uint32_t evs__crc32c_sw(uint32_t crc, const void *buf, size_t len);
bool evs__crc32c_hw(uint32_t *out, uint32_t crc, const void *buf, size_t len);

/* ---- hashing ---------------------------------------------------------------------- */
/* A fast, well-mixed 64-bit hash of a byte string (not cryptographic). Stable across
 * runs and machines: it is stored on disk. */
uint64_t evs__hash64(const void *buf, size_t len);

/* ---- UUIDs ------------------------------------------------------------------------ */
/* A random (version 4, RFC 4122 variant) UUID from the kernel's CSPRNG, buffered per
 * thread so that generating millions per second is cheap. 0 or EVS_EIO. */
/* len cryptographically strong random bytes (random.c). 0, or EVS_EIO when the
 * kernel gives none. */
int evs__random_bytes(unsigned char *out, size_t len);
/* Whether evs__random_bytes runs AES-128 in counter mode (the CPU has AES
 * instructions) rather than reading the kernel for every buffer. */
bool evs__random_uses_aes(void);
/* Encrypt n 16-byte blocks in place with AES-128 under key: exposed so that tests can
 * check the cipher against FIPS-197's vectors. Only when evs__random_uses_aes(). */
void evs__aes128_encrypt(const unsigned char key[16], unsigned char *blocks, size_t n);
int evs__uuid_v4(unsigned char out[16]);
void evs__uuid_format(char buf[37], const unsigned char id[16]);
int evs__uuid_parse(unsigned char out[16], const char *text, size_t len); /* 0/EVS_EINVAL */

/* ---- time ------------------------------------------------------------------------- */
int64_t evs__now_ns(void);      /* CLOCK_REALTIME, ns since 1970 UTC */
int64_t evs__monotonic_ns(void); /* CLOCK_MONOTONIC */
/* RFC 3339 UTC with 9 fraction digits: "2026-11-23T12:00:00.000000001Z" (30 chars). */
size_t evs__time_format(char *buf, size_t buf_len, int64_t ts_ns);
/* RFC 3339 with 'Z' or +hh:mm/-hh:mm, optional 1..9 fraction digits, 'T' or 't' or ' '
 * separator. 0 or EVS_EINVAL (message says which character is wrong). */
int evs__time_parse(int64_t *out, const char *text, size_t len);

/* ---- little-endian encoding (on-disk integers are little-endian) ----------------- */
/* memcpy compiles to one load or store; on a big-endian host the bytes are swapped. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define EVS__LE16(v) __builtin_bswap16(v)
#define EVS__LE32(v) __builtin_bswap32(v)
#define EVS__LE64(v) __builtin_bswap64(v)
#else
#define EVS__LE16(v) (v)
#define EVS__LE32(v) (v)
#define EVS__LE64(v) (v)
#endif
static inline void evs__put_u16(unsigned char *p, uint16_t v)
{
    v = EVS__LE16(v);
    memcpy(p, &v, 2);
}
static inline void evs__put_u32(unsigned char *p, uint32_t v)
{
    v = EVS__LE32(v);
    memcpy(p, &v, 4);
}
static inline void evs__put_u64(unsigned char *p, uint64_t v)
{
    v = EVS__LE64(v);
    memcpy(p, &v, 8);
}
static inline uint16_t evs__get_u16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return EVS__LE16(v);
}
static inline uint32_t evs__get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return EVS__LE32(v);
}
static inline uint64_t evs__get_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return EVS__LE64(v);
}

#endif /* EVS_UTIL_H */
