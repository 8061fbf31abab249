/*  harness — what the fuzz targets share: the libFuzzer entry points, an
    oracle check that turns a broken invariant into a crash libFuzzer (or the
    replay driver) reports, and the per-process scratch directory of the
    targets that recover stores from files.
*/
#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Implemented by each fuzz_<name>.c: runs one input, returns 0.
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  A broken invariant is a bug: print what broke, where, and abort so that
//  the input is kept as a crash artifact.
#define HARNESS_CHECK(condition, ...)                                                              \
    do {                                                                                           \
        if (!(condition))                                                                          \
            harness_fail (__FILE__, __LINE__, #condition, __VA_ARGS__);                            \
    } while (0)

void harness_fail (const char *file, int line, const char *condition, const char *format, ...)
    __attribute__ ((noreturn, format (printf, 4, 5)));

//  The process's scratch directory, on tmpfs (/dev/shm) when there is one so
//  the stores' fsyncs cost nothing: created on first use, removed at exit.
//  libFuzzer's entry point takes no context, so this is the one piece of
//  process-wide state a target may hold. NULL if it cannot be created.
const char *harness_scratch (void);

//  Writes a file of size bytes at directory/name, replacing any. 0 or -1.
int harness_write_file (const char *directory, const char *name, const void *data, size_t size);

//  Makes path an empty directory: creates it if missing, else removes what
//  is in it (files, and directories with their contents). Cheaper per input
//  than removing the directory and creating it again: no parent directory
//  update, no tree walk that stats every entry. 0 or -1.
int harness_empty_directory (const char *path);

#endif
