/*  fanout — raftq-bench's fan-out measurement. Owns the subscriber actor
    (all SUB sockets, polled from one thread with zmq_poll) and the paced
    sender threads that drive it: --senders threads share the sender's
    session and the schedule, since one synchronous SendMessage at a time
    cannot keep 1000/s on a loaded 2-core machine.
    Each measured text is "bench <send time in us>" on the monotonic clock,
    which every thread of the process shares, so the actor needs nothing
    from the sender but the events themselves. Probe texts ("probe") are
    sent first until every subscriber has seen one: only then is each SUB's
    subscription known to have reached its node's XPUB, and nothing measured
    is lost to the slow joiner.
    Pipe protocol (caller -> actor):
        "DRAIN" expected deadline_us    -> "88p" received foreign histogram_t *
    and the actor sends "READY" once every subscriber saw an event
    ("FAILED" if its sockets could not be opened).

    Measured for issue 3: 3 nodes, 2-core VM shared with other work (load
    5.5-7.9), 1000 msgs/s planned for 10 s, 4 senders, fresh cluster per
    run, median of 3 runs; latency in ms, send to receipt per delivery.
        subscribers   sent/s    p50     p99    p99.9     max   missing
        10              1000    2.6     9.9     42.5    74.2         0
        100              598    6.5    36.9    184.3   209.0         0
        1000              63   72.7   225.3    278.5   297.0         0
    At 100 and 1000 subscribers the cluster cannot commit 1000/s: the
    senders' SendMessage latency (p50 5 and 58 ms) caps the rate. The
    bench process itself then takes about one of the two CPUs.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>

#include "fanout.h"
#include "histogram.h"

//  The text marker of a measured message; the JSON event is compact, so
//  the text appears exactly like this in the third frame.
#define S_MARKER         "\"text\":\"bench "
#define S_PROBE          "\"text\":\"probe\""
//  The JSON event is the third frame of a published message.
#define S_JSON_FRAME     2
//  Between probes: long enough not to flood the log, short enough to be
//  ready soon after the last subscription lands.
#define S_PROBE_INTERVAL_MS 50
//  Give up on subscriptions that never become active.
#define S_READY_TIMEOUT_MS  30000

//  What the actor is started with; the actor copies what it keeps.
typedef struct {
    char **pub_endpoints;       //  NULL-terminated, the caller's
    const char *stream;         //  subscription prefix
    size_t subscribers;         //  SUB sockets to open
} actor_args_t;

//  The actor's state.
typedef struct {
    zsock_t *pipe;              //  to the caller
    zsock_t **subscribers;      //  one SUB each
    zmq_pollitem_t *items;      //  [0] the pipe, then the subscribers
    bool *seen;                 //  per subscriber: any event received yet
    size_t count;               //  subscribers
    size_t unseen;              //  subscribers that saw nothing yet
    histogram_t *latency_us;    //  per measured delivery, sent to the caller at the end
    uint64_t received;          //  measured deliveries
    uint64_t foreign;           //  events that are neither probe nor measured
    uint64_t expected;          //  set by DRAIN: deliveries to wait for
    int64_t drain_deadline_us;  //  set by DRAIN: when to stop waiting; 0 before
    bool terminated;            //  $TERM received
} actor_t;

//  Latency of one measured delivery from its JSON event, into the histogram.
//  Returns -1 if the event is not a measured message.
static int
s_actor_record (actor_t *self, const zmq_msg_t *frame, int64_t received_us)
{
    const char *data = (const char *) zmq_msg_data ((zmq_msg_t *) frame);
    size_t size = zmq_msg_size ((zmq_msg_t *) frame);
    const char *marker = (const char *) memmem (data, size, S_MARKER, strlen (S_MARKER));
    if (!marker)
        return -1;
    const char *digits = marker + strlen (S_MARKER);
    char buffer [24];
    size_t length = 0;
    while (digits + length < data + size && length < sizeof (buffer) - 1
       && digits [length] >= '0' && digits [length] <= '9') {
        buffer [length] = digits [length];
        length++;
    }
    buffer [length] = 0;
    if (length == 0)
        return -1;
    int64_t sent_us = (int64_t) strtoll (buffer, NULL, 10);
    int64_t latency = received_us - sent_us;
    histogram_record (self->latency_us, (uint64_t) (latency > 0? latency: 0));
    self->received++;
    return 0;
}

//  Reads every message waiting on one subscriber.
static void
s_actor_drain_socket (actor_t *self, size_t index)
{
    void *socket = zsock_resolve (self->subscribers [index]);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    int frame_index = 0;
    while (zmq_msg_recv (&frame, socket, ZMQ_DONTWAIT) != -1) {
        if (frame_index == S_JSON_FRAME) {
            int64_t now = zclock_usecs ();
            if (s_actor_record (self, &frame, now) == -1
            && !memmem (zmq_msg_data (&frame), zmq_msg_size (&frame), S_PROBE, strlen (S_PROBE)))
                self->foreign++;
            if (!self->seen [index]) {
                self->seen [index] = true;
                self->unseen--;
                if (self->unseen == 0)
                    zstr_send (self->pipe, "READY");
            }
        }
        frame_index = zmq_msg_more (&frame)? frame_index + 1: 0;
    }
    zmq_msg_close (&frame);
}

static void
s_actor_command (actor_t *self)
{
    char *command = NULL;
    uint64_t expected = 0;
    int64_t deadline = 0;
    if (zsock_recv (self->pipe, "s88", &command, &expected, &deadline) == -1) {
        self->terminated = true;
        return;
    }
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "DRAIN")) {
        self->expected = expected;
        self->drain_deadline_us = deadline;
    }
    zstr_free (&command);
}

static void
s_actor_destroy (actor_t *self)
{
    for (size_t index = 0; self->subscribers && index < self->count; index++)
        zsock_destroy (&self->subscribers [index]);
    free (self->subscribers);
    free (self->items);
    free (self->seen);
    histogram_destroy (&self->latency_us);
}

//  Opens the SUB sockets. Returns 0, or -1 after saying why.
static int
s_actor_open (actor_t *self, const actor_args_t *args)
{
    size_t endpoint_count = 0;
    while (args->pub_endpoints [endpoint_count])
        endpoint_count++;
    self->count = args->subscribers;
    self->unseen = args->subscribers;
    self->subscribers = (zsock_t **) calloc (self->count, sizeof (zsock_t *));
    self->items = (zmq_pollitem_t *) calloc (self->count + 1, sizeof (zmq_pollitem_t));
    self->seen = (bool *) calloc (self->count, sizeof (bool));
    self->latency_us = histogram_new ();
    if (!self->subscribers || !self->items || !self->seen || !self->latency_us || !endpoint_count) {
        fprintf (stderr, "raftq-bench: out of memory or no pub endpoints\n");
        return -1;
    }
    self->items [0].socket = zsock_resolve (self->pipe);
    self->items [0].events = ZMQ_POLLIN;
    for (size_t index = 0; index < self->count; index++) {
        const char *endpoint = args->pub_endpoints [index % endpoint_count];
        self->subscribers [index] = zsock_new_sub (endpoint, args->stream);
        if (!self->subscribers [index]) {
            fprintf (stderr, "raftq-bench: SUB %zu to %s: %s\n", index, endpoint,
                     zmq_strerror (zmq_errno ()));
            return -1;
        }
        self->items [index + 1].socket = zsock_resolve (self->subscribers [index]);
        self->items [index + 1].events = ZMQ_POLLIN;
    }
    return 0;
}

static void
s_actor (zsock_t *pipe, void *args)
{
    actor_t self;
    memset (&self, 0, sizeof (self));
    self.pipe = pipe;
    zsock_signal (pipe, 0);
    if (s_actor_open (&self, (const actor_args_t *) args) == -1) {
        //  Anything but READY makes the caller give up at once.
        zstr_send (pipe, "FAILED");
        s_actor_destroy (&self);
        return;
    }
    while (!self.terminated) {
        bool draining = self.drain_deadline_us > 0;
        if (draining && (self.received >= self.expected
                      || zclock_usecs () >= self.drain_deadline_us)) {
            zsock_send (pipe, "88p", self.received, self.foreign, self.latency_us);
            self.latency_us = NULL;
            self.drain_deadline_us = 0;
            continue;
        }
        if (zmq_poll (self.items, (int) self.count + 1, 100) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (size_t index = 0; index < self.count; index++)
            if (self.items [index + 1].revents & ZMQ_POLLIN)
                s_actor_drain_socket (&self, index);
        if (self.items [0].revents & ZMQ_POLLIN)
            s_actor_command (&self);
    }
    s_actor_destroy (&self);
}

//  Sleeps until the monotonic time until_us (no-op if past).
static void
s_sleep_until (int64_t until_us)
{
    int64_t remaining = until_us - zclock_usecs ();
    if (remaining <= 0)
        return;
    struct timespec pause = { remaining / 1000000, (remaining % 1000000) * 1000 };
    nanosleep (&pause, NULL);
}

//  Sends probes until the actor says every subscriber saw one.
//  Returns 0, or -1 after saying why.
static int
s_wait_ready (raftq_client_t *sender, const char *receiver, zactor_t *actor,
              uint64_t *probes_p)
{
    int64_t deadline = zclock_mono () + S_READY_TIMEOUT_MS;
    zpoller_t *poller = zpoller_new (actor, NULL);
    int rc = -1;
    while (poller && !zsys_interrupted && zclock_mono () < deadline) {
        uint64_t id;
        int64_t ts;
        raftq_code_t code = raftq_send_message (sender, receiver, "probe", &id, &ts);
        if (code != RAFTQ_OK) {
            fprintf (stderr, "raftq-bench: probe: %s: %s\n", raftq_code_name (code),
                     raftq_client_error (sender));
            break;
        }
        (*probes_p)++;
        if (zpoller_wait (poller, S_PROBE_INTERVAL_MS)) {
            char *signal = zstr_recv (actor);
            rc = signal && streq (signal, "READY")? 0: -1;
            zstr_free (&signal);
            break;
        }
    }
    if (rc == -1 && zclock_mono () >= deadline)
        fprintf (stderr, "raftq-bench: subscribers not all active after %d ms\n",
                 S_READY_TIMEOUT_MS);
    zpoller_destroy (&poller);
    return rc;
}

//  What the senders did.
typedef struct {
    uint64_t sent;              //  SendMessage answered OK
    uint64_t failed;            //  answered otherwise
    histogram_t *commit_us;     //  send -> reply, the sender's view
} sender_results_t;

//  What a sender thread is started with; it copies what it keeps before
//  signalling.
typedef struct {
    char **endpoints;           //  client endpoints, NULL-terminated
    const char *token;          //  the sender's session
    const char *receiver;       //  account sent to
    fanout_plan_t plan;         //  rate, duration, senders
    size_t index;               //  this sender's place in the schedule
} sender_args_t;

//  Sends this sender's share of the schedule: message number n is due at
//  start + n / rate, and sender k sends numbers k, k + senders, ...; when
//  the synchronous calls fall behind, each goes out at once.
static void
s_send_paced (raftq_client_t *client, const char *receiver, const fanout_plan_t *plan,
              size_t index, int64_t start_us, sender_results_t *results)
{
    //  Sending stops at the end of the duration even when behind: the
    //  achieved rate is then reported below the planned one.
    uint64_t planned = (uint64_t) (plan->rate * plan->duration_s);
    int64_t end_us = start_us + (int64_t) (plan->duration_s * 1e6);
    for (uint64_t number = index; number < planned && !zsys_interrupted
                                && zclock_usecs () < end_us; number += plan->senders) {
        s_sleep_until (start_us + (int64_t) ((double) number * 1e6 / plan->rate));
        int64_t sent_us = zclock_usecs ();
        char text [40];
        snprintf (text, sizeof (text), "bench %" PRId64, sent_us);
        uint64_t id;
        int64_t ts;
        if (raftq_send_message (client, receiver, text, &id, &ts) == RAFTQ_OK) {
            results->sent++;
            histogram_record (results->commit_us, (uint64_t) (zclock_usecs () - sent_us));
        }
        else
            results->failed++;
    }
}

//  One sender thread. Pipe: "GO" start_us -> "88p" sent failed histogram_t *
//  (ownership to the caller).
static void
s_sender (zsock_t *pipe, void *void_args)
{
    const sender_args_t *args = (const sender_args_t *) void_args;
    size_t count = 0;
    while (args->endpoints [count])
        count++;
    raftq_client_t *client = raftq_client_new ((const char **) args->endpoints, count);
    if (client && raftq_client_set_token (client, args->token) == -1)
        raftq_client_destroy (&client);
    char *receiver = strdup (args->receiver);
    fanout_plan_t plan = args->plan;
    size_t index = args->index;
    zsock_signal (pipe, 0);

    sender_results_t results = { 0, 0, histogram_new () };
    char *command = NULL;
    int64_t start_us = 0;
    bool terminated = zsock_recv (pipe, "s8", &command, &start_us) == -1;
    if (!terminated && streq (command, "GO")) {
        if (client && receiver && results.commit_us)
            s_send_paced (client, receiver, &plan, index, start_us, &results);
        else
            fprintf (stderr, "raftq-bench: sender %zu could not start\n", index);
        zsock_send (pipe, "88p", results.sent, results.failed, results.commit_us);
        results.commit_us = NULL;
    }
    else
    if (!terminated)
        terminated = streq (command, "$TERM");
    zstr_free (&command);
    //  An actor ends on $TERM only.
    while (!terminated) {
        terminated = zsock_recv (pipe, "s", &command) == -1 || streq (command, "$TERM");
        zstr_free (&command);
    }
    histogram_destroy (&results.commit_us);
    free (receiver);
    raftq_client_destroy (&client);
}

//  Runs the senders from now and collects their results into *results.
//  Returns the elapsed time in seconds.
static double
s_send_all (raftq_client_t *sender, char **endpoints, const char *receiver,
            const fanout_plan_t *plan, sender_results_t *results)
{
    zactor_t **senders = (zactor_t **) calloc (plan->senders, sizeof (zactor_t *));
    size_t started = 0;
    while (senders && started < plan->senders) {
        sender_args_t args = { endpoints, raftq_client_token (sender), receiver, *plan, started };
        senders [started] = zactor_new (s_sender, &args);
        if (!senders [started])
            break;
        started++;
    }
    //  A short head start so that every thread is waiting when the
    //  schedule begins.
    int64_t start_us = zclock_usecs () + 20000;
    for (size_t index = 0; index < started; index++)
        zsock_send (senders [index], "s8", "GO", start_us);
    for (size_t index = 0; index < started; index++) {
        uint64_t sent = 0, failed = 0;
        histogram_t *commit_us = NULL;
        if (zsock_recv (senders [index], "88p", &sent, &failed, &commit_us) == 0 && commit_us) {
            results->sent += sent;
            results->failed += failed;
            histogram_merge (results->commit_us, commit_us);
        }
        histogram_destroy (&commit_us);
    }
    double seconds = (double) (zclock_usecs () - start_us) / 1e6;
    for (size_t index = 0; index < started; index++)
        zactor_destroy (&senders [index]);
    free (senders);
    return seconds;
}

static void
s_print_latency (const char *name, histogram_t *histogram)
{
    printf ("  %-22s p50 %8.3f  p99 %8.3f  p99.9 %8.3f  max %8.3f ms\n", name,
            (double) histogram_percentile (histogram, 50) / 1000.0,
            (double) histogram_percentile (histogram, 99) / 1000.0,
            (double) histogram_percentile (histogram, 99.9) / 1000.0,
            (double) histogram_max (histogram) / 1000.0);
}

int
fanout_run (raftq_client_t *sender, char **endpoints, const char *receiver,
            char **pub_endpoints, const fanout_plan_t *plan)
{
    char stream [256];
    snprintf (stream, sizeof (stream), "user/%s", receiver);
    actor_args_t args = { pub_endpoints, stream, plan->subscribers };
    zactor_t *actor = zactor_new (s_actor, &args);
    if (!actor)
        return -1;
    sender_results_t sender_results = { 0, 0, histogram_new () };
    uint64_t probes = 0;
    int rc = -1;
    int64_t ready_start = zclock_mono ();
    if (sender_results.commit_us
    &&  s_wait_ready (sender, receiver, actor, &probes) == 0) {
        int64_t ready_ms = zclock_mono () - ready_start;
        double load_start, load_end;
        if (getloadavg (&load_start, 1) != 1)
            load_start = -1;
        double seconds = s_send_all (sender, endpoints, receiver, plan, &sender_results);
        uint64_t expected = sender_results.sent * plan->subscribers;
        zsock_send (actor, "s88", "DRAIN", expected,
                    zclock_usecs () + (int64_t) plan->drain_ms * 1000);
        uint64_t received = 0, foreign = 0;
        histogram_t *latency_us = NULL;
        if (zsock_recv (actor, "88p", &received, &foreign, &latency_us) == 0 && latency_us) {
            if (getloadavg (&load_end, 1) != 1)
                load_end = -1;
            printf ("raftq-bench: fan-out of stream %s, %zu subscribers, %zu senders\n",
                    stream, plan->subscribers, plan->senders);
            printf ("  all subscribed after %" PRId64 " ms, %" PRIu64 " probes\n",
                    ready_ms, probes);
            printf ("  %-22s %" PRIu64 " in %.2f s = %.1f msgs/s (planned %.0f), %" PRIu64
                    " failed\n", "sent", sender_results.sent, seconds,
                    seconds > 0? (double) sender_results.sent / seconds: 0.0,
                    plan->rate, sender_results.failed);
            printf ("  %-22s expected %" PRIu64 "  received %" PRIu64 "  missing %" PRId64 "\n",
                    "deliveries", expected, received, (int64_t) (expected - received));
            s_print_latency ("delivery (send->recv)", latency_us);
            s_print_latency ("send (send->reply)", sender_results.commit_us);
            if (foreign)
                printf ("  %-22s %" PRIu64 "\n", "other events", foreign);
            printf ("  %-22s %.2f -> %.2f (%ld CPUs)\n", "load average", load_start,
                    load_end, sysconf (_SC_NPROCESSORS_ONLN));
            rc = 0;
        }
        histogram_destroy (&latency_us);
    }
    histogram_destroy (&sender_results.commit_us);
    zactor_destroy (&actor);
    return rc;
}
