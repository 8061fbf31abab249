/*  cli_admin — `raftq admin ...`: membership changes and leadership
    transfer (add-node, remove-node, transfer-leader), one request each to
    the leader, answered once the change is done.
*/
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

int
cli_command_admin (const cli_options_t *options, raftq_client_t *client)
{
    const char *action = options->arguments[0];
    int count = options->argument_count - 1;
    char **arguments = options->arguments + 1;
    uint64_t id;
    raftq_code_t code;
    if (strcmp (action, "add-node") == 0 && count == 5) {
        uint64_t client_port, peer_port, pub_port;
        if (s_argument (arguments[0], "bad node id", false, UINT32_MAX, &id) ||
            s_argument (arguments[2], "bad client port", false, 65535, &client_port) ||
            s_argument (arguments[3], "bad peer port", false, 65535, &peer_port) ||
            s_argument (arguments[4], "bad pub port", true, 65535, &pub_port))
            return CLI_EXIT_USAGE;
        code = raftq_add_node (client, (uint32_t)id, arguments[1], (uint16_t)client_port,
                               (uint16_t)peer_port, (uint16_t)pub_port);
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
    return cli_usage_error ("admin takes add-node ID HOST CLIENT PEER PUB, remove-node ID or "
                            "transfer-leader ID",
                            action);
}
