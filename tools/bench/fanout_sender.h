/*  fanout_sender — the sending side of raftq-bench's fan-out measurement:
    SendMessage requests at a fixed rate, open loop (each goes out at its
    scheduled time, however many are still unanswered), pipelined over a
    few DEALER connections to the leader, so that a slow commit shows as
    latency instead of lowering the rate. Each text is "bench <send time
    in us>" on the monotonic clock.
*/
#ifndef FANOUT_SENDER_H_INCLUDED
#define FANOUT_SENDER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

typedef struct _fanout_sender_t fanout_sender_t;

//  What a run did.
typedef struct {
    uint64_t sent;          //  requests that went out
    uint64_t committed;     //  answered OK
    uint64_t refused;       //  answered with another code
    uint64_t timed_out;     //  of which TIMEOUT: may have committed after all
    uint64_t unanswered;    //  no reply before the drain ended
    uint64_t late;          //  sent more than 1 ms behind schedule
    double seconds;         //  from the schedule's start to the last send
    histogram_t *commit_us; //  send -> OK reply; owned by the sender
} fanout_sender_results_t;

//  A sender with connections DEALERs to the client endpoint of the leader,
//  sending as the session token to receiver. NULL after saying why.
fanout_sender_t *fanout_sender_new (const char *leader_endpoint, const char *token,
                                    const char *receiver, size_t connections);

void fanout_sender_destroy (fanout_sender_t **self_p);

//  Sends rate messages per second for duration_s, then waits up to
//  drain_ms for the last replies. Returns 0 and the results (valid until
//  the sender is destroyed), or -1 after saying why.
int fanout_sender_run (fanout_sender_t *self, double rate, double duration_s, int drain_ms,
                       fanout_sender_results_t *results);

#endif
