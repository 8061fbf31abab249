/*  reply — replies of applied commands and refusals of checks; see reply.h.  */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "state/reply.h"
#include "util/error_text.h"
#include "util/must.h"

Raftq__Reply *
reply_new (Raftq__Code code, uint64_t index, uint64_t seq)
{
    Raftq__Reply *reply = (Raftq__Reply *)must_alloc (sizeof (Raftq__Reply));
    raftq__reply__init (reply);
    reply->code = code;
    reply->index = index;
    reply->seq = seq;
    return reply;
}

Raftq__Reply *
reply_error (Raftq__Code code, uint64_t index, uint64_t seq, const char *format, ...)
{
    Raftq__Reply *reply = reply_new (code, index, seq);
    va_list arguments;
    va_start (arguments, format);
    reply->error = must_vformat (format, arguments);
    va_end (arguments);
    return reply;
}

void
reply_fail (Raftq__Reply *reply, Raftq__Code code, const char *format, ...)
{
    reply->code = code;
    va_list arguments;
    va_start (arguments, format);
    reply->error = must_vformat (format, arguments);
    va_end (arguments);
}

Raftq__Reply *
reply_unpack (const uint8_t *data, size_t size)
{
    Raftq__Reply *reply = raftq__reply__unpack (NULL, size, data);
    if (!reply) {
        fprintf (stderr, "fsm: cannot unpack a remembered reply\n");
        abort ();
    }
    return reply;
}

int
reply_refuse (Raftq__Code code, Raftq__Code *code_p, char *error, size_t error_size,
              const char *format, ...)
{
    if (code_p)
        *code_p = code;
    va_list arguments;
    va_start (arguments, format);
    error_text_set_list (error, error_size, format, arguments);
    va_end (arguments);
    return -1;
}
