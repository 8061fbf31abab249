/*  test_zap_handler — zap_handler.c through real CurveZMQ handshakes: a
    listed key connects with its user id, an unknown key and a plaintext
    client are refused at the handshake, a replaced policy takes effect,
    a domain without a policy is closed, and a watched plaintext socket
    serves its first connections and refuses those past its cap, with a
    count that returns to zero; connections that never greet are shut down
    past twice the cap, and any new connection while the process is short
    of descriptors.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/fd_reserve.h"
#include "util/zap_handler.h"

//  Every wait in this file gives up after this long.
#define DEADLINE_MS 5000

typedef struct {
    zap_handler_t *handler; //  the handler under test
    zcert_t *server;        //  key pair of the server socket
    zsock_t *router;        //  CURVE server in domain "test"
    char endpoint[64];      //  where it is bound
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof (fixture_t));
    assert_non_null (fixture);
    fixture->handler = zap_handler_new ();
    assert_non_null (fixture->handler);
    //  A second handler cannot take the process's ZAP endpoint
    assert_null (zap_handler_new ());
    fixture->server = zcert_new ();
    fixture->router = zsock_new (ZMQ_ROUTER);
    zap_handler_secure_server (fixture->router, zcert_secret_key (fixture->server), "test");
    int port = zsock_bind (fixture->router, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    snprintf (fixture->endpoint, sizeof fixture->endpoint, "tcp://127.0.0.1:%d", port);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zsock_destroy (&fixture->router);
    zcert_destroy (&fixture->server);
    zap_handler_destroy (&fixture->handler);
    free (fixture);
    return 0;
}

//  A DEALER towards the fixture's server with client key pair client (NULL:
//  plaintext), and a monitor of its handshakes.
static zsock_t *
s_client (fixture_t *fixture, zcert_t *client, zactor_t **monitor)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert_non_null (dealer);
    zsock_set_linger (dealer, 0);
    if (client) {
        zcert_apply (client, dealer);
        zsock_set_curve_serverkey_bin (dealer, zcert_public_key (fixture->server));
    }
    *monitor = zactor_new (zmonitor, dealer);
    zstr_sendx (*monitor, "LISTEN", "HANDSHAKE_SUCCEEDED", "HANDSHAKE_FAILED_AUTH",
                "HANDSHAKE_FAILED_NO_DETAIL", "HANDSHAKE_FAILED_PROTOCOL", "DISCONNECTED", NULL);
    zstr_send (*monitor, "START");
    zsock_wait (*monitor);
    assert_int_equal (zsock_connect (dealer, "%s", fixture->endpoint), 0);
    return dealer;
}

//  The first handshake event the monitor reports ("" if none in time).
static void
s_handshake (zactor_t *monitor, char *event, size_t size)
{
    event[0] = 0;
    zpoller_t *poller = zpoller_new (monitor, NULL);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (!event[0] && zclock_mono () < deadline) {
        if (!zpoller_wait (poller, (int)(deadline - zclock_mono ())))
            break;
        zmsg_t *message = zmsg_recv (monitor);
        char *name = zmsg_popstr (message);
        if (name && strncmp (name, "HANDSHAKE", 9) == 0)
            snprintf (event, size, "%s", name);
        free (name);
        zmsg_destroy (&message);
    }
    zpoller_destroy (&poller);
}

//  Sends one message and returns the user id the server saw it with.
static char *
s_user_of_message (fixture_t *fixture, zsock_t *dealer)
{
    assert_int_equal (zstr_send (dealer, "hello"), 0);
    zsock_set_rcvtimeo (fixture->router, DEADLINE_MS);
    zmsg_t *message = zmsg_recv (fixture->router);
    assert_non_null (message);
    const char *user = zframe_meta (zmsg_last (message), "User-Id");
    char *copy = strdup (user ? user : "");
    zmsg_destroy (&message);
    return copy;
}

static void
s_set_policy (fixture_t *fixture, int flags, zcert_t *listed, const char *user_id)
{
    zmsg_t *policy = zap_policy_new ("test", flags);
    assert_non_null (policy);
    if (listed)
        assert_int_equal (zap_policy_add_key (policy, zcert_public_key (listed), user_id), 0);
    assert_int_equal (zap_handler_set_policy (fixture->handler, &policy), 0);
    assert_null (policy);
}

static void
s_expect_handshake (fixture_t *fixture, zcert_t *client, const char *expected)
{
    zactor_t *monitor;
    zsock_t *dealer = s_client (fixture, client, &monitor);
    char event[64];
    s_handshake (monitor, event, sizeof event);
    assert_string_equal (event, expected);
    zactor_destroy (&monitor);
    zsock_destroy (&dealer);
}

static void
test_listed_key_gets_its_user_id (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zcert_t *member = zcert_new ();
    s_set_policy (fixture, 0, member, "7");
    zactor_t *monitor;
    zsock_t *dealer = s_client (fixture, member, &monitor);
    char *user = s_user_of_message (fixture, dealer);
    assert_string_equal (user, "7");
    free (user);
    zactor_destroy (&monitor);
    zsock_destroy (&dealer);
    zcert_destroy (&member);
}

static void
test_unknown_key_and_plaintext_refused (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zcert_t *member = zcert_new ();
    zcert_t *stranger = zcert_new ();
    s_set_policy (fixture, 0, member, "1");
    s_expect_handshake (fixture, stranger, "HANDSHAKE_FAILED_AUTH");
    //  A plaintext client cannot even speak CURVE to a CURVE server
    zactor_t *monitor;
    zsock_t *dealer = s_client (fixture, NULL, &monitor);
    char event[64];
    s_handshake (monitor, event, sizeof event);
    assert_string_not_equal (event, "HANDSHAKE_SUCCEEDED");
    zactor_destroy (&monitor);
    zsock_destroy (&dealer);
    //  Any key: the stranger gets in, named by its key
    s_set_policy (fixture, ZAP_ALLOW_ANY_KEY, member, "1");
    dealer = s_client (fixture, stranger, &monitor);
    char *user = s_user_of_message (fixture, dealer);
    char text[CURVE_KEY_TEXT_SIZE];
    curve_key_encode (zcert_public_key (stranger), text);
    assert_string_equal (user, text);
    free (user);
    zactor_destroy (&monitor);
    zsock_destroy (&dealer);
    //  Replaced again: the member is out now
    s_set_policy (fixture, 0, stranger, "2");
    s_expect_handshake (fixture, member, "HANDSHAKE_FAILED_AUTH");
    zcert_destroy (&member);
    zcert_destroy (&stranger);
}

static void
test_domain_without_policy_closed (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zcert_t *client = zcert_new ();
    //  Policies of other domains, and malformed ones, open nothing
    zmsg_t *other = zap_policy_new ("other", ZAP_ALLOW_ANY_KEY);
    assert_int_equal (zap_handler_set_policy (fixture->handler, &other), 0);
    zmsg_t *malformed = zap_policy_new ("test", ZAP_ALLOW_ANY_KEY);
    zmsg_addstr (malformed, "a key of the wrong size");
    zsock_t *pusher = zsock_new_push (zap_handler_policy_endpoint (fixture->handler));
    assert_non_null (pusher);
    assert_int_equal (zmsg_send (&malformed, pusher), 0);
    s_expect_handshake (fixture, client, "HANDSHAKE_FAILED_AUTH");
    //  A pushed policy takes effect too
    zmsg_t *policy = zap_policy_new ("test", 0);
    assert_int_equal (zap_policy_add_key (policy, zcert_public_key (client), "9"), 0);
    assert_int_equal (zmsg_send (&policy, pusher), 0);
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    char event[64] = "";
    while (!streq (event, "HANDSHAKE_SUCCEEDED") && zclock_mono () < deadline) {
        zactor_t *monitor;
        zsock_t *dealer = s_client (fixture, client, &monitor);
        s_handshake (monitor, event, sizeof event);
        zactor_destroy (&monitor);
        zsock_destroy (&dealer);
    }
    assert_string_equal (event, "HANDSHAKE_SUCCEEDED");
    zsock_destroy (&pusher);
    zcert_destroy (&client);
}

//  Waits until the domain's count is expected.
static void
s_expect_connections (fixture_t *fixture, const char *domain, size_t expected)
{
    int64_t deadline = zclock_mono () + DEADLINE_MS;
    while (zap_handler_connections (fixture->handler, domain) != expected &&
           zclock_mono () < deadline)
        zclock_sleep (10);
    assert_int_equal (zap_handler_connections (fixture->handler, domain), expected);
}

//  A round trip from dealer through router: the connection is served.
static void
s_expect_served (zsock_t *router, zsock_t *dealer)
{
    assert_int_equal (zstr_send (dealer, "ping"), 0);
    zsock_set_rcvtimeo (router, DEADLINE_MS);
    zmsg_t *request = zmsg_recv (router);
    assert_non_null (request);
    zframe_t *routing_id = zmsg_pop (request);
    zmsg_destroy (&request);
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, &routing_id);
    zmsg_addstr (reply, "pong");
    assert_int_equal (zmsg_send (&reply, router), 0);
    zsock_set_rcvtimeo (dealer, DEADLINE_MS);
    char *pong = zstr_recv (dealer);
    assert_non_null (pong);
    assert_string_equal (pong, "pong");
    free (pong);
}

//  A watched plaintext ROUTER in domain with cap max_connections, bound to
//  a port of loopback's; returns the socket and sets *port.
static zsock_t *
s_watched_router (fixture_t *fixture, const char *domain, size_t max_connections, int *port)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    zsock_set_zap_domain (router, domain);
    assert_int_equal (zap_handler_watch (fixture->handler, router, domain, max_connections), 0);
    zmsg_t *policy = zap_policy_new (domain, ZAP_ALLOW_PLAIN);
    assert_int_equal (zap_handler_set_policy (fixture->handler, &policy), 0);
    *port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert_true (*port > 0);
    return router;
}

static void
test_connection_cap (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    int port;
    zsock_t *router = s_watched_router (fixture, "capped", 2, &port);
    //  One socket per domain
    assert_int_equal (zap_handler_watch (fixture->handler, fixture->router, "capped", 2), -1);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    snprintf (fixture->endpoint, sizeof fixture->endpoint, "%s", endpoint);
    zactor_t *monitors[3];
    zsock_t *dealers[3];
    char event[64];
    for (int index = 0; index < 2; index++) {
        dealers[index] = s_client (fixture, NULL, &monitors[index]);
        s_handshake (monitors[index], event, sizeof event);
        assert_string_equal (event, "HANDSHAKE_SUCCEEDED");
    }
    //  The third is refused at the handshake (libzmq does not reconnect a
    //  session its peer refused), and again while the first two are there
    for (int attempt = 0; attempt < 3; attempt++) {
        dealers[2] = s_client (fixture, NULL, &monitors[2]);
        s_handshake (monitors[2], event, sizeof event);
        assert_string_equal (event, "HANDSHAKE_FAILED_AUTH");
        zactor_destroy (&monitors[2]);
        zsock_destroy (&dealers[2]);
    }
    s_expect_served (router, dealers[0]);
    s_expect_served (router, dealers[1]);
    s_expect_connections (fixture, "capped", 2);
    //  One leaves: a new one gets in
    zactor_destroy (&monitors[0]);
    zsock_destroy (&dealers[0]);
    s_expect_connections (fixture, "capped", 1);
    dealers[2] = s_client (fixture, NULL, &monitors[2]);
    s_handshake (monitors[2], event, sizeof event);
    assert_string_equal (event, "HANDSHAKE_SUCCEEDED");
    s_expect_served (router, dealers[2]);
    s_expect_connections (fixture, "capped", 2);
    //  Refusals and departures leave nothing counted
    for (int index = 1; index < 3; index++) {
        zactor_destroy (&monitors[index]);
        zsock_destroy (&dealers[index]);
    }
    s_expect_connections (fixture, "capped", 0);
    assert_int_equal (zap_handler_connections (fixture->handler, "unwatched"), 0);
    zsock_destroy (&router);
}

//  A plain TCP connection to port that never sends a byte.
static int
s_silent_connection (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *)&address, sizeof address), 0);
    return fd;
}

//  Whether the server ended connection fd (end of file or reset) within
//  wait_ms, reading past what it sent first (libzmq's greeting).
static bool
s_ended_by_server (int fd, int wait_ms)
{
    int64_t deadline = zclock_mono () + wait_ms;
    while (true) {
        char bytes[64];
        ssize_t got = recv (fd, bytes, sizeof bytes, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno == ECONNRESET))
            return true;
        if (got > 0)
            continue;
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return false;
        struct pollfd item = {.fd = fd, .events = POLLIN};
        poll (&item, 1, (int)left);
    }
}

//  A connection that never greets is never refused (it never asks ZAP):
//  past twice the cap the handler shuts it down as it comes, and the
//  count returns to what the socket holds.
static void
test_silent_connections_shed_past_twice_the_cap (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    int port;
    zsock_t *router = s_watched_router (fixture, "silent", 2, &port);
    int held[4];
    for (int index = 0; index < 4; index++) {
        held[index] = s_silent_connection (port);
        s_expect_connections (fixture, "silent", (size_t)index + 1);
    }
    for (int extra = 0; extra < 3; extra++) {
        int fd = s_silent_connection (port);
        assert_true (s_ended_by_server (fd, DEADLINE_MS));
        close (fd);
    }
    s_expect_connections (fixture, "silent", 4);
    for (int index = 0; index < 4; index++) {
        assert_false (s_ended_by_server (held[index], 0));
        close (held[index]);
    }
    s_expect_connections (fixture, "silent", 0);
    zsock_destroy (&router);
}

//  While fewer than ZAP_DESCRIPTOR_RESERVE descriptors are left, even a
//  connection under the cap is shut down as it comes; with descriptors
//  back, the next one is held.
static void
test_connections_shed_while_descriptors_are_short (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    int port;
    zsock_t *router = s_watched_router (fixture, "short", 100, &port);
    struct rlimit saved;
    assert_int_equal (getrlimit (RLIMIT_NOFILE, &saved), 0);
    size_t available = fd_reserve_available ();
    assert_true (available > ZAP_DESCRIPTOR_RESERVE && available != SIZE_MAX);
    //  One short of the reserve before our end of the connection and the
    //  accepted end take two more (a descriptor or two that an earlier
    //  test's connections still hold, closed meanwhile, change nothing)
    struct rlimit lowered = {saved.rlim_cur - available + ZAP_DESCRIPTOR_RESERVE - 1,
                             saved.rlim_max};
    assert_int_equal (setrlimit (RLIMIT_NOFILE, &lowered), 0);
    int fd = s_silent_connection (port);
    bool ended = s_ended_by_server (fd, DEADLINE_MS);
    close (fd);
    assert_int_equal (setrlimit (RLIMIT_NOFILE, &saved), 0);
    assert_true (ended);
    s_expect_connections (fixture, "short", 0);
    fd = s_silent_connection (port);
    s_expect_connections (fixture, "short", 1);
    assert_false (s_ended_by_server (fd, 0));
    close (fd);
    s_expect_connections (fixture, "short", 0);
    zsock_destroy (&router);
}

//  Asks for a domain's connections on a thread of its own: a handler that
//  had ended would leave the ask waiting forever.
static void *
s_ask_connections (void *argument)
{
    zap_handler_connections ((zap_handler_t *)argument, "test");
    return NULL;
}

//  A stop signal to the process (czmq's zsys_interrupted) does not end the
//  handler: the node goes on through its handover and asks it still.
static void
test_handler_outlives_a_stop_signal (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zsys_interrupted = 1;
    for (int ask = 0; ask < 3; ask++) {
        pthread_t thread;
        assert_int_equal (pthread_create (&thread, NULL, s_ask_connections, fixture->handler), 0);
        struct timespec deadline;
        clock_gettime (CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 5;
        int joined = pthread_timedjoin_np (thread, NULL, &deadline);
        if (joined)
            zsys_interrupted = 0;
        assert_int_equal (joined, 0);
    }
    zsys_interrupted = 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_listed_key_gets_its_user_id),
        cmocka_unit_test (test_unknown_key_and_plaintext_refused),
        cmocka_unit_test (test_domain_without_policy_closed),
        cmocka_unit_test (test_connection_cap),
        cmocka_unit_test (test_silent_connections_shed_past_twice_the_cap),
        cmocka_unit_test (test_connections_shed_while_descriptors_are_short),
        cmocka_unit_test (test_handler_outlives_a_stop_signal),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
