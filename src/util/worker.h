/*  worker — what every actor thread (a worker beside the main thread) does
    the same way: carry a name, leave process signals to the main thread,
    and read commands from its pipe until told to stop.

    Shutdown is the main thread's call: SIGINT and SIGTERM must reach it,
    not whichever thread the kernel picks, so that it sends $TERM and the
    threads stop in a known order.
*/
#ifndef WORKER_H_INCLUDED
#define WORKER_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Names the calling thread (what top, perf and /proc show: at most 15
//  characters are kept) and blocks SIGINT and SIGTERM in it; call it
//  first thing in an actor's thread function.
void worker_begin (const char *name);

//  Waits for the next command on pipe (retrying when a signal interrupts).
//  Returns the command (caller frees) with *message_p holding the frames
//  after it (caller destroys); or NULL, *message_p NULL, when the worker
//  must stop: $TERM, an empty message, or the pipe is gone.
char *worker_next_command (zsock_t *pipe, zmsg_t **message_p);

#ifdef __cplusplus
}
#endif

#endif
