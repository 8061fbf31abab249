/*  handover — a node's way out on SIGTERM. A follower leaves at once. A
    leader first hands leadership to its most caught-up voter (TimeoutNow,
    through the Raft actor's transfer) and keeps serving what it holds for
    at most HANDOVER_MS: entries it proposed that commit meanwhile are
    answered as they apply; new requests are refused with the new leader's
    hint. It leaves once another node leads, nothing proposed is still
    waiting and HANDOVER_GRACE_MS have passed since it saw the new leader,
    or at the bound; what is left is answered then: requests the loop has not read
    yet here, NOT_LEADER with the hint; in server.c TIMEOUT "outcome
    unknown" for what was proposed, NOT_LEADER with the hint for the rest.

    The grace is for clients that follow hints: until every node has heard
    from the new leader (its first heartbeat, some ms), a node that has not
    may still name this one, and a client sends here again. Answered,
    such a request costs a round trip; sent as the socket closes, it is
    lost, and the client waits out its timeout (5 s in raftq-bench: a
    rolling restart under load lost a whole pipeline of 64 that way).
*/
#ifndef HANDOVER_H_INCLUDED
#define HANDOVER_H_INCLUDED

#include "broker/server.h"

#ifdef __cplusplus
extern "C" {
#endif

//  How long a leader that was told to stop keeps handing over, at most.
#define HANDOVER_MS 1000

//  How long a leader that has handed over keeps refusing requests with the
//  new leader's hint before it leaves (see above).
#define HANDOVER_GRACE_MS 100

//  Called on a timer: returns 0 while the node keeps running (no signal,
//  or a handover under way), -1 when the loop must end. The first call
//  after the signal starts the handover.
int handover_check (server_t *server);

//  After event_loop_run returned rc: whether to start the loop again. A
//  signal that interrupts the wait ends event_loop_run at once (rc 0): the
//  loop goes on until handover_check ends it (rc -1), for HANDOVER_MS at
//  most.
bool handover_resume (server_t *server, int rc);

//  The leader to name to a client refused on the way out: the transfer's
//  target while this node still leads, else the leader as known.
uint32_t handover_hint (server_t *server);

//  Whether a signal was taken and the node is on its way out: requests
//  are then refused, not served.
bool handover_leaving (server_t *server);

#ifdef __cplusplus
}
#endif

#endif
