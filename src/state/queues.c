/*  queues — topics with their FIFO queues; see queues.h.

    Decisions:
    - Topic names are 1..max_topic_name bytes of valid UTF-8 without control
      characters (C0, DEL, C1). '/' is allowed: a topic's stream key is
      "topic/<name>" and subscribers match on the "topic/" prefix only. A NUL
      ends a name (protobuf-c strings are C strings), on every node alike.
    - The never-delivered messages of a topic (its fresh queue) hold
      contiguous sequences up to publish_count (reservations and pops take
      the oldest ready message, and a message once taken never returns to
      the fresh queue), so their sequences are derived, not stored. Held
      messages (queues_delivery.c) store theirs.
    - Each fresh queue is a block_fifo, so publish and pop are O(1) and a
      growing backlog never pauses the loop to move it. Its blocks are not
      state: a restored queue may allocate differently, but hashes and
      answers the same.
*/

#include <czmq.h>

#include "state/queues_private.h"
#include "state/quota.h"
#include "state/reply.h"
#include "util/error_text.h"
#include "util/must.h"
#include "util/utf8.h"

//  --------------------------------------------------------------------------
//  One topic's fresh queue

static topic_t *
s_topic_new (const char *name)
{
    topic_t *topic = (topic_t *)must_zalloc (sizeof (topic_t));
    topic->name = must_strdup (name);
    topic->stream = must_format ("topic/%s", name);
    topic->fresh = block_fifo_new (sizeof (message_t));
    queues_held_init (topic);
    return topic;
}

void
queues_message_free (message_t *message)
{
    free (message->data);
    free (message->origin_topic);
    memset (message, 0, sizeof (message_t));
}

uint64_t
queues_message_cost (const message_t *message)
{
    return QUOTA_MESSAGE_COST + message->size +
           (message->origin_topic ? strlen (message->origin_topic) : 0);
}

size_t
queues_topic_messages (topic_t *topic)
{
    return block_fifo_size (topic->fresh) + slot_heap_size (topic->ready_again) +
           slot_heap_size (topic->pending);
}

static void
s_topic_destroy (queues_t *queues, topic_t **self_p)
{
    topic_t *self = *self_p;
    if (self) {
        queues_held_release (queues, self);
        for (size_t position = 0; position < block_fifo_size (self->fresh); position++)
            queues_message_free ((message_t *)block_fifo_at (self->fresh, position));
        block_fifo_destroy (&self->fresh);
        free (self->name);
        free (self->stream);
        free (self->dead_letter);
        free (self);
        *self_p = NULL;
    }
}

//  Takes ownership of message. Returns the message's sequence.
static uint64_t
s_topic_push (topic_t *self, message_t message)
{
    self->bytes += message.size;
    block_fifo_push (self->fresh, &message);
    return ++self->publish_count;
}

//  Sequence of the queued message at position (0: the oldest).
static uint64_t
s_topic_sequence (topic_t *self, size_t position)
{
    return self->publish_count - block_fifo_size (self->fresh) + 1 + position;
}

//  Removes the oldest fresh message (the queue must not be empty); the
//  caller owns its content and its bytes stay counted.
static message_t
s_topic_pop (topic_t *self, uint64_t *sequence)
{
    *sequence = s_topic_sequence (self, 0);
    message_t message;
    block_fifo_pop (self->fresh, &message);
    return message;
}

//  The queued message at position (0: the oldest).
static message_t *
s_topic_message (topic_t *self, size_t position)
{
    return (message_t *)block_fifo_at (self->fresh, position);
}

//  --------------------------------------------------------------------------
//  Constructor and destructor

queues_t *
queues_new (size_t max_topic_name, size_t max_payload_bytes, event_log_t *events)
{
    assert (max_topic_name && max_payload_bytes && events);
    queues_t *self = (queues_t *)must_zalloc (sizeof (queues_t));
    self->max_topic_name = max_topic_name;
    self->max_payload_bytes = max_payload_bytes;
    self->events = events;
    //  Keys point into the items, which own them.
    self->topics = zhashx_new ();
    zhashx_set_key_duplicator (self->topics, NULL);
    zhashx_set_key_destructor (self->topics, NULL);
    self->receipts = zhashx_new ();
    zhashx_set_key_duplicator (self->receipts, NULL);
    zhashx_set_key_destructor (self->receipts, NULL);
    return self;
}

void
queues_destroy (queues_t **self_p)
{
    assert (self_p);
    queues_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->topics);
        for (size_t position = 0; position < self->topic_count; position++)
            s_topic_destroy (self, &self->topic_order[position]);
        zhashx_destroy (&self->receipts);
        free (self->topic_order);
        free (self);
        *self_p = NULL;
    }
}

size_t
queues_topic_count (queues_t *self)
{
    assert (self);
    return self->topic_count;
}

uint64_t
queues_bytes (queues_t *self)
{
    assert (self);
    return self->bytes;
}

//  --------------------------------------------------------------------------
//  Validation

//  Returns NULL if name is acceptable, else why not.
static const char *
s_topic_name_problem (queues_t *self, const char *name)
{
    if (!name || !*name)
        return "topic name is empty";
    size_t size = strlen (name);
    if (size > self->max_topic_name)
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

//  CreateTopic's dead-letter arguments: both or neither, and a valid name
//  other than the topic's own (that it exists is checked at apply).
static int
s_dead_letter_problem (queues_t *self, const Raftq__CreateTopic *create, Raftq__Code *code,
                       char *error, size_t error_size)
{
    bool has_dead_letter = create->dead_letter && *create->dead_letter;
    if (!create->max_deliveries && !has_dead_letter)
        return 0;
    if (!create->max_deliveries)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "dead_letter needs max_deliveries");
    if (!has_dead_letter)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "max_deliveries needs a dead_letter topic");
    const char *problem = s_topic_name_problem (self, create->dead_letter);
    if (problem)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "dead_letter: %s", problem);
    if (strcmp (create->dead_letter, create->name) == 0)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "a topic cannot be its own dead_letter");
    return 0;
}

int
queues_validate (queues_t *self, const Raftq__State__Command *command, Raftq__Code *code,
                 char *error, size_t error_size)
{
    assert (self);
    assert (command);
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
        if (names_topic && command->publish->payload.len > self->max_payload_bytes)
            return reply_refuse (RAFTQ__CODE__TOO_LARGE, code, error, error_size,
                                 "payload of %zu bytes exceeds the limit of %zu",
                                 command->publish->payload.len, self->max_payload_bytes);
        topic_name = names_topic ? command->publish->topic : NULL;
        break;
    case RAFTQ__STATE__COMMAND__OP_POP:
        names_topic = command->pop != NULL;
        topic_name = names_topic ? command->pop->topic : NULL;
        break;
    case RAFTQ__STATE__COMMAND__OP_RESERVE:
        names_topic = command->reserve != NULL;
        topic_name = names_topic ? command->reserve->topic : NULL;
        break;
    case RAFTQ__STATE__COMMAND__OP_ACK:
    case RAFTQ__STATE__COMMAND__OP_NACK:
    case RAFTQ__STATE__COMMAND__OP_EXPIRE:
        return queues_delivery_validate (self, command, code, error, error_size);
    default:
        break;
    }
    if (!names_topic)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "command has no operation");
    const char *problem = s_topic_name_problem (self, topic_name);
    if (problem)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size, "%s", problem);
    if (command->op_case == RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC)
        return s_dead_letter_problem (self, command->create_topic, code, error, error_size);
    if (command->op_case == RAFTQ__STATE__COMMAND__OP_RESERVE)
        return queues_delivery_validate (self, command, code, error, error_size);
    return 0;
}

//  --------------------------------------------------------------------------
//  Operations. Each fills the reply; the command is validated already.

//  Emits a publish event on the topic's stream. Takes ownership of message.
static void
s_emit_publish (queues_t *self, topic_t *topic, uint64_t index, uint8_t *message, size_t size)
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

uint64_t
queues_append (queues_t *self, topic_t *topic, message_t message, uint64_t index)
{
    s_emit_publish (self, topic, index, (uint8_t *)must_memdup (message.data, message.size),
                    message.size);
    self->bytes += queues_message_cost (&message);
    return s_topic_push (topic, message);
}

//  Adds a new topic (the name must be free) after the existing ones.
static topic_t *
s_topic_add (queues_t *self, const char *name)
{
    topic_t *topic = s_topic_new (name);
    if (self->topic_count == self->topic_slots) {
        self->topic_slots = self->topic_slots ? self->topic_slots * 2 : 16;
        self->topic_order =
            (topic_t **)must_realloc (self->topic_order, self->topic_slots * sizeof (topic_t *));
    }
    self->topic_order[self->topic_count++] = topic;
    zhashx_insert (self->topics, topic->name, topic);
    self->bytes += QUOTA_TOPIC_COST + strlen (name);
    return topic;
}

topic_t *
queues_lookup (queues_t *self, const char *name)
{
    return (topic_t *)zhashx_lookup (self->topics, name);
}

static void
s_create_topic (queues_t *self, const Raftq__CreateTopic *create, Raftq__Reply *reply)
{
    if (queues_lookup (self, create->name)) {
        reply_fail (reply, RAFTQ__CODE__ALREADY_EXISTS, "topic '%s' already exists", create->name);
        return;
    }
    if (create->max_deliveries && !queues_lookup (self, create->dead_letter)) {
        reply_fail (reply, RAFTQ__CODE__INVALID_ARGUMENT, "dead_letter topic '%s' does not exist",
                    create->dead_letter);
        return;
    }
    topic_t *topic = s_topic_add (self, create->name);
    if (create->max_deliveries) {
        topic->max_deliveries = create->max_deliveries;
        topic->dead_letter = must_strdup (create->dead_letter);
    }
}

static void
s_list_topics (queues_t *self, Raftq__Reply *reply)
{
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
}

//  Copies the payload of publish into the queue: the command is unpacked
//  into the fsm's arena, gone once it is applied.
static void
s_publish (queues_t *self, const Raftq__Publish *publish, uint64_t index, Raftq__Reply *reply)
{
    topic_t *topic = queues_lookup (self, publish->topic);
    if (!topic) {
        reply_fail (reply, RAFTQ__CODE__NOT_FOUND, "topic '%s' does not exist", publish->topic);
        return;
    }

    message_t message = {.data = publish->payload.len
                                     ? must_memdup (publish->payload.data, publish->payload.len)
                                     : NULL,
                         .size = publish->payload.len};
    uint64_t sequence = queues_append (self, topic, message, index);

    Raftq__Published *published = (Raftq__Published *)must_alloc (sizeof (Raftq__Published));
    raftq__published__init (published);
    published->topic = must_strdup (topic->name);
    published->sequence = sequence;
    reply->result_case = RAFTQ__REPLY__RESULT_PUBLISHED;
    reply->published = published;
}

held_t *
queues_take_ready (queues_t *self, const char *name, Raftq__Reply *reply)
{
    topic_t *topic = queues_lookup (self, name);
    if (!topic) {
        reply_fail (reply, RAFTQ__CODE__NOT_FOUND, "topic '%s' does not exist", name);
        return NULL;
    }
    held_t *again = (held_t *)slot_heap_first (topic->ready_again);
    //  The oldest ready message: one ready again is older than the fresh
    //  queue's head (it was taken from the head before)
    if (again) {
        slot_heap_remove (topic->ready_again, again);
        return again;
    }
    if (block_fifo_size (topic->fresh) == 0) {
        reply_fail (reply, RAFTQ__CODE__EMPTY, "topic '%s' is empty", name);
        return NULL;
    }
    held_t *held = (held_t *)must_zalloc (sizeof (held_t));
    held->message = s_topic_pop (topic, &held->sequence);
    held->topic = topic;
    return held;
}

//  Reserve and Ack in one step: the message leaves the state.
static void
s_pop (queues_t *self, const char *name, Raftq__Reply *reply)
{
    held_t *held = queues_take_ready (self, name, reply);
    if (!held)
        return;

    Raftq__Popped *popped = (Raftq__Popped *)must_alloc (sizeof (Raftq__Popped));
    raftq__popped__init (popped);
    popped->sequence = held->sequence;
    popped->topic = must_strdup (held->topic->name);
    //  The payload moves: the reply frees it
    popped->payload.data = held->message.data;
    popped->payload.len = held->message.size;
    held->message.data = NULL;
    if (held->message.origin_topic) {
        popped->original_topic = must_strdup (held->message.origin_topic);
        popped->deliveries = held->message.origin_deliveries;
    }
    queues_drop_held (self, &held);
    reply->result_case = RAFTQ__REPLY__RESULT_POPPED;
    reply->popped = popped;
}

void
queues_execute (queues_t *self, Raftq__State__Command *command, uint64_t index, Raftq__Reply *reply)
{
    assert (self);
    assert (command && reply);
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC:
        s_create_topic (self, command->create_topic, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_LIST_TOPICS:
        s_list_topics (self, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_PUBLISH:
        s_publish (self, command->publish, index, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_POP:
        s_pop (self, command->pop->topic, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_RESERVE:
    case RAFTQ__STATE__COMMAND__OP_ACK:
    case RAFTQ__STATE__COMMAND__OP_NACK:
    case RAFTQ__STATE__COMMAND__OP_EXPIRE:
        queues_delivery_execute (self, command, index, reply);
        break;
    default:
        //  queues_validate refuses every other case
        reply_fail (reply, RAFTQ__CODE__INTERNAL, "unknown operation");
        break;
    }
}

//  --------------------------------------------------------------------------
//  Quotas

int
queues_admit (queues_t *self, const Raftq__State__Command *command,
              const Raftq__State__Limits *limits, uint64_t state_bytes, Raftq__Code *code,
              char *error, size_t error_size)
{
    assert (self);
    assert (command && limits);
    if (command->op_case == RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC) {
        //  An existing name is answered ALREADY_EXISTS, not refused here
        const char *name = command->create_topic->name;
        if (queues_lookup (self, name))
            return 0;
        return quota_check_item (self->topic_count, limits->max_topics, "max_topics", "the cluster",
                                 state_bytes, QUOTA_TOPIC_COST + strlen (name),
                                 limits->max_state_bytes, code, error, error_size);
    }
    if (command->op_case != RAFTQ__STATE__COMMAND__OP_PUBLISH)
        return 0;
    topic_t *topic = queues_lookup (self, command->publish->topic);
    if (!topic)
        return 0; //  answered NOT_FOUND
    size_t size = command->publish->payload.len;
    char what[320];
    snprintf (what, sizeof what, "topic '%.255s'", topic->name);
    if (quota_check (topic->bytes, size, limits->max_topic_bytes, "max_topic_bytes", what, code,
                     error, error_size))
        return -1;
    //  Reserved and delayed messages count as queued ones: they are held
    return quota_check_item (queues_topic_messages (topic), limits->max_topic_messages,
                             "max_topic_messages", what, state_bytes, QUOTA_MESSAGE_COST + size,
                             limits->max_state_bytes, code, error, error_size);
}

//  --------------------------------------------------------------------------
//  State hash and snapshot

void
queues_origin_digest (const message_t *message, digest_t *digest)
{
    digest_string (digest, message->origin_topic);
    digest_u64 (digest, message->origin_deliveries);
}

void
queues_digest (queues_t *self, digest_t *digest)
{
    assert (self);
    digest_u64 (digest, self->topic_count);
    digest_u64 (digest, self->bytes);
    for (size_t position = 0; position < self->topic_count; position++) {
        topic_t *topic = self->topic_order[position];
        digest_string (digest, topic->name);
        digest_u64 (digest, topic->publish_count);
        digest_u64 (digest, block_fifo_size (topic->fresh));
        digest_u64 (digest, topic->bytes);
        digest_u64 (digest, topic->max_deliveries);
        digest_string (digest, topic->dead_letter);
        digest_u64 (digest, topic->dead_lettered);
        for (size_t queued = 0; queued < block_fifo_size (topic->fresh); queued++) {
            message_t *message = s_topic_message (topic, queued);
            digest_u64 (digest, s_topic_sequence (topic, queued));
            digest_bytes (digest, message->data, message->size);
            queues_origin_digest (message, digest);
        }
        queues_held_digest (topic, digest);
    }
}

void
queues_origin_save (const message_t *message, uint64_t sequence,
                    Raftq__State__DeadLetterOrigin *origin)
{
    raftq__state__dead_letter_origin__init (origin);
    origin->sequence = sequence;
    origin->topic = message->origin_topic;
    origin->deliveries = message->origin_deliveries;
}

int
queues_origin_load (message_t *message, const Raftq__State__DeadLetterOrigin *origin, char *error,
                    size_t error_size)
{
    if (!origin->topic || !*origin->topic)
        return error_text_set (error, error_size, "a dead letter without its original topic");
    message->origin_topic = must_strdup (origin->topic);
    message->origin_deliveries = origin->deliveries;
    return 0;
}

//  The origins of topic's fresh dead letters into saved, by sequence.
static void
s_origins_save (topic_t *topic, Raftq__State__TopicState *saved)
{
    size_t count = 0;
    for (size_t queued = 0; queued < block_fifo_size (topic->fresh); queued++)
        count += s_topic_message (topic, queued)->origin_topic != NULL;
    if (count == 0)
        return;
    Raftq__State__DeadLetterOrigin *origins = (Raftq__State__DeadLetterOrigin *)must_alloc (
        count * sizeof (Raftq__State__DeadLetterOrigin));
    saved->origins = (Raftq__State__DeadLetterOrigin **)must_alloc (
        count * sizeof (Raftq__State__DeadLetterOrigin *));
    for (size_t queued = 0; queued < block_fifo_size (topic->fresh); queued++) {
        message_t *message = s_topic_message (topic, queued);
        if (!message->origin_topic)
            continue;
        queues_origin_save (message, s_topic_sequence (topic, queued), &origins[saved->n_origins]);
        saved->origins[saved->n_origins] = &origins[saved->n_origins];
        saved->n_origins++;
    }
}

void
queues_snapshot_save (queues_t *self, Raftq__State__FsmState *state)
{
    assert (self);
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
        saved->messages = (ProtobufCBinaryData *)must_alloc (block_fifo_size (topic->fresh) *
                                                             sizeof (ProtobufCBinaryData));
        saved->n_messages = block_fifo_size (topic->fresh);
        for (size_t queued = 0; queued < block_fifo_size (topic->fresh); queued++) {
            message_t *message = s_topic_message (topic, queued);
            saved->messages[queued].data = message->data;
            saved->messages[queued].len = message->size;
        }
        s_origins_save (topic, saved);
        queues_held_save (topic, saved);
        state->topics[position] = saved;
    }
}

void
queues_snapshot_release (Raftq__State__FsmState *state)
{
    for (size_t position = 0; position < state->n_topics; position++) {
        Raftq__State__TopicState *saved = state->topics[position];
        free (saved->messages);
        free (saved->n_origins ? saved->origins[0] : NULL);
        free (saved->origins);
        queues_held_release_saved (saved);
    }
    free (state->n_topics ? state->topics[0] : NULL);
    free (state->topics);
    state->topics = NULL;
    state->n_topics = 0;
}

//  Restores saved's fresh queue (and its dead letters' origins) into topic.
static int
s_fresh_load (queues_t *self, topic_t *topic, Raftq__State__TopicState *saved, char *error,
              size_t error_size)
{
    for (size_t queued = 0; queued < saved->n_messages; queued++) {
        ProtobufCBinaryData *payload = &saved->messages[queued];
        //  The payload moves into the queue; an empty one is NULL there
        message_t message = {.data = payload->len ? payload->data : NULL, .size = payload->len};
        topic->bytes += message.size;
        self->bytes += queues_message_cost (&message);
        block_fifo_push (topic->fresh, &message);
        if (message.data)
            payload->data = NULL;
        payload->len = 0;
    }
    for (size_t position = 0; position < saved->n_origins; position++) {
        const Raftq__State__DeadLetterOrigin *origin = saved->origins[position];
        uint64_t first = s_topic_sequence (topic, 0);
        if (origin->sequence < first || origin->sequence > topic->publish_count ||
            (position && origin->sequence <= saved->origins[position - 1]->sequence))
            return error_text_set (error, error_size,
                                   "topic '%s': a dead letter's origin names "
                                   "no queued message",
                                   topic->name);
        message_t *message = s_topic_message (topic, (size_t)(origin->sequence - first));
        if (queues_origin_load (message, origin, error, error_size))
            return -1;
        self->bytes += strlen (message->origin_topic);
    }
    return 0;
}

int
queues_snapshot_load (queues_t *self, Raftq__State__FsmState *state, char *error, size_t error_size)
{
    assert (self);
    assert (self->topic_count == 0);
    for (size_t position = 0; position < state->n_topics; position++) {
        Raftq__State__TopicState *saved = state->topics[position];
        if (!saved->name || !*saved->name || queues_lookup (self, saved->name))
            return error_text_set (error, error_size, "topic %zu has no name or a taken one",
                                   position);
        if (saved->n_messages > saved->publish_count ||
            saved->n_held > saved->publish_count - saved->n_messages)
            return error_text_set (error, error_size,
                                   "topic '%s' holds more messages than were published",
                                   saved->name);
        topic_t *topic = s_topic_add (self, saved->name);
        topic->publish_count = saved->publish_count;
        if (s_fresh_load (self, topic, saved, error, error_size) ||
            queues_held_load (self, topic, saved, error, error_size))
            return -1;
    }
    //  Once every topic exists: a snapshot is input like any other
    for (size_t position = 0; position < self->topic_count; position++) {
        topic_t *topic = self->topic_order[position];
        if (topic->dead_letter && !queues_lookup (self, topic->dead_letter))
            return error_text_set (error, error_size, "topic '%s': dead_letter '%s' does not exist",
                                   topic->name, topic->dead_letter);
    }
    return 0;
}
