/*  fanout — subscriptions and event publishing on the XPUB; see fanout.h.  */
#include "broker/fanout.h"

#include "broker/codec.h"
#include "util/diagnostic.h"

//  Subscription messages read per call before the loop goes on.
#define DRAIN_LIMIT 1000

struct _fanout_t {
    zsock_t *publisher;        //  the XPUB on the pub port
    uint32_t node_id;          //  marks log lines
    zhashx_t *subscribed;      //  prefixes at least one subscriber asked for
    char *stream_buffer;       //  scratch copy of a stream key, cut to its prefixes
    size_t stream_buffer_size; //  bytes allocated
};

//  The largest event of a payload: protobuf holds it once, JSON text up to
//  six times (\u00XX per control byte), plus the stream and other fields.
#define EVENT_PAYLOAD_COPIES 7
#define EVENT_OVERHEAD_BYTES 4096

int
fanout_send_hwm (uint64_t lag_bytes, uint32_t max_payload_bytes)
{
    uint64_t largest = (uint64_t)max_payload_bytes * EVENT_PAYLOAD_COPIES + EVENT_OVERHEAD_BYTES;
    uint64_t events = lag_bytes / largest;
    if (events < FANOUT_SEND_HWM_MIN)
        return FANOUT_SEND_HWM_MIN;
    return events > FANOUT_SEND_HWM_MAX ? FANOUT_SEND_HWM_MAX : (int)events;
}

//  The subscription table is a set: any non-NULL item marks a key.
static const char s_subscribed_mark[] = "subscribed";

fanout_t *
fanout_new (zsock_t **socket_p, uint32_t node_id)
{
    fanout_t *self = calloc (1, sizeof (fanout_t));
    if (self)
        self->subscribed = zhashx_new ();
    if (!self || !self->subscribed) {
        free (self);
        zsock_destroy (socket_p);
        return NULL;
    }
    self->publisher = *socket_p;
    *socket_p = NULL;
    self->node_id = node_id;
    return self;
}

void
fanout_destroy (fanout_t **self_p)
{
    if (*self_p) {
        fanout_t *self = *self_p;
        zsock_destroy (&self->publisher);
        zhashx_destroy (&self->subscribed);
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

//  One message a subscriber sent: [1][prefix] subscribes, [0][prefix]
//  cancels. A prefix holding a NUL byte can match no stream key and is not
//  kept; anything else is dropped.
static void
s_take_subscription (fanout_t *self, const uint8_t *data, size_t size)
{
    if (size < 1 || data[0] > 1 || memchr (data + 1, 0, size - 1))
        return;
    char *prefix = strndup ((const char *)data + 1, size - 1);
    if (prefix && data[0] == 1)
        zhashx_insert (self->subscribed, prefix, (void *)s_subscribed_mark);
    else if (prefix)
        zhashx_delete (self->subscribed, prefix);
    //  Without memory the prefix stays subscribed: events too many, not too few
    else if (data[0] == 1)
        diagnostic_line (self->node_id, DIAGNOSTIC_ERROR, "out of memory noting a subscription");
    free (prefix);
}

//  Not verbose, the XPUB reports only the first subscription to a prefix
//  and the end of the last one, so the table holds exactly the prefixes
//  some subscriber wants. Known gap: libzmq also reports a cancel for a
//  prefix the canceling peer never subscribed to, so a hand-made peer could
//  hide a stream's events from this node's other subscribers until one
//  subscribes again (they see the seq gap and replay); a SUB socket never
//  sends such a cancel.
void
fanout_take_subscriptions (fanout_t *self)
{
    for (int count = 0; count < DRAIN_LIMIT && (zsock_events (self->publisher) & ZMQ_POLLIN);
         count++) {
        zframe_t *frame = zframe_recv (self->publisher);
        if (!frame)
            break;
        s_take_subscription (self, zframe_data (frame), zframe_size (frame));
        zframe_destroy (&frame);
    }
}

bool
fanout_has_subscriber (fanout_t *self, const char *stream)
{
    if (zhashx_size (self->subscribed) == 0)
        return false;
    size_t length = strlen (stream);
    if (length + 1 > self->stream_buffer_size) {
        char *grown = realloc (self->stream_buffer, length + 1);
        if (!grown)
            return true; //  when in doubt, publish
        self->stream_buffer = grown;
        self->stream_buffer_size = length + 1;
    }
    memcpy (self->stream_buffer, stream, length + 1);
    //  Longest prefix first, cutting the key shorter each round
    for (size_t end = length + 1; end-- > 0;) {
        self->stream_buffer[end] = 0;
        if (zhashx_lookup (self->subscribed, self->stream_buffer))
            return true;
    }
    return false;
}

void
fanout_publish (fanout_t *self, const Raftq__Event *event)
{
    if (!event->stream || !fanout_has_subscriber (self, event->stream))
        return;
    char *json = codec_event_json (event);
    zframe_t *packed = zframe_new (NULL, raftq__event__get_packed_size (event));
    if (json && packed) {
        raftq__event__pack (event, zframe_data (packed));
        zmsg_t *message = zmsg_new ();
        zmsg_addstr (message, event->stream);
        zmsg_append (message, &packed);
        zmsg_addstr (message, json);
        zmsg_send (&message, self->publisher);
    }
    zframe_destroy (&packed);
    free (json);
}
