/*  test_config_keys — config_keys.c: CurveZMQ keys in a config (certificate
    files or Z85 text, secret certificates, the client allow-list) and one
    exact error line for each way to get them wrong.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/config.h"
#include "broker/config_keys.h"
#include "key_fixture.h"

//  Node id on 127.0.0.1 naming its certificate under keys/.
#define KEYED_NODE(id)                                                                             \
    "{\"id\":" #id ",\"host\":\"127.0.0.1\",\"client_port\":55" #id ",\"peer_port\":56" #id        \
    ",\"certificate\":\"keys/node-" #id ".cert\"}"
#define TWO_KEYED "\"nodes\":[" KEYED_NODE (1) "," KEYED_NODE (2) "]"

static config_t *
s_parse (const char *text, char *error, size_t size)
{
    return config_parse (text, "test.json", error, size);
}

static void
s_expect_error (const char *text, const char *expected)
{
    char error[768] = "";
    config_t *config = s_parse (text, error, sizeof error);
    if (config) {
        config_destroy (&config);
        fail_msg ("accepted: %s", text);
    }
    if (strcmp (error, expected) != 0)
        fail_msg ("for %s\n  got      \"%s\"\n  expected \"%s\"", text, error, expected);
}

static void
test_certificates_and_text_keys (void **state)
{
    (void)state;
    key_fixture_t *keys = key_fixture_new (2);
    assert_non_null (keys);
    char error[768] = "";
    config_t *config = s_parse ("{" TWO_KEYED "}", error, sizeof error);
    if (!config)
        fail_msg ("%s", error);
    assert_true (config->peer_curve);
    assert_memory_equal (config->nodes[1].public_key, key_fixture_public (keys, 2), CURVE_KEY_SIZE);
    assert_string_equal (config->nodes[1].secret_certificate, "keys/node-2.cert_secret");
    uint8_t secret[CURVE_KEY_SIZE];
    assert_int_equal (
        config_keys_load_secret (config, &config->nodes[1], secret, error, sizeof error), 0);
    assert_memory_equal (secret, key_fixture_secret (keys, 2), CURVE_KEY_SIZE);
    //  Node 2's secret is not node 1's
    config->nodes[0].secret_certificate[strlen ("keys/node-")] = '2';
    assert_int_equal (
        config_keys_load_secret (config, &config->nodes[0], secret, error, sizeof error), -1);
    assert_string_equal (error, "test.json: nodes[0].secret_certificate: keys/node-2.cert_secret "
                                "is not the secret key of this node's public key");
    config_destroy (&config);

    //  Z85 text instead of a certificate, with the secret named apart; a
    //  peer port on another network
    char text[1024], z85[CURVE_KEY_TEXT_SIZE];
    curve_key_encode (key_fixture_public (keys, 1), z85);
    snprintf (text, sizeof text,
              "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
              "\"public_key\":\"%s\",\"secret_certificate\":\"keys/node-1.cert_secret\","
              "\"peer_host\":\"127.0.0.9\"}],\"client_curve\":[\"%s\",\"keys/node-2.cert\"],"
              "\"client_certificate\":\"keys/client.cert\"}",
              z85, z85);
    config = s_parse (text, error, sizeof error);
    if (!config)
        fail_msg ("%s", error);
    assert_memory_equal (config->nodes[0].public_key, key_fixture_public (keys, 1), CURVE_KEY_SIZE);
    assert_string_equal (config->nodes[0].peer_host, "127.0.0.9");
    assert_int_equal (
        config_keys_load_secret (config, &config->nodes[0], secret, error, sizeof error), 0);
    assert_int_equal (config->client_security, CONFIG_CLIENT_LISTED);
    assert_int_equal (config->client_key_count, 2);
    assert_memory_equal (config->client_keys[1], key_fixture_public (keys, 2), CURVE_KEY_SIZE);
    config_destroy (&config);

    config = s_parse ("{\"client_curve\":true," TWO_KEYED "}", error, sizeof error);
    assert_non_null (config);
    assert_int_equal (config->client_security, CONFIG_CLIENT_ANY_KEY);
    config_destroy (&config);
    key_fixture_destroy (&keys);
}

static void
test_bad_keys (void **state)
{
    (void)state;
    key_fixture_t *keys = key_fixture_new (2);
    assert_non_null (keys);
    //  The same pair for two nodes
    assert_int_equal (system ("cp keys/node-1.cert keys/node-3.cert"), 0);
    s_expect_error (
        "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2}]}",
        "test.json: nodes[0]: needs \"certificate\" or \"public_key\": the peer port "
        "runs CurveZMQ (\"peer_curve\": false turns that off)");
    s_expect_error (
        "{\"peer_curve\":false,\"client_curve\":true,"
        "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2}]}",
        "test.json: nodes[0]: needs \"certificate\" or \"public_key\": the peer port "
        "runs CurveZMQ (\"peer_curve\": false turns that off)");
    s_expect_error ("{\"nodes\":[" KEYED_NODE (1) "," KEYED_NODE (3) "]}",
                    "test.json: nodes[1]: has the same public key as nodes[0]");
    s_expect_error ("{\"nodes\":[" KEYED_NODE (1) "," KEYED_NODE (4) "]}",
                    "test.json: nodes[1].certificate: cannot read keys/node-4.cert: No such file "
                    "or directory (raftq keygen keys/node-4.cert makes a pair)");
    s_expect_error (
        "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
        "\"public_key\":\"not z85\"}]}",
        "test.json: nodes[0].public_key: must be a CurveZMQ public key in Z85 (40 "
        "characters)");
    s_expect_error (
        "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
        "\"certificate\":\"keys/node-1.cert\",\"public_key\":\"x\"}]}",
        "test.json: nodes[0].public_key: give \"certificate\" or \"public_key\", not "
        "both");
    s_expect_error (
        "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
        "\"certificate\":\"test_config_keys.c\"}]}",
        "test.json: nodes[0].certificate: cannot read test_config_keys.c: No such file "
        "or directory (raftq keygen test_config_keys.c makes a pair)");
    assert_int_equal (system ("echo 'curve' > keys/empty.cert"), 0);
    s_expect_error (
        "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
        "\"certificate\":\"keys/empty.cert\"}]}",
        "test.json: nodes[0].certificate: keys/empty.cert holds no valid "
        "curve/public-key (raftq keygen keys/empty.cert makes a pair)");
    s_expect_error ("{\"peer_curve\":1," TWO_KEYED "}",
                    "test.json: peer_curve: must be true or false");
    s_expect_error ("{\"client_curve\":[]," TWO_KEYED "}",
                    "test.json: client_curve: must be false, true, or a non-empty list of client "
                    "keys");
    s_expect_error ("{\"client_curve\":[5]," TWO_KEYED "}",
                    "test.json: client_curve[0]: must be a Z85 public key or a certificate path");
    s_expect_error ("{\"client_curve\":[\"keys/none\"]," TWO_KEYED "}",
                    "test.json: client_curve[0]: not a Z85 key, and cannot read keys/none: No such "
                    "file or directory");
    s_expect_error ("{\"client_certificate\":7," TWO_KEYED "}",
                    "test.json: client_certificate: must be a certificate path");
    s_expect_error (
        "{\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
        "\"certificate\":\"keys/node-1.cert\",\"peer_host\":\"example.com\"}]}",
        "test.json: nodes[0].peer_host: must be an IPv4 address or \"localhost\"");
    //  Two nodes may share a port number on different peer networks, not on one
    s_expect_error ("{\"nodes\":[" KEYED_NODE (
                        1) ",{\"id\":2,\"host\":\"127.0.0.2\",\"client_port\":1,"
                           "\"peer_port\":551,\"peer_host\":\"127.0.0.1\",\"certificate\":\"keys/"
                           "node-2.cert\"}]}",
                    "test.json: nodes[1].peer_port: endpoint 127.0.0.1:551 already used by "
                    "nodes[0].client_port");
    key_fixture_destroy (&keys);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_certificates_and_text_keys),
        cmocka_unit_test (test_bad_keys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
