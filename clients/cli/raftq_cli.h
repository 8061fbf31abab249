/*  raftq_cli — what the parts of the `raftq` command-line client share: the
    parsed command line, output helpers (text for people, one JSON object
    per line with --json) and the commands each part implements.
    raftq_cli.c: parsing, dispatch, queue commands.
    cli_status.c: the cluster status table and the sweep that finds nodes.
    cli_chat.c: one-shot chat commands and the session they run in.
    cli_tail.c: following a stream (tail), and the subscriptions chat uses.
    cli_interactive.c: the interactive terminal chat.
    cli_consume.c: acknowledged consumption (reserve, ack, nack), pop,
    and the topics' queues (topics --detail).
    cli_admin.c: cluster administration (admin add-node, remove-node,
    transfer-leader, snapshot).
    cli_keygen.c: CurveZMQ key pairs (keygen).
*/
#ifndef RAFTQ_CLI_H_INCLUDED
#define RAFTQ_CLI_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "raftq.h"

#define CLI_EXIT_OK       0  //  done
#define CLI_EXIT_FAILED   1  //  the cluster refused or did not answer
#define CLI_EXIT_USAGE    2  //  bad command line or config
#define CLI_ENDPOINTS_MAX 64 //  -e and -p options taken

//  What the command line asked for.
typedef struct {
    const char *config_path;                  //  -c, default ./config.json
    const char *endpoints[CLI_ENDPOINTS_MAX]; //  -e, in order; replace the config's
    size_t endpoint_count;                    //  how many -e
    const char
        *pub_endpoints[CLI_ENDPOINTS_MAX]; //  -p, the PUB port of the -e node of the same rank
    size_t pub_endpoint_count;             //  how many -p
    //  --server-key, the CURVE public key of the -e node of the same rank
    const char *server_keys[CLI_ENDPOINTS_MAX];
    size_t server_key_count;        //  how many --server-key
    const char *client_certificate; //  --client-certificate, NULL: environment or config
    bool json;                      //  --json output
    int timeout_ms;                 //  --timeout, total per request
    const char *token;              //  --token
    const char *user;               //  --user: log in first
    const char *password;           //  --password, with --user
    const char *partner;            //  --with: read a conversation
    uint32_t page;                  //  --page, from 1
    uint32_t page_size;             //  --page-size
    uint64_t from_seq;              //  --from: tail from this seq (0: live)
    uint64_t count;                 //  --count: tail stops after so many events (0: never)
    uint32_t node_id;               //  --node: admin snapshot asks this node (0: the leader)
    bool all_nodes;                 //  --all: admin snapshot asks every node
    uint32_t visibility_ms;         //  --visibility: reserve, 0: the cluster's default
    uint32_t wait_ms;               //  --wait: reserve and pop wait this long for a message
    uint32_t delay_ms;              //  --delay: nack, ready again after this long
    uint32_t max_deliveries;        //  --max-deliveries: create-topic, 0: unlimited
    const char *dead_letter;        //  --dead-letter: create-topic, NULL: none
    bool detail;                    //  --detail: topics with their queues
    const char *command;            //  its name: status, send, ...
    char **arguments;               //  the command's arguments
    int argument_count;             //  how many
} cli_options_t;

//  --- output helpers (raftq_cli.c)

//  Prints one JSON object on its own line and flushes; takes ownership.
void cli_print_json (json_t *object);

//  Reports a failed request on stderr (and as JSON on stdout with --json),
//  with the client's error text. Returns CLI_EXIT_FAILED.
int cli_failed (const cli_options_t *options, raftq_client_t *client, raftq_code_t code);

//  The same with the failure's text given.
int cli_report_failure (const cli_options_t *options, raftq_code_t code, const char *text);

//  The client key pair file for CURVE: --client-certificate, else
//  $RAFTQ_CLIENT_CERTIFICATE, else the config's client_certificate; NULL
//  (a fresh pair) when none is named. A new string to free.
char *cli_client_certificate (const cli_options_t *options);

//  Prints a usage problem on stderr; returns CLI_EXIT_USAGE.
int cli_usage_error (const char *problem, const char *detail);

//  Sets into object a JSON value for bytes under "key" when they are UTF-8
//  text, else their base64 under "key_base64" (JSON strings cannot carry
//  raw bytes).
void cli_json_set_bytes (json_t *object, const char *key, const void *data, size_t size);

//  Parses a whole decimal number without sign into *value. Returns 0 or -1.
int cli_parse_number (const char *text, uint64_t *value);

//  "YYYY-MM-DD HH:MM:SS" local time of ts (ms since the epoch).
void cli_format_time (int64_t ts, char *text, size_t size);

//  --- chat (cli_chat.c, cli_password.c)

//  Longest password the CLI takes.
#define CLI_PASSWORD_MAX 1024

//  The password of user into buffer: given (an argument: unsafe, others see
//  it in ps), else $RAFTQ_PASSWORD, else asked on the terminal without echo
//  when stdin is one. Returns 0, or -1 after printing why on stderr.
int cli_password (const char *user, const char *given, char *buffer, size_t size);

//  True when the command line or the environment names a session:
//  --token, --user (password from --password, $RAFTQ_PASSWORD or asked),
//  or $RAFTQ_TOKEN.
bool cli_session_given (const cli_options_t *options);

//  Gives client that session: --token, else a login with --user and its
//  password (cli_password), else $RAFTQ_TOKEN. Returns RAFTQ_OK, or the failure
//  (RAFTQ_UNAUTHENTICATED when none is given).
raftq_code_t cli_session (const cli_options_t *options, raftq_client_t *client);

//  The session step of a command that cannot do without one: cli_session,
//  or a failure when none is given. Prints the failure. Returns -1 to go
//  on, or the exit status.
int cli_session_required (const cli_options_t *options, raftq_client_t *client);

//  Parses a message id as typed or as printed ("12" or "#12"). Returns 0,
//  or -1 when text is no id.
int cli_parse_message_id (const char *text, uint64_t *id);

//  A message as the JSON dialect writes it: id, from, to, text, ts, read.
json_t *cli_message_json (const raftq_message_t *message);

//  A message as one line of text.
void cli_print_message (FILE *stream, const raftq_message_t *message);

//  The chat commands: each runs the command of options with client and
//  returns the exit status.
int cli_command_register (const cli_options_t *options, raftq_client_t *client);
int cli_command_login (const cli_options_t *options, raftq_client_t *client);
int cli_command_logout (const cli_options_t *options, raftq_client_t *client);
int cli_command_check_user (const cli_options_t *options, raftq_client_t *client);
int cli_command_send (const cli_options_t *options, raftq_client_t *client);
int cli_command_read (const cli_options_t *options, raftq_client_t *client);
int cli_command_users (const cli_options_t *options, raftq_client_t *client);
int cli_command_delete (const cli_options_t *options, raftq_client_t *client);
int cli_command_delete_account (const cli_options_t *options, raftq_client_t *client);

//  --- cluster status (cli_status.c)

//  One node as a status sweep found it.
typedef struct {
    size_t endpoint_index;        //  its endpoint in the client
    raftq_code_t code;            //  RAFTQ_OK: it answered
    char error[256];              //  else why not
    raftq_status_detail_t detail; //  what it said
} cli_node_t;

//  Asks every node client knows for its detailed status, then every member
//  those nodes report that the client did not know (added at run time).
//  Returns a malloc'd array, one entry per endpoint asked (caller frees),
//  and its length in *count; NULL when out of memory.
cli_node_t *cli_sweep (raftq_client_t *client, size_t *count);

//  The node of the sweep that answered as leader (the newest term if
//  several did), or NULL.
const cli_node_t *cli_sweep_leader (const cli_node_t *nodes, size_t count);

//  status: one row per node (--json: an array of objects).
int cli_command_status (const cli_options_t *options, raftq_client_t *client);

//  --- acknowledged consumption (cli_consume.c)

//  reserve TOPIC [--visibility MS] [--wait MS]: the message and its receipt
int cli_command_reserve (const cli_options_t *options, raftq_client_t *client);

//  ack RECEIPT
int cli_command_ack (const cli_options_t *options, raftq_client_t *client);

//  nack RECEIPT [--delay MS]
int cli_command_nack (const cli_options_t *options, raftq_client_t *client);

//  pop TOPIC [--wait MS]: the message (and where a dead letter came from)
int cli_command_pop (const cli_options_t *options, raftq_client_t *client);

//  topics --detail: a row per topic from the leader's status detail
int cli_command_topics_detail (const cli_options_t *options, raftq_client_t *client);

//  --- cluster administration (cli_admin.c)

//  admin add-node ID HOST CLIENT PEER PUB | remove-node ID | transfer-leader ID
//  | snapshot [--node ID | --all]
int cli_command_admin (const cli_options_t *options, raftq_client_t *client);

//  --- streams (cli_tail.c)

//  True for user/ and conv/ streams, which only a session of their user
//  may follow.
bool cli_private_stream (const char *stream);

//  A subscription to stream for the nodes of -e/-p or of the config,
//  carrying token (may be NULL). NULL after saying why on stderr.
raftq_subscription_t *cli_subscription_new (const cli_options_t *options, const char *stream,
                                            uint64_t from_seq, const char *token);

int cli_command_tail (const cli_options_t *options, raftq_client_t *client);

//  --- keys (cli_keygen.c)

//  keygen PATH: a new key pair at PATH and PATH_secret; prints the public
//  key. Needs no cluster: client is NULL.
int cli_command_keygen (const cli_options_t *options, raftq_client_t *client);

//  --- interactive chat (cli_interactive.c)

int cli_command_chat (const cli_options_t *options, raftq_client_t *client);

#endif
