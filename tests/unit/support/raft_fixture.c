/*  raft_fixture — a hand-driven cluster of Raft cores; see raft_fixture.h.  */
#include "raft_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

raft_core_options_t
raft_fixture_options (raft_fixture_t *harness, uint32_t id)
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
raft_fixture_t *
raft_fixture_new (size_t count, bool create)
{
    raft_fixture_t *harness = (raft_fixture_t *)calloc (1, sizeof (raft_fixture_t));
    assert_non_null (harness);
    harness->count = count;
    harness->persist = true;
    for (uint32_t id = 1; id <= count; id++)
        harness->voters[id - 1] = id;
    for (uint32_t id = 1; create && id <= count; id++) {
        raft_core_options_t options = raft_fixture_options (harness, id);
        harness->cores[id] = raft_core_new (&options);
        assert_non_null (harness->cores[id]);
    }
    return harness;
}

//  A fixture of count nodes whose node 1 won the first election.
raft_fixture_t *
raft_fixture_new_led (size_t count)
{
    raft_fixture_t *harness = raft_fixture_new (count, true);
    raft_fixture_elect (harness, 1, ELECTION_MAX);
    return harness;
}

//  Creates node id's core with default options and a persisted term.
raft_core_t *
raft_fixture_start_core (raft_fixture_t *harness, uint32_t id, uint64_t term)
{
    raft_core_options_t options = raft_fixture_options (harness, id);
    options.term = term;
    harness->cores[id] = raft_core_new (&options);
    assert_non_null (harness->cores[id]);
    return harness->cores[id];
}

void
raft_fixture_drop_all (raft_fixture_t *harness)
{
    for (size_t position = 0; position < harness->queued_count; position++)
        free (harness->queued[position]);
    harness->queued_count = 0;
}

void
raft_fixture_destroy (raft_fixture_t **harness_p)
{
    raft_fixture_t *harness = *harness_p;
    raft_fixture_drop_all (harness);
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
s_send_chunk (raft_fixture_t *harness, uint32_t id, const raft_snapshot_send_t *send)
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
s_store_chunk (raft_fixture_t *harness, uint32_t id, const raft_snapshot_chunk_t *chunk)
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
size_t
raft_fixture_voter_members (raft_fixture_t *harness, raft_member_t *members)
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
s_install (raft_fixture_t *harness, uint32_t id)
{
    raft_member_t members[MAX_NODES];
    size_t count = raft_fixture_voter_members (harness, members);
    if (raft_core_snapshot_installed (harness->cores[id], harness->snapshot_index,
                                      harness->snapshot_term, members, count) == 0) {
        harness->installed[id]++;
        harness->applied[id] = harness->snapshot_index;
    }
}

//  Acts on every ready of node id: queues its messages, checks and counts
//  what it applies, and (if the harness persists) reports the writes durable
//  before advancing, as an actor that syncs in the same turn does.
void
raft_fixture_collect (raft_fixture_t *harness, uint32_t id)
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
        for (size_t position = 0; position < ready.read_count; position++) {
            assert_true (harness->read_count[id] < MAX_READS);
            harness->reads[id][harness->read_count[id]++] = ready.reads[position];
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
raft_message_t *
raft_fixture_take (raft_fixture_t *harness)
{
    if (harness->queued_count == 0)
        return NULL;
    raft_message_t *message = harness->queued[0];
    memmove (harness->queued, harness->queued + 1, --harness->queued_count * sizeof (void *));
    return message;
}

//  Delivers queued messages in order until none is left.
void
raft_fixture_deliver_all (raft_fixture_t *harness)
{
    for (size_t delivered = 0; harness->queued_count > 0; delivered++) {
        assert_true (delivered < 100000);
        raft_message_t *message = raft_fixture_take (harness);
        raft_core_t *core = harness->cores[message->to];
        bool lost = message->from == harness->isolated || message->to == harness->isolated;
        if (core && !lost) {
            raft_core_receive (core, message);
            raft_fixture_collect (harness, message->to);
        }
        free (message);
    }
}

//  Lets node id's election timer run out, then delivers everything.
void
raft_fixture_elect (raft_fixture_t *harness, uint32_t id, uint64_t now_ms)
{
    raft_core_tick (harness->cores[id], now_ms);
    raft_fixture_collect (harness, id);
    raft_fixture_deliver_all (harness);
    assert_int_equal (raft_core_role (harness->cores[id]), RAFT_ROLE_LEADER);
}

//  Lets the election timer of a lone core run out; a granted pre-vote and
//  then a granted vote from voter make it leader of the next term.
void
raft_fixture_win_with (raft_core_t *core, uint32_t id, uint32_t voter, uint64_t now_ms)
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
size_t
raft_fixture_count_queued (raft_fixture_t *harness, raft_message_type_t type, uint32_t to)
{
    size_t count = 0;
    for (size_t position = 0; position < harness->queued_count; position++)
        count += harness->queued[position]->type == type && harness->queued[position]->to == to;
    return count;
}

//  The first queued message of a type to a node, or NULL.
raft_message_t *
raft_fixture_find_queued (raft_fixture_t *harness, raft_message_type_t type, uint32_t to)
{
    for (size_t position = 0; position < harness->queued_count; position++)
        if (harness->queued[position]->type == type && harness->queued[position]->to == to)
            return harness->queued[position];
    return NULL;
}

void
raft_fixture_restore (raft_core_t *core, uint64_t index, uint64_t term)
{
    raft_entry_t entry = {.term = term, .index = index, .type = RAFT_ENTRY_COMMAND};
    assert_int_equal (raft_core_restore_entry (core, &entry), 0);
}

//  Restores entries 1..count of terms[0..count) into a new core.
void
raft_fixture_restore_terms (raft_core_t *core, const uint64_t *terms, size_t count)
{
    for (uint64_t index = 1; index <= count; index++)
        raft_fixture_restore (core, index, terms[index - 1]);
}

void
raft_fixture_propose (raft_core_t *core, const char *text, uint64_t expected_index)
{
    uint64_t index = 0;
    assert_int_equal (raft_core_propose (core, (const uint8_t *)text, strlen (text), &index), 0);
    assert_int_equal (index, expected_index);
}

//  A message of type from one node to another in term; other fields zero.
static raft_message_t
s_message (raft_message_type_t type, uint32_t from, uint32_t to, uint64_t term)
{
    raft_message_t message = {.type = type, .from = from, .to = to, .term = term};
    return message;
}

raft_message_t
raft_fixture_append (uint32_t from, uint32_t to, uint64_t term, uint64_t prev_index,
                     uint64_t prev_term, raft_entry_t *entries, size_t count,
                     uint64_t leader_commit)
{
    raft_message_t message = s_message (RAFT_MESSAGE_APPEND_ENTRIES, from, to, term);
    message.prev_log_index = prev_index;
    message.prev_log_term = prev_term;
    message.leader_commit = leader_commit;
    message.entries = entries;
    message.entry_count = count;
    return message;
}

raft_message_t
raft_fixture_vote_request (uint32_t from, uint32_t to, uint64_t term, uint64_t last_index,
                           uint64_t last_term)
{
    raft_message_t message = s_message (RAFT_MESSAGE_REQUEST_VOTE, from, to, term);
    message.last_log_index = last_index;
    message.last_log_term = last_term;
    return message;
}

raft_message_t
raft_fixture_chunk (uint64_t offset, const char *data)
{
    raft_message_t message = s_message (RAFT_MESSAGE_INSTALL_SNAPSHOT, 1, 2, 1);
    message.snapshot_index = 6;
    message.snapshot_term = 1;
    message.offset = offset;
    message.data = (const uint8_t *)data;
    message.data_size = strlen (data);
    return message;
}

raft_message_t
raft_fixture_append_reply (uint32_t from, uint32_t to, uint64_t term, bool success,
                           uint64_t match_index, uint64_t reject_index)
{
    raft_message_t message = s_message (RAFT_MESSAGE_APPEND_ENTRIES_REPLY, from, to, term);
    message.success = success;
    message.match_index = match_index;
    message.reject_index = reject_index;
    return message;
}

//  Ticks every node by one heartbeat and delivers what they send.
void
raft_fixture_beat (raft_fixture_t *harness, uint64_t *now)
{
    *now += HEARTBEAT_MS;
    for (uint32_t id = 1; id <= harness->count; id++)
        if (harness->cores[id]) {
            raft_core_tick (harness->cores[id], *now);
            raft_fixture_collect (harness, id);
        }
    raft_fixture_deliver_all (harness);
}

//  A member with an address, as an operator would add it.
raft_member_t
raft_fixture_member (uint32_t id, bool voter)
{
    raft_member_t member = {.id = id, .voter = voter, .peer_port = 5600 + id};
    snprintf (member.host, sizeof (member.host), "10.0.0.%u", id);
    return member;
}

//  Whether node id is a member of core's configuration, and as a voter.
bool
raft_fixture_has_member (raft_core_t *core, uint32_t id, bool voter)
{
    size_t count;
    const raft_member_t *members = raft_core_members (core, &count);
    for (size_t position = 0; position < count; position++)
        if (members[position].id == id)
            return members[position].voter == voter;
    return false;
}

//  Adds node id to the harness as a joining node: empty configuration.
raft_core_t *
raft_fixture_add_joining (raft_fixture_t *harness, uint32_t id, uint64_t now_ms)
{
    raft_core_options_t options = raft_fixture_options (harness, id);
    options.voter_count = 0;
    options.now_ms = now_ms;
    harness->cores[id] = raft_core_new (&options);
    assert_non_null (harness->cores[id]);
    if (harness->count < id)
        harness->count = id;
    return harness->cores[id];
}
