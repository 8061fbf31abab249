/*  bench_chat — raftq-bench's chat and fanout modes: a client logged in
    as the sender (both accounts created), then SendMessage one at a time
    (chat) or the fan-out measurement of fanout.h.
*/
#ifndef BENCH_CHAT_H_INCLUDED
#define BENCH_CHAT_H_INCLUDED

#include "bench_options.h"

//  Runs --mode chat or fanout against endpoints (NULL-terminated) and
//  prints the report. Returns the exit status.
int bench_chat_main (char **endpoints, const bench_options_t *options);

#endif
