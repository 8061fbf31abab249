/*  raft_core — the Raft protocol as a pure state machine: events in, actions out.

    It owns the in-memory log, the term and vote, roles, timers (against a clock
    it is told about), the cluster configuration, replication progress and the
    commit index. It does no I/O, reads no clock, has no globals: the raft
    actor drives it in a broker, the simulation in tests/sim drives many of
    them in one process.

    Driving protocol (the same for the actor and the simulation):
      1. feed events: raft_core_tick, raft_core_receive, raft_core_propose
         (and the other leader requests: transfer, membership changes),
         raft_core_persisted; a driver that ticks only at
         raft_core_next_deadline tells the time first (raft_core_set_clock);
      2. raft_core_ready () collects what the core wants done;
      3. act on it in this order:
         a. hard state (term, vote) saved durably, if changed;
         b. messages sent (the leader's AppendEntries go out before its own
            write, so followers write in parallel with it);
         c. log: delete entries >= truncate_from (if nonzero), append
            entries_to_persist, fdatasync; later call raft_core_persisted
            with the last entry written;
         d. committed entries applied in order;
         e. if config_changed, connect to the members listed (and drop
            peers no longer listed; at start, raft_core_members gives the
            configuration restored);
         f. snapshot_sends: send each chunk asked for; snapshot_chunks:
            store them, and once the one marked done is stored, after
            advance, install the snapshot (raft_core_snapshot_installed);
         g. reads: answer each READY one once applied reaches its index,
            refuse the others (raft_core_read);
      4. raft_core_advance (): every pointer in the ready becomes invalid.
         Between raft_core_ready and raft_core_advance only
         raft_core_persisted and raft_core_tick may be called.
    Misuse of this API by the caller (a NULL argument, an event between
    ready and advance, restoring after events, persisting what was never
    handed out, compacting beyond the applied index) fails an assertion,
    as czmq does; what comes from the network or the disk never does: it
    is checked and ignored or refused. Even from a peer that is a member
    (whose key the shell authenticated) the core believes only what Raft
    lets it: no term above RAFT_TERM_MAX, TimeoutNow only from the leader it
    follows in that term, snapshot chunks only in order and up to
    max_snapshot_bytes, leader_commit only up to the entries the
    AppendEntries matched.
    A follower acknowledges entries only once raft_core_persisted says they
    are on disk, and the leader counts itself in a majority only for entries
    it has persisted, so nothing is committed that a majority could lose.

    Elections use pre-vote (dissertation 9.6): a node whose election timer
    fires first asks whether a majority would vote for it, changing no term;
    and a node that heard from a live leader within the minimum election
    timeout refuses pre-votes and ignores RequestVotes (unless the leader is
    handing over, see raft_core_transfer_leadership). A leader that has not
    heard from a majority of voters for the minimum election timeout steps
    down (check-quorum). A follower whose acknowledged entries were lost (a
    corrupt tail cut on restart) is noticed and refilled.

    Membership changes one server at a time (dissertation chapter 4). A
    configuration is the full member list (raft_member_t: id, voter or
    learner, address), carried by a RAFT_ENTRY_CONFIG entry whose payload is
    a raft.proto Configuration (raft_core_config_encode / _decode); the
    first leader puts the bootstrap configuration in the log (its first
    entry, instead of the usual no-op), so the log always carries it. It takes
    effect on a node as soon as the entry is in its log, appended or
    restored, and is undone if the entry is truncated; a malformed one is
    ignored (by every node alike). Voters elect and count for commit;
    learners only receive the log. The leader accepts a change only when the
    previous one is committed and it has committed an entry of its own term,
    and only if at most one voter is added or removed. By default the leader
    promotes a learner to voter by itself once it has caught up
    (options.manual_promotion turns that off: the caller then uses
    raft_core_learner_caught_up and raft_core_promote). A leader that
    removes (or demotes) itself leads until that change commits, then tells
    the most up-to-date voter to campaign at once and steps down. A node
    whose configuration is empty (joining: voter_count and member_count 0)
    or lists it as a learner never campaigns: it waits for a leader to
    contact it, and accepts AppendEntries from any leader. A voter that its
    latest configuration removed or demoted campaigns only until it learns
    that change committed: its vote may be needed to commit it
    (dissertation 4.2.2), and if it wins it leads (without counting itself)
    just until then.
*/
#ifndef RAFT_CORE_H_INCLUDED
#define RAFT_CORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Size of a member's host text, terminating zero included.
#define RAFT_HOST_SIZE 256
//  Size of a CurveZMQ public key.
#define RAFT_PUBLIC_KEY_SIZE 32

//  Highest term the core adopts, persists or campaigns up to. A message of a
//  higher term is ignored and a higher persisted term refused at creation, so
//  term + 1 never wraps: one forged term of UINT64_MAX would otherwise be
//  saved, and the next campaign's term 0 could never win. The margin of 2^32
//  terms is more elections than a cluster ever holds.
#define RAFT_TERM_MAX (UINT64_MAX - (1ULL << 32))

//  Default bound on a received snapshot's size (options.max_snapshot_bytes).
//  The state machine it carries is held in memory, so a real one is far
//  smaller; chunks past the bound are dropped.
#define RAFT_DEFAULT_MAX_SNAPSHOT_BYTES (64ULL << 30)

//  One member of the cluster configuration. The core uses id and voter; the
//  address travels in configuration entries so every node learns how to
//  reach a member added at run time.
typedef struct {
    uint32_t id;                              //  node id, nonzero
    bool voter;                               //  votes and counts for commit; false: a learner
    char host[RAFT_HOST_SIZE];                //  host of its endpoints, "" if not known
    uint32_t client_port;                     //  its client port, 0 if not known
    uint32_t peer_port;                       //  its peer port, 0 if not known
    uint32_t pub_port;                        //  its PUB port, 0 if not known
    char peer_host[RAFT_HOST_SIZE];           //  host of its peer port, "" if host
    uint8_t public_key[RAFT_PUBLIC_KEY_SIZE]; //  its CurveZMQ public key, zeros if none
} raft_member_t;

//  What the leader knows of one member's replication (raft_core_progress).
typedef struct {
    uint64_t match_index; //  highest entry known to be durable on it and to match ours
    uint64_t next_index;  //  next entry the leader will send it
    bool replicating;     //  match point known, entries pipelined (else probing)
    uint64_t heard_ms;    //  clock value when a message of this term last came from it
} raft_progress_t;

typedef enum { RAFT_ROLE_FOLLOWER = 0, RAFT_ROLE_CANDIDATE = 1, RAFT_ROLE_LEADER = 2 } raft_role_t;

typedef enum {
    RAFT_ENTRY_COMMAND = 0, //  a state machine command (state.proto Command)
    RAFT_ENTRY_NOOP = 1,    //  appended by a new leader to commit earlier terms
    RAFT_ENTRY_CONFIG = 2   //  membership: the whole new configuration (raft_core_config_encode)
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
    RAFT_MESSAGE_APPEND_ENTRIES_REPLY = 4,
    RAFT_MESSAGE_PRE_VOTE = 5,         //  would you vote for me in term? (nobody's term changes)
    RAFT_MESSAGE_PRE_VOTE_REPLY = 6,   //  granted, or refused with the voter's term
    RAFT_MESSAGE_TIMEOUT_NOW = 7,      //  leader to transfer target: campaign at once
    RAFT_MESSAGE_INSTALL_SNAPSHOT = 8, //  leader to follower: one chunk of a snapshot
    RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY = 9 //  follower: chunk taken, bytes received so far
} raft_message_type_t;

//  One struct for every message kind; fields not used by a kind are zero.
typedef struct {
    raft_message_type_t type; //  which RPC or reply
    uint32_t from;            //  sender's node id
    uint32_t to;              //  receiver's node id
    uint64_t term;            //  sender's current term (PreVote: the term it would stand in;
                              //  PreVoteReply: that term if granted, else the voter's term)
    uint64_t last_log_index;  //  RequestVote, PreVote: candidate's last log index
    uint64_t last_log_term;   //  RequestVote, PreVote: term of that entry
    bool granted;             //  RequestVoteReply, PreVoteReply: vote granted
    bool transfer;            //  RequestVote: the leader handed over (TimeoutNow), so a
                              //  voter that heard from it lately votes all the same
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
    uint64_t snapshot_index;  //  InstallSnapshot(Reply): last index the snapshot covers
    uint64_t snapshot_term;   //  InstallSnapshot: term of that entry
    uint64_t offset;          //  InstallSnapshot: where data goes; Reply: bytes received so far
    const uint8_t *data;      //  InstallSnapshot: the chunk (borrowed, like entries)
    size_t data_size;         //  InstallSnapshot: its size
    bool done;                //  InstallSnapshot: last chunk; Reply: the snapshot is complete
    uint64_t read_round;      //  AppendEntries: the leader's heartbeat round for reads (see
                              //  raft_core_read); Reply: the highest round the follower has
                              //  seen from its leader in this term
} raft_message_t;

//  Leader: a follower needs entries compacted away, so it needs a snapshot,
//  streamed one chunk at a time: send it one InstallSnapshot message from
//  ourselves, to, term, with snapshot_index and snapshot_term of the
//  snapshot of index (index 0: your latest, which covers everything the
//  log dropped), the bytes from offset (at most your chunk size; none at
//  or past the end), done if they reach the end. If you no longer hold
//  that snapshot, send your latest from offset 0. The core asks for the
//  next chunk when the follower answers, and again if it does not.
typedef struct {
    uint32_t to;     //  the follower
    uint64_t term;   //  our term, for the message
    uint64_t index;  //  the snapshot being streamed, 0: start the latest
    uint64_t offset; //  first byte to send
} raft_snapshot_send_t;

//  Follower: a chunk of a snapshot from the leader, in order. Offset 0
//  starts a new snapshot (drop any partial one). After the chunk marked
//  done, the caller makes the snapshot durable, loads it into the state
//  machine and calls raft_core_snapshot_installed.
typedef struct {
    uint32_t from;       //  the leader sending it
    uint64_t index;      //  last index the snapshot covers
    uint64_t term;       //  term of that entry
    uint64_t offset;     //  where data goes in the snapshot
    const uint8_t *data; //  the bytes (owned by the core until raft_core_advance)
    size_t size;         //  how many
    bool done;           //  the snapshot is complete
} raft_snapshot_chunk_t;

typedef struct {
    uint32_t self_id;                 //  this node's id, nonzero
    const uint32_t *voters;           //  bootstrap configuration: ids of the voters
    size_t voter_count;               //  how many (0, no members: joining, empty configuration)
    const raft_member_t *members;     //  or instead the full bootstrap configuration
    size_t member_count;              //  how many (0: voters are used)
    uint32_t heartbeat_ms;            //  leader sends AppendEntries at least this often
    uint32_t election_timeout_min_ms; //  randomized election timeout lower bound
    uint32_t election_timeout_max_ms; //  and upper bound
    uint64_t random_seed;             //  seeds the core's own generator (timeouts)
    uint64_t now_ms;                  //  clock at creation
    uint64_t term;                    //  persisted current term
    uint32_t voted_for;               //  persisted vote in that term, 0 for none
    size_t max_entries_per_message;   //  AppendEntries batch limit by count (0: default)
    size_t max_bytes_per_message;     //  AppendEntries batch limit by payload bytes (0: default)
    size_t max_inflight_messages;     //  pipelined AppendEntries per follower (0: default)
    bool manual_promotion;            //  the leader does not promote caught-up learners itself
    size_t catch_up_entries;          //  learner this near the last index caught up (0: batch)
    uint64_t max_snapshot_bytes;      //  bound on a received snapshot's bytes (0: default)
    size_t max_pending_reads;         //  reads the leader holds unconfirmed at most (0: default)
} raft_core_options_t;

//  Default bound on the reads a leader holds (options.max_pending_reads).
#define RAFT_DEFAULT_MAX_PENDING_READS 65536

//  How a read asked for with raft_core_read ended.
typedef enum {
    RAFT_READ_READY = 0,     //  answer it from the state machine once applied reaches index
    RAFT_READ_NOT_LEADER = 1 //  this node stopped leading before it could confirm the read
} raft_read_outcome_t;

//  A read settled by the core, handed out by the ready.
typedef struct {
    uint64_t id;                 //  the caller's id for it (raft_core_read)
    uint64_t index;              //  READY: the read index, a committed entry; else 0
    raft_read_outcome_t outcome; //  ready, or why not
} raft_read_t;

//  What the core wants done. Pointers are owned by the core and stay valid
//  until raft_core_advance.
typedef struct {
    bool hard_state_changed;                    //  term or vote changed: save before sending
    uint64_t term;                              //  current term to save
    uint32_t voted_for;                         //  vote to save, 0 for none
    uint64_t truncate_from;                     //  nonzero: delete log entries >= this index first
    const raft_entry_t *entries_to_persist;     //  append these to the log store, then sync
    size_t entries_to_persist_count;            //  how many
    const raft_message_t *messages;             //  send these (best effort; loss is fine)
    size_t message_count;                       //  how many
    const raft_entry_t *committed;              //  apply these, in order
    size_t committed_count;                     //  how many
    bool soft_state_changed;                    //  role or leader changed since last ready
    raft_role_t role;                           //  current role
    uint32_t leader_id;                         //  leader this node believes in, 0 if none
    bool config_changed;                        //  the configuration changed since the last ready
    const raft_member_t *members;               //  the current configuration (always set)
    size_t member_count;                        //  how many members
    const raft_snapshot_send_t *snapshot_sends; //  leader: stream a snapshot to these
    size_t snapshot_send_count;                 //  how many
    const raft_snapshot_chunk_t *snapshot_chunks; //  follower: store these, in order
    size_t snapshot_chunk_count;                  //  how many
    const raft_read_t *reads;                     //  reads settled: answer or refuse these
    size_t read_count;                            //  how many
} raft_ready_t;

typedef struct _raft_core_t raft_core_t;

//  Creates a core; options are copied. Returns NULL on invalid options
//  (among them a term above RAFT_TERM_MAX).
raft_core_t *raft_core_new (const raft_core_options_t *options);

void raft_core_destroy (raft_core_t **self_p);

//  Restores the persisted snapshot, once, before any entry or event: the log
//  starts after index (whose entry had term), which counts as committed and
//  applied, and members is the configuration as of index.
int raft_core_restore_snapshot (raft_core_t *self, uint64_t index, uint64_t term,
                                const raft_member_t *members, size_t count);

//  Restores one entry of the persisted log, in order, before any event. The
//  data is copied; restored entries count as persisted.
int raft_core_restore_entry (raft_core_t *self, const raft_entry_t *entry);

//  Advances the clock: elections and heartbeats are due by this time.
void raft_core_tick (raft_core_t *self, uint64_t now_ms);

//  Moves the clock without acting on it: what is fed next is stamped with
//  now_ms (a heartbeat puts the election deadline a timeout after it). A
//  driver that ticks only at deadlines calls it before feeding events,
//  or the clock of its last tick would date them.
void raft_core_set_clock (raft_core_t *self, uint64_t now_ms);

//  The earliest clock at which raft_core_tick may act, commit notices
//  aside (raft_core_commit_untold, which the driver serves on its own): a
//  tick before it changes nothing, so a driver may sleep until then instead
//  of ticking on a fixed period, and an idle node wakes for heartbeats, not
//  for ticks. Events can bring it sooner (a new leader's heartbeats): ask
//  again after each. At or before the last clock told: a tick is due now.
uint64_t raft_core_next_deadline (raft_core_t *self);

//  Leader: a commit reaches followers with the next AppendEntries, not
//  with one of its own at once: one write at a time, that notice's round
//  of wakes on every follower (and its answer) ran beside the leader's
//  reply to the client. raft_core_commit_untold says some follower has
//  not been sent the commit index; raft_core_notice_commit sends it an
//  empty AppendEntries at the next ready. The driver calls it shortly
//  after (a follower's subscribers wait for it), the tick at the latest.
bool raft_core_commit_untold (raft_core_t *self);
void raft_core_notice_commit (raft_core_t *self);

//  Handles one message from a peer. The message and its entries are only
//  borrowed: the core copies what it keeps. Malformed messages are ignored.
void raft_core_receive (raft_core_t *self, const raft_message_t *message);

//  Appends a command (data copied) to the leader's log. Returns 0 and the
//  entry's index, or -1 if this node is not the leader or is handing
//  leadership over.
int raft_core_propose (raft_core_t *self, const uint8_t *data, size_t size, uint64_t *index);

//  Linearizable reads without the log (ReadIndex, dissertation 6.4). The
//  leader takes a read under the caller's opaque id and settles it in a
//  later ready (raft_read_t): READY with a read index once (1) it has
//  committed an entry of its own term, so its commit index covers every
//  entry committed before the read arrived (the read index is that commit
//  index, or a later one), and (2) a majority of voters answered an
//  AppendEntries sent after the read arrived, so no newer leader had
//  committed anything by then. The caller then answers the read from its
//  state machine once it has applied the read index. One heartbeat round
//  confirms every read that arrived before it was sent. A leader that
//  stops leading settles its pending reads NOT_LEADER at once. Returns 0,
//  or -1 if this node is not the leader, holds max_pending_reads reads
//  already, or is out of memory (then answer as for a refused proposal).
int raft_core_read (raft_core_t *self, uint64_t id);

//  Reads taken and not yet settled.
size_t raft_core_pending_reads (raft_core_t *self);

//  Hands leadership to target_id, a voter: proposals are refused from now
//  on, the target is brought up to date and then told to campaign at once
//  (TimeoutNow). Ends when this node stops leading, or after the maximum
//  election timeout (then proposals are accepted again). Asking again for
//  the same target is harmless; another target restarts the transfer.
//  Returns 0, or -1 if this node is not the leader or target_id is itself
//  or not a voter.
int raft_core_transfer_leadership (raft_core_t *self, uint32_t target_id);

//  The node leadership is being handed to, 0 if none.
uint32_t raft_core_transfer_target (raft_core_t *self);

//  Says that the log up to index (whose entry has this term) is durable:
//  index was handed out to persist (or restored). Ignored when the entry
//  at index no longer has that term.
void raft_core_persisted (raft_core_t *self, uint64_t index, uint64_t term);

//  Collects pending actions. Returns true if there is anything to do.
bool raft_core_ready (raft_core_t *self, raft_ready_t *ready);

//  The last ready has been acted upon; releases it.
void raft_core_advance (raft_core_t *self);

//  Queries, for status and for the simulation's safety checks.
raft_role_t raft_core_role (raft_core_t *self);
uint64_t raft_core_term (raft_core_t *self);
uint32_t raft_core_leader (raft_core_t *self);
uint32_t raft_core_voted_for (raft_core_t *self);
uint64_t raft_core_commit_index (raft_core_t *self);
uint64_t raft_core_applied_index (raft_core_t *self); //  last index handed out as committed
uint64_t raft_core_last_index (raft_core_t *self);
uint64_t raft_core_persisted_index (raft_core_t *self);
//  The entry at index, or NULL if the log does not hold it. Borrowed.
const raft_entry_t *raft_core_entry (raft_core_t *self, uint64_t index);
//  Ids of the voters of the current configuration. Borrowed.
const uint32_t *raft_core_voters (raft_core_t *self, size_t *count);
//  The current configuration, learners included. Borrowed, valid until
//  the next event.
const raft_member_t *raft_core_members (raft_core_t *self, size_t *count);
//  Index of the entry that set the current configuration (0: the bootstrap
//  one). That configuration is committed once the commit index reaches it.
uint64_t raft_core_config_index (raft_core_t *self);
//  Leader only: what it knows of member id's replication. Returns 0, or -1
//  if this node is not the leader or id is not another member.
int raft_core_progress (raft_core_t *self, uint32_t id, raft_progress_t *progress);

//  Membership changes, leader only. Each appends a RAFT_ENTRY_CONFIG entry
//  with the whole new configuration and returns 0 with its index, or -1 if
//  this node is not the leader, is handing leadership over, has not yet
//  committed an entry of its term, the previous change is not committed,
//  or the change is not allowed (more than one voter added or removed, no
//  voter left, ids zero or repeated, a host without its terminating zero).
int raft_core_propose_config (raft_core_t *self, const raft_member_t *members, size_t count,
                              uint64_t *index);
//  Adds member as a learner (member->voter is ignored); -1 if already a member.
int raft_core_add_learner (raft_core_t *self, const raft_member_t *member, uint64_t *index);
//  Makes learner id a voter.
int raft_core_promote (raft_core_t *self, uint32_t id, uint64_t *index);
//  Removes member id, voter or learner (this node itself too: see above).
int raft_core_remove (raft_core_t *self, uint32_t id, uint64_t *index);
//  Leader only: learner id holds the log up to catch_up_entries from its
//  end, its entries are pipelined, and it answered within the minimum
//  election timeout.
bool raft_core_learner_caught_up (raft_core_t *self, uint32_t id);

//  The payload of a configuration entry: a packed raft.proto Configuration.
//  Returns a malloc'd buffer and its size, or NULL when out of memory.
uint8_t *raft_core_config_encode (const raft_member_t *members, size_t count, size_t *size);
//  Decodes a configuration entry's payload into a malloc'd array (free it).
//  Returns NULL if it is malformed (ids zero or repeated, a port above 65535,
//  a host too long, no voter) or when out of memory.
raft_member_t *raft_core_config_decode (const uint8_t *data, size_t size, size_t *count);

//  Whether a member carries a CurveZMQ public key (a key of zeros is none).
bool raft_member_has_key (const raft_member_t *member);

//  Snapshots. The caller owns snapshot bytes; the core owns the log.
//  Taking one: save the state machine as of an applied index with the
//  configuration as of that index (raft_core_config_as_of), durably, then
//  raft_core_compact to that index, then delete the log store's prefix.
//  Sending and receiving one: see raft_snapshot_send_t / _chunk_t.

//  Drops the log up to up_to_index (which must be applied), keeping the
//  term of that entry and the configuration as of it. Returns 0, or -1 if
//  the index is already dropped, or out of memory.
int raft_core_compact (raft_core_t *self, uint64_t up_to_index);
//  The configuration in effect as of index (at or after the compacted
//  prefix), in a malloc'd array (free it). NULL if unknown or out of memory.
raft_member_t *raft_core_config_as_of (raft_core_t *self, uint64_t index, size_t *count);
//  Last index the log no longer holds (covered by a snapshot), 0 if none.
uint64_t raft_core_snapshot_index (raft_core_t *self);
//  Follower: the snapshot received up to index (entry of term, members its
//  configuration, both stored in it) is complete and durable beside the
//  current state. Returns 0: the whole log is replaced; now make the
//  snapshot the current one, empty the log store (it continues after
//  index), load the snapshot into the state machine; index counts as
//  committed, applied and persisted, and the leader hears we hold it. Or
//  returns -1 (keep the state you had, drop the snapshot) if it is not
//  newer than our commit index, if the log holds its last entry (then the
//  log holds all it covers, and entries after it are kept), or invalid. A restart after a crash in
//  between loads the newest durable snapshot, then keeps the log entries
//  after its index only if the log holds the snapshot's last entry with
//  its term (else none).
int raft_core_snapshot_installed (raft_core_t *self, uint64_t index, uint64_t term,
                                  const raft_member_t *members, size_t count);

#ifdef __cplusplus
}
#endif

#endif
