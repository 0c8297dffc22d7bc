/*
 * test_util.c - unit tests for src/util alloc.c, buf.c and error.c: the fault injector,
 * buffer growth and its ENOMEM path, and the thread-local error message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "evstore.h"
#include "util.h"

static void test_alloc_basic(void **state)
{
    (void)state;
    void *p = evs__alloc(0);
    assert_non_null(p);
    evs__free(p);

    unsigned char *z = evs__calloc(16, 4);
    assert_non_null(z);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    z = evs__realloc(z, 0); /* keeps a live block, never frees behind our back */
    assert_non_null(z);
    evs__free(z);
    evs__free(NULL);

    assert_null(evs__calloc(SIZE_MAX / 2, 3)); /* count * len overflows */
    assert_null(evs__calloc(3, SIZE_MAX / 2));
    p = evs__calloc(0, SIZE_MAX);
    assert_non_null(p);
    evs__free(p);

    char *s = evs__strndup("hello world", 5);
    assert_string_equal(s, "hello");
    evs__free(s);
    s = evs__strndup("hi", 10); /* stops at the NUL */
    assert_string_equal(s, "hi");
    evs__free(s);
}

static void test_alloc_fail_after(void **state)
{
    (void)state;
    /* n = 2: two succeed, the third fails, then the injector disables itself. */
    evs__alloc_fail_after(2, false);
    void *a = evs__alloc(8), *b = evs__alloc(8), *c = evs__alloc(8), *d = evs__alloc(8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d);
    evs__free(a);
    evs__free(b);
    evs__free(d);

    evs__alloc_fail_after(0, true);
    assert_null(evs__alloc(1));
    assert_null(evs__calloc(1, 1));
    assert_null(evs__realloc(NULL, 1));
    assert_null(evs__strndup("x", 1));
    evs__alloc_fail_after(-1, false);
    a = evs__alloc(1);
    assert_non_null(a);

    /* A failed realloc leaves the old block alone. */
    memset(a, 'q', 1);
    evs__alloc_fail_after(0, false);
    assert_null(evs__realloc(a, 4096));
    assert_int_equal(((char *)a)[0], 'q');
    evs__free(a);
}

static void test_buf_growth(void **state)
{
    (void)state;
    evs__buf b = EVS__BUF_INIT;
    assert_int_equal(evs__buf_append(&b, NULL, 0), 0);
    assert_non_null(b.ptr);
    assert_string_equal(b.ptr, "");

    size_t reallocs = 0, last_cap = b.cap;
    for (int i = 0; i < 100000; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(evs__buf_append(&b, &c, 1), 0);
        if (b.cap != last_cap) {
            assert_true(b.cap >= 2 * last_cap); /* geometric */
            last_cap = b.cap;
            reallocs++;
        }
    }
    assert_int_equal(b.len, 100000);
    assert_true(reallocs < 20);
    assert_int_equal(b.ptr[b.len], '\0');
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(b.ptr[i], 'a' + (int)(i % 26));

    assert_int_equal(evs__buf_reserve(&b, 1000000), 0);
    assert_true(b.cap - b.len > 1000000);
    evs__buf_free(&b);
    assert_null(b.ptr);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    evs__buf_free(NULL);
}

static void test_buf_enomem(void **state)
{
    (void)state;
    evs__buf b = EVS__BUF_INIT;
    assert_int_equal(evs__buf_append(&b, "abc", 3), 0);

    evs__clearerr();
    evs__alloc_fail_after(0, true);
    char big[200];
    memset(big, 'x', sizeof big);
    assert_int_equal(evs__buf_append(&b, big, sizeof big), EVS_ENOMEM);
    assert_int_equal(evs__lasterr_code(), EVS_ENOMEM);
    assert_non_null(strstr(evs__lasterr_msg(), "out of memory"));
    evs__alloc_fail_after(-1, false);
    /* The buffer is untouched. */
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "abc", 3);

    /* Size overflow is ENOMEM without even trying to allocate. */
    assert_int_equal(evs__buf_reserve(&b, SIZE_MAX - 2), EVS_ENOMEM);
    assert_int_equal(evs__buf_reserve(&b, SIZE_MAX / 2 + 10), EVS_ENOMEM);
    assert_int_equal(b.len, 3);
    evs__buf_free(&b);

    /* OOM loop: fail the Nth allocation until the sequence succeeds; no leak (ASan). */
    for (long n = 0;; n++) {
        evs__buf c = EVS__BUF_INIT;
        evs__alloc_fail_after(n, false);
        int rc = 0;
        for (int i = 0; i < 5000 && rc == 0; i++)
            rc = evs__buf_append(&c, "0123456789", 10);
        evs__alloc_fail_after(-1, false);
        evs__buf_free(&c);
        if (rc == 0) {
            assert_true(n > 5);
            break;
        }
        assert_int_equal(rc, EVS_ENOMEM);
    }
}

static void test_err_basic(void **state)
{
    (void)state;
    evs__clearerr();
    assert_int_equal(evs__lasterr_code(), 0);
    assert_string_equal(evs__lasterr_msg(), "");

    assert_int_equal(evs__seterr(EVS_EINVAL, "stream '%s' is %d bytes", "abc", 3), EVS_EINVAL);
    assert_int_equal(evs__lasterr_code(), EVS_EINVAL);
    assert_string_equal(evs__lasterr_msg(), "stream 'abc' is 3 bytes");

    assert_int_equal(evs__prefixerr("append to '%s'", "order-1"), EVS_EINVAL);
    assert_string_equal(evs__lasterr_msg(), "append to 'order-1': stream 'abc' is 3 bytes");
    assert_int_equal(evs__lasterr_code(), EVS_EINVAL);

    /* The current message may be an argument of the next one. */
    evs__seterr(EVS_EIO, "again: %s", evs__lasterr_msg());
    assert_string_equal(evs__lasterr_msg(), "again: append to 'order-1': stream 'abc' is 3 bytes");

    evs__clearerr();
    assert_int_equal(evs__lasterr_code(), 0);
    assert_string_equal(evs__lasterr_msg(), "");
}

static void test_err_errno(void **state)
{
    (void)state;
    char expect[256];

    assert_int_equal(evs__seterr_errno(ENOSPC, "write %s", "seg.log"), EVS_ENOSPC);
    assert_int_equal(evs__lasterr_code(), EVS_ENOSPC);
    assert_int_equal(strerror_r(ENOSPC, expect, sizeof expect), 0);
    assert_non_null(strstr(evs__lasterr_msg(), expect));
    assert_true(strncmp(evs__lasterr_msg(), "write seg.log: ", 15) == 0);

    assert_int_equal(evs__seterr_errno(EDQUOT, "write"), EVS_ENOSPC);
    assert_int_equal(evs__seterr_errno(ENOMEM, "mmap"), EVS_ENOMEM);
    assert_int_equal(evs__seterr_errno(EIO, "fsync"), EVS_EIO);
    assert_int_equal(evs__seterr_errno(EACCES, "open"), EVS_EIO);
    assert_int_equal(strerror_r(EACCES, expect, sizeof expect), 0);
    char full[300];
    snprintf(full, sizeof full, "open: %s", expect);
    assert_string_equal(evs__lasterr_msg(), full);

    /* Unknown errno values still give a message. */
    assert_int_equal(evs__seterr_errno(99999, "x"), EVS_EIO);
    assert_true(strlen(evs__lasterr_msg()) > 3);
}

static void test_err_truncation(void **state)
{
    (void)state;
    char longs[5000];
    memset(longs, 'a', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';

    evs__seterr(EVS_EINVAL, "%s", longs);
    size_t len = strlen(evs__lasterr_msg());
    assert_true(len > 900 && len < 1024);

    /* The errno text survives a long context. */
    char expect[256];
    assert_int_equal(strerror_r(ENOSPC, expect, sizeof expect), 0);
    evs__seterr_errno(ENOSPC, "%s", longs);
    const char *m = evs__lasterr_msg();
    assert_true(strlen(m) < 1024);
    assert_string_equal(m + strlen(m) - strlen(expect), expect);

    evs__prefixerr("%s", longs);
    assert_true(strlen(evs__lasterr_msg()) < 1024);
    evs__seterr(EVS_EIO, "short");
    evs__prefixerr("%s", longs);
    assert_true(strlen(evs__lasterr_msg()) < 1024);

    /* A cut never leaves half a UTF-8 character: fill with 3-byte characters. */
    char utf[3000];
    for (int i = 0; i < 999; i++)
        memcpy(utf + 3 * i, "\xe2\x82\xac", 3); /* U+20AC */
    utf[2997] = '\0';
    for (int shift = 0; shift < 3; shift++) {
        evs__seterr(EVS_EINVAL, "%.*s%s", shift, "xx", utf);
        m = evs__lasterr_msg();
        len = strlen(m);
        assert_int_equal((len - (size_t)shift) % 3, 0);
    }
}

static void *thread_err(void *arg)
{
    (void)arg;
    /* A new thread starts clear and its error does not leak into others. */
    if (evs__lasterr_code() != 0 || evs__lasterr_msg()[0] != '\0')
        return (void *)1;
    evs__seterr(EVS_EBUSY, "thread");
    return NULL;
}

static void test_err_thread_local(void **state)
{
    (void)state;
    evs__seterr(EVS_ECORRUPT, "main");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, thread_err, NULL), 0);
    void *res;
    assert_int_equal(pthread_join(t, &res), 0);
    assert_null(res);
    assert_int_equal(evs__lasterr_code(), EVS_ECORRUPT);
    assert_string_equal(evs__lasterr_msg(), "main");
}

static void test_le_helpers(void **state)
{
    (void)state;
    unsigned char b[8];
    evs__put_u64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 8);
    assert_int_equal(b[7], 1);
    assert_true(evs__get_u64(b) == 0x0102030405060708ull);
    evs__put_u32(b, 0xA1B2C3D4u);
    assert_int_equal(evs__get_u32(b), 0xA1B2C3D4u);
    evs__put_u16(b, 0xBEEF);
    assert_int_equal(evs__get_u16(b), 0xBEEF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_basic),    cmocka_unit_test(test_alloc_fail_after),
        cmocka_unit_test(test_buf_growth),     cmocka_unit_test(test_buf_enomem),
        cmocka_unit_test(test_err_basic),      cmocka_unit_test(test_err_errno),
        cmocka_unit_test(test_err_truncation), cmocka_unit_test(test_err_thread_local),
        cmocka_unit_test(test_le_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
