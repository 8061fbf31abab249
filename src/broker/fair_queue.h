/*  fair_queue — jobs waiting for one shared worker (the password hasher),
    kept per owner (a client connection) and handed out round robin: each
    owner with jobs waiting gets one turn per round, so a client that
    floods the queue delays the others by one job each, never by its whole
    backlog. Each owner may have at most per_owner_max jobs waiting and the
    queue at most total_max; past either the job is refused (the caller
    says so to its client) rather than kept beyond any use.

    A job is a ticket and a deadline (zclock_mono milliseconds, given by
    the caller as every time here, so tests drive their own clock). A job
    past its deadline was answered TIMEOUT elsewhere: it is dropped, never
    handed out, and no longer counts against its owner.
*/
#ifndef FAIR_QUEUE_H_INCLUDED
#define FAIR_QUEUE_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _fair_queue_t fair_queue_t;

typedef enum {
    FAIR_QUEUE_QUEUED = 0,     //  the job waits its turn
    FAIR_QUEUE_OWNER_FULL = 1, //  its owner has per_owner_max jobs waiting
    FAIR_QUEUE_FULL = 2,       //  the queue holds total_max jobs
    FAIR_QUEUE_NO_MEMORY = 3   //  out of memory
} fair_queue_status_t;

//  An empty queue; NULL when out of memory. Both bounds at least 1.
fair_queue_t *fair_queue_new (size_t per_owner_max, size_t total_max);

void fair_queue_destroy (fair_queue_t **self_p);

//  Queues ticket for owner (owner_size bytes, e.g. a ROUTER routing id)
//  until deadline.
fair_queue_status_t fair_queue_push (fair_queue_t *self, const void *owner, size_t owner_size,
                                     uint64_t ticket, int64_t deadline, int64_t now);

//  The next job, round robin over owners, skipping those past their
//  deadline: true with *ticket_p set, false when none waits.
bool fair_queue_pop (fair_queue_t *self, int64_t now, uint64_t *ticket_p);

//  Jobs waiting (those past their deadline included until dropped).
size_t fair_queue_size (fair_queue_t *self);

#ifdef __cplusplus
}
#endif

#endif
