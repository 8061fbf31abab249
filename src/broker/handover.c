/*  handover — a leader's exit on SIGTERM; see handover.h.  */
#include "broker/handover.h"

#include "broker/server_private.h"
#include "util/diagnostic.h"

//  The voter, other than this node, that holds the most of the log as the
//  latest PROGRESS says; 0 if none.
static uint32_t
s_most_caught_up (server_t *server)
{
    const raft_actor_progress_t *progress = raft_actor_progress (server->raft);
    uint32_t best = 0;
    uint64_t best_match = 0;
    for (size_t position = 0; position < progress->match_count; position++) {
        const raft_actor_match_t *match = &progress->matches[position];
        const raft_member_t *member = cluster_view_member (server->view, match->id);
        if (!member || !member->voter || match->id == server->node_id)
            continue;
        if (!best || match->match_index > best_match) {
            best = match->id;
            best_match = match->match_index;
        }
    }
    return best;
}

//  Starts the way out: a leader asks for the transfer and gets until the
//  bound; anyone else leaves at once. Returns the check's answer.
static int
s_start (server_t *server)
{
    server->leaving_at = zclock_mono ();
    if (cluster_view_role (server->view) != RAFT_ROLE_LEADER)
        return -1;
    uint32_t target = s_most_caught_up (server);
    raft_member_t member = {.id = target, .voter = true};
    if (!target || raft_actor_admin (server->raft, waiting_table_new_ticket (server->waiting),
                                     RAFT_ACTOR_TRANSFER_LEADER, &member)) {
        diagnostic_line (server->node_id, DIAGNOSTIC_WARNING,
                         "stopping: no voter known to hand leadership to");
        return -1;
    }
    diagnostic_line (server->node_id, DIAGNOSTIC_INFO,
                     "stopping: handing leadership to node %u first (at most %d ms)", target,
                     HANDOVER_MS);
    return 0;
}

bool
handover_resume (server_t *server, int rc)
{
    if (rc != 0 || !zsys_interrupted)
        return false;
    if (!handover_leaving (server))
        return handover_check (server) == 0;
    return zclock_mono () < server->leaving_at + HANDOVER_MS;
}

bool
handover_leaving (server_t *server)
{
    return server->leaving_at != 0;
}

int
handover_check (server_t *server)
{
    if (!zsys_interrupted)
        return 0;
    if (!handover_leaving (server))
        return s_start (server);
    if (zclock_mono () >= server->leaving_at + HANDOVER_MS)
        return -1;
    //  Done once another node leads and what we proposed is answered (or
    //  only requests that never reached the log are left)
    uint32_t leader = cluster_view_leader_id (server->view);
    bool handed = cluster_view_role (server->view) != RAFT_ROLE_LEADER && leader != 0 &&
                  leader != server->node_id;
    return handed && waiting_table_proposed (server->waiting) == 0 ? -1 : 0;
}
