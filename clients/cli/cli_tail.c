/*  cli_tail — `raftq tail STREAM`: follows one event stream with the
    library's subscription (any node, gaps replayed, failover) and prints
    each event as a line of text or (--json) as the event JSON of DESIGN 6,
    until Ctrl-C or --count events. Lost events (no longer retained) are
    reported, never skipped silently: a line on stderr, and with --json a
    {"kind":"gap"} line on stdout. user/ and conv/ streams are private: they
    need a session of their user (--token, $RAFTQ_TOKEN or --user), and the
    tail ends, exit status 1, when the node revokes it (logout, expiry,
    account deletion), with a {"kind":"revoked"} line under --json. Also
    builds the subscriptions the interactive chat uses.
*/
#include <czmq.h>
#include <inttypes.h>
#include <string.h>

#include "raftq_cli.h"

#define S_NOTE_WAIT_MS 500 //  longest wait before looking which node is followed

bool
cli_private_stream (const char *stream)
{
    return strncmp (stream, "user/", 5) == 0 || strncmp (stream, "conv/", 5) == 0;
}

raftq_subscription_t *
cli_subscription_new (const cli_options_t *options, const char *stream, uint64_t from_seq,
                      const char *token)
{
    if (options->endpoint_count > 0 && options->pub_endpoint_count == 0) {
        fprintf (stderr,
                 "raftq: %s: following a stream needs PUB endpoints: "
                 "give -p after each -e, or use -c\n",
                 options->command);
        return NULL;
    }
    char error[512];
    raftq_subscription_t *subscription = NULL;
    if (options->endpoint_count > 0) {
        //  The same keys and key pair as the command's client (raftq_cli.c).
        char *certificate = options->server_key_count ? cli_client_certificate (options) : NULL;
        subscription = raftq_subscription_new_curve (
            (const char **)options->endpoints, (const char **)options->pub_endpoints,
            options->server_key_count ? (const char **)options->server_keys : NULL,
            options->endpoint_count, certificate, stream, from_seq, error, sizeof (error));
        free (certificate);
    } else
        subscription = raftq_subscription_load (options->config_path, options->client_certificate,
                                                stream, from_seq, error, sizeof (error));
    if (!subscription) {
        fprintf (stderr, "raftq: %s: cannot follow %s: %s\n", options->command, stream, error);
        return NULL;
    }
    if (token && raftq_subscription_set_token (subscription, token) == -1)
        raftq_subscription_destroy (&subscription);
    return subscription;
}

//  The event as DESIGN 6 writes it: stream, seq, index, kind and the fields
//  its kind fills.
static json_t *
s_event_json (const raftq_event_t *event)
{
    json_t *object =
        json_pack ("{s:s, s:I, s:I, s:s}", "stream", event->stream, "seq", (json_int_t)event->seq,
                   "index", (json_int_t)event->index, "kind", event->kind);
    if (!object)
        return NULL;
    if (*event->topic) {
        json_object_set_new (object, "topic", json_string (event->topic));
        cli_json_set_bytes (object, "message", event->message, event->message_size);
    }
    if (event->id || *event->from || *event->to) {
        json_object_set_new (object, "id", json_integer ((json_int_t)event->id));
        json_object_set_new (object, "from", json_string (event->from));
        json_object_set_new (object, "to", json_string (event->to));
        json_object_set_new (object, "text", json_string (event->text));
        json_object_set_new (object, "ts", json_integer ((json_int_t)event->ts));
    }
    if (event->id_count) {
        json_t *ids = json_array ();
        for (size_t index = 0; index < event->id_count; index++)
            json_array_append_new (ids, json_integer ((json_int_t)event->ids[index]));
        json_object_set_new (object, "ids", ids);
    }
    return object;
}

static void
s_print_event (const raftq_event_t *event)
{
    printf ("%s %" PRIu64 " %s", event->stream, event->seq, event->kind);
    if (*event->topic) {
        printf (": ");
        fwrite (event->message, 1, event->message_size, stdout);
    } else if (*event->from || *event->to) {
        char when[32];
        cli_format_time (event->ts, when, sizeof (when));
        printf (" #%" PRIu64 " [%s] %s -> %s: %s", event->id, when, event->from, event->to,
                event->text);
    }
    for (size_t index = 0; index < event->id_count; index++)
        printf ("%s#%" PRIu64, index ? " " : ": ", event->ids[index]);
    putchar ('\n');
    fflush (stdout);
}

int
cli_command_tail (const cli_options_t *options, raftq_client_t *client)
{
    const char *stream = options->arguments[0];
    //  user/ and conv/ streams are served only to a session of their user;
    //  topic streams take one too, for nothing but replays.
    const char *token = NULL;
    if (cli_private_stream (stream) || cli_session_given (options)) {
        int status = cli_session_required (options, client);
        if (status != -1)
            return status;
        token = raftq_client_token (client);
    }
    raftq_subscription_t *subscription =
        cli_subscription_new (options, stream, options->from_seq, token);
    if (!subscription)
        return CLI_EXIT_USAGE;

    char followed[256] = "";
    uint64_t delivered = 0;
    int status = CLI_EXIT_OK;
    while (!zsys_interrupted && (options->count == 0 || delivered < options->count) &&
           status == CLI_EXIT_OK) {
        raftq_event_t event;
        raftq_gap_t gap;
        //  A bounded wait, so that a move to another node is noted soon
        //  even when the stream is quiet.
        raftq_subscription_result_t result =
            raftq_subscription_next (subscription, S_NOTE_WAIT_MS, &event, &gap);
        //  Which node serves the stream is worth a note each time it changes.
        if (strcmp (followed, raftq_subscription_endpoint (subscription)) != 0) {
            snprintf (followed, sizeof (followed), "%s",
                      raftq_subscription_endpoint (subscription));
            fprintf (stderr, "raftq: tail: following %s on %s\n", stream, followed);
        }
        if (result == RAFTQ_SUBSCRIPTION_EVENT) {
            delivered++;
            if (options->json)
                cli_print_json (s_event_json (&event));
            else
                s_print_event (&event);
        } else if (result == RAFTQ_SUBSCRIPTION_GAP) {
            fprintf (stderr,
                     "raftq: tail: %s: events %" PRIu64 " to %" PRIu64
                     " are lost: the cluster no longer retains them\n",
                     stream, gap.first, gap.last);
            if (options->json)
                cli_print_json (json_pack ("{s:s, s:s, s:I, s:I}", "stream", stream, "kind", "gap",
                                           "first", (json_int_t)gap.first, "last",
                                           (json_int_t)gap.last));
        } else if (result == RAFTQ_SUBSCRIPTION_ERROR)
            fprintf (stderr, "raftq: tail: %s\n", raftq_subscription_error (subscription));
        else if (result == RAFTQ_SUBSCRIPTION_REVOKED) {
            fprintf (stderr, "raftq: tail: %s: stopping\n",
                     raftq_subscription_error (subscription));
            if (options->json)
                cli_print_json (json_pack ("{s:s, s:s}", "stream", stream, "kind", "revoked"));
            status = CLI_EXIT_FAILED;
        }
    }
    raftq_subscription_destroy (&subscription);
    return status;
}
