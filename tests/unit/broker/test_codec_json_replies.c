/*  test_codec_json_replies — every other JSON reply shape with its exact
    keys: the four RRMQ requests, generic successes and failures, chat
    replies, and events as DESIGN 6 prints them.
*/

#include "test_codec_checks.h"

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

    check_decode_ok ("{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"a\"}",
                     RAFTQ__REQUEST__OP_CREATE_TOPIC, true, &decoded);
    check_encoded (&decoded, &ok, "{\"success\":true}");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"a\",\"message\":\"m\"}",
                     RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    Raftq__Reply published = RAFTQ__REPLY__INIT;
    Raftq__Published sequence = RAFTQ__PUBLISHED__INIT;
    sequence.topic = "a";
    sequence.sequence = 5;
    published.result_case = RAFTQ__REPLY__RESULT_PUBLISHED;
    published.published = &sequence;
    check_encoded (&decoded, &published, "{\"success\":true}");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"topic\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_LIST_TOPICS,
                     true, &decoded);
    Raftq__Reply topics = RAFTQ__REPLY__INIT;
    Raftq__TopicList list = RAFTQ__TOPIC_LIST__INIT;
    char *names[] = {"b", "a", "caf\xc3\xa9"};
    list.names = names;
    list.n_names = 3;
    topics.result_case = RAFTQ__REPLY__RESULT_TOPICS;
    topics.topics = &list;
    check_encoded (&decoded, &topics,
                   "{\"success\":true,\"topics\":[\"b\",\"a\",\"caf\xc3\xa9\"]}");
    //  No topic yet: an empty list, still the same keys.
    check_encoded (&decoded, &ok, "{\"success\":true,\"topics\":[]}");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"message\",\"method\":\"GET\",\"topic\":\"a\"}",
                     RAFTQ__REQUEST__OP_POP, true, &decoded);
    Raftq__Reply pop = RAFTQ__REPLY__INIT;
    Raftq__Popped popped = RAFTQ__POPPED__INIT;
    popped.topic = "a";
    popped.payload.data = (uint8_t *)"hello \"world\"";
    popped.payload.len = 13;
    pop.result_case = RAFTQ__REPLY__RESULT_POPPED;
    pop.popped = &popped;
    check_encoded (&decoded, &pop, "{\"success\":true,\"message\":\"hello \\\"world\\\"\"}");
    //  A success without the message cannot keep the contract's promise.
    check_encoded (&decoded, &ok, "{\"success\":false}");

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
        check_encoded (&decoded, &failure, "{\"success\":false}");
    }
    codec_request_clear (&decoded);
}

static void
test_strict_bad_requests (void **state)
{
    (void)state;
    codec_request_t decoded;
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
        assert_int_equal (check_decode_text (bad[index], &decoded), -1);
        assert_true (decoded.strict);
        assert_null (decoded.request);
        assert_int_equal (decoded.error_code, RAFTQ__CODE__INVALID_ARGUMENT);
        check_encoded (&decoded, NULL, "{\"success\":false}");
        Raftq__Reply failure = RAFTQ__REPLY__INIT;
        failure.code = RAFTQ__CODE__INVALID_ARGUMENT;
        failure.error = decoded.error;
        check_encoded (&decoded, &failure, "{\"success\":false}");
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
        assert_int_equal (check_decode_text (admin[index], &decoded), 0);
        check_encoded (&decoded, &ok, "{\"success\":true}");
        codec_request_clear (&decoded);
    }

    //  Failures: code name, text, and the leader hint for NOT_LEADER only.
    check_decode_ok ("{\"type\":\"leader\",\"method\":\"PUT\",\"id\":1}",
                     RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, false, &decoded);
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__NOT_LEADER;
    failure.error = "not the leader";
    failure.leader_id = 3;
    failure.leader_endpoint = "tcp://127.0.0.1:5503";
    check_encoded (&decoded, &failure,
                   "{\"success\":false,\"code\":\"NOT_LEADER\",\"error\":"
                   "\"not the leader\",\"leader\":{\"id\":3,\"endpoint\":"
                   "\"tcp://127.0.0.1:5503\"}}");
    failure.leader_id = 0;
    json_t *object = check_encode_json (&decoded, &failure);
    check_keys (object, KEYS ("success", "code", "error"));
    json_decref (object);
    //  A hint on another code is not shown; an empty text gets a default.
    failure.code = RAFTQ__CODE__NOT_FOUND;
    failure.leader_id = 3;
    failure.error = "";
    object = check_encode_json (&decoded, &failure);
    check_keys (object, KEYS ("success", "code", "error"));
    assert_true (json_is_false (json_object_get (object, "success")));
    check_string (object, "code", "NOT_FOUND");
    check_string (object, "error", "not found");
    json_decref (object);
    codec_request_clear (&decoded);
}

static void
test_replay_reply (void **state)
{
    (void)state;
    codec_request_t decoded;
    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    json_t *object;
    //  Replay: the events as codec_event_json writes them.
    check_decode_ok ("{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"topic/q\",\"from\":1}",
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
    object = check_encode_json (&decoded, &replay);
    check_keys (object, KEYS ("success", "events"));
    json_decref (object);
    //  With where the stream is now, as every current node says
    replay.next_seq = 3;
    object = check_encode_json (&decoded, &replay);
    check_keys (object, KEYS ("success", "events", "next_seq"));
    check_integer (object, "next_seq", 3);
    json_t *array = json_object_get (object, "events");
    assert_int_equal (json_array_size (array), 2);
    for (size_t index = 0; index < 2; index++) {
        json_t *event = json_array_get (array, index);
        check_keys (event, KEYS ("stream", "seq", "index", "kind", "topic", "message"));
        check_integer (event, "seq", (json_int_t)index + 1);
        check_integer (event, "index", (json_int_t)index + 10);
        check_string (event, "message", index ? "" : "one");
        char *alone = codec_event_json (list[index]);
        json_t *parsed = json_loads (alone, 0, NULL);
        assert_true (json_equal (parsed, event));
        json_decref (parsed);
        free (alone);
    }
    json_decref (object);
    check_encoded (&decoded, &ok, "{\"success\":true,\"events\":[]}");
    codec_request_clear (&decoded);
}

static void
test_replies_without_request (void **state)
{
    (void)state;
    codec_request_t decoded;
    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    json_t *object;
    //  A JSON body that did not decode: the decoder's code and text.
    assert_int_equal (check_decode_text ("{\"type\":\"nope\",\"method\":\"GET\"}", &decoded), -1);
    assert_false (decoded.strict);
    check_encoded (&decoded, NULL,
                   "{\"success\":false,\"code\":\"INVALID_ARGUMENT\","
                   "\"error\":\"unknown operation: nope GET\"}");
    check_encoded (&decoded, &ok,
                   "{\"success\":false,\"code\":\"INVALID_ARGUMENT\","
                   "\"error\":\"unknown operation: nope GET\"}");
    codec_request_clear (&decoded);

    //  A request but no reply: said to be internal, never a success.
    check_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                     &decoded);
    object = check_encode_json (&decoded, NULL);
    check_string (object, "code", "INTERNAL");
    json_decref (object);
    codec_request_clear (&decoded);
}

//  An event with the keys every kind has.
static Raftq__Event
s_event (const char *stream, uint64_t seq, uint64_t index, const char *kind)
{
    Raftq__Event event = RAFTQ__EVENT__INIT;
    event.stream = (char *)stream;
    event.seq = seq;
    event.index = index;
    event.kind = (char *)kind;
    return event;
}

//  The event prints as exactly expected.
static void
s_check_event (const Raftq__Event *event, const char *expected)
{
    char *text = codec_event_json (event);
    assert_string_equal (text, expected);
    free (text);
}

static void
test_event_json (void **state)
{
    (void)state;
    Raftq__Event event = s_event ("topic/q", 3, 40, "publish");
    event.topic = "q";
    event.message.data = (uint8_t *)"hi";
    event.message.len = 2;
    s_check_event (&event, "{\"stream\":\"topic/q\",\"seq\":3,\"index\":40,\"kind\":\"publish\","
                           "\"topic\":\"q\",\"message\":\"hi\"}");

    //  Bytes that are not UTF-8 become U+FFFD one by one; NUL is escaped;
    //  an overlong form and a lone surrogate are not UTF-8 either.
    uint8_t payload[] = {'a', 0xff, 0x00, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xe2, 0x82, 0xac, 0xe2};
    event.message.data = payload;
    event.message.len = sizeof payload;
    char *text = codec_event_json (&event);
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
    Raftq__Event other = s_event ("user/ann", 1, 2, "delete");
    s_check_event (
        &other, "{\"stream\":\"user/ann\",\"seq\":1,\"index\":2,\"kind\":\"delete\",\"ids\":[]}");
    uint64_t ids[] = {4, 9, 9007199254740993ULL};
    other.ids = ids;
    other.n_ids = 3;
    s_check_event (&other, "{\"stream\":\"user/ann\",\"seq\":1,\"index\":2,\"kind\":"
                           "\"delete\",\"ids\":[4,9,9007199254740993]}");

    //  A chat message: id, from, to, text, ts, and nothing of a publish.
    Raftq__Event chat = s_event ("conv/ann/bob", 12, 77, "message");
    chat.id = 5;
    chat.from = "bob";
    chat.to = "ann";
    chat.text = "h\xc3\xa9llo \"you\"\n";
    chat.ts = 1700000000123;
    s_check_event (&chat, "{\"stream\":\"conv/ann/bob\",\"seq\":12,\"index\":77,\"kind\":"
                          "\"message\",\"id\":5,\"from\":\"bob\",\"to\":\"ann\",\"text\":"
                          "\"h\xc3\xa9llo \\\"you\\\"\\n\",\"ts\":1700000000123}");

    //  Another kind: the generic keys, plus only what is set.
    Raftq__Event gone = s_event ("user/ann", 2, 3, "account_deleted");
    s_check_event (&gone,
                   "{\"stream\":\"user/ann\",\"seq\":2,\"index\":3,\"kind\":\"account_deleted\"}");
    assert_null (codec_event_json (NULL));
}

static void
test_account_replies (void **state)
{
    (void)state;
    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    const char *plain[] = {
        "{\"type\":\"account\",\"method\":\"PUT\",\"user\":\"a\",\"password\":\"p\"}",
        "{\"type\":\"account\",\"method\":\"DELETE\",\"token\":\"t\"}",
        "{\"type\":\"login\",\"method\":\"DELETE\",\"token\":\"t\"}",
    };
    for (size_t index = 0; index < 3; index++) {
        json_t *object = check_reply_json (plain[index], &ok, KEYS ("success"));
        assert_true (json_is_true (json_object_get (object, "success")));
        json_decref (object);
    }

    Raftq__UserExists exists = RAFTQ__USER_EXISTS__INIT;
    exists.exists = true;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.result_case = RAFTQ__REPLY__RESULT_USER_EXISTS;
    reply.user_exists = &exists;
    json_t *object = check_reply_json ("{\"type\":\"user\",\"method\":\"GET\",\"user\":\"a\"}",
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
    object = check_reply_json ("{\"type\":\"account\",\"method\":\"GET\",\"pattern\":\"an*\"}",
                               &reply, KEYS ("success", "accounts", "total"));
    check_integer (object, "total", 5);
    json_t *list = json_object_get (object, "accounts");
    assert_int_equal (json_array_size (list), 2);
    assert_string_equal (json_string_value (json_array_get (list, 1)), "anna");
    json_decref (object);

    Raftq__Session session = RAFTQ__SESSION__INIT;
    session.token = "0123456789abcdef0123456789abcdef";
    session.unread = 4;
    reply.result_case = RAFTQ__REPLY__RESULT_SESSION;
    reply.session = &session;
    object = check_reply_json (
        "{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"a\",\"password\":\"p\"}", &reply,
        KEYS ("success", "token", "unread"));
    check_string (object, "token", session.token);
    check_integer (object, "unread", 4);
    json_decref (object);
}

static void
test_message_replies (void **state)
{
    (void)state;
    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    json_t *object, *list;
    Raftq__MessageSent sent = RAFTQ__MESSAGE_SENT__INIT;
    sent.id = 42;
    sent.ts = 1700000000000;
    reply.result_case = RAFTQ__REPLY__RESULT_SENT;
    reply.sent = &sent;
    object = check_reply_json (
        "{\"type\":\"chat\",\"method\":\"PUT\",\"token\":\"t\",\"to\":\"b\",\"text\":\"x\"}",
        &reply, KEYS ("success", "id"));
    check_integer (object, "id", 42);
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
    object =
        check_reply_json ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\",\"with\":\"bob\"}",
                          &reply, KEYS ("success", "messages", "total", "remaining"));
    check_integer (object, "total", 10);
    check_integer (object, "remaining", 8);
    list = json_object_get (object, "messages");
    assert_int_equal (json_array_size (list), 2);
    json_t *item = json_array_get (list, 0);
    check_keys (item, KEYS ("id", "from", "to", "text", "ts", "read"));
    check_integer (item, "id", 1);
    check_string (item, "from", "bob");
    check_string (item, "to", "ann");
    check_string (item, "text", "hello");
    check_integer (item, "ts", 1700000000001);
    assert_true (json_is_false (json_object_get (item, "read")));
    item = json_array_get (list, 1);
    assert_true (json_is_true (json_object_get (item, "read")));
    check_string (item, "text", "\xef\xbf\xbd");
    json_decref (object);

    Raftq__Deleted deleted = RAFTQ__DELETED__INIT;
    deleted.count = 3;
    reply.result_case = RAFTQ__REPLY__RESULT_DELETED;
    reply.deleted = &deleted;
    object =
        check_reply_json ("{\"type\":\"chat\",\"method\":\"DELETE\",\"token\":\"t\",\"ids\":[1]}",
                          &reply, KEYS ("success", "deleted"));
    check_integer (object, "deleted", 3);
    json_decref (object);

    //  OK without the promised result: the server's bug, said so
    object = check_reply_json ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\"}", &ok,
                               KEYS ("success", "code", "error"));
    check_string (object, "code", "INTERNAL");
    json_decref (object);
}

static void
test_chat_failure_replies (void **state)
{
    (void)state;
    json_t *object;
    //  Failures are the generic form
    Raftq__Reply failure = RAFTQ__REPLY__INIT;
    failure.code = RAFTQ__CODE__UNAUTHENTICATED;
    failure.error = "invalid session token: log in again";
    object = check_reply_json ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\"}", &failure,
                               KEYS ("success", "code", "error"));
    check_string (object, "code", "UNAUTHENTICATED");
    json_decref (object);

    //  A replay from before the window says where the window starts
    failure.code = RAFTQ__CODE__NOT_FOUND;
    failure.error = "gone";
    failure.oldest_seq = 17;
    failure.next_seq = 40;
    object = check_reply_json (
        "{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"user/a\",\"from\":3}", &failure,
        KEYS ("success", "code", "error", "oldest_seq", "next_seq"));
    check_integer (object, "oldest_seq", 17);
    check_integer (object, "next_seq", 40);
    json_decref (object);
    //  ... and only a replay does
    object = check_reply_json ("{\"type\":\"user\",\"method\":\"GET\",\"user\":\"a\"}", &failure,
                               KEYS ("success", "code", "error"));
    json_decref (object);

    //  A throttled login says when to come back
    failure.code = RAFTQ__CODE__RESOURCE_EXHAUSTED;
    failure.error = "too many failed logins";
    failure.oldest_seq = 0;
    failure.next_seq = 0;
    failure.retry_after_ms = 4000;
    object = check_reply_json (
        "{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"a\",\"password\":\"p\"}", &failure,
        KEYS ("success", "code", "error", "retry_after_ms"));
    check_integer (object, "retry_after_ms", 4000);
    json_decref (object);
}

//  Issue 14's forms: RESERVE, ACK and NACK decode and answer as its table
//  says; topic PUT and message GET take their new keys and stay strict.
static void
test_consumption_forms (void **state)
{
    (void)state;
    codec_request_t decoded;
    check_decode_ok ("{\"type\":\"message\",\"method\":\"RESERVE\",\"topic\":\"t\","
                     "\"visibility_ms\":500,\"wait_ms\":2000}",
                     RAFTQ__REQUEST__OP_RESERVE, false, &decoded);
    assert_string_equal (decoded.request->reserve->topic, "t");
    assert_int_equal (decoded.request->reserve->visibility_ms, 500);
    assert_int_equal (decoded.request->reserve->wait_ms, 2000);
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    Raftq__Reserved reserved = RAFTQ__RESERVED__INIT;
    reserved.topic = "t";
    reserved.payload.data = (uint8_t *)"job";
    reserved.payload.len = 3;
    reserved.receipt = "r1";
    reserved.deliveries = 2;
    reply.result_case = RAFTQ__REPLY__RESULT_RESERVED;
    reply.reserved = &reserved;
    check_encoded (&decoded, &reply,
                   "{\"success\":true,\"message\":\"job\",\"receipt\":\"r1\",\"deliveries\":2}");
    reserved.original_topic = "jobs";
    reserved.original_deliveries = 5;
    check_encoded (&decoded, &reply,
                   "{\"success\":true,\"message\":\"job\",\"receipt\":\"r1\",\"deliveries\":2,"
                   "\"original_topic\":\"jobs\",\"original_deliveries\":5}");
    Raftq__Reply empty = RAFTQ__REPLY__INIT;
    empty.code = RAFTQ__CODE__EMPTY;
    empty.error = "topic 't' is empty";
    check_encoded (&decoded, &empty,
                   "{\"success\":false,\"code\":\"EMPTY\",\"error\":\"topic 't' is empty\"}");
    codec_request_clear (&decoded);

    Raftq__Reply ok = RAFTQ__REPLY__INIT;
    check_decode_ok ("{\"type\":\"message\",\"method\":\"ACK\",\"receipt\":\"r1\"}",
                     RAFTQ__REQUEST__OP_ACK, false, &decoded);
    assert_string_equal (decoded.request->ack->receipt, "r1");
    check_encoded (&decoded, &ok, "{\"success\":true}");
    codec_request_clear (&decoded);
    check_decode_ok (
        "{\"type\":\"message\",\"method\":\"NACK\",\"receipt\":\"r1\",\"delay_ms\":300}",
        RAFTQ__REQUEST__OP_NACK, false, &decoded);
    assert_int_equal (decoded.request->nack->delay_ms, 300);
    check_encoded (&decoded, &ok, "{\"success\":true}");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"t\","
                     "\"max_deliveries\":3,\"dead_letter\":\"d\"}",
                     RAFTQ__REQUEST__OP_CREATE_TOPIC, true, &decoded);
    assert_int_equal (decoded.request->create_topic->max_deliveries, 3);
    assert_string_equal (decoded.request->create_topic->dead_letter, "d");
    check_encoded (&decoded, &ok, "{\"success\":true}");
    codec_request_clear (&decoded);
    check_decode_ok ("{\"type\":\"message\",\"method\":\"GET\",\"topic\":\"t\",\"wait_ms\":700}",
                     RAFTQ__REQUEST__OP_POP, true, &decoded);
    assert_int_equal (decoded.request->pop->wait_ms, 700);
    check_encoded (&decoded, &empty, "{\"success\":false}");
    codec_request_clear (&decoded);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_strict_replies),
        cmocka_unit_test (test_consumption_forms),
        cmocka_unit_test (test_strict_bad_requests),
        cmocka_unit_test (test_generic_replies),
        cmocka_unit_test (test_replay_reply),
        cmocka_unit_test (test_replies_without_request),
        cmocka_unit_test (test_event_json),
        cmocka_unit_test (test_account_replies),
        cmocka_unit_test (test_message_replies),
        cmocka_unit_test (test_chat_failure_replies),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
