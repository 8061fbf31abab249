/*  config — reads and validates the cluster configuration.

    Two forms are accepted, told apart by their top-level key:
    - raftq form ("nodes", DESIGN 7): strict; an unknown key anywhere is an
      error, because a typo ("pubport") would otherwise silently change how
      the cluster runs;
    - RRMQ form ("addresses"): a foreign format other tools also read, so keys
      we do not know are ignored there; the raftq top-level settings
      (cluster, heartbeat_ms, ...) are honored when present.
    Every error is one line: "FILE:LINE:COLUMN: problem" for JSON syntax,
    "FILE: place: problem" otherwise, the place being a JSON path such as
    nodes[2].peer_port.

    Optional top-level settings and their defaults: heartbeat_ms 50,
    election_timeout_ms [300, 600], request_timeout_ms 1000,
    max_payload_bytes 1048576, event_retention 1000, snapshot_log_bytes
    64 MiB, snapshot_trailing_entries 10000, and segment_bytes 64 MiB: the
    size at which the log rolls to a new segment file (compaction deletes
    whole segments, so small segments let tests and chaos runs see the log
    shrink after a few entries; 1 gives every record a segment).
    session_idle_s 86400 and session_lifetime_s 604800: a chat session
    expires unused this long, or this long after its login (every node must
    use the same values: apply decides expiry). "limits": config_limits.h.
*/

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "broker/config.h"
#include "broker/config_keys.h"
#include "broker/config_parser.h"
#include "util/digest.h"

//  Upper bound for every *_ms setting: an hour is already absurd for Raft.
#define CONFIG_MS_MAX 3600000
//  Largest publish payload a cluster may be configured to accept.
#define CONFIG_PAYLOAD_MAX (64u * 1024u * 1024u)
//  Most events a stream may retain for Replay (the state keeps them all).
#define CONFIG_RETENTION_MAX 1000000
//  Ten years, in seconds: session expiry settings
#define CONFIG_SESSION_S_MAX 315360000
//  Bounds of snapshot_log_bytes: below a kilobyte the node would do little
//  but snapshot; a snapshot body must fit a protobuf message (2 GiB).
#define CONFIG_SNAPSHOT_BYTES_MIN 1024u
#define CONFIG_SNAPSHOT_BYTES_MAX (1024u * 1024u * 1024u)
//  Most log entries kept behind a snapshot for lagging followers.
#define CONFIG_TRAILING_MAX 100000000
//  Room for a node's place ("addresses[<any size_t>]").
#define CONFIG_PLACE_MAX 32

//  The ports a node may listen on: client, peer, PUB and HTTP.
#define CONFIG_PORT_KINDS 4

//  One listening endpoint, remembered to catch two nodes on the same port.
typedef struct {
    const char *host;            //  normalized host ("localhost" counts as 127.0.0.1)
    uint16_t port;               //  the port
    char place[CONFIG_PATH_MAX]; //  where it was declared, for the message
} s_endpoint_t;

static const char *const s_raftq_top_keys[] = {"cluster",
                                               "data_dir",
                                               "heartbeat_ms",
                                               "election_timeout_ms",
                                               "request_timeout_ms",
                                               "max_payload_bytes",
                                               "event_retention",
                                               "snapshot_log_bytes",
                                               "snapshot_trailing_entries",
                                               "segment_bytes",
                                               "session_idle_s",
                                               "session_lifetime_s",
                                               "nodes",
                                               "admin_secret_file",
                                               "core_dumps",
                                               "urgent_threads",
                                               "peer_curve",
                                               "client_curve",
                                               "client_certificate",
                                               "limits",
                                               "gateway",
                                               NULL};
static const char *const s_raftq_node_keys[] = {
    "id",   "host",        "client_port", "peer_port",          "pub_port",  "http_port",
    "join", "certificate", "public_key",  "secret_certificate", "peer_host", NULL};

//  The string at object.key, for a host; NULL (after failing) otherwise.
static const char *
s_get_host_text (config_parser_t *parser, json_t *object, const char *path, const char *key)
{
    json_t *item = json_object_get (object, key);
    if (!json_is_string (item)) {
        config_fail (parser, path, "%s (an IPv4 address or \"localhost\")",
                     item ? "must be a string" : "missing");
        return NULL;
    }
    return json_string_value (item);
}

//  A host must be something every node can bind and reach: an IPv4 literal
//  or "localhost". URL prefixes belong to the RRMQ form only, where the
//  caller strips them first.
static int
s_set_host (config_parser_t *parser, const char *path, const char *text, char *host)
{
    const char *prefixes[] = {"http://", "tcp://"};
    for (size_t index = 0; index < 2; index++)
        if (strncmp (text, prefixes[index], strlen (prefixes[index])) == 0)
            return config_fail (parser, path, "write the bare address, without a \"%s\" prefix",
                                prefixes[index]);
    struct in_addr address;
    if (strlen (text) >= CONFIG_HOST_MAX ||
        (!config_streq (text, "localhost") && inet_pton (AF_INET, text, &address) != 1))
        return config_fail (parser, path, "must be an IPv4 address or \"localhost\"");
    strcpy (host, text);
    return 0;
}

//  How urgently the Raft thread and the peers' I/O thread ask to run
//  (thread_priority.h): as every other thread unless the file says
//  otherwise. Raised, they preempted the broker on every wake and cost a
//  write here; with the nodes in one session (raftq-cluster) they held
//  their heartbeats under overload without it (README, Decisions).
static int
s_urgent_threads (config_parser_t *parser, json_t *root, config_t *self)
{
    self->urgent_threads = THREAD_PRIORITY_NORMAL;
    json_t *item = json_object_get (root, "urgent_threads");
    if (!item)
        return 0;
    for (int priority = THREAD_PRIORITY_NORMAL; priority <= THREAD_PRIORITY_REALTIME; priority++)
        if (json_is_string (item) &&
            config_streq (json_string_value (item), thread_priority_name (priority))) {
            self->urgent_threads = (thread_priority_t)priority;
            return 0;
        }
    return config_fail (parser, "urgent_threads", "must be \"realtime\", \"nice\" or \"normal\"");
}

//  The admin secret file defaults to admin.secret in the data directory
//  the file names ("data" when it names none: the RRMQ form keeps one
//  secret for its keyed directories); core dumps are off unless asked for.
static int
s_admin_defaults (config_parser_t *parser, json_t *root, config_t *self)
{
    json_t *dumps = json_object_get (root, "core_dumps");
    if (dumps && !json_is_boolean (dumps))
        return config_fail (parser, "core_dumps", "must be true or false");
    self->core_dumps = dumps && json_is_true (dumps);
    if (self->admin_secret_file)
        return 0;
    if (asprintf (&self->admin_secret_file, "%s/admin.secret", self->data_dir) == -1) {
        self->admin_secret_file = NULL;
        return config_fail (parser, NULL, "out of memory");
    }
    return 0;
}

//  The "gateway" object belongs to raftq-gateway (clients/gateway), which
//  reads it itself; the broker checks its shape, so that a typo in a key
//  fails here too rather than being silently ignored.
static int
s_check_gateway (config_parser_t *parser, json_t *root)
{
    static const char *const strings[] = {"host", "key_file", "tls_certificate", "tls_key"};
    static const char *const keys[] = {"host",
                                       "port",
                                       "key_file",
                                       "tls_certificate",
                                       "tls_key",
                                       "secure_cookie",
                                       "max_connections",
                                       "max_connections_per_address",
                                       "max_streams_per_user",
                                       NULL};
    json_t *gateway = json_object_get (root, "gateway");
    if (!gateway)
        return 0;
    if (!json_is_object (gateway))
        return config_fail (parser, "gateway", "must be an object");
    char *text = NULL;
    uint16_t port = 0;
    uint32_t connections = 0;
    int status = config_check_keys (parser, gateway, "gateway", keys) ||
                 config_get_port (parser, gateway, "gateway", "port", false, &port) ||
                 config_get_u32 (parser, gateway, "gateway", "max_connections", false, 1, 10000,
                                 &connections) ||
                 config_get_u32 (parser, gateway, "gateway", "max_connections_per_address", false,
                                 1, 10000, &connections) ||
                 config_get_u32 (parser, gateway, "gateway", "max_streams_per_user", false, 1,
                                 10000, &connections);
    for (size_t index = 0; status == 0 && index < sizeof strings / sizeof strings[0]; index++)
        status = config_get_string (parser, gateway, "gateway", strings[index], &text);
    free (text);
    json_t *secure = json_object_get (gateway, "secure_cookie");
    if (status == 0 && secure && !json_is_boolean (secure))
        return config_fail (parser, "gateway.secure_cookie", "must be true or false");
    return status ? -1 : 0;
}

//  Settings shared by both forms: everything but the node list.
static int
s_parse_settings (config_parser_t *parser, json_t *root, config_t *self)
{
    if (config_get_string (parser, root, "", "cluster", &self->cluster) ||
        config_get_string (parser, root, "", "data_dir", &self->data_dir) ||
        config_get_u32 (parser, root, "", "heartbeat_ms", false, 1, CONFIG_MS_MAX,
                        &self->heartbeat_ms) ||
        config_get_u32 (parser, root, "", "request_timeout_ms", false, 1, CONFIG_MS_MAX,
                        &self->request_timeout_ms) ||
        config_get_u32 (parser, root, "", "max_payload_bytes", false, 1, CONFIG_PAYLOAD_MAX,
                        &self->max_payload_bytes) ||
        config_get_u32 (parser, root, "", "event_retention", false, 1, CONFIG_RETENTION_MAX,
                        &self->event_retention) ||
        config_get_u32 (parser, root, "", "snapshot_log_bytes", false, CONFIG_SNAPSHOT_BYTES_MIN,
                        CONFIG_SNAPSHOT_BYTES_MAX, &self->snapshot_log_bytes) ||
        config_get_u32 (parser, root, "", "snapshot_trailing_entries", false, 0,
                        CONFIG_TRAILING_MAX, &self->snapshot_trailing_entries) ||
        config_get_u32 (parser, root, "", "segment_bytes", false, 1, UINT32_MAX,
                        &self->segment_bytes) ||
        config_get_u32 (parser, root, "", "session_idle_s", false, 1, CONFIG_SESSION_S_MAX,
                        &self->session_idle_s) ||
        config_get_u32 (parser, root, "", "session_lifetime_s", false, 1, CONFIG_SESSION_S_MAX,
                        &self->session_lifetime_s) ||
        config_get_string (parser, root, "", "admin_secret_file", &self->admin_secret_file) ||
        s_admin_defaults (parser, root, self) || s_urgent_threads (parser, root, self) ||
        s_check_gateway (parser, root))
        return -1;
    char place[CONFIG_PATH_MAX], problem[400];
    if (config_limits_parse (json_object_get (root, "limits"), &self->limits, place, sizeof place,
                             problem, sizeof problem))
        return config_fail (parser, place, "%s", problem);

    json_t *range = json_object_get (root, "election_timeout_ms");
    if (range) {
        if (!json_is_array (range) || json_array_size (range) != 2)
            return config_fail (parser, "election_timeout_ms",
                                "must be an array of two integers [min, max]");
        uint32_t bounds[2];
        for (size_t index = 0; index < 2; index++) {
            json_t *bound = json_array_get (range, index);
            if (!json_is_integer (bound) || json_integer_value (bound) < 1 ||
                json_integer_value (bound) > CONFIG_MS_MAX) {
                char path[CONFIG_PATH_MAX];
                snprintf (path, sizeof path, "election_timeout_ms[%zu]", index);
                return config_fail (parser, path, "must be an integer from 1 to %d", CONFIG_MS_MAX);
            }
            bounds[index] = (uint32_t)json_integer_value (bound);
        }
        self->election_timeout_min_ms = bounds[0];
        self->election_timeout_max_ms = bounds[1];
    }
    //  Randomization needs room between the bounds, and a leader must beat
    //  the shortest timeout or followers would keep deposing it.
    if (self->election_timeout_min_ms >= self->election_timeout_max_ms)
        return config_fail (parser, "election_timeout_ms",
                            "min (%" PRIu32 ") must be less than max (%" PRIu32 ")",
                            self->election_timeout_min_ms, self->election_timeout_max_ms);
    if (self->heartbeat_ms >= self->election_timeout_min_ms)
        return config_fail (parser, "heartbeat_ms",
                            "%" PRIu32 " must be less than the election timeout min (%" PRIu32 ")",
                            self->heartbeat_ms, self->election_timeout_min_ms);
    return 0;
}

//  The array of node entries of either form: non-empty, objects only.
//  Fills self->nodes with zeroed entries, one per array element.
static int
s_node_array (config_parser_t *parser, json_t *array, const char *key, config_t *self)
{
    if (!json_is_array (array) || json_array_size (array) == 0)
        return config_fail (parser, key, "must be a non-empty array of objects");
    self->node_count = json_array_size (array);
    self->nodes = calloc (self->node_count, sizeof (config_node_t));
    if (!self->nodes)
        return config_fail (parser, key, "out of memory");
    for (size_t index = 0; index < self->node_count; index++)
        if (!json_is_object (json_array_get (array, index))) {
            char path[CONFIG_PATH_MAX];
            snprintf (path, sizeof path, "%s[%zu]", key, index);
            return config_fail (parser, path, "must be an object");
        }
    return 0;
}

static int
s_parse_raftq_nodes (config_parser_t *parser, json_t *array, config_t *self)
{
    if (s_node_array (parser, array, "nodes", self))
        return -1;
    for (size_t index = 0; index < self->node_count; index++) {
        json_t *entry = json_array_get (array, index);
        config_node_t *node = &self->nodes[index];
        char place[CONFIG_PLACE_MAX];
        snprintf (place, sizeof place, "nodes[%zu]", index);
        char host_path[CONFIG_PATH_MAX];
        config_path (host_path, place, "host");
        if (config_check_keys (parser, entry, place, s_raftq_node_keys) ||
            config_get_u32 (parser, entry, place, "id", true, 1, UINT32_MAX, &node->id))
            return -1;
        const char *host = s_get_host_text (parser, entry, host_path, "host");
        if (!host || s_set_host (parser, host_path, host, node->host) ||
            config_get_port (parser, entry, place, "client_port", true, &node->client_port) ||
            config_get_port (parser, entry, place, "peer_port", true, &node->peer_port) ||
            config_get_port (parser, entry, place, "pub_port", false, &node->pub_port) ||
            config_get_port (parser, entry, place, "http_port", false, &node->http_port))
            return -1;
        //  The peer port may live on a private network of its own
        strcpy (node->peer_host, node->host);
        if (json_object_get (entry, "peer_host")) {
            char peer_host_path[CONFIG_PATH_MAX];
            config_path (peer_host_path, place, "peer_host");
            const char *peer_host = s_get_host_text (parser, entry, peer_host_path, "peer_host");
            if (!peer_host || s_set_host (parser, peer_host_path, peer_host, node->peer_host))
                return -1;
        }
        json_t *join = json_object_get (entry, "join");
        if (join) {
            if (!json_is_boolean (join)) {
                char path[CONFIG_PATH_MAX];
                config_path (path, place, "join");
                return config_fail (parser, path, "must be true or false");
            }
            node->join = json_is_true (join);
        }
        if (config_keys_parse_node (parser, entry, place, node))
            return -1;
    }
    return 0;
}

static int
s_parse_rrmq_addresses (config_parser_t *parser, json_t *array, config_t *self)
{
    if (s_node_array (parser, array, "addresses", self))
        return -1;
    for (size_t index = 0; index < self->node_count; index++) {
        json_t *entry = json_array_get (array, index);
        config_node_t *node = &self->nodes[index];
        char place[CONFIG_PLACE_MAX];
        snprintf (place, sizeof place, "addresses[%zu]", index);
        //  RRMQ names its nodes by position; ids start at 1 because 0 means
        //  "no node" everywhere in raftq (leader_id, votes).
        node->id = (uint32_t)index + 1;
        char ip_path[CONFIG_PATH_MAX];
        config_path (ip_path, place, "ip");
        const char *ip = s_get_host_text (parser, entry, ip_path, "ip");
        if (!ip)
            return -1;
        //  RRMQ writes its addresses as URLs; only the address part matters.
        if (strncmp (ip, "http://", 7) == 0)
            ip += 7;
        else if (strncmp (ip, "tcp://", 6) == 0)
            ip += 6;
        if (s_set_host (parser, ip_path, ip, node->host))
            return -1;
        strcpy (node->peer_host, node->host);
        if (config_get_port (parser, entry, place, "port", true, &node->client_port) ||
            config_get_port (parser, entry, place, "internal_port", true, &node->peer_port) ||
            config_get_port (parser, entry, place, "pub_port", false, &node->pub_port))
            return -1;
    }
    return 0;
}

//  Where each node's port setting came from, by the names of the form.
static void
s_endpoint_place (char *place, const char *array, size_t index, const char *port_key)
{
    snprintf (place, CONFIG_PATH_MAX, "%s[%zu].%s", array, index, port_key);
}

//  Ids unique; no two endpoints, across all nodes and all their ports, equal
//  (two sockets cannot bind the same one). The RRMQ form has no HTTP port.
static int
s_check_unique (config_parser_t *parser, config_t *self, bool rrmq)
{
    const char *array = rrmq ? "addresses" : "nodes";
    const char *port_keys[CONFIG_PORT_KINDS] = {rrmq ? "port" : "client_port",
                                                rrmq ? "internal_port" : "peer_port", "pub_port",
                                                "http_port"};
    for (size_t index = 0; index < self->node_count; index++)
        for (size_t other = 0; other < index; other++)
            if (self->nodes[index].id == self->nodes[other].id) {
                char place[CONFIG_PATH_MAX];
                snprintf (place, sizeof place, "%s[%zu].id", array, index);
                return config_fail (parser, place, "duplicate id %" PRIu32 " (also %s[%zu])",
                                    self->nodes[index].id, array, other);
            }

    s_endpoint_t *endpoints = calloc (self->node_count * CONFIG_PORT_KINDS, sizeof (s_endpoint_t));
    if (!endpoints)
        return config_fail (parser, array, "out of memory");
    size_t count = 0;
    int rc = 0;
    for (size_t index = 0; index < self->node_count && rc == 0; index++) {
        const config_node_t *node = &self->nodes[index];
        uint16_t ports[CONFIG_PORT_KINDS] = {node->client_port, node->peer_port, node->pub_port,
                                             node->http_port};
        for (size_t which = 0; which < CONFIG_PORT_KINDS && rc == 0; which++) {
            if (ports[which] == 0)
                continue; //  an optional port not set
            const char *bound = which == 1 ? node->peer_host : node->host;
            const char *host = config_streq (bound, "localhost") ? "127.0.0.1" : bound;
            s_endpoint_t *endpoint = &endpoints[count++];
            endpoint->host = host;
            endpoint->port = ports[which];
            s_endpoint_place (endpoint->place, array, index, port_keys[which]);
            for (size_t seen = 0; seen + 1 < count; seen++)
                if (endpoints[seen].port == endpoint->port &&
                    config_streq (endpoints[seen].host, host)) {
                    rc = config_fail (parser, endpoint->place, "endpoint %s:%u already used by %s",
                                      bound, endpoint->port, endpoints[seen].place);
                    break;
                }
        }
    }
    free (endpoints);
    return rc;
}

static int
s_parse_root (config_parser_t *parser, json_t *root, config_t *self)
{
    if (!json_is_object (root))
        return config_fail (parser, "top level", "must be an object");
    json_t *nodes = json_object_get (root, "nodes");
    json_t *addresses = json_object_get (root, "addresses");
    if (nodes && addresses)
        return config_fail (
            parser, "top level",
            "has both \"nodes\" (raftq form) and \"addresses\" (RRMQ form); keep one");
    if (!nodes && !addresses)
        return config_fail (parser, "top level",
                            "needs \"nodes\" (raftq form) or \"addresses\" (RRMQ form)");
    if (nodes) {
        if (config_check_keys (parser, root, "", s_raftq_top_keys) ||
            s_parse_settings (parser, root, self) || s_parse_raftq_nodes (parser, nodes, self) ||
            s_check_unique (parser, self, false) || config_keys_parse_settings (parser, root, self))
            return -1;
        return 0;
    }

    free (self->cluster);
    self->cluster = strdup ("rrmq");
    if (!self->cluster)
        return config_fail (parser, NULL, "out of memory");
    if (s_parse_settings (parser, root, self) || s_parse_rrmq_addresses (parser, addresses, self) ||
        s_check_unique (parser, self, true))
        return -1;
    return 0;
}

//  A digest of the name and of each node's id, host, client and peer port,
//  in id order, so that the order of the file does not count: what tells
//  one RRMQ address list from another. "join" and pub_port do not count.
static uint64_t
s_cluster_id (const config_t *self)
{
    digest_t *digest = digest_new ("raftq cluster id v1");
    digest_string (digest, self->cluster);
    digest_u64 (digest, self->node_count);
    uint32_t after = 0;
    for (size_t taken = 0; taken < self->node_count; taken++) {
        const config_node_t *next = NULL;
        for (size_t index = 0; index < self->node_count; index++)
            if (self->nodes[index].id > after && (!next || self->nodes[index].id < next->id))
                next = &self->nodes[index];
        digest_u64 (digest, next->id);
        digest_string (digest, next->host);
        digest_u64 (digest, next->client_port);
        digest_u64 (digest, next->peer_port);
        after = next->id;
    }
    return digest_finish (&digest);
}

uint64_t
config_node_identity (const config_t *self, const config_node_t *node)
{
    digest_t *digest = digest_new ("raftq node identity v1");
    digest_string (digest, self->cluster);
    digest_u64 (digest, node->id);
    digest_string (digest, node->host);
    digest_u64 (digest, node->client_port);
    digest_u64 (digest, node->peer_port);
    return digest_finish (&digest);
}

//  The identity, and in the RRMQ form without a data_dir, the data
//  directory keyed by it: a new address list starts a new cluster in the
//  same working directory, the same list finds its state again.
static int
s_set_identity (config_parser_t *parser, json_t *root, config_t *self)
{
    self->cluster_id = s_cluster_id (self);
    if (!json_object_get (root, "addresses") || json_object_get (root, "data_dir"))
        return 0;
    char keyed[64];
    snprintf (keyed, sizeof keyed, "data/rrmq-%016" PRIx64, self->cluster_id);
    char *copy = strdup (keyed);
    if (!copy)
        return config_fail (parser, NULL, "out of memory");
    free (self->data_dir);
    self->data_dir = copy;
    return 0;
}

//  Parses text of a known length (a file may hold NUL bytes; they are then
//  a syntax error, not a silent truncation).
static config_t *
s_parse_buffer (const char *text, size_t length, const char *name, char *error, size_t error_size)
{
    config_parser_t parser = {name ? name : "config", error, error_size};
    if (error && error_size)
        error[0] = 0;
    json_error_t json_error;
    json_t *root = json_loadb (text, length, JSON_REJECT_DUPLICATES, &json_error);
    if (!root) {
        if (error && error_size) {
            snprintf (error, error_size, "%s:%d:%d: %s", parser.name, json_error.line,
                      json_error.column, json_error.text);
            config_parser_one_line (error);
        }
        return NULL;
    }
    config_t *self = calloc (1, sizeof (config_t));
    if (self) {
        self->path = strdup (parser.name);
        self->cluster = strdup ("raftq");
        self->data_dir = strdup ("data");
        self->heartbeat_ms = 50;
        self->election_timeout_min_ms = 300;
        self->election_timeout_max_ms = 600;
        self->request_timeout_ms = 1000;
        self->max_payload_bytes = 1048576;
        self->event_retention = 1000;
        self->snapshot_log_bytes = 64u * 1024u * 1024u;
        self->snapshot_trailing_entries = 10000;
        self->segment_bytes = 64u * 1024u * 1024u;
        self->session_idle_s = 24u * 3600u;
        self->session_lifetime_s = 7u * 24u * 3600u;
    }
    if (!self || !self->path || !self->cluster || !self->data_dir) {
        config_fail (&parser, NULL, "out of memory");
        config_destroy (&self);
    } else if (s_parse_root (&parser, root, self) || s_set_identity (&parser, root, self))
        config_destroy (&self);
    json_decref (root);
    return self;
}

config_t *
config_parse (const char *text, const char *name, char *error, size_t error_size)
{
    return s_parse_buffer (text ? text : "", text ? strlen (text) : 0, name, error, error_size);
}

config_t *
config_load (const char *path, char *error, size_t error_size)
{
    config_parser_t parser = {path ? path : "config", error, error_size};
    FILE *file = path ? fopen (path, "rb") : NULL;
    if (!file) {
        config_fail (&parser, NULL, "cannot read: %s", strerror (path ? errno : EINVAL));
        return NULL;
    }
    char *text = NULL;
    size_t length = 0;
    FILE *buffer = open_memstream (&text, &length);
    char chunk[4096];
    size_t got = 0;
    bool failed = buffer == NULL;
    while (!failed && (got = fread (chunk, 1, sizeof chunk, file)) > 0)
        failed = fwrite (chunk, 1, got, buffer) != got;
    int read_errno = ferror (file) ? errno : 0;
    fclose (file);
    if (buffer && fclose (buffer))
        failed = true;
    if (failed || read_errno) {
        config_fail (&parser, NULL, "cannot read: %s", strerror (read_errno ? read_errno : ENOMEM));
        free (text);
        return NULL;
    }
    config_t *self = s_parse_buffer (text, length, path, error, error_size);
    free (text);
    return self;
}

void
config_destroy (config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    config_t *self = *self_p;
    free (self->path);
    free (self->cluster);
    free (self->data_dir);
    free (self->admin_secret_file);
    for (size_t index = 0; self->nodes && index < self->node_count; index++)
        config_keys_clear_node (&self->nodes[index]);
    free (self->nodes);
    free (self->client_keys);
    free (self);
    *self_p = NULL;
}

const config_node_t *
config_node (const config_t *self, uint32_t id)
{
    if (!self)
        return NULL;
    for (size_t index = 0; index < self->node_count; index++)
        if (self->nodes[index].id == id)
            return &self->nodes[index];
    return NULL;
}
