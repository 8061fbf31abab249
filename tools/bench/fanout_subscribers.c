/*  fanout_subscribers — the receiving side of raftq-bench's fan-out: owns
    the forked subscriber process, its SUB sockets and the protocol between
    it and raftq-bench over a socketpair.
    The child is forked, not executed: it must not touch the parent's
    ZeroMQ context or czmq state (their threads do not exist in the child),
    so it uses a context of its own through plain libzmq, and leaves with
    _exit so that no inherited atexit handler runs.
    Protocol, fixed-size records in this binary's layout:
        child -> parent   'R' once every socket saw an event, or 'F'
        parent -> child   command_t 'S' (start) or 'D' (drain)
        child -> parent   wire_report_t, then its samples as uint32_t us
    Each measured text is "bench <send time in us>" on CLOCK_MONOTONIC; the
    JSON event (third frame) carries it verbatim.
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "fanout_subscribers.h"

//  The text marker of a measured message and of a probe in the JSON event
//  (compact JSON: the text appears exactly like this).
#define S_MARKER "\"text\":\"bench "
#define S_PROBE  "\"text\":\"probe\""
//  The JSON event is the third frame of a published message.
#define S_JSON_FRAME 2
//  epoll events taken per wakeup.
#define S_EVENTS_MAX 256
//  epoll data of the control descriptor; sockets use their index.
#define S_CONTROL_KEY UINT64_MAX
//  Samples read per chunk when collecting.
#define S_CHUNK_SAMPLES 65536

struct _fanout_subscribers_t {
    pid_t pid;    //  the child, 0 once reaped
    int control;  //  our end of the socketpair
    size_t count; //  SUB sockets it holds
};

//  Parent -> child.
typedef struct {
    char kind;              //  'S' start, 'D' drain
    uint64_t messages_sent; //  drain: deliveries to wait for per socket
    int64_t idle_us;        //  drain: how long to wait past the last delivery
} command_t;

//  Child -> parent, before the samples.
typedef struct {
    uint64_t received; //  measured deliveries
    uint64_t foreign;  //  other events
    uint64_t wakeups;  //  epoll_wait returns since START
    uint64_t samples;  //  latencies that follow
    int64_t user_us;   //  CPU time since START, user
    int64_t system_us; //  and kernel
} wire_report_t;

//  The child's state.
typedef struct {
    int control;               //  its end of the socketpair
    void *context;             //  its own ZeroMQ context
    void **sockets;            //  the SUB sockets
    bool *seen;                //  per socket: any event received yet
    size_t count;              //  sockets
    size_t unseen;             //  sockets that saw nothing yet
    int epoll;                 //  the control descriptor and every socket's ZMQ_FD
    uint32_t *latencies;       //  one per measured delivery, us
    size_t latency_slots;      //  allocated
    wire_report_t report;      //  counts so far
    struct rusage start_usage; //  CPU time at START
    uint64_t expected;         //  DRAIN: deliveries to wait for
    int64_t idle_us;           //  DRAIN: how long to wait past the last delivery
    int64_t deadline_us;       //  DRAIN: when to stop waiting; 0 before
    const char *stream;        //  the subscription string
    int64_t resubscribe_us;    //  when sockets that saw nothing subscribe again
    int64_t resubscribe_wait;  //  the wait before that, us: doubles to a second
} child_t;

int
fanout_subscribers_gather (fanout_subscribers_t **processes, size_t count, uint64_t messages_sent,
                           int idle_ms, histogram_t *latency_us, fanout_subscribers_report_t *total)
{
    int rc = 0;
    bool *drained = (bool *)calloc (count ? count : 1, sizeof (bool));
    if (!drained)
        return -1;
    for (size_t index = 0; index < count; index++) {
        drained[index] = fanout_subscribers_drain (processes[index], messages_sent, idle_ms) == 0;
        rc = drained[index] ? rc : -1;
    }
    for (size_t index = 0; index < count; index++) {
        fanout_subscribers_report_t report;
        if (!drained[index] ||
            fanout_subscribers_collect (processes[index], latency_us, &report) == -1) {
            rc = -1;
            continue;
        }
        total->received += report.received;
        total->foreign += report.foreign;
        total->wakeups += report.wakeups;
        total->cpu_user_s += report.cpu_user_s;
        total->cpu_system_s += report.cpu_system_s;
    }
    free (drained);
    return rc;
}

double
fanout_cpu_seconds (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

int64_t
fanout_clock_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  Writes or reads all size bytes, across partial transfers and signals
//  (writing: data is only read). Returns 0, or -1 on error or end of file.
static int
s_transfer_all (int fd, void *data, size_t size, bool writing)
{
    char *at = (char *)data;
    while (size > 0) {
        ssize_t done = writing ? write (fd, at, size) : read (fd, at, size);
        if (done == -1 && errno == EINTR)
            continue;
        if (done <= 0)
            return -1;
        at += done;
        size -= (size_t)done;
    }
    return 0;
}

static int
s_write_all (int fd, const void *data, size_t size)
{
    return s_transfer_all (fd, (void *)data, size, true);
}

static int
s_read_all (int fd, void *data, size_t size)
{
    return s_transfer_all (fd, data, size, false);
}

static int64_t
s_timeval_us (struct timeval value)
{
    return (int64_t)value.tv_sec * 1000000 + value.tv_usec;
}

//  The latency of one measured delivery from its JSON event, or -1 if the
//  event is not a measured message.
static int64_t
s_latency_of (const char *data, size_t size, int64_t received_us)
{
    const char *marker = (const char *)memmem (data, size, S_MARKER, strlen (S_MARKER));
    if (!marker)
        return -1;
    const char *digit = marker + strlen (S_MARKER);
    int64_t sent_us = 0;
    size_t digits = 0;
    for (; digit < data + size && *digit >= '0' && *digit <= '9' && digits < 19; digit++, digits++)
        sent_us = sent_us * 10 + (*digit - '0');
    if (digits == 0)
        return -1;
    return received_us > sent_us ? received_us - sent_us : 0;
}

//  Keeps one latency. Returns -1 when out of memory.
static int
s_child_record (child_t *self, int64_t latency_us)
{
    if (self->report.samples == self->latency_slots) {
        size_t slots = self->latency_slots ? self->latency_slots * 2 : 65536;
        uint32_t *grown = (uint32_t *)realloc (self->latencies, slots * sizeof (uint32_t));
        if (!grown)
            return -1;
        self->latencies = grown;
        self->latency_slots = slots;
    }
    self->latencies[self->report.samples++] =
        latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
    self->report.received++;
    return 0;
}

//  Takes in one event's JSON frame from socket index.
static void
s_child_event (child_t *self, size_t index, zmq_msg_t *frame)
{
    const char *data = (const char *)zmq_msg_data (frame);
    size_t size = zmq_msg_size (frame);
    int64_t now = fanout_clock_us ();
    int64_t latency = s_latency_of (data, size, now);
    if (latency >= 0) {
        if (s_child_record (self, latency) == -1)
            self->report.foreign++; //  counted at least, as not measured
        //  Draining: a backlog that still arrives is not lost
        if (self->deadline_us)
            self->deadline_us = now + self->idle_us;
    } else if (!memmem (data, size, S_PROBE, strlen (S_PROBE)))
        self->report.foreign++;
    if (!self->seen[index]) {
        self->seen[index] = true;
        self->unseen--;
        if (self->unseen == 0)
            s_write_all (self->control, "R", 1);
    }
}

//  Reads every message waiting on socket index. A receive that finds
//  nothing has also consumed the socket's signal, so the level-triggered
//  epoll reports the socket again only when more arrives.
static void
s_child_drain_socket (child_t *self, size_t index)
{
    void *socket = self->sockets[index];
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    int frame_index = 0;
    while (zmq_msg_recv (&frame, socket, ZMQ_DONTWAIT) != -1) {
        if (frame_index == S_JSON_FRAME)
            s_child_event (self, index, &frame);
        frame_index = zmq_msg_more (&frame) ? frame_index + 1 : 0;
    }
    zmq_msg_close (&frame);
}

//  Sends the report and the samples. Returns 0, or -1 if the parent is gone.
static int
s_child_report (child_t *self)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    self->report.user_us =
        s_timeval_us (usage.ru_utime) - s_timeval_us (self->start_usage.ru_utime);
    self->report.system_us =
        s_timeval_us (usage.ru_stime) - s_timeval_us (self->start_usage.ru_stime);
    if (s_write_all (self->control, &self->report, sizeof (self->report)) == -1)
        return -1;
    if (self->report.samples && s_write_all (self->control, self->latencies,
                                             self->report.samples * sizeof (uint32_t)) == -1)
        return -1;
    return 0;
}

//  Takes one command from the parent. Returns -1 if the parent is gone.
static int
s_child_command (child_t *self)
{
    command_t command;
    if (s_read_all (self->control, &command, sizeof (command)) == -1)
        return -1;
    if (command.kind == 'S') {
        self->report.wakeups = 0;
        getrusage (RUSAGE_SELF, &self->start_usage);
    } else if (command.kind == 'D') {
        self->expected = command.messages_sent * self->count;
        self->idle_us = command.idle_us;
        self->deadline_us = fanout_clock_us () + command.idle_us;
    }
    return 0;
}

//  Opens the sockets and the epoll set. Returns 0, or -1 after saying why.
static int
s_child_open (child_t *self, char **pub_endpoints, const char *stream, size_t first, size_t stride)
{
    size_t endpoint_count = 0;
    while (pub_endpoints[endpoint_count])
        endpoint_count++;
    self->context = zmq_ctx_new ();
    self->sockets = (void **)calloc (self->count, sizeof (void *));
    self->seen = (bool *)calloc (self->count, sizeof (bool));
    self->epoll = epoll_create1 (EPOLL_CLOEXEC);
    if (!self->context || !self->sockets || !self->seen || self->epoll == -1 || !endpoint_count) {
        fprintf (stderr, "raftq-bench: subscriber process: out of resources\n");
        return -1;
    }
    zmq_ctx_set (self->context, ZMQ_MAX_SOCKETS, (int)self->count + 16);
    struct epoll_event control = {.events = EPOLLIN, .data.u64 = S_CONTROL_KEY};
    epoll_ctl (self->epoll, EPOLL_CTL_ADD, self->control, &control);
    for (size_t index = 0; index < self->count; index++) {
        const char *endpoint = pub_endpoints[(first + index * stride) % endpoint_count];
        void *socket = zmq_socket (self->context, ZMQ_SUB);
        int linger = 0;
        int fd = -1;
        size_t fd_size = sizeof (fd);
        if (!socket || zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof (linger)) ||
            zmq_setsockopt (socket, ZMQ_SUBSCRIBE, stream, strlen (stream)) ||
            zmq_connect (socket, endpoint) || zmq_getsockopt (socket, ZMQ_FD, &fd, &fd_size)) {
            fprintf (stderr, "raftq-bench: SUB %zu to %s: %s\n", first + index * stride, endpoint,
                     zmq_strerror (zmq_errno ()));
            if (socket)
                zmq_close (socket);
            return -1;
        }
        self->sockets[index] = socket;
        struct epoll_event readable = {.events = EPOLLIN, .data.u64 = index};
        if (epoll_ctl (self->epoll, EPOLL_CTL_ADD, fd, &readable) == -1) {
            fprintf (stderr, "raftq-bench: epoll: %s\n", strerror (errno));
            return -1;
        }
    }
    return 0;
}

static void
s_child_close (child_t *self)
{
    for (size_t index = 0; self->sockets && index < self->count; index++)
        if (self->sockets[index])
            zmq_close (self->sockets[index]);
    if (self->context)
        zmq_ctx_term (self->context);
    if (self->epoll != -1)
        close (self->epoll);
    free (self->sockets);
    free (self->seen);
    free (self->latencies);
}

//  First wait before a socket that saw nothing subscribes again, and the
//  longest (README "Authorized chat streams": the node that took the
//  subscription may not have applied the Login yet, and applies a private
//  subscription only as it arrives; a subscriber that sees no
//  confirmation unsubscribes and subscribes again).
#define S_RESUBSCRIBE_FIRST_US (50 * 1000)
#define S_RESUBSCRIBE_MAX_US   (1000 * 1000)

//  Every socket that saw no event yet (not even the confirmation)
//  unsubscribes and subscribes again; the next time is twice as far.
static void
s_child_resubscribe (child_t *self)
{
    size_t length = strlen (self->stream);
    for (size_t index = 0; index < self->count; index++)
        if (!self->seen[index]) {
            zmq_setsockopt (self->sockets[index], ZMQ_UNSUBSCRIBE, self->stream, length);
            zmq_setsockopt (self->sockets[index], ZMQ_SUBSCRIBE, self->stream, length);
        }
    self->resubscribe_wait = self->resubscribe_wait * 2 < S_RESUBSCRIBE_MAX_US
                                 ? self->resubscribe_wait * 2
                                 : S_RESUBSCRIBE_MAX_US;
    self->resubscribe_us = fanout_clock_us () + self->resubscribe_wait;
}

//  Serves the parent until the report is sent (returns 0) or the parent is
//  gone or epoll fails (returns 1).
static int
s_child_serve (child_t *self)
{
    self->resubscribe_wait = S_RESUBSCRIBE_FIRST_US;
    self->resubscribe_us = fanout_clock_us () + self->resubscribe_wait;
    while (true) {
        int timeout_ms = -1;
        if (self->unseen > 0) {
            int64_t now = fanout_clock_us ();
            if (now >= self->resubscribe_us)
                s_child_resubscribe (self);
            timeout_ms = (int)((self->resubscribe_us - now) / 1000) + 1;
        }
        if (self->deadline_us) {
            int64_t now = fanout_clock_us ();
            if (self->report.received >= self->expected || now >= self->deadline_us)
                return s_child_report (self) == 0 ? 0 : 1;
            timeout_ms = (int)((self->deadline_us - now) / 1000) + 1;
        }
        struct epoll_event events[S_EVENTS_MAX];
        int ready = epoll_wait (self->epoll, events, S_EVENTS_MAX, timeout_ms);
        if (ready == -1 && errno == EINTR)
            continue;
        if (ready == -1)
            return 1;
        self->report.wakeups++;
        for (int event = 0; event < ready; event++) {
            if (events[event].data.u64 != S_CONTROL_KEY)
                s_child_drain_socket (self, (size_t)events[event].data.u64);
            else if (s_child_command (self) == -1)
                return 1;
        }
    }
}

//  The child's whole life; returns its exit code.
static int
s_child_run (int control, char **pub_endpoints, const char *stream, size_t first, size_t stride,
             size_t count)
{
    //  czmq's handlers only set a flag this process never reads.
    signal (SIGINT, SIG_DFL);
    signal (SIGTERM, SIG_DFL);
    child_t self;
    memset (&self, 0, sizeof (self));
    self.control = control;
    self.stream = stream;
    self.count = count;
    self.unseen = count;
    self.epoll = -1;
    int rc = 1;
    if (s_child_open (&self, pub_endpoints, stream, first, stride) == -1)
        s_write_all (control, "F", 1);
    else
        rc = s_child_serve (&self);
    s_child_close (&self);
    return rc;
}

fanout_subscribers_t *
fanout_subscribers_new (char **pub_endpoints, const char *stream, size_t first, size_t stride,
                        size_t count)
{
    int pair[2];
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1) {
        fprintf (stderr, "raftq-bench: socketpair: %s\n", strerror (errno));
        return NULL;
    }
    //  Whatever stdio holds must not be written twice.
    fflush (stdout);
    fflush (stderr);
    pid_t pid = fork ();
    if (pid == 0) {
        //  Inherited descriptors would keep the parent's connections and
        //  the other children's control ends open: only ours stays.
        unsigned int kept = (unsigned int)pair[1];
        if (kept > 3)
            close_range (3, kept - 1, 0);
        close_range (kept + 1, ~0U, 0);
        _exit (s_child_run (pair[1], pub_endpoints, stream, first, stride, count));
    }
    close (pair[1]);
    fanout_subscribers_t *self =
        pid > 0 ? (fanout_subscribers_t *)calloc (1, sizeof (*self)) : NULL;
    if (!self) {
        fprintf (stderr, "raftq-bench: cannot start a subscriber process: %s\n", strerror (errno));
        close (pair[0]);
        if (pid > 0) {
            kill (pid, SIGKILL);
            waitpid (pid, NULL, 0);
        }
        return NULL;
    }
    self->pid = pid;
    self->control = pair[0];
    self->count = count;
    return self;
}

void
fanout_subscribers_destroy (fanout_subscribers_t **self_p)
{
    fanout_subscribers_t *self = *self_p;
    if (!self)
        return;
    //  Closing the socketpair tells a child still waiting to leave; one
    //  stuck elsewhere is ended.
    close (self->control);
    if (self->pid > 0 && waitpid (self->pid, NULL, WNOHANG) == 0) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep (&pause, NULL);
        if (waitpid (self->pid, NULL, WNOHANG) == 0) {
            kill (self->pid, SIGKILL);
            waitpid (self->pid, NULL, 0);
        }
    }
    free (self);
    *self_p = NULL;
}

int
fanout_subscribers_fd (fanout_subscribers_t *self)
{
    return self->control;
}

size_t
fanout_subscribers_count (fanout_subscribers_t *self)
{
    return self->count;
}

int
fanout_subscribers_ready (fanout_subscribers_t *self)
{
    char signal = 0;
    if (s_read_all (self->control, &signal, 1) == -1 || signal != 'R')
        return -1;
    return 0;
}

static int
s_command (fanout_subscribers_t *self, char kind, uint64_t messages_sent, int64_t idle_us)
{
    command_t command;
    memset (&command, 0, sizeof (command));
    command.kind = kind;
    command.messages_sent = messages_sent;
    command.idle_us = idle_us;
    if (s_write_all (self->control, &command, sizeof (command)) == -1) {
        fprintf (stderr, "raftq-bench: subscriber process %d is gone\n", (int)self->pid);
        return -1;
    }
    return 0;
}

int
fanout_subscribers_start (fanout_subscribers_t *self)
{
    return s_command (self, 'S', 0, 0);
}

int
fanout_subscribers_drain (fanout_subscribers_t *self, uint64_t messages_sent, int idle_ms)
{
    return s_command (self, 'D', messages_sent, (int64_t)idle_ms * 1000);
}

int
fanout_subscribers_collect (fanout_subscribers_t *self, histogram_t *latency_us,
                            fanout_subscribers_report_t *report)
{
    memset (report, 0, sizeof (*report));
    wire_report_t wire;
    uint32_t *chunk = (uint32_t *)malloc (S_CHUNK_SAMPLES * sizeof (uint32_t));
    int rc = chunk && s_read_all (self->control, &wire, sizeof (wire)) == 0 ? 0 : -1;
    for (uint64_t done = 0; rc == 0 && done < wire.samples;) {
        size_t take =
            wire.samples - done < S_CHUNK_SAMPLES ? (size_t)(wire.samples - done) : S_CHUNK_SAMPLES;
        rc = s_read_all (self->control, chunk, take * sizeof (uint32_t));
        for (size_t index = 0; rc == 0 && index < take; index++)
            histogram_record (latency_us, chunk[index]);
        done += take;
    }
    free (chunk);
    if (rc == -1) {
        fprintf (stderr, "raftq-bench: no report from subscriber process %d\n", (int)self->pid);
        return -1;
    }
    report->received = wire.received;
    report->foreign = wire.foreign;
    report->wakeups = wire.wakeups;
    report->cpu_user_s = (double)wire.user_us / 1e6;
    report->cpu_system_s = (double)wire.system_us / 1e6;
    if (waitpid (self->pid, NULL, 0) == self->pid)
        self->pid = 0;
    return 0;
}
