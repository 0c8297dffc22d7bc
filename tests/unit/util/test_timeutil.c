/*
 * test_timeutil.c - unit tests for src/util/timeutil.c: RFC 3339 formatting and parsing,
 * known instants, round trips over the whole int64 nanosecond range (checked against the
 * C library's gmtime_r where time_t allows), offsets, and every parse error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "evstore.h"
#include "util.h"

#define NS 1000000000LL

static uint64_t rng_state = 42;

static uint64_t next_rand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void expect_format(int64_t ts, const char *text)
{
    char buf[40];
    memset(buf, '#', sizeof buf);
    assert_int_equal(evs__time_format(buf, sizeof buf, ts), 30);
    assert_string_equal(buf, text);
    int64_t back = 0;
    assert_int_equal(evs__time_parse(&back, text, strlen(text)), 0);
    assert_true(back == ts);
}

static void test_known(void **state)
{
    (void)state;
    expect_format(0, "1970-01-01T00:00:00.000000000Z");
    expect_format(1, "1970-01-01T00:00:00.000000001Z");
    expect_format(-1, "1969-12-31T23:59:59.999999999Z");
    expect_format(-NS, "1969-12-31T23:59:59.000000000Z");
    expect_format(951782400LL * NS, "2000-02-29T00:00:00.000000000Z");
    expect_format(951868799LL * NS + 999999999, "2000-02-29T23:59:59.999999999Z");
    expect_format(4107542400LL * NS, "2100-03-01T00:00:00.000000000Z");
    expect_format(4107456000LL * NS, "2100-02-28T00:00:00.000000000Z"); /* 2100: no leap */
    expect_format(1795435200LL * NS + 1, "2026-11-23T12:00:00.000000001Z");
    expect_format(-2208988800LL * NS, "1900-01-01T00:00:00.000000000Z");
    expect_format(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    expect_format(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
}

static void test_format_small_buffers(void **state)
{
    (void)state;
    char buf[40];
    memset(buf, '#', sizeof buf);
    assert_int_equal(evs__time_format(buf, 30, 0), 30); /* no room for the NUL */
    assert_memory_equal(buf, "1970-01-01T00:00:00.000000000Z#", 31);
    memset(buf, '#', sizeof buf);
    assert_int_equal(evs__time_format(buf, 10, 0), 30);
    assert_memory_equal(buf, "1970-01-01#", 11);
    assert_int_equal(evs__time_format(NULL, 0, 0), 30);
}

static void test_against_gmtime(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        int64_t ts = (int64_t)next_rand();
        if (i < 1000)
            ts = ((int64_t)(next_rand() % 212000) - 106000) * 86400 * NS; /* midnights */
        char buf[31];
        evs__time_format(buf, sizeof buf, ts);
        int64_t secs = ts / NS - (ts % NS < 0 ? 1 : 0);
        time_t t = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char expect[64];
        snprintf(expect, sizeof expect, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        assert_memory_equal(buf, expect, 19);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    char buf[31];
    for (int i = 0; i < 500000; i++) {
        int64_t ts = (int64_t)next_rand();
        if (i % 4 == 1)
            ts /= 1000000; /* near the epoch */
        else if (i % 4 == 2)
            ts = INT64_MAX - (int64_t)(next_rand() % 1000);
        else if (i % 4 == 3)
            ts = INT64_MIN + (int64_t)(next_rand() % 1000);
        assert_int_equal(evs__time_format(buf, sizeof buf, ts), 30);
        int64_t back;
        assert_int_equal(evs__time_parse(&back, buf, 30), 0);
        if (back != ts)
            fail_msg("%s parsed to %lld, expected %lld", buf, (long long)back, (long long)ts);
    }
}

static void expect_parse(const char *text, int64_t ts)
{
    int64_t out = 12345;
    int rc = evs__time_parse(&out, text, strlen(text));
    if (rc != 0)
        fail_msg("parse '%s' failed: %s", text, evs__lasterr_msg());
    if (out != ts)
        fail_msg("parse '%s' = %lld, expected %lld", text, (long long)out, (long long)ts);
}

static void test_parse_variants(void **state)
{
    (void)state;
    const int64_t base = 1795435200LL * NS; /* 2026-11-23T12:00:00Z */
    expect_parse("2026-11-23T12:00:00Z", base);
    expect_parse("2026-11-23t12:00:00z", base);
    expect_parse("2026-11-23 12:00:00Z", base);
    expect_parse("2026-11-23T12:00:00.5Z", base + 500000000);
    expect_parse("2026-11-23T12:00:00.123456789Z", base + 123456789);
    expect_parse("2026-11-23T12:00:00.1234567891234Z", base + 123456789); /* truncated */
    expect_parse("2026-11-23T12:00:00.000000000999Z", base);
    expect_parse("2026-11-23T17:30:00+05:30", base);
    expect_parse("2026-11-23T04:00:00-08:00", base);
    expect_parse("2026-11-23T04:00:00.25-08:00", base + 250000000);
    expect_parse("2026-11-23T12:00:00+00:00", base);
    expect_parse("2026-11-23T12:00:00-00:00", base);
    expect_parse("2026-11-24T11:59:00+23:59", base);
    /* Offsets that cross a day, month and year. */
    expect_parse("2000-01-01T02:00:00+05:00", 946674000LL * NS);
    expect_parse("1999-12-31T16:00:00-05:00", 946674000LL * NS);
    /* Leap second: read as the last nanosecond of that minute. */
    expect_parse("2016-12-31T23:59:60Z", 1483228800LL * NS - 1);
    expect_parse("2016-12-31T23:59:60.5Z", 1483228800LL * NS - 1);
    expect_parse("2017-01-01T05:29:60+05:30", 1483228800LL * NS - 1);
    expect_parse("2000-02-29T00:00:00Z", 951782400LL * NS);
    expect_parse("1904-02-29T00:00:00Z", -2077747200LL * NS);
    expect_parse("1969-12-31T23:59:59.999999999Z", -1);
    /* The extremes, written with offsets. */
    expect_parse("2262-04-12T00:47:16.854775807+01:00", INT64_MAX);
    expect_parse("1677-09-20T23:12:43.145224192-01:00", INT64_MIN);
}

static void expect_error(const char *text, const char *fragment)
{
    int64_t out = 777;
    evs__clearerr();
    assert_int_equal(evs__time_parse(&out, text, strlen(text)), EVS_EINVAL);
    assert_int_equal(out, 777);
    assert_int_equal(evs__lasterr_code(), EVS_EINVAL);
    if (strstr(evs__lasterr_msg(), fragment) == NULL)
        fail_msg("parse '%s': message '%s' lacks '%s'", text, evs__lasterr_msg(), fragment);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("", "ends after 0 characters, expected a digit");
    expect_error("2026", "ends after 4 characters, expected '-'");
    expect_error("2026-11-23", "expected 'T'");
    expect_error("2026-11-23T12:00:00", "ends after 19 characters, expected 'Z' or an offset");
    expect_error("x026-11-23T12:00:00Z", "character 1 is 'x', expected a digit");
    expect_error("2026/11-23T12:00:00Z", "character 5 is '/', expected '-'");
    expect_error("2026-1-23T12:00:00Z", "character 7 is '-', expected a digit");
    expect_error("2026-11-23X12:00:00Z", "character 11 is 'X', expected 'T'");
    expect_error("2026-11-23T12-00:00Z", "character 14 is '-', expected ':'");
    expect_error("2026-11-23T12:00:0Z", "character 19 is 'Z', expected a digit");
    expect_error("2026-11-23T12:00:00.Z", "character 21 is 'Z', expected a fraction digit");
    expect_error("2026-11-23T12:00:00.5", "ends after 21 characters, expected 'Z'");
    expect_error("2026-11-23T12:00:00ZZ", "character 21 is 'Z', expected the end");
    expect_error("2026-11-23T12:00:00Z ", "character 21 is ' ', expected the end");
    expect_error("2026-11-23T12:00:00+0530", "character 23 is '3', expected ':'");
    expect_error("2026-11-23T12:00:00+05", "ends after 22 characters, expected ':'");
    expect_error("2026-11-23T12:00:00 UTC", "character 20 is ' ', expected 'Z' or an offset");
    expect_error("2026-11-23T12:00:00\x01Z", "character 20 is \\x01");
    expect_error("2026-00-23T12:00:00Z", "month 0 is out of range 1..12");
    expect_error("2026-13-23T12:00:00Z", "month 13 is out of range 1..12");
    expect_error("2026-11-00T12:00:00Z", "day 0 is out of range 1..30 for 2026-11");
    expect_error("2026-11-31T12:00:00Z", "day 31 is out of range 1..30 for 2026-11");
    expect_error("2023-02-29T12:00:00Z", "day 29 is out of range 1..28 for 2023-02");
    expect_error("2100-02-29T12:00:00Z", "day 29 is out of range 1..28 for 2100-02");
    expect_error("2026-11-23T24:00:00Z", "hour 24 is out of range 0..23");
    expect_error("2026-11-23T12:60:00Z", "minute 60 is out of range 0..59");
    expect_error("2026-11-23T12:00:61Z", "second 61 is out of range 0..60");
    expect_error("2026-11-23T12:00:00+24:00", "offset hour 24 is out of range 0..23");
    expect_error("2026-11-23T12:00:00-05:60", "offset minute 60 is out of range 0..59");
    expect_error("2262-04-11T23:47:16.854775808Z", "out of range");
    expect_error("1677-09-21T00:12:43.145224191Z", "out of range");
    expect_error("0001-01-01T00:00:00Z", "out of range");
    expect_error("9999-12-31T23:59:59.999999999Z", "out of range");
    /* Only len bytes are read: a prefix of a valid text is an error, not a read past. */
    int64_t out;
    assert_int_equal(evs__time_parse(&out, "2026-11-23T12:00:00Z", 19), EVS_EINVAL);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = evs__now_ns();
    assert_true(now > 1700000000LL * NS); /* after 2023 */
    int64_t m1 = evs__monotonic_ns();
    int64_t m2 = evs__monotonic_ns();
    assert_true(m2 >= m1);
    assert_true(m1 > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known),          cmocka_unit_test(test_format_small_buffers),
        cmocka_unit_test(test_against_gmtime), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_variants), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
