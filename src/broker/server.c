/*  server — the broker of one node: client ROUTER, waiting requests, state
    machine, PUB fan-out; Raft runs in the raft_actor thread. See server.h.
*/
#include "broker/server.h"

#include <czmq.h>
#include <sodium.h>

#include "broker/codec.h"
#include "util/endpoint.h"
#include "state/fsm.h"
#include "broker/hasher.h"
#include "util/diagnostic.h"
#include "replica/raft_actor.h"
#include "storage/snapshot.h"
#include "storage/snapshot_job.h"
#include "storage/node_dir.h"
#include "broker/state_snapshot.h"
#include "broker/replica_options.h"

//  Messages read from one socket per loop turn before the batch goes out.
#define DRAIN_LIMIT 1000
//  Period of the check for requests past their deadline.
#define DEADLINE_CHECK_MS 20
//  Room for the envelope of a request around its largest payload.
#define REQUEST_OVERHEAD_BYTES 4096
//  A client frame bigger than this many payloads (or than the floor) costs
//  the client its connection; anything smaller gets a reply, TOO_LARGE if
//  need be. The room lets JSON escape every byte of a valid payload.
#define CLIENT_MAX_MESSAGE_PAYLOADS 8
#define CLIENT_MAX_MESSAGE_FLOOR    (64 * 1024 * 1024)
//  Frames of a client request kept: routing id, delimiter, body.
#define CLIENT_MESSAGE_FRAMES_MAX 3
//  Replies and events queued per client or subscriber before they are dropped.
#define CLIENT_SEND_HWM 10000
//  At shutdown, time left to deliver the last replies.
#define SHUTDOWN_LINGER_MS 200
//  At most one complaint per second about malformed client traffic.
#define BAD_INPUT_LOG_PERIOD_MS 1000
//  Password jobs at the hasher at once; more get UNAVAILABLE. At tens of
//  milliseconds a job, more could not finish within a request timeout
//  anyway, and the bound keeps the pipe to the hasher from filling up.
#define HASHER_MAX_PENDING 64
//  Random bytes of a session token (hex-encoded: twice as many digits).
#define SESSION_TOKEN_BYTES 16
//  Time an admin request (node PUT/DELETE, leader PUT) may take: a learner
//  must catch up before it is promoted, longer than any write.
#define ADMIN_TIMEOUT_MS 10000

//  One client request, from its arrival to its reply.
typedef struct {
    zframe_t *routing_id;    //  the client's identity on the ROUTER
    bool delimited;          //  it sent the empty delimiter frame (REQ envelope)
    codec_request_t decoded; //  the request and the dialect to answer in
    uint64_t ticket;         //  key in the waiting table once parked, else 0
    int64_t deadline;        //  zclock_mono time of its TIMEOUT reply
    void *deadline_handle;   //  its place in the deadline queue
    bool proposed;           //  its command went to Raft (else: password work first)
    char *verified_hash;     //  Login: the stored hash its password is checked against
} client_request_t;

struct _server_t {
    const config_t *config;                 //  borrowed, outlives the server
    const config_node_t *node;              //  this node in config
    uint32_t node_id;                       //  its id
    uint32_t *members;                      //  ids of the current configuration, for Status
    size_t member_count;                    //  how many
    raft_member_t *configuration;           //  the current configuration with addresses
    size_t configuration_count;             //  how many members
    uint64_t config_index;                  //  entry that set it (committed once commit reaches it)
    zlistx_t *admin_waiting;                //  admin requests until done or their deadline
    zloop_t *loop;                          //  the broker reactor
    zsock_t *clients;                       //  ROUTER on the client port
    zsock_t *publisher;                     //  XPUB on the pub port, NULL without one
    zhashx_t *subscribed;                   //  prefixes at least one subscriber asked for
    char *stream_buffer;                    //  scratch copy of a stream key, cut to its prefixes
    size_t stream_buffer_size;              //  bytes allocated
    raft_actor_t *raft;                     //  the Raft thread
    fsm_t *fsm;                             //  the replicated state machine
    zhashx_t *waiting;                      //  ticket -> client_request_t proposed, not yet applied
    zlistx_t *deadlines;                    //  the same requests, oldest (first to expire) first
    uint64_t next_ticket;                   //  random incarnation << 32, then counts up
    raft_role_t role;                       //  last STATE: role
    uint64_t term;                          //  term
    uint32_t leader_id;                     //  leader, 0 when unknown
    uint64_t commit_index;                  //  commit index
    uint64_t last_index;                    //  last log index
    uint64_t applied_term;                  //  term of the last entry applied
    hasher_t *hasher;                       //  the password hashing thread
    size_t hashing_count;                   //  jobs at the hasher, not yet answered
    uint64_t *deferred;                     //  tickets of logins waiting for a fresh state
    size_t deferred_count;                  //  how many
    size_t deferred_slots;                  //  allocated slots in deferred
    diagnostic_limiter_t bad_input_limiter; //  bounds complaints about client traffic
    uint32_t origin_node_field;             //  field numbers of Command.origin_node
    uint32_t ticket_field;                  //  and Command.ticket, from the descriptor
    char *snapshot_dir;                     //  <data_dir>/node-<id>/snap
    snapshot_job_t *snapshot_job;           //  the child writing a snapshot, NULL if none
    zmq_pollitem_t snapshot_item;           //  its report pipe, polled by the loop
    zlistx_t *snapshot_waiting;             //  TakeSnapshot requests until a snapshot covers them
    int64_t snapshot_retry_at;              //  no new job before this zclock_mono (after a failure)
    uint64_t snapshot_durable_index; //  newest snapshot in place (written or installed), 0 if none
    uint64_t log_bytes_since_snapshot; //  log bytes applied since the last one
    uint64_t counted_index;            //  last entry counted in those bytes
    uint8_t *membership;               //  Raft configuration as of the applied index
    size_t membership_size;            //  its size
};

//  ---------------------------------------------------------------------------
//  Client requests and replies

//  The plaintext password a request carries, NULL if none.
static char *
s_password_of (client_request_t *request)
{
    const Raftq__Request *decoded = request->decoded.request;
    if (decoded && decoded->op_case == RAFTQ__REQUEST__OP_CREATE_ACCOUNT && decoded->create_account)
        return decoded->create_account->password;
    if (decoded && decoded->op_case == RAFTQ__REQUEST__OP_LOGIN && decoded->login)
        return decoded->login->password;
    return NULL;
}

//  Overwrites the plaintext password as soon as the hasher has its copy.
static void
s_wipe_password (client_request_t *request)
{
    char *password = s_password_of (request);
    if (password)
        sodium_memzero (password, strlen (password));
}

static void
s_client_request_destroy (client_request_t **request_p)
{
    if (*request_p) {
        client_request_t *request = *request_p;
        s_wipe_password (request);
        zframe_destroy (&request->routing_id);
        codec_request_clear (&request->decoded);
        free (request->verified_hash);
        free (request);
        *request_p = NULL;
    }
}

static void
s_complain (server_t *self, const char *what)
{
    diagnostic_dropped (&self->bad_input_limiter, zclock_mono (), BAD_INPUT_LOG_PERIOD_MS,
                        self->node_id, "client port", what);
}

//  Sends reply to the client of request, with the request's seq.
static void
s_reply (server_t *self, client_request_t *request, Raftq__Reply *reply)
{
    reply->seq = request->decoded.request ? request->decoded.request->seq : 0;
    size_t size;
    uint8_t *body = codec_reply_encode (&request->decoded, reply, &size);
    if (!body) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "out of memory encoding a reply");
        return;
    }
    //  Frame by frame, without building a message: replies are the hot path.
    //  Never blocks: an unknown or saturated client loses the reply
    void *clients = zsock_resolve (self->clients);
    int rc = zmq_send (clients, zframe_data (request->routing_id),
                       zframe_size (request->routing_id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc != -1 && request->delimited)
        rc = zmq_send (clients, NULL, 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc != -1)
        zmq_send (clients, body, size, ZMQ_DONTWAIT);
    free (body);
}

static void
s_reply_error (server_t *self, client_request_t *request, Raftq__Code code, const char *text)
{
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = code;
    reply.error = (char *)text;
    s_reply (self, request, &reply);
}

//  Client address of node id: from the config file, else from the
//  configuration (a node added at run time). Returns 0, or -1 if unknown.
static int
s_member_address (server_t *self, uint32_t id, const char **host, uint16_t *client_port)
{
    const config_node_t *node = config_node (self->config, id);
    if (node) {
        *host = node->host;
        *client_port = node->client_port;
        return 0;
    }
    for (size_t position = 0; position < self->configuration_count; position++) {
        const raft_member_t *member = &self->configuration[position];
        if (member->id == id && member->host[0] && member->client_port &&
            member->client_port <= UINT16_MAX) {
            *host = member->host;
            *client_port = (uint16_t)member->client_port;
            return 0;
        }
    }
    return -1;
}

//  NOT_LEADER with the leader's client endpoint, or NO_LEADER.
static void
s_reply_not_leader (server_t *self, client_request_t *request, uint32_t leader_id)
{
    const char *host;
    uint16_t client_port;
    if (leader_id == self->node_id || s_member_address (self, leader_id, &host, &client_port)) {
        s_reply_error (self, request, RAFTQ__CODE__NO_LEADER, "no leader elected yet");
        return;
    }
    char endpoint[ENDPOINT_MAX];
    endpoint_format (endpoint, host, client_port);
    char text[64];
    snprintf (text, sizeof (text), "not the leader; node %u is", leader_id);
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = RAFTQ__CODE__NOT_LEADER;
    reply.error = text;
    reply.leader_id = leader_id;
    reply.leader_endpoint = endpoint;
    s_reply (self, request, &reply);
}

static Raftq__Role
s_status_role (raft_role_t role)
{
    switch (role) {
    case RAFT_ROLE_LEADER:
        return RAFTQ__ROLE__LEADER;
    case RAFT_ROLE_CANDIDATE:
        return RAFTQ__ROLE__CANDIDATE;
    default:
        return RAFTQ__ROLE__FOLLOWER;
    }
}

//  Bytes of the snapshot files on disk; a file deleted meanwhile counts 0.
static uint64_t
s_status_snapshot_bytes (server_t *self)
{
    uint64_t *indexes = NULL;
    size_t count = 0;
    if (!self->snapshot_dir || snapshot_list (self->snapshot_dir, &indexes, &count))
        return 0;
    uint64_t total = 0;
    for (size_t position = 0; position < count; position++) {
        char path[PATH_MAX];
        snapshot_path (self->snapshot_dir, indexes[position], path, sizeof (path));
        ssize_t size = zsys_file_size (path);
        if (size > 0)
            total += (uint64_t)size;
    }
    free (indexes);
    return total;
}

//  Leader only: how far member's log is known to match ours. The leader
//  itself holds its whole log; a follower it has not heard from yet is
//  left unknown.
static void
s_status_replication (server_t *self, const raft_actor_progress_t *progress,
                      Raftq__MemberStatus *member)
{
    if (self->role != RAFT_ROLE_LEADER)
        return;
    bool known = member->id == self->node_id;
    uint64_t match = self->last_index;
    for (size_t position = 0; !known && position < progress->match_count; position++)
        if (progress->matches[position].id == member->id) {
            known = true;
            match = progress->matches[position].match_index;
        }
    member->replication_known = known;
    member->match_index = known ? match : 0;
    //  The reports come once per tick each: a match may pass a stale last index
    member->lag = known && self->last_index > match ? self->last_index - match : 0;
}

static int
s_compare_member_ids (const void *one, const void *other)
{
    uint32_t first = ((const Raftq__MemberStatus *)one)->id;
    uint32_t second = ((const Raftq__MemberStatus *)other)->id;
    return first < second ? -1 : first > second;
}

//  Fills detail: the configuration by id with each member's replication,
//  the newest snapshot, the log and snapshots on disk. The caller frees
//  *members_p and detail->members; hosts are borrowed from the
//  configuration. Returns 0, or -1 when out of memory.
static int
s_status_detail_fill (server_t *self, Raftq__StatusDetail *detail, Raftq__MemberStatus **members_p)
{
    size_t count = self->configuration_count;
    Raftq__MemberStatus *members = *members_p = calloc (count + 1, sizeof (Raftq__MemberStatus));
    detail->members = calloc (count + 1, sizeof (Raftq__MemberStatus *));
    if (!members || !detail->members)
        return -1;
    const raft_actor_progress_t *progress = raft_actor_progress (self->raft);
    for (size_t position = 0; position < count; position++) {
        const raft_member_t *source = &self->configuration[position];
        Raftq__MemberStatus *member = &members[position];
        raftq__member_status__init (member);
        member->id = source->id;
        member->voter = source->voter;
        member->host = (char *)source->host;
        member->client_port = source->client_port;
        member->peer_port = source->peer_port;
        member->pub_port = source->pub_port;
        s_status_replication (self, progress, member);
    }
    qsort (members, count, sizeof (Raftq__MemberStatus), s_compare_member_ids);
    for (size_t position = 0; position < count; position++)
        detail->members[position] = &members[position];
    detail->n_members = count;
    detail->config_index = self->config_index;
    detail->snapshot_index = progress->snapshot_index;
    detail->snapshot_term = progress->snapshot_term;
    detail->first_index = progress->first_index;
    detail->log_bytes = progress->log_bytes;
    detail->snapshot_bytes = s_status_snapshot_bytes (self);
    return 0;
}

static void
s_reply_status (server_t *self, client_request_t *request)
{
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    status.id = self->node_id;
    status.role = s_status_role (self->role);
    status.term = self->term;
    status.leader_id = self->leader_id;
    status.commit_index = self->commit_index;
    status.applied_index = fsm_applied_index (self->fsm);
    status.last_index = self->last_index;
    status.members = self->members;
    status.n_members = self->member_count;
    const Raftq__Status *asked = request->decoded.request->status;
    if (asked && asked->with_hash)
        status.state_hash = fsm_state_hash (self->fsm);
    Raftq__StatusDetail detail = RAFTQ__STATUS_DETAIL__INIT;
    Raftq__MemberStatus *members = NULL;
    bool detailed = asked && asked->detail;
    if (detailed && s_status_detail_fill (self, &detail, &members))
        s_reply_error (self, request, RAFTQ__CODE__INTERNAL, "out of memory");
    else {
        status.detail = detailed ? &detail : NULL;
        Raftq__Reply reply = RAFTQ__REPLY__INIT;
        reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
        reply.status = &status;
        s_reply (self, request, &reply);
    }
    free (members);
    free (detail.members);
}

//  ---------------------------------------------------------------------------
//  The waiting table: proposed requests by ticket, and by deadline

static size_t
s_ticket_hash (const void *key)
{
    uint64_t ticket = *(const uint64_t *)key;
    return (size_t)(ticket ^ (ticket >> 32));
}

static int
s_ticket_compare (const void *one, const void *other)
{
    uint64_t first = *(const uint64_t *)one;
    uint64_t second = *(const uint64_t *)other;
    return first < second ? -1 : first > second ? 1 : 0;
}

//  Keys are the tickets inside the requests: nothing is copied or freed.
static zhashx_t *
s_waiting_table_new (void)
{
    zhashx_t *table = zhashx_new ();
    if (table) {
        zhashx_set_key_hasher (table, s_ticket_hash);
        zhashx_set_key_comparator (table, s_ticket_compare);
        zhashx_set_key_duplicator (table, NULL);
        zhashx_set_key_destructor (table, NULL);
    }
    return table;
}

static void
s_park (server_t *self, client_request_t *request, uint64_t ticket)
{
    request->ticket = ticket;
    request->deadline = zclock_mono () + self->config->request_timeout_ms;
    zhashx_insert (self->waiting, &request->ticket, request);
    request->deadline_handle = zlistx_add_end (self->deadlines, request);
}

//  Takes a proposed request out of the waiting table; caller answers it.
static client_request_t *
s_unpark (server_t *self, uint64_t ticket)
{
    client_request_t *request = (client_request_t *)zhashx_lookup (self->waiting, &ticket);
    if (request) {
        zhashx_delete (self->waiting, &ticket);
        zlistx_detach (self->deadlines, request->deadline_handle);
    }
    return request;
}

//  Requests whose entry did not apply in time: the outcome is unknown to us,
//  and the client must be told so rather than left waiting.
static void s_admin_check (server_t *self);

static int
s_on_deadline_check (zloop_t *loop, int timer_id, void *argument)
{
    (void)loop;
    (void)timer_id;
    server_t *self = (server_t *)argument;
    int64_t now = zclock_mono ();
    client_request_t *oldest = (client_request_t *)zlistx_first (self->deadlines);
    while (oldest && oldest->deadline <= now) {
        client_request_t *request = s_unpark (self, oldest->ticket);
        //  Before proposing (password work, a login waiting for a fresh
        //  state) nothing can have happened: say so
        s_reply_error (self, request, RAFTQ__CODE__TIMEOUT,
                       request->proposed ? "not committed in time: outcome unknown"
                                         : "not proposed in time: nothing was done");
        s_client_request_destroy (&request);
        oldest = (client_request_t *)zlistx_first (self->deadlines);
    }
    s_admin_check (self);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Proposing

//  The state machine command for a request that goes to the log as it is,
//  fields borrowed from the request. CreateAccount and Login are not among
//  them: the leader turns their password into a hash first.
static int
s_command_from_request (const Raftq__Request *request, Raftq__State__Command *command)
{
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_CREATE_TOPIC:
        command->op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
        command->create_topic = request->create_topic;
        return 0;
    case RAFTQ__REQUEST__OP_LIST_TOPICS:
        command->op_case = RAFTQ__STATE__COMMAND__OP_LIST_TOPICS;
        command->list_topics = request->list_topics;
        return 0;
    case RAFTQ__REQUEST__OP_PUBLISH:
        command->op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
        command->publish = request->publish;
        return 0;
    case RAFTQ__REQUEST__OP_POP:
        command->op_case = RAFTQ__STATE__COMMAND__OP_POP;
        command->pop = request->pop;
        return 0;
    case RAFTQ__REQUEST__OP_CHECK_USER:
        command->op_case = RAFTQ__STATE__COMMAND__OP_CHECK_USER;
        command->check_user = request->check_user;
        return 0;
    case RAFTQ__REQUEST__OP_LOGOUT:
        command->op_case = RAFTQ__STATE__COMMAND__OP_LOGOUT;
        command->logout = request->logout;
        return 0;
    case RAFTQ__REQUEST__OP_LIST_ACCOUNTS:
        command->op_case = RAFTQ__STATE__COMMAND__OP_LIST_ACCOUNTS;
        command->list_accounts = request->list_accounts;
        return 0;
    case RAFTQ__REQUEST__OP_SEND_MESSAGE:
        command->op_case = RAFTQ__STATE__COMMAND__OP_SEND_MESSAGE;
        command->send_message = request->send_message;
        return 0;
    case RAFTQ__REQUEST__OP_READ_MESSAGES:
        command->op_case = RAFTQ__STATE__COMMAND__OP_READ_MESSAGES;
        command->read_messages = request->read_messages;
        return 0;
    case RAFTQ__REQUEST__OP_DELETE_MESSAGES:
        command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_MESSAGES;
        command->delete_messages = request->delete_messages;
        return 0;
    case RAFTQ__REQUEST__OP_DELETE_ACCOUNT:
        command->op_case = RAFTQ__STATE__COMMAND__OP_DELETE_ACCOUNT;
        command->delete_account = request->delete_account;
        return 0;
    default:
        return -1;
    }
}

//  Answers at once what needs no new entry: a follower's refusal, or the
//  reply a retry already got. Returns true if it answered.
static bool
s_answer_early (server_t *self, client_request_t *request)
{
    if (self->role != RAFT_ROLE_LEADER) {
        s_reply_not_leader (self, request, self->leader_id);
        return true;
    }
    const Raftq__Request *decoded = request->decoded.request;
    Raftq__Reply *cached = fsm_cached_reply (self->fsm, decoded->client_id, decoded->seq);
    if (cached) {
        s_reply (self, request, cached);
        raftq__reply__free_unpacked (cached, NULL);
        return true;
    }
    return false;
}

//  True when this leader's state holds every write acknowledged so far: it
//  has applied an entry of its own term, so (Leader Completeness) every
//  entry committed by earlier leaders is applied too. A new leader has not
//  always caught up yet, and a password check against an older state could
//  refuse an account that exists.
static bool
s_is_fresh (server_t *self)
{
    return self->role == RAFT_ROLE_LEADER && self->applied_term == self->term;
}

//  Answers and destroys a parked request.
static void
s_finish (server_t *self, client_request_t *request, Raftq__Code code, const char *text)
{
    s_unpark (self, request->ticket);
    s_reply_error (self, request, code, text);
    s_client_request_destroy (&request);
}

//  Validates, packs and proposes the command of a parked request (which
//  takes the request's ticket), or answers and destroys the request.
static void
s_submit (server_t *self, client_request_t *request, Raftq__State__Command *command)
{
    const Raftq__Request *decoded = request->decoded.request;
    command->origin_node = self->node_id;
    command->ticket = request->ticket;
    command->client_id = decoded->client_id;
    command->seq = decoded->seq;
    command->timestamp_ms = zclock_time ();
    command->token = decoded->token;
    Raftq__Code code;
    char error[256] = "";
    if (fsm_validate (self->fsm, command, &code, error, sizeof (error))) {
        s_finish (self, request, code, error);
        return;
    }
    zframe_t *payload = zframe_new (NULL, raftq__state__command__get_packed_size (command));
    if (!payload) {
        s_finish (self, request, RAFTQ__CODE__INTERNAL, "out of memory");
        return;
    }
    raftq__state__command__pack (command, zframe_data (payload));
    request->proposed = true;
    raft_actor_propose (self->raft, request->ticket, &payload);
}

//  Leader only: proposes a request that needs no password work.
static void
s_serve_write (server_t *self, client_request_t *request)
{
    if (s_answer_early (self, request)) {
        s_client_request_destroy (&request);
        return;
    }
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    if (s_command_from_request (request->decoded.request, &command)) {
        s_reply_error (self, request, RAFTQ__CODE__INTERNAL, "not a state machine operation");
        s_client_request_destroy (&request);
        return;
    }
    s_park (self, request, self->next_ticket++);
    s_submit (self, request, &command);
}

//  Hands a parked request's password to the hasher; hash NULL to compute
//  a new hash, else to check against it.
static void
s_send_to_hasher (server_t *self, client_request_t *request, const char *hash)
{
    if (self->hashing_count >= HASHER_MAX_PENDING) {
        s_finish (self, request, RAFTQ__CODE__UNAVAILABLE,
                  "too many password checks in progress: try again");
        return;
    }
    const char *password = s_password_of (request);
    int rc = hash ? hasher_verify (self->hasher, request->ticket, request->deadline, password, hash)
                  : hasher_hash (self->hasher, request->ticket, request->deadline, password);
    s_wipe_password (request);
    if (rc) {
        s_finish (self, request, RAFTQ__CODE__INTERNAL, "cannot reach the password hasher");
        return;
    }
    self->hashing_count++;
}

//  Checks user name and password of a CreateAccount or Login before any
//  work: true if it answered (and destroyed) the request.
static bool
s_refuse_credentials (server_t *self, client_request_t *request, const char *user)
{
    Raftq__Code code;
    char error[256] = "";
    if (fsm_check_credentials (self->fsm, user, s_password_of (request), &code, error,
                               sizeof (error)) == 0)
        return false;
    s_reply_error (self, request, code, error);
    s_client_request_destroy (&request);
    return true;
}

static void
s_serve_create_account (server_t *self, client_request_t *request)
{
    const Raftq__CreateAccount *create = request->decoded.request->create_account;
    if (s_answer_early (self, request)) {
        s_client_request_destroy (&request);
        return;
    }
    if (s_refuse_credentials (self, request, create->user))
        return;
    //  Spares the hashing when the answer is known; apply checks again
    if (s_is_fresh (self) && fsm_password_hash (self->fsm, create->user)) {
        char text[128];
        snprintf (text, sizeof (text), "account '%s' already exists", create->user);
        s_reply_error (self, request, RAFTQ__CODE__ALREADY_EXISTS, text);
        s_client_request_destroy (&request);
        return;
    }
    s_park (self, request, self->next_ticket++);
    s_send_to_hasher (self, request, NULL);
}

//  Checks a parked login's password against the stored hash (the state is
//  fresh).
static void
s_start_verify (server_t *self, client_request_t *request)
{
    const char *hash = fsm_password_hash (self->fsm, request->decoded.request->login->user);
    if (!hash) {
        s_finish (self, request, RAFTQ__CODE__UNAUTHENTICATED, "wrong user name or password");
        return;
    }
    request->verified_hash = strdup (hash);
    if (!request->verified_hash) {
        s_finish (self, request, RAFTQ__CODE__INTERNAL, "out of memory");
        return;
    }
    s_send_to_hasher (self, request, hash);
}

static void
s_serve_login (server_t *self, client_request_t *request)
{
    if (s_answer_early (self, request)) {
        s_client_request_destroy (&request);
        return;
    }
    if (s_refuse_credentials (self, request, request->decoded.request->login->user))
        return;
    s_park (self, request, self->next_ticket++);
    if (s_is_fresh (self)) {
        s_start_verify (self, request);
        return;
    }
    //  Resumed by s_resume_deferred once an entry of this term applies
    if (self->deferred_count == self->deferred_slots) {
        size_t slots = self->deferred_slots ? self->deferred_slots * 2 : 16;
        uint64_t *grown = realloc (self->deferred, slots * sizeof (uint64_t));
        if (!grown) {
            s_finish (self, request, RAFTQ__CODE__INTERNAL, "out of memory");
            return;
        }
        self->deferred = grown;
        self->deferred_slots = slots;
    }
    self->deferred[self->deferred_count++] = request->ticket;
}

//  Logins deferred until the state is fresh: verified once it is, refused
//  when this node stops leading, dropped when they timed out meanwhile.
static void
s_resume_deferred (server_t *self)
{
    if (self->deferred_count == 0 || (self->role == RAFT_ROLE_LEADER && !s_is_fresh (self)))
        return;
    size_t count = self->deferred_count;
    self->deferred_count = 0;
    for (size_t position = 0; position < count; position++) {
        uint64_t ticket = self->deferred[position];
        client_request_t *request = (client_request_t *)zhashx_lookup (self->waiting, &ticket);
        if (!request)
            continue;
        if (self->role != RAFT_ROLE_LEADER) {
            s_unpark (self, ticket);
            s_reply_not_leader (self, request, self->leader_id);
            s_client_request_destroy (&request);
        } else
            s_start_verify (self, request);
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

//  The hasher finished a job: propose what it made possible, or answer.
static void
s_on_password_checked (server_t *self, const hasher_result_t *result)
{
    client_request_t *request = (client_request_t *)zhashx_lookup (self->waiting, &result->job);
    if (!request || request->proposed)
        return; //  timed out meanwhile (and its ticket is not reused)
    if (self->role != RAFT_ROLE_LEADER) {
        s_unpark (self, request->ticket);
        s_reply_not_leader (self, request, self->leader_id);
        s_client_request_destroy (&request);
        return;
    }
    switch (result->status) {
    case HASHER_OK:
        break;
    case HASHER_MISMATCH:
        s_finish (self, request, RAFTQ__CODE__UNAUTHENTICATED, "wrong user name or password");
        return;
    case HASHER_EXPIRED:
        s_finish (self, request, RAFTQ__CODE__TIMEOUT, "not proposed in time: nothing was done");
        return;
    default:
        s_finish (self, request, RAFTQ__CODE__INTERNAL, "cannot hash the password");
        return;
    }
    const Raftq__Request *decoded = request->decoded.request;
    Raftq__State__Command command = RAFTQ__STATE__COMMAND__INIT;
    if (decoded->op_case == RAFTQ__REQUEST__OP_CREATE_ACCOUNT) {
        Raftq__State__NewAccount account = RAFTQ__STATE__NEW_ACCOUNT__INIT;
        account.user = decoded->create_account->user;
        account.password_hash = (char *)result->hash;
        command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_ACCOUNT;
        command.create_account = &account;
        s_submit (self, request, &command);
    } else {
        char token[2 * SESSION_TOKEN_BYTES + 1];
        s_new_token (token, sizeof (token));
        Raftq__State__NewSession session = RAFTQ__STATE__NEW_SESSION__INIT;
        session.user = decoded->login->user;
        session.token = token;
        session.password_hash = request->verified_hash;
        command.op_case = RAFTQ__STATE__COMMAND__OP_LOGIN;
        command.login = &session;
        s_submit (self, request, &command);
    }
}

static int
s_on_hasher_result (zloop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    server_t *self = (server_t *)argument;
    for (int count = 0; count < DRAIN_LIMIT && (zsock_events (pipe) & ZMQ_POLLIN); count++) {
        hasher_result_t result;
        if (hasher_recv (self->hasher, &result))
            continue;
        if (self->hashing_count)
            self->hashing_count--;
        s_on_password_checked (self, &result);
    }
    if (raft_actor_flush (self->raft))
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "cannot pass proposals to the raft actor");
    return 0;
}

//  Any node: the retained events of a stream, from local state.
static void
s_serve_replay (server_t *self, client_request_t *request)
{
    Raftq__Reply *reply = fsm_replay (self->fsm, request->decoded.request->replay);
    s_reply (self, request, reply);
    raftq__reply__free_unpacked (reply, NULL);
    s_client_request_destroy (&request);
}

//  ---------------------------------------------------------------------------
//  Admin requests: membership changes and leadership transfer. The leader's
//  raft actor starts them; each waits in admin_waiting until the state it
//  asked for is reached (and committed), then answers success, or TIMEOUT
//  after ADMIN_TIMEOUT_MS.

//  The member of the configuration with this id, or NULL.
static const raft_member_t *
s_configuration_member (server_t *self, uint32_t id)
{
    for (size_t position = 0; position < self->configuration_count; position++)
        if (self->configuration[position].id == id)
            return &self->configuration[position];
    return NULL;
}

//  The node an admin request names.
static uint32_t
s_admin_target (const Raftq__Request *request)
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

//  True when what the admin request asked for holds: the node is a voter
//  (added) or gone (removed) in a committed configuration, or it leads.
static bool
s_admin_done (server_t *self, const Raftq__Request *request)
{
    uint32_t target = s_admin_target (request);
    const raft_member_t *member = s_configuration_member (self, target);
    bool committed = self->config_index <= self->commit_index;
    switch (request->op_case) {
    case RAFTQ__REQUEST__OP_ADD_NODE:
        return committed && member && member->voter;
    case RAFTQ__REQUEST__OP_REMOVE_NODE:
        return committed && !member;
    default:
        return self->leader_id == target;
    }
}

//  True when a change the core refused is under way all the same (a retry
//  of an add or a remove the log already holds): keep waiting for it.
static bool
s_admin_under_way (server_t *self, const Raftq__Request *request)
{
    const raft_member_t *member = s_configuration_member (self, s_admin_target (request));
    if (request->op_case == RAFTQ__REQUEST__OP_ADD_NODE)
        return member != NULL;
    if (request->op_case == RAFTQ__REQUEST__OP_REMOVE_NODE)
        return member == NULL;
    return false;
}

//  Answers and destroys the admin request at cursor of admin_waiting.
static void
s_admin_finish (server_t *self, void *cursor, Raftq__Code code, const char *text)
{
    client_request_t *request = (client_request_t *)zlistx_handle_item (cursor);
    zlistx_delete (self->admin_waiting, cursor);
    if (code == RAFTQ__CODE__OK) {
        Raftq__Reply reply = RAFTQ__REPLY__INIT;
        s_reply (self, request, &reply);
    } else
        s_reply_error (self, request, code, text);
    s_client_request_destroy (&request);
}

//  Answers every admin request that is done or past its deadline.
static void
s_admin_check (server_t *self)
{
    int64_t now = zclock_mono ();
    client_request_t *request = (client_request_t *)zlistx_first (self->admin_waiting);
    while (request) {
        void *cursor = zlistx_cursor (self->admin_waiting);
        client_request_t *next = (client_request_t *)zlistx_next (self->admin_waiting);
        if (request->proposed && s_admin_done (self, request->decoded.request))
            s_admin_finish (self, cursor, RAFTQ__CODE__OK, NULL);
        else if (request->deadline <= now)
            s_admin_finish (self, cursor, RAFTQ__CODE__TIMEOUT,
                            "not done in time: the change may still complete");
        request = next;
    }
}

//  Leader only: hands an admin request to the raft actor and parks it.
static void
s_serve_admin (server_t *self, client_request_t *request)
{
    if (self->role != RAFT_ROLE_LEADER) {
        s_reply_not_leader (self, request, self->leader_id);
        s_client_request_destroy (&request);
        return;
    }
    const Raftq__Request *decoded = request->decoded.request;
    raft_member_t member = {.id = s_admin_target (decoded)};
    const Raftq__AddNode *add = decoded->add_node;
    if (decoded->op_case == RAFTQ__REQUEST__OP_ADD_NODE && add) {
        if (!add->host || !add->host[0] || strlen (add->host) >= RAFT_HOST_SIZE ||
            !add->client_port || add->client_port > UINT16_MAX || !add->peer_port ||
            add->peer_port > UINT16_MAX || add->pub_port > UINT16_MAX) {
            s_reply_error (self, request, RAFTQ__CODE__INVALID_ARGUMENT,
                           "a node needs a host and client and peer ports up to 65535");
            s_client_request_destroy (&request);
            return;
        }
        snprintf (member.host, sizeof (member.host), "%s", add->host);
        member.client_port = add->client_port;
        member.peer_port = add->peer_port;
        member.pub_port = add->pub_port;
    }
    if (member.id == 0) {
        s_reply_error (self, request, RAFTQ__CODE__INVALID_ARGUMENT, "a node id must be positive");
        s_client_request_destroy (&request);
        return;
    }
    raft_actor_admin_kind_t kind =
        decoded->op_case == RAFTQ__REQUEST__OP_ADD_NODE      ? RAFT_ACTOR_ADD_NODE
        : decoded->op_case == RAFTQ__REQUEST__OP_REMOVE_NODE ? RAFT_ACTOR_REMOVE_NODE
                                                             : RAFT_ACTOR_TRANSFER_LEADER;
    request->ticket = self->next_ticket++;
    request->deadline = zclock_mono () + ADMIN_TIMEOUT_MS;
    if (raft_actor_admin (self->raft, request->ticket, kind, &member)) {
        s_reply_error (self, request, RAFTQ__CODE__INTERNAL, "cannot reach the raft actor");
        s_client_request_destroy (&request);
        return;
    }
    zlistx_add_end (self->admin_waiting, request);
}

//  The raft actor took or refused an admin request.
static void
s_admin_answered (server_t *self, const raft_actor_event_t *event)
{
    client_request_t *request = (client_request_t *)zlistx_first (self->admin_waiting);
    while (request && request->ticket != event->ticket)
        request = (client_request_t *)zlistx_next (self->admin_waiting);
    if (!request)
        return;
    void *cursor = zlistx_cursor (self->admin_waiting);
    const Raftq__Request *decoded = request->decoded.request;
    if (event->accepted || s_admin_done (self, decoded) || s_admin_under_way (self, decoded))
        request->proposed = true;
    else if (self->role != RAFT_ROLE_LEADER) {
        zlistx_detach (self->admin_waiting, cursor);
        s_reply_not_leader (self, request, event->leader_id);
        s_client_request_destroy (&request);
    } else
        s_admin_finish (self, cursor, RAFTQ__CODE__UNAVAILABLE,
                        "refused: another membership change is in progress, the leader is "
                        "new, or the change is not allowed (one voter at a time, a voter "
                        "to transfer to); try again");
}

//  The configuration changed: keep it for Status, hints and admin requests.
static void
s_take_members (server_t *self, raft_actor_event_t *event)
{
    uint32_t *ids = calloc (event->member_count + 1, sizeof (uint32_t));
    if (!ids)
        return;
    for (size_t position = 0; position < event->member_count; position++)
        ids[position] = event->members[position].id;
    free (self->members);
    self->members = ids;
    self->member_count = event->member_count;
    free (self->configuration);
    self->configuration = event->members;
    self->configuration_count = event->member_count;
    self->config_index = event->config_index;
    event->members = NULL;
    event->member_count = 0;
}

//  A body that held a plaintext password is overwritten once decoded.
static void
s_wipe_body (client_request_t *request, zframe_t *body)
{
    if (s_password_of (request))
        sodium_memzero (zframe_data (body), zframe_size (body));
}

static void s_serve_take_snapshot (server_t *self, client_request_t *request);

//  Decodes and answers or parks one request; takes ownership of request.
static void
s_handle_request (server_t *self, client_request_t *request, zframe_t *body)
{
    const uint8_t *data = zframe_data (body);
    size_t size = zframe_size (body);
    size_t limit = (size_t)self->config->max_payload_bytes + REQUEST_OVERHEAD_BYTES;
    if (size > limit) {
        //  Decoding is only needed to learn how a JSON client wants its error
        if (size && data[0] == '{')
            codec_request_decode (data, size, &request->decoded);
        else
            request->decoded.dialect = CODEC_PROTOBUF;
        s_wipe_body (request, body);
        char text[128];
        snprintf (text, sizeof (text), "request of %zu bytes exceeds the limit of %zu", size,
                  limit);
        s_reply_error (self, request, RAFTQ__CODE__TOO_LARGE, text);
        s_client_request_destroy (&request);
        return;
    }
    int rc = codec_request_decode (data, size, &request->decoded);
    s_wipe_body (request, body);
    if (rc) {
        s_reply_error (self, request, request->decoded.error_code, request->decoded.error);
        s_client_request_destroy (&request);
        return;
    }
    switch (request->decoded.request->op_case) {
    case RAFTQ__REQUEST__OP_STATUS:
        s_reply_status (self, request);
        s_client_request_destroy (&request);
        break;
    case RAFTQ__REQUEST__OP_REPLAY:
        s_serve_replay (self, request);
        break;
    case RAFTQ__REQUEST__OP_CREATE_ACCOUNT:
        s_serve_create_account (self, request);
        break;
    case RAFTQ__REQUEST__OP_LOGIN:
        s_serve_login (self, request);
        break;
    case RAFTQ__REQUEST__OP_ADD_NODE:
    case RAFTQ__REQUEST__OP_REMOVE_NODE:
    case RAFTQ__REQUEST__OP_TRANSFER_LEADERSHIP:
        s_serve_admin (self, request);
        break;
    case RAFTQ__REQUEST__OP_TAKE_SNAPSHOT:
        s_serve_take_snapshot (self, request);
        break;
    default:
        s_serve_write (self, request);
        break;
    }
}

//  Receives one ROUTER message frame by frame into frames (room for
//  CLIENT_MESSAGE_FRAMES_MAX), without building a zmsg: requests are the hot
//  path. Frames past the room are dropped as they come. Returns how many
//  frames the message had, 0 if it could not be read whole.
static size_t
s_receive_client_message (zsock_t *clients, zframe_t **frames)
{
    size_t count = 0;
    bool more = true;
    while (more) {
        zframe_t *frame = zframe_recv (clients);
        if (!frame) {
            //  Interrupted: what was read is not a whole message
            for (size_t position = 0; position < count && position < CLIENT_MESSAGE_FRAMES_MAX;
                 position++)
                zframe_destroy (&frames[position]);
            return 0;
        }
        more = zframe_more (frame);
        if (count < CLIENT_MESSAGE_FRAMES_MAX)
            frames[count] = frame;
        else
            zframe_destroy (&frame);
        count++;
    }
    return count;
}

//  One ROUTER message: [routing id][empty][body], or [routing id][body]
//  from a DEALER that skips the delimiter. Takes the frames.
static void
s_handle_client_message (server_t *self, zframe_t **frames, size_t count)
{
    size_t kept = count < CLIENT_MESSAGE_FRAMES_MAX ? count : CLIENT_MESSAGE_FRAMES_MAX;
    zframe_t *routing_id = frames[0];
    zframe_t *body = kept > 1 ? frames[kept - 1] : NULL;
    if (count == 3 && zframe_size (frames[1]) != 0)
        s_complain (self, "a request whose second frame is not the empty delimiter");
    else if (count != 2 && count != 3)
        s_complain (self, "a request with the wrong number of frames");
    else {
        client_request_t *request = calloc (1, sizeof (client_request_t));
        if (request) {
            request->routing_id = routing_id;
            routing_id = NULL;
            request->delimited = count == 3;
            s_handle_request (self, request, body);
        }
    }
    zframe_destroy (&routing_id);
    for (size_t position = 1; position < kept; position++)
        zframe_destroy (&frames[position]);
}

static int
s_on_client_traffic (zloop_t *loop, zsock_t *clients, void *argument)
{
    (void)loop;
    server_t *self = (server_t *)argument;
    for (int count = 0; count < DRAIN_LIMIT && (zsock_events (clients) & ZMQ_POLLIN); count++) {
        zframe_t *frames[CLIENT_MESSAGE_FRAMES_MAX];
        size_t frame_count = s_receive_client_message (clients, frames);
        if (frame_count == 0)
            break;
        s_handle_client_message (self, frames, frame_count);
    }
    //  Everything read this turn goes to Raft as one batch
    if (raft_actor_flush (self->raft))
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "cannot pass proposals to the raft actor");
    return 0;
}

//  ---------------------------------------------------------------------------
//  Fan-out: events are built only for streams some subscriber wants

//  The subscription table is a set: any non-NULL item marks a key.
static const char s_subscribed_mark[] = "subscribed";

//  Takes in what subscribers told the XPUB. Not verbose, it reports only the
//  first subscription to a prefix ([1][prefix]) and the end of the last one
//  ([0][prefix]), so the table holds exactly the prefixes some subscriber
//  wants. A prefix holding a NUL byte can match no stream key and is not
//  kept; any other message a peer sends is dropped. Known gap: libzmq also
//  reports a cancel for a prefix the canceling peer never subscribed to, so
//  a hand-made peer could hide a stream's events from this node's other
//  subscribers until one subscribes again (they see the seq gap and replay);
//  a SUB socket never sends such a cancel.
static void
s_take_subscriptions (server_t *self)
{
    for (int count = 0; count < DRAIN_LIMIT && (zsock_events (self->publisher) & ZMQ_POLLIN);
         count++) {
        zframe_t *frame = zframe_recv (self->publisher);
        if (!frame)
            break;
        const uint8_t *data = zframe_data (frame);
        size_t size = zframe_size (frame);
        if (size >= 1 && data[0] <= 1 && !memchr (data + 1, 0, size - 1)) {
            char *prefix = strndup ((const char *)data + 1, size - 1);
            if (prefix && data[0] == 1)
                zhashx_insert (self->subscribed, prefix, (void *)s_subscribed_mark);
            else if (prefix)
                zhashx_delete (self->subscribed, prefix);
            //  Without memory the prefix stays subscribed: events too many, not too few
            else if (data[0] == 1)
                diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                                 "out of memory noting a subscription");
            free (prefix);
        }
        zframe_destroy (&frame);
    }
}

static int
s_on_subscription (zloop_t *loop, zsock_t *publisher, void *argument)
{
    (void)loop;
    (void)publisher;
    s_take_subscriptions ((server_t *)argument);
    return 0;
}

//  Whether a subscriber wants events of stream: some subscribed prefix
//  starts it. Building an event costs more than the rest of an apply, and
//  nobody may be listening at all.
static bool
s_has_subscriber (server_t *self, const char *stream)
{
    if (zhashx_size (self->subscribed) == 0)
        return false;
    size_t length = strlen (stream);
    if (length + 1 > self->stream_buffer_size) {
        char *grown = realloc (self->stream_buffer, length + 1);
        if (!grown)
            return true; //  when in doubt, publish
        self->stream_buffer = grown;
        self->stream_buffer_size = length + 1;
    }
    memcpy (self->stream_buffer, stream, length + 1);
    //  Longest prefix first, cutting the key shorter each round
    for (size_t end = length + 1; end-- > 0;) {
        self->stream_buffer[end] = 0;
        if (zhashx_lookup (self->subscribed, self->stream_buffer))
            return true;
    }
    return false;
}

static void
s_publish (server_t *self, const Raftq__Event *event)
{
    if (!self->publisher || !event->stream || !s_has_subscriber (self, event->stream))
        return;
    char *json = codec_event_json (event);
    zframe_t *packed = zframe_new (NULL, raftq__event__get_packed_size (event));
    if (json && packed) {
        raftq__event__pack (event, zframe_data (packed));
        zmsg_t *message = zmsg_new ();
        zmsg_addstr (message, event->stream);
        zmsg_append (message, &packed);
        zmsg_addstr (message, json);
        //  XPUB drops for slow subscribers; it never blocks
        zmsg_send (&message, self->publisher);
    }
    zframe_destroy (&packed);
    free (json);
}

//  ---------------------------------------------------------------------------
//  Applying committed entries

//  Reads a protobuf varint at *at, before end. Returns 0, or -1 if it is
//  cut short or longer than 64 bits.
static int
s_read_varint (const uint8_t **at, const uint8_t *end, uint64_t *value)
{
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && *at < end; shift += 7) {
        uint8_t byte = *(*at)++;
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *value = result;
            return 0;
        }
    }
    return -1;
}

//  Origin node and ticket of a packed state Command, read off the wire:
//  the state machine unpacks the command already, a second full unpack just
//  to find the waiting client cost more than the rest of the answer. Skips
//  every other field; the last occurrence of a field wins, as in protobuf.
//  Returns 0, or -1 if the payload is not a well-formed message.
static int
s_command_origin (server_t *self, const uint8_t *data, size_t size, uint32_t *origin_node,
                  uint64_t *ticket)
{
    const uint8_t *at = data;
    const uint8_t *end = data + size;
    *origin_node = 0;
    *ticket = 0;
    while (at < end) {
        uint64_t key, value;
        if (s_read_varint (&at, end, &key))
            return -1;
        uint64_t field = key >> 3;
        switch (key & 7) {
        case 0: //  varint
            if (s_read_varint (&at, end, &value))
                return -1;
            if (field == self->origin_node_field)
                *origin_node = (uint32_t)value;
            else if (field == self->ticket_field)
                *ticket = value;
            break;
        case 1: //  64-bit
            if (end - at < 8)
                return -1;
            at += 8;
            break;
        case 2: //  length-delimited
            if (s_read_varint (&at, end, &value) || value > (uint64_t)(end - at))
                return -1;
            at += value;
            break;
        case 5: //  32-bit
            if (end - at < 4)
                return -1;
            at += 4;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

//  The request this node parked for a committed command, if any. Only the
//  proposer answers, so other nodes skip the decode while nothing waits.
static client_request_t *
s_waiter_of (server_t *self, const raft_entry_t *entry)
{
    if (zhashx_size (self->waiting) == 0)
        return NULL;
    uint32_t origin_node;
    uint64_t ticket;
    if (s_command_origin (self, entry->data, entry->size, &origin_node, &ticket) ||
        origin_node != self->node_id)
        return NULL;
    return s_unpark (self, ticket);
}

static void
s_apply_command (server_t *self, const raft_entry_t *entry)
{
    fsm_output_t output = {0};
    if (fsm_apply (self->fsm, entry->index, entry->data, entry->size, &output)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "state machine refused entry %" PRIu64,
                         entry->index);
        return;
    }
    client_request_t *request = s_waiter_of (self, entry);
    if (request) {
        if (output.reply) {
            if (!output.reply->index)
                output.reply->index = entry->index;
            s_reply (self, request, output.reply);
        } else
            s_reply_error (self, request, RAFTQ__CODE__INTERNAL, "no reply from the state machine");
        s_client_request_destroy (&request);
    }
    for (size_t position = 0; position < output.event_count; position++)
        s_publish (self, output.events[position]);
    fsm_output_clear (&output);
}

static void
s_apply_committed (server_t *self, const raft_actor_event_t *event)
{
    //  A subscription that reached the XPUB already counts for these events
    if (self->publisher)
        s_take_subscriptions (self);
    for (size_t position = 0; position < event->entry_count; position++) {
        const raft_entry_t *entry = &event->entries[position];
        uint64_t applied = fsm_applied_index (self->fsm);
        if (entry->index <= applied)
            continue;
        if (entry->index != applied + 1)
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                             "committed entry %" PRIu64 " does not follow applied %" PRIu64,
                             entry->index, applied);
        if (entry->type == RAFT_ENTRY_COMMAND)
            s_apply_command (self, entry);
        else if (fsm_skip (self->fsm, entry->index))
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                             "state machine refused entry %" PRIu64, entry->index);
        self->applied_term = entry->term;
    }
    if (event->commit_index > self->commit_index)
        self->commit_index = event->commit_index;
    self->last_index = event->last_index;
    s_resume_deferred (self);
}

//  ---------------------------------------------------------------------------
//  Snapshots: the broker owns the state machine, so it decides when to take
//  one (the log since the last passed snapshot_log_bytes, or a TakeSnapshot
//  request) and starts a snapshot job: a forked child packs and writes the
//  state as of the fork while this loop goes on applying, and reports on a
//  pipe the loop polls. Once durable, the Raft actor compacts its log. At
//  start and after InstallSnapshot the broker loads one.

//  Bytes a log record takes besides its payload (length, crc, term, index,
//  type): counting them makes many tiny entries count too.
#define SNAPSHOT_RECORD_OVERHEAD 25
//  After a job could not start or failed, the log-size trigger waits this
//  long before the next try (a TakeSnapshot request does not wait).
#define SNAPSHOT_RETRY_MS 5000

//  A TakeSnapshot request waiting for a snapshot that covers it.
typedef struct {
    client_request_t *request; //  owned until answered
    uint64_t covers;           //  applied index when it came: the snapshot must reach it
} snapshot_waiter_t;

//  A fresh, empty state machine with this node's settings.
static fsm_t *
s_fsm_new (server_t *self)
{
    fsm_options_t options = {.max_payload_bytes = self->config->max_payload_bytes,
                             .event_retention = self->config->event_retention};
    return fsm_new (&options);
}

//  Remembers the Raft membership a snapshot of the applied state must carry.
static void
s_keep_membership (server_t *self, const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc (size ? size : 1);
    if (!copy)
        return;
    if (size)
        memcpy (copy, data, size);
    free (self->membership);
    self->membership = copy;
    self->membership_size = size;
}

//  Replaces the state machine by snapshot's state and keeps its membership.
//  Returns 0, or -1 (logged) with the state untouched.
static int
s_adopt_snapshot (server_t *self, snapshot_t *snapshot)
{
    uint64_t index = snapshot_index (snapshot);
    fsm_t *fsm = s_fsm_new (self);
    char error[256] = "";
    if (!fsm || state_snapshot_restore (snapshot, fsm, error, sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot restore snapshot %" PRIu64 ": %s",
                         index, error);
        fsm_destroy (&fsm);
        return -1;
    }
    fsm_destroy (&self->fsm);
    self->fsm = fsm;
    self->applied_term = snapshot_term (snapshot);
    size_t size;
    const uint8_t *membership = snapshot_membership (snapshot, &size);
    s_keep_membership (self, membership, size);
    self->log_bytes_since_snapshot = 0;
    self->counted_index = index;
    self->snapshot_durable_index = index;
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "state restored from snapshot %" PRIu64,
                     index);
    return 0;
}

//  A leader's snapshot of index was installed: the state becomes its.
static int
s_load_installed_snapshot (server_t *self, uint64_t index)
{
    char report[1024] = "";
    snapshot_t *snapshot = snapshot_load (self->snapshot_dir, index, report, sizeof (report));
    int rc = -1;
    if (!snapshot || snapshot_index (snapshot) != index)
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot load snapshot %" PRIu64 ": %s",
                         index, report[0] ? report : "newest valid one is older");
    else
        rc = s_adopt_snapshot (self, snapshot);
    snapshot_destroy (&snapshot);
    return rc;
}

static int s_on_snapshot_job (zloop_t *loop, zmq_pollitem_t *item, void *argument);

//  Answers the TakeSnapshot requests a snapshot of index covers (reason
//  NULL), or all of them with code and reason (no snapshot came).
static void
s_answer_snapshot_waiters (server_t *self, uint64_t index, Raftq__Code code, const char *reason)
{
    snapshot_waiter_t *waiter = (snapshot_waiter_t *)zlistx_first (self->snapshot_waiting);
    while (waiter) {
        if (reason || waiter->covers <= index) {
            if (reason)
                s_reply_error (self, waiter->request, code, reason);
            else {
                Raftq__Reply reply = RAFTQ__REPLY__INIT;
                reply.code = RAFTQ__CODE__OK;
                reply.index = index;
                s_reply (self, waiter->request, &reply);
            }
            s_client_request_destroy (&waiter->request);
            free (waiter);
            zlistx_delete (self->snapshot_waiting, zlistx_cursor (self->snapshot_waiting));
        }
        waiter = (snapshot_waiter_t *)zlistx_next (self->snapshot_waiting);
    }
}

//  Forks a snapshot job of the applied state and polls its pipe. Returns
//  0, or -1 with error (logged): nothing runs then.
static int
s_start_snapshot (server_t *self, char *error, size_t error_size)
{
    uint64_t index = fsm_applied_index (self->fsm);
    if (!self->membership)
        snprintf (error, error_size, "the Raft configuration is not known yet");
    else
        self->snapshot_job =
            state_snapshot_job_start (self->snapshot_dir, self->fsm, self->applied_term,
                                      self->membership, self->membership_size, error, error_size);
    if (self->snapshot_job) {
        zmq_pollitem_t item = {NULL, snapshot_job_fd (self->snapshot_job), ZMQ_POLLIN, 0};
        self->snapshot_item = item;
        if (zloop_poller (self->loop, &self->snapshot_item, s_on_snapshot_job, self) == 0) {
            //  A hang-up is how the end of the job shows, not an error
            zloop_poller_set_tolerant (self->loop, &self->snapshot_item);
            self->log_bytes_since_snapshot = 0;
            return 0;
        }
        snapshot_job_destroy (&self->snapshot_job);
        snprintf (error, error_size, "cannot poll the snapshot job's pipe");
    }
    diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot start snapshot %" PRIu64 ": %s",
                     index, error);
    self->snapshot_retry_at = zclock_mono () + SNAPSHOT_RETRY_MS;
    return -1;
}

//  Starts a snapshot job if the log grew enough since the last snapshot
//  and none is being written.
static void
s_maybe_snapshot (server_t *self)
{
    if (self->snapshot_job || !self->membership || zclock_mono () < self->snapshot_retry_at ||
        self->log_bytes_since_snapshot < self->config->snapshot_log_bytes)
        return;
    char error[256] = "";
    s_start_snapshot (self, error, sizeof (error));
}

//  Counts the log bytes of newly applied entries and follows membership
//  changes, then snapshots if due.
static void
s_count_for_snapshot (server_t *self, const raft_actor_event_t *event)
{
    uint64_t applied = fsm_applied_index (self->fsm);
    for (size_t position = 0; position < event->entry_count; position++) {
        const raft_entry_t *entry = &event->entries[position];
        if (entry->index <= self->counted_index || entry->index > applied)
            continue;
        self->counted_index = entry->index;
        self->log_bytes_since_snapshot += entry->size + SNAPSHOT_RECORD_OVERHEAD;
        if (entry->type == RAFT_ENTRY_CONFIG)
            s_keep_membership (self, entry->data, entry->size);
    }
    s_maybe_snapshot (self);
}

//  The job's pipe is readable: once the child has ended, a durable snapshot
//  lets the actor compact its log and answers the requests it covers;
//  requests it does not cover get the next job.
static int
s_on_snapshot_job (zloop_t *loop, zmq_pollitem_t *item, void *argument)
{
    (void)item;
    server_t *self = (server_t *)argument;
    snapshot_job_t *job = self->snapshot_job;
    if (!job || snapshot_job_collect (job) == 0)
        return 0;
    zloop_poller_end (loop, &self->snapshot_item);
    uint64_t index = snapshot_job_index (job);
    if (snapshot_job_written (job)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "snapshot %" PRIu64 " written", index);
        if (index > self->snapshot_durable_index)
            self->snapshot_durable_index = index;
        if (raft_actor_compact (self->raft, index, snapshot_job_term (job)))
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                             "cannot ask the raft actor to compact");
        //  A leader's snapshot installed meanwhile may cover more
        s_answer_snapshot_waiters (self, self->snapshot_durable_index, RAFTQ__CODE__OK, NULL);
    } else {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "snapshot %" PRIu64 " failed: %s", index,
                         snapshot_job_reason (job));
        //  Still due: the log-size trigger tries again after a pause
        self->log_bytes_since_snapshot += self->config->snapshot_log_bytes;
        self->snapshot_retry_at = zclock_mono () + SNAPSHOT_RETRY_MS;
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__INTERNAL, snapshot_job_reason (job));
    }
    snapshot_job_destroy (&self->snapshot_job);
    char error[256] = "";
    if (zlistx_size (self->snapshot_waiting) && s_start_snapshot (self, error, sizeof (error)))
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__INTERNAL, error);
    return 0;
}

//  TakeSnapshot: answered once a snapshot that covers the state applied
//  now is durable and the log compaction behind it is asked for; at once
//  when the newest snapshot covers it already. Takes the request.
static void
s_serve_take_snapshot (server_t *self, client_request_t *request)
{
    uint64_t applied = fsm_applied_index (self->fsm);
    //  Just started: the configuration comes with the first entries applied
    if (!self->membership) {
        s_reply_error (self, request, RAFTQ__CODE__UNAVAILABLE,
                       "the Raft configuration is not known yet: retry shortly");
        s_client_request_destroy (&request);
        return;
    }
    snapshot_waiter_t *waiter = (snapshot_waiter_t *)calloc (1, sizeof (snapshot_waiter_t));
    if (!waiter) {
        s_reply_error (self, request, RAFTQ__CODE__INTERNAL, "out of memory");
        s_client_request_destroy (&request);
        return;
    }
    waiter->request = request;
    waiter->covers = applied;
    zlistx_add_end (self->snapshot_waiting, waiter);
    if (applied && applied <= self->snapshot_durable_index) {
        s_answer_snapshot_waiters (self, self->snapshot_durable_index, RAFTQ__CODE__OK, NULL);
        return;
    }
    //  One running already answers it if it covers it, else the next one
    char error[256] = "";
    if (!self->snapshot_job && s_start_snapshot (self, error, sizeof (error)))
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__INTERNAL, error);
}

//  At shutdown: a job still running is killed (its temporary removed) and
//  the requests waiting for it hear that their outcome is unknown.
static void
s_close_snapshots (server_t *self)
{
    snapshot_job_destroy (&self->snapshot_job);
    if (self->snapshot_waiting && self->clients)
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__UNAVAILABLE,
                                   "node shutting down: no snapshot taken");
    zlistx_destroy (&self->snapshot_waiting);
}

//  Restores the state from the newest valid snapshot,
//  which *start then describes for the Raft actor (index 0: none; its
//  membership borrowed from self).
static int
s_open_snapshots (server_t *self, raft_actor_snapshot_t *start)
{
    memset (start, 0, sizeof (*start));
    char node_dir[PATH_MAX];
    char path[PATH_MAX];
    if (node_dir_path (node_dir, sizeof (node_dir), self->config->data_dir, self->node_id) ||
        node_dir_snapshot_path (path, sizeof (path), node_dir))
        return -1;
    self->snapshot_dir = strdup (path);
    self->snapshot_waiting = zlistx_new ();
    if (!self->snapshot_dir || !self->snapshot_waiting)
        return -1;
    char report[1024] = "";
    snapshot_t *snapshot = snapshot_load (self->snapshot_dir, UINT64_MAX, report, sizeof (report));
    if (report[0])
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "snapshots: %s", report);
    if (!snapshot)
        return 0;
    int rc = s_adopt_snapshot (self, snapshot);
    if (rc == 0) {
        start->index = snapshot_index (snapshot);
        start->term = snapshot_term (snapshot);
        start->membership = self->membership;
        start->membership_size = self->membership_size;
    }
    snapshot_destroy (&snapshot);
    return rc;
}

static void
s_answer_rejected (server_t *self, const raft_actor_event_t *event)
{
    for (size_t position = 0; position < event->ticket_count; position++) {
        client_request_t *request = s_unpark (self, event->tickets[position]);
        if (request) {
            s_reply_not_leader (self, request, event->leader_id);
            s_client_request_destroy (&request);
        }
    }
}

static int
s_on_raft_event (zloop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    server_t *self = (server_t *)argument;
    for (int count = 0; count < DRAIN_LIMIT && (zsock_events (pipe) & ZMQ_POLLIN); count++) {
        raft_actor_event_t event;
        if (raft_actor_recv (self->raft, &event))
            continue;
        switch (event.kind) {
        case RAFT_ACTOR_COMMITTED:
            s_apply_committed (self, &event);
            s_count_for_snapshot (self, &event);
            break;
        case RAFT_ACTOR_REJECTED:
            s_answer_rejected (self, &event);
            break;
        case RAFT_ACTOR_INSTALLED:
            s_load_installed_snapshot (self, event.snapshot_index);
            break;
        case RAFT_ACTOR_STATE:
            self->role = event.role;
            self->term = event.term;
            self->leader_id = event.leader_id;
            self->commit_index = event.commit_index;
            self->last_index = event.last_index;
            s_resume_deferred (self);
            break;
        case RAFT_ACTOR_ADMINED:
            s_admin_answered (self, &event);
            break;
        case RAFT_ACTOR_MEMBERS:
            s_take_members (self, &event);
            break;
        case RAFT_ACTOR_PROGRESS:
            //  The raft handle keeps the latest for status (raft_actor_progress)
            break;
        }
        raft_actor_event_clear (&event);
    }
    s_admin_check (self);
    //  Logins resumed above may have proposed
    if (raft_actor_flush (self->raft))
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "cannot pass proposals to the raft actor");
    return 0;
}

//  ---------------------------------------------------------------------------
//  Lifecycle

static zsock_t *
s_bind (server_t *self, int type, const char *what, uint16_t port)
{
    zsock_t *socket = zsock_new (type);
    if (!socket)
        return NULL;
    zsock_set_linger (socket, 0);
    zsock_set_sndhwm (socket, CLIENT_SEND_HWM);
    if (type == ZMQ_ROUTER) {
        zsock_set_router_mandatory (socket, 0);
        int64_t largest = (int64_t)self->config->max_payload_bytes * CLIENT_MAX_MESSAGE_PAYLOADS +
                          REQUEST_OVERHEAD_BYTES;
        zsock_set_maxmsgsize (
            socket, (int)(largest > CLIENT_MAX_MESSAGE_FLOOR ? largest : CLIENT_MAX_MESSAGE_FLOOR));
    }
    char error[256];
    if (endpoint_bind (socket, self->node->host, port, error, sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "%s port: %s", what, error);
        zsock_destroy (&socket);
    }
    return socket;
}

static int
s_open (server_t *self)
{
    const config_t *config = self->config;
    //  The raft actor reports the configuration (MEMBERS) once it starts
    self->admin_waiting = zlistx_new ();
    if (!self->admin_waiting)
        return -1;

    self->fsm = s_fsm_new (self);
    self->waiting = s_waiting_table_new ();
    self->deadlines = zlistx_new ();
    self->hasher = hasher_new (0, 0);
    self->subscribed = zhashx_new ();
    if (!self->fsm || !self->waiting || !self->deadlines || !self->hasher || !self->subscribed)
        return -1;
    //  Tickets of an earlier run may still sit in the log: a fresh random
    //  high half keeps this run's tickets from matching them
    if (sodium_init () < 0)
        return -1;
    self->next_ticket = ((uint64_t)randombytes_random () << 32) + 1;
    //  For s_command_origin, from the generated descriptor: renumbering the
    //  proto cannot leave it reading the wrong fields
    const ProtobufCFieldDescriptor *origin_node = protobuf_c_message_descriptor_get_field_by_name (
        &raftq__state__command__descriptor, "origin_node");
    const ProtobufCFieldDescriptor *ticket = protobuf_c_message_descriptor_get_field_by_name (
        &raftq__state__command__descriptor, "ticket");
    if (!origin_node || !ticket)
        return -1;
    self->origin_node_field = origin_node->id;
    self->ticket_field = ticket->id;

    const config_node_t *node = self->node;
    self->clients = s_bind (self, ZMQ_ROUTER, "client", node->client_port);
    if (!self->clients)
        return -1;
    if (node->pub_port) {
        self->publisher = s_bind (self, ZMQ_XPUB, "pub", node->pub_port);
        if (!self->publisher)
            return -1;
    }
    //  The state first: the Raft actor starts from the same snapshot and
    //  replays only the log after it
    raft_actor_snapshot_t start;
    replica_options_t replica;
    if (s_open_snapshots (self, &start) ||
        replica_options_build (&replica, config, self->node_id, &start))
        return -1;
    self->raft = raft_actor_new (&replica.options);
    replica_options_release (&replica);
    if (!self->raft)
        return -1;

    self->loop = zloop_new ();
    if (!self->loop)
        return -1;
    zloop_reader (self->loop, self->clients, s_on_client_traffic, self);
    zloop_reader (self->loop, raft_actor_sock (self->raft), s_on_raft_event, self);
    zloop_reader (self->loop, hasher_sock (self->hasher), s_on_hasher_result, self);
    if (self->publisher)
        zloop_reader (self->loop, self->publisher, s_on_subscription, self);
    zloop_timer (self->loop, DEADLINE_CHECK_MS, 0, s_on_deadline_check, self);
    return 0;
}

//  At shutdown: admin requests still waiting may complete later.
static void
s_admin_abandon (server_t *self)
{
    while (self->admin_waiting && zlistx_first (self->admin_waiting))
        s_admin_finish (self, zlistx_cursor (self->admin_waiting), RAFTQ__CODE__UNAVAILABLE,
                        "node shutting down: outcome unknown");
}

server_t *
server_new (const config_t *config, uint32_t node_id)
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
    if (s_open (self)) {
        server_destroy (&self);
        return NULL;
    }
    char events[ENDPOINT_MAX] = "none";
    if (self->node->pub_port)
        endpoint_format (events, self->node->host, self->node->pub_port);
    diagnostic_line (
        node_id, DIAGNOSTIC_INFO,
        "serving cluster %s: clients tcp://%s:%u, peers tcp://%s:%u, events %s, data %s/node-%u",
        config->cluster, self->node->host, self->node->client_port, self->node->host,
        self->node->peer_port, events, config->data_dir, node_id);
    return self;
}

void
server_destroy (server_t **self_p)
{
    if (*self_p) {
        server_t *self = *self_p;
        zloop_destroy (&self->loop);
        raft_actor_destroy (&self->raft);
        hasher_destroy (&self->hasher);
        s_close_snapshots (self);
        free (self->snapshot_dir);
        free (self->membership);
        //  Requests still waiting may or may not commit later: say so
        //  rather than leave the clients to their own timeouts
        if (self->deadlines) {
            client_request_t *request = (client_request_t *)zlistx_first (self->deadlines);
            while (request) {
                request = s_unpark (self, request->ticket);
                s_reply_error (self, request, RAFTQ__CODE__UNAVAILABLE,
                               "node shutting down: outcome unknown");
                s_client_request_destroy (&request);
                request = (client_request_t *)zlistx_first (self->deadlines);
            }
        }
        if (self->clients)
            s_admin_abandon (self);
        zlistx_destroy (&self->admin_waiting);
        if (self->clients)
            zsock_set_linger (self->clients, SHUTDOWN_LINGER_MS);
        zsock_destroy (&self->clients);
        zsock_destroy (&self->publisher);
        zhashx_destroy (&self->subscribed);
        free (self->stream_buffer);
        zhashx_destroy (&self->waiting);
        zlistx_destroy (&self->deadlines);
        free (self->deferred);
        fsm_destroy (&self->fsm);
        free (self->members);
        free (self->configuration);
        free (self);
        *self_p = NULL;
    }
}

int
server_run (server_t *self)
{
    zloop_start (self->loop);
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "shutting down");
    return 0;
}
