/*  apply — committed entries into the state machine, in order: the request
    this node parked for an entry is answered with the state machine's
    reply, the events the entry made are fanned out, and the view follows
    the applied term and the commit index. Proposals Raft refused are
    answered with a leader hint.
*/
#ifndef APPLY_H_INCLUDED
#define APPLY_H_INCLUDED

#include "broker/server.h"
#include "replica/raft_actor.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Finds the field numbers of Command.origin_node and Command.ticket in the
//  generated descriptor, so that renumbering the proto cannot leave apply
//  reading the wrong fields. Returns 0, or -1 if the descriptor lacks them.
int apply_open (server_t *server);

//  A COMMITTED event: applies its entries not applied yet.
void apply_committed (server_t *server, const raft_actor_event_t *event);

//  A REJECTED event: the requests of its tickets hear who leads.
void apply_rejected (server_t *server, const raft_actor_event_t *event);

#ifdef __cplusplus
}
#endif

#endif
