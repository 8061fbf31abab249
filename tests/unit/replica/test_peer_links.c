/*  test_peer_links — peer_links.c over real CurveZMQ connections: a message
    counts as a node's only on a connection that authenticated with that
    node's key, keys follow the configuration (a removed member is refused
    and its old connection no longer trusted), and a link its peer refused
    is made again once the peer knows this node's key.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replica/peer_links.h"
#include "util/zap_handler.h"

//  Every wait in this file gives up after this long.
#define DEADLINE_MS 5000

//  Node id's key pair, host and peer port (the port filled in once bound).
typedef struct {
    zcert_t *certificate; //  its key pair
    raft_member_t member; //  as a configuration lists it
} node_t;

typedef struct {
    zap_handler_t *handler; //  serves every node's domain in this process
    node_t nodes[4];        //  nodes 1..3 (index 0 unused)
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    assert_non_null (fixture);
    fixture->handler = zap_handler_new ();
    assert_non_null (fixture->handler);
    for (uint32_t id = 1; id <= 3; id++) {
        node_t *node = &fixture->nodes[id];
        node->certificate = zcert_new ();
        node->member.id = id;
        node->member.voter = true;
        strcpy (node->member.host, "127.0.0.1");
        //  Nothing listens there until s_router binds the node's port
        node->member.peer_port = 1;
        memcpy (node->member.public_key, zcert_public_key (node->certificate),
                RAFT_PUBLIC_KEY_SIZE);
    }
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    for (uint32_t id = 1; id <= 3; id++)
        zcert_destroy (&fixture->nodes[id].certificate);
    zap_handler_destroy (&fixture->handler);
    free (fixture);
    return 0;
}

static peer_links_t *
s_links (fixture_t *fixture, uint32_t id)
{
    zcert_t *certificate = fixture->nodes[id].certificate;
    peer_links_options_t options = {id,
                                    "127.0.0.1",
                                    zcert_public_key (certificate),
                                    zcert_secret_key (certificate),
                                    zap_handler_policy_endpoint (fixture->handler),
                                    zap_handler_watch_endpoint (fixture->handler)};
    peer_links_t *links = peer_links_new (&options);
    assert_non_null (links);
    return links;
}

//  Node id's peer ROUTER, secured by its links, its port noted.
static zsock_t *
s_router (fixture_t *fixture, peer_links_t *links, uint32_t id)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    assert_int_equal (peer_links_secure_router (links, router), 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    fixture->nodes[id].member.peer_port = (uint32_t)port;
    zsock_set_rcvtimeo (router, DEADLINE_MS);
    return router;
}

//  A DEALER with node from's keys towards node to's router.
static zsock_t *
s_dealer (fixture_t *fixture, uint32_t from, uint32_t to)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (dealer);
    zsock_set_linger (dealer, 0);
    zcert_apply (fixture->nodes[from].certificate, dealer);
    zsock_set_curve_serverkey_bin (dealer, zcert_public_key (fixture->nodes[to].certificate));
    assert_int_equal (
        zsock_connect (dealer, "tcp://127.0.0.1:%u", fixture->nodes[to].member.peer_port), 0);
    return dealer;
}

//  The next message on router whose body is tag, or NULL after the
//  router's receive timeout. Messages of earlier attempts (DEALERs given up
//  on, whose sends were already on their way) are skipped.
static zmsg_t *
s_receive_tagged (zsock_t *router, const char *tag)
{
    zmsg_t *message;
    while ((message = zmsg_recv (router))) {
        if (zmsg_size (message) == 2 && zframe_streq (zmsg_last (message), tag))
            return message;
        zmsg_destroy (&message);
    }
    return NULL;
}

//  Sends on dealer and returns the message the router got (caller
//  destroys).
static zmsg_t *
s_carry (zsock_t *dealer, zsock_t *router)
{
    static const char tag[] = "carried";
    assert_int_equal (zstr_send (dealer, tag), 0);
    zmsg_t *message = s_receive_tagged (router, tag);
    assert_non_null (message);
    return message;
}

//  A DEALER from node from that node to's router has let in, and the first
//  message it carried. Policies reach the handler asynchronously and a
//  refused DEALER stays refused, so new ones are tried until one is in.
static zsock_t *
s_admitted (fixture_t *fixture, uint32_t from, uint32_t to, zsock_t *router, zmsg_t **message_p)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    zsock_set_rcvtimeo (router, 100);
    *message_p = NULL;
    zsock_t *dealer = NULL;
    for (int attempt = 0; !*message_p && zclock_mono () < deadline; attempt++) {
        zsock_destroy (&dealer);
        dealer = s_dealer (fixture, from, to);
        char tag[32];
        snprintf (tag, sizeof tag, "admit-%u-%d", from, attempt);
        assert_int_equal (zstr_send (dealer, tag), 0);
        *message_p = s_receive_tagged (router, tag);
    }
    assert_non_null (*message_p);
    zsock_set_rcvtimeo (router, DEADLINE_MS);
    return dealer;
}

static void
test_sender_must_be_the_authenticated_member (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    peer_links_t *links = s_links (fixture, 1);
    zsock_t *router = s_router (fixture, links, 1);
    assert_int_equal (peer_links_pin (links, &fixture->nodes[2].member, 1), 0);
    raft_member_t members[3] = {fixture->nodes[1].member, fixture->nodes[2].member,
                                fixture->nodes[3].member};
    peer_links_follow (links, members, 3);

    zmsg_t *message;
    zsock_t *from_2 = s_admitted (fixture, 2, 1, router, &message);
    assert_true (peer_links_sender_valid (links, 2, zmsg_last (message)));
    //  Node 2's connection signing as node 3: dropped
    assert_false (peer_links_sender_valid (links, 3, zmsg_last (message)));
    zmsg_destroy (&message);

    zsock_t *from_3 = s_admitted (fixture, 3, 1, router, &message);
    assert_true (peer_links_sender_valid (links, 3, zmsg_last (message)));
    zmsg_destroy (&message);

    //  3 leaves the configuration (it was never in the file): its open
    //  connection is not trusted any more, and a new one is refused
    peer_links_follow (links, members, 2);
    message = s_carry (from_3, router);
    assert_false (peer_links_sender_valid (links, 3, zmsg_last (message)));
    zmsg_destroy (&message);
    //  (the new policy may take a moment: the old one let 3 in)
    zsock_t *again_3 = NULL;
    zsock_set_rcvtimeo (router, 300);
    for (int attempt = 0; attempt < 10; attempt++) {
        zsock_destroy (&again_3);
        again_3 = s_dealer (fixture, 3, 1);
        assert_int_equal (zstr_send (again_3, "again"), 0);
        message = s_receive_tagged (router, "again");
        if (!message)
            break;
        zmsg_destroy (&message);
    }
    assert_null (message);

    zsock_destroy (&again_3);
    zsock_destroy (&from_3);
    zsock_destroy (&from_2);
    zsock_destroy (&router);
    peer_links_destroy (&links);
    assert_null (links);
}

static void
test_refused_link_is_made_again (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    peer_links_t *first = s_links (fixture, 1);
    peer_links_t *second = s_links (fixture, 2);
    zsock_t *router = s_router (fixture, second, 2);
    zsock_set_rcvtimeo (router, 0);
    //  Node 2 knows nobody yet: node 1's first handshakes are refused
    peer_links_follow (second, &fixture->nodes[2].member, 1);
    assert_int_equal (peer_links_pin (first, &fixture->nodes[2].member, 1), 0);
    int64_t deadline = zclock_mono () + 1000;
    while (zclock_mono () < deadline) {
        zframe_t *frame = zframe_new ("early", 5);
        peer_links_send (first, 2, &frame);
        assert_null (frame);
        zclock_sleep (10);
    }
    //  Then it learns node 1 from the configuration; node 1 gets through
    //  without being told
    raft_member_t members[2] = {fixture->nodes[1].member, fixture->nodes[2].member};
    peer_links_follow (second, members, 2);
    zmsg_t *message = NULL;
    deadline = zclock_mono () + DEADLINE_MS;
    while (!message && zclock_mono () < deadline) {
        zframe_t *frame = zframe_new ("late", 4);
        peer_links_send (first, 2, &frame);
        zclock_sleep (10);
        message = zmsg_recv (router);
    }
    assert_non_null (message);
    assert_true (peer_links_sender_valid (second, 1, zmsg_last (message)));
    zmsg_destroy (&message);
    zsock_destroy (&router);
    peer_links_destroy (&second);
    peer_links_destroy (&first);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sender_must_be_the_authenticated_member),
        cmocka_unit_test (test_refused_link_is_made_again),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
