/*  snapshot_policy — the broker owns the state machine, so it decides when
    to take a snapshot (the log since the last passed snapshot_log_bytes, or
    a TakeSnapshot request) and starts a snapshot job: a forked child packs
    and writes the state as of the fork while the loop goes on applying, and
    reports on a pipe the loop polls. Once durable, the Raft actor compacts
    its log. At start and after InstallSnapshot the broker loads one.
*/
#include "broker/snapshot_policy.h"

#include "broker/server_private.h"
#include "broker/state_snapshot.h"
#include "storage/node_dir.h"
#include "util/diagnostic.h"

#include <unistd.h>

//  Bytes a log record takes besides its payload (length, crc, term, index,
//  type): counting them makes many tiny entries count too.
#define SNAPSHOT_RECORD_OVERHEAD 25
//  After a job could not start or failed, the log-size trigger waits this
//  long before the next try (a TakeSnapshot request does not wait).
#define SNAPSHOT_RETRY_MS 5000

//  A TakeSnapshot request waiting for a snapshot that covers it.
typedef struct {
    client_request_t *request; //  owned until answered
    uint64_t covers;           //  applied index when it came: the snapshot must reach it
} snapshot_waiter_t;

//  Log bytes between snapshots once the last one, of state_bytes, is
//  written: snapshot_log_bytes, or state_bytes when larger. A snapshot
//  costs as much as the state it writes, so with a fixed period a growing
//  backlog would be written whole again each period (quadratic in the
//  backlog; a 200 MB queue was rewritten every 64 MiB of publishes). As
//  large as the state, the period bounds snapshot writing to a byte per
//  byte logged, for a log (and a replay on restart) at most that large.
static uint64_t
s_period (server_t *self, uint64_t state_bytes)
{
    uint64_t period = self->config->snapshot_log_bytes;
    return state_bytes > period ? state_bytes : period;
}

//  Log bytes after a restored snapshot of state_bytes before this node's
//  first own one: the period plus a phase of up to half of it by node id.
//  Every node counts the same entries, so without the phase all of them
//  would fork, write and sync a snapshot at the same index, at the same
//  moment, on shared cores and disk: a five-node run stalled for 0.9 s and
//  lost its leader that way. Once shifted, nodes stay apart.
static uint64_t
s_first_snapshot_bytes (server_t *self, uint64_t state_bytes)
{
    uint64_t period = s_period (self, state_bytes);
    return period + period / 8 * ((self->node_id - 1) % 5);
}

//  A fresh, empty state machine with this node's settings.
fsm_t *
snapshot_policy_fsm_new (server_t *self)
{
    fsm_options_t options = {
        .max_payload_bytes = self->config->max_payload_bytes,
        .event_retention = self->config->event_retention,
        .chat = {.session_idle_ms = (int64_t)self->config->session_idle_s * 1000,
                 .session_lifetime_ms = (int64_t)self->config->session_lifetime_s * 1000}};
    return fsm_new (&options);
}

//  Remembers the Raft membership a snapshot of the applied state must carry.
static void
s_keep_membership (server_t *self, const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc (size ? size : 1);
    if (!copy)
        return;
    if (size)
        memcpy (copy, data, size);
    free (self->membership);
    self->membership = copy;
    self->membership_size = size;
}

//  Replaces the state machine by snapshot's state and keeps its membership.
//  Returns 0, or -1 (logged) with the state untouched.
static int
s_adopt_snapshot (server_t *self, snapshot_t *snapshot)
{
    uint64_t index = snapshot_index (snapshot);
    fsm_t *fsm = snapshot_policy_fsm_new (self);
    char error[256] = "";
    if (!fsm || state_snapshot_restore (snapshot, fsm, error, sizeof (error))) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot restore snapshot %" PRIu64 ": %s",
                         index, error);
        fsm_destroy (&fsm);
        return -1;
    }
    fsm_destroy (&self->fsm);
    self->fsm = fsm;
    if (self->fanout)
        fanout_set_state (self->fanout, fsm);
    cluster_view_set_applied_term (self->view, snapshot_term (snapshot));
    size_t size;
    const uint8_t *membership = snapshot_membership (snapshot, &size);
    s_keep_membership (self, membership, size);
    self->log_bytes_since_snapshot = 0;
    self->snapshot_due_bytes = s_first_snapshot_bytes (self, snapshot_file_size (snapshot));
    self->counted_index = index;
    self->snapshot_durable_index = index;
    diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "state restored from snapshot %" PRIu64,
                     index);
    return 0;
}

//  A leader's snapshot of index was installed: the state becomes its. The
//  Raft actor has already moved past it (its log is emptied behind the
//  snapshot), so a state that cannot follow would be stale state served as
//  current, counted up to date and able to lead: the node stops instead,
//  at once, as the actor does when storage fails. A restart refuses too
//  (the same file is the newest), until the node is wiped and added back.
int
snapshot_policy_load_installed (server_t *self, uint64_t index)
{
    char report[1024] = "";
    snapshot_t *snapshot = snapshot_load (self->snapshot_dir, index, report, sizeof (report));
    int rc = -1;
    if (!snapshot || snapshot_index (snapshot) != index)
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot load snapshot %" PRIu64 ": %s",
                         index, report[0] ? report : "newest valid one is older");
    else
        rc = s_adopt_snapshot (self, snapshot);
    snapshot_destroy (&snapshot);
    if (rc) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                         "fatal: the state cannot follow installed snapshot %" PRIu64
                         " in %s; stopping the node rather than serve a stale state",
                         index, self->snapshot_dir);
        _exit (1);
    }
    return 0;
}

static int s_on_snapshot_job (event_loop_t *loop, int fd, void *argument);

//  Answers the TakeSnapshot requests a snapshot of index covers (reason
//  NULL), or all of them with code and reason (no snapshot came).
static void
s_answer_snapshot_waiters (server_t *self, uint64_t index, Raftq__Code code, const char *reason)
{
    snapshot_waiter_t *waiter = (snapshot_waiter_t *)zlistx_first (self->snapshot_waiting);
    while (waiter) {
        if (reason || waiter->covers <= index) {
            if (reason)
                client_port_reply_error (self->port, waiter->request, code, reason);
            else {
                Raftq__Reply reply = RAFTQ__REPLY__INIT;
                reply.code = RAFTQ__CODE__OK;
                reply.index = index;
                client_port_reply (self->port, waiter->request, &reply);
            }
            client_request_destroy (&waiter->request);
            free (waiter);
            zlistx_delete (self->snapshot_waiting, zlistx_cursor (self->snapshot_waiting));
        }
        waiter = (snapshot_waiter_t *)zlistx_next (self->snapshot_waiting);
    }
}

//  Forks a snapshot job of the applied state and polls its pipe. Returns
//  0, or -1 with error (logged): nothing runs then.
static int
s_start_snapshot (server_t *self, char *error, size_t error_size)
{
    uint64_t index = fsm_applied_index (self->fsm);
    if (!self->membership)
        snprintf (error, error_size, "the Raft configuration is not known yet");
    else
        self->snapshot_job = state_snapshot_job_start (
            self->snapshot_dir, self->fsm, cluster_view_applied_term (self->view), self->membership,
            self->membership_size, error, error_size);
    if (self->snapshot_job) {
        //  A hang-up is how the end of the job shows, not an error
        if (event_loop_fd (self->loop, snapshot_job_fd (self->snapshot_job), s_on_snapshot_job,
                           self) == 0) {
            self->log_bytes_since_snapshot = 0;
            self->snapshot_started_at = zclock_mono ();
            return 0;
        }
        snapshot_job_destroy (&self->snapshot_job);
        snprintf (error, error_size, "cannot poll the snapshot job's pipe");
    }
    diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "cannot start snapshot %" PRIu64 ": %s",
                     index, error);
    self->snapshot_retry_at = zclock_mono () + SNAPSHOT_RETRY_MS;
    return -1;
}

//  Starts a snapshot job if the log grew enough since the last snapshot
//  and none is being written.
static void
s_maybe_snapshot (server_t *self)
{
    if (self->snapshot_job || !self->membership || zclock_mono () < self->snapshot_retry_at ||
        self->log_bytes_since_snapshot < self->snapshot_due_bytes)
        return;
    char error[256] = "";
    s_start_snapshot (self, error, sizeof (error));
}

//  Counts the log bytes of newly applied entries and follows membership
//  changes, then snapshots if due.
void
snapshot_policy_count (server_t *self, const raft_actor_event_t *event)
{
    uint64_t applied = fsm_applied_index (self->fsm);
    for (size_t position = 0; position < event->entry_count; position++) {
        const raft_entry_t *entry = &event->entries[position];
        if (entry->index <= self->counted_index || entry->index > applied)
            continue;
        self->counted_index = entry->index;
        self->log_bytes_since_snapshot += entry->size + SNAPSHOT_RECORD_OVERHEAD;
        if (entry->type == RAFT_ENTRY_CONFIG)
            s_keep_membership (self, entry->data, entry->size);
    }
    s_maybe_snapshot (self);
}

//  The job's pipe is readable: once the child has ended, a durable snapshot
//  lets the actor compact its log and answers the requests it covers;
//  requests it does not cover get the next job.
static int
s_on_snapshot_job (event_loop_t *loop, int fd, void *argument)
{
    server_t *self = (server_t *)argument;
    snapshot_job_t *job = self->snapshot_job;
    if (!job || snapshot_job_collect (job) == 0)
        return 0;
    event_loop_fd_end (loop, fd);
    uint64_t index = snapshot_job_index (job);
    metrics_count_snapshot (self->metrics, snapshot_job_written (job),
                            (double)(zclock_mono () - self->snapshot_started_at) / 1e3);
    if (snapshot_job_written (job)) {
        diagnostic_line (self->node_id, DIAGNOSTIC_INFO, "snapshot %" PRIu64 " written", index);
        if (index > self->snapshot_durable_index)
            self->snapshot_durable_index = index;
        //  Counted from the job's start, like the bytes since
        self->snapshot_due_bytes = s_period (self, snapshot_job_bytes (job));
        if (raft_actor_compact (self->raft, index, snapshot_job_term (job)))
            diagnostic_line (self->node_id, DIAGNOSTIC_ERROR,
                             "cannot ask the raft actor to compact");
        //  A leader's snapshot installed meanwhile may cover more
        s_answer_snapshot_waiters (self, self->snapshot_durable_index, RAFTQ__CODE__OK, NULL);
    } else {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "snapshot %" PRIu64 " failed: %s", index,
                         snapshot_job_reason (job));
        //  Still due: the log-size trigger tries again after a pause
        self->log_bytes_since_snapshot += self->snapshot_due_bytes;
        self->snapshot_retry_at = zclock_mono () + SNAPSHOT_RETRY_MS;
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__INTERNAL, snapshot_job_reason (job));
    }
    snapshot_job_destroy (&self->snapshot_job);
    char error[256] = "";
    if (zlistx_size (self->snapshot_waiting) && s_start_snapshot (self, error, sizeof (error)))
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__INTERNAL, error);
    return 0;
}

//  TakeSnapshot: answered once a snapshot that covers the state applied
//  now is durable and the log compaction behind it is asked for; at once
//  when the newest snapshot covers it already. Takes the request.
void
snapshot_policy_serve_take_snapshot (server_t *self, client_request_t *request)
{
    uint64_t applied = fsm_applied_index (self->fsm);
    //  Just started: the configuration comes with the first entries applied
    if (!self->membership) {
        client_port_reply_error (self->port, request, RAFTQ__CODE__UNAVAILABLE,
                                 "the Raft configuration is not known yet: retry shortly");
        client_request_destroy (&request);
        return;
    }
    snapshot_waiter_t *waiter = (snapshot_waiter_t *)calloc (1, sizeof (snapshot_waiter_t));
    if (!waiter) {
        client_port_reply_error (self->port, request, RAFTQ__CODE__INTERNAL, "out of memory");
        client_request_destroy (&request);
        return;
    }
    waiter->request = request;
    waiter->covers = applied;
    zlistx_add_end (self->snapshot_waiting, waiter);
    if (applied && applied <= self->snapshot_durable_index) {
        s_answer_snapshot_waiters (self, self->snapshot_durable_index, RAFTQ__CODE__OK, NULL);
        return;
    }
    //  One running already answers it if it covers it, else the next one
    char error[256] = "";
    if (!self->snapshot_job && s_start_snapshot (self, error, sizeof (error)))
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__INTERNAL, error);
}

//  At shutdown: a job still running is killed (its temporary removed) and
//  the requests waiting for it hear that their outcome is unknown.
void
snapshot_policy_close (server_t *self)
{
    snapshot_job_destroy (&self->snapshot_job);
    if (self->snapshot_waiting && self->port)
        s_answer_snapshot_waiters (self, 0, RAFTQ__CODE__UNAVAILABLE,
                                   "node shutting down: no snapshot taken");
    zlistx_destroy (&self->snapshot_waiting);
}

//  Restores the state from the newest valid snapshot,
//  which *start then describes for the Raft actor (index 0: none; its
//  membership borrowed from self).
int
snapshot_policy_open (server_t *self, raft_actor_snapshot_t *start)
{
    memset (start, 0, sizeof (*start));
    self->snapshot_due_bytes = s_first_snapshot_bytes (self, 0);
    char node_dir[PATH_MAX];
    char path[PATH_MAX];
    if (node_dir_path (node_dir, sizeof (node_dir), self->config->data_dir, self->node_id) ||
        node_dir_snapshot_path (path, sizeof (path), node_dir))
        return -1;
    self->snapshot_dir = strdup (path);
    self->snapshot_waiting = zlistx_new ();
    if (!self->snapshot_dir || !self->snapshot_waiting)
        return -1;
    char report[1024] = "";
    snapshot_t *snapshot = snapshot_load (self->snapshot_dir, UINT64_MAX, report, sizeof (report));
    if (report[0])
        diagnostic_line (self->node_id, DIAGNOSTIC_WARNING, "snapshots: %s", report);
    if (!snapshot)
        return 0;
    int rc = s_adopt_snapshot (self, snapshot);
    if (rc == 0) {
        start->index = snapshot_index (snapshot);
        start->term = snapshot_term (snapshot);
        start->membership = self->membership;
        start->membership_size = self->membership_size;
    }
    snapshot_destroy (&snapshot);
    return rc;
}
