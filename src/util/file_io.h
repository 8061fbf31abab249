/*  file_io — the small pieces of durable file I/O every store needs: write
    all of a buffer, read all that is there, fsync the directory that holds
    a directory, open a directory creating it durably. One copy each, so a
    short write or an EINTR is handled the same everywhere.
*/
#ifndef FILE_IO_H_INCLUDED
#define FILE_IO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Writes all of data at offset of fd, through short writes and signals.
//  Returns 0, or -1 with errno (EIO for a write that made no progress).
int file_io_write_all (int fd, const void *data, size_t size, uint64_t offset);

//  Reads up to size bytes at offset of fd, through short reads and signals.
//  Returns the bytes read (fewer only at the end of the file), or -1.
ssize_t file_io_read_all (int fd, void *buffer, size_t size, uint64_t offset);

//  fsyncs the directory that holds the open directory directory_fd, so a
//  directory just created survives a crash with the files going into it.
//  Returns 0, or -1 with errno.
int file_io_sync_parent (int directory_fd);

//  Opens the directory path, creating it if missing; when it was created,
//  its parent is fsync'd (file_io_sync_parent). Returns the descriptor, or
//  -1 with errno.
int file_io_open_directory (const char *path);

//  Closes fd keeping errno, which says why the caller gave up on it.
void file_io_close_keeping_errno (int fd);

#ifdef __cplusplus
}
#endif

#endif
