/*  event_loop — the reactor of a thread that serves ZeroMQ sockets, plain
    file descriptors and timers; the broker and the Raft actor run on it in
    place of zloop.

    Why not zloop: it waits in zmq_poll, which asks every socket for its
    events (ZMQ_EVENTS) before and after each wait. With nothing queued each
    ask costs libzmq a poll and a getpid, so a wake of a thread with four
    sockets paid about twenty system calls before any work, most of a
    write's cost on a machine where a system call is slow. This loop waits
    in epoll on the sockets' notification descriptors (ZMQ_FD) and asks a
    socket only when its descriptor fired or when the thread's own work may
    have hidden a wake-up from it (see event_loop.c).

    Timers repeat on a fixed grid (due times do not drift with handler
    time), so timers whose periods divide one another fire in one wake.
*/
#ifndef EVENT_LOOP_H_INCLUDED
#define EVENT_LOOP_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _event_loop_t event_loop_t;

//  A handler returns 0 to go on, -1 to end event_loop_run.
//  A socket handler is called when the socket has a message queued; it may
//  read as many as it likes (it need not read them all). Where other code
//  of the thread reads the socket too, it may find none (an earlier handler
//  of the turn read it) and must read without waiting; reading until a read
//  finds nothing costs libzmq one ask, against one per message for asking
//  ZMQ_EVENTS before each read.
typedef int (event_loop_socket_fn) (event_loop_t *loop, zsock_t *socket, void *argument);
//  A descriptor handler is called while fd is readable or hung up.
typedef int (event_loop_fd_fn) (event_loop_t *loop, int fd, void *argument);
typedef int (event_loop_timer_fn) (event_loop_t *loop, void *argument);

//  A loop with nothing to watch, or NULL when out of memory or descriptors.
event_loop_t *event_loop_new (void);

void event_loop_destroy (event_loop_t **self_p);

//  Calls handler whenever socket has input. Sockets are served in the order
//  they were added. Returns 0, or -1 (out of memory, or no descriptor).
int event_loop_socket (event_loop_t *self, zsock_t *socket, event_loop_socket_fn *handler,
                       void *argument);

//  Like event_loop_socket, for a socket the thread seldom touches outside
//  its handler: the loop asks it for input after a turn only when its
//  handler ran or event_loop_touched named it in the turn, not after every
//  turn. Every call on it outside its handler (a send, or a read that may
//  leave input) must be reported: an unreported one may hide input from
//  the loop until the socket's next wake-up, perhaps for good.
int event_loop_socket_quiet (event_loop_t *self, zsock_t *socket, event_loop_socket_fn *handler,
                             void *argument);

//  Reports a call on a quiet socket that may have taken its wake-up (see
//  event_loop_socket_quiet). Nothing for any other socket, or when self is
//  NULL (a loop not made yet watches nothing).
void event_loop_touched (event_loop_t *self, zsock_t *socket);

//  Calls handler whenever fd is readable, at end of file or in error.
//  Returns 0 or -1.
int event_loop_fd (event_loop_t *self, int fd, event_loop_fd_fn *handler, void *argument);

//  Stops watching fd; safe inside any handler, fd's own included.
void event_loop_fd_end (event_loop_t *self, int fd);

//  Calls handler every interval_ms (at least 1) from now on. Returns 0 or -1.
int event_loop_timer (event_loop_t *self, int interval_ms, event_loop_timer_fn *handler,
                      void *argument);

//  Calls handler once, delay_ms (at least 1) from now. Returns 0 or -1.
int event_loop_alarm (event_loop_t *self, int delay_ms, event_loop_timer_fn *handler,
                      void *argument);

//  Takes back the alarms of handler and argument not yet fired: an alarm
//  that became needless would still wake the thread. Safe inside any
//  handler (another alarm due in the same turn may then fire in the next).
void event_loop_alarm_cancel (event_loop_t *self, event_loop_timer_fn *handler, void *argument);

//  Serves until a handler returns -1 (returns -1) or a signal that set
//  czmq's zsys_interrupted (SIGINT, SIGTERM) interrupts the wait (returns 0:
//  the caller decides whether to run again). Other interruptions, such as
//  a stop and continue, are waited through.
int event_loop_run (event_loop_t *self);

//  How many times the loop has waited: for tests and benchmarks.
uint64_t event_loop_waits (event_loop_t *self);

#ifdef __cplusplus
}
#endif

#endif
