/*
 * cli_time.c - the times --since and --until take: RFC 3339, a bare date, "now", or a
 * span back from now ("-90s", "-1.5h", "-2w"). A value that is none of these gets a
 * reason naming what is wrong, so the user can fix the one character.
 */
#include "cli_common.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_SEC 1000000000LL

/* How far back a relative time may reach, whatever its unit. */
#define MAX_BACK_DAYS 3660LL

static const struct {
    char unit;
    int64_t ns;
    const char *name;
} units[] = {
    {'s', NS_PER_SEC, "seconds"},
    {'m', 60LL * NS_PER_SEC, "minutes"},
    {'h', 3600LL * NS_PER_SEC, "hours"},
    {'d', 86400LL * NS_PER_SEC, "days"},
    {'w', 7LL * 86400LL * NS_PER_SEC, "weeks"},
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "-" N ["." F] UNIT, for a span of at most MAX_BACK_DAYS. */
static bool parse_relative(const char *s, size_t len, int64_t now_ns, int64_t *out, char *why,
                           size_t why_len)
{
    const int64_t max_back_ns = MAX_BACK_DAYS * 86400LL * NS_PER_SEC;
    size_t i = 1;
    int64_t whole = 0, frac = 0, frac_scale = 1;
    while (i < len && is_digit(s[i])) {
        /* Past the bound already: stop before the number itself can overflow. */
        if (whole > max_back_ns / NS_PER_SEC)
            goto too_far;
        whole = whole * 10 + (s[i++] - '0');
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i]))
            goto bad_shape;
        for (; i < len && is_digit(s[i]); i++) {
            if (frac_scale < NS_PER_SEC) { /* finer than 1 ns of a second is noise */
                frac = frac * 10 + (s[i] - '0');
                frac_scale *= 10;
            }
        }
    }
    if (i + 1 != len)
        goto bad_shape;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (s[i] != units[u].unit)
            continue;
        if (whole > max_back_ns / units[u].ns)
            goto too_far;
        int64_t back = whole * units[u].ns + frac * (units[u].ns / frac_scale);
        if (back > max_back_ns)
            goto too_far;
        *out = now_ns - back;
        return true;
    }
bad_shape:
    (void)snprintf(why, why_len, "a relative time is '-', a number and a unit (s, m, h, d or w)");
    return false;
too_far:
    (void)snprintf(why, why_len, "out of range: at most %lld days back", MAX_BACK_DAYS);
    return false;
}

bool cli_parse_time(const char *s, int64_t now_ns, int64_t *out, char *why, size_t why_len)
{
    size_t len = strlen(s);
    if (strcmp(s, "now") == 0) {
        *out = now_ns;
        return true;
    }
    if (len >= 2 && s[0] == '-' && (is_digit(s[1]) || s[1] == '.'))
        return parse_relative(s, len, now_ns, out, why, why_len);

    /* A bare date is that day's midnight, UTC. */
    char day[sizeof "YYYY-MM-DDT00:00:00Z"];
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        (void)snprintf(day, sizeof day, "%sT00:00:00Z", s);
        s = day;
        len = strlen(day);
    }
    if (evs_time_parse(out, s, len) == 0)
        return true;
    (void)snprintf(why, why_len, "%s", evs_errmsg());
    return false;
}

bool cli_parse_duration(const char *s, int64_t *out, char *why, size_t why_len)
{
    char neg[40];
    size_t len = strlen(s);
    if (len == 0 || len + 2 > sizeof neg || !(is_digit(s[0]) || s[0] == '.')) {
        (void)snprintf(why, why_len, "a duration is a number and a unit (s, m, h, d or w)");
        return false;
    }
    (void)snprintf(neg, sizeof neg, "-%s", s);
    int64_t back;
    if (!parse_relative(neg, len + 1, 0, &back, why, why_len))
        return false;
    *out = -back;
    return true;
}
