/*  admin — membership and transfer requests and their waiting; see admin.h.  */
#include "broker/admin.h"

//  Time an admin request (node PUT/DELETE, leader PUT) may take: a learner
//  must catch up before it is promoted, longer than any write.
#define ADMIN_TIMEOUT_MS 10000

struct _admin_t {
    client_port_t *port;                  //  borrowed: where answers go
    const cluster_view_t *view;           //  borrowed: what is done, who leads
    const admin_credential_t *credential; //  borrowed: the admin secret's check
    zlistx_t *waiting;                    //  requests until done or their deadline (owned)
    bool keys_required;                   //  an added node must bring its public key
};

admin_t *
admin_new (client_port_t *port, const cluster_view_t *view, const admin_credential_t *credential,
           bool keys_required)
{
    admin_t *self = calloc (1, sizeof (admin_t));
    if (self)
        self->waiting = zlistx_new ();
    if (!self || !self->waiting) {
        free (self);
        return NULL;
    }
    self->port = port;
    self->view = view;
    self->credential = credential;
    self->keys_required = keys_required;
    return self;
}

void
admin_destroy (admin_t **self_p)
{
    if (*self_p) {
        admin_t *self = *self_p;
        client_request_t *request;
        while ((request = (client_request_t *)zlistx_detach (self->waiting, NULL)))
            client_request_destroy (&request);
        zlistx_destroy (&self->waiting);
        free (self);
        *self_p = NULL;
    }
}

//  The node an admin request names.
static uint32_t
s_target (const Raftq__Request *request)
{
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_ADD_NODE:
        return request->add_node ? request->add_node->id : 0;
    case RAFTQ__REQUEST__OP_REMOVE_NODE:
        return request->remove_node ? request->remove_node->id : 0;
    default:
        return request->transfer_leadership ? request->transfer_leadership->id : 0;
    }
}

//  The addresses and key of an added node, checked. Returns 0 or -1.
static int
s_added_member (const Raftq__AddNode *add, bool keys_required, raft_member_t *member,
                const char **error)
{
    if (!add->host || !add->host[0] || strlen (add->host) >= RAFT_HOST_SIZE || !add->client_port ||
        add->client_port > UINT16_MAX || !add->peer_port || add->peer_port > UINT16_MAX ||
        add->pub_port > UINT16_MAX) {
        *error = "a node needs a host and client and peer ports up to 65535";
        return -1;
    }
    if (add->peer_host && strlen (add->peer_host) >= RAFT_HOST_SIZE) {
        *error = "peer_host is too long";
        return -1;
    }
    if (add->public_key.len != 0 && add->public_key.len != RAFT_PUBLIC_KEY_SIZE) {
        *error = "public_key must be a CurveZMQ public key (32 bytes, 40 characters of Z85)";
        return -1;
    }
    if (keys_required && add->public_key.len == 0) {
        *error = "the peer port runs CurveZMQ: a node needs its public_key";
        return -1;
    }
    snprintf (member->host, sizeof (member->host), "%s", add->host);
    snprintf (member->peer_host, sizeof (member->peer_host), "%s",
              add->peer_host ? add->peer_host : "");
    if (add->public_key.len)
        memcpy (member->public_key, add->public_key.data, RAFT_PUBLIC_KEY_SIZE);
    member->client_port = add->client_port;
    member->peer_port = add->peer_port;
    member->pub_port = add->pub_port;
    return 0;
}

int
admin_request_member (const Raftq__Request *request, bool keys_required,
                      raft_actor_admin_kind_t *kind, raft_member_t *member, const char **error)
{
    memset (member, 0, sizeof (*member));
    member->id = s_target (request);
    const Raftq__AddNode *add = request->add_node;
    if (request->op_case == RAFTQ__REQUEST__OP_ADD_NODE && add &&
        s_added_member (add, keys_required, member, error))
        return -1;
    if (member->id == 0) {
        *error = "a node id must be positive";
        return -1;
    }
    *kind = request->op_case == RAFTQ__REQUEST__OP_ADD_NODE      ? RAFT_ACTOR_ADD_NODE
            : request->op_case == RAFTQ__REQUEST__OP_REMOVE_NODE ? RAFT_ACTOR_REMOVE_NODE
                                                                 : RAFT_ACTOR_TRANSFER_LEADER;
    return 0;
}

bool
admin_needs_secret (const Raftq__Request *request)
{
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_ADD_NODE:
    case RAFTQ__REQUEST__OP_REMOVE_NODE:
    case RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP:
    case RAFTQ__REQUEST__OP_TAKE_SNAPSHOT:
        return true;
    case RAFTQ__REQUEST__OP_STATUS:
        return request->status && (request->status->detail || request->status->with_hash);
    default:
        return false;
    }
}

bool
admin_allowed (admin_t *self, client_request_t *request)
{
    Raftq__Code code =
        admin_credential_check (self->credential, request->decoded.request->admin_secret);
    if (code == RAFTQ__CODE__OK)
        return true;
    client_port_reply_error (self->port, request, code,
                             code == RAFTQ__CODE__UNAUTHENTICATED
                                 ? "needs the admin secret (see admin_secret_file in the config)"
                                 : "wrong admin secret");
    client_request_destroy (&request);
    return false;
}

void
admin_serve (admin_t *self, raft_actor_t *raft, uint64_t ticket, client_request_t *request)
{
    if (cluster_view_role (self->view) != RAFT_ROLE_LEADER) {
        client_port_reply_not_leader (self->port, request, self->view,
                                      cluster_view_leader_id (self->view));
        client_request_destroy (&request);
        return;
    }
    raft_actor_admin_kind_t kind;
    raft_member_t member;
    const char *error;
    if (admin_request_member (request->decoded.request, self->keys_required, &kind, &member,
                              &error)) {
        client_port_reply_error (self->port, request, RAFTQ__CODE__INVALID_ARGUMENT, error);
        client_request_destroy (&request);
        return;
    }
    if (raft_actor_admin (raft, ticket, kind, &member)) {
        client_port_reply_error (self->port, request, RAFTQ__CODE__INTERNAL,
                                 "cannot reach the raft actor");
        client_request_destroy (&request);
        return;
    }
    admin_wait (self, request, ticket, zclock_mono () + ADMIN_TIMEOUT_MS);
}

void
admin_wait (admin_t *self, client_request_t *request, uint64_t ticket, int64_t deadline)
{
    request->ticket = ticket;
    request->deadline = deadline;
    if (!zlistx_add_end (self->waiting, request)) {
        client_port_reply_error (self->port, request, RAFTQ__CODE__INTERNAL, "out of memory");
        client_request_destroy (&request);
    }
}

//  True when what the request asked for holds: the node is a voter (added)
//  or gone (removed) in a committed configuration, or it leads.
static bool
s_done (admin_t *self, const Raftq__Request *request)
{
    uint32_t target = s_target (request);
    const raft_member_t *member = cluster_view_member (self->view, target);
    bool committed =
        cluster_view_config_index (self->view) <= cluster_view_commit_index (self->view);
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_ADD_NODE:
        return committed && member && member->voter;
    case RAFTQ__REQUEST__OP_REMOVE_NODE:
        return committed && !member;
    default:
        return cluster_view_leader_id (self->view) == target;
    }
}

//  True when a change the core refused is under way all the same (a retry
//  of an add or a remove the log already holds): keep waiting for it.
static bool
s_under_way (admin_t *self, const Raftq__Request *request)
{
    const raft_member_t *member = cluster_view_member (self->view, s_target (request));
    if (request->op_case == RAFTQ__REQUEST__OP_ADD_NODE)
        return member != NULL;
    if (request->op_case == RAFTQ__REQUEST__OP_REMOVE_NODE)
        return member == NULL;
    return false;
}

//  Answers and destroys the request at cursor.
static void
s_finish (admin_t *self, void *cursor, Raftq__Code code, const char *text)
{
    client_request_t *request = (client_request_t *)zlistx_detach (self->waiting, cursor);
    if (code == RAFTQ__CODE__OK) {
        Raftq__Reply reply = RAFTQ__REPLY__INIT;
        client_port_reply (self->port, request, &reply);
    } else
        client_port_reply_error (self->port, request, code, text);
    client_request_destroy (&request);
}

void
admin_answered (admin_t *self, const raft_actor_event_t *event)
{
    client_request_t *request = (client_request_t *)zlistx_first (self->waiting);
    while (request && request->ticket != event->ticket)
        request = (client_request_t *)zlistx_next (self->waiting);
    if (!request)
        return;
    void *cursor = zlistx_cursor (self->waiting);
    const Raftq__Request *decoded = request->decoded.request;
    if (event->accepted || s_done (self, decoded) || s_under_way (self, decoded))
        request->proposed = true;
    else if (cluster_view_role (self->view) != RAFT_ROLE_LEADER) {
        zlistx_detach (self->waiting, cursor);
        client_port_reply_not_leader (self->port, request, self->view, event->leader_id);
        client_request_destroy (&request);
    } else
        s_finish (self, cursor, RAFTQ__CODE__UNAVAILABLE,
                  "refused: another membership change is in progress, the leader is "
                  "new, or the change is not allowed (one voter at a time, a voter "
                  "to transfer to); try again");
}

void
admin_check (admin_t *self, int64_t now)
{
    client_request_t *request = (client_request_t *)zlistx_first (self->waiting);
    while (request) {
        void *cursor = zlistx_cursor (self->waiting);
        client_request_t *next = (client_request_t *)zlistx_next (self->waiting);
        if (request->proposed && s_done (self, request->decoded.request))
            s_finish (self, cursor, RAFTQ__CODE__OK, NULL);
        else if (request->deadline <= now)
            s_finish (self, cursor, RAFTQ__CODE__TIMEOUT,
                      "not done in time: the change may still complete");
        request = next;
    }
}

void
admin_abandon (admin_t *self)
{
    while (zlistx_first (self->waiting))
        s_finish (self, zlistx_cursor (self->waiting), RAFTQ__CODE__UNAVAILABLE,
                  "node shutting down: outcome unknown");
}

size_t
admin_waiting_count (admin_t *self)
{
    return zlistx_size (self->waiting);
}
