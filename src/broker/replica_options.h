/*  replica_options — the Raft actor's options, built from the cluster
    configuration: the node directory, this node's peer endpoint, the other
    nodes to connect to, the bootstrap membership (every configured node
    not waiting to join, as voters; none when this node itself waits to be
    added), the timings, the segment size and the trailing window. The
    replica layer never reads the configuration itself.
*/
#ifndef REPLICA_OPTIONS_H_INCLUDED
#define REPLICA_OPTIONS_H_INCLUDED

#include <limits.h>

#include "broker/config.h"
#include "replica/raft_actor.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The options and what they point into, owned together.
typedef struct {
    raft_actor_options_t options; //  what raft_actor_new takes
    raft_member_t *peers;         //  the other configured nodes
    raft_member_t *members;       //  the bootstrap configuration
    char node_dir[PATH_MAX];      //  <data_dir>/node-<id>
} replica_options_t;

//  Builds the options of node node_id of config, starting from snapshot
//  (borrowed: it must outlive the options; NULL: the actor loads one).
//  Returns 0, or -1 when the node is not in config, its directory path is
//  too long, or memory runs out.
int replica_options_build (replica_options_t *self, const config_t *config, uint32_t node_id,
                           const raft_actor_snapshot_t *snapshot);

//  Frees what build allocated.
void replica_options_release (replica_options_t *self);

#ifdef __cplusplus
}
#endif

#endif
