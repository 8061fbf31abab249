/*  handover — a leader's exit on SIGTERM; see handover.h.  */
#include "broker/handover.h"

#include "broker/server_private.h"
#include "util/diagnostic.h"

//  Requests answered at most on the way out from what the ROUTER holds
//  unread: a bound, should clients flood it meanwhile.
#define S_UNREAD_ANSWERED_MAX 10000

//  The voter, other than this node, that holds the most of the log as the
//  latest PROGRESS says; else (a leader of a few milliseconds may not have
//  reported any yet) the first other voter of the configuration, which the
//  core catches up before it hands over; 0 if there is none.
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
    size_t count;
    const raft_member_t *members = cluster_view_configuration (server->view, &count);
    for (size_t position = 0; !best && position < count; position++)
        if (members[position].voter && members[position].id != server->node_id)
            best = members[position].id;
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
    server->handover_target = target;
    diagnostic_line (server->node_id, DIAGNOSTIC_INFO,
                     "stopping: handing leadership to node %u first (at most %d ms)", target,
                     HANDOVER_MS);
    return 0;
}

uint32_t
handover_hint (server_t *server)
{
    uint32_t leader = cluster_view_leader_id (server->view);
    //  Still leading during the transfer, or between stepping down and
    //  hearing from the new leader: naming ourselves (or nobody) would send
    //  the client round the nodes, and one that has not heard of the new
    //  leader yet would send it back here
    bool unknown = leader == 0 || leader == server->node_id;
    return unknown && server->handover_target ? server->handover_target : leader;
}

//  Answers what clients sent that the loop has not read yet, NOT_LEADER
//  with the new leader's hint, instead of letting it die with the socket.
//  The client socket does not wait (server.c's loop set it so): a read
//  that finds nothing ends this.
static void
s_refuse_unread (server_t *server)
{
    for (int answered = 0; answered < S_UNREAD_ANSWERED_MAX; answered++) {
        client_request_t *request;
        if (client_port_recv (server->port, &request) == -1)
            return;
        if (request) {
            client_port_reply_not_leader (server->port, request, server->view,
                                          handover_hint (server));
            client_request_destroy (&request);
        }
    }
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
    int64_t now = zclock_mono ();
    //  Done once another node leads, what we proposed is answered (or
    //  only requests that never reached the log are left) and the grace
    //  since the new leader was seen is over, or at the bound
    uint32_t leader = cluster_view_leader_id (server->view);
    bool handed = cluster_view_role (server->view) != RAFT_ROLE_LEADER && leader != 0 &&
                  leader != server->node_id;
    if (handed && !server->handed_at)
        server->handed_at = now;
    bool done = handed && waiting_table_proposed (server->waiting) == 0 &&
                now >= server->handed_at + HANDOVER_GRACE_MS;
    if (!done && now < server->leaving_at + HANDOVER_MS)
        return 0;
    s_refuse_unread (server);
    return -1;
}
