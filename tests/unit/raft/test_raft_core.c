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

#include "raft/raft_core.h"

#define MAX_NODES    5
#define MAX_QUEUED   4096
#define HEARTBEAT_MS 50
#define ELECTION_MIN 150
#define ELECTION_MAX 300
#define CHUNK_SIZE   8

//  Cores under test and the messages between them.
typedef struct {
    raft_core_t *cores[MAX_NODES + 1];   //  index = node id; NULL: absent
    uint32_t voters[MAX_NODES];          //  ids 1..count
    size_t count;                        //  nodes
    raft_message_t *queued[MAX_QUEUED];  //  sent, not yet delivered (deep copies)
    size_t queued_count;                 //  how many
    uint64_t applied[MAX_NODES + 1];     //  last index applied per node
    bool persist;                        //  persist what each ready hands out at once
    uint32_t isolated;                   //  node cut off: its messages are lost, 0 for none
    const uint8_t *snapshot;             //  a leader's snapshot, as its actor holds it
    size_t snapshot_size;                //  its size
    uint64_t snapshot_index;             //  index it covers
    uint64_t snapshot_term;              //  term of that entry
    uint8_t received[MAX_NODES + 1][64]; //  snapshot bytes a follower received
    size_t received_size[MAX_NODES + 1]; //  how many
    size_t installed[MAX_NODES + 1];     //  snapshots a follower installed
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
    size_t data_bytes = message->data_size;
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
    if (message->data_size > 0) {
        memcpy (data, message->data, message->data_size);
        copy->data = data;
    }
    return copy;
}

//  The harness as a leader's actor: one chunk of the snapshot it holds.
static void
s_send_chunk (harness_t *harness, uint32_t id, const raft_snapshot_send_t *send)
{
    assert_non_null (harness->snapshot);
    uint64_t offset = send->index == harness->snapshot_index ? send->offset : 0;
    size_t size = offset >= harness->snapshot_size ? 0 : harness->snapshot_size - offset;
    if (size > CHUNK_SIZE)
        size = CHUNK_SIZE;
    raft_message_t chunk = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                            .from = id,
                            .to = send->to,
                            .term = send->term,
                            .snapshot_index = harness->snapshot_index,
                            .snapshot_term = harness->snapshot_term,
                            .offset = offset,
                            .data = harness->snapshot + offset,
                            .data_size = size,
                            .done = offset + size >= harness->snapshot_size};
    assert_true (harness->queued_count < MAX_QUEUED);
    harness->queued[harness->queued_count++] = s_copy_message (&chunk);
}

//  The harness as a follower's actor: stores a chunk; true if complete.
static bool
s_store_chunk (harness_t *harness, uint32_t id, const raft_snapshot_chunk_t *chunk)
{
    if (chunk->offset == 0)
        harness->received_size[id] = 0;
    assert_int_equal (chunk->offset, harness->received_size[id]);
    assert_true (chunk->offset + chunk->size <= sizeof (harness->received[id]));
    memcpy (harness->received[id] + chunk->offset, chunk->data, chunk->size);
    harness->received_size[id] += chunk->size;
    return chunk->done;
}

//  The voters of the harness as a configuration.
static size_t
s_voter_members (harness_t *harness, raft_member_t *members)
{
    for (size_t position = 0; position < harness->count; position++) {
        memset (&members[position], 0, sizeof (raft_member_t));
        members[position].id = harness->voters[position];
        members[position].voter = true;
    }
    return harness->count;
}

//  A complete snapshot: the follower's core decides whether it installs it.
static void
s_install (harness_t *harness, uint32_t id)
{
    raft_member_t members[MAX_NODES];
    size_t count = s_voter_members (harness, members);
    if (raft_core_snapshot_installed (harness->cores[id], harness->snapshot_index,
                                      harness->snapshot_term, members, count) == 0) {
        harness->installed[id]++;
        harness->applied[id] = harness->snapshot_index;
    }
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
        for (size_t position = 0; position < ready.snapshot_send_count; position++)
            s_send_chunk (harness, id, &ready.snapshot_sends[position]);
        bool complete = false;
        for (size_t position = 0; position < ready.snapshot_chunk_count; position++)
            complete |= s_store_chunk (harness, id, &ready.snapshot_chunks[position]);
        raft_core_advance (core);
        if (complete)
            s_install (harness, id);
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
        bool lost = message->from == harness->isolated || message->to == harness->isolated;
        if (core && !lost) {
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

//  Lets the election timer of a lone core run out; a granted pre-vote and
//  then a granted vote from voter make it leader of the next term.
static void
s_win_with (raft_core_t *core, uint32_t id, uint32_t voter, uint64_t now_ms)
{
    raft_core_tick (core, now_ms);
    uint64_t term = raft_core_term (core) + 1;
    assert_int_equal (raft_core_role (core), RAFT_ROLE_FOLLOWER); //  pre-voting only
    raft_message_t grant = {.type = RAFT_MESSAGE_PRE_VOTE_REPLY,
                            .from = voter,
                            .to = id,
                            .term = term,
                            .granted = true};
    raft_core_receive (core, &grant);
    assert_int_equal (raft_core_role (core), RAFT_ROLE_CANDIDATE);
    assert_int_equal (raft_core_term (core), term);
    grant.type = RAFT_MESSAGE_REQUEST_VOTE_REPLY;
    raft_core_receive (core, &grant);
    assert_int_equal (raft_core_role (core), RAFT_ROLE_LEADER);
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
    uint32_t duplicated[] = {1, 2, 2};
    options = s_options (harness, 1);
    options.voters = duplicated;
    assert_null (raft_core_new (&options));
    uint32_t zero[] = {1, 0, 3};
    options.voters = zero;
    assert_null (raft_core_new (&options));
    //  A full member list: the same rules, and hosts must be terminated
    raft_member_t members[2] = {{.id = 1, .voter = true}, {.id = 1}};
    options = s_options (harness, 1);
    options.members = members;
    options.member_count = 2;
    assert_null (raft_core_new (&options));
    members[1].id = 2;
    memset (members[1].host, 'x', sizeof (members[1].host));
    assert_null (raft_core_new (&options));
    members[1].host[0] = 0;
    members[1].peer_port = 70000;
    assert_null (raft_core_new (&options));
    members[1].peer_port = 5601;
    raft_core_t *core = raft_core_new (&options);
    assert_non_null (core);
    size_t count;
    const raft_member_t *held = raft_core_members (core, &count);
    assert_int_equal (count, 2);
    assert_int_equal (held[1].peer_port, 5601);
    assert_false (held[1].voter);
    assert_int_equal (raft_core_voters (core, &count)[0], 1);
    assert_int_equal (count, 1);
    raft_core_destroy (&core);
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
    //  The first leader's first entry puts the bootstrap configuration in the log
    assert_int_equal (ready.entries_to_persist_count, 1);
    assert_int_equal (ready.entries_to_persist[0].type, RAFT_ENTRY_CONFIG);
    assert_int_equal (raft_core_config_index (core), 1);
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
    s_win_with (leader, 1, 2, ELECTION_MAX);
    assert_int_equal (raft_core_term (leader), 4);
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
    s_win_with (leader, 1, 3, ELECTION_MAX);
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
        s_append (0, 2, 1, 0, 0, NULL, 0, 0),   //  from node 0
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

    //  A leader ignores an impossible acknowledgement, and one from a node
    //  that is not a member
    s_elect (harness, 1, ELECTION_MAX);
    raft_message_t reply = s_append_reply (2, 1, 1, true, 99, 0);
    raft_core_receive (harness->cores[1], &reply);
    assert_int_equal (raft_core_commit_index (harness->cores[1]), 1);
    s_propose (harness->cores[1], "a", 2);
    harness->persist = true;
    s_collect (harness, 1);
    s_drop_all (harness);
    reply = s_append_reply (7, 1, 1, true, 2, 0);
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
    s_collect (harness, 2);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_REQUEST_VOTE, 1), 1);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_REQUEST_VOTE, 3), 1);
    s_harness_destroy (&harness);
}

//  A follower whose disk lost entries it had acknowledged (its log store cut
//  a corrupt tail on restart) refuses the leader's heartbeat with a hint
//  below what the leader counted as matched: the leader must believe it and
//  refill it, without moving its own commit index back.
static void
test_follower_that_lost_acknowledged_entries_is_refilled (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    s_propose (leader, "a", 2);
    s_propose (leader, "b", 3);
    s_propose (leader, "c", 4);
    s_collect (harness, 1);
    s_deliver_all (harness);
    raft_core_tick (leader, ELECTION_MAX + HEARTBEAT_MS);
    s_collect (harness, 1);
    s_deliver_all (harness);
    assert_int_equal (raft_core_commit_index (leader), 4);
    assert_int_equal (harness->applied[2], 4);

    //  Node 2 restarts with only entries 1 and 2 left
    raft_core_destroy (&harness->cores[2]);
    raft_core_options_t options = s_options (harness, 2);
    options.term = 1;
    options.voted_for = 1;
    options.now_ms = ELECTION_MAX + HEARTBEAT_MS;
    raft_core_t *follower = harness->cores[2] = raft_core_new (&options);
    assert_non_null (follower);
    s_restore (follower, 1, 1);
    s_restore (follower, 2, 1);
    harness->applied[2] = 0;

    //  The next heartbeat finds the gap; the follower is refilled and applies
    for (uint64_t beat = 2; beat <= 4; beat++) {
        raft_core_tick (leader, ELECTION_MAX + beat * HEARTBEAT_MS);
        s_collect (harness, 1);
        s_deliver_all (harness);
        assert_int_equal (raft_core_commit_index (leader), 4);
    }
    assert_int_equal (raft_core_last_index (follower), 4);
    assert_int_equal (raft_core_persisted_index (follower), 4);
    assert_int_equal (raft_core_commit_index (follower), 4);
    assert_int_equal (harness->applied[2], 4);
    assert_memory_equal (raft_core_entry (follower, 4)->data, "c", 1);

    //  With node 3 gone, the leader and the refilled node 2 still commit
    raft_core_destroy (&harness->cores[3]);
    s_propose (leader, "d", 5);
    s_collect (harness, 1);
    s_deliver_all (harness);
    assert_int_equal (raft_core_commit_index (leader), 5);
    s_harness_destroy (&harness);
}

//  The answer node id queued to a pre-vote or vote request; asserts it is there.
static raft_message_t *
s_answer (harness_t *harness, raft_message_type_t type, uint32_t id, uint32_t to)
{
    s_collect (harness, id);
    raft_message_t *reply = s_find_queued (harness, type, to);
    assert_non_null (reply);
    return reply;
}

static void
test_pre_vote_rules (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *core = harness->cores[2];
    raft_message_t append = s_append (1, 2, 1, 0, 0, NULL, 0, 0);
    raft_core_tick (core, 10);
    raft_core_receive (core, &append);
    s_collect (harness, 2);
    s_drop_all (harness);

    //  Leader heard within the minimum timeout: pre-vote refused with our
    //  term, and a real vote for a higher term ignored (no term change)
    raft_message_t request = s_vote_request (3, 2, 2, 1, 1);
    request.type = RAFT_MESSAGE_PRE_VOTE;
    raft_core_receive (core, &request);
    raft_message_t *reply = s_answer (harness, RAFT_MESSAGE_PRE_VOTE_REPLY, 2, 3);
    assert_false (reply->granted);
    assert_int_equal (reply->term, 1);
    s_drop_all (harness);
    request.type = RAFT_MESSAGE_REQUEST_VOTE;
    raft_core_receive (core, &request);
    assert_int_equal (raft_core_term (core), 1);
    assert_int_equal (raft_core_voted_for (core), 0);
    s_collect (harness, 2);
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
    append = s_append (1, 2, 1, 0, 0, &entry, 1, 0);
    raft_core_receive (core, &append);
    s_collect (harness, 2);
    s_drop_all (harness);
    raft_core_tick (core, 10 + 2 * ELECTION_MIN);
    request = s_vote_request (3, 2, 2, 0, 0);
    request.type = RAFT_MESSAGE_PRE_VOTE;
    raft_core_receive (core, &request);
    assert_false (s_answer (harness, RAFT_MESSAGE_PRE_VOTE_REPLY, 2, 3)->granted);
    s_drop_all (harness);
    request = s_vote_request (3, 2, 1, 5, 1);
    request.type = RAFT_MESSAGE_PRE_VOTE;
    raft_core_receive (core, &request);
    assert_false (s_answer (harness, RAFT_MESSAGE_PRE_VOTE_REPLY, 2, 3)->granted);
    s_drop_all (harness);

    //  A pre-voting node refused with a higher term catches up with it
    raft_core_tick (harness->cores[3], ELECTION_MAX);
    s_collect (harness, 3);
    s_drop_all (harness);
    raft_message_t refusal = {
        .type = RAFT_MESSAGE_PRE_VOTE_REPLY, .from = 1, .to = 3, .term = 4, .granted = false};
    raft_core_receive (harness->cores[3], &refusal);
    assert_int_equal (raft_core_term (harness->cores[3]), 4);
    assert_int_equal (raft_core_role (harness->cores[3]), RAFT_ROLE_FOLLOWER);
    s_harness_destroy (&harness);
}

//  The scenario pre-vote exists for: a follower cut off for many election
//  timeouts comes back; nobody's term moves and the leader stays.
static void
test_rejoining_node_does_not_disrupt_the_leader (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    harness->isolated = 3;
    for (int beat = 0; beat < 30; beat++) {
        now += HEARTBEAT_MS;
        for (uint32_t id = 1; id <= 3; id++) {
            raft_core_tick (harness->cores[id], now);
            s_collect (harness, id);
        }
        s_deliver_all (harness);
    }
    s_propose (leader, "while away", 2);
    s_collect (harness, 1);
    s_deliver_all (harness);
    assert_int_equal (raft_core_term (harness->cores[3]), 1);
    assert_int_equal (raft_core_leader (harness->cores[3]), 0); //  it did time out

    harness->isolated = 0;
    for (int beat = 0; beat < 10; beat++) {
        now += HEARTBEAT_MS;
        for (uint32_t id = 1; id <= 3; id++) {
            raft_core_tick (harness->cores[id], now);
            s_collect (harness, id);
        }
        s_deliver_all (harness);
    }
    for (uint32_t id = 1; id <= 3; id++) {
        assert_int_equal (raft_core_term (harness->cores[id]), 1);
        assert_int_equal (raft_core_leader (harness->cores[id]), 1);
    }
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    assert_int_equal (harness->applied[3], 2);
    s_harness_destroy (&harness);
}

//  Ticks every node by one heartbeat and delivers what they send.
static void
s_beat (harness_t *harness, uint64_t *now)
{
    *now += HEARTBEAT_MS;
    for (uint32_t id = 1; id <= harness->count; id++)
        if (harness->cores[id]) {
            raft_core_tick (harness->cores[id], *now);
            s_collect (harness, id);
        }
    s_deliver_all (harness);
}

static void
test_check_quorum_steps_down_a_cut_off_leader (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    //  One follower answering is a majority with the leader: it stays
    harness->isolated = 3;
    for (int beat = 0; beat < 20; beat++)
        s_beat (harness, &now);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);

    //  Nobody answering: within the minimum election timeout it steps down,
    //  in its term, and says so in the ready
    raft_core_destroy (&harness->cores[2]);
    raft_core_destroy (&harness->cores[3]);
    uint64_t cut_off = now;
    while (raft_core_role (leader) == RAFT_ROLE_LEADER) {
        s_beat (harness, &now);
        assert_true (now <= cut_off + ELECTION_MIN + HEARTBEAT_MS);
    }
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_leader (leader), 0);
    assert_int_equal (raft_core_term (leader), 1);
    uint64_t index;
    assert_int_equal (raft_core_propose (leader, (const uint8_t *)"x", 1, &index), -1);
    s_harness_destroy (&harness);
}

static void
test_leadership_transfer (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    assert_int_equal (raft_core_transfer_leadership (leader, 1), -1);            //  itself
    assert_int_equal (raft_core_transfer_leadership (leader, 9), -1);            //  not a voter
    assert_int_equal (raft_core_transfer_leadership (harness->cores[2], 3), -1); //  not leader

    //  Node 3 misses entries; once asked, the leader takes no more proposals,
    //  catches node 3 up first and only then tells it to campaign
    harness->isolated = 3;
    s_propose (leader, "a", 2);
    s_propose (leader, "b", 3);
    s_collect (harness, 1);
    s_deliver_all (harness);
    harness->isolated = 0;
    assert_int_equal (raft_core_transfer_leadership (leader, 3), 0);
    assert_int_equal (raft_core_transfer_target (leader), 3);
    uint64_t index;
    assert_int_equal (raft_core_propose (leader, (const uint8_t *)"c", 1, &index), -1);
    s_collect (harness, 1);
    assert_int_equal (s_count_queued (harness, RAFT_MESSAGE_TIMEOUT_NOW, 3), 0);

    //  Every voter heard from the leader lately, yet node 3 wins at once,
    //  in the next term, without waiting for a timeout
    raft_core_tick (leader, now + HEARTBEAT_MS);
    s_collect (harness, 1);
    bool told = false;
    for (size_t delivered = 0; harness->queued_count > 0; delivered++) {
        raft_message_t *message = s_take (harness);
        told |= message->type == RAFT_MESSAGE_TIMEOUT_NOW;
        if (message->type == RAFT_MESSAGE_REQUEST_VOTE)
            assert_true (message->transfer);
        raft_core_receive (harness->cores[message->to], message);
        s_collect (harness, message->to);
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
    s_propose (harness->cores[3], "c", 5);
    s_harness_destroy (&harness);
}

static void
test_leadership_transfer_gives_up (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    //  The target never hears: after the maximum election timeout the leader
    //  leads on and takes proposals again
    harness->isolated = 2;
    assert_int_equal (raft_core_transfer_leadership (leader, 2), 0);
    while (now + HEARTBEAT_MS < ELECTION_MAX + ELECTION_MAX) {
        s_beat (harness, &now);
        assert_int_equal (raft_core_transfer_target (leader), 2);
        uint64_t index;
        assert_int_equal (raft_core_propose (leader, (const uint8_t *)"x", 1, &index), -1);
    }
    s_beat (harness, &now);
    assert_int_equal (raft_core_transfer_target (leader), 0);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_term (leader), 1);
    s_propose (leader, "x", 2);
    s_harness_destroy (&harness);
}

//  A member with an address, as an operator would add it.
static raft_member_t
s_member (uint32_t id, bool voter)
{
    raft_member_t member = {.id = id, .voter = voter, .peer_port = 5600 + id};
    snprintf (member.host, sizeof (member.host), "10.0.0.%u", id);
    return member;
}

//  Whether node id is a member of core's configuration, and as a voter.
static bool
s_has_member (raft_core_t *core, uint32_t id, bool voter)
{
    size_t count;
    const raft_member_t *members = raft_core_members (core, &count);
    for (size_t position = 0; position < count; position++)
        if (members[position].id == id)
            return members[position].voter == voter;
    return false;
}

//  Adds node id to the harness as a joining node: empty configuration.
static raft_core_t *
s_add_joining (harness_t *harness, uint32_t id, uint64_t now_ms)
{
    raft_core_options_t options = s_options (harness, id);
    options.voter_count = 0;
    options.now_ms = now_ms;
    harness->cores[id] = raft_core_new (&options);
    assert_non_null (harness->cores[id]);
    if (harness->count < id)
        harness->count = id;
    return harness->cores[id];
}

static void
test_config_payload (void **state)
{
    (void)state;
    raft_member_t members[] = {s_member (1, true), s_member (2, false), s_member (7, true)};
    size_t size;
    uint8_t *payload = raft_core_config_encode (members, 3, &size);
    assert_non_null (payload);
    size_t count;
    raft_member_t *decoded = raft_core_config_decode (payload, size, &count);
    assert_non_null (decoded);
    assert_int_equal (count, 3);
    assert_memory_equal (decoded, members, sizeof (members));
    free (decoded);
    free (payload);
    //  Refused: garbage, no voter, a repeated id, id 0
    assert_null (raft_core_config_decode ((const uint8_t *)"\xff\xff\xff", 3, &count));
    members[0].voter = members[2].voter = false;
    payload = raft_core_config_encode (members, 3, &size);
    assert_null (raft_core_config_decode (payload, size, &count));
    free (payload);
    members[0].voter = true;
    members[2].id = 1;
    payload = raft_core_config_encode (members, 3, &size);
    assert_null (raft_core_config_decode (payload, size, &count));
    free (payload);
    members[2].id = 0;
    payload = raft_core_config_encode (members, 3, &size);
    assert_null (raft_core_config_decode (payload, size, &count));
    free (payload);
}

//  A joining node (empty configuration) never campaigns; added as a
//  learner it receives the log without counting for commit; once caught
//  up the leader promotes it, and then it counts.
static void
test_learner_joins_and_is_promoted (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *joiner = s_add_joining (harness, 4, 0);
    for (uint64_t now = 0; now < 10 * ELECTION_MAX; now += HEARTBEAT_MS) {
        raft_core_tick (joiner, now);
        raft_ready_t ready;
        assert_false (raft_core_ready (joiner, &ready));
    }
    assert_int_equal (raft_core_term (joiner), 0);
    s_elect (harness, 1, 10 * ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = 10 * ELECTION_MAX;
    raft_member_t member = s_member (4, true);
    uint64_t index = 0;
    //  One change at a time, and not before the leader committed in its term
    harness->persist = false;
    s_propose (leader, "a", 2);
    assert_int_equal (raft_core_add_learner (leader, &member, &index), 0); //  no-op committed
    assert_int_equal (index, 3);
    assert_true (s_has_member (leader, 4, false));
    assert_int_equal (raft_core_config_index (leader), 3);
    assert_int_equal (raft_core_remove (leader, 3, &index), -1); //  previous change uncommitted
    assert_int_equal (raft_core_add_learner (leader, &member, &index), -1);
    harness->persist = true;

    //  The learner gets the log and the configuration; alone with it the
    //  leader commits nothing: learners do not count
    harness->isolated = 0;
    s_collect (harness, 1);
    raft_core_destroy (&harness->cores[2]);
    raft_core_destroy (&harness->cores[3]);
    s_beat (harness, &now);
    s_beat (harness, &now);
    assert_int_equal (raft_core_last_index (joiner), 3);
    assert_true (s_has_member (joiner, 4, false));
    assert_int_equal (raft_core_commit_index (leader), 1);

    //  Back with a majority: the change commits, the learner is promoted
    //  by the leader itself, and the promotion commits too
    raft_core_options_t options = s_options (harness, 2);
    options.voters = harness->voters;
    options.voter_count = 3;
    harness->cores[2] = raft_core_new (&options);
    harness->applied[2] = 0;
    for (int beat = 0; beat < 10; beat++)
        s_beat (harness, &now);
    assert_true (s_has_member (leader, 4, true));
    assert_true (s_has_member (joiner, 4, true));
    assert_true (raft_core_commit_index (leader) >= raft_core_config_index (leader));
    size_t voters;
    raft_core_voters (leader, &voters);
    assert_int_equal (voters, 4);
    raft_progress_t progress;
    assert_int_equal (raft_core_progress (leader, 4, &progress), 0);
    assert_int_equal (progress.match_index, raft_core_last_index (leader));
    assert_true (progress.replicating);
    assert_int_equal (raft_core_progress (leader, 1, &progress), -1);
    assert_int_equal (raft_core_progress (joiner, 1, &progress), -1);

    //  Now 3 of 4 voters are needed: the leader with node 4 alone cannot commit
    raft_core_destroy (&harness->cores[2]);
    uint64_t committed = raft_core_commit_index (leader);
    s_propose (leader, "b", raft_core_last_index (leader) + 1);
    s_beat (harness, &now);
    assert_int_equal (raft_core_commit_index (leader), committed);
    s_harness_destroy (&harness);
}

//  With manual promotion the leader leaves a caught-up learner alone.
static void
test_manual_promotion (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    for (uint32_t id = 1; id <= 3; id++) {
        raft_core_options_t options = s_options (harness, id);
        options.manual_promotion = true;
        harness->cores[id] = raft_core_new (&options);
    }
    s_add_joining (harness, 4, 0);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    raft_member_t member = s_member (4, false);
    assert_int_equal (raft_core_add_learner (leader, &member, NULL), 0);
    assert_false (raft_core_learner_caught_up (leader, 4));
    for (int beat = 0; beat < 5; beat++)
        s_beat (harness, &now);
    assert_true (s_has_member (leader, 4, false));
    assert_true (raft_core_learner_caught_up (leader, 4));
    assert_false (raft_core_learner_caught_up (leader, 2)); //  a voter
    assert_int_equal (raft_core_promote (leader, 2, NULL), -1);
    assert_int_equal (raft_core_promote (leader, 4, NULL), 0);
    s_beat (harness, &now);
    assert_true (s_has_member (harness->cores[3], 4, true));
    s_harness_destroy (&harness);
}

static void
test_change_rules (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_member_t member = s_member (4, false);
    assert_int_equal (raft_core_add_learner (follower, &member, NULL), -1); //  not leader
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    //  Two voters at once, no voter left, a repeated id, an unknown id
    raft_member_t five[] = {s_member (1, true), s_member (2, true), s_member (3, true),
                            s_member (4, true), s_member (5, true)};
    assert_int_equal (raft_core_propose_config (leader, five, 5, NULL), -1);
    raft_member_t none[] = {s_member (1, false)};
    assert_int_equal (raft_core_propose_config (leader, none, 1, NULL), -1);
    five[4].id = 4;
    assert_int_equal (raft_core_propose_config (leader, five, 5, NULL), -1);
    assert_int_equal (raft_core_remove (leader, 9, NULL), -1);
    assert_int_equal (raft_core_promote (leader, 9, NULL), -1);
    //  Demoting a voter to learner is one voter less: allowed, but not
    //  while leadership is being handed over
    raft_member_t demoted[] = {s_member (1, true), s_member (2, true), s_member (3, false)};
    assert_int_equal (raft_core_transfer_leadership (leader, 2), 0);
    assert_int_equal (raft_core_propose_config (leader, demoted, 3, NULL), -1);
    harness->isolated = 2;
    uint64_t now = ELECTION_MAX;
    while (raft_core_transfer_target (leader)) //  it gives up
        s_beat (harness, &now);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_propose_config (leader, demoted, 3, NULL), 0);
    assert_true (s_has_member (leader, 3, false));
    size_t voters;
    raft_core_voters (leader, &voters);
    assert_int_equal (voters, 2);
    s_harness_destroy (&harness);
}

//  A configuration rules as soon as it is in the log, and is undone when a
//  new leader truncates it.
static void
test_config_reverts_when_truncated (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_member_t members[] = {s_member (1, true), s_member (2, true)};
    size_t size;
    uint8_t *payload = raft_core_config_encode (members, 2, &size);
    raft_entry_t entries[] = {
        {.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
        {.term = 1, .index = 2, .type = RAFT_ENTRY_CONFIG, .data = payload, .size = size}};
    raft_message_t append = s_append (1, 2, 1, 0, 0, entries, 2, 0);
    raft_core_receive (follower, &append);
    free (payload);
    raft_ready_t ready;
    assert_true (raft_core_ready (follower, &ready));
    assert_true (ready.config_changed);
    assert_int_equal (ready.member_count, 2);
    raft_core_advance (follower);
    assert_false (s_has_member (follower, 3, true));
    assert_int_equal (raft_core_config_index (follower), 2);

    //  Node 3 leads term 2 without that entry: truncated, configuration back
    raft_entry_t other[] = {{.term = 2, .index = 2, .type = RAFT_ENTRY_NOOP}};
    append = s_append (3, 2, 2, 1, 1, other, 1, 0);
    raft_core_receive (follower, &append);
    assert_true (raft_core_ready (follower, &ready));
    assert_true (ready.config_changed);
    assert_int_equal (ready.truncate_from, 2);
    assert_int_equal (ready.member_count, 3);
    raft_core_advance (follower);
    assert_true (s_has_member (follower, 3, true));
    assert_int_equal (raft_core_config_index (follower), 0);

    //  Restored from disk, a configuration entry rules too: node 4 joined
    //  as a learner, it never campaigns
    raft_core_options_t options = s_options (harness, 4);
    options.term = 1;
    options.voter_count = 0;
    raft_core_t *restored = raft_core_new (&options);
    raft_member_t with_learner[] = {s_member (1, true), s_member (2, true), s_member (3, true),
                                    s_member (4, false)};
    payload = raft_core_config_encode (with_learner, 4, &size);
    raft_entry_t config = {
        .term = 1, .index = 1, .type = RAFT_ENTRY_CONFIG, .data = payload, .size = size};
    assert_int_equal (raft_core_restore_entry (restored, &config), 0);
    free (payload);
    assert_true (s_has_member (restored, 4, false));
    raft_core_tick (restored, 10 * ELECTION_MAX);
    assert_int_equal (raft_core_term (restored), 1);
    assert_false (raft_core_ready (restored, &ready));
    raft_core_destroy (&restored);
    s_harness_destroy (&harness);
}

//  A leader removing itself leads until the change commits, then hands
//  over to the most up-to-date voter, which takes over at once.
static void
test_leader_removes_itself (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    s_beat (harness, &now); //  every clock in step
    uint64_t index;
    assert_int_equal (raft_core_remove (leader, 1, &index), 0);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_LEADER);
    s_propose (leader, "still leading", index + 1);
    s_collect (harness, 1);
    s_deliver_all (harness);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    uint32_t next = raft_core_leader (harness->cores[2]) ? 2 : 3;
    assert_int_equal (raft_core_role (harness->cores[next]), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_term (harness->cores[next]), 2);
    assert_int_equal (raft_core_leader (harness->cores[5 - next]), next);
    //  It never campaigns again; the others carry on in term 2
    for (int beat = 0; beat < 20; beat++)
        s_beat (harness, &now);
    assert_int_equal (raft_core_role (leader), RAFT_ROLE_FOLLOWER);
    assert_int_equal (raft_core_term (leader), 1);
    assert_int_equal (raft_core_role (harness->cores[next]), RAFT_ROLE_LEADER);
    assert_int_equal (raft_core_term (harness->cores[next]), 2);
    assert_false (s_has_member (harness->cores[next], 1, true));
    s_propose (harness->cores[next], "new", raft_core_last_index (harness->cores[next]) + 1);
    s_harness_destroy (&harness);
}

//  Dissertation 4.2.2: a leader removes itself from {1,2}, but node 2
//  never got that entry, and node 1 restarts. Node 2 (still in {1,2})
//  needs node 1's vote, which node 1 refuses (its log is longer); node 1,
//  a voter until that change commits, must campaign in {2}, win, commit
//  the change, and hand over.
static void
test_removed_voter_still_needed_campaigns (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (2, true);
    s_elect (harness, 1, ELECTION_MAX);
    uint64_t now = ELECTION_MAX;
    s_beat (harness, &now);
    harness->isolated = 2;
    uint64_t index;
    assert_int_equal (raft_core_remove (harness->cores[1], 1, &index), 0);
    s_collect (harness, 1);
    s_drop_all (harness);

    //  Node 1 restarts from its log
    raft_core_t *old = harness->cores[1];
    raft_core_options_t options = s_options (harness, 1);
    options.term = raft_core_term (old);
    options.voted_for = raft_core_voted_for (old);
    options.now_ms = now;
    raft_core_t *restarted = raft_core_new (&options);
    for (uint64_t position = 1; position <= raft_core_last_index (old); position++)
        assert_int_equal (raft_core_restore_entry (restarted, raft_core_entry (old, position)), 0);
    raft_core_destroy (&harness->cores[1]);
    harness->cores[1] = restarted;
    harness->applied[1] = 0;
    assert_false (s_has_member (restarted, 1, true));

    harness->isolated = 0;
    for (int beat = 0; beat < 40 && raft_core_role (harness->cores[2]) != RAFT_ROLE_LEADER; beat++)
        s_beat (harness, &now);
    raft_core_t *survivor = harness->cores[2];
    assert_int_equal (raft_core_role (survivor), RAFT_ROLE_LEADER);
    assert_false (s_has_member (survivor, 1, true));
    assert_true (raft_core_commit_index (survivor) >= index);
    assert_int_equal (raft_core_role (restarted), RAFT_ROLE_FOLLOWER);
    //  Knowing its removal committed, node 1 never campaigns again
    uint64_t term = raft_core_term (survivor);
    for (int beat = 0; beat < 20; beat++)
        s_beat (harness, &now);
    assert_int_equal (raft_core_term (survivor), term);
    assert_int_equal (raft_core_role (survivor), RAFT_ROLE_LEADER);
    s_harness_destroy (&harness);
}

//  A follower cut off while the leader compacted its log catches up by
//  snapshot, streamed in chunks, then by entries again.
static void
test_snapshot_catches_up_a_follower (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    s_elect (harness, 1, ELECTION_MAX);
    raft_core_t *leader = harness->cores[1];
    uint64_t now = ELECTION_MAX;
    s_beat (harness, &now);
    harness->isolated = 3;
    for (uint64_t index = 2; index <= 6; index++)
        s_propose (leader, "cmd", index);
    s_collect (harness, 1);
    s_deliver_all (harness);
    s_beat (harness, &now);
    assert_int_equal (harness->applied[1], 6);
    assert_int_equal (raft_core_compact (leader, 6), 0);
    assert_int_equal (raft_core_compact (leader, 6), -1); //  already dropped
    assert_int_equal (raft_core_snapshot_index (leader), 6);
    assert_null (raft_core_entry (leader, 6));
    size_t count;
    raft_member_t *members = raft_core_config_as_of (leader, 6, &count);
    assert_non_null (members);
    assert_int_equal (count, 3);
    free (members);
    assert_null (raft_core_config_as_of (leader, 5, &count)); //  before what it holds

    const char *blob = "the state machine as of index 6";
    harness->snapshot = (const uint8_t *)blob;
    harness->snapshot_size = strlen (blob);
    harness->snapshot_index = 6;
    harness->snapshot_term = 1;
    harness->isolated = 0;
    for (int beat = 0; beat < 20 && !harness->installed[3]; beat++)
        s_beat (harness, &now);
    raft_core_t *follower = harness->cores[3];
    assert_int_equal (harness->installed[3], 1);
    assert_int_equal (harness->received_size[3], strlen (blob));
    assert_memory_equal (harness->received[3], blob, strlen (blob));
    assert_int_equal (raft_core_snapshot_index (follower), 6);
    assert_int_equal (raft_core_commit_index (follower), 6);
    assert_int_equal (raft_core_applied_index (follower), 6);

    //  Entries again from there
    s_propose (leader, "after", 7);
    s_beat (harness, &now);
    s_beat (harness, &now);
    assert_int_equal (raft_core_last_index (follower), 7);
    assert_int_equal (harness->applied[3], 7);
    raft_progress_t progress;
    assert_int_equal (raft_core_progress (leader, 3, &progress), 0);
    assert_int_equal (progress.match_index, 7);
    assert_true (progress.replicating);
    s_harness_destroy (&harness);
}

//  A follower takes chunks only in order, says where it stands, replaces
//  its whole log on install, and then takes AppendEntries from below the
//  snapshot.
static void
test_snapshot_chunks_and_install (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_entry_t stale = {.term = 1, .index = 1, .type = RAFT_ENTRY_COMMAND};
    raft_message_t append = s_append (1, 2, 1, 0, 0, &stale, 1, 0);
    raft_core_receive (follower, &append);
    s_collect (harness, 2);
    s_drop_all (harness);
    raft_message_t chunk = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                            .from = 1,
                            .to = 2,
                            .term = 1,
                            .snapshot_index = 6,
                            .snapshot_term = 1,
                            .offset = 8,
                            .data = (const uint8_t *)"89abcdef",
                            .data_size = 8};
    raft_core_receive (follower, &chunk); //  nothing started: dropped
    raft_ready_t ready;
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 0);
    assert_int_equal (ready.message_count, 1);
    assert_int_equal (ready.messages[0].type, RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY);
    assert_int_equal (ready.messages[0].offset, 0);
    raft_core_advance (follower);
    chunk.offset = 0;
    chunk.data = (const uint8_t *)"01234567";
    raft_core_receive (follower, &chunk);
    chunk.offset = 16; //  a gap: dropped
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 1);
    assert_memory_equal (ready.snapshot_chunks[0].data, "01234567", 8);
    assert_int_equal (ready.message_count, 2);
    assert_int_equal (ready.messages[1].offset, 8);
    raft_core_advance (follower);
    chunk.offset = 8;
    chunk.data = (const uint8_t *)"89abcdef";
    chunk.done = true;
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 1);
    assert_true (ready.snapshot_chunks[0].done);
    assert_true (ready.messages[0].done);
    assert_int_equal (ready.messages[0].offset, 16);
    raft_core_advance (follower);

    //  Installed: the log is replaced, the leader hears we hold index 6
    raft_member_t members[MAX_NODES];
    size_t count = s_voter_members (harness, members);
    assert_int_equal (raft_core_snapshot_installed (follower, 6, 2, members, count), -1); //  term
    assert_int_equal (raft_core_snapshot_installed (follower, 6, 1, members, count), 0);
    harness->applied[2] = 6;
    assert_int_equal (raft_core_last_index (follower), 6);
    assert_null (raft_core_entry (follower, 1));
    assert_int_equal (raft_core_commit_index (follower), 6);
    assert_int_equal (raft_core_persisted_index (follower), 6);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.committed_count, 0);
    assert_int_equal (ready.message_count, 1);
    assert_true (ready.messages[0].success);
    assert_int_equal (ready.messages[0].match_index, 6);
    raft_core_advance (follower);
    assert_int_equal (raft_core_snapshot_installed (follower, 6, 1, members, count), -1); //  stale
    //  A chunk of what we hold already is answered as a match
    chunk.offset = 0;
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 0);
    assert_true (ready.messages[0].success);
    raft_core_advance (follower);

    //  AppendEntries from below the snapshot: what it covers matches
    raft_entry_t entries[5];
    for (uint64_t position = 0; position < 5; position++)
        entries[position] = (raft_entry_t){.term = 1, .index = 4 + position};
    append = s_append (1, 2, 1, 3, 1, entries, 5, 8);
    raft_core_receive (follower, &append);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.entries_to_persist_count, 2);
    assert_int_equal (ready.entries_to_persist[0].index, 7);
    raft_core_persisted (follower, 8, 1);
    raft_core_advance (follower);
    s_collect (harness, 2);
    raft_message_t *reply = s_find_queued (harness, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, 1);
    assert_non_null (reply);
    assert_true (reply->success);
    assert_int_equal (reply->match_index, 8);
    s_harness_destroy (&harness);
}

//  A new leader streams the same snapshot: the follower reports nothing of
//  the old leader's partial stream to it, so it starts from offset 0.
static void
test_snapshot_from_a_new_leader (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, true);
    raft_core_t *follower = harness->cores[2];
    raft_message_t chunk = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                            .from = 1,
                            .to = 2,
                            .term = 1,
                            .snapshot_index = 6,
                            .snapshot_term = 1,
                            .data = (const uint8_t *)"01234567",
                            .data_size = 8};
    raft_core_receive (follower, &chunk);
    s_collect (harness, 2);
    s_drop_all (harness);
    chunk.from = 3;
    chunk.term = 2;
    chunk.offset = 8;
    raft_core_receive (follower, &chunk);
    raft_ready_t ready;
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 0);
    assert_int_equal (ready.messages[0].to, 3);
    assert_int_equal (ready.messages[0].offset, 0);
    raft_core_advance (follower);
    chunk.offset = 0;
    raft_core_receive (follower, &chunk);
    assert_true (raft_core_ready (follower, &ready));
    assert_int_equal (ready.snapshot_chunk_count, 1);
    assert_int_equal (ready.snapshot_chunks[0].from, 3);
    assert_int_equal (ready.messages[0].offset, 8);
    raft_core_advance (follower);
    s_harness_destroy (&harness);
}

static void
test_restore_snapshot_rules (void **state)
{
    (void)state;
    harness_t *harness = s_harness_new (3, false);
    raft_core_options_t options = s_options (harness, 1);
    options.term = 2;
    raft_core_t *core = harness->cores[1] = raft_core_new (&options);
    raft_member_t members[MAX_NODES];
    size_t count = s_voter_members (harness, members);
    members[2].voter = false;
    assert_int_equal (raft_core_restore_snapshot (core, 10, 3, members, count), -1); //  term
    assert_int_equal (raft_core_restore_snapshot (core, 10, 2, members, count), 0);
    assert_true (s_has_member (core, 3, false));
    assert_int_equal (raft_core_config_index (core), 10);
    assert_int_equal (raft_core_commit_index (core), 10);
    assert_int_equal (raft_core_applied_index (core), 10);
    raft_entry_t entry = {.term = 2, .index = 12};
    assert_int_equal (raft_core_restore_entry (core, &entry), -1); //  a gap
    entry.index = 11;
    assert_int_equal (raft_core_restore_entry (core, &entry), 0);
    assert_int_equal (raft_core_last_index (core), 11);
    raft_ready_t ready;
    assert_false (raft_core_ready (core, &ready));
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
        cmocka_unit_test (test_follower_that_lost_acknowledged_entries_is_refilled),
        cmocka_unit_test (test_pre_vote_rules),
        cmocka_unit_test (test_rejoining_node_does_not_disrupt_the_leader),
        cmocka_unit_test (test_check_quorum_steps_down_a_cut_off_leader),
        cmocka_unit_test (test_leadership_transfer),
        cmocka_unit_test (test_leadership_transfer_gives_up),
        cmocka_unit_test (test_config_payload),
        cmocka_unit_test (test_learner_joins_and_is_promoted),
        cmocka_unit_test (test_manual_promotion),
        cmocka_unit_test (test_change_rules),
        cmocka_unit_test (test_config_reverts_when_truncated),
        cmocka_unit_test (test_leader_removes_itself),
        cmocka_unit_test (test_removed_voter_still_needed_campaigns),
        cmocka_unit_test (test_snapshot_catches_up_a_follower),
        cmocka_unit_test (test_snapshot_chunks_and_install),
        cmocka_unit_test (test_snapshot_from_a_new_leader),
        cmocka_unit_test (test_restore_snapshot_rules),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
