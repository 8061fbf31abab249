/*  disk_space — free space of the filesystem a path lies on, as the
    min_free_disk_bytes watermark sees it: the bytes an unprivileged writer
    may still use (f_bavail), since raftqd need not run as root and the
    blocks reserved for root are not ours to count on.
*/
#ifndef DISK_SPACE_H_INCLUDED
#define DISK_SPACE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  The free bytes of path's filesystem (its parent's, when path does not
//  exist yet) in *free_bytes. Returns 0, or -1 when they cannot be read
//  (the caller then refuses nothing).
int disk_space_free (const char *path, uint64_t *free_bytes);

//  Whether path's filesystem has less than minimum bytes free (0: the
//  watermark is off); *free_bytes gets what it has (UINT64_MAX when it
//  cannot be read, which is never low).
bool disk_space_low (const char *path, uint64_t minimum, uint64_t *free_bytes);

#ifdef __cplusplus
}
#endif

#endif
