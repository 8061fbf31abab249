/*  test_codec_checks — what the test_codec_*.c binaries share: decoding a
    JSON text, encoding a reply to text or to a parsed object, checking an
    object's exact keys and values, and a request's pack/unpack round trip.
    Header-only (static inline): each test file is a binary of its own.
*/
#ifndef TEST_CODEC_CHECKS_H_INCLUDED
#define TEST_CODEC_CHECKS_H_INCLUDED

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "broker/codec.h"

static inline int
check_decode_text (const char *text, codec_request_t *decoded)
{
    return codec_request_decode ((const uint8_t *)text, strlen (text), decoded);
}

//  Decodes a JSON request that must succeed, with the expected operation.
static inline void
check_decode_ok (const char *text, Raftq__Request__OpCase op_case, bool strict,
                 codec_request_t *decoded)
{
    if (check_decode_text (text, decoded) != 0)
        fail_msg ("refused %s: %s", text, decoded->error);
    assert_int_equal (decoded->dialect, CODEC_JSON);
    assert_non_null (decoded->request);
    assert_int_equal (decoded->request->op_case, op_case);
    assert_int_equal (decoded->strict, strict);
    assert_int_equal (decoded->error_code, RAFTQ__CODE__OK);
}

//  The encoded reply as a NUL-terminated string (caller frees).
static inline char *
check_encode (const codec_request_t *decoded, const Raftq__Reply *reply)
{
    size_t size = 12345;
    uint8_t *body = codec_reply_encode (decoded, reply, &size);
    assert_non_null (body);
    char *text = strndup ((const char *)body, size);
    assert_non_null (text);
    assert_int_equal (strlen (text), size);
    free (body);
    return text;
}

//  Encodes and parses the JSON reply (caller decrefs).
static inline json_t *
check_encode_json (const codec_request_t *decoded, const Raftq__Reply *reply)
{
    char *text = check_encode (decoded, reply);
    json_error_t error;
    json_t *object = json_loads (text, 0, &error);
    if (!json_is_object (object))
        fail_msg ("not a JSON object: %s", text);
    free (text);
    return object;
}

//  The object has exactly these keys (NULL-terminated list).
static inline void
check_keys (json_t *object, const char *const *keys)
{
    size_t count = 0;
    for (; keys[count]; count++)
        if (!json_object_get (object, keys[count])) {
            char *dump = json_dumps (object, JSON_COMPACT);
            fail_msg ("key \"%s\" missing from %s", keys[count], dump);
        }
    if (json_object_size (object) != count) {
        char *dump = json_dumps (object, JSON_COMPACT);
        fail_msg ("%s has %zu keys, expected %zu", dump, json_object_size (object), count);
    }
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

static inline void
check_integer (json_t *object, const char *key, json_int_t value)
{
    json_t *item = json_object_get (object, key);
    assert_true (json_is_integer (item));
    assert_int_equal (json_integer_value (item), value);
}

static inline void
check_string (json_t *object, const char *key, const char *value)
{
    json_t *item = json_object_get (object, key);
    assert_true (json_is_string (item));
    assert_string_equal (json_string_value (item), value);
}

//  A request survives pack and unpack: proves the JSON-built structs are
//  what protobuf-c itself would have built.
static inline Raftq__Request *
check_repack (const Raftq__Request *request)
{
    size_t size = raftq__request__get_packed_size (request);
    uint8_t *buffer = malloc (size + 1);
    assert_non_null (buffer);
    assert_int_equal (raftq__request__pack (request, buffer), size);
    Raftq__Request *copy = raftq__request__unpack (NULL, size, buffer);
    free (buffer);
    assert_non_null (copy);
    assert_int_equal (copy->op_case, request->op_case);
    assert_int_equal (copy->client_id, request->client_id);
    assert_int_equal (copy->seq, request->seq);
    assert_string_equal (copy->token, request->token);
    return copy;
}

//  A request that must be refused with INVALID_ARGUMENT, naming key.
static inline void
check_refused (const char *text, const char *key)
{
    codec_request_t decoded;
    assert_int_equal (check_decode_text (text, &decoded), -1);
    assert_null (decoded.request);
    assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
    if (!strstr (decoded.error, key))
        fail_msg ("error for %s does not name %s: %s", text, key, decoded.error);
    codec_request_clear (&decoded);
}

//  The reply to decoded encodes to exactly expected.
static inline void
check_encoded (const codec_request_t *decoded, const Raftq__Reply *reply, const char *expected)
{
    char *text = check_encode (decoded, reply);
    assert_string_equal (text, expected);
    free (text);
}

//  Decodes the JSON request text, encodes reply for it and checks the
//  reply object's exact keys (caller decrefs).
static inline json_t *
check_reply_json (const char *text, const Raftq__Reply *reply, const char *const *keys)
{
    codec_request_t decoded;
    assert_int_equal (check_decode_text (text, &decoded), 0);
    json_t *object = check_encode_json (&decoded, reply);
    codec_request_clear (&decoded);
    check_keys (object, keys);
    return object;
}

#endif
