/*  codec_protobuf — the protobuf dialect: a body is a raftq.Request as
    protobuf-c unpacks it, a reply a packed raftq.Reply. Every field a
    client sends travels unchanged, payload bytes included.
*/

#include <stdlib.h>

#include "broker/codec_private.h"

int
codec_protobuf_request_decode (const uint8_t *body, size_t size, codec_request_t *decoded)
{
    Raftq__Request *request = raftq__request__unpack (NULL, size, body);
    if (!request)
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT,
                                   "malformed protobuf request");
    //  Also what an op added by a newer client looks like to us.
    if (request->op_case == RAFTQ__REQUEST__OP__NOT_SET) {
        raftq__request__free_unpacked (request, NULL);
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "no operation");
    }
    decoded->request = request;
    return 0;
}

uint8_t *
codec_protobuf_reply_encode (const Raftq__Reply *reply, size_t *size)
{
    size_t packed_size = raftq__reply__get_packed_size (reply);
    //  An all-default reply packs to nothing; malloc (0) may answer NULL.
    uint8_t *body = malloc (packed_size ? packed_size : 1);
    if (!body)
        return NULL;
    *size = raftq__reply__pack (reply, body);
    return body;
}
