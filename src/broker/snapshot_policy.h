/*  snapshot_policy — when the broker snapshots its state machine and what
    it does with snapshots: at start it restores the newest valid one, after
    an InstallSnapshot it adopts the leader's, as entries apply it counts
    the log bytes since the last one and starts a snapshot job once they
    pass snapshot_log_bytes, and TakeSnapshot requests wait for a snapshot
    that covers them. A durable snapshot lets the Raft actor compact.
*/
#ifndef SNAPSHOT_POLICY_H_INCLUDED
#define SNAPSHOT_POLICY_H_INCLUDED

#include "broker/client_request.h"
#include "broker/server.h"
#include "replica/raft_actor.h"
#include "state/fsm.h"

#ifdef __cplusplus
extern "C" {
#endif

//  A fresh, empty state machine with this node's settings.
fsm_t *snapshot_policy_fsm_new (server_t *self);

//  Restores the state from the newest valid snapshot, which *start then
//  describes for the Raft actor (index 0: none; its membership borrowed
//  from self). Returns 0, or -1.
int snapshot_policy_open (server_t *self, raft_actor_snapshot_t *start);

//  A leader's snapshot of index was installed: the state becomes its.
//  Returns 0; when the state cannot load it, logs and ends the process
//  (exit 1) rather than serve a stale state.
int snapshot_policy_load_installed (server_t *self, uint64_t index);

//  After a COMMITTED event was applied: counts the log bytes of the newly
//  applied entries, follows membership changes, then snapshots if due.
void snapshot_policy_count (server_t *self, const raft_actor_event_t *event);

//  TakeSnapshot (request taken): answered once a snapshot that covers the
//  state applied now is durable.
void snapshot_policy_serve_take_snapshot (server_t *self, client_request_t *request);

//  At shutdown: a job still running is killed and the requests waiting for
//  it hear that their outcome is unknown.
void snapshot_policy_close (server_t *self);

#ifdef __cplusplus
}
#endif

#endif
