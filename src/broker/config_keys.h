/*  config_keys — the CurveZMQ part of a raftq config.

    Per node: "certificate" (a czmq public certificate file) or
    "public_key" (Z85 text), "secret_certificate" (where that node finds
    its secret key; default <certificate>_secret, as zcert_save writes it).
    Top level: "peer_curve" (default true: every node
    must name its key), "client_curve" (false, true for any client key, or
    a list of allowed client keys as Z85 text or certificate paths) and
    "client_certificate" (the key pair tools on this machine use; brokers
    only check it is a string). Paths are relative to the working
    directory, like data_dir.
*/
#ifndef CONFIG_KEYS_H_INCLUDED
#define CONFIG_KEYS_H_INCLUDED

#include "broker/config.h"
#include "broker/config_parser.h"

//  Reads the key settings of one node entry at place ("nodes[2]").
int config_keys_parse_node (config_parser_t *parser, json_t *entry, const char *place,
                            config_node_t *node);

//  Reads the top-level key settings, once every node is read, and checks
//  them against the nodes: keys present when peer_curve is on, no key used
//  twice.
int config_keys_parse_settings (config_parser_t *parser, json_t *root, config_t *self);

//  Frees what parse_node allocated in a node.
void config_keys_clear_node (config_node_t *node);

//  Reads a node's secret key from its secret certificate and checks that
//  it belongs to the public key the config names. Returns 0, or -1 with
//  one line "FILE: nodes[i].secret_certificate: problem" in error.
int config_keys_load_secret (const config_t *self, const config_node_t *node,
                             uint8_t secret[CURVE_KEY_SIZE], char *error, size_t error_size);

#endif
