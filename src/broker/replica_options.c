/*  replica_options — owns the translation of the cluster configuration
    into the Raft actor's options. See replica_options.h.
*/
#include "broker/replica_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/node_dir.h"

//  A configured node as a Raft member (a voter).
static raft_member_t
s_member_of (const config_node_t *node)
{
    raft_member_t member;
    memset (&member, 0, sizeof member);
    member.id = node->id;
    member.voter = true;
    snprintf (member.host, sizeof (member.host), "%s", node->host);
    member.client_port = node->client_port;
    member.peer_port = node->peer_port;
    member.pub_port = node->pub_port;
    snprintf (member.peer_host, sizeof (member.peer_host), "%s", node->peer_host);
    if (node->has_public_key)
        memcpy (member.public_key, node->public_key, RAFT_PUBLIC_KEY_SIZE);
    return member;
}

int
replica_options_build (replica_options_t *self, const config_t *config, uint32_t node_id,
                       const raft_actor_snapshot_t *snapshot)
{
    memset (self, 0, sizeof *self);
    const config_node_t *node = config_node (config, node_id);
    if (!node || node_dir_path (self->node_dir, sizeof self->node_dir, config->data_dir, node_id))
        return -1;
    self->peers = (raft_member_t *)calloc (config->node_count, sizeof (raft_member_t));
    self->members = (raft_member_t *)calloc (config->node_count, sizeof (raft_member_t));
    if (!self->peers || !self->members) {
        replica_options_release (self);
        return -1;
    }
    raft_actor_options_t *options = &self->options;
    for (size_t position = 0; position < config->node_count; position++) {
        const config_node_t *other = &config->nodes[position];
        if (other->id != node_id)
            self->peers[options->peer_count++] = s_member_of (other);
        //  A node waiting to join starts with an empty configuration and
        //  waits for a leader to add it
        if (!node->join && !other->join)
            self->members[options->member_count++] = s_member_of (other);
    }
    options->node_id = node_id;
    options->node_dir = self->node_dir;
    options->cluster = config->cluster;
    options->host = node->peer_host;
    options->peer_port = node->peer_port;
    options->peers = self->peers;
    options->members = self->members;
    options->heartbeat_ms = config->heartbeat_ms;
    options->election_timeout_min_ms = config->election_timeout_min_ms;
    options->election_timeout_max_ms = config->election_timeout_max_ms;
    options->segment_bytes = config->segment_bytes;
    options->snapshot_trailing_entries = config->snapshot_trailing_entries;
    options->min_free_disk_bytes = config->limits.min_free_disk_bytes;
    options->snapshot = snapshot;
    options->priority = config->urgent_threads;
    return 0;
}

void
replica_options_release (replica_options_t *self)
{
    free (self->peers);
    free (self->members);
    self->peers = NULL;
    self->members = NULL;
}
