/*  fanout_subscribers — the receiving side of raftq-bench's fan-out
    measurement: a child process holding a share of the SUB sockets, so
    that receiving shares no ZeroMQ context, I/O thread or CPU time with
    the sender (one process doing both measured its own queueing, not the
    brokers'). The child waits on all its sockets with one epoll set (cost
    per wakeup independent of the socket count), records the latency of
    every measured delivery and reports it, with its own CPU time, when
    asked.
*/
#ifndef FANOUT_SUBSCRIBERS_H_INCLUDED
#define FANOUT_SUBSCRIBERS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histogram.h"

typedef struct _fanout_subscribers_t fanout_subscribers_t;

//  What one subscriber process reports at the end.
typedef struct {
    uint64_t received;   //  measured deliveries
    uint64_t foreign;    //  events neither measured nor probes
    double cpu_user_s;   //  its CPU time from START to the report
    double cpu_system_s; //  of which in the kernel: the rest
    uint64_t wakeups;    //  epoll_wait returns in that time
} fanout_subscribers_report_t;

//  Forks a process with count SUB sockets following stream: its socket j
//  is subscriber number first + j * stride of the whole measurement and
//  connects to pub_endpoints [that number % endpoint count], so that
//  processes together spread subscribers round robin over the nodes.
//  Call before threads other than ZeroMQ's exist. NULL after saying why.
fanout_subscribers_t *fanout_subscribers_new (char **pub_endpoints, const char *stream,
                                              size_t first, size_t stride, size_t count);

//  Ends the process if it still runs and reaps it; nulls *self_p.
void fanout_subscribers_destroy (fanout_subscribers_t **self_p);

//  Descriptor that becomes readable when the process reports readiness.
int fanout_subscribers_fd (fanout_subscribers_t *self);

//  SUB sockets the process holds.
size_t fanout_subscribers_count (fanout_subscribers_t *self);

//  Reads the readiness report once the descriptor is readable: 0 when
//  every socket of the process saw an event (so its subscription reached
//  its node), -1 when the process failed.
int fanout_subscribers_ready (fanout_subscribers_t *self);

//  The measured phase begins: the process notes its CPU time.
int fanout_subscribers_start (fanout_subscribers_t *self);

//  The sender is done: the process waits for messages_sent deliveries on
//  each of its sockets, or until none came for idle_ms (a backlog still
//  arriving is waited for, however long), then reports.
int fanout_subscribers_drain (fanout_subscribers_t *self, uint64_t messages_sent, int idle_ms);

//  Waits for the report asked for by drain: adds every latency (us) to
//  latency_us and fills *report. Returns 0, or -1 after saying why.
int fanout_subscribers_collect (fanout_subscribers_t *self, histogram_t *latency_us,
                                fanout_subscribers_report_t *report);

//  Drains every one of count processes (see drain), then collects their
//  reports into latency_us and *total (counts and CPU times summed).
//  Returns 0, or -1 when any of them failed; the others are gathered all
//  the same.
int fanout_subscribers_gather (fanout_subscribers_t **processes, size_t count,
                               uint64_t messages_sent, int idle_ms, histogram_t *latency_us,
                               fanout_subscribers_report_t *total);

//  This process's CPU time in seconds, all its threads (ZeroMQ's I/O
//  thread included).
double fanout_cpu_seconds (void);

//  Now on the monotonic clock in microseconds: the clock of every process
//  of the machine, so the sender's stamps compare with the receivers'.
int64_t fanout_clock_us (void);

#endif
