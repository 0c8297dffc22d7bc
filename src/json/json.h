/*
 * json.h - strict JSON (RFC 8259) validation and the small amount of parsing evstore
 * needs: walking the members of one object (for NDJSON input lines) and unescaping
 * strings. Payloads are never rebuilt: evstore stores the caller's bytes as given.
 *
 * Depends on src/util only.
 */
#ifndef EVS_JSON_H
#define EVS_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Why validation failed, and where. */
typedef struct evs__json_error {
    size_t offset;      /* byte offset of the first offending byte */
    const char *reason; /* static string, e.g. "invalid UTF-8", "unexpected character",
                         * "trailing characters after the value", "nesting deeper than
                         * 512", "unterminated string", "invalid escape",
                         * "control character in string", "invalid number",
                         * "unexpected end of input", "lone surrogate in \u escape" */
} evs__json_error;

/* Validate that buf[0..len) is exactly one JSON value, with optional surrounding
 * whitespace. Strings must be valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF)
 * and \u escapes must pair surrogates correctly. Nesting deeper than max_depth arrays
 * and objects is an error. Returns true when valid; else false and fills *err (may be
 * NULL). Speed matters: this runs on every append (aim: > 1 GB/s on typical payloads). */
bool evs__json_validate(const char *buf, size_t len, int max_depth, evs__json_error *err);

/* The kind of a JSON value, from its first byte. */
typedef enum evs__json_kind {
    EVS__JSON_INVALID = 0,
    EVS__JSON_OBJECT,
    EVS__JSON_ARRAY,
    EVS__JSON_STRING,
    EVS__JSON_NUMBER,
    EVS__JSON_TRUE,
    EVS__JSON_FALSE,
    EVS__JSON_NULL
} evs__json_kind;

/* One member of an object: raw spans into the input (no copies). */
typedef struct evs__json_member {
    const char *key;     /* the key's raw bytes between the quotes (escapes not undone) */
    size_t key_len;
    bool key_has_escape; /* true when key contains a backslash */
    const char *value;   /* the value's raw bytes, e.g. {"a":1} or "x" with quotes */
    size_t value_len;
    evs__json_kind kind;
} evs__json_member;

/* Iterate the top-level members of the JSON object in buf[0..len), which must be one
 * valid object (validate it first, or check the return). For each member, calls
 * cb(ctx, &member); a non-zero return from cb stops the walk and is returned.
 * Returns 0 after the last member, -1 if buf is not a valid object (fills *err). */
typedef int (*evs__json_member_cb)(void *ctx, const evs__json_member *m);
int evs__json_object_walk(const char *buf, size_t len, int max_depth, evs__json_member_cb cb,
                          void *ctx, evs__json_error *err);

/* Unescape a JSON string's raw content (between the quotes) into out, which must hold
 * at least raw_len bytes (unescaping never grows). Sets *out_len. Returns 0, or -1 for a
 * bad escape (fills *err with the offset inside raw). */
int evs__json_unescape(const char *raw, size_t raw_len, char *out, size_t *out_len,
                       evs__json_error *err);

/* Write s[0..len) as a JSON string body (without quotes) with the escapes JSON
 * requires (", \, control characters as \n \t \r \b \f or \u00XX). s is valid UTF-8
 * already. Appends to the caller's buffer through the writer callback. */
typedef int (*evs__json_write_fn)(void *ctx, const char *p, size_t len);
int evs__json_escape(const char *s, size_t len, evs__json_write_fn write, void *ctx);

/* Validate UTF-8 (same rules as inside strings). Returns true when valid; otherwise
 * false with *bad_off at the first bad byte. */
bool evs__utf8_validate(const char *s, size_t len, size_t *bad_off);

#endif /* EVS_JSON_H */
