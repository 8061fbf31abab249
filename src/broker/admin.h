/*  admin — membership changes and leadership transfer asked by clients
    (AddNode, RemoveNode, TransferLeadership). The leader's raft actor
    starts them; each request waits here until the state it asked for is
    reached (and committed), then is answered success, or TIMEOUT after its
    deadline, or refused when the core would not take it.
*/
#ifndef ADMIN_H_INCLUDED
#define ADMIN_H_INCLUDED

#include "broker/client_port.h"
#include "broker/cluster_view.h"
#include "replica/raft_actor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _admin_t admin_t;

//  Admin requests answered on port, judged by view (both borrowed, they
//  outlive it).
admin_t *admin_new (client_port_t *port, const cluster_view_t *view);

//  Destroys the requests still waiting, unanswered (see admin_abandon).
void admin_destroy (admin_t **self_p);

//  What an admin request asks for: its kind, and the member (its id; for
//  AddNode its host and ports). Returns 0, or -1 with *error the reason the
//  request is invalid.
int admin_request_member (const Raftq__Request *request, raft_actor_admin_kind_t *kind,
                          raft_member_t *member, const char **error);

//  Leader only: validates request (taken), asks raft for the change under
//  ticket, and keeps the request waiting; answers it at once when invalid,
//  not the leader or the actor is unreachable.
void admin_serve (admin_t *self, raft_actor_t *raft, uint64_t ticket, client_request_t *request);

//  Keeps request (taken) waiting under ticket until deadline (zclock_mono
//  milliseconds): raft has been asked for its change.
void admin_wait (admin_t *self, client_request_t *request, uint64_t ticket, int64_t deadline);

//  The raft actor took or refused the request of event->ticket (ADMINED).
void admin_answered (admin_t *self, const raft_actor_event_t *event);

//  Answers every request that is done or past its deadline at now.
void admin_check (admin_t *self, int64_t now);

//  At shutdown: every request still waiting hears its outcome is unknown.
void admin_abandon (admin_t *self);

//  How many requests are waiting.
size_t admin_waiting_count (admin_t *self);

#ifdef __cplusplus
}
#endif

#endif
