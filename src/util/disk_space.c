/*  disk_space — statvfs of the data directory; see disk_space.h.  */
#include "util/disk_space.h"

#include <errno.h>
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
