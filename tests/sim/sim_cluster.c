/*  sim_cluster — one simulated run of a raft cluster; see sim_cluster.h. */
#include "sim_cluster.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_core.h"
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
    EVENT_DELIVER, //  a message arrives (payload: raft_message_t block)
    EVENT_TICK,    //  a node's clock ticks
    EVENT_SYNC,    //  a node's disk finishes an fdatasync
    EVENT_PROPOSE, //  a client proposes a command
    EVENT_FAULT,   //  the fault injector strikes
    EVENT_RESTART, //  a crashed node comes back
    EVENT_HEAL,    //  a partition ends
    EVENT_LIVE,    //  liveness phase: propose to the leader, if any
    EVENT_READY    //  a node's loop turn ends: it collects its ready
} event_kind_t;

//  One simulated broker: a core with its disk.
typedef struct {
    uint32_t id;             //  node id, 1..node_count
    raft_core_t *core;       //  NULL while crashed
    sim_disk_t *disk;        //  survives crashes
    uint64_t incarnation;    //  bumped at each crash and restart; stale events are dropped
    bool sync_scheduled;     //  a SYNC event is pending
    bool ready_deferred;     //  events were fed, the ready is collected by a READY event
    uint64_t checked_commit; //  commit index already reported to the checker
    bool live_applied;       //  applied a liveness command (this incarnation)
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
    uint32_t defer_per_mille; //  events after which the ready waits (several events per turn)
    uint32_t
        inline_sync_per_mille; //  readies whose writes are synced before advance, as the actor does
    sim_network_faults_t network; //  loss, duplication, delays
} parameters_t;

struct _sim_cluster_t {
    sim_cluster_options_t options; //  seed, size, steps, verbosity
    parameters_t parameters;       //  drawn from the seed
    sim_random_t *random;          //  the run's only random source
    sim_queue_t *queue;            //  agenda of events
    sim_network_t *network;        //  in-flight messages and partitions
    sim_checker_t *checker;        //  safety properties
    node_t nodes[MAX_NODES + 1];   //  index = node id
    uint32_t voters[MAX_NODES];    //  every node votes
    uint64_t now_ms;               //  virtual clock
    uint64_t step;                 //  events processed
    bool faults_stopped;           //  liveness phase: no more faults or client load
    uint64_t proposals;            //  commands proposed (next command number)
    uint64_t live_proposals;       //  liveness commands proposed
    uint32_t live_leader;          //  leader that got the last liveness command
    uint64_t live_term;            //  in this term
    sim_totals_t totals;           //  this run's counters
    char error[512];               //  why the run failed
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
        s_trace (self, "%s %u->%u RequestVote term=%llu last=%llu/%llu", what, message->from,
                 message->to, (unsigned long long)message->term,
                 (unsigned long long)message->last_log_index,
                 (unsigned long long)message->last_log_term);
        break;
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
        s_trace (self, "%s %u->%u VoteReply term=%llu granted=%d", what, message->from, message->to,
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
    parameters->defer_per_mille = (uint32_t)sim_random_range (random, 0, 1) * 400;
    parameters->inline_sync_per_mille = (uint32_t)sim_random_range (random, 0, 2) * 400;
    sim_network_faults_t *network = &parameters->network;
    network->drop_per_mille = (uint32_t)sim_random_range (random, 0, 100);
    network->duplicate_per_mille = (uint32_t)sim_random_range (random, 0, 50);
    network->slow_per_mille = (uint32_t)sim_random_range (random, 0, 100);
    network->delay_min_ms = 1;
    network->delay_max_ms = (uint32_t)sim_random_range (random, 2, 12);
    network->slow_max_ms = (uint32_t)sim_random_range (random, 30, 150);
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
        raft_core_persisted (node->core, last_index, sim_disk_entry (node->disk, last_index)->term);
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
        if (entry->size >= strlen (LIVE_PREFIX) &&
            memcmp (entry->data, LIVE_PREFIX, strlen (LIVE_PREFIX)) == 0)
            node->live_applied = true;
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
        raft_core_advance (node->core);
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

//  Checks that hold between steps, on every live node.
static int
s_check_nodes (sim_cluster_t *self)
{
    for (uint32_t id = 1; id <= self->options.node_count; id++) {
        node_t *node = &self->nodes[id];
        if (!node->core)
            continue;
        uint64_t term = raft_core_term (node->core);
        bool leader = raft_core_role (node->core) == RAFT_ROLE_LEADER;
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
        if (persisted_index > 0 && (!durable || !held || durable->term != held->term))
            return s_fail (self, "node %u counts index %llu persisted but its disk lacks it", id,
                           (unsigned long long)persisted_index);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Crashes and restarts

static void
s_crash (sim_cluster_t *self, node_t *node)
{
    bool torn = sim_random_chance (self->random, self->parameters.torn_per_mille);
    raft_core_destroy (&node->core);
    sim_disk_crash (node->disk, self->random, torn);
    node->incarnation++;
    node->sync_scheduled = false;
    node->ready_deferred = false;
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
        .voter_count = self->options.node_count,
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
    node->live_applied = false;
    sim_checker_restart (self->checker, node->id);
    uint64_t last_index = sim_disk_last_index (node->disk);
    for (uint64_t index = 1; index <= last_index; index++)
        if (raft_core_restore_entry (node->core, sim_disk_entry (node->disk, index)))
            return s_fail (self, "node %u refuses to restore its durable entry %llu", node->id,
                           (unsigned long long)index);
    if (last_index > 0 &&
        sim_checker_append (self->checker, node->id, sim_disk_entry (node->disk, 1), last_index))
        return s_fail_checker (self);
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
    for (uint32_t id = 1; id <= self->options.node_count; id++) {
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

static int
s_propose (sim_cluster_t *self, node_t *leader, const char *command)
{
    uint64_t index = 0;
    if (raft_core_propose (leader->core, (const uint8_t *)command, strlen (command), &index))
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
    return s_propose (self, leader, command);
}

static node_t *
s_random_live_node (sim_cluster_t *self)
{
    node_t *found = NULL;
    size_t live = 0;
    for (uint32_t id = 1; id <= self->options.node_count; id++)
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
    uint64_t downtime = sim_random_range (self->random, 10, self->parameters.election_max_ms * 2);
    sim_queue_push (self->queue, self->now_ms + downtime, EVENT_RESTART, node->id,
                    node->incarnation, NULL);
}

static size_t
s_crashed_count (sim_cluster_t *self)
{
    size_t crashed = 0;
    for (uint32_t id = 1; id <= self->options.node_count; id++)
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
        if (s_crashed_count (self) >= (self->options.node_count - 1) / 2)
            return;
        node_t *victim = choice < 35 || !leader ? s_random_live_node (self) : leader;
        if (victim)
            s_crash_and_plan_restart (self, victim);
        return;
    }
    if (choice < 65) {
        s_trace (self, "every node crashes");
        for (uint32_t id = 1; id <= self->options.node_count; id++)
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
    s_schedule_heal (self);
}

//  --------------------------------------------------------------------------
//  Events

static int
s_deliver (sim_cluster_t *self, raft_message_t *message)
{
    node_t *node = message->to >= 1 && message->to <= self->options.node_count
                       ? &self->nodes[message->to]
                       : NULL;
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

static int
s_live_propose (sim_cluster_t *self)
{
    sim_queue_push (self->queue, self->now_ms + LIVE_PROPOSE_MS, EVENT_LIVE, 0, 0, NULL);
    node_t *leader = s_find_leader (self, false);
    if (!leader)
        return 0;
    uint64_t term = raft_core_term (leader->core);
    if (leader->id == self->live_leader && term == self->live_term)
        return 0;
    self->live_leader = leader->id;
    self->live_term = term;
    char command[32];
    snprintf (command, sizeof (command), LIVE_PREFIX "%llu",
              (unsigned long long)self->live_proposals++);
    return s_propose (self, leader, command);
}

//  Handles one event; the caller owns and frees its payload.
static int
s_handle (sim_cluster_t *self, sim_event_t *event)
{
    node_t *node = event->node <= self->options.node_count ? &self->nodes[event->node] : NULL;
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
        s_trace (self, "network healed");
        return 0;
    case EVENT_LIVE:
        return s_live_propose (self);
    case EVENT_READY:
        if (!node->core || node->incarnation != event->incarnation || !node->ready_deferred)
            return 0;
        return s_drive (self, node);
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
    for (uint32_t id = 1; id <= self->options.node_count; id++) {
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

static bool
s_all_live_applied (sim_cluster_t *self)
{
    for (uint32_t id = 1; id <= self->options.node_count; id++)
        if (!self->nodes[id].core || !self->nodes[id].live_applied)
            return false;
    return true;
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
    self->network = self->random && self->queue
                        ? sim_network_new (options->node_count, self->random, self->queue)
                        : NULL;
    self->checker = sim_checker_new (options->node_count);
    bool allocated = self->random && self->queue && self->network && self->checker;
    for (uint32_t id = 1; allocated && id <= options->node_count; id++) {
        self->nodes[id].id = id;
        self->nodes[id].disk = sim_disk_new ();
        self->voters[id - 1] = id;
        allocated = self->nodes[id].disk != NULL;
    }
    if (!allocated) {
        sim_cluster_destroy (&self);
        return NULL;
    }
    s_draw_parameters (self);
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
             "seed %llu: %zu nodes, heartbeat %u ms, election %u-%u ms, batch %zu entries / %zu "
             "bytes, window %zu, sync <= %u ms, drop %u/1000, duplicate %u/1000, slow %u/1000",
             (unsigned long long)self->options.seed, self->options.node_count,
             parameters->heartbeat_ms, parameters->election_min_ms, parameters->election_max_ms,
             parameters->max_entries, parameters->max_bytes, parameters->max_inflight,
             parameters->sync_max_ms, parameters->network.drop_per_mille,
             parameters->network.duplicate_per_mille, parameters->network.slow_per_mille);
    for (uint32_t id = 1; id <= self->options.node_count; id++) {
        if (s_restart (self, &self->nodes[id]))
            return -1;
        sim_queue_push (self->queue, sim_random_range (self->random, 0, TICK_MS - 1), EVENT_TICK,
                        id, 0, NULL);
    }
    sim_queue_push (self->queue, parameters->election_max_ms, EVENT_PROPOSE, 0, 0, NULL);
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
    for (uint32_t id = 1; id <= self->options.node_count; id++)
        if (!self->nodes[id].core && s_restart (self, &self->nodes[id]))
            return -1;
    sim_queue_push (self->queue, self->now_ms, EVENT_LIVE, 0, 0, NULL);
    uint64_t deadline = self->now_ms + (uint64_t)LIVENESS_TIMEOUTS * parameters->election_max_ms +
                        s_catch_up_ms (self);
    while (!s_all_live_applied (self)) {
        if (self->now_ms > deadline)
            return s_fail (self,
                           "liveness: no command committed on every node within %u election "
                           "timeouts after healing",
                           LIVENESS_TIMEOUTS);
        int rc = s_step (self);
        if (rc < 0)
            return -1;
        if (rc > 0)
            return s_fail (self, "liveness: nothing left to simulate");
    }
    return 0;
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
    totals->partitions += self->totals.partitions;
    totals->truncations += self->totals.truncations;
    totals->messages += sim_network_sent (self->network);
    totals->dropped += sim_network_dropped (self->network) + self->totals.dropped;
}
