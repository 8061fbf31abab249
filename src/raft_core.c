/*  raft_core — the Raft protocol as a pure state machine (see raft_core.h).

    Owns the in-memory log (a growable array with an index offset, so a
    compacted prefix can later be dropped), the term and vote, the role and
    its timers, per-follower replication progress, the commit index and the
    queue of outgoing messages. It does no I/O and keeps no global state.

    Messages are queued as events happen but the ready is collected later,
    and proposals in between may move the log array: a queued AppendEntries
    therefore holds an index range, and its entry pointers are materialized
    (and the range revalidated) only in raft_core_ready. Between
    raft_core_ready and raft_core_advance the caller feeds no event except
    raft_core_persisted and raft_core_tick, which never move the log.
*/
#include "raft_core.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_ENTRIES_PER_MESSAGE 256
#define DEFAULT_MAX_BYTES_PER_MESSAGE   (1024 * 1024)
#define DEFAULT_MAX_INFLIGHT_MESSAGES   64

//  How the leader currently feeds one follower.
typedef enum {
    PROGRESS_PROBE = 0,    //  match point unknown: one AppendEntries at a time
    PROGRESS_REPLICATE = 1 //  match point known: pipeline optimistically
} progress_mode_t;

//  Replication state of one voter, kept by the leader.
typedef struct {
    uint32_t id;           //  the voter's node id
    uint64_t next_index;   //  next entry to send it
    uint64_t match_index;  //  highest entry it acknowledged as matching and persisted
    progress_mode_t mode;  //  probing or pipelining
    bool probe_sent;       //  probe mode: an AppendEntries is out, wait for its answer
    bool heartbeat_due;    //  send at least an empty AppendEntries at the next flush
    uint64_t *inflight;    //  ring: last index carried by each unacknowledged AppendEntries
    size_t inflight_head;  //  ring position of the oldest
    size_t inflight_count; //  AppendEntries in flight
} progress_t;

//  A queued message: entries stay NULL until the ready materializes them.
typedef struct {
    raft_message_t message;   //  the message, entries not yet pointed to
    uint64_t last_entry_term; //  AppendEntries: term of the last entry, to revalidate the range
} outgoing_t;

struct _raft_core_t {
    uint32_t self_id;                 //  this node's id
    uint32_t *voters;                 //  voting members, owned
    size_t voter_count;               //  how many voters
    bool self_is_voter;               //  only voters campaign
    uint32_t heartbeat_ms;            //  leader's heartbeat interval
    uint32_t election_timeout_min_ms; //  randomized election timeout bounds
    uint32_t election_timeout_max_ms; //  (inclusive)
    size_t max_entries_per_message;   //  AppendEntries batch limit by count
    size_t max_bytes_per_message;     //  AppendEntries batch limit by payload bytes
    size_t max_inflight_messages;     //  pipelining window per follower
    uint64_t random_state;            //  splitmix64 state for election timeouts
    uint64_t now_ms;                  //  latest clock we were told about
    uint64_t election_deadline_ms;    //  follower/candidate: campaign at this time
    uint64_t heartbeat_deadline_ms;   //  leader: next heartbeat round at this time
    bool started;                     //  an event was fed: restoring is over

    uint64_t term;           //  current term
    uint32_t voted_for;      //  vote in this term, 0 for none
    bool hard_state_changed; //  term or vote changed since the last ready
    raft_role_t role;        //  follower, candidate or leader
    uint32_t leader_id;      //  known leader of this term, 0 if none
    bool soft_state_changed; //  role or leader changed since the last ready

    raft_entry_t *log;        //  entries log_offset+1 .. log_offset+log_count
    size_t log_count;         //  entries held
    size_t log_capacity;      //  entries allocated
    uint64_t log_offset;      //  index before log[0] (a compacted prefix ends there)
    uint64_t log_offset_term; //  term of that entry
    uint64_t persisted_index; //  log is durable up to here
    uint64_t unsaved_from;    //  first entry not yet handed out to persist
    uint64_t truncated_from;  //  lowest truncation of handed-out entries, 0 if none
    uint64_t commit_index;    //  highest entry known committed
    uint64_t applied_index;   //  highest entry handed out as committed

    bool *votes_granted;     //  candidate: per voter, granted us its vote
    progress_t *progress;    //  leader: per voter replication state
    uint64_t *match_scratch; //  commit computation workspace, per voter

    uint32_t ack_leader;   //  follower: leader owed a success reply, 0 if none
    uint64_t ack_term;     //  term of that leader
    uint64_t ack_index;    //  reply owed once persisted reaches this index
    uint64_t ack_reported; //  highest part of the owed reply already sent

    outgoing_t *outbox;      //  messages queued since the last ready
    size_t outbox_count;     //  how many
    size_t outbox_capacity;  //  allocated
    raft_message_t *sending; //  messages handed out by the last ready
    size_t sending_capacity; //  allocated
    bool ready_outstanding;  //  a ready was handed out and not yet advanced
};

//  --------------------------------------------------------------------------
//  Small helpers

static uint64_t
s_random_next (raft_core_t *self)
{
    //  splitmix64: tiny, seedable, good enough to spread election timeouts
    uint64_t value = (self->random_state += 0x9E3779B97F4A7C15ULL);
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
    return value ^ (value >> 31);
}

static void
s_reset_election_timer (raft_core_t *self)
{
    uint64_t span = (uint64_t)self->election_timeout_max_ms - self->election_timeout_min_ms + 1;
    self->election_deadline_ms =
        self->now_ms + self->election_timeout_min_ms + s_random_next (self) % span;
}

static uint64_t
s_last_index (raft_core_t *self)
{
    return self->log_offset + self->log_count;
}

//  Entry at index, or NULL when the log does not hold it.
static raft_entry_t *
s_entry (raft_core_t *self, uint64_t index)
{
    if (index <= self->log_offset || index > s_last_index (self))
        return NULL;
    return &self->log[index - self->log_offset - 1];
}

//  Term of the entry at index; 0 for index 0 or an index the log lacks.
static uint64_t
s_term_at (raft_core_t *self, uint64_t index)
{
    if (index == self->log_offset)
        return self->log_offset_term;
    raft_entry_t *entry = s_entry (self, index);
    return entry ? entry->term : 0;
}

static uint64_t
s_last_term (raft_core_t *self)
{
    return s_term_at (self, s_last_index (self));
}

static size_t
s_voter_position (raft_core_t *self, uint32_t id)
{
    for (size_t position = 0; position < self->voter_count; position++)
        if (self->voters[position] == id)
            return position;
    return self->voter_count;
}

static size_t
s_majority (raft_core_t *self)
{
    return self->voter_count / 2 + 1;
}

static void
s_set_role (raft_core_t *self, raft_role_t role, uint32_t leader_id)
{
    if (self->role != role || self->leader_id != leader_id)
        self->soft_state_changed = true;
    self->role = role;
    self->leader_id = leader_id;
}

//  --------------------------------------------------------------------------
//  Log

//  Appends a copy of entry (its index must follow the last). Returns 0 / -1.
static int
s_log_append (raft_core_t *self, uint64_t term, uint8_t type, const uint8_t *data, size_t size)
{
    if (self->log_count == self->log_capacity) {
        size_t capacity = self->log_capacity ? self->log_capacity * 2 : 64;
        raft_entry_t *log = (raft_entry_t *)realloc (self->log, capacity * sizeof (raft_entry_t));
        if (!log)
            return -1;
        self->log = log;
        self->log_capacity = capacity;
    }
    uint8_t *copy = NULL;
    if (size > 0) {
        copy = (uint8_t *)malloc (size);
        if (!copy)
            return -1;
        memcpy (copy, data, size);
    }
    raft_entry_t *entry = &self->log[self->log_count++];
    entry->term = term;
    entry->index = s_last_index (self);
    entry->type = type;
    entry->data = copy;
    entry->size = size;
    return 0;
}

//  Deletes entries >= from_index; handed-out ones are reported in the ready.
static void
s_log_truncate (raft_core_t *self, uint64_t from_index)
{
    while (s_last_index (self) >= from_index && self->log_count > 0) {
        raft_entry_t *entry = &self->log[--self->log_count];
        free (entry->data);
        entry->data = NULL;
    }
    if (self->persisted_index >= from_index)
        self->persisted_index = from_index - 1;
    if (from_index < self->unsaved_from) {
        self->unsaved_from = from_index;
        if (self->truncated_from == 0 || from_index < self->truncated_from)
            self->truncated_from = from_index;
    }
}

//  --------------------------------------------------------------------------
//  Outgoing messages

static raft_message_t *
s_queue (raft_core_t *self, raft_message_type_t type, uint32_t to, uint64_t last_entry_term)
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
    outgoing->message.type = type;
    outgoing->message.from = self->self_id;
    outgoing->message.to = to;
    outgoing->message.term = self->term;
    return &outgoing->message;
}

static void
s_send_vote_reply (raft_core_t *self, uint32_t to, bool granted)
{
    raft_message_t *reply = s_queue (self, RAFT_MESSAGE_REQUEST_VOTE_REPLY, to, 0);
    if (reply)
        reply->granted = granted;
}

static void
s_send_append_success (raft_core_t *self, uint32_t to, uint64_t match_index)
{
    raft_message_t *reply = s_queue (self, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, to, 0);
    if (reply) {
        reply->success = true;
        reply->match_index = match_index;
    }
}

//  Refuses an AppendEntries whose prev_log_index does not match, with a hint
//  that lets the leader skip a whole conflicting term at once.
static void
s_send_append_rejection (raft_core_t *self, uint32_t to, uint64_t reject_index)
{
    raft_message_t *reply = s_queue (self, RAFT_MESSAGE_APPEND_ENTRIES_REPLY, to, 0);
    if (!reply)
        return;
    reply->reject_index = reject_index;
    uint64_t last_index = s_last_index (self);
    if (reject_index > last_index) {
        reply->conflict_index = last_index + 1;
        reply->conflict_term = 0;
    } else {
        //  First entry of the conflicting term (terms never decrease along
        //  the log, so a binary search finds it); committed entries never
        //  conflict, so the search stays above the commit index
        uint64_t conflict_term = s_term_at (self, reject_index);
        uint64_t floor =
            self->commit_index > self->log_offset ? self->commit_index : self->log_offset;
        uint64_t low = reject_index > floor ? floor + 1 : reject_index;
        uint64_t high = reject_index;
        while (low < high) {
            uint64_t middle = low + (high - low) / 2;
            if (s_term_at (self, middle) >= conflict_term)
                high = middle;
            else
                low = middle + 1;
        }
        reply->conflict_index = low;
        reply->conflict_term = conflict_term;
    }
}

//  --------------------------------------------------------------------------
//  Roles

static void
s_clear_pending_ack (raft_core_t *self)
{
    self->ack_leader = 0;
    self->ack_term = 0;
    self->ack_index = 0;
    self->ack_reported = 0;
}

//  Adopts a higher term: the vote is cleared and we follow (leader unknown).
static void
s_adopt_term (raft_core_t *self, uint64_t term)
{
    bool was_leader = self->role == RAFT_ROLE_LEADER;
    self->term = term;
    self->voted_for = 0;
    self->hard_state_changed = true;
    s_clear_pending_ack (self);
    s_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    //  A leader ran no election timer; a follower or candidate keeps its own
    //  so a stream of hopeless candidates cannot postpone its campaign forever
    if (was_leader)
        s_reset_election_timer (self);
}

static void s_become_leader (raft_core_t *self);

static void
s_campaign (raft_core_t *self)
{
    self->term++;
    self->voted_for = self->self_id;
    self->hard_state_changed = true;
    s_clear_pending_ack (self);
    s_set_role (self, RAFT_ROLE_CANDIDATE, 0);
    s_reset_election_timer (self);
    for (size_t position = 0; position < self->voter_count; position++)
        self->votes_granted[position] = self->voters[position] == self->self_id;
    if (s_majority (self) <= 1) {
        s_become_leader (self);
        return;
    }
    uint64_t last_index = s_last_index (self);
    uint64_t last_term = s_last_term (self);
    for (size_t position = 0; position < self->voter_count; position++) {
        if (self->voters[position] == self->self_id)
            continue;
        raft_message_t *request =
            s_queue (self, RAFT_MESSAGE_REQUEST_VOTE, self->voters[position], 0);
        if (request) {
            request->last_log_index = last_index;
            request->last_log_term = last_term;
        }
    }
}

static void
s_progress_clear_inflight (progress_t *progress)
{
    progress->inflight_head = 0;
    progress->inflight_count = 0;
}

static void
s_progress_probe (progress_t *progress, uint64_t next_index)
{
    progress->mode = PROGRESS_PROBE;
    progress->next_index = next_index;
    progress->probe_sent = false;
    s_progress_clear_inflight (progress);
}

static void
s_become_leader (raft_core_t *self)
{
    s_set_role (self, RAFT_ROLE_LEADER, self->self_id);
    uint64_t next_index = s_last_index (self) + 1;
    for (size_t position = 0; position < self->voter_count; position++) {
        progress_t *progress = &self->progress[position];
        progress->id = self->voters[position];
        progress->match_index = 0;
        progress->heartbeat_due = false;
        s_progress_probe (progress, next_index);
    }
    self->heartbeat_deadline_ms = self->now_ms + self->heartbeat_ms;
    //  Earlier terms' entries commit only with one of our own (Raft 5.4.2);
    //  the no-op gives us one at once. If it cannot be allocated the first
    //  proposal plays that part.
    s_log_append (self, self->term, RAFT_ENTRY_NOOP, NULL, 0);
}

//  --------------------------------------------------------------------------
//  Leader: commit and replication

static void
s_leader_maybe_commit (raft_core_t *self)
{
    size_t count = 0;
    for (size_t position = 0; position < self->voter_count; position++) {
        uint64_t match = self->voters[position] == self->self_id
                             ? self->persisted_index
                             : self->progress[position].match_index;
        //  Insertion sort, descending: voter sets are tiny
        size_t slot = count++;
        while (slot > 0 && self->match_scratch[slot - 1] < match) {
            self->match_scratch[slot] = self->match_scratch[slot - 1];
            slot--;
        }
        self->match_scratch[slot] = match;
    }
    uint64_t quorum_index = self->match_scratch[s_majority (self) - 1];
    if (quorum_index > self->commit_index && s_term_at (self, quorum_index) == self->term) {
        self->commit_index = quorum_index;
        //  Tell followers with nothing else coming soon
        for (size_t position = 0; position < self->voter_count; position++)
            if (self->progress[position].mode == PROGRESS_REPLICATE)
                self->progress[position].heartbeat_due = true;
    }
}

//  Queues one AppendEntries from the follower's next_index carrying as many
//  entries as the limits allow, or none (a heartbeat, or a probe that only
//  asks whether next_index - 1 matches). Returns 0, or -1 if it could not.
static int
s_send_append (raft_core_t *self, progress_t *progress, bool with_entries)
{
    uint64_t prev_index = progress->next_index - 1;
    uint64_t last_index = with_entries ? s_last_index (self) : prev_index;
    size_t count = 0;
    size_t bytes = 0;
    for (uint64_t index = progress->next_index; index <= last_index; index++) {
        size_t size = s_entry (self, index)->size;
        if (count == self->max_entries_per_message ||
            (count > 0 && bytes + size > self->max_bytes_per_message))
            break;
        count++;
        bytes += size;
    }
    raft_message_t *request = s_queue (self, RAFT_MESSAGE_APPEND_ENTRIES, progress->id,
                                       s_term_at (self, prev_index + count));
    if (!request)
        return -1;
    request->prev_log_index = prev_index;
    request->prev_log_term = s_term_at (self, prev_index);
    request->entry_count = count;
    if (progress->mode == PROGRESS_PROBE)
        progress->probe_sent = true;
    else if (count > 0) {
        progress->next_index += count;
        size_t slot =
            (progress->inflight_head + progress->inflight_count) % self->max_inflight_messages;
        progress->inflight[slot] = prev_index + count;
        progress->inflight_count++;
    }
    return 0;
}

//  Sends what each follower's progress allows; called when the ready is
//  collected so that every proposal of a loop turn shares the messages.
static void
s_leader_flush (raft_core_t *self)
{
    uint64_t last_index = s_last_index (self);
    for (size_t position = 0; position < self->voter_count; position++) {
        progress_t *progress = &self->progress[position];
        if (progress->id == self->self_id)
            continue;
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

static void
s_handle_append_reply (raft_core_t *self, const raft_message_t *reply, progress_t *progress)
{
    if (reply->success) {
        uint64_t match_index = reply->match_index;
        if (match_index > s_last_index (self))
            return; //  acknowledges what we never sent
        if (progress->mode == PROGRESS_PROBE) {
            if (match_index <= progress->match_index && match_index + 1 != progress->next_index)
                return; //  stale: answers an older probe
            //  The match point is found: pipeline from it
            progress->mode = PROGRESS_REPLICATE;
            progress->probe_sent = false;
            s_progress_clear_inflight (progress);
            progress->next_index = match_index + 1;
        } else {
            if (match_index < progress->match_index)
                return; //  stale
            if (progress->next_index <= match_index)
                progress->next_index = match_index + 1;
        }
        if (match_index > progress->match_index)
            progress->match_index = match_index;
        while (progress->inflight_count > 0 &&
               progress->inflight[progress->inflight_head] <= match_index) {
            progress->inflight_head = (progress->inflight_head + 1) % self->max_inflight_messages;
            progress->inflight_count--;
        }
        s_leader_maybe_commit (self);
        return;
    }
    //  A refusal counts only if it answers what we are waiting for
    uint64_t reject_index = reply->reject_index;
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
        uint64_t high = reject_index < s_last_index (self) ? reject_index : s_last_index (self);
        while (low < high) {
            uint64_t middle = low + (high - low + 1) / 2;
            if (s_term_at (self, middle) <= reply->conflict_term)
                low = middle;
            else
                high = middle - 1;
        }
        if (low > self->log_offset && s_term_at (self, low) == reply->conflict_term)
            next_index = low + 1;
    }
    if (next_index > reject_index)
        next_index = reject_index;
    if (next_index < progress->match_index + 1)
        next_index = progress->match_index + 1;
    s_progress_probe (progress, next_index);
}

//  --------------------------------------------------------------------------
//  Follower: AppendEntries

//  Checks what we cannot trust in an AppendEntries. Returns 0 if well formed.
static int
s_check_append (const raft_message_t *request)
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
        s_send_append_success (self, self->ack_leader, durable);
        self->ack_reported = durable;
    }
    if (self->persisted_index >= self->ack_index)
        s_clear_pending_ack (self);
}

static void
s_handle_append (raft_core_t *self, const raft_message_t *request)
{
    uint64_t prev_index = request->prev_log_index;
    if (prev_index > s_last_index (self) || prev_index < self->log_offset ||
        s_term_at (self, prev_index) != request->prev_log_term) {
        s_send_append_rejection (self, request->from, prev_index);
        return;
    }
    //  Skip what we already hold; only a real conflict truncates, so a stale
    //  or reordered AppendEntries never deletes newer matching entries
    size_t position = 0;
    while (position < request->entry_count) {
        const raft_entry_t *entry = &request->entries[position];
        if (entry->index > s_last_index (self))
            break;
        if (s_term_at (self, entry->index) != entry->term) {
            if (entry->index <= self->commit_index)
                return; //  would rewrite committed history: not a message we trust
            s_log_truncate (self, entry->index);
            break;
        }
        position++;
    }
    for (; position < request->entry_count; position++) {
        const raft_entry_t *entry = &request->entries[position];
        if (s_log_append (self, entry->term, entry->type, entry->data, entry->size))
            return; //  out of memory: no reply, the leader will retry
    }
    uint64_t end_index = prev_index + request->entry_count;
    uint64_t commit_index = request->leader_commit < end_index ? request->leader_commit : end_index;
    if (commit_index > self->commit_index)
        self->commit_index = commit_index;

    if (self->persisted_index >= end_index)
        s_send_append_success (self, request->from, end_index);
    else {
        if (self->ack_leader != request->from || self->ack_term != self->term)
            s_clear_pending_ack (self);
        self->ack_leader = request->from;
        self->ack_term = self->term;
        if (end_index > self->ack_index)
            self->ack_index = end_index;
    }
}

//  --------------------------------------------------------------------------
//  Votes

static void
s_handle_vote_request (raft_core_t *self, const raft_message_t *request)
{
    uint64_t last_term = s_last_term (self);
    bool up_to_date =
        request->last_log_term > last_term ||
        (request->last_log_term == last_term && request->last_log_index >= s_last_index (self));
    bool free_to_vote = self->voted_for == 0 || self->voted_for == request->from;
    bool granted = up_to_date && free_to_vote && self->role == RAFT_ROLE_FOLLOWER;
    if (granted) {
        if (self->voted_for != request->from) {
            self->voted_for = request->from;
            self->hard_state_changed = true;
        }
        s_reset_election_timer (self);
    }
    s_send_vote_reply (self, request->from, granted);
}

static void
s_handle_vote_reply (raft_core_t *self, const raft_message_t *reply, size_t voter_position)
{
    if (self->role != RAFT_ROLE_CANDIDATE || !reply->granted)
        return;
    self->votes_granted[voter_position] = true;
    size_t granted = 0;
    for (size_t position = 0; position < self->voter_count; position++)
        granted += self->votes_granted[position];
    if (granted >= s_majority (self))
        s_become_leader (self);
}

//  --------------------------------------------------------------------------
//  Public API

raft_core_t *
raft_core_new (const raft_core_options_t *options)
{
    if (!options || options->self_id == 0 || options->voter_count == 0 || !options->voters ||
        options->heartbeat_ms == 0 || options->election_timeout_min_ms == 0 ||
        options->election_timeout_min_ms > options->election_timeout_max_ms)
        return NULL;
    for (size_t position = 0; position < options->voter_count; position++) {
        if (options->voters[position] == 0)
            return NULL;
        for (size_t other = 0; other < position; other++)
            if (options->voters[other] == options->voters[position])
                return NULL;
    }
    raft_core_t *self = (raft_core_t *)calloc (1, sizeof (raft_core_t));
    if (!self)
        return NULL;
    self->self_id = options->self_id;
    self->voter_count = options->voter_count;
    self->voters = (uint32_t *)calloc (self->voter_count, sizeof (uint32_t));
    self->votes_granted = (bool *)calloc (self->voter_count, sizeof (bool));
    self->progress = (progress_t *)calloc (self->voter_count, sizeof (progress_t));
    self->match_scratch = (uint64_t *)calloc (self->voter_count, sizeof (uint64_t));
    self->max_entries_per_message = options->max_entries_per_message
                                        ? options->max_entries_per_message
                                        : DEFAULT_MAX_ENTRIES_PER_MESSAGE;
    self->max_bytes_per_message = options->max_bytes_per_message ? options->max_bytes_per_message
                                                                 : DEFAULT_MAX_BYTES_PER_MESSAGE;
    self->max_inflight_messages = options->max_inflight_messages ? options->max_inflight_messages
                                                                 : DEFAULT_MAX_INFLIGHT_MESSAGES;
    bool allocated = self->voters && self->votes_granted && self->progress && self->match_scratch;
    for (size_t position = 0; allocated && position < self->voter_count; position++) {
        self->progress[position].inflight =
            (uint64_t *)calloc (self->max_inflight_messages, sizeof (uint64_t));
        allocated = self->progress[position].inflight != NULL;
    }
    if (!allocated) {
        raft_core_destroy (&self);
        return NULL;
    }
    memcpy (self->voters, options->voters, self->voter_count * sizeof (uint32_t));
    self->self_is_voter = s_voter_position (self, self->self_id) < self->voter_count;
    self->heartbeat_ms = options->heartbeat_ms;
    self->election_timeout_min_ms = options->election_timeout_min_ms;
    self->election_timeout_max_ms = options->election_timeout_max_ms;
    self->random_state = options->random_seed;
    self->now_ms = options->now_ms;
    self->term = options->term;
    self->voted_for = options->voted_for;
    self->role = RAFT_ROLE_FOLLOWER;
    self->unsaved_from = 1;
    s_reset_election_timer (self);
    return self;
}

void
raft_core_destroy (raft_core_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    raft_core_t *self = *self_p;
    for (size_t position = 0; position < self->log_count; position++)
        free (self->log[position].data);
    free (self->log);
    if (self->progress)
        for (size_t position = 0; position < self->voter_count; position++)
            free (self->progress[position].inflight);
    free (self->progress);
    free (self->voters);
    free (self->votes_granted);
    free (self->match_scratch);
    free (self->outbox);
    free (self->sending);
    free (self);
    *self_p = NULL;
}

int
raft_core_restore_entry (raft_core_t *self, const raft_entry_t *entry)
{
    if (self->started || !entry || entry->index != s_last_index (self) + 1 ||
        entry->term < s_last_term (self) || entry->term > self->term ||
        (entry->size > 0 && !entry->data))
        return -1;
    if (s_log_append (self, entry->term, entry->type, entry->data, entry->size))
        return -1;
    self->persisted_index = entry->index;
    self->unsaved_from = entry->index + 1;
    return 0;
}

void
raft_core_tick (raft_core_t *self, uint64_t now_ms)
{
    self->started = true;
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
    if (self->role == RAFT_ROLE_LEADER) {
        if (self->now_ms >= self->heartbeat_deadline_ms) {
            self->heartbeat_deadline_ms = self->now_ms + self->heartbeat_ms;
            for (size_t position = 0; position < self->voter_count; position++)
                self->progress[position].heartbeat_due = true;
        }
    } else if (self->now_ms >= self->election_deadline_ms) {
        if (self->self_is_voter)
            s_campaign (self);
        else
            s_reset_election_timer (self);
    }
}

void
raft_core_receive (raft_core_t *self, const raft_message_t *message)
{
    self->started = true;
    if (!message || message->to != self->self_id || message->from == self->self_id ||
        message->term == 0)
        return;
    size_t voter_position = s_voter_position (self, message->from);
    if (voter_position == self->voter_count)
        return;
    switch (message->type) {
    case RAFT_MESSAGE_APPEND_ENTRIES:
        if (s_check_append (message))
            return;
        break;
    case RAFT_MESSAGE_REQUEST_VOTE:
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
    case RAFT_MESSAGE_APPEND_ENTRIES_REPLY:
        break;
    default:
        return;
    }
    if (message->term < self->term) {
        //  Tell a stale candidate or leader our term so it steps down;
        //  stale replies carry nothing we need
        if (message->type == RAFT_MESSAGE_REQUEST_VOTE)
            s_send_vote_reply (self, message->from, false);
        else if (message->type == RAFT_MESSAGE_APPEND_ENTRIES)
            s_send_append_rejection (self, message->from, message->prev_log_index);
        return;
    }
    if (message->term > self->term)
        s_adopt_term (self, message->term);

    switch (message->type) {
    case RAFT_MESSAGE_REQUEST_VOTE:
        s_handle_vote_request (self, message);
        break;
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
        s_handle_vote_reply (self, message, voter_position);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES:
        if (self->role == RAFT_ROLE_LEADER)
            return; //  two leaders in one term cannot be: not a message we trust
        s_set_role (self, RAFT_ROLE_FOLLOWER, message->from);
        s_reset_election_timer (self);
        s_handle_append (self, message);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES_REPLY:
        if (self->role == RAFT_ROLE_LEADER)
            s_handle_append_reply (self, message, &self->progress[voter_position]);
        break;
    }
}

int
raft_core_propose (raft_core_t *self, const uint8_t *data, size_t size, uint64_t *index)
{
    self->started = true;
    if (self->role != RAFT_ROLE_LEADER || (size > 0 && !data))
        return -1;
    if (s_log_append (self, self->term, RAFT_ENTRY_COMMAND, data, size))
        return -1;
    if (index)
        *index = s_last_index (self);
    return 0;
}

void
raft_core_persisted (raft_core_t *self, uint64_t index, uint64_t term)
{
    self->started = true;
    if (index <= self->persisted_index || index > s_last_index (self) ||
        s_term_at (self, index) != term)
        return;
    self->persisted_index = index;
    if (self->role == RAFT_ROLE_LEADER)
        s_leader_maybe_commit (self);
    else
        s_follower_flush_ack (self);
}

bool
raft_core_ready (raft_core_t *self, raft_ready_t *ready)
{
    if (self->ready_outstanding)
        raft_core_advance (self);
    memset (ready, 0, sizeof (raft_ready_t));
    if (self->role == RAFT_ROLE_LEADER)
        s_leader_flush (self);

    bool work = false;
    ready->term = self->term;
    ready->voted_for = self->voted_for;
    ready->role = self->role;
    ready->leader_id = self->leader_id;
    if (self->hard_state_changed) {
        ready->hard_state_changed = true;
        self->hard_state_changed = false;
        work = true;
    }
    if (self->soft_state_changed) {
        ready->soft_state_changed = true;
        self->soft_state_changed = false;
        work = true;
    }
    if (self->truncated_from) {
        ready->truncate_from = self->truncated_from;
        self->truncated_from = 0;
        work = true;
    }
    uint64_t last_index = s_last_index (self);
    if (self->unsaved_from <= last_index) {
        ready->entries_to_persist = s_entry (self, self->unsaved_from);
        ready->entries_to_persist_count = last_index - self->unsaved_from + 1;
        self->unsaved_from = last_index + 1;
        work = true;
    }

    //  Materialize the queued messages; an AppendEntries whose range the log
    //  no longer holds as it was (we stepped down and were truncated) is dropped
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
         position < self->outbox_count && message_count < self->sending_capacity; position++) {
        outgoing_t *outgoing = &self->outbox[position];
        raft_message_t *message = &outgoing->message;
        if (message->term != self->term)
            continue;
        if (message->type == RAFT_MESSAGE_APPEND_ENTRIES) {
            uint64_t end_index = message->prev_log_index + message->entry_count;
            if (self->role != RAFT_ROLE_LEADER || message->prev_log_index < self->log_offset ||
                end_index > last_index ||
                s_term_at (self, message->prev_log_index) != message->prev_log_term ||
                s_term_at (self, end_index) != outgoing->last_entry_term)
                continue;
            message->entries =
                message->entry_count ? s_entry (self, message->prev_log_index + 1) : NULL;
            message->leader_commit = self->commit_index;
        }
        self->sending[message_count++] = *message;
    }
    self->outbox_count = 0;
    if (message_count > 0) {
        ready->messages = self->sending;
        ready->message_count = message_count;
        work = true;
    }

    //  Nothing is applied before it is durable here
    uint64_t apply_to =
        self->commit_index < self->persisted_index ? self->commit_index : self->persisted_index;
    if (apply_to > self->applied_index) {
        ready->committed = s_entry (self, self->applied_index + 1);
        ready->committed_count = apply_to - self->applied_index;
        self->applied_index = apply_to;
        work = true;
    }
    self->ready_outstanding = work;
    return work;
}

void
raft_core_advance (raft_core_t *self)
{
    //  The ready's arrays stay allocated for reuse; only their meaning ends
    self->ready_outstanding = false;
}

raft_role_t
raft_core_role (raft_core_t *self)
{
    return self->role;
}

uint64_t
raft_core_term (raft_core_t *self)
{
    return self->term;
}

uint32_t
raft_core_leader (raft_core_t *self)
{
    return self->leader_id;
}

uint32_t
raft_core_voted_for (raft_core_t *self)
{
    return self->voted_for;
}

uint64_t
raft_core_commit_index (raft_core_t *self)
{
    return self->commit_index;
}

uint64_t
raft_core_applied_index (raft_core_t *self)
{
    return self->applied_index;
}

uint64_t
raft_core_last_index (raft_core_t *self)
{
    return s_last_index (self);
}

uint64_t
raft_core_persisted_index (raft_core_t *self)
{
    return self->persisted_index;
}

const raft_entry_t *
raft_core_entry (raft_core_t *self, uint64_t index)
{
    return s_entry (self, index);
}

const uint32_t *
raft_core_voters (raft_core_t *self, size_t *count)
{
    if (count)
        *count = self->voter_count;
    return self->voters;
}
