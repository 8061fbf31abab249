/*  event_loop — epoll around ZeroMQ sockets, descriptors and timers; see
    event_loop.h.

    The rule that keeps it from missing input: a ZeroMQ socket's ZMQ_FD
    signals once when commands reach its mailbox, and any call on the
    socket (a send too, every millisecond or so) may take those commands
    and the signal with them, leaving input queued behind a descriptor that
    stays quiet. So after every turn that ran a handler the loop asks each
    socket for its events once; a socket with input left is served in the
    next turn without waiting. A turn without handlers (a descriptor woke
    for output only) touched no socket and asks nothing. A quiet socket
    (event_loop_socket_quiet) is asked only after a turn that ran its
    handler or reported a call on it: its owner says where it touches it.
*/
#include "util/event_loop.h"

#include <sys/epoll.h>

//  Descriptors taken from one epoll_wait.
#define EVENT_BATCH 32

typedef struct {
    zsock_t *socket;                      //  the socket, or NULL for a plain descriptor
    int fd;                               //  the descriptor epoll watches
    event_loop_socket_fn *socket_handler; //  called for a socket with input
    event_loop_fd_fn *fd_handler;         //  called for a readable descriptor
    void *argument;                       //  the handlers' argument
    bool fired;                           //  epoll reported the descriptor this turn
    bool ask;                             //  the socket must be asked for input
    bool has_input;                       //  the socket had input when last asked
    bool quiet;                           //  asked after a turn only when touched in it
    bool touched;                         //  its handler ran, or a call on it was reported
    bool ended;                           //  no longer watched; freed after the turn
} s_watch_t;

typedef struct {
    int interval_ms;              //  period, 0 for an alarm (fires once)
    int64_t due;                  //  next firing, zclock_mono milliseconds
    event_loop_timer_fn *handler; //  called when due
    void *argument;               //  its argument
} s_timer_t;

struct _event_loop_t {
    int epoll_fd;          //  waits on every watched descriptor
    s_watch_t **watches;   //  what is watched, in the order added
    size_t watch_count;    //  used entries of watches
    size_t watch_capacity; //  allocated entries of watches
    bool watches_ended;    //  some watch ended this turn
    s_timer_t *timers;     //  repeating timers and pending alarms
    size_t timer_count;    //  used entries of timers
    uint64_t waits;        //  epoll_wait calls so far
};

event_loop_t *
event_loop_new (void)
{
    event_loop_t *self = calloc (1, sizeof (event_loop_t));
    if (!self)
        return NULL;
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epoll_fd == -1) {
        free (self);
        return NULL;
    }
    return self;
}

void
event_loop_destroy (event_loop_t **self_p)
{
    if (*self_p) {
        event_loop_t *self = *self_p;
        for (size_t position = 0; position < self->watch_count; position++)
            free (self->watches[position]);
        free (self->watches);
        free (self->timers);
        close (self->epoll_fd);
        free (self);
        *self_p = NULL;
    }
}

static int
s_watch (event_loop_t *self, s_watch_t *watch)
{
    if (self->watch_count == self->watch_capacity) {
        size_t capacity = self->watch_capacity ? self->watch_capacity * 2 : 8;
        s_watch_t **watches = realloc (self->watches, capacity * sizeof (s_watch_t *));
        if (!watches)
            return -1;
        self->watches = watches;
        self->watch_capacity = capacity;
    }
    s_watch_t *copy = malloc (sizeof (s_watch_t));
    if (!copy)
        return -1;
    *copy = *watch;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = copy};
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, copy->fd, &event)) {
        free (copy);
        return -1;
    }
    self->watches[self->watch_count++] = copy;
    return 0;
}

static int
s_watch_socket (event_loop_t *self, zsock_t *socket, event_loop_socket_fn *handler, void *argument,
                bool quiet)
{
    //  Input may already be queued, with its signal long taken
    s_watch_t watch = {.socket = socket,
                       .fd = zsock_fd (socket),
                       .socket_handler = handler,
                       .argument = argument,
                       .ask = true,
                       .quiet = quiet};
    return watch.fd == -1 ? -1 : s_watch (self, &watch);
}

int
event_loop_socket (event_loop_t *self, zsock_t *socket, event_loop_socket_fn *handler,
                   void *argument)
{
    return s_watch_socket (self, socket, handler, argument, false);
}

int
event_loop_socket_quiet (event_loop_t *self, zsock_t *socket, event_loop_socket_fn *handler,
                         void *argument)
{
    return s_watch_socket (self, socket, handler, argument, true);
}

void
event_loop_touched (event_loop_t *self, zsock_t *socket)
{
    for (size_t position = 0; self && position < self->watch_count; position++)
        if (self->watches[position]->socket == socket)
            self->watches[position]->touched = true;
}

int
event_loop_fd (event_loop_t *self, int fd, event_loop_fd_fn *handler, void *argument)
{
    s_watch_t watch = {.fd = fd, .fd_handler = handler, .argument = argument};
    return s_watch (self, &watch);
}

void
event_loop_fd_end (event_loop_t *self, int fd)
{
    for (size_t position = 0; position < self->watch_count; position++) {
        s_watch_t *watch = self->watches[position];
        if (!watch->socket && !watch->ended && watch->fd == fd) {
            epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
            watch->ended = true;
            self->watches_ended = true;
        }
    }
}

static int
s_add_timer (event_loop_t *self, int interval_ms, int delay_ms, event_loop_timer_fn *handler,
             void *argument)
{
    s_timer_t *timers = realloc (self->timers, (self->timer_count + 1) * sizeof (s_timer_t));
    if (!timers)
        return -1;
    self->timers = timers;
    if (delay_ms < 1)
        delay_ms = 1;
    self->timers[self->timer_count++] =
        (s_timer_t){interval_ms, zclock_mono () + delay_ms, handler, argument};
    return 0;
}

int
event_loop_timer (event_loop_t *self, int interval_ms, event_loop_timer_fn *handler, void *argument)
{
    if (interval_ms < 1)
        interval_ms = 1;
    return s_add_timer (self, interval_ms, interval_ms, handler, argument);
}

int
event_loop_alarm (event_loop_t *self, int delay_ms, event_loop_timer_fn *handler, void *argument)
{
    return s_add_timer (self, 0, delay_ms, handler, argument);
}

void
event_loop_alarm_cancel (event_loop_t *self, event_loop_timer_fn *handler, void *argument)
{
    size_t position = 0;
    while (position < self->timer_count) {
        s_timer_t *timer = &self->timers[position];
        if (timer->interval_ms == 0 && timer->handler == handler && timer->argument == argument)
            *timer = self->timers[--self->timer_count];
        else
            position++;
    }
}

uint64_t
event_loop_waits (event_loop_t *self)
{
    return self->waits;
}

//  Milliseconds epoll may wait: none while a socket has input left or must
//  be asked, else until the next timer (forever without timers).
static int
s_wait_ms (event_loop_t *self)
{
    for (size_t position = 0; position < self->watch_count; position++)
        if (self->watches[position]->has_input || self->watches[position]->ask)
            return 0;
    if (self->timer_count == 0)
        return -1;
    int64_t due = self->timers[0].due;
    for (size_t position = 1; position < self->timer_count; position++)
        if (self->timers[position].due < due)
            due = self->timers[position].due;
    int64_t wait = due - zclock_mono ();
    return wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}

//  Whether socket has a message queued (this may take its mailbox's
//  commands, and the signal with them).
static bool
s_has_input (zsock_t *socket)
{
    return (zsock_events (socket) & ZMQ_POLLIN) != 0;
}

//  Serves the descriptors that fired and the sockets with input, in the
//  order added. Returns how many handlers ran, or -1 when one asked to end.
static int
s_serve_watches (event_loop_t *self)
{
    int served = 0;
    //  Handlers may add watches: only those there at the start are served
    size_t count = self->watch_count;
    for (size_t position = 0; position < count; position++) {
        s_watch_t *watch = self->watches[position];
        bool fired = watch->fired;
        watch->fired = false;
        if (watch->ended)
            continue;
        int rc = 0;
        if (watch->socket) {
            bool has_input =
                watch->has_input || ((fired || watch->ask) && s_has_input (watch->socket));
            watch->has_input = watch->ask = false;
            if (!has_input)
                continue;
            watch->touched = true;
            rc = watch->socket_handler (self, watch->socket, watch->argument);
        } else if (fired)
            rc = watch->fd_handler (self, watch->fd, watch->argument);
        else
            continue;
        served++;
        if (rc == -1)
            return -1;
    }
    return served;
}

//  Runs the timers that are due, each once however late. Returns how many
//  ran, or -1 when one asked to end.
static int
s_serve_timers (event_loop_t *self)
{
    int served = 0;
    int64_t now = zclock_mono ();
    size_t position = 0;
    while (position < self->timer_count) {
        s_timer_t *timer = &self->timers[position];
        if (timer->due > now) {
            position++;
            continue;
        }
        //  Copied: the handler may add timers, which moves the array
        event_loop_timer_fn *handler = timer->handler;
        void *argument = timer->argument;
        if (timer->interval_ms == 0)
            //  An alarm is gone once due; the last entry takes its place
            //  and is looked at next
            *timer = self->timers[--self->timer_count];
        else {
            //  On the grid, but never a burst to catch up after a stall
            timer->due += timer->interval_ms;
            if (timer->due <= now)
                timer->due = now + timer->interval_ms;
            position++;
        }
        served++;
        if (handler (self, argument) == -1)
            return -1;
    }
    return served;
}

//  Frees the watches ended this turn, keeping the order of the others.
static void
s_sweep (event_loop_t *self)
{
    size_t kept = 0;
    for (size_t position = 0; position < self->watch_count; position++) {
        s_watch_t *watch = self->watches[position];
        if (watch->ended)
            free (watch);
        else
            self->watches[kept++] = watch;
    }
    self->watch_count = kept;
    self->watches_ended = false;
}

int
event_loop_run (event_loop_t *self)
{
    struct epoll_event events[EVENT_BATCH];
    while (true) {
        self->waits++;
        int ready = epoll_wait (self->epoll_fd, events, EVENT_BATCH, s_wait_ms (self));
        //  A stop and continue (SIGSTOP, SIGCONT) interrupts the wait too,
        //  with nothing to act on: only czmq's interrupt flag ends the run
        if (ready == -1 && errno == EINTR && !zsys_interrupted)
            continue;
        if (ready == -1)
            return errno == EINTR ? 0 : -1;
        for (int position = 0; position < ready; position++)
            ((s_watch_t *)events[position].data.ptr)->fired = true;

        int watches_served = s_serve_watches (self);
        int timers_served = watches_served == -1 ? 0 : s_serve_timers (self);
        if (self->watches_ended)
            s_sweep (self);
        if (watches_served == -1 || timers_served == -1)
            return -1;
        if (watches_served + timers_served == 0)
            continue;
        //  Handlers may have taken a socket's wake-up with a send: ask them
        //  all, but a quiet socket only if something touched it
        for (size_t position = 0; position < self->watch_count; position++) {
            s_watch_t *watch = self->watches[position];
            if (watch->socket && !watch->has_input && (!watch->quiet || watch->touched))
                watch->has_input = s_has_input (watch->socket);
            watch->touched = false;
        }
    }
}
