/*  test_client — libraftq against an in-process fake cluster: three fake
    nodes, each a ROUTER on an inproc endpoint inside one actor, told by the
    test how to answer (as leader, with a NOT_LEADER hint, with a given
    code, not at all, ...). The actor logs every request it reads, so the
    tests check what the client really sent: where, with which client id
    and seq. Also the config file reader and the code names.

    Chat operations are checked against canned replies: the test packs the
    reply a node gives, calls the library, and reads back the request body
    the node received to check what the client put in it.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <ftw.h>
#include <inttypes.h>

#include "raftq.h"
#include "raftq.pb-c.h"

#define FAKE_NODES   3
#define FAKE_LOG_MAX 64

//  How a fake node answers a request.
typedef enum {
    FAKE_ANSWER,      //  with its code; with a result when the code is OK
    FAKE_REDIRECT,    //  NOT_LEADER naming another endpoint
    FAKE_SILENT,      //  never
    FAKE_DROP_ONCE,   //  not the first request, then like FAKE_ANSWER with OK
    FAKE_STALE_FIRST, //  junk and a reply with an older seq first, then properly
    FAKE_CANNED       //  with the reply the test gave, under the request's seq
} fake_mode_t;

typedef struct {
    zsock_t *router;        //  the node's client port
    fake_mode_t mode;       //  how it answers
    int code;               //  FAKE_ANSWER: the code it answers with
    char hint[64];          //  FAKE_REDIRECT: the leader endpoint it names
    uint64_t published;     //  last sequence number a publish got
    zframe_t *canned;       //  FAKE_CANNED: the packed reply it gives
    zframe_t *last_request; //  body of the last request it read, NULL before any
} fake_node_t;

//  One request as the fake cluster saw it.
typedef struct {
    int node;           //  which fake node read it
    uint64_t client_id; //  as sent
    uint64_t seq;       //  as sent
    int op;             //  Raftq__Request__OpCase
} logged_t;

//  Sends reply to the peer identity on router, in the REQ envelope.
static void
s_fake_send (zsock_t *router, zframe_t *identity, const Raftq__Reply *reply)
{
    size_t size = raftq__reply__get_packed_size (reply);
    zframe_t *body = zframe_new (NULL, size);
    raftq__reply__pack (reply, zframe_data (body));
    zmsg_t *message = zmsg_new ();
    zmsg_append (message, &body);
    zmsg_pushmem (message, NULL, 0);
    zmsg_prepend (message, &identity);
    zmsg_send (&message, router);
}

//  What an answering node says to request.
static void
s_fake_answer (fake_node_t *node, int index, zframe_t *identity, const Raftq__Request *request)
{
    Raftq__Reply reply = RAFTQ__REPLY__INIT;
    reply.code = (Raftq__Code)node->code;
    reply.seq = request->seq;
    char error[64];
    snprintf (error, sizeof (error), "fake %s", raftq_code_name ((raftq_code_t)node->code));
    if (node->code != RAFTQ_OK)
        reply.error = error;

    char *names[] = {"alpha", "beta"};
    Raftq__TopicList topics = RAFTQ__TOPIC_LIST__INIT;
    Raftq__Published published = RAFTQ__PUBLISHED__INIT;
    Raftq__Popped popped = RAFTQ__POPPED__INIT;
    Raftq__NodeStatus status = RAFTQ__NODE_STATUS__INIT;
    uint32_t members[] = {1, 2, 3};
    if (node->code == RAFTQ_OK) {
        switch (request->op_case) {
        case RAFTQ__REQUEST__OP_LIST_TOPICS:
            topics.names = names;
            topics.n_names = 2;
            reply.result_case = RAFTQ__REPLY__RESULT_TOPICS;
            reply.topics = &topics;
            break;
        case RAFTQ__REQUEST__OP_PUBLISH:
            published.topic = request->publish->topic;
            published.sequence = ++node->published;
            reply.index = 100 + published.sequence;
            reply.result_case = RAFTQ__REPLY__RESULT_PUBLISHED;
            reply.published = &published;
            break;
        case RAFTQ__REQUEST__OP_POP:
            popped.topic = request->pop->topic;
            popped.payload.data = (uint8_t *)"hello";
            popped.payload.len = 5;
            popped.sequence = 7;
            reply.result_case = RAFTQ__REPLY__RESULT_POPPED;
            reply.popped = &popped;
            break;
        case RAFTQ__REQUEST__OP_STATUS:
            status.id = (uint32_t)index + 1;
            status.role = RAFTQ__ROLE__LEADER;
            status.term = 3;
            status.leader_id = (uint32_t)index + 1;
            status.commit_index = 10;
            status.applied_index = 9;
            status.last_index = 11;
            status.members = members;
            status.n_members = 3;
            reply.result_case = RAFTQ__REPLY__RESULT_STATUS;
            reply.status = &status;
            break;
        default:
            break;
        }
    }
    s_fake_send (node->router, identity, &reply);
}

//  Sends what a confused network or node might: an undecodable body, a
//  message without the delimiter, and a well-formed reply to an older seq.
static void
s_fake_junk (fake_node_t *node, zframe_t *identity, const Raftq__Request *request)
{
    zmsg_t *garbage = zmsg_new ();
    zmsg_addmem (garbage, zframe_data (identity), zframe_size (identity));
    zmsg_addmem (garbage, NULL, 0);
    zmsg_addmem (garbage, "\xff\xff\xff", 3);
    zmsg_send (&garbage, node->router);

    zmsg_t *bare = zmsg_new ();
    zmsg_addmem (bare, zframe_data (identity), zframe_size (identity));
    zmsg_addstr (bare, "no delimiter");
    zmsg_send (&bare, node->router);

    Raftq__Published published = RAFTQ__PUBLISHED__INIT;
    published.sequence = 999;
    Raftq__Reply stale = RAFTQ__REPLY__INIT;
    stale.seq = request->seq - 1;
    stale.result_case = RAFTQ__REPLY__RESULT_PUBLISHED;
    stale.published = &published;
    s_fake_send (node->router, zframe_dup (identity), &stale);
}

//  Reads one request on the node's router, logs it and answers per mode.
static void
s_fake_serve (fake_node_t *node, int index, zlist_t *log)
{
    zmsg_t *message = zmsg_recv (node->router);
    if (!message)
        return;
    zframe_t *identity = zmsg_pop (message);
    zframe_t *delimiter = zmsg_pop (message);
    zframe_t *body = zmsg_pop (message);
    Raftq__Request *request = NULL;
    if (identity && delimiter && body && zframe_size (delimiter) == 0)
        request = raftq__request__unpack (NULL, zframe_size (body), zframe_data (body));
    if (request) {
        zlist_append (log, zsys_sprintf ("%d %" PRIu64 " %" PRIu64 " %d", index, request->client_id,
                                         request->seq, (int)request->op_case));
        zframe_destroy (&node->last_request);
        node->last_request = zframe_dup (body);
        switch (node->mode) {
        case FAKE_SILENT:
            break;
        case FAKE_DROP_ONCE:
            node->mode = FAKE_ANSWER;
            node->code = RAFTQ_OK;
            break;
        case FAKE_REDIRECT: {
            Raftq__Reply reply = RAFTQ__REPLY__INIT;
            reply.code = RAFTQ__CODE__NOT_LEADER;
            reply.seq = request->seq;
            reply.leader_id = 9;
            reply.leader_endpoint = node->hint;
            s_fake_send (node->router, identity, &reply);
            identity = NULL;
            break;
        }
        case FAKE_STALE_FIRST:
            s_fake_junk (node, identity, request);
            s_fake_answer (node, index, identity, request);
            identity = NULL;
            break;
        case FAKE_ANSWER:
            s_fake_answer (node, index, identity, request);
            identity = NULL;
            break;
        case FAKE_CANNED: {
            Raftq__Reply *reply =
                raftq__reply__unpack (NULL, zframe_size (node->canned), zframe_data (node->canned));
            assert (reply);
            reply->seq = request->seq;
            s_fake_send (node->router, identity, reply);
            identity = NULL;
            raftq__reply__free_unpacked (reply, NULL);
            break;
        }
        }
        raftq__request__free_unpacked (request, NULL);
    }
    zframe_destroy (&identity);
    zframe_destroy (&delimiter);
    zframe_destroy (&body);
    zmsg_destroy (&message);
}

//  Handles one command from the test: [command][node][mode][argument], the
//  argument a string or (mode canned) a packed reply. Returns -1 on $TERM.
static int
s_fake_command (zsock_t *pipe, fake_node_t *nodes, zlist_t *log)
{
    zmsg_t *received = zmsg_recv (pipe);
    char *command = received ? zmsg_popstr (received) : NULL;
    char *node_text = received ? zmsg_popstr (received) : NULL;
    char *mode = received ? zmsg_popstr (received) : NULL;
    zframe_t *argument_frame = received ? zmsg_pop (received) : NULL;
    char *argument = argument_frame ? zframe_strdup (argument_frame) : NULL;
    int rc = 0;
    if (!command || streq (command, "$TERM"))
        rc = -1;
    else if (streq (command, "LAST")) {
        fake_node_t *node = &nodes[atoi (node_text)];
        zframe_t *body =
            node->last_request ? zframe_dup (node->last_request) : zframe_new (NULL, 0);
        zframe_send (&body, pipe, 0);
    } else if (streq (command, "MODE")) {
        fake_node_t *node = &nodes[atoi (node_text)];
        if (streq (mode, "answer")) {
            node->mode = FAKE_ANSWER;
            node->code = atoi (argument);
        } else if (streq (mode, "redirect")) {
            node->mode = FAKE_REDIRECT;
            snprintf (node->hint, sizeof (node->hint), "%s", argument);
        } else if (streq (mode, "silent"))
            node->mode = FAKE_SILENT;
        else if (streq (mode, "drop-once"))
            node->mode = FAKE_DROP_ONCE;
        else if (streq (mode, "stale-first")) {
            node->mode = FAKE_STALE_FIRST;
            node->code = RAFTQ_OK;
        } else if (streq (mode, "canned")) {
            node->mode = FAKE_CANNED;
            zframe_destroy (&node->canned);
            node->canned = argument_frame;
            argument_frame = NULL;
        }
        zstr_send (pipe, "OK");
    } else if (streq (command, "LOG")) {
        //  Requests still queued count too: read them before answering.
        for (int index = 0; index < FAKE_NODES; index++)
            while (zsock_events (nodes[index].router) & ZMQ_POLLIN)
                s_fake_serve (&nodes[index], index, log);
        zmsg_t *reply = zmsg_new ();
        zmsg_addstr (reply, "LOG");
        char *entry;
        while ((entry = (char *)zlist_pop (log))) {
            zmsg_addstr (reply, entry);
            free (entry);
        }
        zmsg_send (&reply, pipe);
    }
    zstr_free (&command);
    zstr_free (&node_text);
    zstr_free (&mode);
    zstr_free (&argument);
    zframe_destroy (&argument_frame);
    zmsg_destroy (&received);
    return rc;
}

//  The fake cluster: args is the endpoint prefix, nodes are
//  inproc://<prefix>-0 .. -2, all answering OK until told otherwise.
static void
s_fake_cluster (zsock_t *pipe, void *args)
{
    const char *prefix = (const char *)args;
    fake_node_t nodes[FAKE_NODES];
    memset (nodes, 0, sizeof (nodes));
    zpoller_t *poller = zpoller_new (pipe, NULL);
    for (int index = 0; index < FAKE_NODES; index++) {
        nodes[index].router = zsock_new (ZMQ_ROUTER);
        zsock_set_linger (nodes[index].router, 0);
        int rc = zsock_bind (nodes[index].router, "inproc://%s-%d", prefix, index);
        assert (rc == 0);
        zpoller_add (poller, nodes[index].router);
    }
    zlist_t *log = zlist_new ();
    zsock_signal (pipe, 0);

    bool running = true;
    while (running) {
        void *which = zpoller_wait (poller, -1);
        if (!which)
            break;
        if (which == pipe)
            running = s_fake_command (pipe, nodes, log) == 0;
        for (int index = 0; index < FAKE_NODES; index++)
            if (which == nodes[index].router)
                s_fake_serve (&nodes[index], index, log);
    }
    char *entry;
    while ((entry = (char *)zlist_pop (log)))
        free (entry);
    zlist_destroy (&log);
    zpoller_destroy (&poller);
    for (int index = 0; index < FAKE_NODES; index++) {
        zsock_destroy (&nodes[index].router);
        zframe_destroy (&nodes[index].canned);
        zframe_destroy (&nodes[index].last_request);
    }
}

//  --- test helpers

typedef struct {
    zactor_t *actor;                //  the fake cluster
    char endpoints[FAKE_NODES][64]; //  its nodes' endpoints
    const char *list[FAKE_NODES];   //  the same as the array raftq_client_new takes
} fake_t;

static void
s_fake_start (fake_t *fake, const char *prefix)
{
    for (int index = 0; index < FAKE_NODES; index++) {
        snprintf (fake->endpoints[index], sizeof (fake->endpoints[index]), "inproc://%s-%d", prefix,
                  index);
        fake->list[index] = fake->endpoints[index];
    }
    fake->actor = zactor_new (s_fake_cluster, (void *)prefix);
    assert_non_null (fake->actor);
    //  A broken fake must fail the test, not hang it.
    zsock_set_rcvtimeo (zactor_sock (fake->actor), 5000);
}

static void
s_fake_mode (fake_t *fake, int node, const char *mode, const char *argument)
{
    char node_text[16];
    snprintf (node_text, sizeof (node_text), "%d", node);
    zstr_sendx (fake->actor, "MODE", node_text, mode, argument ? argument : "", NULL);
    char *ok = zstr_recv (fake->actor);
    assert_non_null (ok);
    assert_string_equal (ok, "OK");
    zstr_free (&ok);
}

//  Requests the fake cluster read since the last call, in order.
static size_t
s_fake_log (fake_t *fake, logged_t *log, size_t max)
{
    zstr_send (fake->actor, "LOG");
    zmsg_t *reply = zmsg_recv (fake->actor);
    assert_non_null (reply);
    char *header = zmsg_popstr (reply);
    assert_string_equal (header, "LOG");
    zstr_free (&header);
    size_t count = 0;
    char *entry;
    while ((entry = zmsg_popstr (reply))) {
        assert_true (count < max);
        int fields = sscanf (entry, "%d %" SCNu64 " %" SCNu64 " %d", &log[count].node,
                             &log[count].client_id, &log[count].seq, &log[count].op);
        assert_int_equal (fields, 4);
        count++;
        zstr_free (&entry);
    }
    zmsg_destroy (&reply);
    return count;
}

//  Makes node answer every request with reply (its seq set to the request's).
static void
s_fake_canned (fake_t *fake, int node, const Raftq__Reply *reply)
{
    zframe_t *packed = zframe_new (NULL, raftq__reply__get_packed_size (reply));
    raftq__reply__pack (reply, zframe_data (packed));
    zmsg_t *command = zmsg_new ();
    zmsg_addstr (command, "MODE");
    zmsg_addstrf (command, "%d", node);
    zmsg_addstr (command, "canned");
    zmsg_append (command, &packed);
    zmsg_send (&command, fake->actor);
    char *ok = zstr_recv (fake->actor);
    assert_non_null (ok);
    assert_string_equal (ok, "OK");
    zstr_free (&ok);
}

//  The last request node read, decoded (free with raftq__request__free_unpacked).
static Raftq__Request *
s_fake_last (fake_t *fake, int node)
{
    char node_text[16];
    snprintf (node_text, sizeof (node_text), "%d", node);
    zstr_sendx (fake->actor, "LAST", node_text, NULL);
    zframe_t *body = zframe_recv (fake->actor);
    assert_non_null (body);
    assert_true (zframe_size (body) > 0);
    Raftq__Request *request = raftq__request__unpack (NULL, zframe_size (body), zframe_data (body));
    zframe_destroy (&body);
    assert_non_null (request);
    return request;
}

static void
s_fake_stop (fake_t *fake)
{
    zactor_destroy (&fake->actor);
}

//  A client of the whole fake cluster with short timeouts.
static raftq_client_t *
s_client (fake_t *fake, size_t count, int attempt_ms, int total_ms)
{
    raftq_client_t *client = raftq_client_new (fake->list, count);
    assert_non_null (client);
    raftq_client_set_attempt_timeout (client, attempt_ms);
    raftq_client_set_timeout (client, total_ms);
    return client;
}

//  --- tests

static void
test_follows_not_leader_hint (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "hint");
    s_fake_mode (&fake, 0, "redirect", fake.endpoints[2]);
    s_fake_mode (&fake, 1, "silent", NULL);
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 2000, 10000);

    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    assert_string_equal (raftq_client_error (client), "");
    assert_string_equal (raftq_client_leader (client), fake.endpoints[2]);
    logged_t log[FAKE_LOG_MAX];
    size_t count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 2);
    assert_int_equal (log[0].node, 0);
    assert_int_equal (log[1].node, 2);
    for (size_t index = 0; index < count; index++) {
        assert_true (log[index].client_id == raftq_client_id (client));
        assert_true (log[index].seq == log[0].seq);
        assert_int_equal (log[index].op, RAFTQ__REQUEST__OP_CREATE_TOPIC);
    }
    //  The leader is remembered: the next call goes straight there, as the
    //  next logical request.
    uint64_t sequence = 0;
    assert_int_equal (raftq_publish (client, "jobs", "x", 1, &sequence), RAFTQ_OK);
    assert_true (sequence == 1);
    count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 1);
    assert_int_equal (log[0].node, 2);
    assert_true (log[0].seq == 2);

    raftq_client_destroy (&client);
    assert_null (client);
    s_fake_stop (&fake);
}

static void
test_hint_names_unknown_endpoint (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "newnode");
    s_fake_mode (&fake, 0, "redirect", fake.endpoints[1]);
    raftq_client_t *client = s_client (&fake, 1, 2000, 10000);

    assert_int_equal (raftq_publish (client, "jobs", "x", 1, NULL), RAFTQ_OK);
    assert_int_equal (raftq_client_endpoint_count (client), 2);
    assert_string_equal (raftq_client_endpoint (client, 1), fake.endpoints[1]);
    assert_null (raftq_client_endpoint (client, 2));
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (s_fake_log (&fake, log, FAKE_LOG_MAX), 2);
    assert_int_equal (log[1].node, 1);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_retry_reuses_client_id_and_seq (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "retry");
    s_fake_mode (&fake, 0, "drop-once", NULL);
    raftq_client_t *client = s_client (&fake, 1, 100, 10000);

    uint64_t sequence = 0;
    assert_int_equal (raftq_publish (client, "jobs", "once", 4, &sequence), RAFTQ_OK);
    assert_true (sequence == 1);
    logged_t log[FAKE_LOG_MAX];
    size_t count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 2);
    assert_true (log[0].client_id == raftq_client_id (client));
    assert_true (log[1].client_id == log[0].client_id);
    assert_true (log[1].seq == log[0].seq);

    //  A new logical request gets the next seq.
    assert_int_equal (raftq_publish (client, "jobs", "twice", 5, NULL), RAFTQ_OK);
    count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 1);
    assert_true (log[0].seq == 2);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_gives_up_at_deadline (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "deadline");
    for (int node = 0; node < FAKE_NODES; node++)
        s_fake_mode (&fake, node, "silent", NULL);
    const int total_ms = 450;
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 100, total_ms);

    void *payload = NULL;
    size_t size = 0;
    int64_t started = zclock_mono ();
    assert_int_equal (raftq_pop (client, "jobs", &payload, &size), RAFTQ_TIMEOUT);
    int64_t elapsed = zclock_mono () - started;
    assert_true (elapsed >= total_ms);
    assert_true (elapsed < total_ms + 400);
    assert_null (payload);
    assert_non_null (strstr (raftq_client_error (client), "no reply"));
    assert_null (raftq_client_leader (client));

    //  Attempts went round robin, all as the same logical request.
    logged_t log[FAKE_LOG_MAX];
    size_t count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_true (count >= 4);
    bool asked[FAKE_NODES] = {false};
    for (size_t index = 0; index < count; index++) {
        assert_int_equal (log[index].node, (int)(index % FAKE_NODES));
        assert_true (log[index].seq == log[0].seq);
        assert_true (log[index].client_id == raftq_client_id (client));
        asked[log[index].node] = true;
    }
    assert_true (asked[0] && asked[1] && asked[2]);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_moves_on_after_transient_codes (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "moveon");
    char code[16];
    snprintf (code, sizeof (code), "%d", RAFTQ_NO_LEADER);
    s_fake_mode (&fake, 0, "answer", code);
    snprintf (code, sizeof (code), "%d", RAFTQ_UNAVAILABLE);
    s_fake_mode (&fake, 1, "answer", code);
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 2000, 10000);

    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    logged_t log[FAKE_LOG_MAX];
    size_t count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 3);
    for (int index = 0; index < 3; index++) {
        assert_int_equal (log[index].node, index);
        assert_true (log[index].seq == log[0].seq);
    }
    assert_string_equal (raftq_client_leader (client), fake.endpoints[2]);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_reports_last_error_at_deadline (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "lasterror");
    char code[16];
    snprintf (code, sizeof (code), "%d", RAFTQ_NO_LEADER);
    for (int node = 0; node < FAKE_NODES; node++)
        s_fake_mode (&fake, node, "answer", code);
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 2000, 300);

    int64_t started = zclock_mono ();
    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_NO_LEADER);
    assert_true (zclock_mono () - started < 300 + 400);
    assert_non_null (strstr (raftq_client_error (client), "fake NO_LEADER"));
    //  Backoff between attempts: a few dozen, not thousands.
    logged_t log[FAKE_LOG_MAX];
    size_t count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_true (count >= 2 && count < 30);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_discards_stale_and_bad_replies (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "stale");
    raftq_client_t *client = s_client (&fake, 1, 2000, 10000);

    uint64_t sequence = 0;
    assert_int_equal (raftq_publish (client, "jobs", "a", 1, &sequence), RAFTQ_OK);
    assert_true (sequence == 1);
    s_fake_mode (&fake, 0, "stale-first", NULL);
    assert_int_equal (raftq_publish (client, "jobs", "b", 1, &sequence), RAFTQ_OK);
    //  999 is what the reply to the old seq carried.
    assert_true (sequence == 2);
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (s_fake_log (&fake, log, FAKE_LOG_MAX), 2);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_operation_results (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "results");
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 2000, 10000);

    char **names = NULL;
    assert_int_equal (raftq_list_topics (client, &names), RAFTQ_OK);
    assert_non_null (names);
    assert_string_equal (names[0], "alpha");
    assert_string_equal (names[1], "beta");
    assert_null (names[2]);
    raftq_strings_free (&names);
    assert_null (names);

    void *payload = NULL;
    size_t size = 0;
    assert_int_equal (raftq_pop (client, "jobs", &payload, &size), RAFTQ_OK);
    assert_int_equal (size, 5);
    assert_string_equal ((char *)payload, "hello");
    free (payload);

    raftq_status_t status;
    assert_int_equal (raftq_status (client, 1, &status), RAFTQ_OK);
    assert_int_equal (status.id, 2);
    assert_int_equal (status.role, RAFTQ_ROLE_LEADER);
    assert_true (status.term == 3 && status.commit_index == 10);
    assert_true (status.applied_index == 9 && status.last_index == 11);
    assert_int_equal (status.member_count, 3);
    assert_int_equal (status.members[2], 3);
    assert_int_equal (raftq_status (client, 3, &status), RAFTQ_INVALID_ARGUMENT);

    //  Refused client-side, nothing sent.
    assert_int_equal (raftq_create_topic (client, ""), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_publish (client, NULL, "x", 1, NULL), RAFTQ_INVALID_ARGUMENT);
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (s_fake_log (&fake, log, FAKE_LOG_MAX), 3);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_status_asks_one_node_only (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "status");
    s_fake_mode (&fake, 0, "silent", NULL);
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 150, 10000);

    raftq_status_t status;
    int64_t started = zclock_mono ();
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_TIMEOUT);
    assert_true (zclock_mono () - started < 150 + 300);
    logged_t log[FAKE_LOG_MAX];
    size_t count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (count, 1);
    assert_int_equal (log[0].node, 0);
    assert_int_equal (log[0].op, RAFTQ__REQUEST__OP_STATUS);
    //  The node comes back: the client is not wedged on it.
    s_fake_mode (&fake, 0, "answer", "0");
    assert_int_equal (raftq_status (client, 0, &status), RAFTQ_OK);
    assert_int_equal (status.id, 1);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_codes_map (void **state)
{
    (void)state;
    const char *names[] = {
        "OK",      "NOT_LEADER",       "NO_LEADER",       "NOT_FOUND",         "ALREADY_EXISTS",
        "EMPTY",   "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "TOO_LARGE",
        "TIMEOUT", "UNAVAILABLE",      "INTERNAL"};
    //  Same numbers as the proto, same names as DESIGN 5.1.
    for (int code = 0; code <= RAFTQ_INTERNAL; code++) {
        assert_int_equal (code, (int)(Raftq__Code)code);
        assert_string_equal (raftq_code_name ((raftq_code_t)code), names[code]);
    }
    assert_int_equal (RAFTQ_EMPTY, RAFTQ__CODE__EMPTY);
    assert_int_equal (RAFTQ_INTERNAL, RAFTQ__CODE__INTERNAL);
    assert_string_equal (raftq_code_name ((raftq_code_t)13), "UNKNOWN");
    assert_string_equal (raftq_code_name ((raftq_code_t)-1), "UNKNOWN");
    assert_string_equal (raftq_role_name (RAFTQ_ROLE_CANDIDATE), "candidate");
    assert_string_equal (raftq_role_name ((raftq_role_t)7), "unknown");

    //  Definitive codes come back to the caller as they are, with the text.
    fake_t fake;
    s_fake_start (&fake, "codes");
    raftq_client_t *client = s_client (&fake, 1, 2000, 10000);
    const int definitive[] = {
        RAFTQ_NOT_FOUND,       RAFTQ_ALREADY_EXISTS,    RAFTQ_EMPTY,     RAFTQ_INVALID_ARGUMENT,
        RAFTQ_UNAUTHENTICATED, RAFTQ_PERMISSION_DENIED, RAFTQ_TOO_LARGE, RAFTQ_INTERNAL};
    for (size_t index = 0; index < sizeof (definitive) / sizeof (definitive[0]); index++) {
        char code[16], expected[64];
        snprintf (code, sizeof (code), "%d", definitive[index]);
        s_fake_mode (&fake, 0, "answer", code);
        void *payload = NULL;
        size_t size = 0;
        assert_int_equal (raftq_pop (client, "jobs", &payload, &size), definitive[index]);
        assert_null (payload);
        snprintf (expected, sizeof (expected), "fake %s", names[definitive[index]]);
        assert_string_equal (raftq_client_error (client), expected);
    }
    //  A code from a newer server maps to INTERNAL, not to garbage.
    s_fake_mode (&fake, 0, "answer", "99");
    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_INTERNAL);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_async_pipeline (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "async");
    s_fake_mode (&fake, 0, "redirect", fake.endpoints[1]);
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 2000, 10000);
    bool ready = false;
    assert_int_equal (raftq_wait (&client, 1, 0, &ready), 0);
    raftq_reply_t reply;
    assert_int_equal (raftq_receive (client, 0, &reply), -1);

    //  The first send lands on a follower; its hint moves later sends.
    uint64_t seq = 0;
    assert_int_equal (raftq_send_publish (client, "jobs", "x", 1, &seq), 0);
    assert_int_equal (raftq_receive (client, 2000, &reply), 0);
    assert_int_equal (reply.code, RAFTQ_NOT_LEADER);
    assert_true (reply.seq == seq);
    assert_int_equal (reply.leader_id, 9);
    assert_string_equal (raftq_client_leader (client), fake.endpoints[1]);

    enum { IN_FLIGHT = 50 };
    uint64_t sent[IN_FLIGHT];
    for (int index = 0; index < IN_FLIGHT; index++)
        assert_int_equal (raftq_send_publish (client, "jobs", "payload", 7, &sent[index]), 0);
    assert_int_equal (raftq_wait (&client, 1, 2000, &ready), 1);
    assert_true (ready);
    bool seen[IN_FLIGHT] = {false};
    for (int received = 0; received < IN_FLIGHT; received++) {
        assert_int_equal (raftq_receive (client, 2000, &reply), 0);
        assert_int_equal (reply.code, RAFTQ_OK);
        int slot = (int)(reply.seq - sent[0]);
        assert_true (slot >= 0 && slot < IN_FLIGHT);
        assert_false (seen[slot]);
        seen[slot] = true;
        assert_true (reply.sequence == (uint64_t)slot + 1);
    }
    assert_int_equal (raftq_receive (client, 0, &reply), -1);
    assert_int_equal (raftq_wait (&client, 1, 0, &ready), 0);
    assert_false (ready);
    assert_int_equal (raftq_send_publish (client, NULL, "x", 1, NULL), -1);

    //  The leader goes silent: the caller moves on, and sends go round
    //  robin to the next node; the silent node's late replies are gone.
    s_fake_mode (&fake, 1, "silent", NULL);
    assert_int_equal (raftq_send_publish (client, "jobs", "x", 1, &seq), 0);
    assert_int_equal (raftq_receive (client, 100, &reply), -1);
    raftq_client_move_on (client);
    assert_null (raftq_client_leader (client));
    assert_int_equal (raftq_send_publish (client, "jobs", "x", 1, &seq), 0);
    assert_int_equal (raftq_receive (client, 2000, &reply), 0);
    assert_int_equal (reply.code, RAFTQ_OK);
    assert_true (reply.seq == seq);
    assert_string_equal (raftq_client_leader (client), fake.endpoints[2]);
    logged_t log[FAKE_LOG_MAX];
    size_t count = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (log[count - 1].node, 2);
    assert_int_equal (log[count - 2].node, 1);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

//  --- chat operations against canned replies

static void
test_chat_account_and_session (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "chat-session");
    raftq_client_t *client = s_client (&fake, 1, 2000, 10000);
    assert_null (raftq_client_token (client));

    Raftq__Reply plain = RAFTQ__REPLY__INIT;
    s_fake_canned (&fake, 0, &plain);
    assert_int_equal (raftq_create_account (client, "alice", "secret"), RAFTQ_OK);
    Raftq__Request *request = s_fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_CREATE_ACCOUNT);
    assert_string_equal (request->create_account->user, "alice");
    assert_string_equal (request->create_account->password, "secret");
    assert_string_equal (request->token, "");
    assert_true (request->client_id == raftq_client_id (client));
    raftq__request__free_unpacked (request, NULL);

    //  The cluster's answer, whatever it is, comes back as the call's code.
    Raftq__Reply taken = RAFTQ__REPLY__INIT;
    taken.code = RAFTQ__CODE__ALREADY_EXISTS;
    taken.error = "account alice exists";
    s_fake_canned (&fake, 0, &taken);
    assert_int_equal (raftq_create_account (client, "alice", "secret"), RAFTQ_ALREADY_EXISTS);
    assert_string_equal (raftq_client_error (client), "account alice exists");

    Raftq__UserExists exists = RAFTQ__USER_EXISTS__INIT;
    exists.exists = true;
    Raftq__Reply exists_reply = RAFTQ__REPLY__INIT;
    exists_reply.result_case = RAFTQ__REPLY__RESULT_USER_EXISTS;
    exists_reply.user_exists = &exists;
    s_fake_canned (&fake, 0, &exists_reply);
    bool found = false;
    assert_int_equal (raftq_check_user (client, "bob", &found), RAFTQ_OK);
    assert_true (found);
    request = s_fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_CHECK_USER);
    assert_string_equal (request->check_user->user, "bob");
    raftq__request__free_unpacked (request, NULL);
    //  OK without the promised result is a broken node, not an answer.
    s_fake_canned (&fake, 0, &plain);
    found = true;
    assert_int_equal (raftq_check_user (client, "bob", &found), RAFTQ_INTERNAL);
    assert_false (found);
    assert_non_null (strstr (raftq_client_error (client), "carries no"));

    Raftq__Session session = RAFTQ__SESSION__INIT;
    session.token = "tok-1";
    session.unread = 3;
    Raftq__Reply login_reply = RAFTQ__REPLY__INIT;
    login_reply.result_case = RAFTQ__REPLY__RESULT_SESSION;
    login_reply.session = &session;
    s_fake_canned (&fake, 0, &login_reply);
    uint64_t unread = 0;
    assert_int_equal (raftq_login (client, "alice", "secret", &unread), RAFTQ_OK);
    assert_true (unread == 3);
    assert_string_equal (raftq_client_token (client), "tok-1");
    request = s_fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_LOGIN);
    assert_string_equal (request->login->user, "alice");
    assert_string_equal (request->login->password, "secret");
    raftq__request__free_unpacked (request, NULL);

    //  The token rides on later requests, even queue ones.
    s_fake_mode (&fake, 0, "answer", "0");
    assert_int_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    request = s_fake_last (&fake, 0);
    assert_string_equal (request->token, "tok-1");
    raftq__request__free_unpacked (request, NULL);

    s_fake_canned (&fake, 0, &plain);
    assert_int_equal (raftq_logout (client), RAFTQ_OK);
    assert_null (raftq_client_token (client));
    request = s_fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_LOGOUT);
    assert_string_equal (request->token, "tok-1");
    raftq__request__free_unpacked (request, NULL);

    //  Without a session nothing is sent.
    logged_t log[FAKE_LOG_MAX];
    size_t before = s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_true (before > 0);
    assert_int_equal (raftq_logout (client), RAFTQ_UNAUTHENTICATED);
    assert_int_equal (raftq_send_message (client, "bob", "hi", NULL, NULL), RAFTQ_UNAUTHENTICATED);
    raftq_message_page_t *page = NULL;
    assert_int_equal (raftq_read_messages (client, NULL, 1, 10, &page), RAFTQ_UNAUTHENTICATED);
    assert_null (page);
    assert_int_equal (raftq_delete_account (client), RAFTQ_UNAUTHENTICATED);
    assert_non_null (strstr (raftq_client_error (client), "not logged in"));
    assert_int_equal (s_fake_log (&fake, log, FAKE_LOG_MAX), 0);

    //  A token from elsewhere; deleting the account ends the session.
    assert_int_equal (raftq_client_set_token (client, "tok-outside"), 0);
    assert_string_equal (raftq_client_token (client), "tok-outside");
    assert_int_equal (raftq_delete_account (client), RAFTQ_OK);
    request = s_fake_last (&fake, 0);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_DELETE_ACCOUNT);
    assert_string_equal (request->token, "tok-outside");
    raftq__request__free_unpacked (request, NULL);
    assert_null (raftq_client_token (client));
    assert_int_equal (raftq_client_set_token (client, "x"), 0);
    assert_int_equal (raftq_client_set_token (client, ""), 0);
    assert_null (raftq_client_token (client));

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_chat_session_failures (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "chat-fail");
    raftq_client_t *client = s_client (&fake, 1, 2000, 10000);

    Raftq__Reply refused = RAFTQ__REPLY__INIT;
    refused.code = RAFTQ__CODE__UNAUTHENTICATED;
    refused.error = "wrong user or password";
    s_fake_canned (&fake, 0, &refused);
    uint64_t unread = 7;
    assert_int_equal (raftq_login (client, "alice", "bad", &unread), RAFTQ_UNAUTHENTICATED);
    assert_true (unread == 0);
    assert_null (raftq_client_token (client));
    assert_string_equal (raftq_client_error (client), "wrong user or password");

    //  A session without a token is no session.
    Raftq__Session empty = RAFTQ__SESSION__INIT;
    Raftq__Reply tokenless = RAFTQ__REPLY__INIT;
    tokenless.result_case = RAFTQ__REPLY__RESULT_SESSION;
    tokenless.session = &empty;
    s_fake_canned (&fake, 0, &tokenless);
    assert_int_equal (raftq_login (client, "alice", "secret", NULL), RAFTQ_INTERNAL);
    assert_null (raftq_client_token (client));

    //  The cluster forgot the session (expired, other logout): the client
    //  forgets it too.
    assert_int_equal (raftq_client_set_token (client, "tok-old"), 0);
    s_fake_canned (&fake, 0, &refused);
    assert_int_equal (raftq_logout (client), RAFTQ_UNAUTHENTICATED);
    assert_null (raftq_client_token (client));
    //  ...but a refused send keeps it: the caller may retry or log out.
    assert_int_equal (raftq_client_set_token (client, "tok-2"), 0);
    assert_int_equal (raftq_send_message (client, "bob", "hi", NULL, NULL), RAFTQ_UNAUTHENTICATED);
    assert_string_equal (raftq_client_token (client), "tok-2");

    //  Bad arguments never reach the cluster.
    logged_t log[FAKE_LOG_MAX];
    s_fake_log (&fake, log, FAKE_LOG_MAX);
    assert_int_equal (raftq_create_account (client, "", "pw"), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_create_account (client, "carol", NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_login (client, NULL, "pw", NULL), RAFTQ_INVALID_ARGUMENT);
    bool exists = true;
    assert_int_equal (raftq_check_user (client, "", &exists), RAFTQ_INVALID_ARGUMENT);
    assert_false (exists);
    assert_int_equal (raftq_send_message (client, "", "hi", NULL, NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_send_message (client, "bob", NULL, NULL, NULL), RAFTQ_INVALID_ARGUMENT);
    uint64_t ids[] = {1};
    assert_int_equal (raftq_delete_messages (client, ids, 0, NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (raftq_delete_messages (client, NULL, 1, NULL), RAFTQ_INVALID_ARGUMENT);
    assert_int_equal (s_fake_log (&fake, log, FAKE_LOG_MAX), 0);

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

static void
test_chat_messages (void **state)
{
    (void)state;
    fake_t fake;
    s_fake_start (&fake, "chat-messages");
    //  The session survives a leader change: node 0 redirects to node 1.
    s_fake_mode (&fake, 0, "redirect", fake.endpoints[1]);
    raftq_client_t *client = s_client (&fake, FAKE_NODES, 2000, 10000);
    assert_int_equal (raftq_client_set_token (client, "tok-a"), 0);

    Raftq__MessageSent sent = RAFTQ__MESSAGE_SENT__INIT;
    sent.id = 42;
    sent.ts = 1700000000123;
    Raftq__Reply sent_reply = RAFTQ__REPLY__INIT;
    sent_reply.result_case = RAFTQ__REPLY__RESULT_SENT;
    sent_reply.sent = &sent;
    s_fake_canned (&fake, 1, &sent_reply);
    uint64_t id = 0;
    int64_t ts = 0;
    assert_int_equal (raftq_send_message (client, "bob", "hello bob", &id, &ts), RAFTQ_OK);
    assert_true (id == 42);
    assert_true (ts == 1700000000123);
    Raftq__Request *request = s_fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_SEND_MESSAGE);
    assert_string_equal (request->send_message->to, "bob");
    assert_string_equal (request->send_message->text, "hello bob");
    assert_string_equal (request->token, "tok-a");
    raftq__request__free_unpacked (request, NULL);
    logged_t log[FAKE_LOG_MAX];
    assert_int_equal (s_fake_log (&fake, log, FAKE_LOG_MAX), 2);
    assert_true (log[0].seq == log[1].seq);

    char *names[] = {"alice", "anna"};
    Raftq__AccountList accounts = RAFTQ__ACCOUNT_LIST__INIT;
    accounts.names = names;
    accounts.n_names = 2;
    accounts.total = 12;
    Raftq__Reply accounts_reply = RAFTQ__REPLY__INIT;
    accounts_reply.result_case = RAFTQ__REPLY__RESULT_ACCOUNTS;
    accounts_reply.accounts = &accounts;
    s_fake_canned (&fake, 1, &accounts_reply);
    char **listed = NULL;
    uint64_t total = 0;
    assert_int_equal (raftq_list_accounts (client, "a*", 2, 10, &listed, &total), RAFTQ_OK);
    assert_string_equal (listed[0], "alice");
    assert_string_equal (listed[1], "anna");
    assert_null (listed[2]);
    assert_true (total == 12);
    raftq_strings_free (&listed);
    request = s_fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_LIST_ACCOUNTS);
    assert_string_equal (request->list_accounts->pattern, "a*");
    assert_int_equal (request->list_accounts->page, 2);
    assert_int_equal (request->list_accounts->page_size, 10);
    raftq__request__free_unpacked (request, NULL);
    //  No pattern: every account.
    assert_int_equal (raftq_list_accounts (client, NULL, 1, 0, &listed, NULL), RAFTQ_OK);
    raftq_strings_free (&listed);
    request = s_fake_last (&fake, 1);
    assert_string_equal (request->list_accounts->pattern, "");
    raftq__request__free_unpacked (request, NULL);

    Raftq__ChatMessage first = RAFTQ__CHAT_MESSAGE__INIT;
    first.id = 5;
    first.from = "bob";
    first.to = "alice";
    first.text = "hi alice";
    first.ts = 1000;
    Raftq__ChatMessage second = RAFTQ__CHAT_MESSAGE__INIT;
    second.id = 9;
    second.from = "carol";
    second.to = "alice";
    second.text = "";
    second.ts = 2000;
    second.read = true;
    Raftq__ChatMessage *messages[] = {&first, &second};
    Raftq__MessagePage page = RAFTQ__MESSAGE_PAGE__INIT;
    page.messages = messages;
    page.n_messages = 2;
    page.total = 7;
    page.remaining = 5;
    Raftq__Reply page_reply = RAFTQ__REPLY__INIT;
    page_reply.result_case = RAFTQ__REPLY__RESULT_PAGE;
    page_reply.page = &page;
    s_fake_canned (&fake, 1, &page_reply);
    raftq_message_page_t *read = NULL;
    assert_int_equal (raftq_read_messages (client, NULL, 1, 2, &read), RAFTQ_OK);
    assert_non_null (read);
    assert_int_equal (read->count, 2);
    assert_true (read->total == 7 && read->remaining == 5);
    assert_true (read->messages[0].id == 5);
    assert_string_equal (read->messages[0].from, "bob");
    assert_string_equal (read->messages[0].to, "alice");
    assert_string_equal (read->messages[0].text, "hi alice");
    assert_true (read->messages[0].ts == 1000);
    assert_false (read->messages[0].read);
    assert_true (read->messages[1].id == 9);
    assert_string_equal (read->messages[1].text, "");
    assert_true (read->messages[1].read);
    raftq_message_page_destroy (&read);
    assert_null (read);
    request = s_fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_READ_MESSAGES);
    assert_string_equal (request->read_messages->partner, "");
    assert_int_equal (request->read_messages->page, 1);
    assert_int_equal (request->read_messages->page_size, 2);
    raftq__request__free_unpacked (request, NULL);

    //  A conversation page; an empty page is a page too.
    Raftq__MessagePage empty = RAFTQ__MESSAGE_PAGE__INIT;
    page_reply.page = &empty;
    s_fake_canned (&fake, 1, &page_reply);
    assert_int_equal (raftq_read_messages (client, "bob", 3, 20, &read), RAFTQ_OK);
    assert_int_equal (read->count, 0);
    assert_null (read->messages);
    raftq_message_page_destroy (&read);
    request = s_fake_last (&fake, 1);
    assert_string_equal (request->read_messages->partner, "bob");
    assert_int_equal (request->read_messages->page, 3);
    raftq__request__free_unpacked (request, NULL);

    Raftq__Deleted deleted = RAFTQ__DELETED__INIT;
    deleted.count = 2;
    Raftq__Reply deleted_reply = RAFTQ__REPLY__INIT;
    deleted_reply.result_case = RAFTQ__REPLY__RESULT_DELETED;
    deleted_reply.deleted = &deleted;
    s_fake_canned (&fake, 1, &deleted_reply);
    uint64_t ids[] = {5, 9, 11};
    uint64_t count = 0;
    assert_int_equal (raftq_delete_messages (client, ids, 3, &count), RAFTQ_OK);
    assert_true (count == 2);
    request = s_fake_last (&fake, 1);
    assert_int_equal (request->op_case, RAFTQ__REQUEST__OP_DELETE_MESSAGES);
    assert_int_equal (request->delete_messages->n_ids, 3);
    assert_true (request->delete_messages->ids[0] == 5 && request->delete_messages->ids[2] == 11);
    raftq__request__free_unpacked (request, NULL);

    Raftq__Reply denied = RAFTQ__REPLY__INIT;
    denied.code = RAFTQ__CODE__PERMISSION_DENIED;
    s_fake_canned (&fake, 1, &denied);
    assert_int_equal (raftq_delete_messages (client, ids, 1, &count), RAFTQ_PERMISSION_DENIED);
    assert_true (count == 0);
    //  Without a text from the node, the error names code and node.
    assert_non_null (strstr (raftq_client_error (client), "PERMISSION_DENIED"));

    raftq_client_destroy (&client);
    s_fake_stop (&fake);
}

//  --- config files

//  Removes one entry of a test directory tree.
static int
s_remove_entry (const char *path, const struct stat *info, int flag, struct FTW *walk)
{
    (void)info;
    (void)flag;
    (void)walk;
    return remove (path);
}

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
    char *directory = strdup ("/tmp/test_client-XXXXXX");
    if (!directory || !mkdtemp (directory))
        return -1;
    *state = directory;
    return 0;
}

static int
s_config_teardown (void **state)
{
    char *directory = (char *)*state;
    nftw (directory, s_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
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
        "\"pub_port\": 5701},\n"
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

static void
test_client_new_refuses_bad_arguments (void **state)
{
    (void)state;
    const char *endpoints[] = {"inproc://x", NULL};
    assert_null (raftq_client_new (endpoints, 0));
    assert_null (raftq_client_new (endpoints, 2));
    assert_null (raftq_client_new (NULL, 1));
    const char *empty[] = {""};
    assert_null (raftq_client_new (empty, 1));
    raftq_client_t *client = NULL;
    raftq_client_destroy (&client);

    //  Unusable endpoint: a clear failure within the deadline, no spin.
    const char *bogus[] = {"bogus"};
    client = raftq_client_new (bogus, 1);
    assert_non_null (client);
    raftq_client_set_timeout (client, 200);
    assert_int_not_equal (raftq_create_topic (client, "jobs"), RAFTQ_OK);
    assert_non_null (strstr (raftq_client_error (client), "cannot connect"));
    raftq_client_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_follows_not_leader_hint),
        cmocka_unit_test (test_hint_names_unknown_endpoint),
        cmocka_unit_test (test_retry_reuses_client_id_and_seq),
        cmocka_unit_test (test_gives_up_at_deadline),
        cmocka_unit_test (test_moves_on_after_transient_codes),
        cmocka_unit_test (test_reports_last_error_at_deadline),
        cmocka_unit_test (test_discards_stale_and_bad_replies),
        cmocka_unit_test (test_operation_results),
        cmocka_unit_test (test_status_asks_one_node_only),
        cmocka_unit_test (test_codes_map),
        cmocka_unit_test (test_async_pipeline),
        cmocka_unit_test (test_chat_account_and_session),
        cmocka_unit_test (test_chat_session_failures),
        cmocka_unit_test (test_chat_messages),
        cmocka_unit_test_setup_teardown (test_config_raftq_form, s_config_setup, s_config_teardown),
        cmocka_unit_test_setup_teardown (test_config_rrmq_form, s_config_setup, s_config_teardown),
        cmocka_unit_test_setup_teardown (test_config_errors, s_config_setup, s_config_teardown),
        cmocka_unit_test (test_client_new_refuses_bad_arguments),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
