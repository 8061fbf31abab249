/*  test_codec_protobuf — the protobuf dialect both ways: requests unpacked
    as sent, replies packed as built, malformed bodies refused.
*/

#include "test_codec_checks.h"

//  --------------------------------------------------------------------------
//  Protobuf dialect

static void
test_protobuf_round_trip (void **state)
{
    (void)state;
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__Publish publish = RAFTQ__PUBLISH__INIT;
    uint8_t payload[] = {0xff, 0x00, '{', 0x80};
    publish.topic = "bin";
    publish.payload.data = payload;
    publish.payload.len = sizeof payload;
    request.op_case = RAFTQ__REQUEST__OP_PUBLISH;
    request.publish = &publish;
    request.client_id = UINT64_MAX;
    request.seq = 3;
    request.token = "tok";
    size_t size = raftq__request__get_packed_size (&request);
    uint8_t *body = malloc (size);
    assert_non_null (body);
    raftq__request__pack (&request, body);
    assert_true (body[0] != '{');

    codec_request_t decoded;
    assert_int_equal (codec_request_decode (body, size, &decoded), 0);
    free (body);
    assert_int_equal (decoded.dialect, CODEC_PROTOBUF);
    assert_false (decoded.strict);
    assert_int_equal (decoded.request->op_case, RAFTQ__REQUEST__OP_PUBLISH);
    assert_int_equal (decoded.request->client_id, UINT64_MAX);
    assert_int_equal (decoded.request->seq, 3);
    assert_string_equal (decoded.request->token, "tok");
    assert_string_equal (decoded.request->publish->topic, "bin");
    assert_int_equal (decoded.request->publish->payload.len, sizeof payload);
    assert_memory_equal (decoded.request->publish->payload.data, payload, sizeof payload);

    //  The reply goes back as protobuf, fields and result intact.
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    Raftq__Popped popped = RAFTQ__POPPED__INIT;
    popped.topic = "bin";
    popped.payload.data = payload;
    popped.payload.len = sizeof payload;
    popped.sequence = 9;
    reply.result_case = RAFTQ__REPLY__RESULT_POPPED;
    reply.popped = &popped;
    reply.seq = 3;
    reply.index = 77;
    uint8_t *encoded = codec_reply_encode (&decoded, &reply, &size);
    assert_non_null (encoded);
    Raftq__Reply *back = raftq__reply__unpack (NULL, size, encoded);
    free (encoded);
    assert_non_null (back);
    assert_int_equal (back->code, RAFTQ__CODE__OK);
    assert_int_equal (back->seq, 3);
    assert_int_equal (back->index, 77);
    assert_int_equal (back->result_case, RAFTQ__REPLY__RESULT_POPPED);
    assert_int_equal (back->popped->sequence, 9);
    assert_memory_equal (back->popped->payload.data, payload, sizeof payload);
    raftq__reply__free_unpacked (back, NULL);

    //  An all-default reply packs to zero bytes: still a valid body.
    Raftq__Reply empty = RAFTQ__REPLY__INIT;
    encoded = codec_reply_encode (&decoded, &empty, &size);
    assert_non_null (encoded);
    assert_int_equal (size, 0);
    free (encoded);
    codec_request_clear (&decoded);
}

static void
test_protobuf_errors (void **state)
{
    (void)state;
    codec_request_t decoded;
    //  A Request without an operation (only a seq).
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    request.seq = 5;
    uint8_t body[32];
    size_t size = raftq__request__pack (&request, body);
    assert_int_equal (codec_request_decode (body, size, &decoded), -1);
    assert_null (decoded.request);
    assert_int_equal (decoded.dialect, CODEC_PROTOBUF);
    assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_string_equal (decoded.error, "no operation");

    //  The failure goes back as a protobuf Reply carrying code and text.
    uint8_t *encoded = codec_reply_encode (&decoded, NULL, &size);
    assert_non_null (encoded);
    Raftq__Reply *back = raftq__reply__unpack (NULL, size, encoded);
    free (encoded);
    assert_non_null (back);
    assert_int_equal (back->code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_string_equal (back->error, "no operation");
    raftq__reply__free_unpacked (back, NULL);

    //  A caller's own failure reply (with its seq) wins over the decoder's.
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = RAFTQ__CODE__TOO_LARGE;
    reply.error = "body too large";
    reply.seq = 8;
    encoded = codec_reply_encode (&decoded, &reply, &size);
    back = raftq__reply__unpack (NULL, size, encoded);
    free (encoded);
    assert_non_null (back);
    assert_int_equal (back->code, RAFTQ__CODE__TOO_LARGE);
    assert_string_equal (back->error, "body too large");
    assert_int_equal (back->seq, 8);
    raftq__reply__free_unpacked (back, NULL);
    codec_request_clear (&decoded);

    const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal (codec_request_decode (garbage, sizeof garbage, &decoded), -1);
    assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_string_equal (decoded.error, "malformed protobuf request");
    codec_request_clear (&decoded);

    assert_int_equal (codec_request_decode (garbage, 0, &decoded), -1);
    assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_string_equal (decoded.error, "empty request body");
    assert_int_equal (codec_request_decode (NULL, 5, &decoded), -1);
    assert_int_equal (codec_request_decode (garbage, 1, NULL), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_protobuf_round_trip),
        cmocka_unit_test (test_protobuf_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
