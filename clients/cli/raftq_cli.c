/*  raftq — the command-line client: parses the command line, runs one
    command through libraftq and prints its outcome for people (default) or
    as JSON (--json). Exit status: 0 success, 1 the cluster refused or did
    not answer, 2 usage or config error. This file: parsing, dispatch,
    output helpers, the queue commands; see raftq_cli.h for the other parts.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raftq_cli.h"

static void
s_usage (FILE *stream)
{
    fprintf (
        stream,
        "usage: raftq [OPTIONS] COMMAND [COMMAND OPTIONS] [ARGUMENTS]\n"
        "cluster and queues:\n"
        "  status                    one row per node, asking every node: role, membership\n"
        "                            (voter/learner), term, leader, indexes, the leader's\n"
        "                            MATCH index and LAG (entries behind) for each node,\n"
        "                            newest SNAPSHOT index, LOG size on disk (K, M, G: 1024s)\n"
        "  topics [--detail]         list topics in creation order; --detail: a row per\n"
        "                            topic from the leader: messages READY, RESERVED (not\n"
        "                            acked yet), DELAYED (nacked with a delay), how many were\n"
        "                            DEAD-LETTERED, its MAX-DELIVERIES and DEAD-LETTER topic\n"
        "  create-topic TOPIC [--max-deliveries N --dead-letter T]   create a topic; with\n"
        "                            both, a message reserved N times without an ack moves\n"
        "                            to the topic T (which must exist)\n"
        "  publish TOPIC MESSAGE     append MESSAGE to TOPIC\n"
        "  pop TOPIC [--wait MS]     remove and print the oldest message of TOPIC; --wait:\n"
        "                            the leader holds the request up to MS for one to come\n"
        "  reserve TOPIC [--visibility MS] [--wait MS]   take the oldest message for MS\n"
        "                            (default 30000): prints it and its RECEIPT; unless\n"
        "                            acked in time it is delivered again\n"
        "  ack RECEIPT               done with a reserved message: it is gone for good\n"
        "  nack RECEIPT [--delay MS] give a reserved message back, ready again at once or\n"
        "                            after MS\n"
        "  admin add-node ID HOST CLIENT PEER PUB [KEY]   add a node (answered once it\n"
        "                            votes); KEY: its CURVE public key (Z85), by default\n"
        "                            the key the config gives the node at HOST:CLIENT\n"
        "  admin remove-node ID      remove a node, the leader too\n"
        "  admin transfer-leader ID  hand leadership to node ID\n"
        "  admin snapshot [--node ID | --all]   snapshot now and compact the log: the\n"
        "                            leader, node ID, or every node; prints each index\n"
        "chat (SESSION: --token T, or $RAFTQ_TOKEN, or --user U; a password comes from\n"
        "$RAFTQ_PASSWORD or is asked on the terminal, never needed on the command line):\n"
        "  register USER             create an account\n"
        "  login USER                log in; prints the session token\n"
        "  logout                    end the SESSION\n"
        "  check-user USER           does the account exist?\n"
        "  send TO TEXT              send TEXT to TO as the SESSION's user\n"
        "  read [--with USER]        unread messages (then read), or the conversation with USER\n"
        "  users [PATTERN]           account names matching a glob (* ? [..])\n"
        "  delete ID...              delete messages the SESSION sent or received\n"
        "  delete-account            delete the SESSION's account\n"
        "  tail STREAM               follow topic/NAME, user/NAME or conv/A/B; Ctrl-C stops.\n"
        "                            user/ and conv/ are private: they need a SESSION of\n"
        "                            their user (conv/: of either one); the tail stops,\n"
        "                            exit status 1, when that session ends (logout, expiry)\n"
        "  chat                      interactive chat; /help inside; live messages follow\n"
        "                            user/NAME with the session of --user or /login\n"
        "keys:\n"
        "  keygen PATH               new CurveZMQ key pair: public certificate at PATH,\n"
        "                            secret at PATH_secret (0600); prints the public key;\n"
        "                            never overwrites\n"
        "options:\n"
        "  -c, --config FILE         cluster config (raftq or RRMQ form), default ./config.json\n"
        "  -e, --endpoint EP         node client endpoint, repeatable; overrides the config\n"
        "  -p, --pub-endpoint EP     PUB endpoint of the -e node of the same rank (tail, chat)\n"
        "  -k, --server-key KEY      CURVE public key (Z85) of the -e node of the same rank:\n"
        "                            talk CurveZMQ to the -e nodes (with -c, the config's\n"
        "                            client_curve decides and its nodes' certificates give keys)\n"
        "      --client-certificate PATH   our CURVE key pair (PATH, PATH_secret); default\n"
        "                            $RAFTQ_CLIENT_CERTIFICATE, else the config's\n"
        "                            client_certificate, else a fresh pair\n"
        "  -j, --json                print JSON (one object per line) instead of text\n"
        "  -t, --timeout MS          give up a request after MS milliseconds (default 5000)\n"
        "      --token T             session token (default $RAFTQ_TOKEN)\n"
        "      --user U              log in first, for commands that need a session\n"
        "      --password P          UNSAFE (others see it in ps): prefer $RAFTQ_PASSWORD\n"
        "      --with USER           read: the conversation with USER\n"
        "      --page N, --page-size N   read, users: which page, how long (default 1, 20)\n"
        "      --from SEQ            tail: start at SEQ, replaying the past (default: live)\n"
        "      --count N             tail: stop after N events\n"
        "      --node ID, --all      admin snapshot: which node(s) (default: the leader)\n"
        "Options may also follow the command, before its arguments (and must,\n"
        "for publish and send, whose text may start with '-').\n"
        "exit status: 0 success, 1 failure reply or no answer, 2 usage error\n");
}

void
cli_print_json (json_t *object)
{
    char *text = json_dumps (object, JSON_COMPACT);
    if (text)
        puts (text);
    free (text);
    json_decref (object);
    fflush (stdout);
}

int
cli_report_failure (const cli_options_t *options, raftq_code_t code, const char *text)
{
    fprintf (stderr, "raftq: %s: %s: %s\n", options->command, raftq_code_name (code), text);
    if (options->json)
        cli_print_json (json_pack ("{s:b, s:s, s:s}", "success", 0, "code", raftq_code_name (code),
                                   "error", text));
    return CLI_EXIT_FAILED;
}

int
cli_failed (const cli_options_t *options, raftq_client_t *client, raftq_code_t code)
{
    return cli_report_failure (options, code, raftq_client_error (client));
}

int
cli_usage_error (const char *problem, const char *detail)
{
    fprintf (stderr, "raftq: %s%s%s (raftq --help for usage)\n", problem, detail ? ": " : "",
             detail ? detail : "");
    return CLI_EXIT_USAGE;
}

void
cli_json_set_bytes (json_t *object, const char *key, const void *data, size_t size)
{
    json_t *text = json_stringn ((const char *)data, size);
    if (text) {
        json_object_set_new (object, key, text);
        return;
    }
    size_t encoded_size = sodium_base64_encoded_len (size, sodium_base64_VARIANT_ORIGINAL);
    char *encoded = (char *)malloc (encoded_size);
    char *encoded_key = zsys_sprintf ("%s_base64", key);
    if (encoded && encoded_key) {
        sodium_bin2base64 (encoded, encoded_size, (const unsigned char *)data, size,
                           sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new (object, encoded_key, json_string (encoded));
    }
    free (encoded);
    zstr_free (&encoded_key);
}

void
cli_format_time (int64_t ts, char *text, size_t size)
{
    time_t seconds = (time_t)(ts / 1000);
    struct tm local;
    if (!localtime_r (&seconds, &local) || strftime (text, size, "%Y-%m-%d %H:%M:%S", &local) == 0)
        snprintf (text, size, "%" PRId64, ts);
}

static int
s_command_topics (const cli_options_t *options, raftq_client_t *client)
{
    if (options->detail)
        return cli_command_topics_detail (options, client);
    char **names;
    raftq_code_t code = raftq_list_topics (client, &names);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    if (options->json) {
        json_t *topics = json_array ();
        for (char **name = names; *name; name++)
            json_array_append_new (topics, json_string (*name));
        cli_print_json (json_pack ("{s:b, s:o}", "success", 1, "topics", topics));
    } else
        for (char **name = names; *name; name++)
            puts (*name);
    raftq_strings_free (&names);
    return CLI_EXIT_OK;
}

static int
s_command_create_topic (const cli_options_t *options, raftq_client_t *client)
{
    const char *topic = options->arguments[0];
    raftq_code_t code = raftq_create_topic_dead_letter (client, topic, options->max_deliveries,
                                                        options->dead_letter);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    if (options->json)
        cli_print_json (json_pack ("{s:b, s:s}", "success", 1, "topic", topic));
    else if (options->max_deliveries)
        printf ("created topic %s (after %u deliveries to %s)\n", topic, options->max_deliveries,
                options->dead_letter);
    else
        printf ("created topic %s\n", topic);
    return CLI_EXIT_OK;
}

static int
s_command_publish (const cli_options_t *options, raftq_client_t *client)
{
    const char *topic = options->arguments[0];
    const char *message = options->arguments[1];
    uint64_t sequence = 0;
    raftq_code_t code = raftq_publish (client, topic, message, strlen (message), &sequence);
    if (code != RAFTQ_OK)
        return cli_failed (options, client, code);
    if (options->json)
        cli_print_json (json_pack ("{s:b, s:s, s:I}", "success", 1, "topic", topic, "sequence",
                                   (json_int_t)sequence));
    else
        printf ("published to %s at sequence %" PRIu64 "\n", topic, sequence);
    return CLI_EXIT_OK;
}

typedef struct {
    const char *name;      //  as typed
    int minimum_arguments; //  arguments it needs
    int maximum_arguments; //  arguments it takes, -1 for any number
    //  Its last argument is free text, which may start with '-': options
    //  must come before the arguments.
    bool free_text;
    bool offline; //  talks to no cluster: run gets no client
    int (*run) (const cli_options_t *options, raftq_client_t *client);
} command_t;

static const command_t s_commands[] = {
    {"status", 0, 0, false, false, cli_command_status},
    {"topics", 0, 0, false, false, s_command_topics},
    {"create-topic", 1, 1, false, false, s_command_create_topic},
    {"publish", 2, 2, true, false, s_command_publish},
    {"pop", 1, 1, false, false, cli_command_pop},
    {"reserve", 1, 1, false, false, cli_command_reserve},
    {"ack", 1, 1, false, false, cli_command_ack},
    {"nack", 1, 1, false, false, cli_command_nack},
    {"admin", 1, 7, false, false, cli_command_admin},
    {"register", 1, 2, false, false, cli_command_register},
    {"login", 1, 2, false, false, cli_command_login},
    {"logout", 0, 0, false, false, cli_command_logout},
    {"check-user", 1, 1, false, false, cli_command_check_user},
    {"send", 2, 2, true, false, cli_command_send},
    {"read", 0, 0, false, false, cli_command_read},
    {"users", 0, 1, false, false, cli_command_users},
    {"delete", 1, -1, false, false, cli_command_delete},
    {"delete-account", 0, 0, false, false, cli_command_delete_account},
    {"tail", 1, 1, false, false, cli_command_tail},
    {"chat", 0, 0, false, false, cli_command_chat},
    {"keygen", 1, 1, false, true, cli_command_keygen}};

static const command_t *
s_command (const char *name)
{
    for (size_t index = 0; index < sizeof (s_commands) / sizeof (s_commands[0]); index++)
        if (strcmp (name, s_commands[index].name) == 0)
            return &s_commands[index];
    return NULL;
}

//  Long options without a short form.
enum {
    S_OPTION_TOKEN = 256,
    S_OPTION_USER,
    S_OPTION_PASSWORD,
    S_OPTION_WITH,
    S_OPTION_PAGE,
    S_OPTION_PAGE_SIZE,
    S_OPTION_FROM,
    S_OPTION_COUNT,
    S_OPTION_NODE,
    S_OPTION_ALL,
    S_OPTION_CLIENT_CERTIFICATE,
    S_OPTION_VISIBILITY,
    S_OPTION_WAIT,
    S_OPTION_DELAY,
    S_OPTION_MAX_DELIVERIES,
    S_OPTION_DEAD_LETTER,
    S_OPTION_DETAIL
};

int
cli_parse_number (const char *text, uint64_t *value)
{
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull (text, &end, 10);
    if (*text < '0' || *text > '9' || *end || errno)
        return -1;
    *value = parsed;
    return 0;
}

//  Parses a whole number between minimum and maximum into *value.
//  Returns -1 to go on, or the usage exit status.
static int
s_number (const char *option, const char *text, uint64_t minimum, uint64_t maximum, uint64_t *value)
{
    if (cli_parse_number (text, value) == -1 || *value < minimum || *value > maximum) {
        char problem[64];
        snprintf (problem, sizeof (problem), "%s needs a number from %" PRIu64, option, minimum);
        return cli_usage_error (problem, text);
    }
    return -1;
}

static const struct option s_long_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"endpoint", required_argument, NULL, 'e'},
    {"pub-endpoint", required_argument, NULL, 'p'},
    {"server-key", required_argument, NULL, 'k'},
    {"client-certificate", required_argument, NULL, S_OPTION_CLIENT_CERTIFICATE},
    {"json", no_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {"token", required_argument, NULL, S_OPTION_TOKEN},
    {"user", required_argument, NULL, S_OPTION_USER},
    {"password", required_argument, NULL, S_OPTION_PASSWORD},
    {"with", required_argument, NULL, S_OPTION_WITH},
    {"page", required_argument, NULL, S_OPTION_PAGE},
    {"page-size", required_argument, NULL, S_OPTION_PAGE_SIZE},
    {"from", required_argument, NULL, S_OPTION_FROM},
    {"count", required_argument, NULL, S_OPTION_COUNT},
    {"node", required_argument, NULL, S_OPTION_NODE},
    {"all", no_argument, NULL, S_OPTION_ALL},
    {"visibility", required_argument, NULL, S_OPTION_VISIBILITY},
    {"wait", required_argument, NULL, S_OPTION_WAIT},
    {"delay", required_argument, NULL, S_OPTION_DELAY},
    {"max-deliveries", required_argument, NULL, S_OPTION_MAX_DELIVERIES},
    {"dead-letter", required_argument, NULL, S_OPTION_DEAD_LETTER},
    {"detail", no_argument, NULL, S_OPTION_DETAIL},
    {NULL, 0, NULL, 0}};

//  What an option function returns for an option that is not its own.
#define S_OPTION_OTHER (-2)

//  The options of every command: where the cluster is and how to talk to
//  it. Like all option functions: -1 to go on, an exit status to stop
//  with, or S_OPTION_OTHER.
static int
s_connection_option (int option, cli_options_t *options)
{
    uint64_t number = 0;
    int status = -1;
    switch (option) {
    case 'c':
        options->config_path = optarg;
        break;
    case 'e':
        if (options->endpoint_count == CLI_ENDPOINTS_MAX)
            return cli_usage_error ("too many endpoints", NULL);
        options->endpoints[options->endpoint_count++] = optarg;
        break;
    case 'p':
        if (options->pub_endpoint_count == CLI_ENDPOINTS_MAX)
            return cli_usage_error ("too many PUB endpoints", NULL);
        options->pub_endpoints[options->pub_endpoint_count++] = optarg;
        break;
    case 'k':
        if (options->server_key_count == CLI_ENDPOINTS_MAX)
            return cli_usage_error ("too many server keys", NULL);
        options->server_keys[options->server_key_count++] = optarg;
        break;
    case S_OPTION_CLIENT_CERTIFICATE:
        options->client_certificate = optarg;
        break;
    case 'j':
        options->json = true;
        break;
    case 't':
        status = s_number ("--timeout", optarg, 1, INT_MAX, &number);
        options->timeout_ms = (int)number;
        break;
    case 'h':
        s_usage (stdout);
        return CLI_EXIT_OK;
    default:
        return S_OPTION_OTHER;
    }
    return status;
}

//  The chat commands' options: who, with whom, which page.
static int
s_chat_option (int option, cli_options_t *options)
{
    uint64_t number = 0;
    int status = -1;
    switch (option) {
    case S_OPTION_TOKEN:
        options->token = optarg;
        break;
    case S_OPTION_USER:
        options->user = optarg;
        break;
    case S_OPTION_PASSWORD:
        options->password = optarg;
        break;
    case S_OPTION_WITH:
        options->partner = optarg;
        break;
    case S_OPTION_PAGE:
        status = s_number ("--page", optarg, 1, UINT32_MAX, &number);
        options->page = (uint32_t)number;
        break;
    case S_OPTION_PAGE_SIZE:
        status = s_number ("--page-size", optarg, 1, UINT32_MAX, &number);
        options->page_size = (uint32_t)number;
        break;
    default:
        return S_OPTION_OTHER;
    }
    return status;
}

//  The options of tail, replay and the admin commands: where a stream
//  starts, how much of it, which node.
static int
s_stream_and_node_option (int option, cli_options_t *options)
{
    uint64_t number = 0;
    switch (option) {
    case S_OPTION_FROM:
        return s_number ("--from", optarg, 1, UINT64_MAX, &options->from_seq);
    case S_OPTION_COUNT:
        return s_number ("--count", optarg, 1, UINT64_MAX, &options->count);
    case S_OPTION_NODE: {
        int status = s_number ("--node", optarg, 1, UINT32_MAX, &number);
        options->node_id = (uint32_t)number;
        return status;
    }
    case S_OPTION_ALL:
        options->all_nodes = true;
        return -1;
    default:
        return S_OPTION_OTHER;
    }
}

//  The options of the queue commands: how long a reservation lasts, how
//  long to wait for a message, when a nacked one is ready again, how a
//  topic makes dead letters, and whether topics shows the queues.
static int
s_queue_option (int option, cli_options_t *options)
{
    uint64_t number = 0;
    int status = -1;
    switch (option) {
    case S_OPTION_VISIBILITY:
        status = s_number ("--visibility", optarg, 1, UINT32_MAX, &number);
        options->visibility_ms = (uint32_t)number;
        break;
    case S_OPTION_WAIT:
        status = s_number ("--wait", optarg, 0, UINT32_MAX, &number);
        options->wait_ms = (uint32_t)number;
        break;
    case S_OPTION_DELAY:
        status = s_number ("--delay", optarg, 0, UINT32_MAX, &number);
        options->delay_ms = (uint32_t)number;
        break;
    case S_OPTION_MAX_DELIVERIES:
        status = s_number ("--max-deliveries", optarg, 1, UINT32_MAX, &number);
        options->max_deliveries = (uint32_t)number;
        break;
    case S_OPTION_DEAD_LETTER:
        options->dead_letter = optarg;
        break;
    case S_OPTION_DETAIL:
        options->detail = true;
        break;
    default:
        return S_OPTION_OTHER;
    }
    return status;
}

//  Parses the options of argv (from argv [1]) into options, stopping at the
//  first argument that is no option when in_order, else taking options
//  from anywhere. Returns -1 to go on (optind: first argument left), or
//  an exit status to stop with.
static int
s_parse_options (int argc, char **argv, bool in_order, cli_options_t *options)
{
    //  0 makes GNU getopt start afresh: this runs twice on different arrays.
    optind = 0;
    int option;
    while ((option = getopt_long (argc, argv, in_order ? "+c:e:p:k:jt:h" : "c:e:p:k:jt:h",
                                  s_long_options, NULL)) != -1) {
        int status = s_connection_option (option, options);
        if (status == S_OPTION_OTHER)
            status = s_chat_option (option, options);
        if (status == S_OPTION_OTHER)
            status = s_stream_and_node_option (option, options);
        if (status == S_OPTION_OTHER)
            status = s_queue_option (option, options);
        if (status == S_OPTION_OTHER) {
            //  getopt has said what was wrong.
            fprintf (stderr, "raftq --help for usage\n");
            return CLI_EXIT_USAGE;
        }
        if (status >= 0)
            return status;
    }
    return -1;
}

//  Parses argv into options: options, the command, then the command's
//  options and arguments. Returns -1 to go on, or an exit status to stop with.
static int
s_parse (int argc, char **argv, cli_options_t *options)
{
    memset (options, 0, sizeof (*options));
    options->config_path = "config.json";
    options->timeout_ms = 5000;
    options->page = 1;
    options->page_size = 20;
    int status = s_parse_options (argc, argv, true, options);
    if (status >= 0)
        return status;
    if (optind >= argc)
        return cli_usage_error ("no command given", NULL);
    options->command = argv[optind];
    const command_t *command = s_command (options->command);
    if (!command)
        return cli_usage_error ("unknown command", options->command);

    //  The command's own options: its name stands where getopt expects
    //  the program's.
    char **command_argv = argv + optind;
    int command_argc = argc - optind;
    status = s_parse_options (command_argc, command_argv, command->free_text, options);
    if (status >= 0)
        return status;
    options->arguments = command_argv + optind;
    options->argument_count = command_argc - optind;
    if (options->argument_count < command->minimum_arguments ||
        (command->maximum_arguments >= 0 && options->argument_count > command->maximum_arguments))
        return cli_usage_error (command->free_text
                                    ? "wrong number of arguments (options go before them) for"
                                    : "wrong number of arguments for",
                                options->command);
    if (options->pub_endpoint_count && options->pub_endpoint_count != options->endpoint_count)
        return cli_usage_error ("give one -p per -e, in the same order", NULL);
    if (options->server_key_count && options->server_key_count != options->endpoint_count)
        return cli_usage_error ("give one --server-key per -e, in the same order", NULL);
    if (options->password && !options->user)
        return cli_usage_error ("--password needs --user", NULL);
    if ((options->max_deliveries > 0) != (options->dead_letter != NULL))
        return cli_usage_error ("--max-deliveries and --dead-letter go together", NULL);
    return -1; //  go on
}

char *
cli_client_certificate (const cli_options_t *options)
{
    if (options->client_certificate)
        return strdup (options->client_certificate);
    //  A config that cannot be read names none: -e works without one.
    char error[512];
    char *certificate = NULL;
    raftq_config_client_curve (options->config_path, &certificate, error, sizeof (error));
    return certificate;
}

//  The client for the -e endpoints (CurveZMQ with --server-key), or else
//  for the config's nodes (CurveZMQ when its client_curve says so). NULL
//  after reporting why on stderr.
static raftq_client_t *
s_client_new (const cli_options_t *options)
{
    char error[512];
    raftq_client_t *client = NULL;
    if (options->endpoint_count > 0) {
        char *certificate = options->server_key_count ? cli_client_certificate (options) : NULL;
        client = raftq_client_new_curve (
            (const char **)options->endpoints,
            options->server_key_count ? (const char **)options->server_keys : NULL,
            options->endpoint_count, certificate, error, sizeof (error));
        free (certificate);
    } else
        client = raftq_client_load (options->config_path, options->client_certificate, error,
                                    sizeof (error));
    if (!client) {
        fprintf (stderr, "raftq: %s\n", error);
        return NULL;
    }
    //  Admin commands present the cluster's admin secret: $RAFTQ_ADMIN_SECRET
    //  or the file the config names. Without one, the rest still works.
    char *secret = raftq_config_admin_secret (options->config_path, error, sizeof (error));
    if (secret && raftq_client_set_admin_secret (client, secret))
        raftq_client_destroy (&client);
    free (secret);
    if (!client) {
        fprintf (stderr, "raftq: out of memory\n");
        return NULL;
    }
    raftq_client_set_timeout (client, options->timeout_ms);
    //  One node gets at most the default second, less when the whole
    //  command has less.
    raftq_client_set_attempt_timeout (client,
                                      options->timeout_ms < 1000 ? options->timeout_ms : 1000);
    return client;
}

int
main (int argc, char **argv)
{
    cli_options_t options;
    int status = s_parse (argc, argv, &options);
    if (status >= 0)
        return status;
    if (s_command (options.command)->offline)
        return s_command (options.command)->run (&options, NULL);
    raftq_client_t *client = s_client_new (&options);
    if (!client)
        return CLI_EXIT_USAGE;

    status = s_command (options.command)->run (&options, client);
    raftq_client_destroy (&client);
    return status;
}
