/*  sim_operator — what clients and the operator ask of the cluster.

    Clients propose unique commands (and liveness commands once faults
    stop); the operator asks for leadership transfers and membership
    changes (add a spare, remove or demote a member, promote a learner)
    and follows whether a transfer took.
*/
#include "sim_cluster_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A leader a client would find: the live leader of the highest term.
node_t *
sim_operator_find_leader (sim_cluster_t *self, bool any)
{
    node_t *found = NULL;
    size_t leaders = 0;
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        node_t *node = &self->nodes[id];
        //  A stalled leader takes nothing: its clients wait (sim_reads_resumed)
        if (!node->core || raft_core_role (node->core) != RAFT_ROLE_LEADER ||
            sim_faults_paused (self, node))
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
            return sim_cluster_fail (self,
                                     "leader %u takes a proposal while handing over to node %u",
                                     leader->id, handing_to);
        return 0;
    }
    if (rc)
        return sim_cluster_fail (self, "leader %u refuses a proposal", leader->id);
    sim_cluster_trace (self, "client proposes %s to node %u at index %llu", command, leader->id,
                       (unsigned long long)index);
    return sim_node_after_event (self, leader);
}

int
sim_operator_client_propose (sim_cluster_t *self)
{
    node_t *leader = sim_operator_find_leader (self, true);
    if (!leader)
        return 0;
    char command[32];
    snprintf (command, sizeof (command), "c%llu", (unsigned long long)self->proposals++);
    self->totals.proposals++;
    return s_propose (self, leader, command, NULL);
}

//  Proposes the next liveness command to leader; number is set to its
//  number, accepted says whether the leader took it.
int
sim_operator_propose_live (sim_cluster_t *self, node_t *leader, uint64_t *number, bool *accepted)
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
int
sim_operator_live_propose (sim_cluster_t *self)
{
    sim_queue_push (self->queue, self->now_ms + LIVE_PROPOSE_MS, EVENT_LIVE, 0, 0, NULL);
    node_t *leader = sim_operator_find_leader (self, false);
    if (!leader ||
        (leader->id == self->live_leader && raft_core_term (leader->core) == self->live_term))
        return 0;
    uint64_t number;
    bool accepted;
    return sim_operator_propose_live (self, leader, &number, &accepted);
}

//  An operator asks the leader to hand over to another node, which must
//  take over in a later term unless the transfer gives up.
int
sim_operator_transfer (sim_cluster_t *self)
{
    node_t *leader = sim_operator_find_leader (self, false);
    uint32_t target = leader ? sim_operator_random_voter (self, leader->core, leader->id) : 0;
    if (!target)
        return 0;
    if (raft_core_transfer_leadership (leader->core, target))
        return sim_cluster_fail (self, "leader %u refuses to hand over to voter %u", leader->id,
                                 target);
    sim_cluster_trace (self, "operator asks leader %u to hand over to node %u", leader->id, target);
    self->transfer_target = target;
    self->transfer_term = raft_core_term (leader->core);
    self->transfer_deadline_ms = self->now_ms + self->parameters.election_max_ms + 2 * TICK_MS;
    self->totals.transfers++;
    return sim_node_after_event (self, leader);
}

//  A member of a configuration as the operator would give it.
static raft_member_t
s_machine (uint32_t id)
{
    raft_member_t member = {.id = id, .peer_port = 5600 + id};
    snprintf (member.host, sizeof (member.host), "sim%u", id);
    return member;
}

//  A random voter of core's configuration other than except, 0 if none.
uint32_t
sim_operator_random_voter (sim_cluster_t *self, raft_core_t *core, uint32_t except)
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

//  An operator asks the leader for one membership change, one of: add a
//  machine that is not a member as a learner (the leader promotes it once
//  it caught up), remove a member (the leader itself too), or demote a
//  voter to learner. The leader may refuse (a change is pending).
int
sim_operator_change_membership (sim_cluster_t *self)
{
    node_t *leader = sim_operator_find_leader (self, false);
    if (!leader || raft_core_transfer_target (leader->core))
        return 0;
    raft_core_t *core = leader->core;
    uint32_t id = (uint32_t)sim_random_range (self->random, 1, self->machine_count);
    size_t voter_count;
    raft_core_voters (core, &voter_count);
    bool voter = false;
    bool member = sim_checks_is_member (core, id, &voter);
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
    sim_cluster_trace (self, "operator asks leader %u to %s node %u", leader->id, what, id);
    return sim_node_after_event (self, leader);
}

//  Counts the last transfer asked as done once its target leads a later term.
void
sim_operator_follow_transfer (sim_cluster_t *self)
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

//  Asks the leader for a membership change until it accepts it (a change
//  of its own, promoting a learner, may be pending). change: "remove" or
//  "add" node id.
int
sim_operator_insist_on_change (sim_cluster_t *self, node_t *leader, bool remove, uint32_t id)
{
    uint64_t deadline = self->now_ms + LIVENESS_TIMEOUTS * self->parameters.election_max_ms;
    raft_member_t added = s_machine (id);
    while (remove ? raft_core_remove (leader->core, id, NULL)
                  : raft_core_add_learner (leader->core, &added, NULL))
        if (sim_phases_step_before (self, deadline, "membership (leader takes the change)") ||
            raft_core_role (leader->core) != RAFT_ROLE_LEADER)
            return sim_cluster_fail (self, "membership: leader %u lost its role", leader->id);
    sim_cluster_trace (self, "membership phase: leader %u %s node %u", leader->id,
                       remove ? "removes" : "adds", id);
    return sim_node_after_event (self, leader);
}
