/*  raftq_client — the client class: the cluster's endpoints and their
    sockets, finding and following the leader, exactly-once retries of
    synchronous calls, and the pipelined asynchronous API.

    One DEALER per node, created on first use with linger 0. A request that
    met silence gets its socket closed: that drops the request if it is
    still queued (a node that comes back must not receive it much later)
    and any late reply to it. Every reply is matched to its request by the
    seq the node echoes, so a stale reply is never taken for a fresh one.

    The chat session token lives here too, because every request carries
    it. The operations themselves are in raftq_queue.c, raftq_chat.c,
    raftq_admin.c, raftq_consume.c and raftq_status.c.
*/
#include <errno.h>
#include <limits.h>
#include <sodium.h>

#include "raftq_client.h"
#include "raftq_config.h"
#include "raftq_curve.h"

#define S_TOTAL_TIMEOUT_DEFAULT   5000 //  ms a synchronous call keeps trying
#define S_ATTEMPT_TIMEOUT_DEFAULT 1000 //  ms one node gets to answer
#define S_BACKOFF_MIN_MS          10   //  first pause before asking the next node
#define S_BACKOFF_MAX_MS          200  //  pauses double up to this
//  Messages a socket queues each way. Above libzmq's default so that a
//  pipelining client can keep a thousand or more requests in flight.
#define S_HIGH_WATER_MARK 10000
//  Longest wait a waiting call adds to its timeouts (ms): an hour
#define S_WAIT_MAX_MS 3600000

typedef struct {
    char *address;    //  "tcp://host:port" of a node's client port
    char *server_key; //  its CURVE public key (Z85), NULL if not known
    zsock_t *socket;  //  DEALER to it; NULL until used, or after it stayed silent
} endpoint_t;

struct _raftq_client_t {
    endpoint_t *endpoints;      //  configured nodes first, then any a hint named
    size_t endpoint_count;      //  how many endpoints are set
    size_t endpoint_capacity;   //  how many fit before the array grows
    zmq_pollitem_t *poll_items; //  scratch for polling the open sockets, endpoint_capacity long
    size_t *poll_owners;        //  endpoint index of each poll item, same length
    bool leader_known;          //  leader holds the last node that served a write
    size_t leader;              //  index of that node
    size_t next;                //  where round robin resumes when no leader is known
    uint64_t client_id;         //  random, nonzero; identifies us to the dedup table
    uint64_t seq;               //  last sequence number used; a retry reuses it
    int total_timeout_ms;       //  how long a synchronous call keeps trying
    int attempt_timeout_ms;     //  how long one node gets to answer
    int patient_attempt_ms;     //  a slow operation: how long the known leader gets, 0: none
    int wait_ms;                //  a waiting call: how long a leader may park it, 0: none
    char *token;                //  chat session token sent with requests, NULL if none
    char *admin_secret;         //  admin credential sent with admin requests, NULL if none
    zcert_t *key_pair;          //  our CURVE keys; NULL: plaintext sockets
    char error[512];            //  human text of the last failure
    uint32_t retry_after_ms;    //  the last failure's retry_after_ms (a throttle's wait), else 0
};

raftq_code_t
raftq_client_fail (raftq_client_t *self, raftq_code_t code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
    self->retry_after_ms = 0;
    return code;
}

//  Grows the endpoint array and its poll scratch arrays to hold one more.
static int
s_endpoints_grow (raftq_client_t *self)
{
    if (self->endpoint_count < self->endpoint_capacity)
        return 0;
    size_t capacity = self->endpoint_capacity ? self->endpoint_capacity * 2 : 4;
    endpoint_t *endpoints = (endpoint_t *)realloc (self->endpoints, capacity * sizeof (endpoint_t));
    if (!endpoints)
        return -1;
    self->endpoints = endpoints;
    zmq_pollitem_t *items =
        (zmq_pollitem_t *)realloc (self->poll_items, capacity * sizeof (zmq_pollitem_t));
    if (!items)
        return -1;
    self->poll_items = items;
    size_t *owners = (size_t *)realloc (self->poll_owners, capacity * sizeof (size_t));
    if (!owners)
        return -1;
    self->poll_owners = owners;
    self->endpoint_capacity = capacity;
    return 0;
}

//  Index of address among the endpoints, added at the end if new.
//  Returns -1 when out of memory.
static ssize_t
s_endpoint_index (raftq_client_t *self, const char *address)
{
    for (size_t index = 0; index < self->endpoint_count; index++)
        if (streq (self->endpoints[index].address, address))
            return (ssize_t)index;
    if (s_endpoints_grow (self) == -1)
        return -1;
    char *copy = strdup (address);
    if (!copy)
        return -1;
    self->endpoints[self->endpoint_count].address = copy;
    self->endpoints[self->endpoint_count].server_key = NULL;
    self->endpoints[self->endpoint_count].socket = NULL;
    return (ssize_t)self->endpoint_count++;
}

//  The endpoint's DEALER, connected on first use. NULL (error set) when the
//  address cannot be connected to, e.g. it is malformed.
static zsock_t *
s_endpoint_socket (raftq_client_t *self, size_t index)
{
    endpoint_t *endpoint = &self->endpoints[index];
    if (endpoint->socket)
        return endpoint->socket;
    zsock_t *socket = zsock_new (ZMQ_DEALER);
    if (!socket) {
        raftq_client_fail (self, RAFTQ_INTERNAL, "cannot create a socket: %s",
                           zmq_strerror (zmq_errno ()));
        return NULL;
    }
    //  A closed client must not hang the process on unsent requests.
    zsock_set_linger (socket, 0);
    zsock_set_sndhwm (socket, S_HIGH_WATER_MARK);
    zsock_set_rcvhwm (socket, S_HIGH_WATER_MARK);
    if (raftq_client_secure (self, index, socket) == -1) {
        zsock_destroy (&socket);
        return NULL;
    }
    if (zsock_connect (socket, "%s", endpoint->address) == -1) {
        raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "%s: cannot connect: %s",
                           endpoint->address, zmq_strerror (zmq_errno ()));
        zsock_destroy (&socket);
        return NULL;
    }
    endpoint->socket = socket;
    return socket;
}

static void
s_endpoint_close (raftq_client_t *self, size_t index)
{
    zsock_destroy (&self->endpoints[index].socket);
}

//  Where a request goes when nothing better is known.
static size_t
s_target (raftq_client_t *self)
{
    return self->leader_known ? self->leader : self->next % self->endpoint_count;
}

//  Forgets the leader and makes round robin resume after index.
static void
s_move_on (raftq_client_t *self, size_t index)
{
    self->leader_known = false;
    self->next = (index + 1) % self->endpoint_count;
}

static void
s_leader_is (raftq_client_t *self, size_t index)
{
    self->leader_known = true;
    self->leader = index;
    self->next = index;
}

//  Stamps request with a fresh sequence number and encodes it. NULL (error
//  set) when out of memory.
static uint8_t *
s_prepare (raftq_client_t *self, Raftq__Request *request, size_t *size)
{
    request->client_id = self->client_id;
    request->seq = ++self->seq;
    if (self->token && (!request->token || !*request->token))
        request->token = self->token;
    uint8_t *body = raftq_wire_encode (request, size);
    if (!body)
        raftq_client_fail (self, RAFTQ_INTERNAL, "out of memory");
    return body;
}

//  Reads replies on socket until the one for seq, discarding others (late
//  answers to earlier requests), or until deadline. Returns the reply, or
//  NULL on deadline or interruption.
static Raftq__Reply *
s_wait_reply (zsock_t *socket, uint64_t seq, int64_t deadline)
{
    zmq_pollitem_t item = {zsock_resolve (socket), 0, ZMQ_POLLIN, 0};
    while (true) {
        Raftq__Reply *reply = raftq_wire_receive (socket);
        if (reply) {
            if (reply->seq == seq)
                return reply;
            raftq__reply__free_unpacked (reply, NULL);
            continue;
        }
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0)
            return NULL;
        if (zmq_poll (&item, 1, (long)remaining) == -1)
            return NULL;
    }
}

//  Sends body to the endpoint at index and waits for its reply until
//  deadline. Returns the reply, or NULL (error set) when none came; then
//  the socket is closed, dropping the request and any late reply to it.
static Raftq__Reply *
s_attempt (raftq_client_t *self, size_t index, const uint8_t *body, size_t size, uint64_t seq,
           int64_t deadline)
{
    zsock_t *socket = s_endpoint_socket (self, index);
    if (!socket)
        return NULL;
    int64_t started = zclock_mono ();
    Raftq__Reply *reply = NULL;
    if (raftq_wire_send (socket, body, size) == 0)
        reply = s_wait_reply (socket, seq, deadline);
    if (!reply) {
        s_endpoint_close (self, index);
        raftq_client_fail (self, RAFTQ_TIMEOUT, "%s: no reply within %d ms",
                           self->endpoints[index].address, (int)(zclock_mono () - started));
    }
    return reply;
}

//  Takes the failure text of a reply, or says which node gave the code.
static void
s_reply_failure (raftq_client_t *self, const Raftq__Reply *reply, size_t index)
{
    raftq_code_t code = raftq_wire_code (reply);
    if (reply->error && *reply->error)
        raftq_client_fail (self, code, "%s", reply->error);
    else
        raftq_client_fail (self, code, "%s from %s", raftq_code_name (code),
                           self->endpoints[index].address);
    self->retry_after_ms = reply->retry_after_ms;
}

//  Pauses before asking the next node, without passing the deadline, and
//  doubles the next pause.
static void
s_backoff (int *backoff_ms, int64_t deadline)
{
    int64_t remaining = deadline - zclock_mono ();
    int pause = remaining < *backoff_ms ? (int)(remaining > 0 ? remaining : 0) : *backoff_ms;
    if (pause > 0)
        zclock_sleep (pause);
    *backoff_ms = *backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : *backoff_ms * 2;
}

//  True for the codes that mean "this node cannot serve it now, another
//  node or a later try may": the client retries those with the same seq.
static bool
s_code_is_transient (raftq_code_t code)
{
    return code == RAFTQ_NOT_LEADER || code == RAFTQ_NO_LEADER || code == RAFTQ_UNAVAILABLE ||
           code == RAFTQ_TIMEOUT;
}

//  How long the node at target gets to answer. A slow operation (a learner
//  catching up before AddNode answers) is waited for only at the known
//  leader: a node that is down or cut off must cost a search no more than
//  an ordinary attempt, or one dead node would eat the whole call.
//  A waiting call may be parked by whichever node leads, known or not, so
//  every attempt gets its wait on top (a follower answers NOT_LEADER at once).
static int
s_attempt_ms (raftq_client_t *self, size_t target)
{
    if (self->patient_attempt_ms > self->attempt_timeout_ms && self->leader_known &&
        self->leader == target)
        return self->patient_attempt_ms;
    return self->attempt_timeout_ms + self->wait_ms;
}

raftq_code_t
raftq_client_call (raftq_client_t *self, Raftq__Request *request, Raftq__Reply **reply_p)
{
    *reply_p = NULL;
    size_t size;
    uint8_t *body = s_prepare (self, request, &size);
    if (!body)
        return RAFTQ_INTERNAL;

    int64_t deadline = zclock_mono () + self->total_timeout_ms;
    size_t target = s_target (self);
    int backoff_ms = S_BACKOFF_MIN_MS;
    bool followed_hint = false;
    raftq_code_t code =
        raftq_client_fail (self, RAFTQ_TIMEOUT, "no reply within %d ms", self->total_timeout_ms);

    while (!zsys_interrupted && zclock_mono () < deadline) {
        int64_t started = zclock_mono ();
        int64_t attempt_end = started + s_attempt_ms (self, target);
        Raftq__Reply *reply = s_attempt (self, target, body, size, request->seq,
                                         attempt_end < deadline ? attempt_end : deadline);
        if (!reply) {
            code = RAFTQ_TIMEOUT;
            s_move_on (self, target);
            target = self->next;
            //  Silence normally took the whole attempt; a socket that could
            //  not even be used must not turn this loop into a busy spin.
            if (zclock_mono () - started < S_BACKOFF_MIN_MS)
                s_backoff (&backoff_ms, deadline);
            continue;
        }
        code = raftq_wire_code (reply);
        if (!s_code_is_transient (code)) {
            s_leader_is (self, target);
            if (code == RAFTQ_OK)
                self->error[0] = 0;
            else
                s_reply_failure (self, reply, target);
            *reply_p = reply;
            break;
        }
        s_reply_failure (self, reply, target);
        ssize_t hinted = -1;
        if (code == RAFTQ_NOT_LEADER && reply->leader_endpoint && *reply->leader_endpoint &&
            !streq (reply->leader_endpoint, self->endpoints[target].address))
            hinted = s_endpoint_index (self, reply->leader_endpoint);
        raftq__reply__free_unpacked (reply, NULL);

        if (hinted >= 0) {
            //  A fresh hint is worth following at once; hints that keep
            //  pointing elsewhere mean an election is settling: slow down.
            if (followed_hint)
                s_backoff (&backoff_ms, deadline);
            followed_hint = true;
            s_leader_is (self, (size_t)hinted);
            target = (size_t)hinted;
        } else {
            followed_hint = false;
            s_move_on (self, target);
            target = self->next;
            s_backoff (&backoff_ms, deadline);
        }
    }
    free (body);
    if (!*reply_p && code != RAFTQ_OK) {
        char last[sizeof (self->error)];
        snprintf (last, sizeof (last), "%s", self->error);
        raftq_client_fail (self, code, "gave up after %d ms: %s", self->total_timeout_ms, last);
    }
    return code;
}

raftq_client_t *
raftq_client_new (const char **endpoints, size_t count)
{
    if (!endpoints || count == 0)
        return NULL;
    for (size_t index = 0; index < count; index++)
        if (!endpoints[index] || !*endpoints[index])
            return NULL;
    if (sodium_init () == -1)
        return NULL;

    raftq_client_t *self = (raftq_client_t *)zmalloc (sizeof (raftq_client_t));
    if (!self)
        return NULL;
    self->total_timeout_ms = S_TOTAL_TIMEOUT_DEFAULT;
    self->attempt_timeout_ms = S_ATTEMPT_TIMEOUT_DEFAULT;
    //  0 would read as "no retry protection" on the nodes.
    while (self->client_id == 0)
        randombytes_buf (&self->client_id, sizeof (self->client_id));
    for (size_t index = 0; index < count; index++)
        if (s_endpoint_index (self, endpoints[index]) == -1) {
            raftq_client_destroy (&self);
            return NULL;
        }
    return self;
}

raftq_client_t *
raftq_client_new_curve (const char **endpoints, const char **server_keys, size_t count,
                        const char *client_certificate, char *error, size_t error_size)
{
    //  Bad keys are reported now, not as silence at the first call.
    for (size_t index = 0; server_keys && index < count; index++)
        if (raftq_curve_check_key (server_keys[index],
                                   endpoints && endpoints[index] ? endpoints[index] : "endpoint",
                                   error, error_size) == -1)
            return NULL;
    zcert_t *key_pair =
        server_keys ? raftq_curve_key_pair (client_certificate, error, error_size) : NULL;
    if (server_keys && !key_pair)
        return NULL;
    raftq_client_t *self = raftq_client_new (endpoints, count);
    if (!self) {
        zcert_destroy (&key_pair);
        snprintf (error, error_size, "no endpoints, or an empty one");
        errno = EINVAL;
        return NULL;
    }
    self->key_pair = key_pair;
    for (size_t index = 0; server_keys && index < count; index++) {
        //  The same endpoint given twice is one node: its last key counts.
        ssize_t position = s_endpoint_index (self, endpoints[index]);
        if (raftq_client_set_server_key (self, (size_t)position, server_keys[index]) == -1) {
            snprintf (error, error_size, "%s", self->error);
            raftq_client_destroy (&self);
            return NULL;
        }
    }
    return self;
}

raftq_client_t *
raftq_client_load (const char *config_path, const char *client_certificate, char *error,
                   size_t error_size)
{
    raftq_config_nodes_t nodes;
    if (raftq_config_nodes_read (&nodes, config_path, client_certificate, error, error_size))
        return NULL;
    raftq_client_t *self =
        raftq_client_new_curve ((const char **)nodes.endpoints, (const char **)nodes.server_keys,
                                nodes.count, nodes.certificate, error, error_size);
    raftq_config_nodes_clear (&nodes);
    //  Without a secret the client still serves everything but admin calls
    char secret_error[512];
    char *secret =
        self ? raftq_config_admin_secret (config_path, secret_error, sizeof (secret_error)) : NULL;
    if (secret && raftq_client_set_admin_secret (self, secret)) {
        raftq_client_destroy (&self);
        snprintf (error, error_size, "out of memory");
        errno = ENOMEM;
    }
    if (secret)
        sodium_memzero (secret, strlen (secret));
    free (secret);
    return self;
}

raftq_client_t *
raftq_client_new_from_config (const char *config_path)
{
    char error[512];
    return raftq_client_load (config_path, NULL, error, sizeof (error));
}

int
raftq_client_set_server_key (raftq_client_t *self, size_t index, const char *server_key)
{
    if (index >= self->endpoint_count) {
        raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "no endpoint %zu", index);
        errno = EINVAL;
        return -1;
    }
    endpoint_t *endpoint = &self->endpoints[index];
    char *copy = NULL;
    if (raftq_curve_check_key (server_key, endpoint->address, self->error, sizeof (self->error)) ==
            -1 ||
        !(copy = strdup (server_key)))
        return -1;
    free (endpoint->server_key);
    endpoint->server_key = copy;
    //  A socket made with the old key (or none) must not be used again.
    s_endpoint_close (self, index);
    return 0;
}

int
raftq_client_secure (raftq_client_t *self, size_t index, zsock_t *socket)
{
    if (!self->key_pair)
        return 0;
    endpoint_t *endpoint = &self->endpoints[index];
    if (!endpoint->server_key) {
        raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT,
                           "%s: no CURVE public key known for this node "
                           "(raftq_client_set_server_key)",
                           endpoint->address);
        return -1;
    }
    raftq_curve_apply (self->key_pair, socket, endpoint->server_key);
    return 0;
}

void
raftq_client_destroy (raftq_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    raftq_client_t *self = *self_p;
    for (size_t index = 0; index < self->endpoint_count; index++) {
        zsock_destroy (&self->endpoints[index].socket);
        free (self->endpoints[index].address);
        free (self->endpoints[index].server_key);
    }
    free (self->endpoints);
    free (self->poll_items);
    free (self->poll_owners);
    free (self->token);
    if (self->admin_secret)
        sodium_memzero (self->admin_secret, strlen (self->admin_secret));
    free (self->admin_secret);
    zcert_destroy (&self->key_pair);
    free (self);
    *self_p = NULL;
}

//  raftq_client_call with the timeouts of one call stretched: the known
//  leader's attempt to patient_attempt_ms, every attempt by wait_ms, the
//  whole call to total_ms.
static raftq_code_t
s_call_stretched (raftq_client_t *self, Raftq__Request *request, Raftq__Reply **reply_p,
                  int patient_attempt_ms, int wait_ms, int total_ms)
{
    int saved_total_ms = self->total_timeout_ms;
    self->patient_attempt_ms = patient_attempt_ms;
    self->wait_ms = wait_ms;
    self->total_timeout_ms = total_ms;
    raftq_code_t code = raftq_client_call (self, request, reply_p);
    self->patient_attempt_ms = 0;
    self->wait_ms = 0;
    self->total_timeout_ms = saved_total_ms;
    return code;
}

raftq_code_t
raftq_client_call_patient (raftq_client_t *self, Raftq__Request *request, Raftq__Reply **reply_p,
                           int attempt_ms, int total_ms)
{
    return s_call_stretched (self, request, reply_p, attempt_ms, 0,
                             self->total_timeout_ms < total_ms ? total_ms : self->total_timeout_ms);
}

raftq_code_t
raftq_client_call_waiting (raftq_client_t *self, Raftq__Request *request, Raftq__Reply **reply_p,
                           uint32_t wait_ms)
{
    //  Bounded so that the sums below stay ints; a cluster bounds waits
    //  by its request timeout, far below this anyway.
    int wait = wait_ms > S_WAIT_MAX_MS ? S_WAIT_MAX_MS : (int)wait_ms;
    int total = self->total_timeout_ms > INT_MAX - wait ? INT_MAX : self->total_timeout_ms + wait;
    return s_call_stretched (self, request, reply_p, 0, wait, total);
}

void
raftq_client_set_timeout (raftq_client_t *self, int total_ms)
{
    self->total_timeout_ms = total_ms > 0 ? total_ms : 1;
}

void
raftq_client_set_attempt_timeout (raftq_client_t *self, int attempt_ms)
{
    self->attempt_timeout_ms = attempt_ms > 0 ? attempt_ms : 1;
}

int
raftq_client_attempt_timeout (raftq_client_t *self)
{
    return self->attempt_timeout_ms;
}

uint64_t
raftq_client_id (raftq_client_t *self)
{
    return self->client_id;
}

int
raftq_client_patience (raftq_client_t *self, int minimum_ms)
{
    int longest = self->total_timeout_ms > self->attempt_timeout_ms ? self->total_timeout_ms
                                                                    : self->attempt_timeout_ms;
    return longest > minimum_ms ? longest : minimum_ms;
}

int
raftq_client_add_endpoint (raftq_client_t *self, const char *endpoint, size_t *index_p)
{
    if (!endpoint || !*endpoint)
        return -1;
    ssize_t index = s_endpoint_index (self, endpoint);
    if (index < 0)
        return -1;
    if (index_p)
        *index_p = (size_t)index;
    return 0;
}

size_t
raftq_client_endpoint_count (raftq_client_t *self)
{
    return self->endpoint_count;
}

const char *
raftq_client_endpoint (raftq_client_t *self, size_t index)
{
    return index < self->endpoint_count ? self->endpoints[index].address : NULL;
}

const char *
raftq_client_leader (raftq_client_t *self)
{
    return self->leader_known ? self->endpoints[self->leader].address : NULL;
}

const char *
raftq_client_error (raftq_client_t *self)
{
    return self->error;
}

uint32_t
raftq_client_retry_after (raftq_client_t *self)
{
    assert (self);
    return self->error[0] ? self->retry_after_ms : 0;
}

int
raftq_client_set_token (raftq_client_t *self, const char *token)
{
    char *copy = NULL;
    if (token && *token) {
        copy = strdup (token);
        if (!copy)
            return -1;
    }
    free (self->token);
    self->token = copy;
    return 0;
}

int
raftq_client_set_admin_secret (raftq_client_t *self, const char *secret)
{
    char *copy = NULL;
    if (secret && *secret && !(copy = strdup (secret)))
        return -1;
    if (self->admin_secret)
        sodium_memzero (self->admin_secret, strlen (self->admin_secret));
    free (self->admin_secret);
    self->admin_secret = copy;
    return 0;
}

const char *
raftq_client_admin_secret (raftq_client_t *self)
{
    return self->admin_secret;
}

const char *
raftq_client_token (raftq_client_t *self)
{
    return self->token;
}

bool
raftq_client_given (raftq_client_t *self, const char *text, const char *what)
{
    if (text && *text)
        return true;
    raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "%s is missing", what);
    return false;
}

raftq_code_t
raftq_client_missing_result (raftq_client_t *self, const char *what)
{
    return raftq_client_fail (self, RAFTQ_INTERNAL, "reply says OK but carries no %s", what);
}

raftq_code_t
raftq_client_ask_node (raftq_client_t *self, size_t index, Raftq__Request *request, int wait_ms,
                       Raftq__Reply **reply_p)
{
    *reply_p = NULL;
    if (index >= self->endpoint_count)
        return raftq_client_fail (self, RAFTQ_INVALID_ARGUMENT, "no endpoint %zu", index);
    size_t size;
    uint8_t *body = s_prepare (self, request, &size);
    if (!body)
        return RAFTQ_INTERNAL;
    Raftq__Reply *reply =
        s_attempt (self, index, body, size, request->seq, zclock_mono () + wait_ms);
    free (body);
    if (!reply)
        return RAFTQ_TIMEOUT;
    raftq_code_t code = raftq_wire_code (reply);
    if (code != RAFTQ_OK) {
        s_reply_failure (self, reply, index);
        raftq__reply__free_unpacked (reply, NULL);
        return code;
    }
    self->error[0] = 0;
    *reply_p = reply;
    return RAFTQ_OK;
}

int
raftq_client_send (raftq_client_t *self, Raftq__Request *request, uint64_t *seq_p)
{
    size_t size;
    uint8_t *body = s_prepare (self, request, &size);
    if (!body)
        return -1;
    size_t target = s_target (self);
    zsock_t *socket = s_endpoint_socket (self, target);
    int rc = socket ? raftq_wire_send (socket, body, size) : -1;
    free (body);
    if (socket && rc == -1)
        raftq_client_fail (self, RAFTQ_UNAVAILABLE, "%s: send queue is full",
                           self->endpoints[target].address);
    if (rc == 0 && seq_p)
        *seq_p = request->seq;
    return rc;
}

void
raftq_client_move_on (raftq_client_t *self)
{
    size_t target = s_target (self);
    s_endpoint_close (self, target);
    s_move_on (self, target);
}

//  What an asynchronous reply from the endpoint at index teaches about the
//  leader, so that later sends go to the right node.
static void
s_learn (raftq_client_t *self, size_t index, const Raftq__Reply *reply)
{
    raftq_code_t code = raftq_wire_code (reply);
    if (!s_code_is_transient (code)) {
        s_leader_is (self, index);
        return;
    }
    if (code == RAFTQ_NOT_LEADER && reply->leader_endpoint && *reply->leader_endpoint &&
        !streq (reply->leader_endpoint, self->endpoints[index].address)) {
        ssize_t hinted = s_endpoint_index (self, reply->leader_endpoint);
        if (hinted >= 0) {
            s_leader_is (self, (size_t)hinted);
            return;
        }
    }
    //  Only move on if this node is still where sends go; a reply from an
    //  old leader must not undo what a newer reply taught.
    if (s_target (self) == index)
        s_move_on (self, index);
}

//  Fills the client's poll items with its open sockets; returns how many.
static size_t
s_poll_items (raftq_client_t *self)
{
    size_t count = 0;
    for (size_t index = 0; index < self->endpoint_count; index++)
        if (self->endpoints[index].socket) {
            zmq_pollitem_t item = {zsock_resolve (self->endpoints[index].socket), 0, ZMQ_POLLIN, 0};
            self->poll_items[count] = item;
            self->poll_owners[count] = index;
            count++;
        }
    return count;
}

int
raftq_receive (raftq_client_t *self, int timeout_ms, raftq_reply_t *reply)
{
    int64_t deadline = zclock_mono () + (timeout_ms > 0 ? timeout_ms : 0);
    while (true) {
        for (size_t index = 0; index < self->endpoint_count; index++) {
            if (!self->endpoints[index].socket)
                continue;
            Raftq__Reply *received = raftq_wire_receive (self->endpoints[index].socket);
            if (received) {
                s_learn (self, index, received);
                raftq_wire_summary (received, reply);
                if (reply->code != RAFTQ_OK)
                    s_reply_failure (self, received, index);
                raftq__reply__free_unpacked (received, NULL);
                return 0;
            }
        }
        long wait_ms = -1;
        if (timeout_ms >= 0) {
            int64_t remaining = deadline - zclock_mono ();
            if (remaining <= 0)
                return -1;
            wait_ms = (long)remaining;
        }
        size_t count = s_poll_items (self);
        if (count == 0)
            return -1; //  nothing sent yet: nothing can arrive
        if (zmq_poll (self->poll_items, (int)count, wait_ms) == -1)
            return -1;
    }
}

int
raftq_wait (raftq_client_t **clients, size_t count, int timeout_ms, bool *ready)
{
    size_t total = 0;
    for (size_t client = 0; client < count; client++) {
        ready[client] = false;
        total += clients[client]->endpoint_count;
    }
    if (total == 0)
        return 0;
    zmq_pollitem_t *items = (zmq_pollitem_t *)calloc (total, sizeof (zmq_pollitem_t));
    size_t *owners = (size_t *)calloc (total, sizeof (size_t));
    int ready_count = -1;
    if (items && owners) {
        size_t used = 0;
        for (size_t client = 0; client < count; client++) {
            size_t open = s_poll_items (clients[client]);
            memcpy (items + used, clients[client]->poll_items, open * sizeof (zmq_pollitem_t));
            for (size_t item = 0; item < open; item++)
                owners[used + item] = client;
            used += open;
        }
        if (used > 0 && zmq_poll (items, (int)used, timeout_ms) != -1) {
            ready_count = 0;
            for (size_t item = 0; item < used; item++)
                if ((items[item].revents & ZMQ_POLLIN) && !ready[owners[item]]) {
                    ready[owners[item]] = true;
                    ready_count++;
                }
        } else if (used == 0)
            ready_count = 0;
    }
    free (items);
    free (owners);
    return ready_count;
}
