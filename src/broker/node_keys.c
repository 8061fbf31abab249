/*  node_keys — the node's key pair and ZAP handler. See node_keys.h.  */
#include "broker/node_keys.h"

#include <sodium.h>

#include "util/diagnostic.h"
#include "util/zap_handler.h"

//  One ZAP domain per port, because a domain counts one socket's
//  connections (zap_handler_watch).
#define CLIENT_DOMAIN "raftq-client"
#define PUB_DOMAIN    "raftq-pub"

struct _node_keys_t {
    bool peer_curve;                    //  the peer port runs CurveZMQ
    bool client_curve;                  //  the client and PUB ports do
    uint8_t public_key[CURVE_KEY_SIZE]; //  this node's key pair
    uint8_t secret_key[CURVE_KEY_SIZE]; //
    zap_handler_t *handler;             //  the process's ZAP handler
};

//  A client domain's policy: plaintext, any key, or the listed ones under
//  their Z85 text.
static int
s_client_policy (node_keys_t *self, const config_t *config, const char *domain)
{
    int flags = self->client_curve ? 0 : ZAP_ALLOW_PLAIN;
    if (config->client_security == CONFIG_CLIENT_ANY_KEY)
        flags = ZAP_ALLOW_ANY_KEY;
    zmsg_t *policy = zap_policy_new (domain, flags);
    for (size_t index = 0; policy && index < config->client_key_count; index++) {
        char text[CURVE_KEY_TEXT_SIZE];
        curve_key_encode (config->client_keys[index], text);
        if (zap_policy_add_key (policy, config->client_keys[index], text))
            zmsg_destroy (&policy);
    }
    return policy ? zap_handler_set_policy (self->handler, &policy) : -1;
}

node_keys_t *
node_keys_new (const config_t *config, const config_node_t *node, const uint8_t *secret_key)
{
    node_keys_t *self = calloc (1, sizeof (node_keys_t));
    if (!self)
        return NULL;
    self->peer_curve = config->peer_curve;
    self->client_curve = config->client_security != CONFIG_CLIENT_PLAIN;
    if (!self->peer_curve)
        diagnostic_line (node->id, DIAGNOSTIC_WARNING,
                         "the peer port is plaintext (\"peer_curve\": false, or the RRMQ form): "
                         "anyone who reaches it can steer the cluster");
    if (self->peer_curve || self->client_curve) {
        if (!secret_key || !node->has_public_key) {
            diagnostic_line (node->id, DIAGNOSTIC_ERROR, "CurveZMQ needs this node's key pair");
            node_keys_destroy (&self);
            return NULL;
        }
        memcpy (self->public_key, node->public_key, CURVE_KEY_SIZE);
        memcpy (self->secret_key, secret_key, CURVE_KEY_SIZE);
    }
    //  Even without keys: the handler enforces max_connections
    self->handler = zap_handler_new ();
    if (!self->handler || s_client_policy (self, config, CLIENT_DOMAIN) ||
        s_client_policy (self, config, PUB_DOMAIN)) {
        diagnostic_line (node->id, DIAGNOSTIC_ERROR, "cannot start the ZAP handler");
        node_keys_destroy (&self);
    }
    return self;
}

void
node_keys_destroy (node_keys_t **self_p)
{
    if (!*self_p)
        return;
    node_keys_t *self = *self_p;
    zap_handler_destroy (&self->handler);
    sodium_memzero (self->secret_key, sizeof (self->secret_key));
    free (self);
    *self_p = NULL;
}

int
node_keys_secure_client_socket (node_keys_t *self, zsock_t *socket, uint64_t max_connections)
{
    const char *domain = zsock_type (socket) == ZMQ_XPUB ? PUB_DOMAIN : CLIENT_DOMAIN;
    //  A domain makes libzmq ask ZAP about plaintext clients too
    if (self->client_curve)
        zap_handler_secure_server (socket, self->secret_key, domain);
    else
        zsock_set_zap_domain (socket, domain);
    return zap_handler_watch (self->handler, socket, domain, (size_t)max_connections);
}

const uint8_t *
node_keys_peer_public_key (node_keys_t *self)
{
    return self->peer_curve ? self->public_key : NULL;
}

const uint8_t *
node_keys_peer_secret_key (node_keys_t *self)
{
    return self->peer_curve ? self->secret_key : NULL;
}

const char *
node_keys_watch_endpoint (node_keys_t *self)
{
    return zap_handler_watch_endpoint (self->handler);
}

const char *
node_keys_policy_endpoint (node_keys_t *self)
{
    return self->peer_curve ? zap_handler_policy_endpoint (self->handler) : NULL;
}

void
node_keys_connections (node_keys_t *self, size_t *client, size_t *pub)
{
    *client = zap_handler_connections (self->handler, CLIENT_DOMAIN);
    *pub = zap_handler_connections (self->handler, PUB_DOMAIN);
}
