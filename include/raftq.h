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

    Chat calls (raftq_create_account ... raftq_delete_account) are ordinary
    synchronous calls; the session token raftq_login returns is kept in the
    client and sent with every later request.

    A raftq_subscription_t follows one event stream (DESIGN 6) on the PUB
    port of any node and hands the caller each event exactly once, in seq
    order: it fills gaps with Replay on the client ports, drops duplicates,
    and moves to another node's PUB when its node falls silent. Events the
    cluster no longer retains are reported as a gap, never skipped silently.

    CurveZMQ: a cluster may require CURVE on its client and PUB ports
    (config client_curve). A client made with raftq_client_new_curve or
    raftq_client_load (and raftq_client_new_from_config when the config
    turns client_curve on) encrypts and authenticates every socket: it
    checks each node's public key (its certificate) and shows the node its
    own key pair (a czmq certificate: public part at PATH, secret part at
    PATH_secret, as `raftq keygen PATH` writes them). A node that refuses
    the client's key answers nothing: calls end in RAFTQ_TIMEOUT.

    Link with pkg-config: cc app.c $(pkg-config --cflags --libs raftq).
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
    RAFTQ_OK = 0,                //  done
    RAFTQ_NOT_LEADER = 1,        //  asked a follower (the client follows the hint itself)
    RAFTQ_NO_LEADER = 2,         //  the cluster has no leader at the moment
    RAFTQ_NOT_FOUND = 3,         //  no such topic
    RAFTQ_ALREADY_EXISTS = 4,    //  topic exists already
    RAFTQ_EMPTY = 5,             //  topic has no message to pop
    RAFTQ_INVALID_ARGUMENT = 6,  //  bad name, bad request (also refused client-side)
    RAFTQ_UNAUTHENTICATED = 7,   //  chat session token missing or unknown
    RAFTQ_PERMISSION_DENIED = 8, //  not allowed for this session
    RAFTQ_TOO_LARGE = 9,         //  payload above the cluster's limit
    //  Outcome unknown: the cluster did not commit in time, or (client-side)
    //  no definitive reply came before the call's total timeout. Retrying
    //  the same operation is safe only through the same call.
    RAFTQ_TIMEOUT = 10,
    RAFTQ_UNAVAILABLE = 11, //  node cannot serve now (starting, stopping, overloaded)
    RAFTQ_INTERNAL = 12,    //  a bug or an undecodable reply
    //  A limit of the cluster is reached (config.json "limits"; the error
    //  text names it): retry once space is freed; or a throttle (too many
    //  failed logins): retry after raftq_client_retry_after
    RAFTQ_RESOURCE_EXHAUSTED = 13
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
    uint32_t id;                         //  node id
    raftq_role_t role;                   //  its Raft role
    uint64_t term;                       //  its current term
    uint32_t leader_id;                  //  leader it believes in, 0 if none
    uint64_t commit_index;               //  highest log index known committed
    uint64_t applied_index;              //  highest log index applied to its state
    uint64_t last_index;                 //  last index in its log
    uint32_t members[RAFTQ_MEMBERS_MAX]; //  ids of the voting members
    size_t member_count;                 //  how many of members are set
} raftq_status_t;

//  Size of a member's host text, terminating zero included.
#define RAFTQ_HOST_MAX 256

//  One member of the configuration as a node reports it (raftq_status_detail).
typedef struct {
    uint32_t id;               //  node id
    bool voter;                //  votes; false: a learner, catching up, not counted
    char host[RAFTQ_HOST_MAX]; //  host of its endpoints, "" if unknown
    uint16_t client_port;      //  its client port, 0 if unknown
    uint16_t peer_port;        //  its peer port, 0 if unknown
    uint16_t pub_port;         //  its PUB port, 0: none
    bool replication_known;    //  the answering node leads: match_index and lag are set
    uint64_t match_index;      //  highest log index known replicated on it
    uint64_t lag;              //  the leader's last index - match_index
} raftq_member_status_t;

//  What one node says about itself with the detail (raftq_status_detail).
//  Holds no heap memory.
typedef struct {
    raftq_status_t status; //  what raftq_status reports
    bool detailed;         //  the node sent the rest (an older node does not)
    //  Its configuration, learners included, by id
    raftq_member_status_t members[RAFTQ_MEMBERS_MAX];
    size_t member_count;      //  how many of members are set (a larger one is cut)
    uint64_t config_index;    //  log index of the entry that set that configuration
    uint64_t snapshot_index;  //  last index covered by its newest snapshot, 0: none
    uint64_t snapshot_term;   //  term of that entry
    uint64_t first_index;     //  first index still in its log on disk, 0: empty
    uint64_t log_bytes;       //  bytes of its log's segment files
    uint64_t snapshot_bytes;  //  bytes of its snapshot files
    uint64_t state_bytes;     //  accounted bytes of the replicated state
    uint64_t max_state_bytes; //  the node's limit on them (config "limits"), 0: not sent
} raftq_status_detail_t;

//  Size of a receipt buffer, terminating zero included: the longest
//  receipt the asynchronous API carries (longer ones read as RAFTQ_INTERNAL).
#define RAFTQ_RECEIPT_MAX 128

//  One reply of the asynchronous API. Holds no heap memory.
typedef struct {
    raftq_code_t code;   //  outcome
    uint64_t seq;        //  sequence number of the request it answers
    uint64_t index;      //  log index the request committed at, 0 if none
    uint64_t sequence;   //  publish, pop or reserve: position of the message in its topic
    size_t payload_size; //  pop or reserve: size of the message
    uint32_t leader_id;  //  NOT_LEADER: the leader the node believes in, 0 if unknown
    uint32_t deliveries; //  reserve: times the message was reserved, this one included
    char receipt[RAFTQ_RECEIPT_MAX]; //  reserve: what raftq_send_ack needs, "" otherwise
} raftq_reply_t;

typedef struct _raftq_client_t raftq_client_t;

//  Creates a client for a cluster whose client ports are endpoints
//  ("tcp://host:port"), count of them. No connection is made before the
//  first call. Returns NULL if count is 0 or an endpoint is NULL or empty.
raftq_client_t *raftq_client_new (const char **endpoints, size_t count);

//  Creates a client for the nodes of a config file: the raftq form
//  (nodes[].host and client_port) or the RRMQ form (addresses[].ip and
//  port), with CurveZMQ when the config turns client_curve on (see
//  raftq_client_load). Returns NULL with errno set if the file or a key
//  cannot be used; raftq_client_load says why.
raftq_client_t *raftq_client_new_from_config (const char *config_path);

//  Creates a client that talks CurveZMQ to count nodes: endpoints[i] is
//  node i's client port and server_keys[i] its public key, in Z85 (40
//  characters). client_certificate is the file of the client's own key
//  pair (secret part in client_certificate + "_secret"); NULL or "" gives
//  the client a fresh pair, which a cluster with client_curve true accepts
//  and one with an allow-list refuses. server_keys NULL: plaintext, as
//  raftq_client_new. Keys and certificate are checked here: returns NULL
//  with errno set (EINVAL for a bad key or count, the file's errno for an
//  unreadable certificate) and one line in error saying which.
raftq_client_t *raftq_client_new_curve (const char **endpoints, const char **server_keys,
                                        size_t count, const char *client_certificate, char *error,
                                        size_t error_size);

//  Creates a client for the nodes of the config at path, as
//  raftq_client_new_from_config does, saying why not in error (and errno)
//  when it cannot. With client_curve on in the config it talks CurveZMQ:
//  each node's key comes from its "certificate" file or its "public_key",
//  the client's key pair from client_certificate if not NULL or "", else
//  as raftq_config_client_curve finds it.
raftq_client_t *raftq_client_load (const char *config_path, const char *client_certificate,
                                   char *error, size_t error_size);

//  Sets the CURVE public key (Z85) of the node at endpoint index, e.g. one
//  added with raftq_client_add_endpoint: a client that talks CurveZMQ
//  cannot reach a node whose key it does not know. A plaintext client keeps
//  the key unused. Returns 0, or -1 with errno EINVAL and the error text
//  set for a bad key or index.
int raftq_client_set_server_key (raftq_client_t *self, size_t index, const char *server_key);

//  Closes the client's sockets (unsent requests are dropped) and frees it;
//  nulls *self_p.
void raftq_client_destroy (raftq_client_t **self_p);

//  How long, in ms, a synchronous call keeps trying across leader changes
//  before it gives up with RAFTQ_TIMEOUT (or the last failure a node
//  reported). Default 5000.
void raftq_client_set_timeout (raftq_client_t *self, int total_ms);

//  How long, in ms, one attempt waits for a node's reply before the client
//  tries the next node. Also the whole wait of raftq_status. Default 1000.
void raftq_client_set_attempt_timeout (raftq_client_t *self, int attempt_ms);

//  The client's random id; requests carry it with their sequence number.
uint64_t raftq_client_id (raftq_client_t *self);

//  Number of endpoints the client knows: those it was created with, then
//  any new one a NOT_LEADER hint named.
size_t raftq_client_endpoint_count (raftq_client_t *self);

//  The endpoint at index, or NULL past the end.
const char *raftq_client_endpoint (raftq_client_t *self, size_t index);

//  Adds endpoint ("tcp://host:port") to those the client knows, e.g. a
//  node added at run time that the config does not list; finds it if it
//  is known. Returns 0 with its index in *index_p (if not NULL), or -1 if
//  endpoint is NULL or empty, or when out of memory.
int raftq_client_add_endpoint (raftq_client_t *self, const char *endpoint, size_t *index_p);

//  The endpoint of the node that last served a leader-only call, or NULL
//  when no leader is known.
const char *raftq_client_leader (raftq_client_t *self);

//  Human text of the last failure ("" after a success). Valid until the
//  next call on this client.
const char *raftq_client_error (raftq_client_t *self);

//  Milliseconds the last failure asked to wait before a retry (a login
//  throttle's RESOURCE_EXHAUSTED), 0 if it did not say or after a success.
uint32_t raftq_client_retry_after (raftq_client_t *self);

//  --- Synchronous operations (leader-following, retried until the total
//  timeout). Each returns RAFTQ_OK or the failure's code.

//  Creates a topic. RAFTQ_ALREADY_EXISTS if it exists.
raftq_code_t raftq_create_topic (raftq_client_t *self, const char *name);

//  Lists topic names in creation order into *names_p: a NULL-terminated
//  array the caller frees with raftq_strings_free. *names_p is NULL on
//  failure.
raftq_code_t raftq_list_topics (raftq_client_t *self, char ***names_p);

//  Appends size bytes of payload to topic. On success *sequence_p (if not
//  NULL) gets the message's position in the topic, from 1.
raftq_code_t raftq_publish (raftq_client_t *self, const char *topic, const void *payload,
                            size_t size, uint64_t *sequence_p);

//  Removes the oldest message of topic. On success *payload_p gets a
//  malloc'd copy the caller frees (with one extra 0 byte after the
//  message, so text can be used as a C string) and *size_p its size.
//  RAFTQ_EMPTY when the topic has no message, RAFTQ_NOT_FOUND without topic.
raftq_code_t raftq_pop (raftq_client_t *self, const char *topic, void **payload_p, size_t *size_p);

//  --- Acknowledged consumption (DESIGN 5.1 Reserve, Ack, Nack). A waiting
//  call (wait_ms > 0) lets the leader park the request until a message
//  arrives; the cluster bounds the wait by its request timeout. The client
//  gives every attempt and the whole call wait_ms more than its own
//  timeouts, so a parked request is not taken for a silent node.

//  Visibility of a reservation when 0 is asked for: the cluster's default.
#define RAFTQ_VISIBILITY_DEFAULT_MS 30000

//  A message taken by raftq_reserve or raftq_pop_wait. Free it with
//  raftq_delivery_destroy.
typedef struct {
    char *topic;                  //  the topic it was taken from
    void *payload;                //  the message, with one extra 0 byte after it
    size_t size;                  //  its size
    uint64_t sequence;            //  its position in the topic, from 1
    char *receipt;                //  reserve: names this delivery for ack and nack; pop: NULL
    uint32_t deliveries;          //  reserve: times reserved, this one included (from 1)
    int64_t visible_at_ms;        //  reserve: leader time (ms since the epoch) at which it
                                  //  becomes ready again unless acked
    char *original_topic;         //  a dead letter: the topic it was published to; else NULL
    uint32_t original_deliveries; //  a dead letter: times it was reserved there
} raftq_delivery_t;

//  Frees a delivery and its strings; nulls *delivery_p.
void raftq_delivery_destroy (raftq_delivery_t **delivery_p);

//  Creates a topic whose messages move to the topic dead_letter (which must
//  exist) once reserved max_deliveries times without an ack. max_deliveries
//  0 and dead_letter NULL or "": an ordinary topic, as raftq_create_topic.
//  One without the other is RAFTQ_INVALID_ARGUMENT, refused client-side.
raftq_code_t raftq_create_topic_dead_letter (raftq_client_t *self, const char *name,
                                             uint32_t max_deliveries, const char *dead_letter);

//  Reserves the oldest ready message of topic for visibility_ms (0: the
//  default): other consumers do not get it until then, unless it is
//  nacked. Waits up to wait_ms for one when the topic has none (0: not at
//  all). On success *delivery_p gets the message with its receipt.
//  RAFTQ_EMPTY when nothing came, RAFTQ_NOT_FOUND without topic.
raftq_code_t raftq_reserve (raftq_client_t *self, const char *topic, uint32_t visibility_ms,
                            uint32_t wait_ms, raftq_delivery_t **delivery_p);

//  Acknowledges a reserved message: it is gone for good. RAFTQ_NOT_FOUND
//  when the receipt is unknown or its visibility time has ended (the
//  message may have gone to another consumer).
raftq_code_t raftq_ack (raftq_client_t *self, const char *receipt);

//  Gives a reserved message back: ready again after delay_ms (0: at once).
//  RAFTQ_NOT_FOUND as for raftq_ack.
raftq_code_t raftq_nack (raftq_client_t *self, const char *receipt, uint32_t delay_ms);

//  raftq_pop that waits up to wait_ms for a message when topic has none.
//  On success *delivery_p gets it (receipt NULL: it is gone already).
raftq_code_t raftq_pop_wait (raftq_client_t *self, const char *topic, uint32_t wait_ms,
                             raftq_delivery_t **delivery_p);

//  One topic's queue as a node has applied it (raftq_topics_status).
typedef struct {
    char *name;              //  the topic
    uint64_t ready;          //  messages a reserve or pop could take now
    uint64_t reserved;       //  reserved and not acked yet
    uint64_t delayed;        //  nacked with a delay that has not ended
    uint64_t dead_lettered;  //  messages ever moved from it to its dead-letter topic
    uint32_t max_deliveries; //  0: unlimited
    char *dead_letter;       //  its dead-letter topic, "" if none
} raftq_topic_status_t;

//  Every topic of a node, in creation order.
typedef struct {
    raftq_topic_status_t *topics; //  count of them
    size_t count;                 //  how many
} raftq_topics_status_t;

//  Asks the node at endpoint index (as raftq_status_detail does: one
//  attempt, the admin secret) for its topics' queues. Ask the leader for
//  the newest counts. On success *topics_p gets them (free with
//  raftq_topics_status_destroy); an older node that sends none gives an
//  empty list.
raftq_code_t raftq_topics_status (raftq_client_t *self, size_t index,
                                  raftq_topics_status_t **topics_p);

//  Frees a topics status and its strings; nulls *topics_p.
void raftq_topics_status_destroy (raftq_topics_status_t **topics_p);

//  Asks the node at endpoint index for its status: one attempt within the
//  attempt timeout, whatever its role (no leader-following). RAFTQ_TIMEOUT
//  when it does not answer (down, paused, cut off).
raftq_code_t raftq_status (raftq_client_t *self, size_t index, raftq_status_t *status);

//  The same with the detail: the node's configuration with voters and
//  learners, each member's match index and lag when that node leads, its
//  newest snapshot and its log and snapshot sizes on disk.
raftq_code_t raftq_status_detail (raftq_client_t *self, size_t index,
                                  raftq_status_detail_t *detail);

//  --- Cluster administration (DESIGN 5.1 AddNode, RemoveNode,
//  TransferLeadership), answered by the leader once done; each call waits
//  up to the longer of the client's timeouts and RAFTQ_ADMIN_TIMEOUT_MS.

//  Admin calls, raftq_status_detail and raftq_admin_snapshot present the
//  cluster's admin secret (without it they get RAFTQ_UNAUTHENTICATED, with
//  a wrong one RAFTQ_PERMISSION_DENIED). raftq_client_new_from_config sets
//  it from the config (raftq_config_admin_secret) when it can; this sets
//  it (a copy is kept; NULL or "" clears it). Returns 0, or -1 when out of
//  memory.
int raftq_client_set_admin_secret (raftq_client_t *self, const char *secret);

//  The admin secret for the cluster of the config at path: $RAFTQ_ADMIN_SECRET
//  when set, else the contents of the file the config names in
//  "admin_secret_file" (default: admin.secret in its data_dir, "data" when
//  it names none), trailing white space dropped. A new string to free, or
//  NULL with error set.
char *raftq_config_admin_secret (const char *path, char *error, size_t error_size);

//  Wait of an admin call: the broker answers within 10 s.
#define RAFTQ_ADMIN_TIMEOUT_MS 12000

//  Adds node id, reached at host on client_port, peer_port and pub_port
//  (0: it publishes nothing), as a learner; returns RAFTQ_OK once it has
//  caught up and votes. Adding a voter again is RAFTQ_OK.
raftq_code_t raftq_add_node (raftq_client_t *self, uint32_t id, const char *host,
                             uint16_t client_port, uint16_t peer_port, uint16_t pub_port);

//  raftq_add_node with the new node's CurveZMQ public key (Z85), which a
//  cluster whose peer port runs CURVE requires: the members accept the
//  node's peer connections by it. NULL or "": none. RAFTQ_INVALID_ARGUMENT
//  for a key that is not one, without asking the cluster.
raftq_code_t raftq_add_node_key (raftq_client_t *self, uint32_t id, const char *host,
                                 uint16_t client_port, uint16_t peer_port, uint16_t pub_port,
                                 const char *public_key);

//  Removes node id, voter or learner, the leader too (it hands over);
//  returns RAFTQ_OK once the removal is committed.
raftq_code_t raftq_remove_node (raftq_client_t *self, uint32_t id);

//  Hands leadership to voter id; returns RAFTQ_OK once it leads.
raftq_code_t raftq_transfer_leader (raftq_client_t *self, uint32_t id);

//  Asks the node at endpoint index (any role: each node snapshots its own
//  state) to snapshot now and compact its log; returns RAFTQ_OK once the
//  snapshot is durable, with its index in *snapshot_index_p (if not NULL).
//  One attempt at that node, no leader-following; RAFTQ_TIMEOUT when it
//  does not answer.
raftq_code_t raftq_admin_snapshot (raftq_client_t *self, size_t index, uint64_t *snapshot_index_p);

//  --- Asynchronous operations. A send goes to the current leader (or the
//  next node round robin when none is known) and returns at once; replies
//  come back through raftq_receive in the order nodes answer. A NOT_LEADER
//  reply with a hint moves later sends to that leader. Nothing is retried:
//  the caller decides what a failed or unanswered request means.

//  Sends a publish. Returns 0 and its sequence number in *seq_p (if not
//  NULL), or -1 if it could not be queued (bad argument, or the node's
//  queue is full); raftq_client_error says which.
int raftq_send_publish (raftq_client_t *self, const char *topic, const void *payload, size_t size,
                        uint64_t *seq_p);

//  Sends a ListTopics, like raftq_send_publish (a read the leader answers
//  without a log entry). The reply's names are not kept.
int raftq_send_list_topics (raftq_client_t *self, uint64_t *seq_p);

//  Sends a pop, like raftq_send_publish. The reply says how large the
//  popped message was; its content is not kept.
int raftq_send_pop (raftq_client_t *self, const char *topic, uint64_t *seq_p);

//  Sends a reserve (no wait), like raftq_send_publish. The reply carries
//  the receipt and delivery count, and the message's size, not its content.
int raftq_send_reserve (raftq_client_t *self, const char *topic, uint32_t visibility_ms,
                        uint64_t *seq_p);

//  Sends an ack of receipt, like raftq_send_publish.
int raftq_send_ack (raftq_client_t *self, const char *receipt, uint64_t *seq_p);

//  Waits up to timeout_ms (0: just look, -1: forever) for the next reply on
//  any of the client's sockets. Returns 0 with *reply filled, or -1 when
//  none came. Undecodable replies are skipped.
int raftq_receive (raftq_client_t *self, int timeout_ms, raftq_reply_t *reply);

//  Waits up to timeout_ms (-1: forever) until at least one of count clients
//  has a reply waiting. Sets ready[i] for each such client and returns how
//  many are ready (0 on timeout), or -1 if polling failed (interrupted).
int raftq_wait (raftq_client_t **clients, size_t count, int timeout_ms, bool *ready);

//  Gives up on the node sends go to now: closes its socket, which drops
//  requests still queued for it and any late replies, and makes later
//  sends go to the next node round robin (hints then lead to the leader).
//  For asynchronous users whose requests went unanswered: a dead or cut
//  off leader never says NOT_LEADER.
void raftq_client_move_on (raftq_client_t *self);

//  --- Chat (DESIGN 5.1). The client keeps one session token: raftq_login
//  sets it, raftq_logout and raftq_delete_account clear it, and every
//  request carries it. Calls that need a session fail at once, without
//  asking the cluster, with RAFTQ_UNAUTHENTICATED when there is none.

//  One chat message.
typedef struct {
    uint64_t id; //  global message id
    char *from;  //  sender's account name
    char *to;    //  recipient's account name
    char *text;  //  the message
    int64_t ts;  //  ms since the epoch, fixed by the leader
    bool read;   //  the recipient has read it
} raftq_message_t;

//  One page of messages, from raftq_read_messages.
typedef struct {
    raftq_message_t *messages; //  count messages, in the cluster's order
    size_t count;              //  how many messages this page holds
    uint64_t total;            //  messages in the whole listing
    uint64_t remaining;        //  messages after this page
} raftq_message_page_t;

//  Sets the session token requests carry (a copy is kept); NULL or ""
//  clears it. For a token obtained elsewhere, e.g. by another process.
//  Returns 0, or -1 when out of memory (the old token is kept).
int raftq_client_set_token (raftq_client_t *self, const char *token);

//  The session token, or NULL when the client holds none.
const char *raftq_client_token (raftq_client_t *self);

//  Creates an account. RAFTQ_ALREADY_EXISTS if the name is taken.
raftq_code_t raftq_create_account (raftq_client_t *self, const char *user, const char *password);

//  Asks whether an account exists; the answer goes to *exists_p.
raftq_code_t raftq_check_user (raftq_client_t *self, const char *user, bool *exists_p);

//  Logs in. On success the client keeps the new session token (see
//  raftq_client_token) and *unread_p (if not NULL) gets the number of
//  unread messages. RAFTQ_UNAUTHENTICATED for a wrong user or password.
raftq_code_t raftq_login (raftq_client_t *self, const char *user, const char *password,
                          uint64_t *unread_p);

//  Ends the session on the cluster and forgets the token. The token is
//  forgotten also when the cluster says it was unknown already.
raftq_code_t raftq_logout (raftq_client_t *self);

//  Lists account names matching pattern (a glob: * ? [..]; NULL or "" for
//  all), sorted, one page: page from 1, page_size names (0: the cluster's
//  default). *names_p gets a NULL-terminated array to free with
//  raftq_strings_free (NULL on failure), *total_p (if not NULL) the number
//  of matches over all pages.
raftq_code_t raftq_list_accounts (raftq_client_t *self, const char *pattern, uint32_t page,
                                  uint32_t page_size, char ***names_p, uint64_t *total_p);

//  Sends text to the account to. On success *id_p and *ts_p (each if not
//  NULL) get the message's global id and its timestamp.
raftq_code_t raftq_send_message (raftq_client_t *self, const char *to, const char *text,
                                 uint64_t *id_p, int64_t *ts_p);

//  Reads one page of messages: with partner NULL or "", the session's
//  unread messages (which the cluster then marks read); else the whole
//  conversation with partner. page from 1, page_size 0 for the cluster's
//  default. On success *page_p gets a page to free with
//  raftq_message_page_destroy; NULL on failure.
raftq_code_t raftq_read_messages (raftq_client_t *self, const char *partner, uint32_t page,
                                  uint32_t page_size, raftq_message_page_t **page_p);

//  Frees a page and its messages; nulls *page_p.
void raftq_message_page_destroy (raftq_message_page_t **page_p);

//  Deletes the count messages with the given ids; only messages the session
//  sent or received can be deleted. *deleted_p (if not NULL) gets how many
//  were.
raftq_code_t raftq_delete_messages (raftq_client_t *self, const uint64_t *ids, size_t count,
                                    uint64_t *deleted_p);

//  Deletes the session's account, its sessions and its inbox; the client
//  forgets the token.
raftq_code_t raftq_delete_account (raftq_client_t *self);

//  --- Subscriptions: one event stream, followed on any node (DESIGN 6).

//  One event of a stream. Strings and arrays belong to the subscription and
//  stay valid until the next raftq_subscription_next or destroy. Fields a
//  kind does not use are 0, "" or NULL.
typedef struct {
    const char *stream;  //  topic/<name>, user/<name> or conv/<a>/<b>
    uint64_t seq;        //  position in the stream, from 1, without gaps
    uint64_t index;      //  log index of the entry that produced it
    const char *kind;    //  "publish", "message", "delete", ...
    const char *topic;   //  publish: the topic
    const void *message; //  publish: the payload bytes
    size_t message_size; //  publish: their size
    uint64_t id;         //  message: the chat message id
    const char *from;    //  message: sender
    const char *to;      //  message: recipient
    const char *text;    //  message: the text
    int64_t ts;          //  message: ms since the epoch
    const uint64_t *ids; //  delete: ids of the deleted messages
    size_t id_count;     //  delete: how many
} raftq_event_t;

//  Events of a stream that are lost for good: the cluster no longer retains
//  them, so no node can replay them.
typedef struct {
    uint64_t first; //  first lost seq
    uint64_t last;  //  last lost seq
} raftq_gap_t;

//  What raftq_subscription_next has to report.
typedef enum {
    RAFTQ_SUBSCRIPTION_NONE = 0,  //  nothing within the timeout (or interrupted)
    RAFTQ_SUBSCRIPTION_EVENT = 1, //  *event is the stream's next event
    RAFTQ_SUBSCRIPTION_GAP = 2,   //  *gap was lost; events go on after it
    //  The cluster refused a replay (bad stream, missing or wrong session
    //  token): raftq_subscription_error says why. The subscription keeps
    //  trying; events after the hole wait until it is filled.
    RAFTQ_SUBSCRIPTION_ERROR = 3,
    //  The node revoked the session token of a private stream (logout,
    //  expiry, account deletion): events stop here for good, and every
    //  later call says so again. Events before it were all delivered.
    RAFTQ_SUBSCRIPTION_REVOKED = 4
} raftq_subscription_result_t;

typedef struct _raftq_subscription_t raftq_subscription_t;

//  Follows stream on a cluster of count nodes: node i has client endpoint
//  client_endpoints[i] (replays, liveness probes) and PUB endpoint
//  pub_endpoints[i] (NULL or "" for a node without one). from_seq 0 starts
//  live: at the seq the stream's next event gets when the start is fixed,
//  which one replay asks the cluster (here for a topic stream, in
//  raftq_subscription_set_token for a private one), so nothing published
//  after that is missed while the SUB joins or a node has yet to confirm
//  the subscription. Until a node answers, the first event to arrive
//  fixes the start. from_seq N delivers the stream from seq N on,
//  replaying what was published before. The first node with a PUB
//  endpoint is followed first. Returns NULL if no node has a PUB endpoint,
//  the first one is unusable or stream is empty.
raftq_subscription_t *raftq_subscription_new (const char **client_endpoints,
                                              const char **pub_endpoints, size_t count,
                                              const char *stream, uint64_t from_seq);

//  The same for the nodes of a config file (raftq form: nodes[].pub_port).
//  NULL when the file cannot be used or names no PUB port.
raftq_subscription_t *raftq_subscription_new_from_config (const char *config_path,
                                                          const char *stream, uint64_t from_seq);

//  raftq_subscription_new over CurveZMQ: server_keys[i] is node i's public
//  key (Z85; its client and PUB ports share it), client_certificate the
//  client's key pair as for raftq_client_new_curve. NULL with errno and
//  error set when a key, the certificate or an endpoint cannot be used.
raftq_subscription_t *raftq_subscription_new_curve (const char **client_endpoints,
                                                    const char **pub_endpoints,
                                                    const char **server_keys, size_t count,
                                                    const char *client_certificate,
                                                    const char *stream, uint64_t from_seq,
                                                    char *error, size_t error_size);

//  raftq_subscription_new_from_config that says why not in error, with
//  CURVE when the config turns client_curve on (as raftq_client_load).
raftq_subscription_t *raftq_subscription_load (const char *config_path,
                                               const char *client_certificate, const char *stream,
                                               uint64_t from_seq, char *error, size_t error_size);

//  Closes the subscription's sockets and frees it; nulls *self_p.
void raftq_subscription_destroy (raftq_subscription_t **self_p);

//  Session token of the stream's user (conv/: of either party). user/ and
//  conv/ streams are private: their SUB then subscribes to
//  "<stream>#<token>", the only subscription the broker serves them to,
//  and their replays carry the token. Without one, next reports ERROR once
//  and nothing arrives. On a topic stream the token only goes with
//  replays. Call it again with a fresh token after a REVOKED. Returns 0,
//  or -1 when out of memory.
int raftq_subscription_set_token (raftq_subscription_t *self, const char *token);

//  True once the followed node has confirmed the private subscription
//  ("subscribed"); always true for topic streams. Not yet confirmed after
//  about a second, the subscription subscribes again by itself.
bool raftq_subscription_confirmed (raftq_subscription_t *self);

//  After silence_ms without a message from its node, the subscription asks
//  that node whether it is alive and still part of a cluster with a leader
//  (and checks by a replay that nothing was missed); a node that does not
//  answer within silence_ms, or knows no leader, is left for the next one.
//  Also bounds each replay attempt. Default 1000.
void raftq_subscription_set_silence (raftq_subscription_t *self, int silence_ms);

//  Most events one replay asks for. Default 256.
void raftq_subscription_set_replay_limit (raftq_subscription_t *self, uint32_t limit);

//  Waits up to timeout_ms (0: only what is at hand, -1: until something
//  happens) for the next thing to report. Returns EVENT with *event
//  filled, GAP with *gap filled, ERROR, REVOKED, or NONE. May block for up to about
//  twice the silence while it probes a silent node or replays.
raftq_subscription_result_t raftq_subscription_next (raftq_subscription_t *self, int timeout_ms,
                                                     raftq_event_t *event, raftq_gap_t *gap);

//  For callers that poll other inputs too: the ZeroMQ socket (a void *
//  for zmq_pollitem_t.socket) that becomes readable when the followed node
//  sends. It changes when the subscription moves to another node: ask
//  again before each poll.
void *raftq_subscription_socket (raftq_subscription_t *self);

//  How long, in ms, a caller may poll before calling raftq_subscription_next
//  even if the socket stays quiet (timers: probes, replay retries).
int raftq_subscription_wait_ms (raftq_subscription_t *self);

//  The seq the next event will have; 0 while a live start knows no start.
uint64_t raftq_subscription_next_seq (raftq_subscription_t *self);

//  PUB endpoint of the node followed now.
const char *raftq_subscription_endpoint (raftq_subscription_t *self);

//  Human text of the last failure the subscription met ("" if none).
const char *raftq_subscription_error (raftq_subscription_t *self);

//  --- Helpers

//  Reads a config file (raftq or RRMQ form) and returns its nodes' client
//  endpoints ("tcp://host:port", file order) as a NULL-terminated array to
//  free with raftq_strings_free. On failure returns NULL and writes
//  "FILE:LINE:COLUMN: problem" or "FILE: place: problem" into error.
char **raftq_config_endpoints (const char *path, char *error, size_t error_size);

//  The PUB endpoints of the same nodes, in the same order (so entry i
//  belongs to the node of raftq_config_endpoints entry i): "" for a node
//  without pub_port (always so in the RRMQ form unless it names one).
char **raftq_config_pub_endpoints (const char *path, char *error, size_t error_size);

//  The CURVE public key (Z85) of each of the same nodes, in the same order:
//  from the node's "certificate" file (czmq format; a relative name is
//  taken from the config's directory) or its "public_key"; "" for a node
//  that names neither (always so in the RRMQ form).
char **raftq_config_server_keys (const char *path, char *error, size_t error_size);

//  Whether clients of the config at path must talk CurveZMQ: returns 1 when
//  its client_curve is true or a list of client keys, 0 when false or
//  absent, -1 (error set) when the file cannot be used. Either way
//  *certificate_p gets the client key pair to use, a new string to free:
//  $RAFTQ_CLIENT_CERTIFICATE when set, else the config's
//  client_certificate (from the config's directory), else NULL.
int raftq_config_client_curve (const char *path, char **certificate_p, char *error,
                               size_t error_size);

//  Frees a NULL-terminated string array of this library; nulls *strings_p.
void raftq_strings_free (char ***strings_p);

//  The code's name as in DESIGN 5.1 ("NOT_FOUND"), "UNKNOWN" outside the enum.
const char *raftq_code_name (raftq_code_t code);

//  The role's name in lower case ("leader"), "unknown" outside the enum.
const char *raftq_role_name (raftq_role_t role);

#ifdef __cplusplus
}
#endif

#endif
