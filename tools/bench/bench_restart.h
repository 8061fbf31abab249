/*  bench_restart — raftq-bench's restart mode: fill, then kill a node and
    time its restart to ready (see raftq_bench.c).
*/
#ifndef BENCH_RESTART_H_INCLUDED
#define BENCH_RESTART_H_INCLUDED

#include "bench_options.h"

//  Runs --mode restart against endpoints (NULL-terminated, the config's)
//  and prints a row per run and the medians. Returns the exit status.
int bench_restart_main (char **endpoints, const bench_options_t *options);

#endif
