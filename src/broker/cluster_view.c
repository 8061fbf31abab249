/*  cluster_view — the broker's view of Raft and the configuration; see
    cluster_view.h.
*/
#include "broker/cluster_view.h"

#include "util/endpoint.h"

struct _cluster_view_t {
    const config_t *config;       //  borrowed: addresses of the configured nodes
    uint32_t node_id;             //  this node
    raft_role_t role;             //  last STATE: role
    uint64_t term;                //  term
    uint32_t leader_id;           //  leader, 0 when unknown
    uint64_t commit_index;        //  commit index
    uint64_t last_index;          //  last log index
    uint64_t applied_term;        //  term of the last entry applied
    uint32_t *member_ids;         //  ids of the current configuration, for Status
    raft_member_t *configuration; //  the current configuration with addresses
    size_t configuration_count;   //  how many members
    uint64_t config_index;        //  entry that set it (committed once commit reaches it)
};

cluster_view_t *
cluster_view_new (const config_t *config, uint32_t node_id)
{
    cluster_view_t *self = calloc (1, sizeof (cluster_view_t));
    if (self) {
        self->config = config;
        self->node_id = node_id;
        self->role = RAFT_ROLE_FOLLOWER;
    }
    return self;
}

void
cluster_view_destroy (cluster_view_t **self_p)
{
    if (*self_p) {
        cluster_view_t *self = *self_p;
        free (self->member_ids);
        free (self->configuration);
        free (self);
        *self_p = NULL;
    }
}

void
cluster_view_take_state (cluster_view_t *self, const raft_actor_event_t *event)
{
    self->role = event->role;
    self->term = event->term;
    self->leader_id = event->leader_id;
    self->commit_index = event->commit_index;
    self->last_index = event->last_index;
}

void
cluster_view_take_commit (cluster_view_t *self, const raft_actor_event_t *event)
{
    if (event->commit_index > self->commit_index)
        self->commit_index = event->commit_index;
    self->last_index = event->last_index;
}

int
cluster_view_take_members (cluster_view_t *self, raft_actor_event_t *event)
{
    uint32_t *ids = calloc (event->member_count + 1, sizeof (uint32_t));
    if (!ids)
        return -1;
    for (size_t position = 0; position < event->member_count; position++)
        ids[position] = event->members[position].id;
    free (self->member_ids);
    self->member_ids = ids;
    free (self->configuration);
    self->configuration = event->members;
    self->configuration_count = event->member_count;
    self->config_index = event->config_index;
    event->members = NULL;
    event->member_count = 0;
    return 0;
}

void
cluster_view_set_applied_term (cluster_view_t *self, uint64_t term)
{
    self->applied_term = term;
}

uint32_t
cluster_view_node_id (const cluster_view_t *self)
{
    return self->node_id;
}

raft_role_t
cluster_view_role (const cluster_view_t *self)
{
    return self->role;
}

uint64_t
cluster_view_term (const cluster_view_t *self)
{
    return self->term;
}

uint32_t
cluster_view_leader_id (const cluster_view_t *self)
{
    return self->leader_id;
}

uint64_t
cluster_view_commit_index (const cluster_view_t *self)
{
    return self->commit_index;
}

uint64_t
cluster_view_last_index (const cluster_view_t *self)
{
    return self->last_index;
}

uint64_t
cluster_view_config_index (const cluster_view_t *self)
{
    return self->config_index;
}

uint64_t
cluster_view_applied_term (const cluster_view_t *self)
{
    return self->applied_term;
}

const uint32_t *
cluster_view_member_ids (const cluster_view_t *self, size_t *count)
{
    *count = self->configuration_count;
    return self->member_ids;
}

const raft_member_t *
cluster_view_configuration (const cluster_view_t *self, size_t *count)
{
    *count = self->configuration_count;
    return self->configuration;
}

const raft_member_t *
cluster_view_member (const cluster_view_t *self, uint32_t id)
{
    for (size_t position = 0; position < self->configuration_count; position++)
        if (self->configuration[position].id == id)
            return &self->configuration[position];
    return NULL;
}

bool
cluster_view_is_fresh (const cluster_view_t *self)
{
    return self->role == RAFT_ROLE_LEADER && self->applied_term == self->term;
}

int
cluster_view_client_endpoint (const cluster_view_t *self, uint32_t id, char *endpoint)
{
    const config_node_t *node = config_node (self->config, id);
    if (node) {
        endpoint_format (endpoint, node->host, node->client_port);
        return 0;
    }
    const raft_member_t *member = cluster_view_member (self, id);
    if (member && member->host[0] && member->client_port && member->client_port <= UINT16_MAX) {
        endpoint_format (endpoint, member->host, (uint16_t)member->client_port);
        return 0;
    }
    return -1;
}
