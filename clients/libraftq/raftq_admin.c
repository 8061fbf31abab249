/*  raftq_admin — the cluster administration operations of the client
    (DESIGN 5.1 AddNode, RemoveNode, TransferLeadership, and TakeSnapshot).
    The leader answers the first three only once the change is done (a
    learner caught up and promoted, a removal committed, the new leader
    elected), a node asked for a snapshot once it is durable, so they run
    with longer waits than the queue operations; a retry of one is harmless.
*/
#include "raftq_client.h"
#include "raftq_curve.h"

//  A node id argument must be positive.
static bool
s_id_ok (raftq_client_t *self, uint32_t id)
{
    if (id > 0)
        return true;
    raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "a node id must be positive");
    return false;
}

//  Runs the admin operation (a submessage of op_case); its reply carries
//  nothing but the code.
static raftq_code_t
s_admin_call (raftq_client_t *self, Raftq__Request__OpCase op_case, void *operation)
{
    Raftq__Request request;
    raftq_wire_request (&request, op_case, operation);
    request.admin_secret = (char *)raftq_client_admin_secret (self);
    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_call_patient (self, &request, &reply, RAFTQ_ADMIN_TIMEOUT_MS,
                                                   RAFTQ_ADMIN_TIMEOUT_MS);
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}

raftq_code_t
raftq_add_node (raftq_client_t *self, uint32_t id, const char *host, uint16_t client_port,
                uint16_t peer_port, uint16_t pub_port)
{
    return raftq_add_node_key (self, id, host, client_port, peer_port, pub_port, NULL);
}

raftq_code_t
raftq_add_node_key (raftq_client_t *self, uint32_t id, const char *host, uint16_t client_port,
                    uint16_t peer_port, uint16_t pub_port, const char *public_key)
{
    if (!s_id_ok (self, id))
        return RAFTQ_INVALID_ARGUMENT;
    if (!host || !*host || !client_port || !peer_port)
        return raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT,
                                  "a node needs a host, a client port and a peer port");
    Raftq__AddNode add = RAFTQ__ADD_NODE__INIT;
    uint8_t key[32];
    if (public_key && *public_key) {
        //  The wire carries the 32 bytes; a bad key is refused here.
        char error[256];
        if (raftq_curve_check_key (public_key, "add-node", error, sizeof (error)))
            return raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "%s", error);
        zmq_z85_decode (key, public_key);
        add.public_key.data = key;
        add.public_key.len = sizeof (key);
    }
    add.id = id;
    add.host = (char *)host;
    add.client_port = client_port;
    add.peer_port = peer_port;
    add.pub_port = pub_port;
    return s_admin_call (self, RAFTQ__REQUEST__OP_ADD_NODE, &add);
}

raftq_code_t
raftq_remove_node (raftq_client_t *self, uint32_t id)
{
    if (!s_id_ok (self, id))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__RemoveNode remove = RAFTQ__REMOVE_NODE__INIT;
    remove.id = id;
    return s_admin_call (self, RAFTQ__REQUEST__OP_REMOVE_NODE, &remove);
}

raftq_code_t
raftq_transfer_leader (raftq_client_t *self, uint32_t id)
{
    if (!s_id_ok (self, id))
        return RAFTQ_INVALID_ARGUMENT;
    Raftq__TransferLeadership transfer = RAFTQ__TRANSFER_LEADERSHIP__INIT;
    transfer.id = id;
    return s_admin_call (self, RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP, &transfer);
}

raftq_code_t
raftq_admin_snapshot (raftq_client_t *self, size_t index, uint64_t *snapshot_index_p)
{
    if (snapshot_index_p)
        *snapshot_index_p = 0;
    Raftq__TakeSnapshot take = RAFTQ__TAKE_SNAPSHOT__INIT;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_TAKE_SNAPSHOT, &take);
    request.admin_secret = (char *)raftq_client_admin_secret (self);
    Raftq__Reply *reply;
    raftq_code_t code = raftq_client_ask_node (
        self, index, &request, raftq_client_patience (self, RAFTQ_ADMIN_TIMEOUT_MS), &reply);
    if (code == RAFTQ_OK && snapshot_index_p)
        *snapshot_index_p = reply->index;
    raftq__reply__free_unpacked (reply, NULL);
    return code;
}
