/*  proposal — the leader's write path from request to proposal; see
    proposal.h.
*/
#include <inttypes.h>
#include <sodium.h>

#include "broker/proposal.h"

#include "broker/server_private.h"
#include "state/command.h"
#include "state/queues.h"
#include "state/session_key.h"
#include "util/disk_space.h"

bool
proposal_answer_early (server_t *server, client_request_t *request)
{
    if (cluster_view_role (server->view) != RAFT_ROLE_LEADER) {
        client_port_reply_not_leader (server->port, request, server->view,
                                      cluster_view_leader_id (server->view));
        client_request_destroy (&request);
        return true;
    }
    const Raftq__Request *decoded = request->decoded.request;
    Raftq__Reply *cached = fsm_retry_reply (server->fsm, decoded);
    if (cached) {
        client_port_reply (server->port, request, cached);
        raftq__reply__free_unpacked (cached, NULL);
        client_request_destroy (&request);
        return true;
    }
    return false;
}

int
proposal_park (server_t *server, client_request_t *request)
{
    int64_t deadline = zclock_mono () + server->config->request_timeout_ms;
    if (waiting_table_park (server->waiting, request, deadline) == 0)
        return 0;
    client_port_reply_error (server->port, request, RAFTQ__CODE__INTERNAL, "out of memory");
    client_request_destroy (&request);
    return -1;
}

void
proposal_finish (server_t *server, client_request_t *request, Raftq__Code code, const char *text)
{
    waiting_table_unpark (server->waiting, request->ticket);
    client_port_reply_error (server->port, request, code, text);
    client_request_destroy (&request);
}

//  Below limits.min_free_disk_bytes of free space where the log lives, a
//  write that grows the state is refused rather than proposed: the log
//  would fill the disk and every node would stop on ENOSPC at about the
//  same time. Pops, reads, deletions and logouts still go (their entries
//  are small, and they let snapshots compact the log). Node-local: only
//  this leader's disk counts. The free space is looked up every
//  DISK_SPACE_WATCH_PERIOD_MS and estimated down by each entry's size in between: a
//  statvfs per write was a measurable part of a write's cost. Returns 0,
//  or -1 with error filled.
static int
s_disk_refuses (server_t *server, const Raftq__State__Command *command, size_t size, char *error,
                size_t error_size)
{
    uint64_t minimum = server->config->limits.min_free_disk_bytes;
    bool grows = command->op_case == RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC ||
                 command->op_case == RAFTQ__STATE__COMMAND__OP_PUBLISH ||
                 command->op_case == RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT ||
                 command->op_case == RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
    //  Where the node's files are (its own mount, if it has one), as the
    //  Raft thread and Status look
    const char *path = server->snapshot_dir ? server->snapshot_dir : server->config->data_dir;
    if (!server->disk_watch &&
        !(server->disk_watch = disk_space_watch_new (path, DISK_SPACE_WATCH_PERIOD_MS)))
        return 0;
    uint64_t free_bytes = disk_space_watch_free (server->disk_watch, zclock_mono ());
    if (!grows || minimum == 0 || free_bytes >= minimum) {
        disk_space_watch_take (server->disk_watch, size);
        return 0;
    }
    snprintf (error, error_size,
              "min_free_disk_bytes reached: the node directory's disk has %" PRIu64
              " bytes free, below the limit of %" PRIu64,
              free_bytes, minimum);
    return -1;
}

void
proposal_submit (server_t *server, client_request_t *request, Raftq__State__Command *command)
{
    const Raftq__Request *decoded = request->decoded.request;
    command->origin_node = server->node_id;
    command->ticket = request->ticket;
    command->client_id = decoded->client_id;
    command->seq = decoded->seq;
    command->timestamp_ms = zclock_time ();
    //  Only the token's key goes to the log (session_key.h)
    char key[SESSION_KEY_SIZE];
    session_key (decoded->token, key);
    command->token = key;
    //  The quotas travel in the entry: apply decides from the log alone,
    //  alike on every node and in every replay (state.proto Limits)
    const config_limits_t *configured = &server->config->limits;
    Raftq__State__Limits limits = RAFTQ__STATE__LIMITS__INIT;
    limits.max_state_bytes = configured->max_state_bytes;
    limits.max_topics = configured->max_topics;
    limits.max_topic_messages = configured->max_topic_messages;
    limits.max_topic_bytes = configured->max_topic_bytes;
    limits.max_accounts = configured->max_accounts;
    limits.max_inbox_messages = configured->max_inbox_messages;
    command->limits = &limits;
    //  A receipt's random part: no client can guess another's delivery
    uint8_t nonce[QUEUES_RECEIPT_NONCE_SIZE];
    if (command->op_case == RAFTQ__STATE__COMMAND__OP_RESERVE) {
        randombytes_buf (nonce, sizeof nonce);
        command->receipt_nonce.data = nonce;
        command->receipt_nonce.len = sizeof nonce;
    }
    Raftq__Code code;
    char error[256] = "";
    if (fsm_validate (server->fsm, command, &code, error, sizeof (error))) {
        proposal_finish (server, request, code, error);
        return;
    }
    size_t size = raftq__state__command__get_packed_size (command);
    if (s_disk_refuses (server, command, size, error, sizeof (error))) {
        proposal_finish (server, request, RAFTQ__CODE__RESOURCE_EXHAUSTED, error);
        return;
    }
    zframe_t *payload = zframe_new (NULL, size);
    if (!payload) {
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "out of memory");
        return;
    }
    raftq__state__command__pack (command, zframe_data (payload));
    request->proposed = true;
    raft_actor_propose (server->raft, request->ticket, &payload);
}

void
proposal_serve_write (server_t *server, client_request_t *request)
{
    if (proposal_answer_early (server, request))
        return;
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    if (command_from_request (request->decoded.request, &command)) {
        client_port_reply_error (server->port, request, RAFTQ__CODE__INTERNAL,
                                 "not a state machine operation");
        client_request_destroy (&request);
        return;
    }
    if (proposal_park (server, request) == 0)
        proposal_submit (server, request, &command);
}
