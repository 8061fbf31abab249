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

    Running it
        tools/raftq-cluster --config C wipe && tools/raftq-cluster --config C start
        build/raftq-bench -c C -n 1 -m 1               one client, one publish at a time
        build/raftq-bench -c C -n 1 -m 64              throughput: 64 in flight on one connection
        build/raftq-bench -c C -n 4 -m 16              the same 64 over four connections
        build/raftq-bench -c C --mode chat             SendMessage, one at a time
        build/raftq-bench -c C --mode fanout -S 1000 -r 1000 -d 10
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
*/
#include <getopt.h>
#include <sys/resource.h>
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

#define S_EXIT_USAGE     2
#define S_ENDPOINTS_MAX  64
#define S_CODES          (RAFTQ_INTERNAL + 1)
//  How often in-flight operations are checked for having gone unanswered.
#define S_EXPIRY_CHECK_US 100000

typedef enum {
    MODE_QUEUE,         //  publish, or pop with --pop
    MODE_CHAT,          //  SendMessage between two accounts
    MODE_FANOUT         //  SendMessage delivered to many subscribers
} bench_mode_t;

//  What the command line asked for.
typedef struct {
    bench_mode_t mode;                          //  --mode
    const char *config_path;                    //  -c
    const char *endpoints [S_ENDPOINTS_MAX];    //  -e, replace the config's nodes
    size_t endpoint_count;                      //  how many -e
    int connections;                            //  client connections
    int in_flight;                              //  operations each keeps outstanding
    size_t size;                                //  publish payload bytes
    double duration_s;                          //  measured phase
    double warmup_s;                            //  unmeasured phase before it
    const char *topic;                          //  topic published to / popped from
    bool pop;                                   //  drain the topic instead of publishing
    const char *sender;                         //  chat and fanout: account that sends
    const char *receiver;                       //  chat and fanout: account that receives
    fanout_plan_t fanout;                       //  --subscribers, --rate, duration, drain
    int op_timeout_ms;                          //  an operation unanswered this long is lost
} options_t;

//  One client connection and its operations in flight.
typedef struct {
    raftq_client_t *client;     //  owns the DEALER(s), client id and seq
    uint64_t *seqs;             //  seq of the operation in each slot, 0 when free
    int64_t *sent_us;           //  when each slot's operation was sent
    int used;                   //  slots in use
    bool drained;               //  --pop: saw EMPTY, sends no more
} connection_t;

//  What the run measured.
typedef struct {
    histogram_t *latency_us;        //  committed operations in the measured phase
    uint64_t committed;             //  OK replies in the measured phase
    uint64_t errors [S_CODES];      //  other replies in the measured phase, by code
    uint64_t empty;                 //  --pop: EMPTY replies, any phase
    uint64_t lost;                  //  no reply within the operation timeout
    uint64_t late;                  //  replies after their operation was counted lost
    uint64_t send_failures;         //  sends the client could not queue
    int64_t measure_start_us;       //  measured phase, start
    int64_t measure_end_us;         //  and end (earlier when --pop drained)
    double load_start;              //  1-minute load average when the run began
    double load_end;                //  and when it ended: a busy machine skews it all
} results_t;

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: raftq-bench [-c config.json] [-e tcp://host:port]... [--connections N]\n"
        "                   [--inflight M] [--size BYTES] [--duration S] [--warmup S]\n"
        "                   [--topic NAME] [--pop] [--op-timeout MS]\n"
        "                   [--mode publish|pop|chat|fanout] [--subscribers S] [--rate R]\n"
        "                   [--sender NAME] [--receiver NAME] [--drain MS] [--senders K]\n"
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
        "                        a time, fanout: delivery to --subscribers on the pub ports\n"
        "  -S, --subscribers S   fanout: SUB sockets, round robin over the nodes, default 10\n"
        "  -r, --rate R          fanout: messages per second, default 1000\n"
        "  -D, --drain MS        fanout: wait for deliveries after the last send, default 2000\n"
        "      --sender NAME     chat, fanout: sending account, default bench-sender\n"
        "      --receiver NAME   chat, fanout: receiving account, default bench-receiver\n"
        "      --senders K       fanout: threads sending (one session), default 4: one\n"
        "                        synchronous sender cannot keep up with 1000/s\n");
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
    static const struct option long_options [] = {
        { "config",      required_argument, NULL, 'c' },
        { "endpoint",    required_argument, NULL, 'e' },
        { "connections", required_argument, NULL, 'n' },
        { "inflight",    required_argument, NULL, 'm' },
        { "size",        required_argument, NULL, 's' },
        { "duration",    required_argument, NULL, 'd' },
        { "warmup",      required_argument, NULL, 'w' },
        { "topic",       required_argument, NULL, 't' },
        { "pop",         no_argument,       NULL, 'p' },
        { "op-timeout",  required_argument, NULL, 'o' },
        { "mode",        required_argument, NULL, 'M' },
        { "subscribers", required_argument, NULL, 'S' },
        { "rate",        required_argument, NULL, 'r' },
        { "drain",       required_argument, NULL, 'D' },
        { "sender",      required_argument, NULL, 1 },
        { "receiver",    required_argument, NULL, 2 },
        { "senders",     required_argument, NULL, 3 },
        { "help",        no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
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
    int option;
    double value;
    while ((option = getopt_long (argc, argv, "c:e:n:m:s:d:w:t:po:M:S:r:D:h", long_options, NULL)) != -1) {
        bool bad = false;
        switch (option) {
            case 'c': options->config_path = optarg; break;
            case 'e':
                bad = options->endpoint_count == S_ENDPOINTS_MAX;
                if (!bad)
                    options->endpoints [options->endpoint_count++] = optarg;
                break;
            case 'n':
                bad = s_number (optarg, 1, 10000, &value) == -1;
                options->connections = (int) value;
                break;
            case 'm':
                bad = s_number (optarg, 1, 5000, &value) == -1;
                options->in_flight = (int) value;
                break;
            case 's':
                bad = s_number (optarg, 0, 64 * 1024 * 1024, &value) == -1;
                options->size = (size_t) value;
                break;
            case 'd':
                bad = s_number (optarg, 0.001, 86400, &value) == -1;
                options->duration_s = value;
                break;
            case 'w':
                bad = s_number (optarg, 0, 86400, &value) == -1;
                options->warmup_s = value;
                break;
            case 't': options->topic = optarg; break;
            case 'p': options->pop = true; break;
            case 'o':
                bad = s_number (optarg, 1, INT_MAX, &value) == -1;
                options->op_timeout_ms = (int) value;
                break;
            case 'M':
                options->mode = streq (optarg, "chat")? MODE_CHAT
                              : streq (optarg, "fanout")? MODE_FANOUT: MODE_QUEUE;
                bad = options->mode == MODE_QUEUE
                   && !streq (optarg, "publish") && !streq (optarg, "pop");
                if (streq (optarg, "pop"))
                    options->pop = true;
                break;
            case 'S':
                bad = s_number (optarg, 1, 100000, &value) == -1;
                options->fanout.subscribers = (size_t) value;
                break;
            case 'r':
                bad = s_number (optarg, 0.001, 1e6, &value) == -1;
                options->fanout.rate = value;
                break;
            case 'D':
                bad = s_number (optarg, 0, 3600000, &value) == -1;
                options->fanout.drain_ms = (int) value;
                break;
            case 1: options->sender = optarg; break;
            case 2: options->receiver = optarg; break;
            case 3:
                bad = s_number (optarg, 1, 1000, &value) == -1;
                options->fanout.senders = (size_t) value;
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
        fprintf (stderr, "raftq-bench: unexpected argument %s\n", argv [optind]);
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
    return -1;
}

//  The cluster's client endpoints as a NULL-terminated list to free with
//  raftq_strings_free, or NULL after saying why.
static char **
s_endpoints (const options_t *options)
{
    if (options->endpoint_count == 0) {
        char error [512];
        char **endpoints = raftq_config_endpoints (options->config_path, error, sizeof (error));
        if (!endpoints)
            fprintf (stderr, "raftq-bench: %s\n", error);
        return endpoints;
    }
    char **endpoints = (char **) calloc (options->endpoint_count + 1, sizeof (char *));
    for (size_t index = 0; endpoints && index < options->endpoint_count; index++)
        endpoints [index] = strdup (options->endpoints [index]);
    return endpoints;
}

//  Opens a connection and points it at the leader by creating the topic
//  through it (ALREADY_EXISTS is as good). Returns 0, or -1 after saying why.
static int
s_connection_open (connection_t *connection, char **endpoints, const options_t *options)
{
    memset (connection, 0, sizeof (*connection));
    size_t count = 0;
    while (endpoints [count])
        count++;
    connection->client = raftq_client_new ((const char **) endpoints, count);
    connection->seqs = (uint64_t *) calloc ((size_t) options->in_flight, sizeof (uint64_t));
    connection->sent_us = (int64_t *) calloc ((size_t) options->in_flight, sizeof (int64_t));
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
s_connection_fill (connection_t *connection, const options_t *options,
                   const uint8_t *payload, results_t *results)
{
    for (int slot = 0; slot < options->in_flight && !connection->drained; slot++) {
        if (connection->seqs [slot])
            continue;
        uint64_t seq;
        int rc = options->pop
            ? raftq_send_pop (connection->client, options->topic, &seq)
            : raftq_send_publish (connection->client, options->topic, payload, options->size, &seq);
        if (rc == -1) {
            results->send_failures++;
            return;
        }
        connection->seqs [slot] = seq;
        connection->sent_us [slot] = zclock_usecs ();
        connection->used++;
    }
}

//  Accounts for one reply: matched to its slot by seq, counted once.
static void
s_connection_reply (connection_t *connection, const options_t *options,
                    const raftq_reply_t *reply, results_t *results)
{
    int slot = 0;
    while (slot < options->in_flight && connection->seqs [slot] != reply->seq)
        slot++;
    if (slot == options->in_flight) {
        //  Its operation was already counted lost (or it is no reply of ours).
        results->late++;
        return;
    }
    int64_t now = zclock_usecs ();
    int64_t latency = now - connection->sent_us [slot];
    connection->seqs [slot] = 0;
    connection->used--;
    if (reply->code == RAFTQ_EMPTY && options->pop) {
        connection->drained = true;
        results->empty++;
        return;
    }
    bool measured = now >= results->measure_start_us && now < results->measure_end_us
                 && connection->sent_us [slot] >= results->measure_start_us;
    if (!measured)
        return;
    if (reply->code == RAFTQ_OK) {
        results->committed++;
        histogram_record (results->latency_us, (uint64_t) (latency > 0? latency: 0));
    }
    else
        results->errors [reply->code]++;
}

//  Frees the slot of an operation that will never be answered.
static void
s_connection_lose (connection_t *connection, int slot, results_t *results)
{
    connection->seqs [slot] = 0;
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
    int64_t oldest_allowed = zclock_usecs () - (int64_t) options->op_timeout_ms * 1000;
    bool expired = false;
    for (int slot = 0; slot < options->in_flight && !expired; slot++)
        expired = connection->seqs [slot] && connection->sent_us [slot] < oldest_allowed;
    if (!expired)
        return;
    raftq_client_move_on (connection->client);
    for (int slot = 0; slot < options->in_flight; slot++)
        if (connection->seqs [slot])
            s_connection_lose (connection, slot, results);
}

//  Runs all connections from this thread until the measured phase ends and
//  every operation is answered or lost.
static void
s_run (connection_t *connections, raftq_client_t **clients, bool *ready,
       const options_t *options, const uint8_t *payload, results_t *results)
{
    int64_t start = zclock_usecs ();
    results->measure_start_us = start + (int64_t) (options->warmup_s * 1e6);
    results->measure_end_us = results->measure_start_us + (int64_t) (options->duration_s * 1e6);
    int64_t next_expiry_check = start + S_EXPIRY_CHECK_US;
    size_t count = (size_t) options->connections;

    while (!zsys_interrupted) {
        int64_t now = zclock_usecs ();
        bool sending = now < results->measure_end_us;
        int busy = 0, drained = 0;
        for (size_t index = 0; index < count; index++) {
            if (sending)
                s_connection_fill (&connections [index], options, payload, results);
            busy += connections [index].used > 0;
            drained += connections [index].drained;
        }
        if (busy == 0 && (!sending || drained == (int) count))
            break;
        //  Short waits keep the send side and expiry checks responsive.
        raftq_wait (clients, count, 10, ready);
        for (size_t index = 0; index < count; index++) {
            if (!ready [index])
                continue;
            raftq_reply_t reply;
            while (raftq_receive (connections [index].client, 0, &reply) == 0)
                s_connection_reply (&connections [index], options, &reply, results);
        }
        if (zclock_usecs () >= next_expiry_check) {
            for (size_t index = 0; index < count; index++)
                s_connection_expire (&connections [index], options, results);
            next_expiry_check = zclock_usecs () + S_EXPIRY_CHECK_US;
        }
    }
    //  --pop may drain the topic before the planned end.
    int64_t stopped = zclock_usecs ();
    if (stopped < results->measure_end_us)
        results->measure_end_us = stopped > results->measure_start_us? stopped: results->measure_start_us;
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
    double seconds = (double) (results->measure_end_us - results->measure_start_us) / 1e6;
    bool chat = options->mode == MODE_CHAT;
    printf ("raftq-bench: %s %s to %s, leader %s\n",
            chat? "SendMessage from": options->pop? "pop": "publish",
            chat? options->sender: "", chat? options->receiver: options->topic,
            leader? leader: "unknown");
    printf ("  %d connections x %d in flight, %zu B payload, %.1f s measured after %.1f s warmup\n",
            chat? 1: options->connections, chat? 1: options->in_flight, options->size,
            seconds, options->warmup_s);
    printf ("  %-16s %12" PRIu64 "\n", "ops committed", results->committed);
    printf ("  %-16s %12.1f\n", "ops/s", seconds > 0? (double) results->committed / seconds: 0.0);
    static const struct { const char *name; double percentile; } rows [] = {
        { "latency p50", 50 }, { "latency p99", 99 }, { "latency p99.9", 99.9 }
    };
    for (size_t row = 0; row < sizeof (rows) / sizeof (rows [0]); row++)
        printf ("  %-16s %12.3f ms\n", rows [row].name,
                (double) histogram_percentile (results->latency_us, rows [row].percentile) / 1000.0);
    printf ("  %-16s %12.3f ms\n", "latency max",
            (double) histogram_max (results->latency_us) / 1000.0);
    printf ("  %-16s", "errors");
    bool any = false;
    for (int code = 0; code < S_CODES; code++)
        if (results->errors [code]) {
            printf (" %s=%" PRIu64, raftq_code_name ((raftq_code_t) code), results->errors [code]);
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
    printf ("%s\n", any? "": " none");
    printf ("  %-16s %12.2f -> %.2f (%ld CPUs)\n", "load average", results->load_start,
            results->load_end, sysconf (_SC_NPROCESSORS_ONLN));
    if (options->pop)
        printf ("  %-16s %12" PRIu64 "\n", "empty replies", results->empty);
    if (results->late)
        printf ("  %-16s %12" PRIu64 "\n", "late replies", results->late);
}

//  A client logged in as the sender, both accounts created (existing ones
//  are as good: the password is fixed). NULL after saying why.
static raftq_client_t *
s_chat_client (char **endpoints, const options_t *options)
{
    const char *password = "bench-password";
    size_t count = 0;
    while (endpoints [count])
        count++;
    raftq_client_t *client = raftq_client_new ((const char **) endpoints, count);
    if (!client) {
        fprintf (stderr, "raftq-bench: cannot create a client\n");
        return NULL;
    }
    raftq_client_set_timeout (client, options->op_timeout_ms);
    const char *users [] = { options->receiver, options->sender };
    raftq_code_t code = RAFTQ_OK;
    for (size_t index = 0; index < 2 && (code == RAFTQ_OK || code == RAFTQ_ALREADY_EXISTS); index++)
        code = raftq_create_account (client, users [index], password);
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
s_run_chat (raftq_client_t *client, const options_t *options, const char *text,
            results_t *results)
{
    int64_t start = zclock_usecs ();
    results->measure_start_us = start + (int64_t) (options->warmup_s * 1e6);
    results->measure_end_us = results->measure_start_us + (int64_t) (options->duration_s * 1e6);
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
            histogram_record (results->latency_us, (uint64_t) (now - sent_us));
        }
        else
        if ((int) code < S_CODES)
            results->errors [code]++;
    }
}

//  Runs --mode chat or fanout. Returns the exit status.
static int
s_main_chat (char **endpoints, const options_t *options, const char *text)
{
    char **pub_endpoints = NULL;
    if (options->mode == MODE_FANOUT) {
        char error [512];
        pub_endpoints = raftq_config_pub_endpoints (options->config_path, error, sizeof (error));
        if (!pub_endpoints) {
            fprintf (stderr, "raftq-bench: %s\n", error);
            return S_EXIT_USAGE;
        }
    }
    raftq_client_t *client = s_chat_client (endpoints, options);
    int status = 1;
    if (client && options->mode == MODE_FANOUT)
        status = fanout_run (client, endpoints, options->receiver, pub_endpoints, &options->fanout) == 0? 0: 1;
    else
    if (client) {
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
    if (options.mode != MODE_QUEUE) {
        //  Printable text of the payload size: chat messages are UTF-8.
        char *text = (char *) malloc (options.size + 1);
        status = 1;
        if (text) {
            for (size_t index = 0; index < options.size; index++)
                text [index] = (char) ('a' + index % 26);
            text [options.size] = 0;
            status = s_main_chat (endpoints, &options, text);
        }
        free (text);
        raftq_strings_free (&endpoints);
        return status;
    }

    size_t count = (size_t) options.connections;
    connection_t *connections = (connection_t *) calloc (count, sizeof (connection_t));
    raftq_client_t **clients = (raftq_client_t **) calloc (count, sizeof (raftq_client_t *));
    bool *ready = (bool *) calloc (count, sizeof (bool));
    uint8_t *payload = (uint8_t *) malloc (options.size? options.size: 1);
    results_t results;
    memset (&results, 0, sizeof (results));
    results.latency_us = histogram_new ();
    status = 1;
    if (connections && clients && ready && payload && results.latency_us) {
        //  Random bytes: nothing on the path gets to compress them.
        randombytes_buf (payload, options.size);
        size_t opened = 0;
        while (opened < count && s_connection_open (&connections [opened], endpoints, &options) == 0) {
            clients [opened] = connections [opened].client;
            opened++;
        }
        if (opened == count) {
            s_load_average (&results.load_start);
            s_run (connections, clients, ready, &options, payload, &results);
            s_load_average (&results.load_end);
            s_report (&options, raftq_client_leader (connections [0].client), &results);
            status = 0;
        }
        //  The one that failed to open is cleaned up too.
        for (size_t index = 0; index < count && index <= opened; index++)
            s_connection_close (&connections [index]);
    }
    histogram_destroy (&results.latency_us);
    free (payload);
    free (ready);
    free (clients);
    free (connections);
    raftq_strings_free (&endpoints);
    return status;
}
