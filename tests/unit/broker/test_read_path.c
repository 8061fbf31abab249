/*  test_read_path — the bound on reads passed to the Raft actor: reached
    at the core's own bound and refused with a text naming it (the client
    gets RESOURCE_EXHAUSTED, not a NOT_LEADER naming the node itself), and
    a slot freed by every settled read, even one whose request timed out.
*/

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "broker/server_private.h"

static void
test_bound_names_itself (void **state)
{
    (void)state;
    read_path_t *reads = read_path_new ();
    assert_non_null (reads);
    char error[128] = "";
    for (size_t count = 0; count < READ_PATH_MAX_UNSETTLED; count++)
        assert_int_equal (read_path_admit (reads, error, sizeof error), 0);
    assert_int_equal (read_path_unsettled (reads), RAFT_DEFAULT_MAX_PENDING_READS);
    assert_int_equal (read_path_admit (reads, error, sizeof error), -1);
    assert_string_equal (error, "too many pending reads on this node (65536)");
    assert_int_equal (read_path_unsettled (reads), READ_PATH_MAX_UNSETTLED);
    read_path_destroy (&reads);
    assert_null (reads);
}

//  A READS event of count reads refused NOT_LEADER, tickets from first.
static raft_actor_event_t
s_refused (raft_read_t *reads, size_t count, uint64_t first)
{
    for (size_t position = 0; position < count; position++)
        reads[position] = (raft_read_t){.id = first + position, .outcome = RAFT_READ_NOT_LEADER};
    return (raft_actor_event_t){.kind = RAFT_ACTOR_READS, .reads = reads, .read_count = count};
}

static void
test_settled_reads_free_their_slots (void **state)
{
    (void)state;
    //  Only what settling reads of tickets no longer parked touches: the
    //  requests timed out, so nobody is answered
    server_t server = {.reads = read_path_new (), .waiting = waiting_table_new ()};
    assert_non_null (server.reads);
    assert_non_null (server.waiting);
    char error[128];
    for (size_t count = 0; count < READ_PATH_MAX_UNSETTLED; count++)
        assert_int_equal (read_path_admit (server.reads, error, sizeof error), 0);
    raft_read_t reads[3];
    raft_actor_event_t event = s_refused (reads, 3, 1000);
    read_path_settled (&server, &event);
    assert_int_equal (read_path_unsettled (server.reads), READ_PATH_MAX_UNSETTLED - 3);
    for (size_t count = 0; count < 3; count++)
        assert_int_equal (read_path_admit (server.reads, error, sizeof error), 0);
    assert_int_equal (read_path_admit (server.reads, error, sizeof error), -1);

    //  Settlements beyond the count (after a reset) leave it at zero
    read_path_destroy (&server.reads);
    server.reads = read_path_new ();
    assert_int_equal (read_path_admit (server.reads, error, sizeof error), 0);
    read_path_settled (&server, &event);
    assert_int_equal (read_path_unsettled (server.reads), 0);
    read_path_destroy (&server.reads);
    waiting_table_destroy (&server.waiting);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_bound_names_itself),
        cmocka_unit_test (test_settled_reads_free_their_slots),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
