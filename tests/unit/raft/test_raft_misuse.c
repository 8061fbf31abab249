/*  test_raft_misuse — the Raft core's assertions on misuse of its API.

    What the shell must never do (an event between ready and advance,
    restoring after events or twice, persisting what was never handed out,
    compacting beyond the applied index, NULL arguments) aborts the process,
    as czmq does. Each case runs in a forked child with the default SIGABRT
    action, and the parent checks that the child died of it; the same calls
    made correctly let the child exit normally, so the checks can fail.
    Messages from the network never abort: test_raft_replication checks
    that malformed ones are ignored.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/raft_core.h"
#include "misuse.h"
#include "raft_fixture.h"

//  One way of driving a fresh three-node fixture; misuse says whether to
//  make the mistake or do the right thing instead.
typedef void (scenario_fn) (raft_fixture_t *harness, bool misuse);

//  What the forked child runs.
typedef struct {
    scenario_fn *scenario; //  the raft scenario
} raft_scenario_t;

//  Runs a raft scenario on a fresh 3-node fixture (in the forked child).
static void
s_run_on_fixture (void *argument, bool misuse)
{
    raft_fixture_t *harness = raft_fixture_new (3, true);
    ((raft_scenario_t *)argument)->scenario (harness, misuse);
    raft_fixture_destroy (&harness);
}

//  Checks that scenario aborts when misused, and only then.
static void
s_check (scenario_fn *scenario)
{
    raft_scenario_t argument = {scenario};
    misuse_check (s_run_on_fixture, &argument);
}

//  A leader holding a ready it has not advanced.
static raft_core_t *
s_leader_with_ready (raft_fixture_t *harness, raft_ready_t *ready)
{
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    raft_fixture_propose (leader, "x", 2);
    assert_true (raft_core_ready (leader, ready));
    return leader;
}

static void
s_propose_between_ready_and_advance (raft_fixture_t *harness, bool misuse)
{
    raft_ready_t ready;
    raft_core_t *leader = s_leader_with_ready (harness, &ready);
    if (!misuse)
        raft_core_advance (leader);
    uint64_t index;
    raft_core_propose (leader, (const uint8_t *)"y", 1, &index);
}

static void
s_receive_between_ready_and_advance (raft_fixture_t *harness, bool misuse)
{
    raft_ready_t ready;
    raft_core_t *leader = s_leader_with_ready (harness, &ready);
    if (!misuse)
        raft_core_advance (leader);
    raft_message_t reply = raft_fixture_append_reply (2, 1, 1, true, 2, 0);
    raft_core_receive (leader, &reply);
}

static void
s_persist_what_was_not_handed_out (raft_fixture_t *harness, bool misuse)
{
    raft_ready_t ready;
    raft_core_t *leader = s_leader_with_ready (harness, &ready);
    raft_core_advance (leader);
    raft_core_persisted (leader, misuse ? 3 : 2, 1);
}

static void
s_compact_beyond_applied (raft_fixture_t *harness, bool misuse)
{
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    raft_fixture_propose (leader, "x", 2);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (raft_core_applied_index (leader), 2);
    raft_core_compact (leader, misuse ? 3 : 2);
}

static void
s_restore_after_an_event (raft_fixture_t *harness, bool misuse)
{
    raft_core_t *core = harness->cores[1];
    if (misuse)
        raft_core_tick (core, 1);
    raft_entry_t entry = {.term = 1, .index = 1, .type = RAFT_ENTRY_COMMAND};
    raft_core_restore_entry (core, &entry);
}

static void
s_restore_snapshot_twice (raft_fixture_t *harness, bool misuse)
{
    raft_core_destroy (&harness->cores[1]);
    raft_core_t *core = raft_fixture_start_core (harness, 1, 2);
    raft_member_t members[MAX_NODES];
    size_t count = raft_fixture_voter_members (harness, members);
    assert_int_equal (raft_core_restore_snapshot (core, 10, 2, members, count), 0);
    if (misuse)
        raft_core_restore_snapshot (core, 12, 2, members, count);
}

static void
s_receive_no_message (raft_fixture_t *harness, bool misuse)
{
    raft_message_t heartbeat = raft_fixture_append (2, 1, 1, 0, 0, NULL, 0, 0);
    raft_core_receive (harness->cores[1], misuse ? NULL : &heartbeat);
}

static void
test_no_event_between_ready_and_advance (void **state)
{
    (void)state;
    s_check (s_propose_between_ready_and_advance);
    s_check (s_receive_between_ready_and_advance);
}

static void
test_index_ranges (void **state)
{
    (void)state;
    s_check (s_persist_what_was_not_handed_out);
    s_check (s_compact_beyond_applied);
}

static void
test_restoring_is_part_of_creation (void **state)
{
    (void)state;
    s_check (s_restore_after_an_event);
    s_check (s_restore_snapshot_twice);
}

static void
test_null_arguments (void **state)
{
    (void)state;
    s_check (s_receive_no_message);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_no_event_between_ready_and_advance),
        cmocka_unit_test (test_index_ranges),
        cmocka_unit_test (test_restoring_is_part_of_creation),
        cmocka_unit_test (test_null_arguments),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
