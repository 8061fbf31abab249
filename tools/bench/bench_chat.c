/*  bench_chat — raftq-bench's chat and fanout modes. The messages are
    printable text of the payload size: chat messages are UTF-8.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "bench_chat.h"
#include "bench_cpu.h"
#include "bench_results.h"
#include "fanout.h"

//  A client logged in as the sender, both accounts created (existing ones
//  are as good: the password is fixed). NULL after saying why.
static raftq_client_t *
s_chat_client (char **endpoints, const bench_options_t *options)
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
s_run_chat (raftq_client_t *client, const bench_options_t *options, const char *text,
            bench_results_t *results, bench_cpu_t *cpu)
{
    int64_t start = zclock_usecs ();
    results->measure_start_us = start + (int64_t)(options->warmup_s * 1e6);
    results->measure_end_us = results->measure_start_us + (int64_t)(options->duration_s * 1e6);
    while (!zsys_interrupted && zclock_usecs () < results->measure_end_us) {
        int64_t sent_us = zclock_usecs ();
        if (!cpu->started && sent_us >= results->measure_start_us)
            bench_cpu_start (cpu);
        uint64_t id;
        int64_t ts;
        raftq_code_t code = raftq_send_message (client, options->receiver, text, &id, &ts);
        int64_t now = zclock_usecs ();
        if (sent_us < results->measure_start_us || now >= results->measure_end_us)
            continue;
        if (code == RAFTQ_OK) {
            results->committed++;
            histogram_record (results->latency_us, (uint64_t)(now - sent_us));
        } else if ((int)code < BENCH_CODES)
            results->errors[code]++;
    }
}

//  --mode chat: SendMessage one at a time, then the report.
static int
s_chat (raftq_client_t *client, const bench_options_t *options, const char *text)
{
    bench_results_t results;
    int status = 1;
    if (bench_results_init (&results) == 0) {
        bench_cpu_t cpu;
        bench_cpu_find (&cpu, bench_options_config (options));
        bench_load_average (&results.load_start);
        s_run_chat (client, options, text, &results, &cpu);
        bench_load_average (&results.load_end);
        bench_report (options, raftq_client_leader (client), &results);
        bench_cpu_report (&cpu, results.committed, "message");
        status = 0;
    }
    bench_results_free (&results);
    return status;
}

//  Printable text of the payload size (malloc'd): chat messages are UTF-8.
static char *
s_text (size_t size)
{
    char *text = (char *)malloc (size + 1);
    if (!text)
        return NULL;
    for (size_t index = 0; index < size; index++)
        text[index] = (char)('a' + index % 26);
    text[size] = 0;
    return text;
}

//  The receiver's session token in token (the client keeps the sender's):
//  its stream reaches only a subscriber who presents it. 0, or -1.
static int
s_receiver_token (raftq_client_t *client, const bench_options_t *options, char *token,
                  size_t token_size)
{
    char *sender = strdup (raftq_client_token (client) ? raftq_client_token (client) : "");
    raftq_code_t code =
        sender ? raftq_login (client, options->receiver, "bench-password", NULL) : RAFTQ_INTERNAL;
    if (code == RAFTQ_OK)
        snprintf (token, token_size, "%s", raftq_client_token (client));
    int rc = code == RAFTQ_OK && sender && raftq_client_set_token (client, sender) == 0 ? 0 : -1;
    if (rc)
        fprintf (stderr, "raftq-bench: login of %s: %s\n", options->receiver,
                 raftq_code_name (code));
    free (sender);
    return rc;
}

int
bench_chat_main (char **endpoints, const bench_options_t *options)
{
    char **pub_endpoints = NULL;
    if (options->mode == BENCH_MODE_FANOUT) {
        char error[512];
        pub_endpoints = raftq_config_pub_endpoints (options->config_path, error, sizeof (error));
        if (!pub_endpoints) {
            fprintf (stderr, "raftq-bench: %s\n", error);
            return BENCH_EXIT_USAGE;
        }
    }
    char *text = s_text (options->size);
    raftq_client_t *client = text ? s_chat_client (endpoints, options) : NULL;
    int status = 1;
    char token[128] = "";
    fanout_plan_t plan = options->fanout;
    plan.broker_config = bench_options_config (options);
    if (client && options->mode == BENCH_MODE_FANOUT)
        status = s_receiver_token (client, options, token, sizeof token) == 0 &&
                         fanout_run (client, endpoints, options->receiver, token, pub_endpoints,
                                     &plan) == 0
                     ? 0
                     : 1;
    else if (client)
        status = s_chat (client, options, text);
    raftq_client_destroy (&client);
    raftq_strings_free (&pub_endpoints);
    free (text);
    return status;
}
