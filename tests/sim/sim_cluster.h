/*  sim_cluster — one simulated run: a cluster of raft cores in one process,
    on a virtual clock, driven through the core's ready/advance protocol
    exactly as the raft actor drives it, over a lossy network (sim_network)
    and crash-prone disks (sim_disk), with clients proposing unique commands,
    an operator asking for leadership transfers and, in half the runs,
    membership changes (spare machines start empty and may be added); in
    half the runs nodes also snapshot (an abstract state: the checker's
    hash of the log up to the applied index, streamed in chunks) and
    compact their logs, so lagging nodes catch up by InstallSnapshot; and
    scheduled faults; clients also issue linearizable reads (ReadIndex),
    each answer checked against what was committed before it was issued.
    Scheduled faults:
    crashes with torn writes (and, rarely, synced entries lost), restarts,
    partitions, isolated leaders, and leaders stalled past an election that
    wake with reads waiting. The Raft safety properties (sim_checker)
    are checked after every step, and so is check-quorum (a leader cut off
    from a majority steps down in time).

    At the end faults stop and everything heals: a leader must commit a new
    command on every node within a bounded virtual time. Then, under that
    healthy leader, a follower is cut off for a few election timeouts and let
    back: nobody may change term, and it must catch up. Last, the leader
    hands over to a random follower, which must lead the next term at once;
    then it removes itself (a new leader must take over at once), and the
    new leader adds it back (it must be promoted to voter).
    Everything random comes from the one generator seeded by the run's seed.
*/
#ifndef SIM_CLUSTER_H_INCLUDED
#define SIM_CLUSTER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t seed;     //  the run's seed: same seed, same run
    size_t node_count; //  bootstrap voters: 3 or 5 (any count from 1 to 9 works)
    size_t steps;      //  events processed before the liveness phase
    bool verbose;      //  print a trace of every event
} sim_cluster_options_t;

//  What runs exercised, summed over runs.
typedef struct {
    uint64_t steps;                //  events processed
    uint64_t elections;            //  terms that got a leader
    uint64_t commits;              //  committed log indexes (per run, the highest)
    uint64_t proposals;            //  commands proposed
    uint64_t crashes;              //  nodes crashed
    uint64_t torn;                 //  crashes that kept part of the unsynced tail
    uint64_t lost;                 //  crashes that lost synced entries too
    uint64_t partitions;           //  partitions (splits and isolated leaders)
    uint64_t pauses;               //  leaders stalled past an election (a process pause)
    uint64_t truncations;          //  log truncations reported by cores
    uint64_t messages;             //  messages sent
    uint64_t dropped;              //  messages lost by the network or a partition
    uint64_t forged;               //  forged messages (overflowing term, TimeoutNow) ignored
    uint64_t rejoins;              //  nodes cut off and back under a healthy leader, no term change
    uint64_t quorum_step_downs;    //  leaders cut off from a majority that stepped down in time
    uint64_t transfers;            //  leadership transfers asked during the faults
    uint64_t transfers_done;       //  of which the target took over
    uint64_t transfer_scenarios;   //  calm transfers at the end, all must succeed
    uint64_t adds;                 //  learners added during the faults
    uint64_t removes;              //  members removed during the faults
    uint64_t self_removals;        //  of which leaders removing themselves
    uint64_t demotes;              //  voters demoted to learners
    uint64_t spares_promoted;      //  spare machines that became voters
    uint64_t membership_scenarios; //  calm leader removals and re-additions at the end
    uint64_t compactions;          //  snapshots taken and logs compacted
    uint64_t snapshots_sent;       //  snapshots streamed to followers
    uint64_t snapshots_installed;  //  snapshots followers installed
    uint64_t reads;                //  reads issued (to any node)
    uint64_t reads_answered;       //  answered by a leader, checked fresh
    uint64_t reads_failed;         //  failed: the leader that took them stopped leading
} sim_totals_t;

typedef struct _sim_cluster_t sim_cluster_t;

sim_cluster_t *sim_cluster_new (const sim_cluster_options_t *options);

void sim_cluster_destroy (sim_cluster_t **self_p);

//  Plays the run. Returns 0 if every check held, else -1: see
//  sim_cluster_error and sim_cluster_failed_step.
int sim_cluster_run (sim_cluster_t *self);

const char *sim_cluster_error (sim_cluster_t *self);

uint64_t sim_cluster_failed_step (sim_cluster_t *self);

//  Adds this run's counters to totals.
void sim_cluster_add_totals (sim_cluster_t *self, sim_totals_t *totals);

#endif
