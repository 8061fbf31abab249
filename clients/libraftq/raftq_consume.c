/*  raftq_consume — acknowledged consumption (DESIGN 5.1 Reserve, Ack,
    Nack), waiting pops, and topics with a dead-letter topic: requests
    checked before anything is sent, replies mapped onto raftq_delivery_t.
    Reserve and ack also in the pipelined form (replies through
    raftq_receive).
*/
#include "raftq_client.h"

raftq_code_t
raftq_create_topic_dead_letter (raftq_client_t *self, const char *name, uint32_t max_deliveries,
                                const char *dead_letter)
{
    if (!raftq_client_given (self, name, "topic name"))
        return RAFTQ_INVALID_ARGUMENT;
    bool has_dead_letter = dead_letter && *dead_letter;
    if (has_dead_letter != (max_deliveries > 0))
        return raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT,
                                  "max_deliveries and a dead-letter topic go together");
    Raftq__CreateTopic create = RAFTQ__CREATE_TOPIC__INIT;
    create.name = (char *)name;
    create.max_deliveries = max_deliveries;
    create.dead_letter = has_dead_letter ? (char *)dead_letter : "";
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_CREATE_TOPIC, &create);

    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_call (self, &request, &reply);
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

void
raftq_delivery_destroy (raftq_delivery_t **delivery_p)
{
    if (!delivery_p || !*delivery_p)
        return;
    raftq_delivery_t *delivery = *delivery_p;
    free (delivery->topic);
    free (delivery->payload);
    free (delivery->receipt);
    free (delivery->original_topic);
    free (delivery);
    *delivery_p = NULL;
}

//  A copy of text, NULL for none or "" (the proto's "not set").
static char *
s_optional (const char *text, bool *failed)
{
    if (!text || !*text)
        return NULL;
    char *copy = strdup (text);
    if (!copy)
        *failed = true;
    return copy;
}

//  A delivery of the message a reply carries: Reserved, or Popped when
//  reserved is NULL. NULL when out of memory.
static raftq_delivery_t *
s_delivery_new (const Raftq__Reserved *reserved, const Raftq__Popped *popped)
{
    raftq_delivery_t *delivery = (raftq_delivery_t *)calloc (1, sizeof (raftq_delivery_t));
    if (!delivery)
        return NULL;
    bool failed = false;
    const ProtobufCBinaryData *payload = reserved ? &reserved->payload : &popped->payload;
    delivery->payload = raftq_wire_payload (payload);
    delivery->size = payload->len;
    delivery->topic = strdup (reserved ? (reserved->topic ? reserved->topic : "")
                                       : (popped->topic ? popped->topic : ""));
    if (reserved) {
        delivery->sequence = reserved->sequence;
        delivery->receipt = s_optional (reserved->receipt, &failed);
        delivery->deliveries = reserved->deliveries;
        delivery->visible_at_ms = reserved->visible_at_ms;
        delivery->original_topic = s_optional (reserved->original_topic, &failed);
        delivery->original_deliveries = reserved->original_deliveries;
    } else {
        delivery->sequence = popped->sequence;
        delivery->original_topic = s_optional (popped->original_topic, &failed);
        delivery->original_deliveries = popped->deliveries;
    }
    if (failed || !delivery->payload || !delivery->topic)
        raftq_delivery_destroy (&delivery);
    return delivery;
}

//  Runs a reserve or pop request (a leader may park it up to wait_ms) and
//  maps its message into *delivery_p.
static raftq_code_t
s_take (raftq_client_t *self, Raftq__Request *request, uint32_t wait_ms,
        raftq_delivery_t **delivery_p)
{
    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_call_waiting (self, request, &reply, wait_ms);
    if (code == RAFTQ_OK) {
        bool reserve = request->op_case == RAFTQ__REQUEST__OP_RESERVE;
        if (reserve && (reply->result_case != RAFTQ__REPLY__RESULT_RESERVED || !reply->reserved))
            code = raftq_client_missing_result (self, "reserved message");
        else if (!reserve && (reply->result_case != RAFTQ__REPLY__RESULT_POPPED || !reply->popped))
            code = raftq_client_missing_result (self, "popped message");
        else if (reserve && (!reply->reserved->receipt || !*reply->reserved->receipt))
            code = raftq_client_missing_result (self, "receipt");
        else if (!(*delivery_p = s_delivery_new (reserve ? reply->reserved : NULL, reply->popped)))
            code = raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
    }
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_reserve (raftq_client_t *self, const char *topic, uint32_t visibility_ms, uint32_t wait_ms,
               raftq_delivery_t **delivery_p)
{
    *delivery_p = NULL;
    if (!raftq_client_given (self, topic, "topic name"))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__Reserve reserve = RAFTQ__RESERVE__INIT;
    reserve.topic = (char *)topic;
    reserve.visibility_ms = visibility_ms;
    reserve.wait_ms = wait_ms;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_RESERVE, &reserve);
    return s_take (self, &request, wait_ms, delivery_p);
}

raftq_code_t
raftq_pop_wait (raftq_client_t *self, const char *topic, uint32_t wait_ms,
                raftq_delivery_t **delivery_p)
{
    *delivery_p = NULL;
    if (!raftq_client_given (self, topic, "topic name"))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__Pop pop = RAFTQ__POP__INIT;
    pop.topic = (char *)topic;
    pop.wait_ms = wait_ms;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_POP, &pop);
    return s_take (self, &request, wait_ms, delivery_p);
}

//  Fills request with an ack (delay_ms < 0) or a nack of receipt.
static void
s_settle_request (Raftq__Request *request, Raftq__Ack *ack, Raftq__Nack *nack, const char *receipt,
                  int64_t delay_ms)
{
    if (delay_ms < 0) {
        raftq__ack__init (ack);
        ack->receipt = (char *)receipt;
        raftq_wire_request (request, RAFTQ__REQUEST__OP_ACK, ack);
    } else {
        raftq__nack__init (nack);
        nack->receipt = (char *)receipt;
        nack->delay_ms = (uint32_t)delay_ms;
        raftq_wire_request (request, RAFTQ__REQUEST__OP_NACK, nack);
    }
}

//  Acks (delay_ms < 0) or nacks receipt through the leader.
static raftq_code_t
s_settle (raftq_client_t *self, const char *receipt, int64_t delay_ms)
{
    if (!raftq_client_given (self, receipt, "receipt"))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__Ack ack;
    Raftq__Nack nack;
    Raftq__Request request;
    s_settle_request (&request, &ack, &nack, receipt, delay_ms);
    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_call (self, &request, &reply);
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_ack (raftq_client_t *self, const char *receipt)
{
    return s_settle (self, receipt, -1);
}

raftq_code_t
raftq_nack (raftq_client_t *self, const char *receipt, uint32_t delay_ms)
{
    return s_settle (self, receipt, delay_ms);
}

int
raftq_send_reserve (raftq_client_t *self, const char *topic, uint32_t visibility_ms,
                    uint64_t *seq_p)
{
    if (!raftq_client_given (self, topic, "topic name"))
        return -1;
    Raftq__Reserve reserve = RAFTQ__RESERVE__INIT;
    reserve.topic = (char *)topic;
    reserve.visibility_ms = visibility_ms;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_RESERVE, &reserve);
    return raftq_client_send (self, &request, seq_p);
}

int
raftq_send_ack (raftq_client_t *self, const char *receipt, uint64_t *seq_p)
{
    if (!raftq_client_given (self, receipt, "receipt"))
        return -1;
    Raftq__Ack ack;
    Raftq__Nack nack;
    Raftq__Request request;
    s_settle_request (&request, &ack, &nack, receipt, -1);
    return raftq_client_send (self, &request, seq_p);
}
