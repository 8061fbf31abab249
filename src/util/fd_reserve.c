/*  fd_reserve — a spare descriptor for running out; see fd_reserve.h.  */
#include "util/fd_reserve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int
fd_reserve_take (void)
{
    return open ("/dev/null", O_RDONLY | O_CLOEXEC);
}

void
fd_reserve_release (int *spare)
{
    if (*spare >= 0)
        close (*spare);
    *spare = -1;
}

int
fd_reserve_openat (int *spare, int directory_fd, const char *name, int flags, mode_t mode)
{
    int fd = openat (directory_fd, name, flags, mode);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && *spare >= 0) {
        fd_reserve_release (spare);
        fd = openat (directory_fd, name, flags, mode);
    }
    if (*spare < 0) {
        int saved = errno;
        *spare = fd_reserve_take ();
        errno = saved;
    }
    return fd;
}

size_t
fd_reserve_available (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) || limit.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    DIR *directory = opendir ("/proc/self/fd");
    if (!directory)
        return errno == EMFILE || errno == ENFILE ? 0 : SIZE_MAX;
    //  Numbers at or past the limit (inherited, or opened before it was
    //  lowered) take no place under it; the directory's own is freed here
    int own = dirfd (directory);
    size_t taken = 0;
    for (struct dirent *entry; (entry = readdir (directory));) {
        char *end;
        unsigned long long number = strtoull (entry->d_name, &end, 10);
        if (end != entry->d_name && !*end && number < limit.rlim_cur && (int)number != own)
            taken++;
    }
    closedir (directory);
    return taken >= limit.rlim_cur ? 0 : (size_t)(limit.rlim_cur - taken);
}
