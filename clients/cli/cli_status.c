/*  cli_status — `raftq status`: the whole cluster as a table, one row per
    node, asking every node. The config's nodes are asked first, then any
    member a node reports that the config does not list (added at run
    time). Replication (match index, lag) is the leader's view, so it comes
    from the leader's answer; a node's own answer gives the rest. Also the
    sweep other commands use to find nodes by id (admin snapshot).
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "raftq_cli.h"

//  Room for "tcp://" + host + ":" + port.
#define S_ENDPOINT_SIZE (RAFTQ_HOST_MAX + 16)

//  True when some node that answered has this id.
static bool
s_answered (const cli_node_t *nodes, size_t count, uint32_t id)
{
    for (size_t index = 0; index < count; index++)
        if (nodes[index].code == RAFTQ_OK && nodes[index].detail.status.id == id)
            return true;
    return false;
}

//  Makes the client know the client endpoints of the members node reports
//  that no node answered for yet, so that the sweep asks them too.
static void
s_learn_members (raftq_client_t *client, const cli_node_t *nodes, size_t count,
                 const raftq_status_detail_t *detail)
{
    for (size_t index = 0; index < detail->member_count; index++) {
        const raftq_member_status_t *member = &detail->members[index];
        if (!member->host[0] || !member->client_port || s_answered (nodes, count, member->id))
            continue;
        char endpoint[S_ENDPOINT_SIZE];
        snprintf (endpoint, sizeof (endpoint), "tcp://%s:%u", member->host, member->client_port);
        raftq_client_add_endpoint (client, endpoint, NULL);
    }
}

cli_node_t *
cli_sweep (raftq_client_t *client, size_t *count)
{
    *count = 0;
    cli_node_t *nodes = NULL;
    for (size_t index = 0; index < raftq_client_endpoint_count (client); index++) {
        cli_node_t *grown = (cli_node_t *)realloc (nodes, (index + 1) * sizeof (cli_node_t));
        if (!grown) {
            free (nodes);
            *count = 0;
            return NULL;
        }
        nodes = grown;
        cli_node_t *node = &nodes[index];
        memset (node, 0, sizeof (*node));
        node->endpoint_index = index;
        node->code = raftq_status_detail (client, index, &node->detail);
        snprintf (node->error, sizeof (node->error), "%s", raftq_client_error (client));
        *count = index + 1;
        if (node->code == RAFTQ_OK)
            s_learn_members (client, nodes, *count, &node->detail);
    }
    return nodes;
}

const cli_node_t *
cli_sweep_leader (const cli_node_t *nodes, size_t count)
{
    const cli_node_t *leader = NULL;
    for (size_t index = 0; index < count; index++) {
        const cli_node_t *node = &nodes[index];
        //  An old leader cut off may still think it leads: the newer term wins
        if (node->code == RAFTQ_OK && node->detail.status.role == RAFTQ_ROLE_LEADER &&
            (!leader || node->detail.status.term > leader->detail.status.term))
            leader = node;
    }
    return leader;
}

//  Member id as detail reports it, or NULL.
static const raftq_member_status_t *
s_member (const raftq_status_detail_t *detail, uint32_t id)
{
    for (size_t index = 0; detail && index < detail->member_count; index++)
        if (detail->members[index].id == id)
            return &detail->members[index];
    return NULL;
}

//  What the table and JSON say of node's membership and replication: the
//  leader's view when a leader answered, else the node's own.
typedef struct {
    const char *membership;                //  "voter", "learner" or NULL: not a member
    const raftq_member_status_t *progress; //  with the leader's match, or NULL
} s_view_t;

static s_view_t
s_view (const cli_node_t *node, const cli_node_t *leader)
{
    s_view_t view = {NULL, NULL};
    uint32_t id = node->detail.status.id;
    const raftq_member_status_t *member = s_member (leader ? &leader->detail : &node->detail, id);
    if (member) {
        view.membership = member->voter ? "voter" : "learner";
        if (member->replication_known)
            view.progress = member;
    }
    return view;
}

//  bytes in powers of 1024 with one decimal: "512B", "1.5K", "20.0M".
static void
s_human_bytes (uint64_t bytes, char *text, size_t size)
{
    static const char units[] = "BKMGTPE";
    double value = (double)bytes;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < sizeof (units) - 1) {
        value /= 1024;
        unit++;
    }
    if (unit == 0)
        snprintf (text, size, "%" PRIu64 "B", bytes);
    else
        snprintf (text, size, "%.1f%c", value, units[unit]);
}

//  The role as the JSON dialect spells it (DESIGN 5.2).
static const char *
s_json_role (raftq_role_t role)
{
    switch (role) {
    case RAFTQ_ROLE_FOLLOWER:
        return "Follower";
    case RAFTQ_ROLE_CANDIDATE:
        return "Candidate";
    case RAFTQ_ROLE_LEADER:
        return "Leader";
    }
    return "Unknown";
}

static json_t *
s_optional_count (bool known, uint64_t value)
{
    return known ? json_integer ((json_int_t)value) : json_null ();
}

static json_t *
s_node_json (raftq_client_t *client, const cli_node_t *node, const cli_node_t *leader)
{
    const char *endpoint = raftq_client_endpoint (client, node->endpoint_index);
    if (node->code != RAFTQ_OK)
        return json_pack ("{s:s, s:b, s:s, s:s}", "endpoint", endpoint, "reachable", 0, "code",
                          raftq_code_name (node->code), "error", node->error);
    const raftq_status_t *status = &node->detail.status;
    const raftq_status_detail_t *detail = &node->detail;
    json_t *members = json_array ();
    for (size_t index = 0; index < status->member_count; index++)
        json_array_append_new (members, json_integer (status->members[index]));
    s_view_t view = s_view (node, leader);
    json_t *object = json_pack (
        "{s:s, s:b, s:i, s:s, s:I, s:o, s:I, s:I, s:I, s:o}", "endpoint", endpoint, "reachable", 1,
        "id", (int)status->id, "role", s_json_role (status->role), "term", (json_int_t)status->term,
        "leader", status->leader_id ? json_integer (status->leader_id) : json_null (),
        "commit_index", (json_int_t)status->commit_index, "applied_index",
        (json_int_t)status->applied_index, "last_index", (json_int_t)status->last_index, "members",
        members);
    if (!object)
        return NULL;
    json_object_set_new (object, "member",
                         view.membership ? json_string (view.membership) : json_null ());
    json_object_set_new (
        object, "match_index",
        s_optional_count (view.progress, view.progress ? view.progress->match_index : 0));
    json_object_set_new (object, "lag",
                         s_optional_count (view.progress, view.progress ? view.progress->lag : 0));
    bool known = detail->detailed;
    json_object_set_new (object, "config_index", s_optional_count (known, detail->config_index));
    json_object_set_new (object, "snapshot_index",
                         s_optional_count (known, detail->snapshot_index));
    json_object_set_new (object, "snapshot_term", s_optional_count (known, detail->snapshot_term));
    json_object_set_new (object, "first_index", s_optional_count (known, detail->first_index));
    json_object_set_new (object, "log_bytes", s_optional_count (known, detail->log_bytes));
    json_object_set_new (object, "snapshot_bytes",
                         s_optional_count (known, detail->snapshot_bytes));
    json_object_set_new (object, "state_bytes", s_optional_count (known, detail->state_bytes));
    json_object_set_new (object, "max_state_bytes",
                         s_optional_count (known, detail->max_state_bytes));
    return object;
}

//  "N" or "-" when unknown.
static void
s_count_text (bool known, uint64_t value, char *text, size_t size)
{
    if (known)
        snprintf (text, size, "%" PRIu64, value);
    else
        snprintf (text, size, "-");
}

#define S_ROW_FORMAT "%-4s %-24s %-9s %-7s %5s %6s %9s %9s %9s %9s %6s %9s %7s %15s\n"

static void
s_print_row (raftq_client_t *client, const cli_node_t *node, const cli_node_t *leader)
{
    const char *endpoint = raftq_client_endpoint (client, node->endpoint_index);
    if (node->code != RAFTQ_OK) {
        printf ("%-4s %-24s %s\n", "-", endpoint,
                node->code == RAFTQ_TIMEOUT ? "unreachable" : raftq_code_name (node->code));
        return;
    }
    const raftq_status_t *status = &node->detail.status;
    const raftq_status_detail_t *detail = &node->detail;
    s_view_t view = s_view (node, leader);
    char id[16], term[24], leader_id[16], commit[24], applied[24], last[24];
    char match[24], lag[24], snapshot[24], log_size[16] = "-", state[40] = "-";
    snprintf (id, sizeof (id), "%u", status->id);
    snprintf (term, sizeof (term), "%" PRIu64, status->term);
    s_count_text (status->leader_id != 0, status->leader_id, leader_id, sizeof (leader_id));
    snprintf (commit, sizeof (commit), "%" PRIu64, status->commit_index);
    snprintf (applied, sizeof (applied), "%" PRIu64, status->applied_index);
    snprintf (last, sizeof (last), "%" PRIu64, status->last_index);
    s_count_text (view.progress, view.progress ? view.progress->match_index : 0, match,
                  sizeof (match));
    s_count_text (view.progress, view.progress ? view.progress->lag : 0, lag, sizeof (lag));
    s_count_text (detail->detailed, detail->snapshot_index, snapshot, sizeof (snapshot));
    if (detail->detailed) {
        s_human_bytes (detail->log_bytes, log_size, sizeof (log_size));
        //  The state against its limit: "12.0K/1.0G"
        char used[16], limit[16];
        s_human_bytes (detail->state_bytes, used, sizeof (used));
        s_human_bytes (detail->max_state_bytes, limit, sizeof (limit));
        snprintf (state, sizeof (state), "%s/%s", used, limit);
    }
    printf (S_ROW_FORMAT, id, endpoint, raftq_role_name (status->role),
            view.membership ? view.membership : "-", term, leader_id, commit, applied, last, match,
            lag, snapshot, log_size, state);
}

int
cli_command_status (const cli_options_t *options, raftq_client_t *client)
{
    size_t count;
    cli_node_t *nodes = cli_sweep (client, &count);
    if (!nodes) {
        fprintf (stderr, "raftq: status: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    const cli_node_t *leader = cli_sweep_leader (nodes, count);
    size_t answered = 0;
    json_t *rows = json_array ();
    if (!options->json)
        printf (S_ROW_FORMAT, "ID", "ENDPOINT", "ROLE", "MEMBER", "TERM", "LEADER", "COMMIT",
                "APPLIED", "LAST", "MATCH", "LAG", "SNAPSHOT", "LOG", "STATE");
    for (size_t index = 0; index < count; index++) {
        if (nodes[index].code == RAFTQ_OK)
            answered++;
        if (options->json)
            json_array_append_new (rows, s_node_json (client, &nodes[index], leader));
        else
            s_print_row (client, &nodes[index], leader);
    }
    if (options->json)
        cli_print_json (rows);
    else
        json_decref (rows);
    free (nodes);
    if (answered > 0)
        return CLI_EXIT_OK;
    fprintf (stderr, "raftq: status: no node answered\n");
    return CLI_EXIT_FAILED;
}
