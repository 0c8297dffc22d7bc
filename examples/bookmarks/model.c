/*
 * model.c - the bookmarks read model (model.h): applying events, and the state
 * document written to and read from the state file.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup, open_memstream */
#endif
#include "model.h"

#include "json.h"

#include <stdlib.h>
#include <string.h>

void model_init(model *m, int version)
{
    memset(m, 0, sizeof *m);
    m->version = version;
}

static void bookmark_free(bookmark *b)
{
    free(b->url);
    free(b->title);
    free(b->favicon);
    for (size_t i = 0; i < b->tag_count; i++)
        free(b->tags[i]);
    free(b->tags);
}

static void clear(model *m)
{
    for (size_t i = 0; i < m->count; i++)
        bookmark_free(&m->items[i]);
    free(m->items);
    m->items = NULL;
    m->count = m->cap = 0;
}

void model_free(model *m)
{
    clear(m);
    free(m->json);
    m->json = NULL;
}

/* The bookmark for url, inserted in order when missing; NULL when out of memory. */
static bookmark *find_or_add(model *m, const char *url)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->items[mid].url, url);
        if (c == 0)
            return &m->items[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        bookmark *items = realloc(m->items, cap * sizeof *items);
        if (!items)
            return NULL;
        m->items = items;
        m->cap = cap;
    }
    char *copy = strdup(url);
    if (!copy)
        return NULL;
    memmove(&m->items[lo + 1], &m->items[lo], (m->count - lo) * sizeof *m->items);
    memset(&m->items[lo], 0, sizeof *m->items);
    m->items[lo].url = copy;
    m->count++;
    return &m->items[lo];
}

static bool add_tag(bookmark *b, char *tag)
{
    for (size_t i = 0; i < b->tag_count; i++) {
        if (strcmp(b->tags[i], tag) == 0) {
            free(tag);
            return true;
        }
    }
    char **tags = realloc(b->tags, (b->tag_count + 1) * sizeof *tags);
    if (!tags) {
        free(tag);
        return false;
    }
    /* Sorted, so that the document does not depend on the order tags came in. */
    size_t i = b->tag_count;
    while (i > 0 && strcmp(tags[i - 1], tag) > 0) {
        tags[i] = tags[i - 1];
        i--;
    }
    tags[i] = tag;
    b->tags = tags;
    b->tag_count++;
    return true;
}

/* ---- reading JSON into the model ------------------------------------------------------- */

typedef struct fields {
    char *url, *title, *favicon;
    char **tags;
    size_t tag_count;
} fields;

static void fields_free(fields *f)
{
    free(f->url);
    free(f->title);
    free(f->favicon);
    for (size_t i = 0; i < f->tag_count; i++)
        free(f->tags[i]);
    free(f->tags);
}

static bool tag_item(json_in *in, void *ctx)
{
    fields *f = ctx;
    char *tag = json_string(in);
    char **tags = tag ? realloc(f->tags, (f->tag_count + 1) * sizeof *tags) : NULL;
    if (!tags) {
        free(tag);
        return false;
    }
    f->tags = tags;
    f->tags[f->tag_count++] = tag;
    return true;
}

/* The members of a bookmark event, an info event, or a bookmark in the state. */
static bool field_member(json_in *in, const char *key, void *ctx)
{
    fields *f = ctx;
    char **slot = strcmp(key, "url") == 0          ? &f->url
                  : strcmp(key, "title") == 0      ? &f->title
                  : strcmp(key, "faviconUrl") == 0 ? &f->favicon
                                                   : NULL;
    if (slot) {
        free(*slot);
        return (*slot = json_string(in)) != NULL;
    }
    if (strcmp(key, "tags") == 0)
        return json_array(in, tag_item, f);
    return json_skip(in);
}

static bool read_fields(const char *json, size_t len, fields *f)
{
    memset(f, 0, sizeof *f);
    json_in in = {json, json + len};
    if (json_object(&in, field_member, f) && f->url)
        return true;
    fields_free(f);
    return false;
}

/* Move what f says into b (f is left empty). */
static bool merge(bookmark *b, fields *f, bool with_tags)
{
    if (f->title) {
        free(b->title);
        b->title = f->title;
        f->title = NULL;
    }
    if (f->favicon) {
        free(b->favicon);
        b->favicon = f->favicon;
        f->favicon = NULL;
    }
    bool ok = true;
    for (size_t i = 0; i < f->tag_count; i++) {
        if (with_tags)
            ok = add_tag(b, f->tags[i]) && ok;
        else
            free(f->tags[i]);
    }
    f->tag_count = 0;
    return ok;
}

static bool state_bookmark(json_in *in, const char *key, void *ctx)
{
    model *m = ctx;
    fields f;
    memset(&f, 0, sizeof f);
    bookmark *b = json_object(in, field_member, &f) ? find_or_add(m, key) : NULL;
    bool ok = b && merge(b, &f, m->version >= 2);
    fields_free(&f);
    return ok;
}

static bool state_member(json_in *in, const char *key, void *ctx)
{
    if (strcmp(key, "byUrl") == 0)
        return json_object(in, state_bookmark, ctx);
    return json_skip(in);
}

bool model_load(model *m, const char *json, size_t len)
{
    clear(m);
    json_in in = {json, json + len};
    return json_object(&in, state_member, m);
}

int model_apply(void *user, const evs_event *ev)
{
    model *m = user;
    m->events++;
    bool is_info = ev->type_len == 4 && memcmp(ev->type, "info", 4) == 0;
    bool is_bookmark = ev->type_len == 8 && memcmp(ev->type, "bookmark", 8) == 0;
    /* Model 1 reads info events only; model 2 reads bookmark events too. */
    if (!is_info && !(is_bookmark && m->version >= 2))
        return 0;
    fields f;
    if (!read_fields(ev->data, ev->data_len, &f))
        return -1;
    bookmark *b = find_or_add(m, f.url);
    bool ok = b && merge(b, &f, is_bookmark);
    fields_free(&f);
    return ok ? 0 : -1;
}

/* ---- writing the state document -------------------------------------------------------- */

int model_dump(void *user, const char **json, size_t *len)
{
    model *m = user;
    free(m->json);
    m->json = NULL;
    FILE *out = open_memstream(&m->json, &m->json_len);
    if (!out)
        return -1;
    fputs("{\"byUrl\":{", out);
    for (size_t i = 0; i < m->count; i++) {
        const bookmark *b = &m->items[i];
        fputs(i ? "," : "", out);
        json_put_string(out, b->url);
        fputs(":{\"url\":", out);
        json_put_string(out, b->url);
        if (b->title) {
            fputs(",\"title\":", out);
            json_put_string(out, b->title);
        }
        if (b->favicon) {
            fputs(",\"faviconUrl\":", out);
            json_put_string(out, b->favicon);
        }
        if (m->version >= 2) {
            fputs(",\"tags\":[", out);
            for (size_t t = 0; t < b->tag_count; t++) {
                fputs(t ? "," : "", out);
                json_put_string(out, b->tags[t]);
            }
            fputc(']', out);
        }
        fputc('}', out);
    }
    fputs("}}", out);
    if (fclose(out) != 0)
        return -1;
    *json = m->json;
    *len = m->json_len;
    return 0;
}
