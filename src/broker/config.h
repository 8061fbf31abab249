/*  config — the cluster configuration: config.json (raftq form) or the RRMQ
    form ({"addresses":[{"ip","port","internal_port"}]}), parsed with jansson
    and validated. Every error is one line: file, place, problem.

    A node directory is bound (cluster_identity.h) to its cluster's name and
    to this node's place in it: a digest of the name with the node's id,
    host, client and peer port (config_node_identity). That is what one
    directory can check on its own, without talking: a config of another
    cluster (another name, or this node somewhere else) is refused, while a
    node list that grows (a node added later), shrinks, or marks a wiped node
    "join" leaves every other node's identity as it was. The RRMQ form has
    no name ("rrmq"); its data directory, unless the file sets data_dir, is
    keyed by a digest of the whole address list (cluster_id): data/rrmq-<id>,
    so a new address list starts a new cluster in the same working
    directory.
*/
#ifndef CONFIG_H_INCLUDED
#define CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config_limits.h"
#include "util/curve_key.h"
#include "util/thread_priority.h"

#define CONFIG_HOST_MAX 64

typedef struct {
    uint32_t id;                        //  node id, nonzero and unique
    char host[CONFIG_HOST_MAX];         //  address it binds and is reached at
    uint16_t client_port;               //  client ROUTER
    uint16_t peer_port;                 //  peer ROUTER
    uint16_t pub_port;                  //  PUB, 0 when the node publishes nothing
    uint16_t http_port;                 //  metrics and health over HTTP (on host), 0: none
    bool join;                          //  starts empty and waits to be added
    char peer_host[CONFIG_HOST_MAX];    //  address of its peer port (host unless set)
    bool has_public_key;                //  the config names its CurveZMQ key
    uint8_t public_key[CURVE_KEY_SIZE]; //  that key
    char *secret_certificate;           //  where it finds its secret key, NULL: no key
} config_node_t;

//  Who may use the client and PUB ports (config_keys.h).
typedef enum {
    CONFIG_CLIENT_PLAIN = 0,   //  plain ZeroMQ, no CurveZMQ
    CONFIG_CLIENT_ANY_KEY = 1, //  CurveZMQ, any client key
    CONFIG_CLIENT_LISTED = 2   //  CurveZMQ, only the listed client keys
} config_client_security_t;

typedef struct {
    char *path;                       //  file it was read from
    char *cluster;                    //  cluster name, peers of other clusters are ignored
    uint64_t cluster_id;              //  digest of the name and the node list (RRMQ keying)
    char *data_dir;                   //  node state lives in <data_dir>/node-<id>/
    uint32_t heartbeat_ms;            //  leader heartbeat period
    uint32_t election_timeout_min_ms; //  randomized election timeout bounds
    uint32_t election_timeout_max_ms;
    uint32_t request_timeout_ms;        //  a client request gets TIMEOUT after this
    uint32_t max_payload_bytes;         //  largest publish payload accepted
    uint32_t event_retention;           //  events each stream keeps for Replay
    uint32_t snapshot_log_bytes;        //  snapshot once the log since the last one passes this
    uint32_t snapshot_trailing_entries; //  entries kept in the log behind a snapshot
    uint32_t segment_bytes;             //  log segment file roll size
    uint32_t session_idle_s;            //  a chat session unused this long expires
    uint32_t session_lifetime_s;        //  a chat session this old expires
    char *admin_secret_file;            //  the admin secret (admin_credential.h), 0600
    bool core_dumps;                    //  leave core dumps on (they hold tokens and messages)
    thread_priority_t urgent_threads;   //  most the Raft and peer I/O threads ask for
    config_limits_t limits;             //  quotas and watermarks ("limits", config_limits.h)
    bool peer_curve;                    //  peer port runs CurveZMQ with the members' keys
    config_client_security_t client_security; //  client and PUB ports
    uint8_t (*client_keys)[CURVE_KEY_SIZE];   //  allowed client keys (CONFIG_CLIENT_LISTED)
    size_t client_key_count;                  //  how many
    config_node_t *nodes;                     //  the nodes, in file order
    size_t node_count;                        //  how many
} config_t;

//  Loads and validates a raftq or RRMQ config file. On failure returns NULL
//  and writes "FILE:LINE:COLUMN: problem" (or "FILE: key: problem") into error.
config_t *config_load (const char *path, char *error, size_t error_size);

//  Same from a string, with name standing for the file in messages.
config_t *config_parse (const char *text, const char *name, char *error, size_t error_size);

void config_destroy (config_t **self_p);

//  The node with this id, or NULL.
const config_node_t *config_node (const config_t *self, uint32_t id);

//  The identity a node directory is bound to: the cluster name and node's
//  id, host, client and peer port, digested.
uint64_t config_node_identity (const config_t *self, const config_node_t *node);

#endif
