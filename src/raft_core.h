/*  raft_core — the Raft protocol as a pure state machine: events in, actions out.

    It owns the in-memory log, the term and vote, roles, timers (against a clock
    it is told about), replication progress and the commit index. It does no
    I/O, reads no clock, has no globals: the raft actor drives it in a broker,
    the simulation in tests/sim drives many of them in one process.

    Driving protocol (the same for the actor and the simulation):
      1. feed events: raft_core_tick, raft_core_receive, raft_core_propose,
         raft_core_persisted;
      2. raft_core_ready () collects what the core wants done;
      3. act on it in this order:
         a. hard state (term, vote) saved durably, if changed;
         b. messages sent (the leader's AppendEntries go out before its own
            write, so followers write in parallel with it);
         c. log: delete entries >= truncate_from (if nonzero), append
            entries_to_persist, fdatasync; later call raft_core_persisted
            with the last entry written;
         d. committed entries applied in order;
      4. raft_core_advance (): every pointer in the ready becomes invalid.
    A follower acknowledges entries only once raft_core_persisted says they
    are on disk, and the leader counts itself in a majority only for entries
    it has persisted, so nothing is committed that a majority could lose.
*/
#ifndef RAFT_CORE_H_INCLUDED
#define RAFT_CORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RAFT_ROLE_FOLLOWER = 0,
    RAFT_ROLE_CANDIDATE = 1,
    RAFT_ROLE_LEADER = 2
} raft_role_t;

typedef enum {
    RAFT_ENTRY_COMMAND = 0, //  a state machine command (state.proto Command)
    RAFT_ENTRY_NOOP = 1,    //  appended by a new leader to commit earlier terms
    RAFT_ENTRY_CONFIG = 2   //  membership change (reserved)
} raft_entry_type_t;

typedef struct {
    uint64_t term;  //  term of the leader that created it
    uint64_t index; //  position in the log, from 1
    uint8_t type;   //  raft_entry_type_t
    uint8_t *data;  //  payload; who owns it is said where the entry is handed over
    size_t size;    //  payload size in bytes
} raft_entry_t;

typedef enum {
    RAFT_MESSAGE_REQUEST_VOTE = 1,
    RAFT_MESSAGE_REQUEST_VOTE_REPLY = 2,
    RAFT_MESSAGE_APPEND_ENTRIES = 3,
    RAFT_MESSAGE_APPEND_ENTRIES_REPLY = 4
} raft_message_type_t;

//  One struct for every message kind; fields not used by a kind are zero.
typedef struct {
    raft_message_type_t type; //  which RPC or reply
    uint32_t from;            //  sender's node id
    uint32_t to;              //  receiver's node id
    uint64_t term;            //  sender's current term
    uint64_t last_log_index;  //  RequestVote: candidate's last log index
    uint64_t last_log_term;   //  RequestVote: term of that entry
    bool granted;             //  RequestVoteReply: vote granted
    uint64_t prev_log_index;  //  AppendEntries: index preceding entries
    uint64_t prev_log_term;   //  AppendEntries: term of that entry
    uint64_t leader_commit;   //  AppendEntries: leader's commit index
    raft_entry_t *entries;    //  AppendEntries: entries to append
    size_t entry_count;       //  AppendEntries: how many
    bool success;             //  AppendEntriesReply: log matched and is persisted
    uint64_t match_index;     //  AppendEntriesReply success: last index known to match
    uint64_t reject_index;    //  AppendEntriesReply failure: prev_log_index that was refused
    uint64_t conflict_index;  //  AppendEntriesReply failure: where the leader should retry
    uint64_t conflict_term;   //  AppendEntriesReply failure: term at conflict, 0 if log too short
} raft_message_t;

typedef struct {
    uint32_t self_id;                  //  this node's id, nonzero
    const uint32_t *voters;            //  ids of the voting members, self included
    size_t voter_count;                //  how many voters
    uint32_t heartbeat_ms;             //  leader sends AppendEntries at least this often
    uint32_t election_timeout_min_ms;  //  randomized election timeout lower bound
    uint32_t election_timeout_max_ms;  //  and upper bound
    uint64_t random_seed;              //  seeds the core's own generator (timeouts)
    uint64_t now_ms;                   //  clock at creation
    uint64_t term;                     //  persisted current term
    uint32_t voted_for;                //  persisted vote in that term, 0 for none
    size_t max_entries_per_message;    //  AppendEntries batch limit by count (0: default)
    size_t max_bytes_per_message;      //  AppendEntries batch limit by payload bytes (0: default)
    size_t max_inflight_messages;      //  pipelined AppendEntries per follower (0: default)
} raft_core_options_t;

//  What the core wants done. Pointers are owned by the core and stay valid
//  until raft_core_advance.
typedef struct {
    bool hard_state_changed;                //  term or vote changed: save before sending
    uint64_t term;                          //  current term to save
    uint32_t voted_for;                     //  vote to save, 0 for none
    uint64_t truncate_from;                 //  nonzero: delete log entries >= this index first
    const raft_entry_t *entries_to_persist; //  append these to the log store, then sync
    size_t entries_to_persist_count;        //  how many
    const raft_message_t *messages;         //  send these (best effort; loss is fine)
    size_t message_count;                   //  how many
    const raft_entry_t *committed;          //  apply these, in order
    size_t committed_count;                 //  how many
    bool soft_state_changed;                //  role or leader changed since last ready
    raft_role_t role;                       //  current role
    uint32_t leader_id;                     //  leader this node believes in, 0 if none
} raft_ready_t;

typedef struct _raft_core_t raft_core_t;

//  Creates a core; options are copied. Returns NULL on invalid options.
raft_core_t *
    raft_core_new (const raft_core_options_t *options);

void
    raft_core_destroy (raft_core_t **self_p);

//  Restores one entry of the persisted log, in order, before any event. The
//  data is copied; restored entries count as persisted.
int
    raft_core_restore_entry (raft_core_t *self, const raft_entry_t *entry);

//  Advances the clock: elections and heartbeats are due by this time.
void
    raft_core_tick (raft_core_t *self, uint64_t now_ms);

//  Handles one message from a peer. The message and its entries are only
//  borrowed: the core copies what it keeps. Malformed messages are ignored.
void
    raft_core_receive (raft_core_t *self, const raft_message_t *message);

//  Appends a command (data copied) to the leader's log. Returns 0 and the
//  entry's index, or -1 if this node is not the leader.
int
    raft_core_propose (raft_core_t *self, const uint8_t *data, size_t size, uint64_t *index);

//  Says that the log up to index (whose entry has this term) is durable.
//  Ignored when the entry at index no longer has that term.
void
    raft_core_persisted (raft_core_t *self, uint64_t index, uint64_t term);

//  Collects pending actions. Returns true if there is anything to do.
bool
    raft_core_ready (raft_core_t *self, raft_ready_t *ready);

//  The last ready has been acted upon; releases it.
void
    raft_core_advance (raft_core_t *self);

//  Queries, for status and for the simulation's safety checks.
raft_role_t
    raft_core_role (raft_core_t *self);
uint64_t
    raft_core_term (raft_core_t *self);
uint32_t
    raft_core_leader (raft_core_t *self);
uint32_t
    raft_core_voted_for (raft_core_t *self);
uint64_t
    raft_core_commit_index (raft_core_t *self);
uint64_t
    raft_core_applied_index (raft_core_t *self); //  last index handed out as committed
uint64_t
    raft_core_last_index (raft_core_t *self);
uint64_t
    raft_core_persisted_index (raft_core_t *self);
//  The entry at index, or NULL if the log does not hold it. Borrowed.
const raft_entry_t *
    raft_core_entry (raft_core_t *self, uint64_t index);
//  Voting members, self included. Borrowed.
const uint32_t *
    raft_core_voters (raft_core_t *self, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
