/*  io_threads — a node's sockets pinned to I/O threads by lane; see
    io_threads.h.
*/
#include "util/io_threads.h"

void
io_threads_setup (void)
{
    zsys_set_io_threads (IO_LANES);
}

void
io_threads_pin (zsock_t *socket, io_lane_t lane)
{
    if (zmq_ctx_get (zsys_init (), ZMQ_IO_THREADS) >= IO_LANES)
        zsock_set_affinity (socket, 1 << lane);
}
