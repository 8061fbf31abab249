/*  gateway_events — the user's private stream as Server-Sent Events; see
    gateway_events.h.

    The response is produced by a content reader that MHD calls on the
    connection's own thread (one thread per connection): it waits on the
    subscription for up to S_WAIT_MS, so an idle stream costs no CPU, and
    writes an SSE comment when nothing came, which also lets MHD notice a
    browser that went away.
*/
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "gateway_events.h"

#define S_WAIT_MS    1000 //  longest wait for an event before a keep-alive comment
#define S_BLOCK_SIZE 8192 //  what MHD asks of the reader at most
#define S_RETRY_MS   1000 //  the EventSource's reconnect delay

struct _gateway_streams_t {
    pthread_mutex_t lock;  //  guards open
    zhashx_t *open;        //  user name -> unsigned (malloc'd), for users with a stream open
    unsigned max_per_user; //  streams one user may hold
};

static void
s_count_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

gateway_streams_t *
gateway_streams_new (unsigned max_per_user)
{
    gateway_streams_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_per_user = max_per_user;
    self->open = zhashx_new ();
    if (!self->open || pthread_mutex_init (&self->lock, NULL)) {
        zhashx_destroy (&self->open);
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->open, s_count_destroy);
    return self;
}

void
gateway_streams_destroy (gateway_streams_t **self_p)
{
    gateway_streams_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->open);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

//  Takes one of user's slots: 0, or -1 with error set when the user holds
//  max_per_user already (or out of memory).
static int
s_take_slot (gateway_streams_t *self, const char *user, char *error, size_t error_size)
{
    pthread_mutex_lock (&self->lock);
    unsigned *open = zhashx_lookup (self->open, user);
    if (!open) {
        open = calloc (1, sizeof *open);
        if (open && zhashx_insert (self->open, user, open)) {
            free (open);
            open = NULL;
        }
    }
    int status = -1;
    if (!open)
        snprintf (error, error_size, "the gateway is out of memory");
    else if (*open >= self->max_per_user)
        snprintf (error, error_size,
                  "too many event streams for %s (%u): close the page in another tab", user,
                  self->max_per_user);
    else {
        (*open)++;
        status = 0;
    }
    pthread_mutex_unlock (&self->lock);
    return status;
}

//  Gives back a slot of user's (a stream ended).
static void
s_give_slot (gateway_streams_t *self, const char *user)
{
    pthread_mutex_lock (&self->lock);
    unsigned *open = zhashx_lookup (self->open, user);
    if (open && --*open == 0)
        zhashx_delete (self->open, user);
    pthread_mutex_unlock (&self->lock);
}

//  One browser's stream.
typedef struct {
    gateway_streams_t *streams;         //  where it holds a slot, NULL: none taken
    char user[GATEWAY_USER_MAX];        //  whose slot
    raftq_subscription_t *subscription; //  user/<name>, under the session's token
    char *pending;                      //  SSE text not yet handed to MHD
    size_t pending_size;                //  its length
    size_t pending_sent;                //  how much of it went
    bool ended;                         //  the session was revoked: end after pending
    bool error_said;                    //  the current refusal was told already
} s_stream_t;

//  The event as the page reads it: the fields of its kind.
static json_t *
s_event_json (const raftq_event_t *event)
{
    json_t *object = json_pack ("{s:I, s:s}", "seq", (json_int_t)event->seq, "kind", event->kind);
    if (object && event->id) {
        json_object_set_new (object, "id", json_integer ((json_int_t)event->id));
        json_object_set_new (object, "from", json_string (event->from));
        json_object_set_new (object, "to", json_string (event->to));
        json_object_set_new (object, "text", json_string (event->text));
        json_object_set_new (object, "ts", json_integer ((json_int_t)event->ts));
    }
    if (object && event->id_count) {
        json_t *ids = json_array ();
        for (size_t index = 0; ids && index < event->id_count; index++)
            json_array_append_new (ids, json_integer ((json_int_t)event->ids[index]));
        json_object_set_new (object, "ids", ids);
    }
    return object;
}

//  Makes pending one SSE message: "id" (0: none), "event" name and the
//  JSON data (taken; jansson escapes every line break, so it is one line).
static int
s_say (s_stream_t *self, uint64_t id, const char *name, json_t *data)
{
    char *text = data ? json_dumps (data, JSON_COMPACT) : NULL;
    json_decref (data);
    if (!text)
        return -1;
    char id_line[40] = "";
    if (id)
        snprintf (id_line, sizeof id_line, "id: %" PRIu64 "\n", id);
    free (self->pending);
    int size = asprintf (&self->pending, "%sevent: %s\ndata: %s\n\n", id_line, name, text);
    free (text);
    if (size < 0) {
        self->pending = NULL;
        return -1;
    }
    self->pending_size = (size_t)size;
    self->pending_sent = 0;
    return 0;
}

//  Waits for the next thing to tell the browser and makes it pending.
static int
s_next (s_stream_t *self)
{
    raftq_event_t event;
    raftq_gap_t gap;
    raftq_subscription_result_t result =
        raftq_subscription_next (self->subscription, S_WAIT_MS, &event, &gap);
    if (result != RAFTQ_SUBSCRIPTION_ERROR)
        self->error_said = false;
    if (result == RAFTQ_SUBSCRIPTION_EVENT)
        return s_say (self, event.seq, "chat", s_event_json (&event));
    if (result == RAFTQ_SUBSCRIPTION_GAP)
        //  Lost for good: the page reloads what it shows from the history
        return s_say (
            self, gap.last, "gap",
            json_pack ("{s:I, s:I}", "first", (json_int_t)gap.first, "last", (json_int_t)gap.last));
    if (result == RAFTQ_SUBSCRIPTION_REVOKED) {
        self->ended = true;
        return s_say (self, 0, "revoked",
                      json_pack ("{s:s}", "error", raftq_subscription_error (self->subscription)));
    }
    if (result == RAFTQ_SUBSCRIPTION_ERROR && !self->error_said) {
        self->error_said = true;
        return s_say (self, 0, "problem",
                      json_pack ("{s:s}", "error", raftq_subscription_error (self->subscription)));
    }
    free (self->pending);
    self->pending = strdup (":\n\n");
    self->pending_size = self->pending ? 3 : 0;
    self->pending_sent = 0;
    return self->pending ? 0 : -1;
}

static ssize_t
s_read (void *cls, uint64_t position, char *buffer, size_t max)
{
    (void)position;
    s_stream_t *self = cls;
    if (self->pending_sent == self->pending_size) {
        if (self->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (s_next (self))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t size = self->pending_size - self->pending_sent;
    if (size > max)
        size = max;
    memcpy (buffer, self->pending + self->pending_sent, size);
    self->pending_sent += size;
    return (ssize_t)size;
}

static void
s_free (void *cls)
{
    s_stream_t *self = cls;
    if (self->streams)
        s_give_slot (self->streams, self->user);
    raftq_subscription_destroy (&self->subscription);
    free (self->pending);
    free (self);
}

//  The seq to start from: after the browser's Last-Event-ID when it
//  reconnects, else the query's from (default 1: the whole retained
//  stream, which is the page's conversation list).
static uint64_t
s_from_seq (gateway_call_t *call)
{
    const char *last =
        MHD_lookup_connection_value (call->connection, MHD_HEADER_KIND, "Last-Event-ID");
    const char *from = gateway_query (call, "from");
    uint64_t seq;
    if (last && gateway_parse_u64 (last, &seq))
        return seq + 1;
    if (from && gateway_parse_u64 (from, &seq) && seq > 0)
        return seq;
    return 1;
}

enum MHD_Result
gateway_events_stream (gateway_call_t *call)
{
    char stream[GATEWAY_USER_MAX + 8];
    snprintf (stream, sizeof stream, "user/%s", call->session.user);
    char error[512] = "";
    if (s_take_slot (call->streams, call->session.user, error, sizeof error))
        return gateway_reply_error (call, MHD_HTTP_TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED", "%s",
                                    error);
    s_stream_t *self = calloc (1, sizeof *self);
    if (!self)
        s_give_slot (call->streams, call->session.user);
    else {
        //  From here on s_free gives the slot back
        self->streams = call->streams;
        snprintf (self->user, sizeof self->user, "%s", call->session.user);
        self->subscription = raftq_subscription_load (call->options->config_path, NULL, stream,
                                                      s_from_seq (call), error, sizeof error);
    }
    if (!self || !self->subscription ||
        raftq_subscription_set_token (self->subscription, call->session.token) ||
        s_say (self, 0, "hello",
               json_pack ("{s:s, s:I}", "user", call->session.user, "now",
                          (json_int_t)zclock_time ()))) {
        if (self)
            s_free (self);
        return gateway_reply_error (call, MHD_HTTP_SERVICE_UNAVAILABLE, "UNAVAILABLE",
                                    "cannot follow the stream: %s",
                                    *error ? error : "out of memory");
    }
    //  The reconnect delay, sent before the first event.
    char *hello = NULL;
    if (asprintf (&hello, "retry: %d\n%s", S_RETRY_MS, self->pending) < 0) {
        s_free (self);
        return MHD_NO;
    }
    free (self->pending);
    self->pending = hello;
    self->pending_size = strlen (hello);
    struct MHD_Response *response =
        MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, S_BLOCK_SIZE, s_read, self, s_free);
    if (!response) {
        s_free (self);
        return MHD_NO;
    }
    gateway_add_headers (response, true);
    MHD_add_response_header (response, "Content-Type", "text/event-stream; charset=utf-8");
    enum MHD_Result result = MHD_queue_response (call->connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return result;
}
