/*
 * meta.h - evstore.meta: create, check (meta.c).
 */
#ifndef EVS_FILE_META_H
#define EVS_FILE_META_H

#include <stdbool.h>

typedef struct file_backend file_backend;

int evs__meta_open_or_create(file_backend *fb, bool may_create, bool exclusive);

#endif /* EVS_FILE_META_H */
