/*  test_endpoint — endpoint text as libzmq and libraftq's config reader
    write it: names and IPv4 as they are, IPv6 literals in brackets (once),
    so that an endpoint a node reports matches the one from the config.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/endpoint.h"

static void
test_format (void **state)
{
    (void)state;
    char endpoint[ENDPOINT_MAX];
    endpoint_format (endpoint, "127.0.0.1", 5555);
    assert_string_equal (endpoint, "tcp://127.0.0.1:5555");
    endpoint_format (endpoint, "localhost", 80);
    assert_string_equal (endpoint, "tcp://localhost:80");
    endpoint_format (endpoint, "::1", 5555);
    assert_string_equal (endpoint, "tcp://[::1]:5555");
    endpoint_format (endpoint, "fe80::1:2", 65535);
    assert_string_equal (endpoint, "tcp://[fe80::1:2]:65535");
    endpoint_format (endpoint, "[::1]", 5555);
    assert_string_equal (endpoint, "tcp://[::1]:5555");
}

//  libzmq takes the bracketed form: a socket binds and connects with it
static void
test_ipv6_literal_usable (void **state)
{
    (void)state;
    zsock_t *server = zsock_new (ZMQ_PAIR);
    zsock_t *client = zsock_new (ZMQ_PAIR);
    assert_non_null (server);
    assert_non_null (client);
    zsock_set_ipv6 (server, 1);
    zsock_set_ipv6 (client, 1);
    char error[256] = "";
    if (endpoint_bind (server, "::1", 0, error, sizeof error)) {
        //  No IPv6 loopback on this machine: nothing more to check here
        print_message ("skipped: %s\n", error);
        zsock_destroy (&server);
        zsock_destroy (&client);
        return;
    }
    char *bound = zsock_last_endpoint (server); //  ours to free
    const char *port = strrchr (bound, ':');
    assert_non_null (port);
    char endpoint[ENDPOINT_MAX];
    endpoint_format (endpoint, "::1", (uint16_t)atoi (port + 1));
    zstr_free (&bound);
    assert_int_equal (zsock_connect (client, "%s", endpoint), 0);
    zsock_set_rcvtimeo (server, 5000);
    zstr_send (client, "over IPv6");
    char *received = zstr_recv (server);
    assert_string_equal (received, "over IPv6");
    zstr_free (&received);
    zsock_destroy (&server);
    zsock_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_format),
        cmocka_unit_test (test_ipv6_literal_usable),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
