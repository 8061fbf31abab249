/*  raft_election — roles, timers and elections.

    The randomized election timer, pre-vote (dissertation 9.6), votes,
    becoming leader, check-quorum, and leadership transfer (TimeoutNow).
*/
#include "raft/raft_private.h"

#include <assert.h>
#include <stdlib.h>

static uint64_t
s_random_next (raft_core_t *self)
{
    //  splitmix64: tiny, seedable, good enough to spread election timeouts
    uint64_t value = (self->random_state += 0x9E3779B97F4A7C15ULL);
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
    return value ^ (value >> 31);
}

void
raft_election_reset_timer (raft_core_t *self)
{
    uint64_t span = (uint64_t)self->election_timeout_max_ms - self->election_timeout_min_ms + 1;
    self->election_deadline_ms =
        self->now_ms + self->election_timeout_min_ms + s_random_next (self) % span;
}

void
raft_election_set_role (raft_core_t *self, raft_role_t role, uint32_t leader_id)
{
    if (self->role != role || self->leader_id != leader_id)
        self->soft_state_changed = true;
    if (self->role == RAFT_ROLE_LEADER && role != RAFT_ROLE_LEADER)
        raft_read_fail_all (self);
    self->role = role;
    self->leader_id = leader_id;
    self->pre_voting = false;
    if (role != RAFT_ROLE_LEADER)
        self->transfer_target = 0;
}

//  Whether this node may stand for election: a voter, or a former voter
//  that its latest configuration removed or demoted while that change is
//  not known to be committed (its vote may be needed to commit it,
//  dissertation 4.2.2; a leader it makes retires as soon as it commits).
//  Never a learner otherwise, nor a node whose configuration is empty, nor
//  one whose term reached RAFT_TERM_MAX (the next one would pass it).
bool
raft_election_may_campaign (raft_core_t *self)
{
    if (self->term >= RAFT_TERM_MAX)
        return false;
    if (self->self_is_voter)
        return true;
    return self->self_was_voter && self->voter_count > 0 && self->commit_index < self->config_index;
}

//  Whether a leader is known to be alive: then we refuse to help depose it
//  (Raft dissertation 4.2.3 and 9.6), so a node that was cut off and comes
//  back, or a removed one, cannot disrupt a healthy leader.
bool
raft_election_leader_alive (raft_core_t *self)
{
    if (self->role == RAFT_ROLE_LEADER)
        return true;
    return self->leader_id != 0 &&
           self->now_ms < self->leader_contact_ms + self->election_timeout_min_ms;
}

//  Whether a candidate with this last entry has a log at least as up to date
//  as ours (Raft 5.4.1).
static bool
s_log_up_to_date (raft_core_t *self, uint64_t last_index, uint64_t last_term)
{
    uint64_t our_last_term = raft_log_last_term (self);
    return last_term > our_last_term ||
           (last_term == our_last_term && last_index >= raft_log_last_index (self));
}

//  Asks every other voter for its vote (or pre-vote) in term; transfer says
//  the leader handed over.
static void
s_request_votes (raft_core_t *self, raft_message_type_t type, uint64_t term, bool transfer)
{
    uint64_t last_index = raft_log_last_index (self);
    uint64_t last_term = raft_log_last_term (self);
    for (size_t position = 0; position < self->voter_count; position++) {
        if (self->voter_ids[position] == self->self_id)
            continue;
        raft_message_t *request = raft_outbox_queue (self, type, self->voter_ids[position], 0);
        if (request) {
            request->term = term;
            request->last_log_index = last_index;
            request->last_log_term = last_term;
            request->transfer = transfer;
        }
    }
}

//  Clears the tally of (pre-)votes; ours is granted (it counts if we are a
//  voter). Returns true if that alone is a majority.
static bool
s_start_tally (raft_core_t *self)
{
    for (size_t position = 0; position < self->member_count; position++)
        self->peers[position].vote_granted = self->members[position].id == self->self_id;
    return self->self_is_voter && raft_config_majority (self) <= 1;
}

//  Counts a (pre-)vote granted by the member at position; only voters
//  count. Returns true once a majority granted.
static bool
s_tally (raft_core_t *self, size_t position)
{
    if (!raft_config_is_voter (self, position))
        return false;
    self->peers[position].vote_granted = true;
    size_t granted = 0;
    for (size_t other = 0; other < self->member_count; other++)
        granted += raft_config_is_voter (self, other) && self->peers[other].vote_granted;
    return granted >= raft_config_majority (self);
}

//  Adopts a higher term: the vote is cleared and we follow (leader unknown).
void
raft_election_adopt_term (raft_core_t *self, uint64_t term)
{
    bool was_leader = self->role == RAFT_ROLE_LEADER;
    self->term = term;
    self->voted_for = 0;
    self->hard_state_changed = true;
    self->leader_read_round = 0;
    raft_replication_clear_ack (self);
    raft_election_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    //  A leader ran no election timer; a follower or candidate keeps its own
    //  so a stream of hopeless candidates cannot postpone its campaign forever
    if (was_leader)
        raft_election_reset_timer (self);
}

static void
s_become_leader (raft_core_t *self)
{
    raft_election_set_role (self, RAFT_ROLE_LEADER, self->self_id);
    for (size_t position = 0; position < self->member_count; position++)
        raft_progress_start (self, &self->peers[position].progress, self->members[position].id);
    self->heartbeat_deadline_ms = self->now_ms + self->heartbeat_ms;
    //  Earlier terms' entries commit only with one of our own (Raft 5.4.2),
    //  so we append one at once: the bootstrap configuration if the log
    //  holds none yet (then every node learns it from the log: a joining
    //  one, or one built from a snapshot), else a no-op. If it cannot be
    //  allocated the first proposal plays that part.
    self->term_start_index = raft_log_last_index (self) + 1;
    if (self->config_index == 0) {
        size_t size;
        uint8_t *payload = raft_core_config_encode (self->members, self->member_count, &size);
        int rc =
            payload ? raft_log_append (self, self->term, RAFT_ENTRY_CONFIG, payload, size) : -1;
        free (payload);
        if (rc == 0)
            return;
    }
    raft_log_append (self, self->term, RAFT_ENTRY_NOOP, NULL, 0);
}

//  Stands for the next term; transfer says the leader asked us to.
void
raft_election_campaign (raft_core_t *self, bool transfer)
{
    self->term++;
    self->voted_for = self->self_id;
    self->hard_state_changed = true;
    self->leader_read_round = 0;
    raft_replication_clear_ack (self);
    raft_election_set_role (self, RAFT_ROLE_CANDIDATE, 0);
    raft_election_reset_timer (self);
    if (s_start_tally (self))
        s_become_leader (self);
    else
        s_request_votes (self, RAFT_MESSAGE_REQUEST_VOTE, self->term, transfer);
}

//  The election timer fired: first ask whether a majority would vote for us
//  in the next term, changing nobody's term, so a node that cannot win (cut
//  off, or behind) never forces the others into a new term.
static void
s_start_pre_vote (raft_core_t *self)
{
    raft_election_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    raft_election_reset_timer (self);
    if (s_start_tally (self)) {
        raft_election_campaign (self, false);
        return;
    }
    self->pre_voting = true;
    s_request_votes (self, RAFT_MESSAGE_PRE_VOTE, self->term + 1, false);
}

void
raft_election_handle_vote_request (raft_core_t *self, const raft_message_t *request)
{
    bool free_to_vote = self->voted_for == 0 || self->voted_for == request->from;
    bool granted = free_to_vote && self->role == RAFT_ROLE_FOLLOWER &&
                   s_log_up_to_date (self, request->last_log_index, request->last_log_term);
    if (granted) {
        if (self->voted_for != request->from) {
            self->voted_for = request->from;
            self->hard_state_changed = true;
        }
        raft_election_reset_timer (self);
    }
    raft_outbox_vote_reply (self, RAFT_MESSAGE_REQUEST_VOTE_REPLY, request->from, self->term,
                            granted);
}

void
raft_election_handle_vote_reply (raft_core_t *self, const raft_message_t *reply, size_t position)
{
    if (self->role == RAFT_ROLE_CANDIDATE && reply->granted && s_tally (self, position))
        s_become_leader (self);
}

//  A pre-vote changes no state here: granted if the candidate's term would
//  be above ours, no leader is known to be alive and its log is up to date;
//  a refusal carries our term so a candidate that is behind catches up.
void
raft_election_handle_pre_vote_request (raft_core_t *self, const raft_message_t *request)
{
    bool granted = request->term > self->term && !raft_election_leader_alive (self) &&
                   s_log_up_to_date (self, request->last_log_index, request->last_log_term);
    raft_outbox_vote_reply (self, RAFT_MESSAGE_PRE_VOTE_REPLY, request->from,
                            granted ? request->term : self->term, granted);
}

void
raft_election_handle_pre_vote_reply (raft_core_t *self, const raft_message_t *reply,
                                     size_t position)
{
    if (reply->granted) {
        if (self->pre_voting && reply->term == self->term + 1 && s_tally (self, position))
            raft_election_campaign (self, false);
    } else if (reply->term > self->term)
        raft_election_adopt_term (self, reply->term);
}

//  Check-quorum's count: the voters heard from within the minimum election
//  timeout, this node among them. *unheard_at gets the earliest moment one
//  of the others counted stops counting (UINT64_MAX: none).
static size_t
s_voters_heard (raft_core_t *self, uint64_t *unheard_at)
{
    size_t heard = 0;
    *unheard_at = UINT64_MAX;
    for (size_t position = 0; position < self->member_count; position++) {
        if (!self->members[position].voter)
            continue;
        if (self->members[position].id == self->self_id) {
            heard++;
            continue;
        }
        uint64_t expires = self->peers[position].progress.heard_ms + self->election_timeout_min_ms;
        if (expires <= self->now_ms)
            continue;
        heard++;
        if (expires < *unheard_at)
            *unheard_at = expires;
    }
    return heard;
}

//  A leader that has not heard from a majority of voters for the minimum
//  election timeout is probably cut off from it (and the majority may have
//  elected another leader): it steps down in its term, so clients are told
//  there is no leader here instead of waiting for commits that cannot come.
static void
s_leader_check_quorum (raft_core_t *self)
{
    uint64_t unheard_at;
    if (s_voters_heard (self, &unheard_at) >= raft_config_majority (self))
        return;
    raft_election_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    raft_election_reset_timer (self);
}

//  Transfer: once the target holds our whole log, tell it to campaign. Sent
//  again on each of its acknowledgements while we still lead, in case one
//  is lost; once it campaigns, its higher term makes us step down.
void
raft_election_maybe_send_timeout_now (raft_core_t *self, const progress_t *progress)
{
    if (self->role == RAFT_ROLE_LEADER && self->transfer_target == progress->id &&
        progress->match_index == raft_log_last_index (self))
        raft_outbox_queue (self, RAFT_MESSAGE_TIMEOUT_NOW, progress->id, 0);
}

//  Our leader hands over: campaign at once, no pre-vote, it is not waiting
//  for a timeout. Only the leader we follow in this term may ask; from
//  anyone else, or of another term, it is ignored (its term is not
//  adopted either), so no node can start elections by pretending.
void
raft_election_handle_timeout_now (raft_core_t *self, const raft_message_t *message)
{
    if (message->term == self->term && self->leader_id == message->from &&
        self->role == RAFT_ROLE_FOLLOWER && raft_election_may_campaign (self))
        raft_election_campaign (self, true);
}

void
raft_core_tick (raft_core_t *self, uint64_t now_ms)
{
    assert (self);
    self->started = true;
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
    if (self->role == RAFT_ROLE_LEADER) {
        s_leader_check_quorum (self);
        if (self->transfer_target && self->now_ms >= self->transfer_deadline_ms)
            self->transfer_target = 0; //  the target did not take over: lead on
    }
    if (self->role == RAFT_ROLE_LEADER) {
        raft_replication_notice_commit (self);
        if (self->now_ms >= self->heartbeat_deadline_ms) {
            self->heartbeat_deadline_ms = self->now_ms + self->heartbeat_ms;
            for (size_t position = 0; position < self->member_count; position++)
                self->peers[position].progress.heartbeat_due = true;
        }
    } else if (self->now_ms >= self->election_deadline_ms) {
        if (raft_election_may_campaign (self))
            s_start_pre_vote (self);
        else
            raft_election_reset_timer (self);
    }
}

void
raft_core_set_clock (raft_core_t *self, uint64_t now_ms)
{
    assert (self);
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
}

uint64_t
raft_core_next_deadline (raft_core_t *self)
{
    assert (self);
    if (self->role != RAFT_ROLE_LEADER)
        return self->election_deadline_ms;
    uint64_t deadline = self->heartbeat_deadline_ms;
    if (self->transfer_target && self->transfer_deadline_ms < deadline)
        deadline = self->transfer_deadline_ms;
    //  Check-quorum fails now (the clock moved past it without a tick), or
    //  first when one of the voters heard from so far stops counting
    uint64_t unheard_at;
    if (s_voters_heard (self, &unheard_at) < raft_config_majority (self))
        return self->now_ms;
    return unheard_at < deadline ? unheard_at : deadline;
}

int
raft_core_transfer_leadership (raft_core_t *self, uint32_t target_id)
{
    assert (self);
    assert (!self->ready_outstanding);
    self->started = true;
    size_t position = raft_config_position (self, target_id);
    if (self->role != RAFT_ROLE_LEADER || target_id == self->self_id ||
        !raft_config_is_voter (self, position))
        return -1;
    if (self->transfer_target != target_id) {
        self->transfer_target = target_id;
        self->transfer_deadline_ms = self->now_ms + self->election_timeout_max_ms;
        raft_election_maybe_send_timeout_now (self, &self->peers[position].progress);
    }
    return 0;
}

uint32_t
raft_core_transfer_target (raft_core_t *self)
{
    assert (self);
    return self->transfer_target;
}

raft_role_t
raft_core_role (raft_core_t *self)
{
    assert (self);
    return self->role;
}

uint64_t
raft_core_term (raft_core_t *self)
{
    assert (self);
    return self->term;
}

uint32_t
raft_core_leader (raft_core_t *self)
{
    assert (self);
    return self->leader_id;
}

uint32_t
raft_core_voted_for (raft_core_t *self)
{
    assert (self);
    return self->voted_for;
}
