/*  gateway_events — GET /api/events: the user's private stream
    (user/<name>) as Server-Sent Events. The connection's thread follows
    the stream with its own libraftq subscription, under the session's
    token: gaps are replayed and duplicates dropped by libraftq, a dead
    node is left for another, and each event goes out with its seq as the
    SSE id, so a reconnecting EventSource (Last-Event-ID) resumes after
    the last event it saw.
*/
#ifndef GATEWAY_EVENTS_H_INCLUDED
#define GATEWAY_EVENTS_H_INCLUDED

#include "gateway_call.h"

enum MHD_Result gateway_events_stream (gateway_call_t *call);

#endif
