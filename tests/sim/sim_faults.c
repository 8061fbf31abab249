/*  sim_faults — crashes, restarts, partitions and pauses.

    A crash loses the unsynced tail (or keeps a torn part of it) and, when
    safety allows, rarely synced entries too; a restart rebuilds the core
    from what the disk holds (snapshot, term and vote, log). The fault
    injector picks crashes, partitions and isolated leaders.
*/
#include "sim_cluster_private.h"

#include <stdlib.h>

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
    if (!members && blob && sim_snapshots_snapshot_parse (blob, size, &snapshot) == 0) {
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
    sim_cluster_trace (self, "node %u's disk loses synced entries from %llu", node->id,
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
    node->paused_until_ms = 0;
    node->incoming_size = 0;
    node->incoming_complete = false;
    self->totals.crashes++;
    self->totals.torn += torn;
    sim_cluster_trace (self, "node %u crashes%s; durable log ends at %llu", node->id,
                       torn ? " (torn tail)" : "",
                       (unsigned long long)sim_disk_last_index (node->disk));
}

int
sim_faults_restart (sim_cluster_t *self, node_t *node)
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
        return sim_cluster_fail (self, "node %u: raft_core_new failed", node->id);
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
        if (sim_snapshots_snapshot_parse (blob, size, &snapshot))
            return sim_cluster_fail (self, "node %u's snapshot is garbled", node->id);
        int rc = raft_core_restore_snapshot (node->core, snapshot.index, snapshot.term,
                                             snapshot.members, snapshot.member_count);
        free (snapshot.members);
        if (rc)
            return sim_cluster_fail (self, "node %u refuses to restore its snapshot up to %llu",
                                     node->id, (unsigned long long)snapshot.index);
        if (sim_snapshots_adopt_snapshot (self, node, &snapshot))
            return -1;
    }
    uint64_t last_index = sim_disk_last_index (node->disk);
    for (uint64_t index = first_index + 1; index <= last_index; index++)
        if (raft_core_restore_entry (node->core, sim_disk_entry (node->disk, index)))
            return sim_cluster_fail (self, "node %u refuses to restore its durable entry %llu",
                                     node->id, (unsigned long long)index);
    if (last_index > first_index &&
        sim_checker_append (self->checker, node->id, sim_disk_entry (node->disk, first_index + 1),
                            last_index - first_index))
        return sim_cluster_fail_checker (self);
    sim_checks_topology_changed (self);
    sim_cluster_trace (self, "node %u restarts: term %llu vote %u, %llu entries", node->id,
                       (unsigned long long)options.term, options.voted_for,
                       (unsigned long long)last_index);
    return sim_node_schedule_tick (self, node);
}

node_t *
sim_faults_random_live_node (sim_cluster_t *self)
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
        sim_cluster_trace (self, "network partitioned: %s", groups);
    }
}

static void
s_crash_and_plan_restart (sim_cluster_t *self, node_t *node)
{
    s_crash (self, node);
    sim_checks_topology_changed (self);
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

//  Stalls the leader (a process pause: GC, swap, SIGSTOP) for two to four
//  maximum election timeouts: the others elect a leader and commit
//  meanwhile, and it wakes believing it still leads, with client reads
//  waiting for it (sim_reads_resumed). Nothing reaches it before.
static void
s_pause (sim_cluster_t *self, node_t *node)
{
    uint64_t election_max_ms = self->parameters.election_max_ms;
    node->paused_until_ms =
        self->now_ms + sim_random_range (self->random, 2 * election_max_ms, 4 * election_max_ms);
    self->totals.pauses++;
    sim_cluster_trace (self, "node %u pauses until %llu ms", node->id,
                       (unsigned long long)node->paused_until_ms);
}

//  Whether node is stalled now.
bool
sim_faults_paused (sim_cluster_t *self, node_t *node)
{
    return node->paused_until_ms > self->now_ms;
}

//  Strikes, one of: crash a node (35%) or the leader (25%) while a majority
//  stays up, crash every node at once (5%), split the network (20%), cut
//  the leader off (10%) or stall it (5%); one partition at a time.
void
sim_faults_fault (sim_cluster_t *self)
{
    node_t *leader = sim_operator_find_leader (self, false);
    uint64_t choice = sim_random_range (self->random, 0, 99);
    if (choice < 60) {
        if (s_crashed_count (self) >= (self->machine_count - 1) / 2)
            return;
        node_t *victim = choice < 35 || !leader ? sim_faults_random_live_node (self) : leader;
        if (victim)
            s_crash_and_plan_restart (self, victim);
        return;
    }
    if (choice < 65) {
        sim_cluster_trace (self, "every node crashes");
        for (uint32_t id = 1; id <= self->machine_count; id++)
            if (self->nodes[id].core)
                s_crash_and_plan_restart (self, &self->nodes[id]);
        return;
    }
    if (choice >= 95 && leader && !leader->paused_until_ms) {
        s_pause (self, leader);
        return;
    }
    if (sim_network_partitioned (self->network))
        return;
    if (choice < 85 || !leader)
        sim_network_split (self->network);
    else
        sim_network_isolate (self->network, leader->id);
    sim_checks_topology_changed (self);
    s_schedule_heal (self);
}
