/*  fsm — the replicated state machine: topics with their FIFO queues, the
    chat state, the event streams and the exactly-once table of client
    replies. Chat lives in chat.c and the streams with their retained window
    in event_log.c; this file dispatches commands, owns the queues and the
    exactly-once table, and combines everything into the state hash.

    Determinism: apply reads only the state and the entry. Nothing that
    reaches a reply, an event or the state hash depends on a clock, a random
    source, the node id, pointer values or hash-table iteration order: topics
    are listed and hashed in creation order, clients are hashed sorted by id,
    and the exactly-once table evicts by log index.

    Decisions:
    - Topic names are 1..max_topic_name bytes of valid UTF-8 without control
      characters (C0, DEL, C1). '/' is allowed: a topic's stream key is
      "topic/<name>" and subscribers match on the "topic/" prefix only. A NUL
      ends a name (protobuf-c strings are C strings), on every node alike.
    - Exactly-once applies when client_id and seq are both non-zero; seq 0
      means "no retry protection" as in raftq.Request. Every reply an applied
      request produced is remembered, errors included, so a retry gets the
      same answer. A retry (seq == remembered) and a stale request (seq <
      remembered) change nothing, not even the client's place in the
      eviction order. A client evicted from a full table loses its
      protection: its retry would apply again.
    - Messages of a topic hold contiguous sequences (pops take the oldest), so
      a queued message's sequence is derived, not stored.
    - Every chat operation goes through the log, reads included:
      ReadMessages marks messages read, and CheckUser and ListAccounts are
      linearizable that way, like ListTopics.
    - The retained events live here, in the replicated state, not in the
      server: every node then replays the same events under the same
      sequences, whichever node a subscriber falls back to, and the window
      is in the state hash. Replay itself is a local read (fsm_replay), not
      a log entry.
    - Out of memory aborts the process: a node that cannot apply an entry
      must stop rather than diverge from the others.
    - A snapshot (fsm_snapshot_save / fsm_snapshot_load) carries everything
      above that a later apply can observe, in the order it depends on:
      topics in creation order with their queues and publish counts,
      clients in eviction order, the streams and the retained window in
      emit order, and the chat state. Ring capacities and hash-table
      layouts are not state: a restored fsm may allocate differently, but
      hashes and answers the same. Restoring checks the invariants apply
      relies on and refuses a state that breaks one, since the reply and
      event bytes in it are later unpacked on trust.
*/

#include <czmq.h>
#include <sodium.h>
#include <inttypes.h>
#include <stdarg.h>

#include "util/digest.h"
#include "state/event_log.h"
#include "state/fsm.h"
#include "util/must.h"
#include "util/utf8.h"

#define FSM_DEFAULT_MAX_CLIENTS     100000
#define FSM_DEFAULT_MAX_TOPIC_NAME  255
#define FSM_DEFAULT_MAX_PAYLOAD     (1024 * 1024)
#define FSM_DEFAULT_RETENTION       1000
#define FSM_DEFAULT_RETENTION_BYTES (64 * 1024 * 1024)
#define FSM_RING_MIN                8
//  Replay: events per answer by default and at most, and the bytes one
//  answer may carry (a bigger first event still goes out alone)
#define FSM_REPLAY_DEFAULT_LIMIT 100
#define FSM_REPLAY_MAX_LIMIT     1000
#define FSM_REPLAY_MAX_BYTES     (4 * 1024 * 1024)
#define FSM_HASH_DOMAIN          "raftq.fsm.state.v2"

//  One queued message.
typedef struct {
    uint8_t *data; //  payload (malloc'd, NULL when empty)
    size_t size;   //  payload bytes
} message_t;

//  A topic and its FIFO queue, a ring buffer so publish and pop are O(1).
typedef struct {
    char *name;             //  topic name, also its key in fsm.topics
    char *stream;           //  its event stream key, "topic/<name>"
    uint64_t publish_count; //  messages ever published: the newest one's sequence
    message_t *ring;        //  queued messages, the oldest at ring [head]
    size_t capacity;        //  slots in ring, 0 or a power of two
    size_t head;            //  slot of the oldest queued message
    size_t count;           //  messages queued
} topic_t;

//  What the exactly-once table remembers about one client.
typedef struct _client_t {
    uint64_t id;             //  client_id, also its key in fsm.clients
    uint64_t seq;            //  latest seq applied for it
    uint8_t *reply;          //  packed raftq.Reply that seq got
    size_t reply_size;       //  its bytes
    uint64_t last_index;     //  log index of that apply: eviction order
    struct _client_t *older; //  previous client in use order, NULL for the oldest
    struct _client_t *newer; //  next client in use order, NULL for the newest
} client_t;

struct _fsm_t {
    fsm_options_t options;  //  limits, defaults filled in
    uint64_t applied_index; //  index of the last entry applied
    zhashx_t *topics;       //  name -> topic_t (lookup only; order from topic_order)
    topic_t **topic_order;  //  topics in creation order; owns them
    size_t topic_count;     //  topics in topic_order
    size_t topic_slots;     //  allocated slots in topic_order
    event_log_t *events;    //  stream sequences and retained events
    chat_t *chat;           //  accounts, sessions, direct messages
    zhashx_t *clients;      //  client id -> client_t, owns them
    client_t *oldest;       //  least recently applied client: evicted first
    client_t *newest;       //  most recently applied client
};

//  --------------------------------------------------------------------------
//  Hash-table callbacks

static void
s_client_destroy (void **item_p)
{
    client_t *client = (client_t *)*item_p;
    if (client) {
        free (client->reply);
        free (client);
        *item_p = NULL;
    }
}

//  Client ids are random u64s, but a hostile client picks its own: mix all
//  bits (splitmix64 finalizer) so bucket choice does not follow the low bits.
static size_t
s_client_id_hash (const void *key)
{
    uint64_t value = *(const uint64_t *)key;
    value ^= value >> 30;
    value *= 0xbf58476d1ce4e5b9ULL;
    value ^= value >> 27;
    value *= 0x94d049bb133111ebULL;
    value ^= value >> 31;
    return (size_t)value;
}

static int
s_client_id_compare (const void *first, const void *second)
{
    uint64_t first_id = *(const uint64_t *)first;
    uint64_t second_id = *(const uint64_t *)second;
    return first_id < second_id ? -1 : first_id > second_id ? 1 : 0;
}

//  --------------------------------------------------------------------------
//  Topics

static topic_t *
s_topic_new (const char *name)
{
    topic_t *topic = (topic_t *)must_zalloc (sizeof (topic_t));
    topic->name = must_strdup (name);
    topic->stream = must_format ("topic/%s", name);
    return topic;
}

static void
s_topic_destroy (topic_t **self_p)
{
    topic_t *self = *self_p;
    if (self) {
        for (size_t position = 0; position < self->count; position++)
            free (self->ring[(self->head + position) & (self->capacity - 1)].data);
        free (self->ring);
        free (self->name);
        free (self->stream);
        free (self);
        *self_p = NULL;
    }
}

//  Moves the queue into a ring of new_capacity slots, oldest first.
static void
s_topic_resize (topic_t *self, size_t new_capacity)
{
    message_t *ring = (message_t *)must_alloc (new_capacity * sizeof (message_t));
    for (size_t position = 0; position < self->count; position++)
        ring[position] = self->ring[(self->head + position) & (self->capacity - 1)];
    free (self->ring);
    self->ring = ring;
    self->capacity = new_capacity;
    self->head = 0;
}

//  Takes ownership of data. Returns the message's sequence.
static uint64_t
s_topic_push (topic_t *self, uint8_t *data, size_t size)
{
    if (self->count == self->capacity)
        s_topic_resize (self, self->capacity ? self->capacity * 2 : FSM_RING_MIN);
    self->ring[(self->head + self->count) & (self->capacity - 1)] = (message_t){data, size};
    self->count++;
    return ++self->publish_count;
}

//  Sequence of the queued message at position (0: the oldest).
static uint64_t
s_topic_sequence (topic_t *self, size_t position)
{
    return self->publish_count - self->count + 1 + position;
}

//  Removes the oldest message (the queue must not be empty); the caller owns
//  its data. Shrinks the ring when mostly empty so a drained burst gives its
//  memory back; halving at a quarter keeps pops amortized O(1).
static message_t
s_topic_pop (topic_t *self, uint64_t *sequence)
{
    *sequence = s_topic_sequence (self, 0);
    message_t message = self->ring[self->head];
    self->head = (self->head + 1) & (self->capacity - 1);
    self->count--;
    if (self->capacity > FSM_RING_MIN && self->count <= self->capacity / 4)
        s_topic_resize (self, self->capacity / 2);
    return message;
}

//  --------------------------------------------------------------------------
//  Constructor and destructor

fsm_t *
fsm_new (const fsm_options_t *options)
{
    //  Only selects the fastest BLAKE2b code; safe to call more than once.
    if (sodium_init () < 0)
        return NULL;
    fsm_t *self = (fsm_t *)zmalloc (sizeof (fsm_t));
    if (options)
        self->options = *options;
    if (self->options.max_clients == 0)
        self->options.max_clients = FSM_DEFAULT_MAX_CLIENTS;
    if (self->options.max_topic_name == 0)
        self->options.max_topic_name = FSM_DEFAULT_MAX_TOPIC_NAME;
    if (self->options.max_payload_bytes == 0)
        self->options.max_payload_bytes = FSM_DEFAULT_MAX_PAYLOAD;
    if (self->options.event_retention == 0)
        self->options.event_retention = FSM_DEFAULT_RETENTION;
    if (self->options.event_retention_bytes == 0)
        self->options.event_retention_bytes = FSM_DEFAULT_RETENTION_BYTES;

    //  Keys point into the items, which own them.
    self->topics = zhashx_new ();
    zhashx_set_key_duplicator (self->topics, NULL);
    zhashx_set_key_destructor (self->topics, NULL);

    self->events =
        event_log_new (self->options.event_retention, self->options.event_retention_bytes);
    self->chat = chat_new (&self->options.chat, self->events);

    self->clients = zhashx_new ();
    zhashx_set_key_duplicator (self->clients, NULL);
    zhashx_set_key_destructor (self->clients, NULL);
    zhashx_set_key_hasher (self->clients, s_client_id_hash);
    zhashx_set_key_comparator (self->clients, s_client_id_compare);
    zhashx_set_destructor (self->clients, s_client_destroy);
    return self;
}

void
fsm_destroy (fsm_t **self_p)
{
    assert (self_p);
    fsm_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->topics);
        for (size_t position = 0; position < self->topic_count; position++)
            s_topic_destroy (&self->topic_order[position]);
        free (self->topic_order);
        chat_destroy (&self->chat);
        event_log_destroy (&self->events);
        zhashx_destroy (&self->clients);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Replies and events, allocated the way protobuf-c's unpack would, so that
//  raftq__reply__free_unpacked (reply, NULL) frees them.

static Raftq__Reply *
s_reply_new (Raftq__Code code, uint64_t index, uint64_t seq)
{
    Raftq__Reply *reply = (Raftq__Reply *)must_alloc (sizeof (Raftq__Reply));
    raftq__reply__init (reply);
    reply->code = code;
    reply->index = index;
    reply->seq = seq;
    return reply;
}

static Raftq__Reply *
s_reply_error (Raftq__Code code, uint64_t index, uint64_t seq, const char *format, ...)
{
    Raftq__Reply *reply = s_reply_new (code, index, seq);
    va_list args;
    va_start (args, format);
    reply->error = must_vformat (format, args);
    va_end (args);
    return reply;
}

static Raftq__Reply *
s_reply_unpack (const uint8_t *data, size_t size)
{
    Raftq__Reply *reply = raftq__reply__unpack (NULL, size, data);
    if (!reply) {
        //  We packed these bytes ourselves: only memory can fail here.
        fprintf (stderr, "fsm: cannot unpack a remembered reply\n");
        abort ();
    }
    return reply;
}

//  Emits a publish event on the topic's stream. Takes ownership of message.
static void
s_emit_publish (fsm_t *self, topic_t *topic, uint64_t index, uint8_t *message, size_t size)
{
    Raftq__Event *event = (Raftq__Event *)must_alloc (sizeof (Raftq__Event));
    raftq__event__init (event);
    event->stream = must_strdup (topic->stream);
    event->index = index;
    event->kind = must_strdup ("publish");
    event->topic = must_strdup (topic->name);
    event->message.data = message;
    event->message.len = size;
    event_log_emit (self->events, event);
}

//  --------------------------------------------------------------------------
//  Validation

//  Returns NULL if name is acceptable, else why not.
static const char *
s_topic_name_problem (fsm_t *self, const char *name)
{
    if (!name || !*name)
        return "topic name is empty";
    size_t size = strlen (name);
    if (size > self->options.max_topic_name)
        return "topic name is too long";

    const uint8_t *cursor = (const uint8_t *)name;
    const uint8_t *end = cursor + size;
    while (cursor < end) {
        uint32_t code_point;
        size_t length = utf8_sequence (cursor, (size_t)(end - cursor), &code_point);
        if (!length)
            return "topic name is not valid UTF-8";
        if (code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F))
            return "topic name contains a control character";
        cursor += length;
    }
    return NULL;
}

//  Writes a validation failure into code and error; returns -1.
static int
s_refuse (Raftq__Code code, const char *text, Raftq__Code *code_p, char *error, size_t error_size)
{
    if (code_p)
        *code_p = code;
    if (error && error_size)
        snprintf (error, error_size, "%s", text);
    return -1;
}

int
fsm_validate (fsm_t *self, const Raftq__State__Command *command, Raftq__Code *code, char *error,
              size_t error_size)
{
    assert (self);
    assert (command);
    if (chat_handles (command))
        return chat_validate (self->chat, command, code, error, error_size);

    //  Every queue operation but ListTopics names a topic; a case without
    //  its message (a command built in memory) has no operation either.
    bool names_topic = false;
    const char *topic_name = NULL;
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC:
        names_topic = command->create_topic != NULL;
        topic_name = names_topic ? command->create_topic->name : NULL;
        break;
    case RAFTQ__STATE__COMMAND__OP_LIST_TOPICS:
        if (command->list_topics)
            return 0;
        break;
    case RAFTQ__STATE__COMMAND__OP_PUBLISH:
        names_topic = command->publish != NULL;
        if (names_topic && command->publish->payload.len > self->options.max_payload_bytes) {
            char text[128];
            snprintf (text, sizeof text, "payload of %zu bytes exceeds the limit of %zu",
                      command->publish->payload.len, self->options.max_payload_bytes);
            return s_refuse (RAFTQ__CODE__TOO_LARGE, text, code, error, error_size);
        }
        topic_name = names_topic ? command->publish->topic : NULL;
        break;
    case RAFTQ__STATE__COMMAND__OP_POP:
        names_topic = command->pop != NULL;
        topic_name = names_topic ? command->pop->topic : NULL;
        break;
    default:
        break;
    }
    if (!names_topic)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, "command has no operation", code, error,
                         error_size);
    const char *problem = s_topic_name_problem (self, topic_name);
    if (problem)
        return s_refuse (RAFTQ__CODE__INVALID_ARGUMENT, problem, code, error, error_size);
    return 0;
}

int
fsm_check_credentials (fsm_t *self, const char *user, const char *password, Raftq__Code *code,
                       char *error, size_t error_size)
{
    assert (self);
    return chat_check_credentials (self->chat, user, password, code, error, error_size);
}

const char *
fsm_password_hash (fsm_t *self, const char *user)
{
    assert (self);
    return chat_password_hash (self->chat, user);
}

//  --------------------------------------------------------------------------
//  Queue operations. Each returns the reply; the command is validated already.

//  Adds a new topic (the name must be free) after the existing ones.
static topic_t *
s_topic_add (fsm_t *self, const char *name)
{
    topic_t *topic = s_topic_new (name);
    if (self->topic_count == self->topic_slots) {
        self->topic_slots = self->topic_slots ? self->topic_slots * 2 : 16;
        self->topic_order =
            (topic_t **)must_realloc (self->topic_order, self->topic_slots * sizeof (topic_t *));
    }
    self->topic_order[self->topic_count++] = topic;
    zhashx_insert (self->topics, topic->name, topic);
    return topic;
}

static Raftq__Reply *
s_create_topic (fsm_t *self, const char *name, uint64_t index, uint64_t seq)
{
    if (zhashx_lookup (self->topics, name))
        return s_reply_error (RAFTQ__CODE__ALREADY_EXISTS, index, seq, "topic '%s' already exists",
                              name);
    s_topic_add (self, name);
    return s_reply_new (RAFTQ__CODE__OK, index, seq);
}

static Raftq__Reply *
s_list_topics (fsm_t *self, uint64_t index, uint64_t seq)
{
    Raftq__Reply *reply = s_reply_new (RAFTQ__CODE__OK, index, seq);
    Raftq__TopicList *list = (Raftq__TopicList *)must_alloc (sizeof (Raftq__TopicList));
    raftq__topic_list__init (list);
    if (self->topic_count) {
        list->names = (char **)must_alloc (self->topic_count * sizeof (char *));
        for (size_t position = 0; position < self->topic_count; position++)
            list->names[position] = must_strdup (self->topic_order[position]->name);
        list->n_names = self->topic_count;
    }
    reply->result_case = RAFTQ__REPLY__RESULT_TOPICS;
    reply->topics = list;
    return reply;
}

static topic_t *
s_topic_lookup (fsm_t *self, const char *name)
{
    return (topic_t *)zhashx_lookup (self->topics, name);
}

//  Takes the payload out of publish (the command is freed after apply).
static Raftq__Reply *
s_publish (fsm_t *self, Raftq__Publish *publish, uint64_t index, uint64_t seq)
{
    topic_t *topic = s_topic_lookup (self, publish->topic);
    if (!topic)
        return s_reply_error (RAFTQ__CODE__NOT_FOUND, index, seq, "topic '%s' does not exist",
                              publish->topic);

    //  The payload moves from the command into the queue: no copy
    uint8_t *payload = publish->payload.data;
    size_t size = publish->payload.len;
    publish->payload.data = NULL;
    publish->payload.len = 0;
    if (size == 0) {
        free (payload); //  an empty payload may still own a buffer
        payload = NULL;
    }

    s_emit_publish (self, topic, index, (uint8_t *)must_memdup (payload, size), size);
    uint64_t sequence = s_topic_push (topic, payload, size);

    Raftq__Reply *reply = s_reply_new (RAFTQ__CODE__OK, index, seq);
    Raftq__Published *published = (Raftq__Published *)must_alloc (sizeof (Raftq__Published));
    raftq__published__init (published);
    published->topic = must_strdup (topic->name);
    published->sequence = sequence;
    reply->result_case = RAFTQ__REPLY__RESULT_PUBLISHED;
    reply->published = published;
    return reply;
}

static Raftq__Reply *
s_pop (fsm_t *self, const char *name, uint64_t index, uint64_t seq)
{
    topic_t *topic = s_topic_lookup (self, name);
    if (!topic)
        return s_reply_error (RAFTQ__CODE__NOT_FOUND, index, seq, "topic '%s' does not exist",
                              name);
    if (topic->count == 0)
        return s_reply_error (RAFTQ__CODE__EMPTY, index, seq, "topic '%s' is empty", name);

    Raftq__Popped *popped = (Raftq__Popped *)must_alloc (sizeof (Raftq__Popped));
    raftq__popped__init (popped);
    message_t message = s_topic_pop (topic, &popped->sequence);
    popped->topic = must_strdup (topic->name);
    popped->payload.data = message.data; //  moves: the reply frees it
    popped->payload.len = message.size;

    Raftq__Reply *reply = s_reply_new (RAFTQ__CODE__OK, index, seq);
    reply->result_case = RAFTQ__REPLY__RESULT_POPPED;
    reply->popped = popped;
    return reply;
}

static Raftq__Reply *
s_execute (fsm_t *self, Raftq__State__Command *command, uint64_t index)
{
    Raftq__Code code;
    char error[256];
    if (fsm_validate (self, command, &code, error, sizeof error))
        return s_reply_error (code, index, command->seq, "%s", error);

    if (chat_handles (command)) {
        Raftq__Reply *reply = s_reply_new (RAFTQ__CODE__OK, index, command->seq);
        chat_execute (self->chat, command, index, reply);
        return reply;
    }
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC:
        return s_create_topic (self, command->create_topic->name, index, command->seq);
    case RAFTQ__STATE__COMMAND__OP_LIST_TOPICS:
        return s_list_topics (self, index, command->seq);
    case RAFTQ__STATE__COMMAND__OP_PUBLISH:
        return s_publish (self, command->publish, index, command->seq);
    case RAFTQ__STATE__COMMAND__OP_POP:
        return s_pop (self, command->pop->topic, index, command->seq);
    default:
        //  fsm_validate refuses every other case
        return s_reply_error (RAFTQ__CODE__INTERNAL, index, command->seq, "unknown operation");
    }
}

//  --------------------------------------------------------------------------
//  Exactly-once table

static void
s_client_unlink (fsm_t *self, client_t *client)
{
    if (client->older)
        client->older->newer = client->newer;
    else
        self->oldest = client->newer;
    if (client->newer)
        client->newer->older = client->older;
    else
        self->newest = client->older;
    client->older = client->newer = NULL;
}

static void
s_client_append (fsm_t *self, client_t *client)
{
    client->older = self->newest;
    client->newer = NULL;
    if (self->newest)
        self->newest->newer = client;
    else
        self->oldest = client;
    self->newest = client;
}

//  Remembers reply as client_id's answer to seq, applied at index. Indexes
//  only grow, so the use list stays sorted by last_index: the oldest is the
//  one with the lowest index, evicted in O(1).
static void
s_remember (fsm_t *self, client_t *client, uint64_t client_id, uint64_t seq, uint64_t index,
            const Raftq__Reply *reply)
{
    if (client)
        s_client_unlink (self, client);
    else {
        if (zhashx_size (self->clients) >= self->options.max_clients) {
            client_t *evicted = self->oldest;
            s_client_unlink (self, evicted);
            zhashx_delete (self->clients, &evicted->id);
        }
        client = (client_t *)zmalloc (sizeof (client_t));
        client->id = client_id;
        zhashx_insert (self->clients, &client->id, client);
    }
    free (client->reply);
    client->reply_size = raftq__reply__get_packed_size (reply);
    client->reply = (uint8_t *)must_alloc (client->reply_size);
    raftq__reply__pack (reply, client->reply);
    client->seq = seq;
    client->last_index = index;
    s_client_append (self, client);
}

//  --------------------------------------------------------------------------
//  Apply

int
fsm_apply (fsm_t *self, uint64_t index, const uint8_t *data, size_t size, fsm_output_t *output)
{
    assert (self);
    assert (output);
    memset (output, 0, sizeof (fsm_output_t));
    if (index != self->applied_index + 1)
        return -1;
    self->applied_index = index;

    Raftq__State__Command *command =
        data || size == 0 ? raftq__state__command__unpack (NULL, size, data) : NULL;
    if (!command) {
        output->reply = s_reply_error (RAFTQ__CODE__INTERNAL, index, 0, "undecodable command");
        return 0;
    }
    bool is_protected = command->client_id != 0 && command->seq != 0;
    client_t *client =
        is_protected ? (client_t *)zhashx_lookup (self->clients, &command->client_id) : NULL;
    if (client && command->seq < client->seq)
        output->reply =
            s_reply_error (RAFTQ__CODE__INVALID_ARGUMENT, index, command->seq,
                           "stale request: seq %" PRIu64 " already superseded", command->seq);
    else if (client && command->seq == client->seq)
        output->reply = s_reply_unpack (client->reply, client->reply_size);
    else {
        output->reply = s_execute (self, command, index);
        if (is_protected)
            s_remember (self, client, command->client_id, command->seq, index, output->reply);
    }
    event_log_take (self->events, &output->events, &output->event_count);
    raftq__state__command__free_unpacked (command, NULL);
    return 0;
}

int
fsm_skip (fsm_t *self, uint64_t index)
{
    assert (self);
    if (index != self->applied_index + 1)
        return -1;
    self->applied_index = index;
    return 0;
}

void
fsm_output_clear (fsm_output_t *output)
{
    assert (output);
    raftq__reply__free_unpacked (output->reply, NULL);
    for (size_t position = 0; position < output->event_count; position++)
        raftq__event__free_unpacked (output->events[position], NULL);
    free (output->events);
    memset (output, 0, sizeof (fsm_output_t));
}

uint64_t
fsm_applied_index (fsm_t *self)
{
    assert (self);
    return self->applied_index;
}

Raftq__Reply *
fsm_cached_reply (fsm_t *self, uint64_t client_id, uint64_t seq)
{
    assert (self);
    if (client_id == 0 || seq == 0)
        return NULL;
    client_t *client = (client_t *)zhashx_lookup (self->clients, &client_id);
    if (!client || client->seq != seq)
        return NULL;
    return s_reply_unpack (client->reply, client->reply_size);
}

//  --------------------------------------------------------------------------
//  Replay

Raftq__Reply *
fsm_replay (fsm_t *self, const Raftq__Replay *replay)
{
    assert (self);
    if (!replay || !replay->stream || !*replay->stream)
        return s_reply_error (RAFTQ__CODE__INVALID_ARGUMENT, 0, 0, "replay needs a stream");
    size_t limit = replay->limit ? replay->limit : FSM_REPLAY_DEFAULT_LIMIT;
    if (limit > FSM_REPLAY_MAX_LIMIT)
        limit = FSM_REPLAY_MAX_LIMIT;
    Raftq__EventList *events = NULL;
    uint64_t oldest_seq = 0;
    Raftq__Reply *reply;
    if (event_log_replay (self->events, replay->stream, replay->from_seq, limit,
                          FSM_REPLAY_MAX_BYTES, &events, &oldest_seq))
        reply =
            s_reply_error (RAFTQ__CODE__NOT_FOUND, self->applied_index, 0,
                           "events of stream '%s' before seq %" PRIu64 " are no longer retained",
                           replay->stream, oldest_seq);
    else {
        reply = s_reply_new (RAFTQ__CODE__OK, self->applied_index, 0);
        reply->result_case = RAFTQ__REPLY__RESULT_EVENTS;
        reply->events = events;
    }
    reply->oldest_seq = oldest_seq;
    return reply;
}

//  --------------------------------------------------------------------------
//  State hash

static int
s_client_compare (const void *first, const void *second)
{
    return s_client_id_compare (&(*(client_t *const *)first)->id,
                                &(*(client_t *const *)second)->id);
}

uint64_t
fsm_state_hash (fsm_t *self)
{
    assert (self);
    digest_t *digest = digest_new (FSM_HASH_DOMAIN);
    digest_u64 (digest, self->applied_index);

    digest_u64 (digest, self->topic_count);
    for (size_t position = 0; position < self->topic_count; position++) {
        topic_t *topic = self->topic_order[position];
        digest_string (digest, topic->name);
        digest_u64 (digest, topic->publish_count);
        digest_u64 (digest, topic->count);
        for (size_t queued = 0; queued < topic->count; queued++) {
            message_t *message = &topic->ring[(topic->head + queued) & (topic->capacity - 1)];
            digest_u64 (digest, s_topic_sequence (topic, queued));
            digest_bytes (digest, message->data, message->size);
        }
    }
    event_log_digest (self->events, digest);
    chat_digest (self->chat, digest);

    //  Clients sorted by id, so the hash does not follow bucket order
    size_t client_count = zhashx_size (self->clients);
    client_t **clients = (client_t **)must_alloc (client_count * sizeof (client_t *));
    size_t position = 0;
    for (client_t *client = (client_t *)zhashx_first (self->clients); client;
         client = (client_t *)zhashx_next (self->clients))
        clients[position++] = client;
    qsort (clients, client_count, sizeof (client_t *), s_client_compare);
    digest_u64 (digest, client_count);
    for (position = 0; position < client_count; position++) {
        digest_u64 (digest, clients[position]->id);
        digest_u64 (digest, clients[position]->seq);
        digest_u64 (digest, clients[position]->last_index);
        digest_bytes (digest, clients[position]->reply, clients[position]->reply_size);
    }
    free (clients);
    return digest_finish (&digest);
}

//  --------------------------------------------------------------------------
//  Snapshots

static void
s_save_topics (fsm_t *self, Raftq__State__FsmState *state)
{
    //  Each repeated field is one block of structs (none when empty) plus
    //  the pointer array protobuf-c wants; element 0 is the block's start,
    //  for release
    Raftq__State__TopicState *topics =
        self->topic_count ? (Raftq__State__TopicState *)must_alloc (
                                self->topic_count * sizeof (Raftq__State__TopicState))
                          : NULL;
    state->topics = (Raftq__State__TopicState **)must_alloc (self->topic_count *
                                                             sizeof (Raftq__State__TopicState *));
    state->n_topics = self->topic_count;
    for (size_t position = 0; position < self->topic_count; position++) {
        topic_t *topic = self->topic_order[position];
        Raftq__State__TopicState *saved = &topics[position];
        raftq__state__topic_state__init (saved);
        saved->name = topic->name;
        saved->publish_count = topic->publish_count;
        saved->messages =
            (ProtobufCBinaryData *)must_alloc (topic->count * sizeof (ProtobufCBinaryData));
        saved->n_messages = topic->count;
        for (size_t queued = 0; queued < topic->count; queued++) {
            message_t *message = &topic->ring[(topic->head + queued) & (topic->capacity - 1)];
            saved->messages[queued].data = message->data;
            saved->messages[queued].len = message->size;
        }
        state->topics[position] = saved;
    }
}

static void
s_save_clients (fsm_t *self, Raftq__State__FsmState *state)
{
    size_t count = zhashx_size (self->clients);
    Raftq__State__ClientState *clients =
        count ? (Raftq__State__ClientState *)must_alloc (count * sizeof (Raftq__State__ClientState))
              : NULL;
    state->clients =
        (Raftq__State__ClientState **)must_alloc (count * sizeof (Raftq__State__ClientState *));
    for (client_t *client = self->oldest; client; client = client->newer) {
        Raftq__State__ClientState *saved = &clients[state->n_clients];
        raftq__state__client_state__init (saved);
        saved->client_id = client->id;
        saved->seq = client->seq;
        saved->reply.data = client->reply;
        saved->reply.len = client->reply_size;
        saved->last_index = client->last_index;
        state->clients[state->n_clients++] = saved;
    }
}

void
fsm_snapshot_save (fsm_t *self, Raftq__State__FsmState *state)
{
    assert (self);
    assert (state);
    raftq__state__fsm_state__init (state);
    state->applied_index = self->applied_index;
    s_save_topics (self, state);
    state->events =
        (Raftq__State__EventLogState *)must_alloc (sizeof (Raftq__State__EventLogState));
    event_log_snapshot_save (self->events, state->events);
    state->chat = (Raftq__State__ChatState *)must_alloc (sizeof (Raftq__State__ChatState));
    chat_snapshot_save (self->chat, state->chat);
    s_save_clients (self, state);
}

void
fsm_snapshot_release (Raftq__State__FsmState *state)
{
    if (!state)
        return;
    for (size_t position = 0; position < state->n_topics; position++)
        free (state->topics[position]->messages);
    free (state->n_topics ? state->topics[0] : NULL);
    free (state->topics);
    event_log_snapshot_release (state->events);
    free (state->events);
    chat_snapshot_release (state->chat);
    free (state->chat);
    free (state->n_clients ? state->clients[0] : NULL);
    free (state->clients);
    raftq__state__fsm_state__init (state);
}

static int s_refuse_snapshot (char *error, size_t error_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Writes why a snapshot is refused into error. Always returns -1.
static int
s_refuse_snapshot (char *error, size_t error_size, const char *format, ...)
{
    char text[256];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    return s_refuse (RAFTQ__CODE__INTERNAL, text, NULL, error, error_size);
}

//  Smallest ring (a power of two, at least FSM_RING_MIN) that holds count.
static size_t
s_ring_capacity (size_t count)
{
    size_t capacity = FSM_RING_MIN;
    while (capacity < count)
        capacity *= 2;
    return capacity;
}

static int
s_load_topics (fsm_t *self, Raftq__State__FsmState *state, char *error, size_t error_size)
{
    for (size_t position = 0; position < state->n_topics; position++) {
        Raftq__State__TopicState *saved = state->topics[position];
        if (!saved->name || !*saved->name || s_topic_lookup (self, saved->name))
            return s_refuse_snapshot (error, error_size, "topic %zu has no name or a taken one",
                                      position);
        if (saved->n_messages > saved->publish_count)
            return s_refuse_snapshot (error, error_size,
                                      "topic '%s' holds more messages than were published",
                                      saved->name);
        topic_t *topic = s_topic_add (self, saved->name);
        topic->publish_count = saved->publish_count;
        if (saved->n_messages == 0)
            continue;
        s_topic_resize (topic, s_ring_capacity (saved->n_messages));
        for (size_t queued = 0; queued < saved->n_messages; queued++) {
            ProtobufCBinaryData *payload = &saved->messages[queued];
            //  The payload moves into the queue; an empty one is NULL there
            message_t *message = &topic->ring[queued];
            message->data = payload->len ? payload->data : NULL;
            message->size = payload->len;
            if (message->data)
                payload->data = NULL;
            payload->len = 0;
        }
        topic->count = saved->n_messages;
    }
    return 0;
}

static int
s_load_clients (fsm_t *self, Raftq__State__FsmState *state, char *error, size_t error_size)
{
    for (size_t position = 0; position < state->n_clients; position++) {
        Raftq__State__ClientState *saved = state->clients[position];
        //  Use order is apply order: indexes strictly ascending, none ahead
        //  of the state, which is what makes the oldest the one to evict
        bool in_order = !self->newest || saved->last_index > self->newest->last_index;
        if (saved->client_id == 0 || saved->seq == 0 ||
            zhashx_lookup (self->clients, &saved->client_id) || !in_order ||
            saved->last_index > state->applied_index)
            return s_refuse_snapshot (error, error_size,
                                      "client %" PRIu64 " is a duplicate, out of order or unset",
                                      saved->client_id);
        //  Retries unpack the remembered reply and may trust it only then
        Raftq__Reply *reply = raftq__reply__unpack (NULL, saved->reply.len, saved->reply.data);
        if (!reply)
            return s_refuse_snapshot (error, error_size,
                                      "the reply remembered for client %" PRIu64 " does not decode",
                                      saved->client_id);
        raftq__reply__free_unpacked (reply, NULL);
        client_t *client = (client_t *)zmalloc (sizeof (client_t));
        client->id = saved->client_id;
        client->seq = saved->seq;
        client->last_index = saved->last_index;
        client->reply = saved->reply.data; //  moves
        client->reply_size = saved->reply.len;
        saved->reply.data = NULL;
        saved->reply.len = 0;
        zhashx_insert (self->clients, &client->id, client);
        s_client_append (self, client);
    }
    return 0;
}

int
fsm_snapshot_load (fsm_t *self, Raftq__State__FsmState *state, char *error, size_t error_size)
{
    assert (self);
    assert (state);
    if (self->applied_index != 0 || self->topic_count != 0 || zhashx_size (self->clients) != 0)
        return s_refuse_snapshot (error, error_size, "the state machine has applied entries");
    if (s_load_topics (self, state, error, error_size))
        return -1;
    if (state->events && event_log_snapshot_load (self->events, state->events, error, error_size))
        return -1;
    if (state->chat && chat_snapshot_load (self->chat, state->chat, error, error_size))
        return -1;
    if (s_load_clients (self, state, error, error_size))
        return -1;
    self->applied_index = state->applied_index;
    return 0;
}
