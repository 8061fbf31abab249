/*  test_gateway_options — raftq-gateway's settings: defaults, the config's
    "gateway" object (relative files from the config's directory), flags
    over it, and a one-line refusal of each bad value.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_options.h"
#include "gateway_fixture.h"

#define S_NODES "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2}]"

static int
s_setup (void **state)
{
    return gateway_fixture_setup (state, "config.json");
}

//  Writes the config and reads the options of "raftq-gateway --config
//  FILE" followed by the NULL-terminated flags; error gets the refusal.
static gateway_options_t *
s_options (gateway_fixture_t *fixture, const char *config, char *error, size_t error_size, ...)
{
    FILE *file = fopen (fixture->path, "w");
    assert_non_null (file);
    fputs (config, file);
    fclose (file);
    char *argv[16] = {"raftq-gateway", "--config", fixture->path};
    int argc = 3;
    va_list flags;
    va_start (flags, error_size);
    for (char *flag = va_arg (flags, char *); flag && argc < 15; flag = va_arg (flags, char *))
        argv[argc++] = flag;
    va_end (flags);
    *error = 0;
    return gateway_options_new (argc, argv, error, error_size);
}

static void
test_defaults_and_config (void **state)
{
    gateway_fixture_t *fixture = *state;
    char error[512], expected[600];
    gateway_options_t *options = s_options (fixture, "{" S_NODES "}", error, sizeof error, NULL);
    assert_non_null (options);
    assert_string_equal (options->host, "127.0.0.1");
    assert_int_equal (options->port, GATEWAY_DEFAULT_PORT);
    assert_int_equal (options->max_connections, GATEWAY_DEFAULT_MAX_CONNECTIONS);
    assert_int_equal (options->max_per_address, GATEWAY_DEFAULT_MAX_PER_ADDRESS);
    assert_int_equal (options->max_streams, GATEWAY_DEFAULT_MAX_STREAMS_PER_USER);
    assert_false (options->secure_cookie);
    assert_null (options->tls_certificate);
    snprintf (expected, sizeof expected, "%s/data/gateway.key", fixture->directory);
    assert_string_equal (options->key_file, expected);
    gateway_options_destroy (&options);
    assert_null (options);

    options = s_options (fixture,
                         "{\"data_dir\":\"store\",\"gateway\":{\"host\":\"0.0.0.0\",\"port\":0,"
                         "\"key_file\":\"keys/g.key\",\"secure_cookie\":true,"
                         "\"max_connections\":9,\"max_connections_per_address\":8,"
                         "\"max_streams_per_user\":5}," S_NODES "}",
                         error, sizeof error, NULL);
    assert_non_null (options);
    assert_string_equal (options->host, "0.0.0.0");
    assert_int_equal (options->port, 0);
    assert_int_equal (options->max_connections, 9);
    assert_int_equal (options->max_per_address, 8);
    assert_int_equal (options->max_streams, 5);
    assert_true (options->secure_cookie);
    snprintf (expected, sizeof expected, "%s/keys/g.key", fixture->directory);
    assert_string_equal (options->key_file, expected);
    gateway_options_destroy (&options);
}

static void
test_flags_override (void **state)
{
    gateway_fixture_t *fixture = *state;
    char error[512];
    gateway_options_t *options =
        s_options (fixture, "{\"gateway\":{\"port\":9000,\"key_file\":\"/a.key\"}," S_NODES "}",
                   error, sizeof error, "--port", "9100", "--key-file", "/b.key", "--host",
                   "127.0.0.2", "--max-connections", "3", "--max-connections-per-address", "2",
                   "--max-streams-per-user", "1", NULL);
    assert_non_null (options);
    assert_int_equal (options->port, 9100);
    assert_string_equal (options->key_file, "/b.key");
    assert_string_equal (options->host, "127.0.0.2");
    assert_int_equal (options->max_connections, 3);
    assert_int_equal (options->max_per_address, 2);
    assert_int_equal (options->max_streams, 1);
    gateway_options_destroy (&options);

    options = s_options (fixture, "{" S_NODES "}", error, sizeof error, "--tls-certificate",
                         "/c.pem", "--tls-key", "/k.pem", NULL);
    assert_non_null (options);
    assert_true (options->secure_cookie); //  what came over TLS stays on TLS
    gateway_options_destroy (&options);
}

static void
test_refusals (void **state)
{
    gateway_fixture_t *fixture = *state;
    const struct {
        const char *config; //  the file
        const char *flag;   //  one flag and its value, or NULL
        const char *value;  //  ...
        const char *says;   //  part of the one-line error
    } cases[] = {
        {"{\"gateway\":[]}", NULL, NULL, "gateway: must be an object"},
        {"{\"gateway\":{\"port\":65536}}", NULL, NULL, "gateway.port: must be an integer"},
        {"{\"gateway\":{\"port\":\"80\"}}", NULL, NULL, "gateway.port: must be an integer"},
        {"{\"gateway\":{\"host\":1}}", NULL, NULL, "gateway.host: must be an IPv4 address"},
        {"{\"gateway\":{\"secure_cookie\":1}}", NULL, NULL, "gateway.secure_cookie"},
        {"{\"gateway\":{\"max_connections\":0}}", NULL, NULL, "gateway.max_connections"},
        {"{\"gateway\":{\"max_connections_per_address\":\"9\"}}", NULL, NULL,
         "gateway.max_connections_per_address: must be an integer from 1 to"},
        {"{\"gateway\":{\"key_file\":\"\"}}", NULL, NULL, "gateway.key_file: must be a non-empty"},
        {"{\"gateway\":{\"host\":\"example.com\"}}", NULL, NULL, "must be an IPv4 address"},
        {"[1]", NULL, NULL, "top level is not an object"},
        {"{\"nodes\":", NULL, NULL, "config.json:1:"},
        {"{}", "--port", "http", "--port: must be an integer"},
        {"{}", "--port", "-1", "--port: must be an integer"},
        {"{}", "--max-connections", "100000", "--max-connections: must be"},
        {"{}", "--max-connections-per-address", "0", "--max-connections-per-address: must be"},
        {"{\"gateway\":{\"max_streams_per_user\":0}}", NULL, NULL,
         "gateway.max_streams_per_user: must be an integer from 1 to"},
        {"{}", "--max-streams-per-user", "x", "--max-streams-per-user: must be"},
        {"{}", "--tls-certificate", "/c.pem", "TLS needs both"},
        {"{}", "extra", NULL, "unexpected argument: extra"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char error[512];
        gateway_options_t *options = s_options (fixture, cases[index].config, error, sizeof error,
                                                cases[index].flag, cases[index].value, NULL);
        if (options || !strstr (error, cases[index].says))
            fail_msg ("case %zu (%s %s): expected \"%s\" in \"%s\"", index, cases[index].config,
                      cases[index].flag ? cases[index].flag : "", cases[index].says, error);
        assert_null (strchr (error, '\n'));
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_defaults_and_config, s_setup,
                                         gateway_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_flags_override, s_setup, gateway_fixture_teardown),
        cmocka_unit_test_setup_teardown (test_refusals, s_setup, gateway_fixture_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
