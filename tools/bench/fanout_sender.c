/*  fanout_sender — raftq-bench's paced, pipelined chat sender. Owns its
    DEALER connections and the schedule. It speaks the protobuf dialect
    itself (DESIGN 5: [empty][Request] on a DEALER) because libraftq has no
    asynchronous chat call; one synchronous call at a time per thread
    could not keep 1000/s once commits slow down under fan-out load, and
    the rate then measured the sender, not the cluster.
    Each connection has its own client id: the cluster keeps only the
    latest seq of a client, and requests of one client spread over several
    connections could arrive out of order.
*/
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>
#include <sodium.h>

#include "raftq.pb-c.h"
#include "fanout_sender.h"
#include "fanout_subscribers.h"

//  Longest request: the token and receiver are bounded by the cluster.
#define S_REQUEST_MAX 4096
//  A send this far behind its schedule counts as late.
#define S_LATE_US 1000
//  Wait between opening the connections and the first send.
#define S_HEAD_START_US 100000

//  Marks a message whose reply came (or that was never sent).
#define S_ANSWERED (-1)

struct _fanout_sender_t {
    zsock_t **dealers;               //  one per connection, to the leader
    void **sockets;                  //  the same, as libzmq handles
    struct pollfd *waits;            //  their ZMQ_FD descriptors, for ppoll
    uint64_t *client_ids;            //  per connection: its random client id
    size_t connections;              //  how many
    char *token;                     //  the sender's session
    char *receiver;                  //  account sent to
    int64_t *sent_us;                //  per message number: send time, S_ANSWERED once answered
    uint64_t planned;                //  messages in the schedule (slots in sent_us)
    fanout_sender_results_t results; //  of the last run
};

fanout_sender_t *
fanout_sender_new (const char *leader_endpoint, const char *token, const char *receiver,
                   size_t connections)
{
    fanout_sender_t *self = (fanout_sender_t *)calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    self->connections = connections ? connections : 1;
    self->dealers = (zsock_t **)calloc (self->connections, sizeof (zsock_t *));
    self->sockets = (void **)calloc (self->connections, sizeof (void *));
    self->waits = (struct pollfd *)calloc (self->connections, sizeof (struct pollfd));
    self->client_ids = (uint64_t *)calloc (self->connections, sizeof (uint64_t));
    self->token = strdup (token ? token : "");
    self->receiver = strdup (receiver);
    self->results.commit_us = histogram_new ();
    bool ok = self->dealers && self->sockets && self->waits && self->client_ids && self->token &&
              self->receiver && self->results.commit_us;
    for (size_t index = 0; ok && index < self->connections; index++) {
        zsock_t *dealer = zsock_new (ZMQ_DEALER);
        if (dealer) {
            //  Open loop: a backlog must queue, not fail the send.
            zsock_set_sndhwm (dealer, 0);
            zsock_set_rcvhwm (dealer, 0);
            zsock_set_linger (dealer, 0);
        }
        if (!dealer || zsock_connect (dealer, "%s", leader_endpoint) == -1) {
            fprintf (stderr, "raftq-bench: sender connection to %s: %s\n", leader_endpoint,
                     zmq_strerror (zmq_errno ()));
            zsock_destroy (&dealer);
            ok = false;
            break;
        }
        self->dealers[index] = dealer;
        self->sockets[index] = zsock_resolve (dealer);
        self->waits[index].fd = zsock_fd (dealer);
        self->waits[index].events = POLLIN;
        randombytes_buf (&self->client_ids[index], sizeof (uint64_t));
    }
    if (!ok)
        fanout_sender_destroy (&self);
    return self;
}

void
fanout_sender_destroy (fanout_sender_t **self_p)
{
    fanout_sender_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; self->dealers && index < self->connections; index++)
        zsock_destroy (&self->dealers[index]);
    free (self->dealers);
    free (self->sockets);
    free (self->waits);
    free (self->client_ids);
    free (self->token);
    free (self->receiver);
    free (self->sent_us);
    histogram_destroy (&self->results.commit_us);
    free (self);
    *self_p = NULL;
}

//  Takes one reply frame off connection: matched to its message by seq.
static void
s_take_reply (fanout_sender_t *self, size_t connection, zmq_msg_t *body)
{
    Raftq__Reply *reply =
        raftq__reply__unpack (NULL, zmq_msg_size (body), (const uint8_t *)zmq_msg_data (body));
    if (!reply || reply->seq == 0)
        return;
    uint64_t number = (reply->seq - 1) * self->connections + connection;
    if (number < self->planned && self->sent_us[number] != S_ANSWERED) {
        if (reply->code == RAFTQ__CODE__OK) {
            self->results.committed++;
            histogram_record (self->results.commit_us,
                              (uint64_t)(fanout_clock_us () - self->sent_us[number]));
        } else {
            self->results.refused++;
            if (reply->code == RAFTQ__CODE__TIMEOUT)
                self->results.timed_out++;
        }
        self->sent_us[number] = S_ANSWERED;
    }
    raftq__reply__free_unpacked (reply, NULL);
}

//  Takes every reply waiting on connection, without blocking. A receive
//  that finds nothing also consumes the socket's signal on its ZMQ_FD.
static void
s_take_replies (fanout_sender_t *self, size_t connection)
{
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    //  [empty][Reply]: the body is the last frame
    while (zmq_msg_recv (&frame, self->sockets[connection], ZMQ_DONTWAIT) != -1)
        if (!zmq_msg_more (&frame))
            s_take_reply (self, connection, &frame);
    zmq_msg_close (&frame);
}

//  Sends message number as request (connection number % connections,
//  seq number / connections + 1). Returns 0, or -1 if ZeroMQ refused it.
static int
s_send (fanout_sender_t *self, uint64_t number)
{
    size_t connection = (size_t)(number % self->connections);
    int64_t now = fanout_clock_us ();
    char text[40];
    snprintf (text, sizeof (text), "bench %" PRId64, now);
    Raftq__SendMessage send_message = RAFTQ__SEND_MESSAGE__INIT;
    send_message.to = self->receiver;
    send_message.text = text;
    Raftq__Request request = RAFTQ__REQUEST__INIT;
    request.client_id = self->client_ids[connection];
    request.seq = number / self->connections + 1;
    request.token = self->token;
    request.op_case = RAFTQ__REQUEST__OP_SEND_MESSAGE;
    request.send_message = &send_message;
    uint8_t body[S_REQUEST_MAX];
    size_t size = raftq__request__get_packed_size (&request);
    if (size > sizeof (body))
        return -1;
    raftq__request__pack (&request, body);
    void *socket = self->sockets[connection];
    if (zmq_send (socket, "", 0, ZMQ_SNDMORE) == -1 || zmq_send (socket, body, size, 0) == -1)
        return -1;
    self->sent_us[number] = now;
    self->results.sent++;
    //  Sending may have taken in the signal of replies already waiting:
    //  the ZMQ_FD would not wake us for them
    s_take_replies (self, connection);
    return 0;
}

//  Takes replies until the monotonic time until_us, sleeping in between:
//  ppoll on the sockets' ZMQ_FDs wakes at the microsecond the next send is
//  due, where zmq_poll would round to milliseconds.
static void
s_wait_until (fanout_sender_t *self, int64_t until_us)
{
    while (!zsys_interrupted) {
        int64_t remaining = until_us - fanout_clock_us ();
        if (remaining <= 0)
            return;
        struct timespec timeout = {remaining / 1000000, (remaining % 1000000) * 1000};
        if (ppoll (self->waits, self->connections, &timeout, NULL) > 0)
            for (size_t connection = 0; connection < self->connections; connection++)
                if (self->waits[connection].revents)
                    s_take_replies (self, connection);
    }
}

int
fanout_sender_run (fanout_sender_t *self, double rate, double duration_s, int drain_ms,
                   fanout_sender_results_t *results)
{
    histogram_t *commit_us = self->results.commit_us;
    memset (&self->results, 0, sizeof (self->results));
    self->results.commit_us = commit_us;
    self->planned = (uint64_t)(rate * duration_s);
    free (self->sent_us);
    self->sent_us = (int64_t *)malloc ((self->planned + 1) * sizeof (int64_t));
    if (!self->sent_us || rate <= 0) {
        fprintf (stderr, "raftq-bench: cannot plan %.0f messages\n", rate * duration_s);
        return -1;
    }
    for (uint64_t number = 0; number < self->planned; number++)
        self->sent_us[number] = S_ANSWERED;
    //  The connections were opened just now: their handshakes must not
    //  count in the first messages' latency
    int64_t start_us = fanout_clock_us () + S_HEAD_START_US;
    s_wait_until (self, start_us);
    int64_t last_us = start_us;
    for (uint64_t number = 0; number < self->planned && !zsys_interrupted; number++) {
        int64_t due_us = start_us + (int64_t)((double)number * 1e6 / rate);
        s_wait_until (self, due_us);
        last_us = fanout_clock_us ();
        if (last_us - due_us > S_LATE_US)
            self->results.late++;
        if (s_send (self, number) == -1) {
            fprintf (stderr, "raftq-bench: send: %s\n", zmq_strerror (zmq_errno ()));
            break;
        }
    }
    //  The last message's own interval counts: N sends span N periods
    self->results.seconds = (double)(last_us - start_us) / 1e6 + 1.0 / rate;
    int64_t drain_end = fanout_clock_us () + (int64_t)drain_ms * 1000;
    while (self->results.committed + self->results.refused < self->results.sent &&
           fanout_clock_us () < drain_end && !zsys_interrupted) {
        s_wait_until (self, fanout_clock_us () + 10000);
        for (size_t connection = 0; connection < self->connections; connection++)
            s_take_replies (self, connection);
    }
    self->results.unanswered = self->results.sent - self->results.committed - self->results.refused;
    *results = self->results;
    return 0;
}
