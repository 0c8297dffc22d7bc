/*
 * export_sink.h - where `evstore export` puts its bytes (export_sink.c): standard output
 * or a file that appears only complete, plain or compressed with gzip or zstd.
 */
#ifndef EVS_CLI_EXPORT_SINK_H
#define EVS_CLI_EXPORT_SINK_H

#include "cli_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ex_codec { EX_PLAIN, EX_GZIP, EX_ZSTD } ex_codec;

typedef struct ex_sink {
    int fd; /* standard output, or the temporary file of -o */
    ex_codec codec;
    void *gz;   /* gzFile with EX_GZIP; void so only export_sink.c needs zlib.h */
    void *zc;   /* ZSTD_CCtx with EX_ZSTD */
    char *zbuf; /* zstd's compressed output, on its way to fd */
    size_t zbuf_cap;
    char *tmp_path;  /* the temporary file of -o, NULL for standard output */
    bool unnamed;    /* the temporary file has no name yet (O_TMPFILE) */
    int64_t written; /* events */
} ex_sink;

/* Start writing to `path` (NULL: standard output) with `codec`, and point `out` (a
 * cli_out of its own) at it. 0, or -1 with the error reported. */
int ex_sink_open(ex_sink *s, const char *path, ex_codec codec, cli_out *out);
/* Finish: the compressor's last bytes, and for a file, sync, rename over `path` and
 * sync the directory. With ok false, or on a failure (reported), the temporary file is
 * removed and the old `path` stays. 0 or -1. */
int ex_sink_close(ex_sink *s, const char *path, bool ok);

#endif /* EVS_CLI_EXPORT_SINK_H */
