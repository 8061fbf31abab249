/*  test_raft_read — linearizable reads without the log (ReadIndex) in the
    Raft core.

    A read settles only after a majority answered a heartbeat sent after it
    arrived, one round serves every read that came before it, a new leader
    gives no read index before it has committed an entry of its term, a
    leader that steps down fails what it holds, followers refuse, and the
    number of reads held is bounded.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft/raft_core.h"
#include "raft_fixture.h"

//  Every queued AppendEntries to node to carries round; returns how many.
static size_t
s_appends_carrying (raft_fixture_t *harness, uint32_t to, uint64_t round)
{
    size_t count = 0;
    for (size_t position = 0; position < harness->queued_count; position++) {
        const raft_message_t *message = harness->queued[position];
        if (message->type == RAFT_MESSAGE_APPEND_ENTRIES && message->to == to) {
            assert_int_equal (message->read_round, round);
            count++;
        }
    }
    return count;
}

static void
test_read_waits_for_a_heartbeat_round (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t commit = raft_core_commit_index (leader);
    assert_true (commit >= 1);

    assert_int_equal (raft_core_read (leader, 41), 0);
    assert_int_equal (raft_core_pending_reads (leader), 1);
    raft_fixture_collect (harness, 1);
    //  Not before a majority answered the round sent after the read came
    assert_int_equal (harness->read_count[1], 0);
    assert_int_equal (s_appends_carrying (harness, 2, 1), 1);
    assert_int_equal (s_appends_carrying (harness, 3, 1), 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (harness->read_count[1], 1);
    assert_int_equal (harness->reads[1][0].id, 41);
    assert_int_equal (harness->reads[1][0].outcome, RAFT_READ_READY);
    assert_int_equal (harness->reads[1][0].index, commit);
    assert_int_equal (raft_core_pending_reads (leader), 0);
    raft_fixture_destroy (&harness);
}

static void
test_one_round_confirms_every_read_before_it (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    for (uint64_t id = 1; id <= 5; id++)
        assert_int_equal (raft_core_read (leader, id), 0);
    raft_fixture_collect (harness, 1);
    //  One heartbeat per follower for the five
    assert_int_equal (s_appends_carrying (harness, 2, 1), 1);
    assert_int_equal (s_appends_carrying (harness, 3, 1), 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (harness->read_count[1], 5);
    for (size_t position = 0; position < 5; position++) {
        assert_int_equal (harness->reads[1][position].id, position + 1);
        assert_int_equal (harness->reads[1][position].outcome, RAFT_READ_READY);
    }
    raft_fixture_destroy (&harness);
}

//  A reply to an earlier round (sent before the read arrived) proves
//  nothing about leadership after it; one follower alone is a majority of
//  three with the leader.
static void
test_only_a_later_round_confirms (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t term = raft_core_term (leader);
    assert_int_equal (raft_core_read (leader, 9), 0);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    uint64_t match = raft_core_last_index (leader);
    raft_message_t reply = raft_fixture_append_reply (2, 1, term, true, match, 0);
    reply.read_round = 0;
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->read_count[1], 0);
    //  Rounds never sent are not believed either
    reply.read_round = 7;
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->read_count[1], 0);
    //  A refusal of our term counts: that follower still follows us
    reply = raft_fixture_append_reply (3, 1, term, false, 0, match + 5);
    reply.read_round = 1;
    raft_core_receive (leader, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->read_count[1], 1);
    assert_int_equal (harness->reads[1][0].outcome, RAFT_READ_READY);
    raft_fixture_destroy (&harness);
}

static void
test_step_down_fails_pending_reads (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    assert_int_equal (raft_core_read (leader, 1), 0);
    assert_int_equal (raft_core_read (leader, 2), 0);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    //  A newer term deposes it before any answer
    raft_message_t reply =
        raft_fixture_append_reply (2, 1, raft_core_term (leader) + 1, false, 0, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_pending_reads (leader), 0);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->read_count[1], 2);
    for (size_t position = 0; position < 2; position++) {
        assert_int_equal (harness->reads[1][position].outcome, RAFT_READ_NOT_LEADER);
        assert_int_equal (harness->reads[1][position].index, 0);
    }
    //  Now a follower: refused at once
    assert_int_equal (raft_core_read (leader, 3), -1);
    assert_int_equal (raft_core_read (harness->cores[2], 4), -1);
    raft_fixture_destroy (&harness);
}

//  After a step down between ready and advance: advances, and the next
//  ready fails read id alone; then ends the harness.
static void
s_expect_failed_next (raft_fixture_t *harness, uint64_t id)
{
    raft_core_t *core = harness->cores[1];
    raft_core_advance (core);
    raft_ready_t ready;
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.read_count, 1);
    assert_int_equal (ready.reads[0].id, id);
    assert_int_equal (ready.reads[0].outcome, RAFT_READ_NOT_LEADER);
    raft_core_advance (core);
    raft_fixture_drop_all (harness);
    raft_fixture_destroy (&harness);
}

//  A step down on a tick between ready and advance (check-quorum) settles
//  the reads in the next ready, not lost with the one outstanding.
static void
test_step_down_between_ready_and_advance (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    assert_int_equal (raft_core_read (leader, 5), 0);
    raft_ready_t ready;
    assert_true (raft_core_ready (leader, &ready));
    assert_int_equal (ready.read_count, 0);
    raft_core_tick (leader, 100000); //  nobody heard from: check-quorum
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    s_expect_failed_next (harness, 5);
}

//  The reads a ready hands out stay readable until advance, even when a
//  step down on a tick between them settles more (the array that ready lent
//  out must not move). Sixteen confirmed reads fill the first allocation.
static void
test_reads_handed_out_survive_a_step_down (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t term = raft_core_term (leader);
    for (uint64_t id = 1; id <= 16; id++)
        assert_int_equal (raft_core_read (leader, id), 0);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    raft_message_t reply =
        raft_fixture_append_reply (2, 1, term, true, raft_core_last_index (leader), 0);
    reply.read_round = 1;
    raft_core_receive (leader, &reply);
    //  One more, for the next round: still pending at the step down
    assert_int_equal (raft_core_read (leader, 17), 0);
    raft_ready_t ready;
    assert_true (raft_core_ready (leader, &ready));
    assert_int_equal (ready.read_count, 16);
    raft_core_tick (leader, 100000); //  nobody heard from: check-quorum
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    for (size_t position = 0; position < 16; position++) {
        assert_int_equal (ready.reads[position].id, position + 1);
        assert_int_equal (ready.reads[position].outcome, RAFT_READ_READY);
    }
    s_expect_failed_next (harness, 17);
}

//  A new leader's commit index may lag what its predecessor committed:
//  confirmed or not, no read index before an entry of its term commits.
static void
test_new_leader_waits_for_its_term_to_commit (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    harness->persist = false;
    raft_core_t *core = raft_fixture_start_core (harness, 1, 1);
    uint64_t terms[] = {1, 1, 1};
    raft_fixture_restore_terms (core, terms, 3);
    raft_fixture_win_with (core, 1, 2, ELECTION_MAX);
    uint64_t term = raft_core_term (core);
    assert_int_equal (raft_core_commit_index (core), 0);
    assert_int_equal (raft_core_read (core, 77), 0);
    raft_fixture_collect (harness, 1);
    raft_fixture_drop_all (harness);
    raft_message_t reply = raft_fixture_append_reply (2, 1, term, false, 0, 4);
    reply.read_round = 1;
    raft_core_receive (core, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->read_count[1], 0); //  confirmed, but no read index yet
    //  Its no-op (index 4) durable here and on node 2: committed, the read settles
    raft_core_persisted (core, 4, term);
    reply = raft_fixture_append_reply (2, 1, term, true, 4, 0);
    reply.read_round = 1;
    raft_core_receive (core, &reply);
    raft_fixture_collect (harness, 1);
    assert_int_equal (raft_core_commit_index (core), 4);
    assert_int_equal (harness->read_count[1], 1);
    assert_int_equal (harness->reads[1][0].outcome, RAFT_READ_READY);
    assert_int_equal (harness->reads[1][0].index, 4);
    raft_fixture_drop_all (harness);
    raft_fixture_destroy (&harness);
}

//  A follower answers a new round at once, before the write it is
//  syncing, with what is durable so far.
static void
test_follower_answers_a_round_before_its_sync (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    harness->persist = false;
    raft_core_t *core = raft_fixture_start_core (harness, 2, 2);
    uint64_t terms[] = {1, 2};
    raft_fixture_restore_terms (core, terms, 2);
    raft_entry_t entries[] = {{.term = 2, .index = 3, .data = (uint8_t *)"x", .size = 1}};
    raft_message_t append = raft_fixture_append (1, 2, 2, 2, 2, entries, 1, 2);
    append.read_round = 4;
    raft_core_receive (core, &append);
    raft_fixture_collect (harness, 2);
    raft_message_t *reply = raft_fixture_take (harness);
    assert_non_null (reply);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 2);
    assert_int_equal (reply->read_round, 4);
    free (reply);
    assert_null (raft_fixture_take (harness));
    //  Once synced, the owed acknowledgement carries the round too
    raft_core_persisted (core, 3, 2);
    raft_fixture_collect (harness, 2);
    reply = raft_fixture_take (harness);
    assert_non_null (reply);
    assert_int_equal (reply->match_index, 3);
    assert_int_equal (reply->read_round, 4);
    free (reply);
    raft_fixture_destroy (&harness);
}

static void
test_single_node_reads_at_once (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (1);
    raft_core_t *leader = harness->cores[1];
    assert_int_equal (raft_core_read (leader, 3), 0);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->read_count[1], 1);
    assert_int_equal (harness->reads[1][0].outcome, RAFT_READ_READY);
    assert_int_equal (harness->reads[1][0].index, raft_core_commit_index (leader));
    raft_fixture_destroy (&harness);
}

static void
test_pending_reads_are_bounded (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_options_t options = raft_fixture_options (harness, 1);
    options.max_pending_reads = 2;
    harness->cores[1] = raft_core_new (&options);
    for (uint32_t id = 2; id <= 3; id++)
        raft_fixture_start_core (harness, id, 0);
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    assert_int_equal (raft_core_read (leader, 1), 0);
    assert_int_equal (raft_core_read (leader, 2), 0);
    assert_int_equal (raft_core_read (leader, 3), -1);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (harness->read_count[1], 2);
    assert_int_equal (raft_core_read (leader, 3), 0);
    raft_fixture_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_read_waits_for_a_heartbeat_round),
        cmocka_unit_test (test_one_round_confirms_every_read_before_it),
        cmocka_unit_test (test_only_a_later_round_confirms),
        cmocka_unit_test (test_step_down_fails_pending_reads),
        cmocka_unit_test (test_step_down_between_ready_and_advance),
        cmocka_unit_test (test_reads_handed_out_survive_a_step_down),
        cmocka_unit_test (test_new_leader_waits_for_its_term_to_commit),
        cmocka_unit_test (test_follower_answers_a_round_before_its_sync),
        cmocka_unit_test (test_single_node_reads_at_once),
        cmocka_unit_test (test_pending_reads_are_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
