/*  cluster_identity — owns the identity file of a node directory: one
    line, "NAME/ID\n", compared byte for byte. See cluster_identity.h.
*/
#include "storage/cluster_identity.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage/node_dir.h"
#include "util/file_io.h"

//  Longest part of a name an identity's text keeps.
#define CLUSTER_IDENTITY_NAME_MAX 128

//  Control characters become '?': the text goes into one-line messages.
static void
s_printable (char *text)
{
    for (char *at = text; *at; at++)
        if ((unsigned char)*at < 0x20 || *at == 0x7f)
            *at = '?';
}

void
cluster_identity_format (char *text, const char *name, uint64_t id)
{
    snprintf (text, CLUSTER_IDENTITY_TEXT_SIZE, "%.*s/%016" PRIx64, CLUSTER_IDENTITY_NAME_MAX, name,
              id);
    s_printable (text);
}

//  Opens path, creating it and every missing parent durably. Returns the
//  directory's descriptor, or -1.
static int
s_open_directories (const char *path)
{
    char partial[PATH_MAX];
    if (snprintf (partial, sizeof partial, "%s", path) >= (int)sizeof partial) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *at = partial + 1; *at; at++) {
        if (*at != '/')
            continue;
        *at = 0;
        int fd = file_io_open_directory (partial);
        if (fd < 0)
            return -1;
        close (fd);
        *at = '/';
    }
    return file_io_open_directory (partial);
}

//  Reads the identity file at path into stored (without its newline).
//  Returns 1, 0 when there is none, or -1.
static int
s_read (const char *path, char *stored, size_t size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t got = file_io_read_all (fd, stored, size - 1, 0);
    file_io_close_keeping_errno (fd);
    if (got < 0)
        return -1;
    stored[got] = 0;
    if (got > 0 && stored[got - 1] == '\n')
        stored[got - 1] = 0;
    return 1;
}

//  Writes text as the identity file at path, in the open directory
//  directory_fd: a temporary, synced, renamed over it, then the directory
//  synced. Returns 0 or -1.
static int
s_write (int directory_fd, const char *path, const char *text)
{
    char temporary[PATH_MAX];
    char line[CLUSTER_IDENTITY_TEXT_SIZE + 1];
    snprintf (line, sizeof line, "%s\n", text);
    if (snprintf (temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (file_io_write_all (fd, line, strlen (line), 0) || fsync (fd)) {
        file_io_close_keeping_errno (fd);
        return -1;
    }
    if (close (fd) || rename (temporary, path))
        return -1;
    return fsync (directory_fd);
}

//  Binds with the node directory open as directory_fd.
static int
s_bind (int directory_fd, const char *node_dir, const char *path, const char *expected, char *error,
        size_t error_size)
{
    char stored[CLUSTER_IDENTITY_TEXT_SIZE + 2];
    int found = s_read (path, stored, sizeof stored);
    if (found < 0) {
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    if (found == 0) {
        if (s_write (directory_fd, path, expected)) {
            snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
            return -1;
        }
        return CLUSTER_IDENTITY_WRITTEN;
    }
    if (strcmp (stored, expected) == 0)
        return CLUSTER_IDENTITY_MATCHED;
    s_printable (stored);
    snprintf (error, error_size,
              "data directory %s belongs to cluster %s, not to cluster %s of this config: "
              "refusing to start (run it with its own cluster's config, or give this cluster "
              "another data_dir)",
              node_dir, stored, expected);
    return CLUSTER_IDENTITY_MISMATCH;
}

int
cluster_identity_bind (const char *node_dir, const char *name, uint64_t id, char *error,
                       size_t error_size)
{
    char path[PATH_MAX];
    if (node_dir_identity_path (path, sizeof path, node_dir)) {
        snprintf (error, error_size, "data directory %s: path too long", node_dir);
        return -1;
    }
    int directory_fd = s_open_directories (node_dir);
    if (directory_fd < 0) {
        snprintf (error, error_size, "cannot create data directory %s: %s", node_dir,
                  strerror (errno));
        return -1;
    }
    char expected[CLUSTER_IDENTITY_TEXT_SIZE];
    cluster_identity_format (expected, name, id);
    int rc = s_bind (directory_fd, node_dir, path, expected, error, error_size);
    close (directory_fd);
    return rc;
}
