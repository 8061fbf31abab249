/*  harness — shared pieces of the fuzz targets; see harness.h.  */
#include "harness.h"
#include "temp_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Room for "/dev/shm/raftq-fuzz-XXXXXX".
#define HARNESS_PATH_SIZE 64
//  Room for a file path below a directory given by a caller.
#define HARNESS_FILE_PATH_SIZE 1024

//  The scratch path, filled once. A function-local static rather than a
//  global: only harness_scratch and its exit handler can see it.
static char *
s_scratch_path (void)
{
    static char path[HARNESS_PATH_SIZE];
    return path;
}

static void
s_remove_scratch (void)
{
    char *path = s_scratch_path ();
    if (path[0])
        temp_dir_remove (path);
    path[0] = '\0';
}

void
harness_fail (const char *file, int line, const char *condition, const char *format, ...)
{
    fprintf (stderr, "%s:%d: invariant broken: %s: ", file, line, condition);
    va_list args;
    va_start (args, format);
    vfprintf (stderr, format, args);
    va_end (args);
    fputc ('\n', stderr);
    //  abort skips exit handlers; the input, not the directory, reproduces the failure.
    s_remove_scratch ();
    abort ();
}

const char *
harness_scratch (void)
{
    char *path = s_scratch_path ();
    if (path[0])
        return path;
    struct stat status;
    const char *parent = stat ("/dev/shm", &status) == 0 && S_ISDIR (status.st_mode) &&
                                 access ("/dev/shm", W_OK) == 0
                             ? "/dev/shm"
                             : "/tmp";
    snprintf (path, HARNESS_PATH_SIZE, "%s/raftq-fuzz-XXXXXX", parent);
    if (!mkdtemp (path)) {
        fprintf (stderr, "cannot create a scratch directory in %s: %s\n", parent, strerror (errno));
        path[0] = '\0';
        return NULL;
    }
    atexit (s_remove_scratch);
    return path;
}

int
harness_write_file (const char *directory, const char *name, const void *data, size_t size)
{
    char path[HARNESS_FILE_PATH_SIZE];
    int length = snprintf (path, sizeof path, "%s/%s", directory, name);
    if (length < 0 || (size_t)length >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const uint8_t *bytes = (const uint8_t *)data;
    int rc = 0;
    while (size > 0) {
        ssize_t written = write (fd, bytes, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            rc = -1;
            break;
        }
        bytes += written;
        size -= (size_t)written;
    }
    if (close (fd))
        rc = -1;
    return rc;
}

int
harness_empty_directory (const char *path)
{
    if (mkdir (path, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    DIR *directory = opendir (path);
    if (!directory)
        return -1;
    int rc = 0;
    struct dirent *item;
    while (rc == 0 && (item = readdir (directory))) {
        if (strcmp (item->d_name, ".") == 0 || strcmp (item->d_name, "..") == 0)
            continue;
        if (unlinkat (dirfd (directory), item->d_name, 0) == 0)
            continue;
        //  Linux says EISDIR for a directory; the rare one takes the slow way.
        char child[HARNESS_FILE_PATH_SIZE];
        int length = snprintf (child, sizeof child, "%s/%s", path, item->d_name);
        if (length < 0 || (size_t)length >= sizeof child || temp_dir_remove (child))
            rc = -1;
    }
    closedir (directory);
    return rc;
}
