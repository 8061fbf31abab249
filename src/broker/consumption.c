/*  consumption — waiting consumers and the expiry timer at the leader; see
    consumption.h.

    Decisions:
    - A wait is capped by request_timeout_ms; once woken, the request's
      entry gets a request timeout of its own, as any write.
    - A waiter is parked only when its topic exists, the request is valid,
      and the topic has no more ready messages than waiters ahead of it
      (parked or woken): waiting never hides an error, and a newcomer does
      not overtake the line.
    - A woken waiter is promised one ready message: a topic wakes no more
      waiters than it has ready messages beyond those promised. If the
      message is gone when its entry applies (a consumer that did not wait
      took it first), the waiter goes back to the head of its line; one
      with exactly-once protection (client_id and seq) is answered the
      EMPTY its seq got instead, since the table remembers that answer.
    - The Expire entry is proposed when the earliest deadline has passed by
      this node's clock, once per deadline (again only after
      CONSUMPTION_EXPIRY_RETRY_MS if it did not apply: a lost entry).
*/
#include "broker/consumption.h"

#include "broker/proposal.h"
#include "broker/server_private.h"
#include "state/command.h"
#include "state/queues.h"

//  An Expire proposed for a deadline that is still the earliest after this
//  long was lost (a leader change, a refusal): propose it again.
#define CONSUMPTION_EXPIRY_RETRY_MS 1000

//  The topic and wait of a Pop or Reserve; false for any other request.
static bool
s_wait_of (const Raftq__Request *request, const char **topic, uint32_t *wait_ms)
{
    if (request->op_case == RAFTQ__REQUEST__OP_POP && request->pop) {
        *topic = request->pop->topic;
        *wait_ms = request->pop->wait_ms;
        return true;
    }
    if (request->op_case == RAFTQ__REQUEST__OP_RESERVE && request->reserve) {
        *topic = request->reserve->topic;
        *wait_ms = request->reserve->wait_ms;
        return true;
    }
    return false;
}

//  Proposes a parked request's command (answers it if that fails).
static void
s_propose (server_t *server, client_request_t *request)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    if (command_from_request (request->decoded.request, &command)) {
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "not a state machine operation");
        return;
    }
    proposal_submit (server, request, &command);
}

//  The refusal a request would get at proposal, before it waits for
//  nothing: 0 when valid, else -1 with code and error.
static int
s_refusal (server_t *server, const Raftq__Request *request, Raftq__Code *code, char *error,
           size_t error_size)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    uint8_t nonce[QUEUES_RECEIPT_NONCE_SIZE] = {0};
    if (command_from_request (request, &command)) {
        *code = RAFTQ__CODE__INTERNAL;
        snprintf (error, error_size, "not a state machine operation");
        return -1;
    }
    //  The nonce is the proposer's; only its presence is checked
    command.receipt_nonce.data = nonce;
    command.receipt_nonce.len = sizeof nonce;
    return fsm_validate (server->fsm, &command, code, error, error_size);
}

void
consumption_serve (server_t *server, client_request_t *request)
{
    const char *topic = NULL;
    uint32_t wait_ms = 0;
    const Raftq__Request *decoded = request->decoded.request;
    uint64_t ready = 0;
    if (!s_wait_of (decoded, &topic, &wait_ms) || wait_ms == 0 || !topic ||
        fsm_topic_ready (server->fsm, topic, &ready) ||
        ready > waiting_consumers_count (server->consumers, topic)) {
        proposal_serve_write (server, request);
        return;
    }
    if (proposal_answer_early (server, request))
        return;
    Raftq__Code code;
    char error[256];
    if (s_refusal (server, decoded, &code, error, sizeof error)) {
        client_port_reply_error (server->port, request, code, error);
        client_request_destroy (&request);
        return;
    }
    int64_t longest = server->config->request_timeout_ms;
    int64_t wait_deadline = zclock_mono () + (wait_ms < longest ? (int64_t)wait_ms : longest);
    if (waiting_consumers_park (server->consumers, topic, request, wait_deadline, error,
                                sizeof error)) {
        client_port_reply_error (server->port, request, RAFTQ__CODE__RESOURCE_EXHAUSTED, error);
        client_request_destroy (&request);
    }
}

static uint64_t
s_ready (void *argument, const char *topic)
{
    uint64_t ready = 0;
    fsm_topic_ready (((server_t *)argument)->fsm, topic, &ready);
    return ready;
}

static void
s_wake (void *argument, client_request_t *request, const char *topic, int64_t wait_deadline)
{
    server_t *server = (server_t *)argument;
    if (proposal_park (server, request))
        return;
    waiting_consumers_woke (server->consumers, topic, request->ticket, wait_deadline,
                            request->deadline);
    s_propose (server, request);
}

void
consumption_wake (server_t *server)
{
    if (waiting_consumers_size (server->consumers) == 0)
        return;
    if (cluster_view_role (server->view) != RAFT_ROLE_LEADER)
        return;
    waiting_consumers_wake (server->consumers, s_ready, s_wake, server);
}

bool
consumption_settle (server_t *server, client_request_t *request, const Raftq__Reply *reply)
{
    int64_t wait_deadline;
    char *topic;
    if (!waiting_consumers_settle (server->consumers, request->ticket, &wait_deadline, &topic))
        return false;
    const Raftq__Request *decoded = request->decoded.request;
    bool remembered = decoded->client_id != 0 && decoded->seq != 0;
    bool again = reply && reply->code == RAFTQ__CODE__EMPTY && !remembered &&
                 wait_deadline > zclock_mono () &&
                 cluster_view_role (server->view) == RAFT_ROLE_LEADER;
    if (again) {
        request->ticket = 0;
        request->proposed = false;
        waiting_consumers_park_first (server->consumers, topic, request, wait_deadline);
    }
    free (topic);
    return again;
}

//  Proposes one Expire entry stamped with this node's clock.
static void
s_propose_expiry (server_t *server, int64_t now_ms)
{
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    Raftq__State__Expire expire = RAFTQ__STATE__EXPIRE__INIT;
    command.origin_node = server->node_id;
    command.timestamp_ms = now_ms;
    command.op_case = RAFTQ__STATE__COMMAND__OP_EXPIRE;
    command.expire = &expire;
    zframe_t *payload = zframe_new (NULL, raftq__state__command__get_packed_size (&command));
    if (!payload)
        return;
    raftq__state__command__pack (&command, zframe_data (payload));
    //  Ticket 0: no request waits for it
    raft_actor_propose (server->raft, 0, &payload);
    server_flush_proposals (server);
}

//  The leader's expiry timer: an Expire when the earliest deadline passed.
static void
s_check_expiry (server_t *server, int64_t now)
{
    if (cluster_view_role (server->view) != RAFT_ROLE_LEADER)
        return;
    int64_t deadline = fsm_next_deadline (server->fsm);
    int64_t clock = zclock_time ();
    if (deadline == INT64_MAX || deadline > clock)
        return;
    if (deadline == server->expiry_proposed_for &&
        now - server->expiry_proposed_at < CONSUMPTION_EXPIRY_RETRY_MS)
        return;
    server->expiry_proposed_for = deadline;
    server->expiry_proposed_at = now;
    s_propose_expiry (server, clock);
}

void
consumption_tick (server_t *server, int64_t now)
{
    client_request_t *request;
    char *topic;
    while ((request = waiting_consumers_expired (server->consumers, now, &topic))) {
        char error[320];
        snprintf (error, sizeof error, "topic '%.255s' is empty", topic);
        free (topic);
        client_port_reply_error (server->port, request, RAFTQ__CODE__EMPTY, error);
        client_request_destroy (&request);
    }
    waiting_consumers_forget_stale (server->consumers, now);
    s_check_expiry (server, now);
}

void
consumption_answer_all (server_t *server, Raftq__Code code)
{
    if (!server->consumers || !server->port)
        return;
    client_request_t *request;
    char *topic;
    while ((request = waiting_consumers_expired (server->consumers, INT64_MAX, &topic))) {
        free (topic);
        if (code == RAFTQ__CODE__NOT_LEADER)
            client_port_reply_not_leader (server->port, request, server->view,
                                          cluster_view_leader_id (server->view));
        else
            client_port_reply_error (server->port, request, code, "node shutting down");
        client_request_destroy (&request);
    }
    waiting_consumers_forget_woken (server->consumers);
}
