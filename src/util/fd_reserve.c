/*  fd_reserve — a spare descriptor for running out; see fd_reserve.h.  */
#include "util/fd_reserve.h"

#include <errno.h>
#include <fcntl.h>
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
