/*  bench_queue — raftq-bench's publish, pop, read, stall and consume modes,
    with the brokers' CPU per committed operation over the measured phase.
    Latency is send to reply, per operation, counted once by its seq; an
    operation unanswered for --op-timeout is lost, and its connection moves
    on. A reserve+ack is one operation of two requests in one slot: the
    ack goes out when the reserve's reply brings the receipt, and the
    latency runs from the reserve's send to the ack's reply. With --json
    each connection's publishes (or reads) go in the JSON dialect over a
    DEALER of its own to the node its protobuf client found leading when
    it created the topic (bench_json.h); the payload is then random
    letters and digits, text that needs no escaping.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <sodium.h>

#include "bench_cpu.h"
#include "bench_json.h"
#include "bench_queue.h"
#include "bench_results.h"

//  How often in-flight operations are checked for having gone unanswered.
#define S_EXPIRY_CHECK_US 100000

//  One client connection and its operations in flight.
typedef struct {
    raftq_client_t *client; //  owns the DEALER(s), client id and seq
    bench_json_t *json;     //  --json: carries the operations instead, else NULL
    uint64_t *seqs;         //  seq of the operation in each slot, 0 when free
    int64_t *sent_us;       //  when each slot's operation was sent
    bool *acking;           //  reserve+ack: the slot's ack is in flight (its reserve is done)
    int used;               //  slots in use
    bool drained;           //  pop or reserve: saw EMPTY, sends no more
} connection_t;

//  The connections of a run, and what waiting on them needs.
typedef struct {
    connection_t *connections; //  --connections of them
    raftq_client_t **clients;  //  each one's client, for raftq_wait
    bench_json_t **jsons;      //  --json: each one's JSON connection, for bench_json_wait
    bool *ready;               //  which have replies waiting
    size_t count;              //  how many
} pool_t;

//  --json: the connection's JSON dialect side, to the node that answered
//  the topic's creation. Returns 0 or -1.
static int
s_connection_open_json (connection_t *connection, const bench_options_t *options,
                        const uint8_t *payload)
{
    const char *leader = raftq_client_leader (connection->client);
    //  A client id of its own: the protobuf client's seqs are taken.
    uint64_t client_id;
    randombytes_buf (&client_id, sizeof (client_id));
    if (leader)
        connection->json = bench_json_new (leader, options->topic, (const char *)payload,
                                           options->size, client_id | 1);
    if (!connection->json) {
        fprintf (stderr, "raftq-bench: cannot open a JSON connection to %s\n",
                 leader ? leader : "the leader (none known)");
        return -1;
    }
    return 0;
}

static int
s_connection_open (connection_t *connection, char **endpoints, const bench_options_t *options,
                   const uint8_t *payload)
{
    memset (connection, 0, sizeof (*connection));
    size_t count = 0;
    while (endpoints[count])
        count++;
    connection->client = raftq_client_new ((const char **)endpoints, count);
    connection->seqs = (uint64_t *)calloc ((size_t)options->in_flight, sizeof (uint64_t));
    connection->sent_us = (int64_t *)calloc ((size_t)options->in_flight, sizeof (int64_t));
    connection->acking = (bool *)calloc ((size_t)options->in_flight, sizeof (bool));
    if (!connection->client || !connection->seqs || !connection->sent_us || !connection->acking) {
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
    return options->json ? s_connection_open_json (connection, options, payload) : 0;
}

static void
s_connection_close (connection_t *connection)
{
    raftq_client_destroy (&connection->client);
    bench_json_destroy (&connection->json);
    free (connection->seqs);
    free (connection->sent_us);
    free (connection->acking);
}

//  Sends operations until every slot is in use. A send that cannot be
//  queued ends this round; the next loop turn tries again.
static void
s_connection_fill (connection_t *connection, const bench_options_t *options, const uint8_t *payload,
                   bench_results_t *results)
{
    for (int slot = 0; slot < options->in_flight && !connection->drained; slot++) {
        if (connection->seqs[slot])
            continue;
        if (options->count && results->sent >= options->count)
            return;
        uint64_t seq;
        bool read = options->mode == BENCH_MODE_READ;
        int rc = connection->json ? (read ? bench_json_send_list_topics (connection->json, &seq)
                                          : bench_json_send_publish (connection->json, &seq))
                 : read           ? raftq_send_list_topics (connection->client, &seq)
                 : options->reserve
                     ? raftq_send_reserve (connection->client, options->topic, 0, &seq)
                 : options->pop ? raftq_send_pop (connection->client, options->topic, &seq)
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
s_stall_count (bench_results_t *results, int64_t now)
{
    size_t window = (size_t)((now - results->measure_start_us) / results->window_us);
    if (window < results->window_count)
        results->windows[window]++;
    if (now - results->last_ok_us >= results->window_us / 2) {
        if (results->gap_count < BENCH_GAPS_KEPT) {
            results->gaps_us[results->gap_count] = now - results->last_ok_us;
            results->gap_ends_us[results->gap_count] = now;
        }
        results->gap_count++;
    }
    if (now - results->last_ok_us > results->longest_gap_us) {
        results->longest_gap_us = now - results->last_ok_us;
        results->longest_gap_end_us = now;
    }
    results->last_ok_us = now;
}

//  reserve+ack: sends the ack of the message slot's reserve got, in the
//  same slot. Returns 0, or -1 when it cannot be queued (the message
//  comes back after its visibility time; the slot is freed).
static int
s_connection_ack (connection_t *connection, int slot, const raftq_reply_t *reply,
                  bench_results_t *results)
{
    uint64_t seq;
    if (raftq_send_ack (connection->client, reply->receipt, &seq) == -1) {
        results->send_failures++;
        return -1;
    }
    connection->seqs[slot] = seq;
    connection->acking[slot] = true;
    return 0;
}

//  --mode stall: a refusal that came before anything was proposed, which
//  a client following the leader sends again (to the node the refusal
//  named, or round robin: libraftq learned from it).
static bool
s_refused_unproposed (const bench_options_t *options, const connection_t *connection,
                      raftq_code_t code)
{
    return options->mode == BENCH_MODE_STALL && !connection->json &&
           (code == RAFTQ_NOT_LEADER || code == RAFTQ_NO_LEADER || code == RAFTQ_UNAVAILABLE);
}

//  Sends the slot's publish again under a new seq; its latency still runs
//  from the first send. Returns 0, or -1 when it cannot be queued (the
//  slot is freed).
static int
s_connection_resend (connection_t *connection, int slot, const bench_options_t *options,
                     const uint8_t *payload, bench_results_t *results)
{
    uint64_t seq;
    if (raftq_send_publish (connection->client, options->topic, payload, options->size, &seq) ==
        -1) {
        results->send_failures++;
        return -1;
    }
    connection->seqs[slot] = seq;
    results->resent++;
    return 0;
}

//  Accounts for one reply: matched to its slot by seq, counted once.
static void
s_connection_reply (connection_t *connection, const bench_options_t *options,
                    const uint8_t *payload, const raftq_reply_t *reply, bench_results_t *results)
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
    if (options->reserve && !connection->acking[slot] && reply->code == RAFTQ_OK &&
        s_connection_ack (connection, slot, reply, results) == 0)
        return;
    if (s_refused_unproposed (options, connection, reply->code) &&
        s_connection_resend (connection, slot, options, payload, results) == 0)
        return;
    connection->seqs[slot] = 0;
    connection->acking[slot] = false;
    connection->used--;
    if (reply->code == RAFTQ_EMPTY && (options->pop || options->reserve)) {
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
s_connection_lose (connection_t *connection, int slot, bench_results_t *results)
{
    connection->seqs[slot] = 0;
    connection->acking[slot] = false;
    connection->used--;
    results->lost++;
}

//  An operation unanswered for longer than the timeout means the node it
//  went to is dead or cut off: count it lost and move the connection on.
//  Moving on closes that node's socket, so everything else in flight on it
//  is lost as well, now rather than one timeout at a time.
static void
s_connection_expire (connection_t *connection, const bench_options_t *options,
                     bench_results_t *results)
{
    int64_t oldest_allowed = zclock_usecs () - (int64_t)options->op_timeout_ms * 1000;
    bool expired = false;
    for (int slot = 0; slot < options->in_flight && !expired; slot++)
        expired = connection->seqs[slot] && connection->sent_us[slot] < oldest_allowed;
    if (!expired)
        return;
    if (connection->json)
        bench_json_reconnect (connection->json);
    else
        raftq_client_move_on (connection->client);
    for (int slot = 0; slot < options->in_flight; slot++)
        if (connection->seqs[slot])
            s_connection_lose (connection, slot, results);
}

//  Waits briefly for replies on any connection of pool, marks the ready.
static void
s_pool_wait (pool_t *pool)
{
    //  Short waits keep the send side and expiry checks responsive.
    if (pool->jsons)
        bench_json_wait (pool->jsons, pool->count, 10, pool->ready);
    else
        raftq_wait (pool->clients, pool->count, 10, pool->ready);
}

//  The next reply waiting on connection, without blocking. Returns 0 or -1.
static int
s_connection_receive (connection_t *connection, raftq_reply_t *reply)
{
    if (connection->json)
        return bench_json_receive (connection->json, reply);
    return raftq_receive (connection->client, 0, reply);
}

//  Runs all connections from this thread until the measured phase ends and
//  every operation is answered or lost.
static void
s_run (pool_t *pool, const bench_options_t *options, const uint8_t *payload,
       bench_results_t *results, bench_cpu_t *cpu)
{
    int64_t start = zclock_usecs ();
    results->measure_start_us = start + (int64_t)(options->warmup_s * 1e6);
    results->measure_start_wall_ms = zclock_time () + (int64_t)(options->warmup_s * 1e3);
    results->measure_end_us = results->measure_start_us + (int64_t)(options->duration_s * 1e6);
    int64_t next_expiry_check = start + S_EXPIRY_CHECK_US;
    connection_t *connections = pool->connections;
    size_t count = pool->count;

    results->last_ok_us = results->measure_start_us;
    while (!zsys_interrupted) {
        int64_t now = zclock_usecs ();
        if (!cpu->started && now >= results->measure_start_us)
            bench_cpu_start (cpu);
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
        s_pool_wait (pool);
        for (size_t index = 0; index < count; index++) {
            if (!pool->ready[index])
                continue;
            raftq_reply_t reply;
            while (s_connection_receive (&connections[index], &reply) == 0)
                s_connection_reply (&connections[index], options, payload, &reply, results);
        }
        if (zclock_usecs () >= next_expiry_check) {
            for (size_t index = 0; index < count; index++)
                s_connection_expire (&connections[index], options, results);
            next_expiry_check = zclock_usecs () + S_EXPIRY_CHECK_US;
        }
    }
    //  pop and reserve may drain the topic before the planned end.
    int64_t stopped = zclock_usecs ();
    if (stopped < results->measure_end_us)
        results->measure_end_us =
            stopped > results->measure_start_us ? stopped : results->measure_start_us;
}

//  --mode stall: gives results its windows. Returns 0, or -1 when out of
//  memory.
static int
s_stall_windows (const bench_options_t *options, bench_results_t *results)
{
    results->window_us = (int64_t)options->window_ms * 1000;
    results->window_count = (size_t)(options->duration_s * 1e6 / (double)results->window_us) + 1;
    results->windows = (uint32_t *)calloc (results->window_count, sizeof (uint32_t));
    return results->windows ? 0 : -1;
}

//  Opens the connections, runs them and reports. Returns the exit status.
static int
s_open_run_report (pool_t *pool, char **endpoints, const bench_options_t *options,
                   const uint8_t *payload, bench_results_t *results)
{
    connection_t *connections = pool->connections;
    size_t count = pool->count;
    size_t opened = 0;
    while (opened < count &&
           s_connection_open (&connections[opened], endpoints, options, payload) == 0) {
        pool->clients[opened] = connections[opened].client;
        if (pool->jsons)
            pool->jsons[opened] = connections[opened].json;
        opened++;
    }
    int status = 1;
    if (opened == count) {
        bench_cpu_t cpu;
        bench_cpu_find (&cpu, bench_options_config (options));
        bench_load_average (&results->load_start);
        s_run (pool, options, payload, results, &cpu);
        bench_load_average (&results->load_end);
        bench_report (options, raftq_client_leader (connections[0].client), results);
        bench_cpu_report (&cpu, results->committed, "operation");
        if (options->mode == BENCH_MODE_STALL)
            bench_report_stall (options, results);
        status = 0;
    }
    //  The one that failed to open is cleaned up too.
    for (size_t index = 0; index < count && index <= opened; index++)
        s_connection_close (&connections[index]);
    return status;
}

//  The payload: random bytes, which nothing on the path gets to compress;
//  for --json random letters and digits, text a JSON string holds as is.
static void
s_payload_fill (const bench_options_t *options, uint8_t *payload)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (!options->json) {
        randombytes_buf (payload, options->size);
        return;
    }
    for (size_t index = 0; index < options->size; index++)
        payload[index] = (uint8_t)alphabet[randombytes_uniform (sizeof (alphabet) - 1)];
}

//  Runs one mode's phase: opens the connections, runs them, reports; its
//  committed operations per second in *rate_p (if not NULL). Returns the
//  exit status.
static int
s_phase (char **endpoints, const bench_options_t *options, double *rate_p)
{
    size_t count = (size_t)options->connections;
    pool_t pool = {.count = count};
    pool.connections = (connection_t *)calloc (count, sizeof (connection_t));
    pool.clients = (raftq_client_t **)calloc (count, sizeof (raftq_client_t *));
    if (options->json)
        pool.jsons = (bench_json_t **)calloc (count, sizeof (bench_json_t *));
    pool.ready = (bool *)calloc (count, sizeof (bool));
    uint8_t *payload = (uint8_t *)malloc (options->size ? options->size : 1);
    bench_results_t results;
    int status = 1;
    if (bench_results_init (&results) == 0 && pool.connections && pool.clients && pool.ready &&
        (pool.jsons || !options->json) && payload &&
        (options->mode != BENCH_MODE_STALL || s_stall_windows (options, &results) == 0)) {
        s_payload_fill (options, payload);
        status = s_open_run_report (&pool, endpoints, options, payload, &results);
        double seconds = (double)(results.measure_end_us - results.measure_start_us) / 1e6;
        if (rate_p)
            *rate_p = seconds > 0 ? (double)results.committed / seconds : 0;
    }
    bench_results_free (&results);
    free (payload);
    free (pool.ready);
    free (pool.jsons);
    free (pool.clients);
    free (pool.connections);
    return status;
}

//  --mode consume: publishes twice count messages, pops count of them, then
//  reserves and acks the rest, with the same connections and in-flight
//  depth, and compares the two ways of consuming.
static int
s_consume (char **endpoints, const bench_options_t *options)
{
    uint64_t messages = options->count ? options->count : BENCH_CONSUME_MESSAGES;
    bench_options_t phase = *options;
    phase.mode = BENCH_MODE_QUEUE;
    phase.warmup_s = 0; //  every message counts: the phases are measured whole
    phase.count = 2 * messages;
    double pop_rate = 0, reserve_rate = 0;
    int status = s_phase (endpoints, &phase, NULL);
    phase.count = messages;
    phase.pop = true;
    if (status == 0)
        status = s_phase (endpoints, &phase, &pop_rate);
    phase.pop = false;
    phase.reserve = true;
    if (status == 0)
        status = s_phase (endpoints, &phase, &reserve_rate);
    if (status == 0)
        printf ("raftq-bench: consume: reserve+ack %.1f msg/s, pop %.1f msg/s: %.2f x pop "
                "(aim: at least %.2f)\n",
                reserve_rate, pop_rate, pop_rate > 0 ? reserve_rate / pop_rate : 0.0,
                BENCH_CONSUME_AIM);
    return status;
}

int
bench_queue_main (char **endpoints, const bench_options_t *options)
{
    if (options->mode == BENCH_MODE_CONSUME)
        return s_consume (endpoints, options);
    return s_phase (endpoints, options, NULL);
}
