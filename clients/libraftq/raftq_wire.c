/*  raftq_wire — encoding requests, decoding replies and mapping them onto
    the public types of raftq.h; also the public name and string-list
    helpers, which are the same mapping seen from the caller's side.
*/
#include <assert.h>

#include "raftq_wire.h"

void
raftq_wire_request (Raftq__Request *request, Raftq__Request__OpCase op_case, void *operation)
{
    raftq__request__init (request);
    //  Each op_case is the number of its field in the oneof: the descriptor
    //  says where that field lives, as it does for protobuf-c itself.
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field (&raftq__request__descriptor, (unsigned)op_case);
    assert (field && field->type == PROTOBUF_C_TYPE_MESSAGE && operation);
    *(void **)((char *)request + field->offset) = operation;
    request->op_case = op_case;
}

uint8_t *
raftq_wire_encode (const Raftq__Request *request, size_t *size)
{
    *size = raftq__request__get_packed_size (request);
    //  An empty request packs to 0 bytes; malloc (0) may return NULL.
    uint8_t *body = (uint8_t *)malloc (*size ? *size : 1);
    if (body)
        raftq__request__pack (request, body);
    return body;
}

int
raftq_wire_send (zsock_t *socket, const uint8_t *body, size_t size)
{
    void *handle = zsock_resolve (socket);
    //  A multipart message is queued whole or not at all, so once the
    //  delimiter is accepted the body is too.
    if (zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (zmq_send (handle, body, size, ZMQ_DONTWAIT) == -1)
        return -1;
    return 0;
}

//  Receives one frame into part without blocking. Returns 0, -1 if none.
static int
s_receive_part (void *handle, zmq_msg_t *part)
{
    zmq_msg_init (part);
    if (zmq_msg_recv (part, handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (part);
        return -1;
    }
    return 0;
}

Raftq__Reply *
raftq_wire_receive (zsock_t *socket)
{
    void *handle = zsock_resolve (socket);
    zmq_msg_t part;
    if (s_receive_part (handle, &part) == -1)
        return NULL;

    //  Expected: an empty delimiter, then exactly one body frame. Anything
    //  else is read to its end and dropped so the next message starts clean.
    bool well_formed = zmq_msg_size (&part) == 0 && zmq_msg_more (&part);
    Raftq__Reply *reply = NULL;
    int parts = 1;
    while (zmq_msg_more (&part)) {
        zmq_msg_close (&part);
        if (s_receive_part (handle, &part) == -1)
            return NULL; //  cannot happen: parts arrive together
        parts++;
        if (well_formed && parts == 2 && !zmq_msg_more (&part))
            reply = raftq__reply__unpack (NULL, zmq_msg_size (&part),
                                          (const uint8_t *)zmq_msg_data (&part));
    }
    zmq_msg_close (&part);
    return reply;
}

raftq_code_t
raftq_wire_code (const Raftq__Reply *reply)
{
    int code = (int)reply->code;
    if (code < RAFTQ_OK || code > RAFTQ_RESOURCE_EXHAUSTED)
        return RAFTQ_INTERNAL;
    return (raftq_code_t)code;
}

void
raftq_wire_summary (const Raftq__Reply *reply, raftq_reply_t *summary)
{
    memset (summary, 0, sizeof (*summary));
    summary->code = raftq_wire_code (reply);
    summary->seq = reply->seq;
    summary->index = reply->index;
    summary->leader_id = reply->leader_id;
    if (reply->result_case == RAFTQ__REPLY__RESULT_PUBLISHED && reply->published)
        summary->sequence = reply->published->sequence;
    else if (reply->result_case == RAFTQ__REPLY__RESULT_POPPED && reply->popped) {
        summary->sequence = reply->popped->sequence;
        summary->payload_size = reply->popped->payload.len;
    } else if (reply->result_case == RAFTQ__REPLY__RESULT_RESERVED && reply->reserved) {
        const Raftq__Reserved *reserved = reply->reserved;
        summary->sequence = reserved->sequence;
        summary->payload_size = reserved->payload.len;
        summary->deliveries = reserved->deliveries;
        const char *receipt = reserved->receipt ? reserved->receipt : "";
        //  A receipt cut short would name no delivery: an ack must not guess
        if (strlen (receipt) < sizeof (summary->receipt))
            snprintf (summary->receipt, sizeof (summary->receipt), "%s", receipt);
        else if (summary->code == RAFTQ_OK)
            summary->code = RAFTQ_INTERNAL;
    }
}

void
raftq_wire_status (const Raftq__NodeStatus *node, raftq_status_t *status)
{
    memset (status, 0, sizeof (*status));
    status->id = node->id;
    status->role = (raftq_role_t)node->role;
    status->term = node->term;
    status->leader_id = node->leader_id;
    status->commit_index = node->commit_index;
    status->applied_index = node->applied_index;
    status->last_index = node->last_index;
    size_t count = node->n_members < RAFTQ_MEMBERS_MAX ? node->n_members : RAFTQ_MEMBERS_MAX;
    for (size_t member = 0; member < count; member++)
        status->members[member] = node->members[member];
    status->member_count = count;
}

//  A port as the API types it; anything out of range is no port.
static uint16_t
s_port (uint32_t port)
{
    return port <= UINT16_MAX ? (uint16_t)port : 0;
}

void
raftq_wire_status_detail (const Raftq__NodeStatus *node, raftq_status_detail_t *detail)
{
    memset (detail, 0, sizeof (*detail));
    raftq_wire_status (node, &detail->status);
    const Raftq__StatusDetail *source = node->detail;
    if (!source)
        return;
    detail->detailed = true;
    detail->config_index = source->config_index;
    detail->snapshot_index = source->snapshot_index;
    detail->snapshot_term = source->snapshot_term;
    detail->first_index = source->first_index;
    detail->log_bytes = source->log_bytes;
    detail->snapshot_bytes = source->snapshot_bytes;
    detail->state_bytes = source->state_bytes;
    detail->max_state_bytes = source->max_state_bytes;
    for (size_t index = 0; index < source->n_members && detail->member_count < RAFTQ_MEMBERS_MAX;
         index++) {
        const Raftq__MemberStatus *member = source->members[index];
        raftq_member_status_t *target = &detail->members[detail->member_count++];
        target->id = member->id;
        target->voter = member->voter;
        snprintf (target->host, sizeof (target->host), "%s", member->host ? member->host : "");
        target->client_port = s_port (member->client_port);
        target->peer_port = s_port (member->peer_port);
        target->pub_port = s_port (member->pub_port);
        target->replication_known = member->replication_known;
        target->match_index = member->match_index;
        target->lag = member->lag;
    }
}

void *
raftq_wire_payload (const ProtobufCBinaryData *payload)
{
    uint8_t *copy = (uint8_t *)malloc (payload->len + 1);
    if (!copy)
        return NULL;
    if (payload->len)
        memcpy (copy, payload->data, payload->len);
    copy[payload->len] = 0;
    return copy;
}

char **
raftq_wire_strings (char *const *strings, size_t count)
{
    char **copy = (char **)calloc (count + 1, sizeof (char *));
    if (!copy)
        return NULL;
    for (size_t index = 0; index < count; index++) {
        copy[index] = strdup (strings[index]);
        if (!copy[index]) {
            raftq_strings_free (&copy);
            return NULL;
        }
    }
    return copy;
}

void
raftq_strings_free (char ***strings_p)
{
    if (!strings_p || !*strings_p)
        return;
    for (char **string = *strings_p; *string; string++)
        free (*string);
    free (*strings_p);
    *strings_p = NULL;
}

const char *
raftq_code_name (raftq_code_t code)
{
    //  Indexed by code: the numbers are those of raftq.proto.
    static const char *const names[] = {
        "OK",      "NOT_LEADER",       "NO_LEADER",       "NOT_FOUND",         "ALREADY_EXISTS",
        "EMPTY",   "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "TOO_LARGE",
        "TIMEOUT", "UNAVAILABLE",      "INTERNAL",        "RESOURCE_EXHAUSTED"};
    if ((int)code < 0 || (size_t)code >= sizeof (names) / sizeof (names[0]))
        return "UNKNOWN";
    return names[code];
}

const char *
raftq_role_name (raftq_role_t role)
{
    switch (role) {
    case RAFTQ_ROLE_FOLLOWER:
        return "follower";
    case RAFTQ_ROLE_CANDIDATE:
        return "candidate";
    case RAFTQ_ROLE_LEADER:
        return "leader";
    }
    return "unknown";
}
