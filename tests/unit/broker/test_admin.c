/*  test_admin — admin requests without a cluster: validation of what they
    ask, and their waiting as the raft actor's answers and the view change.
    Requests come from a real DEALER through a real client port (inproc),
    and the answers are read back on the DEALER; the view is fed events as
    the raft actor would send them.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/admin.h"
#include "view_fixture.h"

//  Generous: only a wedged socket takes this long.
#define WAIT_MS 5000
//  A deadline no test reaches.
#define FAR_AWAY INT64_MAX

#define CONFIG_TEXT                                                                                \
    "{\"peer_curve\":false,\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":5501,"      \
    "\"peer_port\":5601},"                                                                         \
    "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":5502,\"peer_port\":5602}]}"

typedef struct {
    config_t *config;
    cluster_view_t *view;
    client_port_t *port;
    zsock_t *client;
    admin_credential_t *credential;
    admin_t *admin;
    const char *presented; //  admin secret s_admin puts in requests, NULL for none
} fixture_t;

//  The admin secret of the fixture's node.
#define SECRET "0123456789abcdef-admin"

static int
s_setup (void **state)
{
    static int instance;
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    char error[256];
    fixture->config = config_parse (CONFIG_TEXT, "test.json", error, sizeof (error));
    assert_non_null (fixture->config);
    fixture->view = cluster_view_new (fixture->config, 1);
    char endpoint[64];
    snprintf (endpoint, sizeof (endpoint), "inproc://admin-%d", instance++);
    zsock_t *router = zsock_new_router (endpoint);
    fixture->port = client_port_new (&router, 1, 1024, 1 << 20);
    fixture->client = zsock_new_dealer (endpoint);
    fixture->credential = admin_credential_new (SECRET);
    assert_non_null (fixture->credential);
    fixture->admin = admin_new (fixture->port, fixture->view, fixture->credential, false);
    assert_non_null (fixture->admin);
    zsock_set_rcvtimeo (fixture->client, WAIT_MS);
    //  Node 1 leads in term 2; the configuration is itself alone
    view_fixture_state (fixture->view, RAFT_ROLE_LEADER, 2, 1, 5, 5);
    raft_member_t one = {.id = 1, .voter = true};
    view_fixture_members (fixture->view, &one, 1, 1);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    admin_destroy (&fixture->admin);
    admin_credential_destroy (&fixture->credential);
    zsock_destroy (&fixture->client);
    client_port_destroy (&fixture->port, 0);
    cluster_view_destroy (&fixture->view);
    config_destroy (&fixture->config);
    free (fixture);
    return 0;
}

//  Sends request from the DEALER and takes it off the client port.
static client_request_t *
s_arrive (fixture_t *fixture, Raftq__Request *request)
{
    size_t size = raftq__request__get_packed_size (request);
    zframe_t *body = zframe_new (NULL, size);
    raftq__request__pack (request, zframe_data (body));
    assert_int_equal (zframe_send (&body, fixture->client, 0), 0);
    zpoller_t *poller = zpoller_new (client_port_sock (fixture->port), NULL);
    bool ready = zpoller_wait (poller, WAIT_MS) != NULL;
    zpoller_destroy (&poller);
    assert_true (ready);
    client_request_t *arrived;
    assert_int_equal (client_port_recv (fixture->port, &arrived), 0);
    assert_non_null (arrived);
    return arrived;
}

//  An admin request of op naming node id arrives; an added node is
//  127.0.0.3 with client port 5503 and peer port 5603.
static client_request_t *
s_admin (fixture_t *fixture, Raftq__Request__OpCase op, uint32_t id, uint64_t seq)
{
    Raftq__AddNode add = RAFTQ__ADD_NODE__INIT;
    Raftq__RemoveNode remove = RAFTQ__REMOVE_NODE__INIT;
    Raftq__TransferLeadership transfer = RAFTQ__TRANSFER_LEADERSHIP__INIT;
    add.id = remove.id = transfer.id = id;
    add.host = "127.0.0.3";
    add.client_port = 5503;
    add.peer_port = 5603;
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    request.seq = seq;
    request.op_case = op;
    request.admin_secret = (char *)fixture->presented;
    if (op == RAFTQ__REQUEST__OP_ADD_NODE)
        request.add_node = &add;
    else if (op == RAFTQ__REQUEST__OP_REMOVE_NODE)
        request.remove_node = &remove;
    else
        request.transfer_leadership = &transfer;
    return s_arrive (fixture, &request);
}

//  The next reply on the DEALER: it must carry code and seq. Free it.
static Raftq__Reply *
s_expect_reply (fixture_t *fixture, Raftq__Code code, uint64_t seq)
{
    zframe_t *body = zframe_recv (fixture->client);
    if (!body)
        fail_msg ("no reply for seq %" PRIu64, seq);
    Raftq__Reply *reply = raftq__reply__unpack (NULL, zframe_size (body), zframe_data (body));
    zframe_destroy (&body);
    assert_non_null (reply);
    if (reply->code != code)
        fail_msg ("seq %" PRIu64 ": code %d (%s), expected %d", seq, reply->code,
                  reply->error ? reply->error : "", code);
    assert_int_equal (reply->seq, seq);
    return reply;
}

static void
s_expect_code (fixture_t *fixture, Raftq__Code code, uint64_t seq)
{
    Raftq__Reply *reply = s_expect_reply (fixture, code, seq);
    raftq__reply__free_unpacked (reply, NULL);
}

static void
s_expect_silence (fixture_t *fixture)
{
    zsock_set_rcvtimeo (fixture->client, 50);
    zframe_t *body = zframe_recv (fixture->client);
    zsock_set_rcvtimeo (fixture->client, WAIT_MS);
    if (body) {
        zframe_destroy (&body);
        fail_msg ("a reply came while the request should still wait");
    }
}

static void
s_answered (fixture_t *fixture, uint64_t ticket, bool accepted, uint32_t leader_id)
{
    raft_actor_event_t event = {
        .kind = RAFT_ACTOR_ADMINED, .ticket = ticket, .accepted = accepted, .leader_id = leader_id};
    admin_answered (fixture->admin, &event);
}

static void
test_request_validation (void **state)
{
    (void)state;
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__AddNode add = RAFTQ__ADD_NODE__INIT;
    request.op_case = RAFTQ__REQUEST__OP_ADD_NODE;
    request.add_node = &add;
    raft_actor_admin_kind_t kind;
    raft_member_t member;
    const char *error = NULL;
    add.id = 4;
    add.client_port = 5504;
    add.peer_port = 5604;
    //  No host
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), -1);
    assert_non_null (strstr (error, "host"));
    add.host = "127.0.0.4";
    add.peer_port = 70000;
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), -1);
    add.peer_port = 5604;
    add.pub_port = 65536;
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), -1);
    add.pub_port = 5704;
    add.id = 0;
    error = NULL;
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), -1);
    assert_string_equal (error, "a node id must be positive");
    add.id = 4;
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), 0);
    assert_int_equal (kind, RAFT_ACTOR_ADD_NODE);
    assert_int_equal (member.id, 4);
    assert_string_equal (member.host, "127.0.0.4");
    assert_int_equal (member.client_port, 5504);
    assert_int_equal (member.peer_port, 5604);
    assert_int_equal (member.pub_port, 5704);
    assert_string_equal (member.peer_host, "");
    //  With CurveZMQ between brokers the key is required, and must be one
    assert_int_equal (admin_request_member (&request, true, &kind, &member, &error), -1);
    assert_string_equal (error, "the peer port runs CurveZMQ: a node needs its public_key");
    uint8_t key[RAFT_PUBLIC_KEY_SIZE];
    memset (key, 7, sizeof key);
    add.public_key.data = key;
    add.public_key.len = 31;
    assert_int_equal (admin_request_member (&request, true, &kind, &member, &error), -1);
    assert_non_null (strstr (error, "32 bytes"));
    add.public_key.len = sizeof key;
    add.peer_host = "10.0.0.4";
    assert_int_equal (admin_request_member (&request, true, &kind, &member, &error), 0);
    assert_memory_equal (member.public_key, key, sizeof key);
    assert_string_equal (member.peer_host, "10.0.0.4");
    add.public_key.len = 0;
    add.peer_host = NULL;

    Raftq__RemoveNode remove = RAFTQ__REMOVE_NODE__INIT;
    request.op_case = RAFTQ__REQUEST__OP_REMOVE_NODE;
    request.remove_node = &remove;
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), -1);
    remove.id = 3;
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), 0);
    assert_int_equal (kind, RAFT_ACTOR_REMOVE_NODE);
    assert_int_equal (member.id, 3);
    assert_string_equal (member.host, "");

    Raftq__TransferLeadership transfer = RAFTQ__TRANSFER_LEADERSHIP__INIT;
    transfer.id = 2;
    request.op_case = RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP;
    request.transfer_leadership = &transfer;
    assert_int_equal (admin_request_member (&request, false, &kind, &member, &error), 0);
    assert_int_equal (kind, RAFT_ACTOR_TRANSFER_LEADER);
    assert_int_equal (member.id, 2);
}

//  Refused before the raft actor is asked: a follower, an invalid request.
static void
test_serve_refuses_early (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__RemoveNode remove = RAFTQ__REMOVE_NODE__INIT;
    request.seq = 1;
    request.op_case = RAFTQ__REQUEST__OP_REMOVE_NODE;
    request.remove_node = &remove;
    //  id 0: the raft actor (none here) is never reached
    admin_serve (fixture->admin, NULL, 10, s_arrive (fixture, &request));
    s_expect_code (fixture, RAFTQ__CODE__INVALID_ARGUMENT, 1);

    view_fixture_state (fixture->view, RAFT_ROLE_FOLLOWER, 3, 2, 5, 5);
    admin_serve (fixture->admin, NULL, 11, s_admin (fixture, RAFTQ__REQUEST__OP_REMOVE_NODE, 2, 2));
    Raftq__Reply *reply = s_expect_reply (fixture, RAFTQ__CODE__NOT_LEADER, 2);
    assert_int_equal (reply->leader_id, 2);
    assert_string_equal (reply->leader_endpoint, "tcp://127.0.0.1:5502");
    raftq__reply__free_unpacked (reply, NULL);

    view_fixture_state (fixture->view, RAFT_ROLE_CANDIDATE, 4, 0, 5, 5);
    admin_serve (fixture->admin, NULL, 12, s_admin (fixture, RAFTQ__REQUEST__OP_REMOVE_NODE, 2, 3));
    s_expect_code (fixture, RAFTQ__CODE__NO_LEADER, 3);
    assert_int_equal (admin_waiting_count (fixture->admin), 0);
}

//  An added node: done once it is a voter in a committed configuration.
static void
test_add_done_once_voter_and_committed (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_ADD_NODE, 3, 7), 77, FAR_AWAY);
    //  Before the actor took it, nothing is done even if it looks so
    raft_member_t learner[] = {{.id = 1, .voter = true}, {.id = 3, .voter = false}};
    view_fixture_members (fixture->view, learner, 2, 6);
    view_fixture_state (fixture->view, RAFT_ROLE_LEADER, 2, 1, 6, 6);
    admin_check (fixture->admin, 0);
    s_expect_silence (fixture);

    s_answered (fixture, 99, true, 1); //  someone else's ticket
    s_answered (fixture, 77, true, 1);
    admin_check (fixture->admin, 0);
    s_expect_silence (fixture); //  a learner still

    raft_member_t voter[] = {{.id = 1, .voter = true}, {.id = 3, .voter = true}};
    view_fixture_members (fixture->view, voter, 2, 8);
    admin_check (fixture->admin, 0);
    s_expect_silence (fixture); //  entry 8 not committed (commit 6)

    view_fixture_state (fixture->view, RAFT_ROLE_LEADER, 2, 1, 8, 8);
    admin_check (fixture->admin, 0);
    s_expect_code (fixture, RAFTQ__CODE__OK, 7);
    assert_int_equal (admin_waiting_count (fixture->admin), 0);
}

static void
test_deadline (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_ADD_NODE, 3, 8), 80, 1000);
    s_answered (fixture, 80, true, 1);
    admin_check (fixture->admin, 999);
    s_expect_silence (fixture);
    admin_check (fixture->admin, 1000);
    Raftq__Reply *reply = s_expect_reply (fixture, RAFTQ__CODE__TIMEOUT, 8);
    assert_non_null (strstr (reply->error, "may still complete"));
    raftq__reply__free_unpacked (reply, NULL);
    assert_int_equal (admin_waiting_count (fixture->admin), 0);
}

//  A refusal: UNAVAILABLE while leading, a leader hint once not; and a
//  refused change already under way keeps waiting for it.
static void
test_refusals (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_ADD_NODE, 3, 1), 101,
                FAR_AWAY);
    s_answered (fixture, 101, false, 1);
    s_expect_code (fixture, RAFTQ__CODE__UNAVAILABLE, 1);

    //  A retried remove: node 3 is not in the configuration any more
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_REMOVE_NODE, 3, 2), 102,
                FAR_AWAY);
    s_answered (fixture, 102, false, 1);
    s_expect_silence (fixture);
    assert_int_equal (admin_waiting_count (fixture->admin), 1);
    admin_check (fixture->admin, 0);
    s_expect_code (fixture, RAFTQ__CODE__OK, 2);

    //  Refused because this node no longer leads: the client hears who does
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_ADD_NODE, 3, 3), 103,
                FAR_AWAY);
    view_fixture_state (fixture->view, RAFT_ROLE_FOLLOWER, 3, 2, 5, 5);
    s_answered (fixture, 103, false, 2);
    Raftq__Reply *reply = s_expect_reply (fixture, RAFTQ__CODE__NOT_LEADER, 3);
    assert_string_equal (reply->leader_endpoint, "tcp://127.0.0.1:5502");
    raftq__reply__free_unpacked (reply, NULL);
    assert_int_equal (admin_waiting_count (fixture->admin), 0);
}

static void
test_transfer_done_when_target_leads (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    raft_member_t both[] = {{.id = 1, .voter = true}, {.id = 2, .voter = true}};
    view_fixture_members (fixture->view, both, 2, 2);
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, 2, 4),
                104, FAR_AWAY);
    s_answered (fixture, 104, true, 1);
    admin_check (fixture->admin, 0);
    s_expect_silence (fixture);
    view_fixture_state (fixture->view, RAFT_ROLE_FOLLOWER, 3, 2, 5, 5);
    admin_check (fixture->admin, 0);
    s_expect_code (fixture, RAFTQ__CODE__OK, 4);
}

static void
test_abandon (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_ADD_NODE, 3, 5), 105,
                FAR_AWAY);
    admin_wait (fixture->admin, s_admin (fixture, RAFTQ__REQUEST__OP_REMOVE_NODE, 2, 6), 106,
                FAR_AWAY);
    assert_int_equal (admin_waiting_count (fixture->admin), 2);
    admin_abandon (fixture->admin);
    s_expect_code (fixture, RAFTQ__CODE__UNAVAILABLE, 5);
    s_expect_code (fixture, RAFTQ__CODE__UNAVAILABLE, 6);
    assert_int_equal (admin_waiting_count (fixture->admin), 0);
}

//  The secret's check: none, a wrong one (also one only a prefix or an
//  extension of it), the right one.
static void
test_credential_check (void **state)
{
    (void)state;
    assert_null (admin_credential_new (""));
    assert_null (admin_credential_new (NULL));
    admin_credential_t *credential = admin_credential_new (SECRET);
    assert_int_equal (admin_credential_check (credential, NULL), RAFTQ__CODE__UNAUTHENTICATED);
    assert_int_equal (admin_credential_check (credential, ""), RAFTQ__CODE__UNAUTHENTICATED);
    assert_int_equal (admin_credential_check (credential, "wrong"), RAFTQ__CODE__PERMISSION_DENIED);
    assert_int_equal (admin_credential_check (credential, "0123456789abcdef-admi"),
                      RAFTQ__CODE__PERMISSION_DENIED);
    assert_int_equal (admin_credential_check (credential, SECRET "x"),
                      RAFTQ__CODE__PERMISSION_DENIED);
    assert_int_equal (admin_credential_check (credential, SECRET), RAFTQ__CODE__OK);
    admin_credential_destroy (&credential);
    assert_null (credential);
}

//  Which requests need the secret: admin operations, and a Status with the
//  detail or the hash; a plain Status and a queue operation do not.
static void
test_needs_secret (void **state)
{
    (void)state;
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__Status status = RAFTQ__STATUS__INIT;
    request.op_case = RAFTQ__REQUEST__OP_STATUS;
    request.status = &status;
    assert_false (admin_needs_secret (&request));
    status.detail = true;
    assert_true (admin_needs_secret (&request));
    status.detail = false;
    status.with_hash = true;
    assert_true (admin_needs_secret (&request));
    const Raftq__Request__OpCase admin_ops[] = {
        RAFTQ__REQUEST__OP_ADD_NODE, RAFTQ__REQUEST__OP_REMOVE_NODE,
        RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, RAFTQ__REQUEST__OP_TAKE_SNAPSHOT};
    for (size_t index = 0; index < 4; index++) {
        request.op_case = admin_ops[index];
        assert_true (admin_needs_secret (&request));
    }
    request.op_case = RAFTQ__REQUEST__OP_PUBLISH;
    assert_false (admin_needs_secret (&request));
}

//  A request without the secret hears UNAUTHENTICATED, with a wrong one
//  PERMISSION_DENIED; with the right one it is let through, unanswered.
static void
test_allowed (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    Raftq__Request__OpCase remove = RAFTQ__REQUEST__OP_REMOVE_NODE;
    assert_false (admin_allowed (fixture->admin, s_admin (fixture, remove, 2, 1)));
    s_expect_code (fixture, RAFTQ__CODE__UNAUTHENTICATED, 1);
    fixture->presented = "not it";
    assert_false (admin_allowed (fixture->admin, s_admin (fixture, remove, 2, 2)));
    s_expect_code (fixture, RAFTQ__CODE__PERMISSION_DENIED, 2);
    fixture->presented = SECRET;
    client_request_t *arrived = s_admin (fixture, remove, 2, 3);
    assert_true (admin_allowed (fixture->admin, arrived));
    s_expect_silence (fixture);
    client_request_destroy (&arrived);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_request_validation),
        cmocka_unit_test (test_credential_check),
        cmocka_unit_test (test_needs_secret),
        cmocka_unit_test_setup_teardown (test_allowed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_serve_refuses_early, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_add_done_once_voter_and_committed, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_deadline, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_transfer_done_when_target_leads, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_abandon, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
