/*  xpub_floor — the fan-out floor of this machine without raftq: one
    libzmq XPUB publishing raftqd-shaped events ([stream][~100 bytes][JSON
    with "text":"bench <us>"]) at a fixed rate to S SUB sockets held by the
    same subscriber processes raftq-bench uses (fanout_subscribers). What it
    prints is what libzmq and the kernel cost per delivery, and the latency
    they allow, with no Raft, no state machine and no event building: a
    broker cannot do better on the same machine.

    Built by `make` as build/xpub_floor (it has its own main, so it lives
    apart from the files linked into raftq-bench). Run:
        build/xpub_floor SUBSCRIBERS RATE SECONDS [PROCESSES] [PORT]
    (binds tcp://127.0.0.1:PORT, default 26300).
*/
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <czmq.h>

#include "fanout_subscribers.h"

#define S_STREAM        "user/bench-receiver"
#define S_PROCESSES_MAX 16
//  Between probes while subscriptions travel to the XPUB.
#define S_PROBE_MS 10
//  At the end, deliveries still arriving are waited for until none came
//  for this long.
#define S_DRAIN_IDLE_MS 2000

//  One event shaped like raftqd's: stream key, a protobuf-sized frame, the
//  JSON event carrying text.
static void
s_publish (void *publisher, const char *text)
{
    char json[512];
    snprintf (json, sizeof (json),
              "{\"stream\":\"" S_STREAM "\",\"seq\":12345,\"index\":67890,\"kind\":\"message\","
              "\"id\":4242,\"from\":\"bench-sender\",\"to\":\"bench-receiver\",\"text\":\"%s\","
              "\"ts\":1732300000000}",
              text);
    char packed[96];
    memset (packed, 'p', sizeof (packed));
    zmq_send (publisher, S_STREAM, strlen (S_STREAM), ZMQ_SNDMORE);
    zmq_send (publisher, packed, sizeof (packed), ZMQ_SNDMORE);
    zmq_send (publisher, json, strlen (json), 0);
}

//  Publishes probes until every process saw one on every socket.
static void
s_wait_ready (zsock_t *publisher, fanout_subscribers_t **processes, size_t count)
{
    struct pollfd waiting[S_PROCESSES_MAX];
    for (size_t index = 0; index < count; index++) {
        waiting[index].fd = fanout_subscribers_fd (processes[index]);
        waiting[index].events = POLLIN;
    }
    size_t ready = 0;
    while (ready < count && !zsys_interrupted) {
        //  Subscriptions arrive as messages on the XPUB: drop them
        zframe_t *subscription;
        while ((subscription = zframe_recv_nowait (publisher)))
            zframe_destroy (&subscription);
        s_publish (zsock_resolve (publisher), "probe");
        poll (waiting, count, S_PROBE_MS);
        for (size_t index = 0; index < count; index++)
            if (waiting[index].fd >= 0 && (waiting[index].revents & POLLIN)) {
                fanout_subscribers_ready (processes[index]);
                waiting[index].fd = -1;
                ready++;
            }
    }
}

//  Publishes rate events per second for seconds; returns how many.
static uint64_t
s_publish_paced (zsock_t *publisher, double rate, double seconds)
{
    uint64_t planned = (uint64_t)(rate * seconds);
    int64_t start_us = fanout_clock_us ();
    for (uint64_t number = 0; number < planned && !zsys_interrupted; number++) {
        int64_t due_us = start_us + (int64_t)((double)number * 1e6 / rate);
        int64_t remaining = due_us - fanout_clock_us ();
        if (remaining > 0) {
            struct timespec pause = {remaining / 1000000, (remaining % 1000000) * 1000};
            nanosleep (&pause, NULL);
        }
        char text[40];
        snprintf (text, sizeof (text), "bench %" PRId64, fanout_clock_us ());
        s_publish (zsock_resolve (publisher), text);
    }
    return planned;
}

//  What the command line asks for.
typedef struct {
    size_t subscribers; //  SUB sockets in all
    double rate;        //  events published per second
    double seconds;     //  publishing phase
    size_t processes;   //  subscriber processes the sockets are spread over
    int port;           //  the XPUB binds tcp://127.0.0.1:port
} floor_plan_t;

//  Reads SUBSCRIBERS RATE SECONDS [PROCESSES] [PORT]. Returns 0, or -1
//  after saying why.
static int
s_plan (int argc, char **argv, floor_plan_t *plan)
{
    if (argc < 4) {
        fprintf (stderr, "usage: xpub_floor SUBSCRIBERS RATE SECONDS [PROCESSES] [PORT]\n");
        return -1;
    }
    plan->subscribers = (size_t)atol (argv[1]);
    plan->rate = atof (argv[2]);
    plan->seconds = atof (argv[3]);
    plan->processes = argc > 4 ? (size_t)atol (argv[4]) : 2;
    plan->port = argc > 5 ? atoi (argv[5]) : 26300;
    if (!plan->subscribers || plan->rate <= 0 || plan->seconds <= 0 || !plan->processes ||
        plan->processes > S_PROCESSES_MAX || plan->processes > plan->subscribers) {
        fprintf (stderr, "xpub_floor: bad arguments\n");
        return -1;
    }
    return 0;
}

//  Publishes at the planned rate to the ready processes, waits for their
//  deliveries and prints the one result line.
static void
s_measure (zsock_t *publisher, fanout_subscribers_t **processes, const floor_plan_t *plan,
           histogram_t *latency_us)
{
    size_t count = plan->processes;
    s_wait_ready (publisher, processes, count);
    for (size_t index = 0; index < count; index++)
        fanout_subscribers_start (processes[index]);
    double cpu_start = fanout_cpu_seconds ();
    int64_t start_us = fanout_clock_us ();
    uint64_t published = s_publish_paced (publisher, plan->rate, plan->seconds);
    double elapsed = (double)(fanout_clock_us () - start_us) / 1e6;
    fanout_subscribers_report_t total = {0};
    //  What a failed process leaves out shows as lost deliveries
    fanout_subscribers_gather (processes, count, published, S_DRAIN_IDLE_MS, latency_us, &total);
    //  The publisher's CPU runs until its I/O thread has sent the
    //  last event, which the collection above waited for
    double publisher_cpu = fanout_cpu_seconds () - cpu_start;
    double deliveries = total.received ? (double)total.received : 1;
    printf ("floor S=%zu rate=%.0f delivered/s=%.0f lost=%" PRIu64 " p50_ms=%.3f "
            "p99_ms=%.3f max_ms=%.3f pub_us_per_delivery=%.2f sub_us_per_delivery=%.2f "
            "deliveries_per_wakeup=%.1f\n",
            plan->subscribers, plan->rate, (double)total.received / elapsed,
            published * plan->subscribers - total.received,
            (double)histogram_percentile (latency_us, 50) / 1000.0,
            (double)histogram_percentile (latency_us, 99) / 1000.0,
            (double)histogram_max (latency_us) / 1000.0, publisher_cpu * 1e6 / deliveries,
            (total.cpu_user_s + total.cpu_system_s) * 1e6 / deliveries,
            total.wakeups ? deliveries / (double)total.wakeups : 0.0);
}

int
main (int argc, char **argv)
{
    floor_plan_t plan;
    if (s_plan (argc, argv, &plan))
        return 2;
    char endpoint[64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", plan.port);
    zsys_set_max_sockets (64);
    zsock_t *publisher = zsock_new (ZMQ_XPUB);
    //  As raftqd's XPUB
    zsock_set_sndhwm (publisher, 10000);
    zsock_set_linger (publisher, 0);
    if (zsock_bind (publisher, "%s", endpoint) == -1) {
        fprintf (stderr, "xpub_floor: cannot bind %s\n", endpoint);
        zsock_destroy (&publisher);
        return 1;
    }
    char *endpoints[] = {endpoint, NULL};
    fanout_subscribers_t *processes[S_PROCESSES_MAX];
    size_t started = 0;
    for (; started < plan.processes; started++) {
        size_t share = plan.subscribers / plan.processes +
                       (started < plan.subscribers % plan.processes ? 1 : 0);
        processes[started] =
            fanout_subscribers_new (endpoints, S_STREAM, started, plan.processes, share);
        if (!processes[started])
            break;
    }
    int rc = 1;
    histogram_t *latency_us = histogram_new ();
    if (started == plan.processes && latency_us) {
        s_measure (publisher, processes, &plan, latency_us);
        rc = 0;
    }
    histogram_destroy (&latency_us);
    for (size_t index = 0; index < started; index++)
        fanout_subscribers_destroy (&processes[index]);
    zsock_destroy (&publisher);
    return rc;
}
