/*  test_raft_election — elections and roles in the Raft core.

    Single-node and three-node elections, the vote and pre-vote rules, terms
    stepping a leader down, the election timer, a rejoining node that must
    not disrupt a live leader, check-quorum and leadership transfer.
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

//  The answer node id queued to a pre-vote or vote request; asserts it is there.
static raft_message_t *
s_answer (raft_fixture_t *harness, raft_message_type_t type, uint32_t id, uint32_t to)
{
    raft_fixture_collect (harness, id);
    raft_message_t *reply = raft_fixture_find_queued (harness, type, to);
    assert_non_null (reply);
    return reply;
}

static void
test_single_node_elects_itself_and_commits_after_persisted (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (1, true);
    raft_core_t *core = harness->cores[1];
    raft_ready_t ready;
    //  Nothing happens before the election timeout
    raft_core_tick (core, ELECTION_MIN - 1);
    assert_false (raft_core_ready (core, &ready));
    assert_int_equal (raft_core_role (core), RAFT_ROLE_FOLLOWER);
    raft_core_tick (core, ELECTION_MAX);
    assert_true (raft_core_ready (core, &ready));
    assert_true (ready.hard_state_changed);
    assert_int_equal (ready.term, 1);
    assert_int_equal (ready.voted_for, 1);
    assert_true (ready.soft_state_changed);
    assert_int_equal (ready.role, RAFT_ROLE_LEADER);
    assert_int_equal (ready.leader_id, 1);
    //  The first leader's first entry puts the bootstrap configuration in the log
    assert_int_equal (ready.entries_to_persist_count, 1);
    assert_int_equal (ready.entries_to_persist[0].type, RAFT_ENTRY_CONFIG);
    assert_int_equal (raft_core_config_index (core), 1);
    assert_int_equal (ready.message_count, 0);
    assert_int_equal (ready.committed_count, 0);
    raft_core_advance (core);

    raft_fixture_propose (core, "hello", 2);
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.entries_to_persist_count, 1); //  the no-op was handed out before
    assert_int_equal (ready.entries_to_persist[0].index, 2);
    assert_int_equal (ready.committed_count, 0); //  not persisted yet
    raft_core_advance (core);
    assert_int_equal (raft_core_commit_index (core), 0);

    raft_core_persisted (core, 2, 1);
    assert_int_equal (raft_core_commit_index (core), 2);
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.committed_count, 2);
    assert_int_equal (ready.committed[1].size, 5);
    assert_memory_equal (ready.committed[1].data, "hello", 5);
    raft_core_advance (core);
    assert_int_equal (raft_core_applied_index (core), 2);
    assert_false (raft_core_ready (core, &ready));

    //  A follower refuses proposals
    raft_fixture_t *trio = raft_fixture_new (3, true);
    uint64_t index = 0;
    assert_int_equal (raft_core_propose (trio->cores[2], (const uint8_t *)"x", 1, &index), -1);
    raft_fixture_destroy (&trio);
    raft_fixture_destroy (&harness);
}

static void
test_three_nodes_elect_and_replicate (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    for (uint32_t id = 1; id <= 3; id++) {
        assert_int_equal (raft_core_term (harness->cores[id]), 1);
        assert_int_equal (raft_core_leader (harness->cores[id]), 1);
        assert_int_equal (raft_core_last_index (harness->cores[id]), 1);
    }
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 1);
    raft_fixture_propose (harness->cores[1], "a", 2);
    raft_fixture_propose (harness->cores[1], "b", 3);
    raft_fixture_collect (harness, 1);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2), 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 3);
    assert_int_equal (harness->applied[1], 3);

    //  Heartbeats: an AppendEntries to every follower each heartbeat_ms,
    //  carrying the commit index to those that have not heard it yet
    raft_core_tick (harness->cores[1], ELECTION_MAX + HEARTBEAT_MS);
    raft_fixture_collect (harness, 1);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2), 1);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 3), 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (harness->applied[2], 3);
    assert_int_equal (harness->applied[3], 3);
    raft_fixture_destroy (&harness);
}

static void
test_vote_rules (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, false);
    raft_core_t *core = raft_fixture_start_core (harness, 1, 2);
    raft_fixture_restore (core, 1, 1);
    raft_fixture_restore (core, 2, 2);

    //  Higher term: adopted, vote cleared; a lower last term is not up to date
    raft_message_t request = raft_fixture_vote_request (2, 1, 3, 9, 1);
    raft_core_receive (core, &request);
    assert_int_equal (raft_core_term (core), 3);
    assert_int_equal (raft_core_voted_for (core), 0);
    raft_fixture_collect (harness, 1);
    raft_message_t *reply = raft_fixture_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 2);
    assert_non_null (reply);
    assert_false (reply->granted);
    assert_int_equal (reply->term, 3);
    raft_fixture_drop_all (harness);

    //  Same last term but shorter: refused
    request = raft_fixture_vote_request (3, 1, 3, 1, 2);
    raft_core_receive (core, &request);
    raft_fixture_collect (harness, 1);
    assert_false (raft_fixture_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 3)->granted);
    raft_fixture_drop_all (harness);

    //  Up to date: granted, and the vote is hard state in the ready
    request = raft_fixture_vote_request (3, 1, 3, 2, 2);
    raft_core_receive (core, &request);
    raft_ready_t ready;
    assert_true (raft_core_ready (core, &ready));
    assert_true (ready.hard_state_changed);
    assert_int_equal (ready.term, 3);
    assert_int_equal (ready.voted_for, 3);
    assert_int_equal (ready.message_count, 1);
    assert_true (ready.messages[0].granted);
    raft_core_advance (core);

    //  One vote per term: another candidate is refused, the same one again granted
    request = raft_fixture_vote_request (2, 1, 3, 50, 3);
    raft_core_receive (core, &request);
    request = raft_fixture_vote_request (3, 1, 3, 2, 2);
    raft_core_receive (core, &request);
    raft_fixture_collect (harness, 1);
    assert_false (raft_fixture_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 2)->granted);
    assert_true (raft_fixture_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 3)->granted);
    assert_int_equal (raft_core_voted_for (core), 3);
    raft_fixture_drop_all (harness);

    //  A stale candidate is told the current term
    request = raft_fixture_vote_request (2, 1, 2, 50, 2);
    raft_core_receive (core, &request);
    raft_fixture_collect (harness, 1);
    reply = raft_fixture_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 2);
    assert_false (reply->granted);
    assert_int_equal (reply->term, 3);
    raft_fixture_drop_all (harness);
    raft_fixture_destroy (&harness);
}

static void
test_higher_term_steps_leader_down (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    assert_int_equal (raft_core_term (leader), 1);
    raft_message_t reply = raft_fixture_append_reply (3, 1, 5, false, 0, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_term (leader), 5);
    assert_int_equal (raft_core_voted_for (leader), 0);
    assert_int_equal (raft_core_leader (leader), 0);
    raft_ready_t ready;
    assert_true (raft_core_ready (leader, &ready));
    assert_true (ready.hard_state_changed);
    assert_true (ready.soft_state_changed);
    assert_int_equal (ready.role, RAFT_ROLE_FOLLOWER);
    raft_core_advance (leader);
    //  A stale leader's AppendEntries is refused with the current term
    raft_message_t append = raft_fixture_append (2, 1, 4, 1, 1, NULL, 0, 1);
    raft_core_receive (leader, &append);
    raft_fixture_collect (harness, 1);
    raft_message_t *answer =
        raft_fixture_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, 2);
    assert_non_null (answer);
    assert_false (answer->success);
    assert_int_equal (answer->term, 5);
    raft_fixture_destroy (&harness);
}

static void
test_election_timer (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *core = harness->cores[2];
    //  AppendEntries from the leader more often than the minimum timeout
    //  keep a follower from campaigning
    uint64_t now = 0;
    for (int beat = 0; beat < 20; beat++) {
        now += ELECTION_MIN - 1;
        raft_core_tick (core, now);
        assert_int_equal (raft_core_role (core), RAFT_ROLE_FOLLOWER);
        raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, NULL, 0, 0);
        raft_core_receive (core, &append);
        raft_fixture_collect (harness, 2);
        raft_fixture_drop_all (harness);
    }
    //  Silence: within the maximum timeout it asks for pre-votes for the
    //  next term, without moving to it or saving anything
    raft_core_tick (core, now + ELECTION_MAX);
    assert_int_equal (raft_core_role (core), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_term (core), 1);
    assert_int_equal (raft_core_leader (core), 0);
    raft_ready_t ready;
    assert_true (raft_core_ready (core, &ready));
    assert_false (ready.hard_state_changed);
    assert_int_equal (ready.message_count, 2);
    for (size_t position = 0; position < ready.message_count; position++) {
        assert_int_equal (ready.messages[position].type, RAFT_MESSAGE_PRE_VOTE);
        assert_int_equal (ready.messages[position].term, 2);
    }
    raft_core_advance (core);
    //  One pre-vote makes a majority: the real campaign starts
    raft_message_t grant = {
        .type = RAFT_MESSAGE_PRE_VOTE_REPLY, .from = 3, .to = 2, .term = 2, .granted = true};
    raft_core_receive (core, &grant);
    assert_int_equal (raft_core_role (core), RAFT_ROLE_CANDIDATE);
    assert_int_equal (raft_core_term (core), 2);
    raft_fixture_collect (harness, 2);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_REQUEST_VOTE, 1), 1);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_REQUEST_VOTE, 3), 1);
    raft_fixture_destroy (&harness);
}

static void
test_pre_vote_rules (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *core = harness->cores[2];
    raft_message_t append = raft_fixture_append (1, 2, 1, 0, 0, NULL, 0, 0);
    raft_core_tick (core, 10);
    raft_core_receive (core, &append);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);

    //  Leader heard within the minimum timeout: pre-vote refused with our
    //  term, and a real vote for a higher term ignored (no term change)
    raft_message_t request = raft_fixture_vote_request (3, 2, 2, 1, 1);
    request.type = RAFT_MESSAGE_PRE_VOTE;
    raft_core_receive (core, &request);
    raft_message_t *reply = s_answer (harness, RAFT_MESSAGE_PRE_VOTE_REPLY, 2, 3);
    assert_false (reply->granted);
    assert_int_equal (reply->term, 1);
    raft_fixture_drop_all (harness);
    request.type = RAFT_MESSAGE_REQUEST_VOTE;
    raft_core_receive (core, &request);
    assert_int_equal (raft_core_term (core), 1);
    assert_int_equal (raft_core_voted_for (core), 0);
    raft_fixture_collect (harness, 2);
    assert_int_equal (harness->queued_count, 0);

    //  The leader silent for the minimum timeout: granted, still nothing
    //  changes here (term, vote, timer)
    raft_core_tick (core, 10 + ELECTION_MIN);
    request.type = RAFT_MESSAGE_PRE_VOTE;
    raft_core_receive (core, &request);
    raft_ready_t ready;
    assert_true (raft_core_ready (core, &ready));
    assert_false (ready.hard_state_changed);
    assert_int_equal (ready.message_count, 1);
    assert_true (ready.messages[0].granted);
    assert_int_equal (ready.messages[0].term, 2);
    raft_core_advance (core);
    assert_int_equal (raft_core_term (core), 1);
    assert_int_equal (raft_core_leader (core), 1);

    //  Refused: a log behind ours, or a term not above ours
    raft_entry_t entry = {.term = 1, .index = 1};
    append = raft_fixture_append (1, 2, 1, 0, 0, &entry, 1, 0);
    raft_core_receive (core, &append);
    raft_fixture_collect (harness, 2);
    raft_fixture_drop_all (harness);
    raft_core_tick (core, 10 + 2 * ELECTION_MIN);
    request = raft_fixture_vote_request (3, 2, 2, 0, 0);
    request.type = RAFT_MESSAGE_PRE_VOTE;
    raft_core_receive (core, &request);
    assert_false (s_answer (harness, RAFT_MESSAGE_PRE_VOTE_REPLY, 2, 3)->granted);
    raft_fixture_drop_all (harness);
    request = raft_fixture_vote_request (3, 2, 1, 5, 1);
    request.type = RAFT_MESSAGE_PRE_VOTE;
    raft_core_receive (core, &request);
    assert_false (s_answer (harness, RAFT_MESSAGE_PRE_VOTE_REPLY, 2, 3)->granted);
    raft_fixture_drop_all (harness);

    //  A pre-voting node refused with a higher term catches up with it
    raft_core_tick (harness->cores[3], ELECTION_MAX);
    raft_fixture_collect (harness, 3);
    raft_fixture_drop_all (harness);
    raft_message_t refusal = {
        .type = RAFT_MESSAGE_PRE_VOTE_REPLY, .from = 1, .to = 3, .term = 4, .granted = false};
    raft_core_receive (harness->cores[3], &refusal);
    assert_int_equal (raft_core_term (harness->cores[3]), 4);
    assert_int_equal (raft_core_role (harness->cores[3]), RAFT_ROLE_FOLLOWER);
    raft_fixture_destroy (&harness);
}

//  The scenario pre-vote exists for: a follower cut off for many election
//  timeouts comes back; nobody's term moves and the leader stays.
static void
test_rejoining_node_does_not_disrupt_the_leader (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    harness->isolated = 3;
    for (int beat = 0; beat < 30; beat++) {
        raft_fixture_beat (harness, &now);
    }
    raft_fixture_propose (leader, "while away", 2);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    assert_int_equal (raft_core_term (harness->cores[3]), 1);
    assert_int_equal (raft_core_leader (harness->cores[3]), 0); //  it did time out

    harness->isolated = 0;
    for (int beat = 0; beat < 10; beat++) {
        raft_fixture_beat (harness, &now);
    }
    for (uint32_t id = 1; id <= 3; id++) {
        assert_int_equal (raft_core_term (harness->cores[id]), 1);
        assert_int_equal (raft_core_leader (harness->cores[id]), 1);
    }
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    assert_int_equal (harness->applied[3], 2);
    raft_fixture_destroy (&harness);
}

static void
test_check_quorum_steps_down_a_cut_off_leader (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    //  One follower answering is a majority with the leader: it stays
    harness->isolated = 3;
    for (int beat = 0; beat < 20; beat++)
        raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);

    //  Nobody answering: within the minimum election timeout it steps down,
    //  in its term, and says so in the ready
    raft_core_destroy (&harness->cores[2]);
    raft_core_destroy (&harness->cores[3]);
    uint64_t cut_off = now;
    while (raft_core_role (leader) == RAFT_ROLE_LEADER) {
        raft_fixture_beat (harness, &now);
        assert_true (now <= cut_off + ELECTION_MIN + HEARTBEAT_MS);
    }
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_leader (leader), 0);
    assert_int_equal (raft_core_term (leader), 1);
    uint64_t index;
    assert_int_equal (raft_core_propose (leader, (const uint8_t *)"x", 1, &index), -1);
    raft_fixture_destroy (&harness);
}

//  A driver that ticks only at raft_core_next_deadline misses nothing: a
//  follower campaigns at its deadline and not a moment before, a leader's
//  heartbeats go out at theirs, and a cut-off leader steps down as soon as
//  its last voter counts as unheard, each in a handful of wakes.
static void
test_next_deadline (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new (3, true);
    raft_core_t *follower = harness->cores[2];
    uint64_t deadline = raft_core_next_deadline (follower);
    assert_in_range (deadline, ELECTION_MIN, ELECTION_MAX);
    raft_core_tick (follower, deadline - 1);
    raft_ready_t ready;
    assert_false (raft_core_ready (follower, &ready));
    raft_core_tick (follower, deadline);
    raft_fixture_collect (harness, 2);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_PRE_VOTE, 1), 1);
    assert_true (raft_core_next_deadline (follower) > deadline);
    raft_fixture_destroy (&harness);

    //  Between its deadlines a follower's core hears the time from
    //  raft_core_set_clock: a heartbeat then puts its deadline a timeout
    //  after that time, not after its last tick
    harness = raft_fixture_new (3, true);
    follower = harness->cores[2];
    uint64_t later = 10 * ELECTION_MAX;
    raft_core_set_clock (follower, later);
    raft_message_t beat = raft_fixture_append (1, 2, 1, 0, 0, NULL, 0, 0);
    raft_core_receive (follower, &beat);
    assert_in_range (raft_core_next_deadline (follower), later + ELECTION_MIN,
                     later + ELECTION_MAX);
    raft_core_set_clock (follower, 1); //  never backwards
    raft_core_tick (follower, later + ELECTION_MIN - 1);
    assert_int_equal (raft_core_role (follower), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_leader (follower), 1);
    raft_fixture_destroy (&harness);

    harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    raft_fixture_beat (harness, &now);
    deadline = raft_core_next_deadline (leader);
    assert_in_range (deadline, now + 1, now + HEARTBEAT_MS);
    raft_core_tick (leader, deadline - 1);
    raft_fixture_collect (harness, 1);
    assert_int_equal (harness->queued_count, 0);
    raft_core_tick (leader, deadline);
    raft_fixture_collect (harness, 1);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2), 1);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 3), 1);
    raft_fixture_deliver_all (harness);
    uint64_t last_heard = deadline;

    //  Both followers gone: woken only at deadlines, it leaves at the
    //  first wake once neither counts as heard
    raft_core_destroy (&harness->cores[2]);
    raft_core_destroy (&harness->cores[3]);
    int wakes = 0;
    while (raft_core_role (leader) == RAFT_ROLE_LEADER) {
        now = raft_core_next_deadline (leader);
        raft_core_tick (leader, now);
        raft_fixture_collect (harness, 1);
        raft_fixture_drop_all (harness);
        wakes++;
    }
    assert_int_equal (now, last_heard + ELECTION_MIN);
    assert_in_range (wakes, 1, ELECTION_MIN / HEARTBEAT_MS + 1);
    assert_int_equal (raft_core_term (leader), 1);
    raft_fixture_destroy (&harness);
}

static void
test_leadership_transfer (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    assert_int_equal (raft_core_transfer_leadership (leader, 1), -1);            //  itself
    assert_int_equal (raft_core_transfer_leadership (leader, 9), -1);            //  not a voter
    assert_int_equal (raft_core_transfer_leadership (harness->cores[2], 3), -1); //  not leader

    //  Node 3 misses entries; once asked, the leader takes no more proposals,
    //  catches node 3 up first and only then tells it to campaign
    harness->isolated = 3;
    raft_fixture_propose (leader, "a", 2);
    raft_fixture_propose (leader, "b", 3);
    raft_fixture_collect (harness, 1);
    raft_fixture_deliver_all (harness);
    harness->isolated = 0;
    assert_int_equal (raft_core_transfer_leadership (leader, 3), 0);
    assert_int_equal (raft_core_transfer_target (leader), 3);
    uint64_t index;
    assert_int_equal (raft_core_propose (leader, (const uint8_t *)"c", 1, &index), -1);
    raft_fixture_collect (harness, 1);
    assert_int_equal (raft_fixture_count_queued (harness, RAFT_MESSAGE_TIMEOUT_NOW, 3), 0);

    //  Every voter heard from the leader lately, yet node 3 wins at once,
    //  in the next term, without waiting for a timeout
    raft_core_tick (leader, now + HEARTBEAT_MS);
    raft_fixture_collect (harness, 1);
    bool told = false;
    for (size_t delivered = 0; harness->queued_count > 0; delivered++) {
        raft_message_t *message = raft_fixture_take (harness);
        told |= message->type == RAFT_MESSAGE_TIMEOUT_NOW;
        if (message->type == RAFT_MESSAGE_REQUEST_VOTE)
            assert_true (message->transfer);
        raft_core_receive (harness->cores[message->to], message);
        raft_fixture_collect (harness, message->to);
        free (message);
        assert_true (delivered < 1000);
    }
    assert_true (told);
    assert_int_equal (raft_core_role (harness->cores[3]), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_term (harness->cores[3]), 2);
    //  The configuration is in the log already: the new leader's entry is a no-op
    const raft_entry_t *first = raft_core_entry (harness->cores[3], 4);
    assert_non_null (first);
    assert_int_equal (first->type, RAFT_ENTRY_NOOP);
    assert_int_equal (raft_core_config_index (harness->cores[3]), 1);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_leader (leader), 3);
    assert_int_equal (raft_core_transfer_target (leader), 0);
    raft_fixture_propose (harness->cores[3], "c", 5);
    raft_fixture_destroy (&harness);
}

static void
test_leadership_transfer_gives_up (void **state)
{
    (void)state;
    raft_fixture_t *harness = raft_fixture_new_led (3);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    //  The target never hears: after the maximum election timeout the leader
    //  leads on and takes proposals again
    harness->isolated = 2;
    assert_int_equal (raft_core_transfer_leadership (leader, 2), 0);
    while (now + HEARTBEAT_MS < ELECTION_MAX + ELECTION_MAX) {
        raft_fixture_beat (harness, &now);
        assert_int_equal (raft_core_transfer_target (leader), 2);
        uint64_t index;
        assert_int_equal (raft_core_propose (leader, (const uint8_t *)"x", 1, &index), -1);
    }
    raft_fixture_beat (harness, &now);
    assert_int_equal (raft_core_transfer_target (leader), 0);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_term (leader), 1);
    raft_fixture_propose (leader, "x", 2);
    raft_fixture_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_single_node_elects_itself_and_commits_after_persisted),
        cmocka_unit_test (test_three_nodes_elect_and_replicate),
        cmocka_unit_test (test_vote_rules),
        cmocka_unit_test (test_higher_term_steps_leader_down),
        cmocka_unit_test (test_election_timer),
        cmocka_unit_test (test_pre_vote_rules),
        cmocka_unit_test (test_rejoining_node_does_not_disrupt_the_leader),
        cmocka_unit_test (test_check_quorum_steps_down_a_cut_off_leader),
        cmocka_unit_test (test_next_deadline),
        cmocka_unit_test (test_leadership_transfer),
        cmocka_unit_test (test_leadership_transfer_gives_up),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
