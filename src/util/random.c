/*
 * random.c - the random bytes behind generated event ids.
 *
 * Every append without ids needs 16 random bytes per event. Reading them from the
 * kernel (getrandom) cost a twentieth of an append's time: the kernel runs ChaCha20 in
 * portable C and each refill is a system call. Where the CPU has AES instructions,
 * the bytes come instead from AES-128 in counter mode under a key and a starting
 * counter drawn from getrandom - the construction of NIST's CTR_DRBG, so the output is
 * as unpredictable as the kernel's as long as AES is a good block cipher - and the key
 * is replaced every REKEY_BLOCKS blocks. Without AES instructions the kernel's bytes
 * are used directly. Each thread has its own generator and buffer.
 *
 * Two rules keep ids unique:
 *  - a byte handed out is never handed out again (the buffer only moves forward, and
 *    a counter never repeats under one key);
 *  - after fork() the child forgets the forking thread's buffer and key (a
 *    pthread_atfork child handler): otherwise parent and child would produce the same
 *    bytes.
 * Without getrandom (ENOSYS: kernels before 3.17, some seccomp sandboxes) /dev/urandom
 * is read instead.
 */
#include "evstore.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define EVS_RANDOM_AES 1
#include <wmmintrin.h>
#else
#define EVS_RANDOM_AES 0
#endif

#define BUF_LEN      4096           /* bytes produced per refill */
#define REKEY_BLOCKS ((uint64_t)1 << 20) /* 16 MiB of output per key */

struct rng_state {
    size_t pos;        /* next unread byte of buf; BUF_LEN = empty */
    bool ready;        /* pos is meaningful (false in a fresh thread) */
    uint64_t left;     /* blocks the current key may still encrypt; 0 = draw a new key */
    uint64_t ctr[2];   /* the next counter block */
#if EVS_RANDOM_AES
    __m128i keys[11];  /* the AES-128 key schedule */
#endif
    unsigned char buf[BUF_LEN];
};

static _Thread_local struct rng_state rng;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static bool have_aes;

/* Runs in the child, in the thread that called fork(): the only thread there is. */
static void forget_in_child(void)
{
    rng.pos = BUF_LEN;
    rng.left = 0;
}

static void setup(void)
{
    /* If registration fails (ENOMEM) there is nothing better to do than go on; the
     * documented caveat "do not use a handle after fork" still protects the store. */
    (void)pthread_atfork(NULL, NULL, forget_in_child);
#if EVS_RANDOM_AES
    __builtin_cpu_init();
    have_aes = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#endif
}

static int read_urandom(unsigned char *dst, size_t len)
{
    int fd;
    do
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return evs__seterr_errno(errno, "open /dev/urandom");
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, dst + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            (void)close(fd);
            return evs__seterr_errno(err, "read /dev/urandom");
        }
        got += (size_t)n;
    }
    (void)close(fd);
    return 0;
}

/* len bytes from the kernel. */
static int kernel_random(unsigned char *dst, size_t len)
{
    size_t got = 0;
    while (got < len) {
        /* Requests up to 256 bytes are never short; larger ones may be cut by a signal. */
        ssize_t n = getrandom(dst + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOSYS)
                return read_urandom(dst + got, len - got);
            return evs__seterr_errno(errno, "getrandom");
        }
        got += (size_t)n;
    }
    return 0;
}

#if EVS_RANDOM_AES
/* One round of the AES-128 key expansion (FIPS-197 5.2), `assist` being
 * aeskeygenassist of the previous round key with this round's constant. */
__attribute__((target("aes,sse2"))) static inline __m128i key_step(__m128i key, __m128i assist)
{
    assist = _mm_shuffle_epi32(assist, 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, assist);
}

__attribute__((target("aes,sse2"))) static void expand_key(__m128i k[11], const unsigned char key[16])
{
    k[0] = _mm_loadu_si128((const __m128i *)(const void *)key); /* an unaligned load */
    /* The round constant must be an immediate: one line per round. */
    k[1] = key_step(k[0], _mm_aeskeygenassist_si128(k[0], 0x01));
    k[2] = key_step(k[1], _mm_aeskeygenassist_si128(k[1], 0x02));
    k[3] = key_step(k[2], _mm_aeskeygenassist_si128(k[2], 0x04));
    k[4] = key_step(k[3], _mm_aeskeygenassist_si128(k[3], 0x08));
    k[5] = key_step(k[4], _mm_aeskeygenassist_si128(k[4], 0x10));
    k[6] = key_step(k[5], _mm_aeskeygenassist_si128(k[5], 0x20));
    k[7] = key_step(k[6], _mm_aeskeygenassist_si128(k[6], 0x40));
    k[8] = key_step(k[7], _mm_aeskeygenassist_si128(k[7], 0x80));
    k[9] = key_step(k[8], _mm_aeskeygenassist_si128(k[8], 0x1b));
    k[10] = key_step(k[9], _mm_aeskeygenassist_si128(k[9], 0x36));
}

/* Encrypt n blocks (a multiple of 4) in place, four at a time: aesenc has a latency
 * of several cycles and a throughput of one or two per cycle, so independent blocks
 * keep it busy. */
__attribute__((target("aes,sse2"))) static void encrypt_blocks(const __m128i k[11],
                                                               unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4) {
        __m128i *b = (__m128i *)(void *)(p + i * 16);
        __m128i x0 = _mm_xor_si128(_mm_loadu_si128(b + 0), k[0]);
        __m128i x1 = _mm_xor_si128(_mm_loadu_si128(b + 1), k[0]);
        __m128i x2 = _mm_xor_si128(_mm_loadu_si128(b + 2), k[0]);
        __m128i x3 = _mm_xor_si128(_mm_loadu_si128(b + 3), k[0]);
        for (int r = 1; r < 10; r++) {
            x0 = _mm_aesenc_si128(x0, k[r]);
            x1 = _mm_aesenc_si128(x1, k[r]);
            x2 = _mm_aesenc_si128(x2, k[r]);
            x3 = _mm_aesenc_si128(x3, k[r]);
        }
        _mm_storeu_si128(b + 0, _mm_aesenclast_si128(x0, k[10]));
        _mm_storeu_si128(b + 1, _mm_aesenclast_si128(x1, k[10]));
        _mm_storeu_si128(b + 2, _mm_aesenclast_si128(x2, k[10]));
        _mm_storeu_si128(b + 3, _mm_aesenclast_si128(x3, k[10]));
    }
}

void evs__aes128_encrypt(const unsigned char key[16], unsigned char *blocks, size_t n)
{
    __m128i k[11];
    unsigned char tail[64];
    expand_key(k, key);
    size_t whole = n & ~(size_t)3;
    encrypt_blocks(k, blocks, whole);
    if (whole < n) {
        memset(tail, 0, sizeof tail);
        memcpy(tail, blocks + whole * 16, (n - whole) * 16);
        encrypt_blocks(k, tail, 4);
        memcpy(blocks + whole * 16, tail, (n - whole) * 16);
    }
}

bool evs__random_uses_aes(void)
{
    pthread_once(&setup_once, setup);
    return have_aes;
}

/* Refill rng.buf with AES-CTR output. */
static int refill_aes(void)
{
    if (rng.left < BUF_LEN / 16) {
        unsigned char seed[32];
        int rc = kernel_random(seed, sizeof seed);
        if (rc < 0)
            return rc;
        expand_key(rng.keys, seed);
        memcpy(rng.ctr, seed + 16, 16);
        memset(seed, 0, sizeof seed);
        rng.left = REKEY_BLOCKS;
    }
    for (size_t i = 0; i < BUF_LEN / 16; i++) {
        memcpy(rng.buf + i * 16, rng.ctr, 16);
        if (++rng.ctr[0] == 0)
            rng.ctr[1]++;
    }
    encrypt_blocks(rng.keys, rng.buf, BUF_LEN / 16);
    rng.left -= BUF_LEN / 16;
    return 0;
}
#endif

int evs__random_bytes(unsigned char *out, size_t len)
{
    while (len > 0) {
        if (!rng.ready || rng.pos == BUF_LEN) {
            pthread_once(&setup_once, setup);
#if EVS_RANDOM_AES
            int rc = have_aes ? refill_aes() : kernel_random(rng.buf, BUF_LEN);
#else
            int rc = kernel_random(rng.buf, BUF_LEN);
#endif
            if (rc < 0)
                return evs__seterr(EVS_EIO, "%s", evs__lasterr_msg());
            rng.pos = 0;
            rng.ready = true;
        }
        size_t n = BUF_LEN - rng.pos < len ? BUF_LEN - rng.pos : len;
        memcpy(out, rng.buf + rng.pos, n);
        rng.pos += n;
        out += n;
        len -= n;
    }
    return 0;
}
