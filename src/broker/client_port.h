/*  client_port — the ROUTER clients talk to: receiving a request frame by
    frame, checking its envelope and size, decoding it into a
    client_request_t, and sending replies back in the dialect it came in.
    Requests and replies are the hot path: no zmsg_t is built either way.
    Malformed traffic is dropped with a rate-limited complaint; a request too
    large or undecodable is answered here and never reaches the caller.

    Unread replies are bounded per connection in bytes, not messages (the
    ROUTER's high-water mark counts messages, and one reply may be a 4 MiB
    page): each reply body is handed to libzmq without a copy, with a free
    function that libzmq's I/O thread calls once the body is written to
    the kernel or dropped, so the bytes a connection has in libzmq are
    known exactly, per routing id. Past the limit a reply is replaced by
    a short UNAVAILABLE, rather than the connection going unread: a
    ROUTER cannot stop reading one peer, and a dropped reply would leave
    the client to time out without a word. The first reply always goes
    out, whatever its size.
*/
#ifndef CLIENT_PORT_H_INCLUDED
#define CLIENT_PORT_H_INCLUDED

#include <czmq.h>

#include "broker/client_request.h"
#include "broker/cluster_view.h"
#include "broker/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _client_port_t client_port_t;

//  The largest message the ROUTER should accept (ZMQ_MAXMSGSIZE, to set
//  before it binds) for payloads of max_payload_bytes: anything bigger costs
//  the client its connection; anything smaller gets a reply, TOO_LARGE if
//  need be.
int client_port_max_message_size (uint32_t max_payload_bytes);

//  A port on the bound ROUTER *socket_p (taken). Requests over
//  max_payload_bytes plus envelope room are refused TOO_LARGE without
//  being parsed; node_id marks its complaints. A connection holding
//  max_reply_bytes of replies libzmq has not written out (a client that
//  pipelines and does not read) has its further requests refused
//  UNAVAILABLE before they are served, and a reply that would pass the
//  limit is replaced by a short UNAVAILABLE, until the client reads. Returns NULL when out of
//  memory (socket destroyed).
client_port_t *client_port_new (zsock_t **socket_p, uint32_t node_id, uint32_t max_payload_bytes,
                                size_t max_reply_bytes);

//  Counts every reply (operation, code, latency) into metrics (borrowed;
//  it outlives the port), NULL: nowhere.
void client_port_count_into (client_port_t *self, metrics_t *metrics);

//  Gives the replies still queued linger_ms to leave, then closes.
void client_port_destroy (client_port_t **self_p, int linger_ms);

//  The ROUTER, to poll.
zsock_t *client_port_sock (client_port_t *self);

//  Receives one message. Returns -1 when no whole message could be read
//  (interrupted, nothing waiting); else 0 with *request_p the decoded
//  request for the caller to answer and destroy, or NULL when the message
//  was dropped or answered here.
int client_port_recv (client_port_t *self, client_request_t **request_p);

//  Sends reply (its seq set to the request's) to the client of request.
//  Never blocks: an unknown or saturated client loses the reply.
void client_port_reply (client_port_t *self, client_request_t *request, Raftq__Reply *reply);

//  From hold to release, replies are kept back and then sent one after
//  the other, in order. Replies sent in a burst wake libzmq's I/O thread
//  once; sent one by one between other work, each finds it asleep again
//  and pays a wakeup (an eventfd write, a context switch on both sides).
void client_port_hold (client_port_t *self);
void client_port_release (client_port_t *self);

//  Sends an error reply of code with text.
void client_port_reply_error (client_port_t *self, client_request_t *request, Raftq__Code code,
                              const char *text);

//  NOT_LEADER with the client endpoint of leader_id as view knows it, or
//  NO_LEADER when there is none (or it is this node, or unknown).
void client_port_reply_not_leader (client_port_t *self, client_request_t *request,
                                   const cluster_view_t *view, uint32_t leader_id);

#ifdef __cplusplus
}
#endif

#endif
