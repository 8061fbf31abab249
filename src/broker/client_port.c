/*  client_port — the client ROUTER: envelopes, size checks, decoding and
    replies; see client_port.h.
*/
#include "broker/client_port.h"

#include <sodium.h>
#include <stdatomic.h>

#include "util/diagnostic.h"
#include "util/endpoint.h"

//  Room for the envelope of a request around its largest payload.
#define REQUEST_OVERHEAD_BYTES 4096
//  A client frame bigger than this many payloads (or than the floor) costs
//  the client its connection. The room lets JSON escape every byte of a
//  valid payload.
#define CLIENT_MAX_MESSAGE_PAYLOADS 8
#define CLIENT_MAX_MESSAGE_FLOOR    (64 * 1024 * 1024)
//  Frames of a client request kept after its routing id: delimiter, body.
#define CLIENT_MESSAGE_PARTS_KEPT 2
//  At most one complaint per second about malformed client traffic.
#define BAD_INPUT_LOG_PERIOD_MS 1000
//  How often connections with nothing unsent leave the table of
//  unsent bytes.
#define UNSENT_SWEEP_MS 1000
//  Room for a routing id (at most 255 bytes) in hex.
#define ROUTING_KEY_SIZE 512

//  The reply bytes of one connection that libzmq holds: added when a reply
//  is sent, taken off by libzmq's I/O thread when it lets go of the body
//  (written to the kernel, or dropped). Freed by whoever drops the last
//  reference: the table, or the last body in flight.
typedef struct {
    atomic_size_t bytes;   //  reply bytes given to libzmq and not yet let go
    atomic_size_t holders; //  the table, plus each body in flight
} s_unsent_t;

//  One reply body in libzmq's hands.
typedef struct {
    s_unsent_t *unsent; //  its connection's count
    size_t size;        //  its bytes
} s_flight_t;

//  A reply held back until client_port_release: its envelope copied (the
//  request goes before then), its body and its place in the count.
typedef struct {
    uint8_t routing_id[256]; //  the connection's routing id
    size_t routing_size;     //  its bytes
    bool delimited;          //  an empty delimiter frame goes before the body
    uint8_t *body;           //  the encoded reply
    size_t size;             //  its bytes
    s_flight_t *flight;      //  counted in its connection's unsent bytes
} s_held_t;

struct _client_port_t {
    zsock_t *socket;                        //  the ROUTER on the client port
    uint32_t node_id;                       //  marks complaints
    size_t request_limit;                   //  bytes of the largest request answered normally
    size_t reply_limit;                     //  unsent reply bytes one connection may have
    zhashx_t *unsent;                       //  routing id (hex) -> its s_unsent_t
    int64_t next_sweep;                     //  zclock_mono of the next sweep of unsent
    diagnostic_limiter_t bad_input_limiter; //  bounds complaints about client traffic
    metrics_t *metrics;                     //  counts replies (borrowed), NULL: none
    bool holding;                           //  replies wait in held until release
    s_held_t *held;                         //  replies held back, in order
    size_t held_count;                      //  replies in held
    size_t held_capacity;                   //  replies held has room for
};

static void
s_unsent_release (s_unsent_t *unsent)
{
    if (atomic_fetch_sub (&unsent->holders, 1) == 1)
        free (unsent);
}

static void
s_unsent_destructor (void **item)
{
    s_unsent_release ((s_unsent_t *)*item);
    *item = NULL;
}

//  libzmq's free function for a reply body, on whichever thread lets go.
static void
s_body_free (void *data, void *hint)
{
    s_flight_t *flight = (s_flight_t *)hint;
    atomic_fetch_sub (&flight->unsent->bytes, flight->size);
    s_unsent_release (flight->unsent);
    free (flight);
    free (data);
}

int
client_port_max_message_size (uint32_t max_payload_bytes)
{
    int64_t largest =
        (int64_t)max_payload_bytes * CLIENT_MAX_MESSAGE_PAYLOADS + REQUEST_OVERHEAD_BYTES;
    return (int)(largest > CLIENT_MAX_MESSAGE_FLOOR ? largest : CLIENT_MAX_MESSAGE_FLOOR);
}

client_port_t *
client_port_new (zsock_t **socket_p, uint32_t node_id, uint32_t max_payload_bytes,
                 size_t max_reply_bytes)
{
    client_port_t *self = calloc (1, sizeof (client_port_t));
    if (self && !(self->unsent = zhashx_new ()))
        free (self), self = NULL;
    if (!self) {
        zsock_destroy (socket_p);
        return NULL;
    }
    self->socket = *socket_p;
    *socket_p = NULL;
    self->node_id = node_id;
    self->request_limit = (size_t)max_payload_bytes + REQUEST_OVERHEAD_BYTES;
    self->reply_limit = max_reply_bytes;
    zhashx_set_destructor (self->unsent, s_unsent_destructor);
    return self;
}

void
client_port_destroy (client_port_t **self_p, int linger_ms)
{
    if (*self_p) {
        client_port_t *self = *self_p;
        zsock_set_linger (self->socket, linger_ms);
        zsock_destroy (&self->socket);
        //  Bodies still in flight keep their entries alive
        for (size_t at = 0; at < self->held_count; at++)
            s_body_free (self->held[at].body, self->held[at].flight);
        free (self->held);
        zhashx_destroy (&self->unsent);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
client_port_sock (client_port_t *self)
{
    return self->socket;
}

static void
s_complain (client_port_t *self, const char *what)
{
    diagnostic_dropped (&self->bad_input_limiter, zclock_mono (), BAD_INPUT_LOG_PERIOD_MS,
                        self->node_id, "client port", what);
}

//  Forgets the connections with nothing unsent (gone ones included).
static void
s_sweep_unsent (client_port_t *self)
{
    zlistx_t *idle = zlistx_new ();
    if (!idle)
        return;
    for (s_unsent_t *unsent = (s_unsent_t *)zhashx_first (self->unsent); unsent;
         unsent = (s_unsent_t *)zhashx_next (self->unsent))
        if (atomic_load (&unsent->bytes) == 0)
            zlistx_add_end (idle, (void *)zhashx_cursor (self->unsent));
    for (void *key = zlistx_first (idle); key; key = zlistx_next (idle))
        zhashx_delete (self->unsent, key);
    zlistx_destroy (&idle);
}

//  The unsent bytes of request's connection, NULL when out of memory.
static s_unsent_t *
s_unsent_of (client_port_t *self, client_request_t *request)
{
    int64_t now = zclock_mono ();
    if (now >= self->next_sweep) {
        s_sweep_unsent (self);
        self->next_sweep = now + UNSENT_SWEEP_MS;
    }
    //  Not snprintf per byte: twice a request, that was 5% of the leader's
    //  broker at W1
    char key[ROUTING_KEY_SIZE + 1];
    size_t id_size = zframe_size (request->routing_id);
    sodium_bin2hex (key, sizeof key, zframe_data (request->routing_id),
                    id_size < ROUTING_KEY_SIZE / 2 ? id_size : ROUTING_KEY_SIZE / 2);
    s_unsent_t *unsent = (s_unsent_t *)zhashx_lookup (self->unsent, key);
    if (!unsent && (unsent = calloc (1, sizeof (s_unsent_t)))) {
        atomic_init (&unsent->bytes, 0);
        atomic_init (&unsent->holders, 1);
        if (zhashx_insert (self->unsent, key, unsent))
            free (unsent), unsent = NULL;
    }
    return unsent;
}

//  Sends a reply whose body (with flight) is counted already; a reply
//  that cannot go is let go of as libzmq would.
static void
s_transmit (client_port_t *self, const uint8_t *routing_id, size_t routing_size, bool delimited,
            uint8_t *body, size_t size, s_flight_t *flight)
{
    void *socket = zsock_resolve (self->socket);
    int rc = zmq_send (socket, routing_id, routing_size, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc != -1 && delimited)
        rc = zmq_send (socket, NULL, 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_msg_t message;
    if (rc == -1 || zmq_msg_init_data (&message, body, size, s_body_free, flight)) {
        s_body_free (body, flight);
        return;
    }
    //  Not sent (a saturated or gone client): closing lets go of it
    if (zmq_msg_send (&message, socket, ZMQ_DONTWAIT) == -1)
        zmq_msg_close (&message);
}

//  A slot for one more held reply whose routing id has routing_size
//  bytes; NULL when it cannot be held (then it is sent at once).
static s_held_t *
s_held_slot (client_port_t *self, size_t routing_size)
{
    if (!self->holding || routing_size > sizeof self->held->routing_id)
        return NULL;
    if (self->held_count == self->held_capacity) {
        size_t capacity = self->held_capacity ? self->held_capacity * 2 : 64;
        s_held_t *grown = realloc (self->held, capacity * sizeof (s_held_t));
        if (!grown)
            return NULL;
        self->held = grown;
        self->held_capacity = capacity;
    }
    return &self->held[self->held_count++];
}

//  Hands body (size bytes, taken) to libzmq for the client of request,
//  counted as unsent until libzmq lets go of it; held back instead while
//  the port holds replies.
static void
s_send (client_port_t *self, client_request_t *request, uint8_t *body, size_t size,
        s_unsent_t *unsent)
{
    s_flight_t *flight = malloc (sizeof (s_flight_t));
    if (!flight) {
        free (body);
        return;
    }
    flight->unsent = unsent;
    flight->size = size;
    atomic_fetch_add (&unsent->holders, 1);
    atomic_fetch_add (&unsent->bytes, size);
    size_t routing_size = zframe_size (request->routing_id);
    s_held_t *held = s_held_slot (self, routing_size);
    if (!held) {
        s_transmit (self, zframe_data (request->routing_id), routing_size, request->delimited, body,
                    size, flight);
        return;
    }
    memcpy (held->routing_id, zframe_data (request->routing_id), routing_size);
    held->routing_size = routing_size;
    held->delimited = request->delimited;
    held->body = body;
    held->size = size;
    held->flight = flight;
}

void
client_port_hold (client_port_t *self)
{
    self->holding = true;
}

void
client_port_release (client_port_t *self)
{
    self->holding = false;
    for (size_t at = 0; at < self->held_count; at++) {
        s_held_t *held = &self->held[at];
        s_transmit (self, held->routing_id, held->routing_size, held->delimited, held->body,
                    held->size, held->flight);
    }
    self->held_count = 0;
}

//  reply encoded for request (caller frees), NULL when out of memory.
static uint8_t *
s_encode (client_port_t *self, client_request_t *request, Raftq__Reply *reply, size_t *size)
{
    reply->seq = request->decoded.request ? request->decoded.request->seq : 0;
    uint8_t *body = codec_reply_encode (&request->decoded, reply, size);
    if (!body)
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "out of memory encoding a reply");
    return body;
}

void
client_port_reply (client_port_t *self, client_request_t *request, Raftq__Reply *reply)
{
    size_t size;
    uint8_t *body = s_encode (self, request, reply, &size);
    s_unsent_t *unsent = body ? s_unsent_of (self, request) : NULL;
    if (!unsent) {
        free (body);
        return;
    }
    size_t behind = atomic_load (&unsent->bytes);
    Raftq__Code code = reply->code;
    if (behind > 0 && behind + size > self->reply_limit) {
        //  A client that does not read its replies gets short ones: what
        //  libzmq holds for it stays within the limit plus small errors
        free (body);
        char text[128];
        snprintf (text, sizeof text, "%zu reply bytes not yet taken by this connection", behind);
        Raftq__Reply refusal = RAFTQ__REPLY__INIT;
        refusal.code = code = RAFTQ__CODE__UNAVAILABLE;
        refusal.error = text;
        if (!(body = s_encode (self, request, &refusal, &size)))
            return;
    }
    s_send (self, request, body, size, unsent);
    if (self->metrics)
        metrics_count_reply (self->metrics,
                             request->decoded.request ? (int)request->decoded.request->op_case : 0,
                             code, zclock_usecs () - request->arrived_at);
}

void
client_port_count_into (client_port_t *self, metrics_t *metrics)
{
    self->metrics = metrics;
}

void
client_port_reply_error (client_port_t *self, client_request_t *request, Raftq__Code code,
                         const char *text)
{
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = code;
    reply.error = (char *)text;
    client_port_reply (self, request, &reply);
}

void
client_port_reply_not_leader (client_port_t *self, client_request_t *request,
                              const cluster_view_t *view, uint32_t leader_id)
{
    char endpoint[ENDPOINT_MAX];
    if (leader_id == self->node_id || cluster_view_client_endpoint (view, leader_id, endpoint)) {
        client_port_reply_error (self, request, RAFTQ__CODE__NO_LEADER, "no leader elected yet");
        return;
    }
    char text[64];
    snprintf (text, sizeof (text), "not the leader; node %u is", leader_id);
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = RAFTQ__CODE__NOT_LEADER;
    reply.error = text;
    reply.leader_id = leader_id;
    reply.leader_endpoint = endpoint;
    client_port_reply (self, request, &reply);
}

//  Decodes the body (data, size) into request, then overwrites a body
//  that held a plaintext password. Returns 0, or -1 when it answered (and
//  destroyed) the request: too large, or not a request.
static int
s_decode (client_port_t *self, client_request_t **request_p, uint8_t *data, size_t size)
{
    client_request_t *request = *request_p;
    if (size > self->request_limit) {
        //  Never parsed: the first byte says the dialect (DESIGN 5.2), and
        //  decoding up to 64 MiB of JSON only to learn that would cost more
        //  than serving the request. A body of the RRMQ form thus gets
        //  code and error beside its "success": false
        request->decoded.dialect = size && data[0] == '{' ? CODEC_JSON : CODEC_PROTOBUF;
        sodium_memzero (data, size);
        char text[128];
        snprintf (text, sizeof (text), "request of %zu bytes exceeds the limit of %zu", size,
                  self->request_limit);
        client_port_reply_error (self, request, RAFTQ__CODE__TOO_LARGE, text);
        client_request_destroy (request_p);
        return -1;
    }
    int rc = codec_request_decode (data, size, &request->decoded);
    if (client_request_password (request))
        sodium_memzero (data, size);
    if (rc) {
        client_port_reply_error (self, request, request->decoded.error_code,
                                 request->decoded.error);
        client_request_destroy (request_p);
        return -1;
    }
    return 0;
}

//  A connection already holding its limit of unread replies is refused
//  before its request costs anything (a replay page is built only to be
//  dropped otherwise). Returns 0, or -1 when it answered (and destroyed)
//  the request.
static int
s_admit (client_port_t *self, client_request_t **request_p)
{
    s_unsent_t *unsent = s_unsent_of (self, *request_p);
    size_t behind = unsent ? atomic_load (&unsent->bytes) : 0;
    if (behind < self->reply_limit)
        return 0;
    char text[128];
    snprintf (text, sizeof text,
              "%zu reply bytes not yet taken by this connection: nothing was done", behind);
    client_port_reply_error (self, *request_p, RAFTQ__CODE__UNAVAILABLE, text);
    client_request_destroy (request_p);
    return -1;
}

//  Receives one ROUTER message: its routing id into a frame (the request
//  keeps it), up to CLIENT_MESSAGE_PARTS_KEPT frames after it into parts
//  (the caller closes them; only their bytes are needed, so no frame is
//  allocated for them), and drops any further frames as they come.
//  Returns how many frames the message had, 0 if it could not be read
//  whole (nothing is left to close then).
static size_t
s_receive_message (zsock_t *socket, zframe_t **routing_id, zmq_msg_t *parts)
{
    *routing_id = zframe_recv (socket);
    if (!*routing_id)
        return 0;
    void *handle = zsock_resolve (socket);
    size_t count = 1;
    bool more = zframe_more (*routing_id);
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, handle, 0) == -1) {
            //  Interrupted: what was read is not a whole message
            zmq_msg_close (&part);
            for (size_t position = 0; position + 1 < count && position < CLIENT_MESSAGE_PARTS_KEPT;
                 position++)
                zmq_msg_close (&parts[position]);
            zframe_destroy (routing_id);
            return 0;
        }
        more = zmq_msg_more (&part);
        if (count - 1 < CLIENT_MESSAGE_PARTS_KEPT)
            parts[count - 1] = part;
        else
            zmq_msg_close (&part);
        count++;
    }
    return count;
}

//  A message is [routing id][empty][body], or [routing id][body] from a
//  DEALER that skips the delimiter.
int
client_port_recv (client_port_t *self, client_request_t **request_p)
{
    *request_p = NULL;
    zframe_t *routing_id;
    zmq_msg_t parts[CLIENT_MESSAGE_PARTS_KEPT];
    size_t count = s_receive_message (self->socket, &routing_id, parts);
    if (count == 0)
        return -1;
    size_t kept = count - 1 < CLIENT_MESSAGE_PARTS_KEPT ? count - 1 : CLIENT_MESSAGE_PARTS_KEPT;
    if (count == 3 && zmq_msg_size (&parts[0]) != 0)
        s_complain (self, "a request whose second frame is not the empty delimiter");
    else if (count != 2 && count != 3)
        s_complain (self, "a request with the wrong number of frames");
    else {
        client_request_t *request = client_request_new (&routing_id, count == 3);
        zmq_msg_t *body = &parts[kept - 1];
        if (request &&
            s_decode (self, &request, (uint8_t *)zmq_msg_data (body), zmq_msg_size (body)) == 0 &&
            s_admit (self, &request) == 0)
            *request_p = request;
    }
    zframe_destroy (&routing_id);
    for (size_t position = 0; position < kept; position++)
        zmq_msg_close (&parts[position]);
    return 0;
}
