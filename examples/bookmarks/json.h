/*
 * json.h - just enough JSON for the bookmarks example: walk objects and arrays, decode
 * strings, skip anything else, and write escaped strings. evstore hands out JSON as
 * bytes and checks it, but does not parse it for the application; a real service would
 * use a JSON library here. The input is always valid JSON (evstore checked it), yet
 * every function still stops cleanly at the end of its buffer.
 */
#ifndef BOOKMARKS_JSON_H
#define BOOKMARKS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct json_in {
    const char *p;   /* next byte */
    const char *end; /* one past the last */
} json_in;

/* Called for each member of an object with the reader positioned at its value, which
 * the callback must consume (read or json_skip). Return false to fail. */
typedef bool (*json_member_fn)(json_in *in, const char *key, void *ctx);

/* Called for each element of an array, positioned at it; must consume it. */
typedef bool (*json_item_fn)(json_in *in, void *ctx);

bool json_object(json_in *in, json_member_fn member, void *ctx);
bool json_array(json_in *in, json_item_fn item, void *ctx);

/* A string value, decoded into a new NUL-terminated buffer (free it), or NULL when the
 * value is not a string (then it is not consumed). */
char *json_string(json_in *in);

/* Consume any value. */
bool json_skip(json_in *in);

/* Write s as a JSON string, quotes included. */
void json_put_string(FILE *out, const char *s);

#endif /* BOOKMARKS_JSON_H */
