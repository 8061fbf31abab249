/*  test_client_curve — libraftq over CurveZMQ: a client and a subscription
    reach a fake node whose client ROUTER and PUB are CURVE servers, a
    wrong server key meets silence, and every bad key, certificate or
    config is refused at creation with errno and one line saying which.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <errno.h>
#include <sys/stat.h>

#include "fake_router.h"
#include "raftq.h"
#include "raftq.pb-c.h"

#include "temp_dir.h"

#define STREAM  "topic/curve"
#define WAIT_MS 300 //  a wrong key shows as silence: keep the wait short

//  What a test needs: a scratch directory and a node key pair saved in it.
typedef struct {
    char directory[256];   //  temp dir, removed at teardown
    char certificate[512]; //  the node's public certificate file
    zcert_t *node;         //  the node's key pair
} fixture_t;

//  The fake node: a CURVE client ROUTER that answers every request with an
//  OK status of a leader, and a CURVE PUB that sends event seq 1 of STREAM
//  every few ms. Sends its two ports on the pipe.
static void
s_node (zsock_t *pipe, void *args)
{
    zcert_t *keys = (zcert_t *)args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_t *publisher = zsock_new (ZMQ_PUB);
    zsock_t *sockets[] = {router, publisher};
    for (size_t index = 0; index < 2; index++) {
        zcert_apply (keys, sockets[index]);
        zsock_set_curve_server (sockets[index], 1);
    }
    int client_port = zsock_bind (router, "tcp://127.0.0.1:*");
    int pub_port = zsock_bind (publisher, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "ii", client_port, pub_port);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, 20);
        if (which == pipe || zpoller_terminated (poller))
            break;
        if (!which) {
            Raftq__Event event = RAFTQ__EVENT__INIT;
            event.stream = STREAM;
            event.seq = 1;
            event.kind = "publish";
            uint8_t body[64];
            size_t size = raftq__event__pack (&event, body);
            zsock_send (publisher, "sbs", STREAM, body, size, "{}");
            continue;
        }
        zmsg_t *message = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (message);
        zframe_t *body = zmsg_last (message);
        Raftq__Request *request =
            raftq__request__unpack (NULL, zframe_size (body), zframe_data (body));
        Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
        status.id = 7;
        status.role = RAFTQ__ROLE__LEADER;
        status.leader_id = 7;
        Raftq__Reply reply = RAFTQ__REPLY__INIT;
        reply.seq = request ? request->seq : 0;
        reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
        reply.status = &status;
        fake_router_send (router, &identity, &reply);
        raftq__request__free_unpacked (request, NULL);
        zframe_destroy (&identity);
        zmsg_destroy (&message);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    zsock_destroy (&publisher);
}

static int
s_setup (void **state)
{
    fixture_t *fixture = (fixture_t *)calloc (1, sizeof (fixture_t));
    if (!fixture || temp_dir_make (fixture->directory, sizeof (fixture->directory), "curve") == -1)
        return -1;
    fixture->node = zcert_new ();
    snprintf (fixture->certificate, sizeof (fixture->certificate), "%s/node.cert",
              fixture->directory);
    if (zcert_save (fixture->node, fixture->certificate) == -1)
        return -1;
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    zcert_destroy (&fixture->node);
    temp_dir_remove (fixture->directory);
    free (fixture);
    return 0;
}

//  <directory>/name into path.
static void
s_path (const fixture_t *fixture, const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", fixture->directory, name);
}

//  Starts the fake node; its endpoints go into client and pub.
static zactor_t *
s_node_start (fixture_t *fixture, char *client, char *pub, size_t size)
{
    zactor_t *node = zactor_new (s_node, fixture->node);
    int client_port, pub_port;
    assert_int_equal (zsock_recv (node, "ii", &client_port, &pub_port), 0);
    snprintf (client, size, "tcp://127.0.0.1:%d", client_port);
    snprintf (pub, size, "tcp://127.0.0.1:%d", pub_port);
    return node;
}

static void
test_client_and_subscription_over_curve (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char client_endpoint[64], pub_endpoint[64], error[512];
    zactor_t *node = s_node_start (fixture, client_endpoint, pub_endpoint, 64);
    const char *endpoints[] = {client_endpoint};
    const char *pubs[] = {pub_endpoint};
    const char *keys[] = {zcert_public_txt (fixture->node)};

    //  A fresh client key pair: the fake accepts any key, as client_curve true.
    raftq_client_t *client =
        raftq_client_new_curve (endpoints, keys, 1, NULL, error, sizeof (error));
    assert_non_null (client);
    raftq_client_set_attempt_timeout (client, 2000);
    raftq_status_t status;
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_OK);
    assert_int_equal (status.id, 7);
    raftq_client_destroy (&client);

    //  A client certificate from a file works the same.
    char certificate[512];
    s_path (fixture, "client.cert", certificate, sizeof (certificate));
    zcert_t *pair = zcert_new ();
    assert_int_equal (zcert_save (pair, certificate), 0);
    zcert_destroy (&pair);
    raftq_subscription_t *subscription = raftq_subscription_new_curve (
        endpoints, pubs, keys, 1, certificate, STREAM, 0, error, sizeof (error));
    assert_non_null (subscription);
    raftq_event_t event;
    raftq_gap_t gap;
    assert_int_equal (raftq_subscription_next (subscription, 5000, &event, &gap),
                      RAFTQ_SUBSCRIPTION_EVENT);
    assert_int_equal (event.seq, 1);
    raftq_subscription_destroy (&subscription);

    //  The wrong server key: the handshake fails, which looks like silence.
    zcert_t *stranger = zcert_new ();
    const char *wrong[] = {zcert_public_txt (stranger)};
    client = raftq_client_new_curve (endpoints, wrong, 1, NULL, error, sizeof (error));
    assert_non_null (client);
    raftq_client_set_attempt_timeout (client, WAIT_MS);
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_TIMEOUT);
    //  ... until the right key is set.
    assert_int_equal (raftq_client_set_server_key (client, 0, keys[0]), 0);
    raftq_client_set_attempt_timeout (client, 2000);
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_OK);
    raftq_client_destroy (&client);

    //  A plaintext client gets nothing from a CURVE node.
    client = raftq_client_new (endpoints, 1);
    raftq_client_set_attempt_timeout (client, WAIT_MS);
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_TIMEOUT);
    raftq_client_destroy (&client);
    zcert_destroy (&stranger);
    zactor_destroy (&node);
}

//  Asserts that creating a CURVE client with keys and certificate fails
//  with errno code and an error containing expected.
static void
s_assert_refused (const char *key, const char *certificate, int code, const char *expected)
{
    const char *endpoints[] = {"tcp://127.0.0.1:9"};
    const char *keys[] = {key};
    char error[512] = "";
    errno = 0;
    raftq_client_t *client =
        raftq_client_new_curve (endpoints, keys, 1, certificate, error, sizeof (error));
    if (client || errno != code || !strstr (error, expected))
        print_error ("key %s, certificate %s: expected errno %d and '%s', got %d and '%s'\n", key,
                     certificate, code, expected, errno, error);
    assert_null (client);
    assert_int_equal (errno, code);
    assert_non_null (strstr (error, expected));
}

static void
test_bad_keys_refused (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    const char *good = zcert_public_txt (fixture->node);
    s_assert_refused ("short", NULL, EINVAL, "tcp://127.0.0.1:9: \"short\" is not a CURVE");
    //  40 characters, one of them outside Z85
    s_assert_refused ("~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", NULL, EINVAL, "not a CURVE");
    s_assert_refused (NULL, NULL, EINVAL, "not a CURVE public key");

    char path[512];
    s_path (fixture, "missing.cert", path, sizeof (path));
    s_assert_refused (good, path, ENOENT, "missing.cert: cannot read the client certificate");

    //  A public certificate without its secret part
    s_path (fixture, "public-only.cert", path, sizeof (path));
    zcert_t *pair = zcert_new ();
    assert_int_equal (zcert_save_public (pair, path), 0);
    s_assert_refused (good, path, ENOENT, "public-only.cert_secret: cannot read the client's");
    //  ... or with another pair's secret part
    char secret_path[600];
    snprintf (secret_path, sizeof (secret_path), "%s_secret", path);
    zcert_t *other = zcert_new ();
    assert_int_equal (zcert_save_secret (other, secret_path), 0);
    s_assert_refused (good, path, EINVAL, "no secret key matching the public key");
    //  ... or not a certificate at all
    FILE *file = fopen (path, "w");
    fputs ("hello\n", file);
    fclose (file);
    remove (secret_path);
    file = fopen (secret_path, "w");
    fclose (file);
    s_assert_refused (good, path, EINVAL, "not a CURVE certificate");
    zcert_destroy (&pair);
    zcert_destroy (&other);

    //  A key set later is checked too.
    const char *endpoints[] = {"tcp://127.0.0.1:9"};
    raftq_client_t *client = raftq_client_new (endpoints, 1);
    errno = 0;
    assert_int_equal (raftq_client_set_server_key (client, 0, "nope"), -1);
    assert_int_equal (errno, EINVAL);
    assert_non_null (strstr (raftq_client_error (client), "not a CURVE public key"));
    assert_int_equal (raftq_client_set_server_key (client, 1, good), -1);
    raftq_client_destroy (&client);
}

//  Writes text to <directory>/name; its path goes into path.
static void
s_write (const fixture_t *fixture, const char *name, const char *text, char *path, size_t size)
{
    s_path (fixture, name, path, size);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

static void
test_config_keys (void **state)
{
    fixture_t *fixture = (fixture_t *)*state;
    char path[512], error[512] = "", text[1024];
    const char *key = zcert_public_txt (fixture->node);
    //  A relative certificate name is taken from the config's directory.
    snprintf (text, sizeof (text),
              "{\"client_curve\": true, \"client_certificate\": \"client.cert\", \"nodes\": [\n"
              " {\"id\": 1, \"host\": \"127.0.0.1\", \"client_port\": 5501, \"certificate\": "
              "\"node.cert\"},\n"
              " {\"id\": 2, \"host\": \"127.0.0.1\", \"client_port\": 5502, \"public_key\": "
              "\"%s\"}]}\n",
              key);
    s_write (fixture, "config.json", text, path, sizeof (path));
    char **keys = raftq_config_server_keys (path, error, sizeof (error));
    assert_non_null (keys);
    assert_string_equal (keys[0], key);
    assert_string_equal (keys[1], key);
    assert_null (keys[2]);
    raftq_strings_free (&keys);

    char *certificate = NULL;
    unsetenv ("RAFTQ_CLIENT_CERTIFICATE");
    assert_int_equal (raftq_config_client_curve (path, &certificate, error, sizeof (error)), 1);
    char expected[600];
    s_path (fixture, "client.cert", expected, sizeof (expected));
    assert_string_equal (certificate, expected);
    free (certificate);
    setenv ("RAFTQ_CLIENT_CERTIFICATE", "/elsewhere/mine.cert", 1);
    assert_int_equal (raftq_config_client_curve (path, &certificate, error, sizeof (error)), 1);
    assert_string_equal (certificate, "/elsewhere/mine.cert");
    free (certificate);
    unsetenv ("RAFTQ_CLIENT_CERTIFICATE");

    //  The client certificate the config names does not exist yet.
    errno = 0;
    assert_null (raftq_client_load (path, NULL, error, sizeof (error)));
    assert_int_equal (errno, ENOENT);
    assert_non_null (strstr (error, "client.cert: cannot read the client certificate"));
    zcert_t *pair = zcert_new ();
    assert_int_equal (zcert_save (pair, expected), 0);
    zcert_destroy (&pair);
    raftq_client_t *client = raftq_client_load (path, NULL, error, sizeof (error));
    assert_non_null (client);
    assert_int_equal (raftq_client_endpoint_count (client), 2);
    raftq_client_destroy (&client);
    client = raftq_client_new_from_config (path);
    assert_non_null (client);
    raftq_client_destroy (&client);

    //  client_curve off: plaintext, and nodes need no key.
    s_write (fixture, "plain.json",
             "{\"nodes\": [{\"id\": 1, \"host\": \"127.0.0.1\", \"client_port\": 5501}]}", path,
             sizeof (path));
    assert_int_equal (raftq_config_client_curve (path, &certificate, error, sizeof (error)), 0);
    assert_null (certificate);
    client = raftq_client_load (path, NULL, error, sizeof (error));
    assert_non_null (client);
    raftq_client_destroy (&client);
}

//  Asserts that text as a config is refused by raftq_client_load with an
//  error containing expected.
static void
s_assert_config_refused (const fixture_t *fixture, const char *text, const char *expected)
{
    char path[512], error[512] = "";
    s_write (fixture, "bad.json", text, path, sizeof (path));
    raftq_client_t *client = raftq_client_load (path, NULL, error, sizeof (error));
    if (client || !strstr (error, expected))
        print_error ("config %s: expected '%s', got '%s'\n", text, expected, error);
    assert_null (client);
    assert_non_null (strstr (error, expected));
    assert_null (raftq_subscription_load (path, NULL, STREAM, 0, error, sizeof (error)));
}

static void
test_config_key_errors (void **state)
{
    const fixture_t *fixture = (const fixture_t *)*state;
    s_assert_config_refused (
        fixture,
        "{\"client_curve\": true, \"nodes\": [{\"id\": 1, \"host\": \"h\", \"client_port\": 1}]}",
        "nodes[0]: client_curve is on but the node names no certificate or public_key");
    s_assert_config_refused (fixture,
                             "{\"client_curve\": true, \"nodes\": [{\"id\": 1, \"host\": \"h\", "
                             "\"client_port\": 1, \"certificate\": \"absent.cert\"}]}",
                             "nodes[0].certificate: ");
    s_assert_config_refused (fixture,
                             "{\"client_curve\": true, \"nodes\": [{\"id\": 1, \"host\": \"h\", "
                             "\"client_port\": 1, \"public_key\": \"short\"}]}",
                             "nodes[0].public_key: \"short\" is not a CURVE public key");
    s_assert_config_refused (fixture,
                             "{\"client_curve\": true, \"nodes\": [{\"id\": 1, \"host\": \"h\", "
                             "\"client_port\": 1, \"public_key\": \"x\", \"certificate\": \"y\"}]}",
                             "give certificate or public_key, not both");
    s_assert_config_refused (fixture,
                             "{\"client_curve\": 1, \"nodes\": [{\"id\": 1, \"host\": \"h\", "
                             "\"client_port\": 1}]}",
                             "client_curve: must be true, false or an array");
    s_assert_config_refused (fixture,
                             "{\"client_certificate\": 5, \"nodes\": [{\"id\": 1, \"host\": "
                             "\"h\", \"client_port\": 1}]}",
                             "client_certificate: must be a non-empty string");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_client_and_subscription_over_curve, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_keys_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_config_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_config_key_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
