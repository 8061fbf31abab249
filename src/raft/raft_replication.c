/*  raft_replication — the log from leader to followers.

    Leader: AppendEntries within the batch and pipelining limits, the
    answers (the match point, conflict hints, a follower that lost
    entries), the commit index. Follower: the consistency check, conflict
    truncation, and acknowledging only what is durable. Proposals.
*/
#include "raft/raft_private.h"

#include <assert.h>

void
raft_replication_clear_ack (raft_core_t *self)
{
    self->ack_leader = 0;
    self->ack_term = 0;
    self->ack_index = 0;
    self->ack_reported = 0;
}

static uint64_t
s_match_of (const progress_t *progress)
{
    return progress->match_index;
}

static void
s_leader_maybe_commit (raft_core_t *self)
{
    if (self->voter_count == 0)
        return;
    uint64_t quorum_index = raft_progress_quorum (self, self->persisted_index, s_match_of);
    //  Followers learn it from the next AppendEntries, or from the notice
    //  the driver asks for soon after (raft_core_notice_commit) or the tick
    if (quorum_index > self->commit_index && raft_log_term_at (self, quorum_index) == self->term)
        self->commit_index = quorum_index;
    if (!self->self_is_voter && self->commit_index >= self->config_index)
        raft_membership_retire (self);
}

//  Queues one AppendEntries from the follower's next_index carrying as many
//  entries as the limits allow, or none (a heartbeat, or a probe that only
//  asks whether next_index - 1 matches). Returns 0, or -1 if it could not.
static int
s_send_append (raft_core_t *self, progress_t *progress, bool with_entries)
{
    uint64_t prev_index = progress->next_index - 1;
    uint64_t last_index = with_entries ? raft_log_last_index (self) : prev_index;
    size_t count = 0;
    size_t bytes = 0;
    for (uint64_t index = progress->next_index; index <= last_index; index++) {
        size_t size = raft_log_entry (self, index)->size;
        if (count == self->max_entries_per_message ||
            (count > 0 && bytes + size > self->max_bytes_per_message))
            break;
        count++;
        bytes += size;
    }
    raft_message_t *request = raft_outbox_queue (self, RAFT_MESSAGE_APPEND_ENTRIES, progress->id,
                                                 raft_log_term_at (self, prev_index + count));
    if (!request)
        return -1;
    request->prev_log_index = prev_index;
    request->prev_log_term = raft_log_term_at (self, prev_index);
    request->entry_count = count;
    //  At least this much: it is filled in when the ready is collected
    progress->commit_sent = self->commit_index;
    if (progress->mode == PROGRESS_PROBE)
        progress->probe_sent = true;
    else if (count > 0)
        raft_progress_sent (progress, prev_index + count, self->max_inflight_messages);
    return 0;
}

//  A pipelined follower that has not been sent the commit index.
static bool
s_commit_untold (raft_core_t *self, const progress_t *progress)
{
    return progress->id != self->self_id && progress->mode == PROGRESS_REPLICATE &&
           progress->commit_sent < self->commit_index;
}

void
raft_replication_notice_commit (raft_core_t *self)
{
    for (size_t position = 0; position < self->member_count; position++)
        if (s_commit_untold (self, &self->peers[position].progress))
            self->peers[position].progress.heartbeat_due = true;
}

bool
raft_core_commit_untold (raft_core_t *self)
{
    assert (self);
    //  Once per commit index: a follower the notice could not reach (its
    //  send failed) is told at the tick, not by an alarm each millisecond
    if (self->role != RAFT_ROLE_LEADER || self->commit_noticed >= self->commit_index)
        return false;
    for (size_t position = 0; position < self->member_count; position++)
        if (s_commit_untold (self, &self->peers[position].progress))
            return true;
    return false;
}

void
raft_core_notice_commit (raft_core_t *self)
{
    assert (self);
    if (self->role != RAFT_ROLE_LEADER)
        return;
    raft_replication_notice_commit (self);
    self->commit_noticed = self->commit_index;
}

//  Sends what each follower's progress allows; called when the ready is
//  collected so that every proposal of a loop turn shares the messages.
void
raft_replication_flush (raft_core_t *self)
{
    uint64_t last_index = raft_log_last_index (self);
    for (size_t position = 0; position < self->member_count; position++) {
        progress_t *progress = &self->peers[position].progress;
        if (progress->id == self->self_id)
            continue;
        if (progress->snapshot_pending || progress->next_index <= self->log_offset) {
            raft_snapshot_want (self, progress);
            progress->heartbeat_due = false;
            continue;
        }
        bool sent = false;
        if (progress->mode == PROGRESS_PROBE) {
            //  A probe carries entries once; repeated on heartbeats it goes
            //  empty, so an unreachable follower costs no bandwidth
            if (!progress->probe_sent)
                sent = s_send_append (self, progress, true) == 0;
        } else {
            while (progress->next_index <= last_index &&
                   progress->inflight_count < self->max_inflight_messages &&
                   s_send_append (self, progress, true) == 0)
                sent = true;
        }
        //  An empty AppendEntries at next_index - 1 also detects lost
        //  messages: the follower refuses it and we fall back to probing
        if (!sent && progress->heartbeat_due)
            s_send_append (self, progress, false);
        progress->heartbeat_due = false;
    }
}

//  Whether a refusal says the follower's log now ends below the point it
//  acknowledged. A refusal delayed from before that acknowledgement says the
//  same; believing it costs a stretch of log sent again, never safety.
static bool
s_follower_lost_entries (const raft_message_t *reply, const progress_t *progress)
{
    return reply->conflict_term == 0 && reply->conflict_index >= 1 &&
           reply->conflict_index <= progress->match_index &&
           reply->reject_index >= progress->match_index &&
           reply->reject_index < progress->next_index;
}

//  A follower acknowledges entries up to reply->match_index.
static void
s_handle_success (raft_core_t *self, const raft_message_t *reply, progress_t *progress)
{
    uint64_t match_index = reply->match_index;
    if (match_index > raft_log_last_index (self))
        return; //  acknowledges what we never sent
    if (progress->mode == PROGRESS_PROBE) {
        if (match_index <= progress->match_index && match_index + 1 != progress->next_index)
            return; //  stale: answers an older probe
        //  The match point is found (or a snapshot installed): pipeline from it
        raft_progress_replicate (progress, match_index);
    } else {
        if (match_index < progress->match_index)
            return; //  stale
        if (progress->next_index <= match_index)
            progress->next_index = match_index + 1;
    }
    if (match_index > progress->match_index)
        progress->match_index = match_index;
    raft_progress_acknowledge (progress, match_index, self->max_inflight_messages);
    raft_election_maybe_send_timeout_now (self, progress);
    s_leader_maybe_commit (self);
}

void
raft_replication_handle_reply (raft_core_t *self, const raft_message_t *reply, progress_t *progress)
{
    if (reply->success) {
        s_handle_success (self, reply, progress);
        return;
    }
    uint64_t reject_index = reply->reject_index;
    if (progress->snapshot_pending)
        return; //  answers an AppendEntries from before the snapshot
    if (s_follower_lost_entries (reply, progress)) {
        //  Its disk lost entries it had acknowledged (a corrupt tail cut on
        //  restart): refill it from where its log now ends. The commit index
        //  stays: what was committed is on a majority without this copy
        progress->match_index = reply->conflict_index - 1;
        raft_progress_probe (progress, reply->conflict_index);
        return;
    }
    //  A refusal counts only if it answers what we are waiting for
    if (reject_index <= progress->match_index || reject_index >= progress->next_index)
        return;
    if (progress->mode == PROGRESS_PROBE && reject_index != progress->next_index - 1)
        return;
    uint64_t next_index = reply->conflict_index;
    if (reply->conflict_term > 0) {
        //  If we hold the follower's conflicting term, continue after our
        //  last entry of it; otherwise skip that whole term. Terms never
        //  decrease along the log: binary search the last entry not above it
        uint64_t low = self->log_offset;
        uint64_t high =
            reject_index < raft_log_last_index (self) ? reject_index : raft_log_last_index (self);
        while (low < high) {
            uint64_t middle = low + (high - low + 1) / 2;
            if (raft_log_term_at (self, middle) <= reply->conflict_term)
                low = middle;
            else
                high = middle - 1;
        }
        if (low > self->log_offset && raft_log_term_at (self, low) == reply->conflict_term)
            next_index = low + 1;
    }
    if (next_index > reject_index)
        next_index = reject_index;
    if (next_index < progress->match_index + 1)
        next_index = progress->match_index + 1;
    raft_progress_probe (progress, next_index);
}

//  Refuses an AppendEntries whose prev_log_index does not match, with a hint
//  that lets the leader skip a whole conflicting term at once.
void
raft_replication_reject (raft_core_t *self, uint32_t to, uint64_t reject_index)
{
    raft_message_t *reply = raft_outbox_queue (self, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, to, 0);
    if (!reply)
        return;
    reply->reject_index = reject_index;
    reply->read_round = self->leader_read_round;
    uint64_t last_index = raft_log_last_index (self);
    if (reject_index > last_index) {
        reply->conflict_index = last_index + 1;
        reply->conflict_term = 0;
    } else {
        //  First entry of the conflicting term (terms never decrease along
        //  the log, so a binary search finds it); committed entries never
        //  conflict, so the search stays above the commit index
        uint64_t conflict_term = raft_log_term_at (self, reject_index);
        uint64_t floor =
            self->commit_index > self->log_offset ? self->commit_index : self->log_offset;
        uint64_t low = reject_index > floor ? floor + 1 : reject_index;
        uint64_t high = reject_index;
        while (low < high) {
            uint64_t middle = low + (high - low) / 2;
            if (raft_log_term_at (self, middle) >= conflict_term)
                high = middle;
            else
                low = middle + 1;
        }
        reply->conflict_index = low;
        reply->conflict_term = conflict_term;
    }
}

//  Checks what we cannot trust in an AppendEntries. Returns 0 if well formed.
int
raft_replication_check_request (const raft_message_t *request)
{
    if (request->entry_count > 0 && !request->entries)
        return -1;
    uint64_t previous_term = request->prev_log_term;
    if (previous_term > request->term)
        return -1;
    for (size_t position = 0; position < request->entry_count; position++) {
        const raft_entry_t *entry = &request->entries[position];
        if (entry->index != request->prev_log_index + 1 + position || entry->term < previous_term ||
            entry->term > request->term || (entry->size > 0 && !entry->data))
            return -1;
        previous_term = entry->term;
    }
    return 0;
}

//  Sends the success reply owed to the leader as far as the log is durable.
static void
s_follower_flush_ack (raft_core_t *self)
{
    if (self->ack_index == 0 || self->ack_term != self->term)
        return;
    uint64_t durable =
        self->persisted_index < self->ack_index ? self->persisted_index : self->ack_index;
    if (durable > self->ack_reported) {
        raft_outbox_append_success (self, self->ack_leader, durable);
        self->ack_reported = durable;
    }
    if (self->persisted_index >= self->ack_index)
        raft_replication_clear_ack (self);
}

void
raft_replication_handle_append (raft_core_t *self, const raft_message_t *request)
{
    bool new_read_round = request->read_round > self->leader_read_round;
    if (new_read_round)
        self->leader_read_round = request->read_round;
    uint64_t prev_index = request->prev_log_index;
    const raft_entry_t *entries = request->entries;
    size_t entry_count = request->entry_count;
    if (prev_index < self->log_offset) {
        //  What our snapshot covers is committed, so it matches the
        //  leader's log: go on from its end
        size_t covered = self->log_offset - prev_index;
        if (covered > entry_count)
            covered = entry_count;
        entries += covered;
        entry_count -= covered;
        prev_index += covered;
        if (prev_index < self->log_offset) {
            raft_outbox_append_success (self, request->from, prev_index);
            return;
        }
    } else if (prev_index > raft_log_last_index (self) ||
               raft_log_term_at (self, prev_index) != request->prev_log_term) {
        raft_replication_reject (self, request->from, prev_index);
        return;
    }
    //  Skip what we already hold; only a real conflict truncates, so a stale
    //  or reordered AppendEntries never deletes newer matching entries
    size_t position = 0;
    while (position < entry_count) {
        const raft_entry_t *entry = &entries[position];
        if (entry->index > raft_log_last_index (self))
            break;
        if (raft_log_term_at (self, entry->index) != entry->term) {
            if (entry->index <= self->commit_index)
                return; //  would rewrite committed history: not a message we trust
            raft_log_truncate (self, entry->index);
            break;
        }
        position++;
    }
    for (; position < entry_count; position++) {
        const raft_entry_t *entry = &entries[position];
        if (raft_log_append (self, entry->term, entry->type, entry->data, entry->size))
            return; //  out of memory: no reply, the leader will retry
    }
    uint64_t end_index = prev_index + entry_count;
    uint64_t commit_index = request->leader_commit < end_index ? request->leader_commit : end_index;
    if (commit_index > self->commit_index)
        self->commit_index = commit_index;

    if (self->persisted_index >= end_index)
        raft_outbox_append_success (self, request->from, end_index);
    else {
        if (self->ack_leader != request->from || self->ack_term != self->term)
            raft_replication_clear_ack (self);
        self->ack_leader = request->from;
        self->ack_term = self->term;
        if (end_index > self->ack_index)
            self->ack_index = end_index;
        //  A new read round and a heartbeat are answered at once, not after
        //  the write: what is durable so far matches the leader's log (it is
        //  a prefix of what we just matched). Silence during a slow fsync
        //  would make the leader's check-quorum take us for gone
        if (new_read_round || request->entry_count == 0)
            raft_outbox_append_success (self, request->from, self->persisted_index);
    }
}

void
raft_core_persisted (raft_core_t *self, uint64_t index, uint64_t term)
{
    assert (self);
    //  Only what was handed out to persist (or restored) can be durable
    assert (index > 0 && index <= self->handed_out_index);
    self->started = true;
    if (index <= self->persisted_index || index > raft_log_last_index (self) ||
        raft_log_term_at (self, index) != term)
        return;
    self->persisted_index = index;
    if (self->role == RAFT_ROLE_LEADER)
        s_leader_maybe_commit (self);
    else
        s_follower_flush_ack (self);
}

int
raft_core_propose (raft_core_t *self, const uint8_t *data, size_t size, uint64_t *index)
{
    assert (self);
    assert (data || size == 0);
    assert (!self->ready_outstanding);
    self->started = true;
    //  Leadership can be lost at any moment: not being leader is an answer
    if (self->role != RAFT_ROLE_LEADER || self->transfer_target)
        return -1;
    if (raft_log_append (self, self->term, RAFT_ENTRY_COMMAND, data, size))
        return -1;
    if (index)
        *index = raft_log_last_index (self);
    return 0;
}

uint64_t
raft_core_commit_index (raft_core_t *self)
{
    assert (self);
    return self->commit_index;
}

uint64_t
raft_core_applied_index (raft_core_t *self)
{
    assert (self);
    return self->applied_index;
}
