/*  gateway_options — the gateway's settings: the "gateway" object of the
    cluster's config.json, then the command-line flags over it; see
    gateway_options.h. Relative file names in the config are taken from the
    config's directory, as the brokers and libraftq take theirs.
*/
#include <arpa/inet.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway_options.h"

#define S_MAX_CONNECTIONS_LIMIT 10000

static const char *const s_usage =
    "usage: raftq-gateway [--config FILE] [--host ADDRESS] [--port PORT] [--key-file FILE]\n"
    "                     [--tls-certificate FILE --tls-key FILE] [--secure-cookie]\n"
    "                     [--max-connections N] [--max-connections-per-address N]\n"
    "                     [--max-streams-per-user N]\n"
    "Serves the raftq chat and cluster pages over HTTP and bridges them to the\n"
    "cluster of FILE (default config.json). Each flag overrides the same key\n"
    "of the config's \"gateway\" object (host, port, key_file, tls_certificate,\n"
    "tls_key, secure_cookie, max_connections, max_connections_per_address,\n"
    "max_streams_per_user).\n"
    "--port 0 takes any free port;\n"
    "the gateway prints its URL once it listens.\n";

//  Replaces *field with a copy of text; -1 when out of memory.
static int
s_set (char **field, const char *text)
{
    char *copy = strdup (text);
    if (!copy)
        return -1;
    free (*field);
    *field = copy;
    return 0;
}

//  path as the config means it: relative names from the config's directory.
static int
s_set_file (char **field, const char *config_path, const char *path)
{
    if (path[0] == '/')
        return s_set (field, path);
    char *copy = strdup (config_path);
    char *joined = NULL;
    if (copy && asprintf (&joined, "%s/%s", dirname (copy), path) == -1)
        joined = NULL;
    free (copy);
    if (!joined)
        return -1;
    free (*field);
    *field = joined;
    return 0;
}

//  A port number from text or JSON: 0 to 65535.
static int
s_port (long long value, uint16_t *port)
{
    if (value < 0 || value > 65535)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

//  A string key of the gateway object, as a file name; -1 with error set
//  when present but not a non-empty string.
static int
s_json_file (json_t *gateway, const char *key, const char *config_path, char **field, char *error,
             size_t error_size)
{
    json_t *item = json_object_get (gateway, key);
    if (!item)
        return 0;
    if (!json_is_string (item) || json_string_length (item) == 0) {
        snprintf (error, error_size, "%s: gateway.%s: must be a non-empty string", config_path,
                  key);
        return -1;
    }
    return s_set_file (field, config_path, json_string_value (item));
}

//  A count of connections at key of the gateway object: 1 to
//  S_MAX_CONNECTIONS_LIMIT; -1 with error set when present but not that.
static int
s_json_count (json_t *gateway, const char *key, const char *config_path, unsigned *field,
              char *error, size_t error_size)
{
    json_t *item = json_object_get (gateway, key);
    if (!item)
        return 0;
    json_int_t value = json_is_integer (item) ? json_integer_value (item) : 0;
    if (value < 1 || value > S_MAX_CONNECTIONS_LIMIT) {
        snprintf (error, error_size, "%s: gateway.%s: must be an integer from 1 to %d", config_path,
                  key, S_MAX_CONNECTIONS_LIMIT);
        return -1;
    }
    *field = (unsigned)value;
    return 0;
}

//  The "gateway" object and the default key file (gateway.key in the
//  cluster's data_dir).
static int
s_load_config (gateway_options_t *self, char *error, size_t error_size)
{
    json_error_t json_error;
    json_t *root = json_load_file (self->config_path, 0, &json_error);
    if (!json_is_object (root)) {
        if (root)
            snprintf (error, error_size, "%s: top level is not an object", self->config_path);
        else if (json_error.line > 0)
            snprintf (error, error_size, "%s:%d:%d: %s", self->config_path, json_error.line,
                      json_error.column, json_error.text);
        else
            snprintf (error, error_size, "%s", json_error.text);
        json_decref (root);
        return -1;
    }
    json_t *data_dir = json_object_get (root, "data_dir");
    char *key_file = NULL;
    if (asprintf (&key_file, "%s/gateway.key",
                  json_is_string (data_dir) ? json_string_value (data_dir) : "data") == -1)
        key_file = NULL;
    int status = key_file ? s_set_file (&self->key_file, self->config_path, key_file) : -1;
    free (key_file);
    if (status)
        snprintf (error, error_size, "out of memory");

    json_t *gateway = json_object_get (root, "gateway");
    if (status == 0 && gateway && !json_is_object (gateway)) {
        snprintf (error, error_size, "%s: gateway: must be an object", self->config_path);
        status = -1;
    }
    json_t *host = json_object_get (gateway, "host");
    json_t *port = json_object_get (gateway, "port");
    json_t *secure = json_object_get (gateway, "secure_cookie");
    if (status == 0 && host &&
        (!json_is_string (host) || s_set (&self->host, json_string_value (host)))) {
        snprintf (error, error_size, "%s: gateway.host: must be an IPv4 address",
                  self->config_path);
        status = -1;
    }
    if (status == 0 && port &&
        (!json_is_integer (port) || s_port (json_integer_value (port), &self->port))) {
        snprintf (error, error_size, "%s: gateway.port: must be an integer from 0 to 65535",
                  self->config_path);
        status = -1;
    }
    if (status == 0 && secure && !json_is_boolean (secure)) {
        snprintf (error, error_size, "%s: gateway.secure_cookie: must be true or false",
                  self->config_path);
        status = -1;
    }
    self->secure_cookie = json_is_true (secure);
    if (status == 0)
        status =
            s_json_count (gateway, "max_connections", self->config_path, &self->max_connections,
                          error, error_size) ||
            s_json_count (gateway, "max_connections_per_address", self->config_path,
                          &self->max_per_address, error, error_size) ||
            s_json_count (gateway, "max_streams_per_user", self->config_path, &self->max_streams,
                          error, error_size) ||
            s_json_file (gateway, "key_file", self->config_path, &self->key_file, error,
                         error_size) ||
            s_json_file (gateway, "tls_certificate", self->config_path, &self->tls_certificate,
                         error, error_size) ||
            s_json_file (gateway, "tls_key", self->config_path, &self->tls_key, error, error_size);
    json_decref (root);
    return status;
}

//  The flags over the config's values.
static int
s_parse_flags (gateway_options_t *self, int argc, char **argv, char *error, size_t error_size)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"key-file", required_argument, NULL, 'k'},
        {"tls-certificate", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"secure-cookie", no_argument, NULL, 's'},
        {"max-connections", required_argument, NULL, 'm'},
        {"max-connections-per-address", required_argument, NULL, 'a'},
        {"max-streams-per-user", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    //  The config comes first: flags override what it says.
    //  The first pass only looks for --config and --help, quietly: the
    //  second one reports bad flags.
    optind = 0; //  0: glibc starts afresh, permutation state included
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, "c:H:p:k:C:K:sm:a:S:h", longs, NULL)) != -1) {
        if (option == 'c' && s_set (&self->config_path, optarg))
            return -1;
        if (option == 'h') {
            fputs (s_usage, stdout);
            *error = 0;
            return -1;
        }
    }
    if (s_load_config (self, error, error_size))
        return -1;
    optind = 0; //  0: glibc starts afresh, permutation state included
    opterr = 1;
    while ((option = getopt_long (argc, argv, "c:H:p:k:C:K:sm:a:S:h", longs, NULL)) != -1) {
        char *end = NULL;
        long long value = optarg ? strtoll (optarg, &end, 10) : 0;
        bool number = optarg && *optarg && end && *end == 0;
        int status = 0;
        if (option == 'H')
            status = s_set (&self->host, optarg);
        else if (option == 'p' && (!number || s_port (value, &self->port))) {
            snprintf (error, error_size, "--port: must be an integer from 0 to 65535");
            return -1;
        } else if (option == 'k')
            status = s_set (&self->key_file, optarg);
        else if (option == 'C')
            status = s_set (&self->tls_certificate, optarg);
        else if (option == 'K')
            status = s_set (&self->tls_key, optarg);
        else if (option == 's')
            self->secure_cookie = true;
        else if (option == 'm' || option == 'a' || option == 'S') {
            const char *name = option == 'm'   ? "max-connections"
                               : option == 'a' ? "max-connections-per-address"
                                               : "max-streams-per-user";
            if (!number || value < 1 || value > S_MAX_CONNECTIONS_LIMIT) {
                snprintf (error, error_size, "--%s: must be an integer from 1 to %d", name,
                          S_MAX_CONNECTIONS_LIMIT);
                return -1;
            }
            *(option == 'm'   ? &self->max_connections
              : option == 'a' ? &self->max_per_address
                              : &self->max_streams) = (unsigned)value;
        } else if (option == '?') {
            snprintf (error, error_size, "bad arguments (--help shows them)");
            return -1;
        }
        if (status) {
            snprintf (error, error_size, "out of memory");
            return -1;
        }
    }
    if (optind < argc) {
        snprintf (error, error_size, "unexpected argument: %s (--help shows the flags)",
                  argv[optind]);
        return -1;
    }
    return 0;
}

gateway_options_t *
gateway_options_new (int argc, char **argv, char *error, size_t error_size)
{
    gateway_options_t *self = calloc (1, sizeof *self);
    if (!self || s_set (&self->config_path, "config.json") || s_set (&self->host, "127.0.0.1")) {
        snprintf (error, error_size, "out of memory");
        gateway_options_destroy (&self);
        return NULL;
    }
    self->port = GATEWAY_DEFAULT_PORT;
    self->max_connections = GATEWAY_DEFAULT_MAX_CONNECTIONS;
    self->max_per_address = GATEWAY_DEFAULT_MAX_PER_ADDRESS;
    self->max_streams = GATEWAY_DEFAULT_MAX_STREAMS_PER_USER;
    if (s_parse_flags (self, argc, argv, error, error_size)) {
        gateway_options_destroy (&self);
        return NULL;
    }
    struct in_addr address;
    if (inet_pton (AF_INET, self->host, &address) != 1) {
        snprintf (error, error_size, "host %s: must be an IPv4 address", self->host);
        gateway_options_destroy (&self);
    } else if (!self->tls_certificate != !self->tls_key) {
        snprintf (error, error_size, "TLS needs both a certificate and its key");
        gateway_options_destroy (&self);
    } else if (self->tls_certificate)
        //  A cookie that came over TLS must never go back over plain HTTP.
        self->secure_cookie = true;
    return self;
}

void
gateway_options_destroy (gateway_options_t **self_p)
{
    gateway_options_t *self = *self_p;
    if (!self)
        return;
    free (self->config_path);
    free (self->host);
    free (self->key_file);
    free (self->tls_certificate);
    free (self->tls_key);
    free (self);
    *self_p = NULL;
}
