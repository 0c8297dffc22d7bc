/*
 * fuzz_common.h - what the fuzz targets share: the libFuzzer entry points they define,
 * and a check macro for the invariants each target asserts on top of "no crash, no
 * leak, no out-of-bounds access" (which the sanitizers catch by themselves).
 *
 * A failed check prints the condition and aborts, which libFuzzer reports as a crash
 * and saves the input; the standalone replay driver (standalone.c) then exits non-zero.
 */
#ifndef EVS_FUZZ_COMMON_H
#define EVS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Defined by every target; called once per input. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional one-time set-up; the targets that need none do not define it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif /* EVS_FUZZ_COMMON_H */
