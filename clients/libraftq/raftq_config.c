/*  raftq_config — the client's reading of a cluster config file: just the
    client endpoints of its nodes, from the raftq form (nodes[].host and
    client_port) or the RRMQ form (addresses[].ip and port), and their PUB
    endpoints (pub_port in either form, optional), and the admin secret
    the config's file holds (admin_secret_file). Deliberately
    independent of the broker's config module: a client needs none of the
    rest and must not link broker code. Errors are one line naming the
    file and the place.
*/
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raftq.h"

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

//  Which port of each node a caller wants.
typedef enum {
    S_CLIENT_PORT, //  required: client_port (raftq form) or port (RRMQ form)
    S_PUB_PORT     //  optional: pub_port in either form
} port_kind_t;

//  The endpoints of every node of the config at path, for one kind of port.
static char **
s_config_endpoints (const char *path, port_kind_t kind, char *error, size_t error_size)
{
    json_error_t parse_error;
    json_t *root = json_load_file (path, 0, &parse_error);
    if (!root) {
        if (parse_error.line > 0)
            snprintf (error, error_size, "%s:%d:%d: %s", path, parse_error.line, parse_error.column,
                      parse_error.text);
        else
            s_fail (error, error_size, path, "%s", parse_error.text);
        return NULL;
    }
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

//  The admin secret file root names: admin_secret_file, or admin.secret in
//  data_dir ("data" without one), as the broker's config reads it. A
//  relative path is taken from the config's directory, where
//  tools/raftq-cluster runs the nodes (and `make run`, from ./config.json).
static char *
s_admin_secret_path (json_t *root, const char *config_path)
{
    json_t *file = json_object_get (root, "admin_secret_file");
    json_t *data_dir = json_object_get (root, "data_dir");
    const char *directory = json_is_string (data_dir) ? json_string_value (data_dir) : "data";
    const char *slash = strrchr (config_path, '/');
    int base_length = slash ? (int)(slash - config_path) + 1 : 0;
    char *path = NULL;
    int rc;
    if (json_is_string (file))
        rc = json_string_value (file)[0] == '/'
                 ? asprintf (&path, "%s", json_string_value (file))
                 : asprintf (&path, "%.*s%s", base_length, config_path, json_string_value (file));
    else
        rc = directory[0] == '/'
                 ? asprintf (&path, "%s/admin.secret", directory)
                 : asprintf (&path, "%.*s%s/admin.secret", base_length, config_path, directory);
    return rc == -1 ? NULL : path;
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
