/*  sim_cluster — one simulated run of a raft cluster; see sim_cluster.h.

    Draws the run's parameters from its seed, creates and destroys the
    cluster, plays the run (faulty steps, then the calm phases) and sums
    its counters. Failing a run and tracing it are here too.
*/
#include "sim_cluster_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int
sim_cluster_fail (sim_cluster_t *self, const char *format, ...)
{
    va_list arguments;
    va_start (arguments, format);
    vsnprintf (self->error, sizeof (self->error), format, arguments);
    va_end (arguments);
    return -1;
}

int
sim_cluster_fail_checker (sim_cluster_t *self)
{
    return sim_cluster_fail (self, "%s", sim_checker_error (self->checker));
}

void
sim_cluster_trace (sim_cluster_t *self, const char *format, ...)
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

void
sim_cluster_trace_message (sim_cluster_t *self, const char *what, const raft_message_t *message)
{
    if (!self->options.verbose)
        return;
    switch (message->type) {
    case RAFT_MESSAGE_REQUEST_VOTE:
    case RAFT_MESSAGE_PRE_VOTE:
        sim_cluster_trace (
            self, "%s %u->%u %s term=%llu last=%llu/%llu%s", what, message->from, message->to,
            message->type == RAFT_MESSAGE_PRE_VOTE ? "PreVote" : "RequestVote",
            (unsigned long long)message->term, (unsigned long long)message->last_log_index,
            (unsigned long long)message->last_log_term, message->transfer ? " (transfer)" : "");
        break;
    case RAFT_MESSAGE_TIMEOUT_NOW:
        sim_cluster_trace (self, "%s %u->%u TimeoutNow term=%llu", what, message->from, message->to,
                           (unsigned long long)message->term);
        break;
    case RAFT_MESSAGE_INSTALL_SNAPSHOT:
    case RAFT_MESSAGE_INSTALL_SNAPSHOT_REPLY:
        sim_cluster_trace (
            self, "%s %u->%u %s term=%llu snapshot=%llu/%llu offset=%llu size=%zu done=%d", what,
            message->from, message->to,
            message->type == RAFT_MESSAGE_INSTALL_SNAPSHOT ? "InstallSnapshot" : "SnapshotReply",
            (unsigned long long)message->term, (unsigned long long)message->snapshot_index,
            (unsigned long long)message->snapshot_term, (unsigned long long)message->offset,
            message->data_size, message->done);
        break;
    case RAFT_MESSAGE_REQUEST_VOTE_REPLY:
    case RAFT_MESSAGE_PRE_VOTE_REPLY:
        sim_cluster_trace (
            self, "%s %u->%u %s term=%llu granted=%d", what, message->from, message->to,
            message->type == RAFT_MESSAGE_PRE_VOTE_REPLY ? "PreVoteReply" : "VoteReply",
            (unsigned long long)message->term, message->granted);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES:
        sim_cluster_trace (
            self, "%s %u->%u AppendEntries term=%llu prev=%llu/%llu entries=%zu commit=%llu", what,
            message->from, message->to, (unsigned long long)message->term,
            (unsigned long long)message->prev_log_index, (unsigned long long)message->prev_log_term,
            message->entry_count, (unsigned long long)message->leader_commit);
        break;
    case RAFT_MESSAGE_APPEND_ENTRIES_REPLY:
        sim_cluster_trace (self,
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
    parameters->forge_per_mille = 20;
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
    parameters->deadline_ticks = sim_random_chance (random, 500);
}

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
        self->nodes[id].tick_at = UINT64_MAX;
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
    free (self->reads);
    sim_network_destroy (&self->network);
    sim_queue_destroy (&self->queue);
    sim_checker_destroy (&self->checker);
    sim_random_destroy (&self->random);
    free (self);
    *self_p = NULL;
}

//  The first client proposal, and the first of each periodic event.
static void
s_schedule_first_events (sim_cluster_t *self)
{
    const parameters_t *parameters = &self->parameters;
    sim_queue_push (self->queue, parameters->election_max_ms, EVENT_PROPOSE, 0, 0, NULL);
    sim_queue_push (self->queue, parameters->election_max_ms, EVENT_READ, 0, 0, NULL);
    sim_queue_push (self->queue, sim_events_gap_ms (self, 2), EVENT_TRANSFER, 0, 0, NULL);
    if (parameters->snapshots)
        sim_queue_push (self->queue, sim_events_gap_ms (self, 1), EVENT_COMPACT, 0, 0, NULL);
    if (parameters->membership)
        sim_queue_push (self->queue, sim_events_gap_ms (self, 2), EVENT_MEMBERSHIP, 0, 0, NULL);
    sim_queue_push (self->queue, sim_events_gap_ms (self, 1), EVENT_FAULT, 0, 0, NULL);
}

//  Liveness: heal, restart, stop faults; a leader must then commit a new
//  command on every node within a bounded virtual time. Returns 0 or -1.
static int
s_calm_down (sim_cluster_t *self)
{
    sim_cluster_trace (self, "liveness phase: faults stop, network heals, crashed nodes restart");
    self->faults_stopped = true;
    sim_network_faults_t calm = self->parameters.network;
    calm.drop_per_mille = 0;
    calm.duplicate_per_mille = 0;
    calm.slow_per_mille = 0;
    sim_network_set_faults (self->network, &calm);
    sim_network_heal (self->network);
    for (uint32_t id = 1; id <= self->machine_count; id++)
        if (!self->nodes[id].core && sim_faults_restart (self, &self->nodes[id]))
            return -1;
    sim_checks_topology_changed (self);
    sim_queue_push (self->queue, self->now_ms, EVENT_LIVE, 0, 0, NULL);
    return 0;
}

int
sim_cluster_run (sim_cluster_t *self)
{
    const parameters_t *parameters = &self->parameters;
    sim_cluster_trace (
        self,
        "seed %llu: %zu nodes (+%zu spares%s%s), heartbeat %u ms, election %u-%u ms, %s, batch "
        "%zu entries / %zu bytes, window %zu, sync <= %u ms, drop %u/1000, duplicate "
        "%u/1000, slow %u/1000",
        (unsigned long long)self->options.seed, self->options.node_count, parameters->spare_count,
        parameters->membership ? ", membership changes" : "",
        parameters->snapshots ? ", snapshots" : "", parameters->heartbeat_ms,
        parameters->election_min_ms, parameters->election_max_ms,
        parameters->deadline_ticks ? "ticks at deadlines" : "ticks every 10 ms",
        parameters->max_entries, parameters->max_bytes, parameters->max_inflight,
        parameters->sync_max_ms, parameters->network.drop_per_mille,
        parameters->network.duplicate_per_mille, parameters->network.slow_per_mille);
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        if (sim_faults_restart (self, &self->nodes[id]))
            return -1;
        if (!parameters->deadline_ticks)
            sim_queue_push (self->queue, sim_random_range (self->random, 0, TICK_MS - 1),
                            EVENT_TICK, id, 0, NULL);
    }
    s_schedule_first_events (self);
    while (self->step < self->options.steps) {
        int rc = sim_events_step (self);
        if (rc < 0)
            return -1;
        if (rc > 0)
            break;
    }
    if (s_calm_down (self) || sim_phases_run_until_applied (self, 0, "liveness") ||
        sim_phases_rejoin_phase (self) || sim_phases_transfer_phase (self))
        return -1;
    return sim_phases_membership_phase (self);
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
    totals->reads += self->totals.reads;
    totals->reads_answered += self->totals.reads_answered;
    totals->reads_failed += self->totals.reads_failed;
    totals->adds += self->totals.adds;
    totals->removes += self->totals.removes;
    totals->self_removals += self->totals.self_removals;
    totals->demotes += self->totals.demotes;
    for (uint32_t id = self->options.node_count + 1; id <= self->machine_count; id++)
        totals->spares_promoted += self->became_voter[id];
    totals->partitions += self->totals.partitions;
    totals->pauses += self->totals.pauses;
    totals->truncations += self->totals.truncations;
    totals->messages += sim_network_sent (self->network);
    totals->dropped += sim_network_dropped (self->network) + self->totals.dropped;
    totals->forged += self->totals.forged;
}
