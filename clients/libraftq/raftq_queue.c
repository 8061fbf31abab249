/*  raftq_queue — the queue operations of the client (DESIGN 5.1
    CreateTopic, ListTopics, Publish, Pop), synchronous through the
    leader-following call, and publish and pop in the pipelined form too
    (their replies come back through raftq_receive). Arguments are checked
    before anything is sent.
*/
#include "raftq_client.h"

raftq_code_t
raftq_create_topic (raftq_client_t *self, const char *name)
{
    //  An ordinary topic is one that makes no dead letters
    return raftq_create_topic_dead_letter (self, name, 0, NULL);
}

raftq_code_t
raftq_list_topics (raftq_client_t *self, char ***names_p)
{
    *names_p = NULL;
    Raftq__ListTopics list = RAFTQ__LIST_TOPICS__INIT;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_LIST_TOPICS, &list);

    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_call (self, &request, &reply);
    if (code == RAFTQ_OK) {
        if (reply->result_case != RAFTQ__REPLY__RESULT_TOPICS || !reply->topics)
            code = raftq_client_missing_result (self, "topic list");
        else {
            *names_p = raftq_wire_strings (reply->topics->names, reply->topics->n_names);
            if (!*names_p)
                code = raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
        }
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

//  Fills request with a publish of payload to topic (pointing into them).
static void
s_publish_request (Raftq__Request *request, Raftq__Publish *publish, const char *topic,
                   const void *payload, size_t size)
{
    raftq__publish__init (publish);
    publish->topic = (char *)topic;
    publish->payload.data = (uint8_t *)payload;
    publish->payload.len = size;
    raftq__request__init (request);
    request->op_case = RAFTQ__REQUEST__OP_PUBLISH;
    request->publish = publish;
}

//  Fills request with a pop of topic.
static void
s_pop_request (Raftq__Request *request, Raftq__Pop *pop, const char *topic)
{
    raftq__pop__init (pop);
    pop->topic = (char *)topic;
    raftq__request__init (request);
    request->op_case = RAFTQ__REQUEST__OP_POP;
    request->pop = pop;
}

raftq_code_t
raftq_publish (raftq_client_t *self, const char *topic, const void *payload, size_t size,
               uint64_t *sequence_p)
{
    if (!raftq_client_given (self, topic, "topic name"))
        return RAFTQ_INVALID_ARGUMENT;
    if (!payload && size > 0)
        return raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "payload is missing");
    Raftq__Publish publish;
    Raftq__Request request;
    s_publish_request (&request, &publish, topic, payload, size);

    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_call (self, &request, &reply);
    if (code == RAFTQ_OK) {
        if (reply->result_case != RAFTQ__REPLY__RESULT_PUBLISHED || !reply->published)
            code = raftq_client_missing_result (self, "publish result");
        else if (sequence_p)
            *sequence_p = reply->published->sequence;
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_pop (raftq_client_t *self, const char *topic, void **payload_p, size_t *size_p)
{
    *payload_p = NULL;
    *size_p = 0;
    if (!raftq_client_given (self, topic, "topic name"))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__Pop pop;
    Raftq__Request request;
    s_pop_request (&request, &pop, topic);

    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_call (self, &request, &reply);
    if (code == RAFTQ_OK) {
        if (reply->result_case != RAFTQ__REPLY__RESULT_POPPED || !reply->popped)
            code = raftq_client_missing_result (self, "popped message");
        else if (!(*payload_p = raftq_wire_payload (&reply->popped->payload)))
            code = raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
        else
            *size_p = reply->popped->payload.len;
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

int
raftq_send_publish (raftq_client_t *self, const char *topic, const void *payload, size_t size,
                    uint64_t *seq_p)
{
    if (!raftq_client_given (self, topic, "topic name"))
        return -1;
    if (!payload && size > 0) {
        raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "payload is missing");
        return -1;
    }
    Raftq__Publish publish;
    Raftq__Request request;
    s_publish_request (&request, &publish, topic, payload, size);
    return raftq_client_send (self, &request, seq_p);
}

int
raftq_send_list_topics (raftq_client_t *self, uint64_t *seq_p)
{
    Raftq__ListTopics list = RAFTQ__LIST_TOPICS__INIT;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_LIST_TOPICS, &list);
    return raftq_client_send (self, &request, seq_p);
}

int
raftq_send_pop (raftq_client_t *self, const char *topic, uint64_t *seq_p)
{
    if (!raftq_client_given (self, topic, "topic name"))
        return -1;
    Raftq__Pop pop;
    Raftq__Request request;
    s_pop_request (&request, &pop, topic);
    return raftq_client_send (self, &request, seq_p);
}
