/*  status — Status replies from the node's view; see status.h.  */
#include "broker/status.h"

#include "storage/snapshot.h"
#include "util/disk_space.h"

static Raftq__Role
s_status_role (raft_role_t role)
{
    switch (role) {
    case RAFT_ROLE_LEADER:
        return RAFTQ__ROLE__LEADER;
    case RAFT_ROLE_CANDIDATE:
        return RAFTQ__ROLE__CANDIDATE;
    default:
        return RAFTQ__ROLE__FOLLOWER;
    }
}

//  Bytes of the snapshot files on disk; a file deleted meanwhile counts 0.
static uint64_t
s_snapshot_bytes (const char *snapshot_dir)
{
    uint64_t *indexes = NULL;
    size_t count = 0;
    if (!snapshot_dir || snapshot_list (snapshot_dir, &indexes, &count))
        return 0;
    uint64_t total = 0;
    for (size_t position = 0; position < count; position++) {
        char path[PATH_MAX];
        snapshot_path (snapshot_dir, indexes[position], path, sizeof (path));
        ssize_t size = zsys_file_size (path);
        if (size > 0)
            total += (uint64_t)size;
    }
    free (indexes);
    return total;
}

//  Leader only: how far member's log is known to match ours. The leader
//  itself holds its whole log; a follower it has not heard from yet is
//  left unknown.
static void
s_replication (const status_source_t *source, Raftq__MemberStatus *member)
{
    const cluster_view_t *view = source->view;
    if (cluster_view_role (view) != RAFT_ROLE_LEADER)
        return;
    const raft_actor_progress_t *progress = source->progress;
    uint64_t last_index = cluster_view_last_index (view);
    bool known = member->id == cluster_view_node_id (view);
    uint64_t match = last_index;
    for (size_t position = 0; !known && position < progress->match_count; position++)
        if (progress->matches[position].id == member->id) {
            known = true;
            match = progress->matches[position].match_index;
        }
    member->replication_known = known;
    member->match_index = known ? match : 0;
    //  The reports come once per tick each: a match may pass a stale last index
    member->lag = known && last_index > match ? last_index - match : 0;
}

static int
s_compare_member_ids (const void *one, const void *other)
{
    uint32_t first = ((const Raftq__MemberStatus *)one)->id;
    uint32_t second = ((const Raftq__MemberStatus *)other)->id;
    return first < second ? -1 : first > second;
}

//  The detail's topics, in creation order (strings borrowed from the fsm).
static int
s_fill_topics (status_report_t *report, fsm_t *fsm)
{
    size_t count = fsm_topic_count (fsm);
    if (count > STATUS_MAX_TOPICS)
        count = STATUS_MAX_TOPICS;
    Raftq__StatusDetail *detail = &report->detail;
    report->topics = calloc (count + 1, sizeof (Raftq__TopicStatus));
    detail->topics = calloc (count + 1, sizeof (Raftq__TopicStatus *));
    if (!report->topics || !detail->topics)
        return -1;
    for (size_t position = 0; position < count; position++) {
        fsm_topic_status (fsm, position, &report->topics[position]);
        detail->topics[position] = &report->topics[position];
    }
    detail->n_topics = count;
    return 0;
}

//  The detail: the configuration by id with each member's replication, the
//  newest snapshot, the log and snapshots on disk.
static int
s_fill_detail (status_report_t *report, const status_source_t *source)
{
    size_t count;
    const raft_member_t *configuration = cluster_view_configuration (source->view, &count);
    Raftq__StatusDetail *detail = &report->detail;
    Raftq__MemberStatus *members = report->members =
        calloc (count + 1, sizeof (Raftq__MemberStatus));
    detail->members = calloc (count + 1, sizeof (Raftq__MemberStatus *));
    if (!members || !detail->members)
        return -1;
    for (size_t position = 0; position < count; position++) {
        const raft_member_t *from = &configuration[position];
        Raftq__MemberStatus *member = &members[position];
        raftq__member_status__init (member);
        member->id = from->id;
        member->voter = from->voter;
        member->host = (char *)from->host;
        member->client_port = from->client_port;
        member->peer_port = from->peer_port;
        member->pub_port = from->pub_port;
        s_replication (source, member);
    }
    qsort (members, count, sizeof (Raftq__MemberStatus), s_compare_member_ids);
    for (size_t position = 0; position < count; position++)
        detail->members[position] = &members[position];
    const raft_actor_progress_t *progress = source->progress;
    detail->n_members = count;
    detail->config_index = cluster_view_config_index (source->view);
    detail->snapshot_index = progress->snapshot_index;
    detail->snapshot_term = progress->snapshot_term;
    detail->first_index = progress->first_index;
    detail->log_bytes = progress->log_bytes;
    detail->snapshot_bytes = s_snapshot_bytes (source->snapshot_dir);
    detail->state_bytes = fsm_state_bytes (source->fsm);
    detail->max_state_bytes = source->max_state_bytes;
    //  The same look the proposal path and the Raft thread take
    detail->min_free_disk_bytes = source->min_free_disk_bytes;
    if (source->disk_path)
        detail->disk_low = disk_space_low (source->disk_path, source->min_free_disk_bytes,
                                           &detail->free_disk_bytes);
    report->status.detail = detail;
    return s_fill_topics (report, source->fsm);
}

int
status_report_fill (status_report_t *report, const status_source_t *source,
                    const Raftq__Status *asked)
{
    memset (report, 0, sizeof (*report));
    raftq__node_status__init (&report->status);
    raftq__status_detail__init (&report->detail);
    const cluster_view_t *view = source->view;
    Raftq__NodeStatus *status = &report->status;
    status->id = cluster_view_node_id (view);
    status->role = s_status_role (cluster_view_role (view));
    status->term = cluster_view_term (view);
    status->leader_id = cluster_view_leader_id (view);
    status->commit_index = cluster_view_commit_index (view);
    status->applied_index = fsm_applied_index (source->fsm);
    status->last_index = cluster_view_last_index (view);
    status->members = (uint32_t *)cluster_view_member_ids (view, &status->n_members);
    if (asked && asked->with_hash)
        status->state_hash = fsm_state_hash (source->fsm);
    if (asked && asked->detail)
        return s_fill_detail (report, source);
    return 0;
}

void
status_report_clear (status_report_t *report)
{
    free (report->members);
    free (report->detail.members);
    free (report->topics);
    free (report->detail.topics);
    memset (report, 0, sizeof (*report));
}

void
status_answer (client_port_t *port, client_request_t *request, const status_source_t *source)
{
    status_report_t report;
    if (status_report_fill (&report, source, request->decoded.request->status))
        client_port_reply_error (port, request, RAFTQ__CODE__INTERNAL, "out of memory");
    else {
        Raftq__Reply reply = RAFTQ__REPLY__INIT;
        reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
        reply.status = &report.status;
        client_port_reply (port, request, &reply);
    }
    status_report_clear (&report);
}
