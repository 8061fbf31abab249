/*  must — allocation that cannot fail, for the replicated state (fsm, chat,
    event_log). A node that cannot allocate while applying an entry must stop
    rather than diverge from the others, so every function here aborts the
    process (after one line on stderr) instead of returning NULL. Memory comes
    from malloc, so protobuf-c's free_unpacked may free what these build.
*/
#ifndef MUST_H_INCLUDED
#define MUST_H_INCLUDED

#include <stdarg.h>
#include <stddef.h>

//  size bytes, uninitialized (size 0 still gives a unique pointer).
void *must_alloc (size_t size);

//  size bytes, zeroed.
void *must_zalloc (size_t size);

//  Resizes memory (NULL: allocates).
void *must_realloc (void *memory, size_t size);

//  A copy of size bytes of source; NULL when size is 0.
void *must_memdup (const void *source, size_t size);

//  A copy of a C string.
char *must_strdup (const char *string);

//  A C string of the length bytes at source, which need not be terminated
//  (a frame's bytes): reads no byte past them.
char *must_strndup (const char *source, size_t length);

//  printf into a new string.
char *must_format (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

char *must_vformat (const char *format, va_list args);

#endif
