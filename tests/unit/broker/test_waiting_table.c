/*  test_waiting_table — parking and unparking requests by ticket, tickets
    never repeating, deadlines coming out earliest first whatever the order
    they were parked in, and only once due.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/waiting_table.h"

//  A request as the client port makes one, its routing id naming it.
static client_request_t *
s_request (const char *name)
{
    zframe_t *routing_id = zframe_from (name);
    client_request_t *request = client_request_new (&routing_id, true);
    assert_non_null (request);
    assert_null (routing_id);
    return request;
}

static bool
s_is (client_request_t *request, const char *name)
{
    return request && zframe_streq (request->routing_id, name);
}

static void
test_park_and_unpark (void **state)
{
    (void)state;
    waiting_table_t *table = waiting_table_new ();
    assert_non_null (table);
    client_request_t *first = s_request ("first");
    client_request_t *second = s_request ("second");
    assert_int_equal (waiting_table_park (table, first, 1000), 0);
    assert_int_equal (waiting_table_park (table, second, 2000), 0);
    assert_int_not_equal (first->ticket, second->ticket);
    assert_int_equal (first->deadline, 1000);
    assert_int_equal (waiting_table_size (table), 2);

    //  Finding leaves it parked; unparking takes it out, once
    assert_ptr_equal (waiting_table_find (table, second->ticket), second);
    assert_int_equal (waiting_table_size (table), 2);
    uint64_t ticket = second->ticket;
    client_request_t *taken = waiting_table_unpark (table, ticket);
    assert_true (s_is (taken, "second"));
    assert_null (waiting_table_unpark (table, ticket));
    assert_null (waiting_table_find (table, ticket));
    assert_int_equal (waiting_table_size (table), 1);
    client_request_destroy (&taken);

    //  A ticket nobody holds
    assert_null (waiting_table_unpark (table, first->ticket + 12345));
    //  What is still parked goes with the table
    waiting_table_destroy (&table);
    assert_null (table);
}

static void
test_tickets_never_repeat (void **state)
{
    (void)state;
    waiting_table_t *table = waiting_table_new ();
    waiting_table_t *other = waiting_table_new ();
    uint64_t previous = waiting_table_new_ticket (table);
    for (int count = 0; count < 1000; count++) {
        uint64_t ticket = waiting_table_new_ticket (table);
        assert_true (ticket > previous);
        previous = ticket;
    }
    client_request_t *request = s_request ("parked");
    assert_int_equal (waiting_table_park (table, request, 0), 0);
    assert_true (request->ticket > previous);
    //  Another incarnation starts elsewhere (random high half): an entry an
    //  earlier run left in the log does not name this run's requests
    uint64_t elsewhere = waiting_table_new_ticket (other);
    assert_int_not_equal (elsewhere >> 32, previous >> 32);
    waiting_table_destroy (&table);
    waiting_table_destroy (&other);
}

static void
test_deadlines_in_order (void **state)
{
    (void)state;
    waiting_table_t *table = waiting_table_new ();
    //  Parked out of order, two with the same deadline
    const char *names[] = {"late", "early", "middle", "middle-too", "earliest"};
    int64_t deadlines[] = {500, 200, 300, 300, 100};
    for (size_t position = 0; position < 5; position++)
        assert_int_equal (
            waiting_table_park (table, s_request (names[position]), deadlines[position]), 0);

    //  Nothing is due before the earliest deadline
    assert_null (waiting_table_expired (table, 99));
    assert_int_equal (waiting_table_size (table), 5);

    const char *expected[] = {"earliest", "early", "middle", "middle-too"};
    for (size_t position = 0; position < 4; position++) {
        client_request_t *request = waiting_table_expired (table, 300);
        if (!s_is (request, expected[position]))
            fail_msg ("expected %s to expire next", expected[position]);
        //  Expired means unparked: its ticket names nothing any more
        assert_null (waiting_table_find (table, request->ticket));
        client_request_destroy (&request);
    }
    assert_null (waiting_table_expired (table, 300));
    client_request_t *last = waiting_table_expired (table, INT64_MAX);
    assert_true (s_is (last, "late"));
    client_request_destroy (&last);
    assert_null (waiting_table_expired (table, INT64_MAX));
    assert_int_equal (waiting_table_size (table), 0);
    waiting_table_destroy (&table);
}

static void
test_unpark_keeps_deadline_order (void **state)
{
    (void)state;
    waiting_table_t *table = waiting_table_new ();
    client_request_t *first = s_request ("first");
    client_request_t *second = s_request ("second");
    client_request_t *third = s_request ("third");
    waiting_table_park (table, first, 10);
    waiting_table_park (table, second, 20);
    waiting_table_park (table, third, 30);
    //  The one in the middle answered (applied) before its deadline
    client_request_t *applied = waiting_table_unpark (table, second->ticket);
    client_request_destroy (&applied);
    client_request_t *request = waiting_table_expired (table, 100);
    assert_true (s_is (request, "first"));
    client_request_destroy (&request);
    request = waiting_table_expired (table, 100);
    assert_true (s_is (request, "third"));
    client_request_destroy (&request);
    assert_null (waiting_table_expired (table, 100));
    waiting_table_destroy (&table);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_park_and_unpark),
        cmocka_unit_test (test_tickets_never_repeat),
        cmocka_unit_test (test_deadlines_in_order),
        cmocka_unit_test (test_unpark_keeps_deadline_order),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
