/*  raftq-bench — throughput and latency of committed operations. Finds the
    leader, creates the topic, then runs N client connections (each its own
    libraftq client: own DEALER, client id and seq) from one thread, each
    keeping M publishes (or pops with --pop) in flight for the duration.
    Latency is send to reply, per operation, counted once by its seq.
    Prints a table, with the machine's load average; no pass/fail.
    --mode chat sends chat messages between two accounts instead, one
    SendMessage at a time (the client has no pipelined chat call);
    --mode fanout measures delivery from one sender to S subscribers on the
    pub ports (see fanout.h).
    --mode stall publishes like the default mode and also counts the
    committed replies per --window (100 ms) and the longest time without
    any: run it against a cluster with a small snapshot_log_bytes and a
    snapshot that stalls a node's loop shows up as a gap.
    --mode restart measures restart-to-ready: it publishes --count messages,
    waits until node --node has applied all of them, then, --runs times
    (each after --snapshot-first's TakeSnapshot, if given), kills that node (SIGKILL, pid from <node
   dir>/raftqd.pid as tools/raftq-cluster writes it), spawns raftqd (--raftqd, default the one next
   to raftq-bench) with the node's log appended to <node dir>/raftqd.log, and times spawn -> first
   status answer -> applied index back at what it was before the kill (polled every 10 ms), with the
   CPU time the node used until then (on a shared machine the steadier figure). The last node
   spawned is left running, its pid in the pid file, for raftq-cluster to stop.

    Running it
        tools/raftq-cluster --config C wipe && tools/raftq-cluster --config C start
        build/raftq-bench -c C -n 1 -m 1               one client, one publish at a time
        build/raftq-bench -c C -n 1 -m 64              throughput: 64 in flight on one connection
        build/raftq-bench -c C -n 4 -m 16              the same 64 over four connections
        build/raftq-bench -c C --mode chat             SendMessage, one at a time
        build/raftq-bench -c C --mode fanout -S 1000 -r 1000 -d 10
        build/raftq-bench -c C --mode stall -n 4 -m 64 -d 20      with a small
                                                snapshot_log_bytes in C (e.g. 16 MiB)
        build/raftq-bench -c C --mode restart --count 1000000 -n 4 -m 64 \
                          --node 2 --runs 3     node 2 a follower; 1,000,000 messages
    Start each trial from a wiped cluster so runs compare, repeat it (three
    runs at least) and keep the median: on a shared machine one run says
    little. The client runs on the same CPUs as the brokers and is counted in
    what they get.

    What a publish costs (3 nodes, one client, one in flight; traced
    medians in microseconds, 2-core VM, load about 3):
        client -> leader broker       70    ZeroMQ over TCP: both I/O threads and the broker wake
        decode, propose, pipe         20    broker thread, then the Raft actor wakes
        AppendEntries out             15    sent before the leader's own write
        -> follower, write, fsync    250    60 in transit, 180 fdatasync (the leader's, 240,
                                            runs meanwhile and is not on the path)
        ack -> leader, commit         80    ack out at once after the sync; COMMITTED goes to
                                            the broker before the commit notices to followers
        pipe, apply, reply            30
        reply -> client               75
    About ten thread wakeups lie on the path; on a 2-core machine shared with
    other work each may wait for a CPU, which is most of the spread between
    runs and the whole of the tail (p99 of several ms at a load of 5).

    Measured for issue 2: 2-core VM shared with other work (load average
    about 6 throughout), ext4 without journal on a virtio disk (fdatasync
    0.15-0.25 ms) holding the data; 256-byte publishes, config.json timings;
    a fresh cluster per trial, 5 s measured after 1 s warm-up, median of 5
    trials; "before" is the broker and Raft actor of commit ebdcede.
                            3 nodes               5 nodes
                            before    after       before    after
        1 x 64    ops/s     13,200    21,200      10,400    18,100
        4 x 16    ops/s     11,200    17,700       9,600    14,800
        4 x 64    ops/s     15,000    31,000      12,000    22,300
        1 x 1     p50 ms      0.73      0.68        0.98      0.93
    Most of the gain is fan-out: events were built (JSON included) on every
    node for every publish even with nobody subscribed.

    Measured for issue 4: the same VM with a load average of 9-11 from other
    work throughout, so wall times spread widely; 3 nodes, 256-byte
    publishes, 4 x 64; "before" packs snapshots on the broker thread,
    "after" forks a snapshot job and maps the file to load it.
      --mode stall -d 20, snapshot_log_bytes 16 MiB, 500,000 messages
      queued first (each snapshot packs all of them); median of 3:
                            before      after
        longest gap         751 ms      77 ms     (runs: 1556/703/751, 158/75/77)
        latency p99.9       721 ms      92 ms
        ops/s               12,600      17,800
      --mode restart of a follower after 1,000,000 publishes (default
      snapshot_log_bytes: newest snapshot at 820,305, 179,700 entries after
      it), median of 5: CPU to ready 1,180 ms before, 990 ms after (wall
      1.1-5 s either way at that load). With --snapshot-first (a snapshot
      of all 1,000,005 entries): CPU 470 ms, wall 1.1-2.5 s.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>

#include "fanout.h"
#include "histogram.h"
#include "raftq.h"

#define S_EXIT_USAGE    2
#define S_ENDPOINTS_MAX 64
#define S_CODES         (RAFTQ_INTERNAL + 1)
//  How often in-flight operations are checked for having gone unanswered.
#define S_EXPIRY_CHECK_US 100000
//  --mode restart: wait of one status probe, which is also the resolution
//  of the times measured (a probe that finds no node listening gives up
//  then, and the next one connects afresh)
#define S_PROBE_MS 10
//  --mode restart: how long a node may take to die, and to be ready again
#define S_KILL_WAIT_MS  5000
#define S_READY_WAIT_MS 60000
//  --mode stall: windows listed by name when they fall this far below the median
#define S_SLOW_WINDOW_SHARE   0.5
#define S_SLOW_WINDOWS_LISTED 20

typedef enum {
    MODE_QUEUE,  //  publish, or pop with --pop
    MODE_CHAT,   //  SendMessage between two accounts
    MODE_FANOUT, //  SendMessage delivered to many subscribers
    MODE_STALL,  //  publish, with replies per window and the longest gap
    MODE_RESTART //  fill, then kill and respawn a node and time it
} bench_mode_t;

//  What the command line asked for.
typedef struct {
    bench_mode_t mode;                      //  --mode
    const char *config_path;                //  -c
    const char *endpoints[S_ENDPOINTS_MAX]; //  -e, replace the config's nodes
    size_t endpoint_count;                  //  how many -e
    int connections;                        //  client connections
    int in_flight;                          //  operations each keeps outstanding
    size_t size;                            //  publish payload bytes
    double duration_s;                      //  measured phase
    double warmup_s;                        //  unmeasured phase before it
    const char *topic;                      //  topic published to / popped from
    bool pop;                               //  drain the topic instead of publishing
    const char *sender;                     //  chat and fanout: account that sends
    const char *receiver;                   //  chat and fanout: account that receives
    fanout_plan_t fanout;                   //  --subscribers, --rate, duration, drain
    int op_timeout_ms;                      //  an operation unanswered this long is lost
    uint64_t count;                         //  publish: stop after sending this many (0: no limit)
    int window_ms;                          //  stall: width of a throughput window
    bool timeline;                          //  stall: print every window
    uint32_t node_id;                       //  restart: the node killed and respawned
    int runs;                               //  restart: kills and respawns
    const char *raftqd;                     //  restart: the broker executable
    bool snapshot_first;                    //  restart: TakeSnapshot before each kill
} options_t;

//  One client connection and its operations in flight.
typedef struct {
    raftq_client_t *client; //  owns the DEALER(s), client id and seq
    uint64_t *seqs;         //  seq of the operation in each slot, 0 when free
    int64_t *sent_us;       //  when each slot's operation was sent
    int used;               //  slots in use
    bool drained;           //  --pop: saw EMPTY, sends no more
} connection_t;

//  What the run measured.
typedef struct {
    histogram_t *latency_us;    //  committed operations in the measured phase
    uint64_t committed;         //  OK replies in the measured phase
    uint64_t errors[S_CODES];   //  other replies in the measured phase, by code
    uint64_t empty;             //  --pop: EMPTY replies, any phase
    uint64_t lost;              //  no reply within the operation timeout
    uint64_t late;              //  replies after their operation was counted lost
    uint64_t send_failures;     //  sends the client could not queue
    int64_t measure_start_us;   //  measured phase, start
    int64_t measure_end_us;     //  and end (earlier when --pop drained)
    double load_start;          //  1-minute load average when the run began
    double load_end;            //  and when it ended: a busy machine skews it all
    uint64_t sent;              //  operations sent, any phase (for --count)
    uint32_t *windows;          //  stall: OK replies per window of the measured phase
    size_t window_count;        //  stall: how many windows
    int64_t window_us;          //  stall: width of one
    int64_t last_ok_us;         //  stall: the last OK reply (or the measured start)
    int64_t longest_gap_us;     //  stall: longest time without an OK reply
    int64_t longest_gap_end_us; //  stall: when that gap ended
} results_t;

static void
s_usage (FILE *stream)
{
    fprintf (
        stream,
        "usage: raftq-bench [-c config.json] [-e tcp://host:port]... [--connections N]\n"
        "                   [--inflight M] [--size BYTES] [--duration S] [--warmup S]\n"
        "                   [--topic NAME] [--pop] [--op-timeout MS]\n"
        "                   [--mode publish|pop|chat|fanout|stall|restart] [--subscribers S]\n"
        "                   [--rate R] [--sender NAME] [--receiver NAME] [--drain MS]\n"
        "                   [--senders K] [--count N] [--window MS] [--timeline]\n"
        "                   [--node ID] [--runs R] [--raftqd PATH]\n"
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
        "  -M, --mode MODE       publish (default), pop (= --pop), chat: SendMessage one at\n"
        "                        a time, fanout: delivery to --subscribers on the pub ports,\n"
        "                        stall: publish and report replies per window and the\n"
        "                        longest gap, restart: time a node's restart (see --node)\n"
        "  -S, --subscribers S   fanout: SUB sockets, round robin over the nodes, default 10\n"
        "  -r, --rate R          fanout: messages per second, default 1000\n"
        "  -D, --drain MS        fanout: wait for deliveries after the last send, default 2000\n"
        "      --sender NAME     chat, fanout: sending account, default bench-sender\n"
        "      --receiver NAME   chat, fanout: receiving account, default bench-receiver\n"
        "      --senders K       fanout: connections the pipelined sender spreads its\n"
        "                        requests over (one session), default 4\n"
        "      --count N         publish, stall: stop after N sends; restart: publishes\n"
        "                        before the first kill (default 0: none)\n"
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

//  Returns -1 to go on, or an exit status.
static int
s_parse (int argc, char **argv, options_t *options)
{
    static const struct option long_options[] = {{"config", required_argument, NULL, 'c'},
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
                                                 {"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};
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
    int option;
    double value;
    while ((option = getopt_long (argc, argv, "c:e:n:m:s:d:w:t:po:M:S:r:D:h", long_options,
                                  NULL)) != -1) {
        bool bad = false;
        switch (option) {
        case 'c':
            options->config_path = optarg;
            break;
        case 'e':
            bad = options->endpoint_count == S_ENDPOINTS_MAX;
            if (!bad)
                options->endpoints[options->endpoint_count++] = optarg;
            break;
        case 'n':
            bad = s_number (optarg, 1, 10000, &value) == -1;
            options->connections = (int)value;
            break;
        case 'm':
            bad = s_number (optarg, 1, 5000, &value) == -1;
            options->in_flight = (int)value;
            break;
        case 's':
            bad = s_number (optarg, 0, 64 * 1024 * 1024, &value) == -1;
            options->size = (size_t)value;
            break;
        case 'd':
            bad = s_number (optarg, 0.001, 86400, &value) == -1;
            options->duration_s = value;
            break;
        case 'w':
            bad = s_number (optarg, 0, 86400, &value) == -1;
            options->warmup_s = value;
            break;
        case 't':
            options->topic = optarg;
            break;
        case 'p':
            options->pop = true;
            break;
        case 'o':
            bad = s_number (optarg, 1, INT_MAX, &value) == -1;
            options->op_timeout_ms = (int)value;
            break;
        case 'M':
            options->mode = streq (optarg, "chat")      ? MODE_CHAT
                            : streq (optarg, "fanout")  ? MODE_FANOUT
                            : streq (optarg, "stall")   ? MODE_STALL
                            : streq (optarg, "restart") ? MODE_RESTART
                                                        : MODE_QUEUE;
            bad =
                options->mode == MODE_QUEUE && !streq (optarg, "publish") && !streq (optarg, "pop");
            if (streq (optarg, "pop"))
                options->pop = true;
            break;
        case 'S':
            bad = s_number (optarg, 1, 100000, &value) == -1;
            options->fanout.subscribers = (size_t)value;
            break;
        case 'r':
            bad = s_number (optarg, 0.001, 1e6, &value) == -1;
            options->fanout.rate = value;
            break;
        case 'D':
            bad = s_number (optarg, 0, 3600000, &value) == -1;
            options->fanout.drain_ms = (int)value;
            break;
        case 1:
            options->sender = optarg;
            break;
        case 2:
            options->receiver = optarg;
            break;
        case 3:
            bad = s_number (optarg, 1, 1000, &value) == -1;
            options->fanout.senders = (size_t)value;
            break;
        case 4:
            bad = s_number (optarg, 0, 1e12, &value) == -1;
            options->count = (uint64_t)value;
            break;
        case 5:
            bad = s_number (optarg, 1, 60000, &value) == -1;
            options->window_ms = (int)value;
            break;
        case 6:
            options->timeline = true;
            break;
        case 7:
            bad = s_number (optarg, 1, UINT32_MAX, &value) == -1;
            options->node_id = (uint32_t)value;
            break;
        case 8:
            bad = s_number (optarg, 1, 1000, &value) == -1;
            options->runs = (int)value;
            break;
        case 9:
            options->raftqd = optarg;
            break;
        case 10:
            options->snapshot_first = true;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return S_EXIT_USAGE;
        }
        if (bad) {
            fprintf (stderr, "raftq-bench: bad value %s\n", optarg);
            return S_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "raftq-bench: unexpected argument %s\n", argv[optind]);
        return S_EXIT_USAGE;
    }
    if (*options->topic == 0) {
        fprintf (stderr, "raftq-bench: the topic name is empty\n");
        return S_EXIT_USAGE;
    }
    options->fanout.duration_s = options->duration_s;
    if (options->mode == MODE_FANOUT && options->endpoint_count) {
        fprintf (stderr, "raftq-bench: fanout needs the config's pub ports, not -e\n");
        return S_EXIT_USAGE;
    }
    if (options->mode == MODE_RESTART && (options->endpoint_count || options->node_id == 0)) {
        fprintf (stderr, "raftq-bench: restart needs --node and the config's nodes, not -e\n");
        return S_EXIT_USAGE;
    }
    return -1;
}

//  The cluster's client endpoints as a NULL-terminated list to free with
//  raftq_strings_free, or NULL after saying why.
static char **
s_endpoints (const options_t *options)
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
//  through it (ALREADY_EXISTS is as good). Returns 0, or -1 after saying why.
static int
s_connection_open (connection_t *connection, char **endpoints, const options_t *options)
{
    memset (connection, 0, sizeof (*connection));
    size_t count = 0;
    while (endpoints[count])
        count++;
    connection->client = raftq_client_new ((const char **)endpoints, count);
    connection->seqs = (uint64_t *)calloc ((size_t)options->in_flight, sizeof (uint64_t));
    connection->sent_us = (int64_t *)calloc ((size_t)options->in_flight, sizeof (int64_t));
    if (!connection->client || !connection->seqs || !connection->sent_us) {
        fprintf (stderr, "raftq-bench: cannot create a client\n");
        return -1;
    }
    raftq_client_set_timeout (connection->client, options->op_timeout_ms);
    raftq_code_t code = raftq_create_topic (connection->client, options->topic);
    if (code != RAFTQ_OK && code != RAFTQ_ALREADY_EXISTS) {
        fprintf (stderr, "raftq-bench: create topic %s: %s: %s\n", options->topic,
                 raftq_code_name (code), raftq_client_error (connection->client));
        return -1;
    }
    return 0;
}

static void
s_connection_close (connection_t *connection)
{
    raftq_client_destroy (&connection->client);
    free (connection->seqs);
    free (connection->sent_us);
}

//  Sends operations until every slot is in use. A send that cannot be
//  queued ends this round; the next loop turn tries again.
static void
s_connection_fill (connection_t *connection, const options_t *options, const uint8_t *payload,
                   results_t *results)
{
    for (int slot = 0; slot < options->in_flight && !connection->drained; slot++) {
        if (connection->seqs[slot])
            continue;
        if (options->count && results->sent >= options->count)
            return;
        uint64_t seq;
        int rc = options->pop ? raftq_send_pop (connection->client, options->topic, &seq)
                              : raftq_send_publish (connection->client, options->topic, payload,
                                                    options->size, &seq);
        if (rc == -1) {
            results->send_failures++;
            return;
        }
        connection->seqs[slot] = seq;
        connection->sent_us[slot] = zclock_usecs ();
        connection->used++;
        results->sent++;
    }
}

//  --mode stall: counts an OK reply of the measured phase at now in its
//  window and measures the time since the one before.
static void
s_stall_count (results_t *results, int64_t now)
{
    size_t window = (size_t)((now - results->measure_start_us) / results->window_us);
    if (window < results->window_count)
        results->windows[window]++;
    if (now - results->last_ok_us > results->longest_gap_us) {
        results->longest_gap_us = now - results->last_ok_us;
        results->longest_gap_end_us = now;
    }
    results->last_ok_us = now;
}

//  Accounts for one reply: matched to its slot by seq, counted once.
static void
s_connection_reply (connection_t *connection, const options_t *options, const raftq_reply_t *reply,
                    results_t *results)
{
    int slot = 0;
    while (slot < options->in_flight && connection->seqs[slot] != reply->seq)
        slot++;
    if (slot == options->in_flight) {
        //  Its operation was already counted lost (or it is no reply of ours).
        results->late++;
        return;
    }
    int64_t now = zclock_usecs ();
    int64_t latency = now - connection->sent_us[slot];
    connection->seqs[slot] = 0;
    connection->used--;
    if (reply->code == RAFTQ_EMPTY && options->pop) {
        connection->drained = true;
        results->empty++;
        return;
    }
    bool measured = now >= results->measure_start_us && now < results->measure_end_us &&
                    connection->sent_us[slot] >= results->measure_start_us;
    if (!measured)
        return;
    if (reply->code == RAFTQ_OK) {
        results->committed++;
        histogram_record (results->latency_us, (uint64_t)(latency > 0 ? latency : 0));
        if (results->windows)
            s_stall_count (results, now);
    } else
        results->errors[reply->code]++;
}

//  Frees the slot of an operation that will never be answered.
static void
s_connection_lose (connection_t *connection, int slot, results_t *results)
{
    connection->seqs[slot] = 0;
    connection->used--;
    results->lost++;
}

//  An operation unanswered for longer than the timeout means the node it
//  went to is dead or cut off: count it lost and move the connection on.
//  Moving on closes that node's socket, so everything else in flight on it
//  is lost as well, now rather than one timeout at a time.
static void
s_connection_expire (connection_t *connection, const options_t *options, results_t *results)
{
    int64_t oldest_allowed = zclock_usecs () - (int64_t)options->op_timeout_ms * 1000;
    bool expired = false;
    for (int slot = 0; slot < options->in_flight && !expired; slot++)
        expired = connection->seqs[slot] && connection->sent_us[slot] < oldest_allowed;
    if (!expired)
        return;
    raftq_client_move_on (connection->client);
    for (int slot = 0; slot < options->in_flight; slot++)
        if (connection->seqs[slot])
            s_connection_lose (connection, slot, results);
}

//  Runs all connections from this thread until the measured phase ends and
//  every operation is answered or lost.
static void
s_run (connection_t *connections, raftq_client_t **clients, bool *ready, const options_t *options,
       const uint8_t *payload, results_t *results)
{
    int64_t start = zclock_usecs ();
    results->measure_start_us = start + (int64_t)(options->warmup_s * 1e6);
    results->measure_end_us = results->measure_start_us + (int64_t)(options->duration_s * 1e6);
    int64_t next_expiry_check = start + S_EXPIRY_CHECK_US;
    size_t count = (size_t)options->connections;

    results->last_ok_us = results->measure_start_us;
    while (!zsys_interrupted) {
        int64_t now = zclock_usecs ();
        bool sending = now < results->measure_end_us &&
                       (options->count == 0 || results->sent < options->count);
        int busy = 0, drained = 0;
        for (size_t index = 0; index < count; index++) {
            if (sending)
                s_connection_fill (&connections[index], options, payload, results);
            busy += connections[index].used > 0;
            drained += connections[index].drained;
        }
        if (busy == 0 && (!sending || drained == (int)count))
            break;
        //  Short waits keep the send side and expiry checks responsive.
        raftq_wait (clients, count, 10, ready);
        for (size_t index = 0; index < count; index++) {
            if (!ready[index])
                continue;
            raftq_reply_t reply;
            while (raftq_receive (connections[index].client, 0, &reply) == 0)
                s_connection_reply (&connections[index], options, &reply, results);
        }
        if (zclock_usecs () >= next_expiry_check) {
            for (size_t index = 0; index < count; index++)
                s_connection_expire (&connections[index], options, results);
            next_expiry_check = zclock_usecs () + S_EXPIRY_CHECK_US;
        }
    }
    //  --pop may drain the topic before the planned end.
    int64_t stopped = zclock_usecs ();
    if (stopped < results->measure_end_us)
        results->measure_end_us =
            stopped > results->measure_start_us ? stopped : results->measure_start_us;
}

//  The 1-minute load average into *load, or -1 where the system has none.
static void
s_load_average (double *load)
{
    if (getloadavg (load, 1) != 1)
        *load = -1;
}

static void
s_report (const options_t *options, const char *leader, results_t *results)
{
    double seconds = (double)(results->measure_end_us - results->measure_start_us) / 1e6;
    bool chat = options->mode == MODE_CHAT;
    printf ("raftq-bench: %s %s to %s, leader %s\n",
            chat           ? "SendMessage from"
            : options->pop ? "pop"
                           : "publish",
            chat ? options->sender : "", chat ? options->receiver : options->topic,
            leader ? leader : "unknown");
    printf ("  %d connections x %d in flight, %zu B payload, %.1f s measured after %.1f s warmup\n",
            chat ? 1 : options->connections, chat ? 1 : options->in_flight, options->size, seconds,
            options->warmup_s);
    printf ("  %-16s %12" PRIu64 "\n", "ops committed", results->committed);
    printf ("  %-16s %12.1f\n", "ops/s", seconds > 0 ? (double)results->committed / seconds : 0.0);
    static const struct {
        const char *name;
        double percentile;
    } rows[] = {{"latency p50", 50}, {"latency p99", 99}, {"latency p99.9", 99.9}};
    for (size_t row = 0; row < sizeof (rows) / sizeof (rows[0]); row++)
        printf ("  %-16s %12.3f ms\n", rows[row].name,
                (double)histogram_percentile (results->latency_us, rows[row].percentile) / 1000.0);
    printf ("  %-16s %12.3f ms\n", "latency max",
            (double)histogram_max (results->latency_us) / 1000.0);
    printf ("  %-16s", "errors");
    bool any = false;
    for (int code = 0; code < S_CODES; code++)
        if (results->errors[code]) {
            printf (" %s=%" PRIu64, raftq_code_name ((raftq_code_t)code), results->errors[code]);
            any = true;
        }
    if (results->lost) {
        printf (" unanswered=%" PRIu64, results->lost);
        any = true;
    }
    if (results->send_failures) {
        printf (" send-failures=%" PRIu64, results->send_failures);
        any = true;
    }
    printf ("%s\n", any ? "" : " none");
    printf ("  %-16s %12.2f -> %.2f (%ld CPUs)\n", "load average", results->load_start,
            results->load_end, sysconf (_SC_NPROCESSORS_ONLN));
    if (options->pop)
        printf ("  %-16s %12" PRIu64 "\n", "empty replies", results->empty);
    if (results->late)
        printf ("  %-16s %12" PRIu64 "\n", "late replies", results->late);
}

static int
s_compare_u32 (const void *first, const void *second)
{
    uint32_t a = *(const uint32_t *)first, b = *(const uint32_t *)second;
    return a < b ? -1 : a > b;
}

//  --mode stall: the windows' spread, the slow windows and the longest gap.
static void
s_report_stall (const options_t *options, results_t *results)
{
    //  Only whole windows inside the measured phase count
    size_t count =
        (size_t)((results->measure_end_us - results->measure_start_us) / results->window_us);
    if (count > results->window_count)
        count = results->window_count;
    if (results->measure_end_us - results->last_ok_us > results->longest_gap_us) {
        results->longest_gap_us = results->measure_end_us - results->last_ok_us;
        results->longest_gap_end_us = results->measure_end_us;
    }
    double per_second = 1000.0 / options->window_ms;
    printf ("  %-16s %12.3f ms, ended %.2f s into the measured phase\n", "longest gap",
            (double)results->longest_gap_us / 1000.0,
            (double)(results->longest_gap_end_us - results->measure_start_us) / 1e6);
    if (count == 0)
        return;
    uint32_t *sorted = (uint32_t *)malloc (count * sizeof (uint32_t));
    if (!sorted)
        return;
    memcpy (sorted, results->windows, count * sizeof (uint32_t));
    qsort (sorted, count, sizeof (uint32_t), s_compare_u32);
    uint32_t median = sorted[count / 2];
    printf ("  %-16s %zu x %d ms: min %.0f, p10 %.0f, median %.0f, max %.0f ops/s\n", "windows",
            count, options->window_ms, sorted[0] * per_second, sorted[count / 10] * per_second,
            median * per_second, sorted[count - 1] * per_second);
    free (sorted);
    size_t slow = 0;
    for (size_t window = 0; window < count; window++) {
        bool below = results->windows[window] < median * S_SLOW_WINDOW_SHARE;
        slow += below;
        if (options->timeline || (below && slow <= S_SLOW_WINDOWS_LISTED))
            printf ("    %8.1f s %10.0f ops/s%s\n", (double)window * options->window_ms / 1000.0,
                    results->windows[window] * per_second, below ? "  slow" : "");
    }
    printf ("  %-16s %zu below %.0f%% of the median\n", "slow windows", slow,
            S_SLOW_WINDOW_SHARE * 100);
}

//  A client logged in as the sender, both accounts created (existing ones
//  are as good: the password is fixed). NULL after saying why.
static raftq_client_t *
s_chat_client (char **endpoints, const options_t *options)
{
    const char *password = "bench-password";
    size_t count = 0;
    while (endpoints[count])
        count++;
    raftq_client_t *client = raftq_client_new ((const char **)endpoints, count);
    if (!client) {
        fprintf (stderr, "raftq-bench: cannot create a client\n");
        return NULL;
    }
    raftq_client_set_timeout (client, options->op_timeout_ms);
    const char *users[] = {options->receiver, options->sender};
    raftq_code_t code = RAFTQ_OK;
    for (size_t index = 0; index < 2 && (code == RAFTQ_OK || code == RAFTQ_ALREADY_EXISTS); index++)
        code = raftq_create_account (client, users[index], password);
    if (code == RAFTQ_OK || code == RAFTQ_ALREADY_EXISTS)
        code = raftq_login (client, options->sender, password, NULL);
    if (code != RAFTQ_OK) {
        fprintf (stderr, "raftq-bench: accounts %s, %s: %s: %s\n", options->sender,
                 options->receiver, raftq_code_name (code), raftq_client_error (client));
        raftq_client_destroy (&client);
    }
    return client;
}

//  Sends one message at a time through the warmup and the measured phase.
static void
s_run_chat (raftq_client_t *client, const options_t *options, const char *text, results_t *results)
{
    int64_t start = zclock_usecs ();
    results->measure_start_us = start + (int64_t)(options->warmup_s * 1e6);
    results->measure_end_us = results->measure_start_us + (int64_t)(options->duration_s * 1e6);
    while (!zsys_interrupted && zclock_usecs () < results->measure_end_us) {
        int64_t sent_us = zclock_usecs ();
        uint64_t id;
        int64_t ts;
        raftq_code_t code = raftq_send_message (client, options->receiver, text, &id, &ts);
        int64_t now = zclock_usecs ();
        if (sent_us < results->measure_start_us || now >= results->measure_end_us)
            continue;
        if (code == RAFTQ_OK) {
            results->committed++;
            histogram_record (results->latency_us, (uint64_t)(now - sent_us));
        } else if ((int)code < S_CODES)
            results->errors[code]++;
    }
}

//  Runs --mode chat or fanout. Returns the exit status.
static int
s_main_chat (char **endpoints, const options_t *options, const char *text)
{
    char **pub_endpoints = NULL;
    if (options->mode == MODE_FANOUT) {
        char error[512];
        pub_endpoints = raftq_config_pub_endpoints (options->config_path, error, sizeof (error));
        if (!pub_endpoints) {
            fprintf (stderr, "raftq-bench: %s\n", error);
            return S_EXIT_USAGE;
        }
    }
    raftq_client_t *client = s_chat_client (endpoints, options);
    int status = 1;
    if (client && options->mode == MODE_FANOUT)
        status =
            fanout_run (client, endpoints, options->receiver, pub_endpoints, &options->fanout) == 0
                ? 0
                : 1;
    else if (client) {
        results_t results;
        memset (&results, 0, sizeof (results));
        results.latency_us = histogram_new ();
        if (results.latency_us) {
            s_load_average (&results.load_start);
            s_run_chat (client, options, text, &results);
            s_load_average (&results.load_end);
            s_report (options, raftq_client_leader (client), &results);
            status = 0;
        }
        histogram_destroy (&results.latency_us);
    }
    raftq_client_destroy (&client);
    raftq_strings_free (&pub_endpoints);
    return status;
}

//  Lets fanout open many sockets: file descriptors up to the hard limit,
//  and a ZeroMQ socket limit above the subscribers (must precede the first
//  socket).
static void
s_raise_limits (const options_t *options)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit) == -1)
            fprintf (stderr, "raftq-bench: cannot raise the file limit\n");
    }
    zsys_set_max_sockets (options->fanout.subscribers + 64);
}

//  Runs --mode publish, pop or stall. Returns the exit status.
static int
s_main_queue (char **endpoints, const options_t *options)
{
    size_t count = (size_t)options->connections;
    connection_t *connections = (connection_t *)calloc (count, sizeof (connection_t));
    raftq_client_t **clients = (raftq_client_t **)calloc (count, sizeof (raftq_client_t *));
    bool *ready = (bool *)calloc (count, sizeof (bool));
    uint8_t *payload = (uint8_t *)malloc (options->size ? options->size : 1);
    results_t results;
    memset (&results, 0, sizeof (results));
    results.latency_us = histogram_new ();
    if (options->mode == MODE_STALL) {
        results.window_us = (int64_t)options->window_ms * 1000;
        results.window_count = (size_t)(options->duration_s * 1e6 / (double)results.window_us) + 1;
        results.windows = (uint32_t *)calloc (results.window_count, sizeof (uint32_t));
    }
    int status = 1;
    if (connections && clients && ready && payload && results.latency_us &&
        (options->mode != MODE_STALL || results.windows)) {
        //  Random bytes: nothing on the path gets to compress them.
        randombytes_buf (payload, options->size);
        size_t opened = 0;
        while (opened < count &&
               s_connection_open (&connections[opened], endpoints, options) == 0) {
            clients[opened] = connections[opened].client;
            opened++;
        }
        if (opened == count) {
            s_load_average (&results.load_start);
            s_run (connections, clients, ready, options, payload, &results);
            s_load_average (&results.load_end);
            s_report (options, raftq_client_leader (connections[0].client), &results);
            if (options->mode == MODE_STALL)
                s_report_stall (options, &results);
            status = 0;
        }
        //  The one that failed to open is cleaned up too.
        for (size_t index = 0; index < count && index <= opened; index++)
            s_connection_close (&connections[index]);
    }
    histogram_destroy (&results.latency_us);
    free (results.windows);
    free (payload);
    free (ready);
    free (clients);
    free (connections);
    return status;
}

//  --------------------------------------------------------------------------
//  --mode restart

//  Where the restarted node lives and how it is started.
typedef struct {
    char config_path[PATH_MAX]; //  the config, absolute: raftqd runs elsewhere
    char base_dir[PATH_MAX];    //  its directory: raftqd's working directory
    char node_dir[PATH_MAX];    //  <data_dir>/node-<id>
    char raftqd[PATH_MAX];      //  the broker executable
    size_t endpoint_index;      //  the node's place among the config's endpoints
    pid_t spawned;              //  the node's pid once we spawned it, else 0
} restart_plan_t;

//  One restart's times, in microseconds from the spawn.
typedef struct {
    int64_t answered_us; //  first status answer
    int64_t ready_us;    //  applied index back where it was
    int64_t cpu_us;      //  CPU time the node used until then, all threads:
                         //  less skewed than wall time on a busy machine
} restart_times_t;

//  Finds the node's directory and place in the config, and the broker.
//  Returns 0, or -1 after saying why.
static int
s_restart_plan (const options_t *options, restart_plan_t *plan)
{
    memset (plan, 0, sizeof (*plan));
    if (!realpath (options->config_path, plan->config_path)) {
        fprintf (stderr, "raftq-bench: %s: %s\n", options->config_path, strerror (errno));
        return -1;
    }
    snprintf (plan->base_dir, sizeof (plan->base_dir), "%s", plan->config_path);
    *strrchr (plan->base_dir, '/') = 0;
    json_error_t error;
    json_t *root = json_load_file (plan->config_path, 0, &error);
    json_t *nodes = root ? json_object_get (root, "nodes") : NULL;
    json_t *data_dir = root ? json_object_get (root, "data_dir") : NULL;
    const char *data = json_is_string (data_dir) ? json_string_value (data_dir) : "data";
    bool found = false;
    for (size_t index = 0; index < json_array_size (nodes) && !found; index++) {
        json_t *id = json_object_get (json_array_get (nodes, index), "id");
        found = json_is_integer (id) && json_integer_value (id) == (json_int_t)options->node_id;
        if (found)
            plan->endpoint_index = index;
    }
    int length = snprintf (plan->node_dir, sizeof (plan->node_dir), "%s%s%s/node-%u",
                           data[0] == '/' ? "" : plan->base_dir, data[0] == '/' ? "" : "/", data,
                           options->node_id);
    json_decref (root);
    if (!found || length < 0 || (size_t)length >= sizeof (plan->node_dir)) {
        fprintf (stderr, "raftq-bench: %s has no node %u in \"nodes\"\n", plan->config_path,
                 options->node_id);
        return -1;
    }
    if (options->raftqd)
        snprintf (plan->raftqd, sizeof (plan->raftqd), "%s", options->raftqd);
    else {
        ssize_t length = readlink ("/proc/self/exe", plan->raftqd, sizeof (plan->raftqd) - 1);
        plan->raftqd[length > 0 ? length : 0] = 0;
        char *slash = strrchr (plan->raftqd, '/');
        if (slash && (size_t)(slash - plan->raftqd) + sizeof ("/raftqd") <= sizeof (plan->raftqd))
            strcpy (slash, "/raftqd");
    }
    if (access (plan->raftqd, X_OK)) {
        fprintf (stderr, "raftq-bench: %s: no raftqd executable (give --raftqd)\n", plan->raftqd);
        return -1;
    }
    return 0;
}

//  The node's pid from the pid file raftq-cluster writes, 0 if none.
static pid_t
s_node_pid (const restart_plan_t *plan)
{
    if (plan->spawned)
        return plan->spawned;
    char path[PATH_MAX + 16];
    snprintf (path, sizeof (path), "%s/raftqd.pid", plan->node_dir);
    FILE *file = fopen (path, "r");
    long pid = 0;
    if (file) {
        if (fscanf (file, "%ld", &pid) != 1)
            pid = 0;
        fclose (file);
    }
    return (pid_t)pid;
}

//  True once pid is gone: no such process, or a zombie nobody reaped yet
//  whose other threads have all exited (the main thread of a killed
//  process turns zombie while the others still close its sockets).
static bool
s_process_gone (pid_t pid)
{
    if (kill (pid, 0) == -1 && errno == ESRCH)
        return true;
    char path[64], stat[512] = "";
    snprintf (path, sizeof (path), "/proc/%ld/stat", (long)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return true;
    size_t got = fread (stat, 1, sizeof (stat) - 1, file);
    fclose (file);
    stat[got] = 0;
    char *end = strrchr (stat, ')');
    if (!end || end[1] != ' ' || (end[2] != 'Z' && end[2] != 'X'))
        return false;
    snprintf (path, sizeof (path), "/proc/%ld/task", (long)pid);
    DIR *tasks = opendir (path);
    size_t threads = 0;
    for (struct dirent *task = tasks ? readdir (tasks) : NULL; task; task = readdir (tasks))
        threads += task->d_name[0] != '.';
    if (tasks)
        closedir (tasks);
    return threads <= 1;
}

//  SIGKILLs the node and waits until it is gone. Returns 0 or -1.
static int
s_kill_node (restart_plan_t *plan)
{
    pid_t pid = s_node_pid (plan);
    if (pid <= 0 || kill (pid, SIGKILL)) {
        fprintf (stderr, "raftq-bench: cannot kill the node (pid %ld): %s\n", (long)pid,
                 pid <= 0 ? "no pid file" : strerror (errno));
        return -1;
    }
    if (plan->spawned) {
        waitpid (plan->spawned, NULL, 0);
        plan->spawned = 0;
        return 0;
    }
    int64_t deadline = zclock_mono () + S_KILL_WAIT_MS;
    while (!s_process_gone (pid) && zclock_mono () < deadline)
        zclock_sleep (1);
    return s_process_gone (pid) ? 0 : -1;
}

//  Spawns raftqd for the node in its own session, output appended to its
//  log as raftq-cluster does, and writes the pid file. Returns 0 or -1.
static int
s_spawn_node (restart_plan_t *plan, const options_t *options)
{
    char log_path[PATH_MAX + 16], pid_path[PATH_MAX + 16], id[16];
    snprintf (log_path, sizeof (log_path), "%s/raftqd.log", plan->node_dir);
    snprintf (pid_path, sizeof (pid_path), "%s/raftqd.pid", plan->node_dir);
    snprintf (id, sizeof (id), "%u", options->node_id);
    pid_t pid = fork ();
    if (pid == 0) {
        //  Only async-signal-safe calls until exec: the parent has threads
        setsid ();
        int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nothing = open ("/dev/null", O_RDONLY);
        if (log >= 0 && nothing >= 0 && dup2 (log, 1) >= 0 && dup2 (log, 2) >= 0 &&
            dup2 (nothing, 0) >= 0 && chdir (plan->base_dir) == 0)
            execl (plan->raftqd, "raftqd", "--config", plan->config_path, "--id", id, (char *)NULL);
        _exit (127);
    }
    if (pid < 0) {
        fprintf (stderr, "raftq-bench: fork: %s\n", strerror (errno));
        return -1;
    }
    plan->spawned = pid;
    FILE *file = fopen (pid_path, "w");
    if (file) {
        fprintf (file, "%ld\n", (long)pid);
        fclose (file);
    }
    return 0;
}

//  CPU time (user and system, all threads) pid has used, 0 if unknown.
static int64_t
s_cpu_us (pid_t pid)
{
    char path[64], stat[1024] = "";
    snprintf (path, sizeof (path), "/proc/%ld/stat", (long)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    size_t got = fread (stat, 1, sizeof (stat) - 1, file);
    fclose (file);
    stat[got] = 0;
    //  utime and stime are fields 14 and 15; the name before may hold spaces
    char *end = strrchr (stat, ')');
    unsigned long long user = 0, system = 0;
    if (!end || sscanf (end + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user,
                        &system) != 2)
        return 0;
    return (int64_t)((user + system) * 1000000ULL / (unsigned long long)sysconf (_SC_CLK_TCK));
}

//  Probes the node's status every S_PROBE_MS until its applied index
//  reaches target (0: until it answers). Returns 0 with the times since
//  started_us, or -1 after saying why (the node died or stayed behind).
static int
s_wait_ready (raftq_client_t *client, restart_plan_t *plan, uint64_t target, int64_t started_us,
              restart_times_t *times)
{
    memset (times, 0, sizeof (*times));
    int64_t deadline = zclock_mono () + S_READY_WAIT_MS;
    raftq_status_t status;
    while (zclock_mono () < deadline && !zsys_interrupted) {
        if (plan->spawned && waitpid (plan->spawned, NULL, WNOHANG) == plan->spawned) {
            plan->spawned = 0;
            fprintf (stderr, "raftq-bench: the node exited; see %s/raftqd.log\n", plan->node_dir);
            return -1;
        }
        if (raftq_status (client, plan->endpoint_index, &status) != RAFTQ_OK)
            continue; //  the probe waited S_PROBE_MS
        int64_t now = zclock_usecs ();
        if (times->answered_us == 0)
            times->answered_us = now - started_us;
        if (status.applied_index >= target) {
            times->ready_us = now - started_us;
            times->cpu_us = plan->spawned ? s_cpu_us (plan->spawned) : 0;
            return 0;
        }
        zclock_sleep (S_PROBE_MS / 2);
    }
    fprintf (stderr, "raftq-bench: the node did not reach applied index %" PRIu64 " in %d ms\n",
             target, S_READY_WAIT_MS);
    return -1;
}

//  Index of the newest snapshot file of the node, 0 if none.
static uint64_t
s_newest_snapshot (const restart_plan_t *plan)
{
    char path[PATH_MAX + 16];
    snprintf (path, sizeof (path), "%s/snap", plan->node_dir);
    uint64_t newest = 0;
    zdir_t *dir = zdir_new (path, "-");
    zfile_t **files = dir ? zdir_flatten (dir) : NULL;
    for (size_t index = 0; files && files[index]; index++) {
        unsigned long long found;
        char suffix[8] = "";
        const char *name = strrchr (zfile_filename (files[index], NULL), '/');
        if (name && sscanf (name, "/snapshot-%20llu.%7s", &found, suffix) == 2 &&
            streq (suffix, "snap") && found > newest)
            newest = found;
    }
    zdir_flatten_free (&files);
    zdir_destroy (&dir);
    return newest;
}

//  Waits until the node applied what the cluster committed. Returns the
//  node's applied index, 0 after saying why.
static uint64_t
s_wait_caught_up (raftq_client_t *client, restart_plan_t *plan, size_t endpoint_count)
{
    uint64_t committed = 0;
    raftq_status_t status;
    for (size_t index = 0; index < endpoint_count; index++)
        if (raftq_status (client, index, &status) == RAFTQ_OK && status.commit_index > committed)
            committed = status.commit_index;
    restart_times_t times;
    if (committed == 0 || s_wait_ready (client, plan, committed, zclock_usecs (), &times))
        return 0;
    return raftq_status (client, plan->endpoint_index, &status) == RAFTQ_OK ? status.applied_index
                                                                            : 0;
}

static int
s_compare_i64 (const void *first, const void *second)
{
    int64_t a = *(const int64_t *)first, b = *(const int64_t *)second;
    return a < b ? -1 : a > b;
}

static double
s_median_ms (int64_t *values, int count)
{
    qsort (values, (size_t)count, sizeof (int64_t), s_compare_i64);
    return (double)values[count / 2] / 1000.0;
}

//  Runs --mode restart. Returns the exit status.
static int
s_main_restart (char **endpoints, const options_t *options)
{
    restart_plan_t plan;
    if (s_restart_plan (options, &plan))
        return S_EXIT_USAGE;
    if (options->count) {
        options_t fill = *options;
        fill.mode = MODE_QUEUE;
        fill.warmup_s = 0;
        fill.duration_s = 86400;
        if (s_main_queue (endpoints, &fill))
            return 1;
    }
    size_t endpoint_count = 0;
    while (endpoints[endpoint_count])
        endpoint_count++;
    raftq_client_t *client = raftq_client_new ((const char **)endpoints, endpoint_count);
    if (!client)
        return 1;
    raftq_client_set_attempt_timeout (client, S_PROBE_MS);
    int64_t *answered = (int64_t *)calloc ((size_t)options->runs, sizeof (int64_t));
    int64_t *ready = (int64_t *)calloc ((size_t)options->runs, sizeof (int64_t));
    int64_t *cpu = (int64_t *)calloc ((size_t)options->runs, sizeof (int64_t));
    int status = 1;
    int run = 0;
    if (answered && ready && cpu) {
        printf ("raftq-bench: restart of node %u (%s), %d runs\n", options->node_id,
                endpoints[plan.endpoint_index], options->runs);
        printf ("  %4s %12s %12s %12s %14s %14s %14s\n", "run", "applied", "snapshot", "log after",
                "answers (ms)", "ready (ms)", "cpu (ms)");
    }
    for (; answered && ready && cpu && run < options->runs && !zsys_interrupted; run++) {
        uint64_t applied = s_wait_caught_up (client, &plan, endpoint_count);
        if (applied == 0) {
            fprintf (stderr, "raftq-bench: node %u does not answer or applies nothing\n",
                     options->node_id);
            break;
        }
        if (options->snapshot_first) {
            raftq_code_t code = raftq_admin_snapshot (client, plan.endpoint_index, NULL);
            if (code != RAFTQ_OK) {
                fprintf (stderr, "raftq-bench: TakeSnapshot: %s: %s\n", raftq_code_name (code),
                         raftq_client_error (client));
                break;
            }
        }
        uint64_t snapshot = s_newest_snapshot (&plan);
        if (s_kill_node (&plan))
            break;
        int64_t started = zclock_usecs ();
        restart_times_t times;
        if (s_spawn_node (&plan, options) || s_wait_ready (client, &plan, applied, started, &times))
            break;
        answered[run] = times.answered_us;
        ready[run] = times.ready_us;
        cpu[run] = times.cpu_us;
        printf ("  %4d %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %14.1f %14.1f %14.1f\n", run + 1,
                applied, snapshot, applied - snapshot, times.answered_us / 1000.0,
                times.ready_us / 1000.0, times.cpu_us / 1000.0);
        fflush (stdout);
    }
    if (run == options->runs) {
        printf ("  %-43s %14.1f %14.1f %14.1f\n", "median", s_median_ms (answered, run),
                s_median_ms (ready, run), s_median_ms (cpu, run));
        status = 0;
    }
    free (answered);
    free (ready);
    free (cpu);
    raftq_client_destroy (&client);
    return status;
}

int
main (int argc, char **argv)
{
    options_t options;
    int status = s_parse (argc, argv, &options);
    if (status >= 0)
        return status;
    if (sodium_init () == -1)
        return 1;
    if (options.mode == MODE_FANOUT)
        s_raise_limits (&options);
    char **endpoints = s_endpoints (&options);
    if (!endpoints)
        return S_EXIT_USAGE;
    if (options.mode == MODE_RESTART) {
        status = s_main_restart (endpoints, &options);
        raftq_strings_free (&endpoints);
        return status;
    }
    if (options.mode != MODE_QUEUE && options.mode != MODE_STALL) {
        //  Printable text of the payload size: chat messages are UTF-8.
        char *text = (char *)malloc (options.size + 1);
        status = 1;
        if (text) {
            for (size_t index = 0; index < options.size; index++)
                text[index] = (char)('a' + index % 26);
            text[options.size] = 0;
            status = s_main_chat (endpoints, &options, text);
        }
        free (text);
        raftq_strings_free (&endpoints);
        return status;
    }

    status = s_main_queue (endpoints, &options);
    raftq_strings_free (&endpoints);
    return status;
}
