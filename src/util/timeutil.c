/*
 * timeutil.c - clocks, and timestamps as RFC 3339 text.
 *
 * Timestamps are int64 nanoseconds since 1970-01-01T00:00:00Z (UTC, no leap seconds, as
 * POSIX time), which covers 1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z.
 *
 * The calendar conversion is done here rather than with gmtime_r/timegm: those take a
 * lock-free but slow path through the time zone code, and the CLI formats millions of
 * timestamps per second. Days are converted with the proleptic Gregorian calendar by
 * counting in 400-year eras (146097 days each) of years that start on March 1st, so
 * that the leap day is the last day of a year and the conversion needs no month table.
 *
 * Parsing follows RFC 3339 section 5.6 with these decisions:
 *  - the date/time separator may be 'T', 't' or ' ' (RFC 3339 allows the space);
 *  - more than 9 fraction digits are accepted and truncated to nanoseconds (nothing
 *    finer can be stored; truncation never moves a time into the next nanosecond);
 *  - second 60 (a leap second) is accepted anywhere and read as 59.999999999 of that
 *    minute, so the result stays inside the minute and day that was written; whether a
 *    leap second really happened then is not checked (POSIX time has none);
 *  - "-00:00" is accepted and means UTC;
 *  - years 0000..9999 are valid dates, but the result must fit int64 nanoseconds, so
 *    anything outside the range above is EVS_EINVAL ("out of range").
 */
#include "evstore.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC    1000000000LL
#define SECS_PER_DAY  86400LL
#define DAYS_PER_ERA  146097LL
#define FORMATTED_LEN 30

int64_t evs__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t evs__monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Day number (0 = 1970-01-01) of a proleptic Gregorian date; month 1..12. */
static int64_t days_from_civil(int64_t year, int month, int day)
{
    /* Count years from March: January and February belong to the previous year. */
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                         /* 0..399 */
    int mp = month > 2 ? month - 3 : month + 9;          /* March = 0 .. February = 11 */
    int64_t doy = (153 * mp + 2) / 5 + (day - 1);        /* day of the March-based year */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* day of the era, 0..146096 */
    /* 719468 = days from 0000-03-01 to 1970-01-01. */
    return era * DAYS_PER_ERA + doe - 719468;
}

static void civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, DAYS_PER_ERA);
    int64_t doe = z - era * DAYS_PER_ERA;                                /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0..11 */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static void format30(char *o, int64_t ts_ns)
{
    int64_t secs = floor_div(ts_ns, NS_PER_SEC);
    uint32_t nsec = (uint32_t)(ts_ns - secs * NS_PER_SEC);
    int64_t days = floor_div(secs, SECS_PER_DAY);
    uint32_t sod = (uint32_t)(secs - days * SECS_PER_DAY);
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);

    /* int64 ns keeps the year within 1677..2262, always four digits. */
    unsigned y = (unsigned)year;
    put2(o, y / 100);
    put2(o + 2, y % 100);
    o[4] = '-';
    put2(o + 5, (unsigned)month);
    o[7] = '-';
    put2(o + 8, (unsigned)day);
    o[10] = 'T';
    put2(o + 11, sod / 3600);
    o[13] = ':';
    put2(o + 14, sod / 60 % 60);
    o[16] = ':';
    put2(o + 17, sod % 60);
    o[19] = '.';
    for (int i = 28; i >= 20; i--) {
        o[i] = (char)('0' + nsec % 10);
        nsec /= 10;
    }
    o[29] = 'Z';
}

size_t evs__time_format(char *buf, size_t buf_len, int64_t ts_ns)
{
    if (buf_len > FORMATTED_LEN) {
        format30(buf, ts_ns);
        buf[FORMATTED_LEN] = '\0';
    } else if (buf_len > 0) {
        char tmp[FORMATTED_LEN];
        format30(tmp, ts_ns);
        memcpy(buf, tmp, buf_len);
    }
    return FORMATTED_LEN;
}

/* ---- parsing ---------------------------------------------------------------------- */

struct parser {
    const unsigned char *s;
    size_t len;
    size_t i; /* next byte */
};

static const char time_shape[] = "YYYY-MM-DDThh:mm:ss[.fff]Z or +hh:mm";

static int fail_at(const struct parser *p, const char *expected)
{
    if (p->i >= p->len)
        return evs__seterr(EVS_EINVAL, "bad timestamp: ends after %zu characters, expected %s (%s)",
                           p->len, expected, time_shape);
    unsigned char c = p->s[p->i];
    if (c >= 0x20 && c < 0x7F)
        return evs__seterr(EVS_EINVAL, "bad timestamp: character %zu is '%c', expected %s (%s)",
                           p->i + 1, c, expected, time_shape);
    return evs__seterr(EVS_EINVAL, "bad timestamp: character %zu is \\x%02x, expected %s (%s)",
                       p->i + 1, c, expected, time_shape);
}

static int expect_digits(struct parser *p, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (p->i >= p->len || p->s[p->i] < '0' || p->s[p->i] > '9')
            return fail_at(p, "a digit");
        v = v * 10 + (p->s[p->i] - '0');
        p->i++;
    }
    *out = v;
    return 0;
}

static int expect_char(struct parser *p, char c)
{
    char what[8];
    if (p->i >= p->len || p->s[p->i] != (unsigned char)c) {
        (void)snprintf(what, sizeof what, "'%c'", c);
        return fail_at(p, what);
    }
    p->i++;
    return 0;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

static int range_err(const char *field, int value, int lo, int hi)
{
    return evs__seterr(EVS_EINVAL, "bad timestamp: %s %d is out of range %d..%d", field, value, lo,
                       hi);
}

/* Date and time of day: "YYYY-MM-DD?hh:mm:ss". A leap second (ss = 60) comes back as
 * second 59 with *leap set. */
static int parse_datetime(struct parser *p, int64_t *days, int64_t *sod, bool *leap)
{
    /* Initialised only because gcc cannot see that every failure path returns < 0. */
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, rc;
    if ((rc = expect_digits(p, 4, &year)) < 0 || (rc = expect_char(p, '-')) < 0 ||
        (rc = expect_digits(p, 2, &month)) < 0 || (rc = expect_char(p, '-')) < 0 ||
        (rc = expect_digits(p, 2, &day)) < 0)
        return rc;
    if (p->i >= p->len || (p->s[p->i] != 'T' && p->s[p->i] != 't' && p->s[p->i] != ' '))
        return fail_at(p, "'T'");
    p->i++;
    if ((rc = expect_digits(p, 2, &hour)) < 0 || (rc = expect_char(p, ':')) < 0 ||
        (rc = expect_digits(p, 2, &minute)) < 0 || (rc = expect_char(p, ':')) < 0 ||
        (rc = expect_digits(p, 2, &second)) < 0)
        return rc;

    if (month < 1 || month > 12)
        return range_err("month", month, 1, 12);
    int mdays = days_in_month(year, month);
    if (day < 1 || day > mdays)
        return evs__seterr(EVS_EINVAL, "bad timestamp: day %d is out of range 1..%d for %04d-%02d",
                           day, mdays, year, month);
    if (hour > 23)
        return range_err("hour", hour, 0, 23);
    if (minute > 59)
        return range_err("minute", minute, 0, 59);
    if (second > 60)
        return range_err("second", second, 0, 60);
    *leap = second == 60;
    if (*leap)
        second = 59;
    *days = days_from_civil(year, month, day);
    *sod = hour * 3600LL + minute * 60LL + second;
    return 0;
}

/* Optional fraction: '.' then one or more digits; beyond 9 they are truncated. */
static int parse_fraction(struct parser *p, int64_t *nsec)
{
    *nsec = 0;
    if (p->i >= p->len || p->s[p->i] != '.')
        return 0;
    p->i++;
    int digits = 0;
    int64_t v = 0;
    while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        if (digits < 9) {
            v = v * 10 + (p->s[p->i] - '0');
        }
        digits++;
        p->i++;
    }
    if (digits == 0)
        return fail_at(p, "a fraction digit");
    for (int k = digits; k < 9; k++)
        v *= 10;
    *nsec = v;
    return 0;
}

/* 'Z', 'z' or +hh:mm / -hh:mm; *offset_secs is local time minus UTC. */
static int parse_offset(struct parser *p, int64_t *offset_secs)
{
    *offset_secs = 0;
    if (p->i >= p->len)
        return fail_at(p, "'Z' or an offset");
    unsigned char c = p->s[p->i];
    if (c == 'Z' || c == 'z') {
        p->i++;
        return 0;
    }
    if (c != '+' && c != '-')
        return fail_at(p, "'Z' or an offset");
    p->i++;
    int hh = 0, mm = 0, rc;
    if ((rc = expect_digits(p, 2, &hh)) < 0 || (rc = expect_char(p, ':')) < 0 ||
        (rc = expect_digits(p, 2, &mm)) < 0)
        return rc;
    if (hh > 23)
        return range_err("offset hour", hh, 0, 23);
    if (mm > 59)
        return range_err("offset minute", mm, 0, 59);
    *offset_secs = (c == '-' ? -1 : 1) * (hh * 3600LL + mm * 60LL);
    return 0;
}

int evs__time_parse(int64_t *out, const char *text, size_t len)
{
    struct parser p = {(const unsigned char *)text, len, 0};
    int64_t days = 0, sod = 0, nsec = 0, offset = 0;
    bool leap = false;
    int rc;
    if ((rc = parse_datetime(&p, &days, &sod, &leap)) < 0 || (rc = parse_fraction(&p, &nsec)) < 0 ||
        (rc = parse_offset(&p, &offset)) < 0)
        return rc;
    if (p.i != p.len)
        return fail_at(&p, "the end of the timestamp");

    int64_t secs = days * SECS_PER_DAY + sod - offset;
    if (leap)
        nsec = NS_PER_SEC - 1;

    /* Years 0000..9999 keep secs far inside int64; only the scaling can overflow.
     * Borrow a second for negative times so that INT64_MIN itself is reachable. */
    if (secs < 0 && nsec > 0) {
        secs += 1;
        nsec -= NS_PER_SEC;
    }
    int64_t ns;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &ns) || __builtin_add_overflow(ns, nsec, &ns))
        return evs__seterr(EVS_EINVAL,
                           "bad timestamp: out of range (1677-09-21T00:12:43.145224192Z .. "
                           "2262-04-11T23:47:16.854775807Z)");
    *out = ns;
    return 0;
}
