/*  test_stream_access — the rules of who reads which stream: subscription
    strings taken apart (topics and prefixes of "topic/", the empty one,
    user/ and conv/ with and without a token, garbage), and access on the
    applied state (a party's live session; a wrong token, another user's
    stream, either conversation party, expiry, logout, account deletion).
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "chat_fixture.h"
#include "fsm_fixture.h"
#include "state/session_key.h"
#include "state/stream_access.h"

//  Client tokens (what Login hands out and a subscriber presents).
#define ALICE "0123456789abcdef0123456789abcdef"
#define BOB   "fedcba9876543210fedcba9876543210"
#define CAROL "00000000000000001111111111111111"

static stream_subscription_kind_t
s_kind (const char *subscription)
{
    stream_subscription_t parsed;
    stream_access_parse ((const uint8_t *)subscription, strlen (subscription), &parsed);
    return parsed.kind;
}

//  The prefix a topic subscription is applied as.
static void
s_expect_topic (const char *subscription, const char *applied)
{
    stream_subscription_t parsed;
    stream_access_parse ((const uint8_t *)subscription, strlen (subscription), &parsed);
    assert_int_equal (parsed.kind, STREAM_SUBSCRIPTION_TOPIC);
    assert_int_equal (parsed.applied_size, strlen (applied));
    assert_memory_equal (parsed.applied, applied, parsed.applied_size);
}

static void
test_topic_subscriptions (void **state)
{
    (void)state;
    //  Every prefix of "topic/", the empty one included, is all topics only
    s_expect_topic ("", "topic/");
    s_expect_topic ("t", "topic/");
    s_expect_topic ("topic", "topic/");
    s_expect_topic ("topic/", "topic/");
    s_expect_topic ("topic/jobs", "topic/jobs");
    s_expect_topic ("topic/j", "topic/j");
    assert_int_equal (s_kind ("topics"), STREAM_SUBSCRIPTION_REFUSED);
    assert_int_equal (s_kind ("x"), STREAM_SUBSCRIPTION_REFUSED);
}

static void
test_private_subscriptions (void **state)
{
    (void)state;
    stream_subscription_t parsed;
    const char *bob = "user/bob#" BOB;
    stream_access_parse ((const uint8_t *)bob, strlen (bob), &parsed);
    assert_int_equal (parsed.kind, STREAM_SUBSCRIPTION_PRIVATE);
    assert_int_equal (parsed.stream_length, strlen ("user/bob"));
    assert_int_equal (parsed.applied_size, strlen (bob));
    assert_memory_equal (parsed.token, BOB, 32);
    assert_int_equal (s_kind ("conv/alice/bob#" BOB), STREAM_SUBSCRIPTION_PRIVATE);
    assert_int_equal (s_kind ("conv/bob/bob#" BOB), STREAM_SUBSCRIPTION_PRIVATE);

    //  Never applied: prefixes of private streams, no token, bad tokens,
    //  names out of order or malformed, anything else
    const char *refused[] = {"u",
                             "user/",
                             "conv/",
                             "user/bob",
                             "user/bob#",
                             "user/bob#" BOB "0",
                             "user/bob#0123456789ABCDEF0123456789ABCDEF",
                             "user/bob#0123456789abcdef0123456789abcde",
                             "user/#" BOB,
                             "user/bo b#" BOB,
                             "user/bob/x#" BOB,
                             "user/bob#" BOB "#" BOB,
                             "conv/bob/alice#" BOB,
                             "conv/alice#" BOB,
                             "conv/alice/#" BOB,
                             "conv//bob#" BOB,
                             "conv/a/b/c#" BOB,
                             "queue/x#" BOB,
                             "#" BOB};
    for (size_t which = 0; which < sizeof refused / sizeof refused[0]; which++)
        if (s_kind (refused[which]) != STREAM_SUBSCRIPTION_REFUSED)
            fail_msg ("'%s' was not refused", refused[which]);

    //  A NUL byte, and an oversized string
    const uint8_t with_nul[] = "user/bob\0#x";
    stream_access_parse (with_nul, sizeof with_nul - 1, &parsed);
    assert_int_equal (parsed.kind, STREAM_SUBSCRIPTION_REFUSED);
    uint8_t big[STREAM_ACCESS_MAX_SUBSCRIPTION + 1];
    memset (big, 'a', sizeof big);
    memcpy (big, "topic/", 6);
    stream_access_parse (big, sizeof big, &parsed);
    assert_int_equal (parsed.kind, STREAM_SUBSCRIPTION_REFUSED);
}

//  A state with alice, bob and carol logged in at the fixture's time.
static fsm_t *
s_world (const fsm_options_t *options)
{
    fsm_t *fsm = fsm_new (options);
    chat_fixture_t holder;
    const char *users[] = {"alice", "bob", "carol"};
    const char *tokens[] = {ALICE, BOB, CAROL};
    for (size_t which = 0; which < 3; which++) {
        assert_int_equal (
            fsm_fixture_run (fsm, chat_fixture_create_account (&holder, users[which], "pw")),
            RAFTQ__CODE__OK);
        chat_fixture_session_of (fsm, users[which], tokens[which], CHAT_FIXTURE_TIMESTAMP);
    }
    return fsm;
}

static stream_access_t
s_access (fsm_t *fsm, const char *stream, const char *token, int64_t at_ms)
{
    return stream_access_check (fsm, stream, token, CHAT_FIXTURE_TIMESTAMP + at_ms);
}

static void
test_parties (void **state)
{
    (void)state;
    fsm_t *fsm = s_world (NULL);
    //  Topics are public
    assert_int_equal (s_access (fsm, "topic/jobs", NULL, 0), STREAM_ACCESS_GRANTED);
    assert_int_equal (s_access (fsm, "topic/jobs", "junk", 0), STREAM_ACCESS_GRANTED);
    //  The owner, and nobody else
    assert_int_equal (s_access (fsm, "user/bob", BOB, 0), STREAM_ACCESS_GRANTED);
    assert_int_equal (s_access (fsm, "user/bob", NULL, 0), STREAM_ACCESS_NO_TOKEN);
    assert_int_equal (s_access (fsm, "user/bob", "", 0), STREAM_ACCESS_NO_TOKEN);
    assert_int_equal (s_access (fsm, "user/bob", ALICE, 0), STREAM_ACCESS_DENIED);
    assert_int_equal (s_access (fsm, "user/bob", "ffffffffffffffffffffffffffffffff", 0),
                      STREAM_ACCESS_DENIED);
    //  The state's key is not a token: presenting it opens nothing
    char key[SESSION_KEY_SIZE];
    session_key (BOB, key);
    assert_int_equal (s_access (fsm, "user/bob", key, 0), STREAM_ACCESS_DENIED);
    //  Both parties of a conversation, not a third
    assert_int_equal (s_access (fsm, "conv/alice/bob", ALICE, 0), STREAM_ACCESS_GRANTED);
    assert_int_equal (s_access (fsm, "conv/alice/bob", BOB, 0), STREAM_ACCESS_GRANTED);
    assert_int_equal (s_access (fsm, "conv/alice/bob", CAROL, 0), STREAM_ACCESS_DENIED);
    assert_int_equal (s_access (fsm, "conv/bob/bob", BOB, 0), STREAM_ACCESS_GRANTED);
    //  Not a stream anyone owns
    assert_int_equal (s_access (fsm, "user/", BOB, 0), STREAM_ACCESS_DENIED);
    assert_int_equal (s_access (fsm, "conv/", BOB, 0), STREAM_ACCESS_DENIED);
    assert_int_equal (s_access (fsm, "conv/bob/alice", BOB, 0), STREAM_ACCESS_DENIED);
    assert_int_equal (s_access (fsm, "user/bobby", BOB, 0), STREAM_ACCESS_DENIED);
    assert_true (stream_access_is_party ("conv/alice/bob", 14, "alice"));
    assert_false (stream_access_is_party ("conv/alice/bob", 14, "ali"));
    assert_false (stream_access_is_party ("user/bob", 8, NULL));
    fsm_destroy (&fsm);
}

static void
test_expiry (void **state)
{
    (void)state;
    fsm_options_t options = {.chat = {.session_idle_ms = 1000, .session_lifetime_ms = 5000}};
    fsm_t *fsm = s_world (&options);
    assert_int_equal (s_access (fsm, "user/bob", BOB, 1000), STREAM_ACCESS_GRANTED);
    //  Idle past 1000 ms: the same check a request gets
    assert_int_equal (s_access (fsm, "user/bob", BOB, 1001), STREAM_ACCESS_DENIED);
    //  Checking ends nothing and uses nothing: a request still finds it
    //  expired, not unknown
    chat_fixture_t holder;
    Raftq__State__Command *command = chat_fixture_read (&holder, NULL, NULL, 1, 1);
    char key[SESSION_KEY_SIZE];
    session_key (BOB, key);
    command->token = key;
    command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + 900;
    assert_int_equal (fsm_fixture_run (fsm, command), RAFTQ__CODE__OK);
    assert_int_equal (s_access (fsm, "user/bob", BOB, 1800), STREAM_ACCESS_GRANTED);

    //  An applied entry's leader time counts even when the caller's clock
    //  is behind it
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_check_user (&holder, "bob")),
                      RAFTQ__CODE__OK);
    command = chat_fixture_check_user (&holder, "bob");
    command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + 3000;
    assert_int_equal (fsm_fixture_run (fsm, command), RAFTQ__CODE__OK);
    assert_int_equal (s_access (fsm, "user/bob", BOB, 0), STREAM_ACCESS_DENIED);
    fsm_destroy (&fsm);
}

static void
test_logout_and_deletion (void **state)
{
    (void)state;
    fsm_t *fsm = s_world (NULL);
    char key[SESSION_KEY_SIZE];
    chat_fixture_t holder;
    uint64_t ended = fsm_sessions_ended (fsm);

    session_key (BOB, key);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_logout (&holder, key)), RAFTQ__CODE__OK);
    assert_int_equal (s_access (fsm, "user/bob", BOB, 0), STREAM_ACCESS_DENIED);
    assert_int_equal (s_access (fsm, "conv/alice/bob", BOB, 0), STREAM_ACCESS_DENIED);
    assert_true (fsm_sessions_ended (fsm) > ended);
    ended = fsm_sessions_ended (fsm);

    session_key (ALICE, key);
    assert_int_equal (s_access (fsm, "conv/alice/bob", ALICE, 0), STREAM_ACCESS_GRANTED);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_delete_account (&holder, key)),
                      RAFTQ__CODE__OK);
    assert_int_equal (s_access (fsm, "conv/alice/bob", ALICE, 0), STREAM_ACCESS_DENIED);
    assert_int_equal (s_access (fsm, "user/alice", ALICE, 0), STREAM_ACCESS_DENIED);
    assert_true (fsm_sessions_ended (fsm) > ended);
    //  Others are untouched
    assert_int_equal (s_access (fsm, "user/carol", CAROL, 0), STREAM_ACCESS_GRANTED);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_topic_subscriptions),
        cmocka_unit_test (test_private_subscriptions),
        cmocka_unit_test (test_parties),
        cmocka_unit_test (test_expiry),
        cmocka_unit_test (test_logout_and_deletion),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
