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

//  A cached look at a path's free space for checks made on every write:
//  statvfs walks the path each time, so the watch looks at most once per
//  period and in between counts the bytes it is told were taken.
typedef struct _disk_space_watch_t disk_space_watch_t;

//  How long a look holds where writes come many a millisecond: a burst
//  within it is counted, not looked up.
#define DISK_SPACE_WATCH_PERIOD_MS 100

//  A watch of path (copied) looking every period_ms, or NULL.
disk_space_watch_t *disk_space_watch_new (const char *path, int64_t period_ms);

void disk_space_watch_destroy (disk_space_watch_t **self_p);

//  The free bytes as of now_ms (a monotonic clock): looked up when the
//  last look is a period old, else estimated. UINT64_MAX when unreadable.
uint64_t disk_space_watch_free (disk_space_watch_t *self, int64_t now_ms);

//  Counts bytes about to be written, until the next look.
void disk_space_watch_take (disk_space_watch_t *self, uint64_t bytes);

#ifdef __cplusplus
}
#endif

#endif
