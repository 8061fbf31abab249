/*  bench_options — raftq-bench's command line: the modes, what each
    option sets, and the cluster's client endpoints it names.
*/
#ifndef BENCH_OPTIONS_H_INCLUDED
#define BENCH_OPTIONS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout.h"

#define BENCH_EXIT_USAGE    2
#define BENCH_ENDPOINTS_MAX 64

typedef enum {
    BENCH_MODE_QUEUE,   //  publish, or pop with --pop
    BENCH_MODE_READ,    //  ListTopics: linearizable reads without the log
    BENCH_MODE_CHAT,    //  SendMessage between two accounts
    BENCH_MODE_FANOUT,  //  SendMessage delivered to many subscribers
    BENCH_MODE_STALL,   //  publish, with replies per window and the longest gap
    BENCH_MODE_RESTART, //  fill, then kill and respawn a node and time it
    BENCH_MODE_CONSUME  //  fill, then pop half and reserve+ack the other half
} bench_mode_t;

//  What the command line asked for.
typedef struct {
    bench_mode_t mode;                          //  --mode
    const char *config_path;                    //  -c
    const char *endpoints[BENCH_ENDPOINTS_MAX]; //  -e, replace the config's nodes
    size_t endpoint_count;                      //  how many -e
    int connections;                            //  client connections
    int in_flight;                              //  operations each keeps outstanding
    size_t size;                                //  publish payload bytes
    double duration_s;                          //  measured phase
    double warmup_s;                            //  unmeasured phase before it
    const char *topic;                          //  topic published to / popped from
    bool pop;                                   //  drain the topic instead of publishing
    bool json;                                  //  publish or read in the JSON dialect
    bool reserve;         //  consume: reserve and ack instead of popping (set by the mode)
    const char *sender;   //  chat and fanout: account that sends
    const char *receiver; //  chat and fanout: account that receives
    fanout_plan_t fanout; //  --subscribers, --rate, duration, drain
    int op_timeout_ms;    //  an operation unanswered this long is lost
    uint64_t count;       //  publish: stop after sending this many (0: no limit);
                          //  consume: messages each way (0: BENCH_CONSUME_MESSAGES)
    int window_ms;        //  stall: width of a throughput window
    bool timeline;        //  stall: print every window
    uint32_t node_id;     //  restart: the node killed and respawned
    int runs;             //  restart: kills and respawns
    const char *raftqd;   //  restart: the broker executable
    bool snapshot_first;  //  restart: TakeSnapshot before each kill
} bench_options_t;

//  Parses argv into options (defaults for what it does not name). Returns
//  -1 to go on, or the exit status to stop with (after --help or a bad
//  option, said on stderr).
int bench_options_parse (int argc, char **argv, bench_options_t *options);

//  The config the cluster runs with, NULL when -e named the endpoints.
const char *bench_options_config (const bench_options_t *options);

//  The cluster's client endpoints (-e, else the config's nodes) as a
//  NULL-terminated list to free with raftq_strings_free, or NULL after
//  saying why.
char **bench_options_endpoints (const bench_options_t *options);

#endif
