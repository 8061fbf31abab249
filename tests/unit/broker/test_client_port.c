/*  test_client_port — the client ROUTER through real REQ and DEALER sockets
    (inproc): envelopes with and without the delimiter, replies carrying the
    request's seq back to the right client, requests too large or not
    decodable answered on the spot in the client's dialect (too large
    without being parsed), malformed envelopes dropped without a reply,
    leader hints, unread reply bytes bounded per connection, and replies
    held back until released, then sent in order.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/client_port.h"

//  Generous: only a wedged socket takes this long.
#define WAIT_MS 5000
//  Payload limit of the port under test: requests past it plus the
//  envelope room (4096) are too large.
#define MAX_PAYLOAD 1024
//  Unread reply bytes one connection may have.
#define REPLY_LIMIT (64 * 1024)

typedef struct {
    client_port_t *port;
    zsock_t *dealer; //  a client that skips the delimiter
    zsock_t *req;    //  a client that sends it
} fixture_t;

static int
s_setup (void **state)
{
    static int instance;
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    char endpoint[64];
    snprintf (endpoint, sizeof (endpoint), "inproc://client-port-%d", instance++);
    zsock_t *router = zsock_new_router (endpoint);
    assert_non_null (router);
    fixture->port = client_port_new (&router, 1, MAX_PAYLOAD, REPLY_LIMIT);
    assert_non_null (fixture->port);
    fixture->dealer = zsock_new_dealer (endpoint);
    fixture->req = zsock_new_req (endpoint);
    zsock_set_rcvtimeo (fixture->dealer, WAIT_MS);
    zsock_set_rcvtimeo (fixture->req, WAIT_MS);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zsock_destroy (&fixture->dealer);
    zsock_destroy (&fixture->req);
    client_port_destroy (&fixture->port, 0);
    free (fixture);
    return 0;
}

//  Waits for a message at the port and receives it.
static client_request_t *
s_receive (fixture_t *fixture)
{
    zpoller_t *poller = zpoller_new (client_port_sock (fixture->port), NULL);
    bool ready = zpoller_wait (poller, WAIT_MS) != NULL;
    zpoller_destroy (&poller);
    assert_true (ready);
    client_request_t *request = NULL;
    assert_int_equal (client_port_recv (fixture->port, &request), 0);
    return request;
}

static zframe_t *
s_status_body (uint64_t seq)
{
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    Raftq__Status status = RAFTQ__STATUS__INIT;
    request.seq = seq;
    request.op_case = RAFTQ__REQUEST__OP_STATUS;
    request.status = &status;
    zframe_t *body = zframe_new (NULL, raftq__request__get_packed_size (&request));
    raftq__request__pack (&request, zframe_data (body));
    return body;
}

//  The next reply a client got, unpacked; NULL if none came.
static Raftq__Reply *
s_reply_at (zsock_t *client)
{
    zframe_t *body = zframe_recv (client);
    if (!body)
        return NULL;
    Raftq__Reply *reply = raftq__reply__unpack (NULL, zframe_size (body), zframe_data (body));
    zframe_destroy (&body);
    return reply;
}

static void
test_envelopes_and_replies (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zframe_t *body = s_status_body (41);
    zframe_send (&body, fixture->dealer, 0);
    client_request_t *from_dealer = s_receive (fixture);
    assert_non_null (from_dealer);
    assert_false (from_dealer->delimited);
    assert_int_equal (from_dealer->decoded.request->op_case, RAFTQ__REQUEST__OP_STATUS);

    body = s_status_body (42);
    zframe_send (&body, fixture->req, 0);
    client_request_t *from_req = s_receive (fixture);
    assert_non_null (from_req);
    assert_true (from_req->delimited);

    //  Answered in the other order: each reply finds its own client
    Raftq__Reply answer = RAFTQ__REPLY__INIT;
    answer.index = 7;
    client_port_reply (fixture->port, from_req, &answer);
    client_port_reply_error (fixture->port, from_dealer, RAFTQ__CODE__NOT_FOUND, "nothing here");
    Raftq__Reply *reply = s_reply_at (fixture->req);
    assert_non_null (reply);
    assert_int_equal (reply->seq, 42);
    assert_int_equal (reply->index, 7);
    raftq__reply__free_unpacked (reply, NULL);
    reply = s_reply_at (fixture->dealer);
    assert_non_null (reply);
    assert_int_equal (reply->seq, 41);
    assert_int_equal (reply->code, RAFTQ__CODE__NOT_FOUND);
    assert_string_equal (reply->error, "nothing here");
    raftq__reply__free_unpacked (reply, NULL);
    client_request_destroy (&from_dealer);
    client_request_destroy (&from_req);
}

static void
test_answered_on_the_spot (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    //  Past the limit: TOO_LARGE, never handed on
    zframe_t *body = zframe_new (NULL, MAX_PAYLOAD + 4096 + 1);
    memset (zframe_data (body), 0x0a, zframe_size (body));
    zframe_send (&body, fixture->dealer, 0);
    assert_null (s_receive (fixture));
    Raftq__Reply *reply = s_reply_at (fixture->dealer);
    assert_non_null (reply);
    assert_int_equal (reply->code, RAFTQ__CODE__TOO_LARGE);
    raftq__reply__free_unpacked (reply, NULL);

    //  A JSON client hears about it in JSON
    size_t size = MAX_PAYLOAD + 4096 + 10;
    char *json = malloc (size + 1);
    memset (json, ' ', size);
    memcpy (json, "{\"op\":\"status\"", 14);
    json[size - 1] = '}';
    json[size] = 0;
    zstr_send (fixture->dealer, json);
    free (json);
    assert_null (s_receive (fixture));
    char *text = zstr_recv (fixture->dealer);
    assert_non_null (text);
    assert_int_equal (text[0], '{');
    assert_non_null (strstr (text, "TOO_LARGE"));
    zstr_free (&text);

    //  Too large is said before parsing: a body that is no JSON at all
    //  but starts like it is answered in JSON all the same
    json = malloc (size + 1);
    memset (json, '[', size);
    json[0] = '{';
    json[size] = 0;
    zstr_send (fixture->dealer, json);
    free (json);
    assert_null (s_receive (fixture));
    text = zstr_recv (fixture->dealer);
    assert_non_null (text);
    assert_non_null (strstr (text, "\"code\":\"TOO_LARGE\""));
    zstr_free (&text);

    //  Not a request at all
    zsock_send (fixture->dealer, "b", "\xff\xff\xff", (size_t)3);
    assert_null (s_receive (fixture));
    reply = s_reply_at (fixture->dealer);
    assert_non_null (reply);
    assert_int_not_equal (reply->code, RAFTQ__CODE__OK);
    raftq__reply__free_unpacked (reply, NULL);
}

static void
test_malformed_envelopes_dropped (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    //  [id][not empty][body], and [id][a][b][c]: dropped, no reply
    zframe_t *body = s_status_body (1);
    zsock_send (fixture->dealer, "sf", "not-a-delimiter", body);
    assert_null (s_receive (fixture));
    zsock_send (fixture->dealer, "sssf", "a", "b", "c", body);
    assert_null (s_receive (fixture));
    zframe_destroy (&body);
    zsock_set_rcvtimeo (fixture->dealer, 50);
    assert_null (s_reply_at (fixture->dealer));
    //  The port still serves a well-formed request afterwards
    body = s_status_body (2);
    zframe_send (&body, fixture->dealer, 0);
    client_request_t *request = s_receive (fixture);
    assert_non_null (request);
    assert_int_equal (request->decoded.request->seq, 2);
    client_request_destroy (&request);
}

static void
test_leader_hints (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char error[256];
    config_t *config =
        config_parse ("{\"peer_curve\":false,\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_"
                      "port\":5501,\"peer_port\":5601},"
                      "{\"id\":2,\"host\":\"127.0.0.2\",\"client_port\":5502,\"peer_port\":5602}]}",
                      "test.json", error, sizeof (error));
    assert_non_null (config);
    cluster_view_t *view = cluster_view_new (config, 1);
    uint32_t leaders[] = {2, 0, 1, 9};
    Raftq__Code codes[] = {RAFTQ__CODE__NOT_LEADER, RAFTQ__CODE__NO_LEADER, RAFTQ__CODE__NO_LEADER,
                           RAFTQ__CODE__NO_LEADER};
    for (size_t position = 0; position < 4; position++) {
        zframe_t *body = s_status_body (position);
        zframe_send (&body, fixture->dealer, 0);
        client_request_t *request = s_receive (fixture);
        client_port_reply_not_leader (fixture->port, request, view, leaders[position]);
        client_request_destroy (&request);
        Raftq__Reply *reply = s_reply_at (fixture->dealer);
        assert_non_null (reply);
        assert_int_equal (reply->code, codes[position]);
        if (codes[position] == RAFTQ__CODE__NOT_LEADER) {
            assert_int_equal (reply->leader_id, 2);
            assert_string_equal (reply->leader_endpoint, "tcp://127.0.0.2:5502");
        }
        raftq__reply__free_unpacked (reply, NULL);
    }
    cluster_view_destroy (&view);
    config_destroy (&config);
}

//  Answers request with an OK whose text has size bytes.
static void
s_reply_sized (fixture_t *fixture, client_request_t *request, size_t size)
{
    char *text = malloc (size + 1);
    assert_non_null (text);
    memset (text, 't', size);
    text[size] = 0;
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.error = text;
    client_port_reply (fixture->port, request, &reply);
    free (text);
}

static void
test_unread_replies_bounded (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zframe_t *body = s_status_body (5);
    zframe_send (&body, fixture->dealer, 0);
    client_request_t *request = s_receive (fixture);
    assert_non_null (request);
    //  A client that does not read: three 20 KiB replies fit in 64 KiB, a
    //  fourth does not, and each one after is a short refusal
    for (int count = 0; count < 10; count++)
        s_reply_sized (fixture, request, 20 * 1024);
    for (int count = 0; count < 10; count++) {
        Raftq__Reply *reply = s_reply_at (fixture->dealer);
        assert_non_null (reply);
        assert_int_equal (reply->seq, 5);
        if (count < 3) {
            assert_int_equal (reply->code, RAFTQ__CODE__OK);
            assert_int_equal (strlen (reply->error), 20 * 1024);
        } else {
            assert_int_equal (reply->code, RAFTQ__CODE__UNAVAILABLE);
            assert_non_null (strstr (reply->error, "not yet taken"));
        }
        raftq__reply__free_unpacked (reply, NULL);
    }
    //  Read, the connection has room again; a single reply past the
    //  limit still goes out when nothing else waits
    s_reply_sized (fixture, request, 20 * 1024);
    s_reply_sized (fixture, request, 100 * 1024);
    for (int count = 0; count < 2; count++) {
        Raftq__Reply *reply = s_reply_at (fixture->dealer);
        assert_non_null (reply);
        assert_int_equal (reply->code, count == 0 ? RAFTQ__CODE__OK : RAFTQ__CODE__UNAVAILABLE);
        raftq__reply__free_unpacked (reply, NULL);
    }
    s_reply_sized (fixture, request, 100 * 1024);
    Raftq__Reply *reply = s_reply_at (fixture->dealer);
    assert_non_null (reply);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    raftq__reply__free_unpacked (reply, NULL);
    //  Another connection has a budget of its own
    body = s_status_body (6);
    zframe_send (&body, fixture->req, 0);
    client_request_t *other = s_receive (fixture);
    for (int count = 0; count < 3; count++)
        s_reply_sized (fixture, request, 20 * 1024);
    s_reply_sized (fixture, other, 20 * 1024);
    reply = s_reply_at (fixture->req);
    assert_non_null (reply);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    raftq__reply__free_unpacked (reply, NULL);
    client_request_destroy (&other);
    client_request_destroy (&request);
}

//  True if client has a message waiting (inproc: a sent message is
//  readable as soon as the send returns).
static bool
s_has_input (zsock_t *client)
{
    return (zsock_events (client) & ZMQ_POLLIN) != 0;
}

static void
test_held_replies_go_out_on_release (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    client_request_t *requests[4];
    for (uint64_t seq = 1; seq <= 4; seq++) {
        zframe_t *body = s_status_body (seq);
        zframe_send (&body, seq == 4 ? fixture->req : fixture->dealer, 0);
        requests[seq - 1] = s_receive (fixture);
        assert_non_null (requests[seq - 1]);
    }
    client_port_hold (fixture->port);
    //  The requests go before the release: the envelopes must have been kept
    size_t order[] = {2, 0, 3, 1};
    for (size_t at = 0; at < 4; at++) {
        Raftq__Reply answer = RAFTQ__REPLY__INIT;
        answer.index = order[at] + 100;
        client_port_reply (fixture->port, requests[order[at]], &answer);
        client_request_destroy (&requests[order[at]]);
    }
    assert_false (s_has_input (fixture->dealer));
    assert_false (s_has_input (fixture->req));
    client_port_release (fixture->port);
    uint64_t dealer_seqs[] = {3, 1, 2};
    for (size_t at = 0; at < 3; at++) {
        Raftq__Reply *reply = s_reply_at (fixture->dealer);
        assert_non_null (reply);
        assert_int_equal (reply->seq, dealer_seqs[at]);
        assert_int_equal (reply->index, dealer_seqs[at] - 1 + 100);
        raftq__reply__free_unpacked (reply, NULL);
    }
    Raftq__Reply *reply = s_reply_at (fixture->req);
    assert_non_null (reply);
    assert_int_equal (reply->seq, 4);
    raftq__reply__free_unpacked (reply, NULL);

    //  Released, replies go at once again; held ones count against the
    //  connection's unread bytes from the start; and a port destroyed
    //  holding replies frees them
    zframe_t *body = s_status_body (9);
    zframe_send (&body, fixture->dealer, 0);
    client_request_t *request = s_receive (fixture);
    client_port_reply_error (fixture->port, request, RAFTQ__CODE__NOT_FOUND, "at once");
    assert_true (s_has_input (fixture->dealer));
    reply = s_reply_at (fixture->dealer);
    assert_non_null (reply);
    raftq__reply__free_unpacked (reply, NULL);
    client_port_hold (fixture->port);
    for (int count = 0; count < 5; count++)
        s_reply_sized (fixture, request, 20 * 1024);
    client_port_release (fixture->port);
    for (int count = 0; count < 5; count++) {
        reply = s_reply_at (fixture->dealer);
        assert_non_null (reply);
        assert_int_equal (reply->code, count < 3 ? RAFTQ__CODE__OK : RAFTQ__CODE__UNAVAILABLE);
        raftq__reply__free_unpacked (reply, NULL);
    }
    client_port_hold (fixture->port);
    s_reply_sized (fixture, request, 1024);
    client_request_destroy (&request);
}

static void
test_max_message_size (void **state)
{
    (void)state;
    //  A floor for small payloads; room for eight payloads past it
    assert_int_equal (client_port_max_message_size (1024), 64 * 1024 * 1024);
    assert_int_equal (client_port_max_message_size (16 * 1024 * 1024), 8 * 16 * 1024 * 1024 + 4096);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_envelopes_and_replies, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_answered_on_the_spot, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_envelopes_dropped, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_leader_hints, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unread_replies_bounded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_held_replies_go_out_on_release, s_setup, s_teardown),
        cmocka_unit_test (test_max_message_size),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
