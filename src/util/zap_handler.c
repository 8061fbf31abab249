/*  zap_handler — answers ZAP requests from per-domain key policies.

    A policy travels as [domain][flags][key][user id][key][user id]...,
    the same on the pipe (headed by "POLICY") and on the policy socket.
    Malformed policies are dropped whole: a domain keeps its last good
    policy, or stays closed. A watch (connection cap) lives beside the
    policy, keyed by the same domain, so that a new policy keeps the count.
*/
#include "util/zap_handler.h"

#include <string.h>
#include <sys/socket.h>

#include "util/fd_reserve.h"
#include "util/u64_table.h"
#include "util/worker.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_VERSION  "1.0"
//  Room for "inproc://raftq-zap-policy-" and a pointer in hex.
#define POLICY_ENDPOINT_SIZE 64
//  Room for "inproc://raftq-zap-monitor-", a pointer and a sequence number.
#define MONITOR_ENDPOINT_SIZE 80
//  A monitor event's first frame: event number (u16), value (u32).
#define MONITOR_EVENT_SIZE 6

struct _zap_handler_t {
    zactor_t *actor;                            //  the thread answering requests
    char policy_endpoint[POLICY_ENDPOINT_SIZE]; //  where other threads push policies
    char watch_endpoint[POLICY_ENDPOINT_SIZE];  //  where any thread asks for a watch
};

//  The thread's state.
typedef struct {
    zsock_t *pipe;           //  commands from the owner
    zsock_t *requests;       //  REP at the ZAP endpoint
    zsock_t *policies;       //  PULL at the policy endpoint
    zhashx_t *domains;       //  domain name -> its policy (a zmsg_t, as received)
    zhashx_t *watches;       //  domain name -> its s_watch_t
    zpoller_t *poller;       //  pipe, requests, policies, watch requests, every monitor
    zsock_t *watch_requests; //  REP at the watch endpoint
    unsigned watches_made;   //  names each watch's monitor endpoint
} s_handler_t;

//  One watched socket.
typedef struct {
    zsock_t *monitor;       //  PAIR receiving the socket's monitor events
    size_t max_connections; //  live connections past which handshakes are refused
    zhashx_t *live;         //  descriptors accepted, not yet disconnected (u64 items)
} s_watch_t;

static void
s_policy_destructor (void **item)
{
    zmsg_destroy ((zmsg_t **)item);
}

static void
s_descriptor_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_watch_destructor (void **item)
{
    s_watch_t *watch = (s_watch_t *)*item;
    if (watch) {
        zsock_destroy (&watch->monitor);
        zhashx_destroy (&watch->live);
        free (watch);
        *item = NULL;
    }
}

//  Shuts a connection just accepted down when the socket has twice its
//  cap, or when the process is short of descriptors: a client that never
//  greets is never refused (it never asks), and would otherwise keep its
//  descriptor until libzmq's handshake timeout. Only a shutdown, never a
//  close: libzmq's engine sees the end, reports DISCONNECTED and closes the
//  descriptor itself. Should the connection have gone and its number been
//  reused in the instant since ACCEPTED, the shutdown ends that other
//  connection instead (a file or eventfd is not a socket: no effect); its
//  peer reconnects, and only while the process is short of descriptors.
static void
s_shed_if_flooded (s_watch_t *watch, int descriptor)
{
    if (zhashx_size (watch->live) > 2 * watch->max_connections ||
        fd_reserve_available () < ZAP_DESCRIPTOR_RESERVE)
        shutdown (descriptor, SHUT_RDWR);
}

//  Takes the monitor events waiting: ACCEPTED adds its descriptor,
//  DISCONNECTED removes it. Nothing else carries the descriptor.
static void
s_watch_drain (s_watch_t *watch)
{
    void *monitor = zsock_resolve (watch->monitor);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (zmq_msg_recv (&frame, monitor, ZMQ_DONTWAIT) != -1) {
        uint16_t event = 0;
        uint32_t value = 0;
        bool head = zmq_msg_size (&frame) == MONITOR_EVENT_SIZE;
        if (head) {
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
            memcpy (&value, (uint8_t *)zmq_msg_data (&frame) + sizeof event, sizeof value);
        }
        //  The address frame (and anything after) says nothing we need
        while (zmq_msg_more (&frame) && zmq_msg_recv (&frame, monitor, ZMQ_DONTWAIT) != -1)
            ;
        if (!head)
            continue;
        uint64_t descriptor = value;
        if (event == ZMQ_EVENT_ACCEPTED && !zhashx_lookup (watch->live, &descriptor)) {
            uint64_t *item = malloc (sizeof *item);
            //  Without memory the connection goes uncounted: one too few
            if (item) {
                *item = descriptor;
                zhashx_insert (watch->live, item, item);
            }
            s_shed_if_flooded (watch, (int)value);
        } else if (event == ZMQ_EVENT_DISCONNECTED)
            zhashx_delete (watch->live, &descriptor);
    }
    zmq_msg_close (&frame);
}

//  Starts watching domain with its cap; endpoint gets the inproc endpoint
//  the watch's monitor PAIR connected to, for the socket's owner to bind
//  the monitor at. Returns 0 or -1.
static int
s_watch_start (s_handler_t *self, const char *domain, size_t max_connections,
               char endpoint[MONITOR_ENDPOINT_SIZE])
{
    if (zhashx_lookup (self->watches, domain))
        return -1;
    s_watch_t *watch = calloc (1, sizeof (s_watch_t));
    if (!watch)
        return -1;
    //  Named by handler and sequence: never one an earlier watch's monitor
    //  still holds
    snprintf (endpoint, MONITOR_ENDPOINT_SIZE, "inproc://raftq-zap-monitor-%p-%u", (void *)self,
              ++self->watches_made);
    watch->max_connections = max_connections;
    watch->live = u64_table_new (s_descriptor_destructor);
    watch->monitor = zsock_new (ZMQ_PAIR);
    if (watch->live && watch->monitor && zsock_connect (watch->monitor, "%s", endpoint) == 0 &&
        zpoller_add (self->poller, watch->monitor) == 0) {
        zhashx_insert (self->watches, domain, watch);
        return 0;
    }
    s_watch_destructor ((void **)&watch);
    return -1;
}

//  A request on the watch socket: WATCH [domain][max connections], answered
//  with the monitor endpoint ("" when it cannot), or UNWATCH [domain],
//  answered "".
static void
s_watch_request (s_handler_t *self)
{
    zmsg_t *request = zmsg_recv (self->watch_requests);
    if (!request)
        return;
    char *command = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *max_text = zmsg_popstr (request);
    char endpoint[MONITOR_ENDPOINT_SIZE] = "";
    if (command && domain && streq (command, "WATCH") && max_text) {
        if (s_watch_start (self, domain, (size_t)strtoull (max_text, NULL, 10), endpoint))
            endpoint[0] = 0;
    } else if (command && domain && streq (command, "UNWATCH")) {
        s_watch_t *watch = (s_watch_t *)zhashx_lookup (self->watches, domain);
        if (watch)
            zpoller_remove (self->poller, watch->monitor);
        zhashx_delete (self->watches, domain);
    }
    zstr_send (self->watch_requests, endpoint);
    free (command);
    free (domain);
    free (max_text);
    zmsg_destroy (&request);
}

//  The watch whose monitor is socket, NULL if none.
static s_watch_t *
s_watch_of (s_handler_t *self, void *socket)
{
    for (s_watch_t *watch = (s_watch_t *)zhashx_first (self->watches); watch;
         watch = (s_watch_t *)zhashx_next (self->watches))
        if ((void *)watch->monitor == socket)
            return watch;
    return NULL;
}

//  A well-formed policy: domain, flags, then key and user id pairs.
static bool
s_policy_valid (zmsg_t *policy)
{
    size_t size = zmsg_size (policy);
    if (size < 2 || size % 2 || zframe_size (zmsg_first (policy)) == 0 ||
        zframe_size (zmsg_next (policy)) != 1)
        return false;
    for (zframe_t *key = zmsg_next (policy); key; key = zmsg_next (policy)) {
        zmsg_next (policy);
        if (zframe_size (key) != CURVE_KEY_SIZE)
            return false;
    }
    return true;
}

//  Takes a policy and puts it in force for its domain.
static void
s_install (s_handler_t *self, zmsg_t **policy_p)
{
    if (!s_policy_valid (*policy_p)) {
        zmsg_destroy (policy_p);
        return;
    }
    char *domain = zframe_strdup (zmsg_first (*policy_p));
    if (domain)
        zhashx_update (self->domains, domain, *policy_p);
    else
        zmsg_destroy (policy_p);
    *policy_p = NULL;
    free (domain);
}

//  What the policy alone says: 200 with a user id, or 400.
static const char *
s_policy_decide (s_handler_t *self, const char *domain, const char *mechanism, zframe_t *credential,
                 char user_id[CURVE_KEY_TEXT_SIZE])
{
    zmsg_t *policy = (zmsg_t *)zhashx_lookup (self->domains, domain);
    if (!policy)
        return "400";
    zmsg_first (policy);
    int flags = *zframe_data (zmsg_next (policy));
    user_id[0] = 0;
    if (streq (mechanism, "NULL"))
        return (flags & ZAP_ALLOW_PLAIN) ? "200" : "400";
    if (!streq (mechanism, "CURVE") || !credential || zframe_size (credential) != CURVE_KEY_SIZE)
        return "400";
    for (zframe_t *key = zmsg_next (policy); key; key = zmsg_next (policy)) {
        zframe_t *listed_user = zmsg_next (policy);
        if (memcmp (zframe_data (key), zframe_data (credential), CURVE_KEY_SIZE) == 0) {
            snprintf (user_id, CURVE_KEY_TEXT_SIZE, "%.*s", (int)zframe_size (listed_user),
                      (char *)zframe_data (listed_user));
            return "200";
        }
    }
    if (!(flags & ZAP_ALLOW_ANY_KEY))
        return "400";
    curve_key_encode (zframe_data (credential), user_id);
    return "200";
}

//  The verdict on one request: the policy's, then the domain's cap.
static const char *
s_decide (s_handler_t *self, const char *domain, const char *mechanism, zframe_t *credential,
          char user_id[CURVE_KEY_TEXT_SIZE])
{
    const char *status = s_policy_decide (self, domain, mechanism, credential, user_id);
    s_watch_t *watch = (s_watch_t *)zhashx_lookup (self->watches, domain);
    if (streq (status, "200") && watch) {
        //  The asking connection's ACCEPTED is waiting there, if not taken
        s_watch_drain (watch);
        if (zhashx_size (watch->live) > watch->max_connections)
            status = "400";
    }
    return status;
}

//  One request: [version][request id][domain][address][routing id]
//  [mechanism][credentials...]. Anything malformed is refused, never
//  dropped: libzmq waits for an answer.
static void
s_answer (s_handler_t *self)
{
    zmsg_t *request = zmsg_recv (self->requests);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    zframe_t *request_id = zmsg_pop (request);
    char *domain = zmsg_popstr (request);
    free (zmsg_popstr (request)); //  address
    zframe_t *routing_id = zmsg_pop (request);
    zframe_destroy (&routing_id);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credential = zmsg_pop (request);
    char user_id[CURVE_KEY_TEXT_SIZE] = "";
    const char *status = "400";
    if (version && streq (version, ZAP_VERSION) && request_id && domain && mechanism)
        status = s_decide (self, domain, mechanism, credential, user_id);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, ZAP_VERSION);
    if (request_id)
        zmsg_append (reply, &request_id);
    else
        zmsg_addmem (reply, NULL, 0);
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, streq (status, "200") ? "OK" : "not allowed");
    zmsg_addstr (reply, user_id);
    zmsg_addmem (reply, NULL, 0); //  no metadata
    zmsg_send (&reply, self->requests);
    zframe_destroy (&credential);
    zframe_destroy (&request_id);
    free (version);
    free (domain);
    free (mechanism);
    zmsg_destroy (&request);
}

//  A command on the pipe: POLICY (answered with a signal once in force),
//  CONNECTIONS (the count as text). Returns -1 when the thread must stop.
static int
s_command (s_handler_t *self)
{
    zmsg_t *message = NULL;
    char *command = worker_next_command (self->pipe, &message);
    if (!command)
        return -1;
    if (streq (command, "POLICY")) {
        s_install (self, &message);
        zsock_signal (self->pipe, 0);
    } else if (streq (command, "CONNECTIONS")) {
        char *domain = zmsg_popstr (message);
        s_watch_t *watch = domain ? (s_watch_t *)zhashx_lookup (self->watches, domain) : NULL;
        if (watch)
            s_watch_drain (watch);
        zstr_sendf (self->pipe, "%zu", watch ? zhashx_size (watch->live) : 0);
        free (domain);
    }
    zmsg_destroy (&message);
    free (command);
    return 0;
}

static void
s_handler_destroy (s_handler_t *self)
{
    zsock_destroy (&self->requests);
    zsock_destroy (&self->policies);
    zsock_destroy (&self->watch_requests);
    zhashx_destroy (&self->domains);
    zpoller_destroy (&self->poller);
    zhashx_destroy (&self->watches);
}

static void
s_run (zsock_t *pipe, void *args)
{
    worker_begin ("raftq-zap");
    zap_handler_t *owner = (zap_handler_t *)args;
    s_handler_t self = {.pipe = pipe,
                        .requests = zsock_new (ZMQ_REP),
                        .policies = zsock_new (ZMQ_PULL),
                        .domains = zhashx_new (),
                        .watches = zhashx_new (),
                        .watch_requests = zsock_new (ZMQ_REP)};
    bool ready =
        self.requests && self.policies && self.domains && self.watches && self.watch_requests &&
        zsock_bind (self.requests, ZAP_ENDPOINT) == 0 &&
        zsock_bind (self.policies, "%s", owner->policy_endpoint) == 0 &&
        zsock_bind (self.watch_requests, "%s", owner->watch_endpoint) == 0 &&
        (self.poller = zpoller_new (pipe, self.requests, self.policies, self.watch_requests, NULL));
    if (self.domains)
        zhashx_set_destructor (self.domains, s_policy_destructor);
    if (self.watches)
        zhashx_set_destructor (self.watches, s_watch_destructor);
    //  Only our owner ends us ($TERM), not a signal to the process: a node
    //  stopping keeps serving handshakes and connection counts through its
    //  handover, and a query of a handler that had gone would wait forever
    if (self.poller)
        zpoller_set_nonstop (self.poller, true);
    //  zactor_new takes the first signal; the second says whether we run
    zsock_signal (pipe, 0);
    zsock_signal (pipe, ready ? 0 : 1);
    while (ready) {
        void *which = zpoller_wait (self.poller, -1);
        s_watch_t *watch;
        if (which == self.requests)
            s_answer (&self);
        else if (which == self.policies) {
            zmsg_t *policy = zmsg_recv (self.policies);
            if (policy)
                s_install (&self, &policy);
        } else if (which == self.watch_requests)
            s_watch_request (&self);
        else if (which && which != pipe && (watch = s_watch_of (&self, which)))
            s_watch_drain (watch);
        else if (which == pipe ? s_command (&self) : zpoller_terminated (self.poller))
            break;
    }
    s_handler_destroy (&self);
}

zap_handler_t *
zap_handler_new (void)
{
    zap_handler_t *self = calloc (1, sizeof (zap_handler_t));
    if (!self)
        return NULL;
    snprintf (self->policy_endpoint, sizeof (self->policy_endpoint), "inproc://raftq-zap-policy-%p",
              (void *)self);
    snprintf (self->watch_endpoint, sizeof (self->watch_endpoint), "inproc://raftq-zap-watch-%p",
              (void *)self);
    self->actor = zactor_new (s_run, self);
    if (!self->actor || zsock_wait (self->actor) != 0)
        zap_handler_destroy (&self);
    return self;
}

void
zap_handler_destroy (zap_handler_t **self_p)
{
    if (!*self_p)
        return;
    zactor_destroy (&(*self_p)->actor);
    free (*self_p);
    *self_p = NULL;
}

const char *
zap_handler_policy_endpoint (zap_handler_t *self)
{
    return self->policy_endpoint;
}

int
zap_handler_set_policy (zap_handler_t *self, zmsg_t **policy_p)
{
    if (!*policy_p || zmsg_pushstr (*policy_p, "POLICY") || zmsg_send (policy_p, self->actor)) {
        zmsg_destroy (policy_p);
        return -1;
    }
    return zsock_wait (self->actor) == 0 ? 0 : -1;
}

void
zap_handler_secure_server (zsock_t *socket, const uint8_t secret_key[CURVE_KEY_SIZE],
                           const char *domain)
{
    zsock_set_curve_server (socket, 1);
    zsock_set_curve_secretkey_bin (socket, secret_key);
    zsock_set_zap_domain (socket, domain);
}

const char *
zap_handler_watch_endpoint (zap_handler_t *self)
{
    return self->watch_endpoint;
}

int
zap_handler_watch (zap_handler_t *self, zsock_t *socket, const char *domain, size_t max_connections)
{
    return zap_watch_socket (self->watch_endpoint, socket, domain, max_connections);
}

int
zap_watch_socket (const char *watch_endpoint, zsock_t *socket, const char *domain,
                  size_t max_connections)
{
    zsock_t *request = zsock_new_req (watch_endpoint);
    if (!request)
        return -1;
    //  The handler connects its monitor PAIR first (inproc allows it before
    //  the bind), so the monitor never runs unread: libzmq sends its events
    //  blocking, and an unread one would stall the I/O thread
    char *endpoint = NULL;
    char max_text[24];
    snprintf (max_text, sizeof max_text, "%zu", max_connections);
    int rc = -1;
    if (zstr_sendx (request, "WATCH", domain, max_text, NULL) == 0 &&
        (endpoint = zstr_recv (request)) && *endpoint) {
        //  Bound here, on the socket's own thread, before it binds: no
        //  connection goes uncounted
        rc = zmq_socket_monitor (zsock_resolve (socket), endpoint,
                                 ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
        if (rc) {
            zstr_sendx (request, "UNWATCH", domain, NULL);
            zstr_free (&endpoint);
            endpoint = zstr_recv (request);
        }
    }
    zstr_free (&endpoint);
    zsock_destroy (&request);
    return rc ? -1 : 0;
}

size_t
zap_handler_connections (zap_handler_t *self, const char *domain)
{
    if (zstr_sendx (self->actor, "CONNECTIONS", domain, NULL))
        return 0;
    char *count = zstr_recv (self->actor);
    size_t connections = count ? (size_t)strtoull (count, NULL, 10) : 0;
    free (count);
    return connections;
}

zmsg_t *
zap_policy_new (const char *domain, int flags)
{
    zmsg_t *policy = zmsg_new ();
    uint8_t flag_byte = (uint8_t)flags;
    if (policy && (zmsg_addstr (policy, domain) || zmsg_addmem (policy, &flag_byte, 1)))
        zmsg_destroy (&policy);
    return policy;
}

int
zap_policy_add_key (zmsg_t *policy, const uint8_t key[CURVE_KEY_SIZE], const char *user_id)
{
    if (strlen (user_id) >= CURVE_KEY_TEXT_SIZE)
        return -1;
    return zmsg_addmem (policy, key, CURVE_KEY_SIZE) || zmsg_addstr (policy, user_id) ? -1 : 0;
}
