/*  sim_phases — the calm end of a run.

    Once faults stop, a leader must commit on every node in bounded time;
    then a follower cut off under that healthy leader rejoins without a
    term change, the leader hands over to a follower, and a leader removes
    itself and is added back.
*/
#include "sim_cluster_private.h"

#include <stdlib.h>
#include <string.h>

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
    node_t *leader = sim_operator_find_leader (self, false);
    if (!leader)
        return false;
    for (uint32_t id = 1; id <= self->machine_count; id++)
        if (sim_checks_is_member (leader->core, id, NULL) &&
            (!self->nodes[id].core || self->nodes[id].live_applied <= number))
            return false;
    return true;
}

//  Steps once, failing phase if the virtual clock is past deadline.
int
sim_phases_step_before (sim_cluster_t *self, uint64_t deadline, const char *phase)
{
    if (self->now_ms > deadline)
        return sim_cluster_fail (self, "%s: not done within %llu ms", phase,
                                 (unsigned long long)(self->now_ms - deadline));
    int rc = sim_events_step (self);
    if (rc < 0)
        return -1;
    if (rc > 0)
        return sim_cluster_fail (self, "%s: nothing left to simulate", phase);
    return 0;
}

//  Steps until every node applied liveness command number or a later one,
//  within a bound of virtual time. phase names the check for the error.
int
sim_phases_run_until_applied (sim_cluster_t *self, uint64_t number, const char *phase)
{
    uint64_t deadline = self->now_ms +
                        (uint64_t)LIVENESS_TIMEOUTS * self->parameters.election_max_ms +
                        s_catch_up_ms (self);
    while (!s_all_live_applied (self, number))
        if (sim_phases_step_before (self, deadline, phase))
            return -1;
    return 0;
}

//  Steps until the virtual clock reaches until_ms.
static int
s_run_until (sim_cluster_t *self, uint64_t until_ms)
{
    while (self->now_ms < until_ms) {
        int rc = sim_events_step (self);
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
int
sim_phases_rejoin_phase (sim_cluster_t *self)
{
    //  A transfer asked before faults stopped is over by then
    if (s_run_until (self, self->now_ms + self->parameters.election_max_ms + 2 * TICK_MS))
        return -1;
    node_t *leader = sim_operator_find_leader (self, false);
    uint64_t number;
    bool accepted;
    if (!leader)
        return sim_cluster_fail (self, "stability: no leader after the liveness phase");
    //  Everyone applies a command of the leader's term: everyone is in it
    if (sim_operator_propose_live (self, leader, &number, &accepted) || !accepted ||
        sim_phases_run_until_applied (self, number, "stability (settling)"))
        return -1;
    //  The node cut off: a learner, or a voter the majority can do without
    leader = sim_operator_find_leader (self, false);
    size_t voter_count;
    raft_core_voters (leader->core, &voter_count);
    uint32_t away = 0;
    size_t seen = 0;
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        bool voter = false;
        if (id != leader->id && sim_checks_is_member (leader->core, id, &voter) &&
            (!voter || voter_count >= 3) && sim_random_range (self->random, 1, ++seen) == 1)
            away = id;
    }
    if (!away)
        return 0;
    self->stable_leader = leader->id;
    self->stable_term = raft_core_term (leader->core);
    sim_cluster_trace (self, "rejoin phase: node %u is cut off from leader %u of term %llu", away,
                       leader->id, (unsigned long long)self->stable_term);
    sim_network_isolate (self->network, away);
    sim_checks_topology_changed (self);
    uint64_t absence = sim_random_range (self->random, 2, 4) * self->parameters.election_max_ms;
    if (sim_checks_check_stable (self) || s_run_until (self, self->now_ms + absence))
        return -1;
    sim_network_heal (self->network);
    sim_checks_topology_changed (self);
    sim_cluster_trace (self, "rejoin phase: node %u is back", away);
    if (sim_operator_propose_live (self, leader, &number, &accepted) || !accepted ||
        sim_phases_run_until_applied (self, number, "stability (rejoined)"))
        return -1;
    self->stable_term = 0;
    self->totals.rejoins++;
    return 0;
}

//  On a calm network the healthy leader hands over to a random follower:
//  that follower must lead the next term within an election timeout,
//  although every voter heard from the old leader lately, and commit.
int
sim_phases_transfer_phase (sim_cluster_t *self)
{
    node_t *leader = sim_operator_find_leader (self, false);
    if (!leader || !sim_operator_random_voter (self, leader->core, leader->id))
        return 0;
    uint64_t term = raft_core_term (leader->core);
    self->transfer_target = 0;
    if (sim_operator_transfer (self) || !self->transfer_target)
        return -1;
    node_t *target = &self->nodes[self->transfer_target];
    uint64_t deadline = self->now_ms + self->parameters.election_max_ms;
    while (raft_core_role (target->core) != RAFT_ROLE_LEADER)
        if (sim_phases_step_before (self, deadline, "transfer (target takes over)"))
            return -1;
    if (raft_core_term (target->core) != term + 1)
        return sim_cluster_fail (self, "transfer: node %u took over in term %llu, not %llu",
                                 target->id, (unsigned long long)raft_core_term (target->core),
                                 (unsigned long long)term + 1);
    uint64_t number;
    bool accepted;
    if (sim_operator_propose_live (self, target, &number, &accepted) || !accepted ||
        sim_phases_run_until_applied (self, number, "transfer (new leader)"))
        return -1;
    self->totals.transfer_scenarios++;
    return 0;
}

//  On a calm network the leader removes itself: it must hand over at once
//  (a new leader within an election timeout, in a later term, without it),
//  and never campaign again (checked at every step). Then the new leader
//  adds it back as a learner, which must be promoted to voter by itself.
int
sim_phases_membership_phase (sim_cluster_t *self)
{
    node_t *leader = sim_operator_find_leader (self, false);
    if (!leader || !sim_operator_random_voter (self, leader->core, leader->id))
        return 0;
    uint32_t removed = leader->id;
    uint64_t term = raft_core_term (leader->core);
    if (sim_operator_insist_on_change (self, leader, true, removed))
        return -1;
    uint64_t deadline =
        self->now_ms + LIVENESS_TIMEOUTS * self->parameters.election_max_ms + s_catch_up_ms (self);
    node_t *next = NULL;
    while (!next || next->id == removed || raft_core_term (next->core) <= term ||
           sim_checks_is_member (next->core, removed, NULL)) {
        if (sim_phases_step_before (self, deadline, "membership (the removed leader hands over)"))
            return -1;
        next = sim_operator_find_leader (self, false);
    }
    if (sim_operator_insist_on_change (self, next, false, removed))
        return -1;
    deadline =
        self->now_ms + LIVENESS_TIMEOUTS * self->parameters.election_max_ms + s_catch_up_ms (self);
    while (!sim_checks_is_voter (next->core, removed) ||
           raft_core_commit_index (next->core) < raft_core_config_index (next->core))
        if (sim_phases_step_before (self, deadline, "membership (the learner is promoted)"))
            return -1;
    uint64_t number;
    bool accepted;
    if (sim_operator_propose_live (self, next, &number, &accepted) || !accepted ||
        sim_phases_run_until_applied (self, number, "membership (everyone applies)"))
        return -1;
    self->totals.membership_scenarios++;
    return 0;
}
