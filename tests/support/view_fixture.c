/*  view_fixture — cluster_view states for tests; see view_fixture.h.  */
#include "view_fixture.h"

#include <stdlib.h>
#include <string.h>

void
view_fixture_state (cluster_view_t *view, raft_role_t role, uint64_t term, uint32_t leader_id,
                    uint64_t commit_index, uint64_t last_index)
{
    raft_actor_event_t event = {.kind = RAFT_ACTOR_STATE,
                                .role = role,
                                .term = term,
                                .leader_id = leader_id,
                                .commit_index = commit_index,
                                .last_index = last_index};
    cluster_view_take_state (view, &event);
}

void
view_fixture_members (cluster_view_t *view, const raft_member_t *members, size_t count,
                      uint64_t config_index)
{
    raft_actor_event_t event = {.kind = RAFT_ACTOR_MEMBERS, .config_index = config_index};
    event.members = malloc ((count + 1) * sizeof (raft_member_t));
    if (!event.members)
        abort ();
    memcpy (event.members, members, count * sizeof (raft_member_t));
    event.member_count = count;
    if (cluster_view_take_members (view, &event))
        abort ();
    free (event.members);
}
