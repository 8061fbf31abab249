/*  secret_file — a small secret kept in a file of its own, mode 0600: read
    it, or create it with a random secret when it is missing. Creation
    writes a temporary file and links it into place, so nodes starting at
    once from one config end up with one secret, never a half-written one.
    A file others may read is refused: the secret would not be one.
*/
#ifndef SECRET_FILE_H_INCLUDED
#define SECRET_FILE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Longest secret taken from a file, in bytes.
#define SECRET_FILE_MAX 1024

//  Reads the secret at path into secret (NUL-terminated, trailing white
//  space dropped). When the file is missing and create, first writes one
//  with 32 random bytes in hex, creating its directory (0700) if needed;
//  *created_p (if not NULL) says so. Returns 0, or -1 with a one-line
//  reason in error (never the secret).
int secret_file_read (const char *path, bool create, char *secret, size_t secret_size,
                      bool *created_p, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
