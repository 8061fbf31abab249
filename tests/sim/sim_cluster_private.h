/*  sim_cluster_private — what the files of one simulated run share.

    The run's state (struct _sim_cluster_t), each simulated broker (node_t),
    the parameters drawn from the seed, the events on the agenda, the
    simulation's abstract snapshot, and the functions one concern offers
    the others. raft_sim.c uses sim_cluster.h only.

    One file a concern:
      sim_cluster.c    the run: parameters, creation, the phases in order, totals
      sim_node.c       driving one node through ready / act / advance
      sim_snapshots.c  snapshots taken, streamed, stored and installed
      sim_checks.c     what must hold of the nodes after every step
      sim_faults.c     crashes (torn or lost tails), restarts, partitions, pauses
      sim_operator.c   clients, leadership transfers, membership changes
      sim_events.c     one step: the next event from the agenda, handled
      sim_phases.c     the calm end: liveness, rejoin, transfer, membership
      sim_reads.c      clients' reads, and the check of every answer
*/
#ifndef SIM_CLUSTER_PRIVATE_H_INCLUDED
#define SIM_CLUSTER_PRIVATE_H_INCLUDED

#include "sim_cluster.h"

#include "raft/raft_core.h"
#include "sim_checker.h"
#include "sim_disk.h"
#include "sim_network.h"
#include "sim_queue.h"
#include "sim_random.h"

#define MAX_NODES         9
#define TICK_MS           10
#define LIVENESS_TIMEOUTS 10 //  election timeouts the healed cluster gets to commit
#define LIVE_PROPOSE_MS   20 //  how often the liveness client retries
#define LIVE_PREFIX       "live"

//  What can happen at a point of virtual time.
typedef enum {
    EVENT_DELIVER,    //  a message arrives (payload: raft_message_t block)
    EVENT_TICK,       //  a node's clock ticks
    EVENT_SYNC,       //  a node's disk finishes an fdatasync
    EVENT_PROPOSE,    //  a client proposes a command
    EVENT_FAULT,      //  the fault injector strikes
    EVENT_RESTART,    //  a crashed node comes back
    EVENT_HEAL,       //  a partition ends
    EVENT_LIVE,       //  liveness phase: propose to the leader, if any
    EVENT_READY,      //  a node's loop turn ends: it collects its ready
    EVENT_TRANSFER,   //  an operator asks the leader to hand leadership over
    EVENT_MEMBERSHIP, //  an operator asks the leader to add, remove or demote a node
    EVENT_COMPACT,    //  a node snapshots its state machine and compacts its log
    EVENT_READ,       //  a client asks a node for linearizable reads
    EVENT_NOTICE      //  a leader's driver asks it to tell followers the commit index
} event_kind_t;

//  One simulated broker: a core with its disk.
typedef struct {
    uint32_t id;              //  node id, 1..machine_count
    raft_core_t *core;        //  NULL while crashed
    sim_disk_t *disk;         //  survives crashes
    uint64_t incarnation;     //  bumped at each crash and restart; stale events are dropped
    bool sync_scheduled;      //  a SYNC event is pending
    bool ready_deferred;      //  events were fed, the ready is collected by a READY event
    bool notice_scheduled;    //  a NOTICE event is pending
    uint64_t checked_commit;  //  commit index already reported to the checker
    uint64_t live_applied;    //  1 + highest liveness command applied (this incarnation)
    uint8_t *incoming;        //  snapshot being received (volatile), owned
    size_t incoming_size;     //  bytes received
    size_t incoming_capacity; //  allocated
    bool incoming_complete;   //  its last chunk came: install it after the ready
    bool leading;             //  was leader at the last check
    uint64_t leading_ms;      //  and since when (or since its configuration changed)
    uint64_t config_index;    //  index of the configuration it had at the last check
    uint64_t cut_off_ms[MAX_NODES + 1]; //  per node: unreachable from here since, 0 if not
    uint64_t paused_until_ms; //  a stalled process: nothing reaches it before this, 0: running
    uint64_t tick_at; //  deadline ticks: time of the earliest pending TICK, UINT64_MAX if none
} node_t;

//  A read a client issued (its id is its position + 1).
typedef struct {
    uint32_t node;        //  the node that took it
    uint64_t incarnation; //  of that node
    uint64_t floor;       //  highest index known committed when it was issued
    bool open;            //  not settled yet
} sim_read_t;

//  Parameters drawn for the run.
typedef struct {
    uint32_t heartbeat_ms;    //  leader heartbeat
    uint32_t election_min_ms; //  election timeout bounds
    uint32_t election_max_ms; //  ...
    size_t max_entries;       //  AppendEntries limits
    size_t max_bytes;         //  ...
    size_t max_inflight;      //  ...
    uint32_t sync_max_ms;     //  longest fdatasync
    uint32_t propose_max_ms;  //  longest gap between client proposals
    uint32_t fault_min_ms;    //  gap between faults, bounds
    uint32_t fault_max_ms;    //  ...
    uint32_t torn_per_mille;  //  crashes that keep a torn part of the tail
    uint32_t lose_per_mille;  //  crashes that also lose synced entries (when allowed)
    uint32_t defer_per_mille; //  events after which the ready waits (several events per turn)
    uint32_t
        inline_sync_per_mille; //  readies whose writes are synced before advance, as the actor does
    sim_network_faults_t network; //  loss, duplication, delays
    uint32_t forge_per_mille;     //  deliveries preceded by a forged message, to be ignored
    bool membership;              //  the operator changes the membership during the faults
    bool snapshots;               //  nodes snapshot and compact their logs now and then
    size_t chunk_max;             //  largest snapshot chunk sent
    size_t spare_count;           //  machines beyond the bootstrap voters, joining empty
    bool deadline_ticks;          //  nodes tick only at the core's next deadline, as the actor
                         //  does (else every TICK_MS, checking that early ticks do nothing)
} parameters_t;

struct _sim_cluster_t {
    sim_cluster_options_t options;    //  seed, size, steps, verbosity
    parameters_t parameters;          //  drawn from the seed
    sim_random_t *random;             //  the run's only random source
    sim_queue_t *queue;               //  agenda of events
    sim_network_t *network;           //  in-flight messages and partitions
    sim_checker_t *checker;           //  safety properties
    node_t nodes[MAX_NODES + 1];      //  index = node id
    size_t machine_count;             //  nodes: the bootstrap voters, then the spares
    uint32_t voters[MAX_NODES];       //  bootstrap voters: 1..node_count
    bool became_voter[MAX_NODES + 1]; //  a spare some node's configuration lists as a voter
    uint64_t now_ms;                  //  virtual clock
    uint64_t step;                    //  events processed
    bool faults_stopped;              //  liveness phase: no more faults or client load
    uint64_t proposals;               //  commands proposed (next command number)
    uint64_t live_proposals;          //  liveness commands proposed
    uint32_t live_leader;             //  leader that got the last liveness command
    uint64_t live_term;               //  in this term
    uint32_t transfer_target;         //  last transfer asked: node to take over, 0 if settled
    uint64_t transfer_term;           //  term of the leader asked
    uint64_t transfer_deadline_ms;    //  after this it counts as given up
    uint32_t stable_leader;           //  rejoin phase: leader that must keep leading
    uint64_t stable_term;             //  and the term nobody may leave, 0 outside the phase
    sim_read_t *reads;                //  reads taken by a node, by id - 1
    size_t read_count;                //  how many
    size_t read_capacity;             //  allocated
    sim_totals_t totals;              //  this run's counters
    char error[512];                  //  why the run failed
};

//  The simulation's snapshot: what a state machine at an index stands for.
//  Its blob is [index][term][chain][live_applied] (u64 each) then the
//  configuration as of index (raft_core_config_encode).
#define SNAPSHOT_HEADER_SIZE 32

typedef struct {
    uint64_t index;         //  last index it covers
    uint64_t term;          //  term of that entry
    uint64_t chain;         //  the checker's hash of the log up to index
    uint64_t live_applied;  //  1 + highest liveness command applied up to index
    raft_member_t *members; //  configuration as of index, malloc'd
    size_t member_count;    //  how many
} snapshot_t;

//  --------------------------------------------------------------------------
//  What each concern offers the others (see each file for the details)

//  sim_cluster.c
int sim_cluster_fail (sim_cluster_t *self, const char *format, ...);
int sim_cluster_fail_checker (sim_cluster_t *self);
void sim_cluster_trace (sim_cluster_t *self, const char *format, ...);
void sim_cluster_trace_message (sim_cluster_t *self, const char *what,
                                const raft_message_t *message);

//  sim_node.c
void sim_node_sync_and_report (sim_cluster_t *self, node_t *node);
int sim_node_drive (sim_cluster_t *self, node_t *node);
int sim_node_after_event (sim_cluster_t *self, node_t *node);
//  Deadline ticks: a TICK at the core's next deadline unless one comes as
//  soon. Returns 0, or -1 (out of memory).
int sim_node_schedule_tick (sim_cluster_t *self, node_t *node);
//  Ticks the node's core, checking the deadline's promise: a tick before
//  it leaves role, term, leader and transfer alone, and a tick leaves the
//  next deadline after the clock. Returns 0, or -1 on a failed check.
int sim_node_tick (sim_cluster_t *self, node_t *node);

//  sim_snapshots.c
int sim_snapshots_snapshot_parse (const uint8_t *blob, size_t size, snapshot_t *snapshot);
int sim_snapshots_adopt_snapshot (sim_cluster_t *self, node_t *node, const snapshot_t *snapshot);
int sim_snapshots_compact (sim_cluster_t *self, node_t *node);
int sim_snapshots_send_snapshot (sim_cluster_t *self, node_t *node,
                                 const raft_snapshot_send_t *send);
int sim_snapshots_store_chunk (sim_cluster_t *self, node_t *node,
                               const raft_snapshot_chunk_t *chunk);
int sim_snapshots_install_snapshot (sim_cluster_t *self, node_t *node);

//  sim_checks.c
bool sim_checks_is_member (raft_core_t *core, uint32_t id, bool *voter);
bool sim_checks_is_voter (raft_core_t *core, uint32_t id);
void sim_checks_topology_changed (sim_cluster_t *self);
int sim_checks_check_nodes (sim_cluster_t *self);
int sim_checks_check_stable (sim_cluster_t *self);

//  sim_faults.c
int sim_faults_restart (sim_cluster_t *self, node_t *node);
node_t *sim_faults_random_live_node (sim_cluster_t *self);
void sim_faults_fault (sim_cluster_t *self);
bool sim_faults_paused (sim_cluster_t *self, node_t *node);

//  sim_operator.c
node_t *sim_operator_find_leader (sim_cluster_t *self, bool any);
int sim_operator_client_propose (sim_cluster_t *self);
int sim_operator_propose_live (sim_cluster_t *self, node_t *leader, uint64_t *number,
                               bool *accepted);
int sim_operator_live_propose (sim_cluster_t *self);
int sim_operator_transfer (sim_cluster_t *self);
uint32_t sim_operator_random_voter (sim_cluster_t *self, raft_core_t *core, uint32_t except);
int sim_operator_change_membership (sim_cluster_t *self);
void sim_operator_follow_transfer (sim_cluster_t *self);
int sim_operator_insist_on_change (sim_cluster_t *self, node_t *leader, bool remove, uint32_t id);

//  sim_reads.c
int sim_reads_client_read (sim_cluster_t *self);
int sim_reads_settled (sim_cluster_t *self, node_t *node, const raft_read_t *settled);
int sim_reads_resumed (sim_cluster_t *self, node_t *node);

//  sim_events.c
uint64_t sim_events_gap_ms (sim_cluster_t *self, uint64_t factor);
int sim_events_step (sim_cluster_t *self);

//  sim_phases.c
int sim_phases_step_before (sim_cluster_t *self, uint64_t deadline, const char *phase);
int sim_phases_run_until_applied (sim_cluster_t *self, uint64_t number, const char *phase);
int sim_phases_rejoin_phase (sim_cluster_t *self);
int sim_phases_transfer_phase (sim_cluster_t *self);
int sim_phases_membership_phase (sim_cluster_t *self);

#endif
