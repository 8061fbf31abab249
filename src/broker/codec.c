/*  codec — client request bodies to raftq.Request, raftq.Reply back to bodies.

    A body whose first byte is '{' is the JSON dialect (DESIGN 5.2), anything
    else a protobuf raftq.Request. A JSON request is translated into the very
    same protobuf-c structures raftq__request__unpack would build (every
    string and submessage malloc'd), so the server handles one type and frees
    it with raftq__request__free_unpacked whatever the dialect. The reply
    goes back in the request's dialect.

    This file owns the entry points and the codes' names and texts; each
    dialect is a file of its own: codec_protobuf.c, codec_json_request.c
    (JSON requests) and codec_json_reply.c (JSON replies and events). Their
    decisions are written at the top of each.
*/

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/codec.h"
#include "broker/codec_private.h"

//  A code's contract name and the text used when a reply carries none.
typedef struct {
    const char *name; //  as in DESIGN 5.1
    const char *text; //  default human text
} s_code_t;

static const s_code_t s_codes[] = {
    [RAFTQ__CODE__OK] = {"OK", "ok"},
    [RAFTQ__CODE__NOT_LEADER] = {"NOT_LEADER", "this node is not the leader"},
    [RAFTQ__CODE__NO_LEADER] = {"NO_LEADER", "no leader is elected"},
    [RAFTQ__CODE__NOT_FOUND] = {"NOT_FOUND", "not found"},
    [RAFTQ__CODE__ALREADY_EXISTS] = {"ALREADY_EXISTS", "already exists"},
    [RAFTQ__CODE__EMPTY] = {"EMPTY", "the queue is empty"},
    [RAFTQ__CODE__INVALID_ARGUMENT] = {"INVALID_ARGUMENT", "invalid argument"},
    [RAFTQ__CODE__UNAUTHENTICATED] = {"UNAUTHENTICATED", "not authenticated"},
    [RAFTQ__CODE__PERMISSION_DENIED] = {"PERMISSION_DENIED", "permission denied"},
    [RAFTQ__CODE__TOO_LARGE] = {"TOO_LARGE", "too large"},
    [RAFTQ__CODE__TIMEOUT] = {"TIMEOUT", "not committed in time: outcome unknown"},
    [RAFTQ__CODE__UNAVAILABLE] = {"UNAVAILABLE", "unavailable"},
    [RAFTQ__CODE__INTERNAL] = {"INTERNAL", "internal error"},
    [RAFTQ__CODE__RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", "a limit is reached"},
};

int
codec_request_fail (codec_request_t *decoded, Raftq__Code code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (decoded->error, sizeof decoded->error, format, args);
    va_end (args);
    decoded->error_code = code;
    return -1;
}

static bool
s_code_known (Raftq__Code code)
{
    return (size_t)code < sizeof s_codes / sizeof s_codes[0] && s_codes[code].name;
}

const char *
codec_code_name (Raftq__Code code)
{
    return s_code_known (code) ? s_codes[code].name : "UNKNOWN";
}

const char *
codec_code_text (Raftq__Code code)
{
    return s_code_known (code) ? s_codes[code].text : "unknown error";
}

int
codec_request_decode (const uint8_t *body, size_t size, codec_request_t *decoded)
{
    if (!decoded)
        return -1;
    memset (decoded, 0, sizeof *decoded);
    decoded->dialect = CODEC_PROTOBUF;
    decoded->error_code = RAFTQ__CODE__OK;
    if (!body || size == 0)
        return codec_request_fail (decoded, RAFTQ__CODE__INVALID_ARGUMENT, "empty request body");
    if (body[0] == '{')
        return codec_json_request_decode (body, size, decoded);
    return codec_protobuf_request_decode (body, size, decoded);
}

void
codec_request_clear (codec_request_t *decoded)
{
    if (!decoded)
        return;
    if (decoded->request)
        raftq__request__free_unpacked (decoded->request, NULL);
    memset (decoded, 0, sizeof *decoded);
}

//  --------------------------------------------------------------------------

uint8_t *
codec_reply_encode (const codec_request_t *decoded, const Raftq__Reply *reply, size_t *size)
{
    size_t ignored;
    if (!size)
        size = &ignored;
    *size = 0;
    if (!decoded)
        return NULL;

    //  Without a request there is nothing a success could describe: the
    //  answer is the decoding failure unless the caller gave a failure.
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    if (!reply || (!decoded->request && reply->code == RAFTQ__CODE__OK)) {
        bool known = decoded->error_code != RAFTQ__CODE__OK;
        failure.code = known ? decoded->error_code : RAFTQ__CODE__INTERNAL;
        failure.error = known ? (char *)decoded->error : (char *)"no reply to encode";
        if (reply)
            failure.seq = reply->seq;
        reply = &failure;
    }

    if (decoded->dialect == CODEC_PROTOBUF)
        return codec_protobuf_reply_encode (reply, size);
    return codec_json_reply_encode (decoded, reply, size);
}
