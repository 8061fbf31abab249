/*  raft_snapshot — snapshots and the log prefix they replace.

    Leader: streaming its snapshot to a follower the log no longer
    serves, a chunk per answer. Follower: taking the chunks in order and
    the install. Both: restoring one at start, compacting the log.
*/
#include "raft/raft_private.h"

#include <assert.h>

//  The follower needs entries we compacted away: stream it our snapshot,
//  a chunk per answer, and the expected chunk again after a heartbeat
//  interval of silence (a chunk or an answer was lost). Meanwhile it gets
//  no AppendEntries: the chunks are its heartbeats.
void
raft_snapshot_want (raft_core_t *self, progress_t *progress)
{
    if (!progress->snapshot_pending) {
        raft_progress_probe (progress, self->log_offset + 1);
        progress->probe_sent = true;
        progress->snapshot_pending = true;
        progress->snapshot_index = 0;
        progress->snapshot_offset = 0;
        raft_outbox_request_chunk (self, progress);
    } else if (progress->heartbeat_due &&
               self->now_ms >= progress->snapshot_ms + self->heartbeat_ms)
        raft_outbox_request_chunk (self, progress);
}

//  The follower says how much of which snapshot it holds: ask for what
//  comes next (nothing once it is complete: its install is acknowledged
//  like an AppendEntries). An answer that says nothing new is a duplicate.
void
raft_snapshot_handle_reply (raft_core_t *self, const raft_message_t *reply, progress_t *progress)
{
    if (!progress->snapshot_pending || (reply->snapshot_index == progress->snapshot_index &&
                                        reply->offset == progress->snapshot_offset))
        return;
    progress->snapshot_index = reply->snapshot_index;
    progress->snapshot_offset = reply->offset;
    if (reply->done)
        progress->snapshot_ms = self->now_ms;
    else
        raft_outbox_request_chunk (self, progress);
}

//  Whether we hold all that a snapshot up to index (whose entry has term)
//  covers: it is committed here, or the log holds that entry, and so (Log
//  Matching) everything before it. Installing it would then only drop the
//  entries after it, which we may have acknowledged and a majority may
//  count on: a snapshot never replaces a log that holds its last entry.
static bool
s_covered (raft_core_t *self, uint64_t index, uint64_t term)
{
    return index <= self->commit_index || (term > 0 && raft_log_term_at (self, index) == term);
}

//  Checks what we cannot trust in an InstallSnapshot: its data is there, it
//  covers an entry, and that entry's term is not above the sender's (a
//  leader's snapshot holds only what it has). Returns 0 if well formed.
int
raft_snapshot_check_chunk (const raft_message_t *chunk)
{
    if (chunk->data_size > 0 && !chunk->data)
        return -1;
    if (chunk->snapshot_index == 0 || chunk->snapshot_term == 0 ||
        chunk->snapshot_term > chunk->term)
        return -1;
    return 0;
}

//  Whether a chunk continues the snapshot being received: same sender and
//  snapshot, not complete yet, at the offset we reached, and not growing it
//  past max_snapshot_bytes. The protocol announces no total size, so that
//  bound stands for it: a peer cannot make us store without end.
static bool
s_chunk_continues (raft_core_t *self, const raft_message_t *chunk)
{
    return !self->receiving_done && self->receiving_offset == chunk->offset &&
           chunk->offset <= self->max_snapshot_bytes &&
           chunk->data_size <= self->max_snapshot_bytes - chunk->offset;
}

//  Takes a chunk of the leader's snapshot if it is the next one expected
//  (offset 0 starts over) and drops any other; either way answers how much
//  of that sender's snapshot we hold, so it sends what we expect next.
void
raft_snapshot_handle_chunk (raft_core_t *self, const raft_message_t *chunk)
{
    if (s_covered (self, chunk->snapshot_index, chunk->snapshot_term)) {
        //  We hold all that already: the leader can go on from there
        raft_outbox_append_success (self, chunk->from, chunk->snapshot_index);
        return;
    }
    if (chunk->offset == 0) {
        self->receiving_from = chunk->from;
        self->receiving_index = chunk->snapshot_index;
        self->receiving_term = chunk->snapshot_term;
        self->receiving_offset = 0;
        self->receiving_done = false;
    }
    bool same = self->receiving_from == chunk->from &&
                self->receiving_index == chunk->snapshot_index &&
                self->receiving_term == chunk->snapshot_term;
    if (same && s_chunk_continues (self, chunk) && raft_outbox_take_chunk (self, chunk) == 0) {
        self->receiving_offset += chunk->data_size;
        if (chunk->done) {
            self->receiving_done = true;
            self->installing_from = chunk->from;
        }
    }
    raft_message_t *reply =
        raft_outbox_queue (self, RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY, chunk->from, 0);
    if (reply) {
        reply->snapshot_index = chunk->snapshot_index;
        reply->offset = same ? self->receiving_offset : 0;
        reply->done = same && self->receiving_done;
    }
}

int
raft_core_restore_snapshot (raft_core_t *self, uint64_t index, uint64_t term,
                            const raft_member_t *members, size_t count)
{
    assert (self);
    //  Restoring is part of creation: once, before any entry or event
    assert (!self->started && self->log_count == 0 && self->log_offset == 0);
    if (index == 0 || term == 0 || term > self->term ||
        raft_config_set_base (self, members, count, index))
        return -1;
    raft_log_reset (self, index, term);
    self->config_changed = false; //  restoring is part of creation
    self->self_was_voter = false;
    return 0;
}

int
raft_core_snapshot_installed (raft_core_t *self, uint64_t index, uint64_t term,
                              const raft_member_t *members, size_t count)
{
    assert (self);
    assert (!self->ready_outstanding);
    self->started = true;
    uint32_t leader = self->installing_from ? self->installing_from : self->leader_id;
    if (s_covered (self, index, term)) {
        //  Our log already holds it all: keep the log, the leader goes on
        self->installing_from = 0;
        if (leader && index > self->commit_index)
            raft_outbox_append_success (self, leader, index);
        return -1;
    }
    if (term == 0 || term > self->term || count == 0 ||
        raft_config_set_base (self, members, count, index))
        return -1;
    raft_log_reset (self, index, term);
    raft_replication_clear_ack (self);
    self->installing_from = 0;
    if (leader)
        raft_outbox_append_success (self, leader, index);
    return 0;
}

int
raft_core_compact (raft_core_t *self, uint64_t up_to_index)
{
    assert (self);
    assert (!self->ready_outstanding);
    //  A snapshot can only hold what the state machine was handed
    assert (up_to_index <= self->applied_index);
    self->started = true;
    if (up_to_index <= self->log_offset)
        return -1;
    size_t count;
    uint64_t config_index;
    raft_member_t *base = raft_config_up_to (self, up_to_index, &count, &config_index);
    if (!base)
        return -1;
    raft_log_drop_prefix (self, up_to_index);
    raft_config_replace_base (self, base, count);
    return 0;
}

uint64_t
raft_core_snapshot_index (raft_core_t *self)
{
    assert (self);
    return self->log_offset;
}
