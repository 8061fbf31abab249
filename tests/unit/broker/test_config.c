/*  test_config — config.c: the shipped config.json, defaults, both forms,
    and one exact error line for each kind of bad file.
*/

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/config.h"
#include "broker/config_keys.h"
#include "key_fixture.h"

//  A node entry of the raftq form on 127.0.0.1.
#define NODE(id, client, peer)                                                                     \
    "{\"id\":" #id ",\"host\":\"127.0.0.1\",\"client_port\":" #client ",\"peer_port\":" #peer "}"
#define ONE_NODE "\"nodes\":[" NODE (1, 5501, 5601) "]"
//  Most cases are about other settings: they run the peer port in the clear
//  rather than naming keys (test_curve_settings covers those)
#define PLAIN "\"peer_curve\":false,"

//  A bad file and the exact line it must produce.
typedef struct {
    const char *text;
    const char *error;
} bad_case_t;

//  Parses text that must fail and checks the exact one-line message.
static void
s_expect_error (const char *text, const char *expected)
{
    char error[512];
    memset (error, 'x', sizeof error);
    config_t *config = config_parse (text, "test.json", error, sizeof error);
    if (config) {
        config_destroy (&config);
        fail_msg ("accepted: %s", text);
    }
    if (strcmp (error, expected) != 0)
        fail_msg ("for %s\n  got      \"%s\"\n  expected \"%s\"", text, error, expected);
    assert_null (strchr (error, '\n'));
}

static config_t *
s_expect_config (const char *text)
{
    char error[512] = "";
    config_t *config = config_parse (text, "test.json", error, sizeof error);
    if (!config)
        fail_msg ("refused: %s: %s", text, error);
    return config;
}

//  The repository root, from this file's path: the test does not depend on
//  the directory it is run from when the compiler saw an absolute path.
static void
s_source_path (char *path, size_t size, const char *file)
{
    const char *marker = strstr (__FILE__, "tests/unit/");
    int prefix = marker ? (int)(marker - __FILE__) : 0;
    snprintf (path, size, "%.*s%s", prefix, __FILE__, file);
}

static void
test_default_file (void **state)
{
    (void)state;
    char path[1024];
    char error[512] = "";
    s_source_path (path, sizeof path, "config.json");
    //  The fixture changes the working directory
    char *absolute = realpath (path, NULL);
    assert_non_null (absolute);
    snprintf (path, sizeof path, "%s", absolute);
    free (absolute);
    key_fixture_t *keys = key_fixture_new (5);
    assert_non_null (keys);
    config_t *config = config_load (path, error, sizeof error);
    if (!config)
        fail_msg ("%s", error);
    //  The default cluster runs CurveZMQ between brokers, plain clients
    assert_true (config->peer_curve);
    assert_int_equal (config->client_security, CONFIG_CLIENT_PLAIN);
    for (size_t index = 0; index < 5; index++) {
        const config_node_t *node = &config->nodes[index];
        assert_true (node->has_public_key);
        assert_memory_equal (node->public_key, key_fixture_public (keys, index + 1),
                             CURVE_KEY_SIZE);
        uint8_t secret[CURVE_KEY_SIZE];
        assert_int_equal (config_keys_load_secret (config, node, secret, error, sizeof error), 0);
        assert_string_equal (node->peer_host, node->host);
    }
    key_fixture_destroy (&keys);
    assert_string_equal (config->path, path);
    assert_string_equal (config->cluster, "raftq-local");
    assert_string_equal (config->data_dir, "data");
    assert_int_equal (config->heartbeat_ms, 50);
    assert_int_equal (config->election_timeout_min_ms, 300);
    assert_int_equal (config->election_timeout_max_ms, 600);
    assert_int_equal (config->request_timeout_ms, 1000);
    assert_int_equal (config->max_payload_bytes, 1048576);
    assert_int_equal (config->node_count, 5);
    for (uint32_t id = 1; id <= 5; id++) {
        const config_node_t *node = config_node (config, id);
        assert_non_null (node);
        assert_int_equal (node->id, id);
        assert_string_equal (node->host, "127.0.0.1");
        assert_int_equal (node->client_port, 5500 + id);
        assert_int_equal (node->peer_port, 5600 + id);
        assert_int_equal (node->pub_port, 5700 + id);
        assert_int_equal (node->http_port, 5800 + id);
        assert_false (node->join);
    }
    assert_null (config_node (config, 0));
    assert_null (config_node (config, 6));
    config_destroy (&config);
    assert_null (config);
    config_destroy (&config);
}

static void
test_defaults_and_options (void **state)
{
    (void)state;
    config_t *config = s_expect_config ("{" PLAIN ONE_NODE "}");
    assert_string_equal (config->cluster, "raftq");
    assert_string_equal (config->data_dir, "data");
    assert_string_equal (config->path, "test.json");
    assert_int_equal (config->heartbeat_ms, 50);
    assert_int_equal (config->election_timeout_min_ms, 300);
    assert_int_equal (config->election_timeout_max_ms, 600);
    assert_int_equal (config->request_timeout_ms, 1000);
    assert_int_equal (config->max_payload_bytes, 1048576);
    assert_int_equal (config->event_retention, 1000);
    assert_int_equal (config->snapshot_log_bytes, 64 * 1024 * 1024);
    assert_int_equal (config->snapshot_trailing_entries, 10000);
    assert_int_equal (config->segment_bytes, 64 * 1024 * 1024);
    assert_int_equal (config->session_idle_s, 86400);
    assert_int_equal (config->session_lifetime_s, 604800);
    assert_int_equal (config->node_count, 1);
    assert_int_equal (config->nodes[0].pub_port, 0);
    assert_false (config->nodes[0].join);
    //  The admin secret sits with the data; core dumps are off
    assert_string_equal (config->admin_secret_file, "data/admin.secret");
    assert_false (config->core_dumps);
    //  No thread asks to run ahead unless the file says so
    assert_int_equal (config->urgent_threads, THREAD_PRIORITY_NORMAL);
    config_destroy (&config);
    config = s_expect_config ("{" PLAIN ONE_NODE ",\"urgent_threads\":\"nice\"}");
    assert_int_equal (config->urgent_threads, THREAD_PRIORITY_NICE);
    config_destroy (&config);
    config = s_expect_config ("{" PLAIN ONE_NODE ",\"urgent_threads\":\"realtime\"}");
    assert_int_equal (config->urgent_threads, THREAD_PRIORITY_REALTIME);
    config_destroy (&config);
    config = s_expect_config ("{" PLAIN ONE_NODE ",\"urgent_threads\":\"normal\"}");
    assert_int_equal (config->urgent_threads, THREAD_PRIORITY_NORMAL);
    config_destroy (&config);

    config = s_expect_config ("{" PLAIN ONE_NODE ",\"data_dir\":\"/srv/q\",\"core_dumps\":true}");
    assert_string_equal (config->admin_secret_file, "/srv/q/admin.secret");
    assert_true (config->core_dumps);
    config_destroy (&config);
    config = s_expect_config ("{" PLAIN ONE_NODE ",\"admin_secret_file\":\"/etc/q/admin\"}");
    assert_string_equal (config->admin_secret_file, "/etc/q/admin");
    config_destroy (&config);

    config = s_expect_config (
        "{" PLAIN "\"cluster\":\"c\",\"data_dir\":\"/tmp/d\",\"heartbeat_ms\":10,"
        "\"election_timeout_ms\":[100,200],\"request_timeout_ms\":3000,"
        "\"max_payload_bytes\":67108864,\"event_retention\":1000000,"
        "\"snapshot_log_bytes\":4096,\"snapshot_trailing_entries\":0,\"segment_bytes\":1,"
        "\"session_idle_s\":60,\"session_lifetime_s\":3600,"
        "\"nodes\":["
        "{\"id\":7,\"host\":\"localhost\",\"client_port\":1,\"peer_port\":65535,"
        "\"pub_port\":0,\"join\":true},"
        "{\"id\":3,\"host\":\"10.0.0.2\",\"client_port\":1,\"peer_port\":2,\"join\":false}]}");
    assert_string_equal (config->cluster, "c");
    assert_string_equal (config->data_dir, "/tmp/d");
    assert_int_equal (config->heartbeat_ms, 10);
    assert_int_equal (config->election_timeout_min_ms, 100);
    assert_int_equal (config->election_timeout_max_ms, 200);
    assert_int_equal (config->request_timeout_ms, 3000);
    assert_int_equal (config->max_payload_bytes, 64 * 1024 * 1024);
    assert_int_equal (config->event_retention, 1000000);
    assert_int_equal (config->snapshot_log_bytes, 4096);
    assert_int_equal (config->snapshot_trailing_entries, 0);
    assert_int_equal (config->segment_bytes, 1);
    assert_int_equal (config->session_idle_s, 60);
    assert_int_equal (config->session_lifetime_s, 3600);
    assert_int_equal (config->node_count, 2);
    //  File order is kept; ids need not be dense.
    assert_int_equal (config->nodes[0].id, 7);
    assert_string_equal (config->nodes[0].host, "localhost");
    assert_true (config->nodes[0].join);
    assert_int_equal (config->nodes[0].peer_port, 65535);
    assert_int_equal (config->nodes[1].id, 3);
    assert_false (config->nodes[1].join);
    assert_ptr_equal (config_node (config, 3), &config->nodes[1]);
    config_destroy (&config);
}

//  Expects every case to fail with its exact one-line error.
static void
s_expect_errors (const bad_case_t *cases, size_t count)
{
    for (size_t index = 0; index < count; index++)
        s_expect_error (cases[index].text, cases[index].error);
}

//  The raftq form: the document's shape and the cluster-wide settings.
static void
test_bad_top_level_and_settings (void **state)
{
    (void)state;
    const bad_case_t cases[] = {
        //  form and top level
        {"[1]", "test.json: top level: must be an object"},
        {"{}", "test.json: top level: needs \"nodes\" (raftq form) or \"addresses\" (RRMQ form)"},
        {"{" PLAIN ONE_NODE ",\"addresses\":[]}",
         "test.json: top level: has both \"nodes\" "
         "(raftq form) and \"addresses\" (RRMQ form); keep one"},
        {"{" PLAIN ONE_NODE ",\"heartbeat\":50}",
         "test.json: heartbeat: unknown key (known keys: "
         "cluster, data_dir, heartbeat_ms, election_timeout_ms, request_timeout_ms, "
         "max_payload_bytes, event_retention, snapshot_log_bytes, snapshot_trailing_entries, "
         "segment_bytes, session_idle_s, session_lifetime_s, nodes, admin_secret_file, "
         "core_dumps, urgent_threads, peer_curve, client_curve, client_certificate, limits, "
         "gateway)"},
        {"{" PLAIN ONE_NODE ",\"core_dumps\":1}", "test.json: core_dumps: must be true or false"},
        {"{" PLAIN ONE_NODE ",\"urgent_threads\":\"fifo\"}",
         "test.json: urgent_threads: must be \"realtime\", \"nice\" or \"normal\""},
        {"{" PLAIN ONE_NODE ",\"urgent_threads\":2}",
         "test.json: urgent_threads: must be \"realtime\", \"nice\" or \"normal\""},
        {"{" PLAIN ONE_NODE ",\"admin_secret_file\":\"\"}",
         "test.json: admin_secret_file: must be a non-empty string"},
        {"{" PLAIN "\"nodes\":{}}", "test.json: nodes: must be a non-empty array of objects"},
        {"{" PLAIN "\"nodes\":[]}", "test.json: nodes: must be a non-empty array of objects"},
        {"{" PLAIN "\"nodes\":[" NODE (1, 5501, 5601) ",5]}",
         "test.json: nodes[1]: must be an object"},
        //  settings
        {"{\"cluster\":5," ONE_NODE "}", "test.json: cluster: must be a non-empty string"},
        {"{\"data_dir\":\"\"," ONE_NODE "}", "test.json: data_dir: must be a non-empty string"},
        {"{\"heartbeat_ms\":\"50\"," ONE_NODE "}",
         "test.json: heartbeat_ms: must be an integer from 1 to 3600000"},
        {"{\"request_timeout_ms\":0," ONE_NODE "}",
         "test.json: request_timeout_ms: must be an integer from 1 to 3600000"},
        {"{\"max_payload_bytes\":67108865," ONE_NODE "}",
         "test.json: max_payload_bytes: must be an integer from 1 to 67108864"},
        {"{\"event_retention\":0," ONE_NODE "}",
         "test.json: event_retention: must be an integer from 1 to 1000000"},
        {"{\"event_retention\":1000001," ONE_NODE "}",
         "test.json: event_retention: must be an integer from 1 to 1000000"},
        {"{\"snapshot_log_bytes\":1023," ONE_NODE "}",
         "test.json: snapshot_log_bytes: must be an integer from 1024 to 1073741824"},
        {"{\"snapshot_trailing_entries\":100000001," ONE_NODE "}",
         "test.json: snapshot_trailing_entries: must be an integer from 0 to 100000000"},
        {"{\"segment_bytes\":0," ONE_NODE "}",
         "test.json: segment_bytes: must be an integer from 1 to 4294967295"},
        {"{\"election_timeout_ms\":[600,300]," ONE_NODE "}",
         "test.json: election_timeout_ms: min (600) must be less than max (300)"},
        {"{\"election_timeout_ms\":[300,300]," ONE_NODE "}",
         "test.json: election_timeout_ms: min (300) must be less than max (300)"},
        {"{\"election_timeout_ms\":[300]," ONE_NODE "}",
         "test.json: election_timeout_ms: must be an array of two integers [min, max]"},
        {"{\"election_timeout_ms\":300," ONE_NODE "}",
         "test.json: election_timeout_ms: must be an array of two integers [min, max]"},
        {"{\"election_timeout_ms\":[300,600.5]," ONE_NODE "}",
         "test.json: election_timeout_ms[1]: must be an integer from 1 to 3600000"},
        {"{\"election_timeout_ms\":[0,600]," ONE_NODE "}",
         "test.json: election_timeout_ms[0]: must be an integer from 1 to 3600000"},
        {"{\"heartbeat_ms\":300,\"election_timeout_ms\":[300,600]," ONE_NODE "}",
         "test.json: heartbeat_ms: 300 must be less than the election timeout min (300)"},
    };
    s_expect_errors (cases, sizeof cases / sizeof cases[0]);
}

//  The raftq form: one node's entry.
static void
test_bad_node_entries (void **state)
{
    (void)state;
    const bad_case_t cases[] = {
        //  node entries
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
         "\"pubport\":3}]}",
         "test.json: nodes[0].pubport: unknown key (known keys: id, host, "
         "client_port, peer_port, pub_port, http_port, join, certificate, public_key, "
         "secret_certificate, "
         "peer_host)"},
        {"{" PLAIN "\"nodes\":[{\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].id: missing (an integer from 1 to 4294967295)"},
        {"{" PLAIN "\"nodes\":[" NODE (0, 1, 2) "]}",
         "test.json: nodes[0].id: must be an integer from 1 to 4294967295"},
        {"{" PLAIN "\"nodes\":[" NODE (4294967296, 1, 2) "]}",
         "test.json: nodes[0].id: must be an integer from 1 to 4294967295"},
        {"{" PLAIN "\"nodes\":[" NODE (1, 1, 2) "," NODE (2, 3, 4) "," NODE (1, 5, 6) "]}",
         "test.json: nodes[2].id: duplicate id 1 (also nodes[0])"},
        {"{" PLAIN "\"nodes\":[" NODE (1, "5501", 2) "]}",
         "test.json: nodes[0].client_port: must be an integer from 1 to 65535"},
        {"{" PLAIN "\"nodes\":[" NODE (1, 5501.0, 2) "]}",
         "test.json: nodes[0].client_port: must be an integer from 1 to 65535"},
        {"{" PLAIN "\"nodes\":[" NODE (1, 0, 2) "]}",
         "test.json: nodes[0].client_port: must be an integer from 1 to 65535"},
        {"{" PLAIN "\"nodes\":[" NODE (1, 1, 65536) "]}",
         "test.json: nodes[0].peer_port: must be an integer from 1 to 65535"},
        {"{" PLAIN "\"nodes\":[" NODE (1, 1, -2) "]}",
         "test.json: nodes[0].peer_port: must be an integer from 1 to 65535"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1}]}",
         "test.json: nodes[0].peer_port: missing (an integer from 1 to 65535)"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
         "\"pub_port\":-1}]}",
         "test.json: nodes[0].pub_port: must be an integer from 0 to 65535"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
         "\"http_port\":65536}]}",
         "test.json: nodes[0].http_port: must be an integer from 0 to 65535"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
         "\"http_port\":\"8080\"}]}",
         "test.json: nodes[0].http_port: must be an integer from 0 to 65535"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,"
         "\"join\":\"yes\"}]}",
         "test.json: nodes[0].join: must be true or false"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].host: missing (an IPv4 address or \"localhost\")"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":7,\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].host: must be a string (an IPv4 address or \"localhost\")"},
        {"{" PLAIN
         "\"nodes\":[{\"id\":1,\"host\":\"tcp://127.0.0.1\",\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].host: write the bare address, without a \"tcp://\" prefix"},
        {"{" PLAIN
         "\"nodes\":[{\"id\":1,\"host\":\"http://127.0.0.1\",\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].host: write the bare address, without a \"http://\" prefix"},
        {"{" PLAIN
         "\"nodes\":[{\"id\":1,\"host\":\"example.com\",\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].host: must be an IPv4 address or \"localhost\""},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"\",\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].host: must be an IPv4 address or \"localhost\""},
        {"{" PLAIN
         "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.256\",\"client_port\":1,\"peer_port\":2}]}",
         "test.json: nodes[0].host: must be an IPv4 address or \"localhost\""},
    };
    s_expect_errors (cases, sizeof cases / sizeof cases[0]);
}

//  The raftq form: endpoints collide across nodes and within one.
static void
test_bad_endpoints (void **state)
{
    (void)state;
    const bad_case_t cases[] = {
        //  endpoints: across nodes, within one node, localhost = 127.0.0.1
        {"{" PLAIN "\"nodes\":[" NODE (1, 5501, 5601) "," NODE (2, 5502, 5501) "]}",
         "test.json: nodes[1].peer_port: endpoint 127.0.0.1:5501 already used by "
         "nodes[0].client_port"},
        {"{" PLAIN "\"nodes\":[" NODE (1, 5501, 5501) "]}",
         "test.json: nodes[0].peer_port: endpoint 127.0.0.1:5501 already used by "
         "nodes[0].client_port"},
        {"{" PLAIN "\"nodes\":[" NODE (
             1, 5501, 5601) ",{\"id\":2,\"host\":\"localhost\","
                            "\"client_port\":5502,\"peer_port\":5602,\"pub_port\":5601}]}",
         "test.json: nodes[1].pub_port: endpoint localhost:5601 already used by "
         "nodes[0].peer_port"},
        //  the HTTP port clashes like any other, within a node and across
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":5501,"
         "\"peer_port\":5601,\"pub_port\":5701,\"http_port\":5701}]}",
         "test.json: nodes[0].http_port: endpoint 127.0.0.1:5701 already used by "
         "nodes[0].pub_port"},
        {"{" PLAIN "\"nodes\":[{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":5501,"
         "\"peer_port\":5601,\"http_port\":5801}," NODE (2, 5801, 5602) "]}",
         "test.json: nodes[1].client_port: endpoint 127.0.0.1:5801 already used by "
         "nodes[0].http_port"},
    };
    s_expect_errors (cases, sizeof cases / sizeof cases[0]);

    //  Same ports on different hosts are distinct endpoints; pub_port 0 is none.
    config_t *config = s_expect_config ("{" PLAIN "\"nodes\":[" NODE (
        1, 5501, 5601) ",{\"id\":2,\"host\":\"127.0.0.2\","
                       "\"client_port\":5501,\"peer_port\":5601,\"pub_port\":0}]}");
    assert_int_equal (config->node_count, 2);
    config_destroy (&config);
}

static void
test_syntax_errors (void **state)
{
    (void)state;
    char error[512];
    config_t *config =
        config_parse ("{\n  \"nodes\": [\n    1,,\n]}", "syntax.json", error, sizeof error);
    assert_null (config);
    //  FILE:LINE:COLUMN: then jansson's own words.
    assert_string_equal (error, "syntax.json:3:7: unexpected token near ','");

    assert_null (config_parse ("", "empty.json", error, sizeof error));
    assert_int_equal (strncmp (error, "empty.json:1:0: ", 16), 0);
    assert_null (config_parse ("{" PLAIN ONE_NODE "} trailing", "t.json", error, sizeof error));
    assert_int_equal (strncmp (error, "t.json:1:", 9), 0);
    assert_non_null (strstr (error, "end of file expected"));
    //  A duplicate key is refused by the parser, not silently overridden.
    assert_null (config_parse ("{\"heartbeat_ms\":10,\"heartbeat_ms\":20," ONE_NODE "}", "d.json",
                               error, sizeof error));
    assert_non_null (strstr (error, "duplicate object key"));
    assert_null (config_parse ("{" PLAIN "\"nodes\":[" NODE (1, 99999999999999999999, 2) "]}",
                               "big.json", error, sizeof error));
    assert_non_null (strstr (error, "too big integer"));
    assert_null (config_parse (NULL, "null.json", error, sizeof error));
    assert_int_equal (strncmp (error, "null.json:1:0: ", 15), 0);

    //  A short buffer gets a cut, terminated message; no buffer at all is fine.
    char tiny[8];
    assert_null (config_parse ("{}", "test.json", tiny, sizeof tiny));
    assert_string_equal (tiny, "test.js");
    assert_null (config_parse ("{}", "test.json", NULL, 0));
}

static void
test_rrmq_form (void **state)
{
    (void)state;
    config_t *config = s_expect_config (
        "{\"addresses\":["
        "{\"ip\":\"http://127.0.0.1\",\"port\":9001,\"internal_port\":9101},"
        "{\"ip\":\"127.0.0.1\",\"port\":9002,\"internal_port\":9102,\"pub_port\":9202},"
        "{\"ip\":\"localhost\",\"port\":9003,\"internal_port\":9103,\"comment\":\"ignored\"}],"
        "\"owner\":\"another tool\"}");
    assert_string_equal (config->cluster, "rrmq");
    //  No data_dir given: keyed by the identity, so a new address list
    //  starts a new cluster in the same working directory.
    char keyed[64];
    snprintf (keyed, sizeof keyed, "data/rrmq-%016" PRIx64, config->cluster_id);
    assert_string_equal (config->data_dir, keyed);
    assert_int_equal (config->heartbeat_ms, 50);
    assert_int_equal (config->election_timeout_min_ms, 300);
    assert_int_equal (config->node_count, 3);
    for (uint32_t index = 0; index < 3; index++) {
        const config_node_t *node = config_node (config, index + 1);
        assert_ptr_equal (node, &config->nodes[index]);
        assert_int_equal (node->client_port, 9001 + index);
        assert_int_equal (node->peer_port, 9101 + index);
        assert_int_equal (node->pub_port, index == 1 ? 9202 : 0);
        assert_false (node->join);
    }
    assert_string_equal (config->nodes[0].host, "127.0.0.1");
    assert_string_equal (config->nodes[2].host, "localhost");
    config_destroy (&config);

    //  raftq settings are honored in this form too.
    config = s_expect_config ("{\"cluster\":\"course\",\"heartbeat_ms\":20,\"addresses\":["
                              "{\"ip\":\"127.0.0.1\",\"port\":9001,\"internal_port\":9101}]}");
    assert_string_equal (config->cluster, "course");
    assert_int_equal (config->heartbeat_ms, 20);
    config_destroy (&config);

    const bad_case_t cases[] = {
        {"{\"addresses\":[]}", "test.json: addresses: must be a non-empty array of objects"},
        {"{\"addresses\":[\"127.0.0.1:9001\"]}", "test.json: addresses[0]: must be an object"},
        {"{\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":9001}]}",
         "test.json: addresses[0].internal_port: missing (an integer from 1 to 65535)"},
        {"{\"addresses\":[{\"port\":9001,\"internal_port\":9101}]}",
         "test.json: addresses[0].ip: missing (an IPv4 address or \"localhost\")"},
        {"{\"addresses\":[{\"ip\":\"http://nowhere\",\"port\":9001,\"internal_port\":9101}]}",
         "test.json: addresses[0].ip: must be an IPv4 address or \"localhost\""},
        {"{\"addresses\":[{\"ip\":\"http://http://127.0.0.1\",\"port\":1,\"internal_port\":2}]}",
         "test.json: addresses[0].ip: write the bare address, without a \"http://\" prefix"},
        {"{\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":\"9001\",\"internal_port\":9101}]}",
         "test.json: addresses[0].port: must be an integer from 1 to 65535"},
        {"{\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":9001,\"internal_port\":9101},"
         "{\"ip\":\"http://127.0.0.1\",\"port\":9101,\"internal_port\":9102}]}",
         "test.json: addresses[1].port: endpoint 127.0.0.1:9101 already used by "
         "addresses[0].internal_port"},
        {"{\"heartbeat_ms\":0,\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":1,\"internal_port\":2}]"
         "}",
         "test.json: heartbeat_ms: must be an integer from 1 to 3600000"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        s_expect_error (cases[index].text, cases[index].error);
}

//  The digest of a config's node list (what keys an RRMQ data directory).
static uint64_t
s_cluster_id (const char *text)
{
    config_t *config = s_expect_config (text);
    uint64_t id = config->cluster_id;
    config_destroy (&config);
    return id;
}

static void
test_cluster_identity (void **state)
{
    (void)state;
    const char *base = "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
                       "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
                       "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4}]}";
    uint64_t id = s_cluster_id (base);
    //  The same nodes in another order, with pub ports, one marked to join
    //  (as a wiped node is when it is added back), other settings: the same.
    assert_true (s_cluster_id ("{" PLAIN "\"cluster\":\"c\",\"heartbeat_ms\":20,\"nodes\":["
                               "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,"
                               "\"peer_port\":4,\"join\":true,\"pub_port\":9},"
                               "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,"
                               "\"peer_port\":2}]}") == id);
    //  Another name, another port, another host, another id, one node more.
    const char *others[] = {
        "{" PLAIN "\"cluster\":\"d\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
        "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4}]}",
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
        "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":5}]}",
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.2\",\"client_port\":1,\"peer_port\":2},"
        "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4}]}",
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
        "{\"id\":3,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4}]}",
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
        "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4},"
        "{\"id\":3,\"host\":\"127.0.0.1\",\"client_port\":5,\"peer_port\":6}]}",
    };
    for (size_t index = 0; index < sizeof others / sizeof others[0]; index++)
        assert_true (s_cluster_id (others[index]) != id);

    //  RRMQ: the address list makes the identity and keys the directory;
    //  a data_dir in the file is kept as it is.
    config_t *first = s_expect_config (
        "{\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":9001,\"internal_port\":9101}]}");
    config_t *second = s_expect_config (
        "{\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":9002,\"internal_port\":9102}]}");
    assert_true (first->cluster_id != second->cluster_id);
    assert_string_not_equal (first->data_dir, second->data_dir);
    config_destroy (&second);
    second = s_expect_config ("{\"data_dir\":\"mine\",\"addresses\":[{\"ip\":\"127.0.0.1\","
                              "\"port\":9001,\"internal_port\":9101}]}");
    assert_string_equal (second->data_dir, "mine");
    assert_true (first->cluster_id == second->cluster_id);
    config_destroy (&first);
    config_destroy (&second);
}

//  The identity node 1's directory is bound to, in a config that must parse.
static uint64_t
s_node_one_identity (const char *text)
{
    config_t *config = s_expect_config (text);
    uint64_t id = config_node_identity (config, config_node (config, 1));
    config_destroy (&config);
    return id;
}

//  A node directory is bound to the cluster's name and the node's own place
//  in it: the rest of the node list may grow, shrink or mark a node "join"
//  (a wiped node added back), and node 1 restarts as it was.
static void
test_node_identity (void **state)
{
    (void)state;
    uint64_t id = s_node_one_identity (
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
        "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4}]}");
    const char *same[] = {
        //  a node added, node 2 marked to join with a pub port
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":2,\"host\":\"127.0.0.1\",\"client_port\":3,\"peer_port\":4,\"join\":true,"
        "\"pub_port\":9},"
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2},"
        "{\"id\":6,\"host\":\"127.0.0.1\",\"client_port\":5,\"peer_port\":6,\"join\":true}]}",
        //  node 2 gone, node 1 with a pub port
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2,\"pub_port\":7}]}",
    };
    for (size_t index = 0; index < sizeof same / sizeof same[0]; index++)
        assert_true (s_node_one_identity (same[index]) == id);
    const char *other[] = {
        "{" PLAIN "\"cluster\":\"d\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":2}]}",
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.2\",\"client_port\":1,\"peer_port\":2}]}",
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":9,\"peer_port\":2}]}",
        "{" PLAIN "\"cluster\":\"c\",\"nodes\":["
        "{\"id\":1,\"host\":\"127.0.0.1\",\"client_port\":1,\"peer_port\":9}]}",
    };
    for (size_t index = 0; index < sizeof other / sizeof other[0]; index++)
        assert_true (s_node_one_identity (other[index]) != id);
}

//  Writes text (of length size) to dir/name; returns the path in path.
static void
s_write_file (const char *dir, const char *name, const char *text, size_t size, char *path)
{
    sprintf (path, "%s/%s", dir, name);
    FILE *file = fopen (path, "wb");
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, size, file), size);
    assert_int_equal (fclose (file), 0);
}

static void
test_load_files (void **state)
{
    (void)state;
    char dir[] = "/tmp/test_config.XXXXXX";
    assert_non_null (mkdtemp (dir));
    char good[256], nul[256], missing[256], expected[512], error[512];

    const char *text = "{\"cluster\":\"file\"," PLAIN ONE_NODE "}";
    s_write_file (dir, "good.json", text, strlen (text), good);
    config_t *config = config_load (good, error, sizeof error);
    assert_non_null (config);
    assert_string_equal (config->cluster, "file");
    assert_string_equal (config->path, good);
    config_destroy (&config);

    //  A NUL byte inside the file is a syntax error, not a silent end of file.
    s_write_file (dir, "nul.json", "{" PLAIN "\"nodes\":[]}\0garbage", 20, nul);
    assert_null (config_load (nul, error, sizeof error));
    snprintf (expected, sizeof expected, "%s:1:", nul);
    assert_int_equal (strncmp (error, expected, strlen (expected)), 0);

    sprintf (missing, "%s/missing.json", dir);
    assert_null (config_load (missing, error, sizeof error));
    snprintf (expected, sizeof expected, "%s: cannot read: %s", missing, strerror (ENOENT));
    assert_string_equal (error, expected);

    assert_null (config_load (dir, error, sizeof error));
    snprintf (expected, sizeof expected, "%s: cannot read: %s", dir, strerror (EISDIR));
    assert_string_equal (error, expected);

    //  Semantic errors carry the file's own path.
    text = "{" PLAIN "\"nodes\":[" NODE (1, 1, 1) "]}";
    s_write_file (dir, "same.json", text, strlen (text), good);
    assert_null (config_load (good, error, sizeof error));
    snprintf (expected, sizeof expected,
              "%s: nodes[0].peer_port: endpoint 127.0.0.1:1 already used by nodes[0].client_port",
              good);
    assert_string_equal (error, expected);

    unlink (good);
    unlink (nul);
    sprintf (good, "%s/good.json", dir);
    unlink (good);
    assert_int_equal (rmdir (dir), 0);
}

//  "limits": defaults, every key read, and one exact line per problem,
//  in both forms; max_state_bytes stops below the snapshot format's wall.
//  The "gateway" object is raftq-gateway's: the broker only checks its
//  shape, so that a typo in it fails at the broker's start too.
static void
test_gateway_object (void **state)
{
    (void)state;
    config_t *config = s_expect_config (
        "{" PLAIN ONE_NODE ",\"gateway\":{\"host\":\"127.0.0.1\",\"port\":8080,"
        "\"key_file\":\"data/gateway.key\",\"tls_certificate\":\"c.pem\",\"tls_key\":\"k.pem\","
        "\"secure_cookie\":true,\"max_connections\":10,\"max_connections_per_address\":10,"
        "\"max_streams_per_user\":4}}");
    config_destroy (&config);
    const bad_case_t cases[] = {
        {"{" PLAIN ONE_NODE ",\"gateway\":8080}", "test.json: gateway: must be an object"},
        {"{" PLAIN ONE_NODE ",\"gateway\":{\"prot\":8080}}",
         "test.json: gateway.prot: unknown key (known keys: host, port, key_file, "
         "tls_certificate, tls_key, secure_cookie, max_connections, "
         "max_connections_per_address, max_streams_per_user)"},
        {"{" PLAIN ONE_NODE ",\"gateway\":{\"port\":70000}}",
         "test.json: gateway.port: must be an integer from 0 to 65535"},
        {"{" PLAIN ONE_NODE ",\"gateway\":{\"key_file\":\"\"}}",
         "test.json: gateway.key_file: must be a non-empty string"},
        {"{" PLAIN ONE_NODE ",\"gateway\":{\"secure_cookie\":\"yes\"}}",
         "test.json: gateway.secure_cookie: must be true or false"},
        {"{" PLAIN ONE_NODE ",\"gateway\":{\"max_connections\":0}}",
         "test.json: gateway.max_connections: must be an integer from 1 to 10000"},
        {"{" PLAIN ONE_NODE ",\"gateway\":{\"max_connections_per_address\":0}}",
         "test.json: gateway.max_connections_per_address: must be an integer from 1 to 10000"},
        {"{" PLAIN ONE_NODE ",\"gateway\":{\"max_streams_per_user\":0}}",
         "test.json: gateway.max_streams_per_user: must be an integer from 1 to 10000"},
    };
    s_expect_errors (cases, sizeof cases / sizeof cases[0]);
}

static void
test_limits (void **state)
{
    (void)state;
    config_t *config = s_expect_config ("{" PLAIN ONE_NODE "}");
    assert_int_equal (config->limits.max_state_bytes, 1024u * 1024 * 1024);
    assert_int_equal (config->limits.max_topics, 10000);
    assert_int_equal (config->limits.max_topic_messages, 1000000);
    assert_int_equal (config->limits.max_topic_bytes, 256u * 1024 * 1024);
    assert_int_equal (config->limits.max_accounts, 100000);
    assert_int_equal (config->limits.max_inbox_messages, 10000);
    assert_int_equal (config->limits.max_connections, 1024);
    assert_int_equal (config->limits.min_free_disk_bytes, 64u * 1024 * 1024);
    assert_int_equal (config->limits.max_connection_reply_bytes, 16u * 1024 * 1024);
    assert_int_equal (config->limits.max_subscriber_lag_bytes, 64u * 1024 * 1024);
    config_destroy (&config);

    config = s_expect_config (
        "{" PLAIN ONE_NODE ",\"limits\":{\"max_state_bytes\":4096,\"max_topics\":2,"
        "\"max_topic_messages\":3,\"max_topic_bytes\":4,\"max_accounts\":5,"
        "\"max_inbox_messages\":6,\"max_connections\":7,\"min_free_disk_bytes\":0,"
        "\"max_connection_reply_bytes\":65536,\"max_subscriber_lag_bytes\":1048576}}");
    const config_limits_t expected = {4096, 2, 3, 4, 5, 6, 7, 0, 65536, 1048576};
    assert_memory_equal (&config->limits, &expected, sizeof expected);
    config_destroy (&config);
    config = s_expect_config ("{\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":5501,"
                              "\"internal_port\":5601}],\"limits\":{\"max_topics\":9}}");
    assert_int_equal (config->limits.max_topics, 9);
    config_destroy (&config);

    const bad_case_t cases[] = {
        {"{" PLAIN ONE_NODE ",\"limits\":[]}", "test.json: limits: must be an object"},
        {"{" PLAIN ONE_NODE ",\"limits\":{\"max_topic\":1}}",
         "test.json: limits.max_topic: unknown key (known keys: max_state_bytes, max_topics, "
         "max_topic_messages, max_topic_bytes, max_accounts, max_inbox_messages, "
         "max_connections, min_free_disk_bytes, max_connection_reply_bytes, "
         "max_subscriber_lag_bytes)"},
        {"{" PLAIN ONE_NODE ",\"limits\":{\"max_topics\":0}}",
         "test.json: limits.max_topics: must be an integer from 1 to 1099511627776"},
        {"{" PLAIN ONE_NODE ",\"limits\":{\"max_accounts\":\"10\"}}",
         "test.json: limits.max_accounts: must be an integer from 1 to 1099511627776"},
        {"{" PLAIN ONE_NODE ",\"limits\":{\"min_free_disk_bytes\":-1}}",
         "test.json: limits.min_free_disk_bytes: must be an integer from 0 to 1125899906842624"},
        {"{" PLAIN ONE_NODE ",\"limits\":{\"max_state_bytes\":1073741825}}",
         "test.json: limits.max_state_bytes: must be an integer from 4096 to 1073741824 (a "
         "snapshot is one protobuf message, under 2 GiB)"},
        {"{\"addresses\":[{\"ip\":\"127.0.0.1\",\"port\":5501,\"internal_port\":5601}],"
         "\"limits\":{\"max_connections\":0}}",
         "test.json: limits.max_connections: must be an integer from 1 to 1000000"},
    };
    s_expect_errors (cases, sizeof cases / sizeof cases[0]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_default_file),
        cmocka_unit_test (test_defaults_and_options),
        cmocka_unit_test (test_bad_top_level_and_settings),
        cmocka_unit_test (test_bad_node_entries),
        cmocka_unit_test (test_bad_endpoints),
        cmocka_unit_test (test_syntax_errors),
        cmocka_unit_test (test_rrmq_form),
        cmocka_unit_test (test_cluster_identity),
        cmocka_unit_test (test_node_identity),
        cmocka_unit_test (test_load_files),
        cmocka_unit_test (test_gateway_object),
        cmocka_unit_test (test_limits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
