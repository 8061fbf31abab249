/*  test_codec — codec.c's entry points as a whole: the codes' names, and
    hostile bodies (a table, then a seeded random fuzz loop) that must give
    a clear error, never a crash, in either dialect.
*/

#include <time.h>

#include "test_codec_checks.h"
#include "util/curve_key.h"

static void
test_code_names (void **state)
{
    (void)state;
    const char *names[] = {
        "OK",      "NOT_LEADER",       "NO_LEADER",       "NOT_FOUND",         "ALREADY_EXISTS",
        "EMPTY",   "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "TOO_LARGE",
        "TIMEOUT", "UNAVAILABLE",      "INTERNAL",        "RESOURCE_EXHAUSTED"};
    for (int code = 0; code < 14; code++) {
        assert_string_equal (codec_code_name ((Raftq__Code)code), names[code]);
        //  Same spelling as the protobuf enum itself.
        const ProtobufCEnumValue *value =
            protobuf_c_enum_descriptor_get_value (&raftq__code__descriptor, code);
        assert_non_null (value);
        assert_string_equal (value->name, names[code]);
    }
    assert_string_equal (codec_code_name ((Raftq__Code)14), "UNKNOWN");
    assert_string_equal (codec_code_name ((Raftq__Code)-1), "UNKNOWN");
}

//  --------------------------------------------------------------------------
//  Hostile input

typedef struct {
    const char *body;  //  NUL-terminated unless size says otherwise
    size_t size;       //  0: strlen (body)
    bool strict;       //  recognized as one of the four RRMQ requests
    const char *error; //  expected start of the error text
} hostile_case_t;

//  Answers a failed decode the way the server would, and checks the body.
static void
s_check_failure_reply (const codec_request_t *decoded)
{
    size_t size;
    uint8_t *body = codec_reply_encode (decoded, NULL, &size);
    assert_non_null (body);
    if (decoded->dialect == CODEC_PROTOBUF) {
        Raftq__Reply *reply = raftq__reply__unpack (NULL, size, body);
        assert_non_null (reply);
        assert_int_equal (reply->code, decoded->error_code);
        raftq__reply__free_unpacked (reply, NULL);
    } else {
        json_t *object = json_loadb ((const char *)body, size, 0, NULL);
        assert_non_null (object);
        assert_true (json_is_false (json_object_get (object, "success")));
        if (decoded->strict)
            check_keys (object, KEYS ("success"));
        else
            check_keys (object, KEYS ("success", "code", "error"));
        json_decref (object);
    }
    free (body);
}

static char *
s_repeat (const char *head, const char *unit, size_t count, const char *tail)
{
    size_t size = strlen (head) + strlen (unit) * count + strlen (tail) + 1;
    char *text = malloc (size);
    assert_non_null (text);
    strcpy (text, head);
    char *cursor = text + strlen (head);
    for (size_t index = 0; index < count; index++) {
        memcpy (cursor, unit, strlen (unit));
        cursor += strlen (unit);
    }
    strcpy (cursor, tail);
    return text;
}

//  Bodies that must be refused, each with the start of its error text.
static const hostile_case_t s_hostile_cases[] = {
    {"", 0, false, "empty request body"},
    {"{", 0, false, "malformed JSON at column 1: "},
    {"{}", 0, false, "missing string key \"type\""},
    {"{\"type\":\"topic\"}", 0, false, "missing string key \"method\""},
    {"{\"type\":1,\"method\":\"GET\"}", 0, false, "key \"type\" must be a string"},
    {"{\"type\":\"topic\",\"method\":[]}", 0, false, "key \"method\" must be a string"},
    {"{\"type\":\"foo\",\"method\":\"GET\"}", 0, false, "unknown operation: foo GET"},
    {"{\"type\":\"topic\",\"method\":\"get\"}", 0, false, "unknown operation: topic get"},
    {"{\"type\":\"topic\\u0000x\",\"method\":\"GET\"}", 0, false, "unknown operation: topic"},
    {"{\"type\":\"chat\",\"method\":\"PUT\",\"token\":\"t\",\"to\":\"b\"}", 0, false,
     "missing string key \"text\""},
    {"{\"type\":\"chat\",\"method\":\"PUT\",\"text\":\"hi\"}", 0, false,
     "missing string key \"to\""},
    {"{\"type\":\"chat\",\"method\":\"PUT\",\"to\":\"b\",\"text\":\"a\\u0000b\"}", 0, false,
     "key \"text\" must not contain a NUL character"},
    {"{\"type\":\"chat\",\"method\":\"GET\",\"with\":5}", 0, false,
     "key \"with\" must be a string"},
    {"{\"type\":\"chat\",\"method\":\"GET\",\"page\":-1}", 0, false,
     "key \"page\" must be an integer from 0 to 4294967295"},
    {"{\"type\":\"chat\",\"method\":\"GET\",\"page_size\":1.5}", 0, false,
     "key \"page_size\" must be an integer from 0 to 4294967295"},
    {"{\"type\":\"chat\",\"method\":\"DELETE\"}", 0, false,
     "key \"ids\" must be an array of message ids"},
    {"{\"type\":\"chat\",\"method\":\"DELETE\",\"ids\":7}", 0, false,
     "key \"ids\" must be an array of message ids"},
    {"{\"type\":\"chat\",\"method\":\"DELETE\",\"ids\":[1,0]}", 0, false,
     "key \"ids\" must hold positive integers only"},
    {"{\"type\":\"chat\",\"method\":\"DELETE\",\"ids\":[1,\"2\"]}", 0, false,
     "key \"ids\" must hold positive integers only"},
    {"{\"type\":\"account\",\"method\":\"PUT\",\"user\":\"ann\"}", 0, false,
     "missing string key \"password\""},
    {"{\"type\":\"account\",\"method\":\"PUT\",\"password\":\"pw\"}", 0, false,
     "missing string key \"user\""},
    {"{\"type\":\"account\",\"method\":\"GET\",\"pattern\":[]}", 0, false,
     "key \"pattern\" must be a string"},
    {"{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":\"a\\u0000\"}", 0, false,
     "key \"password\" must not contain a NUL character"},
    {"{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":1}", 0, false,
     "key \"password\" must be a string"},
    {"{\"type\":\"user\",\"method\":\"GET\"}", 0, false, "missing string key \"user\""},
    {"{\"type\":\"user\",\"method\":\"PUT\",\"user\":\"a\"}", 0, false,
     "unknown operation: user PUT"},
    {"{\"type\":\"status\",\"method\":\"GET\",\"hash\":1}", 0, false,
     "key \"hash\" must be true or false"},
    {"{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"a\"} x", 0, false,
     "malformed JSON at column "},
    {"{\"type\":\"topic\",\"type\":\"topic\",\"method\":\"GET\"}", 0, false,
     "malformed JSON at column "},
    {"{\"type\":\"topic\",\"method\":\"GET\",\n\"x\":\xff}", 0, false,
     "malformed JSON at line 2, column "},
    {"{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"a\\u0000\"}", 0, true,
     "key \"topic\" must not contain a NUL character"},
    {"{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"\\u0000\"}", 0, false,
     "key \"stream\" must not contain a NUL character"},
    {"{\"type\":\"status\",\"method\":\"GET\",\"token\":\"a\\u0000\"}", 0, false,
     "key \"token\" must not contain a NUL character"},
    {"{\"type\":\"status\",\"method\":\"GET\",\"token\":7}", 0, false,
     "key \"token\" must be a string"},
    {"{\"type\":\"node\",\"method\":\"DELETE\",\"id\":99999999999999999999}", 0, false,
     "malformed JSON at column "},
    {"{\"type\":\"node\",\"method\":\"DELETE\",\"id\":4294967296}", 0, false,
     "key \"id\" must be an integer from 1 to 4294967295"},
    {"{\"type\":\"node\",\"method\":\"DELETE\",\"id\":2.0}", 0, false,
     "key \"id\" must be an integer from 1 to 4294967295"},
    {"{\"type\":\"node\",\"method\":\"DELETE\",\"id\":0}", 0, false,
     "key \"id\" must be an integer from 1 to 4294967295"},
    {"{\"type\":\"node\",\"method\":\"DELETE\"}", 0, false, "missing integer key \"id\""},
    {"{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"h\",\"client_port\":-5,"
     "\"peer_port\":1}",
     0, false, "key \"client_port\" must be an integer from 1 to 65535"},
    {"{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"h\",\"client_port\":5,"
     "\"peer_port\":65536}",
     0, false, "key \"peer_port\" must be an integer from 1 to 65535"},
    {"{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"h\",\"client_port\":5,"
     "\"peer_port\":6,\"pub_port\":\"7\"}",
     0, false, "key \"pub_port\" must be an integer from 0 to 65535"},
    {"{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"client_port\":5,\"peer_port\":6}", 0, false,
     "missing string key \"host\""},
    {"{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"h\",\"client_port\":5,"
     "\"peer_port\":6,\"public_key\":\"short\"}",
     0, false, "key \"public_key\" must be a CurveZMQ public key in Z85 (40 characters)"},
    {"{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"h\",\"client_port\":5,"
     "\"peer_port\":6,\"peer_host\":7}",
     0, false, "key \"peer_host\" must be a string"},
    {"{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"s\",\"limit\":1e3}", 0, false,
     "key \"limit\" must be an integer from 0 to 4294967295"},
    {"{\"type\":\"status\",\"method\":\"GET\",\"seq\":-1}", 0, false,
     "key \"seq\" must be an integer from 0 to 9223372036854775807"},
    {"{\"type\":\"status\",\"method\":\"GET\",\"client_id\":1e999}", 0, false,
     "malformed JSON at column "},
    {"[1,2,3]", 0, false, "malformed protobuf request"},
    {"\x08\x01", 0, false, "no operation"},
    {" {\"type\":\"status\",\"method\":\"GET\"}", 0, false, "malformed protobuf request"},
};

//  Decodes test's body, which must be refused as it says; then answers it
//  as the server would.
static void
s_check_hostile (const hostile_case_t *test, size_t index)
{
    size_t size = test->size ? test->size : strlen (test->body);
    codec_request_t decoded;
    if (codec_request_decode ((const uint8_t *)test->body, size, &decoded) != -1)
        fail_msg ("case %zu accepted: %.80s", index, test->body);
    assert_null (decoded.request);
    assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
    if (decoded.strict != test->strict)
        fail_msg ("case %zu: strict is %d", index, decoded.strict);
    if (strncmp (decoded.error, test->error, strlen (test->error)) != 0)
        fail_msg ("case %zu: error \"%s\", expected \"%s...\"", index, decoded.error, test->error);
    s_check_failure_reply (&decoded);
    codec_request_clear (&decoded);
}

static void
test_hostile_inputs (void **state)
{
    (void)state;
    for (size_t index = 0; index < sizeof s_hostile_cases / sizeof s_hostile_cases[0]; index++)
        s_check_hostile (&s_hostile_cases[index], index);
}

//  Deep nesting, long names and an embedded NUL: refused, not a crash.
static void
test_hostile_shapes (void **state)
{
    (void)state;
    char *deep = s_repeat ("{\"type\":", "[", 100000, "");
    char *deep_objects = s_repeat ("", "{\"a\":", 5000, "1");
    char *long_type = s_repeat ("{\"type\":\"", "x", 100000, "\",\"method\":\"GET\"}");
    static const char with_nul[] = "{\"type\":\"topic\",\"method\":\"GET\"\0}";
    const hostile_case_t cases[] = {
        {deep, 0, false, "malformed JSON at column "},
        {deep_objects, 0, false, "malformed JSON at column "},
        {long_type, 0, false, "unknown operation: xxxxxxxx"},
        {with_nul, sizeof with_nul - 1, false, "malformed JSON at column "},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        s_check_hostile (&cases[index], index);
    free (deep);
    free (deep_objects);
    free (long_type);
    //  A huge but valid topic name is the server's to judge, not the codec's.
    char *huge =
        s_repeat ("{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"", "t", 1 << 20, "\"}");
    codec_request_t decoded;
    check_decode_ok (huge, RAFTQ__REQUEST__OP_CREATE_TOPIC, true, &decoded);
    assert_int_equal (strlen (decoded.request->create_topic->name), 1 << 20);
    codec_request_clear (&decoded);
    free (huge);
}

//  What the fuzz loop mutates: JSON requests, and one protobuf request.
typedef struct {
    const char *const *templates; //  JSON request texts
    size_t template_count;        //  how many
    const uint8_t *packed;        //  a packed protobuf request
    size_t packed_size;           //  its size
} fuzz_sources_t;

//  A random body into body (at most capacity bytes): random bytes, or a
//  template or the protobuf request with one to four mutations. Returns
//  its size.
static size_t
s_fuzz_body (const fuzz_sources_t *sources, unsigned int *random_state, uint8_t *body,
             size_t capacity)
{
    size_t size;
    int shape = rand_r (random_state) % 3;
    if (shape == 0) {
        size = (size_t)rand_r (random_state) % capacity;
        for (size_t index = 0; index < size; index++)
            body[index] = (uint8_t)rand_r (random_state);
        if (size && rand_r (random_state) % 2)
            body[0] = '{';
        return size;
    }
    const uint8_t *source =
        shape == 1 ? (const uint8_t *)
                         sources->templates[(size_t)rand_r (random_state) % sources->template_count]
                   : sources->packed;
    size = shape == 1 ? strlen ((const char *)source) : sources->packed_size;
    memcpy (body, source, size);
    int mutations = 1 + rand_r (random_state) % 4;
    for (int mutation = 0; mutation < mutations && size; mutation++) {
        size_t where = (size_t)rand_r (random_state) % size;
        int how = rand_r (random_state) % 3;
        if (how == 0)
            body[where] = (uint8_t)rand_r (random_state);
        else if (how == 1)
            size = where + 1; //  truncate
        else
            body[where] ^= (uint8_t)(1 << (rand_r (random_state) % 8));
    }
    return size;
}

//  Whatever decoding gave (rc, decoded): a request or a clear refusal,
//  and both a success and a failure reply encode.
static void
s_fuzz_check (int rc, const codec_request_t *decoded, unsigned int seed, int iteration)
{
    if (rc == 0) {
        if (!decoded->request)
            fail_msg ("seed %u iteration %d: success without request", seed, iteration);
        Raftq__Reply ok = RAFTQ__REPLY__INIT;
        size_t reply_size;
        uint8_t *reply = codec_reply_encode (decoded, &ok, &reply_size);
        if (!reply)
            fail_msg ("seed %u iteration %d: no reply", seed, iteration);
        free (reply);
    } else if (decoded->request || decoded->error_code != RAFTQ__CODE__INVALID_ARGUMENT ||
               !decoded->error[0])
        fail_msg ("seed %u iteration %d: bad failure (code %d, \"%s\")", seed, iteration,
                  decoded->error_code, decoded->error);
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__NOT_LEADER;
    failure.leader_id = 2;
    failure.leader_endpoint = "tcp://127.0.0.1:5502";
    size_t reply_size;
    uint8_t *reply = codec_reply_encode (decoded, &failure, &reply_size);
    if (!reply)
        fail_msg ("seed %u iteration %d: no failure reply", seed, iteration);
    if (decoded->dialect == CODEC_JSON) {
        json_t *object = json_loadb ((const char *)reply, reply_size, 0, NULL);
        if (!json_is_false (json_object_get (object, "success")))
            fail_msg ("seed %u iteration %d: reply %.*s", seed, iteration, (int)reply_size, reply);
        json_decref (object);
    }
    free (reply);
}

//  Random bodies: bytes, mutated JSON requests and mutated protobuf
//  requests. Whatever comes in, decode either yields a request or an
//  INVALID_ARGUMENT, and both a success and a failure reply encode.
//  A node PUT carries the new node's key (Z85 in, 32 bytes out) and its
//  peer host.
static void
test_node_put_with_key (void **state)
{
    (void)state;
    uint8_t key[CURVE_KEY_SIZE];
    for (size_t position = 0; position < sizeof key; position++)
        key[position] = (uint8_t)(position * 7 + 1);
    char text[CURVE_KEY_TEXT_SIZE];
    curve_key_encode (key, text);
    char body[512];
    int size = snprintf (body, sizeof body,
                         "{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"127.0.0.1\","
                         "\"client_port\":5506,\"peer_port\":5606,\"peer_host\":\"10.1.0.6\","
                         "\"public_key\":\"%s\"}",
                         text);
    codec_request_t decoded;
    assert_int_equal (codec_request_decode ((const uint8_t *)body, (size_t)size, &decoded), 0);
    const Raftq__AddNode *add = decoded.request->add_node;
    assert_non_null (add);
    assert_int_equal (add->public_key.len, CURVE_KEY_SIZE);
    assert_memory_equal (add->public_key.data, key, CURVE_KEY_SIZE);
    assert_string_equal (add->peer_host, "10.1.0.6");
    codec_request_clear (&decoded);
}

static void
test_fuzz (void **state)
{
    (void)state;
    unsigned int seed = (unsigned int)time (NULL);
    const char *seed_text = getenv ("RAFTQ_SEED");
    if (seed_text)
        seed = (unsigned int)strtoul (seed_text, NULL, 10);
    print_message ("fuzz seed %u (rerun with RAFTQ_SEED=%u)\n", seed, seed);
    unsigned int random_state = seed;

    const char *templates[] = {
        "{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"orders\"}",
        "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"t\",\"message\":\"h\\u00e9llo\"}",
        "{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"topic/q\",\"from\":4,\"limit\":9}",
        "{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"127.0.0.1\","
        "\"client_port\":5506,\"peer_port\":5606,\"pub_port\":5706,\"seq\":3,\"client_id\":9}",
        "{\"type\":\"status\",\"method\":\"GET\",\"token\":\"abc\"}",
    };
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__AddNode add = RAFTQ__ADD_NODE__INIT;
    add.id = 6;
    add.host = "127.0.0.1";
    add.client_port = 5506;
    request.op_case = RAFTQ__REQUEST__OP_ADD_NODE;
    request.add_node = &add;
    request.seq = 300;
    uint8_t packed[64];
    fuzz_sources_t sources = {templates, 5, packed, raftq__request__pack (&request, packed)};

    uint8_t body[256];
    int accepted = 0, refused = 0;
    for (int iteration = 0; iteration < 5000; iteration++) {
        size_t size = s_fuzz_body (&sources, &random_state, body, sizeof body);
        codec_request_t decoded;
        int rc = codec_request_decode (body, size, &decoded);
        if (rc == 0)
            accepted++;
        else
            refused++;
        s_fuzz_check (rc, &decoded, seed, iteration);
        codec_request_clear (&decoded);
    }
    //  Both paths were exercised, or the loop proved little.
    print_message ("fuzz: %d accepted, %d refused\n", accepted, refused);
    if (accepted < 100 || refused < 100)
        fail_msg ("seed %u: only %d accepted, %d refused", seed, accepted, refused);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_code_names),     cmocka_unit_test (test_hostile_inputs),
        cmocka_unit_test (test_hostile_shapes), cmocka_unit_test (test_node_put_with_key),
        cmocka_unit_test (test_fuzz),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
