/*  gateway_http — the HTTP server: connections, request bodies, the checks
    before a handler runs, the routes and the embedded pages; see
    gateway_http.h.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gateway_assets.h"
#include "gateway_chat.h"
#include "gateway_cluster.h"
#include "gateway_events.h"
#include "gateway_http.h"

#define S_CONNECTION_TIMEOUT_S 60 //  an idle connection is closed after this
#define S_PEM_MAX              (64 * 1024)
//  How long a call of the page may keep trying through leader changes: a
//  registration costs two password hashes on the leader, slow on a busy
//  machine, and an election may come on top.
#define S_CALL_TIMEOUT_MS 10000

struct _gateway_http_t {
    const gateway_options_t *options; //  settings, read by every connection thread
    gateway_seal_t *seal;             //  the sealing key, read by every connection thread
    gateway_cluster_t *cluster;       //  the cluster page's answer, shared behind its lock
    gateway_streams_t *streams;       //  event streams open per user, shared behind its lock
    struct MHD_Daemon *daemon;        //  libmicrohttpd's server
    char *tls_key;                    //  PEM text of the TLS key, NULL: plain HTTP
    char *tls_certificate;            //  PEM text of the TLS certificate
};

//  What one connection owns; only its own thread touches it.
typedef struct {
    raftq_client_t *client; //  made at its first API request, NULL before
} s_connection_t;

//  One request while its body arrives.
typedef struct {
    char *body;     //  what came so far
    size_t size;    //  its length
    bool too_large; //  more than GATEWAY_BODY_MAX came: refused at the end
} s_request_t;

//  A route: method and path (prefix: the path starts with it and the rest
//  is the handler's argument), whether it needs a session, whether it
//  changes state (every POST and DELETE, and the GETs that mark messages
//  read: the cluster counts a page it hands over as read).
typedef struct {
    const char *method;         //  "GET", "POST" or "DELETE"
    const char *path;           //  the path, or its prefix
    bool prefix;                //  path is a prefix
    bool session;               //  refused without a valid session cookie
    bool client;                //  the handler uses the connection's cluster client
    bool changes;               //  Origin checked; the session's CSRF token too
    gateway_handler_fn handler; //  what serves it
} s_route_t;

static const s_route_t s_routes[] = {
    {"GET", "/api/session", false, true, false, false, gateway_chat_session},
    {"GET", "/api/available", false, false, true, false, gateway_chat_available},
    {"POST", "/api/register", false, false, true, true, gateway_chat_register},
    {"POST", "/api/login", false, false, true, true, gateway_chat_login},
    {"POST", "/api/logout", false, true, true, true, gateway_chat_logout},
    {"GET", "/api/users", false, true, true, false, gateway_chat_users},
    {"GET", "/api/unread", false, true, true, true, gateway_chat_unread},
    {"GET", "/api/conversations/", true, true, true, true, gateway_chat_conversation},
    {"POST", "/api/messages", false, true, true, true, gateway_chat_send},
    {"DELETE", "/api/messages/", true, true, true, true, gateway_chat_delete_message},
    {"DELETE", "/api/account", false, true, true, true, gateway_chat_delete_account},
    {"GET", "/api/events", false, true, false, false, gateway_events_stream},
    {"GET", "/api/cluster", false, false, true, false, gateway_cluster_status},
};

//  The pages' addresses, besides /static/<file>.
static const struct {
    const char *path;  //  what the browser asks for
    const char *asset; //  the file served
} s_pages[] = {{"/", "/static/chat.html"}, {"/cluster", "/static/cluster.html"}};

static bool
s_streq (const char *one, const char *other)
{
    return strcmp (one, other) == 0;
}

static enum MHD_Result
s_serve_asset (struct MHD_Connection *connection, const char *method, const char *url)
{
    for (size_t index = 0; index < sizeof s_pages / sizeof s_pages[0]; index++)
        if (s_streq (url, s_pages[index].path))
            url = s_pages[index].asset;
    const gateway_asset_t *asset = gateway_assets;
    while (asset->path && !s_streq (asset->path, url))
        asset++;
    bool found = asset->path && (s_streq (method, "GET") || s_streq (method, "HEAD"));
    const char *text = "not found\n";
    struct MHD_Response *response =
        found
            ? MHD_create_response_from_buffer (asset->size, (void *)asset->data,
                                               MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer (strlen (text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    gateway_add_headers (response, false);
    MHD_add_response_header (response, "Content-Type",
                             found ? asset->content_type : "text/plain; charset=utf-8");
    enum MHD_Result result =
        MHD_queue_response (connection, found ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, response);
    MHD_destroy_response (response);
    return result;
}

//  A cross-site page cannot send a state-changing request: browsers send
//  Origin with every POST and DELETE, and it must name this gateway (the
//  Host the browser asked). Clients that send no Origin are not browsers,
//  which carry no ambient cookie for an attacker to use.
static bool
s_same_origin (struct MHD_Connection *connection)
{
    const char *origin = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return true;
    const char *host = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Host");
    const char *authority = strstr (origin, "://");
    return host && authority &&
           (strncmp (origin, "http://", 7) == 0 || strncmp (origin, "https://", 8) == 0) &&
           s_streq (authority + 3, host);
}

//  The session CSRF token must come back in X-CSRF-Token on every
//  state-changing request: a cross-site page cannot read it.
static bool
s_csrf_ok (gateway_call_t *call)
{
    const char *echoed =
        MHD_lookup_connection_value (call->connection, MHD_HEADER_KIND, "X-CSRF-Token");
    size_t length = strlen (call->session.csrf);
    return echoed && strlen (echoed) == length &&
           sodium_memcmp (echoed, call->session.csrf, length) == 0;
}

static enum MHD_Result
s_refuse_too_large (gateway_call_t *call)
{
    return gateway_reply_error (call, MHD_HTTP_CONTENT_TOO_LARGE, "TOO_LARGE",
                                "request body above %d bytes", GATEWAY_BODY_MAX);
}

//  The checks of a route before its handler: Origin, content type, JSON
//  body, session and CSRF. Queues the refusal and returns MHD_YES/NO
//  through *result, or returns false to let the handler run.
static bool
s_refused (gateway_call_t *call, const s_route_t *route, s_request_t *request,
           enum MHD_Result *result)
{
    if (route->changes && !s_same_origin (call->connection)) {
        *result = gateway_reply_error (call, MHD_HTTP_FORBIDDEN, "CROSS_ORIGIN",
                                       "cross-origin request refused");
        return true;
    }
    if (request->too_large) {
        *result = s_refuse_too_large (call);
        return true;
    }
    if (s_streq (route->method, "POST")) {
        const char *type =
            MHD_lookup_connection_value (call->connection, MHD_HEADER_KIND, "Content-Type");
        if (!type || strncmp (type, "application/json", 16) != 0) {
            *result = gateway_reply_error (call, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "BAD_REQUEST",
                                           "send the body as application/json");
            return true;
        }
        json_error_t error;
        call->body = json_loadb (request->body ? request->body : "", request->size,
                                 JSON_REJECT_DUPLICATES, &error);
        if (!json_is_object (call->body)) {
            *result = call->body ? gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST",
                                                        "the body must be a JSON object")
                                 : gateway_reply_error (call, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST",
                                                        "bad JSON at line %d column %d: %s",
                                                        error.line, error.column, error.text);
            return true;
        }
    }
    const char *cookie =
        MHD_lookup_connection_value (call->connection, MHD_COOKIE_KIND, "raftq_session");
    call->has_session = cookie && gateway_seal_open (call->seal, cookie, &call->session) == 0;
    if (route->session && !call->has_session) {
        *result = gateway_reply_error (call, MHD_HTTP_UNAUTHORIZED, "UNAUTHENTICATED",
                                       cookie ? "the session is not valid: log in again"
                                              : "not logged in");
        return true;
    }
    if (route->session && route->changes && !s_csrf_ok (call)) {
        *result = gateway_reply_error (call, MHD_HTTP_FORBIDDEN, "CSRF",
                                       "missing or wrong X-CSRF-Token header: reload the page");
        return true;
    }
    return false;
}

//  The route for method and url, NULL when none matches; *path_known
//  tells a wrong method from an unknown path.
static const s_route_t *
s_route (const char *method, const char *url, bool *path_known)
{
    *path_known = false;
    for (size_t index = 0; index < sizeof s_routes / sizeof s_routes[0]; index++) {
        const s_route_t *route = &s_routes[index];
        bool matches = route->prefix ? strncmp (url, route->path, strlen (route->path)) == 0
                                     : s_streq (url, route->path);
        if (!matches)
            continue;
        *path_known = true;
        if (s_streq (method, route->method))
            return route;
    }
    return NULL;
}

static enum MHD_Result
s_dispatch (gateway_http_t *self, struct MHD_Connection *connection, const char *url,
            const char *method, s_request_t *request)
{
    if (strncmp (url, "/api/", 5) != 0)
        return s_serve_asset (connection, method, url);
    gateway_call_t call = {.options = self->options,
                           .seal = self->seal,
                           .cluster = self->cluster,
                           .streams = self->streams,
                           .connection = connection};
    bool path_known;
    const s_route_t *route = s_route (method, url, &path_known);
    if (!route)
        return path_known ? gateway_reply_error (&call, MHD_HTTP_METHOD_NOT_ALLOWED, "BAD_REQUEST",
                                                 "%s is not allowed here", method)
                          : gateway_reply_error (&call, MHD_HTTP_NOT_FOUND, "NOT_FOUND",
                                                 "no such API: %.100s", url);
    call.argument = route->prefix ? url + strlen (route->path) : "";
    enum MHD_Result result;
    if (!s_refused (&call, route, request, &result)) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info (connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        s_connection_t *owner = info ? info->socket_context : NULL;
        char error[512] = "";
        if (owner && !owner->client && route->client) {
            owner->client =
                raftq_client_load (self->options->config_path, NULL, error, sizeof error);
            if (owner->client)
                raftq_client_set_timeout (owner->client, S_CALL_TIMEOUT_MS);
        }
        call.client = owner ? owner->client : NULL;
        if (!call.client && route->client)
            result = gateway_reply_error (&call, MHD_HTTP_SERVICE_UNAVAILABLE, "UNAVAILABLE",
                                          "the gateway cannot reach the cluster: %s", error);
        else if (call.client &&
                 raftq_client_set_token (call.client, call.has_session ? call.session.token : NULL))
            result = gateway_reply_error (&call, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL",
                                          "the gateway is out of memory");
        else
            result = route->handler (&call);
    }
    json_decref (call.body);
    return result;
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    (void)version;
    s_request_t *request = *req_cls;
    if (!request) {
        request = calloc (1, sizeof *request);
        *req_cls = request;
        if (!request)
            return MHD_NO;
        //  A body announced above the cap is refused before it is read.
        const char *length =
            MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Content-Length");
        if (length && strtoull (length, NULL, 10) > GATEWAY_BODY_MAX) {
            gateway_call_t call = {.options = ((gateway_http_t *)cls)->options,
                                   .connection = connection};
            request->too_large = true;
            return s_refuse_too_large (&call);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (request->too_large || request->size + size > GATEWAY_BODY_MAX) {
            //  What comes past the cap is read and dropped: the refusal
            //  goes out once the request is complete.
            request->too_large = true;
            free (request->body);
            request->body = NULL;
            return MHD_YES;
        }
        char *body = realloc (request->body, request->size + size + 1);
        if (!body)
            return MHD_NO;
        memcpy (body + request->size, upload_data, size);
        request->size += size;
        body[request->size] = 0;
        request->body = body;
        return MHD_YES;
    }
    return s_dispatch (cls, connection, url, method, request);
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **req_cls,
             enum MHD_RequestTerminationCode code)
{
    (void)cls, (void)connection, (void)code;
    s_request_t *request = *req_cls;
    if (request) {
        free (request->body);
        free (request);
    }
    *req_cls = NULL;
}

static void
s_connection_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    (void)cls, (void)connection;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        *socket_context = calloc (1, sizeof (s_connection_t));
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        s_connection_t *owner = *socket_context;
        raftq_client_destroy (&owner->client);
        free (owner);
        *socket_context = NULL;
    }
}

static void
s_log (void *cls, const char *format, va_list arguments)
{
    (void)cls;
    fputs ("raftq-gateway: http: ", stderr);
    vfprintf (stderr, format, arguments);
}

//  Reads a PEM file whole; NULL with error set.
static char *
s_read_pem (const char *path, char *error, size_t error_size)
{
    FILE *file = fopen (path, "rb");
    char *text = file ? calloc (1, S_PEM_MAX + 1) : NULL;
    size_t size = text ? fread (text, 1, S_PEM_MAX, file) : 0;
    if (!text || size == 0 || size == S_PEM_MAX) {
        snprintf (error, error_size, "%s: %s", path,
                  !file ? strerror (errno) : "not a PEM file of a usable size");
        free (text);
        text = NULL;
    }
    if (file)
        fclose (file);
    return text;
}

gateway_http_t *
gateway_http_new (const gateway_options_t *options, gateway_seal_t *seal, char *error,
                  size_t error_size)
{
    gateway_http_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->options = options;
    self->seal = seal;
    self->cluster = gateway_cluster_new ();
    self->streams = gateway_streams_new (options->max_streams);
    if (!self->cluster || !self->streams) {
        snprintf (error, error_size, "out of memory");
        gateway_http_destroy (&self);
        return NULL;
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons (options->port)};
    inet_pton (AF_INET, options->host, &address.sin_addr);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    if (options->tls_certificate) {
        if (!MHD_is_feature_supported (MHD_FEATURE_TLS)) {
            snprintf (error, error_size, "this libmicrohttpd has no TLS");
            gateway_http_destroy (&self);
            return NULL;
        }
        self->tls_certificate = s_read_pem (options->tls_certificate, error, error_size);
        self->tls_key =
            self->tls_certificate ? s_read_pem (options->tls_key, error, error_size) : NULL;
        if (!self->tls_key) {
            gateway_http_destroy (&self);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    //  The logger first, so that MHD says everything through it; the TLS
    //  pair last: without TLS its first key is MHD_OPTION_END.
    self->daemon = MHD_start_daemon (
        flags, 0, NULL, NULL, s_access, self, MHD_OPTION_EXTERNAL_LOGGER, s_log, self,
        MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_CONNECTION_LIMIT, options->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, options->max_per_address, MHD_OPTION_CONNECTION_TIMEOUT,
        S_CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
        MHD_OPTION_NOTIFY_CONNECTION, s_connection_notify, self,
        self->tls_key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, self->tls_key,
        MHD_OPTION_HTTPS_MEM_CERT, self->tls_certificate, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (error, error_size, "cannot listen on %s:%u: %s", options->host,
                  (unsigned)options->port, strerror (errno));
        gateway_http_destroy (&self);
    }
    return self;
}

void
gateway_http_destroy (gateway_http_t **self_p)
{
    gateway_http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    gateway_cluster_destroy (&self->cluster);
    gateway_streams_destroy (&self->streams);
    if (self->tls_key)
        sodium_memzero (self->tls_key, strlen (self->tls_key));
    free (self->tls_key);
    free (self->tls_certificate);
    free (self);
    *self_p = NULL;
}

uint16_t
gateway_http_port (gateway_http_t *self)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}
