/*  raft_outbox — what the core queues for the shell, handed out by the ready.

    Messages are queued as events happen but the ready is collected later,
    and proposals in between may move the log array: a queued AppendEntries
    therefore holds an index range, and its entry pointers are materialized
    (and the range revalidated) only in raft_core_ready. Snapshot chunks to
    send and chunks received wait here too. Between raft_core_ready and
    raft_core_advance the caller feeds no event except raft_core_persisted
    and raft_core_tick, which never move the log nor change the
    configuration.
*/
#include "raft/raft_private.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

raft_message_t *
raft_outbox_queue (raft_core_t *self, raft_message_type_t type, uint32_t to,
                   uint64_t last_entry_term)
{
    if (self->outbox_count == self->outbox_capacity) {
        size_t capacity = self->outbox_capacity ? self->outbox_capacity * 2 : 16;
        outgoing_t *outbox = (outgoing_t *)realloc (self->outbox, capacity * sizeof (outgoing_t));
        if (!outbox)
            return NULL; //  best effort: a lost message is one the network could lose too
        self->outbox = outbox;
        self->outbox_capacity = capacity;
    }
    outgoing_t *outgoing = &self->outbox[self->outbox_count++];
    memset (outgoing, 0, sizeof (outgoing_t));
    outgoing->last_entry_term = last_entry_term;
    outgoing->queued_term = self->term;
    outgoing->message.type = type;
    outgoing->message.from = self->self_id;
    outgoing->message.to = to;
    outgoing->message.term = self->term;
    return &outgoing->message;
}

void
raft_outbox_vote_reply (raft_core_t *self, raft_message_type_t type, uint32_t to, uint64_t term,
                        bool granted)
{
    raft_message_t *reply = raft_outbox_queue (self, type, to, 0);
    if (reply) {
        reply->term = term;
        reply->granted = granted;
    }
}

void
raft_outbox_append_success (raft_core_t *self, uint32_t to, uint64_t match_index)
{
    raft_message_t *reply = raft_outbox_queue (self, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, to, 0);
    if (reply) {
        reply->success = true;
        reply->match_index = match_index;
        reply->read_round = self->leader_read_round;
    }
}

//  Asks the caller for the chunk the follower expects next.
void
raft_outbox_request_chunk (raft_core_t *self, progress_t *progress)
{
    if (self->send_count == self->send_capacity) {
        size_t capacity = self->send_capacity ? self->send_capacity * 2 : 4;
        raft_snapshot_send_t *sends =
            (raft_snapshot_send_t *)realloc (self->sends, capacity * sizeof (raft_snapshot_send_t));
        if (!sends)
            return; //  asked again after a silence
        self->sends = sends;
        self->send_capacity = capacity;
    }
    raft_snapshot_send_t *send = &self->sends[self->send_count++];
    send->to = progress->id;
    send->term = self->term;
    send->index = progress->snapshot_index;
    send->offset = progress->snapshot_offset;
    progress->snapshot_ms = self->now_ms;
}

//  Queues a copy of a chunk for the ready. Returns 0 or -1.
int
raft_outbox_take_chunk (raft_core_t *self, const raft_message_t *chunk)
{
    if (self->chunk_count == self->chunk_capacity) {
        size_t capacity = self->chunk_capacity ? self->chunk_capacity * 2 : 8;
        raft_snapshot_chunk_t *chunks = (raft_snapshot_chunk_t *)realloc (
            self->chunks, capacity * sizeof (raft_snapshot_chunk_t));
        if (!chunks)
            return -1;
        self->chunks = chunks;
        self->chunk_capacity = capacity;
    }
    uint8_t *copy = NULL;
    if (chunk->data_size > 0) {
        copy = (uint8_t *)malloc (chunk->data_size);
        if (!copy)
            return -1;
        memcpy (copy, chunk->data, chunk->data_size);
    }
    raft_snapshot_chunk_t *taken = &self->chunks[self->chunk_count++];
    taken->from = chunk->from;
    taken->index = chunk->snapshot_index;
    taken->term = chunk->snapshot_term;
    taken->offset = chunk->offset;
    taken->data = copy;
    taken->size = chunk->data_size;
    taken->done = chunk->done;
    return 0;
}

void
raft_outbox_free_chunks (raft_core_t *self)
{
    for (size_t position = 0; position < self->chunk_count; position++)
        free ((uint8_t *)self->chunks[position].data);
    self->chunk_count = 0;
}

void
raft_outbox_release (raft_core_t *self)
{
    raft_outbox_free_chunks (self);
    free (self->chunks);
    free (self->sends);
    free (self->reads_pending);
    free (self->reads_settled);
    free (self->outbox);
    free (self->sending);
}

//  Reads a "changed since the last ready" flag and clears it.
static bool
s_take_flag (bool *flag)
{
    bool was_set = *flag;
    *flag = false;
    return was_set;
}

//  The state the shell saves or shows, and what changed in it. Returns
//  true if anything changed.
static bool
s_ready_state (raft_core_t *self, raft_ready_t *ready)
{
    ready->term = self->term;
    ready->voted_for = self->voted_for;
    ready->role = self->role;
    ready->leader_id = self->leader_id;
    ready->members = self->members;
    ready->member_count = self->member_count;
    ready->hard_state_changed = s_take_flag (&self->hard_state_changed);
    ready->soft_state_changed = s_take_flag (&self->soft_state_changed);
    ready->config_changed = s_take_flag (&self->config_changed);
    return ready->hard_state_changed || ready->soft_state_changed || ready->config_changed;
}

//  The snapshot chunks to send and those received. Returns true if any.
static bool
s_ready_snapshots (raft_core_t *self, raft_ready_t *ready)
{
    if (self->send_count > 0) {
        ready->snapshot_sends = self->sends;
        ready->snapshot_send_count = self->send_count;
    }
    if (self->chunk_count > 0) {
        ready->snapshot_chunks = self->chunks;
        ready->snapshot_chunk_count = self->chunk_count;
    }
    return self->send_count > 0 || self->chunk_count > 0;
}

//  The log to truncate and the entries to write. Returns true if any.
static bool
s_ready_log (raft_core_t *self, raft_ready_t *ready)
{
    bool work = false;
    if (self->truncated_from) {
        ready->truncate_from = self->truncated_from;
        self->truncated_from = 0;
        work = true;
    }
    uint64_t last_index = raft_log_last_index (self);
    if (self->unsaved_from <= last_index) {
        ready->entries_to_persist = raft_log_entry (self, self->unsaved_from);
        ready->entries_to_persist_count = last_index - self->unsaved_from + 1;
        self->unsaved_from = last_index + 1;
        if (self->handed_out_index < last_index)
            self->handed_out_index = last_index;
        work = true;
    }
    return work;
}

//  Whether a queued message still stands, and if it is an AppendEntries,
//  points it at its entries: one whose range the log no longer holds as it
//  was (we stepped down and were truncated) is dropped, and so is anything
//  queued in an earlier term.
static bool
s_materialize (raft_core_t *self, outgoing_t *outgoing)
{
    raft_message_t *message = &outgoing->message;
    if (outgoing->queued_term != self->term)
        return false;
    if (message->type != RAFT_MESSAGE_APPEND_ENTRIES)
        return true;
    uint64_t end_index = message->prev_log_index + message->entry_count;
    if (self->role != RAFT_ROLE_LEADER || message->prev_log_index < self->log_offset ||
        end_index > raft_log_last_index (self) ||
        raft_log_term_at (self, message->prev_log_index) != message->prev_log_term ||
        raft_log_term_at (self, end_index) != outgoing->last_entry_term)
        return false;
    message->entries =
        message->entry_count ? raft_log_entry (self, message->prev_log_index + 1) : NULL;
    message->leader_commit = self->commit_index;
    message->read_round = self->read_round;
    return true;
}

//  The queued messages that still stand. Returns true if any.
static bool
s_ready_messages (raft_core_t *self, raft_ready_t *ready)
{
    if (self->sending_capacity < self->outbox_count) {
        raft_message_t *sending =
            (raft_message_t *)realloc (self->sending, self->outbox_count * sizeof (raft_message_t));
        if (sending) {
            self->sending = sending;
            self->sending_capacity = self->outbox_count;
        }
    }
    size_t message_count = 0;
    for (size_t position = 0;
         position < self->outbox_count && message_count < self->sending_capacity; position++)
        if (s_materialize (self, &self->outbox[position]))
            self->sending[message_count++] = self->outbox[position].message;
    self->outbox_count = 0;
    if (message_count > 0) {
        ready->messages = self->sending;
        ready->message_count = message_count;
    }
    return message_count > 0;
}

//  The entries to apply: committed and, here, durable. Returns true if any.
static bool
s_ready_committed (raft_core_t *self, raft_ready_t *ready)
{
    uint64_t apply_to =
        self->commit_index < self->persisted_index ? self->commit_index : self->persisted_index;
    if (apply_to <= self->applied_index)
        return false;
    ready->committed = raft_log_entry (self, self->applied_index + 1);
    ready->committed_count = apply_to - self->applied_index;
    self->applied_index = apply_to;
    return true;
}

//  The reads settled. Returns true if any.
static bool
s_ready_reads (raft_core_t *self, raft_ready_t *ready)
{
    raft_read_handed_out (self);
    if (self->settled_count == 0)
        return false;
    ready->reads = self->reads_settled;
    ready->read_count = self->settled_count;
    return true;
}

bool
raft_core_ready (raft_core_t *self, raft_ready_t *ready)
{
    assert (self);
    assert (ready);
    if (self->ready_outstanding)
        raft_core_advance (self);
    memset (ready, 0, sizeof (raft_ready_t));
    if (self->role == RAFT_ROLE_LEADER) {
        raft_membership_promote_caught_up (self);
        raft_read_start_round (self);
        raft_replication_flush (self);
        raft_read_settle (self);
    }
    //  Every part is collected, whatever the others hold
    bool work = s_ready_state (self, ready);
    work |= s_ready_snapshots (self, ready);
    work |= s_ready_log (self, ready);
    work |= s_ready_messages (self, ready);
    work |= s_ready_committed (self, ready);
    work |= s_ready_reads (self, ready);
    self->ready_outstanding = work;
    return work;
}

void
raft_core_advance (raft_core_t *self)
{
    assert (self);
    //  The ready's arrays stay allocated for reuse; only their meaning ends
    if (self->ready_outstanding) {
        raft_outbox_free_chunks (self);
        self->send_count = 0;
        raft_read_release (self);
    }
    self->ready_outstanding = false;
}
