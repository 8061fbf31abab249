/*  sim_events — one step of the run: the next event, handled.

    Delivers messages, ticks clocks, finishes syncs, collects deferred
    readies, and dispatches client, fault, operator and compaction
    events; the checks run after each.
*/
#include "sim_cluster_private.h"

#include <stdlib.h>

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
        sim_queue_push (self->queue, self->now_ms + TICK_MS, EVENT_TICK, node->id, 0, NULL);
        if (!node->core)
            return 0;
        raft_core_tick (node->core, self->now_ms);
        return sim_node_after_event (self, node);
    case EVENT_SYNC:
        return current ? s_sync (self, node) : 0;
    case EVENT_RESTART:
        if (node->core || node->incarnation != event->incarnation)
            return 0;
        return sim_faults_restart (self, node);
    case EVENT_READY:
        return current && node->ready_deferred ? sim_node_drive (self, node) : 0;
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
        kind == EVENT_PROPOSE
            ? sim_random_range (self->random, 1, self->parameters.propose_max_ms)
            : sim_events_gap_ms (self, kind == EVENT_MEMBERSHIP || kind == EVENT_TRANSFER ? 2 : 1);
    sim_queue_push (self->queue, self->now_ms + gap_ms, kind, 0, 0, NULL);
    node_t *node;
    switch (kind) {
    case EVENT_PROPOSE:
        return sim_operator_client_propose (self);
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

//  Takes the next event, handles it and checks. Returns 1 when the agenda
//  is empty, 0 after a step that held, -1 on a failed check.
int
sim_events_step (sim_cluster_t *self)
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
        rc = sim_checks_check_nodes (self);
    if (rc == 0)
        rc = sim_checks_check_stable (self);
    sim_operator_follow_transfer (self);
    return rc;
}
