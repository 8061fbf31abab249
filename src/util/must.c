/*  must — allocation that aborts instead of failing. See must.h. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/must.h"

static void
s_out_of_memory (size_t size)
{
    fprintf (stderr, "raftqd: out of memory (%zu bytes): stopping rather than diverging\n", size);
    abort ();
}

void *
must_alloc (size_t size)
{
    void *memory = malloc (size ? size : 1);
    if (!memory)
        s_out_of_memory (size);
    return memory;
}

void *
must_zalloc (size_t size)
{
    void *memory = calloc (1, size ? size : 1);
    if (!memory)
        s_out_of_memory (size);
    return memory;
}

void *
must_realloc (void *memory, size_t size)
{
    void *resized = realloc (memory, size ? size : 1);
    if (!resized)
        s_out_of_memory (size);
    return resized;
}

void *
must_memdup (const void *source, size_t size)
{
    if (size == 0)
        return NULL;
    void *copy = must_alloc (size);
    memcpy (copy, source, size);
    return copy;
}

char *
must_strdup (const char *string)
{
    return (char *)must_memdup (string, strlen (string) + 1);
}

char *
must_strndup (const char *source, size_t length)
{
    char *copy = (char *)must_alloc (length + 1);
    memcpy (copy, source, length);
    copy[length] = 0;
    return copy;
}

char *
must_vformat (const char *format, va_list args)
{
    char *string = NULL;
    if (vasprintf (&string, format, args) < 0)
        s_out_of_memory (strlen (format));
    return string;
}

char *
must_format (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *string = must_vformat (format, args);
    va_end (args);
    return string;
}
