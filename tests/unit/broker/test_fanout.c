/*  test_fanout — a real XPUB (ZMQ_XPUB_MANUAL) on inproc with real SUB
    sockets and a real state machine: topic subscriptions and prefixes of
    "topic/" applied as topic prefixes, private subscriptions applied only
    for a party's live session (confirmed, published once per string,
    revoked on logout and expiry), eavesdroppers receiving nothing, cancels
    and closed connections forgotten, nothing built for a stream no
    subscriber wants, and the send high-water mark following the sizes of
    the events held (fanout_budget.h).
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/fanout.h"
#include "broker/fanout_budget.h"
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

//  The default max_subscriber_lag_bytes
#define LAG_BYTES (64u * 1024 * 1024)

static fanout_t *
s_fanout_bounded (const char *endpoint, fsm_t *fsm, uint64_t lag_bytes)
{
    zsock_t *publisher = zsock_new (ZMQ_XPUB);
    assert_non_null (publisher);
    assert_int_equal (fanout_prepare_socket (publisher, lag_bytes), 0);
    assert_int_equal (zsock_bind (publisher, "%s", endpoint), 0);
    fanout_t *fanout = fanout_new (&publisher, 1, fsm, lag_bytes);
    assert_non_null (fanout);
    assert_null (publisher);
    return fanout;
}

static fanout_t *
s_fanout (const char *endpoint, fsm_t *fsm)
{
    return s_fanout_bounded (endpoint, fsm, LAG_BYTES);
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
        fail_msg ("nothing on %s (seq %" PRIu64 " awaited)", first, seq);
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

//  A subscriber that reads only after a burst of small events loses none
//  of them: the lag bound is counted in the bytes of the events held, not
//  in the largest event a payload could make.
static void
test_burst_of_small_events_kept (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    fanout_t *fanout = s_fanout ("inproc://fanout-burst", fsm);
    assert_int_equal (zsock_sndhwm (fanout_sock (fanout)), FANOUT_SEND_HWM_MAX);
    zsock_t *subscriber = zsock_new_sub ("inproc://fanout-burst", "topic/");
    s_take_subscriptions (fanout);
    //  Past the subscriber's own queue (1000) plus any few-event mark
    const uint64_t burst = 3000;
    for (uint64_t seq = 1; seq <= burst; seq++)
        s_publish (fanout, "topic/jobs", seq);
    for (uint64_t seq = 1; seq <= burst; seq++)
        s_expect (subscriber, "topic/jobs", "topic/jobs", seq, NULL);
    zsock_destroy (&subscriber);
    fanout_destroy (&fanout);
    fsm_destroy (&fsm);
}

//  Publishes on "topic/big" an event carrying size bytes.
static void
s_publish_bytes (fanout_t *fanout, uint64_t seq, size_t size)
{
    //  Printable: JSON carries it as it is
    uint8_t *bytes = malloc (size);
    assert_non_null (bytes);
    memset (bytes, 'x', size);
    Raftq__Event event = RAFTQ__EVENT__INIT;
    event.stream = "topic/big";
    event.seq = seq;
    event.kind = "publish";
    event.topic = "big";
    event.message.data = bytes;
    event.message.len = size;
    fanout_publish (fanout, &event);
    free (bytes);
}

//  A big event lowers the XPUB's mark before it goes out, so that the
//  bound holds in bytes; once the subscriber took it, small events raise
//  the mark again.
static void
test_mark_follows_event_sizes (void **state)
{
    (void)state;
    const uint64_t lag_bytes = 1024 * 1024;
    fsm_t *fsm = fsm_new (NULL);
    fanout_t *fanout = s_fanout_bounded ("inproc://fanout-sizes", fsm, lag_bytes);
    zsock_t *publisher = fanout_sock (fanout);
    int small_mark = fanout_budget_hwm_for (lag_bytes, FANOUT_BUDGET_CLASS_MIN);
    assert_int_equal (zsock_sndhwm (publisher), small_mark);
    zsock_t *subscriber = zsock_new_sub ("inproc://fanout-sizes", "topic/");
    s_take_subscriptions (fanout);

    //  200 KiB of payload, twice that with its JSON text: 512 KiB class
    s_publish_bytes (fanout, 1, 200 * 1024);
    assert_int_equal (zsock_sndhwm (publisher), 2);
    zmsg_t *big = zmsg_recv (subscriber);
    assert_non_null (big);
    zmsg_destroy (&big);

    uint64_t seq = 2;
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zsock_sndhwm (publisher) != small_mark && zclock_mono () < deadline) {
        s_publish (fanout, "topic/big", seq);
        s_expect (subscriber, "topic/big", "topic/big", seq++, NULL);
    }
    assert_int_equal (zsock_sndhwm (publisher), small_mark);
    zsock_destroy (&subscriber);
    fanout_destroy (&fanout);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_topic_subscriptions),
        cmocka_unit_test (test_private_streams),
        cmocka_unit_test (test_revocation),
        cmocka_unit_test (test_other_messages),
        cmocka_unit_test (test_burst_of_small_events_kept),
        cmocka_unit_test (test_mark_follows_event_sizes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
