/*  gateway_cluster — the cluster page's data: Status from every node; see
    gateway_cluster.h. Each node gets one attempt of S_ATTEMPT_MS, so a
    dead node costs the page a fraction of its one-second refresh.
*/
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <czmq.h>

#include "gateway_cluster.h"
#include "util/endpoint.h"

#define S_ATTEMPT_MS 300 //  wait for one node's status

struct _gateway_cluster_t {
    pthread_mutex_t lock; //  one fan-out at a time; guards the fields below
    json_t *answer;       //  the latest answer, NULL before the first
    int64_t asked_at;     //  zclock_mono when its fan-out started
};

gateway_cluster_t *
gateway_cluster_new (void)
{
    gateway_cluster_t *self = calloc (1, sizeof *self);
    if (self && pthread_mutex_init (&self->lock, NULL)) {
        free (self);
        self = NULL;
    }
    return self;
}

void
gateway_cluster_destroy (gateway_cluster_t **self_p)
{
    gateway_cluster_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->answer);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

//  What one node said, with the detail when the gateway may ask for it.
static json_t *
s_node_json (raftq_client_t *client, size_t index, raftq_status_detail_t *detail)
{
    memset (detail, 0, sizeof *detail);
    raftq_code_t code = raftq_status_detail (client, index, detail);
    if (code == RAFTQ_UNAUTHENTICATED || code == RAFTQ_PERMISSION_DENIED)
        code = raftq_status (client, index, &detail->status);
    json_t *node = json_pack ("{s:s, s:b}", "endpoint", raftq_client_endpoint (client, index),
                              "reachable", code == RAFTQ_OK);
    if (!node || code != RAFTQ_OK) {
        if (node)
            json_object_set_new (node, "error", json_string (raftq_client_error (client)));
        return node;
    }
    const raftq_status_t *status = &detail->status;
    json_object_update_new (
        node, json_pack ("{s:i, s:s, s:I, s:i, s:I, s:I, s:I, s:b}", "id", (int)status->id, "role",
                         raftq_role_name (status->role), "term", (json_int_t)status->term, "leader",
                         (int)status->leader_id, "commit_index", (json_int_t)status->commit_index,
                         "applied_index", (json_int_t)status->applied_index, "last_index",
                         (json_int_t)status->last_index, "detailed", detail->detailed));
    if (detail->detailed)
        json_object_update_new (node, json_pack ("{s:I, s:I, s:I, s:I}", "snapshot_index",
                                                 (json_int_t)detail->snapshot_index, "first_index",
                                                 (json_int_t)detail->first_index, "log_bytes",
                                                 (json_int_t)detail->log_bytes, "snapshot_bytes",
                                                 (json_int_t)detail->snapshot_bytes));
    return node;
}

//  The leader's view of each member's replication lag, onto the nodes:
//  by id, and an id for an unreachable node whose endpoint it lists.
static void
s_add_lag (json_t *nodes, const raftq_status_detail_t *leader)
{
    for (size_t member = 0; member < leader->member_count; member++) {
        const raftq_member_status_t *status = &leader->members[member];
        char endpoint[ENDPOINT_MAX];
        endpoint_format (endpoint, status->host, (uint16_t)status->client_port);
        size_t index;
        json_t *node;
        json_array_foreach (nodes, index, node)
        {
            json_t *id = json_object_get (node, "id");
            bool same =
                id ? json_integer_value (id) == status->id
                   : strcmp (json_string_value (json_object_get (node, "endpoint")), endpoint) == 0;
            if (!same)
                continue;
            if (!id)
                json_object_set_new (node, "id", json_integer (status->id));
            json_object_set_new (node, "voter", json_boolean (status->voter));
            if (status->replication_known)
                json_object_set_new (node, "lag", json_integer ((json_int_t)status->lag));
        }
    }
}

//  Asks every node through client: the answer, NULL when out of memory.
static json_t *
s_fan_out (raftq_client_t *client)
{
    json_t *nodes = json_array ();
    raftq_status_detail_t detail, leader;
    memset (&leader, 0, sizeof leader);
    uint64_t leader_term = 0;
    raftq_client_set_attempt_timeout (client, S_ATTEMPT_MS);
    size_t count = raftq_client_endpoint_count (client);
    for (size_t index = 0; nodes && index < count; index++) {
        json_t *node = s_node_json (client, index, &detail);
        json_array_append_new (nodes, node);
        bool leads = json_is_true (json_object_get (node, "reachable")) &&
                     detail.status.role == RAFTQ_ROLE_LEADER;
        if (leads && detail.status.term >= leader_term) {
            leader = detail;
            leader_term = detail.status.term;
        }
    }
    raftq_client_set_attempt_timeout (client, 1000);
    if (nodes && leader_term)
        s_add_lag (nodes, &leader);
    return json_pack ("{s:o*, s:I, s:I, s:I}", "nodes", nodes, "leader",
                      (json_int_t)(leader_term ? leader.status.id : 0), "term",
                      (json_int_t)leader_term, "ms", (json_int_t)zclock_time ());
}

enum MHD_Result
gateway_cluster_status (gateway_call_t *call)
{
    gateway_cluster_t *self = call->cluster;
    pthread_mutex_lock (&self->lock);
    int64_t now = zclock_mono ();
    if (!self->answer || now - self->asked_at >= GATEWAY_CLUSTER_FRESH_MS) {
        json_t *answer = s_fan_out (call->client);
        if (answer) {
            json_decref (self->answer);
            self->answer = answer;
            self->asked_at = now;
        }
    }
    //  A copy: the threads share no reference count
    json_t *reply = self->answer ? json_deep_copy (self->answer) : NULL;
    pthread_mutex_unlock (&self->lock);
    return gateway_reply (call, MHD_HTTP_OK, reply);
}
