/*  config_keys — reads and checks the CurveZMQ settings of a config.

    The peer port runs CurveZMQ unless a config says "peer_curve": false:
    a cluster whose peers talk in the clear can be steered by anyone who
    reaches a peer port, so plaintext has to be asked for. The RRMQ form
    has no place for keys and runs in plaintext (raftqd says so).
*/
#include "broker/config_keys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Reads the key a node entry names. A certificate is read now, so that a
//  missing or bad one is a config error at start, not a refused handshake
//  later.
static int
s_node_public_key (config_parser_t *parser, json_t *entry, const char *place, config_node_t *node,
                   char **certificate)
{
    char path[CONFIG_PATH_MAX];
    char *text = NULL;
    if (config_get_string (parser, entry, place, "certificate", certificate) ||
        config_get_string (parser, entry, place, "public_key", &text))
        return -1;
    if (*certificate && text) {
        free (text);
        config_path (path, place, "public_key");
        return config_fail (parser, path, "give \"certificate\" or \"public_key\", not both");
    }
    int rc = 0;
    if (text) {
        config_path (path, place, "public_key");
        if (curve_key_decode (text, node->public_key))
            rc = config_fail (parser, path, "must be a CurveZMQ public key in Z85 (40 characters)");
        free (text);
    } else if (*certificate) {
        char problem[512];
        config_path (path, place, "certificate");
        if (curve_key_read (*certificate, CURVE_KEY_PUBLIC, node->public_key, problem,
                            sizeof (problem)))
            rc = config_fail (parser, path, "%s (raftq keygen %s makes a pair)", problem,
                              *certificate);
    } else
        return 0;
    node->has_public_key = rc == 0;
    return rc;
}

int
config_keys_parse_node (config_parser_t *parser, json_t *entry, const char *place,
                        config_node_t *node)
{
    char *certificate = NULL;
    int rc = s_node_public_key (parser, entry, place, node, &certificate);
    if (rc == 0)
        rc = config_get_string (parser, entry, place, "secret_certificate",
                                &node->secret_certificate);
    if (rc == 0 && !node->secret_certificate && certificate &&
        asprintf (&node->secret_certificate, "%s_secret", certificate) == -1) {
        node->secret_certificate = NULL;
        rc = config_fail (parser, place, "out of memory");
    }
    free (certificate);
    return rc;
}

//  One entry of the client_curve list: Z85 text or a certificate path.
static int
s_client_key (config_parser_t *parser, json_t *item, const char *path, uint8_t key[CURVE_KEY_SIZE])
{
    if (!json_is_string (item))
        return config_fail (parser, path, "must be a Z85 public key or a certificate path");
    const char *text = json_string_value (item);
    if (curve_key_decode (text, key) == 0)
        return 0;
    char problem[512];
    if (curve_key_read (text, CURVE_KEY_PUBLIC, key, problem, sizeof (problem)))
        return config_fail (parser, path, "not a Z85 key, and %s", problem);
    return 0;
}

static int
s_parse_client_curve (config_parser_t *parser, json_t *root, config_t *self)
{
    json_t *setting = json_object_get (root, "client_curve");
    if (!setting || json_is_false (setting))
        return 0;
    if (json_is_true (setting)) {
        self->client_security = CONFIG_CLIENT_ANY_KEY;
        return 0;
    }
    if (!json_is_array (setting) || json_array_size (setting) == 0)
        return config_fail (parser, "client_curve",
                            "must be false, true, or a non-empty list of client keys");
    self->client_key_count = json_array_size (setting);
    self->client_keys = calloc (self->client_key_count, CURVE_KEY_SIZE);
    if (!self->client_keys)
        return config_fail (parser, "client_curve", "out of memory");
    self->client_security = CONFIG_CLIENT_LISTED;
    for (size_t index = 0; index < self->client_key_count; index++) {
        char path[CONFIG_PATH_MAX];
        snprintf (path, sizeof (path), "client_curve[%zu]", index);
        if (s_client_key (parser, json_array_get (setting, index), path, self->client_keys[index]))
            return -1;
    }
    return 0;
}

//  Keys identify nodes on the peer port: with one key for two nodes, a
//  message could not be tied to its sender.
static int
s_check_node_keys (config_parser_t *parser, const config_t *self)
{
    for (size_t index = 0; index < self->node_count; index++) {
        const config_node_t *node = &self->nodes[index];
        char place[CONFIG_PATH_MAX];
        snprintf (place, sizeof (place), "nodes[%zu]", index);
        if (!node->has_public_key)
            return config_fail (parser, place,
                                "needs \"certificate\" or \"public_key\": the peer port runs "
                                "CurveZMQ (\"peer_curve\": false turns that off)");
        for (size_t other = 0; other < index; other++)
            if (sodium_memcmp (self->nodes[other].public_key, node->public_key, CURVE_KEY_SIZE) ==
                0)
                return config_fail (parser, place, "has the same public key as nodes[%zu]", other);
    }
    return 0;
}

int
config_keys_parse_settings (config_parser_t *parser, json_t *root, config_t *self)
{
    json_t *peer_curve = json_object_get (root, "peer_curve");
    if (peer_curve && !json_is_boolean (peer_curve))
        return config_fail (parser, "peer_curve", "must be true or false");
    json_t *client_certificate = json_object_get (root, "client_certificate");
    if (client_certificate && !json_is_string (client_certificate))
        return config_fail (parser, "client_certificate", "must be a certificate path");
    self->peer_curve = !peer_curve || json_is_true (peer_curve);
    if (s_parse_client_curve (parser, root, self))
        return -1;
    //  The client and PUB ports use the node's own key pair
    if (self->peer_curve || self->client_security != CONFIG_CLIENT_PLAIN)
        return s_check_node_keys (parser, self);
    return 0;
}

void
config_keys_clear_node (config_node_t *node)
{
    free (node->secret_certificate);
    node->secret_certificate = NULL;
}

int
config_keys_load_secret (const config_t *self, const config_node_t *node,
                         uint8_t secret[CURVE_KEY_SIZE], char *error, size_t error_size)
{
    config_parser_t parser = {self->path, error, error_size};
    char place[CONFIG_PATH_MAX];
    snprintf (place, sizeof (place), "nodes[%zu].secret_certificate", (size_t)(node - self->nodes));
    if (!node->secret_certificate)
        return config_fail (&parser, place, "missing: this node has no secret key");
    char problem[512];
    if (curve_key_read (node->secret_certificate, CURVE_KEY_SECRET, secret, problem,
                        sizeof (problem)))
        return config_fail (&parser, place, "%s", problem);
    uint8_t derived[CURVE_KEY_SIZE];
    crypto_scalarmult_base (derived, secret);
    int rc = 0;
    if (sodium_memcmp (derived, node->public_key, CURVE_KEY_SIZE))
        rc = config_fail (&parser, place, "%s is not the secret key of this node's public key",
                          node->secret_certificate);
    sodium_memzero (derived, sizeof (derived));
    return rc;
}
