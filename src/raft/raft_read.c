/*  raft_read — linearizable reads without the log (ReadIndex, see
    raft_core_read).

    The leader numbers its heartbeat rounds: a read that arrives waits for
    the next round, which starts when the ready is next collected (every
    AppendEntries that ready hands out carries the round, and each follower
    gets at least an empty one). Followers echo the highest round they have
    seen from their leader in every AppendEntries reply, so a round is
    confirmed once a majority of voters echoed it or a later one: those
    voters were still in our term after the read arrived, so no leader of a
    newer term had been elected by then, nor committed anything. One round
    confirms every read that arrived before it started. Reads settle in
    arrival order, and only once an entry of our term is committed (before
    that our commit index may lag what an earlier leader committed).
*/
#include "raft/raft_private.h"

#include <assert.h>
#include <stdlib.h>

//  Makes room for one more element after count in *array. Returns 0, or
//  -1 out of memory (the array stays as it was).
static int
s_reserve (void **array, size_t count, size_t *capacity, size_t element_size)
{
    if (count < *capacity)
        return 0;
    size_t grown = *capacity ? *capacity * 2 : 16;
    void *larger = realloc (*array, grown * element_size);
    if (!larger)
        return -1;
    *array = larger;
    *capacity = grown;
    return 0;
}

//  Queues a settled read for the ready. Never allocates: raft_core_read
//  made room for every pending read's settlement, and a step down (a tick
//  or persisted between ready and advance) must not move the array that
//  ready lent out.
static void
s_settle (raft_core_t *self, uint64_t id, uint64_t index, raft_read_outcome_t outcome)
{
    assert (self->settled_count < self->settled_capacity);
    self->reads_settled[self->settled_count++] =
        (raft_read_t){.id = id, .index = index, .outcome = outcome};
}

//  Drops the first count pending reads (they were settled).
static void
s_drop_pending (raft_core_t *self, size_t count)
{
    self->pending_count -= count;
    for (size_t position = 0; position < self->pending_count; position++)
        self->reads_pending[position] = self->reads_pending[position + count];
}

//  The commit index if it covers every entry committed before our term, else 0.
static uint64_t
s_read_index (raft_core_t *self)
{
    return self->commit_index >= self->term_start_index ? self->commit_index : 0;
}

int
raft_core_read (raft_core_t *self, uint64_t id)
{
    assert (self);
    assert (!self->ready_outstanding);
    self->started = true;
    if (self->role != RAFT_ROLE_LEADER || self->pending_count >= self->max_pending_reads)
        return -1;
    if (s_reserve ((void **)&self->reads_pending, self->pending_count, &self->pending_capacity,
                   sizeof (pending_read_t)) ||
        s_reserve ((void **)&self->reads_settled, self->settled_count + self->pending_count,
                   &self->settled_capacity, sizeof (raft_read_t)))
        return -1;
    self->reads_pending[self->pending_count++] =
        (pending_read_t){.id = id, .index = s_read_index (self), .round = self->read_round + 1};
    self->read_round_wanted = true;
    return 0;
}

size_t
raft_core_pending_reads (raft_core_t *self)
{
    assert (self);
    return self->pending_count;
}

//  Leader, as the ready is collected: starts the round pending reads wait
//  for; every follower hears of it at this flush.
void
raft_read_start_round (raft_core_t *self)
{
    if (!self->read_round_wanted)
        return;
    self->read_round_wanted = false;
    self->read_round++;
    for (size_t position = 0; position < self->member_count; position++)
        self->peers[position].progress.heartbeat_due = true;
}

//  Leader: the member at position answered an AppendEntries of our term,
//  having seen rounds up to round.
void
raft_read_acknowledge (raft_core_t *self, size_t position, uint64_t round)
{
    progress_t *progress = &self->peers[position].progress;
    if (round > progress->read_round && round <= self->read_round)
        progress->read_round = round;
}

static uint64_t
s_round_of (const progress_t *progress)
{
    return progress->read_round;
}

//  Leader, as the ready is collected: settles the reads confirmed, in order.
void
raft_read_settle (raft_core_t *self)
{
    if (self->pending_count == 0)
        return;
    uint64_t confirmed = raft_progress_quorum (self, self->read_round, s_round_of);
    uint64_t read_index = s_read_index (self);
    size_t settled = 0;
    while (settled < self->pending_count) {
        pending_read_t *read = &self->reads_pending[settled];
        //  A read taken before our term's first commit gets the commit
        //  index as of now: later than its arrival, so just as fresh
        uint64_t index = read->index ? read->index : read_index;
        if (read->round > confirmed || index == 0)
            break;
        s_settle (self, read->id, index, RAFT_READ_READY);
        settled++;
    }
    s_drop_pending (self, settled);
}

//  This node stops leading: no pending read can be confirmed any more.
void
raft_read_fail_all (raft_core_t *self)
{
    for (size_t failed = 0; failed < self->pending_count; failed++)
        s_settle (self, self->reads_pending[failed].id, 0, RAFT_READ_NOT_LEADER);
    self->pending_count = 0;
    self->read_round_wanted = false;
}

//  The ready hands out the settled reads; called at its collection.
void
raft_read_handed_out (raft_core_t *self)
{
    self->settled_handed_out = self->settled_count;
}

//  At advance: the reads handed out are done with; reads settled in
//  between (a step down on a tick) wait for the next ready.
void
raft_read_release (raft_core_t *self)
{
    size_t done = self->settled_handed_out;
    self->settled_count -= done;
    for (size_t position = 0; position < self->settled_count; position++)
        self->reads_settled[position] = self->reads_settled[position + done];
    self->settled_handed_out = 0;
}
