/*  sim_network — the simulated network between raft cores: every message sent
    is deep-copied and scheduled for delivery after a random delay, or lost,
    or delivered twice; slow messages overtake nothing but are overtaken, so
    order is not kept. Partitions split the nodes into groups; a message is
    delivered only if its two ends are in one group when it arrives.
*/
#ifndef SIM_NETWORK_H_INCLUDED
#define SIM_NETWORK_H_INCLUDED

#include "raft/raft_core.h"
#include "sim_queue.h"
#include "sim_random.h"

typedef struct {
    uint32_t drop_per_mille;      //  messages lost
    uint32_t duplicate_per_mille; //  messages delivered twice
    uint32_t slow_per_mille;      //  messages held up to slow_max_ms (reordering)
    uint32_t delay_min_ms;        //  usual delay, lower bound
    uint32_t delay_max_ms;        //  and upper bound
    uint32_t slow_max_ms;         //  longest delay of a slow message
} sim_network_faults_t;

typedef struct _sim_network_t sim_network_t;

//  Nodes are numbered 1..node_count. Borrows random and queue.
sim_network_t *sim_network_new (size_t node_count, sim_random_t *random, sim_queue_t *queue);

void sim_network_destroy (sim_network_t **self_p);

void sim_network_set_faults (sim_network_t *self, const sim_network_faults_t *faults);

//  Schedules zero, one or two deliveries of a copy of message, as events of
//  kind deliver_kind whose payload is a raft_message_t block (free () it).
void sim_network_send (sim_network_t *self, const raft_message_t *message, uint64_t now_ms,
                       int deliver_kind);

//  Whether a message from one node reaches the other now.
bool sim_network_connected (sim_network_t *self, uint32_t from, uint32_t to);

//  Splits the nodes into two or three random groups (each non-empty).
void sim_network_split (sim_network_t *self);

//  Cuts one node off from all others.
void sim_network_isolate (sim_network_t *self, uint32_t node);

//  Joins everyone again.
void sim_network_heal (sim_network_t *self);

bool sim_network_partitioned (sim_network_t *self);

//  Describes the groups, e.g. "{1,3}{2,4,5}", into text.
void sim_network_describe (sim_network_t *self, char *text, size_t size);

//  Counters since creation.
uint64_t sim_network_sent (sim_network_t *self);
uint64_t sim_network_dropped (sim_network_t *self);

#endif
