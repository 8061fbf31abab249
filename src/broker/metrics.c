/*  metrics — the node's counters and their exposition; see metrics.h.  */
#include "broker/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker/codec.h"
#include "util/exposition.h"
#include "util/metric_histogram.h"

//  Request latency: from a cached reply to a request that waited out its
//  deadline.
static const double s_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
//  Proposals per batch: one loop turn drains at most SERVER_DRAIN_LIMIT.
static const double s_batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000};
//  A forked snapshot of a small state to one of a gigabyte.
static const double s_snapshot_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

#define BOUNDS_OF(array) array, sizeof array / sizeof array[0]

struct _metrics_t {
    size_t op_slots;                   //  Request fields, plus one for "none" (last)
    size_t code_slots;                 //  Code values (they run from 0 without a gap)
    uint64_t *replies;                 //  replies by [op slot][code], op_slots * code_slots
    metric_histogram_t **latency;      //  request latency per op slot
    uint64_t proposals;                //  commands proposed
    metric_histogram_t *batches;       //  commands per PROPOSE
    uint64_t leader_changes;           //  leader believed in changed
    uint64_t snapshots_written;        //  own snapshot jobs that succeeded
    uint64_t snapshots_failed;         //  and that failed
    uint64_t snapshots_installed;      //  leaders' snapshots installed
    metric_histogram_t *snapshot_time; //  own snapshot jobs' durations
    uint64_t deliveries;               //  event messages sent on the PUB port
    uint64_t revoked;                  //  private subscriptions cut off
    uint64_t entries_written;          //  Raft actor: entries appended
    uint64_t dropped_sends;            //  Raft actor: peer messages dropped
    metric_histogram_t *fsync_time;    //  Raft actor: log sync durations
};

metrics_t *
metrics_new (void)
{
    metrics_t *self = calloc (1, sizeof (metrics_t));
    if (!self)
        return NULL;
    self->op_slots = raftq__request__descriptor.n_fields + 1;
    for (unsigned position = 0; position < raftq__code__descriptor.n_values; position++) {
        size_t value = (size_t)raftq__code__descriptor.values[position].value;
        if (value + 1 > self->code_slots)
            self->code_slots = value + 1;
    }
    self->replies = calloc (self->op_slots * self->code_slots, sizeof (uint64_t));
    self->latency = calloc (self->op_slots, sizeof (metric_histogram_t *));
    bool made = self->replies && self->latency;
    for (size_t slot = 0; made && slot < self->op_slots; slot++)
        made = (self->latency[slot] = metric_histogram_new (BOUNDS_OF (s_latency_bounds)));
    size_t fsync_count;
    const double *fsync_bounds = raft_actor_fsync_bounds (&fsync_count);
    self->batches = metric_histogram_new (BOUNDS_OF (s_batch_bounds));
    self->snapshot_time = metric_histogram_new (BOUNDS_OF (s_snapshot_bounds));
    self->fsync_time = metric_histogram_new (fsync_bounds, fsync_count);
    if (!made || !self->batches || !self->snapshot_time || !self->fsync_time)
        metrics_destroy (&self);
    return self;
}

void
metrics_destroy (metrics_t **self_p)
{
    if (*self_p) {
        metrics_t *self = *self_p;
        for (size_t slot = 0; self->latency && slot < self->op_slots; slot++)
            metric_histogram_destroy (&self->latency[slot]);
        free (self->latency);
        free (self->replies);
        metric_histogram_destroy (&self->batches);
        metric_histogram_destroy (&self->snapshot_time);
        metric_histogram_destroy (&self->fsync_time);
        free (self);
        *self_p = NULL;
    }
}

//  The slot of an operation: its field's place in Request, or the last
//  slot for none (or a number Request does not have).
static size_t
s_op_slot (const metrics_t *self, int op)
{
    const ProtobufCFieldDescriptor *field =
        op > 0 ? protobuf_c_message_descriptor_get_field (&raftq__request__descriptor, (unsigned)op)
               : NULL;
    return field ? (size_t)(field - raftq__request__descriptor.fields) : self->op_slots - 1;
}

void
metrics_count_reply (metrics_t *self, int op, Raftq__Code code, int64_t latency_us)
{
    size_t slot = s_op_slot (self, op);
    size_t code_slot =
        (size_t)code < self->code_slots ? (size_t)code : (size_t)RAFTQ__CODE__INTERNAL;
    self->replies[slot * self->code_slots + code_slot]++;
    metric_histogram_observe (self->latency[slot], (double)latency_us / 1e6);
}

void
metrics_count_proposals (metrics_t *self, size_t count)
{
    self->proposals += count;
    metric_histogram_observe (self->batches, (double)count);
}

void
metrics_count_leader_change (metrics_t *self)
{
    self->leader_changes++;
}

void
metrics_count_snapshot (metrics_t *self, bool written, double seconds)
{
    if (written)
        self->snapshots_written++;
    else
        self->snapshots_failed++;
    metric_histogram_observe (self->snapshot_time, seconds);
}

void
metrics_count_snapshot_installed (metrics_t *self)
{
    self->snapshots_installed++;
}

void
metrics_count_deliveries (metrics_t *self, size_t count)
{
    self->deliveries += count;
}

void
metrics_count_revoked (metrics_t *self)
{
    self->revoked++;
}

void
metrics_take_raft (metrics_t *self, const raft_actor_metrics_t *report)
{
    self->entries_written = report->entries_written;
    self->dropped_sends = report->dropped_sends;
    metric_histogram_unpack (self->fsync_time, report->fsync_histogram,
                             report->fsync_histogram_size);
}

//  ---------------------------------------------------------------------------
//  Rendering

static const char *
s_op_name (const metrics_t *self, size_t slot)
{
    return slot + 1 < self->op_slots ? raftq__request__descriptor.fields[slot].name : "none";
}

//  The families of one unlabelled sample each, by their place in s_singles.
typedef enum {
    S_TERM,
    S_LEADER_ID,
    S_LEADER_CHANGES,
    S_VOTER,
    S_MEMBERS,
    S_COMMIT_INDEX,
    S_APPLIED_INDEX,
    S_LAST_INDEX,
    S_LOG_FIRST_INDEX,
    S_LOG_BYTES,
    S_ENTRIES_WRITTEN,
    S_DROPPED_SENDS,
    S_PROPOSALS,
    S_SNAPSHOT_INDEX,
    S_REQUESTS_WAITING,
    S_DELIVERIES,
    S_REVOKED,
    S_STATE_BYTES,
    S_STATE_MAX_BYTES,
    S_DISK_FREE,
    S_DISK_MIN_FREE,
    S_READY,
    S_SINGLE_COUNT
} s_single_t;

//  Name, type and help of each, in the order they are written.
static const struct {
    const char *name; //  family name
    const char *type; //  gauge or counter
    const char *help; //  its # HELP
} s_singles[S_SINGLE_COUNT] = {
    [S_TERM] = {"raftq_term", "gauge", "Current Raft term"},
    [S_LEADER_ID] = {"raftq_leader_id", "gauge",
                     "Node id of the leader this node believes in, 0 when none"},
    [S_LEADER_CHANGES] = {"raftq_leader_changes_total", "counter",
                          "Times the leader this node believes in changed (to none included)"},
    [S_VOTER] = {"raftq_voter", "gauge",
                 "1 when this node is a voter of the configuration, 0 when a learner or not a "
                 "member"},
    [S_MEMBERS] = {"raftq_members", "gauge", "Members of the Raft configuration"},
    [S_COMMIT_INDEX] = {"raftq_commit_index", "gauge", "Highest log entry known committed"},
    [S_APPLIED_INDEX] = {"raftq_applied_index", "gauge",
                         "Highest log entry applied to the state machine"},
    [S_LAST_INDEX] = {"raftq_last_index", "gauge", "Last entry in the log"},
    [S_LOG_FIRST_INDEX] = {"raftq_log_first_index", "gauge",
                           "First entry in the log on disk, 0 when the log is empty"},
    [S_LOG_BYTES] = {"raftq_log_bytes", "gauge", "Size of the log's segment files"},
    [S_ENTRIES_WRITTEN] = {"raftq_log_entries_written_total", "counter",
                           "Log entries appended (and synced) by this node"},
    [S_DROPPED_SENDS] = {"raftq_peer_messages_dropped_total", "counter",
                         "Raft messages dropped because the peer's queue was full"},
    [S_PROPOSALS] = {"raftq_proposals_total", "counter",
                     "Commands this node proposed to Raft (as leader)"},
    [S_SNAPSHOT_INDEX] = {"raftq_snapshot_index", "gauge",
                          "Last entry covered by the newest snapshot this node holds, 0 when "
                          "none"},
    [S_REQUESTS_WAITING] = {"raftq_requests_waiting", "gauge",
                            "Requests parked until their entry applies or their password is "
                            "checked"},
    [S_DELIVERIES] = {"raftq_events_delivered_total", "counter",
                      "Event messages sent on the PUB port (one per subscription string)"},
    [S_REVOKED] = {"raftq_subscriptions_revoked_total", "counter",
                   "Private subscriptions cut off because their session ended"},
    [S_STATE_BYTES] = {"raftq_state_bytes", "gauge",
                       "Accounted bytes of the replicated state (topics, messages, accounts, "
                       "chat)"},
    [S_STATE_MAX_BYTES] = {"raftq_state_max_bytes", "gauge",
                           "Limit on raftq_state_bytes this node proposes (max_state_bytes)"},
    [S_DISK_FREE] = {"raftq_disk_free_bytes", "gauge",
                     "Free bytes on the node directory's filesystem"},
    [S_DISK_MIN_FREE] = {"raftq_disk_min_free_bytes", "gauge",
                         "Free-space watermark below which growing writes are refused, 0: off "
                         "(min_free_disk_bytes)"},
    [S_READY] = {"raftq_ready", "gauge", "1 when /readyz answers 200"},
};

static void
s_render_singles (metrics_t *self, exposition_t *out, const metrics_facts_t *facts)
{
    char reason[128];
    const uint64_t values[S_SINGLE_COUNT] = {
        [S_TERM] = facts->term,
        [S_LEADER_ID] = facts->leader_id,
        [S_LEADER_CHANGES] = self->leader_changes,
        [S_VOTER] = facts->member && facts->voter,
        [S_MEMBERS] = facts->member_count,
        [S_COMMIT_INDEX] = facts->commit_index,
        [S_APPLIED_INDEX] = facts->applied_index,
        [S_LAST_INDEX] = facts->last_index,
        [S_LOG_FIRST_INDEX] = facts->first_index,
        [S_LOG_BYTES] = facts->log_bytes,
        [S_ENTRIES_WRITTEN] = self->entries_written,
        [S_DROPPED_SENDS] = self->dropped_sends,
        [S_PROPOSALS] = self->proposals,
        [S_SNAPSHOT_INDEX] = facts->snapshot_index,
        [S_REQUESTS_WAITING] = facts->waiting_requests,
        [S_DELIVERIES] = self->deliveries,
        [S_REVOKED] = self->revoked,
        [S_STATE_BYTES] = facts->state_bytes,
        [S_STATE_MAX_BYTES] = facts->max_state_bytes,
        [S_DISK_FREE] = facts->free_disk_bytes,
        [S_DISK_MIN_FREE] = facts->min_free_disk_bytes,
        [S_READY] = metrics_readiness (facts, reason, sizeof reason),
    };
    for (size_t which = 0; which < S_SINGLE_COUNT; which++)
        exposition_single (out, s_singles[which].name, s_singles[which].type, s_singles[which].help,
                           values[which]);
}

//  The families with labels, and the histograms.
static void
s_render_labelled (metrics_t *self, exposition_t *out, const metrics_facts_t *facts)
{
    const char *roles[] = {"follower", "candidate", "leader"};
    const uint64_t role_is[] = {facts->role == RAFT_ROLE_FOLLOWER,
                                facts->role == RAFT_ROLE_CANDIDATE,
                                facts->role == RAFT_ROLE_LEADER};
    exposition_labelled (out, "raftq_role", "gauge",
                         "1 for the role this node has now, 0 for the others", "role", roles,
                         role_is, 3);
    const char *outcomes[] = {"written", "failed", "installed"};
    const uint64_t counts[] = {self->snapshots_written, self->snapshots_failed,
                               self->snapshots_installed};
    exposition_labelled (out, "raftq_snapshots_total", "counter",
                         "Snapshots by outcome: written or failed by this node, installed from "
                         "a leader",
                         "outcome", outcomes, counts, 3);
    const char *ports[] = {"client", "pub"};
    const uint64_t connections[] = {facts->client_connections, facts->pub_connections};
    exposition_labelled (out, "raftq_connections", "gauge",
                         "Open TCP connections by port (handshaking ones included)", "port", ports,
                         connections, 2);
    const char *kinds[] = {"topic", "private"};
    const uint64_t subscriptions[] = {facts->topic_subscriptions, facts->private_subscriptions};
    exposition_labelled (out, "raftq_subscriptions", "gauge",
                         "Subscriptions on the PUB port: topic prefixes applied, private "
                         "stream strings held",
                         "kind", kinds, subscriptions, 2);
    exposition_single_histogram (out, "raftq_fsync_duration_seconds",
                                 "Time each log sync (fdatasync of a batch of entries) took",
                                 self->fsync_time);
    exposition_single_histogram (out, "raftq_proposal_batch_entries",
                                 "Commands per batch handed to Raft", self->batches);
    exposition_single_histogram (out, "raftq_snapshot_duration_seconds",
                                 "Time from the start of a snapshot of this node to its end",
                                 self->snapshot_time);
}

//  Client requests by operation and code, and their latency by operation.
static void
s_render_requests (metrics_t *self, exposition_t *out)
{
    exposition_family (out, "raftq_requests_total", "counter",
                       "Client requests answered, by operation and reply code");
    for (size_t slot = 0; slot < self->op_slots; slot++)
        for (size_t code = 0; code < self->code_slots; code++) {
            uint64_t count = self->replies[slot * self->code_slots + code];
            if (count == 0)
                continue;
            exposition_label_t labels[] = {{"op", s_op_name (self, slot)},
                                           {"code", codec_code_name ((Raftq__Code)code)}};
            exposition_sample_u64 (out, "raftq_requests_total", labels, 2, count);
        }
    exposition_family (out, "raftq_request_duration_seconds", "histogram",
                       "Time from a request's arrival to its reply, by operation");
    for (size_t slot = 0; slot < self->op_slots; slot++) {
        if (metric_histogram_count (self->latency[slot]) == 0)
            continue;
        exposition_label_t op = {"op", s_op_name (self, slot)};
        exposition_histogram (out, "raftq_request_duration_seconds", &op, 1, self->latency[slot]);
    }
}

char *
metrics_render (metrics_t *self, const metrics_facts_t *facts, size_t *size)
{
    exposition_t *out = exposition_new ();
    if (!out)
        return NULL;
    s_render_singles (self, out, facts);
    s_render_labelled (self, out, facts);
    s_render_requests (self, out);
    char *text = exposition_take (out, size);
    exposition_destroy (&out);
    return text;
}

bool
metrics_readiness (const metrics_facts_t *facts, char *reason, size_t reason_size)
{
    if (!facts->member)
        snprintf (reason, reason_size, "not a member of the configuration");
    else if (!facts->voter)
        snprintf (reason, reason_size, "a learner, not yet a voter");
    else if (facts->role == RAFT_ROLE_CANDIDATE)
        snprintf (reason, reason_size, "candidate in term %" PRIu64 ", no leader", facts->term);
    else if (facts->leader_id == 0)
        snprintf (reason, reason_size, "no known leader in term %" PRIu64, facts->term);
    else if (facts->applied_index < facts->commit_index)
        snprintf (reason, reason_size, "applied %" PRIu64 " of %" PRIu64 " committed",
                  facts->applied_index, facts->commit_index);
    else {
        if (facts->role == RAFT_ROLE_LEADER)
            snprintf (reason, reason_size, "leader in term %" PRIu64, facts->term);
        else
            snprintf (reason, reason_size, "following node %u in term %" PRIu64, facts->leader_id,
                      facts->term);
        return true;
    }
    return false;
}
