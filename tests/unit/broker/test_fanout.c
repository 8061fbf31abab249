/*  test_fanout — a real XPUB (ZMQ_XPUB_MANUAL) on inproc with real SUB
    sockets and a real state machine: topic subscriptions and prefixes of
    "topic/" applied as topic prefixes, private subscriptions applied only
    for a party's live session (confirmed, published once per string,
    revoked on logout and expiry), eavesdroppers receiving nothing, cancels
    and closed connections forgotten, and nothing built for a stream no
    subscriber wants.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/fanout.h"
#include "chat_fixture.h"
#include "fsm_fixture.h"
#include "state/session_key.h"

//  Generous: only a wedged socket takes this long.
#define WAIT_MS 5000
//  How long "nothing arrives" is watched for.
#define QUIET_MS 150

#define ALICE "0123456789abcdef0123456789abcdef"
#define BOB   "fedcba9876543210fedcba9876543210"
#define WRONG "ffffffffffffffffffffffffffffffff"

static fanout_t *
s_fanout (const char *endpoint, fsm_t *fsm)
{
    zsock_t *publisher = zsock_new (ZMQ_XPUB);
    assert_non_null (publisher);
    assert_int_equal (fanout_prepare_socket (publisher), 0);
    assert_int_equal (zsock_bind (publisher, "%s", endpoint), 0);
    fanout_t *fanout = fanout_new (&publisher, 1, fsm);
    assert_non_null (fanout);
    assert_null (publisher);
    return fanout;
}

//  Waits until the XPUB has news from its subscribers, then takes it in.
static void
s_take_subscriptions (fanout_t *fanout)
{
    zpoller_t *poller = zpoller_new (fanout_sock (fanout), NULL);
    assert_non_null (poller);
    bool ready = zpoller_wait (poller, WAIT_MS) != NULL;
    zpoller_destroy (&poller);
    if (!ready)
        fail_msg ("no subscription reached the XPUB");
    fanout_take_subscriptions (fanout);
}

//  Takes subscription messages until no subscriber of stream is left. A
//  closed connection's cancels come when libzmq gets to them, perhaps
//  behind other connections' messages.
static void
s_take_until_unsubscribed (fanout_t *fanout, const char *stream)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (fanout_has_subscriber (fanout, stream) && zclock_mono () < deadline)
        s_take_subscriptions (fanout);
    assert_false (fanout_has_subscriber (fanout, stream));
}

static void
s_publish (fanout_t *fanout, char *stream, uint64_t seq)
{
    Raftq__Event event = RAFTQ__EVENT__INIT;
    event.stream = stream;
    event.seq = seq;
    event.kind = "message";
    fanout_publish (fanout, &event);
}

//  Receives one message: frame 1 must be first, the event of stream with
//  seq (and kind, if not NULL).
static void
s_expect (zsock_t *subscriber, const char *first, const char *stream, uint64_t seq,
          const char *kind)
{
    zsock_set_rcvtimeo (subscriber, WAIT_MS);
    zmsg_t *message = zmsg_recv (subscriber);
    if (!message)
        fail_msg ("nothing on %s", first);
    assert_int_equal (zmsg_size (message), 3);
    char *frame = zmsg_popstr (message);
    assert_string_equal (frame, first);
    zframe_t *packed = zmsg_pop (message);
    Raftq__Event *event = raftq__event__unpack (NULL, zframe_size (packed), zframe_data (packed));
    assert_non_null (event);
    assert_string_equal (event->stream, stream);
    assert_int_equal (event->seq, seq);
    if (kind)
        assert_string_equal (event->kind, kind);
    char *json = zmsg_popstr (message);
    assert_int_equal (json[0], '{');
    assert_non_null (strstr (json, stream));
    raftq__event__free_unpacked (event, NULL);
    zframe_destroy (&packed);
    free (frame);
    free (json);
    zmsg_destroy (&message);
}

static void
s_expect_nothing (zsock_t *subscriber)
{
    zsock_set_rcvtimeo (subscriber, QUIET_MS);
    zmsg_t *extra = zmsg_recv (subscriber);
    if (extra) {
        char *frame = zmsg_popstr (extra);
        fail_msg ("unexpected message on '%s'", frame);
    }
}

static fsm_t *
s_world (const fsm_options_t *options)
{
    fsm_t *fsm = fsm_new (options);
    chat_fixture_t holder;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "alice", "pw")),
                      RAFTQ__CODE__OK);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "bob", "pw")),
                      RAFTQ__CODE__OK);
    //  The fan-out checks sessions at the wall clock's time
    chat_fixture_session_of (fsm, "alice", ALICE, zclock_time ());
    chat_fixture_session_of (fsm, "bob", BOB, zclock_time ());
    return fsm;
}

static void
test_topic_subscriptions (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    fanout_t *fanout = s_fanout ("inproc://fanout-topics", fsm);
    assert_false (fanout_has_subscriber (fanout, "topic/jobs"));

    zsock_t *jobs = zsock_new_sub ("inproc://fanout-topics", "topic/jobs");
    s_take_subscriptions (fanout);
    assert_true (fanout_has_subscriber (fanout, "topic/jobs"));
    assert_false (fanout_has_subscriber (fanout, "topic/news"));

    //  The empty prefix is every topic stream, and no private one
    zsock_t *everything = zsock_new_sub ("inproc://fanout-topics", "");
    zsock_t *jobs_too = zsock_new_sub ("inproc://fanout-topics", "topic/jobs");
    s_take_subscriptions (fanout);
    assert_true (fanout_has_subscriber (fanout, "topic/news"));
    assert_false (fanout_has_subscriber (fanout, "user/bob"));
    s_publish (fanout, "user/bob", 1);
    s_publish (fanout, "conv/alice/bob", 1);
    s_publish (fanout, "topic/jobs", 4);
    s_expect (everything, "topic/jobs", "topic/jobs", 4, NULL);
    s_expect (jobs, "topic/jobs", "topic/jobs", 4, NULL);
    s_expect_nothing (everything);

    //  A cancel takes one subscriber's share; the last one's, the prefix
    zsock_set_unsubscribe (everything, "");
    s_take_until_unsubscribed (fanout, "topic/news");
    zsock_set_unsubscribe (jobs, "topic/jobs");
    s_take_subscriptions (fanout);
    assert_true (fanout_has_subscriber (fanout, "topic/jobs"));
    //  A closed connection's subscriptions come back as cancels
    zsock_destroy (&jobs_too);
    s_take_until_unsubscribed (fanout, "topic/jobs");

    zsock_destroy (&jobs);
    zsock_destroy (&everything);
    fanout_destroy (&fanout);
    fsm_destroy (&fsm);
}

static void
test_private_streams (void **state)
{
    (void)state;
    fsm_t *fsm = s_world (NULL);
    fanout_t *fanout = s_fanout ("inproc://fanout-private", fsm);
    const char *endpoint = "inproc://fanout-private";
    //  Eavesdroppers: none of these is ever applied
    const char *tries[] = {"",
                           "user/",
                           "conv/",
                           "user/bob",
                           "user/bob#" WRONG,
                           "user/bob#" ALICE,
                           "conv/alice/bob",
                           "conv/bob/alice#" BOB,
                           "u"};
    size_t try_count = sizeof tries / sizeof tries[0];
    zsock_t *eavesdroppers[sizeof tries / sizeof tries[0]];
    for (size_t which = 0; which < try_count; which++)
        eavesdroppers[which] = zsock_new_sub (endpoint, tries[which]);
    zsock_t *bob = zsock_new_sub (endpoint, "user/bob#" BOB);
    zsock_t *bob_conv = zsock_new_sub (endpoint, "conv/alice/bob#" BOB);
    zsock_t *alice_conv = zsock_new_sub (endpoint, "conv/alice/bob#" ALICE);
    for (int round = 0; round < 10 && !fanout_has_subscriber (fanout, "conv/alice/bob"); round++)
        s_take_subscriptions (fanout);
    while (zsock_events (fanout_sock (fanout)) & ZMQ_POLLIN)
        fanout_take_subscriptions (fanout);

    //  Each authorized string is confirmed on itself
    s_expect (bob, "user/bob#" BOB, "user/bob", 0, "subscribed");
    s_expect (bob_conv, "conv/alice/bob#" BOB, "conv/alice/bob", 0, "subscribed");
    s_expect (alice_conv, "conv/alice/bob#" ALICE, "conv/alice/bob", 0, "subscribed");

    //  Events go once per authorized string, under that string
    s_publish (fanout, "user/bob", 1);
    s_publish (fanout, "conv/alice/bob", 1);
    s_publish (fanout, "user/alice", 1);
    s_publish (fanout, "topic/jobs", 1);
    s_expect (bob, "user/bob#" BOB, "user/bob", 1, "message");
    s_expect (bob_conv, "conv/alice/bob#" BOB, "conv/alice/bob", 1, "message");
    s_expect (alice_conv, "conv/alice/bob#" ALICE, "conv/alice/bob", 1, "message");
    s_expect_nothing (bob);
    s_expect_nothing (alice_conv);
    for (size_t which = 0; which < try_count; which++) {
        //  "" and "u"... see topic/ events only ("" does; "u" is refused)
        if (which == 0)
            s_expect (eavesdroppers[which], "topic/jobs", "topic/jobs", 1, NULL);
        s_expect_nothing (eavesdroppers[which]);
        zsock_destroy (&eavesdroppers[which]);
    }

    //  Cancel and subscribe again: confirmed again; closing forgets it
    zsock_set_unsubscribe (bob, "user/bob#" BOB);
    s_take_until_unsubscribed (fanout, "user/bob");
    zsock_set_subscribe (bob, "user/bob#" BOB);
    s_take_subscriptions (fanout);
    s_expect (bob, "user/bob#" BOB, "user/bob", 0, "subscribed");
    zsock_destroy (&bob);
    s_take_until_unsubscribed (fanout, "user/bob");

    zsock_destroy (&bob_conv);
    zsock_destroy (&alice_conv);
    fanout_destroy (&fanout);
    fsm_destroy (&fsm);
}

//  A session that ends (logout) or expires is revoked: one "revoked"
//  event on the string, then nothing more.
static void
test_revocation (void **state)
{
    (void)state;
    fsm_options_t options = {.chat = {.session_idle_ms = 60000}};
    fsm_t *fsm = s_world (&options);
    fanout_t *fanout = s_fanout ("inproc://fanout-revoke", fsm);
    zsock_t *bob = zsock_new_sub ("inproc://fanout-revoke", "user/bob#" BOB);
    zsock_t *alice = zsock_new_sub ("inproc://fanout-revoke", "user/alice#" ALICE);
    for (int round = 0; round < 10 && !(fanout_has_subscriber (fanout, "user/bob") &&
                                        fanout_has_subscriber (fanout, "user/alice"));
         round++)
        s_take_subscriptions (fanout);
    s_expect (bob, "user/bob#" BOB, "user/bob", 0, "subscribed");
    s_expect (alice, "user/alice#" ALICE, "user/alice", 0, "subscribed");

    //  Nothing changed: nothing revoked
    fanout_follow (fanout);
    fanout_revalidate (fanout);
    s_expect_nothing (bob);

    char key[SESSION_KEY_SIZE];
    session_key (BOB, key);
    chat_fixture_t holder;
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_logout (&holder, key)), RAFTQ__CODE__OK);
    fanout_follow (fanout);
    s_expect (bob, "user/bob#" BOB, "user/bob", 0, "revoked");
    s_publish (fanout, "user/bob", 2);
    s_expect_nothing (bob);
    //  Subscribing again with the dead token is not applied
    zsock_set_unsubscribe (bob, "user/bob#" BOB);
    zsock_set_subscribe (bob, "user/bob#" BOB);
    s_take_subscriptions (fanout);
    s_publish (fanout, "user/bob", 3);
    s_expect_nothing (bob);

    //  Expiry: an applied entry's leader time is past alice's idle time
    s_publish (fanout, "user/alice", 1);
    s_expect (alice, "user/alice#" ALICE, "user/alice", 1, NULL);
    Raftq__State__Command *later = chat_fixture_check_user (&holder, "bob");
    later->timestamp_ms = zclock_time () + 60001;
    assert_int_equal (fsm_fixture_run (fsm, later), RAFTQ__CODE__OK);
    fanout_revalidate (fanout);
    s_expect (alice, "user/alice#" ALICE, "user/alice", 0, "revoked");
    s_publish (fanout, "user/alice", 2);
    s_expect_nothing (alice);

    zsock_destroy (&bob);
    zsock_destroy (&alice);
    fanout_destroy (&fanout);
    fsm_destroy (&fsm);
}

//  A peer's messages that are not subscriptions change nothing, and what
//  the XPUB hands up after one is not applied until it is in step again.
static void
test_other_messages (void **state)
{
    (void)state;
    fsm_t *fsm = s_world (NULL);
    fanout_t *fanout = s_fanout ("inproc://fanout-junk", fsm);
    zsock_t *peer = zsock_new (ZMQ_XSUB);
    assert_non_null (peer);
    assert_int_equal (zsock_connect (peer, "inproc://fanout-junk"), 0);
    zstr_send (peer, "\x05junk");
    zsock_send (peer, "b",
                "\x01"
                "to\0pic",
                (size_t)7);
    zsock_send (peer, "b",
                "\x01"
                "topic/news",
                (size_t)11);
    for (int round = 0; round < 3 && !fanout_has_subscriber (fanout, "topic/news"); round++)
        s_take_subscriptions (fanout);
    assert_true (fanout_has_subscriber (fanout, "topic/news"));
    assert_false (fanout_has_subscriber (fanout, "to"));

    //  Once the XPUB is drained, a private subscription applies as usual
    while (zsock_events (fanout_sock (fanout)) & ZMQ_POLLIN)
        fanout_take_subscriptions (fanout);
    fanout_take_subscriptions (fanout);
    const char subscribe[] = "\x01user/bob#" BOB;
    zsock_send (peer, "b", subscribe, sizeof subscribe - 1);
    s_take_subscriptions (fanout);
    zmsg_t *confirmation = NULL;
    zsock_set_rcvtimeo (peer, WAIT_MS);
    confirmation = zmsg_recv (peer);
    assert_non_null (confirmation);
    char *frame = zmsg_popstr (confirmation);
    assert_string_equal (frame, "user/bob#" BOB);
    free (frame);
    zmsg_destroy (&confirmation);

    zsock_destroy (&peer);
    fanout_destroy (&fanout);
    fsm_destroy (&fsm);
}

static void
test_send_hwm_from_lag_bytes (void **state)
{
    (void)state;
    //  The budget over the largest event (7 payloads and 4 KiB), clamped
    assert_int_equal (fanout_send_hwm (64 * 1024 * 1024, 1024 * 1024), FANOUT_SEND_HWM_MIN);
    assert_int_equal (fanout_send_hwm (7 * 1024 * 1024 + 4096 * 100, 1024 * 100 / 100),
                      (7 * 1024 * 1024 + 409600) / (7 * 1024 + 4096));
    assert_int_equal (fanout_send_hwm (1ull << 40, 1024), FANOUT_SEND_HWM_MAX);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_topic_subscriptions),
        cmocka_unit_test (test_private_streams),
        cmocka_unit_test (test_revocation),
        cmocka_unit_test (test_other_messages),
        cmocka_unit_test (test_send_hwm_from_lag_bytes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
