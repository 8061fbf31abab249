/*  zap_handler — the process's ZAP handler (ZeroMQ RFC 27): the actor that
    libzmq asks, during each CurveZMQ handshake on a socket with a ZAP
    domain, whether the client's key may connect, and under which user id.

    Each domain has a policy: a table of known keys with the user id each
    one gets (a node's id, on the peer port), and whether any other CURVE
    key (as its Z85 text) or a plaintext client is let in. A domain with no
    policy refuses everything, so a socket is closed until its owner said
    who may connect; every other mechanism (PLAIN, GSSAPI) is refused.

    There is one ZAP endpoint per ZeroMQ context, so one handler serves
    every socket of the process: create it before any socket that uses
    CurveZMQ binds (libzmq lets a CURVE client in when no handler is
    there), destroy it after they are closed. Policies replace each other
    whole. The creator sets them with zap_handler_set_policy; another
    thread pushes them (ZMQ_PUSH) to zap_handler_policy_endpoint, so that
    threads share no handler object.

    A domain may also cap the connections of one socket (zap_handler_watch):
    past the cap, a handshake the policy would let in is refused (400, so a
    plaintext client sees HANDSHAKE_FAILED_AUTH, not a silent close) while
    the connections already there are served. A socket needs a ZAP domain
    for this even without CurveZMQ: libzmq asks ZAP about NULL-mechanism
    clients too when the socket has one (policy ZAP_ALLOW_PLAIN).

    How the count stays exact: the handler monitors the socket itself
    (zmq_socket_monitor, read on the handler's own thread) and keeps the set
    of descriptors ACCEPTED and not yet DISCONNECTED. Those are the only two
    events that carry the descriptor, and libzmq pairs them: every accepted
    descriptor gets an engine, and an engine that ends for any reason
    (handshake refused or failed, timed out, peer gone) reports
    DISCONNECTED before it closes the descriptor, so a reused number is
    accepted again only after its old connection left the set. Keyed by
    descriptor, a set cannot drift the way a counter can: a repeated or
    missing event costs at most that one entry until the number is reused.
    The count is every TCP connection, handshaking ones included (each holds
    a descriptor and buffers just the same). Before each verdict the handler
    drains the monitor: libzmq reports ACCEPTED before that connection's
    handshake can ask ZAP, so the connection asking is already counted, and
    a connection is refused when the set holds more than the cap. At the
    edge of the cap, two connections handshaking at once may both be
    refused (neither is known to be the earlier); each reconnects and gets
    in once the other is settled.

    A refusal needs a handshake, and a client that never greets never asks:
    it would keep its descriptor until libzmq's handshake timeout (30 s),
    and enough of them would take every descriptor the process has, the
    log's next segment included. So a connection accepted while the set
    holds twice the cap, or while fewer than ZAP_DESCRIPTOR_RESERVE
    descriptors are left to the process, is shut down at once (not
    refused: it never said who it is). Descriptors are never all taken by
    connections, and libzmq's listener never spins on EMFILE taking every
    descriptor the node frees.
*/
#ifndef ZAP_HANDLER_H_INCLUDED
#define ZAP_HANDLER_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#include "util/curve_key.h"

//  Descriptors kept for the process's own files and sockets: a connection
//  accepted with fewer left is shut down (above).
#define ZAP_DESCRIPTOR_RESERVE 64

//  What a domain lets in besides its listed keys.
#define ZAP_ALLOW_ANY_KEY 1 //  any CURVE client key, user id its Z85 text
#define ZAP_ALLOW_PLAIN   2 //  a NULL-mechanism (plaintext) client

typedef struct _zap_handler_t zap_handler_t;

//  Starts the handler, its ZAP socket bound when this returns. NULL when
//  it cannot start (another handler in the process holds the endpoint).
zap_handler_t *zap_handler_new (void);

void zap_handler_destroy (zap_handler_t **self_p);

//  Where other threads push policies (an inproc endpoint, unique to this
//  handler).
const char *zap_handler_policy_endpoint (zap_handler_t *self);

//  Replaces a domain's policy and returns once it is in force. Takes the
//  message (made by zap_policy_new). Returns 0 or -1.
int zap_handler_set_policy (zap_handler_t *self, zmsg_t **policy_p);

//  Makes socket a CURVE server with secret_key whose clients the handler
//  judges by domain's policy; call it before the socket binds.
void zap_handler_secure_server (zsock_t *socket, const uint8_t secret_key[CURVE_KEY_SIZE],
                                const char *domain);
//  Counts the connections of socket (owned by the calling thread, not yet
//  bound) and refuses handshakes in domain past max_connections live ones
//  (see above). One socket per domain; the watch lasts until the handler
//  is destroyed, which must come after the socket is closed. Returns 0, or
//  -1 (the domain is already watched, or no monitor could start).
int zap_handler_watch (zap_handler_t *self, zsock_t *socket, const char *domain,
                       size_t max_connections);

//  Where any thread asks for a watch (an inproc endpoint, unique to this
//  handler), for zap_watch_socket.
const char *zap_handler_watch_endpoint (zap_handler_t *self);

//  zap_handler_watch from a thread that does not own the handler, through
//  its watch endpoint: the socket's own thread calls it. A socket with no
//  ZAP domain has its connections counted and shed (above) but no
//  handshake refused.
int zap_watch_socket (const char *watch_endpoint, zsock_t *socket, const char *domain,
                      size_t max_connections);

//  The live connections of domain's watched socket (0 when not watched).
size_t zap_handler_connections (zap_handler_t *self, const char *domain);

//  A policy message for domain: flags, then no key yet. NULL out of memory.
zmsg_t *zap_policy_new (const char *domain, int flags);

//  Adds a key and the user id its connections get. Returns 0 or -1.
int zap_policy_add_key (zmsg_t *policy, const uint8_t key[CURVE_KEY_SIZE], const char *user_id);

#endif
