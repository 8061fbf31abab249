/*  peer_links — DEALERs to the known peers and the key policy of the peer
    port. See peer_links.h.
*/
#include "replica/peer_links.h"

#include <inttypes.h>
#include <sodium.h>

#include "util/diagnostic.h"
#include "util/endpoint.h"
#include "util/io_threads.h"
#include "util/zap_handler.h"

//  Queued messages per peer before sends are dropped.
#define PEER_SEND_HWM 1000
//  Room for "raftq-peer/" and a node id.
#define DOMAIN_SIZE 32
//  A link whose handshake the peer refused is made again after this long.
//  libzmq never retries such a connection by itself, and the refusal may
//  end: the peer learns this node's key when it learns the configuration
//  entry that added it, later than this node does.
#define RELINK_AFTER_MS 500
//  Handshake outcomes the monitor of a DEALER reports.
#define HANDSHAKE_EVENTS                                                                           \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |                             \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

//  One known peer.
typedef struct {
    raft_member_t member; //  id, addresses and key it was connected with
    bool pinned;          //  in the config file: never forgotten
    bool current;         //  in the latest configuration
    zsock_t *dealer;      //  connected to its peer port; sends only
    zsock_t *monitor;     //  handshake events of the dealer (PAIR)
    int64_t refused_at;   //  zclock_mono of the last refused handshake, 0: none pending
} s_peer_t;

struct _peer_links_t {
    uint32_t node_id;                         //  this node
    uint64_t monitors_made;                   //  names each monitor endpoint apart
    char *host;                               //  connections leave from this address
    bool secure;                              //  the peer port runs CurveZMQ
    uint8_t public_key[RAFT_PUBLIC_KEY_SIZE]; //  this node's key pair, when secure
    uint8_t secret_key[RAFT_PUBLIC_KEY_SIZE]; //
    char domain[DOMAIN_SIZE];                 //  ZAP domain of this node's peer port
    const char *watch_endpoint;               //  the ZAP handler's watch endpoint, or NULL
    zsock_t *policy;                          //  PUSH to the ZAP handler, when secure
    s_peer_t *peers;                          //  the known peers
    size_t peer_count;                        //  how many
};

//  Where a member's peer port is: its peer host, else its host.
static const char *
s_peer_host (const raft_member_t *member)
{
    return member->peer_host[0] ? member->peer_host : member->host;
}

static void
s_close (s_peer_t *peer)
{
    //  The monitor stops with its socket
    zsock_destroy (&peer->dealer);
    zsock_destroy (&peer->monitor);
}

//  Watches the handshakes of dealer (before it connects). Returns the
//  monitor's PAIR, or NULL.
static zsock_t *
s_monitor (peer_links_t *self, zsock_t *dealer)
{
    char endpoint[96];
    snprintf (endpoint, sizeof (endpoint), "inproc://raftq-peer-links-%p-%" PRIu64, (void *)self,
              self->monitors_made++);
    if (zmq_socket_monitor (zsock_resolve (dealer), endpoint, HANDSHAKE_EVENTS))
        return NULL;
    return zsock_new_pair (endpoint);
}

//  A DEALER towards member, with its key pinned when secure, and *monitor
//  watching its handshakes. NULL (logged) when the address is bad or a key
//  is missing.
static zsock_t *
s_connect (peer_links_t *self, const raft_member_t *member, zsock_t **monitor)
{
    const char *host = s_peer_host (member);
    if (self->secure && !raft_member_has_key (member)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "node %" PRIu32 " has no public key: it cannot be reached over CurveZMQ",
                         member->id);
        return NULL;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer)
        return NULL;
    //  Queue only towards connected peers and never wait: a dead peer
    //  costs a dropped message, not a stalled loop
    zsock_set_immediate (dealer, 1);
    zsock_set_linger (dealer, 0);
    zsock_set_sndhwm (dealer, PEER_SEND_HWM);
    zsock_set_sndtimeo (dealer, 0);
    io_threads_pin (dealer, IO_LANE_PEERS);
    if (self->secure) {
        zsock_set_curve_publickey_bin (dealer, self->public_key);
        zsock_set_curve_secretkey_bin (dealer, self->secret_key);
        zsock_set_curve_serverkey_bin (dealer, member->public_key);
    }
    *monitor = s_monitor (self, dealer);
    char error[256];
    if (!*monitor || member->peer_port == 0 || member->peer_port > UINT16_MAX ||
        endpoint_connect_from (dealer, self->host, host, (uint16_t)member->peer_port, error,
                               sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "cannot reach node %" PRIu32 " at %s:%" PRIu32, member->id, host,
                         member->peer_port);
        zsock_destroy (&dealer);
        zsock_destroy (monitor);
    }
    return dealer;
}

static s_peer_t *
s_find (peer_links_t *self, uint32_t id)
{
    for (size_t position = 0; position < self->peer_count; position++)
        if (self->peers[position].member.id == id)
            return &self->peers[position];
    return NULL;
}

//  Whether a known peer must be reconnected to reach member: another
//  address or another key (a node added back after a wipe).
static bool
s_moved (const s_peer_t *peer, const raft_member_t *member)
{
    return strcmp (s_peer_host (&peer->member), s_peer_host (member)) ||
           peer->member.peer_port != member->peer_port ||
           memcmp (peer->member.public_key, member->public_key, RAFT_PUBLIC_KEY_SIZE);
}

//  Links peer to member anew: a fresh DEALER (and monitor) in place of the
//  old one. Returns 0, or -1 (logged) with the old link left as it was.
static int
s_link (peer_links_t *self, s_peer_t *peer, const raft_member_t *member)
{
    zsock_t *monitor = NULL;
    zsock_t *dealer = s_connect (self, member, &monitor);
    if (!dealer)
        return -1;
    s_close (peer);
    peer->member = *member;
    peer->dealer = dealer;
    peer->monitor = monitor;
    peer->refused_at = 0;
    return 0;
}

//  Makes member a known peer (connected), or updates it. Returns the peer,
//  or NULL (logged) when it cannot be reached.
static s_peer_t *
s_know (peer_links_t *self, const raft_member_t *member)
{
    s_peer_t *peer = s_find (self, member->id);
    if (peer)
        return !s_moved (peer, member) || s_link (self, peer, member) == 0 ? peer : NULL;
    s_peer_t *peers = realloc (self->peers, (self->peer_count + 1) * sizeof (s_peer_t));
    if (!peers)
        return NULL;
    self->peers = peers;
    peer = &self->peers[self->peer_count];
    memset (peer, 0, sizeof (*peer));
    if (s_link (self, peer, member))
        return NULL;
    self->peer_count++;
    return peer;
}

//  Pushes the key policy of this node's domain: every known peer's key,
//  under its node id.
static void
s_push_policy (peer_links_t *self)
{
    if (!self->secure)
        return;
    zmsg_t *policy = zap_policy_new (self->domain, 0);
    for (size_t position = 0; policy && position < self->peer_count; position++) {
        const raft_member_t *member = &self->peers[position].member;
        char user_id[16];
        snprintf (user_id, sizeof (user_id), "%" PRIu32, member->id);
        if (raft_member_has_key (member) &&
            zap_policy_add_key (policy, member->public_key, user_id))
            zmsg_destroy (&policy);
    }
    //  A lost policy leaves the previous one in force; the next change
    //  sends the whole set again
    if (!policy || zmsg_send (&policy, self->policy))
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "peer key policy not updated");
    zmsg_destroy (&policy);
}

peer_links_t *
peer_links_new (const peer_links_options_t *options)
{
    peer_links_t *self = calloc (1, sizeof (peer_links_t));
    if (!self)
        return NULL;
    self->node_id = options->node_id;
    self->host = strdup (options->host);
    self->watch_endpoint = options->zap_watch_endpoint;
    self->secure = options->public_key && options->secret_key;
    snprintf (self->domain, sizeof (self->domain), "raftq-peer/%" PRIu32, options->node_id);
    if (self->secure) {
        memcpy (self->public_key, options->public_key, RAFT_PUBLIC_KEY_SIZE);
        memcpy (self->secret_key, options->secret_key, RAFT_PUBLIC_KEY_SIZE);
        self->policy =
            options->zap_policy_endpoint ? zsock_new_push (options->zap_policy_endpoint) : NULL;
    }
    if (!self->host || (self->secure && !self->policy))
        peer_links_destroy (&self);
    return self;
}

void
peer_links_destroy (peer_links_t **self_p)
{
    if (!*self_p)
        return;
    peer_links_t *self = *self_p;
    for (size_t position = 0; position < self->peer_count; position++)
        s_close (&self->peers[position]);
    free (self->peers);
    free (self->host);
    zsock_destroy (&self->policy);
    sodium_memzero (self->secret_key, sizeof (self->secret_key));
    free (self);
    *self_p = NULL;
}

int
peer_links_secure_router (peer_links_t *self, zsock_t *router)
{
    if (self->secure)
        zap_handler_secure_server (router, self->secret_key, self->domain);
    return self->watch_endpoint
               ? zap_watch_socket (self->watch_endpoint, router, self->domain, PEER_MAX_CONNECTIONS)
               : 0;
}

int
peer_links_pin (peer_links_t *self, const raft_member_t *peers, size_t count)
{
    int rc = 0;
    for (size_t position = 0; position < count && rc == 0; position++) {
        if (peers[position].id == self->node_id)
            continue;
        s_peer_t *peer = s_know (self, &peers[position]);
        if (peer)
            peer->pinned = true;
        else
            rc = -1;
    }
    s_push_policy (self);
    return rc;
}

void
peer_links_follow (peer_links_t *self, const raft_member_t *members, size_t count)
{
    for (size_t position = 0; position < self->peer_count; position++)
        self->peers[position].current = false;
    for (size_t position = 0; position < count; position++) {
        //  A member without an address cannot be reached; it stays unknown
        if (members[position].id == self->node_id || !members[position].host[0])
            continue;
        //  A configuration written before keys existed names none: the
        //  file's key of that node stands
        raft_member_t member = members[position];
        s_peer_t *known = s_find (self, member.id);
        if (known && !raft_member_has_key (&member))
            memcpy (member.public_key, known->member.public_key, RAFT_PUBLIC_KEY_SIZE);
        s_peer_t *peer = s_know (self, &member);
        if (peer)
            peer->current = true;
    }
    size_t kept = 0;
    for (size_t position = 0; position < self->peer_count; position++) {
        s_peer_t *peer = &self->peers[position];
        if (peer->pinned || peer->current)
            self->peers[kept++] = *peer;
        else
            s_close (peer);
    }
    self->peer_count = kept;
    s_push_policy (self);
}

//  A send to peer failed: reads what its handshakes did, and makes the
//  link again once a refusal is RELINK_AFTER_MS old.
static void
s_relink_if_refused (peer_links_t *self, s_peer_t *peer)
{
    while (zsock_events (peer->monitor) & ZMQ_POLLIN) {
        zmsg_t *event = zmsg_recv (peer->monitor);
        zframe_t *head = event ? zmsg_first (event) : NULL;
        if (head && zframe_size (head) >= 2) {
            uint16_t kind = (uint16_t)(zframe_data (head)[0] | zframe_data (head)[1] << 8);
            if (kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                peer->refused_at = 0;
            else if (!peer->refused_at)
                peer->refused_at = zclock_mono ();
        }
        zmsg_destroy (&event);
    }
    if (!peer->refused_at || zclock_mono () - peer->refused_at < RELINK_AFTER_MS)
        return;
    raft_member_t member = peer->member;
    s_link (self, peer, &member);
}

int
peer_links_send (peer_links_t *self, uint32_t id, zframe_t **frame_p)
{
    s_peer_t *peer = s_find (self, id);
    if (peer && zframe_send (frame_p, peer->dealer, ZFRAME_DONTWAIT) == 0)
        return 0;
    if (peer)
        s_relink_if_refused (self, peer);
    zframe_destroy (frame_p);
    return -1;
}

bool
peer_links_sender_valid (peer_links_t *self, uint32_t from, zframe_t *frame)
{
    if (!self->secure)
        return true;
    const char *user_id = zframe_meta (frame, "User-Id");
    char expected[16];
    snprintf (expected, sizeof (expected), "%" PRIu32, from);
    return user_id && streq (user_id, expected) && s_find (self, from) != NULL;
}
