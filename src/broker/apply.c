/*  apply — committed entries to the state machine and their answers; see
    apply.h.
*/
#include "broker/apply.h"

#include "broker/consumption.h"
#include "broker/server_private.h"
#include "util/diagnostic.h"
#include "util/protobuf_wire.h"

int
apply_open (server_t *server)
{
    const ProtobufCFieldDescriptor *origin_node = protobuf_c_message_descriptor_get_field_by_name (
        &raftq__state__command__descriptor, "origin_node");
    const ProtobufCFieldDescriptor *ticket = protobuf_c_message_descriptor_get_field_by_name (
        &raftq__state__command__descriptor, "ticket");
    if (!origin_node || !ticket)
        return -1;
    server->origin_node_field = origin_node->id;
    server->ticket_field = ticket->id;
    return 0;
}

//  Origin node and ticket of a packed state Command, read off the wire:
//  the state machine unpacks the command already, a second full unpack just
//  to find the waiting client cost more than the rest of the answer. The
//  last occurrence of a field wins, as in protobuf. Returns 0, or -1 if the
//  payload is not a well-formed message.
static int
s_command_origin (server_t *server, const raft_entry_t *entry, uint32_t *origin_node,
                  uint64_t *ticket)
{
    *origin_node = 0;
    *ticket = 0;
    protobuf_wire_reader_t reader;
    protobuf_wire_reader_init (&reader, entry->data, entry->size);
    protobuf_wire_field_t field;
    int rc;
    while ((rc = protobuf_wire_next (&reader, &field)) == 1) {
        if (field.type != PROTOBUF_WIRE_VARINT)
            continue;
        if (field.number == server->origin_node_field)
            *origin_node = (uint32_t)field.value;
        else if (field.number == server->ticket_field)
            *ticket = field.value;
    }
    return rc;
}

//  The request this node parked for a committed command, if any. Only the
//  proposer answers, so other nodes skip the decode while nothing waits.
static client_request_t *
s_waiter_of (server_t *server, const raft_entry_t *entry)
{
    if (waiting_table_size (server->waiting) == 0)
        return NULL;
    uint32_t origin_node;
    uint64_t ticket;
    if (s_command_origin (server, entry, &origin_node, &ticket) || origin_node != server->node_id)
        return NULL;
    return waiting_table_unpark (server->waiting, ticket);
}

static void
s_apply_command (server_t *server, const raft_entry_t *entry)
{
    fsm_output_t output = {0};
    if (fsm_apply (server->fsm, entry->index, entry->data, entry->size, &output)) {
        diagnostic_line (server->node_id, DIAGNOSTIC_ERROR, "state machine refused entry %" PRIu64,
                         entry->index);
        return;
    }
    client_request_t *request = s_waiter_of (server, entry);
    //  A woken waiter that found nothing may wait on
    if (request && consumption_settle (server, request, output.reply))
        request = NULL;
    if (request) {
        if (output.reply) {
            if (!output.reply->index)
                output.reply->index = entry->index;
            if (credentials_complete_login (request, output.reply))
                client_port_reply_error (server->port, request, RAFTQ__CODE__INTERNAL,
                                         "cannot hand out the session token");
            else
                client_port_reply (server->port, request, output.reply);
        } else
            client_port_reply_error (server->port, request, RAFTQ__CODE__INTERNAL,
                                     "no reply from the state machine");
        client_request_destroy (&request);
    }
    //  An entry that ended a session publishes nothing more to it
    if (server->fanout)
        fanout_follow (server->fanout);
    for (size_t position = 0; server->fanout && position < output.event_count; position++)
        fanout_publish (server->fanout, output.events[position]);
    fsm_output_clear (&output);
}

void
apply_committed (server_t *server, const raft_actor_event_t *event)
{
    //  A subscription that reached the XPUB already counts for these events
    if (server->fanout)
        fanout_take_subscriptions (server->fanout);
    for (size_t position = 0; position < event->entry_count; position++) {
        const raft_entry_t *entry = &event->entries[position];
        uint64_t applied = fsm_applied_index (server->fsm);
        if (entry->index <= applied)
            continue;
        if (entry->index != applied + 1)
            diagnostic_line (server->node_id, DIAGNOSTIC_ERROR,
                             "committed entry %" PRIu64 " does not follow applied %" PRIu64,
                             entry->index, applied);
        if (entry->type == RAFT_ENTRY_COMMAND)
            s_apply_command (server, entry);
        else if (fsm_skip (server->fsm, entry->index))
            diagnostic_line (server->node_id, DIAGNOSTIC_ERROR,
                             "state machine refused entry %" PRIu64, entry->index);
        cluster_view_set_applied_term (server->view, entry->term);
    }
    cluster_view_take_commit (server->view, event);
    credentials_resume_deferred (server);
    consumption_wake (server);
}

void
apply_rejected (server_t *server, const raft_actor_event_t *event)
{
    for (size_t position = 0; position < event->ticket_count; position++) {
        client_request_t *request =
            waiting_table_unpark (server->waiting, event->tickets[position]);
        if (request) {
            client_port_reply_not_leader (server->port, request, server->view, event->leader_id);
            client_request_destroy (&request);
        }
    }
}
