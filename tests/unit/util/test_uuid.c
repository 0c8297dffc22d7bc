/*
 * test_uuid.c - unit tests for src/util/uuid.c: version/variant bits, text form round
 * trips, parse errors, uniqueness, and parent/child after fork().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evstore.h"
#include "util.h"

static void test_bits(void **state)
{
    (void)state;
    unsigned char id[16];
    unsigned seen_hi = 0, seen_lo = 0xFF;
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(evs__uuid_v4(id), 0);
        assert_int_equal(id[6] >> 4, 4);
        assert_int_equal(id[8] >> 6, 2);
        seen_hi |= id[0];
        seen_lo &= id[15];
    }
    assert_int_equal(seen_hi, 0xFF); /* the random part is not stuck */
    assert_int_equal(seen_lo, 0);
}

static void test_format_parse(void **state)
{
    (void)state;
    const unsigned char id[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                  0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    char text[37];
    evs__uuid_format(text, id);
    assert_string_equal(text, "01234567-89ab-cdef-fedc-ba9876543210");

    unsigned char back[16];
    assert_int_equal(evs__uuid_parse(back, text, 36), 0);
    assert_memory_equal(back, id, 16);
    assert_int_equal(evs__uuid_parse(back, "01234567-89AB-CDEF-FEDC-BA9876543210", 36), 0);
    assert_memory_equal(back, id, 16);
    /* Not NUL-terminated input is fine: only len bytes are read. */
    assert_int_equal(evs__uuid_parse(back, "01234567-89ab-cdef-fedc-ba9876543210XYZ", 36), 0);

    for (int i = 0; i < 1000; i++) {
        unsigned char r[16], p[16];
        assert_int_equal(evs__uuid_v4(r), 0);
        evs__uuid_format(text, r);
        assert_int_equal(strlen(text), 36);
        assert_int_equal(evs__uuid_parse(p, text, 36), 0);
        assert_memory_equal(p, r, 16);
    }
}

static void expect_parse_error(const char *text, size_t len, const char *fragment)
{
    unsigned char out[16];
    memset(out, 0x5A, 16);
    evs__clearerr();
    assert_int_equal(evs__uuid_parse(out, text, len), EVS_EINVAL);
    assert_int_equal(evs__lasterr_code(), EVS_EINVAL);
    if (strstr(evs__lasterr_msg(), fragment) == NULL)
        fail_msg("message '%s' lacks '%s'", evs__lasterr_msg(), fragment);
    for (int i = 0; i < 16; i++)
        assert_int_equal(out[i], 0x5A); /* untouched on error */
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("", 0, "0 characters, expected 36");
    expect_parse_error("01234567-89ab-cdef-fedc-ba987654321", 35, "35 characters");
    expect_parse_error("01234567-89ab-cdef-fedc-ba98765432100", 37, "37 characters");
    expect_parse_error("0123456789ab-cdef-fedc-ba9876543210x", 36,
                       "character 9 is '8', expected '-'");
    expect_parse_error("01234567-89ab_cdef-fedc-ba9876543210", 36,
                       "character 14 is '_', expected '-'");
    expect_parse_error("01234567-89ab-cdef-fedc+ba9876543210", 36, "character 24");
    expect_parse_error("g1234567-89ab-cdef-fedc-ba9876543210", 36,
                       "character 1 is 'g', expected a hex digit");
    expect_parse_error("01234567-89ab-cdef-fedc-ba987654321z", 36, "character 36 is 'z'");
    expect_parse_error("01234567-89ab-cdef-fe c-ba9876543210", 36, "character 22 is ' '");
    expect_parse_error("01234567-89ab-cdef-fedc-ba98765\n3210", 36, "character 32 is \\x0a");
    expect_parse_error("01234567-89ab-cdef-fedc-ba9876543\xc3\xa9", 36, "\\xc3");
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void test_unique(void **state)
{
    (void)state;
    enum { N = 1000000 };
    unsigned char *ids = malloc((size_t)N * 16);
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        assert_int_equal(evs__uuid_v4(ids + (size_t)i * 16), 0);
    qsort(ids, N, 16, cmp16);
    for (int i = 1; i < N; i++)
        assert_true(memcmp(ids + (size_t)(i - 1) * 16, ids + (size_t)i * 16, 16) != 0);
    free(ids);
}

static void test_fork(void **state)
{
    (void)state;
    /* Prime the buffer so that unread random bytes exist when we fork. */
    unsigned char first[16];
    assert_int_equal(evs__uuid_v4(first), 0);

    enum { K = 64 };
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned char ids[K][16];
        for (int i = 0; i < K; i++)
            if (evs__uuid_v4(ids[i]) != 0)
                _exit(2);
        ssize_t n = write(pipefd[1], ids, sizeof ids);
        _exit(n == (ssize_t)sizeof ids ? 0 : 3);
    }
    (void)close(pipefd[1]);
    unsigned char parent[K][16], child[K][16];
    for (int i = 0; i < K; i++)
        assert_int_equal(evs__uuid_v4(parent[i]), 0);
    size_t got = 0;
    while (got < sizeof child) {
        ssize_t n = read(pipefd[0], (unsigned char *)child + got, sizeof child - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    (void)close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++)
            assert_true(memcmp(parent[i], child[j], 16) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bits),         cmocka_unit_test(test_format_parse),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_unique),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
