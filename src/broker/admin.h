/*  admin — membership changes and leadership transfer asked by clients
    (AddNode, RemoveNode, TransferLeadership). The leader's raft actor
    starts them; each request waits here until the state it asked for is
    reached (and committed), then is answered success, or TIMEOUT after its
    deadline, or refused when the core would not take it. Every admin
    request, and a Status asking for the detail or the state hash, must
    first present the admin secret (admin_allowed).
*/
#ifndef ADMIN_H_INCLUDED
#define ADMIN_H_INCLUDED

#include "broker/admin_credential.h"
#include "broker/client_port.h"
#include "broker/cluster_view.h"
#include "replica/raft_actor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _admin_t admin_t;

//  Admin requests answered on port, judged by view, admitted by credential
//  (all borrowed, they outlive it). With keys_required (the peer port runs
//  CurveZMQ) an added node must bring its public key.
admin_t *admin_new (client_port_t *port, const cluster_view_t *view,
                    const admin_credential_t *credential, bool keys_required);

//  Destroys the requests still waiting, unanswered (see admin_abandon).
void admin_destroy (admin_t **self_p);

//  What an admin request asks for: its kind, and the member (its id; for
//  AddNode its host, ports, peer host and public key, which keys_required
//  makes mandatory). Returns 0, or -1 with *error the reason the request
//  is invalid.
int admin_request_member (const Raftq__Request *request, bool keys_required,
                          raft_actor_admin_kind_t *kind, raft_member_t *member, const char **error);

//  True when request carries the admin secret. Otherwise answers it
//  UNAUTHENTICATED (none presented) or PERMISSION_DENIED (a wrong one),
//  destroys it and returns false: nothing it asked for happens.
bool admin_allowed (admin_t *self, client_request_t *request);

//  True when request needs the admin secret: an admin operation, or a
//  Status asking for the detail (hosts, ports) or the state hash.
bool admin_needs_secret (const Raftq__Request *request);

//  Leader only (the secret was checked, admin_allowed): validates request (taken), asks raft for
//  the change under ticket, and keeps the request waiting; answers it at once when invalid, not the
//  leader or the actor is unreachable.
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
