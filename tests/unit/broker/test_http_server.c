/*  test_http_server — the HTTP thread's start: a port another socket holds
    is refused with NULL (the thread, left without a daemon, waits for the
    end instead of driving one), a bad host likewise, and a free port
    serves /metrics as published.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <czmq.h>

#include "broker/http_server.h"

//  A listening socket on a port the system chose; *port says which.
static int
s_listen_any (uint16_t *port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal (listen (fd, 4), 0);
    socklen_t size = sizeof address;
    assert_int_equal (getsockname (fd, (struct sockaddr *)&address, &size), 0);
    *port = ntohs (address.sin_port);
    return fd;
}

static void
test_refusals_end_cleanly (void **state)
{
    (void)state;
    uint16_t port;
    int holder = s_listen_any (&port);
    assert_null (http_server_new (1, "127.0.0.1", port));
    assert_null (http_server_new (1, "not-an-address", port));
    close (holder);
}

//  The answer to GET path on port, whole (the server closes after it).
static void
s_get (uint16_t port, const char *path, char *answer, size_t answer_size)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons (port)};
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *)&address, sizeof address), 0);
    char request[128];
    int length = snprintf (request, sizeof request,
                           "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    assert_int_equal (write (fd, request, (size_t)length), length);
    size_t got = 0;
    ssize_t size;
    while (got + 1 < answer_size && (size = read (fd, answer + got, answer_size - 1 - got)) > 0)
        got += (size_t)size;
    answer[got] = 0;
    close (fd);
}

static void
test_serves_what_is_published (void **state)
{
    (void)state;
    uint16_t port;
    int holder = s_listen_any (&port);
    close (holder);
    http_server_t *server = http_server_new (1, "127.0.0.1", port);
    assert_non_null (server);
    const char *text = "raftq_term 7\n";
    http_server_publish (server, text, strlen (text), true, "leader in term 7");
    //  The snapshot reaches the thread through its pipe: ask until it shows
    char answer[2048] = "";
    int64_t deadline = zclock_mono () + 5000;
    do
        s_get (port, "/metrics", answer, sizeof answer);
    while (!strstr (answer, "raftq_term 7") && zclock_mono () < deadline);
    assert_non_null (strstr (answer, "HTTP/1.1 200"));
    assert_non_null (strstr (answer, "\r\n\r\nraftq_term 7\n"));
    s_get (port, "/readyz", answer, sizeof answer);
    assert_non_null (strstr (answer, "{\"ready\":true,\"reason\":\"leader in term 7\"}"));
    http_server_destroy (&server);
    assert_null (server);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_refusals_end_cleanly),
        cmocka_unit_test (test_serves_what_is_published),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
