/*  client_port — the client ROUTER: envelopes, size checks, decoding and
    replies; see client_port.h.
*/
#include "broker/client_port.h"

#include <sodium.h>

#include "util/diagnostic.h"
#include "util/endpoint.h"

//  Room for the envelope of a request around its largest payload.
#define REQUEST_OVERHEAD_BYTES 4096
//  A client frame bigger than this many payloads (or than the floor) costs
//  the client its connection. The room lets JSON escape every byte of a
//  valid payload.
#define CLIENT_MAX_MESSAGE_PAYLOADS 8
#define CLIENT_MAX_MESSAGE_FLOOR    (64 * 1024 * 1024)
//  Frames of a client request kept: routing id, delimiter, body.
#define CLIENT_MESSAGE_FRAMES_MAX 3
//  At most one complaint per second about malformed client traffic.
#define BAD_INPUT_LOG_PERIOD_MS 1000

struct _client_port_t {
    zsock_t *socket;                        //  the ROUTER on the client port
    uint32_t node_id;                       //  marks complaints
    size_t request_limit;                   //  bytes of the largest request answered normally
    diagnostic_limiter_t bad_input_limiter; //  bounds complaints about client traffic
};

int
client_port_max_message_size (uint32_t max_payload_bytes)
{
    int64_t largest =
        (int64_t)max_payload_bytes * CLIENT_MAX_MESSAGE_PAYLOADS + REQUEST_OVERHEAD_BYTES;
    return (int)(largest > CLIENT_MAX_MESSAGE_FLOOR ? largest : CLIENT_MAX_MESSAGE_FLOOR);
}

client_port_t *
client_port_new (zsock_t **socket_p, uint32_t node_id, uint32_t max_payload_bytes)
{
    client_port_t *self = calloc (1, sizeof (client_port_t));
    if (!self) {
        zsock_destroy (socket_p);
        return NULL;
    }
    self->socket = *socket_p;
    *socket_p = NULL;
    self->node_id = node_id;
    self->request_limit = (size_t)max_payload_bytes + REQUEST_OVERHEAD_BYTES;
    return self;
}

void
client_port_destroy (client_port_t **self_p, int linger_ms)
{
    if (*self_p) {
        client_port_t *self = *self_p;
        zsock_set_linger (self->socket, linger_ms);
        zsock_destroy (&self->socket);
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

void
client_port_reply (client_port_t *self, client_request_t *request, Raftq__Reply *reply)
{
    reply->seq = request->decoded.request ? request->decoded.request->seq : 0;
    size_t size;
    uint8_t *body = codec_reply_encode (&request->decoded, reply, &size);
    if (!body) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "out of memory encoding a reply");
        return;
    }
    void *socket = zsock_resolve (self->socket);
    int rc = zmq_send (socket, zframe_data (request->routing_id), zframe_size (request->routing_id),
                       ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc != -1 && request->delimited)
        rc = zmq_send (socket, NULL, 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc != -1)
        zmq_send (socket, body, size, ZMQ_DONTWAIT);
    free (body);
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

//  A body that held a plaintext password is overwritten once decoded.
static void
s_wipe_body (client_request_t *request, zframe_t *body)
{
    if (client_request_password (request))
        sodium_memzero (zframe_data (body), zframe_size (body));
}

//  Decodes body into request. Returns 0, or -1 when it answered (and
//  destroyed) the request: too large, or not a request.
static int
s_decode (client_port_t *self, client_request_t **request_p, zframe_t *body)
{
    client_request_t *request = *request_p;
    const uint8_t *data = zframe_data (body);
    size_t size = zframe_size (body);
    if (size > self->request_limit) {
        //  Decoding is only needed to learn how a JSON client wants its error
        if (size && data[0] == '{')
            codec_request_decode (data, size, &request->decoded);
        else
            request->decoded.dialect = CODEC_PROTOBUF;
        s_wipe_body (request, body);
        char text[128];
        snprintf (text, sizeof (text), "request of %zu bytes exceeds the limit of %zu", size,
                  self->request_limit);
        client_port_reply_error (self, request, RAFTQ__CODE__TOO_LARGE, text);
        client_request_destroy (request_p);
        return -1;
    }
    int rc = codec_request_decode (data, size, &request->decoded);
    s_wipe_body (request, body);
    if (rc) {
        client_port_reply_error (self, request, request->decoded.error_code,
                                 request->decoded.error);
        client_request_destroy (request_p);
        return -1;
    }
    return 0;
}

//  Receives one ROUTER message frame by frame into frames (room for
//  CLIENT_MESSAGE_FRAMES_MAX). Frames past the room are dropped as they
//  come. Returns how many frames the message had, 0 if it could not be read
//  whole.
static size_t
s_receive_frames (zsock_t *socket, zframe_t **frames)
{
    size_t count = 0;
    bool more = true;
    while (more) {
        zframe_t *frame = zframe_recv (socket);
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

//  A message is [routing id][empty][body], or [routing id][body] from a
//  DEALER that skips the delimiter.
int
client_port_recv (client_port_t *self, client_request_t **request_p)
{
    *request_p = NULL;
    zframe_t *frames[CLIENT_MESSAGE_FRAMES_MAX];
    size_t count = s_receive_frames (self->socket, frames);
    if (count == 0)
        return -1;
    size_t kept = count < CLIENT_MESSAGE_FRAMES_MAX ? count : CLIENT_MESSAGE_FRAMES_MAX;
    if (count == 3 && zframe_size (frames[1]) != 0)
        s_complain (self, "a request whose second frame is not the empty delimiter");
    else if (count != 2 && count != 3)
        s_complain (self, "a request with the wrong number of frames");
    else {
        client_request_t *request = client_request_new (&frames[0], count == 3);
        if (request && s_decode (self, &request, frames[kept - 1]) == 0)
            *request_p = request;
    }
    for (size_t position = 0; position < kept; position++)
        zframe_destroy (&frames[position]);
    return 0;
}
