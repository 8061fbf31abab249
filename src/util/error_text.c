/*  error_text — the one-line reason a failing call writes; see error_text.h.  */
#include "util/error_text.h"

#include <stdio.h>

int
error_text_set_list (char *error, size_t error_size, const char *format, va_list arguments)
{
    if (error && error_size)
        vsnprintf (error, error_size, format, arguments);
    return -1;
}

int
error_text_set (char *error, size_t error_size, const char *format, ...)
{
    va_list arguments;
    va_start (arguments, format);
    error_text_set_list (error, error_size, format, arguments);
    va_end (arguments);
    return -1;
}
