/*  gateway_events — GET /api/events: the user's private stream
    (user/<name>) as Server-Sent Events. The connection's thread follows
    the stream with its own libraftq subscription, under the session's
    token: gaps are replayed and duplicates dropped by libraftq, a dead
    node is left for another, and each event goes out with its seq as the
    SSE id, so a reconnecting EventSource (Last-Event-ID) resumes after
    the last event it saw.

    A user holds at most max_streams_per_user streams at once (429
    RESOURCE_EXHAUSTED past it): each holds a connection thread and a
    subscription, and the per-address cap does not stop one account
    from a crowd of addresses, nor many users behind one proxy from
    crowding one another. The count is shared by the connection threads
    (gateway_streams_t, behind its own lock); a stream's slot is freed
    when MHD frees the stream, once its connection is gone.
*/
#ifndef GATEWAY_EVENTS_H_INCLUDED
#define GATEWAY_EVENTS_H_INCLUDED

#include "gateway_call.h"

//  No stream open; a user may hold max_per_user. NULL when out of memory.
gateway_streams_t *gateway_streams_new (unsigned max_per_user);

//  Frees it (no stream may still be open); nulls *self_p.
void gateway_streams_destroy (gateway_streams_t **self_p);

//  The handler (call->streams counts the stream it opens).
enum MHD_Result gateway_events_stream (gateway_call_t *call);

#endif
