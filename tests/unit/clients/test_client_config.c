/*  test_client_config — the config file reader of libraftq: both forms
    (raftq's "nodes" and RRMQ's "addresses"), PUB endpoints lined up with
    the client ones, and every refusal naming the file and the key.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <inttypes.h>

#include "raftq.h"
#include "raftq.pb-c.h"

#include "temp_dir.h"

//  --- config files

//  Writes text to <directory>/<name>; the path goes into path.
static void
s_write_file (const char *directory, const char *name, const char *text, char *path,
              size_t path_size)
{
    snprintf (path, path_size, "%s/%s", directory, name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

static int
s_config_setup (void **state)
{
    char *directory = malloc (256);
    if (!directory || temp_dir_make (directory, 256, "test_client") == -1) {
        free (directory);
        return -1;
    }
    *state = directory;
    return 0;
}

static int
s_config_teardown (void **state)
{
    char *directory = (char *)*state;
    temp_dir_remove (directory);
    free (directory);
    return 0;
}

static void
test_config_raftq_form (void **state)
{
    char path[512], error[512];
    s_write_file (
        (char *)*state, "config.json",
        "{\"cluster\": \"c\", \"nodes\": [\n"
        " {\"id\": 1, \"host\": \"127.0.0.1\", \"client_port\": 5501, \"peer_port\": 5601, "
        "\"pub_port\": 5701, \"http_port\": 5801},\n"
        " {\"id\": 2, \"host\": \"::1\", \"client_port\": 5502, \"peer_port\": 5602, \"pub_port\": "
        "5702},\n"
        " {\"id\": 3, \"host\": \"node3.local\", \"client_port\": 5503, \"join\": true}]}\n",
        path, sizeof (path));
    char **endpoints = raftq_config_endpoints (path, error, sizeof (error));
    assert_non_null (endpoints);
    assert_string_equal (endpoints[0], "tcp://127.0.0.1:5501");
    assert_string_equal (endpoints[1], "tcp://[::1]:5502");
    assert_string_equal (endpoints[2], "tcp://node3.local:5503");
    assert_null (endpoints[3]);
    raftq_strings_free (&endpoints);

    //  PUB endpoints line up with the client ones; a node may have none.
    endpoints = raftq_config_pub_endpoints (path, error, sizeof (error));
    assert_non_null (endpoints);
    assert_string_equal (endpoints[0], "tcp://127.0.0.1:5701");
    assert_string_equal (endpoints[1], "tcp://[::1]:5702");
    assert_string_equal (endpoints[2], "");
    assert_null (endpoints[3]);
    raftq_strings_free (&endpoints);

    raftq_client_t *client = raftq_client_new_from_config (path);
    assert_non_null (client);
    assert_int_equal (raftq_client_endpoint_count (client), 3);
    assert_string_equal (raftq_client_endpoint (client, 0), "tcp://127.0.0.1:5501");
    raftq_client_destroy (&client);
}

static void
test_config_rrmq_form (void **state)
{
    char path[512], error[512];
    s_write_file ((char *)*state, "rrmq.json",
                  "{\"addresses\": [\n"
                  " {\"ip\": \"http://127.0.0.1\", \"port\": 9001, \"internal_port\": 9101},\n"
                  " {\"ip\": \"127.0.0.2\", \"port\": 9002, \"internal_port\": 9102}]}\n",
                  path, sizeof (path));
    char **endpoints = raftq_config_endpoints (path, error, sizeof (error));
    assert_non_null (endpoints);
    assert_string_equal (endpoints[0], "tcp://127.0.0.1:9001");
    assert_string_equal (endpoints[1], "tcp://127.0.0.2:9002");
    assert_null (endpoints[2]);
    raftq_strings_free (&endpoints);
}

//  Asserts that text as a config file is refused with an error containing
//  expected (and naming the file).
static void
s_assert_config_refused (const char *directory, const char *text, const char *expected)
{
    char path[512], error[512] = "";
    s_write_file (directory, "bad.json", text, path, sizeof (path));
    char **endpoints = raftq_config_endpoints (path, error, sizeof (error));
    if (endpoints || !strstr (error, expected) || !strstr (error, path))
        print_error ("config %s: expected error with '%s', got '%s'\n", text, expected, error);
    assert_null (endpoints);
    assert_non_null (strstr (error, expected));
    assert_non_null (strstr (error, path));
    assert_null (raftq_client_new_from_config (path));
}

static void
test_config_errors (void **state)
{
    const char *directory = (const char *)*state;
    s_assert_config_refused (directory, "{\"nodes\": [\n  {\"host\": }", ":2:");
    s_assert_config_refused (directory, "[1, 2]", "top level must be an object");
    s_assert_config_refused (directory, "{\"cluster\": \"c\"}",
                             "neither \"nodes\" nor \"addresses\"");
    s_assert_config_refused (directory, "{\"nodes\": []}", "nodes: must be a non-empty array");
    s_assert_config_refused (
        directory, "{\"nodes\": [{\"host\": \"h\", \"client_port\": 1}, {\"host\": \"h\"}]}",
        "nodes[1].client_port");
    s_assert_config_refused (directory, "{\"nodes\": [{\"host\": \"h\", \"client_port\": 70000}]}",
                             "nodes[0].client_port");
    s_assert_config_refused (directory, "{\"nodes\": [{\"host\": 5, \"client_port\": 1}]}",
                             "nodes[0].host");
    s_assert_config_refused (directory, "{\"addresses\": [{\"ip\": \"http://\", \"port\": 1}]}",
                             "addresses[0].ip");
    s_assert_config_refused (directory, "{\"addresses\": [3]}", "addresses[0]: must be an object");

    char path[512], error[512] = "";
    s_write_file (directory, "badpub.json",
                  "{\"nodes\": [{\"host\": \"h\", \"client_port\": 1, \"pub_port\": \"x\"}]}", path,
                  sizeof (path));
    assert_null (raftq_config_pub_endpoints (path, error, sizeof (error)));
    assert_non_null (strstr (error, "nodes[0].pub_port"));
    assert_null (raftq_config_pub_endpoints ("/nonexistent/raftq.json", error, sizeof (error)));
    assert_null (raftq_config_endpoints ("/nonexistent/raftq.json", error, sizeof (error)));
    assert_non_null (strstr (error, "/nonexistent/raftq.json"));
}

//  The admin secret: from the file the config names (relative to the
//  config's directory), by default <data_dir>/admin.secret, trailing white
//  space dropped; $RAFTQ_ADMIN_SECRET first; a missing file is an error.
static void
test_config_admin_secret (void **state)
{
    const char *directory = (const char *)*state;
    char config[512], secret_path[512], error[512], data[256];
    unsetenv ("RAFTQ_ADMIN_SECRET");
    s_write_file (directory, "config.json", "{\"data_dir\": \"d\", \"nodes\": []}", config,
                  sizeof (config));
    assert_null (raftq_config_admin_secret (config, error, sizeof (error)));
    assert_non_null (strstr (error, "/d/admin.secret"));
    snprintf (data, sizeof (data), "%s/d", directory);
    assert_int_equal (mkdir (data, 0700), 0);
    s_write_file (data, "admin.secret", "top secret\n", secret_path, sizeof (secret_path));
    char *secret = raftq_config_admin_secret (config, error, sizeof (error));
    assert_string_equal (secret, "top secret");
    free (secret);

    s_write_file (directory, "named.json",
                  "{\"admin_secret_file\": \"d/admin.secret\", \"data_dir\": \"elsewhere\"}",
                  config, sizeof (config));
    secret = raftq_config_admin_secret (config, error, sizeof (error));
    assert_string_equal (secret, "top secret");
    free (secret);

    setenv ("RAFTQ_ADMIN_SECRET", "from the environment", 1);
    secret = raftq_config_admin_secret (config, error, sizeof (error));
    assert_string_equal (secret, "from the environment");
    free (secret);
    unsetenv ("RAFTQ_ADMIN_SECRET");
    unlink (secret_path);
    rmdir (data);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_config_raftq_form, s_config_setup, s_config_teardown),
        cmocka_unit_test_setup_teardown (test_config_rrmq_form, s_config_setup, s_config_teardown),
        cmocka_unit_test_setup_teardown (test_config_errors, s_config_setup, s_config_teardown),
        cmocka_unit_test_setup_teardown (test_config_admin_secret, s_config_setup,
                                         s_config_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
