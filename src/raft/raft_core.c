/*  raft_core — the Raft protocol as a pure state machine (see raft_core.h).

    Owns the in-memory log (a growable array with an index offset, so a
    compacted prefix can later be dropped), the term and vote, the role and
    its timers, the configuration with what is tracked of each member
    (replication progress, votes), the commit index and the queue of
    outgoing messages. It does no I/O and keeps no global state.

    Messages are queued as events happen but the ready is collected later,
    and proposals in between may move the log array: a queued AppendEntries
    therefore holds an index range, and its entry pointers are materialized
    (and the range revalidated) only in raft_core_ready. Between
    raft_core_ready and raft_core_advance the caller feeds no event except
    raft_core_persisted and raft_core_tick, which never move the log nor
    change the configuration.
*/
#include "raft/raft_core.h"

#include <stdlib.h>
#include <string.h>

#include "raft.pb-c.h"

#define DEFAULT_MAX_ENTRIES_PER_MESSAGE 256
#define DEFAULT_MAX_BYTES_PER_MESSAGE   (1024 * 1024)
#define DEFAULT_MAX_INFLIGHT_MESSAGES   64
#define MAX_PORT                        65535

//  How the leader currently feeds one follower.
typedef enum {
    PROGRESS_PROBE = 0,    //  match point unknown: one AppendEntries at a time
    PROGRESS_REPLICATE = 1 //  match point known: pipeline optimistically
} progress_mode_t;

//  Replication state of one member, kept by the leader.
typedef struct {
    uint32_t id;              //  the member's node id
    uint64_t next_index;      //  next entry to send it
    uint64_t match_index;     //  highest entry it acknowledged as matching and persisted
    progress_mode_t mode;     //  probing or pipelining
    bool probe_sent;          //  probe mode: an AppendEntries is out, wait for its answer
    bool heartbeat_due;       //  send at least an empty AppendEntries at the next flush
    uint64_t heard_ms;        //  last time a message of our term came from it
    bool snapshot_pending;    //  it is sent a snapshot: no AppendEntries meanwhile
    uint64_t snapshot_index;  //  index of the snapshot streamed, 0 until it answered
    uint64_t snapshot_offset; //  next byte it expects
    uint64_t snapshot_ms;     //  when the last chunk was asked for
    uint64_t *inflight;       //  ring: last index carried by each unacknowledged AppendEntries
    size_t inflight_head;     //  ring position of the oldest
    size_t inflight_count;    //  AppendEntries in flight
} progress_t;

//  What this node tracks of one member of the configuration.
typedef struct {
    progress_t progress; //  leader: its replication (unused for ourselves)
    bool vote_granted;   //  candidate or pre-voting: it granted us its vote
} peer_t;

//  A queued message: entries stay NULL until the ready materializes them.
typedef struct {
    raft_message_t message;   //  the message, entries not yet pointed to
    uint64_t queued_term;     //  our term when it was queued: stale once the term moves
    uint64_t last_entry_term; //  AppendEntries: term of the last entry, to revalidate the range
} outgoing_t;

struct _raft_core_t {
    uint32_t self_id;                 //  this node's id
    uint32_t heartbeat_ms;            //  leader's heartbeat interval
    uint32_t election_timeout_min_ms; //  randomized election timeout bounds
    uint32_t election_timeout_max_ms; //  (inclusive)
    size_t max_entries_per_message;   //  AppendEntries batch limit by count
    size_t max_bytes_per_message;     //  AppendEntries batch limit by payload bytes
    size_t max_inflight_messages;     //  pipelining window per follower
    bool manual_promotion;            //  caught-up learners wait for raft_core_promote
    size_t catch_up_entries;          //  how close to the last index a learner must be
    uint64_t random_state;            //  splitmix64 state for election timeouts
    uint64_t now_ms;                  //  latest clock we were told about
    uint64_t election_deadline_ms;    //  follower/candidate: campaign at this time
    uint64_t leader_contact_ms;       //  follower: last AppendEntries from the leader
    uint64_t heartbeat_deadline_ms;   //  leader: next heartbeat round at this time
    bool started;                     //  an event was fed: restoring is over

    uint64_t term;                 //  current term
    uint32_t voted_for;            //  vote in this term, 0 for none
    bool hard_state_changed;       //  term or vote changed since the last ready
    raft_role_t role;              //  follower, candidate or leader
    bool pre_voting;               //  follower asking for pre-votes before a campaign
    uint32_t leader_id;            //  known leader of this term, 0 if none
    bool soft_state_changed;       //  role or leader changed since the last ready
    uint64_t term_start_index;     //  leader: its first entry of this term (the no-op)
    uint32_t transfer_target;      //  leader: handing leadership to this voter, 0 if not
    uint64_t transfer_deadline_ms; //  and giving up at this time

    raft_member_t *members;      //  the configuration in effect, owned
    peer_t *peers;               //  what we track of each member, in the same order
    size_t member_count;         //  how many members
    uint32_t *voter_ids;         //  ids of the voters among them
    size_t voter_count;          //  how many voters
    uint64_t *match_scratch;     //  commit computation workspace, one per member
    bool self_is_voter;          //  only voters campaign and count for commit
    bool self_was_voter;         //  and in the configuration before this one
    uint64_t config_index;       //  entry that set the configuration, log_offset: the base one
    bool config_changed;         //  since the last ready
    raft_member_t *base_members; //  configuration before the first entry held, owned
    size_t base_member_count;    //  how many

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

    uint32_t ack_leader;   //  follower: leader owed a success reply, 0 if none
    uint64_t ack_term;     //  term of that leader
    uint64_t ack_index;    //  reply owed once persisted reaches this index
    uint64_t ack_reported; //  highest part of the owed reply already sent

    uint32_t receiving_from;   //  follower: leader whose snapshot is coming in, 0 if none
    uint64_t receiving_index;  //  index that snapshot covers
    uint64_t receiving_term;   //  term of that entry
    uint64_t receiving_offset; //  bytes of it taken so far
    bool receiving_done;       //  all of it: the caller installs it
    uint32_t installing_from;  //  leader whose complete snapshot the caller is installing

    raft_snapshot_send_t *sends;   //  leader: snapshots to stream, handed out by the ready
    size_t send_count;             //  how many
    size_t send_capacity;          //  allocated
    raft_snapshot_chunk_t *chunks; //  follower: chunks taken, data owned, until advance
    size_t chunk_count;            //  how many
    size_t chunk_capacity;         //  allocated

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

//  Position of member id in the configuration, member_count if absent.
static size_t
s_member_position (raft_core_t *self, uint32_t id)
{
    for (size_t position = 0; position < self->member_count; position++)
        if (self->members[position].id == id)
            return position;
    return self->member_count;
}

static bool
s_is_voter (raft_core_t *self, size_t position)
{
    return position < self->member_count && self->members[position].voter;
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
    self->pre_voting = false;
    if (role != RAFT_ROLE_LEADER)
        self->transfer_target = 0;
}

//  Whether this node may stand for election: a voter, or a former voter
//  that its latest configuration removed or demoted while that change is
//  not known to be committed (its vote may be needed to commit it,
//  dissertation 4.2.2; a leader it makes retires as soon as it commits).
//  Never a learner otherwise, nor a node whose configuration is empty.
static bool
s_may_campaign (raft_core_t *self)
{
    if (self->self_is_voter)
        return true;
    return self->self_was_voter && self->voter_count > 0 && self->commit_index < self->config_index;
}

//  Whether a leader is known to be alive: then we refuse to help depose it
//  (Raft dissertation 4.2.3 and 9.6), so a node that was cut off and comes
//  back, or a removed one, cannot disrupt a healthy leader.
static bool
s_leader_alive (raft_core_t *self)
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
    uint64_t our_last_term = s_last_term (self);
    return last_term > our_last_term ||
           (last_term == our_last_term && last_index >= s_last_index (self));
}

//  --------------------------------------------------------------------------
//  Configuration

//  Checks a member list: ids nonzero and distinct, hosts terminated, ports
//  in range. Returns 0 or -1.
static int
s_members_check (const raft_member_t *members, size_t count)
{
    if (count > 0 && !members)
        return -1;
    for (size_t position = 0; position < count; position++) {
        const raft_member_t *member = &members[position];
        if (member->id == 0 || !memchr (member->host, 0, sizeof (member->host)) ||
            member->client_port > MAX_PORT || member->peer_port > MAX_PORT ||
            member->pub_port > MAX_PORT)
            return -1;
        for (size_t other = 0; other < position; other++)
            if (members[other].id == member->id)
                return -1;
    }
    return 0;
}

static size_t
s_voters_in (const raft_member_t *members, size_t count)
{
    size_t voters = 0;
    for (size_t position = 0; position < count; position++)
        voters += members[position].voter;
    return voters;
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

//  A member the leader starts to feed: nothing known, probe from our end;
//  heard now, so a member just added or a new term has time to answer.
static void
s_progress_start (raft_core_t *self, progress_t *progress, uint32_t id)
{
    progress->id = id;
    progress->match_index = 0;
    progress->heartbeat_due = false;
    progress->heard_ms = self->now_ms;
    s_progress_probe (progress, s_last_index (self) + 1);
}

//  Makes members the configuration in effect (set by the entry at index),
//  keeping what we track of members that stay. Returns 0, or -1 when out
//  of memory (then nothing changed).
static int
s_set_config (raft_core_t *self, const raft_member_t *members, size_t count, uint64_t index)
{
    size_t slots = count > 0 ? count : 1;
    raft_member_t *new_members = (raft_member_t *)malloc (slots * sizeof (raft_member_t));
    peer_t *new_peers = (peer_t *)calloc (slots, sizeof (peer_t));
    uint32_t *voter_ids = (uint32_t *)calloc (slots, sizeof (uint32_t));
    uint64_t *match_scratch = (uint64_t *)calloc (slots, sizeof (uint64_t));
    bool allocated = new_members && new_peers && voter_ids && match_scratch;
    for (size_t position = 0; allocated && position < count; position++)
        if (s_member_position (self, members[position].id) == self->member_count) {
            new_peers[position].progress.inflight =
                (uint64_t *)calloc (self->max_inflight_messages, sizeof (uint64_t));
            allocated = new_peers[position].progress.inflight != NULL;
        }
    if (!allocated) {
        for (size_t position = 0; new_peers && position < count; position++)
            if (s_member_position (self, members[position].id) == self->member_count)
                free (new_peers[position].progress.inflight);
        free (new_members);
        free (new_peers);
        free (voter_ids);
        free (match_scratch);
        return -1;
    }
    size_t voter_count = 0;
    for (size_t position = 0; position < count; position++) {
        new_members[position] = members[position];
        size_t old = s_member_position (self, members[position].id);
        if (old < self->member_count) {
            //  The ring moves with it
            new_peers[position] = self->peers[old];
            self->peers[old].progress.inflight = NULL;
        } else
            s_progress_start (self, &new_peers[position].progress, members[position].id);
        if (members[position].voter)
            voter_ids[voter_count++] = members[position].id;
    }
    for (size_t old = 0; old < self->member_count; old++)
        free (self->peers[old].progress.inflight);
    free (self->members);
    free (self->peers);
    free (self->voter_ids);
    free (self->match_scratch);
    self->members = new_members;
    self->peers = new_peers;
    self->member_count = count;
    self->voter_ids = voter_ids;
    self->voter_count = voter_count;
    self->match_scratch = match_scratch;
    self->self_was_voter = self->self_is_voter;
    self->self_is_voter = s_is_voter (self, s_member_position (self, self->self_id));
    self->config_index = index;
    self->config_changed = true;
    return 0;
}

//  Decodes a configuration payload. Returns 0 and a malloc'd array, -1 if
//  the payload is malformed, -2 when out of memory.
static int
s_config_decode (const uint8_t *data, size_t size, raft_member_t **members_p, size_t *count_p)
{
    *members_p = NULL;
    *count_p = 0;
    Raftq__Peer__Configuration *packed = raftq__peer__configuration__unpack (NULL, size, data);
    if (!packed)
        return -1;
    int rc = 0;
    raft_member_t *members =
        (raft_member_t *)calloc (packed->n_members ? packed->n_members : 1, sizeof (raft_member_t));
    if (!members)
        rc = -2;
    for (size_t position = 0; rc == 0 && position < packed->n_members; position++) {
        const Raftq__Peer__Member *source = packed->members[position];
        raft_member_t *member = &members[position];
        const char *host = source->host ? source->host : "";
        if (strlen (host) >= sizeof (member->host)) {
            rc = -1;
            break;
        }
        member->id = source->id;
        member->voter = source->voter;
        strcpy (member->host, host);
        member->client_port = source->client_port;
        member->peer_port = source->peer_port;
        member->pub_port = source->pub_port;
    }
    if (rc == 0 && (s_members_check (members, packed->n_members) ||
                    s_voters_in (members, packed->n_members) == 0))
        rc = -1;
    if (rc == 0) {
        *members_p = members;
        *count_p = packed->n_members;
    } else
        free (members);
    raftq__peer__configuration__free_unpacked (packed, NULL);
    return rc;
}

//  A configuration takes effect as soon as its entry is in the log; a
//  malformed one is ignored, by every node alike. Returns 0, or -1 when
//  out of memory.
static int
s_adopt_config_entry (raft_core_t *self, const raft_entry_t *entry)
{
    raft_member_t *members;
    size_t count;
    int rc = s_config_decode (entry->data, entry->size, &members, &count);
    if (rc == -1)
        return 0;
    if (rc == 0)
        rc = s_set_config (self, members, count, entry->index);
    free (members);
    return rc;
}

//  The latest configuration in the log up to index (else the base one) into
//  a malloc'd array (free it), and the index of its entry. Returns NULL when
//  out of memory.
static raft_member_t *
s_config_up_to (raft_core_t *self, uint64_t index, size_t *count, uint64_t *config_index)
{
    for (; index > self->log_offset; index--) {
        raft_entry_t *entry = s_entry (self, index);
        raft_member_t *members;
        int rc = entry->type == RAFT_ENTRY_CONFIG
                     ? s_config_decode (entry->data, entry->size, &members, count)
                     : -1;
        if (rc == -2)
            return NULL;
        if (rc == 0) {
            *config_index = index;
            return members;
        }
    }
    *count = self->base_member_count;
    *config_index = self->log_offset;
    size_t bytes = (*count ? *count : 1) * sizeof (raft_member_t);
    raft_member_t *members = (raft_member_t *)malloc (bytes);
    if (members && *count)
        memcpy (members, self->base_members, bytes);
    return members;
}

//  The entry that set the configuration was truncated: the latest
//  configuration left in the log rules, else the base one.
static void
s_revert_config (raft_core_t *self)
{
    size_t count;
    uint64_t index;
    raft_member_t *members = s_config_up_to (self, s_last_index (self), &count, &index);
    if (!members || s_set_config (self, members, count, index)) {
        free (members);
        return;
    }
    free (members);
    //  Whether we were a voter before it, for s_may_campaign
    uint64_t previous_index;
    members =
        index > self->log_offset ? s_config_up_to (self, index - 1, &count, &previous_index) : NULL;
    self->self_was_voter = false;
    for (size_t position = 0; members && position < count; position++)
        if (members[position].id == self->self_id)
            self->self_was_voter = members[position].voter;
    free (members);
}

//  --------------------------------------------------------------------------
//  Log

//  Appends a copy of an entry after the last; a configuration entry takes
//  effect at once. Returns 0, or -1 when out of memory (nothing appended).
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
    if (type == RAFT_ENTRY_CONFIG && s_adopt_config_entry (self, entry)) {
        //  Never handed out: it can go as if it never came
        self->log_count--;
        free (copy);
        return -1;
    }
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
    if (self->config_index >= from_index)
        s_revert_config (self);
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
    outgoing->queued_term = self->term;
    outgoing->message.type = type;
    outgoing->message.from = self->self_id;
    outgoing->message.to = to;
    outgoing->message.term = self->term;
    return &outgoing->message;
}

static void
s_send_vote_reply (raft_core_t *self, raft_message_type_t type, uint32_t to, uint64_t term,
                   bool granted)
{
    raft_message_t *reply = s_queue (self, type, to, 0);
    if (reply) {
        reply->term = term;
        reply->granted = granted;
    }
}

//  Asks every other voter for its vote (or pre-vote) in term; transfer says
//  the leader handed over.
static void
s_request_votes (raft_core_t *self, raft_message_type_t type, uint64_t term, bool transfer)
{
    uint64_t last_index = s_last_index (self);
    uint64_t last_term = s_last_term (self);
    for (size_t position = 0; position < self->voter_count; position++) {
        if (self->voter_ids[position] == self->self_id)
            continue;
        raft_message_t *request = s_queue (self, type, self->voter_ids[position], 0);
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
    return self->self_is_voter && s_majority (self) <= 1;
}

//  Counts a (pre-)vote granted by the member at position; only voters
//  count. Returns true once a majority granted.
static bool
s_tally (raft_core_t *self, size_t position)
{
    if (!s_is_voter (self, position))
        return false;
    self->peers[position].vote_granted = true;
    size_t granted = 0;
    for (size_t other = 0; other < self->member_count; other++)
        granted += s_is_voter (self, other) && self->peers[other].vote_granted;
    return granted >= s_majority (self);
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

static void
s_become_leader (raft_core_t *self)
{
    s_set_role (self, RAFT_ROLE_LEADER, self->self_id);
    for (size_t position = 0; position < self->member_count; position++)
        s_progress_start (self, &self->peers[position].progress, self->members[position].id);
    self->heartbeat_deadline_ms = self->now_ms + self->heartbeat_ms;
    //  Earlier terms' entries commit only with one of our own (Raft 5.4.2),
    //  so we append one at once: the bootstrap configuration if the log
    //  holds none yet (then every node learns it from the log: a joining
    //  one, or one built from a snapshot), else a no-op. If it cannot be
    //  allocated the first proposal plays that part.
    self->term_start_index = s_last_index (self) + 1;
    if (self->config_index == 0) {
        size_t size;
        uint8_t *payload = raft_core_config_encode (self->members, self->member_count, &size);
        int rc = payload ? s_log_append (self, self->term, RAFT_ENTRY_CONFIG, payload, size) : -1;
        free (payload);
        if (rc == 0)
            return;
    }
    s_log_append (self, self->term, RAFT_ENTRY_NOOP, NULL, 0);
}

//  Stands for the next term; transfer says the leader asked us to.
static void
s_campaign (raft_core_t *self, bool transfer)
{
    self->term++;
    self->voted_for = self->self_id;
    self->hard_state_changed = true;
    s_clear_pending_ack (self);
    s_set_role (self, RAFT_ROLE_CANDIDATE, 0);
    s_reset_election_timer (self);
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
    s_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    s_reset_election_timer (self);
    if (s_start_tally (self)) {
        s_campaign (self, false);
        return;
    }
    self->pre_voting = true;
    s_request_votes (self, RAFT_MESSAGE_PRE_VOTE, self->term + 1, false);
}

//  --------------------------------------------------------------------------
//  Leader: commit and replication

//  Our removal (or demotion) is committed: the most up-to-date voter is
//  told to campaign at once, then we step down, never to campaign again.
static void
s_leader_retire (raft_core_t *self)
{
    size_t best = self->member_count;
    for (size_t position = 0; position < self->member_count; position++)
        if (s_is_voter (self, position) && self->members[position].id != self->self_id &&
            (best == self->member_count ||
             self->peers[position].progress.match_index > self->peers[best].progress.match_index))
            best = position;
    if (best < self->member_count)
        s_queue (self, RAFT_MESSAGE_TIMEOUT_NOW, self->members[best].id, 0);
    s_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    s_reset_election_timer (self);
}

static void
s_leader_maybe_commit (raft_core_t *self)
{
    size_t count = 0;
    for (size_t position = 0; position < self->member_count; position++) {
        if (!self->members[position].voter)
            continue;
        uint64_t match = self->members[position].id == self->self_id
                             ? self->persisted_index
                             : self->peers[position].progress.match_index;
        //  Insertion sort, descending: configurations are tiny
        size_t slot = count++;
        while (slot > 0 && self->match_scratch[slot - 1] < match) {
            self->match_scratch[slot] = self->match_scratch[slot - 1];
            slot--;
        }
        self->match_scratch[slot] = match;
    }
    if (count == 0)
        return;
    uint64_t quorum_index = self->match_scratch[s_majority (self) - 1];
    if (quorum_index > self->commit_index && s_term_at (self, quorum_index) == self->term) {
        self->commit_index = quorum_index;
        //  Tell followers with nothing else coming soon
        for (size_t position = 0; position < self->member_count; position++)
            if (self->peers[position].progress.mode == PROGRESS_REPLICATE)
                self->peers[position].progress.heartbeat_due = true;
    }
    if (!self->self_is_voter && self->commit_index >= self->config_index)
        s_leader_retire (self);
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

//  Asks the caller for the chunk the follower expects next.
static void
s_request_chunk (raft_core_t *self, progress_t *progress)
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

//  The follower needs entries we compacted away: stream it our snapshot,
//  a chunk per answer, and the expected chunk again after a heartbeat
//  interval of silence (a chunk or an answer was lost). Meanwhile it gets
//  no AppendEntries: the chunks are its heartbeats.
static void
s_leader_want_snapshot (raft_core_t *self, progress_t *progress)
{
    if (!progress->snapshot_pending) {
        s_progress_probe (progress, self->log_offset + 1);
        progress->probe_sent = true;
        progress->snapshot_pending = true;
        progress->snapshot_index = 0;
        progress->snapshot_offset = 0;
        s_request_chunk (self, progress);
    } else if (progress->heartbeat_due &&
               self->now_ms >= progress->snapshot_ms + self->heartbeat_ms)
        s_request_chunk (self, progress);
}

//  The follower says how much of which snapshot it holds: ask for what
//  comes next (nothing once it is complete: its install is acknowledged
//  like an AppendEntries). An answer that says nothing new is a duplicate.
static void
s_handle_snapshot_reply (raft_core_t *self, const raft_message_t *reply, progress_t *progress)
{
    if (!progress->snapshot_pending || (reply->snapshot_index == progress->snapshot_index &&
                                        reply->offset == progress->snapshot_offset))
        return;
    progress->snapshot_index = reply->snapshot_index;
    progress->snapshot_offset = reply->offset;
    if (reply->done)
        progress->snapshot_ms = self->now_ms;
    else
        s_request_chunk (self, progress);
}

//  Sends what each follower's progress allows; called when the ready is
//  collected so that every proposal of a loop turn shares the messages.
static void
s_leader_flush (raft_core_t *self)
{
    uint64_t last_index = s_last_index (self);
    for (size_t position = 0; position < self->member_count; position++) {
        progress_t *progress = &self->peers[position].progress;
        if (progress->id == self->self_id)
            continue;
        if (progress->snapshot_pending || progress->next_index <= self->log_offset) {
            s_leader_want_snapshot (self, progress);
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

//  Transfer: once the target holds our whole log, tell it to campaign. Sent
//  again on each of its acknowledgements while we still lead, in case one
//  is lost; once it campaigns, its higher term makes us step down.
static void
s_maybe_send_timeout_now (raft_core_t *self, const progress_t *progress)
{
    if (self->role == RAFT_ROLE_LEADER && self->transfer_target == progress->id &&
        progress->match_index == s_last_index (self))
        s_queue (self, RAFT_MESSAGE_TIMEOUT_NOW, progress->id, 0);
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
            //  The match point is found (or a snapshot installed): pipeline from it
            progress->snapshot_pending = false;
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
        s_maybe_send_timeout_now (self, progress);
        s_leader_maybe_commit (self);
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
        s_progress_probe (progress, reply->conflict_index);
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

//  A leader that has not heard from a majority of voters for the minimum
//  election timeout is probably cut off from it (and the majority may have
//  elected another leader): it steps down in its term, so clients are told
//  there is no leader here instead of waiting for commits that cannot come.
static void
s_leader_check_quorum (raft_core_t *self)
{
    size_t heard = 0;
    for (size_t position = 0; position < self->member_count; position++)
        if (self->members[position].voter &&
            (self->members[position].id == self->self_id ||
             self->now_ms <
                 self->peers[position].progress.heard_ms + self->election_timeout_min_ms))
            heard++;
    if (heard >= s_majority (self))
        return;
    s_set_role (self, RAFT_ROLE_FOLLOWER, 0);
    s_reset_election_timer (self);
}

//  --------------------------------------------------------------------------
//  Leader: membership changes

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
            !s_is_voter (self, s_member_position (self, members[position].id)))
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

//  Whether the learner at position has caught up with our log.
static bool
s_caught_up (raft_core_t *self, size_t position)
{
    const progress_t *progress = &self->peers[position].progress;
    return progress->mode == PROGRESS_REPLICATE &&
           progress->match_index + self->catch_up_entries >= s_last_index (self) &&
           self->now_ms < progress->heard_ms + self->election_timeout_min_ms;
}

//  Builds the configuration after one change to member id (copy of the
//  current one) in a malloc'd array: change "promote" makes it a voter,
//  "remove" drops it. Returns NULL if id is not a member or out of memory.
static raft_member_t *
s_changed_members (raft_core_t *self, uint32_t id, bool remove, size_t *count)
{
    size_t position = s_member_position (self, id);
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

//  A caught-up learner becomes a voter, unless the caller promotes itself.
static void
s_leader_promote_caught_up (raft_core_t *self)
{
    if (self->manual_promotion || !s_config_change_allowed (self))
        return;
    for (size_t position = 0; position < self->member_count; position++)
        if (!self->members[position].voter && self->members[position].id != self->self_id &&
            s_caught_up (self, position)) {
            raft_core_promote (self, self->members[position].id, NULL);
            return;
        }
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
            s_send_append_success (self, request->from, prev_index);
            return;
        }
    } else if (prev_index > s_last_index (self) ||
               s_term_at (self, prev_index) != request->prev_log_term) {
        s_send_append_rejection (self, request->from, prev_index);
        return;
    }
    //  Skip what we already hold; only a real conflict truncates, so a stale
    //  or reordered AppendEntries never deletes newer matching entries
    size_t position = 0;
    while (position < entry_count) {
        const raft_entry_t *entry = &entries[position];
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
    for (; position < entry_count; position++) {
        const raft_entry_t *entry = &entries[position];
        if (s_log_append (self, entry->term, entry->type, entry->data, entry->size))
            return; //  out of memory: no reply, the leader will retry
    }
    uint64_t end_index = prev_index + entry_count;
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
//  Follower: InstallSnapshot

//  Queues a copy of a chunk for the ready. Returns 0 or -1.
static int
s_take_chunk (raft_core_t *self, const raft_message_t *chunk)
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

//  Takes a chunk of the leader's snapshot if it is the next one expected
//  (offset 0 starts over) and drops any other; either way answers how much
//  of that sender's snapshot we hold, so it sends what we expect next.
static void
s_handle_snapshot_chunk (raft_core_t *self, const raft_message_t *chunk)
{
    if (chunk->snapshot_index <= self->commit_index) {
        //  We hold all that already, committed: the leader can go on from there
        s_send_append_success (self, chunk->from, chunk->snapshot_index);
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
    if (same && !self->receiving_done && self->receiving_offset == chunk->offset &&
        s_take_chunk (self, chunk) == 0) {
        self->receiving_offset += chunk->data_size;
        if (chunk->done) {
            self->receiving_done = true;
            self->installing_from = chunk->from;
        }
    }
    raft_message_t *reply = s_queue (self, RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY, chunk->from, 0);
    if (reply) {
        reply->snapshot_index = chunk->snapshot_index;
        reply->offset = same ? self->receiving_offset : 0;
        reply->done = same && self->receiving_done;
    }
}

static void
s_free_chunks (raft_core_t *self)
{
    for (size_t position = 0; position < self->chunk_count; position++)
        free ((uint8_t *)self->chunks[position].data);
    self->chunk_count = 0;
}

//  --------------------------------------------------------------------------
//  Votes

static void
s_handle_vote_request (raft_core_t *self, const raft_message_t *request)
{
    bool free_to_vote = self->voted_for == 0 || self->voted_for == request->from;
    bool granted = free_to_vote && self->role == RAFT_ROLE_FOLLOWER &&
                   s_log_up_to_date (self, request->last_log_index, request->last_log_term);
    if (granted) {
        if (self->voted_for != request->from) {
            self->voted_for = request->from;
            self->hard_state_changed = true;
        }
        s_reset_election_timer (self);
    }
    s_send_vote_reply (self, RAFT_MESSAGE_REQUEST_VOTE_REPLY, request->from, self->term, granted);
}

static void
s_handle_vote_reply (raft_core_t *self, const raft_message_t *reply, size_t position)
{
    if (self->role == RAFT_ROLE_CANDIDATE && reply->granted && s_tally (self, position))
        s_become_leader (self);
}

//  A pre-vote changes no state here: granted if the candidate's term would
//  be above ours, no leader is known to be alive and its log is up to date;
//  a refusal carries our term so a candidate that is behind catches up.
static void
s_handle_pre_vote_request (raft_core_t *self, const raft_message_t *request)
{
    bool granted = request->term > self->term && !s_leader_alive (self) &&
                   s_log_up_to_date (self, request->last_log_index, request->last_log_term);
    s_send_vote_reply (self, RAFT_MESSAGE_PRE_VOTE_REPLY, request->from,
                       granted ? request->term : self->term, granted);
}

static void
s_handle_pre_vote_reply (raft_core_t *self, const raft_message_t *reply, size_t position)
{
    if (reply->granted) {
        if (self->pre_voting && reply->term == self->term + 1 && s_tally (self, position))
            s_campaign (self, false);
    } else if (reply->term > self->term)
        s_adopt_term (self, reply->term);
}

//  --------------------------------------------------------------------------
//  Public API

//  Copies the bootstrap configuration of options into members. Returns a
//  malloc'd array, or NULL if the options are invalid or out of memory.
static raft_member_t *
s_bootstrap_members (const raft_core_options_t *options, size_t *count)
{
    if (options->member_count > 0) {
        *count = options->member_count;
        if (s_members_check (options->members, options->member_count))
            return NULL;
    } else {
        *count = options->voter_count;
        if (options->voter_count > 0 && !options->voters)
            return NULL;
    }
    raft_member_t *members = (raft_member_t *)calloc (*count ? *count : 1, sizeof (raft_member_t));
    if (!members)
        return NULL;
    if (options->member_count > 0)
        memcpy (members, options->members, *count * sizeof (raft_member_t));
    else
        for (size_t position = 0; position < *count; position++) {
            members[position].id = options->voters[position];
            members[position].voter = true;
        }
    if (s_members_check (members, *count)) {
        free (members);
        return NULL;
    }
    return members;
}

raft_core_t *
raft_core_new (const raft_core_options_t *options)
{
    if (!options || options->self_id == 0 || options->heartbeat_ms == 0 ||
        options->election_timeout_min_ms == 0 ||
        options->election_timeout_min_ms > options->election_timeout_max_ms)
        return NULL;
    raft_core_t *self = (raft_core_t *)calloc (1, sizeof (raft_core_t));
    if (!self)
        return NULL;
    self->self_id = options->self_id;
    self->max_entries_per_message = options->max_entries_per_message
                                        ? options->max_entries_per_message
                                        : DEFAULT_MAX_ENTRIES_PER_MESSAGE;
    self->max_bytes_per_message = options->max_bytes_per_message ? options->max_bytes_per_message
                                                                 : DEFAULT_MAX_BYTES_PER_MESSAGE;
    self->max_inflight_messages = options->max_inflight_messages ? options->max_inflight_messages
                                                                 : DEFAULT_MAX_INFLIGHT_MESSAGES;
    self->manual_promotion = options->manual_promotion;
    self->catch_up_entries =
        options->catch_up_entries ? options->catch_up_entries : self->max_entries_per_message;
    self->heartbeat_ms = options->heartbeat_ms;
    self->election_timeout_min_ms = options->election_timeout_min_ms;
    self->election_timeout_max_ms = options->election_timeout_max_ms;
    self->random_state = options->random_seed;
    self->now_ms = options->now_ms;
    self->term = options->term;
    self->voted_for = options->voted_for;
    self->role = RAFT_ROLE_FOLLOWER;
    self->unsaved_from = 1;
    self->base_members = s_bootstrap_members (options, &self->base_member_count);
    if (!self->base_members ||
        s_set_config (self, self->base_members, self->base_member_count, 0)) {
        raft_core_destroy (&self);
        return NULL;
    }
    self->config_changed = false; //  the caller knows its bootstrap configuration
    self->self_was_voter = false;
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
    for (size_t position = 0; position < self->member_count; position++)
        free (self->peers[position].progress.inflight);
    free (self->members);
    free (self->peers);
    free (self->voter_ids);
    free (self->match_scratch);
    free (self->base_members);
    s_free_chunks (self);
    free (self->chunks);
    free (self->sends);
    free (self->outbox);
    free (self->sending);
    free (self);
    *self_p = NULL;
}

//  Replaces the base configuration (as of the log's start) by a copy of
//  members and makes it the one in effect, set at index. Returns 0 or -1
//  (nothing changed) when invalid or out of memory.
static int
s_set_base_config (raft_core_t *self, const raft_member_t *members, size_t count, uint64_t index)
{
    if (s_members_check (members, count) || (count > 0 && s_voters_in (members, count) == 0))
        return -1;
    raft_member_t *base = (raft_member_t *)malloc ((count ? count : 1) * sizeof (raft_member_t));
    if (!base)
        return -1;
    if (count > 0)
        memcpy (base, members, count * sizeof (raft_member_t));
    if (s_set_config (self, base, count, index)) {
        free (base);
        return -1;
    }
    free (self->base_members);
    self->base_members = base;
    self->base_member_count = count;
    return 0;
}

//  Drops the whole log: it continues after index, whose entry had term,
//  covered by a snapshot that counts as committed, applied and persisted.
static void
s_log_reset (raft_core_t *self, uint64_t index, uint64_t term)
{
    for (size_t position = 0; position < self->log_count; position++) {
        free (self->log[position].data);
        self->log[position].data = NULL;
    }
    self->log_count = 0;
    self->log_offset = index;
    self->log_offset_term = term;
    self->persisted_index = index;
    self->unsaved_from = index + 1;
    self->truncated_from = 0;
    if (self->commit_index < index)
        self->commit_index = index;
    if (self->applied_index < index)
        self->applied_index = index;
}

int
raft_core_restore_snapshot (raft_core_t *self, uint64_t index, uint64_t term,
                            const raft_member_t *members, size_t count)
{
    if (self->started || self->log_count > 0 || self->log_offset > 0 || index == 0 || term == 0 ||
        term > self->term || s_set_base_config (self, members, count, index))
        return -1;
    s_log_reset (self, index, term);
    self->config_changed = false; //  restoring is part of creation
    self->self_was_voter = false;
    return 0;
}

int
raft_core_snapshot_installed (raft_core_t *self, uint64_t index, uint64_t term,
                              const raft_member_t *members, size_t count)
{
    self->started = true;
    if (index <= self->commit_index || term == 0 || term > self->term || count == 0 ||
        s_set_base_config (self, members, count, index))
        return -1;
    s_log_reset (self, index, term);
    s_clear_pending_ack (self);
    uint32_t leader = self->installing_from ? self->installing_from : self->leader_id;
    self->installing_from = 0;
    if (leader)
        s_send_append_success (self, leader, index);
    return 0;
}

int
raft_core_compact (raft_core_t *self, uint64_t up_to_index)
{
    self->started = true;
    if (up_to_index <= self->log_offset || up_to_index > self->applied_index ||
        self->ready_outstanding)
        return -1;
    size_t count;
    uint64_t config_index;
    raft_member_t *base = s_config_up_to (self, up_to_index, &count, &config_index);
    if (!base)
        return -1;
    uint64_t term = s_term_at (self, up_to_index);
    size_t dropped = (size_t)(up_to_index - self->log_offset);
    for (size_t position = 0; position < dropped; position++)
        free (self->log[position].data);
    memmove (self->log, self->log + dropped, (self->log_count - dropped) * sizeof (raft_entry_t));
    self->log_count -= dropped;
    self->log_offset = up_to_index;
    self->log_offset_term = term;
    free (self->base_members);
    self->base_members = base;
    self->base_member_count = count;
    return 0;
}

raft_member_t *
raft_core_config_as_of (raft_core_t *self, uint64_t index, size_t *count)
{
    if (index < self->log_offset || index > s_last_index (self))
        return NULL;
    uint64_t config_index;
    return s_config_up_to (self, index, count, &config_index);
}

uint64_t
raft_core_snapshot_index (raft_core_t *self)
{
    return self->log_offset;
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
    self->config_changed = false; //  restoring is part of creation
    return 0;
}

void
raft_core_tick (raft_core_t *self, uint64_t now_ms)
{
    self->started = true;
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
    if (self->role == RAFT_ROLE_LEADER) {
        s_leader_check_quorum (self);
        if (self->transfer_target && self->now_ms >= self->transfer_deadline_ms)
            self->transfer_target = 0; //  the target did not take over: lead on
    }
    if (self->role == RAFT_ROLE_LEADER) {
        if (self->now_ms >= self->heartbeat_deadline_ms) {
            self->heartbeat_deadline_ms = self->now_ms + self->heartbeat_ms;
            for (size_t position = 0; position < self->member_count; position++)
                self->peers[position].progress.heartbeat_due = true;
        }
    } else if (self->now_ms >= self->election_deadline_ms) {
        if (s_may_campaign (self))
            s_start_pre_vote (self);
        else
            s_reset_election_timer (self);
    }
}

void
raft_core_receive (raft_core_t *self, const raft_message_t *message)
{
    self->started = true;
    if (!message || message->to != self->self_id || message->from == 0 ||
        message->from == self->self_id || message->term == 0)
        return;
    //  Anyone may speak: a leader not (yet) in our configuration is how a
    //  joining node hears of the cluster. Votes and replies count only from
    //  members, at this position
    size_t position = s_member_position (self, message->from);
    switch (message->type) {
    case RAFT_MESSAGE_APPEND_ENTRIES:
        if (s_check_append (message))
            return;
        break;
    case RAFT_MESSAGE_INSTALL_SNAPSHOT:
        if (message->data_size > 0 && !message->data)
            return;
        break;
    case RAFT_MESSAGE_REQUEST_VOTE:
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
    case RAFT_MESSAGE_APPEND_ENTRIES_REPLY:
    case RAFT_MESSAGE_TIMEOUT_NOW:
    case RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY:
        break;
    case RAFT_MESSAGE_PRE_VOTE:
        //  Terms in pre-votes are hypothetical: nobody adopts them
        s_handle_pre_vote_request (self, message);
        return;
    case RAFT_MESSAGE_PRE_VOTE_REPLY:
        s_handle_pre_vote_reply (self, message, position);
        return;
    default:
        return;
    }
    //  While our leader is alive a higher term is ignored from a candidate
    //  (no vote, no new term): it is a node that was cut off or removed,
    //  not a sign that the leader is gone
    if (message->type == RAFT_MESSAGE_REQUEST_VOTE && message->term > self->term &&
        !message->transfer && s_leader_alive (self))
        return;
    if (message->term < self->term) {
        //  Tell a stale candidate or leader our term so it steps down;
        //  stale replies carry nothing we need
        if (message->type == RAFT_MESSAGE_REQUEST_VOTE)
            s_send_vote_reply (self, RAFT_MESSAGE_REQUEST_VOTE_REPLY, message->from, self->term,
                               false);
        else if (message->type == RAFT_MESSAGE_APPEND_ENTRIES ||
                 message->type == RAFT_MESSAGE_INSTALL_SNAPSHOT)
            s_send_append_rejection (self, message->from, message->prev_log_index);
        return;
    }
    if (message->term > self->term)
        s_adopt_term (self, message->term);
    if (self->role == RAFT_ROLE_LEADER && position < self->member_count)
        self->peers[position].progress.heard_ms = self->now_ms;

    switch (message->type) {
    case RAFT_MESSAGE_REQUEST_VOTE:
        s_handle_vote_request (self, message);
        break;
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
        s_handle_vote_reply (self, message, position);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES:
    case RAFT_MESSAGE_INSTALL_SNAPSHOT:
        if (self->role == RAFT_ROLE_LEADER)
            return; //  two leaders in one term cannot be: not a message we trust
        s_set_role (self, RAFT_ROLE_FOLLOWER, message->from);
        self->leader_contact_ms = self->now_ms;
        s_reset_election_timer (self);
        if (message->type == RAFT_MESSAGE_APPEND_ENTRIES)
            s_handle_append (self, message);
        else
            s_handle_snapshot_chunk (self, message);
        break;
    case RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY:
        if (self->role == RAFT_ROLE_LEADER && position < self->member_count)
            s_handle_snapshot_reply (self, message, &self->peers[position].progress);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES_REPLY:
        if (self->role == RAFT_ROLE_LEADER && position < self->member_count)
            s_handle_append_reply (self, message, &self->peers[position].progress);
        break;
    case RAFT_MESSAGE_TIMEOUT_NOW:
        //  Our leader hands over: no pre-vote, it is not waiting for a timeout
        if (self->role != RAFT_ROLE_LEADER && s_may_campaign (self))
            s_campaign (self, true);
        break;
    default: //  pre-votes were handled above
        break;
    }
}

int
raft_core_transfer_leadership (raft_core_t *self, uint32_t target_id)
{
    self->started = true;
    size_t position = s_member_position (self, target_id);
    if (self->role != RAFT_ROLE_LEADER || target_id == self->self_id ||
        !s_is_voter (self, position))
        return -1;
    if (self->transfer_target != target_id) {
        self->transfer_target = target_id;
        self->transfer_deadline_ms = self->now_ms + self->election_timeout_max_ms;
        s_maybe_send_timeout_now (self, &self->peers[position].progress);
    }
    return 0;
}

uint32_t
raft_core_transfer_target (raft_core_t *self)
{
    return self->transfer_target;
}

int
raft_core_propose (raft_core_t *self, const uint8_t *data, size_t size, uint64_t *index)
{
    self->started = true;
    if (self->role != RAFT_ROLE_LEADER || self->transfer_target || (size > 0 && !data))
        return -1;
    if (s_log_append (self, self->term, RAFT_ENTRY_COMMAND, data, size))
        return -1;
    if (index)
        *index = s_last_index (self);
    return 0;
}

int
raft_core_propose_config (raft_core_t *self, const raft_member_t *members, size_t count,
                          uint64_t *index)
{
    self->started = true;
    if (!s_config_change_allowed (self) || s_members_check (members, count) ||
        s_voters_in (members, count) == 0 || s_voter_changes (self, members, count) > 1)
        return -1;
    size_t size;
    uint8_t *payload = raft_core_config_encode (members, count, &size);
    if (!payload)
        return -1;
    int rc = s_log_append (self, self->term, RAFT_ENTRY_CONFIG, payload, size);
    free (payload);
    if (rc)
        return -1;
    if (index)
        *index = s_last_index (self);
    return 0;
}

int
raft_core_add_learner (raft_core_t *self, const raft_member_t *member, uint64_t *index)
{
    if (!member || s_member_position (self, member->id) < self->member_count)
        return -1;
    raft_member_t *members =
        (raft_member_t *)malloc ((self->member_count + 1) * sizeof (raft_member_t));
    if (!members)
        return -1;
    if (self->member_count > 0)
        memcpy (members, self->members, self->member_count * sizeof (raft_member_t));
    members[self->member_count] = *member;
    members[self->member_count].voter = false;
    int rc = raft_core_propose_config (self, members, self->member_count + 1, index);
    free (members);
    return rc;
}

int
raft_core_promote (raft_core_t *self, uint32_t id, uint64_t *index)
{
    size_t position = s_member_position (self, id);
    if (position == self->member_count || self->members[position].voter)
        return -1;
    size_t count;
    raft_member_t *members = s_changed_members (self, id, false, &count);
    int rc = members ? raft_core_propose_config (self, members, count, index) : -1;
    free (members);
    return rc;
}

int
raft_core_remove (raft_core_t *self, uint32_t id, uint64_t *index)
{
    size_t count;
    raft_member_t *members = s_changed_members (self, id, true, &count);
    int rc = members ? raft_core_propose_config (self, members, count, index) : -1;
    free (members);
    return rc;
}

bool
raft_core_learner_caught_up (raft_core_t *self, uint32_t id)
{
    size_t position = s_member_position (self, id);
    return self->role == RAFT_ROLE_LEADER && position < self->member_count && id != self->self_id &&
           !self->members[position].voter && s_caught_up (self, position);
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
    if (self->role == RAFT_ROLE_LEADER) {
        s_leader_promote_caught_up (self);
        s_leader_flush (self);
    }

    bool work = false;
    ready->term = self->term;
    ready->voted_for = self->voted_for;
    ready->role = self->role;
    ready->leader_id = self->leader_id;
    ready->members = self->members;
    ready->member_count = self->member_count;
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
    if (self->config_changed) {
        ready->config_changed = true;
        self->config_changed = false;
        work = true;
    }
    if (self->send_count > 0) {
        ready->snapshot_sends = self->sends;
        ready->snapshot_send_count = self->send_count;
        work = true;
    }
    if (self->chunk_count > 0) {
        ready->snapshot_chunks = self->chunks;
        ready->snapshot_chunk_count = self->chunk_count;
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
        if (outgoing->queued_term != self->term)
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
    if (self->ready_outstanding) {
        s_free_chunks (self);
        self->send_count = 0;
    }
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
    return self->voter_ids;
}

const raft_member_t *
raft_core_members (raft_core_t *self, size_t *count)
{
    if (count)
        *count = self->member_count;
    return self->members;
}

uint64_t
raft_core_config_index (raft_core_t *self)
{
    return self->config_index;
}

int
raft_core_progress (raft_core_t *self, uint32_t id, raft_progress_t *progress)
{
    size_t position = s_member_position (self, id);
    if (self->role != RAFT_ROLE_LEADER || position == self->member_count || id == self->self_id)
        return -1;
    const progress_t *tracked = &self->peers[position].progress;
    progress->match_index = tracked->match_index;
    progress->next_index = tracked->next_index;
    progress->replicating = tracked->mode == PROGRESS_REPLICATE;
    progress->heard_ms = tracked->heard_ms;
    return 0;
}

uint8_t *
raft_core_config_encode (const raft_member_t *members, size_t count, size_t *size)
{
    Raftq__Peer__Member *packed_members =
        (Raftq__Peer__Member *)calloc (count ? count : 1, sizeof (Raftq__Peer__Member));
    Raftq__Peer__Member **pointers =
        (Raftq__Peer__Member **)calloc (count ? count : 1, sizeof (Raftq__Peer__Member *));
    uint8_t *payload = NULL;
    if (packed_members && pointers) {
        for (size_t position = 0; position < count; position++) {
            Raftq__Peer__Member *member = &packed_members[position];
            raftq__peer__member__init (member);
            member->id = members[position].id;
            member->voter = members[position].voter;
            //  protobuf-c only reads the string, it never writes through it
            member->host = (char *)members[position].host;
            member->client_port = members[position].client_port;
            member->peer_port = members[position].peer_port;
            member->pub_port = members[position].pub_port;
            pointers[position] = member;
        }
        Raftq__Peer__Configuration configuration = RAFTQ__PEER__CONFIGURATION__INIT;
        configuration.members = pointers;
        configuration.n_members = count;
        *size = raftq__peer__configuration__get_packed_size (&configuration);
        //  An empty message packs to no byte at all: keep a real buffer
        payload = (uint8_t *)malloc (*size ? *size : 1);
        if (payload)
            raftq__peer__configuration__pack (&configuration, payload);
    }
    free (packed_members);
    free (pointers);
    return payload;
}

raft_member_t *
raft_core_config_decode (const uint8_t *data, size_t size, size_t *count)
{
    raft_member_t *members;
    size_t decoded;
    if (s_config_decode (data, size, &members, &decoded))
        return NULL;
    if (count)
        *count = decoded;
    return members;
}
