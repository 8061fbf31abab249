/*  sim_cluster — one simulated run of a raft cluster; see sim_cluster.h. */
#include "sim_cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/little_endian.h"
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
    EVENT_COMPACT     //  a node snapshots its state machine and compacts its log
} event_kind_t;

//  One simulated broker: a core with its disk.
typedef struct {
    uint32_t id;              //  node id, 1..machine_count
    raft_core_t *core;        //  NULL while crashed
    sim_disk_t *disk;         //  survives crashes
    uint64_t incarnation;     //  bumped at each crash and restart; stale events are dropped
    bool sync_scheduled;      //  a SYNC event is pending
    bool ready_deferred;      //  events were fed, the ready is collected by a READY event
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
} node_t;

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
    bool membership;              //  the operator changes the membership during the faults
    bool snapshots;               //  nodes snapshot and compact their logs now and then
    size_t chunk_max;             //  largest snapshot chunk sent
    size_t spare_count;           //  machines beyond the bootstrap voters, joining empty
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
    sim_totals_t totals;              //  this run's counters
    char error[512];                  //  why the run failed
};

//  --------------------------------------------------------------------------

static int
s_fail (sim_cluster_t *self, const char *format, ...)
{
    va_list arguments;
    va_start (arguments, format);
    vsnprintf (self->error, sizeof (self->error), format, arguments);
    va_end (arguments);
    return -1;
}

static int
s_fail_checker (sim_cluster_t *self)
{
    return s_fail (self, "%s", sim_checker_error (self->checker));
}

static void
s_trace (sim_cluster_t *self, const char *format, ...)
{
    if (!self->options.verbose)
        return;
    printf ("[t=%llu s=%llu] ", (unsigned long long)self->now_ms, (unsigned long long)self->step);
    va_list arguments;
    va_start (arguments, format);
    vprintf (format, arguments);
    va_end (arguments);
    printf ("\n");
}

static void
s_trace_message (sim_cluster_t *self, const char *what, const raft_message_t *message)
{
    if (!self->options.verbose)
        return;
    switch (message->type) {
    case RAFT_MESSAGE_REQUEST_VOTE:
    case RAFT_MESSAGE_PRE_VOTE:
        s_trace (self, "%s %u->%u %s term=%llu last=%llu/%llu%s", what, message->from, message->to,
                 message->type == RAFT_MESSAGE_PRE_VOTE ? "PreVote" : "RequestVote",
                 (unsigned long long)message->term, (unsigned long long)message->last_log_index,
                 (unsigned long long)message->last_log_term,
                 message->transfer ? " (transfer)" : "");
        break;
    case RAFT_MESSAGE_TIMEOUT_NOW:
        s_trace (self, "%s %u->%u TimeoutNow term=%llu", what, message->from, message->to,
                 (unsigned long long)message->term);
        break;
    case RAFT_MESSAGE_INSTALL_SNAPSHOT:
    case RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY:
        s_trace (self, "%s %u->%u %s term=%llu snapshot=%llu/%llu offset=%llu size=%zu done=%d",
                 what, message->from, message->to,
                 message->type == RAFT_MESSAGE_INSTALL_SNAPSHOT ? "InstallSnapshot"
                                                                : "SnapshotReply",
                 (unsigned long long)message->term, (unsigned long long)message->snapshot_index,
                 (unsigned long long)message->snapshot_term, (unsigned long long)message->offset,
                 message->data_size, message->done);
        break;
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
    case RAFT_MESSAGE_PRE_VOTE_REPLY:
        s_trace (self, "%s %u->%u %s term=%llu granted=%d", what, message->from, message->to,
                 message->type == RAFT_MESSAGE_PRE_VOTE_REPLY ? "PreVoteReply" : "VoteReply",
                 (unsigned long long)message->term, message->granted);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES:
        s_trace (self, "%s %u->%u AppendEntries term=%llu prev=%llu/%llu entries=%zu commit=%llu",
                 what, message->from, message->to, (unsigned long long)message->term,
                 (unsigned long long)message->prev_log_index,
                 (unsigned long long)message->prev_log_term, message->entry_count,
                 (unsigned long long)message->leader_commit);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES_REPLY:
        s_trace (self,
                 "%s %u->%u AppendReply term=%llu success=%d match=%llu reject=%llu "
                 "conflict=%llu/%llu",
                 what, message->from, message->to, (unsigned long long)message->term,
                 message->success, (unsigned long long)message->match_index,
                 (unsigned long long)message->reject_index,
                 (unsigned long long)message->conflict_index,
                 (unsigned long long)message->conflict_term);
        break;
    }
}

static void
s_draw_parameters (sim_cluster_t *self)
{
    static const size_t entry_limits[] = {1, 2, 4, 16, 256};
    static const size_t byte_limits[] = {8, 32, 1024 * 1024};
    static const size_t inflight_limits[] = {1, 2, 4, 64};
    sim_random_t *random = self->random;
    parameters_t *parameters = &self->parameters;
    parameters->heartbeat_ms = (uint32_t)sim_random_range (random, 20, 40);
    parameters->election_min_ms = (uint32_t)sim_random_range (random, 120, 200);
    parameters->election_max_ms = parameters->election_min_ms * 2;
    parameters->max_entries = entry_limits[sim_random_range (random, 0, 4)];
    parameters->max_bytes = byte_limits[sim_random_range (random, 0, 2)];
    parameters->max_inflight = inflight_limits[sim_random_range (random, 0, 3)];
    parameters->sync_max_ms = (uint32_t)sim_random_range (random, 0, 15);
    parameters->propose_max_ms = (uint32_t)sim_random_range (random, 2, 20);
    parameters->fault_min_ms = (uint32_t)sim_random_range (random, 100, 300);
    parameters->fault_max_ms = parameters->fault_min_ms * 3;
    parameters->torn_per_mille = 500;
    parameters->lose_per_mille = 150;
    parameters->defer_per_mille = (uint32_t)sim_random_range (random, 0, 1) * 400;
    parameters->inline_sync_per_mille = (uint32_t)sim_random_range (random, 0, 2) * 400;
    sim_network_faults_t *network = &parameters->network;
    network->drop_per_mille = (uint32_t)sim_random_range (random, 0, 100);
    network->duplicate_per_mille = (uint32_t)sim_random_range (random, 0, 50);
    network->slow_per_mille = (uint32_t)sim_random_range (random, 0, 100);
    network->delay_min_ms = 1;
    network->delay_max_ms = (uint32_t)sim_random_range (random, 2, 12);
    network->slow_max_ms = (uint32_t)sim_random_range (random, 30, 150);
    parameters->membership = sim_random_chance (random, 500);
    parameters->snapshots = sim_random_chance (random, 500);
    parameters->chunk_max = (size_t)sim_random_range (random, 4, 64);
    parameters->spare_count = parameters->membership ? sim_random_range (random, 0, 2) : 0;
    if (self->options.node_count + parameters->spare_count > MAX_NODES)
        parameters->spare_count = MAX_NODES - self->options.node_count;
}

//  --------------------------------------------------------------------------
//  Driving one node through ready / act / advance

static void
s_schedule_sync (sim_cluster_t *self, node_t *node)
{
    if (node->sync_scheduled || !sim_disk_dirty (node->disk))
        return;
    node->sync_scheduled = true;
    uint64_t delay = sim_random_range (self->random, 0, self->parameters.sync_max_ms);
    sim_queue_push (self->queue, self->now_ms + delay, EVENT_SYNC, node->id, node->incarnation,
                    NULL);
}

//  The disk syncs: everything written so far is durable, and the core hears so.
static void
s_sync_and_report (sim_cluster_t *self, node_t *node)
{
    sim_disk_sync (node->disk);
    uint64_t last_index = sim_disk_last_index (node->disk);
    s_trace (self, "node %u synced up to %llu", node->id, (unsigned long long)last_index);
    if (last_index > 0)
        raft_core_persisted (node->core, last_index, sim_disk_last_term (node->disk));
}

//  Applies committed entries: each must already be durable on this node.
static int
s_apply (sim_cluster_t *self, node_t *node, const raft_entry_t *entries, size_t count)
{
    for (size_t position = 0; position < count; position++) {
        const raft_entry_t *entry = &entries[position];
        const raft_entry_t *durable = sim_disk_entry (node->disk, entry->index);
        if (!durable || durable->term != entry->term || durable->size != entry->size ||
            (entry->size > 0 && memcmp (durable->data, entry->data, entry->size) != 0))
            return s_fail (self, "node %u applies index %llu before it is durable", node->id,
                           (unsigned long long)entry->index);
        if (sim_checker_apply (self->checker, node->id, entry))
            return s_fail_checker (self);
        size_t prefix = strlen (LIVE_PREFIX);
        if (entry->size > prefix && entry->size < 32 &&
            memcmp (entry->data, LIVE_PREFIX, prefix) == 0) {
            char number[32];
            memcpy (number, entry->data + prefix, entry->size - prefix);
            number[entry->size - prefix] = 0;
            uint64_t applied = strtoull (number, NULL, 10) + 1;
            if (applied > node->live_applied)
                node->live_applied = applied;
        }
    }
    return 0;
}

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

//  Builds the blob of node's snapshot at index (applied). Returns a malloc'd
//  blob, or NULL when out of memory.
static uint8_t *
s_snapshot_blob (sim_cluster_t *self, node_t *node, uint64_t index, size_t *size)
{
    size_t count;
    raft_member_t *members = raft_core_config_as_of (node->core, index, &count);
    size_t config_size = 0;
    uint8_t *config = members ? raft_core_config_encode (members, count, &config_size) : NULL;
    free (members);
    uint8_t *blob = config ? (uint8_t *)malloc (SNAPSHOT_HEADER_SIZE + config_size) : NULL;
    if (blob) {
        little_endian_put_u64 (blob, index);
        little_endian_put_u64 (blob + 8, raft_core_entry (node->core, index)->term);
        little_endian_put_u64 (blob + 16, sim_checker_chain (self->checker, node->id, index));
        little_endian_put_u64 (blob + 24, node->live_applied);
        memcpy (blob + SNAPSHOT_HEADER_SIZE, config, config_size);
        *size = SNAPSHOT_HEADER_SIZE + config_size;
    }
    free (config);
    return blob;
}

//  Parses a blob. Returns 0 (free snapshot->members) or -1 if malformed.
static int
s_snapshot_parse (const uint8_t *blob, size_t size, snapshot_t *snapshot)
{
    if (!blob || size < SNAPSHOT_HEADER_SIZE)
        return -1;
    snapshot->index = little_endian_get_u64 (blob);
    snapshot->term = little_endian_get_u64 (blob + 8);
    snapshot->chain = little_endian_get_u64 (blob + 16);
    snapshot->live_applied = little_endian_get_u64 (blob + 24);
    snapshot->members = raft_core_config_decode (
        blob + SNAPSHOT_HEADER_SIZE, size - SNAPSHOT_HEADER_SIZE, &snapshot->member_count);
    return snapshot->members ? 0 : -1;
}

//  The state machine becomes the snapshot's.
static int
s_adopt_snapshot (sim_cluster_t *self, node_t *node, const snapshot_t *snapshot)
{
    if (sim_checker_install (self->checker, node->id, snapshot->index, snapshot->term,
                             snapshot->chain))
        return s_fail_checker (self);
    if (snapshot->live_applied > node->live_applied)
        node->live_applied = snapshot->live_applied;
    node->checked_commit = snapshot->index;
    return 0;
}

//  A node snapshots its state machine at its applied index, durably, then
//  compacts its log there, as the actor does.
static int
s_compact (sim_cluster_t *self, node_t *node)
{
    uint64_t index = raft_core_applied_index (node->core);
    if (index <= raft_core_snapshot_index (node->core) || node->ready_deferred)
        return 0;
    size_t size;
    uint8_t *blob = s_snapshot_blob (self, node, index, &size);
    if (!blob)
        return s_fail (self, "out of memory");
    int rc =
        sim_disk_compact (node->disk, index, raft_core_entry (node->core, index)->term, blob, size);
    free (blob);
    if (rc)
        return s_fail (self, "node %u applied index %llu that is not on its disk", node->id,
                       (unsigned long long)index);
    if (raft_core_compact (node->core, index))
        return s_fail (self, "node %u refuses to compact up to its applied index %llu", node->id,
                       (unsigned long long)index);
    if (sim_checker_compact (self->checker, node->id, index))
        return s_fail_checker (self);
    self->totals.compactions++;
    s_trace (self, "node %u compacts its log up to %llu", node->id, (unsigned long long)index);
    return 0;
}

//  The leader's core asks for one chunk of its snapshot for a follower: a
//  random size, a message the network may lose, delay or reorder.
static int
s_send_snapshot (sim_cluster_t *self, node_t *node, const raft_snapshot_send_t *send)
{
    size_t size;
    uint64_t index;
    uint64_t term;
    const uint8_t *blob = sim_disk_snapshot (node->disk, &size, &index, &term);
    if (!blob || index < raft_core_snapshot_index (node->core))
        return s_fail (self, "node %u must send a snapshot but holds none that covers %llu",
                       node->id, (unsigned long long)raft_core_snapshot_index (node->core));
    uint64_t offset = send->index == index ? send->offset : 0;
    if (offset == 0)
        self->totals.snapshots_sent++;
    size_t chunk =
        offset >= size ? 0 : (size_t)sim_random_range (self->random, 1, self->parameters.chunk_max);
    if (chunk > size - offset)
        chunk = size - offset;
    raft_message_t message = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                              .from = node->id,
                              .to = send->to,
                              .term = send->term,
                              .snapshot_index = index,
                              .snapshot_term = term,
                              .offset = offset,
                              .data = chunk ? blob + offset : NULL,
                              .data_size = chunk,
                              .done = offset + chunk >= size};
    s_trace_message (self, "send", &message);
    sim_network_send (self->network, &message, self->now_ms, EVENT_DELIVER);
    return 0;
}

//  Stores a chunk the core took, in order.
static int
s_store_chunk (sim_cluster_t *self, node_t *node, const raft_snapshot_chunk_t *chunk)
{
    if (chunk->offset == 0)
        node->incoming_size = 0;
    if (chunk->offset != node->incoming_size)
        return s_fail (self, "node %u's core hands out a snapshot chunk at %llu after %zu bytes",
                       node->id, (unsigned long long)chunk->offset, node->incoming_size);
    if (node->incoming_size + chunk->size > node->incoming_capacity) {
        size_t capacity = (node->incoming_size + chunk->size) * 2;
        uint8_t *incoming = (uint8_t *)realloc (node->incoming, capacity);
        if (!incoming)
            return s_fail (self, "out of memory");
        node->incoming = incoming;
        node->incoming_capacity = capacity;
    }
    if (chunk->size)
        memcpy (node->incoming + node->incoming_size, chunk->data, chunk->size);
    node->incoming_size += chunk->size;
    node->incoming_complete = chunk->done;
    return 0;
}

//  A complete snapshot came in: the core decides; if it takes it, the disk
//  and the state machine become the snapshot.
static int
s_install_snapshot (sim_cluster_t *self, node_t *node)
{
    node->incoming_complete = false;
    snapshot_t snapshot;
    if (s_snapshot_parse (node->incoming, node->incoming_size, &snapshot))
        return s_fail (self, "node %u received a garbled snapshot", node->id);
    int rc = raft_core_snapshot_installed (node->core, snapshot.index, snapshot.term,
                                           snapshot.members, snapshot.member_count);
    free (snapshot.members);
    if (rc) {
        s_trace (self, "node %u drops a stale snapshot up to %llu", node->id,
                 (unsigned long long)snapshot.index);
        return 0;
    }
    if (sim_disk_install (node->disk, snapshot.index, snapshot.term, node->incoming,
                          node->incoming_size))
        return s_fail (self, "out of memory");
    self->totals.snapshots_installed++;
    s_trace (self, "node %u installs a snapshot up to %llu", node->id,
             (unsigned long long)snapshot.index);
    return s_adopt_snapshot (self, node, &snapshot);
}

//  A node's configuration changed: checks it and notes spares made voters.
static int
s_note_config (sim_cluster_t *self, node_t *node, const raft_ready_t *ready)
{
    size_t voters = 0;
    for (size_t position = 0; position < ready->member_count; position++) {
        const raft_member_t *member = &ready->members[position];
        if (member->id < 1 || member->id > self->machine_count)
            return s_fail (self, "node %u's configuration lists unknown node %u", node->id,
                           member->id);
        voters += member->voter;
        if (member->voter && member->id > self->options.node_count)
            self->became_voter[member->id] = true;
    }
    //  Empty is a joining node's bootstrap configuration (a truncation may
    //  take it back there); otherwise there must be someone to elect
    if (voters == 0 && ready->member_count > 0)
        return s_fail (self, "node %u's configuration has no voter", node->id);
    if (self->options.verbose) {
        char text[128] = "";
        size_t used = 0;
        for (size_t position = 0; position < ready->member_count && used < sizeof (text);
             position++)
            used +=
                snprintf (text + used, sizeof (text) - used, " %u%s", ready->members[position].id,
                          ready->members[position].voter ? "" : "(learner)");
        s_trace (self, "node %u's configuration is now%s", node->id, text);
    }
    return 0;
}

//  Acts on every ready the node has, in the order the contract fixes.
static int
s_drive (sim_cluster_t *self, node_t *node)
{
    raft_ready_t ready;
    node->ready_deferred = false;
    while (raft_core_ready (node->core, &ready)) {
        if (ready.soft_state_changed)
            s_trace (self, "node %u is %s of term %llu (leader %u)", node->id,
                     ready.role == RAFT_ROLE_LEADER      ? "leader"
                     : ready.role == RAFT_ROLE_CANDIDATE ? "candidate"
                                                         : "follower",
                     (unsigned long long)ready.term, ready.leader_id);
        if (ready.config_changed && s_note_config (self, node, &ready))
            return -1;
        //  a. hard state
        if (ready.hard_state_changed &&
            sim_disk_save_hard_state (node->disk, ready.term, ready.voted_for))
            return s_fail (self, "node %u saves term %llu vote %u over term %llu vote %u", node->id,
                           (unsigned long long)ready.term, ready.voted_for,
                           (unsigned long long)sim_disk_term (node->disk),
                           sim_disk_voted_for (node->disk));
        //  b. messages
        for (size_t position = 0; position < ready.message_count; position++) {
            const raft_message_t *message = &ready.messages[position];
            if (message->from != node->id)
                return s_fail (self, "node %u sends a message from %u", node->id, message->from);
            s_trace_message (self, "send", message);
            sim_network_send (self->network, message, self->now_ms, EVENT_DELIVER);
        }
        //  c. log writes, synced later
        if (ready.truncate_from) {
            self->totals.truncations++;
            s_trace (self, "node %u truncates from %llu", node->id,
                     (unsigned long long)ready.truncate_from);
            if (sim_checker_truncate (self->checker, node->id, ready.truncate_from))
                return s_fail_checker (self);
        }
        if (sim_checker_append (self->checker, node->id, ready.entries_to_persist,
                                ready.entries_to_persist_count))
            return s_fail_checker (self);
        if (sim_disk_write (node->disk, ready.truncate_from, ready.entries_to_persist,
                            ready.entries_to_persist_count))
            return s_fail (self, "node %u hands out entries that do not follow its log", node->id);
        //  Sometimes written and synced in this turn, so that persisted
        //  arrives before advance
        if (sim_disk_dirty (node->disk) &&
            sim_random_chance (self->random, self->parameters.inline_sync_per_mille))
            s_sync_and_report (self, node);
        s_schedule_sync (self, node);
        //  d. apply
        if (s_apply (self, node, ready.committed, ready.committed_count))
            return -1;
        //  e. snapshots out and in
        for (size_t position = 0; position < ready.snapshot_send_count; position++)
            if (s_send_snapshot (self, node, &ready.snapshot_sends[position]))
                return -1;
        for (size_t position = 0; position < ready.snapshot_chunk_count; position++)
            if (s_store_chunk (self, node, &ready.snapshot_chunks[position]))
                return -1;
        raft_core_advance (node->core);
        if (node->incoming_complete && s_install_snapshot (self, node))
            return -1;
    }
    return 0;
}

//  After an event: act on the ready now, or let more events in first, as
//  an actor does that drains its sockets before collecting the ready.
static int
s_after_event (sim_cluster_t *self, node_t *node)
{
    if (!sim_random_chance (self->random, self->parameters.defer_per_mille))
        return s_drive (self, node);
    if (!node->ready_deferred) {
        node->ready_deferred = true;
        sim_queue_push (self->queue, self->now_ms + sim_random_range (self->random, 0, 3),
                        EVENT_READY, node->id, node->incarnation, NULL);
    }
    return 0;
}

//  Whether id is a member of core's configuration; voter says as what.
static bool
s_is_member (raft_core_t *core, uint32_t id, bool *voter)
{
    size_t count;
    const raft_member_t *members = raft_core_members (core, &count);
    for (size_t position = 0; position < count; position++)
        if (members[position].id == id) {
            if (voter)
                *voter = members[position].voter;
            return true;
        }
    return false;
}

static bool
s_is_voter (raft_core_t *core, uint32_t id)
{
    bool voter = false;
    return s_is_member (core, id, &voter) && voter;
}

//  A node with no voter to ask (joining) never campaigns, nor one its
//  configuration lists as a learner or not at all once that configuration
//  is known committed (before, a removed or demoted voter may be needed).
static bool
s_must_not_campaign (raft_core_t *core, uint32_t id)
{
    size_t voter_count;
    raft_core_voters (core, &voter_count);
    return voter_count == 0 || (!s_is_voter (core, id) &&
                                raft_core_commit_index (core) >= raft_core_config_index (core));
}

//  A random voter of core's configuration other than except, 0 if none.
static uint32_t
s_random_voter (sim_cluster_t *self, raft_core_t *core, uint32_t except)
{
    uint32_t found = 0;
    size_t seen = 0;
    size_t voter_count;
    const uint32_t *voters = raft_core_voters (core, &voter_count);
    for (size_t position = 0; position < voter_count; position++)
        if (voters[position] != except && sim_random_range (self->random, 1, ++seen) == 1)
            found = voters[position];
    return found;
}

//  Whether two nodes can talk now: both up, in one group.
static bool
s_reachable (sim_cluster_t *self, uint32_t one, uint32_t other)
{
    return one == other || (self->nodes[one].core && self->nodes[other].core &&
                            sim_network_connected (self->network, one, other));
}

//  Notes since when each pair of nodes cannot talk; called after every
//  crash, restart, partition and heal.
static void
s_topology_changed (sim_cluster_t *self)
{
    for (uint32_t one = 1; one <= self->machine_count; one++)
        for (uint32_t other = 1; other <= self->machine_count; other++) {
            uint64_t *since = &self->nodes[one].cut_off_ms[other];
            if (s_reachable (self, one, other))
                *since = 0;
            else if (*since == 0)
                *since = self->now_ms;
        }
}

//  Check-quorum: a leader must step down once it has been unable to reach a
//  majority for the minimum election timeout, plus a tick to notice, plus
//  the longest delay of a reply sent just before a crash or a partition.
//  A new leader gets that long from its election (a delayed vote may elect
//  a node already cut off), or from a change of its configuration.
static int
s_check_cut_off_leader (sim_cluster_t *self, node_t *node)
{
    bool leads = raft_core_role (node->core) == RAFT_ROLE_LEADER;
    uint64_t bound_ms = self->parameters.election_min_ms + self->parameters.network.slow_max_ms +
                        self->parameters.network.delay_max_ms + 2 * TICK_MS;
    uint64_t config_index = raft_core_config_index (node->core);
    if ((leads && !node->leading) || config_index != node->config_index)
        node->leading_ms = self->now_ms;
    node->config_index = config_index;
    size_t reachable_now = 0;
    size_t reached_lately = 0;
    size_t voter_count;
    const uint32_t *voters = raft_core_voters (node->core, &voter_count);
    for (size_t position = 0; position < voter_count; position++) {
        uint64_t cut_off = node->cut_off_ms[voters[position]];
        uint64_t since = cut_off < node->leading_ms ? node->leading_ms : cut_off;
        reachable_now += cut_off == 0;
        reached_lately += cut_off == 0 || self->now_ms <= since + bound_ms;
    }
    size_t majority = voter_count / 2 + 1;
    if (node->leading && !leads && reachable_now < majority)
        self->totals.quorum_step_downs++;
    node->leading = leads;
    if (leads && reached_lately < majority)
        return s_fail (self, "check-quorum: leader %u still leads %llu ms after losing a majority",
                       node->id, (unsigned long long)bound_ms);
    return 0;
}

//  Checks that hold between steps, on every live node.
static int
s_check_nodes (sim_cluster_t *self)
{
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        node_t *node = &self->nodes[id];
        if (!node->core)
            continue;
        uint64_t term = raft_core_term (node->core);
        bool leader = raft_core_role (node->core) == RAFT_ROLE_LEADER;
        if (s_check_cut_off_leader (self, node))
            return -1;
        if (raft_core_role (node->core) == RAFT_ROLE_CANDIDATE &&
            s_must_not_campaign (node->core, id))
            return s_fail (self, "node %u campaigns: joining, or a learner or removed for good",
                           id);
        if (leader && sim_checker_leader (self->checker, id, term))
            return s_fail_checker (self);
        if (node->ready_deferred)
            continue; //  the checker's mirror of its log catches up at the ready
        if (leader && sim_checker_leader_complete (self->checker, id, term))
            return s_fail_checker (self);
        uint64_t commit_index = raft_core_commit_index (node->core);
        if (commit_index < node->checked_commit)
            return s_fail (self, "node %u commit index went back from %llu to %llu", id,
                           (unsigned long long)node->checked_commit,
                           (unsigned long long)commit_index);
        if (commit_index > node->checked_commit) {
            if (sim_checker_commit (self->checker, id, commit_index, term))
                return s_fail_checker (self);
            node->checked_commit = commit_index;
        }
        uint64_t persisted_index = raft_core_persisted_index (node->core);
        const raft_entry_t *durable = sim_disk_entry (node->disk, persisted_index);
        const raft_entry_t *held = raft_core_entry (node->core, persisted_index);
        if (persisted_index > raft_core_snapshot_index (node->core) &&
            (!durable || !held || durable->term != held->term))
            return s_fail (self, "node %u counts index %llu persisted but its disk lacks it", id,
                           (unsigned long long)persisted_index);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Crashes and restarts

//  Whether node, its durable log cut before from_index, would be the only
//  voter of the configuration that log gives it: then it could elect itself
//  alone, and lose what it lost for everyone.
static bool
s_sole_voter_without (sim_cluster_t *self, node_t *node, uint64_t from_index)
{
    raft_member_t *members = NULL;
    size_t count = 0;
    for (uint64_t index = from_index - 1; !members && index > sim_disk_snapshot_index (node->disk);
         index--) {
        const raft_entry_t *entry = sim_disk_entry (node->disk, index);
        if (entry->type == RAFT_ENTRY_CONFIG)
            members = raft_core_config_decode (entry->data, entry->size, &count);
    }
    snapshot_t snapshot;
    size_t size;
    uint64_t index;
    uint64_t term;
    const uint8_t *blob = sim_disk_snapshot (node->disk, &size, &index, &term);
    if (!members && blob && s_snapshot_parse (blob, size, &snapshot) == 0) {
        members = snapshot.members;
        count = snapshot.member_count;
    }
    bool sole;
    if (members) {
        size_t voters = 0;
        bool self_voter = false;
        for (size_t position = 0; position < count; position++) {
            voters += members[position].voter;
            self_voter |= members[position].voter && members[position].id == node->id;
        }
        sole = voters == 1 && self_voter;
    } else //  the bootstrap configuration
        sole = self->options.node_count == 1 && node->id == 1;
    free (members);
    return sole;
}

//  Sometimes the crashed node's disk also loses synced entries at the end
//  of its log, entries it may have acknowledged. Raft cannot survive losing
//  acknowledged entries in general (a leader may count the lost copy), so
//  the fault strikes only when every other node durably holds all of them
//  and the node's configuration without them needs another node's vote:
//  then no election can succeed without them, whoever counted what.
static void
s_maybe_lose_suffix (sim_cluster_t *self, node_t *node)
{
    uint64_t last_index = sim_disk_last_index (node->disk);
    if (last_index <= sim_disk_snapshot_index (node->disk) ||
        !sim_random_chance (self->random, self->parameters.lose_per_mille))
        return;
    uint64_t last_term = sim_disk_entry (node->disk, last_index)->term;
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        const raft_entry_t *held = sim_disk_entry (self->nodes[id].disk, last_index);
        if (id != node->id && (!held || held->term != last_term))
            return;
    }
    uint64_t from_index = last_index > 16 ? last_index - 15 : 1;
    if (from_index <= sim_disk_snapshot_index (node->disk))
        from_index = sim_disk_snapshot_index (node->disk) + 1;
    if (from_index > last_index)
        return;
    from_index = sim_random_range (self->random, from_index, last_index);
    if (s_sole_voter_without (self, node, from_index))
        return;
    sim_disk_lose_suffix (node->disk, from_index);
    self->totals.lost++;
    s_trace (self, "node %u's disk loses synced entries from %llu", node->id,
             (unsigned long long)from_index);
}

static void
s_crash (sim_cluster_t *self, node_t *node)
{
    bool torn = sim_random_chance (self->random, self->parameters.torn_per_mille);
    raft_core_destroy (&node->core);
    sim_disk_crash (node->disk, self->random, torn);
    s_maybe_lose_suffix (self, node);
    node->incarnation++;
    node->sync_scheduled = false;
    node->ready_deferred = false;
    node->leading = false;
    node->incoming_size = 0;
    node->incoming_complete = false;
    self->totals.crashes++;
    self->totals.torn += torn;
    s_trace (self, "node %u crashes%s; durable log ends at %llu", node->id,
             torn ? " (torn tail)" : "", (unsigned long long)sim_disk_last_index (node->disk));
}

static int
s_restart (sim_cluster_t *self, node_t *node)
{
    raft_core_options_t options = {
        .self_id = node->id,
        .voters = self->voters,
        .voter_count = node->id <= self->options.node_count ? self->options.node_count : 0,
        .heartbeat_ms = self->parameters.heartbeat_ms,
        .election_timeout_min_ms = self->parameters.election_min_ms,
        .election_timeout_max_ms = self->parameters.election_max_ms,
        .random_seed = sim_random_next (self->random),
        .now_ms = self->now_ms,
        .term = sim_disk_term (node->disk),
        .voted_for = sim_disk_voted_for (node->disk),
        .max_entries_per_message = self->parameters.max_entries,
        .max_bytes_per_message = self->parameters.max_bytes,
        .max_inflight_messages = self->parameters.max_inflight,
    };
    node->core = raft_core_new (&options);
    if (!node->core)
        return s_fail (self, "node %u: raft_core_new failed", node->id);
    node->incarnation++;
    node->checked_commit = 0;
    node->live_applied = 0;
    sim_checker_restart (self->checker, node->id);
    size_t size;
    uint64_t first_index;
    uint64_t snapshot_term;
    const uint8_t *blob = sim_disk_snapshot (node->disk, &size, &first_index, &snapshot_term);
    if (blob) {
        snapshot_t snapshot;
        if (s_snapshot_parse (blob, size, &snapshot))
            return s_fail (self, "node %u's snapshot is garbled", node->id);
        int rc = raft_core_restore_snapshot (node->core, snapshot.index, snapshot.term,
                                             snapshot.members, snapshot.member_count);
        free (snapshot.members);
        if (rc)
            return s_fail (self, "node %u refuses to restore its snapshot up to %llu", node->id,
                           (unsigned long long)snapshot.index);
        if (s_adopt_snapshot (self, node, &snapshot))
            return -1;
    }
    uint64_t last_index = sim_disk_last_index (node->disk);
    for (uint64_t index = first_index + 1; index <= last_index; index++)
        if (raft_core_restore_entry (node->core, sim_disk_entry (node->disk, index)))
            return s_fail (self, "node %u refuses to restore its durable entry %llu", node->id,
                           (unsigned long long)index);
    if (last_index > first_index &&
        sim_checker_append (self->checker, node->id, sim_disk_entry (node->disk, first_index + 1),
                            last_index - first_index))
        return s_fail_checker (self);
    s_topology_changed (self);
    s_trace (self, "node %u restarts: term %llu vote %u, %llu entries", node->id,
             (unsigned long long)options.term, options.voted_for, (unsigned long long)last_index);
    return 0;
}

//  --------------------------------------------------------------------------
//  Clients and faults

//  A leader a client would find: the live leader of the highest term.
static node_t *
s_find_leader (sim_cluster_t *self, bool any)
{
    node_t *found = NULL;
    size_t leaders = 0;
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        node_t *node = &self->nodes[id];
        if (!node->core || raft_core_role (node->core) != RAFT_ROLE_LEADER)
            continue;
        //  Clients sometimes reach a stale leader too: its entries must go
        leaders++;
        if (any ? sim_random_range (self->random, 1, leaders) == 1
                : (!found || raft_core_term (node->core) > raft_core_term (found->core)))
            found = node;
    }
    return found;
}

//  Proposes command to leader, which must take it unless it is handing
//  leadership over (then it must refuse it). accepted, if not NULL, says
//  which. Returns 0, or -1 when the leader did the wrong thing.
static int
s_propose (sim_cluster_t *self, node_t *leader, const char *command, bool *accepted)
{
    uint64_t index = 0;
    uint32_t handing_to = raft_core_transfer_target (leader->core);
    int rc = raft_core_propose (leader->core, (const uint8_t *)command, strlen (command), &index);
    if (accepted)
        *accepted = rc == 0;
    if (handing_to) {
        if (rc == 0)
            return s_fail (self, "leader %u takes a proposal while handing over to node %u",
                           leader->id, handing_to);
        return 0;
    }
    if (rc)
        return s_fail (self, "leader %u refuses a proposal", leader->id);
    s_trace (self, "client proposes %s to node %u at index %llu", command, leader->id,
             (unsigned long long)index);
    return s_after_event (self, leader);
}

static int
s_client_propose (sim_cluster_t *self)
{
    node_t *leader = s_find_leader (self, true);
    if (!leader)
        return 0;
    char command[32];
    snprintf (command, sizeof (command), "c%llu", (unsigned long long)self->proposals++);
    self->totals.proposals++;
    return s_propose (self, leader, command, NULL);
}

static node_t *
s_random_live_node (sim_cluster_t *self)
{
    node_t *found = NULL;
    size_t live = 0;
    for (uint32_t id = 1; id <= self->machine_count; id++)
        if (self->nodes[id].core && sim_random_range (self->random, 1, ++live) == 1)
            found = &self->nodes[id];
    return found;
}

static void
s_schedule_heal (sim_cluster_t *self)
{
    uint64_t duration = sim_random_range (self->random, self->parameters.election_min_ms,
                                          self->parameters.election_max_ms * 4);
    sim_queue_push (self->queue, self->now_ms + duration, EVENT_HEAL, 0, 0, NULL);
    self->totals.partitions++;
    if (self->options.verbose) {
        char groups[128];
        sim_network_describe (self->network, groups, sizeof (groups));
        s_trace (self, "network partitioned: %s", groups);
    }
}

static void
s_crash_and_plan_restart (sim_cluster_t *self, node_t *node)
{
    s_crash (self, node);
    s_topology_changed (self);
    uint64_t downtime = sim_random_range (self->random, 10, self->parameters.election_max_ms * 2);
    sim_queue_push (self->queue, self->now_ms + downtime, EVENT_RESTART, node->id,
                    node->incarnation, NULL);
}

static size_t
s_crashed_count (sim_cluster_t *self)
{
    size_t crashed = 0;
    for (uint32_t id = 1; id <= self->machine_count; id++)
        crashed += self->nodes[id].core == NULL;
    return crashed;
}

//  Strikes, one of: crash a node (35%) or the leader (25%) while a majority
//  stays up, crash every node at once (5%), split the network (20%) or cut
//  the leader off (15%); one partition at a time.
static void
s_fault (sim_cluster_t *self)
{
    node_t *leader = s_find_leader (self, false);
    uint64_t choice = sim_random_range (self->random, 0, 99);
    if (choice < 60) {
        if (s_crashed_count (self) >= (self->machine_count - 1) / 2)
            return;
        node_t *victim = choice < 35 || !leader ? s_random_live_node (self) : leader;
        if (victim)
            s_crash_and_plan_restart (self, victim);
        return;
    }
    if (choice < 65) {
        s_trace (self, "every node crashes");
        for (uint32_t id = 1; id <= self->machine_count; id++)
            if (self->nodes[id].core)
                s_crash_and_plan_restart (self, &self->nodes[id]);
        return;
    }
    if (sim_network_partitioned (self->network))
        return;
    if (choice < 85 || !leader)
        sim_network_split (self->network);
    else
        sim_network_isolate (self->network, leader->id);
    s_topology_changed (self);
    s_schedule_heal (self);
}

//  --------------------------------------------------------------------------
//  Events

static int
s_deliver (sim_cluster_t *self, raft_message_t *message)
{
    node_t *node =
        message->to >= 1 && message->to <= self->machine_count ? &self->nodes[message->to] : NULL;
    if (!node || !node->core ||
        !sim_network_connected (self->network, message->from, message->to)) {
        s_trace_message (self, "lost", message);
        self->totals.dropped++;
        return 0;
    }
    s_trace_message (self, "deliver", message);
    raft_core_receive (node->core, message);
    return s_after_event (self, node);
}

static int
s_sync (sim_cluster_t *self, node_t *node)
{
    node->sync_scheduled = false;
    s_sync_and_report (self, node);
    return s_after_event (self, node);
}

//  Proposes the next liveness command to leader; number is set to its
//  number, accepted says whether the leader took it.
static int
s_propose_live (sim_cluster_t *self, node_t *leader, uint64_t *number, bool *accepted)
{
    *number = self->live_proposals;
    char command[32];
    snprintf (command, sizeof (command), LIVE_PREFIX "%llu", (unsigned long long)*number);
    if (s_propose (self, leader, command, accepted))
        return -1;
    if (*accepted) {
        self->live_proposals++;
        self->live_leader = leader->id;
        self->live_term = raft_core_term (leader->core);
    }
    return 0;
}

//  The liveness client: proposes to each new leader once.
static int
s_live_propose (sim_cluster_t *self)
{
    sim_queue_push (self->queue, self->now_ms + LIVE_PROPOSE_MS, EVENT_LIVE, 0, 0, NULL);
    node_t *leader = s_find_leader (self, false);
    if (!leader ||
        (leader->id == self->live_leader && raft_core_term (leader->core) == self->live_term))
        return 0;
    uint64_t number;
    bool accepted;
    return s_propose_live (self, leader, &number, &accepted);
}

//  An operator asks the leader to hand over to another node, which must
//  take over in a later term unless the transfer gives up.
static int
s_transfer (sim_cluster_t *self)
{
    node_t *leader = s_find_leader (self, false);
    uint32_t target = leader ? s_random_voter (self, leader->core, leader->id) : 0;
    if (!target)
        return 0;
    if (raft_core_transfer_leadership (leader->core, target))
        return s_fail (self, "leader %u refuses to hand over to voter %u", leader->id, target);
    s_trace (self, "operator asks leader %u to hand over to node %u", leader->id, target);
    self->transfer_target = target;
    self->transfer_term = raft_core_term (leader->core);
    self->transfer_deadline_ms = self->now_ms + self->parameters.election_max_ms + 2 * TICK_MS;
    self->totals.transfers++;
    return s_after_event (self, leader);
}

//  A member of a configuration as the operator would give it.
static raft_member_t
s_machine (uint32_t id)
{
    raft_member_t member = {.id = id, .peer_port = 5600 + id};
    snprintf (member.host, sizeof (member.host), "sim%u", id);
    return member;
}

//  An operator asks the leader for one membership change, one of: add a
//  machine that is not a member as a learner (the leader promotes it once
//  it caught up), remove a member (the leader itself too), or demote a
//  voter to learner. The leader may refuse (a change is pending).
static int
s_change_membership (sim_cluster_t *self)
{
    node_t *leader = s_find_leader (self, false);
    if (!leader || raft_core_transfer_target (leader->core))
        return 0;
    raft_core_t *core = leader->core;
    uint32_t id = (uint32_t)sim_random_range (self->random, 1, self->machine_count);
    size_t voter_count;
    raft_core_voters (core, &voter_count);
    bool voter = false;
    bool member = s_is_member (core, id, &voter);
    uint64_t choice = sim_random_range (self->random, 0, 99);
    int rc = -1;
    const char *what = NULL;
    if (!member) {
        raft_member_t added = s_machine (id);
        rc = raft_core_add_learner (core, &added, NULL);
        what = "add";
        self->totals.adds += rc == 0;
    } else if ((choice < 70 && (!voter || voter_count > 1)) || !voter) {
        rc = raft_core_remove (core, id, NULL);
        what = id == leader->id ? "remove itself" : "remove";
        self->totals.removes += rc == 0;
        self->totals.self_removals += rc == 0 && id == leader->id;
    } else if (voter_count > 1) {
        size_t count;
        const raft_member_t *members = raft_core_members (core, &count);
        raft_member_t changed[MAX_NODES];
        for (size_t position = 0; position < count && position < MAX_NODES; position++) {
            changed[position] = members[position];
            if (members[position].id == id)
                changed[position].voter = false;
        }
        rc = raft_core_propose_config (core, changed, count, NULL);
        what = "demote";
        self->totals.demotes += rc == 0;
    }
    if (rc || !what)
        return 0;
    s_trace (self, "operator asks leader %u to %s node %u", leader->id, what, id);
    return s_after_event (self, leader);
}

//  Counts the last transfer asked as done once its target leads a later term.
static void
s_follow_transfer (sim_cluster_t *self)
{
    if (!self->transfer_target)
        return;
    raft_core_t *core = self->nodes[self->transfer_target].core;
    if (core && raft_core_role (core) == RAFT_ROLE_LEADER &&
        raft_core_term (core) > self->transfer_term) {
        self->totals.transfers_done++;
        self->transfer_target = 0;
    } else if (self->now_ms > self->transfer_deadline_ms)
        self->transfer_target = 0;
}

//  Handles one event; the caller owns and frees its payload.
static int
s_handle (sim_cluster_t *self, sim_event_t *event)
{
    node_t *node = event->node <= self->machine_count ? &self->nodes[event->node] : NULL;
    switch ((event_kind_t)event->kind) {
    case EVENT_DELIVER:
        return s_deliver (self, (raft_message_t *)event->payload);
    case EVENT_TICK:
        sim_queue_push (self->queue, self->now_ms + TICK_MS, EVENT_TICK, node->id, 0, NULL);
        if (!node->core)
            return 0;
        raft_core_tick (node->core, self->now_ms);
        return s_after_event (self, node);
    case EVENT_SYNC:
        if (!node->core || node->incarnation != event->incarnation)
            return 0;
        return s_sync (self, node);
    case EVENT_PROPOSE:
        if (self->faults_stopped)
            return 0;
        sim_queue_push (self->queue,
                        self->now_ms +
                            sim_random_range (self->random, 1, self->parameters.propose_max_ms),
                        EVENT_PROPOSE, 0, 0, NULL);
        return s_client_propose (self);
    case EVENT_FAULT:
        if (self->faults_stopped)
            return 0;
        sim_queue_push (self->queue,
                        self->now_ms + sim_random_range (self->random,
                                                         self->parameters.fault_min_ms,
                                                         self->parameters.fault_max_ms),
                        EVENT_FAULT, 0, 0, NULL);
        s_fault (self);
        return 0;
    case EVENT_RESTART:
        if (node->core || node->incarnation != event->incarnation)
            return 0;
        return s_restart (self, node);
    case EVENT_HEAL:
        sim_network_heal (self->network);
        s_topology_changed (self);
        s_trace (self, "network healed");
        return 0;
    case EVENT_LIVE:
        return s_live_propose (self);
    case EVENT_READY:
        if (!node->core || node->incarnation != event->incarnation || !node->ready_deferred)
            return 0;
        return s_drive (self, node);
    case EVENT_COMPACT:
        //  Also during the end phases: a lagging node must catch up by snapshot
        sim_queue_push (self->queue,
                        self->now_ms + sim_random_range (self->random,
                                                         self->parameters.fault_min_ms,
                                                         self->parameters.fault_max_ms),
                        EVENT_COMPACT, 0, 0, NULL);
        node = s_random_live_node (self);
        return node ? s_compact (self, node) : 0;
    case EVENT_MEMBERSHIP:
        if (self->faults_stopped)
            return 0;
        sim_queue_push (self->queue,
                        self->now_ms + 2 * sim_random_range (self->random,
                                                             self->parameters.fault_min_ms,
                                                             self->parameters.fault_max_ms),
                        EVENT_MEMBERSHIP, 0, 0, NULL);
        return s_change_membership (self);
    case EVENT_TRANSFER:
        if (self->faults_stopped)
            return 0;
        sim_queue_push (self->queue,
                        self->now_ms + 2 * sim_random_range (self->random,
                                                             self->parameters.fault_min_ms,
                                                             self->parameters.fault_max_ms),
                        EVENT_TRANSFER, 0, 0, NULL);
        return s_transfer (self);
    }
    return 0;
}

//  In the rejoin phase: the leader keeps leading and nobody changes term.
static int
s_check_stable (sim_cluster_t *self)
{
    if (self->stable_term == 0)
        return 0;
    node_t *leader = &self->nodes[self->stable_leader];
    if (!leader->core || raft_core_role (leader->core) != RAFT_ROLE_LEADER)
        return s_fail (self, "stability: healthy leader %u lost its role around a rejoining node",
                       self->stable_leader);
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        raft_core_t *core = self->nodes[id].core;
        if (core && s_is_member (leader->core, id, NULL) &&
            raft_core_term (core) != self->stable_term)
            return s_fail (self,
                           "stability: node %u moved to term %llu while leader %u of term %llu "
                           "was healthy",
                           id, (unsigned long long)raft_core_term (core), self->stable_leader,
                           (unsigned long long)self->stable_term);
    }
    return 0;
}

//  Takes the next event, handles it and checks. Returns 1 when the agenda
//  is empty, 0 after a step that held, -1 on a failed check.
static int
s_step (sim_cluster_t *self)
{
    sim_event_t event;
    if (!sim_queue_pop (self->queue, &event))
        return 1;
    self->now_ms = event.time;
    self->step++;
    self->totals.steps++;
    int rc = s_handle (self, &event);
    free (event.payload);
    if (rc == 0)
        rc = s_check_nodes (self);
    if (rc == 0)
        rc = s_check_stable (self);
    s_follow_transfer (self);
    return rc;
}

//  Time a follower with an empty log may need to receive the longest log,
//  one window of AppendEntries per round trip: tiny batch limits are slow
//  but not stuck, and the liveness bound must not mistake one for the other.
static uint64_t
s_catch_up_ms (sim_cluster_t *self)
{
    const parameters_t *parameters = &self->parameters;
    uint64_t longest = 0;
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        uint64_t last_index = raft_core_last_index (self->nodes[id].core);
        if (last_index > longest)
            longest = last_index;
    }
    //  Commands are at most 8 bytes
    size_t per_message = parameters->max_bytes / 8 < parameters->max_entries
                             ? parameters->max_bytes / 8
                             : parameters->max_entries;
    if (per_message == 0)
        per_message = 1;
    uint64_t round_trips = longest / (per_message * parameters->max_inflight) + 1;
    uint64_t round_trip_ms = 2 * parameters->network.delay_max_ms + parameters->sync_max_ms + 1;
    return round_trips * round_trip_ms;
}

//  Whether every member of the leader's configuration applied liveness
//  command number or a later one (nodes removed, or never added, need not).
static bool
s_all_live_applied (sim_cluster_t *self, uint64_t number)
{
    node_t *leader = s_find_leader (self, false);
    if (!leader)
        return false;
    for (uint32_t id = 1; id <= self->machine_count; id++)
        if (s_is_member (leader->core, id, NULL) &&
            (!self->nodes[id].core || self->nodes[id].live_applied <= number))
            return false;
    return true;
}

//  Steps once, failing phase if the virtual clock is past deadline.
static int
s_step_before (sim_cluster_t *self, uint64_t deadline, const char *phase)
{
    if (self->now_ms > deadline)
        return s_fail (self, "%s: not done within %llu ms", phase,
                       (unsigned long long)(self->now_ms - deadline));
    int rc = s_step (self);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return s_fail (self, "%s: nothing left to simulate", phase);
    return 0;
}

//  Steps until every node applied liveness command number or a later one,
//  within a bound of virtual time. phase names the check for the error.
static int
s_run_until_applied (sim_cluster_t *self, uint64_t number, const char *phase)
{
    uint64_t deadline = self->now_ms +
                        (uint64_t)LIVENESS_TIMEOUTS * self->parameters.election_max_ms +
                        s_catch_up_ms (self);
    while (!s_all_live_applied (self, number))
        if (s_step_before (self, deadline, phase))
            return -1;
    return 0;
}

//  Steps until the virtual clock reaches until_ms.
static int
s_run_until (sim_cluster_t *self, uint64_t until_ms)
{
    while (self->now_ms < until_ms) {
        int rc = s_step (self);
        if (rc < 0)
            return -1;
        if (rc > 0)
            break;
    }
    return 0;
}

//  With a healthy leader, a follower cut off for several election timeouts
//  comes back: thanks to pre-vote and the leader's liveness check nobody
//  changes term, the leader keeps its role and the follower catches up.
static int
s_rejoin_phase (sim_cluster_t *self)
{
    //  A transfer asked before faults stopped is over by then
    if (s_run_until (self, self->now_ms + self->parameters.election_max_ms + 2 * TICK_MS))
        return -1;
    node_t *leader = s_find_leader (self, false);
    uint64_t number;
    bool accepted;
    if (!leader)
        return s_fail (self, "stability: no leader after the liveness phase");
    //  Everyone applies a command of the leader's term: everyone is in it
    if (s_propose_live (self, leader, &number, &accepted) || !accepted ||
        s_run_until_applied (self, number, "stability (settling)"))
        return -1;
    //  The node cut off: a learner, or a voter the majority can do without
    leader = s_find_leader (self, false);
    size_t voter_count;
    raft_core_voters (leader->core, &voter_count);
    uint32_t away = 0;
    size_t seen = 0;
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        bool voter = false;
        if (id != leader->id && s_is_member (leader->core, id, &voter) &&
            (!voter || voter_count >= 3) && sim_random_range (self->random, 1, ++seen) == 1)
            away = id;
    }
    if (!away)
        return 0;
    self->stable_leader = leader->id;
    self->stable_term = raft_core_term (leader->core);
    s_trace (self, "rejoin phase: node %u is cut off from leader %u of term %llu", away, leader->id,
             (unsigned long long)self->stable_term);
    sim_network_isolate (self->network, away);
    s_topology_changed (self);
    uint64_t absence = sim_random_range (self->random, 2, 4) * self->parameters.election_max_ms;
    if (s_check_stable (self) || s_run_until (self, self->now_ms + absence))
        return -1;
    sim_network_heal (self->network);
    s_topology_changed (self);
    s_trace (self, "rejoin phase: node %u is back", away);
    if (s_propose_live (self, leader, &number, &accepted) || !accepted ||
        s_run_until_applied (self, number, "stability (rejoined)"))
        return -1;
    self->stable_term = 0;
    self->totals.rejoins++;
    return 0;
}

//  On a calm network the healthy leader hands over to a random follower:
//  that follower must lead the next term within an election timeout,
//  although every voter heard from the old leader lately, and commit.
static int
s_transfer_phase (sim_cluster_t *self)
{
    node_t *leader = s_find_leader (self, false);
    if (!leader || !s_random_voter (self, leader->core, leader->id))
        return 0;
    uint64_t term = raft_core_term (leader->core);
    self->transfer_target = 0;
    if (s_transfer (self) || !self->transfer_target)
        return -1;
    node_t *target = &self->nodes[self->transfer_target];
    uint64_t deadline = self->now_ms + self->parameters.election_max_ms;
    while (raft_core_role (target->core) != RAFT_ROLE_LEADER)
        if (s_step_before (self, deadline, "transfer (target takes over)"))
            return -1;
    if (raft_core_term (target->core) != term + 1)
        return s_fail (self, "transfer: node %u took over in term %llu, not %llu", target->id,
                       (unsigned long long)raft_core_term (target->core),
                       (unsigned long long)term + 1);
    uint64_t number;
    bool accepted;
    if (s_propose_live (self, target, &number, &accepted) || !accepted ||
        s_run_until_applied (self, number, "transfer (new leader)"))
        return -1;
    self->totals.transfer_scenarios++;
    return 0;
}

//  Asks the leader for a membership change until it accepts it (a change
//  of its own, promoting a learner, may be pending). change: "remove" or
//  "add" node id.
static int
s_insist_on_change (sim_cluster_t *self, node_t *leader, bool remove, uint32_t id)
{
    uint64_t deadline = self->now_ms + LIVENESS_TIMEOUTS * self->parameters.election_max_ms;
    raft_member_t added = s_machine (id);
    while (remove ? raft_core_remove (leader->core, id, NULL)
                  : raft_core_add_learner (leader->core, &added, NULL))
        if (s_step_before (self, deadline, "membership (leader takes the change)") ||
            raft_core_role (leader->core) != RAFT_ROLE_LEADER)
            return s_fail (self, "membership: leader %u lost its role", leader->id);
    s_trace (self, "membership phase: leader %u %s node %u", leader->id,
             remove ? "removes" : "adds", id);
    return s_after_event (self, leader);
}

//  On a calm network the leader removes itself: it must hand over at once
//  (a new leader within an election timeout, in a later term, without it),
//  and never campaign again (checked at every step). Then the new leader
//  adds it back as a learner, which must be promoted to voter by itself.
static int
s_membership_phase (sim_cluster_t *self)
{
    node_t *leader = s_find_leader (self, false);
    if (!leader || !s_random_voter (self, leader->core, leader->id))
        return 0;
    uint32_t removed = leader->id;
    uint64_t term = raft_core_term (leader->core);
    if (s_insist_on_change (self, leader, true, removed))
        return -1;
    uint64_t deadline =
        self->now_ms + LIVENESS_TIMEOUTS * self->parameters.election_max_ms + s_catch_up_ms (self);
    node_t *next = NULL;
    while (!next || next->id == removed || raft_core_term (next->core) <= term ||
           s_is_member (next->core, removed, NULL)) {
        if (s_step_before (self, deadline, "membership (the removed leader hands over)"))
            return -1;
        next = s_find_leader (self, false);
    }
    if (s_insist_on_change (self, next, false, removed))
        return -1;
    deadline =
        self->now_ms + LIVENESS_TIMEOUTS * self->parameters.election_max_ms + s_catch_up_ms (self);
    while (!s_is_voter (next->core, removed) ||
           raft_core_commit_index (next->core) < raft_core_config_index (next->core))
        if (s_step_before (self, deadline, "membership (the learner is promoted)"))
            return -1;
    uint64_t number;
    bool accepted;
    if (s_propose_live (self, next, &number, &accepted) || !accepted ||
        s_run_until_applied (self, number, "membership (everyone applies)"))
        return -1;
    self->totals.membership_scenarios++;
    return 0;
}

//  --------------------------------------------------------------------------
//  Public API

sim_cluster_t *
sim_cluster_new (const sim_cluster_options_t *options)
{
    if (options->node_count < 1 || options->node_count > MAX_NODES)
        return NULL;
    sim_cluster_t *self = (sim_cluster_t *)calloc (1, sizeof (sim_cluster_t));
    if (!self)
        return NULL;
    self->options = *options;
    self->random = sim_random_new (options->seed);
    self->queue = sim_queue_new ();
    if (self->random)
        s_draw_parameters (self);
    self->machine_count = options->node_count + self->parameters.spare_count;
    self->network = self->random && self->queue
                        ? sim_network_new (self->machine_count, self->random, self->queue)
                        : NULL;
    self->checker = sim_checker_new (self->machine_count);
    bool allocated = self->random && self->queue && self->network && self->checker;
    for (uint32_t id = 1; allocated && id <= self->machine_count; id++) {
        self->nodes[id].id = id;
        self->nodes[id].disk = sim_disk_new ();
        if (id <= options->node_count)
            self->voters[id - 1] = id;
        allocated = self->nodes[id].disk != NULL;
    }
    if (!allocated) {
        sim_cluster_destroy (&self);
        return NULL;
    }
    sim_network_set_faults (self->network, &self->parameters.network);
    return self;
}

void
sim_cluster_destroy (sim_cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_cluster_t *self = *self_p;
    for (uint32_t id = 1; id <= MAX_NODES; id++) {
        raft_core_destroy (&self->nodes[id].core);
        sim_disk_destroy (&self->nodes[id].disk);
        free (self->nodes[id].incoming);
    }
    sim_network_destroy (&self->network);
    sim_queue_destroy (&self->queue);
    sim_checker_destroy (&self->checker);
    sim_random_destroy (&self->random);
    free (self);
    *self_p = NULL;
}

int
sim_cluster_run (sim_cluster_t *self)
{
    const parameters_t *parameters = &self->parameters;
    s_trace (self,
             "seed %llu: %zu nodes (+%zu spares%s%s), heartbeat %u ms, election %u-%u ms, batch "
             "%zu entries / %zu bytes, window %zu, sync <= %u ms, drop %u/1000, duplicate "
             "%u/1000, slow %u/1000",
             (unsigned long long)self->options.seed, self->options.node_count,
             parameters->spare_count, parameters->membership ? ", membership changes" : "",
             parameters->snapshots ? ", snapshots" : "", parameters->heartbeat_ms,
             parameters->election_min_ms, parameters->election_max_ms, parameters->max_entries,
             parameters->max_bytes, parameters->max_inflight, parameters->sync_max_ms,
             parameters->network.drop_per_mille, parameters->network.duplicate_per_mille,
             parameters->network.slow_per_mille);
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        if (s_restart (self, &self->nodes[id]))
            return -1;
        sim_queue_push (self->queue, sim_random_range (self->random, 0, TICK_MS - 1), EVENT_TICK,
                        id, 0, NULL);
    }
    sim_queue_push (self->queue, parameters->election_max_ms, EVENT_PROPOSE, 0, 0, NULL);
    sim_queue_push (
        self->queue,
        2 * sim_random_range (self->random, parameters->fault_min_ms, parameters->fault_max_ms),
        EVENT_TRANSFER, 0, 0, NULL);
    if (parameters->snapshots)
        sim_queue_push (
            self->queue,
            sim_random_range (self->random, parameters->fault_min_ms, parameters->fault_max_ms),
            EVENT_COMPACT, 0, 0, NULL);
    if (parameters->membership)
        sim_queue_push (
            self->queue,
            2 * sim_random_range (self->random, parameters->fault_min_ms, parameters->fault_max_ms),
            EVENT_MEMBERSHIP, 0, 0, NULL);
    sim_queue_push (
        self->queue,
        sim_random_range (self->random, parameters->fault_min_ms, parameters->fault_max_ms),
        EVENT_FAULT, 0, 0, NULL);
    while (self->step < self->options.steps) {
        int rc = s_step (self);
        if (rc < 0)
            return -1;
        if (rc > 0)
            break;
    }

    //  Liveness: heal, restart, stop faults; a leader must then commit a new
    //  command on every node within a bounded virtual time
    s_trace (self, "liveness phase: faults stop, network heals, crashed nodes restart");
    self->faults_stopped = true;
    sim_network_faults_t calm = parameters->network;
    calm.drop_per_mille = 0;
    calm.duplicate_per_mille = 0;
    calm.slow_per_mille = 0;
    sim_network_set_faults (self->network, &calm);
    sim_network_heal (self->network);
    for (uint32_t id = 1; id <= self->machine_count; id++)
        if (!self->nodes[id].core && s_restart (self, &self->nodes[id]))
            return -1;
    s_topology_changed (self);
    sim_queue_push (self->queue, self->now_ms, EVENT_LIVE, 0, 0, NULL);
    if (s_run_until_applied (self, 0, "liveness") || s_rejoin_phase (self) ||
        s_transfer_phase (self))
        return -1;
    return s_membership_phase (self);
}

const char *
sim_cluster_error (sim_cluster_t *self)
{
    return self->error;
}

uint64_t
sim_cluster_failed_step (sim_cluster_t *self)
{
    return self->step;
}

void
sim_cluster_add_totals (sim_cluster_t *self, sim_totals_t *totals)
{
    totals->steps += self->totals.steps;
    totals->elections += sim_checker_elections (self->checker);
    totals->commits += sim_checker_committed (self->checker);
    totals->proposals += self->totals.proposals;
    totals->crashes += self->totals.crashes;
    totals->torn += self->totals.torn;
    totals->lost += self->totals.lost;
    totals->rejoins += self->totals.rejoins;
    totals->quorum_step_downs += self->totals.quorum_step_downs;
    totals->transfers += self->totals.transfers;
    totals->transfers_done += self->totals.transfers_done;
    totals->transfer_scenarios += self->totals.transfer_scenarios;
    totals->membership_scenarios += self->totals.membership_scenarios;
    totals->compactions += self->totals.compactions;
    totals->snapshots_sent += self->totals.snapshots_sent;
    totals->snapshots_installed += self->totals.snapshots_installed;
    totals->adds += self->totals.adds;
    totals->removes += self->totals.removes;
    totals->self_removals += self->totals.self_removals;
    totals->demotes += self->totals.demotes;
    for (uint32_t id = self->options.node_count + 1; id <= self->machine_count; id++)
        totals->spares_promoted += self->became_voter[id];
    totals->partitions += self->totals.partitions;
    totals->truncations += self->totals.truncations;
    totals->messages += sim_network_sent (self->network);
    totals->dropped += sim_network_dropped (self->network) + self->totals.dropped;
}
