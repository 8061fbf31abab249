/*  raftq_status — asking one node about itself (DESIGN 5.1 Status), with
    the detail or without: whatever its role, within one attempt's timeout,
    mapped onto raftq_status_t and raftq_status_detail_t; and the topics'
    queues a node reports in its detail (raftq_topics_status).
*/
#include "raftq_client.h"

//  Asks the node at index for its status, with the detail or not, within
//  the attempt timeout. RAFTQ_OK with the reply's status in *reply_p.
static raftq_code_t
s_status_call (raftq_client_t *self, size_t index, bool detail, Raftq__Reply **reply_p)
{
    Raftq__Status ask = RAFTQ__STATUS__INIT;
    ask.detail = detail;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_STATUS, &ask);
    //  The detail names hosts and ports: for admins only
    if (detail)
        request.admin_secret = (char *)raftq_client_admin_secret (self);
    raftq_code_t code =
        raftq_client_ask_node (self, index, &request, raftq_client_attempt_timeout (self), reply_p);
    if (code == RAFTQ_OK &&
        ((*reply_p)->result_case != RAFTQ__REPLY__RESULT_STATUS || !(*reply_p)->status)) {
        raftq__reply__free_unpacked (*reply_p, NULL);
        *reply_p = NULL;
        code = raftq_client_missing_result (self, "status");
    }
    return code;
}

raftq_code_t
raftq_status (raftq_client_t *self, size_t index, raftq_status_t *status)
{
    memset (status, 0, sizeof (*status));
    Raftq__Reply *reply;
    raftq_code_t code = s_status_call (self, index, false, &reply);
    if (code == RAFTQ_OK)
        raftq_wire_status (reply->status, status);
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_status_detail (raftq_client_t *self, size_t index, raftq_status_detail_t *detail)
{
    memset (detail, 0, sizeof (*detail));
    Raftq__Reply *reply;
    raftq_code_t code = s_status_call (self, index, true, &reply);
    if (code == RAFTQ_OK)
        raftq_wire_status_detail (reply->status, detail);
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

void
raftq_topics_status_destroy (raftq_topics_status_t **topics_p)
{
    if (!topics_p || !*topics_p)
        return;
    raftq_topics_status_t *self = *topics_p;
    for (size_t index = 0; index < self->count; index++) {
        free (self->topics[index].name);
        free (self->topics[index].dead_letter);
    }
    free (self->topics);
    free (self);
    *topics_p = NULL;
}

//  Copies what a node says of its topics. NULL when out of memory.
static raftq_topics_status_t *
s_topics_status_new (const Raftq__StatusDetail *detail)
{
    raftq_topics_status_t *self = (raftq_topics_status_t *)calloc (1, sizeof (*self));
    size_t count = detail ? detail->n_topics : 0;
    if (!self || !count)
        return self;
    self->topics = (raftq_topic_status_t *)calloc (count, sizeof (raftq_topic_status_t));
    if (!self->topics) {
        free (self);
        return NULL;
    }
    for (size_t index = 0; index < count; index++) {
        const Raftq__TopicStatus *source = detail->topics[index];
        raftq_topic_status_t *topic = &self->topics[self->count++];
        topic->ready = source->ready;
        topic->reserved = source->reserved;
        topic->delayed = source->delayed;
        topic->dead_lettered = source->dead_lettered;
        topic->max_deliveries = source->max_deliveries;
        topic->name = strdup (source->name ? source->name : "");
        topic->dead_letter = strdup (source->dead_letter ? source->dead_letter : "");
        if (!topic->name || !topic->dead_letter) {
            raftq_topics_status_destroy (&self);
            return NULL;
        }
    }
    return self;
}

raftq_code_t
raftq_topics_status (raftq_client_t *self, size_t index, raftq_topics_status_t **topics_p)
{
    *topics_p = NULL;
    Raftq__Reply *reply;
    raftq_code_t code = s_status_call (self, index, true, &reply);
    if (code == RAFTQ_OK && !(*topics_p = s_topics_status_new (reply->status->detail)))
        code = raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}
