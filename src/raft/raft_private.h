/*  raft_private — what the files of the Raft core share, and nobody else.

    The core's state (struct _raft_core_t), what the leader tracks of each
    member, the queued messages, the small log and configuration lookups
    every concern needs (inline: they sit on every message's path), and the
    functions one concern offers the others. The shell and the tests use
    raft/raft_core.h only.

    One file a concern:
      raft_core.c           creation, destruction, receiving a message
      raft_log.c            the in-memory log: append, truncate, reset, restore
      raft_configuration.c  members, the configuration in effect, its payload
      raft_progress.c       the leader's view of each follower's replication
      raft_outbox.c         messages and actions queued for the shell: the ready
      raft_election.c       roles, timers, pre-vote and votes, check-quorum, transfer
      raft_replication.c    leader send and commit, follower AppendEntries
      raft_membership.c     learners, promotion, add and remove
      raft_snapshot.c       InstallSnapshot both ways, compaction, restore
      raft_read.c           linearizable reads: heartbeat rounds, read indexes
*/
#ifndef RAFT_PRIVATE_H_INCLUDED
#define RAFT_PRIVATE_H_INCLUDED

#include "raft/raft_core.h"

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
    uint64_t commit_sent;     //  commit index the last AppendEntries to it carried
    uint64_t heard_ms;        //  last time a message of our term came from it
    bool snapshot_pending;    //  it is sent a snapshot: no AppendEntries meanwhile
    uint64_t snapshot_index;  //  index of the snapshot streamed, 0 until it answered
    uint64_t snapshot_offset; //  next byte it expects
    uint64_t snapshot_ms;     //  when the last chunk was asked for
    uint64_t read_round;      //  highest read round it answered in this term
    uint64_t *inflight;       //  ring: last index carried by each unacknowledged AppendEntries
    size_t inflight_head;     //  ring position of the oldest
    size_t inflight_count;    //  AppendEntries in flight
} progress_t;

//  What this node tracks of one member of the configuration.
typedef struct {
    progress_t progress; //  leader: its replication (unused for ourselves)
    bool vote_granted;   //  candidate or pre-voting: it granted us its vote
} peer_t;

//  A read the leader holds until a heartbeat round confirms it.
typedef struct {
    uint64_t id;    //  the caller's id
    uint64_t index; //  read index, 0 until an entry of our term is committed
    uint64_t round; //  the heartbeat round, sent after the read arrived, that confirms it
} pending_read_t;

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
    uint64_t max_snapshot_bytes;      //  a received snapshot may not grow past this
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
    uint64_t commit_noticed;       //  leader: commit index at the last raft_core_notice_commit

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

    raft_entry_t *log;        //  entries log_offset+1 .. log_offset+log_count, from log [log_start]
    size_t log_start;         //  array position of entry log_offset+1 (a dropped prefix before it)
    size_t log_count;         //  entries held
    size_t log_capacity;      //  entries allocated
    uint64_t log_offset;      //  index before log[log_start] (a compacted prefix ends there)
    uint64_t log_offset_term; //  term of that entry
    uint64_t persisted_index; //  log is durable up to here
    uint64_t unsaved_from;    //  first entry not yet handed out to persist
    uint64_t handed_out_index; //  highest entry ever handed out to persist (or restored)
    uint64_t truncated_from;   //  lowest truncation of handed-out entries, 0 if none
    uint64_t commit_index;     //  highest entry known committed
    uint64_t applied_index;    //  highest entry handed out as committed

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

    size_t max_pending_reads;      //  bound on pending reads
    pending_read_t *reads_pending; //  leader: reads taken, in arrival order
    size_t pending_count;          //  how many
    size_t pending_capacity;       //  allocated
    raft_read_t *reads_settled;    //  reads settled for the ready, in order
    size_t settled_count;          //  how many
    size_t settled_capacity;       //  allocated: room for the pending reads too
    size_t settled_handed_out;     //  the first of them the last ready handed out
    uint64_t read_round;           //  leader: latest heartbeat round started
    bool read_round_wanted;        //  leader: a pending read waits for the next round
    uint64_t leader_read_round;    //  follower: highest round seen from the leader of this term
};

//  --------------------------------------------------------------------------
//  Lookups used everywhere

static inline uint64_t
raft_log_last_index (raft_core_t *self)
{
    return self->log_offset + self->log_count;
}

//  Entry at index, or NULL when the log does not hold it.
static inline raft_entry_t *
raft_log_entry (raft_core_t *self, uint64_t index)
{
    if (index <= self->log_offset || index > raft_log_last_index (self))
        return NULL;
    return &self->log[self->log_start + (index - self->log_offset - 1)];
}

//  Term of the entry at index; 0 for index 0 or an index the log lacks.
static inline uint64_t
raft_log_term_at (raft_core_t *self, uint64_t index)
{
    if (index == self->log_offset)
        return self->log_offset_term;
    raft_entry_t *entry = raft_log_entry (self, index);
    return entry ? entry->term : 0;
}

static inline uint64_t
raft_log_last_term (raft_core_t *self)
{
    return raft_log_term_at (self, raft_log_last_index (self));
}

//  Position of member id in the configuration, member_count if absent.
static inline size_t
raft_config_position (raft_core_t *self, uint32_t id)
{
    for (size_t position = 0; position < self->member_count; position++)
        if (self->members[position].id == id)
            return position;
    return self->member_count;
}

static inline bool
raft_config_is_voter (raft_core_t *self, size_t position)
{
    return position < self->member_count && self->members[position].voter;
}

static inline size_t
raft_config_majority (raft_core_t *self)
{
    return self->voter_count / 2 + 1;
}

//  --------------------------------------------------------------------------
//  What each concern offers the others (see each file for the details)

//  raft_log.c
int raft_log_append (raft_core_t *self, uint64_t term, uint8_t type, const uint8_t *data,
                     size_t size);
void raft_log_truncate (raft_core_t *self, uint64_t from_index);
void raft_log_reset (raft_core_t *self, uint64_t index, uint64_t term);
void raft_log_drop_prefix (raft_core_t *self, uint64_t up_to_index);
void raft_log_release (raft_core_t *self);

//  raft_configuration.c
int raft_config_check (const raft_member_t *members, size_t count);
size_t raft_config_voters_in (const raft_member_t *members, size_t count);
int raft_config_set (raft_core_t *self, const raft_member_t *members, size_t count, uint64_t index);
int raft_config_adopt_entry (raft_core_t *self, const raft_entry_t *entry);
raft_member_t *raft_config_up_to (raft_core_t *self, uint64_t index, size_t *count,
                                  uint64_t *config_index);
void raft_config_revert (raft_core_t *self);
int raft_config_set_base (raft_core_t *self, const raft_member_t *members, size_t count,
                          uint64_t index);
raft_member_t *raft_config_bootstrap (const raft_core_options_t *options, size_t *count);
void raft_config_replace_base (raft_core_t *self, raft_member_t *base, size_t count);
void raft_config_release (raft_core_t *self);

//  raft_progress.c
void raft_progress_probe (progress_t *progress, uint64_t next_index);
void raft_progress_start (raft_core_t *self, progress_t *progress, uint32_t id);
bool raft_progress_caught_up (raft_core_t *self, size_t position);
void raft_progress_replicate (progress_t *progress, uint64_t match_index);
void raft_progress_sent (progress_t *progress, uint64_t last_index, size_t window);
void raft_progress_acknowledge (progress_t *progress, uint64_t match_index, size_t window);
uint64_t raft_progress_quorum (raft_core_t *self, uint64_t own,
                               uint64_t (*value_of) (const progress_t *));

//  raft_outbox.c
raft_message_t *raft_outbox_queue (raft_core_t *self, raft_message_type_t type, uint32_t to,
                                   uint64_t last_entry_term);
void raft_outbox_vote_reply (raft_core_t *self, raft_message_type_t type, uint32_t to,
                             uint64_t term, bool granted);
void raft_outbox_append_success (raft_core_t *self, uint32_t to, uint64_t match_index);
void raft_outbox_request_chunk (raft_core_t *self, progress_t *progress);
int raft_outbox_take_chunk (raft_core_t *self, const raft_message_t *chunk);
void raft_outbox_free_chunks (raft_core_t *self);
void raft_outbox_release (raft_core_t *self);

//  raft_election.c
void raft_election_reset_timer (raft_core_t *self);
void raft_election_set_role (raft_core_t *self, raft_role_t role, uint32_t leader_id);
bool raft_election_may_campaign (raft_core_t *self);
bool raft_election_leader_alive (raft_core_t *self);
void raft_election_adopt_term (raft_core_t *self, uint64_t term);
void raft_election_campaign (raft_core_t *self, bool transfer);
void raft_election_handle_vote_request (raft_core_t *self, const raft_message_t *request);
void raft_election_handle_vote_reply (raft_core_t *self, const raft_message_t *reply,
                                      size_t position);
void raft_election_handle_pre_vote_request (raft_core_t *self, const raft_message_t *request);
void raft_election_handle_pre_vote_reply (raft_core_t *self, const raft_message_t *reply,
                                          size_t position);
void raft_election_maybe_send_timeout_now (raft_core_t *self, const progress_t *progress);
void raft_election_handle_timeout_now (raft_core_t *self, const raft_message_t *message);

//  raft_replication.c
void raft_replication_clear_ack (raft_core_t *self);
void raft_replication_flush (raft_core_t *self);
//  Leader: an empty AppendEntries at the next flush to every pipelined
//  follower that has not been sent the commit index (raft_core.h,
//  raft_core_notice_commit); also on each tick.
void raft_replication_notice_commit (raft_core_t *self);
void raft_replication_handle_reply (raft_core_t *self, const raft_message_t *reply,
                                    progress_t *progress);
void raft_replication_reject (raft_core_t *self, uint32_t to, uint64_t reject_index);
int raft_replication_check_request (const raft_message_t *request);
void raft_replication_handle_append (raft_core_t *self, const raft_message_t *request);

//  raft_membership.c
void raft_membership_promote_caught_up (raft_core_t *self);
void raft_membership_retire (raft_core_t *self);

//  raft_snapshot.c
void raft_snapshot_want (raft_core_t *self, progress_t *progress);
void raft_snapshot_handle_reply (raft_core_t *self, const raft_message_t *reply,
                                 progress_t *progress);
int raft_snapshot_check_chunk (const raft_message_t *chunk);
void raft_snapshot_handle_chunk (raft_core_t *self, const raft_message_t *chunk);

//  raft_read.c
void raft_read_start_round (raft_core_t *self);
void raft_read_acknowledge (raft_core_t *self, size_t position, uint64_t round);
void raft_read_settle (raft_core_t *self);
void raft_read_fail_all (raft_core_t *self);
void raft_read_handed_out (raft_core_t *self);
void raft_read_release (raft_core_t *self);

#endif
