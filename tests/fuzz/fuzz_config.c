/*  fuzz_config — config_parse on arbitrary text.

    Input: the text of a config file (cut at its first NUL, as config_parse
    reads a C string). Seeds: corpus/config/ (the default config.json, the
    RRMQ form, joining nodes, every optional key, typical mistakes).

    Invariants checked beyond "no crash, no leak, no UB":
    - a refused config comes with a one-line error naming the file;
    - an accepted one holds what validation promises: at least one node,
      nonzero unique ids that config_node finds, a host and the client and
      peer ports set, election timeout min < max, heartbeat < min, and no
      limit (timeout, payload, retention) at 0.
*/
#include "harness.h"
#include "broker/config.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_CONFIG_NAME "fuzz.json"

static void
s_check_refused (const char *error)
{
    HARNESS_CHECK (error[0] != '\0', "refused without a reason");
    HARNESS_CHECK (strncmp (error, FUZZ_CONFIG_NAME, strlen (FUZZ_CONFIG_NAME)) == 0,
                   "error does not name the file: %s", error);
    HARNESS_CHECK (strchr (error, '\n') == NULL && strchr (error, '\r') == NULL,
                   "error is not one line: %s", error);
}

static void
s_check_accepted (const config_t *config)
{
    HARNESS_CHECK (config->node_count >= 1 && config->nodes, "no nodes");
    HARNESS_CHECK (config->cluster && config->cluster[0], "no cluster name");
    HARNESS_CHECK (config->data_dir && config->data_dir[0], "no data dir");
    HARNESS_CHECK (config->election_timeout_min_ms < config->election_timeout_max_ms,
                   "election timeout %u..%u", config->election_timeout_min_ms,
                   config->election_timeout_max_ms);
    HARNESS_CHECK (config->request_timeout_ms >= 1 && config->max_payload_bytes >= 1 &&
                       config->event_retention >= 1,
                   "a limit is 0");
    HARNESS_CHECK (config->heartbeat_ms >= 1 &&
                       config->heartbeat_ms < config->election_timeout_min_ms,
                   "heartbeat %u", config->heartbeat_ms);
    for (size_t index = 0; index < config->node_count; index++) {
        const config_node_t *node = &config->nodes[index];
        HARNESS_CHECK (node->id != 0, "node %zu has id 0", index);
        HARNESS_CHECK (config_node (config, node->id) == node, "id %u not unique", node->id);
        HARNESS_CHECK (memchr (node->host, '\0', CONFIG_HOST_MAX) && node->host[0], "node %zu host",
                       index);
        HARNESS_CHECK (node->client_port && node->peer_port, "node %zu ports", index);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text[size] = '\0';
    char error[256] = "";
    config_t *config = config_parse (text, FUZZ_CONFIG_NAME, error, sizeof error);
    if (config)
        s_check_accepted (config);
    else
        s_check_refused (error);
    config_destroy (&config);
    HARNESS_CHECK (config == NULL, "destroy did not clear the pointer");
    free (text);
    return 0;
}
