/*  fanout — raftq-bench's fan-out measurement. Owns the run: starts the
    subscriber processes (fanout_subscribers, one per CPU, the subscribers
    dealt round robin), waits until every subscription is active, drives
    the paced sender (fanout_sender), then gathers the latencies and the
    CPU time each side spent and prints the table.
    Probe texts ("probe") are sent first, one at a time, until every
    subscriber has seen one: only then is each SUB's subscription known to
    have reached its node's XPUB, and nothing measured is lost to the slow
    joiner.
    Why processes: in one process the subscribers' polling and I/O thread
    delayed the sender's own replies and took a CPU, and the result measured
    the bench as much as the brokers (see fanout_subscribers.h).

    Measured for issue 3: 3 nodes, 2-core VM, 8 s at 1000 msgs/s, fresh
    cluster per run, median of 3; only other work a nice-19 fuzzer (load
    average 1.6-4.8, the bench's own threads included). Latency in ms,
    send to receipt per delivery; "before" is the one-process bench with
    4 synchronous senders (load 5.8-6.5).
                     sent/s  delivered/s    p50     p99     max  lost
        10 subs        1000       10,000    1.6     7.6    17.0     0
        100 subs       1000      100,000    6.7    22.8    59.7     0
        1000 subs       753      753,000    623    2130    2311     0
        before: 10     1000                 2.6     9.2    25.0     0
                100     642                 6.8    62.0   122       0
                1000     75                63.0   135     205       0
    At 1000 subscribers no rate keeps p99 under 10 ms: at 1, 10 and 30
    msgs/s p50 is 18-23 ms and p99 40-65 ms. At 100 subscribers p99 is 5 ms
    at 100 msgs/s, 15 at 300, 20 at 500.
    Why: a delivery costs CPU on both sides, per message and per TCP
    connection, almost all in libzmq's I/O threads and the kernel (one
    sendto and two epoll_ctl per connection per message on the broker,
    recv and two thread wakeups on the subscriber). Measured unbatched
    (1000 subscribers, 1-30 msgs/s), CPU time per delivery: brokers 15-18
    us, subscribers 16-21 us; one bare libzmq XPUB (floor/xpub_floor.c,
    no raftq at all) 10-12 and 13-16 us. So one event to 1000 subscribers
    is ~30 ms of CPU: 15 ms on two idle cores before the last one has it,
    whatever the rate (the bare XPUB: p50 12-14, p99 27-31 ms at 10/s).
    Under load libzmq batches: every connection ~0.5-1 s behind, several
    hundred messages per send, the cost falls to 0.7-1.0 + 0.9-1.2 us and
    the machine does carry 1000 x 1000 = 1,000,000 deliveries/s with no
    loss (the bare XPUB too: p50 1.7 s). Holding p99 under 10 ms at that
    rate would allow batches of a few messages only, ~8 us per delivery:
    8 cores' worth. In 12 of 13 such overloaded runs the Raft leader
    stepped down (check-quorum) mid-run, also with the brokers at nice -10
    or the XPUB on an I/O thread of its own (3 of 6 with the data on
    tmpfs): sends then fail NOT_LEADER, hence sent/s below 1000.
*/
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <czmq.h>

#include "bench_cpu.h"
#include "fanout.h"
#include "fanout_sender.h"
#include "fanout_subscribers.h"
#include "histogram.h"

//  Between probes: long enough not to flood the log, short enough to be
//  ready soon after the last subscription lands.
#define S_PROBE_INTERVAL_MS 50
//  Give up on subscriptions that never become active.
#define S_READY_TIMEOUT_MS 30000
//  Most subscriber processes, whatever the CPU count.
#define S_PROCESSES_MAX 16

//  The subscriber processes of one run.
typedef struct {
    fanout_subscribers_t *processes[S_PROCESSES_MAX]; //  each with its share
    size_t count;                                     //  how many
} subscriber_set_t;

static void
s_subscriber_set_close (subscriber_set_t *set)
{
    for (size_t index = 0; index < set->count; index++)
        fanout_subscribers_destroy (&set->processes[index]);
    set->count = 0;
}

//  Starts one process per CPU (fewer with fewer subscribers); subscriber
//  k lives in process k % count. Returns 0, or -1 after saying why.
static int
s_subscriber_set_open (subscriber_set_t *set, char **pub_endpoints, const char *stream,
                       size_t subscribers)
{
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    size_t count = cpus > 0 ? (size_t)cpus : 1;
    if (count > S_PROCESSES_MAX)
        count = S_PROCESSES_MAX;
    if (count > subscribers)
        count = subscribers;
    set->count = 0;
    for (size_t index = 0; index < count; index++) {
        size_t share = subscribers / count + (index < subscribers % count ? 1 : 0);
        set->processes[index] = fanout_subscribers_new (pub_endpoints, stream, index, count, share);
        if (!set->processes[index]) {
            s_subscriber_set_close (set);
            return -1;
        }
        set->count++;
    }
    return 0;
}

//  Sends probes until every process says its subscribers saw one.
//  Returns 0, or -1 after saying why.
static int
s_wait_ready (raftq_client_t *sender, const char *receiver, subscriber_set_t *set,
              uint64_t *probes_p)
{
    struct pollfd waiting[S_PROCESSES_MAX];
    for (size_t index = 0; index < set->count; index++) {
        waiting[index].fd = fanout_subscribers_fd (set->processes[index]);
        waiting[index].events = POLLIN;
    }
    size_t ready = 0;
    int64_t deadline = zclock_mono () + S_READY_TIMEOUT_MS;
    while (ready < set->count && !zsys_interrupted && zclock_mono () < deadline) {
        uint64_t id;
        int64_t ts;
        raftq_code_t code = raftq_send_message (sender, receiver, "probe", &id, &ts);
        if (code != RAFTQ_OK) {
            fprintf (stderr, "raftq-bench: probe: %s: %s\n", raftq_code_name (code),
                     raftq_client_error (sender));
            return -1;
        }
        (*probes_p)++;
        if (poll (waiting, set->count, S_PROBE_INTERVAL_MS) == -1 && errno != EINTR)
            return -1;
        for (size_t index = 0; index < set->count; index++)
            if (waiting[index].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (fanout_subscribers_ready (set->processes[index]) == -1) {
                    fprintf (stderr, "raftq-bench: a subscriber process failed\n");
                    return -1;
                }
                //  Answered: a negative descriptor is ignored by poll
                waiting[index].fd = -1;
                ready++;
            }
    }
    if (ready < set->count) {
        fprintf (stderr, "raftq-bench: subscribers not all active after %d ms\n",
                 S_READY_TIMEOUT_MS);
        return -1;
    }
    return 0;
}

//  What the subscriber processes measured, all together.
typedef struct {
    histogram_t *latency_us;           //  per measured delivery
    fanout_subscribers_report_t total; //  counts and CPU, summed
} subscriber_results_t;

//  Tells the processes how many messages to wait for, then gathers what
//  they measured. Returns 0, or -1 after saying why.
static int
s_collect (subscriber_set_t *set, uint64_t messages_sent, int drain_ms,
           subscriber_results_t *results)
{
    return fanout_subscribers_gather (set->processes, set->count, messages_sent, drain_ms,
                                      results->latency_us, &results->total);
}

static void
s_print_latency (const char *name, histogram_t *histogram)
{
    printf ("  %-22s p50 %8.3f  p99 %8.3f  p99.9 %8.3f  max %8.3f ms\n", name,
            (double)histogram_percentile (histogram, 50) / 1000.0,
            (double)histogram_percentile (histogram, 99) / 1000.0,
            (double)histogram_percentile (histogram, 99.9) / 1000.0,
            (double)histogram_max (histogram) / 1000.0);
}

//  The table; the last line has every number on one line for scripts.
static void
s_print (const char *stream, const fanout_plan_t *plan, size_t processes, int64_t ready_ms,
         uint64_t probes, const fanout_sender_results_t *sent, double sender_cpu_s,
         const subscriber_results_t *received, double load_start, double load_end)
{
    //  A send refused with TIMEOUT, or unanswered, may have committed all
    //  the same: its deliveries are counted apart, not against the losses
    uint64_t expected = sent->committed * plan->subscribers;
    uint64_t lost = expected > received->total.received ? expected - received->total.received : 0;
    uint64_t unconfirmed =
        received->total.received > expected ? received->total.received - expected : 0;
    double seconds = sent->seconds > 0 ? sent->seconds : 1;
    double sent_rate = (double)sent->committed / seconds;
    double delivered_rate = (double)received->total.received / seconds;
    double receive_cpu_s = received->total.cpu_user_s + received->total.cpu_system_s;
    uint64_t deliveries = received->total.received ? received->total.received : 1;
    printf ("raftq-bench: fan-out of stream %s, %zu subscribers in %zu processes, "
            "%zu sender connections\n",
            stream, plan->subscribers, processes, plan->senders);
    printf ("  all subscribed after %" PRId64 " ms, %" PRIu64 " probes\n", ready_ms, probes);
    printf ("  %-22s %" PRIu64 " committed in %.2f s = %.1f msgs/s (planned %.0f); "
            "%" PRIu64 " late, %" PRIu64 " refused, %" PRIu64 " unanswered\n",
            "sent", sent->committed, seconds, sent_rate, plan->rate, sent->late, sent->refused,
            sent->unanswered);
    printf ("  %-22s expected %" PRIu64 "  received %" PRIu64 "  lost %" PRIu64
            "  = %.0f deliveries/s\n",
            "deliveries", expected, received->total.received, lost, delivered_rate);
    if (unconfirmed)
        printf ("  %-22s %" PRIu64 " more, of sends not answered OK that committed\n", "deliveries",
                unconfirmed);
    s_print_latency ("delivery (send->recv)", received->latency_us);
    s_print_latency ("commit (send->reply)", sent->commit_us);
    printf ("  %-22s %.2f s user + %.2f s system = %.2f us per delivery; "
            "%.1f deliveries per wakeup\n",
            "subscriber CPU", received->total.cpu_user_s, received->total.cpu_system_s,
            receive_cpu_s * 1e6 / (double)deliveries,
            received->total.wakeups ? (double)deliveries / (double)received->total.wakeups : 0.0);
    printf ("  %-22s %.2f s\n", "sender CPU", sender_cpu_s);
    if (received->total.foreign)
        printf ("  %-22s %" PRIu64 "\n", "other events", received->total.foreign);
    printf ("  %-22s %.2f -> %.2f (%ld CPUs)\n", "load average", load_start, load_end,
            sysconf (_SC_NPROCESSORS_ONLN));
    printf ("  summary S=%zu rate=%.0f sent/s=%.1f delivered/s=%.0f p50_ms=%.3f p99_ms=%.3f "
            "max_ms=%.3f lost=%" PRIu64 " commit_p99_ms=%.3f sub_us_per_delivery=%.2f "
            "load=%.2f\n",
            plan->subscribers, plan->rate, sent_rate, delivered_rate,
            (double)histogram_percentile (received->latency_us, 50) / 1000.0,
            (double)histogram_percentile (received->latency_us, 99) / 1000.0,
            (double)histogram_max (received->latency_us) / 1000.0, lost,
            (double)histogram_percentile (sent->commit_us, 99) / 1000.0,
            receive_cpu_s * 1e6 / (double)deliveries, load_end);
}

int
fanout_run (raftq_client_t *sender, char **endpoints, const char *receiver, const char *token,
            char **pub_endpoints, const fanout_plan_t *plan)
{
    (void)endpoints;
    char stream[256];
    //  A private stream opens with the receiver's token (README,
    //  "Authorized chat streams"): frame 1 is then this very string
    snprintf (stream, sizeof (stream), "user/%s#%s", receiver, token);
    if (plan->subscribers == 0) {
        fprintf (stderr, "raftq-bench: no subscribers\n");
        return -1;
    }
    subscriber_set_t set;
    if (s_subscriber_set_open (&set, pub_endpoints, stream, plan->subscribers) == -1)
        return -1;
    subscriber_results_t received;
    memset (&received, 0, sizeof (received));
    received.latency_us = histogram_new ();
    fanout_sender_t *paced = NULL;
    uint64_t probes = 0;
    int rc = -1;
    int64_t ready_start = zclock_mono ();
    //  The probes went to the leader: the sender's connections follow them.
    //  A leader change later shows as refused sends, not followed
    const char *leader = NULL;
    if (received.latency_us && s_wait_ready (sender, receiver, &set, &probes) == 0)
        leader = raftq_client_leader (sender);
    if (leader)
        paced = fanout_sender_new (leader, raftq_client_token (sender), receiver, plan->senders);
    if (paced) {
        int64_t ready_ms = zclock_mono () - ready_start;
        double load_start, load_end;
        if (getloadavg (&load_start, 1) != 1)
            load_start = -1;
        bool started = true;
        for (size_t index = 0; index < set.count; index++)
            started = started && fanout_subscribers_start (set.processes[index]) == 0;
        double cpu_start = fanout_cpu_seconds ();
        bench_cpu_t brokers;
        bench_cpu_find (&brokers, plan->broker_config);
        bench_cpu_start (&brokers);
        fanout_sender_results_t sent;
        if (started &&
            fanout_sender_run (paced, plan->rate, plan->duration_s, plan->drain_ms, &sent) == 0) {
            double sender_cpu_s = fanout_cpu_seconds () - cpu_start;
            if (s_collect (&set, sent.sent - sent.refused + sent.timed_out, plan->drain_ms,
                           &received) == 0) {
                if (getloadavg (&load_end, 1) != 1)
                    load_end = -1;
                s_print (stream, plan, set.count, ready_ms, probes, &sent, sender_cpu_s, &received,
                         load_start, load_end);
                bench_cpu_report (&brokers, received.total.received, "delivery");
                rc = 0;
            }
        }
    }
    fanout_sender_destroy (&paced);
    histogram_destroy (&received.latency_us);
    s_subscriber_set_close (&set);
    return rc;
}
