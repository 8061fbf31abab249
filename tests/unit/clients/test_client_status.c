/*  test_client_status — libraftq's status with detail, admin snapshot and
    endpoint adding against fake nodes (ROUTERs on inproc endpoints in one
    actor): the detail is asked for and mapped field by field, an older
    node without detail is reported as such, a snapshot's index comes
    back, a refusal keeps its code and text, and the client learns new
    endpoints once.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <czmq.h>

#include "raftq.h"
#include "raftq.pb-c.h"

//  The fake nodes: 0 is current, 1 sends no detail (an older version), 2
//  refuses snapshots.
#define FAKE_NODES     3
#define SNAPSHOT_INDEX 77

//  The member list the current fake node reports, deliberately not by id:
//  the node's order is kept.
static void
s_fill_members (Raftq__MemberStatus *members, Raftq__MemberStatus **pointers)
{
    for (int index = 0; index < 2; index++) {
        raftq__member_status__init (&members[index]);
        pointers[index] = &members[index];
        members[index].id = (uint32_t)index + 1;
        members[index].host = "127.0.0.1";
        members[index].client_port = 5501 + (uint32_t)index;
        members[index].peer_port = 5601 + (uint32_t)index;
        members[index].pub_port = 5701 + (uint32_t)index;
    }
    members[0].voter = true;
    members[0].replication_known = true;
    members[0].match_index = 40;
    members[0].lag = 2;
    //  A learner whose port is out of range: the client reports no port
    members[1].pub_port = 70000;
}

//  Fills reply to request as fake node number answers it; the rest is
//  room for the reply's parts.
static void
s_answer (int number, const Raftq__Request *request, Raftq__Reply *reply, Raftq__NodeStatus *status,
          Raftq__StatusDetail *detail, Raftq__MemberStatus *members, Raftq__MemberStatus **pointers)
{
    raftq__reply__init (reply);
    reply->seq = request->seq;
    if (request->op_case == RAFTQ__REQUEST__OP_STATUS) {
        raftq__node_status__init (status);
        status->id = (uint32_t)number + 1;
        status->role = RAFTQ__ROLE__LEADER;
        status->term = 3;
        status->last_index = 42;
        reply->result_case = RAFTQ__REPLY__RESULT_STATUS;
        reply->status = status;
        if (request->status && request->status->detail && number != 1) {
            raftq__status_detail__init (detail);
            s_fill_members (members, pointers);
            detail->members = pointers;
            detail->n_members = 2;
            detail->config_index = 5;
            detail->snapshot_index = 30;
            detail->snapshot_term = 2;
            detail->first_index = 11;
            detail->log_bytes = 4096;
            detail->snapshot_bytes = 512;
            status->detail = detail;
        }
    } else if (request->op_case == RAFTQ__REQUEST__OP_TAKE_SNAPSHOT && number != 2)
        reply->index = SNAPSHOT_INDEX;
    else {
        reply->code = RAFTQ__CODE__UNAVAILABLE;
        reply->error = "a snapshot is being written";
    }
}

static void
s_serve (zsock_t *router, int number)
{
    zmsg_t *message = zmsg_recv (router);
    if (!message)
        return;
    zframe_t *body = zmsg_last (message);
    Raftq__Request *request = raftq__request__unpack (NULL, zframe_size (body), zframe_data (body));
    if (request) {
        Raftq__Reply reply;
        Raftq__NodeStatus status;
        Raftq__StatusDetail detail;
        Raftq__MemberStatus members[2];
        Raftq__MemberStatus *pointers[2];
        s_answer (number, request, &reply, &status, &detail, members, pointers);
        size_t size = raftq__reply__get_packed_size (&reply);
        zframe_t *packed = zframe_new (NULL, size);
        raftq__reply__pack (&reply, zframe_data (packed));
        zmsg_remove (message, body);
        zframe_destroy (&body);
        zmsg_append (message, &packed);
        zmsg_send (&message, router);
        raftq__request__free_unpacked (request, NULL);
    }
    zmsg_destroy (&message);
}

//  A client of the fake nodes, with the fake running.
typedef struct {
    zactor_t *fake;                 //  the fake nodes
    raftq_client_t *client;         //  knows them, in order
    char endpoints[FAKE_NODES][64]; //  theirs: fresh names for each test, because
                                    //  libzmq frees an inproc name only some time
                                    //  after the socket that bound it is gone
    const char *list[FAKE_NODES];   //  the same, as raftq_client_new takes them
} fixture_t;

//  The fake nodes: args is the fixture, whose endpoints they bind.
static void
s_fake_nodes (zsock_t *pipe, void *args)
{
    const fixture_t *fixture = (const fixture_t *)args;
    zsock_t *routers[FAKE_NODES];
    zpoller_t *poller = zpoller_new (pipe, NULL);
    for (int number = 0; number < FAKE_NODES; number++) {
        routers[number] = zsock_new (ZMQ_ROUTER);
        zsock_set_linger (routers[number], 0);
        int rc = zsock_bind (routers[number], "%s", fixture->endpoints[number]);
        assert (rc == 0);
        zpoller_add (poller, routers[number]);
    }
    zsock_signal (pipe, 0);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (!which || which == pipe)
            break;
        for (int number = 0; number < FAKE_NODES; number++)
            if (which == routers[number])
                s_serve (routers[number], number);
    }
    zpoller_destroy (&poller);
    for (int number = 0; number < FAKE_NODES; number++)
        zsock_destroy (&routers[number]);
}

static int
s_setup (void **state)
{
    fixture_t *fixture = (fixture_t *)calloc (1, sizeof (fixture_t));
    for (int number = 0; number < FAKE_NODES; number++) {
        snprintf (fixture->endpoints[number], sizeof (fixture->endpoints[number]),
                  "inproc://status-%" PRId64 "-%d", zclock_usecs (), number);
        fixture->list[number] = fixture->endpoints[number];
    }
    fixture->fake = zactor_new (s_fake_nodes, fixture);
    fixture->client = raftq_client_new (fixture->list, FAKE_NODES);
    assert_non_null (fixture->client);
    //  A broken fake fails the test rather than hang it
    raftq_client_set_attempt_timeout (fixture->client, 2000);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    raftq_client_destroy (&fixture->client);
    zactor_destroy (&fixture->fake);
    free (fixture);
    return 0;
}

static void
test_status_detail_is_mapped (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    raftq_status_detail_t detail;
    assert_int_equal (raftq_status_detail (fixture->client, 0, &detail), RAFTQ_OK);
    assert_true (detail.detailed);
    assert_int_equal (detail.status.id, 1);
    assert_int_equal (detail.status.role, RAFTQ_ROLE_LEADER);
    assert_int_equal (detail.status.last_index, 42);
    assert_int_equal (detail.config_index, 5);
    assert_int_equal (detail.snapshot_index, 30);
    assert_int_equal (detail.snapshot_term, 2);
    assert_int_equal (detail.first_index, 11);
    assert_int_equal (detail.log_bytes, 4096);
    assert_int_equal (detail.snapshot_bytes, 512);
    assert_int_equal (detail.member_count, 2);
    const raftq_member_status_t *voter = &detail.members[0];
    assert_int_equal (voter->id, 1);
    assert_true (voter->voter);
    assert_string_equal (voter->host, "127.0.0.1");
    assert_int_equal (voter->client_port, 5501);
    assert_int_equal (voter->peer_port, 5601);
    assert_int_equal (voter->pub_port, 5701);
    assert_true (voter->replication_known);
    assert_int_equal (voter->match_index, 40);
    assert_int_equal (voter->lag, 2);
    const raftq_member_status_t *learner = &detail.members[1];
    assert_int_equal (learner->id, 2);
    assert_false (learner->voter);
    assert_false (learner->replication_known);
    assert_int_equal (learner->pub_port, 0);

    //  The plain status does not ask for the detail (the fake sends it
    //  only when asked) and keeps its old shape
    raftq_status_t status;
    assert_int_equal (raftq_status (fixture->client, 0, &status), RAFTQ_OK);
    assert_int_equal (status.id, 1);
    assert_int_equal (status.last_index, 42);

    //  An older node answers without detail: said, not invented
    assert_int_equal (raftq_status_detail (fixture->client, 1, &detail), RAFTQ_OK);
    assert_false (detail.detailed);
    assert_int_equal (detail.status.id, 2);
    assert_int_equal (detail.member_count, 0);

    assert_int_equal (raftq_status_detail (fixture->client, FAKE_NODES, &detail),
                      RAFTQ_INVALID_ARGUMENT);
}

static void
test_admin_snapshot (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    uint64_t index = 1;
    assert_int_equal (raftq_admin_snapshot (fixture->client, 0, &index), RAFTQ_OK);
    assert_int_equal (index, SNAPSHOT_INDEX);
    assert_string_equal (raftq_client_error (fixture->client), "");
    assert_int_equal (raftq_admin_snapshot (fixture->client, 1, NULL), RAFTQ_OK);

    //  A refusal keeps the node's code and text; no other node is tried
    index = 1;
    assert_int_equal (raftq_admin_snapshot (fixture->client, 2, &index), RAFTQ_UNAVAILABLE);
    assert_int_equal (index, 0);
    assert_string_equal (raftq_client_error (fixture->client), "a snapshot is being written");
    assert_int_equal (raftq_admin_snapshot (fixture->client, FAKE_NODES, &index),
                      RAFTQ_INVALID_ARGUMENT);
}

static void
test_add_endpoint (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    size_t index = 99;
    assert_int_equal (raftq_client_add_endpoint (fixture->client, fixture->endpoints[1], &index),
                      0);
    assert_int_equal (index, 1);
    assert_int_equal (raftq_client_endpoint_count (fixture->client), FAKE_NODES);
    assert_int_equal (raftq_client_add_endpoint (fixture->client, "tcp://127.0.0.1:9", &index), 0);
    assert_int_equal (index, FAKE_NODES);
    assert_string_equal (raftq_client_endpoint (fixture->client, index), "tcp://127.0.0.1:9");
    assert_int_equal (raftq_client_add_endpoint (fixture->client, "tcp://127.0.0.1:9", NULL), 0);
    assert_int_equal (raftq_client_endpoint_count (fixture->client), FAKE_NODES + 1);
    assert_int_equal (raftq_client_add_endpoint (fixture->client, "", &index), -1);
    assert_int_equal (raftq_client_add_endpoint (fixture->client, NULL, &index), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_status_detail_is_mapped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_admin_snapshot, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_add_endpoint, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
