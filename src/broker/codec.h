/*  codec — client request bodies to raftq.Request and raftq.Reply back to
    bodies, in the dialect the request came in: protobuf, or the JSON dialect
    of DESIGN 5.2 (first byte '{'). Never asserts on input: anything
    undecodable becomes an error the server answers with.
*/
#ifndef CODEC_H_INCLUDED
#define CODEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftq.pb-c.h"

typedef enum { CODEC_PROTOBUF = 0, CODEC_JSON = 1 } codec_dialect_t;

typedef struct {
    codec_dialect_t dialect; //  how the reply must be encoded
    bool strict;             //  RRMQ topic/message form: reply has exactly the contract's keys
    Raftq__Request *request; //  decoded request (free with codec_request_clear), NULL on error
    Raftq__Code error_code;  //  why request is NULL
    char error[256];         //  human text for that
} codec_request_t;

//  Decodes a request body. Always fills decoded; returns 0 if a request came
//  out, -1 if not (then decoded says why and how to answer).
int codec_request_decode (const uint8_t *body, size_t size, codec_request_t *decoded);

//  Frees the request inside decoded and zeroes it.
void codec_request_clear (codec_request_t *decoded);

//  Encodes reply in the dialect of decoded (which may hold no request).
//  Returns a malloc'd body and its size in *size, or NULL when out of memory.
uint8_t *codec_reply_encode (const codec_request_t *decoded, const Raftq__Reply *reply,
                             size_t *size);

//  An event as the JSON text of DESIGN 6. Returns a malloc'd string.
char *codec_event_json (const Raftq__Event *event);

//  The code's name as in DESIGN 5.1 ("NOT_FOUND").
const char *codec_code_name (Raftq__Code code);

#endif
