/*  cli_consume — the commands of acknowledged consumption: `reserve`,
    `ack`, `nack`, `pop` (with --wait), and `topics --detail`, the queue of
    every topic as the leader has applied it (ready, reserved, delayed,
    dead-lettered, and how dead letters are made).
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "raftq_cli.h"

//  A delivery as JSON: topic and message (or message_base64), as pop has
//  always printed it, and what a reserve or a dead letter adds.
static json_t *
s_delivery_json (const raftq_delivery_t *delivery)
{
    json_t *object = json_pack ("{s:b, s:s}", "success", 1, "topic", delivery->topic);
    cli_json_set_bytes (object, "message", delivery->payload, delivery->size);
    if (delivery->receipt) {
        json_object_set_new (object, "sequence", json_integer ((json_int_t)delivery->sequence));
        json_object_set_new (object, "receipt", json_string (delivery->receipt));
        json_object_set_new (object, "deliveries", json_integer (delivery->deliveries));
        json_object_set_new (object, "visible_at", json_integer (delivery->visible_at_ms));
    }
    if (delivery->original_topic) {
        json_object_set_new (object, "original_topic", json_string (delivery->original_topic));
        json_object_set_new (object, "original_deliveries",
                             json_integer (delivery->original_deliveries));
    }
    return object;
}

//  A delivery for people: the message on its own line (as pop prints it),
//  then what a reserve or a dead letter adds, one line each.
static void
s_print_delivery (const raftq_delivery_t *delivery)
{
    fwrite (delivery->payload, 1, delivery->size, stdout);
    putchar ('\n');
    if (delivery->receipt) {
        char visible[32];
        cli_format_time (delivery->visible_at_ms, visible, sizeof (visible));
        printf ("receipt %s (delivery %u, sequence %" PRIu64 "; ready again at %s unless acked)\n",
                delivery->receipt, delivery->deliveries, delivery->sequence, visible);
    }
    if (delivery->original_topic)
        printf ("dead letter from %s after %u deliveries\n", delivery->original_topic,
                delivery->original_deliveries);
}

//  Prints what reserve or pop took, or the failure.
static int
s_report_taken (const cli_options_t *options, raftq_client_t *client, raftq_code_t code,
                raftq_delivery_t **delivery_p)
{
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    if (options->json)
        cli_print_json (s_delivery_json (*delivery_p));
    else
        s_print_delivery (*delivery_p);
    raftq_delivery_destroy (delivery_p);
    return CLI_EXIT_OK;
}

int
cli_command_reserve (const cli_options_t *options, raftq_client_t *client)
{
    raftq_delivery_t *delivery;
    raftq_code_t code = raftq_reserve (client, options->arguments[0], options->visibility_ms,
                                       options->wait_ms, &delivery);
    return s_report_taken (options, client, code, &delivery);
}

int
cli_command_pop (const cli_options_t *options, raftq_client_t *client)
{
    raftq_delivery_t *delivery;
    raftq_code_t code = raftq_pop_wait (client, options->arguments[0], options->wait_ms, &delivery);
    return s_report_taken (options, client, code, &delivery);
}

//  Prints the success of an ack or a nack, or the failure.
static int
s_report_settled (const cli_options_t *options, raftq_client_t *client, raftq_code_t code,
                  const char *done)
{
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    if (options->json)
        cli_print_json (json_pack ("{s:b}", "success", 1));
    else
        printf ("%s %s\n", done, options->arguments[0]);
    return CLI_EXIT_OK;
}

int
cli_command_ack (const cli_options_t *options, raftq_client_t *client)
{
    return s_report_settled (options, client, raftq_ack (client, options->arguments[0]), "acked");
}

int
cli_command_nack (const cli_options_t *options, raftq_client_t *client)
{
    raftq_code_t code = raftq_nack (client, options->arguments[0], options->delay_ms);
    return s_report_settled (options, client, code, "nacked");
}

#define S_TOPIC_ROW_FORMAT "%-24s %9s %9s %9s %13s %14s %s\n"

static void
s_print_topic (const raftq_topic_status_t *topic)
{
    char ready[24], reserved[24], delayed[24], dead_lettered[24], max_deliveries[16];
    snprintf (ready, sizeof (ready), "%" PRIu64, topic->ready);
    snprintf (reserved, sizeof (reserved), "%" PRIu64, topic->reserved);
    snprintf (delayed, sizeof (delayed), "%" PRIu64, topic->delayed);
    snprintf (dead_lettered, sizeof (dead_lettered), "%" PRIu64, topic->dead_lettered);
    if (topic->max_deliveries)
        snprintf (max_deliveries, sizeof (max_deliveries), "%u", topic->max_deliveries);
    else
        snprintf (max_deliveries, sizeof (max_deliveries), "-");
    printf (S_TOPIC_ROW_FORMAT, topic->name, ready, reserved, delayed, dead_lettered,
            max_deliveries, *topic->dead_letter ? topic->dead_letter : "-");
}

static json_t *
s_topic_json (const raftq_topic_status_t *topic)
{
    return json_pack ("{s:s, s:I, s:I, s:I, s:I, s:i, s:o}", "name", topic->name, "ready",
                      (json_int_t)topic->ready, "reserved", (json_int_t)topic->reserved, "delayed",
                      (json_int_t)topic->delayed, "dead_lettered", (json_int_t)topic->dead_lettered,
                      "max_deliveries", (int)topic->max_deliveries, "dead_letter",
                      *topic->dead_letter ? json_string (topic->dead_letter) : json_null ());
}

int
cli_command_topics_detail (const cli_options_t *options, raftq_client_t *client)
{
    //  Only the leader's counts are current: find it as status does
    size_t count;
    cli_node_t *nodes = cli_sweep (client, &count);
    if (!nodes)
        return cli_report_failure (options, RAFTQ_INTERNAL, "out of memory");
    const cli_node_t *leader = cli_sweep_leader (nodes, count);
    size_t index = leader ? leader->endpoint_index : 0;
    free (nodes);
    if (!leader)
        return cli_report_failure (options, RAFTQ_NO_LEADER, "no node answered as leader");
    raftq_topics_status_t *topics;
    raftq_code_t code = raftq_topics_status (client, index, &topics);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    json_t *rows = json_array ();
    if (!options->json)
        printf (S_TOPIC_ROW_FORMAT, "TOPIC", "READY", "RESERVED", "DELAYED", "DEAD-LETTERED",
                "MAX-DELIVERIES", "DEAD-LETTER");
    for (size_t topic = 0; topic < topics->count; topic++) {
        if (options->json)
            json_array_append_new (rows, s_topic_json (&topics->topics[topic]));
        else
            s_print_topic (&topics->topics[topic]);
    }
    if (options->json)
        cli_print_json (json_pack ("{s:b, s:o}", "success", 1, "topics", rows));
    else
        json_decref (rows);
    raftq_topics_status_destroy (&topics);
    return CLI_EXIT_OK;
}
