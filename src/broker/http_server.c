/*  http_server — metrics and health over HTTP on its own thread; see
    http_server.h.
*/
#include "broker/http_server.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <unistd.h>

#include "util/diagnostic.h"
#include "util/thread_priority.h"
#include "util/worker.h"

//  Longest wait between two looks at the pipe and libmicrohttpd's timers.
#define POLL_MAX_MS 500
//  Snapshots the pipe holds before the broker's next one is dropped.
#define PUBLISH_HWM 16
//  The thread's niceness: when scrapes and the broker or Raft want the
//  same CPU, the node's work goes first.
#define HTTP_THREAD_NICE 10

struct _http_server_t {
    zactor_t *actor; //  the HTTP thread
};

//  What the thread starts with, borrowed until it signals.
typedef struct {
    uint32_t node_id; //  marks log lines
    const char *host; //  address to listen on
    uint16_t port;    //  and port
} s_start_t;

//  The HTTP thread's state; lives on that thread only.
typedef struct {
    uint32_t node_id;             //  marks log lines
    struct MHD_Daemon *daemon;    //  libmicrohttpd, driven by this thread
    struct MHD_Response *metrics; //  the newest text, shared by every scrape; NULL before
    bool ready;                   //  the newest readiness
    char *reason;                 //  and why
    int64_t published_at;         //  zclock_mono of the newest snapshot, 0: none yet
} s_thread_t;

//  ---------------------------------------------------------------------------
//  Answers

//  Queues a response of body (copied) with status and content type.
static enum MHD_Result
s_answer (struct MHD_Connection *connection, unsigned int status, const char *content_type,
          const char *body)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer (strlen (body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result queued = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return queued;
}

//  A JSON answer made of json (taken).
static enum MHD_Result
s_answer_json (struct MHD_Connection *connection, unsigned int status, json_t *json)
{
    char *body = json ? json_dumps (json, JSON_COMPACT) : NULL;
    json_decref (json);
    if (!body)
        return MHD_NO;
    enum MHD_Result queued = s_answer (connection, status, "application/json", body);
    free (body);
    return queued;
}

//  Milliseconds since the newest snapshot, or -1 when there is none.
static int64_t
s_age_ms (const s_thread_t *self)
{
    return self->published_at ? zclock_mono () - self->published_at : -1;
}

static bool
s_fresh (const s_thread_t *self)
{
    int64_t age = s_age_ms (self);
    return age >= 0 && age <= HTTP_SERVER_STALE_MS;
}

static enum MHD_Result
s_healthz (s_thread_t *self, struct MHD_Connection *connection)
{
    int64_t age = s_age_ms (self);
    if (s_fresh (self))
        return s_answer_json (
            connection, MHD_HTTP_OK,
            json_pack ("{s:s, s:I}", "status", "ok", "snapshot_age_ms", (json_int_t)age));
    return s_answer_json (connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                          json_pack ("{s:s, s:s}", "status", "stalled", "reason",
                                     age < 0 ? "the broker has not reported yet"
                                             : "the broker loop has not reported for too long"));
}

static enum MHD_Result
s_readyz (s_thread_t *self, struct MHD_Connection *connection)
{
    if (!s_fresh (self))
        return s_answer_json (connection, MHD_HTTP_SERVICE_UNAVAILABLE,
                              json_pack ("{s:b, s:s}", "ready", 0, "reason",
                                         "no recent report from the broker loop"));
    return s_answer_json (connection, self->ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                          json_pack ("{s:b, s:s}", "ready", self->ready, "reason", self->reason));
}

//  Whether the request announces a body: none is read, whatever its size.
static bool
s_has_body (struct MHD_Connection *connection)
{
    const char *length =
        MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (length && strcmp (length, "0") != 0) ||
           MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

//  Every request is answered on its first call, from its headers alone.
static enum MHD_Result
s_on_request (void *argument, struct MHD_Connection *connection, const char *url,
              const char *method, const char *version, const char *upload_data,
              size_t *upload_data_size, void **request_state)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request_state;
    s_thread_t *self = (s_thread_t *)argument;
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_answer_json (connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                              json_pack ("{s:s}", "error", "only GET and HEAD are served"));
    if (s_has_body (connection))
        return s_answer_json (connection, MHD_HTTP_CONTENT_TOO_LARGE,
                              json_pack ("{s:s}", "error", "request bodies are refused"));
    if (strcmp (url, "/metrics") == 0) {
        if (self->metrics)
            return MHD_queue_response (connection, MHD_HTTP_OK, self->metrics);
        return s_answer (connection, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                         "no metrics yet\n");
    }
    if (strcmp (url, "/healthz") == 0)
        return s_healthz (self, connection);
    if (strcmp (url, "/readyz") == 0)
        return s_readyz (self, connection);
    return s_answer_json (connection, MHD_HTTP_NOT_FOUND,
                          json_pack ("{s:s, s:[s,s,s]}", "error", "not found", "paths", "/metrics",
                                     "/healthz", "/readyz"));
}

//  ---------------------------------------------------------------------------
//  The thread

//  SNAPSHOT [text][ready u8][reason]: becomes what scrapes get.
static void
s_take_snapshot (s_thread_t *self, zmsg_t *message)
{
    zframe_t *text = zmsg_first (message);
    zframe_t *ready = zmsg_next (message);
    zframe_t *reason = zmsg_next (message);
    if (!reason || zframe_size (ready) != 1)
        return;
    struct MHD_Response *response = MHD_create_response_from_buffer (
        zframe_size (text), zframe_data (text), MHD_RESPMEM_MUST_COPY);
    char *reason_text = zframe_strdup (reason);
    if (!response || !reason_text) {
        if (response)
            MHD_destroy_response (response);
        free (reason_text);
        return;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                             "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    //  Scrapes still sending the old one hold their own reference
    if (self->metrics)
        MHD_destroy_response (self->metrics);
    self->metrics = response;
    free (self->reason);
    self->reason = reason_text;
    self->ready = zframe_data (ready)[0] != 0;
    self->published_at = zclock_mono ();
}

//  Takes every message waiting on the pipe. Returns -1 on $TERM.
static int
s_take_pipe (s_thread_t *self, zsock_t *pipe)
{
    while (zsock_events (pipe) & ZMQ_POLLIN) {
        zmsg_t *message = zmsg_recv (pipe);
        char *command = message ? zmsg_popstr (message) : NULL;
        bool stop = !command || streq (command, "$TERM");
        if (!stop && streq (command, "SNAPSHOT"))
            s_take_snapshot (self, message);
        free (command);
        zmsg_destroy (&message);
        if (stop)
            return -1;
    }
    return 0;
}

//  Starts libmicrohttpd on host:port, driven by this thread (its epoll
//  descriptor). Returns 0, or -1 after logging why.
static int
s_start_daemon (s_thread_t *self, const s_start_t *start)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons (start->port)};
    const char *host = streq (start->host, "localhost") ? "127.0.0.1" : start->host;
    if (inet_pton (AF_INET, host, &address.sin_addr) != 1) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "http port: bad host %s", start->host);
        return -1;
    }
    self->daemon = MHD_start_daemon (
        MHD_USE_EPOLL, 0, NULL, NULL, s_on_request, self, MHD_OPTION_SOCK_ADDR, &address,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_SERVER_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_SERVER_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_SERVER_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_SERVER_MEMORY_BYTES,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)HTTP_SERVER_MAX_CONNECTIONS, MHD_OPTION_END);
    if (!self->daemon) {
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "http port: cannot listen on %s:%u",
                         start->host, start->port);
        return -1;
    }
    return 0;
}

//  Takes commands until $TERM, doing nothing with them: the end of a
//  thread that cannot serve.
static void
s_await_term (zsock_t *pipe)
{
    zmsg_t *message;
    char *command;
    while ((command = worker_next_command (pipe, &message))) {
        free (command);
        zmsg_destroy (&message);
    }
}

//  Waits for the pipe or libmicrohttpd's descriptor, no longer than its
//  next timeout, then lets it work; until $TERM.
static void
s_serve (s_thread_t *self, zsock_t *pipe)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    zmq_pollitem_t items[] = {{zsock_resolve (pipe), 0, ZMQ_POLLIN, 0},
                              {NULL, info ? info->epoll_fd : -1, ZMQ_POLLIN, 0}};
    while (true) {
        MHD_UNSIGNED_LONG_LONG timeout;
        long wait = POLL_MAX_MS;
        if (MHD_get_timeout (self->daemon, &timeout) == MHD_YES && timeout < (unsigned)wait)
            wait = (long)timeout;
        if (zmq_poll (items, info ? 2 : 1, wait) == -1 && zmq_errno () != EINTR)
            break;
        if (s_take_pipe (self, pipe))
            return;
        MHD_run (self->daemon);
    }
    //  The pipe failed: wait for the end all the same
    s_await_term (pipe);
}

static void
s_thread_run (zsock_t *pipe, void *argument)
{
    worker_begin ("raftq-http");
    //  Scrapes yield the CPU to the broker; failing that they run as before
    thread_priority_nice_self (HTTP_THREAD_NICE);
    const s_start_t *start = (const s_start_t *)argument;
    s_thread_t self = {.node_id = start->node_id};
    int rc = s_start_daemon (&self, start);
    //  start belongs to the creator, which is released by this signal
    zsock_signal (pipe, 0);
    zstr_send (pipe, rc ? "FAILED" : "READY");
    //  Without a daemon there is nothing to drive (libmicrohttpd takes no
    //  NULL daemon): only the creator's $TERM to wait for
    if (rc)
        s_await_term (pipe);
    else
        s_serve (&self, pipe);
    if (self.daemon)
        MHD_stop_daemon (self.daemon);
    if (self.metrics)
        MHD_destroy_response (self.metrics);
    free (self.reason);
}

//  ---------------------------------------------------------------------------
//  The handle

http_server_t *
http_server_new (uint32_t node_id, const char *host, uint16_t port)
{
    http_server_t *self = calloc (1, sizeof (http_server_t));
    if (!self)
        return NULL;
    s_start_t start = {node_id, host, port};
    //  A bounded pipe: czmq takes its size from this setting when it makes
    //  one (the Raft actor's pipe is unbounded on purpose; it is made apart)
    size_t pipe_hwm = zsys_pipehwm ();
    zsys_set_pipehwm (PUBLISH_HWM);
    self->actor = zactor_new (s_thread_run, &start);
    zsys_set_pipehwm (pipe_hwm);
    char *outcome = self->actor ? zstr_recv (self->actor) : NULL;
    bool started = outcome && streq (outcome, "READY");
    free (outcome);
    if (!started) {
        http_server_destroy (&self);
        return NULL;
    }
    //  The broker never waits on this pipe (http_server_publish)
    zsock_set_sndtimeo (zactor_sock (self->actor), 0);
    return self;
}

void
http_server_destroy (http_server_t **self_p)
{
    if (*self_p) {
        http_server_t *self = *self_p;
        //  $TERM must get through even behind a full pipe
        if (self->actor)
            zsock_set_sndtimeo (zactor_sock (self->actor), -1);
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

void
http_server_publish (http_server_t *self, const char *text, size_t size, bool ready,
                     const char *reason)
{
    //  The thread that far behind: this one is dropped (the next replaces
    //  it anyway); a send that failed midway would leak the frame it held
    zsock_t *pipe = zactor_sock (self->actor);
    if (!(zsock_events (pipe) & ZMQ_POLLOUT))
        return;
    zmsg_t *message = zmsg_new ();
    zmsg_addstr (message, "SNAPSHOT");
    zmsg_addmem (message, text, size);
    uint8_t flag = ready;
    zmsg_addmem (message, &flag, 1);
    zmsg_addstr (message, reason);
    if (zmsg_send (&message, pipe))
        zmsg_destroy (&message);
}
