/*  test_client — the client class against the fake cluster (fake_cluster.h):
    following the leader and its hints, exactly-once retries with the same
    client id and seq, deadlines, transient and definitive codes, stale and
    bad replies, asking one node, and the pipelined asynchronous API.
*/
#include "fake_cluster.h"

//  --- tests

static void
test_follows_not_leader_hint (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "hint");
    fake_mode (&fake, 0, "redirect", fake.endpoints[2]);
    fake_mode (&fake, 1, "silent", NULL);
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 2000, 10000);

    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    assert_string_equal (raftq_client_error (client), "");
    assert_string_equal (raftq_client_leader (client), fake.endpoints[2]);
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 2);
    assert_int_equal (log[0].node, 0);
    assert_int_equal (log[1].node, 2);
    for (size_t index = 0; index < count; index++) {
        assert_true (log[index].client_id == raftq_client_id (client));
        assert_true (log[index].seq == log[0].seq);
        assert_int_equal (log[index].op, RAFTQ__REQUEST__OP_CREATE_TOPIC);
    }
    //  The leader is remembered: the next call goes straight there, as the
    //  next logical request.
    uint64_t sequence = 0;
    assert_int_equal (raftq_publish (client, "jobs", "x", 1, &sequence), RAFTQ_OK);
    assert_true (sequence == 1);
    count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 1);
    assert_int_equal (log[0].node, 2);
    assert_true (log[0].seq == 2);

    raftq_client_destroy (&client);
    assert_null (client);
    fake_stop (&fake);
}

static void
test_hint_names_unknown_endpoint (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "newnode");
    fake_mode (&fake, 0, "redirect", fake.endpoints[1]);
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);

    assert_int_equal (raftq_publish (client, "jobs", "x", 1, NULL), RAFTQ_OK);
    assert_int_equal (raftq_client_endpoint_count (client), 2);
    assert_string_equal (raftq_client_endpoint (client, 1), fake.endpoints[1]);
    assert_null (raftq_client_endpoint (client, 2));
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 2);
    assert_int_equal (log[1].node, 1);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_retry_reuses_client_id_and_seq (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "retry");
    fake_mode (&fake, 0, "drop-once", NULL);
    raftq_client_t *client = fake_client (&fake, 1, 100, 10000);

    uint64_t sequence = 0;
    assert_int_equal (raftq_publish (client, "jobs", "once", 4, &sequence), RAFTQ_OK);
    assert_true (sequence == 1);
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 2);
    assert_true (log[0].client_id == raftq_client_id (client));
    assert_true (log[1].client_id == log[0].client_id);
    assert_true (log[1].seq == log[0].seq);

    //  A new logical request gets the next seq.
    assert_int_equal (raftq_publish (client, "jobs", "twice", 5, NULL), RAFTQ_OK);
    count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 1);
    assert_true (log[0].seq == 2);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_gives_up_at_deadline (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "deadline");
    for (int node = 0; node < FAKE_NODES; node++)
        fake_mode (&fake, node, "silent", NULL);
    const int total_ms = 450;
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 100, total_ms);

    void *payload = NULL;
    size_t size = 0;
    int64_t started = zclock_mono ();
    assert_int_equal (raftq_pop (client, "jobs", &payload, &size), RAFTQ_TIMEOUT);
    int64_t elapsed = zclock_mono () - started;
    assert_true (elapsed >= total_ms);
    assert_true (elapsed < total_ms + 400);
    assert_null (payload);
    assert_non_null (strstr (raftq_client_error (client), "no reply"));
    assert_null (raftq_client_leader (client));

    //  Attempts went round robin, all as the same logical request.
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_true (count >= 4);
    bool asked[FAKE_NODES] = {false};
    for (size_t index = 0; index < count; index++) {
        assert_int_equal (log[index].node, (int)(index % FAKE_NODES));
        assert_true (log[index].seq == log[0].seq);
        assert_true (log[index].client_id == raftq_client_id (client));
        asked[log[index].node] = true;
    }
    assert_true (asked[0] && asked[1] && asked[2]);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_moves_on_after_transient_codes (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "moveon");
    char code[16];
    snprintf (code, sizeof (code), "%d", RAFTQ_NO_LEADER);
    fake_mode (&fake, 0, "answer", code);
    snprintf (code, sizeof (code), "%d", RAFTQ_UNAVAILABLE);
    fake_mode (&fake, 1, "answer", code);
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 2000, 10000);

    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 3);
    for (int index = 0; index < 3; index++) {
        assert_int_equal (log[index].node, index);
        assert_true (log[index].seq == log[0].seq);
    }
    assert_string_equal (raftq_client_leader (client), fake.endpoints[2]);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

//  A slow (admin) call waits long only at the known leader: a dead node met
//  while looking for it gets the ordinary attempt time, so the call still
//  reaches the leader instead of spending its whole patience on silence.
static void
test_patient_call_skips_a_dead_node (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "patient");
    char code[16];
    snprintf (code, sizeof (code), "%d", RAFTQ_NO_LEADER);
    fake_mode (&fake, 0, "answer", code);
    fake_mode (&fake, 1, "silent", NULL);
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 300, 1000);

    assert_int_equal (raftq_remove_node (client, 3), RAFTQ_OK);
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 3);
    assert_int_equal (log[1].node, 1);
    assert_int_equal (log[2].node, 2);
    assert_string_equal (raftq_client_leader (client), fake.endpoints[2]);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_reports_last_error_at_deadline (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "lasterror");
    char code[16];
    snprintf (code, sizeof (code), "%d", RAFTQ_NO_LEADER);
    for (int node = 0; node < FAKE_NODES; node++)
        fake_mode (&fake, node, "answer", code);
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 2000, 300);

    int64_t started = zclock_mono ();
    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_NO_LEADER);
    assert_true (zclock_mono () - started < 300 + 400);
    assert_non_null (strstr (raftq_client_error (client), "fake NO_LEADER"));
    //  Backoff between attempts: a few dozen, not thousands.
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_true (count >= 2 && count < 30);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_discards_stale_and_bad_replies (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "stale");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);

    uint64_t sequence = 0;
    assert_int_equal (raftq_publish (client, "jobs", "a", 1, &sequence), RAFTQ_OK);
    assert_true (sequence == 1);
    fake_mode (&fake, 0, "stale-first", NULL);
    assert_int_equal (raftq_publish (client, "jobs", "b", 1, &sequence), RAFTQ_OK);
    //  999 is what the reply to the old seq carried.
    assert_true (sequence == 2);
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 2);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_operation_results (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "results");
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 2000, 10000);

    char **names = NULL;
    assert_int_equal (raftq_list_topics (client, &names), RAFTQ_OK);
    assert_non_null (names);
    assert_string_equal (names[0], "alpha");
    assert_string_equal (names[1], "beta");
    assert_null (names[2]);
    raftq_strings_free (&names);
    assert_null (names);

    void *payload = NULL;
    size_t size = 0;
    assert_int_equal (raftq_pop (client, "jobs", &payload, &size), RAFTQ_OK);
    assert_int_equal (size, 5);
    assert_string_equal ((char *)payload, "hello");
    free (payload);

    raftq_status_t status;
    assert_int_equal (raftq_status (client, 1, &status), RAFTQ_OK);
    assert_int_equal (status.id, 2);
    assert_int_equal (status.role, RAFTQ_ROLE_LEADER);
    assert_true (status.term == 3 && status.commit_index == 10);
    assert_true (status.applied_index == 9 && status.last_index == 11);
    assert_int_equal (status.member_count, 3);
    assert_int_equal (status.members[2], 3);
    assert_int_equal (raftq_status (client, 3, &status), RAFTQ_INVALID_ARGUMENT);

    //  Refused client-side, nothing sent.
    assert_int_equal (raftq_create_topic (client, ""), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_publish (client, NULL, "x", 1, NULL), RAFTQ_INVALID_ARGUMENT);
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (fake_log (&fake, log, FAKE_LOG_MAX), 3);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_status_asks_one_node_only (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "status");
    fake_mode (&fake, 0, "silent", NULL);
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 150, 10000);

    raftq_status_t status;
    int64_t started = zclock_mono ();
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_TIMEOUT);
    assert_true (zclock_mono () - started < 150 + 300);
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 1);
    assert_int_equal (log[0].node, 0);
    assert_int_equal (log[0].op, RAFTQ__REQUEST__OP_STATUS);
    //  The node comes back: the client is not wedged on it.
    fake_mode (&fake, 0, "answer", "0");
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_OK);
    assert_int_equal (status.id, 1);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_codes_map (void **state)
{
    (void)state;
    const char *names[] = {
        "OK",      "NOT_LEADER",       "NO_LEADER",       "NOT_FOUND",         "ALREADY_EXISTS",
        "EMPTY",   "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "TOO_LARGE",
        "TIMEOUT", "UNAVAILABLE",      "INTERNAL",        "RESOURCE_EXHAUSTED"};
    //  Same numbers as the proto, same names as DESIGN 5.1.
    for (int code = 0; code <= RAFTQ_RESOURCE_EXHAUSTED; code++) {
        assert_int_equal (code, (int)(Raftq__Code)code);
        assert_string_equal (raftq_code_name ((raftq_code_t)code), names[code]);
    }
    assert_int_equal (RAFTQ_EMPTY, RAFTQ__CODE__EMPTY);
    assert_int_equal (RAFTQ_INTERNAL, RAFTQ__CODE__INTERNAL);
    assert_int_equal (RAFTQ_RESOURCE_EXHAUSTED, RAFTQ__CODE__RESOURCE_EXHAUSTED);
    assert_string_equal (raftq_code_name ((raftq_code_t)14), "UNKNOWN");
    assert_string_equal (raftq_code_name ((raftq_code_t)-1), "UNKNOWN");
    assert_string_equal (raftq_role_name (RAFTQ_ROLE_CANDIDATE), "candidate");
    assert_string_equal (raftq_role_name ((raftq_role_t)7), "unknown");

    //  Definitive codes come back to the caller as they are, with the text.
    fake_t fake;
    fake_start (&fake, "codes");
    raftq_client_t *client = fake_client (&fake, 1, 2000, 10000);
    const int definitive[] = {
        RAFTQ_NOT_FOUND,       RAFTQ_ALREADY_EXISTS,    RAFTQ_EMPTY,     RAFTQ_INVALID_ARGUMENT,
        RAFTQ_UNAUTHENTICATED, RAFTQ_PERMISSION_DENIED, RAFTQ_TOO_LARGE, RAFTQ_INTERNAL};
    for (size_t index = 0; index < sizeof (definitive) / sizeof (definitive[0]); index++) {
        char code[16], expected[64];
        snprintf (code, sizeof (code), "%d", definitive[index]);
        fake_mode (&fake, 0, "answer", code);
        void *payload = NULL;
        size_t size = 0;
        assert_int_equal (raftq_pop (client, "jobs", &payload, &size), definitive[index]);
        assert_null (payload);
        snprintf (expected, sizeof (expected), "fake %s", names[definitive[index]]);
        assert_string_equal (raftq_client_error (client), expected);
    }
    //  A code from a newer server maps to INTERNAL, not to garbage.
    fake_mode (&fake, 0, "answer", "99");
    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_INTERNAL);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_async_pipeline (void **state)
{
    (void)state;
    fake_t fake;
    fake_start (&fake, "async");
    fake_mode (&fake, 0, "redirect", fake.endpoints[1]);
    raftq_client_t *client = fake_client (&fake, FAKE_NODES, 2000, 10000);
    bool ready = false;
    assert_int_equal (raftq_wait (&client, 1, 0, &ready), 0);
    raftq_reply_t reply;
    assert_int_equal (raftq_receive (client, 0, &reply), -1);

    //  The first send lands on a follower; its hint moves later sends.
    uint64_t seq = 0;
    assert_int_equal (raftq_send_publish (client, "jobs", "x", 1, &seq), 0);
    assert_int_equal (raftq_receive (client, 2000, &reply), 0);
    assert_int_equal (reply.code, RAFTQ_NOT_LEADER);
    assert_true (reply.seq == seq);
    assert_int_equal (reply.leader_id, 9);
    assert_string_equal (raftq_client_leader (client), fake.endpoints[1]);

    enum { IN_FLIGHT = 50 };
    uint64_t sent[IN_FLIGHT];
    for (int index = 0; index < IN_FLIGHT; index++)
        assert_int_equal (raftq_send_publish (client, "jobs", "payload", 7, &sent[index]), 0);
    assert_int_equal (raftq_wait (&client, 1, 2000, &ready), 1);
    assert_true (ready);
    bool seen[IN_FLIGHT] = {false};
    for (int received = 0; received < IN_FLIGHT; received++) {
        assert_int_equal (raftq_receive (client, 2000, &reply), 0);
        assert_int_equal (reply.code, RAFTQ_OK);
        int slot = (int)(reply.seq - sent[0]);
        assert_true (slot >= 0 && slot < IN_FLIGHT);
        assert_false (seen[slot]);
        seen[slot] = true;
        assert_true (reply.sequence == (uint64_t)slot + 1);
    }
    assert_int_equal (raftq_receive (client, 0, &reply), -1);
    assert_int_equal (raftq_wait (&client, 1, 0, &ready), 0);
    assert_false (ready);
    assert_int_equal (raftq_send_publish (client, NULL, "x", 1, NULL), -1);

    //  The leader goes silent: the caller moves on, and sends go round
    //  robin to the next node; the silent node's late replies are gone.
    fake_mode (&fake, 1, "silent", NULL);
    assert_int_equal (raftq_send_publish (client, "jobs", "x", 1, &seq), 0);
    assert_int_equal (raftq_receive (client, 100, &reply), -1);
    raftq_client_move_on (client);
    assert_null (raftq_client_leader (client));
    assert_int_equal (raftq_send_publish (client, "jobs", "x", 1, &seq), 0);
    assert_int_equal (raftq_receive (client, 2000, &reply), 0);
    assert_int_equal (reply.code, RAFTQ_OK);
    assert_true (reply.seq == seq);
    assert_string_equal (raftq_client_leader (client), fake.endpoints[2]);
    logged_t log[FAKE_LOG_MAX];
    size_t count = fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (log[count - 1].node, 2);
    assert_int_equal (log[count - 2].node, 1);

    raftq_client_destroy (&client);
    fake_stop (&fake);
}

static void
test_client_new_refuses_bad_arguments (void **state)
{
    (void)state;
    const char *endpoints[] = {"inproc://x", NULL};
    assert_null (raftq_client_new (endpoints, 0));
    assert_null (raftq_client_new (endpoints, 2));
    assert_null (raftq_client_new (NULL, 1));
    const char *empty[] = {""};
    assert_null (raftq_client_new (empty, 1));
    raftq_client_t *client = NULL;
    raftq_client_destroy (&client);

    //  Unusable endpoint: a clear failure within the deadline, no spin.
    const char *bogus[] = {"bogus"};
    client = raftq_client_new (bogus, 1);
    assert_non_null (client);
    raftq_client_set_timeout (client, 200);
    assert_int_not_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    assert_non_null (strstr (raftq_client_error (client), "cannot connect"));
    raftq_client_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_follows_not_leader_hint),
        cmocka_unit_test (test_hint_names_unknown_endpoint),
        cmocka_unit_test (test_retry_reuses_client_id_and_seq),
        cmocka_unit_test (test_gives_up_at_deadline),
        cmocka_unit_test (test_moves_on_after_transient_codes),
        cmocka_unit_test (test_patient_call_skips_a_dead_node),
        cmocka_unit_test (test_reports_last_error_at_deadline),
        cmocka_unit_test (test_discards_stale_and_bad_replies),
        cmocka_unit_test (test_operation_results),
        cmocka_unit_test (test_status_asks_one_node_only),
        cmocka_unit_test (test_codes_map),
        cmocka_unit_test (test_async_pipeline),
        cmocka_unit_test (test_client_new_refuses_bad_arguments),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
