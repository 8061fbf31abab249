/*  bench_json — raftq-bench's JSON-dialect connection; see bench_json.h.
    The constant part of each request is built once, so that a send costs
    what a JSON client's would: the text with its seq, and two frames.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <jansson.h>

#include "bench_json.h"

//  Room for the digits of a seq and the closing brace.
#define S_SEQ_ROOM 24

struct _bench_json_t {
    char *endpoint;       //  the node's client endpoint
    zsock_t *socket;      //  DEALER to it
    char *publish;        //  a publish's text up to the value of "seq"
    size_t publish_size;  //  its length
    char *list;           //  a ListTopics's text up to the value of "seq"
    size_t list_size;     //  its length
    char *buffer;         //  room for the longer request with its seq
    uint64_t next_seq;    //  seq of the next request sent (from 1)
    uint64_t next_answer; //  seq the next reply answers
};

//  The text of a JSON string holding text (quotes included), malloc'd.
static char *
s_quoted (const char *text)
{
    json_t *string = json_string (text);
    char *quoted = string ? json_dumps (string, JSON_ENCODE_ANY) : NULL;
    json_decref (string);
    return quoted;
}

bench_json_t *
bench_json_new (const char *endpoint, const char *topic, const char *payload, size_t size,
                uint64_t client_id)
{
    bench_json_t *self = (bench_json_t *)calloc (1, sizeof (bench_json_t));
    char *quoted_topic = s_quoted (topic);
    if (!self || !quoted_topic) {
        free (self);
        free (quoted_topic);
        return NULL;
    }
    self->endpoint = strdup (endpoint);
    self->socket = zsock_new_dealer (endpoint);
    //  client_id below 2^63: JSON numbers are signed 64-bit on the broker.
    client_id &= INT64_MAX;
    int publish_size =
        asprintf (&self->publish,
                  "{\"type\":\"message\",\"method\":\"PUT\",\"topic\":%s,\"message\":\"%.*s\","
                  "\"client_id\":%" PRIu64 ",\"seq\":",
                  quoted_topic, (int)size, payload, client_id);
    int list_size = asprintf (
        &self->list,
        "{\"type\":\"topic\",\"method\":\"GET\",\"client_id\":%" PRIu64 ",\"seq\":", client_id);
    free (quoted_topic);
    if (publish_size == -1)
        self->publish = NULL;
    if (list_size == -1)
        self->list = NULL;
    if (self->publish && self->list) {
        self->publish_size = (size_t)publish_size;
        self->list_size = (size_t)list_size;
        size_t longest =
            self->publish_size > self->list_size ? self->publish_size : self->list_size;
        self->buffer = (char *)malloc (longest + S_SEQ_ROOM);
    }
    self->next_seq = self->next_answer = 1;
    if (!self->endpoint || !self->socket || !self->buffer)
        bench_json_destroy (&self);
    return self;
}

void
bench_json_destroy (bench_json_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bench_json_t *self = *self_p;
    zsock_destroy (&self->socket);
    free (self->endpoint);
    free (self->publish);
    free (self->list);
    free (self->buffer);
    free (self);
    *self_p = NULL;
}

//  Sends prefix completed by the next seq. Returns 0, or -1 when the
//  request cannot be queued.
static int
s_send (bench_json_t *self, const char *prefix, size_t prefix_size, uint64_t *seq_p)
{
    if (!self->socket)
        return -1; //  a reconnection failed: nothing goes out
    memcpy (self->buffer, prefix, prefix_size);
    int tail = snprintf (self->buffer + prefix_size, S_SEQ_ROOM, "%" PRIu64 "}", self->next_seq);
    void *handle = zsock_resolve (self->socket);
    //  A multipart message is queued whole or not at all.
    if (zmq_send (handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
        zmq_send (handle, self->buffer, prefix_size + (size_t)tail, ZMQ_DONTWAIT) == -1)
        return -1;
    *seq_p = self->next_seq++;
    return 0;
}

int
bench_json_send_publish (bench_json_t *self, uint64_t *seq_p)
{
    return s_send (self, self->publish, self->publish_size, seq_p);
}

int
bench_json_send_list_topics (bench_json_t *self, uint64_t *seq_p)
{
    return s_send (self, self->list, self->list_size, seq_p);
}

//  The code of a parsed reply body (see bench_json.h).
static raftq_code_t
s_code (json_t *body)
{
    if (!json_is_object (body))
        return RAFTQ_INTERNAL;
    if (json_is_true (json_object_get (body, "success")))
        return RAFTQ_OK;
    const char *name = json_string_value (json_object_get (body, "code"));
    if (!name)
        return RAFTQ_UNAVAILABLE;
    for (int code = RAFTQ_OK; code <= RAFTQ_RESOURCE_EXHAUSTED; code++)
        if (streq (name, raftq_code_name ((raftq_code_t)code)))
            return (raftq_code_t)code;
    return RAFTQ_INTERNAL;
}

int
bench_json_receive (bench_json_t *self, raftq_reply_t *reply)
{
    zmsg_t *message = self->socket ? zmsg_recv_nowait (self->socket) : NULL;
    if (!message)
        return -1;
    memset (reply, 0, sizeof (*reply));
    //  [empty delimiter][body]; anything else is no reply of the dialect.
    zframe_t *delimiter = zmsg_first (message);
    zframe_t *body = zmsg_next (message);
    reply->code = RAFTQ_INTERNAL;
    if (zmsg_size (message) == 2 && zframe_size (delimiter) == 0) {
        json_t *parsed = json_loadb ((const char *)zframe_data (body), zframe_size (body), 0, NULL);
        reply->code = s_code (parsed);
        json_decref (parsed);
    }
    zmsg_destroy (&message);
    reply->seq = self->next_answer++;
    return 0;
}

void
bench_json_reconnect (bench_json_t *self)
{
    zsock_destroy (&self->socket);
    self->socket = zsock_new_dealer (self->endpoint);
    self->next_answer = self->next_seq;
}

int
bench_json_wait (bench_json_t **connections, size_t count, int timeout_ms, bool *ready)
{
    zmq_pollitem_t *items = (zmq_pollitem_t *)calloc (count ? count : 1, sizeof (zmq_pollitem_t));
    if (!items)
        return -1;
    //  A connection without a socket (a failed reconnection) is polled for
    //  nothing.
    for (size_t index = 0; index < count; index++) {
        zsock_t *socket = connections[index]->socket;
        zmq_pollitem_t item = {socket ? zsock_resolve (socket) : NULL, -1, socket ? ZMQ_POLLIN : 0,
                               0};
        items[index] = item;
    }
    int rc = zmq_poll (items, (int)count, timeout_ms);
    for (size_t index = 0; index < count; index++)
        ready[index] = rc > 0 && (items[index].revents & ZMQ_POLLIN);
    free (items);
    return rc;
}
