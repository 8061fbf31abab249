/*  sim_checks — what must hold of the nodes after every step.

    Membership queries on a core, who can reach whom, check-quorum (a
    leader cut off from a majority steps down in time), the safety
    checker fed with every node's commits, and, in the rejoin phase, a
    leader that must stay.
*/
#include "sim_cluster_private.h"

#include <stdlib.h>

//  Whether id is a member of core's configuration; voter says as what.
bool
sim_checks_is_member (raft_core_t *core, uint32_t id, bool *voter)
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

bool
sim_checks_is_voter (raft_core_t *core, uint32_t id)
{
    bool voter = false;
    return sim_checks_is_member (core, id, &voter) && voter;
}

//  A node with no voter to ask (joining) never campaigns, nor one its
//  configuration lists as a learner or not at all once that configuration
//  is known committed (before, a removed or demoted voter may be needed).
static bool
s_must_not_campaign (raft_core_t *core, uint32_t id)
{
    size_t voter_count;
    raft_core_voters (core, &voter_count);
    return voter_count == 0 || (!sim_checks_is_voter (core, id) &&
                                raft_core_commit_index (core) >= raft_core_config_index (core));
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
void
sim_checks_topology_changed (sim_cluster_t *self)
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
    //  A stalled process notices nothing: its time to step down starts
    //  when it wakes
    if (leads && sim_faults_paused (self, node)) {
        node->leading = true;
        node->leading_ms = self->now_ms;
        return 0;
    }
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
        return sim_cluster_fail (
            self, "check-quorum: leader %u still leads %llu ms after losing a majority", node->id,
            (unsigned long long)bound_ms);
    return 0;
}

//  Checks that hold between steps, on every live node.
int
sim_checks_check_nodes (sim_cluster_t *self)
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
            return sim_cluster_fail (
                self, "node %u campaigns: joining, or a learner or removed for good", id);
        if (leader && sim_checker_leader (self->checker, id, term))
            return sim_cluster_fail_checker (self);
        if (node->ready_deferred)
            continue; //  the checker's mirror of its log catches up at the ready
        if (leader && sim_checker_leader_complete (self->checker, id, term))
            return sim_cluster_fail_checker (self);
        uint64_t commit_index = raft_core_commit_index (node->core);
        if (commit_index < node->checked_commit)
            return sim_cluster_fail (self, "node %u commit index went back from %llu to %llu", id,
                                     (unsigned long long)node->checked_commit,
                                     (unsigned long long)commit_index);
        if (commit_index > node->checked_commit) {
            if (sim_checker_commit (self->checker, id, commit_index, term))
                return sim_cluster_fail_checker (self);
            node->checked_commit = commit_index;
        }
        uint64_t persisted_index = raft_core_persisted_index (node->core);
        const raft_entry_t *durable = sim_disk_entry (node->disk, persisted_index);
        const raft_entry_t *held = raft_core_entry (node->core, persisted_index);
        if (persisted_index > raft_core_snapshot_index (node->core) &&
            (!durable || !held || durable->term != held->term))
            return sim_cluster_fail (self,
                                     "node %u counts index %llu persisted but its disk lacks it",
                                     id, (unsigned long long)persisted_index);
    }
    return 0;
}

//  In the rejoin phase: the leader keeps leading and nobody changes term.
int
sim_checks_check_stable (sim_cluster_t *self)
{
    if (self->stable_term == 0)
        return 0;
    node_t *leader = &self->nodes[self->stable_leader];
    if (!leader->core || raft_core_role (leader->core) != RAFT_ROLE_LEADER)
        return sim_cluster_fail (
            self, "stability: healthy leader %u lost its role around a rejoining node",
            self->stable_leader);
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        raft_core_t *core = self->nodes[id].core;
        if (core && sim_checks_is_member (leader->core, id, NULL) &&
            raft_core_term (core) != self->stable_term)
            return sim_cluster_fail (
                self,
                "stability: node %u moved to term %llu while leader %u of term %llu "
                "was healthy",
                id, (unsigned long long)raft_core_term (core), self->stable_leader,
                (unsigned long long)self->stable_term);
    }
    return 0;
}
