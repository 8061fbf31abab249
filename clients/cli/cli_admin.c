/*  cli_admin — `raftq admin ...`: membership changes and leadership
    transfer (add-node, remove-node, transfer-leader), one request each to
    the leader, answered once the change is done; and snapshot, which asks
    nodes themselves: every node snapshots its own state, so the default is
    the leader (whose log every write grows first), --node ID one node,
    --all every node that answers.
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "raftq_cli.h"

//  Parses a node id or port argument between 1 (0 if zero_ok) and maximum.
//  Returns 0, or the usage exit status after saying what is wrong.
static int
s_argument (const char *text, const char *what, bool zero_ok, uint64_t maximum, uint64_t *value)
{
    if (cli_parse_number (text, value) == -1 || (*value == 0 && !zero_ok) || *value > maximum)
        return cli_usage_error (what, text);
    return 0;
}

//  The public key the config gives the node whose client endpoint is at
//  host and client_port (a node listed with "join": true), so that
//  add-node works without the key typed out; NULL when the config has
//  none for it. A new string to free.
static char *
s_config_key (const cli_options_t *options, const char *host, uint64_t client_port)
{
    char error[512], endpoint[600];
    snprintf (endpoint, sizeof (endpoint),
              strchr (host, ':') && host[0] != '[' ? "tcp://[%s]:%" PRIu64 : "tcp://%s:%" PRIu64,
              host, client_port);
    char **endpoints = raftq_config_endpoints (options->config_path, error, sizeof (error));
    char **keys =
        endpoints ? raftq_config_server_keys (options->config_path, error, sizeof (error)) : NULL;
    char *key = NULL;
    for (size_t index = 0; keys && endpoints[index] && !key; index++)
        if (strcmp (endpoints[index], endpoint) == 0 && *keys[index])
            key = strdup (keys[index]);
    raftq_strings_free (&endpoints);
    raftq_strings_free (&keys);
    return key;
}

//  Prints the success of an admin command.
static int
s_done (const cli_options_t *options, const char *action, uint32_t id)
{
    if (options->json)
        cli_print_json (json_pack ("{s:b}", "success", 1));
    else
        printf ("%s node %u\n", action, id);
    return CLI_EXIT_OK;
}

//  Asks node for a snapshot and prints the outcome. Returns 0 on success.
static int
s_snapshot_node (const cli_options_t *options, raftq_client_t *client, const cli_node_t *node)
{
    uint32_t id = node->detail.status.id;
    uint64_t index = 0;
    raftq_code_t code = raftq_admin_snapshot (client, node->endpoint_index, &index);
    if (code != RAFTQ_OK) {
        char text[600];
        snprintf (text, sizeof (text), "node %u: %s", id, raftq_client_error (client));
        cli_report_failure (options, code, text);
        return -1;
    }
    if (options->json)
        cli_print_json (
            json_pack ("{s:b, s:i, s:I}", "success", 1, "id", (int)id, "index", (json_int_t)index));
    else
        printf ("node %u: snapshot at index %" PRIu64 "\n", id, index);
    return 0;
}

//  True when admin snapshot asks node: every node that answered (--all),
//  node ID (--node), else the leader.
static bool
s_chosen (const cli_options_t *options, const cli_node_t *node, const cli_node_t *leader)
{
    if (node->code != RAFTQ_OK)
        return false;
    if (options->all_nodes)
        return true;
    if (options->node_id)
        return node->detail.status.id == options->node_id;
    return node == leader;
}

//  Says that no node was chosen, and why.
static int
s_nobody_chosen (const cli_options_t *options)
{
    char text[64];
    if (options->node_id) {
        snprintf (text, sizeof (text), "node %u did not answer", options->node_id);
        return cli_report_failure (options, RAFTQ_TIMEOUT, text);
    }
    if (options->all_nodes)
        return cli_report_failure (options, RAFTQ_TIMEOUT, "no node answered");
    return cli_report_failure (options, RAFTQ_NO_LEADER, "no leader answered (use --node ID)");
}

//  admin snapshot [--node ID | --all]: finds the nodes by asking every
//  node's status, then asks each chosen one in turn.
static int
s_snapshot (const cli_options_t *options, raftq_client_t *client)
{
    if (options->node_id && options->all_nodes)
        return cli_usage_error ("admin snapshot takes --node ID or --all, not both", NULL);
    size_t count;
    cli_node_t *nodes = cli_sweep (client, &count);
    if (!nodes)
        return cli_report_failure (options, RAFTQ_INTERNAL, "out of memory");
    const cli_node_t *leader = cli_sweep_leader (nodes, count);
    size_t asked = 0, failed = 0;
    for (size_t index = 0; index < count; index++) {
        const cli_node_t *node = &nodes[index];
        bool chosen = s_chosen (options, node, leader);
        //  The same node reached at two endpoints snapshots once
        for (size_t before = 0; chosen && before < index; before++)
            if (nodes[before].code == RAFTQ_OK &&
                nodes[before].detail.status.id == node->detail.status.id)
                chosen = false;
        if (!chosen)
            continue;
        asked++;
        if (s_snapshot_node (options, client, node))
            failed++;
    }
    free (nodes);
    if (asked == 0)
        return s_nobody_chosen (options);
    return failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

int
cli_command_admin (const cli_options_t *options, raftq_client_t *client)
{
    const char *action = options->arguments[0];
    int count = options->argument_count - 1;
    char **arguments = options->arguments + 1;
    uint64_t id;
    raftq_code_t code;
    if (strcmp (action, "snapshot") == 0 && count == 0)
        return s_snapshot (options, client);
    if (strcmp (action, "add-node") == 0 && (count == 5 || count == 6)) {
        uint64_t client_port, peer_port, pub_port;
        if (s_argument (arguments[0], "bad node id", false, UINT32_MAX, &id) ||
            s_argument (arguments[2], "bad client port", false, 65535, &client_port) ||
            s_argument (arguments[3], "bad peer port", false, 65535, &peer_port) ||
            s_argument (arguments[4], "bad pub port", true, 65535, &pub_port))
            return CLI_EXIT_USAGE;
        char *key =
            count == 6 ? strdup (arguments[5]) : s_config_key (options, arguments[1], client_port);
        code = raftq_add_node_key (client, (uint32_t)id, arguments[1], (uint16_t)client_port,
                                   (uint16_t)peer_port, (uint16_t)pub_port, key);
        free (key);
        return code == RAFTQ_OK ? s_done (options, "added", (uint32_t)id)
                                : cli_failed (options, client, code);
    }
    bool remove = strcmp (action, "remove-node") == 0;
    if ((remove || strcmp (action, "transfer-leader") == 0) && count == 1) {
        if (s_argument (arguments[0], "bad node id", false, UINT32_MAX, &id))
            return CLI_EXIT_USAGE;
        code = remove ? raftq_remove_node (client, (uint32_t)id)
                      : raftq_transfer_leader (client, (uint32_t)id);
        if (code != RAFTQ_OK)
            return cli_failed (options, client, code);
        return s_done (options, remove ? "removed" : "leadership handed to", (uint32_t)id);
    }
    return cli_usage_error ("admin takes add-node ID HOST CLIENT PEER PUB [KEY], remove-node ID, "
                            "transfer-leader ID or snapshot [--node ID | --all]",
                            action);
}
