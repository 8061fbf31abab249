/*  reply — the answers of the state machine: replies to applied commands,
    allocated the way protobuf-c's unpack would so that
    raftq__reply__free_unpacked (reply, NULL) frees them, and the code and
    text of a command that a check refuses.
*/
#ifndef REPLY_H_INCLUDED
#define REPLY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "raftq.pb-c.h"

//  A reply with code to the command at index with seq, no result yet.
Raftq__Reply *reply_new (Raftq__Code code, uint64_t index, uint64_t seq);

//  A reply with code and the formatted error text.
Raftq__Reply *reply_error (Raftq__Code code, uint64_t index, uint64_t seq, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Sets reply's code and error text (reply->error must still be the default).
void reply_fail (Raftq__Reply *reply, Raftq__Code code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Unpacks a reply the state machine packed itself: only memory can fail,
//  and that aborts the process.
Raftq__Reply *reply_unpack (const uint8_t *data, size_t size);

//  Writes a refused check's code (code_p may be NULL) and formatted text
//  into error. Always returns -1, so a check reads `return reply_refuse (...)`.
int reply_refuse (Raftq__Code code, Raftq__Code *code_p, char *error, size_t error_size,
                  const char *format, ...) __attribute__ ((format (printf, 5, 6)));

#endif
