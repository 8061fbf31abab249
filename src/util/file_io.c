/*  file_io — owns the write-all, read-all and directory-sync loops that the
    log store, the meta store and the snapshot files share. See file_io.h.
*/
#include "util/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int
file_io_write_all (int fd, const void *data, size_t size, uint64_t offset)
{
    const uint8_t *next = (const uint8_t *)data;
    while (size > 0) {
        ssize_t written = pwrite (fd, next, size, (off_t)offset);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            if (written == 0)
                errno = EIO;
            return -1;
        }
        next += written;
        size -= (size_t)written;
        offset += (uint64_t)written;
    }
    return 0;
}

ssize_t
file_io_read_all (int fd, void *buffer, size_t size, uint64_t offset)
{
    uint8_t *into = (uint8_t *)buffer;
    size_t done = 0;
    while (done < size) {
        ssize_t got = pread (fd, into + done, size - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

void
file_io_close_keeping_errno (int fd)
{
    int saved = errno;
    close (fd);
    errno = saved;
}

int
file_io_sync_parent (int directory_fd)
{
    int parent_fd = openat (directory_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent_fd < 0)
        return -1;
    int rc = fsync (parent_fd);
    file_io_close_keeping_errno (parent_fd);
    return rc;
}

int
file_io_open_directory (const char *path)
{
    bool created = mkdir (path, 0755) == 0;
    if (!created && errno != EEXIST)
        return -1;
    int directory_fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd >= 0 && created && file_io_sync_parent (directory_fd)) {
        file_io_close_keeping_errno (directory_fd);
        return -1;
    }
    return directory_fd;
}
