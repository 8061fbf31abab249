/*  raftq_config (private) — all a client of libraftq needs from a config
    file at once: its nodes' client and PUB endpoints and, when the config
    turns client_curve on, their CURVE server keys and the client's own
    certificate. raftq_client_load and raftq_subscription_load build on it,
    so both read a config the same way. The public readers of single
    lists are in raftq.h.
*/
#ifndef RAFTQ_CONFIG_H_INCLUDED
#define RAFTQ_CONFIG_H_INCLUDED

#include <stddef.h>

//  The nodes of one config file, in file order.
typedef struct {
    char **endpoints;     //  client endpoints, NULL-terminated
    char **pub_endpoints; //  PUB endpoints, "" for a node without one
    char **server_keys;   //  the nodes' CURVE public keys (Z85); NULL: client_curve off
    char *certificate;    //  client key pair file; NULL: a fresh pair (or plaintext)
    size_t count;         //  how many nodes
} raftq_config_nodes_t;

//  Reads the config at path into nodes. certificate, if not NULL or "",
//  is the client key pair to use in place of what the config and the
//  environment say. Returns 0, or -1 with error set (nodes left empty).
int raftq_config_nodes_read (raftq_config_nodes_t *nodes, const char *path, const char *certificate,
                             char *error, size_t error_size);

//  Frees what raftq_config_nodes_read put into nodes.
void raftq_config_nodes_clear (raftq_config_nodes_t *nodes);

#endif
