/*  sim_reads — clients' linearizable reads (raft_core_read) and the check
    of every answer.

    Reads go to every node that believes it leads (a deposed one too, until
    it notices) or to any live node; only a leader may take them. When it is issued the simulation
   notes the highest index any node knows committed: that is what a write acknowledged before the
   read covers. A read answered at index X must come from a node that leads at the moment it
   answers, X must be committed there, and X must reach that floor. So a deposed leader, whose
   commit index may lag a newer leader's commits, never answers: its pending reads fail.
*/
#include "sim_cluster_private.h"

#include <stdlib.h>

//  The highest index any node knows committed, crashed ones included (the
//  checker remembers what they reported).
static uint64_t
s_committed_floor (sim_cluster_t *self)
{
    uint64_t floor = sim_checker_committed (self->checker);
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        raft_core_t *core = self->nodes[id].core;
        if (core && raft_core_commit_index (core) > floor)
            floor = raft_core_commit_index (core);
    }
    return floor;
}

//  Issues one read to node. Returns 0, or -1 when the node took a read it
//  had to refuse or refused one it had to take.
static int
s_issue (sim_cluster_t *self, node_t *node)
{
    if (self->read_count == self->read_capacity) {
        size_t capacity = self->read_capacity ? self->read_capacity * 2 : 256;
        sim_read_t *reads = (sim_read_t *)realloc (self->reads, capacity * sizeof (sim_read_t));
        if (!reads)
            return sim_cluster_fail (self, "out of memory for reads");
        self->reads = reads;
        self->read_capacity = capacity;
    }
    uint64_t id = self->read_count + 1;
    bool leads = raft_core_role (node->core) == RAFT_ROLE_LEADER;
    int rc = raft_core_read (node->core, id);
    if (leads && rc != 0)
        return sim_cluster_fail (self, "leader %u refuses read %llu", node->id,
                                 (unsigned long long)id);
    if (!leads && rc == 0)
        return sim_cluster_fail (self, "node %u takes read %llu without leading", node->id,
                                 (unsigned long long)id);
    self->totals.reads++;
    if (rc != 0)
        return 0;
    self->reads[self->read_count++] = (sim_read_t){.node = node->id,
                                                   .incarnation = node->incarnation,
                                                   .floor = s_committed_floor (self),
                                                   .open = true};
    sim_cluster_trace (self, "client reads (read %llu) at node %u, committed floor %llu",
                       (unsigned long long)id, node->id,
                       (unsigned long long)self->reads[id - 1].floor);
    return 0;
}

//  Issues a burst of reads to node (one round may confirm them all).
static int
s_issue_burst (sim_cluster_t *self, node_t *node)
{
    uint64_t burst = sim_random_range (self->random, 1, 3);
    for (uint64_t read = 0; read < burst; read++)
        if (s_issue (self, node))
            return -1;
    return sim_node_after_event (self, node);
}

int
sim_reads_resumed (sim_cluster_t *self, node_t *node)
{
    //  Its clients' reads came in while it was stalled: it takes them
    //  before anything else, before its clock tells it an election passed
    if (raft_core_role (node->core) != RAFT_ROLE_LEADER)
        return 0;
    sim_cluster_trace (self, "node %u wakes from a pause, believing it leads", node->id);
    return s_issue_burst (self, node);
}

int
sim_reads_client_read (sim_cluster_t *self)
{
    //  Sometimes to whichever node the client picked; mostly to every node
    //  that believes it leads, so a deposed leader that has not noticed
    //  yet gets reads while its successor commits
    if (sim_random_chance (self->random, 200)) {
        node_t *node = sim_faults_random_live_node (self);
        return node && !sim_faults_paused (self, node) ? s_issue_burst (self, node) : 0;
    }
    for (uint32_t id = 1; id <= self->machine_count; id++) {
        node_t *node = &self->nodes[id];
        if (node->core && raft_core_role (node->core) == RAFT_ROLE_LEADER &&
            !sim_faults_paused (self, node) && s_issue_burst (self, node))
            return -1;
    }
    return 0;
}

int
sim_reads_settled (sim_cluster_t *self, node_t *node, const raft_read_t *settled)
{
    unsigned long long id = (unsigned long long)settled->id;
    if (settled->id == 0 || settled->id > self->read_count)
        return sim_cluster_fail (self, "node %u settles read %llu, never issued", node->id, id);
    sim_read_t *read = &self->reads[settled->id - 1];
    if (!read->open || read->node != node->id || read->incarnation != node->incarnation)
        return sim_cluster_fail (self, "node %u settles read %llu, not open there", node->id, id);
    read->open = false;
    sim_cluster_trace (self, "node %u settles read %llu: %s at %llu", node->id, id,
                       settled->outcome == RAFT_READ_READY ? "ready" : "not leader",
                       (unsigned long long)settled->index);
    if (settled->outcome != RAFT_READ_READY) {
        self->totals.reads_failed++;
        return 0;
    }
    if (raft_core_role (node->core) != RAFT_ROLE_LEADER)
        return sim_cluster_fail (self, "node %u answers read %llu without leading", node->id, id);
    if (settled->index > raft_core_commit_index (node->core))
        return sim_cluster_fail (self, "node %u answers read %llu at %llu, above its commit %llu",
                                 node->id, id, (unsigned long long)settled->index,
                                 (unsigned long long)raft_core_commit_index (node->core));
    if (settled->index < read->floor)
        return sim_cluster_fail (
            self, "stale read: node %u answers read %llu at %llu, but %llu was committed before",
            node->id, id, (unsigned long long)settled->index, (unsigned long long)read->floor);
    self->totals.reads_answered++;
    return 0;
}
