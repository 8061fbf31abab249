/*  raftq_subscription — follows one event stream (DESIGN 6) on the PUB port
    of one node at a time and hands out each event once, in seq order.

    How it keeps that promise:
    - Events from the SUB socket and from replays go into one list of
      pending events sorted by seq; next_seq is the seq delivered next.
      Anything below next_seq, or already pending, is a duplicate: dropped.
    - A hole (next_seq missing while a later seq was seen) is filled by
      Replay (stream, next_seq, limit) through a leader-following client on
      the client ports. NOT_FOUND with an oldest_seq above next_seq means
      the cluster no longer has those events: reported to the caller as a
      gap, then delivery goes on from oldest_seq. A replay whose first event
      comes after next_seq is reported the same way: nothing is skipped
      without the caller being told.
    - After a start from a given seq, and after each move to another node,
      it catches up: replays until an empty page, because what was
      published while it was not subscribed never comes on the new SUB.
    - A live start (from seq 0) first asks where the stream is now (a
      replay from past its end answers with the next seq), then goes on as
      a start from there: what is published while the SUB joins, or while
      a private subscription waits for its confirmation, is caught up,
      not lost.
    - After `silence` without a message from its node it probes that node
      (Status on its client port). No answer, or no leader known (cut off,
      or an election under way), and it moves to the next node with a PUB
      port. A node that answers gets one catch-up replay, which finds
      events its PUB dropped (slow joiner, high-water mark) even when no
      later event shows the hole.
    - Private streams (user/, conv/) are read with a session token: the SUB
      subscribes to "<stream>#<token>" (the broker applies only
      subscriptions it authorizes, and sends their events with that string
      as first frame), replays carry the token. The broker confirms an
      applied subscription with a seq-0 "subscribed" event; without it
      the SUB subscribes again, after S_CONFIRM_MIN_MS and then waits that
      double up to S_CONFIRM_MAX_MS: the node may not have applied the
      login yet (a follower learns of it a moment late), and only a
      subscribe made after that is applied (ZMQ_XPUB_MANUAL applies a
      subscription as it arrives, never later). The confirmation starts a
      catch-up, for what was published while the subscription was not yet
      applied. A
      seq-0 "revoked" event (logout, expiry, account deletion) ends the
      subscription: what is in order is still handed out, then REVOKED.
      Seq-0 events are control, never data.
    Replays and probes are synchronous calls bounded by the silence, so
    raftq_subscription_next can block that long while it repairs.
*/
#include <errno.h>

#include "raftq_client.h"
#include "raftq_config.h"

#define S_SILENCE_DEFAULT_MS    1000 //  quiet time before a probe
#define S_REPLAY_LIMIT_DEFAULT  256  //  events one replay asks for
#define S_REPLAY_BACKOFF_MIN_MS 20   //  first pause after a replay that brought nothing
#define S_REPLAY_BACKOFF_MAX_MS 1000 //  pauses double up to this
//  Replays of a private stream refused this long: the token is refused (a
//  node may answer before it has applied a fresh login).
#define S_REFUSAL_GRACE_MS   2000
#define S_PENDING_MAX        10000 //  events held ahead of next_seq; the rest are replayed later
#define S_DRAIN_MAX          1000  //  SUB messages read per look, so timers still run
#define S_RECEIVE_HIGH_WATER 10000 //  SUB queue: above libzmq's default for bursts
#define S_CONFIRM_MIN_MS     50    //  first wait for "subscribed" before subscribing again
#define S_CONFIRM_MAX_MS     1000  //  the waits double up to this

struct _raftq_subscription_t {
    raftq_client_t *client;  //  replays and probes, on every node's client port
    char **pub_endpoints;    //  PUB endpoint per node, "" for none; client's node order
    size_t node_count;       //  nodes in both lists
    size_t node;             //  index of the node followed now
    zsock_t *subscriber;     //  SUB to that node's PUB
    char *stream;            //  the stream key
    char *topic;             //  what the SUB subscribes to: the stream key, or <stream>#<token>
    bool private_stream;     //  user/ or conv/: needs a token to be delivered at all
    bool confirmed;          //  the node said "subscribed" to topic (private streams)
    bool granted;            //  some node confirmed this token once: a refusal means it ended
    int64_t refused_since;   //  first of the replay refusals in a row (zclock_mono), 0: none
    bool revoked;            //  the node said "revoked": the subscription is over
    int64_t subscribed_at;   //  when topic was last subscribed to on the SUB
    int confirm_wait_ms;     //  wait for "subscribed" before subscribing again
    bool token_told;         //  the caller heard that a private stream needs a token
    uint64_t next_seq;       //  seq delivered next; 0 until a live start knows its start
    uint64_t highest_seen;   //  highest seq any node or replay has shown
    zlistx_t *pending;       //  Raftq__Event *, seq >= next_seq, sorted, no duplicates
    bool catching_up;        //  replay until an empty page (after start, move, probe)
    int64_t replay_at;       //  earliest time of the next replay
    int replay_backoff_ms;   //  pause after the next replay that brings nothing
    int64_t heard_at;        //  last sign of life of the followed node
    int silence_ms;          //  quiet time before a probe; bounds probes and replays
    uint32_t replay_limit;   //  most events one replay asks for
    Raftq__Event *delivered; //  the event handed out last; the caller's view points into it
    char error[512];         //  human text of the last failure
};

static void s_fail (raftq_subscription_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_fail (raftq_subscription_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
}

static void
s_event_destroy (void **item_p)
{
    raftq__event__free_unpacked ((Raftq__Event *)*item_p, NULL);
    *item_p = NULL;
}

static int
s_event_compare (const void *one, const void *other)
{
    uint64_t first = ((const Raftq__Event *)one)->seq;
    uint64_t second = ((const Raftq__Event *)other)->seq;
    return first < second ? -1 : first > second ? 1 : 0;
}

//  Connects a new SUB to the PUB of node, in place of the old one. Returns
//  0, or -1 (error set, the old SUB kept) when that endpoint cannot be used.
static int
s_follow (raftq_subscription_t *self, size_t node)
{
    zsock_t *subscriber = zsock_new (ZMQ_SUB);
    if (!subscriber) {
        s_fail (self, "cannot create a socket: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_linger (subscriber, 0);
    zsock_set_rcvhwm (subscriber, S_RECEIVE_HIGH_WATER);
    //  ZeroMQ filters by prefix: topic/a also lets topic/ab through,
    //  which the exact check on each message removes.
    zsock_set_subscribe (subscriber, self->topic);
    if (raftq_client_secure (self->client, node, subscriber) == -1) {
        s_fail (self, "%s", raftq_client_error (self->client));
        zsock_destroy (&subscriber);
        return -1;
    }
    if (zsock_connect (subscriber, "%s", self->pub_endpoints[node]) == -1) {
        s_fail (self, "%s: cannot connect: %s", self->pub_endpoints[node],
                zmq_strerror (zmq_errno ()));
        zsock_destroy (&subscriber);
        return -1;
    }
    zsock_destroy (&self->subscriber);
    self->subscriber = subscriber;
    self->node = node;
    self->heard_at = zclock_mono ();
    self->subscribed_at = self->heard_at;
    self->confirm_wait_ms = S_CONFIRM_MIN_MS;
    self->confirmed = false;
    //  What was published before the SUB joined comes only by replay.
    self->catching_up = self->next_seq > 0;
    self->replay_at = self->heard_at;
    self->replay_backoff_ms = S_REPLAY_BACKOFF_MIN_MS;
    return 0;
}

//  Moves to the next node with a PUB endpoint after the current one (the
//  current one again when it is the only one).
static void
s_move_on (raftq_subscription_t *self)
{
    for (size_t step = 1; step <= self->node_count; step++) {
        size_t node = (self->node + step) % self->node_count;
        if (*self->pub_endpoints[node] && s_follow (self, node) == 0)
            return;
    }
}

//  Takes an event from a node or a replay into pending, or drops it as a
//  duplicate or as not ours. Takes ownership of event.
static void
s_accept (raftq_subscription_t *self, Raftq__Event *event)
{
    if (!event->stream || strcmp (event->stream, self->stream) != 0 || event->seq == 0) {
        raftq__event__free_unpacked (event, NULL);
        return;
    }
    if (event->seq > self->highest_seen)
        self->highest_seen = event->seq;
    if ((self->next_seq && event->seq < self->next_seq) || zlistx_find (self->pending, event)) {
        raftq__event__free_unpacked (event, NULL);
        return;
    }
    if (zlistx_size (self->pending) >= S_PENDING_MAX) {
        //  Keep the lowest seqs, which are delivered first: the dropped
        //  ones come back by replay once these are out.
        Raftq__Event *highest = (Raftq__Event *)zlistx_last (self->pending);
        if (event->seq > highest->seq) {
            raftq__event__free_unpacked (event, NULL);
            return;
        }
        zlistx_delete (self->pending, zlistx_cursor (self->pending));
    }
    //  New events are mostly the highest: search from the high end.
    zlistx_insert (self->pending, event, false);
}

//  A seq-0 event on our topic: control, not data.
static void
s_control (raftq_subscription_t *self, const Raftq__Event *event)
{
    if (!event->kind)
        return;
    if (streq (event->kind, "subscribed")) {
        self->confirmed = true;
        self->granted = true;
        //  Events published before the node applied the subscription never
        //  came on the SUB: a catch-up finds them.
        self->catching_up = self->next_seq > 0;
        self->replay_at = zclock_mono ();
    } else if (streq (event->kind, "revoked")) {
        self->revoked = true;
        s_fail (self, "%s: the session token was revoked (logout, expiry or account deletion)",
                self->stream);
    }
}

//  Reads one message of the SUB: [topic][Event protobuf][Event JSON], the
//  topic being the stream key or (private streams) <stream>#<token>.
//  Anything else is dropped.
static void
s_take_published (raftq_subscription_t *self, zmsg_t *message)
{
    zframe_t *key = zmsg_first (message);
    zframe_t *body = zmsg_next (message);
    size_t length = strlen (self->topic);
    if (!body || zframe_size (key) != length ||
        memcmp (zframe_data (key), self->topic, length) != 0)
        return;
    Raftq__Event *event = raftq__event__unpack (NULL, zframe_size (body), zframe_data (body));
    if (!event)
        return;
    if (event->seq == 0 && event->stream && streq (event->stream, self->stream)) {
        s_control (self, event);
        raftq__event__free_unpacked (event, NULL);
    } else
        s_accept (self, event);
}

//  Reads what the SUB holds. Returns how many messages it read.
static int
s_drain (raftq_subscription_t *self)
{
    int received = 0;
    while (received < S_DRAIN_MAX && (zsock_events (self->subscriber) & ZMQ_POLLIN)) {
        zmsg_t *message = zmsg_recv (self->subscriber);
        if (!message)
            break;
        received++;
        s_take_published (self, message);
        zmsg_destroy (&message);
    }
    if (received)
        self->heard_at = zclock_mono ();
    return received;
}

//  The pending event to deliver now, if any.
static Raftq__Event *
s_deliverable (raftq_subscription_t *self)
{
    Raftq__Event *first = (Raftq__Event *)zlistx_first (self->pending);
    if (first && (self->next_seq == 0 || first->seq == self->next_seq))
        return first;
    return NULL;
}

static const char *
s_text (const char *text)
{
    return text ? text : "";
}

//  Hands the next event to the caller, if it is at hand.
static bool
s_deliver (raftq_subscription_t *self, raftq_event_t *event)
{
    if (!s_deliverable (self))
        return false;
    Raftq__Event *next = (Raftq__Event *)zlistx_detach (self->pending, NULL);
    self->delivered = next;
    self->next_seq = next->seq + 1;
    memset (event, 0, sizeof (*event));
    event->stream = s_text (next->stream);
    event->seq = next->seq;
    event->index = next->index;
    event->kind = s_text (next->kind);
    event->topic = s_text (next->topic);
    event->message = next->message.data;
    event->message_size = next->message.len;
    event->id = next->id;
    event->from = s_text (next->from);
    event->to = s_text (next->to);
    event->text = s_text (next->text);
    event->ts = next->ts;
    event->ids = next->ids;
    event->id_count = next->n_ids;
    return true;
}

//  Delivery goes on from seq: what lies below is given up.
static void
s_skip_to (raftq_subscription_t *self, uint64_t seq)
{
    self->next_seq = seq;
    Raftq__Event *first;
    while ((first = (Raftq__Event *)zlistx_first (self->pending)) && first->seq < seq)
        zlistx_delete (self->pending, NULL);
}

//  Whether a live start can ask where the stream is: a private stream's
//  replay needs the token.
static bool
s_live_start_askable (raftq_subscription_t *self)
{
    return self->next_seq == 0 &&
           (!self->private_stream || strcmp (self->topic, self->stream) != 0);
}

//  True when events before some known one are missing, or a catch-up is due.
static bool
s_replay_needed (raftq_subscription_t *self)
{
    if (self->next_seq == 0)
        return s_live_start_askable (self); //  where the stream is: s_start_live
    return self->catching_up || self->highest_seen >= self->next_seq;
}

//  Reports the hole [next_seq, resume - 1] and goes on from resume.
static raftq_subscription_result_t
s_gap (raftq_subscription_t *self, uint64_t resume, raftq_gap_t *gap)
{
    gap->first = self->next_seq;
    gap->last = resume - 1;
    s_fail (self, "%s: events %" PRIu64 "-%" PRIu64 " are no longer retained by the cluster",
            self->stream, gap->first, gap->last);
    s_skip_to (self, resume);
    return RAFTQ_SUBSCRIPTION_GAP;
}

//  Takes the events of an OK replay reply into pending. Returns the lowest
//  usable seq it held (UINT64_MAX if none) and how many it held in *count.
static uint64_t
s_take_replayed (raftq_subscription_t *self, Raftq__Reply *reply, size_t *count)
{
    uint64_t lowest = UINT64_MAX;
    *count = 0;
    if (reply->result_case != RAFTQ__REPLY__RESULT_EVENTS)
        return lowest;
    Raftq__EventList *list = reply->events;
    *count = list->n_events;
    for (size_t index = 0; index < list->n_events; index++) {
        Raftq__Event *event = list->events[index];
        if (event->stream && streq (event->stream, self->stream) && event->seq >= self->next_seq &&
            event->seq < lowest)
            lowest = event->seq;
        //  Each event of an unpacked reply is its own allocation: detached
        //  here, it is freed alone later, and the reply frees the rest.
        list->events[index] = NULL;
        s_accept (self, event);
    }
    list->n_events = 0;
    return lowest;
}

//  One Replay of the stream from from_seq, limit events; *reply_p is the
//  reply to free (NULL when none came).
static raftq_code_t
s_replay_call (raftq_subscription_t *self, uint64_t from_seq, uint32_t limit,
               Raftq__Reply **reply_p)
{
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = self->stream;
    replay.from_seq = from_seq;
    replay.limit = limit;
    Raftq__Request request;
    raftq_wire_request (&request, RAFTQ__REQUEST__OP_REPLAY, &replay);
    return raftq_client_call (self->client, &request, reply_p);
}

//  Pauses the next replay: at once when there is something to hand out
//  or report, else after a backoff that doubles.
static void
s_pace_replays (raftq_subscription_t *self, bool progress)
{
    int64_t now = zclock_mono ();
    if (progress) {
        self->replay_backoff_ms = S_REPLAY_BACKOFF_MIN_MS;
        self->replay_at = now;
    } else {
        self->replay_at = now + self->replay_backoff_ms;
        self->replay_backoff_ms = self->replay_backoff_ms * 2 > S_REPLAY_BACKOFF_MAX_MS
                                      ? S_REPLAY_BACKOFF_MAX_MS
                                      : self->replay_backoff_ms * 2;
    }
}

//  Fixes where a live start (next_seq 0) begins: at the seq the stream's
//  next event gets, which a replay from past its end tells. Everything
//  from there on is delivered, although the SUB takes a moment to join,
//  and a private subscription may be confirmed only when made again, by a
//  node that had not yet applied the login. When no node tells, it is asked
//  again with the replays' backoff; meanwhile the first event to arrive
//  fixes the start, as with any ZeroMQ subscriber.
static void
s_start_live (raftq_subscription_t *self)
{
    Raftq__Reply *reply;
    raftq_code_t code = s_replay_call (self, INT64_MAX, 1, &reply);
    bool told = (code == RAFTQ_OK || code == RAFTQ_NOT_FOUND) && reply->next_seq > 0;
    //  Nothing is pending while next_seq is 0: next hands out at once
    //  whatever arrives first
    if (told) {
        self->next_seq = reply->next_seq;
        self->catching_up = true;
    } else
        s_fail (self, "where %s is now: %s: %s", self->stream, raftq_code_name (code),
                raftq_client_error (self->client));
    raftq__reply__free_unpacked (reply, NULL);
    s_pace_replays (self, told);
}

//  Asks the cluster for the stream from next_seq. Returns GAP or ERROR
//  when that is what the caller must hear, else NONE.
static raftq_subscription_result_t
s_replay (raftq_subscription_t *self, raftq_gap_t *gap)
{
    Raftq__Reply *reply;
    raftq_code_t code = s_replay_call (self, self->next_seq, self->replay_limit, &reply);
    raftq_subscription_result_t result = RAFTQ_SUBSCRIPTION_NONE;
    if (code == RAFTQ_OK) {
        self->refused_since = 0;
        size_t count;
        uint64_t lowest = s_take_replayed (self, reply, &count);
        //  A page may be short because of a byte limit: only an empty
        //  one says the replay has reached the end of the stream.
        if (count == 0)
            self->catching_up = false;
        if (lowest != UINT64_MAX && lowest > self->next_seq)
            result = s_gap (self, lowest, gap);
    } else if (code == RAFTQ_NOT_FOUND && reply->oldest_seq > self->next_seq)
        result = s_gap (self, reply->oldest_seq, gap);
    else if (code == RAFTQ_NOT_FOUND)
        //  Nothing retained from next_seq on: nothing was published yet.
        self->catching_up = false;
    else {
        s_fail (self, "replay of %s from %" PRIu64 ": %s: %s", self->stream, self->next_seq,
                raftq_code_name (code), raftq_client_error (self->client));
        //  Only a refusal is the caller's business; silence and elections
        //  are waited out. A refused token that a node once confirmed
        //  has ended: the same end as a "revoked" event, which a
        //  subscriber moving between nodes may never see. One never
        //  confirmed may be the caller's mistake (no token yet, or
        //  another user's): an error.
        bool refused = code == RAFTQ_UNAUTHENTICATED || code == RAFTQ_PERMISSION_DENIED;
        bool with_token = self->private_stream && strcmp (self->topic, self->stream) != 0;
        int64_t now = zclock_mono ();
        if (refused && with_token) {
            //  The node that answers may not have applied a fresh login
            //  yet: only a refusal that lasts counts
            if (!self->refused_since)
                self->refused_since = now;
            if (now - self->refused_since < S_REFUSAL_GRACE_MS)
                result = RAFTQ_SUBSCRIPTION_NONE;
            else if (self->granted)
                self->revoked = true;
            else
                result = RAFTQ_SUBSCRIPTION_ERROR;
        } else if (refused || code == RAFTQ_INVALID_ARGUMENT)
            result = RAFTQ_SUBSCRIPTION_ERROR;
    }
    raftq__reply__free_unpacked (reply, NULL);
    s_pace_replays (self, result == RAFTQ_SUBSCRIPTION_GAP || s_deliverable (self));
    return result;
}

//  The followed node has been quiet for the silence: is it still there
//  and part of a cluster with a leader? If not, the next node.
static void
s_probe (raftq_subscription_t *self)
{
    raftq_status_t status;
    raftq_code_t code = raftq_status (self->client, self->node, &status);
    if (code == RAFTQ_OK && status.leader_id != 0) {
        self->heard_at = zclock_mono ();
        self->catching_up = self->next_seq > 0;
        return;
    }
    if (code == RAFTQ_OK)
        s_fail (self, "%s knows no leader: moving on", self->pub_endpoints[self->node]);
    else
        s_fail (self, "%s is silent (%s): moving on", self->pub_endpoints[self->node],
                raftq_client_error (self->client));
    s_move_on (self);
}

//  A subscription over client, a client of the same count nodes (taken
//  over, destroyed on failure). NULL with error set when it cannot be made.
static raftq_subscription_t *
s_new (raftq_client_t *client, const char **pub_endpoints, size_t count, const char *stream,
       uint64_t from_seq, char *error, size_t error_size)
{
    snprintf (error, error_size, "no PUB endpoint, a bad one, or an empty stream name");
    if (!client || !pub_endpoints || count == 0 || !stream || !*stream) {
        raftq_client_destroy (&client);
        return NULL;
    }
    raftq_subscription_t *self = (raftq_subscription_t *)zmalloc (sizeof (raftq_subscription_t));
    if (!self) {
        raftq_client_destroy (&client);
        return NULL;
    }
    self->client = client;
    self->pub_endpoints = (char **)calloc (count + 1, sizeof (char *));
    self->stream = strdup (stream);
    //  Until a token is given, a private stream's SUB asks for the bare
    //  stream, which the broker never serves: next reports why.
    self->topic = strdup (stream);
    self->private_stream = strncmp (stream, "user/", 5) == 0 || strncmp (stream, "conv/", 5) == 0;
    self->pending = zlistx_new ();
    if (!self->client || !self->pub_endpoints || !self->stream || !self->topic || !self->pending) {
        raftq_subscription_destroy (&self);
        return NULL;
    }
    self->node_count = count;
    size_t first = count;
    for (size_t node = 0; node < count; node++) {
        self->pub_endpoints[node] = strdup (pub_endpoints[node] ? pub_endpoints[node] : "");
        if (!self->pub_endpoints[node]) {
            raftq_subscription_destroy (&self);
            return NULL;
        }
        if (first == count && *self->pub_endpoints[node])
            first = node;
    }
    zlistx_set_destructor (self->pending, s_event_destroy);
    zlistx_set_comparator (self->pending, s_event_compare);
    self->next_seq = from_seq;
    self->replay_limit = S_REPLAY_LIMIT_DEFAULT;
    raftq_subscription_set_silence (self, S_SILENCE_DEFAULT_MS);
    if (first == count || s_follow (self, first) == -1) {
        if (first < count)
            snprintf (error, error_size, "%s", self->error);
        raftq_subscription_destroy (&self);
        errno = EINVAL;
        return NULL;
    }
    if (s_live_start_askable (self))
        s_start_live (self);
    return self;
}

raftq_subscription_t *
raftq_subscription_new (const char **client_endpoints, const char **pub_endpoints, size_t count,
                        const char *stream, uint64_t from_seq)
{
    char error[512];
    raftq_client_t *client = client_endpoints ? raftq_client_new (client_endpoints, count) : NULL;
    return s_new (client, pub_endpoints, count, stream, from_seq, error, sizeof (error));
}

raftq_subscription_t *
raftq_subscription_new_curve (const char **client_endpoints, const char **pub_endpoints,
                              const char **server_keys, size_t count,
                              const char *client_certificate, const char *stream, uint64_t from_seq,
                              char *error, size_t error_size)
{
    raftq_client_t *client = raftq_client_new_curve (client_endpoints, server_keys, count,
                                                     client_certificate, error, error_size);
    if (!client)
        return NULL;
    return s_new (client, pub_endpoints, count, stream, from_seq, error, error_size);
}

raftq_subscription_t *
raftq_subscription_load (const char *config_path, const char *client_certificate,
                         const char *stream, uint64_t from_seq, char *error, size_t error_size)
{
    raftq_config_nodes_t nodes;
    if (raftq_config_nodes_read (&nodes, config_path, client_certificate, error, error_size))
        return NULL;
    raftq_subscription_t *self = raftq_subscription_new_curve (
        (const char **)nodes.endpoints, (const char **)nodes.pub_endpoints,
        (const char **)nodes.server_keys, nodes.count, nodes.certificate, stream, from_seq, error,
        error_size);
    raftq_config_nodes_clear (&nodes);
    return self;
}

raftq_subscription_t *
raftq_subscription_new_from_config (const char *config_path, const char *stream, uint64_t from_seq)
{
    char error[512];
    return raftq_subscription_load (config_path, NULL, stream, from_seq, error, sizeof (error));
}

void
raftq_subscription_destroy (raftq_subscription_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    raftq_subscription_t *self = *self_p;
    zsock_destroy (&self->subscriber);
    raftq_client_destroy (&self->client);
    raftq_strings_free (&self->pub_endpoints);
    zlistx_destroy (&self->pending);
    raftq__event__free_unpacked (self->delivered, NULL);
    free (self->stream);
    free (self->topic);
    free (self);
    *self_p = NULL;
}

//  Subscribes the SUB to topic again (unsubscribe, then subscribe): the
//  node sees a new subscription and decides on it afresh.
static void
s_subscribe_again (raftq_subscription_t *self, const char *old_topic)
{
    zsock_set_unsubscribe (self->subscriber, old_topic);
    zsock_set_subscribe (self->subscriber, self->topic);
    self->subscribed_at = zclock_mono ();
    self->confirmed = false;
}

//  Subscribes again when the node has not confirmed within the wait, and
//  waits twice as long for the next confirmation.
static void
s_subscribe_unconfirmed_again (raftq_subscription_t *self)
{
    s_subscribe_again (self, self->topic);
    self->confirm_wait_ms =
        self->confirm_wait_ms * 2 > S_CONFIRM_MAX_MS ? S_CONFIRM_MAX_MS : self->confirm_wait_ms * 2;
}

int
raftq_subscription_set_token (raftq_subscription_t *self, const char *token)
{
    if (raftq_client_set_token (self->client, token) == -1)
        return -1;
    if (!self->private_stream)
        return 0; //  topic streams are public: the token only goes with replays
    char *topic =
        token && *token ? zsys_sprintf ("%s#%s", self->stream, token) : strdup (self->stream);
    if (!topic)
        return -1;
    char *old_topic = self->topic;
    self->topic = topic;
    s_subscribe_again (self, old_topic);
    self->confirm_wait_ms = S_CONFIRM_MIN_MS;
    free (old_topic);
    //  A new token is a new chance: a revocation was of the old one.
    self->revoked = false;
    self->granted = false;
    if (s_live_start_askable (self))
        s_start_live (self);
    return 0;
}

void
raftq_subscription_set_silence (raftq_subscription_t *self, int silence_ms)
{
    self->silence_ms = silence_ms > 1 ? silence_ms : 2;
    //  A probe gets half the silence, a replay the whole of it: the
    //  caller is never held much longer than the silence it chose.
    raftq_client_set_attempt_timeout (self->client, self->silence_ms / 2);
    raftq_client_set_timeout (self->client, self->silence_ms);
}

void
raftq_subscription_set_replay_limit (raftq_subscription_t *self, uint32_t limit)
{
    self->replay_limit = limit ? limit : 1;
}

//  True while a private subscription with a token waits for the node's
//  "subscribed".
static bool
s_unconfirmed (raftq_subscription_t *self)
{
    return self->private_stream && !self->confirmed && strcmp (self->topic, self->stream) != 0;
}

//  Milliseconds until a timer of the subscription is due (0 if one is, or
//  an event is deliverable).
static int64_t
s_wait_ms (raftq_subscription_t *self, int64_t now)
{
    if (s_deliverable (self) || self->revoked)
        return 0;
    int64_t wait = self->heard_at + self->silence_ms - now;
    if (s_replay_needed (self) && self->replay_at - now < wait)
        wait = self->replay_at - now;
    if (s_unconfirmed (self) && self->subscribed_at + self->confirm_wait_ms - now < wait)
        wait = self->subscribed_at + self->confirm_wait_ms - now;
    return wait > 0 ? wait : 0;
}

raftq_subscription_result_t
raftq_subscription_next (raftq_subscription_t *self, int timeout_ms, raftq_event_t *event,
                         raftq_gap_t *gap)
{
    raftq__event__free_unpacked (self->delivered, NULL);
    self->delivered = NULL;
    if (self->private_stream && !self->token_told && strcmp (self->topic, self->stream) == 0) {
        //  Said once: the caller may still give a token.
        self->token_told = true;
        s_fail (self, "%s is private: it needs a session token of its user", self->stream);
        return RAFTQ_SUBSCRIPTION_ERROR;
    }
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : zclock_mono () + timeout_ms;
    while (!zsys_interrupted) {
        if (s_deliver (self, event))
            return RAFTQ_SUBSCRIPTION_EVENT;
        //  Nothing more comes under a revoked token, and replays are refused.
        if (self->revoked)
            return RAFTQ_SUBSCRIPTION_REVOKED;
        if (s_drain (self) > 0)
            continue;
        int64_t now = zclock_mono ();
        if (s_replay_needed (self) && now >= self->replay_at && self->next_seq == 0) {
            s_start_live (self);
            continue;
        }
        if (s_replay_needed (self) && now >= self->replay_at) {
            raftq_subscription_result_t result = s_replay (self, gap);
            if (result != RAFTQ_SUBSCRIPTION_NONE)
                return result;
            continue;
        }
        if (s_unconfirmed (self) && now - self->subscribed_at >= self->confirm_wait_ms) {
            s_subscribe_unconfirmed_again (self);
            continue;
        }
        if (now - self->heard_at >= self->silence_ms) {
            s_probe (self);
            continue;
        }
        if (now >= deadline)
            break;
        int64_t wait = s_wait_ms (self, now);
        if (deadline - now < wait)
            wait = deadline - now;
        zmq_pollitem_t item = {zsock_resolve (self->subscriber), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long)wait) == -1)
            break; //  interrupted: the caller decides what next
    }
    return RAFTQ_SUBSCRIPTION_NONE;
}

bool
raftq_subscription_confirmed (raftq_subscription_t *self)
{
    return !self->private_stream || self->confirmed;
}

void *
raftq_subscription_socket (raftq_subscription_t *self)
{
    return zsock_resolve (self->subscriber);
}

int
raftq_subscription_wait_ms (raftq_subscription_t *self)
{
    int64_t wait = s_wait_ms (self, zclock_mono ());
    return wait < INT_MAX ? (int)wait : INT_MAX;
}

uint64_t
raftq_subscription_next_seq (raftq_subscription_t *self)
{
    return self->next_seq;
}

const char *
raftq_subscription_endpoint (raftq_subscription_t *self)
{
    return self->pub_endpoints[self->node];
}

const char *
raftq_subscription_error (raftq_subscription_t *self)
{
    return self->error;
}
