/*
 * ui_assets.h - the web UI's files (server/ui/), embedded in the binary when it is
 * built: embed_ui.cmake writes ui_assets.c from them.
 */
#ifndef EVS_UI_ASSETS_H
#define EVS_UI_ASSETS_H

#include <stddef.h>

typedef struct ui_asset {
    const char *name;         /* the file's name in server/ui/, "index.html" */
    const char *content_type; /* from its extension */
    const unsigned char *data;
    size_t len;
} ui_asset;

extern const ui_asset ui_assets[];
extern const size_t ui_asset_count;

#endif /* EVS_UI_ASSETS_H */
