/*  server — the broker of one node: its lifecycle, and the loop that
    dispatches client requests and the Raft actor's events to the parts
    that serve them (client_port, proposal, credentials, admin, status,
    apply, fanout, snapshot_policy). See server.h.
*/
#include "broker/server.h"

#include "broker/apply.h"
#include "broker/consumption.h"
#include "broker/metrics_report.h"
#include "broker/handover.h"
#include "broker/proposal.h"
#include "broker/read_path.h"
#include "broker/replica_options.h"
#include "broker/server_private.h"
#include "broker/snapshot_policy.h"
#include "broker/status.h"
#include "state/stream_access.h"
#include "util/secret_file.h"

#include <sodium.h>
#include "util/diagnostic.h"
#include "util/endpoint.h"
#include "util/io_threads.h"

//  Period of the check for requests past their deadline.
#define DEADLINE_CHECK_MS 20
//  Period of the check for a stop signal (the loop runs on through one,
//  handover.h): the deadline check's, so that both take one wake.
#define SIGNAL_CHECK_MS DEADLINE_CHECK_MS
//  Replies queued per client before they are dropped (their bytes are
//  bounded by client_port).
#define CLIENT_SEND_HWM 10000
//  Subscription messages: a flag and a stream prefix, which no stream key
//  this long could match anyway. Bigger costs the subscriber its connection.
#define SUBSCRIPTION_MAX_BYTES 1024
//  ZMTP heartbeats on client and PUB connections: a peer that stopped
//  reading its socket cannot answer a PING, and is cut off after the
//  timeout, its queued replies or events freed with it.
#define HEARTBEAT_IVL_MS     2000
#define HEARTBEAT_TIMEOUT_MS 20000
//  At shutdown, time left to deliver the last replies.
#define SHUTDOWN_LINGER_MS 200

void
server_flush_proposals (server_t *self)
{
    size_t queued = raft_actor_queued (self->raft);
    if (queued)
        metrics_count_proposals (self->metrics, queued);
    if (raft_actor_flush (self->raft))
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "cannot pass proposals to the raft actor");
}

//  Whether this node can vouch that its state holds every session the
//  cluster acknowledged: it knows a leader and has applied all it knows
//  committed, and a leader has applied an entry of its own term (its
//  commit index covers the old leader's only from then on). An isolated
//  node, or one catching up, may not have applied a login yet (nor a
//  logout: what it grants, it granted before).
static bool
s_state_current (server_t *self)
{
    bool leading = cluster_view_role (self->view) == RAFT_ROLE_LEADER;
    return cluster_view_leader_id (self->view) != 0 &&
           fsm_applied_index (self->fsm) >= cluster_view_commit_index (self->view) &&
           (!leading || cluster_view_is_fresh (self->view));
}

//  Any node: the retained events of a stream, from local state; a private
//  stream's only for a party's live session on this node's applied state.
//  Only the leader refuses a token: a follower learns of a login up to a
//  heartbeat after the client that made it, so one that cannot grant the
//  token sends the client to the leader, which acknowledged the login only
//  once it had applied it.
static void
s_serve_replay (server_t *self, client_request_t *request)
{
    const Raftq__Request *asked = request->decoded.request;
    const char *stream = asked->replay && asked->replay->stream ? asked->replay->stream : "";
    stream_access_t access = stream_access_check (self->fsm, stream, asked->token, zclock_time ());
    bool refused = access != STREAM_ACCESS_GRANTED && access != STREAM_ACCESS_NO_TOKEN;
    uint32_t leader_id = cluster_view_leader_id (self->view);
    if (refused && leader_id != 0 && leader_id != self->node_id) {
        client_port_reply_not_leader (self->port, request, self->view, leader_id);
        client_request_destroy (&request);
        return;
    }
    if (refused && !s_state_current (self)) {
        //  Not a refusal: a subscriber takes a lasting refusal of a token
        //  some node granted for the session's end, and this node may only
        //  be behind (a login during a partition it was cut off by)
        client_port_reply_error (self->port, request, RAFTQ__CODE__UNAVAILABLE,
                                 "this node has no leader or has not applied all it knows "
                                 "committed: ask again, or another node");
        client_request_destroy (&request);
        return;
    }
    if (access != STREAM_ACCESS_GRANTED) {
        //  The same answer for a dead token and another user's: it tells
        //  nobody whether a token is live
        if (access == STREAM_ACCESS_NO_TOKEN)
            client_port_reply_error (self->port, request, RAFTQ__CODE__UNAUTHENTICATED,
                                     "replay of a private stream needs a session token");
        else
            client_port_reply_error (self->port, request, RAFTQ__CODE__PERMISSION_DENIED,
                                     "not a live session of a party to this stream");
        client_request_destroy (&request);
        return;
    }
    Raftq__Reply *reply = fsm_replay (self->fsm, asked->replay);
    client_port_reply (self->port, request, reply);
    raftq__reply__free_unpacked (reply, NULL);
    client_request_destroy (&request);
}

static void
s_serve_status (server_t *self, client_request_t *request)
{
    status_source_t source = {.view = self->view,
                              .fsm = self->fsm,
                              .progress = raft_actor_progress (self->raft),
                              .snapshot_dir = self->snapshot_dir,
                              .max_state_bytes = self->config->limits.max_state_bytes,
                              .disk_path = self->snapshot_dir,
                              .min_free_disk_bytes = self->config->limits.min_free_disk_bytes};
    status_answer (self->port, request, &source);
    client_request_destroy (&request);
}

//  Answers or parks one decoded request; takes it.
static void
s_dispatch (server_t *self, client_request_t *request)
{
    //  Before anything else: a stranger learns nothing, changes nothing
    if (admin_needs_secret (request->decoded.request) && !admin_allowed (self->admin, request))
        return;
    //  On the way out nothing new starts here: the new leader serves it
    if (handover_leaving (self) && request->decoded.request->op_case != RAFTQ__REQUEST__OP_STATUS) {
        client_port_reply_not_leader (self->port, request, self->view, handover_hint (self));
        client_request_destroy (&request);
        return;
    }
    switch (request->decoded.request->op_case) {
    case RAFTQ__REQUEST__OP_STATUS:
        s_serve_status (self, request);
        break;
    case RAFTQ__REQUEST__OP_REPLAY:
        s_serve_replay (self, request);
        break;
    case RAFTQ__REQUEST__OP_CREATE_ACCOUNT:
        credentials_serve_create_account (self, request);
        break;
    case RAFTQ__REQUEST__OP_LOGIN:
        credentials_serve_login (self, request);
        break;
    case RAFTQ__REQUEST__OP_ADD_NODE:
    case RAFTQ__REQUEST__OP_REMOVE_NODE:
    case RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP:
        admin_serve (self->admin, self->raft, waiting_table_new_ticket (self->waiting), request);
        break;
    case RAFTQ__REQUEST__OP_TAKE_SNAPSHOT:
        snapshot_policy_serve_take_snapshot (self, request);
        break;
    case RAFTQ__REQUEST__OP_POP:
    case RAFTQ__REQUEST__OP_RESERVE:
        consumption_serve (self, request);
        break;
    default:
        if (read_path_handles (request))
            read_path_serve (self, request);
        else
            proposal_serve_write (self, request);
        break;
    }
}

static int
s_on_client_traffic (event_loop_t *loop, zsock_t *clients, void *argument)
{
    (void)loop;
    server_t *self = (server_t *)argument;
    (void)clients;
    //  Read until there is nothing (the socket does not wait, see
    //  s_open_loop): the failed read is the one ask that costs libzmq a
    //  poll and a getpid, where asking before each read cost one more
    for (int count = 0; count < SERVER_DRAIN_LIMIT; count++) {
        client_request_t *request;
        if (client_port_recv (self->port, &request))
            break;
        if (request)
            s_dispatch (self, request);
    }
    //  Everything read this turn goes to Raft as one batch
    server_flush_proposals (self);
    return 0;
}

static int
s_on_hasher_result (event_loop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    (void)pipe;
    server_t *self = (server_t *)argument;
    credentials_take_results (self);
    server_flush_proposals (self);
    return 0;
}

static int
s_on_subscription (event_loop_t *loop, zsock_t *publisher, void *argument)
{
    (void)loop;
    (void)publisher;
    fanout_take_subscriptions (((server_t *)argument)->fanout);
    return 0;
}

//  Sessions expire with time alone: the fan-out checks its private
//  subscriptions on a timer too.
static int
s_on_revalidate (event_loop_t *loop, void *argument)
{
    (void)loop;
    fanout_revalidate (((server_t *)argument)->fanout);
    return 0;
}

//  Requests whose entry did not apply in time: the outcome is unknown to us,
//  and the client must be told so rather than left waiting.
static int
s_on_deadline_check (event_loop_t *loop, void *argument)
{
    (void)loop;
    server_t *self = (server_t *)argument;
    int64_t now = zclock_mono ();
    client_request_t *request;
    while ((request = waiting_table_expired (self->waiting, now))) {
        //  Before proposing (password work, a login waiting for a fresh
        //  state) nothing can have happened: say so
        client_port_reply_error (self->port, request, RAFTQ__CODE__TIMEOUT,
                                 request->proposed ? "not committed in time: outcome unknown"
                                                   : "not proposed in time: nothing was done");
        client_request_destroy (&request);
    }
    admin_check (self->admin, now);
    consumption_tick (self, now);
    return 0;
}

static int
s_on_signal_check (event_loop_t *loop, void *argument)
{
    (void)loop;
    return handover_check ((server_t *)argument);
}

static void
s_take_event (server_t *self, raft_actor_event_t *event)
{
    switch (event->kind) {
    case RAFT_ACTOR_COMMITTED:
        apply_committed (self, event);
        snapshot_policy_count (self, event);
        read_path_applied (self);
        break;
    case RAFT_ACTOR_READS:
        read_path_settled (self, event);
        break;
    case RAFT_ACTOR_REJECTED:
        apply_rejected (self, event);
        break;
    case RAFT_ACTOR_INSTALLED:
        metrics_count_snapshot_installed (self->metrics);
        snapshot_policy_load_installed (self, event->snapshot_index);
        read_path_applied (self);
        break;
    case RAFT_ACTOR_STATE:
        if (event->leader_id != cluster_view_leader_id (self->view))
            metrics_count_leader_change (self->metrics);
        cluster_view_take_state (self->view, event);
        credentials_resume_deferred (self);
        //  Waiters move on to the new leader at once
        if (cluster_view_role (self->view) != RAFT_ROLE_LEADER)
            consumption_answer_all (self, RAFTQ__CODE__NOT_LEADER);
        break;
    case RAFT_ACTOR_ADMINED:
        admin_answered (self->admin, event);
        break;
    case RAFT_ACTOR_MEMBERS:
        cluster_view_take_members (self->view, event);
        break;
    case RAFT_ACTOR_PROGRESS:
        //  The raft handle keeps the latest for status (raft_actor_progress)
        break;
    case RAFT_ACTOR_METRICS:
        metrics_take_raft (self->metrics, &event->metrics);
        break;
    }
}

static int
s_on_raft_event (event_loop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    server_t *self = (server_t *)argument;
    (void)pipe;
    //  What these events commit is answered in one burst
    client_port_hold (self->port);
    for (int count = 0; count < SERVER_DRAIN_LIMIT; count++) {
        raft_actor_event_t event;
        if (raft_actor_recv (self->raft, &event))
            break;
        s_take_event (self, &event);
        raft_actor_event_clear (&event);
    }
    client_port_release (self->port);
    admin_check (self->admin, zclock_mono ());
    //  Logins resumed above may have proposed
    server_flush_proposals (self);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Lifecycle

//  A socket of type bound on this node's host and port (the options set
//  before binding apply to every connection); NULL after logging why.
static zsock_t *
s_bind (server_t *self, int type, const char *what, uint16_t port)
{
    zsock_t *socket = zsock_new (type);
    if (!socket)
        return NULL;
    zsock_set_linger (socket, 0);
    zsock_set_heartbeat_ivl (socket, HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_timeout (socket, HEARTBEAT_TIMEOUT_MS);
    if (type == ZMQ_ROUTER) {
        io_threads_pin (socket, IO_LANE_CLIENTS);
        zsock_set_sndhwm (socket, CLIENT_SEND_HWM);
        zsock_set_router_mandatory (socket, 0);
        zsock_set_maxmsgsize (socket,
                              client_port_max_message_size (self->config->max_payload_bytes));
    } else
        zsock_set_maxmsgsize (socket, SUBSCRIPTION_MAX_BYTES);
    if (type == ZMQ_XPUB &&
        fanout_prepare_socket (socket, self->config->limits.max_subscriber_lag_bytes)) {
        zsock_destroy (&socket);
        return NULL;
    }
    char error[256] = "cannot cap its connections";
    if (node_keys_secure_client_socket (self->keys, socket, self->config->limits.max_connections) ||
        endpoint_bind (socket, self->node->host, port, error, sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "%s port: %s", what, error);
        zsock_destroy (&socket);
    }
    return socket;
}

//  The admin secret from the file the config names, created (random,
//  0600) when missing so that a fresh checkout runs with one. Never logged.
static int
s_load_admin_credential (server_t *self)
{
    char secret[SECRET_FILE_MAX + 1];
    char error[PATH_MAX + 128];
    bool created;
    if (secret_file_read (self->config->admin_secret_file, true, secret, sizeof secret, &created,
                          error, sizeof error)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "admin secret: %s", error);
        return -1;
    }
    self->admin_credential = admin_credential_new (secret);
    sodium_memzero (secret, sizeof secret);
    if (created)
        diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "admin secret created in %s (mode 0600)",
                         self->config->admin_secret_file);
    return self->admin_credential ? 0 : -1;
}

//  The client and pub ports, and the parts that answer on them.
static int
s_open_ports (server_t *self)
{
    zsock_t *clients = s_bind (self, ZMQ_ROUTER, "client", self->node->client_port);
    if (!clients)
        return -1;
    self->port = client_port_new (&clients, self->node_id, self->config->max_payload_bytes,
                                  (size_t)self->config->limits.max_connection_reply_bytes);
    if (!self->port)
        return -1;
    client_port_count_into (self->port, self->metrics);
    if (s_load_admin_credential (self))
        return -1;
    self->admin =
        admin_new (self->port, self->view, self->admin_credential, self->config->peer_curve);
    if (!self->admin)
        return -1;
    if (self->node->pub_port) {
        zsock_t *publisher = s_bind (self, ZMQ_XPUB, "pub", self->node->pub_port);
        if (!publisher)
            return -1;
        self->fanout = fanout_new (&publisher, self->node_id, self->fsm,
                                   self->config->limits.max_subscriber_lag_bytes);
        if (!self->fanout)
            return -1;
        fanout_count_into (self->fanout, self->metrics);
    }
    return 0;
}

static int
s_open_loop (server_t *self)
{
    //  The loop's handlers read until a read finds nothing: it must not wait
    zsock_set_rcvtimeo (client_port_sock (self->port), 0);
    zsock_set_rcvtimeo (raft_actor_sock (self->raft), 0);
    self->loop = event_loop_new ();
    if (!self->loop ||
        event_loop_socket (self->loop, client_port_sock (self->port), s_on_client_traffic, self) ||
        event_loop_socket (self->loop, raft_actor_sock (self->raft), s_on_raft_event, self) ||
        //  Quiet: sent on in one place (credentials.c), which reports it
        event_loop_socket_quiet (self->loop, credentials_sock (self->credentials),
                                 s_on_hasher_result, self) ||
        event_loop_timer (self->loop, DEADLINE_CHECK_MS, s_on_deadline_check, self) ||
        //  A stop signal ends the loop through handover_check, not at once
        event_loop_timer (self->loop, SIGNAL_CHECK_MS, s_on_signal_check, self))
        return -1;
    if (self->fanout &&
        (event_loop_socket (self->loop, fanout_sock (self->fanout), s_on_subscription, self) ||
         event_loop_timer (self->loop, FANOUT_REVALIDATE_MS, s_on_revalidate, self)))
        return -1;
    return 0;
}

static int
s_open (server_t *self, const uint8_t *secret_key)
{
    //  Before any port binds: see node_keys.h
    self->keys = node_keys_new (self->config, self->node, secret_key);
    if (!self->keys)
        return -1;
    //  The raft actor reports the configuration (MEMBERS) once it starts
    self->view = cluster_view_new (self->config, self->node_id);
    self->fsm = snapshot_policy_fsm_new (self);
    self->waiting = waiting_table_new ();
    self->consumers = waiting_consumers_new (
        CONSUMPTION_MAX_WAITING, CONSUMPTION_MAX_WAITING_PER_ID, CONSUMPTION_MAX_WAITING_BYTES);
    self->reads = read_path_new ();
    self->credentials = credentials_new ();
    self->metrics = metrics_new ();
    if (!self->view || !self->fsm || !self->waiting || !self->consumers || !self->reads ||
        !self->credentials || !self->metrics || apply_open (self) || s_open_ports (self))
        return -1;
    //  The state first: the Raft actor starts from the same snapshot and
    //  replays only the log after it
    raft_actor_snapshot_t start;
    replica_options_t replica;
    if (snapshot_policy_open (self, &start) ||
        replica_options_build (&replica, self->config, self->node_id, &start))
        return -1;
    replica.options.public_key = node_keys_peer_public_key (self->keys);
    replica.options.secret_key = node_keys_peer_secret_key (self->keys);
    replica.options.zap_policy_endpoint = node_keys_policy_endpoint (self->keys);
    replica.options.zap_watch_endpoint = node_keys_watch_endpoint (self->keys);
    self->raft = raft_actor_new (&replica.options);
    replica_options_release (&replica);
    if (!self->raft || s_open_loop (self))
        return -1;
    return metrics_report_open (self);
}

server_t *
server_new (const config_t *config, uint32_t node_id, const uint8_t *secret_key)
{
    server_t *self = calloc (1, sizeof (server_t));
    if (!self)
        return NULL;
    self->config = config;
    self->node_id = node_id;
    self->node = config_node (config, node_id);
    if (!self->node) {
        diagnostic_line (node_id, DIAGNOSTIC_ERROR, "node %u is not in %s", node_id, config->path);
        free (self);
        return NULL;
    }
    if (s_open (self, secret_key)) {
        server_destroy (&self);
        return NULL;
    }
    char events[ENDPOINT_MAX] = "none";
    if (self->node->pub_port)
        endpoint_format (events, self->node->host, self->node->pub_port);
    char metrics[ENDPOINT_MAX + 16] = "none";
    if (self->node->http_port)
        snprintf (metrics, sizeof metrics, "http://%s:%u/metrics", self->node->host,
                  self->node->http_port);
    diagnostic_line (node_id, DIAGNOSTIC_INFO,
                     "serving cluster %s: clients tcp://%s:%u, peers tcp://%s:%u (%s), events %s, "
                     "metrics %s, data %s/node-%u",
                     config->cluster, self->node->host, self->node->client_port,
                     self->node->peer_host, self->node->peer_port,
                     config->peer_curve ? "CurveZMQ" : "plaintext", events, metrics,
                     config->data_dir, node_id);
    return self;
}

//  Requests still waiting may or may not commit later: say so rather than
//  leave the clients to their own timeouts.
static void
s_answer_waiting (server_t *self)
{
    if (!self->port)
        return;
    client_request_t *request;
    while (self->waiting && (request = waiting_table_expired (self->waiting, INT64_MAX))) {
        //  What never reached the log is the new leader's to serve
        if (request->proposed)
            client_port_reply_error (self->port, request, RAFTQ__CODE__TIMEOUT,
                                     "node shutting down: outcome unknown");
        else
            client_port_reply_not_leader (self->port, request, self->view, handover_hint (self));
        client_request_destroy (&request);
    }
    if (self->admin)
        admin_abandon (self->admin);
    consumption_answer_all (self, RAFTQ__CODE__UNAVAILABLE);
}

void
server_destroy (server_t **self_p)
{
    if (*self_p) {
        server_t *self = *self_p;
        http_server_destroy (&self->http);
        event_loop_destroy (&self->loop);
        raft_actor_destroy (&self->raft);
        credentials_destroy (&self->credentials);
        snapshot_policy_close (self);
        free (self->snapshot_dir);
        free (self->membership);
        disk_space_watch_destroy (&self->disk_watch);
        s_answer_waiting (self);
        admin_destroy (&self->admin);
        admin_credential_destroy (&self->admin_credential);
        client_port_destroy (&self->port, SHUTDOWN_LINGER_MS);
        fanout_destroy (&self->fanout);
        metrics_destroy (&self->metrics);
        read_path_destroy (&self->reads);
        waiting_table_destroy (&self->waiting);
        waiting_consumers_destroy (&self->consumers);
        fsm_destroy (&self->fsm);
        cluster_view_destroy (&self->view);
        node_keys_destroy (&self->keys);
        free (self);
        *self_p = NULL;
    }
}

int
server_run (server_t *self)
{
    while (handover_resume (self, event_loop_run (self->loop)))
        ;
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "shutting down");
    return 0;
}
