/*  consumption — the leader's part in acknowledged consumption: Pop and
    Reserve requests with a wait_ms are parked while their topic has
    nothing ready (waiting_consumers) and proposed once a publish, a nack
    or an expiry makes a message ready for them; their wait ends EMPTY, or
    NOT_LEADER at once when the node stops leading. And the expiry timer:
    once the leader's clock passes the earliest visibility or delay
    deadline of the applied state, one Expire entry ends every
    reservation and delay then due.
*/
#ifndef CONSUMPTION_H_INCLUDED
#define CONSUMPTION_H_INCLUDED

#include "broker/client_request.h"
#include "broker/server.h"
#include "raftq.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Parked waiters per node, per connection (routing id), and their bytes
//  per node (a Pop or Reserve is small; one stuffed with unknown fields
//  counts what it holds).
#define CONSUMPTION_MAX_WAITING        10000
#define CONSUMPTION_MAX_WAITING_PER_ID 256
#define CONSUMPTION_MAX_WAITING_BYTES  (64 * 1024 * 1024)

//  Serves a Pop or Reserve (taken): proposed now, or parked to wait.
void consumption_serve (server_t *server, client_request_t *request);

//  After entries applied: proposes for the waiters their topics now have
//  messages for.
void consumption_wake (server_t *server);

//  An applied entry's answer for request, before it goes out: returns
//  true when the request was a woken waiter whose entry found no message
//  and whose wait goes on (the request is parked again, at the head of its
//  line, and must not be answered); else false (answer it).
bool consumption_settle (server_t *server, client_request_t *request, const Raftq__Reply *reply);

//  Periodic: answers waits that ended (EMPTY) and proposes an Expire entry
//  when a deadline has passed by this leader's clock. now: zclock_mono.
void consumption_tick (server_t *server, int64_t now);

//  The node no longer leads (or shuts down): every waiter hears code now.
void consumption_answer_all (server_t *server, Raftq__Code code);

#ifdef __cplusplus
}
#endif

#endif
