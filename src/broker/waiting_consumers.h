/*  waiting_consumers — Pop and Reserve requests with a wait_ms that found
    their topic empty, parked at the leader until a message is ready for
    them (FIFO per topic) or their wait ends. Bounded per node (count and
    bytes) and per connection (routing id). It also remembers the waiters it woke until
    their entry applies, so that a topic is not woken twice for one ready
    message, and so that a woken waiter whose entry found the message gone
    goes back to the head of its line. A plain container: the server
    decides when to wake, propose and answer. It owns the requests parked
    in it; whoever takes one out owns it again.
*/
#ifndef WAITING_CONSUMERS_H_INCLUDED
#define WAITING_CONSUMERS_H_INCLUDED

#include "broker/client_request.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _waiting_consumers_t waiting_consumers_t;

//  How many messages of topic are ready (the fsm's count).
typedef uint64_t (waiting_consumers_ready_fn) (void *argument, const char *topic);

//  Called with a waiter taken out to be served (taken), its topic and the
//  zclock_mono time its wait ends.
typedef void (waiting_consumers_wake_fn) (void *argument, client_request_t *request,
                                          const char *topic, int64_t wait_deadline);

//  Empty; at most max_waiting parked requests, max_per_connection of them
//  from one routing id, and max_bytes of requests (packed) in all.
waiting_consumers_t *waiting_consumers_new (size_t max_waiting, size_t max_per_connection,
                                            size_t max_bytes);

//  Destroys the requests still parked, unanswered: answer them first.
void waiting_consumers_destroy (waiting_consumers_t **self_p);

//  Parks request (taken) behind topic's other waiters until wait_deadline
//  (zclock_mono ms). Returns 0, or -1 when a bound refuses it: then the
//  request is still the caller's and error says which bound.
int waiting_consumers_park (waiting_consumers_t *self, const char *topic, client_request_t *request,
                            int64_t wait_deadline, char *error, size_t error_size);

//  Waiters of topic parked or woken and not settled yet.
size_t waiting_consumers_count (waiting_consumers_t *self, const char *topic);

//  Wakes, topic by topic, as many waiters (oldest first) as the topic has
//  ready messages beyond those already promised to woken waiters; each goes
//  to wake. wake must record it with waiting_consumers_woke once proposed.
void waiting_consumers_wake (waiting_consumers_t *self, waiting_consumers_ready_fn *ready,
                             waiting_consumers_wake_fn *wake, void *argument);

//  The woken waiter of topic now waits for its entry under ticket, until
//  settle_by (zclock_mono ms) at the latest.
void waiting_consumers_woke (waiting_consumers_t *self, const char *topic, uint64_t ticket,
                             int64_t wait_deadline, int64_t settle_by);

//  The entry of ticket applied (or failed): returns true, with the waiter's
//  wait end in *wait_deadline and its topic's name in *topic (malloc'd:
//  the caller frees it), if ticket was a woken waiter's; it no longer
//  counts.
bool waiting_consumers_settle (waiting_consumers_t *self, uint64_t ticket, int64_t *wait_deadline,
                               char **topic);

//  Puts a settled waiter (taken) back at the head of topic's line: its
//  entry found no message. Never refused: it had a place already.
void waiting_consumers_park_first (waiting_consumers_t *self, const char *topic,
                                   client_request_t *request, int64_t wait_deadline);

//  Takes out the waiter whose wait ended earliest if at or before now
//  (INT64_MAX: any, to empty the table), with its topic's name in *topic
//  (malloc'd: the caller frees it); NULL if none is due.
client_request_t *waiting_consumers_expired (waiting_consumers_t *self, int64_t now, char **topic);

//  Forgets the woken waiters whose settle_by is at or before now (their
//  entry's answer was lost: a timeout or a refusal answered them).
void waiting_consumers_forget_stale (waiting_consumers_t *self, int64_t now);

//  Forgets every woken waiter (a leader change: their entries may never
//  apply here).
void waiting_consumers_forget_woken (waiting_consumers_t *self);

//  Requests parked.
size_t waiting_consumers_size (waiting_consumers_t *self);

#ifdef __cplusplus
}
#endif

#endif
