/*  test_codec_json_requests — every JSON operation of DESIGN 5.2 to the
    protobuf request it stands for, the keys every request may carry, and
    what a malformed key is refused with.
*/

#include "test_codec_checks.h"

//  --------------------------------------------------------------------------
//  JSON requests

static void
test_json_queue_operations (void **state)
{
    (void)state;
    codec_request_t decoded;

    check_decode_ok ("{\"type\":\"status\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_STATUS, false,
                     &decoded);
    assert_non_null (decoded.request->status);
    assert_int_equal (decoded.request->client_id, 0);
    assert_string_equal (decoded.request->token, "");
    codec_request_clear (&decoded);
    assert_null (decoded.request);

    check_decode_ok ("{\"type\":\"topic\",\"method\":\"PUT\",\"topic\":\"orders\"}",
                     RAFTQ__REQUEST__OP_CREATE_TOPIC, true, &decoded);
    assert_string_equal (decoded.request->create_topic->name, "orders");
    Raftq__Request *copy = check_repack (decoded.request);
    assert_string_equal (copy->create_topic->name, "orders");
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"topic\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_LIST_TOPICS,
                     true, &decoded);
    assert_non_null (decoded.request->list_topics);
    codec_request_clear (&decoded);

    //  Payload bytes keep UTF-8 and even NUL.
    check_decode_ok ("{\"message\":\"h\\u00e9\\u0000!\",\"topic\":\"t\",\"method\":\"PUT\","
                     "\"type\":\"message\",\"extra\":[1,2]}",
                     RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    Raftq__Publish *publish = decoded.request->publish;
    assert_string_equal (publish->topic, "t");
    assert_int_equal (publish->payload.len, 5);
    assert_memory_equal (publish->payload.data, "h\xc3\xa9\0!", 5);
    copy = check_repack (decoded.request);
    assert_int_equal (copy->publish->payload.len, 5);
    assert_memory_equal (copy->publish->payload.data, "h\xc3\xa9\0!", 5);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    //  An empty message is an empty payload, as unpack leaves it.
    check_decode_ok ("{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"t\",\"message\":\"\"}",
                     RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    assert_int_equal (decoded.request->publish->payload.len, 0);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"message\",\"method\":\"GET\",\"topic\":\"q\"}",
                     RAFTQ__REQUEST__OP_POP, true, &decoded);
    assert_string_equal (decoded.request->pop->topic, "q");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"topic/q\",\"from\":42,"
                     "\"limit\":100}",
                     RAFTQ__REQUEST__OP_REPLAY, false, &decoded);
    assert_string_equal (decoded.request->replay->stream, "topic/q");
    assert_int_equal (decoded.request->replay->from_seq, 42);
    assert_int_equal (decoded.request->replay->limit, 100);
    copy = check_repack (decoded.request);
    assert_int_equal (copy->replay->from_seq, 42);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"replay\",\"method\":\"GET\",\"stream\":\"user/ann\"}",
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
    check_decode_ok ("{\"type\":\"node\",\"method\":\"PUT\",\"id\":6,\"host\":\"127.0.0.1\","
                     "\"client_port\":5506,\"peer_port\":5606,\"pub_port\":5706}",
                     RAFTQ__REQUEST__OP_ADD_NODE, false, &decoded);
    Raftq__AddNode *add = decoded.request->add_node;
    assert_int_equal (add->id, 6);
    assert_string_equal (add->host, "127.0.0.1");
    assert_int_equal (add->client_port, 5506);
    assert_int_equal (add->peer_port, 5606);
    assert_int_equal (add->pub_port, 5706);
    Raftq__Request *copy = check_repack (decoded.request);
    assert_string_equal (copy->add_node->host, "127.0.0.1");
    assert_int_equal (copy->add_node->pub_port, 5706);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"node\",\"method\":\"PUT\",\"id\":4294967295,\"host\":\"h\","
                     "\"client_port\":1,\"peer_port\":65535}",
                     RAFTQ__REQUEST__OP_ADD_NODE, false, &decoded);
    assert_int_equal (decoded.request->add_node->id, UINT32_MAX);
    assert_int_equal (decoded.request->add_node->pub_port, 0);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"node\",\"method\":\"DELETE\",\"id\":3}",
                     RAFTQ__REQUEST__OP_REMOVE_NODE, false, &decoded);
    assert_int_equal (decoded.request->remove_node->id, 3);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"leader\",\"method\":\"PUT\",\"id\":2}",
                     RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, false, &decoded);
    assert_int_equal (decoded.request->transfer_leadership->id, 2);
    codec_request_clear (&decoded);
}

static void
test_json_common_keys (void **state)
{
    (void)state;
    codec_request_t decoded;
    check_decode_ok ("{\"type\":\"message\",\"method\":\"PUT\",\"topic\":\"t\",\"message\":\"m\","
                     "\"client_id\":9223372036854775807,\"seq\":17,\"token\":\"s3cr3t\"}",
                     RAFTQ__REQUEST__OP_PUBLISH, true, &decoded);
    assert_int_equal (decoded.request->client_id, INT64_MAX);
    assert_int_equal (decoded.request->seq, 17);
    assert_string_equal (decoded.request->token, "s3cr3t");
    Raftq__Request *copy = check_repack (decoded.request);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    check_decode_ok (
        "{\"type\":\"status\",\"method\":\"GET\",\"client_id\":0,\"seq\":0,\"token\":\"\"}",
        RAFTQ__REQUEST__OP_STATUS, false, &decoded);
    assert_int_equal (decoded.request->client_id, 0);
    codec_request_clear (&decoded);
}

static void
test_json_account_operations (void **state)
{
    (void)state;
    codec_request_t decoded;

    check_decode_ok ("{\"type\":\"account\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":"
                     "\"p \\\"w\\\" \\u00e9\",\"client_id\":5,\"seq\":2}",
                     RAFTQ__REQUEST__OP_CREATE_ACCOUNT, false, &decoded);
    assert_string_equal (decoded.request->create_account->user, "ann");
    assert_string_equal (decoded.request->create_account->password, "p \"w\" \xc3\xa9");
    assert_int_equal (decoded.request->client_id, 5);
    assert_int_equal (decoded.request->seq, 2);
    Raftq__Request *copy = check_repack (decoded.request);
    assert_string_equal (copy->create_account->password, "p \"w\" \xc3\xa9");
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    //  Listing: pattern and paging optional
    check_decode_ok ("{\"type\":\"account\",\"method\":\"GET\",\"pattern\":\"a*\",\"page\":2,"
                     "\"page_size\":20}",
                     RAFTQ__REQUEST__OP_LIST_ACCOUNTS, false, &decoded);
    assert_string_equal (decoded.request->list_accounts->pattern, "a*");
    assert_int_equal (decoded.request->list_accounts->page, 2);
    assert_int_equal (decoded.request->list_accounts->page_size, 20);
    codec_request_clear (&decoded);
    check_decode_ok ("{\"type\":\"account\",\"method\":\"GET\"}", RAFTQ__REQUEST__OP_LIST_ACCOUNTS,
                     false, &decoded);
    assert_string_equal (decoded.request->list_accounts->pattern, "");
    assert_int_equal (decoded.request->list_accounts->page, 0);
    assert_int_equal (decoded.request->list_accounts->page_size, 0);
    copy = check_repack (decoded.request);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"account\",\"method\":\"DELETE\",\"token\":\"t1\"}",
                     RAFTQ__REQUEST__OP_DELETE_ACCOUNT, false, &decoded);
    assert_string_equal (decoded.request->token, "t1");
    assert_non_null (decoded.request->delete_account);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"user\",\"method\":\"GET\",\"user\":\"bob\"}",
                     RAFTQ__REQUEST__OP_CHECK_USER, false, &decoded);
    assert_string_equal (decoded.request->check_user->user, "bob");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"login\",\"method\":\"PUT\",\"user\":\"ann\",\"password\":\"pw\"}",
                     RAFTQ__REQUEST__OP_LOGIN, false, &decoded);
    assert_string_equal (decoded.request->login->user, "ann");
    assert_string_equal (decoded.request->login->password, "pw");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"login\",\"method\":\"DELETE\",\"token\":\"t2\"}",
                     RAFTQ__REQUEST__OP_LOGOUT, false, &decoded);
    assert_string_equal (decoded.request->token, "t2");
    codec_request_clear (&decoded);
    //  No token: decoded all the same; the state machine says UNAUTHENTICATED
    check_decode_ok ("{\"type\":\"login\",\"method\":\"DELETE\"}", RAFTQ__REQUEST__OP_LOGOUT, false,
                     &decoded);
    assert_string_equal (decoded.request->token, "");
    codec_request_clear (&decoded);
}

static void
test_json_message_operations (void **state)
{
    (void)state;
    codec_request_t decoded;
    Raftq__Request *copy;
    check_decode_ok ("{\"type\":\"chat\",\"method\":\"PUT\",\"token\":\"t\",\"to\":\"bob\","
                     "\"text\":\" hi\\n\"}",
                     RAFTQ__REQUEST__OP_SEND_MESSAGE, false, &decoded);
    assert_string_equal (decoded.request->send_message->to, "bob");
    assert_string_equal (decoded.request->send_message->text, " hi\n");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\",\"with\":\"bob\","
                     "\"page\":3,\"page_size\":7}",
                     RAFTQ__REQUEST__OP_READ_MESSAGES, false, &decoded);
    assert_string_equal (decoded.request->read_messages->partner, "bob");
    assert_int_equal (decoded.request->read_messages->page, 3);
    assert_int_equal (decoded.request->read_messages->page_size, 7);
    codec_request_clear (&decoded);
    check_decode_ok ("{\"type\":\"chat\",\"method\":\"GET\",\"token\":\"t\"}",
                     RAFTQ__REQUEST__OP_READ_MESSAGES, false, &decoded);
    assert_string_equal (decoded.request->read_messages->partner, "");
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"chat\",\"method\":\"DELETE\",\"token\":\"t\","
                     "\"ids\":[3,9223372036854775807,3]}",
                     RAFTQ__REQUEST__OP_DELETE_MESSAGES, false, &decoded);
    assert_int_equal (decoded.request->delete_messages->n_ids, 3);
    assert_int_equal (decoded.request->delete_messages->ids[0], 3);
    assert_int_equal (decoded.request->delete_messages->ids[1], INT64_MAX);
    copy = check_repack (decoded.request);
    assert_int_equal (copy->delete_messages->n_ids, 3);
    raftq__request__free_unpacked (copy, NULL);
    codec_request_clear (&decoded);
    //  An empty list decodes; the state machine refuses it with its reason
    check_decode_ok ("{\"type\":\"chat\",\"method\":\"DELETE\",\"token\":\"t\",\"ids\":[]}",
                     RAFTQ__REQUEST__OP_DELETE_MESSAGES, false, &decoded);
    assert_int_equal (decoded.request->delete_messages->n_ids, 0);
    codec_request_clear (&decoded);

    check_decode_ok ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":true}",
                     RAFTQ__REQUEST__OP_STATUS, false, &decoded);
    assert_true (decoded.request->status->with_hash);
    codec_request_clear (&decoded);
    check_decode_ok ("{\"type\":\"status\",\"method\":\"GET\",\"hash\":false}",
                     RAFTQ__REQUEST__OP_STATUS, false, &decoded);
    assert_false (decoded.request->status->with_hash);
    codec_request_clear (&decoded);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_json_queue_operations),
        cmocka_unit_test (test_json_admin_operations),
        cmocka_unit_test (test_json_common_keys),
        cmocka_unit_test (test_json_account_operations),
        cmocka_unit_test (test_json_message_operations),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
