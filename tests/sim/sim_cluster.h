/*  sim_cluster — one simulated run: a cluster of raft cores in one process,
    on a virtual clock, driven through the core's ready/advance protocol
    exactly as the raft actor drives it, over a lossy network (sim_network)
    and crash-prone disks (sim_disk), with clients proposing unique commands
    and scheduled faults: crashes with torn writes, restarts, partitions and
    isolated leaders. The Raft safety properties (sim_checker) are checked
    after every step; at the end faults stop, everything heals, and a leader
    must commit a new command on every node within a bounded virtual time.
    Everything random comes from the one generator seeded by the run's seed.
*/
#ifndef SIM_CLUSTER_H_INCLUDED
#define SIM_CLUSTER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t seed;     //  the run's seed: same seed, same run
    size_t node_count; //  3 or 5 (any count from 1 to 9 works)
    size_t steps;      //  events processed before the liveness phase
    bool verbose;      //  print a trace of every event
} sim_cluster_options_t;

//  What runs exercised, summed over runs.
typedef struct {
    uint64_t steps;       //  events processed
    uint64_t elections;   //  terms that got a leader
    uint64_t commits;     //  committed log indexes (per run, the highest)
    uint64_t proposals;   //  commands proposed
    uint64_t crashes;     //  nodes crashed
    uint64_t torn;        //  crashes that kept part of the unsynced tail
    uint64_t partitions;  //  partitions (splits and isolated leaders)
    uint64_t truncations; //  log truncations reported by cores
    uint64_t messages;    //  messages sent
    uint64_t dropped;     //  messages lost by the network or a partition
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
