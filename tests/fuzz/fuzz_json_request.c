/*  fuzz_json_request — the JSON dialect of the client protocol (DESIGN 5.2):
    codec_request_decode on arbitrary JSON-ish bodies, then codec_reply_encode
    of the replies a server could send back for what came out.

    Input: a request body; a '{' is put in front unless it starts with one,
    so that every input takes the JSON path. Seeds: corpus/json_request/
    (every operation of the dialect, with and without client_id/seq, and
    typical mistakes).

    Invariants checked beyond "no crash, no leak, no UB":
    - decode returns 0 exactly when a request came out; a refusal carries a
      code and a reason; only the four RRMQ operations are strict;
    - every reply body is one valid JSON object (no raw NUL);
    - failures (the decode failure itself, and NOT_LEADER with a leader
      hint) are {"success":false,...} and exactly {"success":false} for the
      strict operations, with "code" and "error" for the others;
    - a successful reply carrying the input's bytes in its strings is still
      valid JSON, and for strict operations has exactly the contract's keys.
*/
#include "harness.h"
#include "broker/codec.h"
#include "sample_reply.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_keys_success[] = {"success", NULL};
static const char *const s_keys_topics[] = {"success", "topics", NULL};
static const char *const s_keys_message[] = {"success", "message", NULL};

//  Parses an encoded reply, which must be one JSON object. The caller owns it.
static json_t *
s_parse_reply (uint8_t *body, size_t size)
{
    HARNESS_CHECK (body != NULL, "reply not encoded");
    HARNESS_CHECK (strlen ((const char *)body) == size, "reply size %zu or a raw NUL", size);
    json_error_t error;
    json_t *root = json_loadb ((const char *)body, size, JSON_ALLOW_NUL, &error);
    HARNESS_CHECK (root != NULL, "reply is not JSON (%s): %s", error.text, (const char *)body);
    HARNESS_CHECK (json_is_object (root), "reply is not an object: %s", (const char *)body);
    free (body);
    return root;
}

//  The object has exactly these keys.
static void
s_check_exact_keys (json_t *object, const char *const *keys)
{
    size_t count = 0;
    for (; keys[count]; count++)
        HARNESS_CHECK (json_object_get (object, keys[count]), "key \"%s\" missing", keys[count]);
    HARNESS_CHECK (json_object_size (object) == count, "%zu keys, not %zu",
                   json_object_size (object), count);
}

static void
s_check_success_is (json_t *object, bool success)
{
    json_t *value = json_object_get (object, "success");
    HARNESS_CHECK (json_is_boolean (value) && json_is_true (value) == success,
                   "\"success\" is not %s", success ? "true" : "false");
}

static bool
s_op_is_strict (Raftq__Request__OpCase op)
{
    return op == RAFTQ__REQUEST__OP_CREATE_TOPIC || op == RAFTQ__REQUEST__OP_LIST_TOPICS ||
           op == RAFTQ__REQUEST__OP_PUBLISH || op == RAFTQ__REQUEST__OP_POP;
}

static void
s_check_failure (const codec_request_t *decoded, const Raftq__Reply *reply, const char *code)
{
    size_t size = 0;
    uint8_t *body = codec_reply_encode (decoded, reply, &size);
    json_t *root = s_parse_reply (body, size);
    s_check_success_is (root, false);
    if (decoded->strict)
        s_check_exact_keys (root, s_keys_success);
    else {
        json_t *name = json_object_get (root, "code");
        HARNESS_CHECK (json_is_string (name), "failure without a code");
        HARNESS_CHECK (!code || strcmp (json_string_value (name), code) == 0, "code %s, not %s",
                       json_string_value (name), code);
        HARNESS_CHECK (json_is_string (json_object_get (root, "error")), "failure without text");
    }
    json_decref (root);
}

static void
s_check_success (const codec_request_t *decoded, const uint8_t *data, size_t size)
{
    sample_reply_t sample;
    if (sample_reply_fill (&sample, decoded->request, data, size) == 0) {
        size_t body_size = 0;
        uint8_t *body = codec_reply_encode (decoded, &sample.reply, &body_size);
        json_t *root = s_parse_reply (body, body_size);
        Raftq__Request__OpCase op = decoded->request->op_case;
        if (decoded->strict) {
            s_check_success_is (root, true);
            s_check_exact_keys (root, op == RAFTQ__REQUEST__OP_LIST_TOPICS ? s_keys_topics
                                      : op == RAFTQ__REQUEST__OP_POP       ? s_keys_message
                                                                           : s_keys_success);
        } else if (op == RAFTQ__REQUEST__OP_STATUS)
            HARNESS_CHECK (json_is_string (json_object_get (root, "role")), "status without role");
        else
            HARNESS_CHECK (json_is_boolean (json_object_get (root, "success")),
                           "reply without \"success\"");
        json_decref (root);
    }
    sample_reply_clear (&sample);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    bool braced = size > 0 && data[0] == '{';
    size_t body_size = braced ? size : size + 1;
    uint8_t *body = malloc (body_size);
    if (!body)
        return 0;
    body[0] = '{';
    if (size)
        memcpy (body + (braced ? 0 : 1), data, size);

    codec_request_t decoded;
    int rc = codec_request_decode (body, body_size, &decoded);
    HARNESS_CHECK (decoded.dialect == CODEC_JSON, "JSON body not answered in JSON");
    HARNESS_CHECK ((rc == 0) == (decoded.request != NULL), "rc %d does not match the request", rc);
    if (decoded.request) {
        HARNESS_CHECK (decoded.request->op_case != RAFTQ__REQUEST__OP__NOT_SET, "no operation");
        HARNESS_CHECK (!decoded.strict || s_op_is_strict (decoded.request->op_case),
                       "operation %d answered strictly", (int)decoded.request->op_case);
    } else {
        HARNESS_CHECK (decoded.error_code != RAFTQ__CODE__OK, "refused with code OK");
        HARNESS_CHECK (memchr (decoded.error, '\0', sizeof decoded.error) && decoded.error[0],
                       "refused without a reason");
    }

    //  What the server answers a refused request, or one it could not serve.
    s_check_failure (&decoded, NULL, NULL);
    Raftq__Reply not_leader = RAFTQ__REPLY__INIT;
    not_leader.code = RAFTQ__CODE__NOT_LEADER;
    not_leader.leader_id = 2;
    not_leader.leader_endpoint = (char *)"tcp://127.0.0.1:5502";
    s_check_failure (&decoded, &not_leader, "NOT_LEADER");
    if (decoded.request)
        s_check_success (&decoded, data, size);

    codec_request_clear (&decoded);
    free (body);
    return 0;
}
