/*  waiting_table — client requests parked until their entry applies (or
    their password work is done), by ticket and by deadline. A ticket names
    a request in the Raft log (Command.ticket) and at the hasher; tickets
    start at a random incarnation in the high half, so an entry an earlier
    run left in the log cannot match a request of this one. The table owns
    the requests parked in it; whoever unparks one owns it again.
*/
#ifndef WAITING_TABLE_H_INCLUDED
#define WAITING_TABLE_H_INCLUDED

#include "broker/client_request.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _waiting_table_t waiting_table_t;

//  An empty table; NULL when out of memory or without libsodium's random.
waiting_table_t *waiting_table_new (void);

//  Destroys the requests still parked, unanswered: answer them first.
void waiting_table_destroy (waiting_table_t **self_p);

//  A fresh ticket, never given before by this table (for requests that
//  wait elsewhere, as admin requests do).
uint64_t waiting_table_new_ticket (waiting_table_t *self);

//  Parks request (taken) under a fresh ticket until deadline (zclock_mono
//  milliseconds), setting request->ticket and request->deadline. Returns 0,
//  or -1 when out of memory: then the request is not parked, still the
//  caller's, with its ticket set.
int waiting_table_park (waiting_table_t *self, client_request_t *request, int64_t deadline);

//  The request parked under ticket, still parked; NULL if none.
client_request_t *waiting_table_find (waiting_table_t *self, uint64_t ticket);

//  Takes the request parked under ticket out (the caller answers it);
//  NULL if none.
client_request_t *waiting_table_unpark (waiting_table_t *self, uint64_t ticket);

//  Takes out the request with the earliest deadline if that deadline is at
//  or before now (INT64_MAX: any); NULL if none is due.
client_request_t *waiting_table_expired (waiting_table_t *self, int64_t now);

//  How many parked requests went to Raft (request->proposed): their
//  outcome is not known until their entry applies. A walk of the table,
//  for the way out only.
size_t waiting_table_proposed (waiting_table_t *self);

//  How many requests are parked.
size_t waiting_table_size (waiting_table_t *self);

#ifdef __cplusplus
}
#endif

#endif
