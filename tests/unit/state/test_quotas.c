/*  test_quotas — the state quotas a command carries (state.proto Limits):
    each one refuses a growing command with RESOURCE_EXHAUSTED and a text
    naming it, while pops, reads and deletions go on and free room for the
    next write; a command without limits is never refused; the accounted
    state bytes follow a fixed rule, are equal after a snapshot and
    restore, and bound what topics and chat take in a snapshot body.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_fixture.h"
#include "fsm_fixture.h"
#include "queue_fixture.h"
#include "state/fsm_snapshot.h"
#include "state/quota.h"

//  Applies command carrying limits and returns the reply code; a refusal
//  must name the limit it expects (NULL: must not be refused).
static Raftq__Code
s_run_limited (fsm_t *fsm, Raftq__State__Command *command, const Raftq__State__Limits *limits,
               const char *refused_by)
{
    command->limits = (Raftq__State__Limits *)limits;
    if (refused_by) {
        fsm_fixture_expect_error (fsm, command, RAFTQ__CODE__RESOURCE_EXHAUSTED, refused_by);
        return RAFTQ__CODE__RESOURCE_EXHAUSTED;
    }
    return fsm_fixture_run (fsm, command);
}

//  Publishes text to topic under limits; refused_by as in s_run_limited.
static Raftq__Code
s_publish (fsm_t *fsm, const char *topic, const char *text, const Raftq__State__Limits *limits,
           const char *refused_by)
{
    queue_fixture_t holder;
    return s_run_limited (
        fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, topic, text, strlen (text), 0, 0),
        limits, refused_by);
}

static Raftq__Code
s_create_topic (fsm_t *fsm, const char *topic, const Raftq__State__Limits *limits,
                const char *refused_by)
{
    queue_fixture_t holder;
    return s_run_limited (fsm, queue_fixture_command (&holder, QUEUE_CREATE, topic, NULL, 0, 0, 0),
                          limits, refused_by);
}

static void
test_max_topics (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_topics = 2;
    assert_int_equal (s_create_topic (fsm, "a", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_create_topic (fsm, "b", &limits, NULL), RAFTQ__CODE__OK);
    s_create_topic (fsm, "c", &limits, "max_topics reached");
    //  An existing name is still told so, and reads go on
    assert_int_equal (s_create_topic (fsm, "a", &limits, NULL), RAFTQ__CODE__ALREADY_EXISTS);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_LIST, NULL, NULL), RAFTQ__CODE__OK);
    //  An entry without limits (written before quotas) is never refused
    assert_int_equal (s_create_topic (fsm, "c", NULL, NULL), RAFTQ__CODE__OK);
    fsm_destroy (&fsm);
}

static void
test_max_topic_messages_and_bytes (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_topic_messages = 2;
    limits.max_topic_bytes = 10;
    assert_int_equal (s_create_topic (fsm, "t", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_create_topic (fsm, "u", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_publish (fsm, "t", "one", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_publish (fsm, "t", "two", &limits, NULL), RAFTQ__CODE__OK);
    s_publish (fsm, "t", "x", &limits, "max_topic_messages reached: topic 't' holds 2");
    //  The quota is per topic; a missing topic is still NOT_FOUND
    assert_int_equal (s_publish (fsm, "u", "other", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_publish (fsm, "none", "x", &limits, NULL), RAFTQ__CODE__NOT_FOUND);
    queue_fixture_expect_pop (fsm, "t", "one", 1);
    assert_int_equal (s_publish (fsm, "t", "three", &limits, NULL), RAFTQ__CODE__OK);

    //  Bytes: "two" and "three" queue 8 of 10
    queue_fixture_expect_pop (fsm, "t", "two", 2);
    s_publish (fsm, "t", "0123456789", &limits, "max_topic_bytes reached: topic 't' holds 5");
    queue_fixture_expect_pop (fsm, "t", "three", 3);
    assert_int_equal (s_publish (fsm, "t", "0123456789", &limits, NULL), RAFTQ__CODE__OK);
    fsm_destroy (&fsm);
}

static void
test_max_state_bytes_queues (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (fsm_state_bytes (fsm), 0);
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    //  Room for the topic and two 100-byte messages, not three
    limits.max_state_bytes = QUOTA_TOPIC_COST + 1 + 2 * (QUOTA_MESSAGE_COST + 100) + 50;
    assert_int_equal (s_create_topic (fsm, "t", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (fsm_state_bytes (fsm), QUOTA_TOPIC_COST + 1);
    char payload[101];
    memset (payload, 'p', 100);
    payload[100] = 0;
    assert_int_equal (s_publish (fsm, "t", payload, &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_publish (fsm, "t", payload, &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (fsm_state_bytes (fsm), QUOTA_TOPIC_COST + 1 + 2 * (QUOTA_MESSAGE_COST + 100));
    s_publish (fsm, "t", payload, &limits, "max_state_bytes reached: the state holds");
    s_create_topic (fsm, "another-topic-name-that-is-long", &limits, "max_state_bytes reached");
    //  Small enough still fits
    assert_int_equal (s_publish (fsm, "t", "tiny", &limits, NULL), RAFTQ__CODE__OK);
    queue_fixture_expect_pop (fsm, "t", payload, 1);
    assert_int_equal (s_publish (fsm, "t", payload, &limits, NULL), RAFTQ__CODE__OK);
    fsm_destroy (&fsm);
}

//  ann and bob, logged in, as in the chat tests.
static fsm_t *
s_pair (char tokens[2][33])
{
    const char *users[] = {"ann", "bob"};
    return chat_fixture_world (users, 2, tokens);
}

static Raftq__Code
s_send (fsm_t *fsm, const char *token, const char *to, const char *text,
        const Raftq__State__Limits *limits, const char *refused_by)
{
    chat_fixture_t holder;
    return s_run_limited (fsm, chat_fixture_send (&holder, token, to, text), limits, refused_by);
}

static void
test_max_accounts (void **state)
{
    (void)state;
    char tokens[2][33];
    fsm_t *fsm = s_pair (tokens);
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_accounts = 2;
    chat_fixture_t holder;
    s_run_limited (fsm, chat_fixture_create_account (&holder, "cid", "pw"), &limits,
                   "max_accounts reached: the cluster holds 2");
    assert_int_equal (
        s_run_limited (fsm, chat_fixture_create_account (&holder, "ann", "pw"), &limits, NULL),
        RAFTQ__CODE__ALREADY_EXISTS);
    //  Reads and logins go on at the limit; a deleted account frees room
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_list (&holder, "*", 1, 10)),
                      RAFTQ__CODE__OK);
    char token[33];
    chat_fixture_session (fsm, "bob", 77, token);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_delete_account (&holder, token)),
                      RAFTQ__CODE__OK);
    assert_int_equal (
        s_run_limited (fsm, chat_fixture_create_account (&holder, "cid", "pw"), &limits, NULL),
        RAFTQ__CODE__OK);
    fsm_destroy (&fsm);
}

static void
test_max_inbox_messages (void **state)
{
    (void)state;
    char tokens[2][33];
    fsm_t *fsm = s_pair (tokens);
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_inbox_messages = 2;
    assert_int_equal (s_send (fsm, tokens[0], "bob", "one", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_send (fsm, tokens[0], "bob", "two", &limits, NULL), RAFTQ__CODE__OK);
    s_send (fsm, tokens[0], "bob", "three", &limits,
            "max_inbox_messages reached: the inbox of 'bob' holds 2");
    //  Without a session the sender learns nothing about the inbox
    char unknown[33];
    chat_fixture_token (unknown, 999);
    assert_int_equal (s_send (fsm, unknown, "bob", "x", &limits, NULL),
                      RAFTQ__CODE__UNAUTHENTICATED);
    //  Another inbox is not full; bob reading his frees room
    assert_int_equal (s_send (fsm, tokens[1], "ann", "hi", &limits, NULL), RAFTQ__CODE__OK);
    chat_fixture_t holder;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_read (&holder, tokens[1], NULL, 1, 1)),
                      RAFTQ__CODE__OK);
    assert_int_equal (s_send (fsm, tokens[0], "bob", "three", &limits, NULL), RAFTQ__CODE__OK);
    fsm_destroy (&fsm);
}

static void
test_max_state_bytes_chat (void **state)
{
    (void)state;
    char tokens[2][33];
    fsm_t *fsm = s_pair (tokens);
    uint64_t accounts = fsm_state_bytes (fsm);
    assert_int_equal (accounts, 2 * QUOTA_ACCOUNT_COST + strlen ("ann") + strlen ("bob") +
                                    strlen (fsm_password_hash (fsm, "ann")) +
                                    strlen (fsm_password_hash (fsm, "bob")));
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_state_bytes = accounts + QUOTA_CHAT_MESSAGE_COST + 5;
    //  The text is charged trimmed
    uint64_t id = chat_fixture_send_ok (fsm, tokens[0], "bob", "  hello  ");
    assert_int_equal (fsm_state_bytes (fsm), accounts + QUOTA_CHAT_MESSAGE_COST + 5);
    s_send (fsm, tokens[0], "bob", "again", &limits, "max_state_bytes reached");
    chat_fixture_t holder;
    s_run_limited (fsm, chat_fixture_create_account (&holder, "cid", "pw"), &limits,
                   "max_state_bytes reached");
    //  Deleting the message frees it
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_delete (&holder, tokens[1], &id, 1)),
                      RAFTQ__CODE__OK);
    assert_int_equal (fsm_state_bytes (fsm), accounts);
    assert_int_equal (s_send (fsm, tokens[0], "bob", "again", &limits, NULL), RAFTQ__CODE__OK);
    fsm_destroy (&fsm);
}

//  A state with topics, queued and popped messages, accounts, a deleted
//  account and chat messages, applied the same way each time.
static fsm_t *
s_busy_state (void)
{
    char tokens[2][33];
    fsm_t *fsm = s_pair (tokens);
    for (int topic = 0; topic < 3; topic++) {
        char name[16], payload[64];
        snprintf (name, sizeof name, "topic-%d", topic);
        assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, name, NULL), RAFTQ__CODE__OK);
        for (int message = 0; message < 20 + topic; message++) {
            snprintf (payload, sizeof payload, "payload %d of %s", message, name);
            assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, name, payload),
                              RAFTQ__CODE__OK);
        }
        assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, name, NULL), RAFTQ__CODE__OK);
    }
    chat_fixture_t holder;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "cid", "pw")),
                      RAFTQ__CODE__OK);
    char cid[33];
    chat_fixture_session (fsm, "cid", 5, cid);
    for (int message = 0; message < 10; message++) {
        chat_fixture_send_ok (fsm, tokens[0], "bob", "from ann");
        chat_fixture_send_ok (fsm, cid, "ann", "from cid");
    }
    uint64_t id = chat_fixture_send_ok (fsm, tokens[1], "ann", "to delete");
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_delete (&holder, tokens[1], &id, 1)),
                      RAFTQ__CODE__OK);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_delete_account (&holder, cid)),
                      RAFTQ__CODE__OK);
    return fsm;
}

static void
test_accounting_deterministic_and_restored (void **state)
{
    (void)state;
    fsm_t *first = s_busy_state ();
    fsm_t *second = s_busy_state ();
    uint64_t bytes = fsm_state_bytes (first);
    assert_true (bytes > 0);
    assert_int_equal (fsm_state_bytes (second), bytes);
    assert_int_equal (fsm_state_hash (second), fsm_state_hash (first));

    //  The rule, item by item: 3 topics with 19, 20, 21 messages left;
    //  ann and bob (cid was deleted with his messages), 10 messages
    uint64_t expected = 2 * QUOTA_ACCOUNT_COST + strlen ("ann") + strlen ("bob") +
                        strlen (fsm_password_hash (first, "ann")) +
                        strlen (fsm_password_hash (first, "bob")) +
                        10 * (QUOTA_CHAT_MESSAGE_COST + strlen ("from ann"));
    for (int topic = 0; topic < 3; topic++) {
        char name[16], payload[64];
        snprintf (name, sizeof name, "topic-%d", topic);
        expected += QUOTA_TOPIC_COST + strlen (name);
        for (int message = 1; message < 20 + topic; message++) {
            snprintf (payload, sizeof payload, "payload %d of %s", message, name);
            expected += QUOTA_MESSAGE_COST + strlen (payload);
        }
    }
    assert_int_equal (bytes, expected);

    //  Restored from a snapshot: same bytes, same hash (the fixture checks
    //  the hash), and the same refusal for the same next command
    fsm_t *restored = fsm_fixture_snapshot_copy (first, NULL);
    assert_int_equal (fsm_state_bytes (restored), bytes);
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_state_bytes = bytes + QUOTA_MESSAGE_COST + 3;
    s_publish (first, "topic-0", "four", &limits, "max_state_bytes reached");
    s_publish (restored, "topic-0", "four", &limits, "max_state_bytes reached");
    assert_int_equal (s_publish (first, "topic-0", "abc", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_publish (restored, "topic-0", "abc", &limits, NULL), RAFTQ__CODE__OK);
    assert_int_equal (fsm_state_hash (restored), fsm_state_hash (first));
    fsm_destroy (&restored);
    fsm_destroy (&second);
    fsm_destroy (&first);
}

//  The charges are above what topics and chat take in a snapshot body:
//  max_state_bytes bounds their share of it (config_limits.h relies on it
//  to keep the body under the protobuf wall).
static void
test_accounting_bounds_snapshot (void **state)
{
    (void)state;
    fsm_options_t options = {.event_retention = 1};
    fsm_t *fsm = fsm_new (&options);
    char payload[2000];
    memset (payload, 'x', sizeof payload - 1);
    payload[sizeof payload - 1] = 0;
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
    for (int message = 0; message < 500; message++)
        assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "t", message % 2 ? payload : "s"),
                          RAFTQ__CODE__OK);
    size_t size;
    char error[256];
    uint8_t *body = fsm_snapshot_pack (fsm, &size, error, sizeof error);
    assert_non_null (body);
    //  One retained event (one stream, retention 1) of at most one payload
    assert_true (size <= fsm_state_bytes (fsm) + sizeof payload + 256);
    free (body);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_max_topics),
        cmocka_unit_test (test_max_topic_messages_and_bytes),
        cmocka_unit_test (test_max_state_bytes_queues),
        cmocka_unit_test (test_max_accounts),
        cmocka_unit_test (test_max_inbox_messages),
        cmocka_unit_test (test_max_state_bytes_chat),
        cmocka_unit_test (test_accounting_deterministic_and_restored),
        cmocka_unit_test (test_accounting_bounds_snapshot),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
