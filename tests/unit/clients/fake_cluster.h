/*  fake_cluster — the fake cluster the libraftq call tests run against:
    three fake nodes, each a ROUTER on an inproc endpoint inside one actor,
    told by the test how to answer (as leader, with a NOT_LEADER hint, with
    a given code, not at all, with a canned reply, ...). The actor logs
    every request it reads, so a test checks what the client really sent:
    where, with which client id and seq, and the last body a node read.
    Header-only (static inline): each test file is a binary of its own.
*/
#ifndef FAKE_CLUSTER_H_INCLUDED
#define FAKE_CLUSTER_H_INCLUDED

#include "fake_router.h"

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
    int delay_ms;           //  how long it holds each request before answering (a
                            //  leader parking a waiting request), 0: not at all
} fake_node_t;

//  One request as the fake cluster saw it.
typedef struct {
    int node;           //  which fake node read it
    uint64_t client_id; //  as sent
    uint64_t seq;       //  as sent
    int op;             //  Raftq__Request__OpCase
} logged_t;

//  What an answering node says to request.
static inline void
fake_answer (fake_node_t *node, int index, zframe_t *identity, const Raftq__Request *request)
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
    fake_router_send (node->router, &identity, &reply);
}

//  Sends what a confused network or node might: an undecodable body, a
//  message without the delimiter, and a well-formed reply to an older seq.
static inline void
fake_junk (fake_node_t *node, zframe_t *identity, const Raftq__Request *request)
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
    zframe_t *copy = zframe_dup (identity);
    fake_router_send (node->router, &copy, &stale);
}

//  Reads one request on the node's router, logs it and answers per mode.
static inline void
fake_serve (fake_node_t *node, int index, zlist_t *log)
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
        if (node->delay_ms)
            zclock_sleep (node->delay_ms);
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
            fake_router_send (node->router, &identity, &reply);
            identity = NULL;
            break;
        }
        case FAKE_STALE_FIRST:
            fake_junk (node, identity, request);
            fake_answer (node, index, identity, request);
            identity = NULL;
            break;
        case FAKE_ANSWER:
            fake_answer (node, index, identity, request);
            identity = NULL;
            break;
        case FAKE_CANNED: {
            Raftq__Reply *reply =
                raftq__reply__unpack (NULL, zframe_size (node->canned), zframe_data (node->canned));
            assert (reply);
            reply->seq = request->seq;
            fake_router_send (node->router, &identity, reply);
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
static inline int
fake_command (zsock_t *pipe, fake_node_t *nodes, zlist_t *log)
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
    else if (streq (command, "DELAY")) {
        nodes[atoi (node_text)].delay_ms = atoi (mode);
        zstr_send (pipe, "OK");
    } else if (streq (command, "LAST")) {
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
                fake_serve (&nodes[index], index, log);
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

//  What the actor's loop hands its callbacks.
typedef struct {
    fake_node_t *nodes; //  FAKE_NODES of them
    zlist_t *log;       //  requests read, not yet asked for
} fake_cluster_t;

static inline int
fake_on_command (zsock_t *pipe, void *cluster)
{
    fake_cluster_t *self = (fake_cluster_t *)cluster;
    return fake_command (pipe, self->nodes, self->log);
}

static inline void
fake_on_readable (void *cluster, void *socket)
{
    fake_cluster_t *self = (fake_cluster_t *)cluster;
    for (int index = 0; index < FAKE_NODES; index++)
        if (socket == self->nodes[index].router)
            fake_serve (&self->nodes[index], index, self->log);
}

//  The fake cluster: args is the endpoint prefix, nodes are
//  inproc://<prefix>-0 .. -2, all answering OK until told otherwise.
static inline void
fake_cluster (zsock_t *pipe, void *args)
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

    fake_cluster_t cluster = {nodes, log};
    fake_actor_loop (pipe, poller, &cluster, fake_on_command, fake_on_readable);
    fake_strings_destroy (&log);
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

static inline void
fake_start (fake_t *fake, const char *prefix)
{
    for (int index = 0; index < FAKE_NODES; index++) {
        snprintf (fake->endpoints[index], sizeof (fake->endpoints[index]), "inproc://%s-%d", prefix,
                  index);
        fake->list[index] = fake->endpoints[index];
    }
    fake->actor = zactor_new (fake_cluster, (void *)prefix);
    assert_non_null (fake->actor);
    //  A broken fake must fail the test, not hang it.
    zsock_set_rcvtimeo (zactor_sock (fake->actor), 5000);
}

static inline void
fake_mode (fake_t *fake, int node, const char *mode, const char *argument)
{
    char node_text[16];
    snprintf (node_text, sizeof (node_text), "%d", node);
    zstr_sendx (fake->actor, "MODE", node_text, mode, argument ? argument : "", NULL);
    char *ok = zstr_recv (fake->actor);
    assert_non_null (ok);
    assert_string_equal (ok, "OK");
    zstr_free (&ok);
}

//  Makes node hold each request delay_ms before it answers.
static inline void
fake_delay (fake_t *fake, int node, int delay_ms)
{
    char node_text[16], delay_text[16];
    snprintf (node_text, sizeof (node_text), "%d", node);
    snprintf (delay_text, sizeof (delay_text), "%d", delay_ms);
    zstr_sendx (fake->actor, "DELAY", node_text, delay_text, NULL);
    char *ok = zstr_recv (fake->actor);
    assert_non_null (ok);
    assert_string_equal (ok, "OK");
    zstr_free (&ok);
}

//  Requests the fake cluster read since the last call, in order.
static inline size_t
fake_log (fake_t *fake, logged_t *log, size_t max)
{
    zstr_send (fake->actor, "LOG");
    zmsg_t *reply = fake_listing_receive (fake->actor, "LOG");
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
static inline void
fake_canned (fake_t *fake, int node, const Raftq__Reply *reply)
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
static inline Raftq__Request *
fake_last (fake_t *fake, int node)
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

static inline void
fake_stop (fake_t *fake)
{
    zactor_destroy (&fake->actor);
}

//  A client of the whole fake cluster with short timeouts.
static inline raftq_client_t *
fake_client (fake_t *fake, size_t count, int attempt_ms, int total_ms)
{
    raftq_client_t *client = raftq_client_new (fake->list, count);
    assert_non_null (client);
    raftq_client_set_attempt_timeout (client, attempt_ms);
    raftq_client_set_timeout (client, total_ms);
    return client;
}

#endif
