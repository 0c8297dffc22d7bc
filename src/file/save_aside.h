/*
 * save_aside.h - the repair-<time>/ folder that keeps bytes cut off the log (save_aside.c).
 */
#ifndef EVS_FILE_SAVE_ASIDE_H
#define EVS_FILE_SAVE_ASIDE_H

#include "segment.h"

#include <stddef.h>
#include <stdint.h>

typedef struct file_backend file_backend;

/* Make DIR/repair-YYYYMMDDTHHMMSSZ (-2, -3 ... when one of that second exists): its
 * path into dir. */
int evs__aside_make_dir(file_backend *fb, char *dir, size_t dir_len);
/* The path evs__aside_make_dir would make now, into dir; makes nothing (a dry run). */
int evs__aside_dir_name(file_backend *fb, char *dir, size_t dir_len);
/* "<dir>/<name>" into buf. */
int evs__aside_path(const char *dir, const char *name, char *buf, size_t len);
/* Copy bytes [from, size) of segment s into folder dir, synced, as "<seg>.from-<from>"
 * (as "<seg>" when from is 0); the name into name_out. */
int evs__aside_copy(const char *dir, seg *s, uint64_t from, uint64_t size, char *name_out,
                    size_t name_len);
/* Write dir/REPAIR.txt (text, synced): what the folder holds and why. */
int evs__aside_note(const char *dir, const char *text, size_t len);
/* Copy bytes [from, to) of segment s into folder dir, synced, as "<seg>.bytes-<from>-<to>"
 * (the bytes repair --keep-intact overwrites with fillers); the name into name_out. */
int evs__aside_copy_part(const char *dir, seg *s, uint64_t from, uint64_t to, char *name_out,
                         size_t name_len);

#endif /* EVS_FILE_SAVE_ASIDE_H */
