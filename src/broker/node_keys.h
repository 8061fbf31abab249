/*  node_keys — this node's CurveZMQ side: its key pair, the process's ZAP
    handler, and what the client and PUB ports require of clients.

    The handler starts before any port binds (libzmq lets CURVE clients in
    while no handler is there) and stops after they close. The client
    domain ("raftq-client") lets in any client key or only the config's
    list (config.h client_security); the peer domain's policy comes from
    the Raft thread (replica/peer_links.h), which knows the membership.
*/
#ifndef NODE_KEYS_H_INCLUDED
#define NODE_KEYS_H_INCLUDED

#include <czmq.h>

#include "broker/config.h"

typedef struct _node_keys_t node_keys_t;

//  Starts what the config asks for; secret_key is this node's (NULL when
//  the config uses no key). NULL (logged) when it cannot.
node_keys_t *node_keys_new (const config_t *config, const config_node_t *node,
                            const uint8_t *secret_key);

//  Stops the ZAP handler: after every socket that uses it is closed.
void node_keys_destroy (node_keys_t **self_p);

//  Before a client (ROUTER) or PUB (XPUB) socket binds: makes it a CURVE
//  server when the config requires CurveZMQ of clients, and caps its
//  connections at max_connections (past it, handshakes are refused while
//  the connections there are served). Returns 0 or -1.
int node_keys_secure_client_socket (node_keys_t *self, zsock_t *socket, uint64_t max_connections);

//  For the Raft actor: the key pair and the policy endpoint, all NULL when
//  the peer port is plaintext.
const uint8_t *node_keys_peer_public_key (node_keys_t *self);
const uint8_t *node_keys_peer_secret_key (node_keys_t *self);
const char *node_keys_policy_endpoint (node_keys_t *self);

//  For the Raft actor: where it has the peer port's connections counted
//  and shed (zap_handler.h), keys or not.
const char *node_keys_watch_endpoint (node_keys_t *self);

//  The live connections of the client and PUB ports (a round trip to the
//  ZAP handler's thread, which counts them).
void node_keys_connections (node_keys_t *self, size_t *client, size_t *pub);

#endif
