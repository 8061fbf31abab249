/*  test_codec — codec.c: every JSON operation to its protobuf request, the
    protobuf dialect both ways, every JSON reply shape with its exact keys,
    and hostile bodies (a table, then a seeded random fuzz loop) that must
    give a clear error, never a crash.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "broker/codec.h"

//  --------------------------------------------------------------------------
//  Helpers

static int
s_decode_text (const char *text, codec_request_t *decoded)
{
    return codec_request_decode ((const uint8_t *)text, strlen (text), decoded);
}

//  Decodes a JSON request that must succeed, with the expected operation.
static void
s_decode_ok (const char *text, Raftq__Request__OpCase op_case, bool strict,
             codec_request_t *decoded)
{
    if (s_decode_text (text, decoded) != 0)
        fail_msg ("refused %s: %s", text, decoded->error);
    assert_int_equal (decoded->dialect, CODEC_JSON);
    assert_non_null (decoded->request);
    assert_int_equal (decoded->request->op_case, op_case);
    assert_int_equal (decoded->strict, strict);
    assert_int_equal (decoded->error_code, RAFTQ__CODE__OK);
}

//  The encoded reply as a NUL-terminated string (caller frees).
static char *
s_encode (const codec_request_t *decoded, const Raftq__Reply *reply)
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
static json_t *
s_encode_json (const codec_request_t *decoded, const Raftq__Reply *reply)
{
    char *text = s_encode (decoded, reply);
    json_error_t error;
    json_t *object = json_loads (text, 0, &error);
    if (!json_is_object (object))
        fail_msg ("not a JSON object: %s", text);
    free (text);
    return object;
}

//  The object has exactly these keys (NULL-terminated list).
static void
s_assert_keys (json_t *object, const char *const *keys)
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

static void
s_assert_integer (json_t *object, const char *key, json_int_t value)
{
    json_t *item = json_object_get (object, key);
    assert_true (json_is_integer (item));
    assert_int_equal (json_integer_value (item), value);
}

static void
s_assert_string (json_t *object, const char *key, const char *value)
{
    json_t *item = json_object_get (object, key);
    assert_true (json_is_string (item));
    assert_string_equal (json_string_value (item), value);
}

//  A request survives pack and unpack: proves the JSON-built structs are
//  what protobuf-c itself would have built.
static Raftq__Request *
s_repack (const Raftq__Request *request)
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

//  --------------------------------------------------------------------------
//  JSON requests

static void
test_json_queue_operations (void **state)
{
    (void)state;
    codec_request_t decoded;

    s_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                 &decoded);
    assert_non_null (decoded.request->status);
    assert_int_equal (decoded.request->client_id, 0);
    assert_string_equal (decoded.request->token, "");
    codec_request_clear (&decoded);
    assert_null (decoded.request);

    s_decode_ok ("{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"orders\"}",
                 RAFTQ__REQUEST__OP_CREATE_TOPIC, true, &decoded);
    assert_string_equal (decoded.request->create_topic->name, "orders");
    Raftq__Request *copy = s_repack (decoded.request);
    assert_string_equal (copy->create_topic->name, "orders");
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"topic\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_LIST_TOPICS, true,
                 &decoded);
    assert_non_null (decoded.request->list_topics);
    codec_request_clear (&decoded);

    //  Payload bytes keep UTF-8 and even NUL.
    s_decode_ok ("{\"message\":\"h\\u00e9\\u0000!\",\"topic\":\"t\",\"method\":\"PUT\","
                 "\"type\":\"message\",\"extra\":[1,2]}",
                 RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    Raftq__Publish *publish = decoded.request->publish;
    assert_string_equal (publish->topic, "t");
    assert_int_equal (publish->payload.len, 5);
    assert_memory_equal (publish->payload.data, "h\xc3\xa9\0!", 5);
    copy = s_repack (decoded.request);
    assert_int_equal (copy->publish->payload.len, 5);
    assert_memory_equal (copy->publish->payload.data, "h\xc3\xa9\0!", 5);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    //  An empty message is an empty payload, as unpack leaves it.
    s_decode_ok ("{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"t\",\"message\":\"\"}",
                 RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    assert_int_equal (decoded.request->publish->payload.len, 0);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"message\",\"method\":\"GET\",\"topic\":\"q\"}",
                 RAFTQ__REQUEST__OP_POP, true, &decoded);
    assert_string_equal (decoded.request->pop->topic, "q");
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"topic/q\",\"from\":42,"
                 "\"limit\":100}",
                 RAFTQ__REQUEST__OP_REPLAY, false, &decoded);
    assert_string_equal (decoded.request->replay->stream, "topic/q");
    assert_int_equal (decoded.request->replay->from_seq, 42);
    assert_int_equal (decoded.request->replay->limit, 100);
    copy = s_repack (decoded.request);
    assert_int_equal (copy->replay->from_seq, 42);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"user/ann\"}",
                 RAFTQ__REQUEST__OP_REPLAY, false, &decoded);
    assert_int_equal (decoded.request->replay->from_seq, 0);
    assert_int_equal (decoded.request->replay->limit, 0);
    codec_request_clear (&decoded);
}

static void
test_json_admin_operations (void **state)
{
    (void)state;
    codec_request_t decoded;
    s_decode_ok ("{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"127.0.0.1\","
                 "\"client_port\":5506,\"peer_port\":5606,\"pub_port\":5706}",
                 RAFTQ__REQUEST__OP_ADD_NODE, false, &decoded);
    Raftq__AddNode *add = decoded.request->add_node;
    assert_int_equal (add->id, 6);
    assert_string_equal (add->host, "127.0.0.1");
    assert_int_equal (add->client_port, 5506);
    assert_int_equal (add->peer_port, 5606);
    assert_int_equal (add->pub_port, 5706);
    Raftq__Request *copy = s_repack (decoded.request);
    assert_string_equal (copy->add_node->host, "127.0.0.1");
    assert_int_equal (copy->add_node->pub_port, 5706);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"node\",\"method\":\"PUT\",\"id\":4294967295,\"host\":\"h\","
                 "\"client_port\":1,\"peer_port\":65535}",
                 RAFTQ__REQUEST__OP_ADD_NODE, false, &decoded);
    assert_int_equal (decoded.request->add_node->id, UINT32_MAX);
    assert_int_equal (decoded.request->add_node->pub_port, 0);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"node\",\"method\":\"DELETE\",\"id\":3}",
                 RAFTQ__REQUEST__OP_REMOVE_NODE, false, &decoded);
    assert_int_equal (decoded.request->remove_node->id, 3);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"leader\",\"method\":\"PUT\",\"id\":2}",
                 RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, false, &decoded);
    assert_int_equal (decoded.request->transfer_leadership->id, 2);
    codec_request_clear (&decoded);
}

static void
test_json_common_keys (void **state)
{
    (void)state;
    codec_request_t decoded;
    s_decode_ok ("{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"t\",\"message\":\"m\","
                 "\"client_id\":9223372036854775807,\"seq\":17,\"token\":\"s3cr3t\"}",
                 RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    assert_int_equal (decoded.request->client_id, INT64_MAX);
    assert_int_equal (decoded.request->seq, 17);
    assert_string_equal (decoded.request->token, "s3cr3t");
    Raftq__Request *copy = s_repack (decoded.request);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    s_decode_ok (
        "{\"type\":\"status\",\"method\":\"GET\",\"client_id\":0,\"seq\":0,\"token\":\"\"}",
        RAFTQ__REQUEST__OP_STATUS, false, &decoded);
    assert_int_equal (decoded.request->client_id, 0);
    codec_request_clear (&decoded);
}

static void
test_json_chat_operations (void **state)
{
    (void)state;
    codec_request_t decoded;

    s_decode_ok ("{\"type\":\"account\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":"
                 "\"p \\\"w\\\" \\u00e9\",\"client_id\":5,\"seq\":2}",
                 RAFTQ__REQUEST__OP_CREATE_ACCOUNT, false, &decoded);
    assert_string_equal (decoded.request->create_account->user, "ann");
    assert_string_equal (decoded.request->create_account->password, "p \"w\" \xc3\xa9");
    assert_int_equal (decoded.request->client_id, 5);
    assert_int_equal (decoded.request->seq, 2);
    Raftq__Request *copy = s_repack (decoded.request);
    assert_string_equal (copy->create_account->password, "p \"w\" \xc3\xa9");
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    //  Listing: pattern and paging optional
    s_decode_ok ("{\"type\":\"account\",\"method\":\"GET\",\"pattern\":\"a*\",\"page\":2,"
                 "\"page_size\":20}",
                 RAFTQ__REQUEST__OP_LIST_ACCOUNTS, false, &decoded);
    assert_string_equal (decoded.request->list_accounts->pattern, "a*");
    assert_int_equal (decoded.request->list_accounts->page, 2);
    assert_int_equal (decoded.request->list_accounts->page_size, 20);
    codec_request_clear (&decoded);
    s_decode_ok ("{\"type\":\"account\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_LIST_ACCOUNTS,
                 false, &decoded);
    assert_string_equal (decoded.request->list_accounts->pattern, "");
    assert_int_equal (decoded.request->list_accounts->page, 0);
    assert_int_equal (decoded.request->list_accounts->page_size, 0);
    copy = s_repack (decoded.request);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"account\",\"method\":\"DELETE\",\"token\":\"t1\"}",
                 RAFTQ__REQUEST__OP_DELETE_ACCOUNT, false, &decoded);
    assert_string_equal (decoded.request->token, "t1");
    assert_non_null (decoded.request->delete_account);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"user\",\"method\":\"GET\",\"user\":\"bob\"}",
                 RAFTQ__REQUEST__OP_CHECK_USER, false, &decoded);
    assert_string_equal (decoded.request->check_user->user, "bob");
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":\"pw\"}",
                 RAFTQ__REQUEST__OP_LOGIN, false, &decoded);
    assert_string_equal (decoded.request->login->user, "ann");
    assert_string_equal (decoded.request->login->password, "pw");
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"login\",\"method\":\"DELETE\",\"token\":\"t2\"}",
                 RAFTQ__REQUEST__OP_LOGOUT, false, &decoded);
    assert_string_equal (decoded.request->token, "t2");
    codec_request_clear (&decoded);
    //  No token: decoded all the same; the state machine says UNAUTHENTICATED
    s_decode_ok ("{\"type\":\"login\",\"method\":\"DELETE\"}", RAFTQ__REQUEST__OP_LOGOUT, false,
                 &decoded);
    assert_string_equal (decoded.request->token, "");
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"chat\",\"method\":\"PUT\",\"token\":\"t\",\"to\":\"bob\","
                 "\"text\":\" hi\\n\"}",
                 RAFTQ__REQUEST__OP_SEND_MESSAGE, false, &decoded);
    assert_string_equal (decoded.request->send_message->to, "bob");
    assert_string_equal (decoded.request->send_message->text, " hi\n");
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\",\"with\":\"bob\","
                 "\"page\":3,\"page_size\":7}",
                 RAFTQ__REQUEST__OP_READ_MESSAGES, false, &decoded);
    assert_string_equal (decoded.request->read_messages->partner, "bob");
    assert_int_equal (decoded.request->read_messages->page, 3);
    assert_int_equal (decoded.request->read_messages->page_size, 7);
    codec_request_clear (&decoded);
    s_decode_ok ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\"}",
                 RAFTQ__REQUEST__OP_READ_MESSAGES, false, &decoded);
    assert_string_equal (decoded.request->read_messages->partner, "");
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"chat\",\"method\":\"DELETE\",\"token\":\"t\","
                 "\"ids\":[3,9223372036854775807,3]}",
                 RAFTQ__REQUEST__OP_DELETE_MESSAGES, false, &decoded);
    assert_int_equal (decoded.request->delete_messages->n_ids, 3);
    assert_int_equal (decoded.request->delete_messages->ids[0], 3);
    assert_int_equal (decoded.request->delete_messages->ids[1], INT64_MAX);
    copy = s_repack (decoded.request);
    assert_int_equal (copy->delete_messages->n_ids, 3);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);
    //  An empty list decodes; the state machine refuses it with its reason
    s_decode_ok ("{\"type\":\"chat\",\"method\":\"DELETE\",\"token\":\"t\",\"ids\":[]}",
                 RAFTQ__REQUEST__OP_DELETE_MESSAGES, false, &decoded);
    assert_int_equal (decoded.request->delete_messages->n_ids, 0);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":true}",
                 RAFTQ__REQUEST__OP_STATUS, false, &decoded);
    assert_true (decoded.request->status->with_hash);
    codec_request_clear (&decoded);
    s_decode_ok ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":false}",
                 RAFTQ__REQUEST__OP_STATUS, false, &decoded);
    assert_false (decoded.request->status->with_hash);
    codec_request_clear (&decoded);
}

//  Encodes reply for the JSON request text; checks the exact keys.
static json_t *
s_chat_reply_json (const char *text, const Raftq__Reply *reply, const char *const *keys)
{
    codec_request_t decoded;
    assert_int_equal (s_decode_text (text, &decoded), 0);
    json_t *object = s_encode_json (&decoded, reply);
    codec_request_clear (&decoded);
    s_assert_keys (object, keys);
    return object;
}

static void
test_chat_replies (void **state)
{
    (void)state;
    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    const char *plain[] = {
        "{\"type\":\"account\",\"method\":\"PUT\",\"user\":\"a\",\"password\":\"p\"}",
        "{\"type\":\"account\",\"method\":\"DELETE\",\"token\":\"t\"}",
        "{\"type\":\"login\",\"method\":\"DELETE\",\"token\":\"t\"}",
    };
    for (size_t index = 0; index < 3; index++) {
        json_t *object = s_chat_reply_json (plain[index], &ok, KEYS ("success"));
        assert_true (json_is_true (json_object_get (object, "success")));
        json_decref (object);
    }

    Raftq__UserExists exists = RAFTQ__USER_EXISTS__INIT;
    exists.exists = true;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.result_case = RAFTQ__REPLY__RESULT_USER_EXISTS;
    reply.user_exists = &exists;
    json_t *object = s_chat_reply_json ("{\"type\":\"user\",\"method\":\"GET\",\"user\":\"a\"}",
                                        &reply, KEYS ("success", "exists"));
    assert_true (json_is_true (json_object_get (object, "exists")));
    json_decref (object);

    char *names[] = {"ann", "anna"};
    Raftq__AccountList accounts = RAFTQ__ACCOUNT_LIST__INIT;
    accounts.names = names;
    accounts.n_names = 2;
    accounts.total = 5;
    reply.result_case = RAFTQ__REPLY__RESULT_ACCOUNTS;
    reply.accounts = &accounts;
    object = s_chat_reply_json ("{\"type\":\"account\",\"method\":\"GET\",\"pattern\":\"an*\"}",
                                &reply, KEYS ("success", "accounts", "total"));
    s_assert_integer (object, "total", 5);
    json_t *list = json_object_get (object, "accounts");
    assert_int_equal (json_array_size (list), 2);
    assert_string_equal (json_string_value (json_array_get (list, 1)), "anna");
    json_decref (object);

    Raftq__Session session = RAFTQ__SESSION__INIT;
    session.token = "0123456789abcdef0123456789abcdef";
    session.unread = 4;
    reply.result_case = RAFTQ__REPLY__RESULT_SESSION;
    reply.session = &session;
    object = s_chat_reply_json (
        "{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"a\",\"password\":\"p\"}", &reply,
        KEYS ("success", "token", "unread"));
    s_assert_string (object, "token", session.token);
    s_assert_integer (object, "unread", 4);
    json_decref (object);

    Raftq__MessageSent sent = RAFTQ__MESSAGE_SENT__INIT;
    sent.id = 42;
    sent.ts = 1700000000000;
    reply.result_case = RAFTQ__REPLY__RESULT_SENT;
    reply.sent = &sent;
    object = s_chat_reply_json (
        "{\"type\":\"chat\",\"method\":\"PUT\",\"token\":\"t\",\"to\":\"b\",\"text\":\"x\"}",
        &reply, KEYS ("success", "id"));
    s_assert_integer (object, "id", 42);
    json_decref (object);

    Raftq__ChatMessage first = RAFTQ__CHAT_MESSAGE__INIT, second = RAFTQ__CHAT_MESSAGE__INIT;
    first.id = 1;
    first.from = "bob";
    first.to = "ann";
    first.text = "hello";
    first.ts = 1700000000001;
    second.id = 2;
    second.from = "ann";
    second.to = "bob";
    second.text = "\xff";
    second.read = true;
    Raftq__ChatMessage *messages[] = {&first, &second};
    Raftq__MessagePage page = RAFTQ__MESSAGE_PAGE__INIT;
    page.messages = messages;
    page.n_messages = 2;
    page.total = 10;
    page.remaining = 8;
    reply.result_case = RAFTQ__REPLY__RESULT_PAGE;
    reply.page = &page;
    object = s_chat_reply_json (
        "{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\",\"with\":\"bob\"}", &reply,
        KEYS ("success", "messages", "total", "remaining"));
    s_assert_integer (object, "total", 10);
    s_assert_integer (object, "remaining", 8);
    list = json_object_get (object, "messages");
    assert_int_equal (json_array_size (list), 2);
    json_t *item = json_array_get (list, 0);
    s_assert_keys (item, KEYS ("id", "from", "to", "text", "ts", "read"));
    s_assert_integer (item, "id", 1);
    s_assert_string (item, "from", "bob");
    s_assert_string (item, "to", "ann");
    s_assert_string (item, "text", "hello");
    s_assert_integer (item, "ts", 1700000000001);
    assert_true (json_is_false (json_object_get (item, "read")));
    item = json_array_get (list, 1);
    assert_true (json_is_true (json_object_get (item, "read")));
    s_assert_string (item, "text", "\xef\xbf\xbd");
    json_decref (object);

    Raftq__Deleted deleted = RAFTQ__DELETED__INIT;
    deleted.count = 3;
    reply.result_case = RAFTQ__REPLY__RESULT_DELETED;
    reply.deleted = &deleted;
    object =
        s_chat_reply_json ("{\"type\":\"chat\",\"method\":\"DELETE\",\"token\":\"t\",\"ids\":[1]}",
                           &reply, KEYS ("success", "deleted"));
    s_assert_integer (object, "deleted", 3);
    json_decref (object);

    //  OK without the promised result: the server's bug, said so
    object = s_chat_reply_json ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\"}", &ok,
                                KEYS ("success", "code", "error"));
    s_assert_string (object, "code", "INTERNAL");
    json_decref (object);

    //  Failures are the generic form
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__UNAUTHENTICATED;
    failure.error = "invalid session token: log in again";
    object = s_chat_reply_json ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\"}", &failure,
                                KEYS ("success", "code", "error"));
    s_assert_string (object, "code", "UNAUTHENTICATED");
    json_decref (object);

    //  A replay from before the window says where the window starts
    failure.code = RAFTQ__CODE__NOT_FOUND;
    failure.error = "gone";
    failure.oldest_seq = 17;
    object = s_chat_reply_json (
        "{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"user/a\",\"from\":3}", &failure,
        KEYS ("success", "code", "error", "oldest_seq"));
    s_assert_integer (object, "oldest_seq", 17);
    json_decref (object);
    //  ... and only a replay does
    object = s_chat_reply_json ("{\"type\":\"user\",\"method\":\"GET\",\"user\":\"a\"}", &failure,
                                KEYS ("success", "code", "error"));
    json_decref (object);

    //  Status with the state hash: 16 hex digits, as a string
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    status.id = 1;
    status.state_hash = 0x00ab00cd00ef0012ULL;
    reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
    reply.status = &status;
    object = s_chat_reply_json ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":true}", &reply,
                                KEYS ("role", "term", "id", "leader", "commit_index",
                                      "applied_index", "last_index", "members", "state_hash"));
    s_assert_string (object, "state_hash", "00ab00cd00ef0012");
    json_decref (object);
    object = s_chat_reply_json ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":false}", &reply,
                                KEYS ("role", "term", "id", "leader", "commit_index",
                                      "applied_index", "last_index", "members"));
    json_decref (object);
}

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

//  --------------------------------------------------------------------------
//  JSON replies

static void
test_strict_replies (void **state)
{
    (void)state;
    codec_request_t decoded;
    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    ok.index = 12;
    ok.seq = 4;

    s_decode_ok ("{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"a\"}",
                 RAFTQ__REQUEST__OP_CREATE_TOPIC, true, &decoded);
    char *text = s_encode (&decoded, &ok);
    assert_string_equal (text, "{\"success\":true}");
    free (text);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"a\",\"message\":\"m\"}",
                 RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    Raftq__Reply published = RAFTQ__REPLY__INIT;
    Raftq__Published sequence = RAFTQ__PUBLISHED__INIT;
    sequence.topic = "a";
    sequence.sequence = 5;
    published.result_case = RAFTQ__REPLY__RESULT_PUBLISHED;
    published.published = &sequence;
    text = s_encode (&decoded, &published);
    assert_string_equal (text, "{\"success\":true}");
    free (text);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"topic\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_LIST_TOPICS, true,
                 &decoded);
    Raftq__Reply topics = RAFTQ__REPLY__INIT;
    Raftq__TopicList list = RAFTQ__TOPIC_LIST__INIT;
    char *names[] = {"b", "a", "caf\xc3\xa9"};
    list.names = names;
    list.n_names = 3;
    topics.result_case = RAFTQ__REPLY__RESULT_TOPICS;
    topics.topics = &list;
    text = s_encode (&decoded, &topics);
    assert_string_equal (text, "{\"success\":true,\"topics\":[\"b\",\"a\",\"caf\xc3\xa9\"]}");
    free (text);
    //  No topic yet: an empty list, still the same keys.
    text = s_encode (&decoded, &ok);
    assert_string_equal (text, "{\"success\":true,\"topics\":[]}");
    free (text);
    codec_request_clear (&decoded);

    s_decode_ok ("{\"type\":\"message\",\"method\":\"GET\",\"topic\":\"a\"}",
                 RAFTQ__REQUEST__OP_POP, true, &decoded);
    Raftq__Reply pop = RAFTQ__REPLY__INIT;
    Raftq__Popped popped = RAFTQ__POPPED__INIT;
    popped.topic = "a";
    popped.payload.data = (uint8_t *)"hello \"world\"";
    popped.payload.len = 13;
    pop.result_case = RAFTQ__REPLY__RESULT_POPPED;
    pop.popped = &popped;
    text = s_encode (&decoded, &pop);
    assert_string_equal (text, "{\"success\":true,\"message\":\"hello \\\"world\\\"\"}");
    free (text);
    //  A success without the message cannot keep the contract's promise.
    text = s_encode (&decoded, &ok);
    assert_string_equal (text, "{\"success\":false}");
    free (text);

    //  Every failure of every strict request is exactly {"success":false}.
    const Raftq__Code codes[] = {RAFTQ__CODE__NOT_LEADER, RAFTQ__CODE__NO_LEADER,
                                 RAFTQ__CODE__NOT_FOUND,  RAFTQ__CODE__EMPTY,
                                 RAFTQ__CODE__TIMEOUT,    RAFTQ__CODE__ALREADY_EXISTS};
    for (size_t index = 0; index < sizeof codes / sizeof codes[0]; index++) {
        Raftq__Reply failure = RAFTQ__REPLY__INIT;
        failure.code = codes[index];
        failure.error = "something";
        failure.leader_id = 3;
        failure.leader_endpoint = "tcp://127.0.0.1:5503";
        text = s_encode (&decoded, &failure);
        assert_string_equal (text, "{\"success\":false}");
        free (text);
    }
    codec_request_clear (&decoded);

    //  Strict is known even when the rest of the request is bad.
    const char *bad[] = {
        "{\"type\":\"topic\",\"method\":\"PUT\"}",
        "{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":5}",
        "{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"a\\u0000b\"}",
        "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"a\"}",
        "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"a\",\"message\":{}}",
        "{\"type\":\"message\",\"method\":\"GET\",\"topic\":null}",
        "{\"type\":\"topic\",\"method\":\"GET\",\"seq\":-1}",
        "{\"type\":\"topic\",\"method\":\"GET\",\"client_id\":1.5}",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        assert_int_equal (s_decode_text (bad[index], &decoded), -1);
        assert_true (decoded.strict);
        assert_null (decoded.request);
        assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
        text = s_encode (&decoded, NULL);
        assert_string_equal (text, "{\"success\":false}");
        free (text);
        Raftq__Reply failure = RAFTQ__REPLY__INIT;
        failure.code = RAFTQ__CODE__INVALID_ARGUMENT;
        failure.error = decoded.error;
        text = s_encode (&decoded, &failure);
        assert_string_equal (text, "{\"success\":false}");
        free (text);
        codec_request_clear (&decoded);
    }
}

static void
test_status_reply (void **state)
{
    (void)state;
    codec_request_t decoded;
    s_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                 &decoded);
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    uint32_t members[] = {1, 2, 3, 4, 5};
    status.id = 2;
    status.role = RAFTQ__ROLE__LEADER;
    status.term = 7;
    status.leader_id = 2;
    status.commit_index = 100;
    status.applied_index = 99;
    status.last_index = 101;
    status.members = members;
    status.n_members = 5;
    reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
    reply.status = &status;
    char *text = s_encode (&decoded, &reply);
    assert_string_equal (text, "{\"role\":\"Leader\",\"term\":7,\"id\":2,\"leader\":2,"
                               "\"commit_index\":100,\"applied_index\":99,\"last_index\":101,"
                               "\"members\":[1,2,3,4,5]}");
    free (text);

    const struct {
        Raftq__Role role;
        const char *name;
    } roles[] = {
        {RAFTQ__ROLE__FOLLOWER, "Follower"},
        {RAFTQ__ROLE__CANDIDATE, "Candidate"},
        {RAFTQ__ROLE__LEADER, "Leader"},
    };
    status.leader_id = 0;
    status.n_members = 0;
    for (size_t index = 0; index < 3; index++) {
        status.role = roles[index].role;
        json_t *object = s_encode_json (&decoded, &reply);
        s_assert_keys (object, KEYS ("role", "term", "id", "leader", "commit_index",
                                     "applied_index", "last_index", "members"));
        s_assert_string (object, "role", roles[index].name);
        assert_true (json_is_null (json_object_get (object, "leader")));
        assert_int_equal (json_array_size (json_object_get (object, "members")), 0);
        json_decref (object);
    }

    //  A failed status answer is the generic failure.
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__UNAVAILABLE;
    failure.error = "shutting down";
    json_t *object = s_encode_json (&decoded, &failure);
    s_assert_keys (object, KEYS ("success", "code", "error"));
    s_assert_string (object, "code", "UNAVAILABLE");
    s_assert_string (object, "error", "shutting down");
    json_decref (object);

    //  "OK" without a status is the server's bug, said so, not a fake status.
    Raftq__Reply hollow = RAFTQ__REPLY__INIT;
    object = s_encode_json (&decoded, &hollow);
    s_assert_keys (object, KEYS ("success", "code", "error"));
    s_assert_string (object, "code", "INTERNAL");
    json_decref (object);
    codec_request_clear (&decoded);
}

//  A request that must be refused with INVALID_ARGUMENT, naming key.
static void
s_refused (const char *text, const char *key)
{
    codec_request_t decoded;
    assert_int_equal (s_decode_text (text, &decoded), -1);
    assert_null (decoded.request);
    assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
    if (!strstr (decoded.error, key))
        fail_msg ("error for %s does not name %s: %s", text, key, decoded.error);
    codec_request_clear (&decoded);
}

static void
test_status_detail (void **state)
{
    (void)state;
    codec_request_t plain, detailed;
    s_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                 &plain);
    assert_false (plain.request->status->detail);
    s_decode_ok ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":true,\"hash\":false}",
                 RAFTQ__REQUEST__OP_STATUS, false, &detailed);
    assert_true (detailed.request->status->detail);
    Raftq__Request *copy = s_repack (detailed.request);
    assert_true (copy->status->detail);
    raftq__request__free_unpacked (copy, NULL);
    s_refused ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":\"yes\"}", "detail");
    s_refused ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":1}", "detail");
    s_refused ("{\"type\":\"status\",\"method\":\"GET\",\"detail\":null}", "detail");

    //  Node 2 leads node 1 (a voter, 3 behind) and learner 3 (not heard of)
    Raftq__MemberStatus members[3];
    Raftq__MemberStatus *pointers[3] = {&members[0], &members[1], &members[2]};
    for (size_t index = 0; index < 3; index++) {
        raftq__member_status__init (&members[index]);
        members[index].id = (uint32_t)index + 1;
        members[index].voter = index < 2;
        members[index].host = "127.0.0.1";
        members[index].client_port = 5501 + (uint32_t)index;
        members[index].peer_port = 5601 + (uint32_t)index;
        members[index].pub_port = index == 2 ? 0 : 5701 + (uint32_t)index;
    }
    members[0].replication_known = true;
    members[0].match_index = 98;
    members[0].lag = 3;
    members[1].replication_known = true;
    members[1].match_index = 101;
    Raftq__StatusDetail detail = RAFTQ__STATUS_DETAIL__INIT;
    detail.members = pointers;
    detail.n_members = 3;
    detail.config_index = 12;
    detail.snapshot_index = 80;
    detail.snapshot_term = 6;
    detail.first_index = 41;
    detail.log_bytes = 123456;
    detail.snapshot_bytes = 7890;
    uint32_t ids[] = {1, 2};
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    status.id = 2;
    status.role = RAFTQ__ROLE__LEADER;
    status.term = 7;
    status.leader_id = 2;
    status.commit_index = 100;
    status.applied_index = 99;
    status.last_index = 101;
    status.members = ids;
    status.n_members = 2;
    status.detail = &detail;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
    reply.status = &status;

    //  Not asked: exactly the contract's keys, whatever the node sent
    json_t *object = s_encode_json (&plain, &reply);
    s_assert_keys (object, KEYS ("role", "term", "id", "leader", "commit_index", "applied_index",
                                 "last_index", "members"));
    json_decref (object);

    object = s_encode_json (&detailed, &reply);
    s_assert_keys (object,
                   KEYS ("role", "term", "id", "leader", "commit_index", "applied_index",
                         "last_index", "members", "config_index", "snapshot_index", "snapshot_term",
                         "first_index", "log_bytes", "snapshot_bytes", "member_detail"));
    s_assert_integer (object, "config_index", 12);
    s_assert_integer (object, "snapshot_index", 80);
    s_assert_integer (object, "snapshot_term", 6);
    s_assert_integer (object, "first_index", 41);
    s_assert_integer (object, "log_bytes", 123456);
    s_assert_integer (object, "snapshot_bytes", 7890);
    json_t *listed = json_object_get (object, "member_detail");
    assert_int_equal (json_array_size (listed), 3);
    for (size_t index = 0; index < 3; index++) {
        json_t *member = json_array_get (listed, index);
        s_assert_keys (member, KEYS ("id", "role", "host", "client_port", "peer_port", "pub_port",
                                     "match_index", "lag"));
        s_assert_integer (member, "id", (json_int_t)index + 1);
        s_assert_string (member, "role", index < 2 ? "voter" : "learner");
        s_assert_string (member, "host", "127.0.0.1");
        s_assert_integer (member, "client_port", 5501 + (json_int_t)index);
        s_assert_integer (member, "peer_port", 5601 + (json_int_t)index);
        s_assert_integer (member, "pub_port", index == 2 ? 0 : 5701 + (json_int_t)index);
    }
    s_assert_integer (json_array_get (listed, 0), "match_index", 98);
    s_assert_integer (json_array_get (listed, 0), "lag", 3);
    s_assert_integer (json_array_get (listed, 1), "match_index", 101);
    s_assert_integer (json_array_get (listed, 1), "lag", 0);
    assert_true (json_is_null (json_object_get (json_array_get (listed, 2), "match_index")));
    assert_true (json_is_null (json_object_get (json_array_get (listed, 2), "lag")));
    json_decref (object);

    //  The detail travels in protobuf too
    size_t size;
    detailed.dialect = CODEC_PROTOBUF;
    uint8_t *body = codec_reply_encode (&detailed, &reply, &size);
    assert_non_null (body);
    Raftq__Reply *unpacked = raftq__reply__unpack (NULL, size, body);
    free (body);
    assert_non_null (unpacked);
    assert_non_null (unpacked->status->detail);
    assert_int_equal (unpacked->status->detail->n_members, 3);
    assert_true (unpacked->status->detail->members[1]->replication_known);
    assert_false (unpacked->status->detail->members[2]->voter);
    assert_int_equal (unpacked->status->detail->log_bytes, 123456);
    raftq__reply__free_unpacked (unpacked, NULL);
    detailed.dialect = CODEC_JSON;

    //  A node that sent no detail (older) leaves the keys out
    status.detail = NULL;
    object = s_encode_json (&detailed, &reply);
    s_assert_keys (object, KEYS ("role", "term", "id", "leader", "commit_index", "applied_index",
                                 "last_index", "members"));
    json_decref (object);
    codec_request_clear (&plain);
    codec_request_clear (&detailed);
}

static void
test_take_snapshot (void **state)
{
    (void)state;
    codec_request_t decoded;
    s_decode_ok ("{\"type\":\"snapshot\",\"method\":\"POST\",\"client_id\":5,\"seq\":2}",
                 RAFTQ__REQUEST__OP_TAKE_SNAPSHOT, false, &decoded);
    assert_non_null (decoded.request->take_snapshot);
    Raftq__Request *copy = s_repack (decoded.request);
    assert_non_null (copy->take_snapshot);
    raftq__request__free_unpacked (copy, NULL);

    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.index = 4242;
    char *text = s_encode (&decoded, &reply);
    assert_string_equal (text, "{\"success\":true,\"index\":4242}");
    free (text);

    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__UNAVAILABLE;
    failure.error = "a snapshot is being written";
    json_t *object = s_encode_json (&decoded, &failure);
    s_assert_keys (object, KEYS ("success", "code", "error"));
    assert_true (json_is_false (json_object_get (object, "success")));
    s_assert_string (object, "code", "UNAVAILABLE");
    json_decref (object);
    codec_request_clear (&decoded);

    //  Other methods are no operation at all
    const char *wrong[] = {"{\"type\":\"snapshot\",\"method\":\"GET\"}",
                           "{\"type\":\"snapshot\",\"method\":\"post\"}",
                           "{\"type\":\"snapshot\",\"method\":7}"};
    for (size_t index = 0; index < sizeof (wrong) / sizeof (wrong[0]); index++) {
        assert_int_equal (s_decode_text (wrong[index], &decoded), -1);
        assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
        codec_request_clear (&decoded);
    }
}

static void
test_generic_replies (void **state)
{
    (void)state;
    codec_request_t decoded;
    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    const char *admin[] = {
        "{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"127.0.0.1\","
        "\"client_port\":5506,\"peer_port\":5606}",
        "{\"type\":\"node\",\"method\":\"DELETE\",\"id\":6}",
        "{\"type\":\"leader\",\"method\":\"PUT\",\"id\":1}",
    };
    for (size_t index = 0; index < 3; index++) {
        assert_int_equal (s_decode_text (admin[index], &decoded), 0);
        char *text = s_encode (&decoded, &ok);
        assert_string_equal (text, "{\"success\":true}");
        free (text);
        codec_request_clear (&decoded);
    }

    //  Failures: code name, text, and the leader hint for NOT_LEADER only.
    s_decode_ok ("{\"type\":\"leader\",\"method\":\"PUT\",\"id\":1}",
                 RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, false, &decoded);
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__NOT_LEADER;
    failure.error = "not the leader";
    failure.leader_id = 3;
    failure.leader_endpoint = "tcp://127.0.0.1:5503";
    char *text = s_encode (&decoded, &failure);
    assert_string_equal (text, "{\"success\":false,\"code\":\"NOT_LEADER\",\"error\":"
                               "\"not the leader\",\"leader\":{\"id\":3,\"endpoint\":"
                               "\"tcp://127.0.0.1:5503\"}}");
    free (text);
    failure.leader_id = 0;
    json_t *object = s_encode_json (&decoded, &failure);
    s_assert_keys (object, KEYS ("success", "code", "error"));
    json_decref (object);
    //  A hint on another code is not shown; an empty text gets a default.
    failure.code = RAFTQ__CODE__NOT_FOUND;
    failure.leader_id = 3;
    failure.error = "";
    object = s_encode_json (&decoded, &failure);
    s_assert_keys (object, KEYS ("success", "code", "error"));
    assert_true (json_is_false (json_object_get (object, "success")));
    s_assert_string (object, "code", "NOT_FOUND");
    s_assert_string (object, "error", "not found");
    json_decref (object);
    codec_request_clear (&decoded);

    //  Replay: the events as codec_event_json writes them.
    s_decode_ok ("{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"topic/q\",\"from\":1}",
                 RAFTQ__REQUEST__OP_REPLAY, false, &decoded);
    Raftq__Event first = RAFTQ__EVENT__INIT, second = RAFTQ__EVENT__INIT;
    first.stream = second.stream = "topic/q";
    first.kind = second.kind = "publish";
    first.topic = second.topic = "q";
    first.seq = 1;
    first.index = 10;
    first.message.data = (uint8_t *)"one";
    first.message.len = 3;
    second.seq = 2;
    second.index = 11;
    Raftq__Event *list[] = {&first, &second};
    Raftq__EventList events = RAFTQ__EVENT_LIST__INIT;
    events.events = list;
    events.n_events = 2;
    Raftq__Reply replay = RAFTQ__REPLY__INIT;
    replay.result_case = RAFTQ__REPLY__RESULT_EVENTS;
    replay.events = &events;
    object = s_encode_json (&decoded, &replay);
    s_assert_keys (object, KEYS ("success", "events"));
    json_t *array = json_object_get (object, "events");
    assert_int_equal (json_array_size (array), 2);
    for (size_t index = 0; index < 2; index++) {
        json_t *event = json_array_get (array, index);
        s_assert_keys (event, KEYS ("stream", "seq", "index", "kind", "topic", "message"));
        s_assert_integer (event, "seq", (json_int_t)index + 1);
        s_assert_integer (event, "index", (json_int_t)index + 10);
        s_assert_string (event, "message", index ? "" : "one");
        char *alone = codec_event_json (list[index]);
        json_t *parsed = json_loads (alone, 0, NULL);
        assert_true (json_equal (parsed, event));
        json_decref (parsed);
        free (alone);
    }
    json_decref (object);
    text = s_encode (&decoded, &ok);
    assert_string_equal (text, "{\"success\":true,\"events\":[]}");
    free (text);
    codec_request_clear (&decoded);

    //  A JSON body that did not decode: the decoder's code and text.
    assert_int_equal (s_decode_text ("{\"type\":\"nope\",\"method\":\"GET\"}", &decoded), -1);
    assert_false (decoded.strict);
    text = s_encode (&decoded, NULL);
    assert_string_equal (text, "{\"success\":false,\"code\":\"INVALID_ARGUMENT\","
                               "\"error\":\"unknown operation: nope GET\"}");
    free (text);
    text = s_encode (&decoded, &ok);
    assert_string_equal (text, "{\"success\":false,\"code\":\"INVALID_ARGUMENT\","
                               "\"error\":\"unknown operation: nope GET\"}");
    free (text);
    codec_request_clear (&decoded);

    //  A request but no reply: said to be internal, never a success.
    s_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                 &decoded);
    object = s_encode_json (&decoded, NULL);
    s_assert_string (object, "code", "INTERNAL");
    json_decref (object);
    codec_request_clear (&decoded);
}

static void
test_event_json (void **state)
{
    (void)state;
    Raftq__Event event = RAFTQ__EVENT__INIT;
    event.stream = "topic/q";
    event.seq = 3;
    event.index = 40;
    event.kind = "publish";
    event.topic = "q";
    event.message.data = (uint8_t *)"hi";
    event.message.len = 2;
    char *text = codec_event_json (&event);
    assert_string_equal (text,
                         "{\"stream\":\"topic/q\",\"seq\":3,\"index\":40,\"kind\":\"publish\","
                         "\"topic\":\"q\",\"message\":\"hi\"}");
    free (text);

    //  Bytes that are not UTF-8 become U+FFFD one by one; NUL is escaped;
    //  an overlong form and a lone surrogate are not UTF-8 either.
    uint8_t payload[] = {'a', 0xff, 0x00, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xe2, 0x82, 0xac, 0xe2};
    event.message.data = payload;
    event.message.len = sizeof payload;
    text = codec_event_json (&event);
    json_t *object = json_loads (text, JSON_ALLOW_NUL, NULL);
    free (text);
    assert_non_null (object);
    json_t *message = json_object_get (object, "message");
    const char *expected = "a\xef\xbf\xbd\0\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                           "\xef\xbf\xbd\xe2\x82\xac\xef\xbf\xbd";
    size_t expected_size = 1 + 3 + 1 + 3 * 5 + 3 + 3;
    assert_int_equal (json_string_length (message), expected_size);
    assert_memory_equal (json_string_value (message), expected, expected_size);
    json_decref (object);

    //  A deletion always names its ids (DESIGN 6), even none.
    Raftq__Event other = RAFTQ__EVENT__INIT;
    other.stream = "user/ann";
    other.seq = 1;
    other.index = 2;
    other.kind = "delete";
    text = codec_event_json (&other);
    assert_string_equal (
        text, "{\"stream\":\"user/ann\",\"seq\":1,\"index\":2,\"kind\":\"delete\",\"ids\":[]}");
    free (text);
    uint64_t ids[] = {4, 9, 9007199254740993ULL};
    other.ids = ids;
    other.n_ids = 3;
    text = codec_event_json (&other);
    assert_string_equal (text, "{\"stream\":\"user/ann\",\"seq\":1,\"index\":2,\"kind\":"
                               "\"delete\",\"ids\":[4,9,9007199254740993]}");
    free (text);

    //  A chat message: id, from, to, text, ts, and nothing of a publish.
    Raftq__Event chat = RAFTQ__EVENT__INIT;
    chat.stream = "conv/ann/bob";
    chat.seq = 12;
    chat.index = 77;
    chat.kind = "message";
    chat.id = 5;
    chat.from = "bob";
    chat.to = "ann";
    chat.text = "h\xc3\xa9llo \"you\"\n";
    chat.ts = 1700000000123;
    text = codec_event_json (&chat);
    assert_string_equal (text, "{\"stream\":\"conv/ann/bob\",\"seq\":12,\"index\":77,\"kind\":"
                               "\"message\",\"id\":5,\"from\":\"bob\",\"to\":\"ann\",\"text\":"
                               "\"h\xc3\xa9llo \\\"you\\\"\\n\",\"ts\":1700000000123}");
    free (text);

    //  Another kind: the generic keys, plus only what is set.
    Raftq__Event gone = RAFTQ__EVENT__INIT;
    gone.stream = "user/ann";
    gone.seq = 2;
    gone.index = 3;
    gone.kind = "account_deleted";
    text = codec_event_json (&gone);
    assert_string_equal (
        text, "{\"stream\":\"user/ann\",\"seq\":2,\"index\":3,\"kind\":\"account_deleted\"}");
    free (text);
    assert_null (codec_event_json (NULL));
}

static void
test_code_names (void **state)
{
    (void)state;
    const char *names[] = {
        "OK",      "NOT_LEADER",       "NO_LEADER",       "NOT_FOUND",         "ALREADY_EXISTS",
        "EMPTY",   "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "TOO_LARGE",
        "TIMEOUT", "UNAVAILABLE",      "INTERNAL"};
    for (int code = 0; code < 13; code++) {
        assert_string_equal (codec_code_name ((Raftq__Code)code), names[code]);
        //  Same spelling as the protobuf enum itself.
        const ProtobufCEnumValue *value =
            protobuf_c_enum_descriptor_get_value (&raftq__code__descriptor, code);
        assert_non_null (value);
        assert_string_equal (value->name, names[code]);
    }
    assert_string_equal (codec_code_name ((Raftq__Code)13), "UNKNOWN");
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
            s_assert_keys (object, KEYS ("success"));
        else
            s_assert_keys (object, KEYS ("success", "code", "error"));
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

static void
test_hostile_inputs (void **state)
{
    (void)state;
    char *deep = s_repeat ("{\"type\":", "[", 100000, "");
    char *deep_objects = s_repeat ("", "{\"a\":", 5000, "1");
    char *long_type = s_repeat ("{\"type\":\"", "x", 100000, "\",\"method\":\"GET\"}");
    static const char with_nul[] = "{\"type\":\"topic\",\"method\":\"GET\"\0}";
    const hostile_case_t cases[] = {
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
        {"{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":\"a\\u0000\"}", 0,
         false, "key \"password\" must not contain a NUL character"},
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
        {"{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"client_port\":5,\"peer_port\":6}", 0,
         false, "missing string key \"host\""},
        {"{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"s\",\"limit\":1e3}", 0, false,
         "key \"limit\" must be an integer from 0 to 4294967295"},
        {"{\"type\":\"status\",\"method\":\"GET\",\"seq\":-1}", 0, false,
         "key \"seq\" must be an integer from 0 to 9223372036854775807"},
        {"{\"type\":\"status\",\"method\":\"GET\",\"client_id\":1e999}", 0, false,
         "malformed JSON at column "},
        {deep, 0, false, "malformed JSON at column "},
        {deep_objects, 0, false, "malformed JSON at column "},
        {long_type, 0, false, "unknown operation: xxxxxxxx"},
        {with_nul, sizeof with_nul - 1, false, "malformed JSON at column "},
        {"[1,2,3]", 0, false, "malformed protobuf request"},
        {"\x08\x01", 0, false, "no operation"},
        {" {\"type\":\"status\",\"method\":\"GET\"}", 0, false, "malformed protobuf request"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        const hostile_case_t *test = &cases[index];
        size_t size = test->size ? test->size : strlen (test->body);
        codec_request_t decoded;
        if (codec_request_decode ((const uint8_t *)test->body, size, &decoded) != -1)
            fail_msg ("case %zu accepted: %.80s", index, test->body);
        assert_null (decoded.request);
        assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
        if (decoded.strict != test->strict)
            fail_msg ("case %zu: strict is %d", index, decoded.strict);
        if (strncmp (decoded.error, test->error, strlen (test->error)) != 0)
            fail_msg ("case %zu: error \"%s\", expected \"%s...\"", index, decoded.error,
                      test->error);
        s_check_failure_reply (&decoded);
        codec_request_clear (&decoded);
    }
    free (deep);
    free (deep_objects);
    free (long_type);

    //  A huge but valid topic name is the server's to judge, not the codec's.
    char *huge =
        s_repeat ("{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"", "t", 1 << 20, "\"}");
    codec_request_t decoded;
    s_decode_ok (huge, RAFTQ__REQUEST__OP_CREATE_TOPIC, true, &decoded);
    assert_int_equal (strlen (decoded.request->create_topic->name), 1 << 20);
    codec_request_clear (&decoded);
    free (huge);
}

//  Random bodies: bytes, mutated JSON requests and mutated protobuf
//  requests. Whatever comes in, decode either yields a request or an
//  INVALID_ARGUMENT, and both a success and a failure reply encode.
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
    size_t packed_size = raftq__request__pack (&request, packed);

    uint8_t body[256];
    int accepted = 0, refused = 0;
    for (int iteration = 0; iteration < 5000; iteration++) {
        size_t size;
        int shape = rand_r (&random_state) % 3;
        if (shape == 0) {
            size = (size_t)rand_r (&random_state) % sizeof body;
            for (size_t index = 0; index < size; index++)
                body[index] = (uint8_t)rand_r (&random_state);
            if (size && rand_r (&random_state) % 2)
                body[0] = '{';
        } else {
            const uint8_t *source =
                shape == 1 ? (const uint8_t *)templates[rand_r (&random_state) % 5] : packed;
            size = shape == 1 ? strlen ((const char *)source) : packed_size;
            memcpy (body, source, size);
            int mutations = 1 + rand_r (&random_state) % 4;
            for (int mutation = 0; mutation < mutations && size; mutation++) {
                size_t where = (size_t)rand_r (&random_state) % size;
                int how = rand_r (&random_state) % 3;
                if (how == 0)
                    body[where] = (uint8_t)rand_r (&random_state);
                else if (how == 1)
                    size = where + 1; //  truncate
                else
                    body[where] ^= (uint8_t)(1 << (rand_r (&random_state) % 8));
            }
        }
        codec_request_t decoded;
        int rc = codec_request_decode (body, size, &decoded);
        if (rc == 0)
            accepted++;
        else
            refused++;
        if (rc == 0) {
            if (!decoded.request)
                fail_msg ("seed %u iteration %d: success without request", seed, iteration);
            Raftq__Reply ok = RAFTQ__REPLY__INIT;
            size_t reply_size;
            uint8_t *reply = codec_reply_encode (&decoded, &ok, &reply_size);
            if (!reply)
                fail_msg ("seed %u iteration %d: no reply", seed, iteration);
            free (reply);
        } else if (decoded.request || decoded.error_code != RAFTQ__CODE__INVALID_ARGUMENT ||
                   !decoded.error[0])
            fail_msg ("seed %u iteration %d: bad failure (code %d, \"%s\")", seed, iteration,
                      decoded.error_code, decoded.error);
        Raftq__Reply failure = RAFTQ__REPLY__INIT;
        failure.code = RAFTQ__CODE__NOT_LEADER;
        failure.leader_id = 2;
        failure.leader_endpoint = "tcp://127.0.0.1:5502";
        size_t reply_size;
        uint8_t *reply = codec_reply_encode (&decoded, &failure, &reply_size);
        if (!reply)
            fail_msg ("seed %u iteration %d: no failure reply", seed, iteration);
        if (decoded.dialect == CODEC_JSON) {
            json_t *object = json_loadb ((const char *)reply, reply_size, 0, NULL);
            if (!json_is_false (json_object_get (object, "success")))
                fail_msg ("seed %u iteration %d: reply %.*s", seed, iteration, (int)reply_size,
                          reply);
            json_decref (object);
        }
        free (reply);
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
        cmocka_unit_test (test_json_queue_operations),
        cmocka_unit_test (test_json_admin_operations),
        cmocka_unit_test (test_json_common_keys),
        cmocka_unit_test (test_protobuf_round_trip),
        cmocka_unit_test (test_protobuf_errors),
        cmocka_unit_test (test_strict_replies),
        cmocka_unit_test (test_status_reply),
        cmocka_unit_test (test_status_detail),
        cmocka_unit_test (test_take_snapshot),
        cmocka_unit_test (test_generic_replies),
        cmocka_unit_test (test_event_json),
        cmocka_unit_test (test_json_chat_operations),
        cmocka_unit_test (test_chat_replies),
        cmocka_unit_test (test_code_names),
        cmocka_unit_test (test_hostile_inputs),
        cmocka_unit_test (test_fuzz),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
