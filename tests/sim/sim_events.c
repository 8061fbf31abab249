/*  sim_events — one step of the run: the next event, handled.

    Delivers messages (now and then after a forged one the core must
    ignore), ticks clocks, finishes syncs, collects deferred readies, and
    dispatches client, fault, operator and compaction events; the checks
    run after each.
*/
#include "sim_cluster_private.h"

#include <stdlib.h>

//  Hands node a message no member of a healthy cluster sends, made from
//  message: the same with a term past RAFT_TERM_MAX (up to UINT64_MAX), or
//  a TimeoutNow from its sender when that is not the node's leader. The
//  core must ignore it: its term may not move (nor wrap to 0 later).
static int
s_forge (sim_cluster_t *self, node_t *node, const raft_message_t *message)
{
    uint64_t term = raft_core_term (node->core);
    raft_message_t forged = *message;
    if (sim_random_range (self->random, 0, 1) == 0)
        forged.term =
            UINT64_MAX - sim_random_range (self->random, 0, UINT64_MAX - RAFT_TERM_MAX - 1);
    else if (raft_core_leader (node->core) != message->from)
        forged = (raft_message_t){.type = RAFT_MESSAGE_TIMEOUT_NOW,
                                  .from = message->from,
                                  .to = message->to,
                                  .term = term};
    else
        return 0;
    sim_cluster_trace_message (self, "forge", &forged);
    self->totals.forged++;
    raft_core_receive (node->core, &forged);
    if (raft_core_term (node->core) != term)
        return sim_cluster_fail (self, "node %u: a forged message moved its term %llu to %llu",
                                 node->id, (unsigned long long)term,
                                 (unsigned long long)raft_core_term (node->core));
    return 0;
}

static int
s_deliver (sim_cluster_t *self, raft_message_t *message)
{
    node_t *node =
        message->to >= 1 && message->to <= self->machine_count ? &self->nodes[message->to] : NULL;
    if (!node || !node->core ||
        !sim_network_connected (self->network, message->from, message->to)) {
        sim_cluster_trace_message (self, "lost", message);
        self->totals.dropped++;
        return 0;
    }
    if (sim_random_chance (self->random, self->parameters.forge_per_mille) &&
        s_forge (self, node, message))
        return -1;
    sim_cluster_trace_message (self, "deliver", message);
    raft_core_receive (node->core, message);
    return sim_node_after_event (self, node);
}

static int
s_sync (sim_cluster_t *self, node_t *node)
{
    node->sync_scheduled = false;
    sim_node_sync_and_report (self, node);
    return sim_node_after_event (self, node);
}

//  Gap before a periodic event comes again: factor times a draw between
//  the fault gap bounds.
uint64_t
sim_events_gap_ms (sim_cluster_t *self, uint64_t factor)
{
    return factor * sim_random_range (self->random, self->parameters.fault_min_ms,
                                      self->parameters.fault_max_ms);
}

//  An event for one node; stale ones (the node crashed or restarted since
//  they were scheduled) are dropped.
static int
s_handle_node_event (sim_cluster_t *self, sim_event_t *event, node_t *node)
{
    bool current = node->core && node->incarnation == event->incarnation;
    switch ((event_kind_t)event->kind) {
    case EVENT_TICK:
        //  Deadline ticks come when scheduled (sim_node_schedule_tick),
        //  the others on a fixed period, crashed or not
        if (!self->parameters.deadline_ticks)
            sim_queue_push (self->queue, self->now_ms + TICK_MS, EVENT_TICK, node->id, 0, NULL);
        else if (event->time >= node->tick_at)
            node->tick_at = UINT64_MAX;
        if (!node->core)
            return 0;
        if (sim_node_tick (self, node))
            return -1;
        return sim_node_after_event (self, node);
    case EVENT_SYNC:
        return current ? s_sync (self, node) : 0;
    case EVENT_RESTART:
        if (node->core || node->incarnation != event->incarnation)
            return 0;
        return sim_faults_restart (self, node);
    case EVENT_READY:
        return current && node->ready_deferred ? sim_node_drive (self, node) : 0;
    case EVENT_NOTICE:
        //  Cleared even when stale: a restarted node may schedule its own
        node->notice_scheduled = false;
        if (!current)
            return 0;
        raft_core_notice_commit (node->core);
        return sim_node_after_event (self, node);
    default:
        return 0;
    }
}

//  A periodic event: it schedules its next occurrence, then strikes. Only
//  compactions go on once faults stop (a lagging node must catch up by
//  snapshot in the end phases too).
static int
s_handle_periodic (sim_cluster_t *self, event_kind_t kind)
{
    if (self->faults_stopped && kind != EVENT_COMPACT)
        return 0;
    uint64_t gap_ms =
        kind == EVENT_PROPOSE || kind == EVENT_READ
            ? sim_random_range (self->random, 1, self->parameters.propose_max_ms)
            : sim_events_gap_ms (self, kind == EVENT_MEMBERSHIP || kind == EVENT_TRANSFER ? 2 : 1);
    sim_queue_push (self->queue, self->now_ms + gap_ms, kind, 0, 0, NULL);
    node_t *node;
    switch (kind) {
    case EVENT_PROPOSE:
        return sim_operator_client_propose (self);
    case EVENT_READ:
        return sim_reads_client_read (self);
    case EVENT_FAULT:
        sim_faults_fault (self);
        return 0;
    case EVENT_COMPACT:
        node = sim_faults_random_live_node (self);
        return node ? sim_snapshots_compact (self, node) : 0;
    case EVENT_MEMBERSHIP:
        return sim_operator_change_membership (self);
    case EVENT_TRANSFER:
        return sim_operator_transfer (self);
    default:
        return 0;
    }
}

//  Handles one event; the caller owns and frees its payload.
static int
s_handle (sim_cluster_t *self, sim_event_t *event)
{
    event_kind_t kind = (event_kind_t)event->kind;
    switch (kind) {
    case EVENT_DELIVER:
        return s_deliver (self, (raft_message_t *)event->payload);
    case EVENT_TICK:
    case EVENT_SYNC:
    case EVENT_RESTART:
    case EVENT_READY:
    case EVENT_NOTICE:
        return s_handle_node_event (self, event, &self->nodes[event->node]);
    case EVENT_HEAL:
        sim_network_heal (self->network);
        sim_checks_topology_changed (self);
        sim_cluster_trace (self, "network healed");
        return 0;
    case EVENT_LIVE:
        return sim_operator_live_propose (self);
    default:
        return s_handle_periodic (self, kind);
    }
}

//  The live node an event is for, NULL if none (periodic events, a
//  message to nowhere, a restart).
static node_t *
s_target (sim_cluster_t *self, const sim_event_t *event)
{
    uint32_t id = event->node;
    if (event->kind == EVENT_DELIVER)
        id = ((const raft_message_t *)event->payload)->to;
    else if (event->kind != EVENT_TICK && event->kind != EVENT_SYNC && event->kind != EVENT_READY &&
             event->kind != EVENT_NOTICE)
        return NULL;
    node_t *node = id >= 1 && id <= self->machine_count ? &self->nodes[id] : NULL;
    return node && node->core ? node : NULL;
}

//  Takes the next event, handles it and checks. Returns 1 when the agenda
//  is empty, 0 after a step that held, -1 on a failed check.
int
sim_events_step (sim_cluster_t *self)
{
    sim_event_t event;
    if (!sim_queue_pop (self->queue, &event))
        return 1;
    self->now_ms = event.time;
    //  Deadline ticks: each process reads its clock before it handles
    //  anything, as the actor does (raft_core_set_clock)
    for (uint32_t id = 1; self->parameters.deadline_ticks && id <= self->machine_count; id++)
        if (self->nodes[id].core)
            raft_core_set_clock (self->nodes[id].core, self->now_ms);
    self->step++;
    self->totals.steps++;
    node_t *target = s_target (self, &event);
    if (target && target->paused_until_ms) {
        //  A stalled process: what comes for it waits until it wakes. Its
        //  clock keeps the cadence instead, so that a crash ending the pause
        //  does not leave the restarted process without ticks until then
        if (self->now_ms < target->paused_until_ms && event.kind == EVENT_TICK) {
            if (event.time >= target->tick_at)
                target->tick_at = self->now_ms + TICK_MS;
            return sim_queue_push (self->queue, self->now_ms + TICK_MS, EVENT_TICK, event.node, 0,
                                   NULL) == 0
                       ? 0
                       : sim_cluster_fail (self, "out of memory for events");
        }
        if (self->now_ms < target->paused_until_ms)
            return sim_queue_push (self->queue, target->paused_until_ms, event.kind, event.node,
                                   event.incarnation, event.payload) == 0
                       ? 0
                       : sim_cluster_fail (self, "out of memory for events");
        target->paused_until_ms = 0;
        if (sim_reads_resumed (self, target)) {
            free (event.payload);
            return -1;
        }
    }
    int rc = s_handle (self, &event);
    free (event.payload);
    if (rc == 0)
        rc = sim_checks_check_nodes (self);
    if (rc == 0)
        rc = sim_checks_check_stable (self);
    sim_operator_follow_transfer (self);
    return rc;
}
