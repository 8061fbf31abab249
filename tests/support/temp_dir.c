/*  temp_dir — fresh scratch directories for tests; see temp_dir.h.  */
#define _XOPEN_SOURCE 700
#include "temp_dir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

int
temp_dir_make (char *path, size_t size, const char *name)
{
    int length = snprintf (path, size, "/tmp/raftq-%s-XXXXXX", name);
    if (length < 0 || (size_t)length >= size)
        return -1;
    return mkdtemp (path) ? 0 : -1;
}

static int
s_remove_entry (const char *path, const struct stat *status, int flag, struct FTW *walk)
{
    (void)status;
    (void)flag;
    (void)walk;
    return remove (path);
}

int
temp_dir_remove (const char *path)
{
    //  Depth first and without following links: a link is removed, never its target
    return nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
