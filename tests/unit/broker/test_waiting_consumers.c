/*  test_waiting_consumers — parked Pop and Reserve waits: FIFO per topic,
    the per-node and per-connection bounds with their refusal text, waking
    no more waiters than a topic has ready messages beyond those promised,
    settling a woken waiter (and putting it back at the head of its line),
    waits ending earliest first, and forgetting stale or all woken waiters.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/waiting_consumers.h"

//  A request from connection (its routing id); the ticket field carries
//  a number the test reads back.
static client_request_t *
s_request (const char *connection, uint64_t number)
{
    zframe_t *routing_id = zframe_from (connection);
    client_request_t *request = client_request_new (&routing_id, true);
    assert_non_null (request);
    request->ticket = number;
    return request;
}

//  What the wake callback saw.
typedef struct {
    uint64_t ready;                 //  what every topic reports ready
    waiting_consumers_t *consumers; //  to record the woken in
    uint64_t woken[16];             //  numbers of the requests woken, in order
    size_t count;                   //  how many
    bool record;                    //  record them as woken (promised)
} s_world_t;

static uint64_t
s_ready (void *argument, const char *topic)
{
    (void)topic;
    return ((s_world_t *)argument)->ready;
}

static void
s_wake (void *argument, client_request_t *request, const char *topic, int64_t wait_deadline)
{
    s_world_t *world = (s_world_t *)argument;
    world->woken[world->count++] = request->ticket;
    if (world->record)
        waiting_consumers_woke (world->consumers, topic, request->ticket, wait_deadline, 5000);
    client_request_destroy (&request);
}

static void
test_fifo_and_promises (void **state)
{
    (void)state;
    waiting_consumers_t *consumers = waiting_consumers_new (100, 10, 1 << 20);
    char error[128];
    for (uint64_t number = 1; number <= 3; number++)
        assert_int_equal (waiting_consumers_park (consumers, "jobs", s_request ("a", number),
                                                  1000 + (int64_t)number, error, sizeof error),
                          0);
    assert_int_equal (
        waiting_consumers_park (consumers, "other", s_request ("b", 9), 900, error, sizeof error),
        0);
    assert_int_equal (waiting_consumers_count (consumers, "jobs"), 3);
    assert_int_equal (waiting_consumers_size (consumers), 4);

    //  One ready message each: the oldest waiter of each topic
    s_world_t world = {.ready = 1, .consumers = consumers, .record = true};
    waiting_consumers_wake (consumers, s_ready, s_wake, &world);
    assert_int_equal (world.count, 2);
    assert_true ((world.woken[0] == 1 && world.woken[1] == 9) ||
                 (world.woken[0] == 9 && world.woken[1] == 1));
    //  Still one ready, but promised to the woken: nobody else wakes
    world.count = 0;
    waiting_consumers_wake (consumers, s_ready, s_wake, &world);
    assert_int_equal (world.count, 0);
    assert_int_equal (waiting_consumers_count (consumers, "jobs"), 3);

    //  Its entry found nothing: back at the head of the line
    int64_t wait_deadline;
    char *topic;
    assert_true (waiting_consumers_settle (consumers, 1, &wait_deadline, &topic));
    assert_string_equal (topic, "jobs");
    assert_int_equal (wait_deadline, 1001);
    free (topic);
    assert_false (waiting_consumers_settle (consumers, 1, &wait_deadline, &topic));
    waiting_consumers_park_first (consumers, "jobs", s_request ("a", 1), wait_deadline);
    world.ready = 2;
    waiting_consumers_wake (consumers, s_ready, s_wake, &world);
    assert_int_equal (world.count, 2);
    assert_int_equal (world.woken[0], 1);
    assert_int_equal (world.woken[1], 2);

    //  Waits end earliest first, each once
    client_request_t *request = waiting_consumers_expired (consumers, 1002, &topic);
    assert_null (request);
    request = waiting_consumers_expired (consumers, 1003, &topic);
    assert_non_null (request);
    assert_int_equal (request->ticket, 3);
    assert_string_equal (topic, "jobs");
    free (topic);
    client_request_destroy (&request);
    assert_int_equal (waiting_consumers_size (consumers), 0);
    //  The woken stay counted until settled or forgotten
    assert_int_equal (waiting_consumers_count (consumers, "jobs"), 2);
    waiting_consumers_forget_stale (consumers, 4999);
    assert_int_equal (waiting_consumers_count (consumers, "jobs"), 2);
    waiting_consumers_forget_stale (consumers, 5000);
    assert_int_equal (waiting_consumers_count (consumers, "jobs"), 0);
    assert_int_equal (waiting_consumers_count (consumers, "other"), 0);
    waiting_consumers_destroy (&consumers);
    assert_null (consumers);
}

static void
test_bounds (void **state)
{
    (void)state;
    waiting_consumers_t *consumers = waiting_consumers_new (3, 2, 1 << 20);
    char error[128];
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("a", 1), 100, error, sizeof error), 0);
    assert_int_equal (
        waiting_consumers_park (consumers, "u", s_request ("a", 2), 100, error, sizeof error), 0);
    //  A third from the same connection, on any topic: refused, still ours
    client_request_t *refused = s_request ("a", 3);
    assert_int_equal (waiting_consumers_park (consumers, "v", refused, 100, error, sizeof error),
                      -1);
    assert_non_null (strstr (error, "this connection"));
    client_request_destroy (&refused);
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("b", 4), 100, error, sizeof error), 0);
    refused = s_request ("c", 5);
    assert_int_equal (waiting_consumers_park (consumers, "t", refused, 100, error, sizeof error),
                      -1);
    assert_non_null (strstr (error, "this node"));
    client_request_destroy (&refused);

    //  A wait that ends frees its connection's place
    char *topic;
    client_request_t *request;
    int ended = 0;
    while ((request = waiting_consumers_expired (consumers, INT64_MAX, &topic))) {
        free (topic);
        client_request_destroy (&request);
        ended++;
    }
    assert_int_equal (ended, 3);
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("a", 6), 100, error, sizeof error), 0);
    //  What is still parked goes with the table
    waiting_consumers_destroy (&consumers);

    //  The byte bound: a routing id of 5 bytes fits 3 times in 16
    consumers = waiting_consumers_new (10, 10, 16);
    for (uint64_t number = 1; number <= 3; number++)
        assert_int_equal (waiting_consumers_park (consumers, "t", s_request ("conn1", number), 100,
                                                  error, sizeof error),
                          0);
    refused = s_request ("conn2", 4);
    assert_int_equal (waiting_consumers_park (consumers, "t", refused, 100, error, sizeof error),
                      -1);
    assert_non_null (strstr (error, "bytes"));
    client_request_destroy (&refused);
    request = waiting_consumers_expired (consumers, INT64_MAX, &topic);
    free (topic);
    client_request_destroy (&request);
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("conn2", 5), 100, error, sizeof error),
        0);
    waiting_consumers_destroy (&consumers);
}

static void
test_forget_woken (void **state)
{
    (void)state;
    waiting_consumers_t *consumers = waiting_consumers_new (10, 10, 1 << 20);
    char error[128];
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("a", 1), 100, error, sizeof error), 0);
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("a", 2), 100, error, sizeof error), 0);
    s_world_t world = {.ready = 1, .consumers = consumers, .record = true};
    waiting_consumers_wake (consumers, s_ready, s_wake, &world);
    assert_int_equal (world.count, 1);
    //  A leader change: the promise is void, the next waiter can wake
    waiting_consumers_forget_woken (consumers);
    waiting_consumers_wake (consumers, s_ready, s_wake, &world);
    assert_int_equal (world.count, 2);
    assert_int_equal (world.woken[1], 2);
    //  A wake that did not propose promises nothing
    world.record = false;
    world.count = 0;
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("a", 3), 100, error, sizeof error), 0);
    assert_int_equal (
        waiting_consumers_park (consumers, "t", s_request ("a", 4), 100, error, sizeof error), 0);
    waiting_consumers_forget_woken (consumers);
    waiting_consumers_wake (consumers, s_ready, s_wake, &world);
    assert_int_equal (world.count, 2);
    assert_int_equal (waiting_consumers_size (consumers), 0);
    waiting_consumers_destroy (&consumers);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fifo_and_promises),
        cmocka_unit_test (test_bounds),
        cmocka_unit_test (test_forget_woken),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
