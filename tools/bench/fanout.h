/*  fanout — raftq-bench's fan-out measurement: one sender, many subscribers.
    S SUB sockets, spread round robin over the nodes' pub ports, follow one
    stream from an actor thread; the caller's logged-in client sends chat
    messages at a fixed rate, each text carrying its send time, and every
    delivery's latency (send -> receipt at one subscriber) is recorded.
*/
#ifndef FANOUT_H_INCLUDED
#define FANOUT_H_INCLUDED

#include <stddef.h>

#include "raftq.h"

//  What to measure.
typedef struct {
    size_t subscribers;         //  SUB sockets, round robin over the pub endpoints
    size_t senders;             //  threads sending as the one sender, rate split among them
    double rate;                //  messages sent per second, all senders together
    double duration_s;          //  sending phase
    int drain_ms;               //  how long to wait for stragglers after the last send
} fanout_plan_t;

//  Sends messages to receiver as sender (a client logged in at endpoints,
//  whose session plan->senders threads share) and measures their delivery
//  on stream "user/<receiver>" at pub_endpoints (both NULL-terminated).
//  Prints the result table. Returns 0, or -1 after saying why.
int
    fanout_run (raftq_client_t *sender, char **endpoints, const char *receiver,
                char **pub_endpoints, const fanout_plan_t *plan);

#endif
