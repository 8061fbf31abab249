/*  raft_membership — changing the configuration, one server at a time.

    Leader only: when a change is allowed, learners added and promoted
    (by itself once caught up, unless manual), members removed, and a
    leader that removed itself handing over once that commits.
*/
#include "raft/raft_private.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Whether the leader may start a membership change now: one at a time,
//  and only after an entry of its own term committed (a configuration
//  entry of an earlier term may still be in flight otherwise).
static bool
s_config_change_allowed (raft_core_t *self)
{
    return self->role == RAFT_ROLE_LEADER && !self->transfer_target &&
           self->config_index <= self->commit_index && self->commit_index >= self->term_start_index;
}

//  How many voters the change to members adds or removes.
static size_t
s_voter_changes (raft_core_t *self, const raft_member_t *members, size_t count)
{
    size_t changes = 0;
    for (size_t position = 0; position < count; position++)
        if (members[position].voter &&
            !raft_config_is_voter (self, raft_config_position (self, members[position].id)))
            changes++;
    for (size_t position = 0; position < self->member_count; position++) {
        if (!self->members[position].voter)
            continue;
        size_t kept = 0;
        while (kept < count && members[kept].id != self->members[position].id)
            kept++;
        if (kept == count || !members[kept].voter)
            changes++;
    }
    return changes;
}

//  Builds the configuration after one change to member id (copy of the
//  current one) in a malloc'd array: change "promote" makes it a voter,
//  "remove" drops it. Returns NULL if id is not a member or out of memory.
static raft_member_t *
s_changed_members (raft_core_t *self, uint32_t id, bool remove, size_t *count)
{
    size_t position = raft_config_position (self, id);
    if (position == self->member_count)
        return NULL;
    raft_member_t *members = (raft_member_t *)malloc (
        (self->member_count ? self->member_count : 1) * sizeof (raft_member_t));
    if (!members)
        return NULL;
    *count = 0;
    for (size_t other = 0; other < self->member_count; other++) {
        if (other == position && remove)
            continue;
        members[*count] = self->members[other];
        if (other == position)
            members[*count].voter = true;
        (*count)++;
    }
    return members;
}

//  Our removal (or demotion) is committed: the most up-to-date voter is
//  told to campaign at once, then we step down, never to campaign again.
void
raft_membership_retire (raft_core_t *self)
{
    size_t best = self->member_count;
    for (size_t position = 0; position < self->member_count; position++)
        if (raft_config_is_voter (self, position) && self->members[position].id != self->self_id &&
            (best == self->member_count ||
             self->peers[position].progress.match_index > self->peers[best].progress.match_index))
            best = position;
    if (best < self->member_count)
        raft_outbox_queue (self, RAFT_MESSAGE_TIMEOUT_NOW, self->members[best].id, 0);
    raft_election_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    raft_election_reset_timer (self);
}

//  Appends a configuration entry for members, if the change is allowed.
//  Returns 0 with its index (if index is not NULL), or -1.
static int
s_propose (raft_core_t *self, const raft_member_t *members, size_t count, uint64_t *index)
{
    self->started = true;
    if (!s_config_change_allowed (self) || raft_config_check (members, count) ||
        raft_config_voters_in (members, count) == 0 || s_voter_changes (self, members, count) > 1)
        return -1;
    size_t size;
    uint8_t *payload = raft_core_config_encode (members, count, &size);
    if (!payload)
        return -1;
    int rc = raft_log_append (self, self->term, RAFT_ENTRY_CONFIG, payload, size);
    free (payload);
    if (rc)
        return -1;
    if (index)
        *index = raft_log_last_index (self);
    return 0;
}

//  Proposes the configuration after one change to member id: remove drops
//  it, else it becomes a voter.
static int
s_propose_change (raft_core_t *self, uint32_t id, bool remove, uint64_t *index)
{
    size_t count;
    raft_member_t *members = s_changed_members (self, id, remove, &count);
    int rc = members ? s_propose (self, members, count, index) : -1;
    free (members);
    return rc;
}

static int
s_promote (raft_core_t *self, uint32_t id, uint64_t *index)
{
    size_t position = raft_config_position (self, id);
    if (position == self->member_count || self->members[position].voter)
        return -1;
    return s_propose_change (self, id, false, index);
}

//  A caught-up learner becomes a voter, unless the caller promotes itself.
void
raft_membership_promote_caught_up (raft_core_t *self)
{
    if (self->manual_promotion || !s_config_change_allowed (self))
        return;
    for (size_t position = 0; position < self->member_count; position++)
        if (!self->members[position].voter && self->members[position].id != self->self_id &&
            raft_progress_caught_up (self, position)) {
            s_promote (self, self->members[position].id, NULL);
            return;
        }
}

int
raft_core_propose_config (raft_core_t *self, const raft_member_t *members, size_t count,
                          uint64_t *index)
{
    assert (self);
    assert (members || count == 0);
    assert (!self->ready_outstanding);
    return s_propose (self, members, count, index);
}

int
raft_core_add_learner (raft_core_t *self, const raft_member_t *member, uint64_t *index)
{
    assert (self);
    assert (member);
    assert (!self->ready_outstanding);
    if (raft_config_position (self, member->id) < self->member_count)
        return -1;
    raft_member_t *members =
        (raft_member_t *)malloc ((self->member_count + 1) * sizeof (raft_member_t));
    if (!members)
        return -1;
    if (self->member_count > 0)
        memcpy (members, self->members, self->member_count * sizeof (raft_member_t));
    members[self->member_count] = *member;
    members[self->member_count].voter = false;
    int rc = s_propose (self, members, self->member_count + 1, index);
    free (members);
    return rc;
}

int
raft_core_promote (raft_core_t *self, uint32_t id, uint64_t *index)
{
    assert (self);
    assert (!self->ready_outstanding);
    return s_promote (self, id, index);
}

int
raft_core_remove (raft_core_t *self, uint32_t id, uint64_t *index)
{
    assert (self);
    assert (!self->ready_outstanding);
    return s_propose_change (self, id, true, index);
}

bool
raft_core_learner_caught_up (raft_core_t *self, uint32_t id)
{
    assert (self);
    size_t position = raft_config_position (self, id);
    return self->role == RAFT_ROLE_LEADER && position < self->member_count && id != self->self_id &&
           !self->members[position].voter && raft_progress_caught_up (self, position);
}
