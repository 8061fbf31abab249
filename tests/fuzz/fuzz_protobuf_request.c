/*  fuzz_protobuf_request — the protobuf dialect of the client protocol:
    codec_request_decode on arbitrary bytes, then codec_reply_encode of the
    replies a server could send back for what came out.

    Input: a request body. Bodies starting with '{' take the JSON path, which
    fuzz_json_request covers, and are skipped here. Seeds:
    corpus/protobuf_request/ (a packed raftq.Request of every operation,
    written by make_seeds).

    Invariants checked beyond "no crash, no leak, no UB":
    - decode returns 0 exactly when a request with an operation came out; a
      refusal carries a code and a reason;
    - every reply body unpacks as a raftq.Reply: the decode failure with the
      refusal's code and text, and a successful reply (whose strings and
      bytes hold the input) with its code, seq and result kind intact.
*/
#include "harness.h"
#include "broker/codec.h"
#include "sample_reply.h"

#include <stdlib.h>
#include <string.h>

//  Encodes reply for decoded and unpacks it again; the caller frees the result.
static Raftq__Reply *
s_round_trip (const codec_request_t *decoded, const Raftq__Reply *reply)
{
    size_t size = 0;
    uint8_t *body = codec_reply_encode (decoded, reply, &size);
    HARNESS_CHECK (body != NULL, "reply not encoded");
    Raftq__Reply *unpacked = raftq__reply__unpack (NULL, size, body);
    HARNESS_CHECK (unpacked != NULL, "reply of %zu bytes does not unpack", size);
    free (body);
    return unpacked;
}

static void
s_check_failure (const codec_request_t *decoded)
{
    Raftq__Reply *reply = s_round_trip (decoded, NULL);
    if (decoded->request)
        HARNESS_CHECK (reply->code != RAFTQ__CODE__OK, "no reply, yet code OK");
    else {
        HARNESS_CHECK (reply->code == decoded->error_code, "code %d, not %d", (int)reply->code,
                       (int)decoded->error_code);
        HARNESS_CHECK (strcmp (reply->error, decoded->error) == 0, "error text changed");
    }
    raftq__reply__free_unpacked (reply, NULL);
}

static void
s_check_success (const codec_request_t *decoded, const uint8_t *data, size_t size)
{
    sample_reply_t sample;
    if (sample_reply_fill (&sample, decoded->request, data, size) == 0) {
        Raftq__Reply *reply = s_round_trip (decoded, &sample.reply);
        HARNESS_CHECK (reply->code == RAFTQ__CODE__OK && reply->seq == sample.reply.seq &&
                           reply->index == sample.reply.index,
                       "reply header changed");
        HARNESS_CHECK (reply->result_case == sample.reply.result_case, "result %d became %d",
                       (int)sample.reply.result_case, (int)reply->result_case);
        raftq__reply__free_unpacked (reply, NULL);
    }
    sample_reply_clear (&sample);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '{')
        return 0;
    codec_request_t decoded;
    int rc = codec_request_decode (data, size, &decoded);
    HARNESS_CHECK (decoded.dialect == CODEC_PROTOBUF, "protobuf body not answered in protobuf");
    HARNESS_CHECK ((rc == 0) == (decoded.request != NULL), "rc %d does not match the request", rc);
    if (decoded.request)
        HARNESS_CHECK (decoded.request->op_case != RAFTQ__REQUEST__OP__NOT_SET, "no operation");
    else {
        HARNESS_CHECK (decoded.error_code != RAFTQ__CODE__OK, "refused with code OK");
        HARNESS_CHECK (memchr (decoded.error, '\0', sizeof decoded.error) && decoded.error[0],
                       "refused without a reason");
    }
    s_check_failure (&decoded);
    if (decoded.request)
        s_check_success (&decoded, data, size);
    codec_request_clear (&decoded);
    return 0;
}
