/*  raft_actor — the Raft node thread: peer sockets, tick timer, log and meta
    stores around raft_core; the pipe protocol both ends speak. See
    raft_actor.h for the protocol.
*/
#include "util/little_endian.h"
#include "replica/raft_actor.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include "util/endpoint.h"
#include "util/diagnostic.h"
#include "storage/log_store.h"
#include "storage/meta_store.h"
#include "replica/peer_codec.h"
#include "storage/snapshot.h"

//  Longest the core waits between ticks; heartbeat_ms / 5 when shorter.
#define TICK_MAX_MS 10
//  Messages read from one socket before the batch is processed, so one busy
//  socket cannot starve the others or the timer.
#define DRAIN_LIMIT 1000
//  Queued messages per peer before sends are dropped.
#define PEER_SEND_HWM 1000
//  Largest peer frame accepted; a bigger one drops the connection.
#define PEER_MAX_MESSAGE_BYTES (64 * 1024 * 1024)
//  At most one complaint per second about bad peer traffic.
#define GARBAGE_LOG_PERIOD_MS 1000
//  Bytes of a snapshot file per InstallSnapshot message.
#define SNAPSHOT_CHUNK_BYTES (256 * 1024)

//  Sizes of the fixed pipe frames (see raft_actor.h).
#define COMMITTED_HEADER_SIZE 16
#define ENTRY_HEADER_SIZE     17
#define STATE_SIZE            29
#define TICKET_SIZE           8
#define LEADER_SIZE           4
#define MEMBER_HEADER_SIZE    17
#define ADMIN_HEADER_SIZE     9
#define PROGRESS_HEADER_SIZE  32
#define PROGRESS_MATCH_SIZE   12

static zframe_t *
s_u64_frame (uint64_t value)
{
    uint8_t bytes[8];
    little_endian_put_u64 (bytes, value);
    return zframe_new (bytes, sizeof (bytes));
}

//  A member as one pipe frame: [voter u8][id u32][client u32][peer u32]
//  [pub u32][host text].
static zframe_t *
s_member_frame (const raft_member_t *member)
{
    size_t host_size = strnlen (member->host, RAFT_HOST_SIZE - 1);
    zframe_t *frame = zframe_new (NULL, MEMBER_HEADER_SIZE + host_size);
    uint8_t *target = zframe_data (frame);
    target[0] = member->voter ? 1 : 0;
    little_endian_put_u32 (target + 1, member->id);
    little_endian_put_u32 (target + 5, member->client_port);
    little_endian_put_u32 (target + 9, member->peer_port);
    little_endian_put_u32 (target + 13, member->pub_port);
    memcpy (target + MEMBER_HEADER_SIZE, member->host, host_size);
    return frame;
}

//  Decodes s_member_frame's frame; -1 if it is malformed.
static int
s_member_decode (zframe_t *frame, raft_member_t *member)
{
    memset (member, 0, sizeof (*member));
    size_t size = frame ? zframe_size (frame) : 0;
    if (size < MEMBER_HEADER_SIZE || size - MEMBER_HEADER_SIZE >= RAFT_HOST_SIZE)
        return -1;
    const uint8_t *source = zframe_data (frame);
    member->voter = source[0] != 0;
    member->id = little_endian_get_u32 (source + 1);
    member->client_port = little_endian_get_u32 (source + 5);
    member->peer_port = little_endian_get_u32 (source + 9);
    member->pub_port = little_endian_get_u32 (source + 13);
    memcpy (member->host, source + MEMBER_HEADER_SIZE, size - MEMBER_HEADER_SIZE);
    return 0;
}

//  ---------------------------------------------------------------------------
//  The actor thread.

//  What the creator hands the thread; borrowed only until the handshake.
typedef struct {
    const config_t *config;                //  cluster configuration
    uint32_t node_id;                      //  node this thread runs
    const char *data_dir;                  //  parent of node-<id>/
    const raft_actor_snapshot_t *snapshot; //  loaded by the broker, NULL: load one
} start_args_t;

//  One other node, reached through its own DEALER.
typedef struct {
    uint32_t id;     //  its node id
    zsock_t *dealer; //  connected to its peer port; sends only
} peer_t;

//  The actor's own state; lives on its thread only.
typedef struct {
    zsock_t *pipe;                        //  to the broker
    zloop_t *loop;                        //  reactor of this thread
    uint32_t node_id;                     //  this node
    uint32_t tick_ms;                     //  period of the core's clock
    char *cluster;                        //  cluster name, checked on every peer message
    raft_member_t *members;               //  bootstrap configuration handed to the core
    size_t member_count;                  //  how many (0: this node joins, empty)
    meta_store_t *meta;                   //  term and vote on disk
    log_store_t *log;                     //  the log on disk
    raft_core_t *core;                    //  the protocol
    zsock_t *router;                      //  bound on the peer port; receives only
    char *host;                           //  this node's host, where peer connections come from
    peer_t *peers;                        //  every other node known (config file or configuration)
    size_t peer_count;                    //  how many
    zmsg_t *rejected;                     //  tickets refused since the last report, or NULL
    bool terminated;                      //  $TERM received
    bool state_reported;                  //  a STATE was sent at least once
    raft_role_t reported_role;            //  last STATE sent: role
    uint64_t reported_term;               //  term
    uint32_t reported_leader;             //  leader
    uint64_t reported_commit;             //  commit index
    uint64_t reported_last;               //  last index
    zframe_t *reported_progress;          //  body of the last PROGRESS sent, NULL before the first
    uint64_t dropped_sends;               //  peer messages dropped because a peer was unreachable
    diagnostic_limiter_t garbage_limiter; //  bounds complaints about bad peer traffic
    char *snapshot_dir;                   //  <node dir>/snap
    snapshot_writer_t *receiver;          //  writes a leader's snapshot off this loop
    uint64_t snapshot_index;              //  newest snapshot file we hold, 0: none
    uint64_t snapshot_term;               //  term of its last entry
    uint64_t restored_snapshot_index;     //  the snapshot restored at start, for the broker
    uint32_t trailing_entries;            //  log entries kept behind a snapshot
    const raft_actor_snapshot_t *start_snapshot; //  the creator's, borrowed during start only
} self_t;

//  Storage failed under the protocol: continuing could acknowledge entries
//  or votes that are not durable. Ends the process at once; exit handlers
//  are skipped because they would wait on sockets the broker thread still
//  uses.
static void
s_fatal (self_t *self, const char *what)
{
    diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "fatal: %s: %s; stopping the node", what,
                     strerror (errno));
    _exit (1);
}

static void
s_self_destroy (self_t **self_p)
{
    if (*self_p) {
        self_t *self = *self_p;
        zloop_destroy (&self->loop);
        for (size_t position = 0; position < self->peer_count; position++)
            zsock_destroy (&self->peers[position].dealer);
        free (self->peers);
        free (self->host);
        zsock_destroy (&self->router);
        zmsg_destroy (&self->rejected);
        zframe_destroy (&self->reported_progress);
        raft_core_destroy (&self->core);
        snapshot_writer_destroy (&self->receiver);
        free (self->snapshot_dir);
        log_store_destroy (&self->log);
        meta_store_destroy (&self->meta);
        free (self->members);
        free (self->cluster);
        free (self);
        *self_p = NULL;
    }
}

static uint64_t
s_random_seed (uint32_t node_id)
{
    uint64_t seed;
    if (sodium_init () >= 0)
        randombytes_buf (&seed, sizeof (seed));
    else
        seed = (uint64_t)zclock_time () ^ ((uint64_t)node_id << 32) ^ (uint64_t)getpid ();
    return seed;
}

//  Writes <data_dir>/node-<id><leaf> into path; -1 (logged) if too long.
static int
s_node_path (self_t *self, char *path, size_t size, const char *data_dir, const char *leaf)
{
    int length = snprintf (path, size, "%s/node-%u%s", data_dir, self->node_id, leaf);
    if (length < 0 || (size_t)length >= size) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "data directory path too long: %s",
                         data_dir);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Snapshots on the Raft side: the one to start from, compaction after the
//  broker wrote one, streaming ours to a follower and receiving a leader's.

//  Deletes the log prefix up to up_to_index (UINT64_MAX: the whole log).
//  An empty log has nothing to delete (and log_store would memmove NULL).
static int
s_drop_log_prefix (self_t *self, uint64_t up_to_index)
{
    if (log_store_last_index (self->log) == 0)
        return 0;
    return log_store_truncate_prefix (self->log, up_to_index);
}

//  What replaying the log after a snapshot needs.
typedef struct {
    raft_core_t *core;       //  restored into
    uint64_t snapshot_index; //  entries up to this one are in the snapshot
    uint64_t snapshot_term;  //  term of that entry
    bool diverged;           //  the log holds that index with another term
} s_replay_t;

static int
s_restore_entry_after_snapshot (const raft_entry_t *entry, void *argument)
{
    s_replay_t *replay = (s_replay_t *)argument;
    if (entry->index < replay->snapshot_index)
        return 0;
    if (entry->index == replay->snapshot_index) {
        //  An installed snapshot replaced a log that disagrees with it: the
        //  entries after it are not the leader's, keep none of them
        if (entry->term != replay->snapshot_term && replay->snapshot_index) {
            replay->diverged = true;
            return -1;
        }
        return 0;
    }
    return raft_core_restore_entry (replay->core, entry);
}

//  Gives the core the snapshot's index, term and membership.
static int
s_restore_snapshot_into_core (self_t *self, const raft_actor_snapshot_t *snapshot)
{
    size_t count = 0;
    raft_member_t *members =
        raft_core_config_decode (snapshot->membership, snapshot->membership_size, &count);
    if (!members) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "snapshot %" PRIu64 ": malformed membership", snapshot->index);
        return -1;
    }
    int rc =
        raft_core_restore_snapshot (self->core, snapshot->index, snapshot->term, members, count);
    free (members);
    return rc;
}

//  The snapshot to start from: the one the broker loaded, else the newest
//  valid one here. Returns it in *start (index 0: none); *loaded is what
//  to destroy once done with start's borrowed membership.
static void
s_find_start_snapshot (self_t *self, raft_actor_snapshot_t *start, snapshot_t **loaded)
{
    memset (start, 0, sizeof (*start));
    *loaded = NULL;
    if (self->start_snapshot) {
        *start = *self->start_snapshot;
        return;
    }
    char report[1024] = "";
    *loaded = snapshot_load (self->snapshot_dir, UINT64_MAX, report, sizeof (report));
    if (report[0])
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "snapshots: %s", report);
    if (*loaded) {
        start->index = snapshot_index (*loaded);
        start->term = snapshot_term (*loaded);
        start->membership = snapshot_membership (*loaded, &start->membership_size);
    }
}

//  Loads the newest valid snapshot (if any) into the core, then the log
//  entries after it. A log that starts after the snapshot leaves a gap no
//  one can fill: the node refuses to start rather than run a wrong state.
static int
s_restore_snapshot_and_log (self_t *self, const char *log_path)
{
    raft_actor_snapshot_t start;
    snapshot_t *loaded;
    s_find_start_snapshot (self, &start, &loaded);
    s_replay_t replay = {.core = self->core};
    if (start.index) {
        replay.snapshot_index = start.index;
        replay.snapshot_term = start.term;
        int rc = s_restore_snapshot_into_core (self, &start);
        snapshot_destroy (&loaded);
        if (rc)
            return -1;
        self->snapshot_index = start.index;
        self->snapshot_term = start.term;
    }
    uint64_t first = log_store_first_index (self->log);
    if (first > replay.snapshot_index + 1) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "log %s starts at %" PRIu64 " but no valid snapshot reaches %" PRIu64
                         ": state lost, refusing to start",
                         log_path, first, first - 1);
        return -1;
    }
    if (log_store_replay (self->log, s_restore_entry_after_snapshot, &replay)) {
        if (!replay.diverged) {
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot restore log %s into the core",
                             log_path);
            return -1;
        }
        //  Nothing after the snapshot reached the core (the snapshot's own
        //  entry comes first): drop the whole log and continue after it
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING,
                         "log %s disagrees with snapshot %" PRIu64 ": dropping the log", log_path,
                         replay.snapshot_index);
        if (s_drop_log_prefix (self, UINT64_MAX))
            return -1;
    }
    self->restored_snapshot_index = self->snapshot_index;
    return 0;
}

//  Opens what snapshots need at start: the directory, the receiver for a
//  leader's snapshot, the trailing window; then restores core and log.
static int
s_open_snapshots (self_t *self, const config_t *config, const char *data_dir, const char *log_path)
{
    char path[PATH_MAX];
    if (s_node_path (self, path, sizeof (path), data_dir, "/snap"))
        return -1;
    self->snapshot_dir = strdup (path);
    self->trailing_entries = config->snapshot_trailing_entries;
    if (!self->snapshot_dir)
        return -1;
    self->receiver = snapshot_writer_new (self->snapshot_dir);
    if (!self->receiver) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot start the snapshot receiver");
        return -1;
    }
    int rc = s_restore_snapshot_and_log (self, log_path);
    //  The creator's snapshot is only borrowed until the start handshake
    self->start_snapshot = NULL;
    return rc;
}

//  Opens the stores and builds the core from what they hold.
static int
s_open_state (self_t *self, const config_t *config, const char *data_dir)
{
    char path[PATH_MAX];
    char error[256] = "";
    if (s_node_path (self, path, sizeof (path), data_dir, ""))
        return -1;
    if (zsys_dir_create ("%s", path)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot create %s: %s", path,
                         strerror (errno));
        return -1;
    }
    //  The meta store keeps its file "meta" inside the node directory
    self->meta = meta_store_open (path, error, sizeof (error));
    if (!self->meta) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot open meta store %s: %s", path,
                         error);
        return -1;
    }
    if (s_node_path (self, path, sizeof (path), data_dir, "/log"))
        return -1;
    self->log = log_store_open (path, error, sizeof (error));
    if (!self->log) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot open log store %s: %s", path,
                         error);
        return -1;
    }
    if (log_store_recovered_bytes (self->log))
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING,
                         "log %s: truncated %" PRIu64 " bytes of torn or corrupt tail", path,
                         log_store_recovered_bytes (self->log));

    //  Bootstrap membership: every configured node not waiting to join, as
    //  voters; a node waiting to join starts with an empty configuration
    //  and waits for a leader to add it
    self->members = calloc (config->node_count, sizeof (raft_member_t));
    if (!self->members)
        return -1;
    if (!config_node (config, self->node_id)->join)
        for (size_t position = 0; position < config->node_count; position++) {
            const config_node_t *node = &config->nodes[position];
            if (node->join)
                continue;
            raft_member_t *member = &self->members[self->member_count++];
            member->id = node->id;
            member->voter = true;
            snprintf (member->host, sizeof (member->host), "%s", node->host);
            member->client_port = node->client_port;
            member->peer_port = node->peer_port;
            member->pub_port = node->pub_port;
        }

    raft_core_options_t options = {
        .self_id = self->node_id,
        .members = self->members,
        .member_count = self->member_count,
        .heartbeat_ms = config->heartbeat_ms,
        .election_timeout_min_ms = config->election_timeout_min_ms,
        .election_timeout_max_ms = config->election_timeout_max_ms,
        .random_seed = s_random_seed (self->node_id),
        .now_ms = (uint64_t)zclock_mono (),
        .term = meta_store_term (self->meta),
        .voted_for = meta_store_voted_for (self->meta),
    };
    self->core = raft_core_new (&options);
    if (!self->core) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "raft core refused its options");
        return -1;
    }
    if (s_open_snapshots (self, config, data_dir, path))
        return -1;
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO,
                     "recovered term %" PRIu64 ", vote %u, log %" PRIu64 "..%" PRIu64 " (%" PRIu64
                     " bytes)",
                     options.term, options.voted_for, log_store_first_index (self->log),
                     log_store_last_index (self->log), log_store_size (self->log));
    return 0;
}

//  Adds a DEALER towards node id at host:peer_port. Returns 0, or -1
//  (logged) when the socket cannot be made or the address is bad.
static int
s_peer_connect (self_t *self, uint32_t id, const char *host, uint32_t peer_port)
{
    peer_t *peers = realloc (self->peers, (self->peer_count + 1) * sizeof (peer_t));
    if (!peers)
        return -1;
    self->peers = peers;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer)
        return -1;
    //  Queue only towards connected peers and never wait: a dead peer
    //  costs a dropped message, not a stalled loop
    zsock_set_immediate (dealer, 1);
    zsock_set_linger (dealer, 0);
    zsock_set_sndhwm (dealer, PEER_SEND_HWM);
    zsock_set_sndtimeo (dealer, 0);
    char error[256];
    if (peer_port == 0 || peer_port > UINT16_MAX ||
        endpoint_connect_from (dealer, self->host, host, (uint16_t)peer_port, error,
                               sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot reach node %u at %s:%u", id, host,
                         peer_port);
        zsock_destroy (&dealer);
        return -1;
    }
    self->peers[self->peer_count].id = id;
    self->peers[self->peer_count].dealer = dealer;
    self->peer_count++;
    return 0;
}

static int
s_open_sockets (self_t *self, const config_t *config)
{
    const config_node_t *node = config_node (config, self->node_id);
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router)
        return -1;
    zsock_set_linger (self->router, 0);
    zsock_set_maxmsgsize (self->router, PEER_MAX_MESSAGE_BYTES);
    char error[256];
    if (endpoint_bind (self->router, node->host, node->peer_port, error, sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "peer port: %s", error);
        return -1;
    }
    self->host = strdup (node->host);
    if (!self->host)
        return -1;
    for (size_t position = 0; position < config->node_count; position++) {
        const config_node_t *other = &config->nodes[position];
        if (other->id != self->node_id &&
            s_peer_connect (self, other->id, other->host, other->peer_port))
            return -1;
    }
    return 0;
}

static self_t *
s_self_new (zsock_t *pipe, const start_args_t *args)
{
    self_t *self = calloc (1, sizeof (self_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->node_id = args->node_id;
    self->start_snapshot = args->snapshot;
    //  Ticks well inside a heartbeat so timers fire close to their due time
    self->tick_ms = args->config->heartbeat_ms / 5;
    if (self->tick_ms > TICK_MAX_MS)
        self->tick_ms = TICK_MAX_MS;
    if (self->tick_ms == 0)
        self->tick_ms = 1;
    self->cluster = strdup (args->config->cluster);
    if (!config_node (args->config, args->node_id)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "node %u is not in the config",
                         self->node_id);
        s_self_destroy (&self);
    }
    //  Sockets first: a second copy of a running node fails on its port
    //  before it can touch (and maybe truncate) the live node's log
    else if (!self->cluster || s_open_sockets (self, args->config) ||
             s_open_state (self, args->config, args->data_dir))
        s_self_destroy (&self);
    return self;
}

//  Sends one message to its addressee, or drops it.
static void
s_send_peer (self_t *self, const raft_message_t *message)
{
    peer_t *peer = NULL;
    for (size_t position = 0; position < self->peer_count; position++)
        if (self->peers[position].id == message->to)
            peer = &self->peers[position];
    if (!peer)
        return;
    zframe_t *frame = peer_codec_encode (message, self->cluster);
    if (!frame)
        return;
    if (zframe_send (&frame, peer->dealer, ZFRAME_DONTWAIT)) {
        zframe_destroy (&frame);
        self->dropped_sends++;
    }
}

//  Adds copies of committed entries to the COMMITTED message being built in
//  *message_p (created if NULL); s_send_committed heads and sends it.
static void
s_add_committed (zmsg_t **message_p, const raft_entry_t *entries, size_t count)
{
    if (!*message_p)
        *message_p = zmsg_new ();
    zmsg_t *message = *message_p;
    for (size_t position = 0; position < count; position++) {
        const raft_entry_t *entry = &entries[position];
        zframe_t *frame = zframe_new (NULL, ENTRY_HEADER_SIZE + entry->size);
        uint8_t *target = zframe_data (frame);
        little_endian_put_u64 (target, entry->index);
        little_endian_put_u64 (target + 8, entry->term);
        target[16] = entry->type;
        if (entry->size)
            memcpy (target + ENTRY_HEADER_SIZE, entry->data, entry->size);
        zmsg_append (message, &frame);
    }
}

//  Sends the COMMITTED message built in *message_p, if any, headed by the
//  commit and last index as they are now.
static void
s_send_committed (self_t *self, zmsg_t **message_p)
{
    if (!*message_p)
        return;
    uint8_t header[COMMITTED_HEADER_SIZE];
    little_endian_put_u64 (header, raft_core_commit_index (self->core));
    little_endian_put_u64 (header + 8, raft_core_last_index (self->core));
    zmsg_pushmem (*message_p, header, sizeof (header));
    zmsg_pushstr (*message_p, "COMMITTED");
    zmsg_send (message_p, self->pipe);
}

static const char *
s_role_name (raft_role_t role)
{
    return role == RAFT_ROLE_LEADER      ? "leader"
           : role == RAFT_ROLE_CANDIDATE ? "candidate"
                                         : "follower";
}

//  Tells the broker about role, term and leader changes at once and about
//  index changes when indexes_too (once per tick), logging what a reader of
//  the log cares about: roles and leaders.
static void
s_report_state (self_t *self, bool indexes_too)
{
    raft_role_t role = raft_core_role (self->core);
    uint64_t term = raft_core_term (self->core);
    uint32_t leader = raft_core_leader (self->core);
    uint64_t commit = raft_core_commit_index (self->core);
    uint64_t last = raft_core_last_index (self->core);
    bool role_changed = !self->state_reported || role != self->reported_role;
    bool leader_changed = !self->state_reported || leader != self->reported_leader;
    bool indexes_changed = commit != self->reported_commit || last != self->reported_last;
    if (!role_changed && !leader_changed && term == self->reported_term &&
        !(indexes_too && indexes_changed))
        return;

    if (role_changed)
        diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "%s %s in term %" PRIu64,
                         self->state_reported ? "became" : "starting as", s_role_name (role), term);
    //  A candidate's lack of leader goes without saying
    if (leader_changed && role == RAFT_ROLE_FOLLOWER) {
        if (leader)
            diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "leader is node %u in term %" PRIu64,
                             leader, term);
        else if (self->state_reported)
            diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "lost the leader in term %" PRIu64,
                             term);
    }
    uint8_t body[STATE_SIZE];
    body[0] = (uint8_t)role;
    little_endian_put_u64 (body + 1, term);
    little_endian_put_u32 (body + 9, leader);
    little_endian_put_u64 (body + 13, commit);
    little_endian_put_u64 (body + 21, last);
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "STATE");
    zmsg_addmem (message, body, sizeof (body));
    zmsg_send (&message, self->pipe);

    self->state_reported = true;
    self->reported_role = role;
    self->reported_term = term;
    self->reported_leader = leader;
    self->reported_commit = commit;
    self->reported_last = last;
}

//  The body of a PROGRESS as things are now (see raft_actor.h), or NULL
//  when out of memory.
static zframe_t *
s_progress_frame (self_t *self)
{
    size_t member_count;
    const raft_member_t *members = raft_core_members (self->core, &member_count);
    bool leader = raft_core_role (self->core) == RAFT_ROLE_LEADER;
    uint8_t *target =
        malloc (PROGRESS_HEADER_SIZE + (leader ? member_count : 0) * PROGRESS_MATCH_SIZE);
    if (!target)
        return NULL;
    little_endian_put_u64 (target, self->snapshot_index);
    little_endian_put_u64 (target + 8, self->snapshot_term);
    little_endian_put_u64 (target + 16, log_store_first_index (self->log));
    little_endian_put_u64 (target + 24, log_store_size (self->log));
    size_t used = PROGRESS_HEADER_SIZE;
    for (size_t position = 0; leader && position < member_count; position++) {
        raft_progress_t progress;
        //  Refused for this node itself: only the others have a match
        if (raft_core_progress (self->core, members[position].id, &progress))
            continue;
        little_endian_put_u32 (target + used, members[position].id);
        little_endian_put_u64 (target + used + 4, progress.match_index);
        used += PROGRESS_MATCH_SIZE;
    }
    zframe_t *frame = zframe_new (target, used);
    free (target);
    return frame;
}

//  Tells the broker what only this thread sees, when it changed since the
//  last report. Once per tick: log size and matches move with every write,
//  and status needs them fresh, not instant.
static void
s_report_progress (self_t *self)
{
    zframe_t *body = s_progress_frame (self);
    if (!body)
        return;
    if (self->reported_progress && zframe_eq (body, self->reported_progress)) {
        zframe_destroy (&body);
        return;
    }
    zframe_destroy (&self->reported_progress);
    self->reported_progress = zframe_dup (body);
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "PROGRESS");
    zmsg_append (message, &body);
    zmsg_send (&message, self->pipe);
}

//  ---------------------------------------------------------------------------
//  Membership: peers follow the configuration, the broker hears of it.

//  Connects to members that no DEALER reaches yet (added at run time, not
//  in the config file) and tells the broker the configuration. DEALERs of
//  removed members stay: the core sends them nothing, and a node added
//  again is reached at once.
static void
s_apply_members (self_t *self, const raft_member_t *members, size_t count)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "MEMBERS");
    zframe_t *index = s_u64_frame (raft_core_config_index (self->core));
    zmsg_append (message, &index);
    for (size_t position = 0; position < count; position++) {
        const raft_member_t *member = &members[position];
        bool known = member->id == self->node_id;
        for (size_t peer = 0; !known && peer < self->peer_count; peer++)
            known = self->peers[peer].id == member->id;
        if (!known && member->host[0])
            s_peer_connect (self, member->id, member->host, member->peer_port);
        zframe_t *frame = s_member_frame (member);
        zmsg_append (message, &frame);
    }
    zmsg_send (&message, self->pipe);
}

//  ADMIN [ticket][kind][member]: asks the core, answers ADMINED.
static void
s_admin (self_t *self, zmsg_t *message)
{
    zframe_t *header = zmsg_next (message);
    raft_member_t member;
    if (!header || zframe_size (header) != ADMIN_HEADER_SIZE ||
        s_member_decode (zmsg_next (message), &member)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "malformed ADMIN from the broker");
        return;
    }
    uint8_t kind = zframe_data (header)[8];
    uint64_t index = 0;
    int rc = -1;
    if (kind == RAFT_ACTOR_ADD_NODE)
        rc = raft_core_add_learner (self->core, &member, &index);
    else if (kind == RAFT_ACTOR_REMOVE_NODE)
        rc = raft_core_remove (self->core, member.id, &index);
    else if (kind == RAFT_ACTOR_TRANSFER_LEADER)
        rc = raft_core_transfer_leadership (self->core, member.id);
    if (rc == 0)
        diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "%s node %u",
                         kind == RAFT_ACTOR_ADD_NODE      ? "adding"
                         : kind == RAFT_ACTOR_REMOVE_NODE ? "removing"
                                                          : "handing leadership to",
                         member.id);
    uint8_t body[ADMIN_HEADER_SIZE + LEADER_SIZE];
    memcpy (body, zframe_data (header), 8);
    body[8] = rc == 0 ? 1 : 0;
    little_endian_put_u32 (body + 9, raft_core_leader (self->core));
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "ADMINED");
    zmsg_addmem (reply, body, sizeof (body));
    zmsg_send (&reply, self->pipe);
}

//  COMPACT [index][term]: the broker's snapshot of index is durable. The
//  core and the log keep the trailing window behind it, so a follower a
//  little behind still catches up from the log.
static void
s_compact (self_t *self, zmsg_t *message)
{
    zframe_t *index_frame = zmsg_first (message);
    zframe_t *term_frame = zmsg_next (message);
    if (!index_frame || !term_frame || zframe_size (index_frame) != 8 ||
        zframe_size (term_frame) != 8) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "malformed COMPACT from the broker");
        return;
    }
    uint64_t index = little_endian_get_u64 (zframe_data (index_frame));
    uint64_t term = little_endian_get_u64 (zframe_data (term_frame));
    if (index > self->snapshot_index) {
        self->snapshot_index = index;
        self->snapshot_term = term;
    }
    uint64_t up_to = index > self->trailing_entries ? index - self->trailing_entries : 0;
    if (up_to <= raft_core_snapshot_index (self->core) ||
        up_to > raft_core_applied_index (self->core))
        return;
    if (raft_core_compact (self->core, up_to)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "raft core refused to compact to %" PRIu64, up_to);
        return;
    }
    if (s_drop_log_prefix (self, up_to))
        s_fatal (self, "cannot delete the log prefix");
}

//  Leader: sends one chunk of our newest snapshot file. A follower asking
//  for another one (pruned since, or 0: start) gets the newest from 0.
static void
s_send_snapshot_chunk (self_t *self, const raft_snapshot_send_t *send)
{
    if (!self->snapshot_index)
        return;
    uint64_t offset = send->index == self->snapshot_index ? send->offset : 0;
    char path[PATH_MAX];
    snapshot_path (self->snapshot_dir, self->snapshot_index, path, sizeof (path));
    uint8_t *buffer = malloc (SNAPSHOT_CHUNK_BYTES);
    if (!buffer)
        return;
    uint64_t file_size = 0;
    ssize_t size = snapshot_read_chunk (path, offset, buffer, SNAPSHOT_CHUNK_BYTES, &file_size);
    if (size >= 0) {
        raft_message_t message = {.type = RAFT_MESSAGE_INSTALL_SNAPSHOT,
                                  .from = self->node_id,
                                  .to = send->to,
                                  .term = send->term,
                                  .snapshot_index = self->snapshot_index,
                                  .snapshot_term = self->snapshot_term,
                                  .offset = offset,
                                  .data = buffer,
                                  .data_size = (size_t)size,
                                  .done = offset + (uint64_t)size >= file_size};
        s_send_peer (self, &message);
    } else
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "cannot read snapshot %s for node %u",
                         path, send->to);
    free (buffer);
}

//  Streams what followers need and hands what the leader sent to the
//  receiver thread, which writes it off this loop.
static void
s_handle_snapshot_ready (self_t *self, const raft_ready_t *ready)
{
    for (size_t position = 0; position < ready->snapshot_send_count; position++)
        s_send_snapshot_chunk (self, &ready->snapshot_sends[position]);
    for (size_t position = 0; position < ready->snapshot_chunk_count; position++) {
        const raft_snapshot_chunk_t *chunk = &ready->snapshot_chunks[position];
        if (snapshot_writer_chunk (self->receiver, chunk->index, chunk->term, chunk->offset,
                                   chunk->data, chunk->size, chunk->done))
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot queue a snapshot chunk");
    }
}

//  A leader's snapshot is durable here: the core takes it, the log is
//  emptied (it continues after the snapshot) and the broker loads it.
static void
s_install_received (self_t *self, uint64_t index, uint64_t term)
{
    char report[1024] = "";
    snapshot_t *snapshot = snapshot_load (self->snapshot_dir, index, report, sizeof (report));
    if (!snapshot || snapshot_index (snapshot) != index) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "received snapshot %" PRIu64 " unreadable: %s", index, report);
        snapshot_destroy (&snapshot);
        return;
    }
    size_t size;
    const uint8_t *bytes = snapshot_membership (snapshot, &size);
    size_t count = 0;
    raft_member_t *members = raft_core_config_decode (bytes, size, &count);
    int rc = members ? raft_core_snapshot_installed (self->core, index, term, members, count) : -1;
    free (members);
    snapshot_destroy (&snapshot);
    if (rc) {
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "snapshot %" PRIu64 " not installed",
                         index);
        return;
    }
    if (s_drop_log_prefix (self, UINT64_MAX))
        s_fatal (self, "cannot empty the log for a snapshot");
    self->snapshot_index = index;
    self->snapshot_term = term;
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO,
                     "installed snapshot %" PRIu64 " from the leader", index);
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "INSTALLED");
    zframe_t *frame = s_u64_frame (index);
    zmsg_append (message, &frame);
    zmsg_send (&message, self->pipe);
}

//  Acts on everything the core wants done, in the order the core demands,
//  until it wants nothing more.
static void
s_process_ready (self_t *self)
{
    raft_ready_t ready;
    zmsg_t *committed = NULL;
    while (raft_core_ready (self->core, &ready)) {
        //  a. the vote and term must be durable before any message shows them
        if (ready.hard_state_changed && meta_store_save (self->meta, ready.term, ready.voted_for))
            s_fatal (self, "cannot save term and vote");
        //  e. new members are connected before messages go to them
        if (ready.config_changed)
            s_apply_members (self, ready.members, ready.member_count);
        //  d. committed entries to the broker, in order. A leader's clients
        //  wait for them, so they go before its messages (then mostly commit
        //  notices); a follower's wait until after the loop, behind the
        //  acknowledgement its sync makes possible, which the leader waits for
        if (ready.committed_count)
            s_add_committed (&committed, ready.committed, ready.committed_count);
        if (ready.role == RAFT_ROLE_LEADER)
            s_send_committed (self, &committed);
        //  b. messages first: followers write while the leader writes
        for (size_t position = 0; position < ready.message_count; position++)
            s_send_peer (self, &ready.messages[position]);
        //  c. the log: one sync for the whole batch
        if (ready.truncate_from && log_store_truncate_suffix (self->log, ready.truncate_from))
            s_fatal (self, "cannot truncate the log");
        bool written = ready.entries_to_persist_count > 0;
        uint64_t written_index = 0;
        uint64_t written_term = 0;
        if (written) {
            const raft_entry_t *last =
                &ready.entries_to_persist[ready.entries_to_persist_count - 1];
            written_index = last->index;
            written_term = last->term;
            if (log_store_append (self->log, ready.entries_to_persist,
                                  ready.entries_to_persist_count))
                s_fatal (self, "cannot append to the log");
            if (log_store_sync (self->log))
                s_fatal (self, "cannot sync the log");
        }
        s_handle_snapshot_ready (self, &ready);
        raft_core_advance (self->core);
        if (written)
            raft_core_persisted (self->core, written_index, written_term);
    }
    s_send_committed (self, &committed);
    s_report_state (self, false);
}

static int
s_on_snapshot_received (zloop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    (void)pipe;
    self_t *self = (self_t *)argument;
    snapshot_report_t report;
    if (snapshot_writer_recv (self->receiver, &report))
        return 0;
    if (report.outcome == SNAPSHOT_RECEIVED)
        s_install_received (self, report.index, report.term);
    else if (report.outcome == SNAPSHOT_FAILED)
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "receiving snapshot %" PRIu64 ": %s",
                         report.index, report.reason);
    s_process_ready (self);
    return 0;
}

static void
s_complain (self_t *self, const char *what)
{
    diagnostic_dropped (&self->garbage_limiter, zclock_mono (), GARBAGE_LOG_PERIOD_MS,
                        self->node_id, "peer port", what);
}

//  One message from the ROUTER: [routing id][packed peer message].
static void
s_receive_peer (self_t *self, zmsg_t *message)
{
    if (zmsg_size (message) != 2) {
        s_complain (self, "a message with the wrong number of frames");
        return;
    }
    zframe_t *body = zmsg_last (message);
    peer_codec_message_t decoded;
    char error[256];
    if (peer_codec_decode (zframe_data (body), zframe_size (body), self->cluster, &decoded, error,
                           sizeof (error))) {
        s_complain (self, error);
        return;
    }
    if (decoded.message.to != self->node_id) {
        snprintf (error, sizeof (error), "a message from node %u for node %u", decoded.message.from,
                  decoded.message.to);
        s_complain (self, error);
    } else
        raft_core_receive (self->core, &decoded.message);
    peer_codec_message_clear (&decoded);
}

//  Feeds the core what peers sent, without waiting.
static void
s_read_peers (self_t *self)
{
    for (int count = 0; count < DRAIN_LIMIT && (zsock_events (self->router) & ZMQ_POLLIN);
         count++) {
        zmsg_t *message = zmsg_recv (self->router);
        if (!message)
            break;
        s_receive_peer (self, message);
        zmsg_destroy (&message);
    }
}

static int
s_on_peer_traffic (zloop_t *loop, zsock_t *router, void *argument)
{
    (void)loop;
    (void)router;
    self_t *self = (self_t *)argument;
    s_read_peers (self);
    s_process_ready (self);
    return 0;
}

//  Appends each [ticket][payload] pair; remembers the tickets refused.
static void
s_propose (self_t *self, zmsg_t *message)
{
    zframe_t *ticket = zmsg_next (message);
    while (ticket) {
        zframe_t *payload = zmsg_next (message);
        if (!payload || zframe_size (ticket) != TICKET_SIZE) {
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "malformed PROPOSE from the broker");
            return;
        }
        uint64_t index;
        if (raft_core_propose (self->core, zframe_data (payload), zframe_size (payload), &index)) {
            if (!self->rejected)
                self->rejected = zmsg_new ();
            zmsg_addmem (self->rejected, zframe_data (ticket), TICKET_SIZE);
        }
        ticket = zmsg_next (message);
    }
}

static void
s_send_rejected (self_t *self)
{
    if (!self->rejected)
        return;
    uint8_t leader[LEADER_SIZE];
    little_endian_put_u32 (leader, raft_core_leader (self->core));
    zmsg_pushmem (self->rejected, leader, sizeof (leader));
    zmsg_pushstr (self->rejected, "REJECTED");
    zmsg_send (&self->rejected, self->pipe);
}

static int
s_on_pipe (zloop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    self_t *self = (self_t *)argument;
    for (int count = 0; count < DRAIN_LIMIT && (zsock_events (pipe) & ZMQ_POLLIN); count++) {
        zmsg_t *message = zmsg_recv (pipe);
        if (!message)
            break;
        char *command = zmsg_popstr (message);
        if (command && streq (command, "PROPOSE"))
            s_propose (self, message);
        else if (command && streq (command, "ADMIN"))
            s_admin (self, message);
        else if (command && streq (command, "COMPACT"))
            s_compact (self, message);
        else if (command && streq (command, "$TERM"))
            self->terminated = true;
        else
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                             "unknown command '%s' on the raft pipe", command ? command : "");
        zstr_free (&command);
        zmsg_destroy (&message);
        if (self->terminated)
            break;
    }
    s_send_rejected (self);
    //  Acknowledgements that came in meanwhile share this round: the commit
    //  they make goes out now, not after the sync of the new proposals
    if (!self->terminated)
        s_read_peers (self);
    s_process_ready (self);
    return self->terminated ? -1 : 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *argument)
{
    (void)loop;
    (void)timer_id;
    self_t *self = (self_t *)argument;
    raft_core_tick (self->core, (uint64_t)zclock_mono ());
    s_process_ready (self);
    s_report_state (self, true);
    s_report_progress (self);
    return 0;
}

//  Shutdown is the broker's call: signals go to the broker thread, which
//  then sends $TERM, so the two threads stop in a known order.
static void
s_block_signals (void)
{
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
}

static void
s_wait_for_term (zsock_t *pipe)
{
    while (true) {
        char *command = zstr_recv (pipe);
        bool term = !command || streq (command, "$TERM");
        zstr_free (&command);
        if (term)
            break;
    }
}

static void
s_raft_actor (zsock_t *pipe, void *argument)
{
    s_block_signals ();
    const start_args_t *args = (const start_args_t *)argument;
    uint32_t node_id = args->node_id;
    self_t *self = s_self_new (pipe, args);
    //  args belong to the creator, which is released by this signal
    zsock_signal (pipe, 0);
    if (!self) {
        zstr_send (pipe, "FAILED");
        s_wait_for_term (pipe);
        return;
    }
    zmsg_t *ready = zmsg_new ();
    zmsg_addstr (ready, "READY");
    zframe_t *snapshot_frame = s_u64_frame (self->restored_snapshot_index);
    zmsg_append (ready, &snapshot_frame);
    zmsg_send (&ready, pipe);
    size_t member_count;
    const raft_member_t *members = raft_core_members (self->core, &member_count);
    s_apply_members (self, members, member_count);

    self->loop = zloop_new ();
    zloop_set_nonstop (self->loop, true);
    zloop_reader (self->loop, pipe, s_on_pipe, self);
    zloop_reader (self->loop, self->router, s_on_peer_traffic, self);
    zloop_reader (self->loop, snapshot_writer_sock (self->receiver), s_on_snapshot_received, self);
    zloop_timer (self->loop, self->tick_ms, 0, s_on_tick, self);
    zloop_start (self->loop);
    if (!self->terminated) {
        diagnostic_line (node_id, DIAGNOSTIC_ERROR, "raft loop ended unexpectedly");
        s_wait_for_term (pipe);
    }
    if (self->dropped_sends)
        diagnostic_line (node_id, DIAGNOSTIC_INFO,
                         "raft stopped (%" PRIu64 " peer messages dropped)", self->dropped_sends);
    s_self_destroy (&self);
}

//  ---------------------------------------------------------------------------
//  The broker's handle on the actor.

struct _raft_actor_t {
    zactor_t *actor;                  //  the Raft thread
    zmsg_t *batch;                    //  PROPOSE being filled, NULL when nothing is queued
    uint32_t node_id;                 //  for log lines
    uint64_t restored_snapshot_index; //  snapshot the actor started from, 0: none
    raft_actor_progress_t progress;   //  what the latest PROGRESS said (matches owned)
};

raft_actor_t *
raft_actor_new (const config_t *config, uint32_t node_id, const char *data_dir)
{
    return raft_actor_new_from_snapshot (config, node_id, data_dir, NULL);
}

raft_actor_t *
raft_actor_new_from_snapshot (const config_t *config, uint32_t node_id, const char *data_dir,
                              const raft_actor_snapshot_t *snapshot)
{
    raft_actor_t *self = calloc (1, sizeof (raft_actor_t));
    if (!self)
        return NULL;
    self->node_id = node_id;
    //  Pipes must never block: a broker and an actor each blocked sending
    //  to the other would deadlock. czmq applies this to pipes created next.
    zsys_set_pipehwm (0);
    start_args_t args = {.config = config,
                         .node_id = node_id,
                         .data_dir = data_dir ? data_dir : config->data_dir,
                         .snapshot = snapshot};
    self->actor = zactor_new (s_raft_actor, &args);
    //  "READY" [snapshot index] or "FAILED" alone
    zmsg_t *reply = self->actor ? zmsg_recv (self->actor) : NULL;
    char *status = reply ? zmsg_popstr (reply) : NULL;
    zframe_t *snapshot_frame = reply ? zmsg_first (reply) : NULL;
    bool ready =
        status && streq (status, "READY") && snapshot_frame && zframe_size (snapshot_frame) == 8;
    if (ready)
        self->restored_snapshot_index = little_endian_get_u64 (zframe_data (snapshot_frame));
    zstr_free (&status);
    zmsg_destroy (&reply);
    if (!ready)
        raft_actor_destroy (&self);
    return self;
}

void
raft_actor_destroy (raft_actor_t **self_p)
{
    if (*self_p) {
        raft_actor_t *self = *self_p;
        zactor_destroy (&self->actor);
        zmsg_destroy (&self->batch);
        free (self->progress.matches);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
raft_actor_sock (raft_actor_t *self)
{
    return zactor_sock (self->actor);
}

void
raft_actor_propose (raft_actor_t *self, uint64_t ticket, zframe_t **payload_p)
{
    if (!self->batch) {
        self->batch = zmsg_new ();
        zmsg_addstr (self->batch, "PROPOSE");
    }
    zframe_t *ticket_frame = s_u64_frame (ticket);
    zmsg_append (self->batch, &ticket_frame);
    zmsg_append (self->batch, payload_p);
}

uint64_t
raft_actor_restored_snapshot_index (raft_actor_t *self)
{
    return self->restored_snapshot_index;
}

int
raft_actor_compact (raft_actor_t *self, uint64_t index, uint64_t term)
{
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "COMPACT");
    zframe_t *index_frame = s_u64_frame (index);
    zmsg_append (message, &index_frame);
    zframe_t *term_frame = s_u64_frame (term);
    zmsg_append (message, &term_frame);
    return zmsg_send (&message, zactor_sock (self->actor));
}

int
raft_actor_flush (raft_actor_t *self)
{
    if (!self->batch)
        return 0;
    return zmsg_send (&self->batch, zactor_sock (self->actor));
}

int
raft_actor_admin (raft_actor_t *self, uint64_t ticket, raft_actor_admin_kind_t kind,
                  const raft_member_t *member)
{
    uint8_t header[ADMIN_HEADER_SIZE];
    little_endian_put_u64 (header, ticket);
    header[8] = (uint8_t)kind;
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "ADMIN");
    zmsg_addmem (message, header, sizeof (header));
    zframe_t *frame = s_member_frame (member);
    zmsg_append (message, &frame);
    return zmsg_send (&message, zactor_sock (self->actor));
}

//  ADMINED: [ticket][accepted][leader] in one frame.
static int
s_decode_admined (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *body = zmsg_first (message);
    if (!body || zframe_size (body) != ADMIN_HEADER_SIZE + LEADER_SIZE)
        return -1;
    const uint8_t *source = zframe_data (body);
    event->ticket = little_endian_get_u64 (source);
    event->accepted = source[8] != 0;
    event->leader_id = little_endian_get_u32 (source + 9);
    return 0;
}

//  MEMBERS: [config index] then one [member] frame per member.
static int
s_decode_members (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *index = zmsg_first (message);
    if (!index || zframe_size (index) != 8)
        return -1;
    event->config_index = little_endian_get_u64 (zframe_data (index));
    size_t count = zmsg_size (message) - 1;
    if (count == 0)
        return 0;
    event->members = calloc (count, sizeof (raft_member_t));
    if (!event->members)
        return -1;
    for (zframe_t *frame = zmsg_next (message); frame; frame = zmsg_next (message))
        if (s_member_decode (frame, &event->members[event->member_count++]))
            return -1;
    return 0;
}

//  COMMITTED: [commit][last] then [index][term][type][payload] frames.
static int
s_decode_committed (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *header = zmsg_first (message);
    if (!header || zframe_size (header) != COMMITTED_HEADER_SIZE)
        return -1;
    event->commit_index = little_endian_get_u64 (zframe_data (header));
    event->last_index = little_endian_get_u64 (zframe_data (header) + 8);
    size_t count = zmsg_size (message) - 1;
    if (count == 0)
        return 0;
    event->entries = calloc (count, sizeof (raft_entry_t));
    if (!event->entries)
        return -1;
    for (zframe_t *frame = zmsg_next (message); frame; frame = zmsg_next (message)) {
        if (zframe_size (frame) < ENTRY_HEADER_SIZE)
            return -1;
        raft_entry_t *entry = &event->entries[event->entry_count++];
        const uint8_t *source = zframe_data (frame);
        entry->index = little_endian_get_u64 (source);
        entry->term = little_endian_get_u64 (source + 8);
        entry->type = source[16];
        entry->data = zframe_data (frame) + ENTRY_HEADER_SIZE;
        entry->size = zframe_size (frame) - ENTRY_HEADER_SIZE;
    }
    return 0;
}

//  REJECTED: [leader] then [ticket] frames.
static int
s_decode_rejected (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *leader = zmsg_first (message);
    if (!leader || zframe_size (leader) != LEADER_SIZE)
        return -1;
    event->leader_id = little_endian_get_u32 (zframe_data (leader));
    size_t count = zmsg_size (message) - 1;
    if (count == 0)
        return 0;
    event->tickets = calloc (count, sizeof (uint64_t));
    if (!event->tickets)
        return -1;
    for (zframe_t *frame = zmsg_next (message); frame; frame = zmsg_next (message)) {
        if (zframe_size (frame) != TICKET_SIZE)
            return -1;
        event->tickets[event->ticket_count++] = little_endian_get_u64 (zframe_data (frame));
    }
    return 0;
}

//  STATE: [role][term][leader][commit][last] in one frame.
static int
s_decode_state (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *body = zmsg_first (message);
    if (!body || zframe_size (body) != STATE_SIZE || zmsg_size (message) != 1)
        return -1;
    const uint8_t *source = zframe_data (body);
    if (source[0] > RAFT_ROLE_LEADER)
        return -1;
    event->role = (raft_role_t)source[0];
    event->term = little_endian_get_u64 (source + 1);
    event->leader_id = little_endian_get_u32 (source + 9);
    event->commit_index = little_endian_get_u64 (source + 13);
    event->last_index = little_endian_get_u64 (source + 21);
    return 0;
}

//  INSTALLED: [snapshot index].
static int
s_decode_installed (zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *index = zmsg_first (message);
    if (!index || zframe_size (index) != 8 || zmsg_size (message) != 1)
        return -1;
    event->snapshot_index = little_endian_get_u64 (zframe_data (index));
    return 0;
}

//  PROGRESS: [snapshot index][snapshot term][first index][log bytes] then
//  [id][match] per member, in one frame. Replaces what the handle keeps
//  only when the whole message is sound.
static int
s_decode_progress (raft_actor_t *self, zmsg_t *message, raft_actor_event_t *event)
{
    zframe_t *body = zmsg_first (message);
    if (!body || zmsg_size (message) != 1 || zframe_size (body) < PROGRESS_HEADER_SIZE ||
        (zframe_size (body) - PROGRESS_HEADER_SIZE) % PROGRESS_MATCH_SIZE)
        return -1;
    const uint8_t *source = zframe_data (body);
    size_t count = (zframe_size (body) - PROGRESS_HEADER_SIZE) / PROGRESS_MATCH_SIZE;
    raft_actor_match_t *matches = NULL;
    if (count) {
        matches = calloc (count, sizeof (raft_actor_match_t));
        if (!matches)
            return -1;
    }
    for (size_t position = 0; position < count; position++) {
        const uint8_t *match = source + PROGRESS_HEADER_SIZE + position * PROGRESS_MATCH_SIZE;
        matches[position].id = little_endian_get_u32 (match);
        matches[position].match_index = little_endian_get_u64 (match + 4);
    }
    free (self->progress.matches);
    self->progress.snapshot_index = little_endian_get_u64 (source);
    self->progress.snapshot_term = little_endian_get_u64 (source + 8);
    self->progress.first_index = little_endian_get_u64 (source + 16);
    self->progress.log_bytes = little_endian_get_u64 (source + 24);
    self->progress.matches = matches;
    self->progress.match_count = count;
    event->progress = &self->progress;
    return 0;
}

const raft_actor_progress_t *
raft_actor_progress (raft_actor_t *self)
{
    return &self->progress;
}

int
raft_actor_recv (raft_actor_t *self, raft_actor_event_t *event)
{
    memset (event, 0, sizeof (*event));
    zmsg_t *message = zmsg_recv (zactor_sock (self->actor));
    if (!message)
        return -1;
    char *command = zmsg_popstr (message);
    event->message = message;
    int rc = -1;
    if (command && streq (command, "COMMITTED")) {
        event->kind = RAFT_ACTOR_COMMITTED;
        rc = s_decode_committed (message, event);
    } else if (command && streq (command, "REJECTED")) {
        event->kind = RAFT_ACTOR_REJECTED;
        rc = s_decode_rejected (message, event);
    } else if (command && streq (command, "INSTALLED")) {
        event->kind = RAFT_ACTOR_INSTALLED;
        rc = s_decode_installed (message, event);
    } else if (command && streq (command, "STATE")) {
        event->kind = RAFT_ACTOR_STATE;
        rc = s_decode_state (message, event);
    } else if (command && streq (command, "ADMINED")) {
        event->kind = RAFT_ACTOR_ADMINED;
        rc = s_decode_admined (message, event);
    } else if (command && streq (command, "MEMBERS")) {
        event->kind = RAFT_ACTOR_MEMBERS;
        rc = s_decode_members (message, event);
    } else if (command && streq (command, "PROGRESS")) {
        event->kind = RAFT_ACTOR_PROGRESS;
        rc = s_decode_progress (self, message, event);
    }
    if (rc)
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "malformed '%s' message from the raft actor", command ? command : "");
    zstr_free (&command);
    if (rc)
        raft_actor_event_clear (event);
    return rc;
}

void
raft_actor_event_clear (raft_actor_event_t *event)
{
    free (event->entries);
    free (event->tickets);
    free (event->members);
    zmsg_destroy (&event->message);
    memset (event, 0, sizeof (*event));
}
