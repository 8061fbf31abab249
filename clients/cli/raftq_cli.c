/*  raftq — the command-line client: parses the command line, runs one
    command through libraftq and prints its outcome for people (default) or
    as one JSON object (--json). Exit status: 0 success, 1 the cluster
    refused or did not answer, 2 usage or config error.
*/
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raftq.h"

#define S_EXIT_OK      0
#define S_EXIT_FAILED  1
#define S_EXIT_USAGE   2
#define S_ENDPOINTS_MAX 64  //  -e options taken

//  What the command line asked for.
typedef struct {
    const char *config_path;                    //  -c, default ./config.json
    const char *endpoints [S_ENDPOINTS_MAX];    //  -e, in order; replace the config's
    size_t endpoint_count;                      //  how many -e
    bool json;                                  //  --json output
    int timeout_ms;                             //  --timeout, total per command
    const char *command;                        //  its name: status, topics, ...
    char **arguments;                           //  the command's arguments
    int argument_count;                         //  how many
} options_t;

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: raftq [-c config.json] [-e tcp://host:port]... [--json] [--timeout MS] COMMAND\n"
        "commands:\n"
        "  status                 every node's role, term, leader and indexes\n"
        "  topics                 list topics in creation order\n"
        "  create-topic TOPIC     create a topic\n"
        "  publish TOPIC MESSAGE  append MESSAGE to TOPIC\n"
        "  pop TOPIC              remove and print the oldest message of TOPIC\n"
        "options:\n"
        "  -c, --config FILE      cluster config (raftq or RRMQ form), default ./config.json\n"
        "  -e, --endpoint EP      node client endpoint, repeatable; overrides the config\n"
        "  -j, --json             print one JSON object instead of text\n"
        "  -t, --timeout MS       give up after MS milliseconds (default 5000)\n"
        "exit status: 0 success, 1 failure reply or no answer, 2 usage error\n");
}

//  Prints one JSON object on its own line; takes ownership of it.
static void
s_print_json (json_t *object)
{
    char *text = json_dumps (object, JSON_COMPACT);
    if (text)
        puts (text);
    free (text);
    json_decref (object);
}

//  Reports a failed command on stderr (and as JSON on stdout with --json).
//  Returns the failure exit status.
static int
s_failed (const options_t *options, raftq_client_t *client, raftq_code_t code)
{
    fprintf (stderr, "raftq: %s: %s: %s\n", options->command,
             raftq_code_name (code), raftq_client_error (client));
    if (options->json)
        s_print_json (json_pack ("{s:b, s:s, s:s}", "success", 0,
                                 "code", raftq_code_name (code),
                                 "error", raftq_client_error (client)));
    return S_EXIT_FAILED;
}

//  A JSON value for message bytes: a string when they are UTF-8 text, else
//  an object holding their base64 (JSON strings cannot carry raw bytes).
static json_t *
s_json_message (const void *payload, size_t size, const char **key)
{
    json_t *text = json_stringn ((const char *) payload, size);
    if (text) {
        *key = "message";
        return text;
    }
    size_t encoded_size = sodium_base64_encoded_len (size, sodium_base64_VARIANT_ORIGINAL);
    char *encoded = (char *) malloc (encoded_size);
    if (!encoded)
        return NULL;
    sodium_bin2base64 (encoded, encoded_size, (const unsigned char *) payload, size,
                       sodium_base64_VARIANT_ORIGINAL);
    *key = "message_base64";
    json_t *value = json_string (encoded);
    free (encoded);
    return value;
}

//  The role as the JSON dialect spells it (DESIGN 5.2).
static const char *
s_json_role (raftq_role_t role)
{
    switch (role) {
        case RAFTQ_ROLE_FOLLOWER:  return "Follower";
        case RAFTQ_ROLE_CANDIDATE: return "Candidate";
        case RAFTQ_ROLE_LEADER:    return "Leader";
    }
    return "Unknown";
}

static json_t *
s_status_json (const char *endpoint, const raftq_status_t *status)
{
    json_t *members = json_array ();
    for (size_t index = 0; index < status->member_count; index++)
        json_array_append_new (members, json_integer (status->members [index]));
    return json_pack ("{s:s, s:b, s:i, s:s, s:I, s:o, s:I, s:I, s:I, s:o}",
                      "endpoint", endpoint, "reachable", 1,
                      "id", (int) status->id,
                      "role", s_json_role (status->role),
                      "term", (json_int_t) status->term,
                      "leader", status->leader_id? json_integer (status->leader_id): json_null (),
                      "commit_index", (json_int_t) status->commit_index,
                      "applied_index", (json_int_t) status->applied_index,
                      "last_index", (json_int_t) status->last_index,
                      "members", members);
}

//  Asks every node for its status. Succeeds if any node answered: a
//  partly down cluster is exactly what status is for.
static int
s_command_status (const options_t *options, raftq_client_t *client)
{
    size_t count = raftq_client_endpoint_count (client);
    json_t *nodes = json_array ();
    size_t answered = 0;
    if (!options->json)
        printf ("%-4s %-26s %-11s %6s %6s %10s %10s %10s\n",
                "ID", "ENDPOINT", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAST");
    for (size_t index = 0; index < count; index++) {
        const char *endpoint = raftq_client_endpoint (client, index);
        raftq_status_t status;
        raftq_code_t code = raftq_status (client, index, &status);
        if (code == RAFTQ_OK) {
            answered++;
            if (options->json)
                json_array_append_new (nodes, s_status_json (endpoint, &status));
            else {
                char leader [16] = "-";
                if (status.leader_id)
                    snprintf (leader, sizeof (leader), "%u", status.leader_id);
                printf ("%-4u %-26s %-11s %6" PRIu64 " %6s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
                        status.id, endpoint, raftq_role_name (status.role), status.term, leader,
                        status.commit_index, status.applied_index, status.last_index);
            }
        }
        else {
            const char *what = code == RAFTQ_TIMEOUT? "unreachable": raftq_code_name (code);
            if (options->json)
                json_array_append_new (nodes, json_pack ("{s:s, s:b, s:s, s:s}",
                    "endpoint", endpoint, "reachable", 0,
                    "code", raftq_code_name (code), "error", raftq_client_error (client)));
            else
                printf ("%-4s %-26s %s\n", "-", endpoint, what);
        }
    }
    if (options->json)
        s_print_json (nodes);
    else
        json_decref (nodes);
    if (answered > 0)
        return S_EXIT_OK;
    fprintf (stderr, "raftq: status: no node answered\n");
    return S_EXIT_FAILED;
}

static int
s_command_topics (const options_t *options, raftq_client_t *client)
{
    char **names;
    raftq_code_t code = raftq_list_topics (client, &names);
    if (code != RAFTQ_OK)
        return s_failed (options, client, code);
    if (options->json) {
        json_t *topics = json_array ();
        for (char **name = names; *name; name++)
            json_array_append_new (topics, json_string (*name));
        s_print_json (json_pack ("{s:b, s:o}", "success", 1, "topics", topics));
    }
    else
        for (char **name = names; *name; name++)
            puts (*name);
    raftq_strings_free (&names);
    return S_EXIT_OK;
}

static int
s_command_create_topic (const options_t *options, raftq_client_t *client)
{
    const char *topic = options->arguments [0];
    raftq_code_t code = raftq_create_topic (client, topic);
    if (code != RAFTQ_OK)
        return s_failed (options, client, code);
    if (options->json)
        s_print_json (json_pack ("{s:b, s:s}", "success", 1, "topic", topic));
    else
        printf ("created topic %s\n", topic);
    return S_EXIT_OK;
}

static int
s_command_publish (const options_t *options, raftq_client_t *client)
{
    const char *topic = options->arguments [0];
    const char *message = options->arguments [1];
    uint64_t sequence = 0;
    raftq_code_t code = raftq_publish (client, topic, message, strlen (message), &sequence);
    if (code != RAFTQ_OK)
        return s_failed (options, client, code);
    if (options->json)
        s_print_json (json_pack ("{s:b, s:s, s:I}", "success", 1, "topic", topic,
                                 "sequence", (json_int_t) sequence));
    else
        printf ("published to %s at sequence %" PRIu64 "\n", topic, sequence);
    return S_EXIT_OK;
}

static int
s_command_pop (const options_t *options, raftq_client_t *client)
{
    const char *topic = options->arguments [0];
    void *payload;
    size_t size;
    raftq_code_t code = raftq_pop (client, topic, &payload, &size);
    if (code != RAFTQ_OK)
        return s_failed (options, client, code);
    if (options->json) {
        const char *key = "message";
        json_t *message = s_json_message (payload, size, &key);
        s_print_json (json_pack ("{s:b, s:s, s:o}", "success", 1, "topic", topic, key, message));
    }
    else {
        fwrite (payload, 1, size, stdout);
        putchar ('\n');
    }
    free (payload);
    return S_EXIT_OK;
}

typedef struct {
    const char *name;                   //  as typed
    int argument_count;                 //  arguments it takes
    int (*run) (const options_t *options, raftq_client_t *client);
} command_t;

static const command_t s_commands [] = {
    { "status",       0, s_command_status },
    { "topics",       0, s_command_topics },
    { "create-topic", 1, s_command_create_topic },
    { "publish",      2, s_command_publish },
    { "pop",          1, s_command_pop }
};

static const command_t *
s_command (const char *name)
{
    for (size_t index = 0; index < sizeof (s_commands) / sizeof (s_commands [0]); index++)
        if (strcmp (name, s_commands [index].name) == 0)
            return &s_commands [index];
    return NULL;
}

//  Prints a usage problem; returns the usage exit status.
static int
s_usage_error (const char *problem, const char *detail)
{
    fprintf (stderr, "raftq: %s%s%s (raftq --help for usage)\n",
             problem, detail? ": ": "", detail? detail: "");
    return S_EXIT_USAGE;
}

//  Parses argv into options. Returns -1 to go on, or an exit status to stop with.
static int
s_parse (int argc, char **argv, options_t *options)
{
    static const struct option long_options [] = {
        { "config",   required_argument, NULL, 'c' },
        { "endpoint", required_argument, NULL, 'e' },
        { "json",     no_argument,       NULL, 'j' },
        { "timeout",  required_argument, NULL, 't' },
        { "help",     no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    memset (options, 0, sizeof (*options));
    options->config_path = "config.json";
    options->timeout_ms = 5000;
    int option;
    //  '+': options end at the command, so a message may start with '-'.
    while ((option = getopt_long (argc, argv, "+c:e:jt:h", long_options, NULL)) != -1) {
        switch (option) {
            case 'c':
                options->config_path = optarg;
                break;
            case 'e':
                if (options->endpoint_count == S_ENDPOINTS_MAX)
                    return s_usage_error ("too many endpoints", NULL);
                options->endpoints [options->endpoint_count++] = optarg;
                break;
            case 'j':
                options->json = true;
                break;
            case 't': {
                char *end;
                long value = strtol (optarg, &end, 10);
                if (*optarg == 0 || *end || value < 1 || value > INT_MAX)
                    return s_usage_error ("--timeout needs a positive number of ms", optarg);
                options->timeout_ms = (int) value;
                break;
            }
            case 'h':
                s_usage (stdout);
                return S_EXIT_OK;
            default:
                //  getopt has said what was wrong.
                fprintf (stderr, "raftq --help for usage\n");
                return S_EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return s_usage_error ("no command given", NULL);
    options->command = argv [optind];
    options->arguments = argv + optind + 1;
    options->argument_count = argc - optind - 1;

    const command_t *command = s_command (options->command);
    if (!command)
        return s_usage_error ("unknown command", options->command);
    if (options->argument_count != command->argument_count)
        return s_usage_error ("wrong number of arguments for", options->command);
    return -1;                  //  go on
}

//  The client for the -e endpoints, or else for the config's nodes.
//  NULL after reporting why on stderr.
static raftq_client_t *
s_client_new (const options_t *options)
{
    raftq_client_t *client = NULL;
    if (options->endpoint_count > 0)
        client = raftq_client_new ((const char **) options->endpoints, options->endpoint_count);
    else {
        char error [512];
        char **endpoints = raftq_config_endpoints (options->config_path, error, sizeof (error));
        if (!endpoints) {
            fprintf (stderr, "raftq: %s\n", error);
            return NULL;
        }
        size_t count = 0;
        while (endpoints [count])
            count++;
        client = raftq_client_new ((const char **) endpoints, count);
        raftq_strings_free (&endpoints);
    }
    if (!client) {
        fprintf (stderr, "raftq: cannot create a client\n");
        return NULL;
    }
    raftq_client_set_timeout (client, options->timeout_ms);
    //  One node gets at most the default second, less when the whole
    //  command has less.
    raftq_client_set_attempt_timeout (client, options->timeout_ms < 1000? options->timeout_ms: 1000);
    return client;
}

int
main (int argc, char **argv)
{
    options_t options;
    int status = s_parse (argc, argv, &options);
    if (status >= 0)
        return status;
    raftq_client_t *client = s_client_new (&options);
    if (!client)
        return S_EXIT_USAGE;

    status = s_command (options.command)->run (&options, client);
    raftq_client_destroy (&client);
    return status;
}
