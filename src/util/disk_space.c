/*  disk_space — statvfs of the data directory; see disk_space.h.  */
#include "util/disk_space.h"

#include <errno.h>
#include <stdlib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

int
disk_space_free (const char *path, uint64_t *free_bytes)
{
    struct statvfs disk;
    if (statvfs (path, &disk) != 0) {
        //  A directory not made yet (snap/ before the first snapshot) lies
        //  on its parent's filesystem
        char parent[PATH_MAX];
        const char *slash = strrchr (path, '/');
        if (errno != ENOENT || !slash || slash == path ||
            snprintf (parent, sizeof parent, "%.*s", (int)(slash - path), path) >=
                (int)sizeof parent ||
            statvfs (parent, &disk) != 0)
            return -1;
    }
    *free_bytes = (uint64_t)disk.f_bavail * disk.f_frsize;
    return 0;
}

bool
disk_space_low (const char *path, uint64_t minimum, uint64_t *free_bytes)
{
    if (disk_space_free (path, free_bytes) != 0)
        *free_bytes = UINT64_MAX;
    return minimum > 0 && *free_bytes < minimum;
}

struct _disk_space_watch_t {
    char *path;          //  the path whose filesystem is watched
    int64_t period_ms;   //  longest a look holds
    int64_t looked_at;   //  monotonic ms of the last look; 0 before the first
    uint64_t free_bytes; //  free then, less the bytes taken since
};

disk_space_watch_t *
disk_space_watch_new (const char *path, int64_t period_ms)
{
    disk_space_watch_t *self = calloc (1, sizeof (disk_space_watch_t));
    if (!self)
        return NULL;
    self->path = strdup (path);
    self->period_ms = period_ms;
    if (!self->path)
        disk_space_watch_destroy (&self);
    return self;
}

void
disk_space_watch_destroy (disk_space_watch_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->path);
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
disk_space_watch_free (disk_space_watch_t *self, int64_t now_ms)
{
    if (self->looked_at == 0 || now_ms >= self->looked_at + self->period_ms) {
        self->looked_at = now_ms ? now_ms : 1;
        //  Unreadable: refuse nothing
        if (disk_space_free (self->path, &self->free_bytes))
            self->free_bytes = UINT64_MAX;
    }
    return self->free_bytes;
}

void
disk_space_watch_take (disk_space_watch_t *self, uint64_t bytes)
{
    if (self->free_bytes != UINT64_MAX)
        self->free_bytes = self->free_bytes > bytes ? self->free_bytes - bytes : 0;
}
