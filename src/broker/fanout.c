/*  fanout — subscriptions and event publishing on the XPUB; see fanout.h.

    libzmq 4.3's XPUB_MANUAL, which this relies on: every subscribe and
    cancel a connection sends is handed up as a message, duplicates
    included, and the connection that sent the message just read is the
    "last pipe": ZMQ_SUBSCRIBE and ZMQ_UNSUBSCRIBE change that connection's
    subscriptions only, and do nothing when there is no last pipe. When a
    connection closes, libzmq hands up a cancel for each string it had
    sent, with no last pipe: those only update the counts here. The XPUB
    never names the connection, so the counts are per string (see
    fanout_grants.h).

    A known libzmq 4.3 flaw: a message a peer sends that is not a
    subscription (empty, or not starting with byte 0 or 1; an XSUB can)
    is handed up without a pipe of its own, so the last pipe of every
    message after it belongs to a later message. Applying then could give
    one connection another's subscription. So after such a message no
    subscription is applied until the XPUB has nothing more to hand up
    (then both of its queues are empty and in step again); a subscriber
    refused meanwhile sees no confirmation and subscribes again.
*/
#include "broker/fanout.h"

#include "broker/codec.h"
#include "broker/fanout_budget.h"
#include "broker/fanout_grants.h"
#include "broker/metrics.h"
#include "state/stream_access.h"
#include "util/diagnostic.h"
#include "util/io_threads.h"

#include <stdatomic.h>

//  Subscription messages read per call before the loop goes on.
#define DRAIN_LIMIT 1000

struct _fanout_t {
    zsock_t *publisher;        //  the XPUB on the pub port
    uint32_t node_id;          //  marks log lines
    fsm_t *fsm;                //  the applied state decisions are taken on (borrowed)
    uint64_t sessions_ended;   //  fsm_sessions_ended when last checked
    zhashx_t *topics;          //  applied topic prefix -> subscribes minus cancels (a count)
    fanout_grants_t *grants;   //  private subscriptions
    bool out_of_step;          //  the XPUB's last pipe is not to be trusted (above)
    char *stream_buffer;       //  scratch copy of a stream key, cut to its prefixes
    size_t stream_buffer_size; //  bytes allocated
    metrics_t *metrics;        //  counts deliveries and revocations (borrowed), NULL: none
    fanout_budget_t *budget;   //  the subscriber lag bound, as the XPUB's send high-water mark
    int connect_hwm;           //  the mark libzmq gives each new connection (fanout_prepare_socket)
    bool subscribed;           //  a subscription was applied since the mark was last set
};

//  One event's frames given to libzmq without a copy: libzmq shares them
//  among the subscribers' queues and calls s_event_free once per frame
//  when the last queue lets go, on its I/O thread.
typedef struct {
    zmq_msg_t packed;       //  the protobuf Event frame
    zmq_msg_t json;         //  the JSON event frame
    atomic_int frames;      //  frames libzmq has not let go of
    fanout_charge_t charge; //  the event's count in the budget
    char *json_text;        //  the JSON event
    uint8_t packed_bytes[]; //  the protobuf Event
} fanout_event_t;

int
fanout_prepare_socket (zsock_t *socket, uint64_t lag_bytes)
{
    //  libzmq gives every connection the mark the socket had when it
    //  bound; a mark set later reaches the connections made by then only
    zsock_set_sndhwm (socket, fanout_budget_hwm_for (lag_bytes, FANOUT_BUDGET_CLASS_MIN));
    io_threads_pin (socket, IO_LANE_FANOUT);
    int manual = 1;
    return zmq_setsockopt (zsock_resolve (socket), ZMQ_XPUB_MANUAL, &manual, sizeof manual);
}

fanout_t *
fanout_new (zsock_t **socket_p, uint32_t node_id, fsm_t *fsm, uint64_t lag_bytes)
{
    fanout_t *self = calloc (1, sizeof (fanout_t));
    if (self) {
        self->topics = zhashx_new ();
        self->grants = fanout_grants_new ();
        self->budget = fanout_budget_new (lag_bytes);
    }
    if (!self || !self->topics || !self->grants || !self->budget) {
        if (self) {
            zhashx_destroy (&self->topics);
            fanout_grants_destroy (&self->grants);
            fanout_budget_destroy (&self->budget);
        }
        free (self);
        zsock_destroy (socket_p);
        return NULL;
    }
    self->publisher = *socket_p;
    *socket_p = NULL;
    self->node_id = node_id;
    self->fsm = fsm;
    self->connect_hwm = fanout_budget_hwm (self->budget);
    self->sessions_ended = fsm_sessions_ended (fsm);
    return self;
}

void
fanout_destroy (fanout_t **self_p)
{
    if (*self_p) {
        fanout_t *self = *self_p;
        zsock_destroy (&self->publisher);
        zhashx_destroy (&self->topics);
        fanout_grants_destroy (&self->grants);
        //  Events libzmq still holds keep the budget's counts alive
        fanout_budget_destroy (&self->budget);
        free (self->stream_buffer);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
fanout_sock (fanout_t *self)
{
    return self->publisher;
}

//  libzmq let go of one of an event's frames.
static void
s_event_free (void *data, void *hint)
{
    (void)data;
    fanout_event_t *event = (fanout_event_t *)hint;
    if (atomic_fetch_sub (&event->frames, 1) == 1) {
        fanout_budget_release (event->charge);
        free (event->json_text);
        free (event);
    }
}

//  The frames of event, counted in the budget (the XPUB's mark lowered
//  first if it is bigger than those held); NULL when out of memory.
static fanout_event_t *
s_event_new (fanout_t *self, const Raftq__Event *event)
{
    size_t packed_size = raftq__event__get_packed_size (event);
    fanout_event_t *built = malloc (sizeof (fanout_event_t) + packed_size);
    char *json = codec_event_json (event);
    if (!built || !json) {
        free (built);
        free (json);
        return NULL;
    }
    raftq__event__pack (event, built->packed_bytes);
    built->json_text = json;
    size_t json_size = strlen (json);
    size_t stream_size = event->stream ? strlen (event->stream) : 0;
    bool hwm_changed;
    built->charge = fanout_budget_charge (
        self->budget, stream_size + packed_size + json_size + FANOUT_EVENT_OVERHEAD_BYTES,
        zclock_mono (), &hwm_changed);
    if (hwm_changed)
        zsock_set_sndhwm (self->publisher, fanout_budget_hwm (self->budget));
    atomic_init (&built->frames, 2);
    bool packed_taken = zmq_msg_init_data (&built->packed, built->packed_bytes, packed_size,
                                           s_event_free, built) == 0;
    bool json_taken = zmq_msg_init_data (&built->json, json, json_size, s_event_free, built) == 0;
    if (packed_taken && json_taken)
        return built;
    //  Out of memory: a frame libzmq did not take is let go of here (the
    //  second of these frees the event)
    if (packed_taken)
        zmq_msg_close (&built->packed);
    else
        s_event_free (NULL, built);
    if (json_taken)
        zmq_msg_close (&built->json);
    else
        s_event_free (NULL, built);
    return NULL;
}

//  Lets go of the fan-out's own reference to the frames: the event is
//  freed when the subscribers' queues let go of theirs.
static void
s_event_done (fanout_event_t *event)
{
    zmq_msg_close (&event->packed);
    zmq_msg_close (&event->json);
}

//  Sends [frame1][packed][json] of event; frame1 is the stream key or a
//  private subscription string.
static void
s_send (fanout_t *self, const char *frame1, fanout_event_t *event)
{
    void *socket = zsock_resolve (self->publisher);
    zmq_msg_t frames[3];
    size_t size = strlen (frame1);
    if (zmq_msg_init_size (&frames[0], size))
        return;
    memcpy (zmq_msg_data (&frames[0]), frame1, size);
    zmq_msg_init (&frames[1]);
    zmq_msg_init (&frames[2]);
    zmq_msg_copy (&frames[1], &event->packed);
    zmq_msg_copy (&frames[2], &event->json);
    int sent = 0;
    while (sent < 3 && zmq_msg_send (&frames[sent], socket, sent < 2 ? ZMQ_SNDMORE : 0) >= 0)
        sent++;
    //  What was not sent is still ours (none, unless the context is ending)
    for (int unsent = sent; unsent < 3; unsent++)
        zmq_msg_close (&frames[unsent]);
    if (sent == 3 && self->metrics)
        metrics_count_deliveries (self->metrics, 1);
}

//  A control event (seq 0) of stream on one private subscription.
static void
s_send_control (fanout_t *self, const char *subscription, const char *stream, const char *kind)
{
    Raftq__Event event = RAFTQ__EVENT__INIT;
    event.stream = (char *)stream;
    event.kind = (char *)kind;
    fanout_event_t *built = s_event_new (self, &event);
    if (built) {
        s_send (self, subscription, built);
        s_event_done (built);
    }
}

static void
s_on_revoked (void *argument, const char *subscription, const char *stream)
{
    fanout_t *self = (fanout_t *)argument;
    if (self->metrics)
        metrics_count_revoked (self->metrics);
    s_send_control (self, subscription, stream, "revoked");
}

//  Counts a subscribe (delta 1) or cancel (-1) of an applied topic prefix.
static void
s_count_topic (fanout_t *self, const char *prefix, int delta)
{
    size_t count = (size_t)(uintptr_t)zhashx_lookup (self->topics, prefix);
    if (delta > 0)
        count++;
    else if (count > 0)
        count--;
    if (count)
        zhashx_update (self->topics, prefix, (void *)(uintptr_t)count);
    else
        zhashx_delete (self->topics, prefix);
}

//  Applies to (or takes from) the last pipe's subscriptions.
static void
s_apply (fanout_t *self, int option, const char *prefix, size_t size)
{
    if (!self->out_of_step) {
        zmq_setsockopt (zsock_resolve (self->publisher), option, prefix, size);
        self->subscribed |= option == ZMQ_SUBSCRIBE;
    }
}

//  One message the XPUB handed up: [1][string] subscribes, [0][string]
//  cancels; decided as stream_access.h says.
static void
s_take_subscription (fanout_t *self, const uint8_t *data, size_t size)
{
    if (size < 1 || data[0] > 1) {
        self->out_of_step = true;
        return;
    }
    bool subscribe = data[0] == 1;
    stream_subscription_t parsed;
    stream_access_parse (data + 1, size - 1, &parsed);
    if (parsed.kind == STREAM_SUBSCRIPTION_TOPIC) {
        char *prefix = strndup (parsed.applied, parsed.applied_size);
        if (!prefix)
            return;
        s_count_topic (self, prefix, subscribe ? 1 : -1);
        s_apply (self, subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, prefix, parsed.applied_size);
        free (prefix);
    } else if (parsed.kind == STREAM_SUBSCRIPTION_PRIVATE && !subscribe) {
        fanout_grants_cancel (self->grants, &parsed);
        s_apply (self, ZMQ_UNSUBSCRIBE, parsed.applied, parsed.applied_size);
    } else if (parsed.kind == STREAM_SUBSCRIPTION_PRIVATE && !self->out_of_step &&
               fanout_grants_subscribe (self->grants, &parsed, self->fsm, zclock_time ())) {
        s_apply (self, ZMQ_SUBSCRIBE, parsed.applied, parsed.applied_size);
        //  Terminated copies: the parsed pointers are not
        char *subscription = strndup (parsed.applied, parsed.applied_size);
        char *stream = strndup (parsed.applied, parsed.stream_length);
        if (subscription && stream)
            s_send_control (self, subscription, stream, "subscribed");
        free (subscription);
        free (stream);
    } else if (parsed.kind == STREAM_SUBSCRIPTION_PRIVATE)
        //  Out of step: counted (its cancel will come), not applied
        fanout_grants_subscribe (self->grants, &parsed, NULL, 0);
}

void
fanout_take_subscriptions (fanout_t *self)
{
    for (int count = 0; count < DRAIN_LIMIT; count++) {
        if (!(zsock_events (self->publisher) & ZMQ_POLLIN)) {
            //  Nothing queued: the XPUB's message and pipe queues agree
            self->out_of_step = false;
            break;
        }
        zframe_t *frame = zframe_recv (self->publisher);
        if (!frame)
            break;
        s_take_subscription (self, zframe_data (frame), zframe_size (frame));
        zframe_destroy (&frame);
    }
    //  A connection that just subscribed may be new, with the mark of
    //  connect time: the present one goes to all before the next event
    //  (once per call, since it is a command to every connection)
    int hwm = fanout_budget_hwm (self->budget);
    if (self->subscribed && hwm != self->connect_hwm)
        zsock_set_sndhwm (self->publisher, hwm);
    self->subscribed = false;
}

//  Whether an applied topic prefix starts stream.
static bool
s_topic_subscribed (fanout_t *self, const char *stream)
{
    if (zhashx_size (self->topics) == 0)
        return false;
    size_t length = strlen (stream);
    if (length + 1 > self->stream_buffer_size) {
        char *grown = realloc (self->stream_buffer, length + 1);
        if (!grown)
            return true; //  when in doubt, publish: the XPUB filters anyway
        self->stream_buffer = grown;
        self->stream_buffer_size = length + 1;
    }
    memcpy (self->stream_buffer, stream, length + 1);
    //  Longest prefix first, cutting the key shorter each round
    for (size_t end = length + 1; end-- > 0;) {
        self->stream_buffer[end] = 0;
        if (zhashx_lookup (self->topics, self->stream_buffer))
            return true;
    }
    return false;
}

bool
fanout_has_subscriber (fanout_t *self, const char *stream)
{
    if (stream_access_is_private (stream))
        return fanout_grants_first (self->grants, stream) != NULL;
    return s_topic_subscribed (self, stream);
}

void
fanout_publish (fanout_t *self, const Raftq__Event *event)
{
    if (!event->stream || !fanout_has_subscriber (self, event->stream))
        return;
    fanout_event_t *built = s_event_new (self, event);
    if (!built)
        return;
    if (!stream_access_is_private (event->stream))
        s_send (self, event->stream, built);
    else
        //  Never under the stream key: no applied subscription is a
        //  prefix of it, and only grants' strings reach their holders
        for (const char *subscription = fanout_grants_first (self->grants, event->stream);
             subscription; subscription = fanout_grants_next (self->grants))
            s_send (self, subscription, built);
    s_event_done (built);
}

void
fanout_revalidate (fanout_t *self)
{
    self->sessions_ended = fsm_sessions_ended (self->fsm);
    fanout_grants_revalidate (self->grants, self->fsm, zclock_time (), s_on_revoked, self);
}

void
fanout_follow (fanout_t *self)
{
    if (fsm_sessions_ended (self->fsm) != self->sessions_ended)
        fanout_revalidate (self);
}

void
fanout_set_state (fanout_t *self, fsm_t *fsm)
{
    self->fsm = fsm;
    fanout_revalidate (self);
}

void
fanout_count_into (fanout_t *self, metrics_t *metrics)
{
    self->metrics = metrics;
}

void
fanout_subscriptions (fanout_t *self, size_t *topics, size_t *private_strings)
{
    size_t total = 0;
    //  The counts are the items themselves, never 0
    for (void *count = zhashx_first (self->topics); count; count = zhashx_next (self->topics))
        total += (size_t)(uintptr_t)count;
    *topics = total;
    *private_strings = fanout_grants_size (self->grants);
}
