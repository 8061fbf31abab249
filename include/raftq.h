/*  raftq.h — the public API of libraftq, the C client of a raftq cluster.

    A raftq_client_t talks to the cluster's client ports (DESIGN 5) over one
    ZeroMQ DEALER per node, in the protobuf dialect. It finds the leader by
    itself: it remembers the last node that served it, follows NOT_LEADER
    hints, and moves round robin through the nodes when one says NO_LEADER,
    UNAVAILABLE or TIMEOUT, or stays silent for the attempt timeout. Every
    retry of one call reuses the same client id and sequence number, so the
    cluster applies a retried publish or pop once and answers it with the
    first reply (exactly-once).

    Synchronous calls return a raftq_code_t: RAFTQ_OK (0) or the code of the
    failure, with human text in raftq_client_error (). A client is not
    thread-safe: use one per thread.

    For benchmarks and other pipelining users there is an asynchronous API
    (raftq_send_*, raftq_receive, raftq_wait): many requests in flight on one
    client, replies matched to requests by their sequence number. Do not mix
    it with synchronous calls while replies are outstanding: a synchronous
    call discards every reply that is not its own.
*/
#ifndef RAFTQ_H_INCLUDED
#define RAFTQ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Outcome of an operation: the codes of raftq.proto, same numbers.
typedef enum {
    RAFTQ_OK = 0,                 //  done
    RAFTQ_NOT_LEADER = 1,         //  asked a follower (the client follows the hint itself)
    RAFTQ_NO_LEADER = 2,          //  the cluster has no leader at the moment
    RAFTQ_NOT_FOUND = 3,          //  no such topic
    RAFTQ_ALREADY_EXISTS = 4,     //  topic exists already
    RAFTQ_EMPTY = 5,              //  topic has no message to pop
    RAFTQ_INVALID_ARGUMENT = 6,   //  bad name, bad request (also refused client-side)
    RAFTQ_UNAUTHENTICATED = 7,    //  chat session token missing or unknown
    RAFTQ_PERMISSION_DENIED = 8,  //  not allowed for this session
    RAFTQ_TOO_LARGE = 9,          //  payload above the cluster's limit
    //  Outcome unknown: the cluster did not commit in time, or (client-side)
    //  no definitive reply came before the call's total timeout. Retrying
    //  the same operation is safe only through the same call.
    RAFTQ_TIMEOUT = 10,
    RAFTQ_UNAVAILABLE = 11,       //  node cannot serve now (starting, stopping, overloaded)
    RAFTQ_INTERNAL = 12           //  a bug or an undecodable reply
} raftq_code_t;

typedef enum {
    RAFTQ_ROLE_FOLLOWER = 0,
    RAFTQ_ROLE_CANDIDATE = 1,
    RAFTQ_ROLE_LEADER = 2
} raftq_role_t;

//  How many member ids a raftq_status_t carries; a larger membership is cut.
#define RAFTQ_MEMBERS_MAX 32

//  What one node says about itself (the Status operation).
typedef struct {
    uint32_t id;                           //  node id
    raftq_role_t role;                     //  its Raft role
    uint64_t term;                         //  its current term
    uint32_t leader_id;                    //  leader it believes in, 0 if none
    uint64_t commit_index;                 //  highest log index known committed
    uint64_t applied_index;                //  highest log index applied to its state
    uint64_t last_index;                   //  last index in its log
    uint32_t members[RAFTQ_MEMBERS_MAX];   //  ids of the voting members
    size_t member_count;                   //  how many of members are set
} raftq_status_t;

//  One reply of the asynchronous API. Holds no heap memory.
typedef struct {
    raftq_code_t code;        //  outcome
    uint64_t seq;             //  sequence number of the request it answers
    uint64_t index;           //  log index the request committed at, 0 if none
    uint64_t sequence;        //  publish or pop: position of the message in its topic
    size_t payload_size;      //  pop: size of the popped message
    uint32_t leader_id;       //  NOT_LEADER: the leader the node believes in, 0 if unknown
} raftq_reply_t;

typedef struct _raftq_client_t raftq_client_t;

//  Creates a client for a cluster whose client ports are endpoints
//  ("tcp://host:port"), count of them. No connection is made before the
//  first call. Returns NULL if count is 0 or an endpoint is NULL or empty.
raftq_client_t *
    raftq_client_new (const char **endpoints, size_t count);

//  Creates a client for the nodes of a config file: the raftq form
//  (nodes[].host and client_port) or the RRMQ form (addresses[].ip and
//  port). Returns NULL if the file cannot be used; raftq_config_endpoints
//  says why.
raftq_client_t *
    raftq_client_new_from_config (const char *config_path);

//  Closes the client's sockets (unsent requests are dropped) and frees it;
//  nulls *self_p.
void
    raftq_client_destroy (raftq_client_t **self_p);

//  How long, in ms, a synchronous call keeps trying across leader changes
//  before it gives up with RAFTQ_TIMEOUT (or the last failure a node
//  reported). Default 5000.
void
    raftq_client_set_timeout (raftq_client_t *self, int total_ms);

//  How long, in ms, one attempt waits for a node's reply before the client
//  tries the next node. Also the whole wait of raftq_status. Default 1000.
void
    raftq_client_set_attempt_timeout (raftq_client_t *self, int attempt_ms);

//  The client's random id; requests carry it with their sequence number.
uint64_t
    raftq_client_id (raftq_client_t *self);

//  Number of endpoints the client knows: those it was created with, then
//  any new one a NOT_LEADER hint named.
size_t
    raftq_client_endpoint_count (raftq_client_t *self);

//  The endpoint at index, or NULL past the end.
const char *
    raftq_client_endpoint (raftq_client_t *self, size_t index);

//  The endpoint of the node that last served a leader-only call, or NULL
//  when no leader is known.
const char *
    raftq_client_leader (raftq_client_t *self);

//  Human text of the last failure ("" after a success). Valid until the
//  next call on this client.
const char *
    raftq_client_error (raftq_client_t *self);

//  --- Synchronous operations (leader-following, retried until the total
//  timeout). Each returns RAFTQ_OK or the failure's code.

//  Creates a topic. RAFTQ_ALREADY_EXISTS if it exists.
raftq_code_t
    raftq_create_topic (raftq_client_t *self, const char *name);

//  Lists topic names in creation order into *names_p: a NULL-terminated
//  array the caller frees with raftq_strings_free. *names_p is NULL on
//  failure.
raftq_code_t
    raftq_list_topics (raftq_client_t *self, char ***names_p);

//  Appends size bytes of payload to topic. On success *sequence_p (if not
//  NULL) gets the message's position in the topic, from 1.
raftq_code_t
    raftq_publish (raftq_client_t *self, const char *topic,
                   const void *payload, size_t size, uint64_t *sequence_p);

//  Removes the oldest message of topic. On success *payload_p gets a
//  malloc'd copy the caller frees (with one extra 0 byte after the
//  message, so text can be used as a C string) and *size_p its size.
//  RAFTQ_EMPTY when the topic has no message, RAFTQ_NOT_FOUND without topic.
raftq_code_t
    raftq_pop (raftq_client_t *self, const char *topic, void **payload_p, size_t *size_p);

//  Asks the node at endpoint index for its status: one attempt within the
//  attempt timeout, whatever its role (no leader-following). RAFTQ_TIMEOUT
//  when it does not answer (down, paused, cut off).
raftq_code_t
    raftq_status (raftq_client_t *self, size_t index, raftq_status_t *status);

//  --- Asynchronous operations. A send goes to the current leader (or the
//  next node round robin when none is known) and returns at once; replies
//  come back through raftq_receive in the order nodes answer. A NOT_LEADER
//  reply with a hint moves later sends to that leader. Nothing is retried:
//  the caller decides what a failed or unanswered request means.

//  Sends a publish. Returns 0 and its sequence number in *seq_p (if not
//  NULL), or -1 if it could not be queued (bad argument, or the node's
//  queue is full); raftq_client_error says which.
int
    raftq_send_publish (raftq_client_t *self, const char *topic,
                        const void *payload, size_t size, uint64_t *seq_p);

//  Sends a pop, like raftq_send_publish. The reply says how large the
//  popped message was; its content is not kept.
int
    raftq_send_pop (raftq_client_t *self, const char *topic, uint64_t *seq_p);

//  Waits up to timeout_ms (0: just look, -1: forever) for the next reply on
//  any of the client's sockets. Returns 0 with *reply filled, or -1 when
//  none came. Undecodable replies are skipped.
int
    raftq_receive (raftq_client_t *self, int timeout_ms, raftq_reply_t *reply);

//  Waits up to timeout_ms (-1: forever) until at least one of count clients
//  has a reply waiting. Sets ready[i] for each such client and returns how
//  many are ready (0 on timeout), or -1 if polling failed (interrupted).
int
    raftq_wait (raftq_client_t **clients, size_t count, int timeout_ms, bool *ready);

//  Gives up on the node sends go to now: closes its socket, which drops
//  requests still queued for it and any late replies, and makes later
//  sends go to the next node round robin (hints then lead to the leader).
//  For asynchronous users whose requests went unanswered: a dead or cut
//  off leader never says NOT_LEADER.
void
    raftq_client_move_on (raftq_client_t *self);

//  --- Helpers

//  Reads a config file (raftq or RRMQ form) and returns its nodes' client
//  endpoints ("tcp://host:port", file order) as a NULL-terminated array to
//  free with raftq_strings_free. On failure returns NULL and writes
//  "FILE:LINE:COLUMN: problem" or "FILE: place: problem" into error.
char **
    raftq_config_endpoints (const char *path, char *error, size_t error_size);

//  Frees a NULL-terminated string array of this library; nulls *strings_p.
void
    raftq_strings_free (char ***strings_p);

//  The code's name as in DESIGN 5.1 ("NOT_FOUND"), "UNKNOWN" outside the enum.
const char *
    raftq_code_name (raftq_code_t code);

//  The role's name in lower case ("leader"), "unknown" outside the enum.
const char *
    raftq_role_name (raftq_role_t role);

#ifdef __cplusplus
}
#endif

#endif
