/*  raftq_config — the client's reading of a cluster config file: just the
    client endpoints of its nodes, from the raftq form (nodes[].host and
    client_port) or the RRMQ form (addresses[].ip and port), and their PUB
    endpoints (pub_port in either form, optional), the admin secret
    the config's file holds (admin_secret_file), and what CurveZMQ needs:
    client_curve, client_certificate and each node's public key (from its
    certificate file or its public_key). Deliberately
    independent of the broker's config module: a client needs none of the
    rest and must not link broker code. Errors are one line naming the
    file and the place.

    Relative file names (admin_secret_file, certificate, client_certificate)
    are taken from the config's directory: that is where tools/raftq-cluster
    and `make run` run the nodes, so client and nodes agree on the file from
    wherever the client is started.
*/
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "raftq.h"
#include "raftq_config.h"
#include "raftq_curve.h"

//  Longest admin secret read from its file (the broker takes no longer).
#define S_SECRET_MAX 1024

//  Longest host name or address taken from a config file.
#define S_HOST_MAX 256

//  Writes "FILE: problem" into error.
static void
s_fail (char *error, size_t error_size, const char *path, const char *format, ...)
{
    char problem[512];
    va_list args;
    va_start (args, format);
    vsnprintf (problem, sizeof (problem), format, args);
    va_end (args);
    snprintf (error, error_size, "%s: %s", path, problem);
}

//  The RRMQ form may write the ip as a URL ("http://127.0.0.1"): keep only
//  the host part.
static const char *
s_strip_scheme (const char *host)
{
    const char *separator = strstr (host, "://");
    return separator ? separator + 3 : host;
}

//  "tcp://host:port" as a new string; IPv6 literals get their brackets.
//  NULL when out of memory.
static char *
s_endpoint (const char *host, json_int_t port)
{
    char bare[S_HOST_MAX];
    snprintf (bare, sizeof (bare), "%s", host);
    size_t length = strlen (bare);
    if (length > 0 && bare[length - 1] == '/')
        bare[length - 1] = 0;
    bool ipv6 = strchr (bare, ':') != NULL && bare[0] != '[';

    char *endpoint = NULL;
    if (asprintf (&endpoint, ipv6 ? "tcp://[%s]:%d" : "tcp://%s:%d", bare, (int)port) == -1)
        return NULL;
    return endpoint;
}

//  Reads entry's host_key (string) and port_key (integer port) into a new
//  endpoint. An optional port that is absent gives "". Returns NULL with
//  error set when either is missing or wrong.
static char *
s_entry_endpoint (json_t *entry, const char *array_key, size_t index, const char *host_key,
                  const char *port_key, bool port_optional, const char *path, char *error,
                  size_t error_size)
{
    if (!json_is_object (entry)) {
        s_fail (error, error_size, path, "%s[%zu]: must be an object", array_key, index);
        return NULL;
    }
    json_t *host = json_object_get (entry, host_key);
    if (!json_is_string (host) || json_string_length (host) == 0 ||
        json_string_length (host) >= S_HOST_MAX) {
        s_fail (error, error_size, path, "%s[%zu].%s: must be a non-empty string", array_key, index,
                host_key);
        return NULL;
    }
    json_t *port = json_object_get (entry, port_key);
    if (!port && port_optional) {
        char *none = strdup ("");
        if (!none)
            s_fail (error, error_size, path, "out of memory");
        return none;
    }
    if (!json_is_integer (port) || json_integer_value (port) < 1 ||
        json_integer_value (port) > 65535) {
        s_fail (error, error_size, path, "%s[%zu].%s: must be an integer port 1-65535", array_key,
                index, port_key);
        return NULL;
    }
    const char *host_text = json_string_value (host);
    if (strcmp (host_key, "ip") == 0)
        host_text = s_strip_scheme (host_text);
    if (*host_text == 0) {
        s_fail (error, error_size, path, "%s[%zu].%s: no host in \"%s\"", array_key, index,
                host_key, json_string_value (host));
        return NULL;
    }
    char *endpoint = s_endpoint (host_text, json_integer_value (port));
    if (!endpoint)
        s_fail (error, error_size, path, "out of memory");
    return endpoint;
}

//  The config at path as JSON; NULL with error set ("FILE:LINE:COLUMN: ...")
//  when it cannot be read or parsed.
static json_t *
s_load (const char *path, char *error, size_t error_size)
{
    json_error_t parse_error;
    json_t *root = json_load_file (path, 0, &parse_error);
    if (!root) {
        if (parse_error.line > 0)
            snprintf (error, error_size, "%s:%d:%d: %s", path, parse_error.line, parse_error.column,
                      parse_error.text);
        else
            s_fail (error, error_size, path, "%s", parse_error.text);
    }
    return root;
}

//  Which port of each node a caller wants.
typedef enum {
    S_CLIENT_PORT, //  required: client_port (raftq form) or port (RRMQ form)
    S_PUB_PORT     //  optional: pub_port in either form
} port_kind_t;

//  The endpoints of every node of the config at path, for one kind of port.
static char **
s_config_endpoints (const char *path, port_kind_t kind, char *error, size_t error_size)
{
    json_t *root = s_load (path, error, error_size);
    if (!root)
        return NULL;
    //  The raftq form names its list "nodes"; the RRMQ form "addresses".
    const char *array_key = "nodes", *host_key = "host", *port_key = "client_port";
    json_t *array = json_object_get (root, array_key);
    if (!array) {
        array_key = "addresses";
        host_key = "ip";
        port_key = "port";
        array = json_object_get (root, array_key);
    }
    if (kind == S_PUB_PORT)
        port_key = "pub_port";
    char **endpoints = NULL;
    if (!json_is_object (root))
        s_fail (error, error_size, path, "top level must be an object");
    else if (!array)
        s_fail (error, error_size, path, "neither \"nodes\" nor \"addresses\" is present");
    else if (!json_is_array (array) || json_array_size (array) == 0)
        s_fail (error, error_size, path, "%s: must be a non-empty array", array_key);
    else {
        size_t count = json_array_size (array);
        endpoints = (char **)calloc (count + 1, sizeof (char *));
        if (!endpoints)
            s_fail (error, error_size, path, "out of memory");
        for (size_t index = 0; endpoints && index < count; index++) {
            endpoints[index] =
                s_entry_endpoint (json_array_get (array, index), array_key, index, host_key,
                                  port_key, kind == S_PUB_PORT, path, error, error_size);
            if (!endpoints[index])
                raftq_strings_free (&endpoints);
        }
    }
    json_decref (root);
    return endpoints;
}

char **
raftq_config_endpoints (const char *path, char *error, size_t error_size)
{
    return s_config_endpoints (path, S_CLIENT_PORT, error, error_size);
}

char **
raftq_config_pub_endpoints (const char *path, char *error, size_t error_size)
{
    return s_config_endpoints (path, S_PUB_PORT, error, error_size);
}

//  name, then suffix, as a new string: taken from the directory of the
//  config at config_path unless name is absolute. NULL when out of memory.
static char *
s_beside_config (const char *config_path, const char *name, const char *suffix)
{
    const char *slash = strrchr (config_path, '/');
    int base_length = slash && name[0] != '/' ? (int)(slash - config_path) + 1 : 0;
    char *path = NULL;
    if (asprintf (&path, "%.*s%s%s", base_length, config_path, name, suffix) == -1)
        return NULL;
    return path;
}

//  The admin secret file root names: admin_secret_file, or admin.secret in
//  data_dir ("data" without one), as the broker's config reads it. A
//  relative path is taken from the config's directory, where
//  tools/raftq-cluster runs the nodes (and `make run`, from ./config.json).
static char *
s_admin_secret_path (json_t *root, const char *config_path)
{
    json_t *file = json_object_get (root, "admin_secret_file");
    if (json_is_string (file))
        return s_beside_config (config_path, json_string_value (file), "");
    json_t *data_dir = json_object_get (root, "data_dir");
    const char *directory = json_is_string (data_dir) ? json_string_value (data_dir) : "data";
    return s_beside_config (config_path, directory, "/admin.secret");
}

//  The secret in the file at path, trailing white space dropped; NULL with
//  error set when it cannot be read or is empty.
static char *
s_read_secret (const char *path, char *error, size_t error_size)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        s_fail (error, error_size, path, "cannot read the admin secret: %s", strerror (errno));
        return NULL;
    }
    char *secret = calloc (1, S_SECRET_MAX + 1);
    size_t got = secret ? fread (secret, 1, S_SECRET_MAX, file) : 0;
    fclose (file);
    while (got > 0 && strchr (" \t\r\n", secret[got - 1]))
        secret[--got] = 0;
    if (!secret || got == 0 || strlen (secret) != got) {
        s_fail (error, error_size, path, "%s", secret ? "no admin secret in it" : "out of memory");
        free (secret);
        return NULL;
    }
    return secret;
}

char *
raftq_config_admin_secret (const char *path, char *error, size_t error_size)
{
    const char *given = getenv ("RAFTQ_ADMIN_SECRET");
    if (given && *given) {
        char *copy = strdup (given);
        if (!copy)
            s_fail (error, error_size, path, "out of memory");
        return copy;
    }
    json_error_t parse_error;
    json_t *root = json_load_file (path, 0, &parse_error);
    if (!json_is_object (root)) {
        s_fail (error, error_size, path, "not a config object");
        json_decref (root);
        return NULL;
    }
    char *secret_path = s_admin_secret_path (root, path);
    json_decref (root);
    char *secret = secret_path ? s_read_secret (secret_path, error, error_size) : NULL;
    if (!secret_path)
        s_fail (error, error_size, path, "out of memory");
    free (secret_path);
    return secret;
}

//  The CURVE public key (Z85) of node entry index of the config at path:
//  its certificate's (czmq format, read with zcert_load) or its
//  public_key. A new string, "" when it names neither; NULL with error set.
static char *
s_node_key (json_t *entry, size_t index, const char *path, char *error, size_t error_size)
{
    json_t *certificate = json_object_get (entry, "certificate");
    json_t *public_key = json_object_get (entry, "public_key");
    char place[64];
    snprintf (place, sizeof (place), "nodes[%zu]", index);
    if (certificate && public_key) {
        s_fail (error, error_size, path, "%s: give certificate or public_key, not both", place);
        return NULL;
    }
    if (public_key) {
        char what[600];
        snprintf (what, sizeof (what), "%s: %s.public_key", path, place);
        const char *text = json_string_value (public_key);
        return raftq_curve_check_key (text, what, error, error_size) == 0 ? strdup (text) : NULL;
    }
    if (!certificate)
        return strdup ("");
    if (!json_is_string (certificate) || json_string_length (certificate) == 0) {
        s_fail (error, error_size, path, "%s.certificate: must be a non-empty string", place);
        return NULL;
    }
    char *file = s_beside_config (path, json_string_value (certificate), "");
    zcert_t *loaded = file ? zcert_load (file) : NULL;
    char *key = loaded ? strdup (zcert_public_txt (loaded)) : NULL;
    if (file && !loaded)
        s_fail (error, error_size, path, "%s.certificate: %s: cannot read a CURVE certificate%s",
                place, file, access (file, R_OK) ? " (raftq keygen makes one)" : "");
    zcert_destroy (&loaded);
    free (file);
    return key;
}

char **
raftq_config_server_keys (const char *path, char *error, size_t error_size)
{
    json_t *root = s_load (path, error, error_size);
    if (!root)
        return NULL;
    //  The RRMQ form names no keys: its nodes get "".
    json_t *nodes = json_object_get (root, "nodes");
    size_t count = json_array_size (nodes ? nodes : json_object_get (root, "addresses"));
    char **keys = count ? (char **)calloc (count + 1, sizeof (char *)) : NULL;
    if (count == 0)
        s_fail (error, error_size, path, "no nodes");
    for (size_t index = 0; keys && index < count; index++) {
        json_t *entry = json_array_get (nodes, index);
        keys[index] = json_is_object (entry) ? s_node_key (entry, index, path, error, error_size)
                                             : strdup ("");
        if (!keys[index])
            raftq_strings_free (&keys);
    }
    json_decref (root);
    return keys;
}

int
raftq_config_client_curve (const char *path, char **certificate_p, char *error, size_t error_size)
{
    *certificate_p = NULL;
    json_t *root = s_load (path, error, error_size);
    if (!root)
        return -1;
    json_t *setting = json_object_get (root, "client_curve");
    json_t *file = json_object_get (root, "client_certificate");
    const char *given = getenv ("RAFTQ_CLIENT_CERTIFICATE");
    int curve = -1;
    if (setting && !json_is_boolean (setting) && !json_is_array (setting))
        s_fail (error, error_size, path,
                "client_curve: must be true, false or an array of client keys");
    else if (file && (!json_is_string (file) || json_string_length (file) == 0))
        s_fail (error, error_size, path, "client_certificate: must be a non-empty string");
    else {
        curve = json_is_true (setting) || json_is_array (setting);
        if (given && *given)
            *certificate_p = strdup (given);
        else if (file)
            *certificate_p = s_beside_config (path, json_string_value (file), "");
        if (((given && *given) || file) && !*certificate_p) {
            s_fail (error, error_size, path, "out of memory");
            curve = -1;
        }
    }
    json_decref (root);
    return curve;
}

int
raftq_config_nodes_read (raftq_config_nodes_t *nodes, const char *path, const char *certificate,
                         char *error, size_t error_size)
{
    memset (nodes, 0, sizeof (*nodes));
    int curve = raftq_config_client_curve (path, &nodes->certificate, error, error_size);
    if (curve == -1)
        return -1;
    if (certificate && *certificate) {
        free (nodes->certificate);
        nodes->certificate = strdup (certificate);
    }
    nodes->endpoints = raftq_config_endpoints (path, error, error_size);
    if (nodes->endpoints)
        nodes->pub_endpoints = raftq_config_pub_endpoints (path, error, error_size);
    if (nodes->pub_endpoints && curve)
        nodes->server_keys = raftq_config_server_keys (path, error, error_size);
    bool usable = nodes->pub_endpoints && (!curve || nodes->server_keys);
    while (usable && nodes->endpoints[nodes->count]) {
        //  With CURVE on, a node without a key could only be talked to in
        //  plaintext, which it refuses: say so now.
        if (curve && !*nodes->server_keys[nodes->count]) {
            s_fail (error, error_size, path,
                    "nodes[%zu]: client_curve is on but the node names no certificate or "
                    "public_key",
                    nodes->count);
            usable = false;
        } else
            nodes->count++;
    }
    if (!usable)
        raftq_config_nodes_clear (nodes);
    return usable ? 0 : -1;
}

void
raftq_config_nodes_clear (raftq_config_nodes_t *nodes)
{
    raftq_strings_free (&nodes->endpoints);
    raftq_strings_free (&nodes->pub_endpoints);
    raftq_strings_free (&nodes->server_keys);
    free (nodes->certificate);
    memset (nodes, 0, sizeof (*nodes));
}
