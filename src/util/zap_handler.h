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
*/
#ifndef ZAP_HANDLER_H_INCLUDED
#define ZAP_HANDLER_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#include "util/curve_key.h"

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

//  A policy message for domain: flags, then no key yet. NULL out of memory.
zmsg_t *zap_policy_new (const char *domain, int flags);

//  Adds a key and the user id its connections get. Returns 0 or -1.
int zap_policy_add_key (zmsg_t *policy, const uint8_t key[CURVE_KEY_SIZE], const char *user_id);

#endif
