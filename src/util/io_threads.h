/*  io_threads — which of libzmq's I/O threads carries which of a node's
    TCP sockets. One I/O thread serves every connection of its sockets in
    turn, so a socket with bulk traffic delays the others on its thread:
    with a thousand subscribers, the fan-out's writes kept Raft's
    heartbeat replies waiting past the leader's check-quorum. Each lane
    has an I/O thread of its own: peers (Raft, small and urgent), clients
    (requests and replies), fan-out (events to subscribers).
*/
#ifndef IO_THREADS_H_INCLUDED
#define IO_THREADS_H_INCLUDED

#include <czmq.h>

#include "util/thread_priority.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IO_LANE_CLIENTS = 0, //  the client port
    IO_LANE_PEERS = 1,   //  Raft's peer links, both ways
    IO_LANE_FANOUT = 2,  //  the PUB port
    IO_LANES = 3
} io_lane_t;

//  Gives czmq's context one I/O thread per lane. Before the process's first
//  socket: czmq asserts that none is open when the context is remade.
void io_threads_setup (void);

//  Raises lane's I/O thread as far as wanted and allowed
//  (thread_priority.h), once the context has started its threads (after
//  the first socket). Returns the priority it got, or -1 with errno set.
int io_threads_raise (io_lane_t lane, thread_priority_t wanted);

//  Pins socket to its lane's I/O thread, before it binds or connects. In
//  a process whose context has fewer threads than lanes (a test, a tool)
//  the socket is left to libzmq's choice: asking for a thread that does not
//  exist would make its bind fail.
void io_threads_pin (zsock_t *socket, io_lane_t lane);

#ifdef __cplusplus
}
#endif

#endif
