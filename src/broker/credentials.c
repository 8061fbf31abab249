/*  credentials — CreateAccount and Login around the hasher, the fair
    queue in front of it and the login throttle; see credentials.h.
*/
#include "broker/credentials.h"

#include <sodium.h>

#include "broker/fair_queue.h"
#include "broker/hasher.h"
#include "broker/login_throttle.h"
#include "broker/proposal.h"
#include "broker/server_private.h"
#include "state/session_key.h"

//  Password jobs one connection may have waiting for the hasher; more get
//  RESOURCE_EXHAUSTED. A client waiting for its replies never needs more,
//  and a flooder's backlog would only expire in the queue.
#define HASHER_QUEUE_PER_CONNECTION 8
//  Password jobs waiting in all; more get UNAVAILABLE. At 50-150 ms a job,
//  far more than can finish within a request timeout: only a bound on memory.
#define HASHER_QUEUE_MAX 4096
//  Random bytes of a session token (hex-encoded: twice as many digits).
#define SESSION_TOKEN_BYTES 16

struct _credentials_t {
    hasher_t *hasher;           //  the password hashing thread
    fair_queue_t *queue;        //  parked password jobs by connection, until their turn
    login_throttle_t *throttle; //  failed logins per account name
    bool hashing;               //  a job is at the hasher (one at a time, so the queue decides)
    uint64_t hashing_ticket;    //  its ticket
    char *hashing_user;         //  a login's user name, whose throttle its result feeds; else NULL
    uint64_t *deferred;         //  tickets of logins waiting for a fresh state
    size_t deferred_count;      //  how many
    size_t deferred_slots;      //  allocated slots in deferred
};

credentials_t *
credentials_new (void)
{
    credentials_t *self = calloc (1, sizeof (credentials_t));
    if (!self)
        return NULL;
    login_throttle_options_t options = login_throttle_defaults ();
    self->hasher = hasher_new (0, 0);
    self->queue = fair_queue_new (HASHER_QUEUE_PER_CONNECTION, HASHER_QUEUE_MAX);
    self->throttle = login_throttle_new (&options);
    if (!self->hasher || !self->queue || !self->throttle)
        credentials_destroy (&self);
    return self;
}

void
credentials_destroy (credentials_t **self_p)
{
    if (*self_p) {
        credentials_t *self = *self_p;
        hasher_destroy (&self->hasher);
        fair_queue_destroy (&self->queue);
        login_throttle_destroy (&self->throttle);
        free (self->hashing_user);
        free (self->deferred);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
credentials_sock (credentials_t *self)
{
    return hasher_sock (self->hasher);
}

//  Answers a request (parked or not) RESOURCE_EXHAUSTED for an account
//  that failed too often, with the wait, and destroys it.
static void
s_refuse_throttled (server_t *server, client_request_t *request, uint32_t wait_ms)
{
    waiting_table_unpark (server->waiting, request->ticket);
    char text[160];
    snprintf (text, sizeof text,
              "login throttle: too many failed logins for this account: retry in %" PRIu32 " ms",
              wait_ms);
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = RAFTQ__CODE__RESOURCE_EXHAUSTED;
    reply.error = text;
    reply.retry_after_ms = wait_ms;
    client_port_reply (server->port, request, &reply);
    client_request_destroy (&request);
}

//  Answers a parked request NOT_LEADER (or NO_LEADER) and destroys it.
static void
s_refuse_not_leader (server_t *server, client_request_t *request)
{
    waiting_table_unpark (server->waiting, request->ticket);
    client_port_reply_not_leader (server->port, request, server->view,
                                  cluster_view_leader_id (server->view));
    client_request_destroy (&request);
}

//  Keeps a parked login's ticket until the state is fresh. Returns 0, or
//  -1 when out of memory.
static int
s_defer (credentials_t *self, uint64_t ticket)
{
    if (self->deferred_count == self->deferred_slots) {
        size_t slots = self->deferred_slots ? self->deferred_slots * 2 : 16;
        uint64_t *grown = realloc (self->deferred, slots * sizeof (uint64_t));
        if (!grown)
            return -1;
        self->deferred = grown;
        self->deferred_slots = slots;
    }
    self->deferred[self->deferred_count++] = ticket;
    return 0;
}

//  Hands a parked request's password to the hasher (which is idle): a
//  CreateAccount's to hash, a Login's to check against the stored hash,
//  or the decoy when the account does not exist.
static void
s_send_to_hasher (server_t *server, client_request_t *request)
{
    credentials_t *self = server->credentials;
    const Raftq__Request *decoded = request->decoded.request;
    const char *password = client_request_password (request);
    int rc;
    if (decoded->op_case == RAFTQ__REQUEST__OP_LOGIN) {
        const char *hash = fsm_password_hash (server->fsm, decoded->login->user);
        self->hashing_user = strdup (decoded->login->user);
        if (hash)
            request->verified_hash = strdup (hash);
        if (!self->hashing_user || (hash && !request->verified_hash)) {
            free (self->hashing_user);
            self->hashing_user = NULL;
            proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "out of memory");
            return;
        }
        rc = hasher_verify (self->hasher, request->ticket, request->deadline, password, hash);
    } else
        rc = hasher_hash (self->hasher, request->ticket, request->deadline, password);
    client_request_wipe_password (request);
    if (rc) {
        free (self->hashing_user);
        self->hashing_user = NULL;
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL,
                         "cannot reach the password hasher");
        return;
    }
    //  The hasher's pipe is quiet in the broker's loop (server.c)
    event_loop_touched (server->loop, credentials_sock (self));
    self->hashing = true;
    self->hashing_ticket = request->ticket;
}

//  A queued request's turn came: its password goes to the hasher, unless
//  this node stopped leading, the state is not fresh for a login any more,
//  or the account failed again while the login waited.
static void
s_start_job (server_t *server, client_request_t *request, int64_t now)
{
    credentials_t *self = server->credentials;
    const Raftq__Request *decoded = request->decoded.request;
    if (cluster_view_role (server->view) != RAFT_ROLE_LEADER) {
        s_refuse_not_leader (server, request);
        return;
    }
    if (decoded->op_case == RAFTQ__REQUEST__OP_LOGIN) {
        if (!cluster_view_is_fresh (server->view)) {
            if (s_defer (self, request->ticket))
                proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "out of memory");
            return;
        }
        uint32_t wait_ms = login_throttle_wait (self->throttle, decoded->login->user, now);
        if (wait_ms) {
            s_refuse_throttled (server, request, wait_ms);
            return;
        }
    }
    s_send_to_hasher (server, request);
}

//  While the hasher is idle, gives it the next job, round robin over
//  connections. One job at a time: a job handed over is served in order,
//  so only what is still queued here can be served fairly.
static void
s_pump (server_t *server)
{
    credentials_t *self = server->credentials;
    int64_t now = zclock_mono ();
    uint64_t ticket;
    while (!self->hashing && fair_queue_pop (self->queue, now, &ticket)) {
        client_request_t *request = waiting_table_find (server->waiting, ticket);
        if (request && !request->proposed)
            s_start_job (server, request, now);
    }
}

//  Queues a parked request's password job under its connection, then
//  lets the hasher take the next job if it is idle.
static void
s_enqueue (server_t *server, client_request_t *request)
{
    credentials_t *self = server->credentials;
    switch (fair_queue_push (self->queue, zframe_data (request->routing_id),
                             zframe_size (request->routing_id), request->ticket, request->deadline,
                             zclock_mono ())) {
    case FAIR_QUEUE_QUEUED:
        s_pump (server);
        break;
    case FAIR_QUEUE_OWNER_FULL:
        proposal_finish (server, request, RAFTQ__CODE__RESOURCE_EXHAUSTED,
                         "password check queue: this connection has "
                         "too many password checks waiting: wait for their replies");
        break;
    case FAIR_QUEUE_FULL:
        proposal_finish (server, request, RAFTQ__CODE__UNAVAILABLE,
                         "too many password checks waiting: try again");
        break;
    default:
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "out of memory");
        break;
    }
}

//  Checks user name and password before any work: true if it answered (and
//  destroyed) the request.
static bool
s_refuse (server_t *server, client_request_t *request, const char *user)
{
    Raftq__Code code;
    char error[256] = "";
    if (fsm_check_credentials (server->fsm, user, client_request_password (request), &code, error,
                               sizeof (error)) == 0)
        return false;
    client_port_reply_error (server->port, request, code, error);
    client_request_destroy (&request);
    return true;
}

void
credentials_serve_create_account (server_t *server, client_request_t *request)
{
    const Raftq__CreateAccount *create = request->decoded.request->create_account;
    if (proposal_answer_early (server, request) || s_refuse (server, request, create->user))
        return;
    //  Spares the hashing when the answer is known; apply checks again
    if (cluster_view_is_fresh (server->view) && fsm_password_hash (server->fsm, create->user)) {
        char text[128];
        snprintf (text, sizeof (text), "account '%s' already exists", create->user);
        client_port_reply_error (server->port, request, RAFTQ__CODE__ALREADY_EXISTS, text);
        client_request_destroy (&request);
        return;
    }
    if (proposal_park (server, request) == 0)
        s_enqueue (server, request);
}

void
credentials_serve_login (server_t *server, client_request_t *request)
{
    const char *user = request->decoded.request->login->user;
    if (proposal_answer_early (server, request) || s_refuse (server, request, user))
        return;
    //  A throttled account is refused before it costs a place in the queue
    uint32_t wait_ms = login_throttle_wait (server->credentials->throttle, user, zclock_mono ());
    if (wait_ms) {
        s_refuse_throttled (server, request, wait_ms);
        return;
    }
    if (proposal_park (server, request))
        return;
    if (cluster_view_is_fresh (server->view))
        s_enqueue (server, request);
    else if (s_defer (server->credentials, request->ticket))
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "out of memory");
}

void
credentials_resume_deferred (server_t *server)
{
    credentials_t *self = server->credentials;
    bool leading = cluster_view_role (server->view) == RAFT_ROLE_LEADER;
    if (self->deferred_count == 0 || (leading && !cluster_view_is_fresh (server->view)))
        return;
    size_t count = self->deferred_count;
    self->deferred_count = 0;
    for (size_t position = 0; position < count; position++) {
        uint64_t ticket = self->deferred[position];
        client_request_t *request = waiting_table_find (server->waiting, ticket);
        if (!request)
            continue; //  timed out meanwhile
        if (leading)
            s_enqueue (server, request);
        else
            s_refuse_not_leader (server, request);
    }
}

//  A session token: random hex digits from the leader, into token (room for
//  2 * SESSION_TOKEN_BYTES + 1).
static void
s_new_token (char *token, size_t size)
{
    uint8_t random[SESSION_TOKEN_BYTES];
    randombytes_buf (random, sizeof (random));
    sodium_bin2hex (token, size, random, sizeof (random));
    sodium_memzero (random, sizeof (random));
}

//  The command a successful password job makes possible, proposed.
static void
s_propose (server_t *server, client_request_t *request, const hasher_result_t *result)
{
    const Raftq__Request *decoded = request->decoded.request;
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    if (decoded->op_case == RAFTQ__REQUEST__OP_CREATE_ACCOUNT) {
        Raftq__State__NewAccount account = RAFTQ__STATE__NEW_ACCOUNT__INIT;
        account.user = decoded->create_account->user;
        account.password_hash = (char *)result->hash;
        command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
        command.create_account = &account;
        proposal_submit (server, request, &command);
    } else {
        //  The client gets the token, the log only its key (session_key.h)
        s_new_token (request->session_token, sizeof (request->session_token));
        char key[SESSION_KEY_SIZE];
        session_key (request->session_token, key);
        Raftq__State__NewSession session = RAFTQ__STATE__NEW_SESSION__INIT;
        session.user = decoded->login->user;
        session.token = key;
        session.password_hash = request->verified_hash;
        command.op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
        command.login = &session;
        proposal_submit (server, request, &command);
    }
}

//  The hasher finished a job: propose what it made possible, or answer.
static void
s_on_password_checked (server_t *server, const hasher_result_t *result)
{
    client_request_t *request = waiting_table_find (server->waiting, result->job);
    if (!request || request->proposed)
        return; //  timed out meanwhile (and its ticket is not reused)
    if (cluster_view_role (server->view) != RAFT_ROLE_LEADER) {
        s_refuse_not_leader (server, request);
        return;
    }
    switch (result->status) {
    case HASHER_OK:
        s_propose (server, request, result);
        break;
    case HASHER_MISMATCH:
        proposal_finish (server, request, RAFTQ__CODE__UNAUTHENTICATED,
                         "wrong user name or password");
        break;
    case HASHER_EXPIRED:
        proposal_finish (server, request, RAFTQ__CODE__TIMEOUT,
                         "not proposed in time: nothing was done");
        break;
    default:
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "cannot hash the password");
        break;
    }
}

//  A login's result counts for its account whether or not its client
//  still waits: a guesser gains nothing by timing out.
static void
s_count_login (credentials_t *self, const hasher_result_t *result)
{
    if (!self->hashing_user)
        return;
    if (result->status == HASHER_OK)
        login_throttle_succeeded (self->throttle, self->hashing_user);
    else if (result->status == HASHER_MISMATCH)
        login_throttle_failed (self->throttle, self->hashing_user, zclock_mono ());
    free (self->hashing_user);
    self->hashing_user = NULL;
}

void
credentials_take_results (server_t *server)
{
    credentials_t *self = server->credentials;
    zsock_t *pipe = hasher_sock (self->hasher);
    for (int count = 0; count < SERVER_DRAIN_LIMIT && (zsock_events (pipe) & ZMQ_POLLIN); count++) {
        hasher_result_t result;
        if (hasher_recv (self->hasher, &result))
            continue;
        if (self->hashing && result.job == self->hashing_ticket) {
            self->hashing = false;
            s_count_login (self, &result);
        }
        s_on_password_checked (server, &result);
    }
    s_pump (server);
}

int
credentials_complete_login (client_request_t *request, Raftq__Reply *reply)
{
    if (reply->result_case != RAFTQ__REPLY__RESULT_SESSION || !reply->session)
        return 0;
    if (!request->session_token[0])
        return -1; //  not this node's login: it never knew the token
    char *token = strdup (request->session_token);
    if (!token)
        return -1;
    if (reply->session->token != protobuf_c_empty_string)
        free (reply->session->token);
    reply->session->token = token;
    return 0;
}
