/*  view_fixture — a broker cluster_view put in a given state the way the
    raft actor's events would put it, for the unit tests of the broker parts
    that read it (admin, status).
*/
#ifndef VIEW_FIXTURE_H_INCLUDED
#define VIEW_FIXTURE_H_INCLUDED

#include "broker/cluster_view.h"

//  A STATE event: role, term, leader, commit and last index.
void view_fixture_state (cluster_view_t *view, raft_role_t role, uint64_t term, uint32_t leader_id,
                         uint64_t commit_index, uint64_t last_index);

//  A MEMBERS event with a copy of members, set at config_index.
void view_fixture_members (cluster_view_t *view, const raft_member_t *members, size_t count,
                           uint64_t config_index);

#endif
