/*  test_fair_queue — fair_queue.c on a clock of the test's own: owners
    served round robin whatever their backlog, the per-owner and total
    bounds, jobs past their deadline dropped (and making room), owners
    told apart by every byte.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/fair_queue.h"

#define NOW   5000
#define LATER 9000

static void
s_push (fair_queue_t *queue, const char *owner, uint64_t ticket, fair_queue_status_t expected)
{
    assert_int_equal (fair_queue_push (queue, owner, strlen (owner), ticket, LATER, NOW), expected);
}

static uint64_t
s_pop (fair_queue_t *queue, int64_t now)
{
    uint64_t ticket = 0;
    assert_true (fair_queue_pop (queue, now, &ticket));
    return ticket;
}

static void
test_round_robin (void **state)
{
    (void)state;
    fair_queue_t *queue = fair_queue_new (100, 1000);
    assert_non_null (queue);
    uint64_t ticket = 0;
    assert_false (fair_queue_pop (queue, NOW, &ticket));
    //  A flooder queues 50 jobs first; two others queue later
    for (uint64_t job = 1; job <= 50; job++)
        s_push (queue, "flood", job, FAIR_QUEUE_QUEUED);
    s_push (queue, "ann", 101, FAIR_QUEUE_QUEUED);
    s_push (queue, "bob", 201, FAIR_QUEUE_QUEUED);
    s_push (queue, "bob", 202, FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_size (queue), 53);
    //  Each gets one job per round, in the order they first came
    const uint64_t order[] = {1, 101, 201, 2, 202, 3, 4, 5};
    for (size_t index = 0; index < sizeof order / sizeof order[0]; index++)
        assert_int_equal (s_pop (queue, NOW), order[index]);
    //  A newcomer joins the round at its end, after the flooder's next turn
    s_push (queue, "carl", 301, FAIR_QUEUE_QUEUED);
    assert_int_equal (s_pop (queue, NOW), 6);
    assert_int_equal (s_pop (queue, NOW), 301);
    assert_int_equal (s_pop (queue, NOW), 7);
    fair_queue_destroy (&queue);
    assert_null (queue);
}

static void
test_bounds (void **state)
{
    (void)state;
    fair_queue_t *queue = fair_queue_new (3, 5);
    assert_non_null (queue);
    for (uint64_t job = 1; job <= 3; job++)
        s_push (queue, "flood", job, FAIR_QUEUE_QUEUED);
    s_push (queue, "flood", 4, FAIR_QUEUE_OWNER_FULL);
    //  Others still get in, up to the total
    s_push (queue, "ann", 11, FAIR_QUEUE_QUEUED);
    s_push (queue, "bob", 21, FAIR_QUEUE_QUEUED);
    s_push (queue, "carl", 31, FAIR_QUEUE_FULL);
    assert_int_equal (fair_queue_size (queue), 5);
    //  A job served makes room for its owner again
    assert_int_equal (s_pop (queue, NOW), 1);
    s_push (queue, "flood", 5, FAIR_QUEUE_QUEUED);
    s_push (queue, "flood", 6, FAIR_QUEUE_OWNER_FULL);
    fair_queue_destroy (&queue);
}

static void
test_deadlines (void **state)
{
    (void)state;
    fair_queue_t *queue = fair_queue_new (2, 3);
    assert_non_null (queue);
    //  Early jobs expire at NOW + 10, the others much later
    assert_int_equal (fair_queue_push (queue, "a", 1, 1, NOW + 10, NOW), FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_push (queue, "a", 1, 2, NOW + 10, NOW), FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_push (queue, "b", 1, 3, NOW + 10, NOW), FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_push (queue, "a", 1, 4, LATER, NOW), FAIR_QUEUE_OWNER_FULL);
    assert_int_equal (fair_queue_push (queue, "c", 1, 5, LATER, NOW), FAIR_QUEUE_FULL);
    //  Past the deadline: the expired jobs no longer count against anyone
    assert_int_equal (fair_queue_push (queue, "a", 1, 4, LATER, NOW + 10), FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_push (queue, "c", 1, 5, LATER, NOW + 10), FAIR_QUEUE_QUEUED);
    //  ... and are never handed out
    assert_int_equal (s_pop (queue, NOW + 10), 4);
    assert_int_equal (s_pop (queue, NOW + 10), 5);
    uint64_t ticket = 0;
    assert_false (fair_queue_pop (queue, NOW + 10, &ticket));
    assert_int_equal (fair_queue_size (queue), 0);
    fair_queue_destroy (&queue);
}

static void
test_binary_owners (void **state)
{
    (void)state;
    fair_queue_t *queue = fair_queue_new (1, 10);
    assert_non_null (queue);
    //  Routing ids are bytes: a zero byte, or one more, is another owner
    const uint8_t first[] = {0, 0, 0, 1}, second[] = {0, 0, 0, 2}, longer[] = {0, 0, 0, 1, 0};
    assert_int_equal (fair_queue_push (queue, first, sizeof first, 1, LATER, NOW),
                      FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_push (queue, second, sizeof second, 2, LATER, NOW),
                      FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_push (queue, longer, sizeof longer, 3, LATER, NOW),
                      FAIR_QUEUE_QUEUED);
    assert_int_equal (fair_queue_push (queue, first, sizeof first, 4, LATER, NOW),
                      FAIR_QUEUE_OWNER_FULL);
    assert_int_equal (fair_queue_size (queue), 3);
    fair_queue_destroy (&queue);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_robin),
        cmocka_unit_test (test_bounds),
        cmocka_unit_test (test_deadlines),
        cmocka_unit_test (test_binary_owners),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
