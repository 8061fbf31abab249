/*  test_client_consume — acknowledged consumption in libraftq against
    canned replies: what reserve, ack, nack, a waiting pop and a topic with
    a dead-letter topic put in their requests, how Reserved and Popped map
    onto raftq_delivery_t, the pipelined reserve and ack, the per-topic
    status, the arguments refused before anything is sent, and a waiting
    call that a slow leader answers after the attempt timeout.
*/
#include "fake_cluster.h"

//  Makes node 0 answer every request with a Reserved of "job-1".
static void
s_can_reserved (fake_t *fake, const char *receipt, const char *original_topic)
{
    Raftq__Reserved reserved = RAFTQ__RESERVED__INIT;
    reserved.topic = "jobs";
    reserved.payload.data = (uint8_t *)"job-1";
    reserved.payload.len = 5;
    reserved.sequence = 12;
    reserved.receipt = (char *)receipt;
    reserved.deliveries = 3;
    reserved.visible_at_ms = 1700000000123;
    reserved.original_topic = (char *)original_topic;
    reserved.original_deliveries = original_topic ? 5 : 0;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.result_case = RAFTQ__REPLY__RESULT_RESERVED;
    reply.reserved = &reserved;
    fake_canned (fake, 0, &reply);
}

static void
test_reserve_maps_the_delivery (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "consume-reserve");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    s_can_reserved (&fake, "12.3", NULL);

    raftq_delivery_t *delivery = NULL;
    assert_int_equal (raftq_reserve (client, "jobs", 1500, 0, &delivery), RAFTQ_OK);
    assert_non_null (delivery);
    assert_string_equal (delivery->topic, "jobs");
    assert_int_equal (delivery->size, 5);
    assert_string_equal ((char *)delivery->payload, "job-1");
    assert_true (delivery->sequence == 12);
    assert_string_equal (delivery->receipt, "12.3");
    assert_int_equal (delivery->deliveries, 3);
    assert_true (delivery->visible_at_ms == 1700000000123);
    assert_null (delivery->original_topic);
    raftq_delivery_destroy (&delivery);
    assert_null (delivery);
    Raftq__Request *request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_RESERVE);
    assert_string_equal (request->reserve->topic, "jobs");
    assert_int_equal (request->reserve->visibility_ms, 1500);
    assert_int_equal (request->reserve->wait_ms, 0);
    raftq__request__free_unpacked (request, NULL);

    //  A dead letter says where it came from
    s_can_reserved (&fake, "12.4", "orders");
    assert_int_equal (raftq_reserve (client, "dead", 0, 0, &delivery), RAFTQ_OK);
    assert_string_equal (delivery->original_topic, "orders");
    assert_int_equal (delivery->original_deliveries, 5);
    raftq_delivery_destroy (&delivery);

    //  OK without a receipt cannot be acked: a broken node, not a delivery
    s_can_reserved (&fake, "", NULL);
    assert_int_equal (raftq_reserve (client, "jobs", 0, 0, &delivery), RAFTQ_INTERNAL);
    assert_null (delivery);
    //  EMPTY keeps its code
    Raftq__Reply empty = RAFTQ__REPLY__INIT;
    empty.code = RAFTQ__CODE__EMPTY;
    fake_canned (&fake, 0, &empty);
    assert_int_equal (raftq_reserve (client, "jobs", 0, 0, &delivery), RAFTQ_EMPTY);
    assert_null (delivery);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_ack_nack_and_topic_options (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "consume-settle");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    Raftq__Reply plain = RAFTQ__REPLY__INIT;
    fake_canned (&fake, 0, &plain);

    assert_int_equal (raftq_ack (client, "12.3"), RAFTQ_OK);
    Raftq__Request *request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_ACK);
    assert_string_equal (request->ack->receipt, "12.3");
    raftq__request__free_unpacked (request, NULL);

    assert_int_equal (raftq_nack (client, "12.4", 250), RAFTQ_OK);
    request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_NACK);
    assert_string_equal (request->nack->receipt, "12.4");
    assert_int_equal (request->nack->delay_ms, 250);
    raftq__request__free_unpacked (request, NULL);

    assert_int_equal (raftq_create_topic_dead_letter (client, "orders", 4, "orders-dead"),
                      RAFTQ_OK);
    request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_CREATE_TOPIC);
    assert_string_equal (request->create_topic->name, "orders");
    assert_int_equal (request->create_topic->max_deliveries, 4);
    assert_string_equal (request->create_topic->dead_letter, "orders-dead");
    raftq__request__free_unpacked (request, NULL);

    Raftq__Reply unknown = RAFTQ__REPLY__INIT;
    unknown.code = RAFTQ__CODE__NOT_FOUND;
    unknown.error = "no such receipt";
    fake_canned (&fake, 0, &unknown);
    assert_int_equal (raftq_ack (client, "12.3"), RAFTQ_NOT_FOUND);
    assert_string_equal (raftq_client_error (client), "no such receipt");

    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 4);
    //  Refused client-side, nothing sent
    raftq_delivery_t *delivery = NULL;
    assert_int_equal (raftq_ack (client, ""), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_nack (client, NULL, 0), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_reserve (client, "", 0, 0, &delivery), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_create_topic_dead_letter (client, "orders", 4, ""),
                      RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_create_topic_dead_letter (client, "orders", 0, "orders-dead"),
                      RAFTQ_INVALID_ARGUMENT);
    uint64_t seq;
    assert_int_equal (raftq_send_ack (client, "", &seq), -1);
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 0);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_pop_wait_maps_a_dead_letter (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "consume-pop");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    Raftq__Popped popped = RAFTQ__POPPED__INIT;
    popped.topic = "dead";
    popped.payload.data = (uint8_t *)"poison";
    popped.payload.len = 6;
    popped.sequence = 2;
    popped.original_topic = "orders";
    popped.deliveries = 4;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.result_case = RAFTQ__REPLY__RESULT_POPPED;
    reply.popped = &popped;
    fake_canned (&fake, 0, &reply);

    raftq_delivery_t *delivery = NULL;
    assert_int_equal (raftq_pop_wait (client, "dead", 300, &delivery), RAFTQ_OK);
    assert_string_equal ((char *)delivery->payload, "poison");
    assert_null (delivery->receipt);
    assert_string_equal (delivery->original_topic, "orders");
    assert_int_equal (delivery->original_deliveries, 4);
    raftq_delivery_destroy (&delivery);
    Raftq__Request *request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_POP);
    assert_int_equal (request->pop->wait_ms, 300);
    raftq__request__free_unpacked (request, NULL);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

//  A leader parks a waiting request for its wait: the client must not take
//  that for silence, however short its own attempt timeout.
static void
test_waiting_call_outlasts_the_attempt_timeout (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "consume-wait");
    raftq_client_t *client = fake_client (&fake, 1, 150, 300);
    s_can_reserved (&fake, "1.1", NULL);
    fake_delay (&fake, 0, 400);

    raftq_delivery_t *delivery = NULL;
    assert_int_equal (raftq_reserve (client, "jobs", 0, 500, &delivery), RAFTQ_OK);
    raftq_delivery_destroy (&delivery);
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 1);
    //  Without the wait, the same slow node is silence
    assert_int_equal (raftq_reserve (client, "jobs", 0, 0, &delivery), RAFTQ_TIMEOUT);
    assert_null (delivery);
    //  The wait was for that call only
    assert_int_equal (raftq_ack (client, "1.1"), RAFTQ_TIMEOUT);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_pipelined_reserve_and_ack (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "consume-async");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    s_can_reserved (&fake, "12.3", NULL);

    uint64_t seq = 0;
    assert_int_equal (raftq_send_reserve (client, "jobs", 800, &seq), 0);
    raftq_reply_t reply;
    assert_int_equal (raftq_receive (client, 2000, &reply), 0);
    assert_int_equal (reply.code, RAFTQ_OK);
    assert_true (reply.seq == seq);
    assert_string_equal (reply.receipt, "12.3");
    assert_int_equal (reply.deliveries, 3);
    assert_int_equal (reply.payload_size, 5);
    assert_true (reply.sequence == 12);
    Raftq__Request *request = fake_last (&fake, 0);
    assert_int_equal (request->reserve->visibility_ms, 800);
    raftq__request__free_unpacked (request, NULL);

    assert_int_equal (raftq_send_ack (client, reply.receipt, &seq), 0);
    assert_int_equal (raftq_receive (client, 2000, &reply), 0);
    assert_true (reply.seq == seq);
    request = fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_ACK);
    assert_string_equal (request->ack->receipt, "12.3");
    raftq__request__free_unpacked (request, NULL);

    //  A receipt too long for the reply's buffer cannot be acked from it
    char receipt[RAFTQ_RECEIPT_MAX + 8];
    memset (receipt, 'r', sizeof (receipt) - 1);
    receipt[sizeof (receipt) - 1] = 0;
    s_can_reserved (&fake, receipt, NULL);
    assert_int_equal (raftq_send_reserve (client, "jobs", 0, &seq), 0);
    assert_int_equal (raftq_receive (client, 2000, &reply), 0);
    assert_int_equal (reply.code, RAFTQ_INTERNAL);
    assert_string_equal (reply.receipt, "");

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_topics_status (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "consume-topics");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    assert_int_equal (raftq_client_set_admin_secret (client, "s3cret"), 0);
    Raftq__TopicStatus topics[2];
    Raftq__TopicStatus *pointers[2] = {&topics[0], &topics[1]};
    raftq__topic_status__init (&topics[0]);
    topics[0].name = "orders";
    topics[0].ready = 5;
    topics[0].reserved = 2;
    topics[0].delayed = 1;
    topics[0].dead_lettered = 7;
    topics[0].max_deliveries = 4;
    topics[0].dead_letter = "orders-dead";
    raftq__topic_status__init (&topics[1]);
    topics[1].name = "orders-dead";
    topics[1].ready = 7;
    Raftq__StatusDetail detail = RAFTQ__STATUS_DETAIL__INIT;
    detail.topics = pointers;
    detail.n_topics = 2;
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    status.detail = &detail;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
    reply.status = &status;
    fake_canned (&fake, 0, &reply);

    raftq_topics_status_t *listed = NULL;
    assert_int_equal (raftq_topics_status (client, 0, &listed), RAFTQ_OK);
    assert_int_equal (listed->count, 2);
    const raftq_topic_status_t *orders = &listed->topics[0];
    assert_string_equal (orders->name, "orders");
    assert_true (orders->ready == 5 && orders->reserved == 2 && orders->delayed == 1);
    assert_true (orders->dead_lettered == 7);
    assert_int_equal (orders->max_deliveries, 4);
    assert_string_equal (orders->dead_letter, "orders-dead");
    assert_string_equal (listed->topics[1].dead_letter, "");
    raftq_topics_status_destroy (&listed);
    assert_null (listed);
    Raftq__Request *request = fake_last (&fake, 0);
    assert_true (request->status->detail);
    assert_string_equal (request->admin_secret, "s3cret");
    raftq__request__free_unpacked (request, NULL);

    //  A node without the detail (an older one) has no topics to show
    status.detail = NULL;
    fake_canned (&fake, 0, &reply);
    assert_int_equal (raftq_topics_status (client, 0, &listed), RAFTQ_OK);
    assert_int_equal (listed->count, 0);
    raftq_topics_status_destroy (&listed);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_reserve_maps_the_delivery),
        cmocka_unit_test (test_ack_nack_and_topic_options),
        cmocka_unit_test (test_pop_wait_maps_a_dead_letter),
        cmocka_unit_test (test_waiting_call_outlasts_the_attempt_timeout),
        cmocka_unit_test (test_pipelined_reserve_and_ack),
        cmocka_unit_test (test_topics_status),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
