/*  seeds — what make_seeds' parts share: where seeds go, and writing one.
    Each seeds_*.c makes the seeds of some fuzz targets with the real
    encoders and stores, so the seeds cannot drift from their formats.
*/
#ifndef SEEDS_H_INCLUDED
#define SEEDS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SEEDS_PATH_SIZE  512
#define SEEDS_ERROR_SIZE 256

//  Where seeds go, and whether writing them went well.
typedef struct {
    const char *root; //  the corpus directory
    int rc;           //  0 until a write fails
} seeds_t;

//  Writes CORPUS/<target>/seed-<label> with size bytes of data.
void seeds_add (seeds_t *seeds, const char *target, const char *label, const void *data,
                size_t size);

//  The same with a text.
void seeds_add_text (seeds_t *seeds, const char *target, const char *label, const char *text);

//  Reads a whole file into a heap buffer. NULL on failure.
uint8_t *seeds_read_file (const char *path, size_t *size);

//  seeds_messages.c: protobuf requests (queue, chat, admin) and peer messages.
void seeds_messages (seeds_t *seeds);

//  seeds_stores.c: log segments and meta files, written by the stores.
void seeds_stores (seeds_t *seeds, const char *scratch);

//  seeds_snapshots.c: snapshot files of both formats, whole and damaged.
void seeds_snapshots (seeds_t *seeds, const char *scratch);

#endif
