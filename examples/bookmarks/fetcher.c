/*
 * fetcher.c - the info fetcher: a durable consumer of `bookmark` events that looks up
 * each page and appends an `info` event for it (the first catchupSubscribe of
 * tiny-event-sourcing's example).
 *
 * The lookup is simulated, so that the example runs offline and its output can be
 * checked: the title and favicon are derived from the URL.
 *
 * At-least-once delivery means a bookmark may be handed to the fetcher again after a
 * crash. The info event's id is derived from the bookmark event's id, and evstore
 * ignores an append whose ids are already in the stream, so a repeat never produces a
 * second info event.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strdup, open_memstream */
#endif
#include "fetcher.h"

#include "json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool url_member(json_in *in, const char *key, void *ctx)
{
    char **url = ctx;
    if (strcmp(key, "url") != 0 || *url)
        return json_skip(in);
    return (*url = json_string(in)) != NULL;
}

/* "https://www.example.org/a/b" -> host "www.example.org", path "/a/b". */
static void split_url(const char *url, char *host, size_t host_cap, const char **path)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    snprintf(host, host_cap, "%.*s", (int)n, p);
    *path = p[n] ? p + n : "/";
}

/* The pretend page lookup: "Example.org - /a/b" and https://www.example.org/favicon.ico. */
static char *fetch_info_json(const char *url)
{
    char host[256];
    const char *path;
    split_url(url, host, sizeof host, &path);
    const char *name = strncmp(host, "www.", 4) == 0 ? host + 4 : host;
    char title[512];
    snprintf(title, sizeof title, "%c%s - %s", toupper((unsigned char)name[0]),
             name[0] ? name + 1 : "", path);
    char favicon[600];
    size_t scheme = strstr(url, "://") ? (size_t)(strstr(url, "://") - url) + 3 : 0;
    snprintf(favicon, sizeof favicon, "%.*s%s/favicon.ico", (int)scheme, url, host);

    char *json = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&json, &len);
    if (!out)
        return NULL;
    fputs("{\"url\":", out);
    json_put_string(out, url);
    fputs(",\"title\":", out);
    json_put_string(out, title);
    fputs(",\"faviconUrl\":", out);
    json_put_string(out, favicon);
    fputc('}', out);
    if (fclose(out) != 0) {
        free(json);
        return NULL;
    }
    return json;
}

int fetcher_handle(void *user, const evs_event *ev)
{
    fetcher *f = user;
    char *url = NULL;
    json_in in = {ev->data, ev->data + ev->data_len};
    if (!json_object(&in, url_member, &url) || !url) {
        free(url);
        return -1; /* not a bookmark event as the model expects: stop, ack nothing */
    }
    char *info = fetch_info_json(url);
    free(url);
    char *stream = strndup(ev->stream, ev->stream_len);
    if (!info || !stream) {
        free(info);
        free(stream);
        return -2;
    }
    unsigned char id[16];
    memcpy(id, ev->id, sizeof id);
    id[15] ^= 0x5a; /* a different id, but always the same one for this bookmark */
    evs_event_in e = {"info", info, strlen(info), NULL, 0, id, 0};
    evs_append_result r;
    int rc = evs_append(&r, f->store, stream, EVS_EXPECT_ANY, &e, 1);
    free(info);
    free(stream);
    if (rc < 0)
        return rc;
    if (!r.duplicate)
        f->appended++;
    return 0;
}
