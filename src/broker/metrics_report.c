/*  metrics_report — the periodic snapshot for the HTTP server; see
    metrics_report.h.
*/
#include "broker/metrics_report.h"

#include "broker/server_private.h"
#include "util/disk_space.h"

//  The node as it is now, from the parts that know it.
static void
s_gather (server_t *self, metrics_facts_t *facts)
{
    memset (facts, 0, sizeof *facts);
    const cluster_view_t *view = self->view;
    facts->role = cluster_view_role (view);
    facts->term = cluster_view_term (view);
    facts->leader_id = cluster_view_leader_id (view);
    const raft_member_t *member = cluster_view_member (view, self->node_id);
    facts->member = member != NULL;
    facts->voter = member && member->voter;
    cluster_view_member_ids (view, &facts->member_count);
    facts->commit_index = cluster_view_commit_index (view);
    facts->applied_index = fsm_applied_index (self->fsm);
    facts->last_index = cluster_view_last_index (view);
    const raft_actor_progress_t *progress = raft_actor_progress (self->raft);
    facts->first_index = progress->first_index;
    facts->log_bytes = progress->log_bytes;
    facts->snapshot_index = progress->snapshot_index;
    facts->state_bytes = fsm_state_bytes (self->fsm);
    facts->max_state_bytes = self->config->limits.max_state_bytes;
    facts->min_free_disk_bytes = self->config->limits.min_free_disk_bytes;
    disk_space_low (self->snapshot_dir, facts->min_free_disk_bytes, &facts->free_disk_bytes);
    node_keys_connections (self->keys, &facts->client_connections, &facts->pub_connections);
    if (self->fanout)
        fanout_subscriptions (self->fanout, &facts->topic_subscriptions,
                              &facts->private_subscriptions);
    facts->waiting_requests = waiting_table_size (self->waiting);
}

static void
s_publish (server_t *self)
{
    metrics_facts_t facts;
    s_gather (self, &facts);
    char reason[128];
    bool ready = metrics_readiness (&facts, reason, sizeof reason);
    size_t size;
    char *text = metrics_render (self->metrics, &facts, &size);
    if (text)
        http_server_publish (self->http, text, size, ready, reason);
    free (text);
}

static int
s_on_report (event_loop_t *loop, void *argument)
{
    (void)loop;
    s_publish ((server_t *)argument);
    return 0;
}

int
metrics_report_open (server_t *self)
{
    if (!self->node->http_port)
        return 0;
    self->http = http_server_new (self->node_id, self->node->host, self->node->http_port);
    if (!self->http)
        return -1;
    s_publish (self);
    return event_loop_timer (self->loop, METRICS_REPORT_MS, s_on_report, self);
}
