/*  test_raft_core — scenario tests of the pure Raft core, driven by hand.

    A tiny harness holds a few cores, carries their messages (deep copies,
    delivered in order or dropped on request) and, when asked, says that what
    a ready handed out to persist is durable. Each test then checks what the
    core does: elections and votes, conflict truncation and hints, acks only
    after persistence, the current-term commit rule, the pipelining window,
    and that everything a ready points to stays valid until advance.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raft_core.h"

#define MAX_NODES    5
#define MAX_QUEUED   4096
#define HEARTBEAT_MS 50
#define ELECTION_MIN 150
#define ELECTION_MAX 300

//  Cores under test and the messages between them.
typedef struct {
    raft_core_t *cores[MAX_NODES + 1];  //  index = node id; NULL: absent
    uint32_t voters[MAX_NODES];         //  ids 1..count
    size_t count;                       //  nodes
    raft_message_t *queued[MAX_QUEUED]; //  sent, not yet delivered (deep copies)
    size_t queued_count;                //  how many
    uint64_t applied[MAX_NODES + 1];    //  last index applied per node
    bool persist;                       //  persist what each ready hands out at once
} harness_t;

static raft_core_options_t
s_options (harness_t *harness, uint32_t id)
{
    raft_core_options_t options = {
        .self_id = id,
        .voters = harness->voters,
        .voter_count = harness->count,
        .heartbeat_ms = HEARTBEAT_MS,
        .election_timeout_min_ms = ELECTION_MIN,
        .election_timeout_max_ms = ELECTION_MAX,
        .random_seed = 1000 + id,
    };
    return options;
}

//  A harness of count nodes; with create, every core is made with defaults.
static harness_t *
s_harness_new (size_t count, bool create)
{
    harness_t *harness = (harness_t *)calloc (1, sizeof (harness_t));
    assert_non_null (harness);
    harness->count = count;
    harness->persist = true;
    for (uint32_t id = 1; id <= count; id++)
        harness->voters[id - 1] = id;
    for (uint32_t id = 1; create && id <= count; id++) {
        raft_core_options_t options = s_options (harness, id);
        harness->cores[id] = raft_core_new (&options);
        assert_non_null (harness->cores[id]);
    }
    return harness;
}

static void
s_drop_all (harness_t *harness)
{
    for (size_t position = 0; position < harness->queued_count; position++)
        free (harness->queued[position]);
    harness->queued_count = 0;
}

static void
s_harness_destroy (harness_t **harness_p)
{
    harness_t *harness = *harness_p;
    s_drop_all (harness);
    for (uint32_t id = 1; id <= MAX_NODES; id++)
        raft_core_destroy (&harness->cores[id]);
    free (harness);
    *harness_p = NULL;
}

static raft_message_t *
s_copy_message (const raft_message_t *message)
{
    size_t data_bytes = 0;
    for (size_t position = 0; position < message->entry_count; position++)
        data_bytes += message->entries[position].size;
    raft_message_t *copy = (raft_message_t *)malloc (
        sizeof (raft_message_t) + message->entry_count * sizeof (raft_entry_t) + data_bytes);
    assert_non_null (copy);
    *copy = *message;
    copy->entries = (raft_entry_t *)(copy + 1);
    uint8_t *data = (uint8_t *)(copy->entries + message->entry_count);
    for (size_t position = 0; position < message->entry_count; position++) {
        copy->entries[position] = message->entries[position];
        if (message->entries[position].size > 0)
            memcpy (data, message->entries[position].data, message->entries[position].size);
        copy->entries[position].data = data;
        data += message->entries[position].size;
    }
    return copy;
}

//  Acts on every ready of node id: queues its messages, checks and counts
//  what it applies, and (if the harness persists) reports the writes durable
//  before advancing, as an actor that syncs in the same turn does.
static void
s_collect (harness_t *harness, uint32_t id)
{
    raft_core_t *core = harness->cores[id];
    raft_ready_t ready;
    while (raft_core_ready (core, &ready)) {
        for (size_t position = 0; position < ready.message_count; position++) {
            assert_true (harness->queued_count < MAX_QUEUED);
            harness->queued[harness->queued_count++] = s_copy_message (&ready.messages[position]);
        }
        for (size_t position = 0; position < ready.committed_count; position++) {
            assert_int_equal (ready.committed[position].index, harness->applied[id] + 1);
            harness->applied[id]++;
        }
        if (harness->persist && ready.entries_to_persist_count > 0) {
            const raft_entry_t *last =
                &ready.entries_to_persist[ready.entries_to_persist_count - 1];
            raft_core_persisted (core, last->index, last->term);
        }
        raft_core_advance (core);
    }
}

//  Takes the oldest queued message out; the caller frees it.
static raft_message_t *
s_take (harness_t *harness)
{
    if (harness->queued_count == 0)
        return NULL;
    raft_message_t *message = harness->queued[0];
    memmove (harness->queued, harness->queued + 1, --harness->queued_count * sizeof (void *));
    return message;
}

//  Delivers queued messages in order until none is left.
static void
s_deliver_all (harness_t *harness)
{
    for (size_t delivered = 0; harness->queued_count > 0; delivered++) {
        assert_true (delivered < 100000);
        raft_message_t *message = s_take (harness);
        raft_core_t *core = harness->cores[message->to];
        if (core) {
            raft_core_receive (core, message);
            s_collect (harness, message->to);
        }
        free (message);
    }
}

//  Lets node id's election timer run out, then delivers everything.
static void
s_elect (harness_t *harness, uint32_t id, uint64_t now_ms)
{
    raft_core_tick (harness->cores[id], now_ms);
    s_collect (harness, id);
    s_deliver_all (harness);
    assert_int_equal (raft_core_role (harness->cores[id]), RAFT_ROLE_LEADER);
}

//  Counts queued messages of a type to a node.
static size_t
s_count_queued (harness_t *harness, raft_message_type_t type, uint32_t to)
{
    size_t count = 0;
    for (size_t position = 0; position < harness->queued_count; position++)
        count += harness->queued[position]->type == type && harness->queued[position]->to == to;
    return count;
}

//  The first queued message of a type to a node, or NULL.
static raft_message_t *
s_find_queued (harness_t *harness, raft_message_type_t type, uint32_t to)
{
    for (size_t position = 0; position < harness->queued_count; position++)
        if (harness->queued[position]->type == type && harness->queued[position]->to == to)
            return harness->queued[position];
    return NULL;
}

static void
s_restore (raft_core_t *core, uint64_t index, uint64_t term)
{
    raft_entry_t entry = {.term = term, .index = index, .type = RAFT_ENTRY_COMMAND};
    assert_int_equal (raft_core_restore_entry (core, &entry), 0);
}

static void
s_propose (raft_core_t *core, const char *text, uint64_t expected_index)
{
    uint64_t index = 0;
    assert_int_equal (raft_core_propose (core, (const uint8_t *)text, strlen (text), &index), 0);
    assert_int_equal (index, expected_index);
}

static raft_message_t
s_append (uint32_t from, uint32_t to, uint64_t term, uint64_t prev_index, uint64_t prev_term,
          raft_entry_t *entries, size_t count, uint64_t leader_commit)
{
    raft_message_t message = {
        .type = RAFT_MESSAGE_APPEND_ENTRIES,
        .from = from,
        .to = to,
        .term = term,
        .prev_log_index = prev_index,
        .prev_log_term = prev_term,
        .leader_commit = leader_commit,
        .entries = entries,
        .entry_count = count,
    };
    return message;
}

static raft_message_t
s_vote_request (uint32_t from, uint32_t to, uint64_t term, uint64_t last_index, uint64_t last_term)
{
    raft_message_t message = {
        .type = RAFT_MESSAGE_REQUEST_VOTE,
        .from = from,
        .to = to,
        .term = term,
        .last_log_index = last_index,
        .last_log_term = last_term,
    };
    return message;
}

static raft_message_t
s_append_reply (uint32_t from, uint32_t to, uint64_t term, bool success, uint64_t match_index,
                uint64_t reject_index)
{
    raft_message_t message = {
        .type = RAFT_MESSAGE_APPEND_ENTRIES_REPLY,
        .from = from,
        .to = to,
        .term = term,
        .success = success,
        .match_index = match_index,
        .reject_index = reject_index,
    };
    return message;
}

//  --------------------------------------------------------------------------

static void
test_options_validated (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    raft_core_options_t options = s_options (harness, 1);
    options.self_id = 0;
    assert_null (raft_core_new (&options));
    options = s_options (harness, 1);
    options.election_timeout_min_ms = 500;
    options.election_timeout_max_ms = 100;
    assert_null (raft_core_new (&options));
    options = s_options (harness, 1);
    options.voter_count = 0;
    assert_null (raft_core_new (&options));
    uint32_t duplicated[] = {1, 2, 2};
    options = s_options (harness, 1);
    options.voters = duplicated;
    assert_null (raft_core_new (&options));
    s_harness_destroy (&harness);
}

static void
test_single_node_elects_itself_and_commits_after_persisted (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (1, true);
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
    assert_int_equal (ready.entries_to_persist_count, 1);
    assert_int_equal (ready.entries_to_persist[0].type, RAFT_ENTRY_NOOP);
    assert_int_equal (ready.message_count, 0);
    assert_int_equal (ready.committed_count, 0);
    raft_core_advance (core);

    s_propose (core, "hello", 2);
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
    harness_t *trio = s_harness_new (3, true);
    uint64_t index = 0;
    assert_int_equal (raft_core_propose (trio->cores[2], (const uint8_t *)"x", 1, &index), -1);
    s_harness_destroy (&trio);
    s_harness_destroy (&harness);
}

static void
test_three_nodes_elect_and_replicate (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    for (uint32_t id = 1; id <= 3; id++) {
        assert_int_equal (raft_core_term (harness->cores[id]), 1);
        assert_int_equal (raft_core_leader (harness->cores[id]), 1);
        assert_int_equal (raft_core_last_index (harness->cores[id]), 1);
    }
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 1);
    s_propose (harness->cores[1], "a", 2);
    s_propose (harness->cores[1], "b", 3);
    s_collect (harness, 1);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2), 1);
    s_deliver_all (harness);
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 3);
    assert_int_equal (harness->applied[1], 3);

    //  Heartbeats: an AppendEntries to every follower each heartbeat_ms,
    //  carrying the commit index to those that have not heard it yet
    raft_core_tick (harness->cores[1], ELECTION_MAX + HEARTBEAT_MS);
    s_collect (harness, 1);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2), 1);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 3), 1);
    s_deliver_all (harness);
    assert_int_equal (harness->applied[2], 3);
    assert_int_equal (harness->applied[3], 3);
    s_harness_destroy (&harness);
}

static void
test_vote_rules (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    raft_core_options_t options = s_options (harness, 1);
    options.term = 2;
    raft_core_t *core = harness->cores[1] = raft_core_new (&options);
    s_restore (core, 1, 1);
    s_restore (core, 2, 2);

    //  Higher term: adopted, vote cleared; a lower last term is not up to date
    raft_message_t request = s_vote_request (2, 1, 3, 9, 1);
    raft_core_receive (core, &request);
    assert_int_equal (raft_core_term (core), 3);
    assert_int_equal (raft_core_voted_for (core), 0);
    s_collect (harness, 1);
    raft_message_t *reply = s_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 2);
    assert_non_null (reply);
    assert_false (reply->granted);
    assert_int_equal (reply->term, 3);
    s_drop_all (harness);

    //  Same last term but shorter: refused
    request = s_vote_request (3, 1, 3, 1, 2);
    raft_core_receive (core, &request);
    s_collect (harness, 1);
    assert_false (s_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 3)->granted);
    s_drop_all (harness);

    //  Up to date: granted, and the vote is hard state in the ready
    request = s_vote_request (3, 1, 3, 2, 2);
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
    request = s_vote_request (2, 1, 3, 50, 3);
    raft_core_receive (core, &request);
    request = s_vote_request (3, 1, 3, 2, 2);
    raft_core_receive (core, &request);
    s_collect (harness, 1);
    assert_false (s_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 2)->granted);
    assert_true (s_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 3)->granted);
    assert_int_equal (raft_core_voted_for (core), 3);
    s_drop_all (harness);

    //  A stale candidate is told the current term
    request = s_vote_request (2, 1, 2, 50, 2);
    raft_core_receive (core, &request);
    s_collect (harness, 1);
    reply = s_find_queued (harness, RAFT_MESSAGE_REQUEST_VOTE_REPLY, 2);
    assert_false (reply->granted);
    assert_int_equal (reply->term, 3);
    s_drop_all (harness);
    s_harness_destroy (&harness);
}

static void
test_higher_term_steps_leader_down (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    assert_int_equal (raft_core_term (leader), 1);
    raft_message_t reply = s_append_reply (3, 1, 5, false, 0, 0);
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
    raft_message_t append = s_append (2, 1, 4, 1, 1, NULL, 0, 1);
    raft_core_receive (leader, &append);
    s_collect (harness, 1);
    raft_message_t *answer = s_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, 2);
    assert_non_null (answer);
    assert_false (answer->success);
    assert_int_equal (answer->term, 5);
    s_harness_destroy (&harness);
}

static void
test_follower_truncates_conflicts_and_hints (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    harness->persist = false;
    raft_core_options_t options = s_options (harness, 2);
    options.term = 2;
    raft_core_t *core = harness->cores[2] = raft_core_new (&options);
    uint64_t terms[] = {1, 1, 2, 2, 2};
    for (uint64_t index = 1; index <= 5; index++)
        s_restore (core, index, terms[index - 1]);
    assert_int_equal (raft_core_persisted_index (core), 5);

    //  Log too short: retry after our last entry, no conflicting term
    raft_message_t append = s_append (1, 2, 3, 7, 3, NULL, 0, 0);
    raft_core_receive (core, &append);
    s_collect (harness, 2);
    raft_message_t *reply = s_take (harness);
    assert_false (reply->success);
    assert_int_equal (reply->reject_index, 7);
    assert_int_equal (reply->conflict_index, 6);
    assert_int_equal (reply->conflict_term, 0);
    free (reply);

    //  Term mismatch: hint at the first entry of our conflicting term
    append = s_append (1, 2, 3, 4, 3, NULL, 0, 0);
    raft_core_receive (core, &append);
    s_collect (harness, 2);
    reply = s_take (harness);
    assert_false (reply->success);
    assert_int_equal (reply->reject_index, 4);
    assert_int_equal (reply->conflict_index, 3);
    assert_int_equal (reply->conflict_term, 2);
    free (reply);

    //  Matching prefix, then a conflict at 3: truncated from 3, replaced
    raft_entry_t entries[] = {{.term = 3, .index = 3, .data = (uint8_t *)"x", .size = 1},
                              {.term = 3, .index = 4, .data = (uint8_t *)"y", .size = 1}};
    append = s_append (1, 2, 3, 2, 1, entries, 2, 4);
    raft_core_receive (core, &append);
    raft_ready_t ready;
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.truncate_from, 3);
    assert_int_equal (ready.entries_to_persist_count, 2);
    assert_int_equal (ready.entries_to_persist[0].index, 3);
    assert_int_equal (ready.entries_to_persist[1].term, 3);
    assert_memory_equal (ready.entries_to_persist[1].data, "y", 1);
    //  Not durable: no success yet, and nothing applied beyond what is persisted
    for (size_t position = 0; position < ready.message_count; position++)
        assert_false (ready.messages[position].success);
    assert_int_equal (ready.committed_count, 2);
    harness->applied[2] = 2;
    raft_core_advance (core);
    assert_int_equal (raft_core_last_index (core), 4);
    assert_int_equal (raft_core_persisted_index (core), 2);
    assert_int_equal (raft_core_commit_index (core), 4);
    //  The old entry 5's persistence report is stale: ignored
    raft_core_persisted (core, 5, 2);
    assert_int_equal (raft_core_persisted_index (core), 2);

    raft_core_persisted (core, 4, 3);
    s_collect (harness, 2);
    reply = s_take (harness);
    assert_non_null (reply);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 4);
    free (reply);
    assert_int_equal (harness->applied[2], 4);

    //  A stale, shorter AppendEntries never deletes newer matching entries
    append = s_append (1, 2, 3, 2, 1, entries, 1, 4);
    raft_core_receive (core, &append);
    assert_true (raft_core_ready (core, &ready));
    assert_int_equal (ready.truncate_from, 0);
    assert_int_equal (ready.entries_to_persist_count, 0);
    assert_int_equal (ready.message_count, 1);
    assert_true (ready.messages[0].success);
    assert_int_equal (ready.messages[0].match_index, 3);
    raft_core_advance (core);
    assert_int_equal (raft_core_last_index (core), 4);
    s_harness_destroy (&harness);
}

static void
test_follower_acks_only_after_persisted (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    harness->persist = false;
    raft_core_t *core = harness->cores[2];
    raft_entry_t entries[3];
    for (uint64_t position = 0; position < 3; position++)
        entries[position] = (raft_entry_t){.term = 1, .index = position + 1};
    raft_message_t append = s_append (1, 2, 1, 0, 0, entries, 3, 0);
    raft_core_receive (core, &append);
    s_collect (harness, 2);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, 1), 0);
    assert_int_equal (raft_core_leader (core), 1);

    //  Part of it durable: acknowledged that far; a wrong term is ignored
    raft_core_persisted (core, 2, 7);
    s_collect (harness, 2);
    assert_int_equal (harness->queued_count, 0);
    raft_core_persisted (core, 2, 1);
    s_collect (harness, 2);
    raft_message_t *reply = s_take (harness);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 2);
    free (reply);
    raft_core_persisted (core, 3, 1);
    s_collect (harness, 2);
    reply = s_take (harness);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 3);
    free (reply);
    assert_int_equal (harness->queued_count, 0);
    s_harness_destroy (&harness);
}

//  Raft figure 8: an entry of an earlier term is not committed by counting
//  replicas; it commits only with an entry of the leader's own term.
static void
test_leader_commits_only_current_term_entries (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    harness->persist = false;
    raft_core_options_t options = s_options (harness, 1);
    options.term = 3;
    raft_core_t *leader = harness->cores[1] = raft_core_new (&options);
    s_restore (leader, 1, 1);
    s_restore (leader, 2, 2);
    raft_core_tick (leader, ELECTION_MAX);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_CANDIDATE);
    assert_int_equal (raft_core_term (leader), 4);
    raft_message_t grant = {
        .type = RAFT_MESSAGE_REQUEST_VOTE_REPLY, .from = 2, .to = 1, .term = 4, .granted = true};
    raft_core_receive (leader, &grant);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_last_index (leader), 3); //  the no-op
    s_collect (harness, 1);
    raft_message_t *probe = s_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2);
    assert_non_null (probe);
    assert_int_equal (probe->prev_log_index, 2);
    assert_int_equal (probe->prev_log_term, 2);
    s_drop_all (harness);
    raft_core_persisted (leader, 3, 4);

    //  Both followers hold entry 2 (term 2): a majority, still not committed
    raft_message_t reply = s_append_reply (2, 1, 4, true, 2, 0);
    raft_core_receive (leader, &reply);
    reply = s_append_reply (3, 1, 4, true, 2, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 0);
    s_collect (harness, 1);
    assert_int_equal (harness->applied[1], 0);

    //  The no-op of term 4 on a majority commits everything before it
    reply = s_append_reply (2, 1, 4, true, 3, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 3);
    s_collect (harness, 1);
    assert_int_equal (harness->applied[1], 3);
    s_harness_destroy (&harness);
}

//  A majority of followers commits without the leader, but the leader never
//  counts itself for an entry it has not persisted.
static void
test_leader_counts_itself_only_when_persisted (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    harness->persist = false;
    raft_core_t *leader = harness->cores[1];
    s_propose (leader, "a", 2);
    s_collect (harness, 1);
    s_drop_all (harness);
    raft_message_t reply = s_append_reply (2, 1, 1, true, 2, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 1); //  one of three holds it
    reply = s_append_reply (3, 1, 1, true, 2, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 2); //  both followers do
    s_propose (leader, "b", 3);
    s_collect (harness, 1);
    s_drop_all (harness);
    reply = s_append_reply (2, 1, 1, true, 3, 0);
    raft_core_receive (leader, &reply);
    assert_int_equal (raft_core_commit_index (leader), 2); //  the leader has not persisted 3
    raft_core_persisted (leader, 3, 1);
    assert_int_equal (raft_core_commit_index (leader), 3);
    s_harness_destroy (&harness);
}

//  Elects node 1 of three with the given AppendEntries limits; both
//  followers end up acknowledged, so the leader pipelines to them.
static harness_t *
s_pipeline_harness (size_t max_inflight, size_t max_entries, size_t max_bytes)
{
    harness_t *harness = s_harness_new (3, false);
    for (uint32_t id = 1; id <= 3; id++) {
        raft_core_options_t options = s_options (harness, id);
        options.max_inflight_messages = max_inflight;
        options.max_entries_per_message = max_entries;
        options.max_bytes_per_message = max_bytes;
        harness->cores[id] = raft_core_new (&options);
    }
    s_elect (harness, 1, ELECTION_MAX);
    return harness;
}

//  Follower 2's pending AppendEntries, in order, and how many.
static size_t
s_appends_to (harness_t *harness, uint32_t to, raft_message_t **found, size_t max)
{
    size_t count = 0;
    for (size_t position = 0; position < harness->queued_count && count < max; position++)
        if (harness->queued[position]->type == RAFT_MESSAGE_APPEND_ENTRIES &&
            harness->queued[position]->to == to)
            found[count++] = harness->queued[position];
    return count;
}

static void
test_pipelining_window_is_bounded (void **state)
{
    (void)state;
    harness_t *harness = s_pipeline_harness (4, 2, 0);
    raft_core_t *leader = harness->cores[1];
    char text[16];
    for (uint64_t number = 0; number < 20; number++) {
        snprintf (text, sizeof (text), "c%02llu", (unsigned long long)number);
        s_propose (leader, text, number + 2);
    }
    s_collect (harness, 1);
    raft_message_t *appends[64];
    size_t count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 4); //  the window, not the backlog
    for (size_t position = 0; position < count; position++) {
        assert_int_equal (appends[position]->prev_log_index, 1 + 2 * position);
        assert_int_equal (appends[position]->entry_count, 2);
        assert_int_equal (appends[position]->entries[0].index, 2 + 2 * position);
    }
    s_drop_all (harness);

    //  An ack of the third frees three slots; a duplicate or older ack nothing
    raft_message_t reply = s_append_reply (2, 1, 1, true, 7, 0);
    raft_core_receive (leader, &reply);
    reply = s_append_reply (2, 1, 1, true, 5, 0);
    raft_core_receive (leader, &reply);
    s_collect (harness, 1);
    count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 3);
    assert_int_equal (appends[0]->prev_log_index, 9);
    s_drop_all (harness);

    //  A refusal of something already acknowledged is stale: ignored
    reply = s_append_reply (2, 1, 1, false, 0, 5);
    raft_core_receive (leader, &reply);
    s_collect (harness, 1);
    assert_int_equal (s_appends_to (harness, 2, appends, 64), 0);

    //  A real refusal: back to probing, one AppendEntries at a time
    reply = s_append_reply (2, 1, 1, false, 0, 11);
    reply.conflict_index = 10;
    raft_core_receive (leader, &reply);
    s_collect (harness, 1);
    count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 1);
    assert_int_equal (appends[0]->prev_log_index, 9);
    s_drop_all (harness);
    s_propose (leader, "more", 22);
    s_collect (harness, 1);
    assert_int_equal (s_appends_to (harness, 2, appends, 64), 0);

    //  A heartbeat while the probe is unanswered goes out empty
    raft_core_tick (leader, ELECTION_MAX + HEARTBEAT_MS);
    s_collect (harness, 1);
    count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 1);
    assert_int_equal (appends[0]->entry_count, 0);
    assert_int_equal (appends[0]->prev_log_index, 9);
    s_harness_destroy (&harness);
}

static void
test_batches_respect_byte_limit (void **state)
{
    (void)state;
    harness_t *harness = s_pipeline_harness (64, 256, 10);
    raft_core_t *leader = harness->cores[1];
    for (uint64_t number = 0; number < 6; number++)
        s_propose (leader, "abcd", number + 2);
    s_collect (harness, 1);
    raft_message_t *appends[64];
    size_t count = s_appends_to (harness, 2, appends, 64);
    assert_int_equal (count, 3);
    for (size_t position = 0; position < count; position++)
        assert_int_equal (appends[position]->entry_count, 2);
    s_harness_destroy (&harness);
}

static void
test_rejection_hint_skips_conflicting_term (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    raft_core_options_t options = s_options (harness, 1);
    options.term = 5;
    raft_core_t *leader = harness->cores[1] = raft_core_new (&options);
    uint64_t terms[] = {1, 1, 2, 2, 4, 5};
    for (uint64_t index = 1; index <= 6; index++)
        s_restore (leader, index, terms[index - 1]);
    raft_core_tick (leader, ELECTION_MAX);
    raft_message_t grant = {
        .type = RAFT_MESSAGE_REQUEST_VOTE_REPLY, .from = 3, .to = 1, .term = 6, .granted = true};
    raft_core_receive (leader, &grant);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    s_collect (harness, 1);
    raft_message_t *probe = s_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2);
    assert_int_equal (probe->prev_log_index, 6);
    s_drop_all (harness);

    //  Follower 2 holds 1,1,3,3,3,3: we lack its term 3, so skip all of it
    raft_message_t reply = s_append_reply (2, 1, 6, false, 0, 6);
    reply.conflict_index = 3;
    reply.conflict_term = 3;
    raft_core_receive (leader, &reply);
    //  Follower 3 holds 1,1,2,2,2,2: we hold term 2 up to 4, continue after it
    reply = s_append_reply (3, 1, 6, false, 0, 6);
    reply.conflict_index = 3;
    reply.conflict_term = 2;
    raft_core_receive (leader, &reply);
    s_collect (harness, 1);
    assert_int_equal (s_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 2)->prev_log_index, 2);
    assert_int_equal (s_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES, 3)->prev_log_index, 4);
    s_drop_all (harness);

    //  A refusal that does not answer the probe now out is ignored
    reply = s_append_reply (2, 1, 6, false, 0, 6);
    raft_core_receive (leader, &reply);
    s_collect (harness, 1);
    assert_int_equal (harness->queued_count, 0);
    s_harness_destroy (&harness);
}

//  Entries proposed between readies may move the log array: everything a
//  ready points to must still be right, and stay valid until advance even
//  when persisted and tick come in between.
static void
test_ready_pointers_survive_proposals (void **state)
{
    (void)state;
    harness_t *harness = s_pipeline_harness (64, 256, 0);
    raft_core_t *leader = harness->cores[1];
    s_drop_all (harness);
    char text[16];
    for (uint64_t round = 0; round < 3; round++) {
        for (uint64_t number = 0; number < 700; number++) {
            snprintf (text, sizeof (text), "%llu-%llu", (unsigned long long)round,
                      (unsigned long long)number);
            s_propose (leader, text, 2 + round * 700 + number);
        }
        raft_ready_t ready;
        assert_true (raft_core_ready (leader, &ready));
        assert_int_equal (ready.entries_to_persist_count, 700);
        raft_core_persisted (leader, ready.entries_to_persist[699].index, 1);
        raft_core_tick (leader, ELECTION_MAX + round);
        size_t seen = 0;
        for (size_t position = 0; position < ready.message_count; position++) {
            const raft_message_t *message = &ready.messages[position];
            if (message->to != 2)
                continue;
            for (size_t entry = 0; entry < message->entry_count; entry++, seen++) {
                snprintf (text, sizeof (text), "%llu-%llu", (unsigned long long)round,
                          (unsigned long long)seen);
                assert_int_equal (message->entries[entry].size, strlen (text));
                assert_memory_equal (message->entries[entry].data, text, strlen (text));
            }
        }
        assert_int_equal (seen, 700);
        snprintf (text, sizeof (text), "%llu-699", (unsigned long long)round);
        assert_memory_equal (ready.entries_to_persist[699].data, text, strlen (text));
        raft_core_advance (leader);
        //  Follower 2 acknowledges it all
        raft_message_t reply = s_append_reply (2, 1, 1, true, 1 + (round + 1) * 700, 0);
        raft_core_receive (leader, &reply);
        s_collect (harness, 1);
        s_drop_all (harness);
    }
    assert_int_equal (harness->applied[1], 2101);
    s_harness_destroy (&harness);
}

static void
test_malformed_messages_are_ignored (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *core = harness->cores[2];
    raft_entry_t gap[] = {{.term = 1, .index = 1}, {.term = 1, .index = 3}};
    raft_entry_t future[] = {{.term = 9, .index = 1}};
    raft_message_t messages[] = {
        s_append (2, 2, 1, 0, 0, NULL, 0, 0),   //  from self
        s_append (7, 2, 1, 0, 0, NULL, 0, 0),   //  unknown voter
        s_append (1, 3, 1, 0, 0, NULL, 0, 0),   //  not for us
        s_append (1, 2, 0, 0, 0, NULL, 0, 0),   //  term 0
        s_append (1, 2, 1, 0, 0, NULL, 2, 0),   //  entries missing
        s_append (1, 2, 1, 0, 0, gap, 2, 0),    //  not contiguous
        s_append (1, 2, 1, 0, 0, future, 1, 0), //  entry from a later term
    };
    messages[0].type = RAFT_MESSAGE_APPEND_ENTRIES;
    raft_message_t unknown = s_append (1, 2, 1, 0, 0, NULL, 0, 0);
    unknown.type = (raft_message_type_t)77;
    for (size_t position = 0; position < sizeof (messages) / sizeof (messages[0]); position++)
        raft_core_receive (core, &messages[position]);
    raft_core_receive (core, &unknown);
    raft_ready_t ready;
    assert_false (raft_core_ready (core, &ready));
    assert_int_equal (raft_core_term (core), 0);
    assert_int_equal (raft_core_last_index (core), 0);

    //  A leader ignores an impossible acknowledgement
    s_elect (harness, 1, ELECTION_MAX);
    raft_message_t reply = s_append_reply (2, 1, 1, true, 99, 0);
    raft_core_receive (harness->cores[1], &reply);
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 1);
    s_harness_destroy (&harness);
}

static void
test_restore_rules (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    raft_core_options_t options = s_options (harness, 1);
    options.term = 2;
    raft_core_t *core = harness->cores[1] = raft_core_new (&options);
    raft_entry_t entry = {.term = 1, .index = 2};
    assert_int_equal (raft_core_restore_entry (core, &entry), -1); //  not from 1
    entry.index = 1;
    entry.term = 3;
    assert_int_equal (raft_core_restore_entry (core, &entry), -1); //  beyond the saved term
    s_restore (core, 1, 1);
    s_restore (core, 2, 2);
    assert_int_equal (raft_core_persisted_index (core), 2);
    raft_ready_t ready;
    assert_false (raft_core_ready (core, &ready)); //  restored entries are not handed out again
    raft_core_tick (core, 1);
    entry.index = 3;
    entry.term = 2;
    assert_int_equal (raft_core_restore_entry (core, &entry), -1); //  events started
    s_harness_destroy (&harness);
}

static void
test_election_timer (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *core = harness->cores[2];
    //  AppendEntries from the leader more often than the minimum timeout
    //  keep a follower from campaigning
    uint64_t now = 0;
    for (int beat = 0; beat < 20; beat++) {
        now += ELECTION_MIN - 1;
        raft_core_tick (core, now);
        assert_int_equal (raft_core_role (core), RAFT_ROLE_FOLLOWER);
        raft_message_t append = s_append (1, 2, 1, 0, 0, NULL, 0, 0);
        raft_core_receive (core, &append);
        s_collect (harness, 2);
        s_drop_all (harness);
    }
    //  Silence: a campaign starts within the maximum timeout
    raft_core_tick (core, now + ELECTION_MAX);
    assert_int_equal (raft_core_role (core), RAFT_ROLE_CANDIDATE);
    assert_int_equal (raft_core_term (core), 2);
    s_collect (harness, 2);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_REQUEST_VOTE, 1), 1);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_REQUEST_VOTE, 3), 1);
    s_harness_destroy (&harness);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_options_validated),
        cmocka_unit_test (test_single_node_elects_itself_and_commits_after_persisted),
        cmocka_unit_test (test_three_nodes_elect_and_replicate),
        cmocka_unit_test (test_vote_rules),
        cmocka_unit_test (test_higher_term_steps_leader_down),
        cmocka_unit_test (test_follower_truncates_conflicts_and_hints),
        cmocka_unit_test (test_follower_acks_only_after_persisted),
        cmocka_unit_test (test_leader_commits_only_current_term_entries),
        cmocka_unit_test (test_leader_counts_itself_only_when_persisted),
        cmocka_unit_test (test_pipelining_window_is_bounded),
        cmocka_unit_test (test_batches_respect_byte_limit),
        cmocka_unit_test (test_rejection_hint_skips_conflicting_term),
        cmocka_unit_test (test_ready_pointers_survive_proposals),
        cmocka_unit_test (test_malformed_messages_are_ignored),
        cmocka_unit_test (test_restore_rules),
        cmocka_unit_test (test_election_timer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
