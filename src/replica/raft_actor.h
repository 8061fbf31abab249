/*  raft_actor — the Raft node as a czmq actor: a thread (util/event_loop)
    around the pure raft_core with the peer sockets, the core's alarms, the log and meta stores.
    It knows nothing of the state machine: of a snapshot it reads only the
    header (index, term, membership); the broker takes and restores the
    state machine's bytes (INSTALLED tells it when). Its options come from
    its owner (raft_actor_options_t), never from the configuration file.
    The files: raft_actor.c (this handle), raft_pipe.c (the messages below),
    raft_thread.c (the loop), raft_restore.c (start), raft_snapshots.c.

    The broker holds a raft_actor_t: it proposes commands (batched, one pipe
    message per flush) and receives events. Nothing is shared with the actor
    thread; everything travels on the actor pipe as explicit little-endian
    frames:

      broker -> actor
        "PROPOSE" [records]                           commands to append: one
                    frame of [ticket u64][size u32][payload] records
        "READ" then [ticket u64] frames              linearizable reads to
                    confirm (raft_core_read), batched like proposals
        "ADMIN" [ticket u64][kind u8][member]          a membership change or a
                    transfer (raft_actor_admin_kind_t); [member] is a
                    raft_member_t packed as [voter u8][id u32][client u32]
                    [peer u32][pub u32][host text]
        "COMPACT" [index u64][term u64]               the snapshot of index is
                    durable: compact the log, keeping the trailing window
        "$TERM"                                       stop (czmq convention)
      actor -> broker
        "READY" [snapshot index u64] | "FAILED"       once, after start; the
                    index of the snapshot Raft started from (0: none), which
                    the broker loads into its state machine
        "COMMITTED" [commit u64][last u64][records]   one frame of
                    [index u64][term u64][type u8][size u32][payload]
                    records, in log order
        "REJECTED" [leader u32] then one [ticket u64] frame per refused
                    proposal (this node is not the leader)
        "READS" then one frame per read settled [ticket u64][index u64]
                    [outcome u8]: READY (answer once applied reaches index)
                    or NOT_LEADER (refused, or this node stopped leading)
        "ADMINED" [ticket u64][accepted u8][leader u32]  the core took the
                    admin request (or refused it: leader is who leads)
        "MEMBERS" [config index u64] then one [member] frame per member:
                    at start and on every change
        "INSTALLED" [index u64]  a leader's snapshot of index is in place and
                    replaces everything up to it: load it, then apply what follows
        "STATE" [role u8][term u64][leader u32][commit u64][last u64]
                    on role/leader/term change at once, on commit or last
                    index change at most once per tick
        "PROGRESS" [snapshot index u64][snapshot term u64][first index u64]
                    [log bytes u64] then, on the leader, [id u32][match u64]
                    for each other member, all in one frame: what only the
                    actor sees (its newest snapshot, the log on disk, each
                    member's replication), for status; at most once per
                    tick, only when something changed
        "METRICS" [entries written u64][peer messages dropped u64][fsync
                    histogram]: counters only the actor sees, since start;
                    the histogram is a packed metric_histogram over
                    raft_actor_fsync_bounds (seconds). Every
                    RAFT_ACTOR_METRICS_MS at most, only when something changed

    Peer traffic is one-way: a node sends through one DEALER per peer and
    receives on its ROUTER. A send that would block is dropped (Raft tolerates
    loss), so a dead peer never stalls the loop. Each handler drains all that
    is readable before the core's ready is processed, so load becomes bigger
    batches and fewer fsyncs. A failed write or fsync ends the process: nothing
    may be acknowledged that is not durable.
*/
#ifndef RAFT_ACTOR_H_INCLUDED
#define RAFT_ACTOR_H_INCLUDED

#include <czmq.h>

#include "raft/raft_core.h"
#include "util/thread_priority.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _raft_actor_t raft_actor_t;

typedef enum {
    RAFT_ACTOR_COMMITTED = 1, //  entries to apply, in order
    RAFT_ACTOR_REJECTED = 2,  //  proposals refused: not the leader
    RAFT_ACTOR_STATE = 3,     //  role, term, leader, indexes
    RAFT_ACTOR_ADMINED = 4,   //  an admin request taken or refused
    RAFT_ACTOR_MEMBERS = 5,   //  the configuration changed
    RAFT_ACTOR_INSTALLED = 6, //  a leader's snapshot replaced the state
    RAFT_ACTOR_PROGRESS = 7,  //  snapshot, log on disk, replication changed
    RAFT_ACTOR_METRICS = 8,   //  the actor's counters moved
    RAFT_ACTOR_READS = 9      //  reads confirmed, or refused
} raft_actor_event_kind_t;

//  Period of METRICS reports: counters for a scraper, not for decisions.
#define RAFT_ACTOR_METRICS_MS 250

//  What an ADMIN request asks of the leader.
typedef enum {
    RAFT_ACTOR_ADD_NODE = 1,       //  add member as a learner (promoted once caught up)
    RAFT_ACTOR_REMOVE_NODE = 2,    //  remove member id
    RAFT_ACTOR_TRANSFER_LEADER = 3 //  hand leadership to member id
} raft_actor_admin_kind_t;

//  One other member's replication as the leader sees it.
typedef struct {
    uint32_t id;          //  member id
    uint64_t match_index; //  highest entry known durable on it and matching ours
} raft_actor_match_t;

//  What the latest PROGRESS said: what only the actor can see.
typedef struct {
    uint64_t snapshot_index;     //  newest snapshot this node holds, 0: none
    uint64_t snapshot_term;      //  term of its last entry
    uint64_t first_index;        //  first entry in the log on disk, 0: empty
    uint64_t log_bytes;          //  size of the log's segment files
    raft_actor_match_t *matches; //  leader: every other member's match; else none
    size_t match_count;          //  how many
} raft_actor_progress_t;

//  What a METRICS said; borrowed from the pipe message.
typedef struct {
    uint64_t entries_written;       //  log entries appended since start
    uint64_t dropped_sends;         //  peer messages dropped: the peer's queue was full
    const uint8_t *fsync_histogram; //  packed log sync durations (metric_histogram.h)
    size_t fsync_histogram_size;    //  its size
} raft_actor_metrics_t;

//  What the actor reported; decoded from one pipe message.
typedef struct {
    raft_actor_event_kind_t kind; //  which report
    raft_role_t role;             //  STATE: current role
    uint64_t term;                //  STATE: current term
    uint32_t leader_id;           //  STATE, REJECTED: leader believed in, 0 if none
    uint64_t commit_index;        //  STATE, COMMITTED: commit index
    uint64_t last_index;          //  STATE, COMMITTED: last log index
    raft_entry_t *entries;        //  COMMITTED: entries, data borrowed from message
    size_t entry_count;           //  COMMITTED: how many
    uint64_t *tickets;            //  REJECTED: tickets of refused proposals
    size_t ticket_count;          //  REJECTED: how many
    raft_read_t *reads;           //  READS: reads settled (id: the read's ticket)
    size_t read_count;            //  READS: how many
    uint64_t ticket;              //  ADMINED: the request's ticket
    bool accepted;                //  ADMINED: the core took it
    uint64_t config_index;        //  MEMBERS: entry that set the configuration
    raft_member_t *members;       //  MEMBERS: the configuration (owned, freed by clear)
    size_t member_count;          //  MEMBERS: how many
    uint64_t snapshot_index;      //  INSTALLED: the snapshot to load
    //  PROGRESS: what it said, borrowed from the handle (raft_actor_progress)
    const raft_actor_progress_t *progress;
    raft_actor_metrics_t metrics; //  METRICS: what it said
    zmsg_t *message;              //  the pipe message entries point into
} raft_actor_event_t;

//  A snapshot the broker already loaded (and restored its state from): the
//  actor starts from it instead of loading the newest itself.
typedef struct {
    uint64_t index;            //  last index it covers, 0: none, start from the log
    uint64_t term;             //  term of that entry
    const uint8_t *membership; //  Raft configuration as of index (raft_core_config_encode)
    size_t membership_size;    //  its size
} raft_actor_snapshot_t;

//  What the actor runs with, built by its owner (the broker, from the
//  cluster configuration). Everything is borrowed for raft_actor_new only.
typedef struct {
    uint32_t node_id;                      //  this node
    const char *node_dir;                  //  its directory (storage/node_dir.h): log, meta, snap
    const char *cluster;                   //  cluster name, checked on every peer message
    const char *host;                      //  this node's peer host: the peer port binds there
    uint32_t peer_port;                    //  where the other nodes reach this one
    const raft_member_t *peers;            //  the other nodes known at start (id, host, peer_port)
    size_t peer_count;                     //  how many
    const raft_member_t *members;          //  bootstrap configuration; none: wait to be added
    size_t member_count;                   //  how many
    uint32_t heartbeat_ms;                 //  leader heartbeat period
    uint32_t election_timeout_min_ms;      //  randomized election timeout bounds
    uint32_t election_timeout_max_ms;      //
    uint64_t segment_bytes;                //  log segment roll size, 0: the log store's default
    uint32_t snapshot_trailing_entries;    //  log entries kept behind a snapshot
    uint64_t min_free_disk_bytes;          //  below this free on the log's disk, a follower
                                           //  appends nothing (raft_thread.c); 0: off
    const raft_actor_snapshot_t *snapshot; //  restored by the broker; NULL: load the newest
    const uint8_t *public_key;             //  this node's CurveZMQ key pair (peer_links.h);
    const uint8_t *secret_key;             //  NULL: the peer port is plaintext
    const char *zap_policy_endpoint;       //  with keys: where peer key policies go (zap_handler.h)
    const char *zap_watch_endpoint; //  where the peer port's connections are watched, or NULL
    thread_priority_t priority;     //  most the Raft thread asks for (thread_priority.h)
} raft_actor_options_t;

//  Starts the Raft node of options. Returns NULL after logging why when it
//  cannot start (storage unreadable, peer port taken).
raft_actor_t *raft_actor_new (const raft_actor_options_t *options);

//  Stops the actor (pending syncs are done) and frees everything.
void raft_actor_destroy (raft_actor_t **self_p);

//  The pipe to poll for events.
zsock_t *raft_actor_sock (raft_actor_t *self);

//  Queues a command for the next flush; takes the payload frame.
void raft_actor_propose (raft_actor_t *self, uint64_t ticket, zframe_t **payload_p);

//  Commands queued since the last flush.
size_t raft_actor_queued (raft_actor_t *self);

//  Queues a linearizable read (ReadIndex) for the next flush; a READS event
//  settles it under ticket.
void raft_actor_read (raft_actor_t *self, uint64_t ticket);

//  Sends the commands queued since the last flush as one PROPOSE message,
//  and the reads as one READ message. Returns 0 or -1.
int raft_actor_flush (raft_actor_t *self);

//  The snapshot of index (entry of term) is durable: the actor compacts its
//  log behind it. Returns 0 or -1.
int raft_actor_compact (raft_actor_t *self, uint64_t index, uint64_t term);

//  Asks the leader for a membership change or a transfer; the answer comes
//  as an ADMINED event with the same ticket. Returns 0 or -1.
int raft_actor_admin (raft_actor_t *self, uint64_t ticket, raft_actor_admin_kind_t kind,
                      const raft_member_t *member);
//  Receives and decodes one event; blocks if none is waiting, unless the
//  socket's receive timeout says otherwise (the broker's loop sets 0 and
//  reads until -1). Returns 0, or -1 when nothing was read (interrupted, or
//  nothing there). A malformed message is logged and read as an event of
//  kind 0, which means nothing.
int raft_actor_recv (raft_actor_t *self, raft_actor_event_t *event);

//  Frees what recv put in event and zeroes it.
void raft_actor_event_clear (raft_actor_event_t *event);

//  The upper bounds (seconds) of the fsync histogram METRICS carries.
const double *raft_actor_fsync_bounds (size_t *bound_count);

//  What the latest PROGRESS event said (all zero before the first one).
//  The handle keeps it, so status can be answered at any time; borrowed,
//  valid until the next PROGRESS is received.
const raft_actor_progress_t *raft_actor_progress (raft_actor_t *self);

#ifdef __cplusplus
}
#endif

#endif
