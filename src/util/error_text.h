/*  error_text — the one-line reason a failing call writes for its caller.  */
#ifndef ERROR_TEXT_H_INCLUDED
#define ERROR_TEXT_H_INCLUDED

#include <stdarg.h>
#include <stddef.h>

//  Writes the formatted reason into error (when error and error_size allow)
//  and returns -1, so a failure path reads `return error_text_set (...)`.
int error_text_set (char *error, size_t error_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  The same with a va_list, for functions that take their own format.
int error_text_set_list (char *error, size_t error_size, const char *format, va_list arguments);

#endif
