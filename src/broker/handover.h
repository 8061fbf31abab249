/*  handover — a node's way out on SIGTERM. A follower leaves at once. A
    leader first hands leadership to its most caught-up voter (TimeoutNow,
    through the Raft actor's transfer) and keeps serving what it holds for
    at most HANDOVER_MS: entries it proposed that commit meanwhile are
    answered as they apply; new requests are refused with the new leader's
    hint. It leaves once another node leads and nothing proposed is still
    waiting, or at the bound; what is left is answered then (server.c):
    TIMEOUT "outcome unknown" for what was proposed, NOT_LEADER with the
    hint for the rest.
*/
#ifndef HANDOVER_H_INCLUDED
#define HANDOVER_H_INCLUDED

#include "broker/server.h"

#ifdef __cplusplus
extern "C" {
#endif

//  How long a leader that was told to stop keeps handing over, at most.
#define HANDOVER_MS 1000

//  Called on a timer: returns 0 while the node keeps running (no signal,
//  or a handover under way), -1 when the loop must end. The first call
//  after the signal starts the handover.
int handover_check (server_t *server);

//  After event_loop_run returned rc: whether to start the loop again. A
//  signal that interrupts the wait ends event_loop_run at once (rc 0): the
//  loop goes on until handover_check ends it (rc -1), for HANDOVER_MS at
//  most.
bool handover_resume (server_t *server, int rc);

//  Whether a signal was taken and the node is on its way out: requests
//  are then refused, not served.
bool handover_leaving (server_t *server);

#ifdef __cplusplus
}
#endif

#endif
