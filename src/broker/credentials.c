/*  credentials — CreateAccount and Login around the hasher; see
    credentials.h.
*/
#include "broker/credentials.h"

#include <sodium.h>

#include "broker/hasher.h"
#include "broker/proposal.h"
#include "broker/server_private.h"
#include "state/session_key.h"

//  Password jobs at the hasher at once; more get UNAVAILABLE. At tens of
//  milliseconds a job, more could not finish within a request timeout
//  anyway, and the bound keeps the pipe to the hasher from filling up.
#define HASHER_MAX_PENDING 64
//  Random bytes of a session token (hex-encoded: twice as many digits).
#define SESSION_TOKEN_BYTES 16

struct _credentials_t {
    hasher_t *hasher;      //  the password hashing thread
    size_t hashing_count;  //  jobs at the hasher, not yet answered
    uint64_t *deferred;    //  tickets of logins waiting for a fresh state
    size_t deferred_count; //  how many
    size_t deferred_slots; //  allocated slots in deferred
};

credentials_t *
credentials_new (void)
{
    credentials_t *self = calloc (1, sizeof (credentials_t));
    if (self)
        self->hasher = hasher_new (0, 0);
    if (!self || !self->hasher) {
        free (self);
        return NULL;
    }
    return self;
}

void
credentials_destroy (credentials_t **self_p)
{
    if (*self_p) {
        credentials_t *self = *self_p;
        hasher_destroy (&self->hasher);
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

//  Hands a parked request's password to the hasher; hash NULL to compute
//  a new hash, else to check against it.
static void
s_send_to_hasher (server_t *server, client_request_t *request, const char *hash)
{
    credentials_t *self = server->credentials;
    if (self->hashing_count >= HASHER_MAX_PENDING) {
        proposal_finish (server, request, RAFTQ__CODE__UNAVAILABLE,
                         "too many password checks in progress: try again");
        return;
    }
    const char *password = client_request_password (request);
    int rc = hash ? hasher_verify (self->hasher, request->ticket, request->deadline, password, hash)
                  : hasher_hash (self->hasher, request->ticket, request->deadline, password);
    client_request_wipe_password (request);
    if (rc) {
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL,
                         "cannot reach the password hasher");
        return;
    }
    self->hashing_count++;
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
        s_send_to_hasher (server, request, NULL);
}

//  Checks a parked login's password against the stored hash (the state is
//  fresh).
static void
s_start_verify (server_t *server, client_request_t *request)
{
    const char *hash = fsm_password_hash (server->fsm, request->decoded.request->login->user);
    if (!hash) {
        proposal_finish (server, request, RAFTQ__CODE__UNAUTHENTICATED,
                         "wrong user name or password");
        return;
    }
    request->verified_hash = strdup (hash);
    if (!request->verified_hash) {
        proposal_finish (server, request, RAFTQ__CODE__INTERNAL, "out of memory");
        return;
    }
    s_send_to_hasher (server, request, hash);
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

void
credentials_serve_login (server_t *server, client_request_t *request)
{
    if (proposal_answer_early (server, request) ||
        s_refuse (server, request, request->decoded.request->login->user) ||
        proposal_park (server, request))
        return;
    if (cluster_view_is_fresh (server->view))
        s_start_verify (server, request);
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
            s_start_verify (server, request);
        else {
            waiting_table_unpark (server->waiting, ticket);
            client_port_reply_not_leader (server->port, request, server->view,
                                          cluster_view_leader_id (server->view));
            client_request_destroy (&request);
        }
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
        waiting_table_unpark (server->waiting, request->ticket);
        client_port_reply_not_leader (server->port, request, server->view,
                                      cluster_view_leader_id (server->view));
        client_request_destroy (&request);
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

void
credentials_take_results (server_t *server)
{
    credentials_t *self = server->credentials;
    zsock_t *pipe = hasher_sock (self->hasher);
    for (int count = 0; count < SERVER_DRAIN_LIMIT && (zsock_events (pipe) & ZMQ_POLLIN); count++) {
        hasher_result_t result;
        if (hasher_recv (self->hasher, &result))
            continue;
        if (self->hashing_count)
            self->hashing_count--;
        s_on_password_checked (server, &result);
    }
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
