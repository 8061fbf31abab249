/*  test_fanout — a real XPUB on inproc with real SUB sockets: which prefixes
    the fan-out learns from subscriptions and cancels, what it publishes for
    an event (stream, protobuf Event, JSON), and that nothing is built or
    sent for a stream no subscriber wants.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/fanout.h"

//  Generous: only a wedged socket takes this long.
#define WAIT_MS 5000

static fanout_t *
s_fanout (const char *endpoint)
{
    zsock_t *publisher = zsock_new_xpub (endpoint);
    assert_non_null (publisher);
    fanout_t *fanout = fanout_new (&publisher, 1);
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

static void
s_event (Raftq__Event *event, char *stream, uint64_t seq)
{
    raftq__event__init (event);
    event->stream = stream;
    event->seq = seq;
}

static void
test_subscriptions_tracked_by_prefix (void **state)
{
    (void)state;
    fanout_t *fanout = s_fanout ("inproc://fanout-prefixes");
    assert_false (fanout_has_subscriber (fanout, "chat/alice"));

    zsock_t *chat = zsock_new_sub ("inproc://fanout-prefixes", "chat/");
    assert_non_null (chat);
    s_take_subscriptions (fanout);
    assert_true (fanout_has_subscriber (fanout, "chat/alice"));
    assert_true (fanout_has_subscriber (fanout, "chat/"));
    assert_false (fanout_has_subscriber (fanout, "chat"));
    assert_false (fanout_has_subscriber (fanout, "queue/orders"));

    //  The empty prefix (every stream), and a second subscriber to chat/
    zsock_t *everything = zsock_new_sub ("inproc://fanout-prefixes", "");
    zsock_t *chat_too = zsock_new_sub ("inproc://fanout-prefixes", "chat/");
    assert_non_null (everything);
    assert_non_null (chat_too);
    s_take_subscriptions (fanout);
    assert_true (fanout_has_subscriber (fanout, "queue/orders"));

    //  The cancel of the last subscriber to a prefix removes it
    zsock_set_unsubscribe (everything, "");
    s_take_subscriptions (fanout);
    assert_false (fanout_has_subscriber (fanout, "queue/orders"));
    zsock_set_unsubscribe (chat, "chat/");
    zsock_set_unsubscribe (chat_too, "chat/");
    s_take_subscriptions (fanout);
    assert_false (fanout_has_subscriber (fanout, "chat/alice"));

    zsock_destroy (&chat);
    zsock_destroy (&chat_too);
    zsock_destroy (&everything);
    fanout_destroy (&fanout);
    assert_null (fanout);
}

//  Receives one published message and checks its three frames.
static void
s_expect_event (zsock_t *subscriber, const char *stream, uint64_t seq)
{
    zsock_set_rcvtimeo (subscriber, WAIT_MS);
    zmsg_t *message = zmsg_recv (subscriber);
    if (!message)
        fail_msg ("no event on %s", stream);
    assert_int_equal (zmsg_size (message), 3);
    char *topic = zmsg_popstr (message);
    assert_string_equal (topic, stream);
    zframe_t *packed = zmsg_pop (message);
    Raftq__Event *event = raftq__event__unpack (NULL, zframe_size (packed), zframe_data (packed));
    assert_non_null (event);
    assert_string_equal (event->stream, stream);
    assert_int_equal (event->seq, seq);
    char *json = zmsg_popstr (message);
    assert_non_null (strstr (json, stream));
    assert_int_equal (json[0], '{');
    raftq__event__free_unpacked (event, NULL);
    zframe_destroy (&packed);
    free (topic);
    free (json);
    zmsg_destroy (&message);
}

static void
test_publish_only_what_is_wanted (void **state)
{
    (void)state;
    fanout_t *fanout = s_fanout ("inproc://fanout-publish");
    zsock_t *subscriber = zsock_new_sub ("inproc://fanout-publish", "queue/");
    assert_non_null (subscriber);
    s_take_subscriptions (fanout);

    Raftq__Event event;
    s_event (&event, "chat/alice", 1);
    fanout_publish (fanout, &event);
    s_event (&event, "queue/orders", 7);
    fanout_publish (fanout, &event);
    //  An event without a stream goes nowhere
    s_event (&event, NULL, 8);
    fanout_publish (fanout, &event);
    s_event (&event, "queue/bills", 9);
    fanout_publish (fanout, &event);

    //  The chat event was never sent: the first to arrive is the queue's
    s_expect_event (subscriber, "queue/orders", 7);
    s_expect_event (subscriber, "queue/bills", 9);
    zsock_set_rcvtimeo (subscriber, 100);
    zmsg_t *extra = zmsg_recv (subscriber);
    assert_null (extra);

    zsock_destroy (&subscriber);
    fanout_destroy (&fanout);
}

//  Messages a subscriber sends that are not subscriptions change nothing.
static void
test_other_messages_ignored (void **state)
{
    (void)state;
    fanout_t *fanout = s_fanout ("inproc://fanout-junk");
    zsock_t *peer = zsock_new (ZMQ_XSUB);
    assert_non_null (peer);
    assert_int_equal (zsock_connect (peer, "inproc://fanout-junk"), 0);
    //  Not [0|1][prefix]; a prefix with a NUL inside; then a real one
    zstr_send (peer, "\x05junk");
    zsock_send (peer, "b",
                "\x01"
                "ch\0at",
                (size_t)6);
    zsock_send (peer, "b",
                "\x01"
                "news/",
                (size_t)6);
    for (int round = 0; round < 3 && !fanout_has_subscriber (fanout, "news/today"); round++)
        s_take_subscriptions (fanout);
    assert_true (fanout_has_subscriber (fanout, "news/today"));
    assert_false (fanout_has_subscriber (fanout, "ch"));
    assert_false (fanout_has_subscriber (fanout, "junk"));
    zsock_destroy (&peer);
    fanout_destroy (&fanout);
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
        cmocka_unit_test (test_subscriptions_tracked_by_prefix),
        cmocka_unit_test (test_publish_only_what_is_wanted),
        cmocka_unit_test (test_other_messages_ignored),
        cmocka_unit_test (test_send_hwm_from_lag_bytes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
