/*  io_threads — a node's sockets pinned to I/O threads by lane; see
    io_threads.h.
*/
#include "util/io_threads.h"

#include "util/thread_priority.h"

void
io_threads_setup (void)
{
    zsys_set_io_threads (IO_LANES);
}

int
io_threads_raise (io_lane_t lane, thread_priority_t wanted)
{
    //  libzmq 4.3 names its I/O threads by their index, which is the
    //  affinity bit io_threads_pin uses
    char name[32];
    snprintf (name, sizeof name, "ZMQbg/IO/%d", (int)lane);
    return thread_priority_raise_named (name, wanted);
}

void
io_threads_pin (zsock_t *socket, io_lane_t lane)
{
    if (zmq_ctx_get (zsys_init (), ZMQ_IO_THREADS) >= IO_LANES)
        zsock_set_affinity (socket, 1 << lane);
}
