/*  bench_queue — raftq-bench's publish, pop and stall modes: N client
    connections driven from one thread, each keeping M operations in
    flight, every reply matched to its operation by seq.
*/
#ifndef BENCH_QUEUE_H_INCLUDED
#define BENCH_QUEUE_H_INCLUDED

#include "bench_options.h"

//  Runs --mode publish, pop or stall against endpoints (NULL-terminated)
//  and prints the report. Returns the exit status.
int bench_queue_main (char **endpoints, const bench_options_t *options);

#endif
