/*  cluster_view — what the broker knows of Raft: the role, term, leader and
    indexes the actor last reported, the term of the last entry applied, and
    the current configuration with every member's addresses. Status,
    admin requests, leader hints and the login freshness rule read it; the
    server feeds it the actor's events.
*/
#ifndef CLUSTER_VIEW_H_INCLUDED
#define CLUSTER_VIEW_H_INCLUDED

#include "broker/config.h"
#include "replica/raft_actor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _cluster_view_t cluster_view_t;

//  A view of node node_id of config (borrowed, outlives the view): a
//  follower with no leader and no configuration yet.
cluster_view_t *cluster_view_new (const config_t *config, uint32_t node_id);

void cluster_view_destroy (cluster_view_t **self_p);

//  A STATE event: role, term, leader and indexes.
void cluster_view_take_state (cluster_view_t *self, const raft_actor_event_t *event);

//  A COMMITTED event: the commit index (never backwards) and last index.
void cluster_view_take_commit (cluster_view_t *self, const raft_actor_event_t *event);

//  A MEMBERS event: takes its configuration (event->members becomes NULL).
//  Returns 0, or -1 when out of memory (the old configuration stays).
int cluster_view_take_members (cluster_view_t *self, raft_actor_event_t *event);

//  The last entry applied (or the snapshot restored) was of term.
void cluster_view_set_applied_term (cluster_view_t *self, uint64_t term);

uint32_t cluster_view_node_id (const cluster_view_t *self);
raft_role_t cluster_view_role (const cluster_view_t *self);
uint64_t cluster_view_term (const cluster_view_t *self);
uint32_t cluster_view_leader_id (const cluster_view_t *self);
uint64_t cluster_view_commit_index (const cluster_view_t *self);
uint64_t cluster_view_last_index (const cluster_view_t *self);
uint64_t cluster_view_config_index (const cluster_view_t *self);
uint64_t cluster_view_applied_term (const cluster_view_t *self);

//  Ids of the current configuration in its order; *count set. Borrowed.
const uint32_t *cluster_view_member_ids (const cluster_view_t *self, size_t *count);

//  The current configuration with addresses; *count set. Borrowed.
const raft_member_t *cluster_view_configuration (const cluster_view_t *self, size_t *count);

//  The member of the configuration with this id, or NULL.
const raft_member_t *cluster_view_member (const cluster_view_t *self, uint32_t id);

//  True when this node leads and its state holds every write acknowledged so
//  far: it has applied an entry of its own term, so (Leader Completeness)
//  every entry committed by earlier leaders is applied too. A new leader has
//  not always caught up yet, and a password check against an older state
//  could refuse an account that exists.
bool cluster_view_is_fresh (const cluster_view_t *self);

//  Client endpoint ("tcp://host:port", ENDPOINT_MAX bytes) of node id: from
//  the config file, else from the configuration (a node added at run time).
//  Returns 0, or -1 if unknown.
int cluster_view_client_endpoint (const cluster_view_t *self, uint32_t id, char *endpoint);

#ifdef __cplusplus
}
#endif

#endif
