/*  codec_private — what codec.c and its dialect files share, and nobody
    else: the failure recorder, the codes' default texts, and the entry
    points of each dialect (codec_protobuf.c, codec_json_request.c,
    codec_json_reply.c). The broker includes codec.h only.
*/
#ifndef CODEC_PRIVATE_H_INCLUDED
#define CODEC_PRIVATE_H_INCLUDED

#include "broker/codec.h"

//  Records why no request came out (code and printf-style text) in
//  decoded. Always returns -1, so that a decoder can `return` it.
int codec_request_fail (codec_request_t *decoded, Raftq__Code code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  The text a failure reply carries when the reply has none ("not found").
const char *codec_code_text (Raftq__Code code);

//  A protobuf raftq.Request into decoded->request; 0, or -1 with the reason.
int codec_protobuf_request_decode (const uint8_t *body, size_t size, codec_request_t *decoded);

//  reply packed as protobuf: a malloc'd body (never NULL for a success,
//  even when empty) and its size, or NULL when out of memory.
uint8_t *codec_protobuf_reply_encode (const Raftq__Reply *reply, size_t *size);

//  A JSON request (DESIGN 5.2) into decoded->request, the same structures
//  raftq__request__unpack builds; 0, or -1 with the reason.
int codec_json_request_decode (const uint8_t *body, size_t size, codec_request_t *decoded);

//  reply as the compact JSON text answering decoded's request: a malloc'd
//  body and its length, or NULL when out of memory.
uint8_t *codec_json_reply_encode (const codec_request_t *decoded, const Raftq__Reply *reply,
                                  size_t *size);

#endif
