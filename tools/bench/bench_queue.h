/*  bench_queue — raftq-bench's publish, pop, stall and consume modes: N
    client connections driven from one thread, each keeping M operations
    in flight, every reply matched to its operation by seq.
*/
#ifndef BENCH_QUEUE_H_INCLUDED
#define BENCH_QUEUE_H_INCLUDED

#include "bench_options.h"

//  --mode consume: messages each way when --count names none
#define BENCH_CONSUME_MESSAGES 20000
//  --mode consume: the share of pop's throughput reserve+ack aims at (issue 14)
#define BENCH_CONSUME_AIM 0.45

//  Runs --mode publish, pop, stall or consume against endpoints (NULL-terminated)
//  and prints the report. Returns the exit status.
int bench_queue_main (char **endpoints, const bench_options_t *options);

#endif
