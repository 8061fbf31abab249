/*  sim_node — one simulated broker driven through ready / act / advance.

    Exactly as the raft actor drives its core: hard state, messages, log
    writes and syncs (inline or as a later SYNC event), committed entries
    applied and checked, configuration changes noted, snapshots acted on.
*/
#include "sim_cluster_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
void
sim_node_sync_and_report (sim_cluster_t *self, node_t *node)
{
    sim_disk_sync (node->disk);
    uint64_t last_index = sim_disk_last_index (node->disk);
    sim_cluster_trace (self, "node %u synced up to %llu", node->id, (unsigned long long)last_index);
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
            return sim_cluster_fail (self, "node %u applies index %llu before it is durable",
                                     node->id, (unsigned long long)entry->index);
        if (sim_checker_apply (self->checker, node->id, entry))
            return sim_cluster_fail_checker (self);
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

//  A node's configuration changed: checks it and notes spares made voters.
static int
s_note_config (sim_cluster_t *self, node_t *node, const raft_ready_t *ready)
{
    size_t voters = 0;
    for (size_t position = 0; position < ready->member_count; position++) {
        const raft_member_t *member = &ready->members[position];
        if (member->id < 1 || member->id > self->machine_count)
            return sim_cluster_fail (self, "node %u's configuration lists unknown node %u",
                                     node->id, member->id);
        voters += member->voter;
        if (member->voter && member->id > self->options.node_count)
            self->became_voter[member->id] = true;
    }
    //  Empty is a joining node's bootstrap configuration (a truncation may
    //  take it back there); otherwise there must be someone to elect
    if (voters == 0 && ready->member_count > 0)
        return sim_cluster_fail (self, "node %u's configuration has no voter", node->id);
    if (self->options.verbose) {
        char text[128] = "";
        size_t used = 0;
        for (size_t position = 0; position < ready->member_count && used < sizeof (text);
             position++)
            used +=
                snprintf (text + used, sizeof (text) - used, " %u%s", ready->members[position].id,
                          ready->members[position].voter ? "" : "(learner)");
        sim_cluster_trace (self, "node %u's configuration is now%s", node->id, text);
    }
    return 0;
}

//  Acts on every ready the node has, in the order the contract fixes.
int
sim_node_drive (sim_cluster_t *self, node_t *node)
{
    raft_ready_t ready;
    node->ready_deferred = false;
    while (raft_core_ready (node->core, &ready)) {
        if (ready.soft_state_changed)
            sim_cluster_trace (self, "node %u is %s of term %llu (leader %u)", node->id,
                               ready.role == RAFT_ROLE_LEADER      ? "leader"
                               : ready.role == RAFT_ROLE_CANDIDATE ? "candidate"
                                                                   : "follower",
                               (unsigned long long)ready.term, ready.leader_id);
        if (ready.config_changed && s_note_config (self, node, &ready))
            return -1;
        //  a. hard state
        if (ready.hard_state_changed &&
            sim_disk_save_hard_state (node->disk, ready.term, ready.voted_for))
            return sim_cluster_fail (self, "node %u saves term %llu vote %u over term %llu vote %u",
                                     node->id, (unsigned long long)ready.term, ready.voted_for,
                                     (unsigned long long)sim_disk_term (node->disk),
                                     sim_disk_voted_for (node->disk));
        //  b. messages
        for (size_t position = 0; position < ready.message_count; position++) {
            const raft_message_t *message = &ready.messages[position];
            if (message->from != node->id)
                return sim_cluster_fail (self, "node %u sends a message from %u", node->id,
                                         message->from);
            sim_cluster_trace_message (self, "send", message);
            sim_network_send (self->network, message, self->now_ms, EVENT_DELIVER);
        }
        //  c. log writes, synced later
        if (ready.truncate_from) {
            self->totals.truncations++;
            sim_cluster_trace (self, "node %u truncates from %llu", node->id,
                               (unsigned long long)ready.truncate_from);
            if (sim_checker_truncate (self->checker, node->id, ready.truncate_from))
                return sim_cluster_fail_checker (self);
        }
        if (sim_checker_append (self->checker, node->id, ready.entries_to_persist,
                                ready.entries_to_persist_count))
            return sim_cluster_fail_checker (self);
        if (sim_disk_write (node->disk, ready.truncate_from, ready.entries_to_persist,
                            ready.entries_to_persist_count))
            return sim_cluster_fail (self, "node %u hands out entries that do not follow its log",
                                     node->id);
        //  Sometimes written and synced in this turn, so that persisted
        //  arrives before advance
        if (sim_disk_dirty (node->disk) &&
            sim_random_chance (self->random, self->parameters.inline_sync_per_mille))
            sim_node_sync_and_report (self, node);
        s_schedule_sync (self, node);
        //  d. apply
        if (s_apply (self, node, ready.committed, ready.committed_count))
            return -1;
        //  e. snapshots out and in
        for (size_t position = 0; position < ready.snapshot_send_count; position++)
            if (sim_snapshots_send_snapshot (self, node, &ready.snapshot_sends[position]))
                return -1;
        for (size_t position = 0; position < ready.snapshot_chunk_count; position++)
            if (sim_snapshots_store_chunk (self, node, &ready.snapshot_chunks[position]))
                return -1;
        //  g. reads settled
        for (size_t position = 0; position < ready.read_count; position++)
            if (sim_reads_settled (self, node, &ready.reads[position]))
                return -1;
        raft_core_advance (node->core);
        if (node->incoming_complete && sim_snapshots_install_snapshot (self, node))
            return -1;
    }
    //  A commit no AppendEntries carried: its notice a moment later, as
    //  the actor's alarm does (or never, when the node crashes first)
    if (!node->notice_scheduled && raft_core_commit_untold (node->core)) {
        node->notice_scheduled = true;
        sim_queue_push (self->queue, self->now_ms + sim_random_range (self->random, 0, 2),
                        EVENT_NOTICE, node->id, node->incarnation, NULL);
    }
    return sim_node_schedule_tick (self, node);
}

int
sim_node_schedule_tick (sim_cluster_t *self, node_t *node)
{
    if (!self->parameters.deadline_ticks || !node->core)
        return 0;
    uint64_t deadline = raft_core_next_deadline (node->core);
    if (deadline < self->now_ms)
        deadline = self->now_ms;
    if (deadline >= node->tick_at)
        return 0;
    if (sim_queue_push (self->queue, deadline, EVENT_TICK, node->id, 0, NULL))
        return sim_cluster_fail (self, "out of memory for events");
    node->tick_at = deadline;
    return 0;
}

int
sim_node_tick (sim_cluster_t *self, node_t *node)
{
    raft_core_t *core = node->core;
    bool early = self->now_ms < raft_core_next_deadline (core);
    raft_role_t role = raft_core_role (core);
    uint64_t term = raft_core_term (core);
    uint32_t leader = raft_core_leader (core);
    uint32_t transfer = raft_core_transfer_target (core);
    raft_core_tick (core, self->now_ms);
    if (early &&
        (raft_core_role (core) != role || raft_core_term (core) != term ||
         raft_core_leader (core) != leader || raft_core_transfer_target (core) != transfer))
        return sim_cluster_fail (self, "node %u: a tick before its deadline changed its state",
                                 node->id);
    if (raft_core_next_deadline (core) <= self->now_ms)
        return sim_cluster_fail (self, "node %u: still due after a tick at %llu", node->id,
                                 (unsigned long long)self->now_ms);
    return 0;
}

//  After an event: act on the ready now, or let more events in first, as
//  an actor does that drains its sockets before collecting the ready.
int
sim_node_after_event (sim_cluster_t *self, node_t *node)
{
    if (!sim_random_chance (self->random, self->parameters.defer_per_mille))
        return sim_node_drive (self, node);
    if (!node->ready_deferred) {
        node->ready_deferred = true;
        sim_queue_push (self->queue, self->now_ms + sim_random_range (self->random, 0, 3),
                        EVENT_READY, node->id, node->incarnation, NULL);
    }
    return 0;
}
