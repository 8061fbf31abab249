/*  bench_options — raftq-bench's command line, parsed in three groups:
    the run's shape (connections, payload, durations), the modes' own
    options, and the checks that hold across them.
*/
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "bench_options.h"

static void
s_usage (FILE *stream)
{
    fprintf (
        stream,
        "usage: raftq-bench [-c config.json] [-e tcp://host:port]... [--connections N]\n"
        "                   [--inflight M] [--size BYTES] [--duration S] [--warmup S]\n"
        "                   [--topic NAME] [--pop] [--op-timeout MS]\n"
        "                   [--mode publish|pop|read|chat|fanout|stall|restart|consume]\n"
        "                   [--subscribers S]\n"
        "                   [--rate R] [--sender NAME] [--receiver NAME] [--drain MS]\n"
        "                   [--senders K] [--count N] [--window MS] [--timeline]\n"
        "                   [--node ID] [--runs R] [--raftqd PATH] [--json]\n"
        "  -c, --config FILE     cluster config, default ./config.json\n"
        "  -e, --endpoint EP     node client endpoint, repeatable; overrides the config\n"
        "  -n, --connections N   client connections, default 4\n"
        "  -m, --inflight M      operations in flight per connection, default 16\n"
        "  -s, --size BYTES      payload size, default 256\n"
        "  -d, --duration S      measured seconds, default 10\n"
        "  -w, --warmup S        unmeasured seconds first, default 1\n"
        "  -t, --topic NAME      topic, default bench\n"
        "  -p, --pop             pop until the topic is empty instead of publishing\n"
        "  -o, --op-timeout MS   count an operation lost after MS, default 5000\n"
        "      --json            publish, read, stall: send the operations in the JSON\n"
        "                        dialect (DESIGN 5.2) to the node that led at the start,\n"
        "                        with a payload of random letters and digits; replies\n"
        "                        match requests in send order, a failure without a code\n"
        "                        counts as UNAVAILABLE. stall without --json resends\n"
        "                        what a node refused before proposing (NOT_LEADER,\n"
        "                        NO_LEADER, UNAVAILABLE) to the leader it names\n"
        "  -M, --mode MODE       publish (default), pop (= --pop), read: ListTopics (a\n"
        "                        read the leader confirms by ReadIndex, no log entry),\n"
        "                        chat: SendMessage one at\n"
        "                        a time, fanout: delivery to --subscribers on the pub ports,\n"
        "                        stall: publish and report replies per window and the\n"
        "                        longest gap, restart: time a node's restart (see --node),\n"
        "                        consume: publish 2 x --count, pop half, reserve and ack\n"
        "                        the other half, compare (--duration caps each phase)\n"
        "  -S, --subscribers S   fanout: SUB sockets, round robin over the nodes, default 10\n"
        "  -r, --rate R          fanout: messages per second, default 1000\n"
        "  -D, --drain MS        fanout: wait for deliveries after the last send, default 2000\n"
        "      --sender NAME     chat, fanout: sending account, default bench-sender\n"
        "      --receiver NAME   chat, fanout: receiving account, default bench-receiver\n"
        "      --senders K       fanout: connections the pipelined sender spreads its\n"
        "                        requests over (one session), default 4\n"
        "      --count N         publish, stall: stop after N sends; restart: publishes\n"
        "                        before the first kill (default 0: none); consume:\n"
        "                        messages each way (default 20000)\n"
        "      --window MS       stall: throughput window, default 100\n"
        "      --timeline        stall: print the replies of every window\n"
        "      --node ID         restart: the node to kill and respawn (required)\n"
        "      --runs R          restart: kills and respawns, default 3\n"
        "      --raftqd PATH     restart: broker executable, default raftqd beside\n"
        "                        raftq-bench\n"
        "      --snapshot-first  restart: have the node snapshot (TakeSnapshot) before\n"
        "                        each kill, so that it restarts from a snapshot of\n"
        "                        nearly all it applied\n");
}

//  Parses a number in [minimum, maximum] into *value. Returns 0 or -1.
static int
s_number (const char *text, double minimum, double maximum, double *value)
{
    char *end;
    *value = strtod (text, &end);
    if (*text == 0 || *end || *value < minimum || *value > maximum)
        return -1;
    return 0;
}

static const struct option s_long_options[] = {{"config", required_argument, NULL, 'c'},
                                               {"endpoint", required_argument, NULL, 'e'},
                                               {"connections", required_argument, NULL, 'n'},
                                               {"inflight", required_argument, NULL, 'm'},
                                               {"size", required_argument, NULL, 's'},
                                               {"duration", required_argument, NULL, 'd'},
                                               {"warmup", required_argument, NULL, 'w'},
                                               {"topic", required_argument, NULL, 't'},
                                               {"pop", no_argument, NULL, 'p'},
                                               {"op-timeout", required_argument, NULL, 'o'},
                                               {"mode", required_argument, NULL, 'M'},
                                               {"subscribers", required_argument, NULL, 'S'},
                                               {"rate", required_argument, NULL, 'r'},
                                               {"drain", required_argument, NULL, 'D'},
                                               {"sender", required_argument, NULL, 1},
                                               {"receiver", required_argument, NULL, 2},
                                               {"senders", required_argument, NULL, 3},
                                               {"count", required_argument, NULL, 4},
                                               {"window", required_argument, NULL, 5},
                                               {"timeline", no_argument, NULL, 6},
                                               {"node", required_argument, NULL, 7},
                                               {"runs", required_argument, NULL, 8},
                                               {"raftqd", required_argument, NULL, 9},
                                               {"snapshot-first", no_argument, NULL, 10},
                                               {"json", no_argument, NULL, 11},
                                               {"help", no_argument, NULL, 'h'},
                                               {NULL, 0, NULL, 0}};

//  What an option function returns for an option that is not its own.
#define S_OPTION_OTHER (-2)

static void
s_defaults (bench_options_t *options)
{
    memset (options, 0, sizeof (*options));
    options->config_path = "config.json";
    options->connections = 4;
    options->in_flight = 16;
    options->size = 256;
    options->duration_s = 10;
    options->warmup_s = 1;
    options->topic = "bench";
    options->op_timeout_ms = 5000;
    options->sender = "bench-sender";
    options->receiver = "bench-receiver";
    options->fanout.subscribers = 10;
    options->fanout.rate = 1000;
    options->fanout.senders = 4;
    options->fanout.drain_ms = 2000;
    options->window_ms = 100;
    options->runs = 3;
}

//  --mode NAME. Returns 0, or -1 for a name that is no mode.
static int
s_mode (const char *name, bench_options_t *options)
{
    options->mode = streq (name, "chat")      ? BENCH_MODE_CHAT
                    : streq (name, "fanout")  ? BENCH_MODE_FANOUT
                    : streq (name, "stall")   ? BENCH_MODE_STALL
                    : streq (name, "restart") ? BENCH_MODE_RESTART
                    : streq (name, "read")    ? BENCH_MODE_READ
                    : streq (name, "consume") ? BENCH_MODE_CONSUME
                                              : BENCH_MODE_QUEUE;
    if (streq (name, "pop"))
        options->pop = true;
    bool known =
        options->mode != BENCH_MODE_QUEUE || streq (name, "publish") || streq (name, "pop");
    return known ? 0 : -1;
}

//  The options that shape every run: where, how many, how long. Like all
//  option functions: 0 when taken, -1 for a bad value, S_OPTION_OTHER.
static int
s_run_option (int option, bench_options_t *options)
{
    double value;
    int rc = 0;
    switch (option) {
    case 'c':
        options->config_path = optarg;
        break;
    case 'e':
        if (options->endpoint_count == BENCH_ENDPOINTS_MAX)
            return -1;
        options->endpoints[options->endpoint_count++] = optarg;
        break;
    case 'n':
        rc = s_number (optarg, 1, 10000, &value);
        options->connections = (int)value;
        break;
    case 'm':
        rc = s_number (optarg, 1, 5000, &value);
        options->in_flight = (int)value;
        break;
    case 's':
        rc = s_number (optarg, 0, 64 * 1024 * 1024, &value);
        options->size = (size_t)value;
        break;
    case 'd':
        rc = s_number (optarg, 0.001, 86400, &options->duration_s);
        break;
    case 'w':
        rc = s_number (optarg, 0, 86400, &options->warmup_s);
        break;
    case 'o':
        rc = s_number (optarg, 1, INT_MAX, &value);
        options->op_timeout_ms = (int)value;
        break;
    case 'M':
        rc = s_mode (optarg, options);
        break;
    default:
        return S_OPTION_OTHER;
    }
    return rc;
}

//  The options of the queue and chat modes: what is sent, by whom, to whom.
static int
s_traffic_option (int option, bench_options_t *options)
{
    double value;
    int rc = 0;
    switch (option) {
    case 't':
        options->topic = optarg;
        break;
    case 'p':
        options->pop = true;
        break;
    case 11:
        options->json = true;
        break;
    case 1:
        options->sender = optarg;
        break;
    case 2:
        options->receiver = optarg;
        break;
    case 4:
        rc = s_number (optarg, 0, 1e12, &value);
        options->count = (uint64_t)value;
        break;
    default:
        return S_OPTION_OTHER;
    }
    return rc;
}

//  The options of --mode fanout.
static int
s_fanout_option (int option, bench_options_t *options)
{
    double value;
    int rc = 0;
    switch (option) {
    case 'S':
        rc = s_number (optarg, 1, 100000, &value);
        options->fanout.subscribers = (size_t)value;
        break;
    case 'r':
        rc = s_number (optarg, 0.001, 1e6, &options->fanout.rate);
        break;
    case 'D':
        rc = s_number (optarg, 0, 3600000, &value);
        options->fanout.drain_ms = (int)value;
        break;
    case 3:
        rc = s_number (optarg, 1, 1000, &value);
        options->fanout.senders = (size_t)value;
        break;
    default:
        return S_OPTION_OTHER;
    }
    return rc;
}

//  The options of --mode stall and --mode restart.
static int
s_stall_restart_option (int option, bench_options_t *options)
{
    double value;
    int rc = 0;
    switch (option) {
    case 5:
        rc = s_number (optarg, 1, 60000, &value);
        options->window_ms = (int)value;
        break;
    case 6:
        options->timeline = true;
        break;
    case 7:
        rc = s_number (optarg, 1, UINT32_MAX, &value);
        options->node_id = (uint32_t)value;
        break;
    case 8:
        rc = s_number (optarg, 1, 1000, &value);
        options->runs = (int)value;
        break;
    case 9:
        options->raftqd = optarg;
        break;
    case 10:
        options->snapshot_first = true;
        break;
    default:
        return S_OPTION_OTHER;
    }
    return rc;
}

//  What must hold across the options once all are read. Returns -1 to go
//  on, or the exit status after saying why not.
static int
s_check (const bench_options_t *options)
{
    const char *problem = NULL;
    if (*options->topic == 0)
        problem = "the topic name is empty";
    else if (options->mode == BENCH_MODE_FANOUT && options->endpoint_count)
        problem = "fanout needs the config's pub ports, not -e";
    else if (options->mode == BENCH_MODE_RESTART &&
             (options->endpoint_count || options->node_id == 0))
        problem = "restart needs --node and the config's nodes, not -e";
    else if (options->json && (options->pop || (options->mode != BENCH_MODE_QUEUE &&
                                                options->mode != BENCH_MODE_READ &&
                                                options->mode != BENCH_MODE_STALL)))
        problem = "--json drives publish, read and stall only";
    if (!problem)
        return -1;
    fprintf (stderr, "raftq-bench: %s\n", problem);
    return BENCH_EXIT_USAGE;
}

int
bench_options_parse (int argc, char **argv, bench_options_t *options)
{
    s_defaults (options);
    int option;
    while ((option = getopt_long (argc, argv, "c:e:n:m:s:d:w:t:po:M:S:r:D:h", s_long_options,
                                  NULL)) != -1) {
        if (option == 'h') {
            s_usage (stdout);
            return 0;
        }
        int rc = s_run_option (option, options);
        if (rc == S_OPTION_OTHER)
            rc = s_traffic_option (option, options);
        if (rc == S_OPTION_OTHER)
            rc = s_fanout_option (option, options);
        if (rc == S_OPTION_OTHER)
            rc = s_stall_restart_option (option, options);
        if (rc == S_OPTION_OTHER) {
            s_usage (stderr);
            return BENCH_EXIT_USAGE;
        }
        if (rc == -1) {
            fprintf (stderr, "raftq-bench: bad value %s\n", optarg);
            return BENCH_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "raftq-bench: unexpected argument %s\n", argv[optind]);
        return BENCH_EXIT_USAGE;
    }
    options->fanout.duration_s = options->duration_s;
    return s_check (options);
}

char **
bench_options_endpoints (const bench_options_t *options)
{
    if (options->endpoint_count == 0) {
        char error[512];
        char **endpoints = raftq_config_endpoints (options->config_path, error, sizeof (error));
        if (!endpoints)
            fprintf (stderr, "raftq-bench: %s\n", error);
        return endpoints;
    }
    char **endpoints = (char **)calloc (options->endpoint_count + 1, sizeof (char *));
    for (size_t index = 0; endpoints && index < options->endpoint_count; index++)
        endpoints[index] = strdup (options->endpoints[index]);
    return endpoints;
}

//  Opens a connection and points it at the leader by creating the topic

const char *
bench_options_config (const bench_options_t *options)
{
    return options->endpoint_count ? NULL : options->config_path;
}
