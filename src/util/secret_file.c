/*  secret_file — read or create a 0600 secret file; see secret_file.h.  */
#include "util/secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file_io.h"

//  Random bytes in a new secret (written as twice as many hex digits).
#define S_RANDOM_BYTES 32

//  Creates the directory that holds path (one level, 0700) if missing.
static int
s_make_parent (const char *path)
{
    char parent[PATH_MAX];
    snprintf (parent, sizeof parent, "%s", path);
    char *slash = strrchr (parent, '/');
    if (!slash || slash == parent)
        return 0;
    *slash = 0;
    if (mkdir (parent, 0700) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

//  Writes a random secret to a temporary file and links it at path; a
//  file another process linked first wins (EEXIST is success).
static int
s_create (const char *path, char *error, size_t error_size)
{
    if (sodium_init () < 0 || s_make_parent (path)) {
        snprintf (error, error_size, "%s: cannot create its directory: %s", path, strerror (errno));
        return -1;
    }
    uint8_t random[S_RANDOM_BYTES];
    char hex[S_RANDOM_BYTES * 2 + 2];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (hex, sizeof hex, random, sizeof random);
    sodium_memzero (random, sizeof random);
    strcat (hex, "\n");
    char temporary[PATH_MAX + 32];
    snprintf (temporary, sizeof temporary, "%s.%ld.tmp", path, (long)getpid ());
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd == -1 ? -1 : file_io_write_all (fd, hex, strlen (hex), 0);
    if (rc == 0)
        rc = fsync (fd);
    if (fd != -1)
        file_io_close_keeping_errno (fd);
    if (rc == 0 && link (temporary, path) && errno != EEXIST)
        rc = -1;
    int saved = errno;
    unlink (temporary);
    sodium_memzero (hex, sizeof hex);
    if (rc) {
        snprintf (error, error_size, "%s: cannot create: %s", path, strerror (saved));
        return -1;
    }
    return 0;
}

//  Reads the whole secret from the open fd; refuses what others may read.
static int
s_read_fd (int fd, const char *path, char *secret, size_t secret_size, char *error,
           size_t error_size)
{
    struct stat status;
    if (fstat (fd, &status)) {
        snprintf (error, error_size, "%s: %s", path, strerror (errno));
        return -1;
    }
    if (status.st_mode & 077) {
        snprintf (error, error_size, "%s: mode %03o lets others read it: chmod 600 it", path,
                  (unsigned)(status.st_mode & 0777));
        return -1;
    }
    ssize_t got = file_io_read_all (fd, secret, secret_size - 1, 0);
    if (got < 0 || (size_t)got >= secret_size - 1) {
        snprintf (error, error_size, "%s: %s", path,
                  got < 0 ? strerror (errno) : "too long for a secret");
        return -1;
    }
    while (got > 0 && strchr (" \t\r\n", secret[got - 1]))
        got--;
    secret[got] = 0;
    if (got == 0 || memchr (secret, 0, (size_t)got)) {
        snprintf (error, error_size, "%s: %s", path,
                  got ? "holds a NUL byte" : "is empty: it must hold the secret");
        return -1;
    }
    return 0;
}

int
secret_file_read (const char *path, bool create, char *secret, size_t secret_size, bool *created_p,
                  char *error, size_t error_size)
{
    if (created_p)
        *created_p = false;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 && errno == ENOENT && create) {
        if (s_create (path, error, error_size))
            return -1;
        if (created_p)
            *created_p = true;
        fd = open (path, O_RDONLY | O_CLOEXEC);
    }
    if (fd == -1) {
        snprintf (error, error_size, "%s: cannot read: %s", path, strerror (errno));
        return -1;
    }
    int rc = s_read_fd (fd, path, secret, secret_size, error, error_size);
    close (fd);
    if (rc)
        sodium_memzero (secret, secret_size);
    return rc;
}
