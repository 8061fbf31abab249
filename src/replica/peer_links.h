/*  peer_links — this node's links to the other nodes of its cluster.

    A known peer is a node of the config file (pinned: known for good) or
    a member of the latest configuration in the log; each has one DEALER
    towards its peer port, which only sends. When the peer port runs
    CurveZMQ, each DEALER pins its peer's public key as the server key, the
    ROUTER is a CURVE server in ZAP domain "raftq-peer/<node id>", and the
    key policy of that domain (zap_handler.h) lets in exactly the known
    peers' keys, each under its node id as user id: a stranger's key fails
    the handshake, and a message whose sender field is not the node its
    connection authenticated as is dropped. Keys follow the configuration:
    a member added at run time brings its key in the configuration entry,
    and a removed member (not in the file) is forgotten, its DEALER closed
    and its key taken out of the policy.
*/
#ifndef PEER_LINKS_H_INCLUDED
#define PEER_LINKS_H_INCLUDED

#include <czmq.h>

#include "raft/raft_core.h"

//  Connections the peer port takes (a handshake past them is refused; past
//  twice as many a connection is shut down as it comes): a node has one
//  from each peer, and far fewer than this many peers.
#define PEER_MAX_CONNECTIONS 64

typedef struct _peer_links_t peer_links_t;

//  How the links run; everything is borrowed for peer_links_new only.
typedef struct {
    uint32_t node_id;                //  this node
    const char *host;                //  its peer host: connections leave from there
    const uint8_t *public_key;       //  its CurveZMQ key pair; NULL: the peer port is plaintext
    const uint8_t *secret_key;       //
    const char *zap_policy_endpoint; //  where key policies are pushed (with keys)
    const char *zap_watch_endpoint;  //  where the peer port's connections are watched, or NULL
} peer_links_options_t;

//  NULL when out of memory or the policy endpoint cannot be reached.
peer_links_t *peer_links_new (const peer_links_options_t *options);

void peer_links_destroy (peer_links_t **self_p);

//  Before the peer ROUTER binds: makes it a CURVE server in this node's
//  domain (not when the peer port is plaintext), and has the ZAP handler
//  count its connections, shedding them past PEER_MAX_CONNECTIONS x 2 or
//  while the process is short of descriptors (zap_handler.h), when the
//  options name a watch endpoint. Returns 0 or -1.
int peer_links_secure_router (peer_links_t *self, zsock_t *router);

//  Adds the nodes of the config file, known for good. Returns 0, or -1
//  (logged) when one cannot be reached (bad address, no key with CURVE).
int peer_links_pin (peer_links_t *self, const raft_member_t *peers, size_t count);

//  The latest configuration: connects its new members, forgets members
//  that left it (unless pinned), and updates the key policy.
void peer_links_follow (peer_links_t *self, const raft_member_t *members, size_t count);

//  Sends frame to peer id without waiting; takes the frame. Returns 0, or
//  -1 when it is dropped (unknown peer, not connected, queue full).
int peer_links_send (peer_links_t *self, uint32_t id, zframe_t **frame_p);

//  Whether a message that says it is from node from, received as frame on
//  the ROUTER, really comes from that node: with CurveZMQ, the node its
//  connection authenticated as, and still a known peer. Always true when
//  the peer port is plaintext.
bool peer_links_sender_valid (peer_links_t *self, uint32_t from, zframe_t *frame);

#endif
