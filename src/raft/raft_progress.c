/*  raft_progress — the leader's view of one follower's replication.

    Next and match index, probing or pipelining, and the window of
    AppendEntries in flight (a ring of the last index each one carries).
*/
#include "raft/raft_private.h"

#include <assert.h>

static void
s_clear_inflight (progress_t *progress)
{
    progress->inflight_head = 0;
    progress->inflight_count = 0;
}

//  Feeds the follower in mode from next_index on, nothing in flight.
static void
s_restart (progress_t *progress, progress_mode_t mode, uint64_t next_index)
{
    progress->mode = mode;
    progress->next_index = next_index;
    progress->probe_sent = false;
    s_clear_inflight (progress);
}

//  The match point is unknown: one AppendEntries at a time from next_index.
void
raft_progress_probe (progress_t *progress, uint64_t next_index)
{
    s_restart (progress, PROGRESS_PROBE, next_index);
}

//  A member the leader starts to feed: nothing known, probe from our end;
//  heard now, so a member just added or a new term has time to answer.
void
raft_progress_start (raft_core_t *self, progress_t *progress, uint32_t id)
{
    progress->id = id;
    progress->match_index = 0;
    progress->read_round = 0;
    progress->heartbeat_due = false;
    progress->commit_sent = 0;
    progress->heard_ms = self->now_ms;
    raft_progress_probe (progress, raft_log_last_index (self) + 1);
}

//  Whether the learner at position has caught up with our log.
bool
raft_progress_caught_up (raft_core_t *self, size_t position)
{
    const progress_t *progress = &self->peers[position].progress;
    return progress->mode == PROGRESS_REPLICATE &&
           progress->match_index + self->catch_up_entries >= raft_log_last_index (self) &&
           self->now_ms < progress->heard_ms + self->election_timeout_min_ms;
}

int
raft_core_progress (raft_core_t *self, uint32_t id, raft_progress_t *progress)
{
    assert (self);
    assert (progress);
    size_t position = raft_config_position (self, id);
    if (self->role != RAFT_ROLE_LEADER || position == self->member_count || id == self->self_id)
        return -1;
    const progress_t *tracked = &self->peers[position].progress;
    progress->match_index = tracked->match_index;
    progress->next_index = tracked->next_index;
    progress->replicating = tracked->mode == PROGRESS_REPLICATE;
    progress->heard_ms = tracked->heard_ms;
    return 0;
}

//  The match point is known (or a snapshot installed): entries go out
//  pipelined from right after it.
void
raft_progress_replicate (progress_t *progress, uint64_t match_index)
{
    progress->snapshot_pending = false;
    s_restart (progress, PROGRESS_REPLICATE, match_index + 1);
}

//  Pipelining: an AppendEntries carrying entries up to last_index went out.
void
raft_progress_sent (progress_t *progress, uint64_t last_index, size_t window)
{
    assert (progress->inflight_count < window);
    progress->next_index = last_index + 1;
    size_t slot = (progress->inflight_head + progress->inflight_count) % window;
    progress->inflight[slot] = last_index;
    progress->inflight_count++;
}

//  The follower holds the log up to match_index: the AppendEntries that
//  carried no more than that are no longer in flight.
void
raft_progress_acknowledge (progress_t *progress, uint64_t match_index, size_t window)
{
    while (progress->inflight_count > 0 &&
           progress->inflight[progress->inflight_head] <= match_index) {
        progress->inflight_head = (progress->inflight_head + 1) % window;
        progress->inflight_count--;
    }
}

//  The highest value a majority of voters has reached, value_of giving
//  each other voter's from its progress and own ours: what a majority
//  holds (commit) or has answered (read rounds). 0 without voters.
uint64_t
raft_progress_quorum (raft_core_t *self, uint64_t own, uint64_t (*value_of) (const progress_t *))
{
    size_t count = 0;
    for (size_t position = 0; position < self->member_count; position++) {
        if (!self->members[position].voter)
            continue;
        uint64_t value = self->members[position].id == self->self_id
                             ? own
                             : value_of (&self->peers[position].progress);
        //  Insertion sort, descending: configurations are tiny
        size_t slot = count++;
        while (slot > 0 && self->match_scratch[slot - 1] < value) {
            self->match_scratch[slot] = self->match_scratch[slot - 1];
            slot--;
        }
        self->match_scratch[slot] = value;
    }
    return count ? self->match_scratch[raft_config_majority (self) - 1] : 0;
}
