/*  raft_thread — owns the Raft actor's thread: the event loop with the peer
    sockets, the core's alarms, the pipe and the log syncer's answers, and the
    handling of what the core wants done (persist, send, commit, report).
    Restoring at start is raft_restore.c's, snapshots raft_snapshots.c's,
    the pipe's encoding raft_pipe.c's. See raft_actor.h for the protocol
    and the guarantees.
*/
#include "replica/raft_thread.h"
#include "util/worker.h"

#include <pthread.h>
#include <unistd.h>

#include "replica/peer_codec.h"
#include "replica/raft_pipe.h"
#include "util/disk_space.h"
#include "util/io_threads.h"
#include "util/endpoint.h"

//  Longest a change of the commit or last index waits before the broker
//  hears of it (status, metrics); heartbeat_ms / 5 when shorter.
#define REPORT_MAX_MS 10
//  A commit no AppendEntries has carried reaches the followers this much
//  later (raft_core_notice_commit): after this node has answered its
//  clients, and soon for the followers' subscribers.
#define COMMIT_NOTICE_DELAY_MS 1
//  Messages read from one socket before the batch is processed, so one busy
//  socket cannot starve the others or the timer.
#define DRAIN_LIMIT 1000
//  Largest peer frame accepted; a bigger one drops the connection.
#define PEER_MAX_MESSAGE_BYTES (64 * 1024 * 1024)
//  At most one complaint per second about bad peer traffic.
#define GARBAGE_LOG_PERIOD_MS 1000
//  Out of descriptors, an append is tried again this often, this many times
//  (a tenth of the shortest election timeout tests use, in all).
#define APPEND_RETRY_MS 5
#define APPEND_ATTEMPTS 6

//  Storage failed under the protocol: continuing could acknowledge entries
//  or votes that are not durable. Ends the process at once; exit handlers
//  are skipped because they would wait on sockets the broker thread still
//  uses.
void
raft_thread_fatal (raft_thread_t *self, const char *what)
{
    diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "fatal: %s: %s; stopping the node", what,
                     strerror (errno));
    _exit (1);
}

static void
s_self_destroy (raft_thread_t **self_p)
{
    if (*self_p) {
        raft_thread_t *self = *self_p;
        event_loop_destroy (&self->loop);
        zsock_destroy (&self->router);
        peer_links_destroy (&self->links);
        zmsg_destroy (&self->rejected);
        zmsg_destroy (&self->reads);
        raft_pipe_batch_destroy (&self->committed);
        zframe_destroy (&self->reported_progress);
        metric_histogram_destroy (&self->fsync_seconds);
        raft_core_destroy (&self->core);
        snapshot_writer_destroy (&self->receiver);
        free (self->snapshot_dir);
        log_syncer_destroy (&self->syncer);
        log_store_destroy (&self->log);
        meta_store_destroy (&self->meta);
        free (self->log_path);
        disk_space_watch_destroy (&self->disk_watch);
        free (self->cluster);
        free (self);
        *self_p = NULL;
    }
}

//  Binds the peer ROUTER and connects a DEALER to every other known node.
static int
s_open_sockets (raft_thread_t *self, const raft_actor_options_t *options)
{
    peer_links_options_t links = {options->node_id,
                                  options->host,
                                  options->public_key,
                                  options->secret_key,
                                  options->zap_policy_endpoint,
                                  options->zap_watch_endpoint};
    self->links = peer_links_new (&links);
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->links || !self->router)
        return -1;
    zsock_set_linger (self->router, 0);
    zsock_set_rcvtimeo (self->router, 0); //  reads never wait (s_read_peers)
    zsock_set_maxmsgsize (self->router, PEER_MAX_MESSAGE_BYTES);
    io_threads_pin (self->router, IO_LANE_PEERS);
    char error[256] = "cannot count its connections";
    if (peer_links_secure_router (self->links, self->router) || options->peer_port == 0 ||
        options->peer_port > UINT16_MAX ||
        endpoint_bind (self->router, options->host, (uint16_t)options->peer_port, error,
                       sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "peer port: %s",
                         options->peer_port ? error : "none");
        return -1;
    }
    return peer_links_pin (self->links, options->peers, options->peer_count);
}

static raft_thread_t *
s_self_new (zsock_t *pipe, const raft_actor_options_t *options)
{
    raft_thread_t *self = calloc (1, sizeof (raft_thread_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->node_id = options->node_id;
    self->report_ms = options->heartbeat_ms / 5;
    if (self->report_ms > REPORT_MAX_MS)
        self->report_ms = REPORT_MAX_MS;
    if (self->report_ms == 0)
        self->report_ms = 1;
    self->cluster = strdup (options->cluster);
    self->committed = raft_pipe_batch_new ();
    size_t bound_count;
    const double *bounds = raft_actor_fsync_bounds (&bound_count);
    self->fsync_seconds = metric_histogram_new (bounds, bound_count);
    //  Sockets first: a second copy of a running node fails on its port
    //  before it can touch (and maybe truncate) the live node's log
    if (!self->cluster || !self->fsync_seconds || s_open_sockets (self, options) ||
        raft_restore_open (self, options) || !(self->syncer = log_syncer_new ()))
        s_self_destroy (&self);
    return self;
}

//  Sends one message to its addressee, or drops it.
void
raft_thread_send_peer (raft_thread_t *self, const raft_message_t *message)
{
    zframe_t *frame = peer_codec_encode (message, self->cluster);
    if (frame && peer_links_send (self->links, message->to, &frame))
        self->dropped_sends++;
}

//  Sends the COMMITTED message built so far, if any, headed by the commit
//  and last index as they are now.
static void
s_send_committed (raft_thread_t *self)
{
    raft_pipe_send_committed (self->pipe, self->committed, raft_core_commit_index (self->core),
                              raft_core_last_index (self->core));
}

static const char *
s_role_name (raft_role_t role)
{
    return role == RAFT_ROLE_LEADER      ? "leader"
           : role == RAFT_ROLE_CANDIDATE ? "candidate"
                                         : "follower";
}

//  Tells the broker about role, term and leader changes at once and about
//  index changes when indexes_too (housekeeping), logging what a reader of
//  the log cares about: roles and leaders.
static void
s_report_state (raft_thread_t *self, bool indexes_too)
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
    raft_pipe_send_state (self->pipe, role, term, leader, commit, last);

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
s_progress_frame (raft_thread_t *self)
{
    size_t member_count;
    const raft_member_t *members = raft_core_members (self->core, &member_count);
    bool leader = raft_core_role (self->core) == RAFT_ROLE_LEADER;
    raft_actor_progress_t progress = {self->snapshot_index,
                                      self->snapshot_term,
                                      log_store_first_index (self->log),
                                      log_store_size (self->log),
                                      NULL,
                                      0};
    if (leader && member_count &&
        !(progress.matches = calloc (member_count, sizeof (raft_actor_match_t))))
        return NULL;
    for (size_t position = 0; leader && position < member_count; position++) {
        raft_progress_t member;
        //  Refused for this node itself: only the others have a match
        if (raft_core_progress (self->core, members[position].id, &member))
            continue;
        progress.matches[progress.match_count++] =
            (raft_actor_match_t){members[position].id, member.match_index};
    }
    zframe_t *frame = raft_pipe_progress_frame (&progress);
    free (progress.matches);
    return frame;
}

//  Tells the broker what only this thread sees, when it changed since the
//  last report. At housekeeping and on the metrics timer: log size and
//  matches move with every write, and status needs them fresh, not instant.
static void
s_report_progress (raft_thread_t *self)
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
    raft_pipe_send_progress (self->pipe, &body);
}

//  ---------------------------------------------------------------------------
//  Membership: peers follow the configuration, the broker hears of it.

//  Links follow the configuration (members added at run time are reached,
//  removed ones forgotten, with their keys), and the broker hears of it.
static void
s_apply_members (raft_thread_t *self, const raft_member_t *members, size_t count)
{
    peer_links_follow (self->links, members, count);
    raft_pipe_send_members (self->pipe, raft_core_config_index (self->core), members, count);
}

//  ADMIN [ticket][kind][member]: asks the core, answers ADMINED.
static void
s_admin (raft_thread_t *self, zmsg_t *message)
{
    uint64_t ticket;
    uint8_t kind;
    raft_member_t member;
    if (raft_pipe_decode_admin (message, &ticket, &kind, &member)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "malformed ADMIN from the broker");
        return;
    }
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
    raft_pipe_send_admined (self->pipe, ticket, rc == 0, raft_core_leader (self->core));
}

//  COMPACT [index][term]: the broker's snapshot of index is durable.
static void
s_compact (raft_thread_t *self, zmsg_t *message)
{
    uint64_t index, term;
    if (raft_pipe_decode_compact (message, &index, &term)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "malformed COMPACT from the broker");
        return;
    }
    raft_snapshots_compact (self, index, term);
}

//  Appends what ready asks to persist. Out of descriptors (EMFILE, ENFILE:
//  connections took them), a failed append leaves the store as it was, and
//  is tried again a few times as connections come and go, rather than
//  stopping the node at once. Returns 0, or -1 with errno set.
static int
s_append (raft_thread_t *self, const raft_ready_t *ready)
{
    for (int attempt = 0;; attempt++) {
        if (log_store_append (self->log, ready->entries_to_persist,
                              ready->entries_to_persist_count) == 0)
            return 0;
        if ((errno != EMFILE && errno != ENFILE) || attempt == APPEND_ATTEMPTS)
            return -1;
        if (attempt == 0)
            diagnostic_line (self->node_id, DIAGNOSTIC_WARNING,
                             "out of file descriptors appending to the log: trying again");
        zclock_sleep (APPEND_RETRY_MS);
    }
}

//  Entries up to index (of term) are written: makes them durable and tells
//  the core. The fdatasync runs on the syncer's thread when the store can
//  hand it off, so this loop goes on reading peers and answering
//  heartbeats meanwhile; one at a time, the next covering all written
//  while it ran (group commit). Else (a segment was just made, whose
//  directory entry must be synced too) it runs here.
static void
s_sync_written (raft_thread_t *self, uint64_t index, uint64_t term)
{
    if (self->sync_in_flight) {
        self->sync_wanted = true;
        self->wanted_index = index;
        self->wanted_term = term;
        return;
    }
    int fd;
    if (log_store_sync_handoff (self->log, &fd) == 0 && fd >= 0) {
        if (log_syncer_sync (self->syncer, fd, ++self->sync_ticket))
            raft_thread_fatal (self, "cannot hand the log's sync to its thread");
        event_loop_touched (self->loop, log_syncer_sock (self->syncer));
        self->sync_in_flight = true;
        self->sync_index = index;
        self->sync_term = term;
        self->sync_truncations = self->log_truncations;
        return;
    }
    if (fd < 0) {
        int64_t started = zclock_usecs ();
        if (log_store_sync (self->log))
            raft_thread_fatal (self, "cannot sync the log");
        metric_histogram_observe (self->fsync_seconds, (double)(zclock_usecs () - started) / 1e6);
    }
    raft_core_persisted (self->core, index, term);
}

//  The syncer's answer: the entries it covered are durable, unless the
//  log's suffix was cut since (the sync may have run before the cut; what
//  was rewritten after it needs a sync of its own).
static int
s_on_synced (event_loop_t *loop, zsock_t *socket, void *argument)
{
    (void)loop;
    (void)socket;
    raft_thread_t *self = (raft_thread_t *)argument;
    raft_thread_clock (self);
    uint64_t ticket, usecs;
    int error;
    if (log_syncer_recv (self->syncer, &ticket, &usecs, &error) || !self->sync_in_flight ||
        ticket != self->sync_ticket)
        return 0;
    if (error) {
        errno = error;
        raft_thread_fatal (self, "cannot sync the log");
    }
    metric_histogram_observe (self->fsync_seconds, (double)usecs / 1e6);
    self->sync_in_flight = false;
    if (self->sync_truncations == self->log_truncations) {
        log_store_synced (self->log, self->sync_index);
        raft_core_persisted (self->core, self->sync_index, self->sync_term);
    }
    if (self->sync_wanted) {
        self->sync_wanted = false;
        s_sync_written (self, self->wanted_index, self->wanted_term);
    }
    raft_thread_process_ready (self);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Alarms instead of a fixed tick: an idle node wakes for heartbeats and
//  elections, not a hundred times a second (README, Decisions).

void
raft_thread_clock (raft_thread_t *self)
{
    raft_core_set_clock (self->core, (uint64_t)zclock_mono ());
}

static int
s_on_tick (event_loop_t *loop, void *argument)
{
    (void)loop;
    raft_thread_t *self = (raft_thread_t *)argument;
    int64_t now = zclock_mono ();
    //  An alarm armed before a sooner one was needed fires late and early
    //  ones find nothing due: only the earliest one clears the mark
    if (now >= self->tick_alarm_at)
        self->tick_alarm_at = 0;
    raft_core_tick (self->core, (uint64_t)now);
    raft_thread_process_ready (self);
    return 0;
}

//  An alarm at the core's next deadline, unless one comes as soon. Where
//  it cannot be armed (out of memory), the metrics timer tries again.
static void
s_arm_tick (raft_thread_t *self)
{
    if (!self->loop)
        return;
    int64_t deadline = (int64_t)raft_core_next_deadline (self->core);
    if (self->tick_alarm_at && self->tick_alarm_at <= deadline)
        return;
    int64_t now = zclock_mono ();
    int delay = deadline > now ? (int)(deadline - now) : 1;
    if (event_loop_alarm (self->loop, delay, s_on_tick, self) == 0)
        self->tick_alarm_at = now + delay;
}

static int
s_on_housekeeping (event_loop_t *loop, void *argument)
{
    (void)loop;
    raft_thread_t *self = (raft_thread_t *)argument;
    self->housekeeping_armed = false;
    s_report_state (self, true);
    s_report_progress (self);
    raft_thread_process_ready (self);
    return 0;
}

//  Housekeeping report_ms from now while there is some: indexes the broker
//  has not heard of, or a log prefix still to drop (a step a turn).
static void
s_arm_housekeeping (raft_thread_t *self)
{
    if (!self->loop || self->housekeeping_armed)
        return;
    bool due = raft_core_commit_index (self->core) != self->reported_commit ||
               raft_core_last_index (self->core) != self->reported_last ||
               self->compact_to > raft_core_snapshot_index (self->core);
    if (due && event_loop_alarm (self->loop, (int)self->report_ms, s_on_housekeeping, self) == 0)
        self->housekeeping_armed = true;
}

static int
s_on_commit_notice (event_loop_t *loop, void *argument)
{
    (void)loop;
    raft_thread_t *self = (raft_thread_t *)argument;
    raft_thread_clock (self);
    self->commit_notice_armed = false;
    raft_core_notice_commit (self->core);
    raft_thread_process_ready (self);
    return 0;
}

//  Acts on everything the core wants done, in the order the core demands,
//  until it wants nothing more.
void
raft_thread_process_ready (raft_thread_t *self)
{
    raft_ready_t ready;
    while (raft_core_ready (self->core, &ready)) {
        //  a. the vote and term must be durable before any message shows them
        if (ready.hard_state_changed && meta_store_save (self->meta, ready.term, ready.voted_for))
            raft_thread_fatal (self, "cannot save term and vote");
        //  e. new members are connected before messages go to them
        if (ready.config_changed)
            s_apply_members (self, ready.members, ready.member_count);
        //  d. committed entries to the broker, in order. A leader's clients
        //  wait for them, so they go before its messages (then mostly commit
        //  notices); a follower's wait until after the loop, behind the
        //  acknowledgement its sync makes possible, which the leader waits for
        if (ready.committed_count)
            raft_pipe_add_committed (self->committed, ready.committed, ready.committed_count);
        if (ready.role == RAFT_ROLE_LEADER)
            s_send_committed (self);
        //  b. messages first: followers write while the leader writes
        for (size_t position = 0; position < ready.message_count; position++)
            raft_thread_send_peer (self, &ready.messages[position]);
        //  c. the log: one sync for the whole batch
        if (ready.truncate_from) {
            if (log_store_truncate_suffix (self->log, ready.truncate_from))
                raft_thread_fatal (self, "cannot truncate the log");
            self->log_truncations++;
        }
        bool written = ready.entries_to_persist_count > 0;
        uint64_t written_index = 0;
        uint64_t written_term = 0;
        if (written) {
            const raft_entry_t *last =
                &ready.entries_to_persist[ready.entries_to_persist_count - 1];
            written_index = last->index;
            written_term = last->term;
            if (s_append (self, &ready))
                raft_thread_fatal (self, "cannot append to the log");
            self->entries_written += ready.entries_to_persist_count;
        }
        raft_snapshots_handle_ready (self, &ready);
        //  g. reads settled, reported after the loop with those refused
        for (size_t position = 0; position < ready.read_count; position++)
            raft_pipe_add_read_settled (&self->reads, &ready.reads[position]);
        raft_core_advance (self->core);
        if (written)
            s_sync_written (self, written_index, written_term);
    }
    s_send_committed (self);
    raft_pipe_send_reads (self->pipe, &self->reads);
    s_report_state (self, false);
    raft_snapshots_compact_step (self);
    //  Without the alarm (out of memory) the next heartbeat tells them;
    //  once AppendEntries told them (the usual case), it is taken back
    bool untold = raft_core_commit_untold (self->core);
    if (self->loop && !self->commit_notice_armed && untold &&
        event_loop_alarm (self->loop, COMMIT_NOTICE_DELAY_MS, s_on_commit_notice, self) == 0)
        self->commit_notice_armed = true;
    else if (self->commit_notice_armed && !untold) {
        event_loop_alarm_cancel (self->loop, s_on_commit_notice, self);
        self->commit_notice_armed = false;
    }
    s_arm_tick (self);
    s_arm_housekeeping (self);
}

static void
s_complain (raft_thread_t *self, const char *what)
{
    diagnostic_dropped (&self->garbage_limiter, zclock_mono (), GARBAGE_LOG_PERIOD_MS,
                        self->node_id, "peer port", what);
}

//  Whether the log's filesystem is below min_free_disk_bytes, logged when
//  that changes. Between two looks (statvfs) the free space is estimated
//  down by the entries taken, so a burst within one period cannot run far
//  past the watermark.
static bool
s_disk_low (raft_thread_t *self)
{
    if (!self->disk_watch &&
        !(self->disk_watch = disk_space_watch_new (self->log_path, DISK_SPACE_WATCH_PERIOD_MS)))
        return false;
    uint64_t free_bytes = disk_space_watch_free (self->disk_watch, zclock_mono ());
    bool low = self->min_free_disk_bytes > 0 && free_bytes < self->min_free_disk_bytes;
    if (low != self->disk_low)
        diagnostic_line (self->node_id, low ? DIAGNOSTIC_WARNING : DIAGNOSTIC_INFO,
                         low ? "the log's disk has %" PRIu64 " bytes free, below "
                               "min_free_disk_bytes (%" PRIu64 "): appending no entries"
                             : "the log's disk has %" PRIu64 " bytes free again (min_free_disk_"
                               "bytes %" PRIu64 "): appending entries",
                         free_bytes, self->min_free_disk_bytes);
    self->disk_low = low;
    return low;
}

//  Hands a peer message to the core. Below the disk watermark an
//  AppendEntries goes in without its entries, as a heartbeat at its
//  prev_log_index: the node stays a follower of that leader (no election),
//  commits what it already holds, and answers that its log matches up to
//  prev_log_index only, so the leader sends the entries again later.
//  Refusing to append is always safe in Raft (the node is one more slow
//  follower), and nothing not written is ever acknowledged.
static void
s_deliver (raft_thread_t *self, const raft_message_t *message)
{
    if (message->type != RAFT_MESSAGE_APPEND_ENTRIES || message->entry_count == 0 ||
        !s_disk_low (self)) {
        for (size_t index = 0; index < message->entry_count && self->disk_watch; index++)
            disk_space_watch_take (self->disk_watch, message->entries[index].size);
        raft_core_receive (self->core, message);
        return;
    }
    raft_message_t heartbeat = *message;
    heartbeat.entries = NULL;
    heartbeat.entry_count = 0;
    raft_core_receive (self->core, &heartbeat);
}

//  One message from the ROUTER: [routing id][packed peer message].
static void
s_receive_peer (raft_thread_t *self, zmsg_t *message)
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
    } else if (!peer_links_sender_valid (self->links, decoded.message.from, body)) {
        snprintf (error, sizeof (error),
                  "a message signed node %u from a connection that is not that node's",
                  decoded.message.from);
        s_complain (self, error);
    } else
        s_deliver (self, &decoded.message);
    peer_codec_message_clear (&decoded);
}

//  Feeds the core what peers sent, without waiting.
static void
s_read_peers (raft_thread_t *self)
{
    //  Until a read finds nothing (the router does not wait): the failed
    //  read is the only ask of libzmq's queue
    for (int count = 0; count < DRAIN_LIMIT; count++) {
        zmsg_t *message = zmsg_recv (self->router);
        if (!message)
            return;
        s_receive_peer (self, message);
        zmsg_destroy (&message);
    }
    //  Input may be left: the loop asks the (quiet) router after this turn
    event_loop_touched (self->loop, self->router);
}

static int
s_on_peer_traffic (event_loop_t *loop, zsock_t *router, void *argument)
{
    (void)loop;
    (void)router;
    raft_thread_t *self = (raft_thread_t *)argument;
    raft_thread_clock (self);
    s_read_peers (self);
    raft_thread_process_ready (self);
    return 0;
}

//  Appends each proposal of the records frame; remembers the tickets
//  refused.
static void
s_propose (raft_thread_t *self, zmsg_t *message)
{
    zframe_t *records = zmsg_first (message);
    size_t offset = 0;
    uint64_t ticket;
    const uint8_t *data;
    size_t size;
    int found;
    while ((found = raft_pipe_next_proposal (records, &offset, &ticket, &data, &size)) == 1) {
        uint64_t index;
        if (raft_core_propose (self->core, data, size, &index)) {
            if (!self->rejected)
                self->rejected = zmsg_new ();
            zframe_t *frame = raft_pipe_u64_frame (ticket);
            zmsg_append (self->rejected, &frame);
        }
    }
    if (found == -1 || zmsg_size (message) != 1)
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "malformed PROPOSE from the broker");
}

//  Takes each [ticket] of a READ; reports those the core refuses.
static void
s_read (raft_thread_t *self, zmsg_t *message)
{
    uint64_t id;
    int found;
    while ((found = raft_pipe_next_read (message, &id)) == 1)
        if (raft_core_read (self->core, id)) {
            raft_read_t refused = {.id = id, .outcome = RAFT_READ_NOT_LEADER};
            raft_pipe_add_read_settled (&self->reads, &refused);
        }
    if (found == -1)
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "malformed READ from the broker");
}

static void
s_send_rejected (raft_thread_t *self)
{
    raft_pipe_send_rejected (self->pipe, &self->rejected, raft_core_leader (self->core));
}

static int
s_on_pipe (event_loop_t *loop, zsock_t *pipe, void *argument)
{
    (void)loop;
    raft_thread_t *self = (raft_thread_t *)argument;
    raft_thread_clock (self);
    for (int count = 0; count < DRAIN_LIMIT; count++) {
        zmsg_t *message = zmsg_recv (pipe);
        if (!message)
            break;
        char *command = zmsg_popstr (message);
        if (command && streq (command, "PROPOSE"))
            s_propose (self, message);
        else if (command && streq (command, "READ"))
            s_read (self, message);
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
    raft_thread_process_ready (self);
    return self->terminated ? -1 : 0;
}

//  Tells the broker the counters only this thread keeps, when they moved.
static int
s_on_metrics_timer (event_loop_t *loop, void *argument)
{
    (void)loop;
    raft_thread_t *self = (raft_thread_t *)argument;
    s_report_progress (self);
    s_arm_tick (self);
    uint64_t syncs = metric_histogram_count (self->fsync_seconds);
    if (syncs == self->reported_syncs && self->dropped_sends == self->reported_dropped_sends)
        return 0;
    raft_pipe_send_metrics (self->pipe, self->entries_written, self->dropped_sends,
                            self->fsync_seconds);
    self->reported_syncs = syncs;
    self->reported_dropped_sends = self->dropped_sends;
    return 0;
}

static void
s_wait_for_term (zsock_t *pipe)
{
    zmsg_t *message;
    char *command;
    while ((command = worker_next_command (pipe, &message))) {
        free (command);
        zmsg_destroy (&message);
    }
}

void
raft_thread_run (zsock_t *pipe, void *argument)
{
    worker_begin ("raftq-raft");
    const raft_actor_options_t *options = (const raft_actor_options_t *)argument;
    uint32_t node_id = options->node_id;
    raft_thread_t *self = s_self_new (pipe, options);
    //  options belong to the creator, which is released by this signal
    zsock_signal (pipe, 0);
    if (!self) {
        zstr_send (pipe, "FAILED");
        s_wait_for_term (pipe);
        return;
    }
    raft_pipe_send_ready (pipe);
    size_t member_count;
    const raft_member_t *members = raft_core_members (self->core, &member_count);
    s_apply_members (self, members, member_count);

    //  The loop's handlers read until a read finds nothing: it must not wait
    zsock_set_rcvtimeo (pipe, 0);
    self->loop = event_loop_new ();
    if (self->loop && event_loop_socket (self->loop, pipe, s_on_pipe, self) == 0 &&
        //  Quiet: only ever read (the router), or sent on in one place each
        //  (s_sync_written, raft_snapshots.c), which report it
        event_loop_socket_quiet (self->loop, self->router, s_on_peer_traffic, self) == 0 &&
        event_loop_socket_quiet (self->loop, snapshot_writer_sock (self->receiver),
                                 raft_snapshots_on_report, self) == 0 &&
        event_loop_socket_quiet (self->loop, log_syncer_sock (self->syncer), s_on_synced, self) ==
            0 &&
        event_loop_timer (self->loop, RAFT_ACTOR_METRICS_MS, s_on_metrics_timer, self) == 0) {
        s_arm_tick (self);
        //  Signals are blocked here: only a handler ends the loop
        event_loop_run (self->loop);
    }
    zsock_set_rcvtimeo (pipe, -1);
    if (!self->terminated) {
        diagnostic_line (node_id, DIAGNOSTIC_ERROR, "raft loop ended unexpectedly");
        s_wait_for_term (pipe);
    }
    if (self->dropped_sends)
        diagnostic_line (node_id, DIAGNOSTIC_INFO,
                         "raft stopped (%" PRIu64 " peer messages dropped)", self->dropped_sends);
    s_self_destroy (&self);
}
