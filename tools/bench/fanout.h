/*  fanout — raftq-bench's fan-out measurement: one sender, many subscribers.
    S SUB sockets, spread round robin over the nodes' pub ports, follow one
    stream from subscriber processes of their own (fanout_subscribers); the
    sender sends chat messages at a fixed rate, pipelined (fanout_sender),
    each text carrying its send time, and every delivery's latency (send ->
    receipt at one subscriber) is recorded.
*/
#ifndef FANOUT_H_INCLUDED
#define FANOUT_H_INCLUDED

#include <stddef.h>

#include "raftq.h"

//  What to measure.
typedef struct {
    size_t subscribers; //  SUB sockets, round robin over the pub endpoints
    size_t senders;     //  connections the one sender's requests are spread over
    double rate;        //  messages sent per second, all connections together
    double duration_s;  //  sending phase
    int drain_ms;       //  wait for replies, then for deliveries until none came for this long
    const char *broker_config; //  config the brokers run with (their CPU per delivery), or NULL
} fanout_plan_t;

//  Sends messages to receiver as sender (a client logged in, whose session
//  and leader the pipelined connections take over) and measures their
//  delivery on stream "user/<receiver>" at pub_endpoints (NULL-terminated;
//  endpoints is unused now and kept for the caller's sake). Forks the
//  subscriber processes: call before starting threads of your own.
//  Prints the result table. Returns 0, or -1 after saying why.
int fanout_run (raftq_client_t *sender, char **endpoints, const char *receiver, const char *token,
                char **pub_endpoints, const fanout_plan_t *plan);

#endif
