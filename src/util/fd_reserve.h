/*  fd_reserve — one file descriptor held back, so that a file the node
    cannot do without (the next log segment) can still be opened when the
    process has run out of descriptors (EMFILE, or ENFILE for the whole
    system), most likely because of client connections. On running out,
    the spare is closed and the open retried in its place; the spare is
    taken again on a later call, once a descriptor is free.

    The owner keeps the spare as an int (-1: none held), opened on
    /dev/null; fd_reserve_release closes it.
*/
#ifndef FD_RESERVE_H_INCLUDED
#define FD_RESERVE_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

//  A spare descriptor, or -1 when none can be had now.
int fd_reserve_take (void);

//  Closes *spare (if held) and sets it to -1.
void fd_reserve_release (int *spare);

//  openat (directory_fd, name, flags, mode), retried once on EMFILE or
//  ENFILE after giving up *spare; then takes a spare again if none is
//  held. Returns the descriptor, or -1 with errno set.
int fd_reserve_openat (int *spare, int directory_fd, const char *name, int flags, mode_t mode);

//  How many more descriptors the process may open: the numbers under its
//  soft limit that are free (counted in /proc/self/fd). 0 when it cannot even open that
//  directory for want of descriptors; SIZE_MAX when it cannot tell (no
//  /proc, no limit).
size_t fd_reserve_available (void);

#ifdef __cplusplus
}
#endif

#endif
