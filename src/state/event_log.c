/*  event_log — stream sequences and the retained event window. See
    event_log.h.

    Each retained event sits in two lists: its stream's (oldest first, only
    ever cut at the head) and the log's (emit order, doubly linked, so an
    event evicted by its stream's bound leaves the middle in O(1)). A
    stream's retained events always carry consecutive sequences ending at
    its last_seq, which makes "is from_seq still retained" one comparison.
    Nothing here depends on hash-table order: the digest walks streams
    sorted by key and the window in emit order.
*/

#include <czmq.h>
#include <inttypes.h>

#include "util/error_text.h"
#include "state/event_log.h"
#include "util/must.h"

//  Bookkeeping charged to every retained event on top of its packed bytes,
//  so that a flood of tiny events is bounded too.
#define EVENT_LOG_OVERHEAD_BYTES 64

struct _stream_t;

//  One retained event.
typedef struct _retained_t {
    struct _stream_t *stream;         //  the stream it belongs to
    uint64_t seq;                     //  its sequence in that stream
    uint8_t *packed;                  //  the packed raftq.Event
    size_t size;                      //  its bytes
    struct _retained_t *stream_newer; //  next event of the same stream
    struct _retained_t *older;        //  previous event in emit order
    struct _retained_t *newer;        //  next event in emit order
} retained_t;

//  One event stream.
typedef struct _stream_t {
    char *key;             //  stream key, also its key in the table
    uint64_t last_seq;     //  sequence of its last event, 0 before any
    retained_t *oldest;    //  its oldest retained event
    retained_t *newest;    //  its newest retained event
    size_t retained_count; //  how many it retains
} stream_t;

struct _event_log_t {
    size_t per_stream;      //  events retained per stream at most
    size_t total_bytes;     //  accounted bytes retained over all streams at most
    zhashx_t *streams;      //  key -> stream_t, owns them
    retained_t *oldest;     //  oldest retained event of all
    retained_t *newest;     //  newest retained event of all
    size_t retained_count;  //  events retained
    size_t retained_bytes;  //  their accounted bytes
    Raftq__Event **pending; //  emitted, not yet taken
    size_t pending_count;   //  how many
    size_t pending_slots;   //  allocated slots in pending
};

static void
s_stream_destroy (void **item_p)
{
    stream_t *stream = (stream_t *)*item_p;
    if (stream) {
        //  Its retained events are freed with the log's list
        free (stream->key);
        free (stream);
        *item_p = NULL;
    }
}

event_log_t *
event_log_new (size_t per_stream, size_t total_bytes)
{
    event_log_t *self = (event_log_t *)must_zalloc (sizeof (event_log_t));
    self->per_stream = per_stream ? per_stream : 1;
    self->total_bytes = total_bytes ? total_bytes : 1;
    self->streams = zhashx_new ();
    //  Keys point into the items, which own them
    zhashx_set_key_duplicator (self->streams, NULL);
    zhashx_set_key_destructor (self->streams, NULL);
    zhashx_set_destructor (self->streams, s_stream_destroy);
    return self;
}

void
event_log_destroy (event_log_t **self_p)
{
    event_log_t *self = *self_p;
    if (self) {
        retained_t *retained = self->oldest;
        while (retained) {
            retained_t *newer = retained->newer;
            free (retained->packed);
            free (retained);
            retained = newer;
        }
        zhashx_destroy (&self->streams);
        for (size_t position = 0; position < self->pending_count; position++)
            raftq__event__free_unpacked (self->pending[position], NULL);
        free (self->pending);
        free (self);
        *self_p = NULL;
    }
}

static stream_t *
s_stream_lookup (event_log_t *self, const char *key)
{
    return key ? (stream_t *)zhashx_lookup (self->streams, key) : NULL;
}

static stream_t *
s_stream_require (event_log_t *self, const char *key)
{
    stream_t *stream = s_stream_lookup (self, key);
    if (!stream) {
        stream = (stream_t *)must_zalloc (sizeof (stream_t));
        stream->key = must_strdup (key);
        zhashx_insert (self->streams, stream->key, stream);
    }
    return stream;
}

static size_t
s_accounted (const retained_t *retained)
{
    return retained->size + EVENT_LOG_OVERHEAD_BYTES;
}

//  Drops the oldest retained event of stream (it must have one).
static void
s_drop_oldest_of (event_log_t *self, stream_t *stream)
{
    retained_t *retained = stream->oldest;
    stream->oldest = retained->stream_newer;
    if (!stream->oldest)
        stream->newest = NULL;
    stream->retained_count--;

    if (retained->older)
        retained->older->newer = retained->newer;
    else
        self->oldest = retained->newer;
    if (retained->newer)
        retained->newer->older = retained->older;
    else
        self->newest = retained->older;
    self->retained_count--;
    self->retained_bytes -= s_accounted (retained);
    free (retained->packed);
    free (retained);
}

//  Appends a new retained event (taking packed) to its stream's list and
//  the log's, and counts it.
static retained_t *
s_link_retained (event_log_t *self, stream_t *stream, uint64_t seq, uint8_t *packed, size_t size)
{
    retained_t *retained = (retained_t *)must_zalloc (sizeof (retained_t));
    retained->stream = stream;
    retained->seq = seq;
    retained->packed = packed;
    retained->size = size;

    if (stream->newest)
        stream->newest->stream_newer = retained;
    else
        stream->oldest = retained;
    stream->newest = retained;
    stream->retained_count++;

    retained->older = self->newest;
    if (self->newest)
        self->newest->newer = retained;
    else
        self->oldest = retained;
    self->newest = retained;
    self->retained_count++;
    self->retained_bytes += s_accounted (retained);
    return retained;
}

static void
s_retain (event_log_t *self, stream_t *stream, const Raftq__Event *event)
{
    size_t size = raftq__event__get_packed_size (event);
    uint8_t *packed = (uint8_t *)must_alloc (size);
    raftq__event__pack (event, packed);
    retained_t *retained = s_link_retained (self, stream, event->seq, packed, size);

    if (stream->retained_count > self->per_stream)
        s_drop_oldest_of (self, stream);
    //  The event just retained stays even when it alone passes the budget:
    //  a window must never be empty right after an emit
    while (self->retained_bytes > self->total_bytes && self->oldest != retained)
        s_drop_oldest_of (self, self->oldest->stream);
}

void
event_log_emit (event_log_t *self, Raftq__Event *event)
{
    assert (self);
    assert (event && event->stream);
    stream_t *stream = s_stream_require (self, event->stream);
    event->seq = ++stream->last_seq;
    s_retain (self, stream, event);
    if (self->pending_count == self->pending_slots) {
        self->pending_slots = self->pending_slots ? self->pending_slots * 2 : 4;
        self->pending = (Raftq__Event **)must_realloc (self->pending, self->pending_slots *
                                                                          sizeof (Raftq__Event *));
    }
    self->pending[self->pending_count++] = event;
}

void
event_log_take (event_log_t *self, Raftq__Event ***events, size_t *count)
{
    assert (self);
    *events = self->pending_count ? self->pending : NULL;
    *count = self->pending_count;
    if (!self->pending_count)
        free (self->pending);
    self->pending = NULL;
    self->pending_count = 0;
    self->pending_slots = 0;
}

static uint64_t
s_oldest_seq (const stream_t *stream)
{
    if (!stream)
        return 1;
    return stream->oldest ? stream->oldest->seq : stream->last_seq + 1;
}

int
event_log_replay (event_log_t *self, const char *stream_key, uint64_t from_seq, size_t limit,
                  size_t max_bytes, Raftq__EventList **list, uint64_t *oldest_seq)
{
    assert (self);
    assert (list && oldest_seq);
    stream_t *stream = s_stream_lookup (self, stream_key);
    *oldest_seq = s_oldest_seq (stream);
    *list = NULL;
    if (from_seq == 0)
        from_seq = *oldest_seq;
    if (from_seq < *oldest_seq)
        return -1;

    Raftq__EventList *events = (Raftq__EventList *)must_alloc (sizeof (Raftq__EventList));
    raftq__event_list__init (events);
    *list = events;
    retained_t *retained = stream ? stream->oldest : NULL;
    while (retained && retained->seq < from_seq)
        retained = retained->stream_newer;
    size_t used = 0;
    for (; retained && events->n_events < limit; retained = retained->stream_newer) {
        if (events->n_events > 0 && used + retained->size > max_bytes)
            break;
        Raftq__Event *event = raftq__event__unpack (NULL, retained->size, retained->packed);
        if (!event) {
            //  We packed these bytes ourselves: only memory can fail here
            fprintf (stderr, "event_log: cannot unpack a retained event\n");
            abort ();
        }
        events->events = (Raftq__Event **)must_realloc (
            events->events, (events->n_events + 1) * sizeof (Raftq__Event *));
        events->events[events->n_events++] = event;
        used += retained->size;
    }
    return 0;
}

void
event_log_forget (event_log_t *self, const char *stream_key)
{
    assert (self);
    stream_t *stream = s_stream_lookup (self, stream_key);
    while (stream && stream->oldest)
        s_drop_oldest_of (self, stream);
}

//  The tombstone of a retained message event: a "delete" of that id under
//  the same stream, seq and index. NULL when packed is no message event
//  with that id.
static Raftq__Event *
s_tombstone_of (const retained_t *retained, uint64_t message_id)
{
    Raftq__Event *event = raftq__event__unpack (NULL, retained->size, retained->packed);
    if (!event)
        return NULL; //  packed by this log: cannot happen, and then nothing to redact
    Raftq__Event *tombstone = NULL;
    if (event->id == message_id && strcmp (event->kind, "message") == 0) {
        tombstone = (Raftq__Event *)must_alloc (sizeof (Raftq__Event));
        raftq__event__init (tombstone);
        tombstone->stream = must_strdup (event->stream);
        tombstone->seq = event->seq;
        tombstone->index = event->index;
        tombstone->kind = must_strdup ("delete");
        tombstone->ids = (uint64_t *)must_memdup (&message_id, sizeof (uint64_t));
        tombstone->n_ids = 1;
    }
    raftq__event__free_unpacked (event, NULL);
    return tombstone;
}

void
event_log_redact (event_log_t *self, const char *stream_key, uint64_t message_id)
{
    assert (self);
    stream_t *stream = s_stream_lookup (self, stream_key);
    for (retained_t *retained = stream ? stream->oldest : NULL; retained;
         retained = retained->stream_newer) {
        Raftq__Event *tombstone = s_tombstone_of (retained, message_id);
        if (!tombstone)
            continue;
        //  In place: the seq stays, so the stream's numbering keeps no gap
        self->retained_bytes -= s_accounted (retained);
        free (retained->packed);
        retained->size = raftq__event__get_packed_size (tombstone);
        retained->packed = (uint8_t *)must_alloc (retained->size);
        raftq__event__pack (tombstone, retained->packed);
        self->retained_bytes += s_accounted (retained);
        raftq__event__free_unpacked (tombstone, NULL);
    }
}

uint64_t
event_log_last_seq (event_log_t *self, const char *stream_key)
{
    assert (self);
    stream_t *stream = s_stream_lookup (self, stream_key);
    return stream ? stream->last_seq : 0;
}

size_t
event_log_retained (event_log_t *self, size_t *bytes)
{
    assert (self);
    if (bytes)
        *bytes = self->retained_bytes;
    return self->retained_count;
}

static int
s_stream_compare (const void *first, const void *second)
{
    return strcmp ((*(stream_t *const *)first)->key, (*(stream_t *const *)second)->key);
}

//  Every stream, sorted by key so that nothing follows the table's order.
//  The caller frees the array.
static stream_t **
s_sorted_streams (event_log_t *self, size_t *count)
{
    *count = zhashx_size (self->streams);
    stream_t **streams = (stream_t **)must_alloc (*count * sizeof (stream_t *));
    size_t position = 0;
    for (stream_t *stream = (stream_t *)zhashx_first (self->streams); stream;
         stream = (stream_t *)zhashx_next (self->streams))
        streams[position++] = stream;
    qsort (streams, *count, sizeof (stream_t *), s_stream_compare);
    return streams;
}

void
event_log_digest (event_log_t *self, digest_t *digest)
{
    assert (self);
    size_t count;
    stream_t **streams = s_sorted_streams (self, &count);
    digest_u64 (digest, count);
    for (size_t position = 0; position < count; position++) {
        digest_string (digest, streams[position]->key);
        digest_u64 (digest, streams[position]->last_seq);
    }
    free (streams);

    //  Emit order decides what the byte bound evicts next: it is state too
    digest_u64 (digest, self->retained_count);
    for (retained_t *retained = self->oldest; retained; retained = retained->newer) {
        digest_string (digest, retained->stream->key);
        digest_u64 (digest, retained->seq);
        digest_bytes (digest, retained->packed, retained->size);
    }
}

//  --------------------------------------------------------------------------
//  Snapshots

void
event_log_snapshot_save (event_log_t *self, Raftq__State__EventLogState *state)
{
    assert (self);
    assert (state);
    raftq__state__event_log_state__init (state);
    //  Each repeated field is one block of structs (none when empty) plus
    //  the pointer array protobuf-c wants; element 0 is the block's start,
    //  for release
    size_t count;
    stream_t **streams = s_sorted_streams (self, &count);
    Raftq__State__StreamState *stream_states =
        count ? (Raftq__State__StreamState *)must_alloc (count * sizeof (Raftq__State__StreamState))
              : NULL;
    state->streams =
        (Raftq__State__StreamState **)must_alloc (count * sizeof (Raftq__State__StreamState *));
    state->n_streams = count;
    for (size_t position = 0; position < count; position++) {
        raftq__state__stream_state__init (&stream_states[position]);
        stream_states[position].key = streams[position]->key;
        stream_states[position].last_seq = streams[position]->last_seq;
        state->streams[position] = &stream_states[position];
    }
    free (streams);

    Raftq__State__RetainedEvent *events =
        self->retained_count ? (Raftq__State__RetainedEvent *)must_alloc (
                                   self->retained_count * sizeof (Raftq__State__RetainedEvent))
                             : NULL;
    state->retained = (Raftq__State__RetainedEvent **)must_alloc (
        self->retained_count * sizeof (Raftq__State__RetainedEvent *));
    size_t position = 0;
    for (retained_t *retained = self->oldest; retained; retained = retained->newer) {
        raftq__state__retained_event__init (&events[position]);
        events[position].stream = retained->stream->key;
        events[position].seq = retained->seq;
        events[position].event.data = retained->packed;
        events[position].event.len = retained->size;
        state->retained[position] = &events[position];
        position++;
    }
    state->n_retained = position;
}

void
event_log_snapshot_release (Raftq__State__EventLogState *state)
{
    if (!state)
        return;
    free (state->n_streams ? state->streams[0] : NULL);
    free (state->streams);
    free (state->n_retained ? state->retained[0] : NULL);
    free (state->retained);
    raftq__state__event_log_state__init (state);
}

//  True if packed decodes to an event of stream_key with sequence seq:
//  Replay unpacks retained events and may trust them only then.
static bool
s_is_event_of (const ProtobufCBinaryData *packed, const char *stream_key, uint64_t seq)
{
    Raftq__Event *event = raftq__event__unpack (NULL, packed->len, packed->data);
    bool matches = event && event->stream && streq (event->stream, stream_key) && event->seq == seq;
    raftq__event__free_unpacked (event, NULL);
    return matches;
}

int
event_log_snapshot_load (event_log_t *self, Raftq__State__EventLogState *state, char *error,
                         size_t error_size)
{
    assert (self);
    assert (state);
    assert (zhashx_size (self->streams) == 0);
    for (size_t position = 0; position < state->n_streams; position++) {
        const Raftq__State__StreamState *stream_state = state->streams[position];
        if (!stream_state->key || !*stream_state->key)
            return error_text_set (error, error_size, "an event stream has no key");
        if (s_stream_lookup (self, stream_state->key))
            return error_text_set (error, error_size, "event stream '%s' appears twice",
                                   stream_state->key);
        s_stream_require (self, stream_state->key)->last_seq = stream_state->last_seq;
    }
    for (size_t position = 0; position < state->n_retained; position++) {
        Raftq__State__RetainedEvent *event = state->retained[position];
        stream_t *stream = s_stream_lookup (self, event->stream);
        if (!stream)
            return error_text_set (error, error_size, "a retained event names unknown stream '%s'",
                                   event->stream ? event->stream : "");
        //  A stream's window holds consecutive sequences ending at its
        //  last_seq: Replay relies on it to tell what is still retained
        uint64_t expected = stream->newest ? stream->newest->seq + 1 : event->seq;
        if (event->seq == 0 || event->seq != expected || event->seq > stream->last_seq)
            return error_text_set (error, error_size,
                                   "retained event %" PRIu64 " of stream '%s' is out of sequence",
                                   event->seq, stream->key);
        if (!s_is_event_of (&event->event, stream->key, event->seq))
            return error_text_set (error, error_size,
                                   "retained event %" PRIu64
                                   " of stream '%s' does not decode as one",
                                   event->seq, stream->key);
        s_link_retained (self, stream, event->seq, event->event.data, event->event.len);
        event->event.data = NULL;
        event->event.len = 0;
    }
    for (stream_t *stream = (stream_t *)zhashx_first (self->streams); stream;
         stream = (stream_t *)zhashx_next (self->streams))
        if (stream->newest && stream->newest->seq != stream->last_seq)
            return error_text_set (error, error_size,
                                   "the window of stream '%s' does not end at its last event",
                                   stream->key);
    return 0;
}
