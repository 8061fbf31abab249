/*  queues_delivery — acknowledged consumption of the topics: Reserve, Ack,
    Nack, the leader's batched Expire, and dead letters; see queues.h and
    queues_private.h.

    Decisions:
    - Deadlines are leader time: the Reserve or Nack entry's timestamp_ms
      plus the visibility time or delay. A reservation or a delay ends only
      through an Expire entry, whose timestamp_ms says which deadlines have
      passed, so every node, and every replay, ends the same ones at the
      same index. Until the leader proposes one, a reservation past its
      deadline still holds (and its receipt still acks).
    - A receipt is the Reserve entry's index (16 hex digits) and the
      leader's 16 random bytes from the entry (32 hex digits): unique
      because one entry reserves one message, unguessable because of the
      random part, and it names one delivery only (a redelivery is another
      entry). An ack or nack of a receipt no longer live is NOT_FOUND and
      changes nothing.
    - A message taken from the fresh queue becomes a held message. When its
      reservation ends (expiry or Nack without a delay) it is ready again,
      and the next Reserve or Pop takes the oldest ready message by
      sequence, ready-again or fresh.
    - Dead letters: when a reservation of a message reserved max_deliveries
      times ends without an ack, the message moves whole to the dead-letter
      topic (appended there under a new sequence, with a publish event on
      that topic's stream), with the topic it was first published to and
      the delivery count in the topic that dead-lettered it. The move is
      never refused by a quota: the message is in the state already, so
      the dead-letter topic may pass its max_topic_messages or
      max_topic_bytes, and then refuses publishes until it is drained.
      Nothing acknowledged is dropped.
    - Reserved and delayed messages count toward max_topic_messages,
      max_topic_bytes and max_state_bytes like queued ones.
*/

#include <inttypes.h>
#include <sodium.h>

#include "state/queues_private.h"
#include "state/reply.h"
#include "util/error_text.h"
#include "util/must.h"

//  Longest receipt an Ack or Nack may carry (ours are 48 characters).
#define QUEUES_RECEIPT_MAX 128

//  --------------------------------------------------------------------------
//  Held messages

static bool
s_sequence_before (const void *first, const void *second)
{
    return ((const held_t *)first)->sequence < ((const held_t *)second)->sequence;
}

static bool
s_deadline_before (const void *first, const void *second)
{
    const held_t *one = (const held_t *)first;
    const held_t *other = (const held_t *)second;
    if (one->deadline_ms != other->deadline_ms)
        return one->deadline_ms < other->deadline_ms;
    return one->sequence < other->sequence;
}

void
queues_held_init (topic_t *topic)
{
    topic->ready_again = slot_heap_new (s_sequence_before, offsetof (held_t, slot));
    topic->pending = slot_heap_new (s_deadline_before, offsetof (held_t, slot));
}

static void
s_held_free (held_t **held_p)
{
    held_t *held = *held_p;
    queues_message_free (&held->message);
    free (held->receipt);
    free (held);
    *held_p = NULL;
}

void
queues_held_release (queues_t *self, topic_t *topic)
{
    slot_heap_t *heaps[2] = {topic->ready_again, topic->pending};
    for (size_t which = 0; which < 2; which++) {
        held_t *held;
        while ((held = (held_t *)slot_heap_first (heaps[which]))) {
            slot_heap_remove (heaps[which], held);
            if (held->receipt)
                zhashx_delete (self->receipts, held->receipt);
            s_held_free (&held);
        }
    }
    slot_heap_destroy (&topic->ready_again);
    slot_heap_destroy (&topic->pending);
}

void
queues_drop_held (queues_t *self, held_t **held_p)
{
    held_t *held = *held_p;
    held->topic->bytes -= held->message.size;
    self->bytes -= queues_message_cost (&held->message);
    s_held_free (held_p);
}

//  Orders held_t pointers by sequence (distinct within a topic).
static int
s_compare_sequences (const void *one, const void *other)
{
    uint64_t first = (*(held_t *const *)one)->sequence;
    uint64_t second = (*(held_t *const *)other)->sequence;
    return first < second ? -1 : first > second;
}

//  Every held message of topic, by sequence (malloc'd; *count set).
static held_t **
s_held_sorted (topic_t *topic, size_t *count)
{
    size_t again = slot_heap_size (topic->ready_again);
    size_t pending = slot_heap_size (topic->pending);
    *count = again + pending;
    held_t **sorted = (held_t **)must_alloc ((*count ? *count : 1) * sizeof (held_t *));
    for (size_t position = 0; position < again; position++)
        sorted[position] = (held_t *)slot_heap_item (topic->ready_again, position);
    for (size_t position = 0; position < pending; position++)
        sorted[again + position] = (held_t *)slot_heap_item (topic->pending, position);
    qsort (sorted, *count, sizeof (held_t *), s_compare_sequences);
    return sorted;
}

//  --------------------------------------------------------------------------
//  Queries

int
queues_ready (queues_t *self, const char *name, uint64_t *ready)
{
    assert (self);
    topic_t *topic = name ? queues_lookup (self, name) : NULL;
    *ready = topic ? block_fifo_size (topic->fresh) + slot_heap_size (topic->ready_again) : 0;
    return topic ? 0 : -1;
}

int64_t
queues_next_deadline (queues_t *self)
{
    assert (self);
    int64_t earliest = INT64_MAX;
    for (size_t position = 0; position < self->topic_count; position++) {
        held_t *first = (held_t *)slot_heap_first (self->topic_order[position]->pending);
        if (first && first->deadline_ms < earliest)
            earliest = first->deadline_ms;
    }
    return earliest;
}

void
queues_topic_status (queues_t *self, size_t position, Raftq__TopicStatus *status)
{
    assert (self && position < self->topic_count);
    topic_t *topic = self->topic_order[position];
    raftq__topic_status__init (status);
    status->name = topic->name;
    status->ready = block_fifo_size (topic->fresh) + slot_heap_size (topic->ready_again);
    status->reserved = topic->reserved_count;
    status->delayed = topic->delayed_count;
    status->dead_lettered = topic->dead_lettered;
    status->max_deliveries = topic->max_deliveries;
    status->dead_letter = topic->dead_letter ? topic->dead_letter : (char *)"";
}

//  --------------------------------------------------------------------------
//  Validation

//  A receipt an Ack or Nack carries: present and of a sane length.
static int
s_receipt_problem (const char *receipt, Raftq__Code *code, char *error, size_t error_size)
{
    if (!receipt || !*receipt)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "a receipt is needed");
    if (strlen (receipt) > QUEUES_RECEIPT_MAX)
        return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                             "receipt is too long");
    return 0;
}

//  A visibility time or delay within QUEUES_MAX_HOLD_MS.
static int
s_hold_problem (const char *what, uint32_t hold_ms, Raftq__Code *code, char *error,
                size_t error_size)
{
    if (hold_ms <= QUEUES_MAX_HOLD_MS)
        return 0;
    return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "%s of %" PRIu32 " ms exceeds the limit of %lld ms", what, hold_ms,
                         QUEUES_MAX_HOLD_MS);
}

int
queues_delivery_validate (queues_t *self, const Raftq__State__Command *command, Raftq__Code *code,
                          char *error, size_t error_size)
{
    assert (self);
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_RESERVE:
        //  The topic name is checked by queues_validate
        if (command->receipt_nonce.len != QUEUES_RECEIPT_NONCE_SIZE)
            return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                                 "reserve without the leader's receipt nonce");
        return s_hold_problem ("visibility_ms", command->reserve->visibility_ms, code, error,
                               error_size);
    case RAFTQ__STATE__COMMAND__OP_ACK:
        if (!command->ack)
            break;
        return s_receipt_problem (command->ack->receipt, code, error, error_size);
    case RAFTQ__STATE__COMMAND__OP_NACK:
        if (!command->nack)
            break;
        return s_receipt_problem (command->nack->receipt, code, error, error_size) ||
                       s_hold_problem ("delay_ms", command->nack->delay_ms, code, error, error_size)
                   ? -1
                   : 0;
    case RAFTQ__STATE__COMMAND__OP_EXPIRE:
        if (command->expire)
            return 0;
        break;
    default:
        break;
    }
    return reply_refuse (RAFTQ__CODE__INVALID_ARGUMENT, code, error, error_size,
                         "command has no operation");
}

//  --------------------------------------------------------------------------
//  Operations

//  start + hold_ms, saturated: the timestamp is the leader's clock.
static int64_t
s_deadline (int64_t start, uint32_t hold_ms)
{
    return start > INT64_MAX - (int64_t)hold_ms ? INT64_MAX : start + (int64_t)hold_ms;
}

//  Moves held (its reservation ended; taken) whole to its topic's
//  dead-letter topic, as a publish there at index.
static void
s_dead_letter (queues_t *self, held_t *held, uint64_t index)
{
    topic_t *topic = held->topic;
    topic_t *target = queues_lookup (self, topic->dead_letter);
    message_t message = held->message;
    topic->bytes -= message.size;
    self->bytes -= queues_message_cost (&message);
    //  Its first topic stays its origin through a chain of dead letters
    if (!message.origin_topic)
        message.origin_topic = must_strdup (topic->name);
    message.origin_deliveries = held->deliveries;
    queues_append (self, target, message, index);
    topic->dead_lettered++;
    free (held->receipt);
    free (held);
}

//  A held message whose reservation ended (taken): dead-lettered when it
//  has had its deliveries, else ready again after delay_ms from now_ms.
static void
s_release (queues_t *self, held_t *held, int64_t now_ms, uint32_t delay_ms, uint64_t index)
{
    topic_t *topic = held->topic;
    //  Its dead-letter topic exists: CreateTopic and snapshot loading check
    if (topic->max_deliveries && held->deliveries >= topic->max_deliveries &&
        queues_lookup (self, topic->dead_letter)) {
        s_dead_letter (self, held, index);
        return;
    }
    if (delay_ms) {
        held->kind = HELD_DELAYED;
        held->deadline_ms = s_deadline (now_ms, delay_ms);
        slot_heap_push (topic->pending, held);
        topic->delayed_count++;
    } else {
        held->kind = HELD_READY;
        held->deadline_ms = 0;
        slot_heap_push (topic->ready_again, held);
    }
}

//  Takes a reservation out of pending and the receipts; its receipt is gone.
static void
s_end_reservation (queues_t *self, held_t *held)
{
    slot_heap_remove (held->topic->pending, held);
    held->topic->reserved_count--;
    zhashx_delete (self->receipts, held->receipt);
    free (held->receipt);
    held->receipt = NULL;
}

//  The live reservation of receipt, NULL (reply failed) if none.
static held_t *
s_reservation (queues_t *self, const char *receipt, Raftq__Reply *reply)
{
    held_t *held = (held_t *)zhashx_lookup (self->receipts, receipt);
    if (!held)
        reply_fail (reply, RAFTQ__CODE__NOT_FOUND,
                    "receipt unknown or no longer valid (acked, nacked or expired)");
    return held;
}

static void
s_reserve (queues_t *self, const Raftq__State__Command *command, uint64_t index,
           Raftq__Reply *reply)
{
    held_t *held = queues_take_ready (self, command->reserve->topic, reply);
    if (!held)
        return;
    topic_t *topic = held->topic;
    uint32_t visibility = command->reserve->visibility_ms ? command->reserve->visibility_ms
                                                          : QUEUES_DEFAULT_VISIBILITY_MS;
    char nonce[QUEUES_RECEIPT_NONCE_SIZE * 2 + 1];
    sodium_bin2hex (nonce, sizeof nonce, command->receipt_nonce.data, command->receipt_nonce.len);
    held->deliveries++;
    held->kind = HELD_RESERVED;
    held->deadline_ms = s_deadline (command->timestamp_ms, visibility);
    held->receipt = must_format ("%016" PRIx64 "%s", index, nonce);
    zhashx_insert (self->receipts, held->receipt, held);
    slot_heap_push (topic->pending, held);
    topic->reserved_count++;

    Raftq__Reserved *reserved = (Raftq__Reserved *)must_alloc (sizeof (Raftq__Reserved));
    raftq__reserved__init (reserved);
    reserved->topic = must_strdup (topic->name);
    reserved->payload.data = (uint8_t *)must_memdup (held->message.data, held->message.size);
    reserved->payload.len = held->message.size;
    reserved->sequence = held->sequence;
    reserved->receipt = must_strdup (held->receipt);
    reserved->deliveries = held->deliveries;
    reserved->visible_at_ms = held->deadline_ms;
    if (held->message.origin_topic) {
        reserved->original_topic = must_strdup (held->message.origin_topic);
        reserved->original_deliveries = held->message.origin_deliveries;
    }
    reply->result_case = RAFTQ__REPLY__RESULT_RESERVED;
    reply->reserved = reserved;
}

static void
s_ack (queues_t *self, const char *receipt, Raftq__Reply *reply)
{
    held_t *held = s_reservation (self, receipt, reply);
    if (!held)
        return;
    s_end_reservation (self, held);
    queues_drop_held (self, &held);
}

static void
s_nack (queues_t *self, const Raftq__State__Command *command, uint64_t index, Raftq__Reply *reply)
{
    held_t *held = s_reservation (self, command->nack->receipt, reply);
    if (!held)
        return;
    s_end_reservation (self, held);
    s_release (self, held, command->timestamp_ms, command->nack->delay_ms, index);
}

//  Ends every reservation and delay due at now_ms, topic by topic in
//  creation order, each topic's by deadline then sequence.
static void
s_expire (queues_t *self, int64_t now_ms, uint64_t index)
{
    for (size_t position = 0; position < self->topic_count; position++) {
        topic_t *topic = self->topic_order[position];
        held_t *held;
        while ((held = (held_t *)slot_heap_first (topic->pending)) && held->deadline_ms <= now_ms) {
            if (held->kind == HELD_RESERVED) {
                s_end_reservation (self, held);
                s_release (self, held, now_ms, 0, index);
            } else {
                slot_heap_remove (topic->pending, held);
                topic->delayed_count--;
                held->kind = HELD_READY;
                held->deadline_ms = 0;
                slot_heap_push (topic->ready_again, held);
            }
        }
    }
}

void
queues_delivery_execute (queues_t *self, Raftq__State__Command *command, uint64_t index,
                         Raftq__Reply *reply)
{
    switch (command->op_case) {
    case RAFTQ__STATE__COMMAND__OP_RESERVE:
        s_reserve (self, command, index, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_ACK:
        s_ack (self, command->ack->receipt, reply);
        break;
    case RAFTQ__STATE__COMMAND__OP_NACK:
        s_nack (self, command, index, reply);
        break;
    default:
        s_expire (self, command->timestamp_ms, index);
        break;
    }
}

//  --------------------------------------------------------------------------
//  State hash and snapshot

void
queues_held_digest (topic_t *topic, digest_t *digest)
{
    size_t count;
    held_t **sorted = s_held_sorted (topic, &count);
    digest_u64 (digest, count);
    for (size_t position = 0; position < count; position++) {
        held_t *held = sorted[position];
        digest_u64 (digest, held->sequence);
        digest_bytes (digest, held->message.data, held->message.size);
        queues_origin_digest (&held->message, digest);
        digest_u64 (digest, held->kind);
        digest_u64 (digest, held->deliveries);
        digest_u64 (digest, (uint64_t)held->deadline_ms);
        digest_string (digest, held->receipt);
    }
    free (sorted);
}

//  One saved held message and the room for its origin, allocated together
//  so that release frees one block.
typedef struct {
    Raftq__State__HeldMessage held;        //  first: the block starts with it
    Raftq__State__DeadLetterOrigin origin; //  held.origin points here if set
} s_saved_held_t;

void
queues_held_save (topic_t *topic, Raftq__State__TopicState *saved)
{
    saved->max_deliveries = topic->max_deliveries;
    saved->dead_letter = topic->dead_letter ? topic->dead_letter : (char *)"";
    saved->dead_lettered = topic->dead_lettered;
    size_t count;
    held_t **sorted = s_held_sorted (topic, &count);
    if (count) {
        s_saved_held_t *block = (s_saved_held_t *)must_alloc (count * sizeof (s_saved_held_t));
        saved->held =
            (Raftq__State__HeldMessage **)must_alloc (count * sizeof (Raftq__State__HeldMessage *));
        saved->n_held = count;
        for (size_t position = 0; position < count; position++) {
            held_t *held = sorted[position];
            Raftq__State__HeldMessage *out = &block[position].held;
            raftq__state__held_message__init (out);
            out->sequence = held->sequence;
            out->payload.data = held->message.data;
            out->payload.len = held->message.size;
            out->kind = held->kind == HELD_RESERVED  ? RAFTQ__STATE__HELD_MESSAGE__KIND__RESERVED
                        : held->kind == HELD_DELAYED ? RAFTQ__STATE__HELD_MESSAGE__KIND__DELAYED
                                                     : RAFTQ__STATE__HELD_MESSAGE__KIND__READY;
            out->deliveries = held->deliveries;
            out->deadline_ms = held->deadline_ms;
            out->receipt = held->receipt ? held->receipt : (char *)"";
            if (held->message.origin_topic) {
                queues_origin_save (&held->message, held->sequence, &block[position].origin);
                out->origin = &block[position].origin;
            }
            saved->held[position] = out;
        }
    }
    free (sorted);
}

void
queues_held_release_saved (Raftq__State__TopicState *saved)
{
    free (saved->n_held ? saved->held[0] : NULL);
    free (saved->held);
    saved->held = NULL;
    saved->n_held = 0;
}

//  One saved held message into topic (checked by the caller's loop for
//  order), its payload taken out of saved. 0, or -1 with error.
static int
s_held_load (queues_t *self, topic_t *topic, Raftq__State__HeldMessage *saved, char *error,
             size_t error_size)
{
    bool reserved = saved->kind == RAFTQ__STATE__HELD_MESSAGE__KIND__RESERVED;
    bool delayed = saved->kind == RAFTQ__STATE__HELD_MESSAGE__KIND__DELAYED;
    if (!reserved && !delayed && saved->kind != RAFTQ__STATE__HELD_MESSAGE__KIND__READY)
        return error_text_set (error, error_size, "topic '%s': a held message of unknown kind",
                               topic->name);
    if (saved->deliveries == 0)
        return error_text_set (error, error_size, "topic '%s': a held message never delivered",
                               topic->name);
    bool has_receipt = saved->receipt && *saved->receipt;
    if (reserved != has_receipt || (reserved && zhashx_lookup (self->receipts, saved->receipt)))
        return error_text_set (error, error_size,
                               "topic '%s': a reservation without a receipt, or a taken one",
                               topic->name);
    held_t *held = (held_t *)must_zalloc (sizeof (held_t));
    held->topic = topic;
    held->sequence = saved->sequence;
    held->deliveries = saved->deliveries;
    held->message.data = saved->payload.len ? saved->payload.data : NULL;
    held->message.size = saved->payload.len;
    if (held->message.data)
        saved->payload.data = NULL;
    saved->payload.len = 0;
    if (saved->origin && queues_origin_load (&held->message, saved->origin, error, error_size)) {
        s_held_free (&held);
        return -1;
    }
    topic->bytes += held->message.size;
    self->bytes += queues_message_cost (&held->message);
    if (reserved || delayed) {
        held->kind = reserved ? HELD_RESERVED : HELD_DELAYED;
        held->deadline_ms = saved->deadline_ms;
        if (reserved) {
            held->receipt = must_strdup (saved->receipt);
            zhashx_insert (self->receipts, held->receipt, held);
            topic->reserved_count++;
        } else
            topic->delayed_count++;
        slot_heap_push (topic->pending, held);
    } else {
        held->kind = HELD_READY;
        slot_heap_push (topic->ready_again, held);
    }
    return 0;
}

int
queues_held_load (queues_t *self, topic_t *topic, Raftq__State__TopicState *saved, char *error,
                  size_t error_size)
{
    bool has_dead_letter = saved->dead_letter && *saved->dead_letter;
    if ((saved->max_deliveries != 0) != has_dead_letter ||
        (has_dead_letter && strcmp (saved->dead_letter, topic->name) == 0))
        return error_text_set (error, error_size,
                               "topic '%s': max_deliveries and dead_letter disagree", topic->name);
    if (has_dead_letter) {
        topic->max_deliveries = saved->max_deliveries;
        topic->dead_letter = must_strdup (saved->dead_letter);
    }
    topic->dead_lettered = saved->dead_lettered;
    //  Held messages were taken from the fresh queue's head: all older
    uint64_t first_fresh = topic->publish_count - block_fifo_size (topic->fresh) + 1;
    for (size_t position = 0; position < saved->n_held; position++) {
        uint64_t sequence = saved->held[position]->sequence;
        if (sequence == 0 || sequence >= first_fresh ||
            (position && sequence <= saved->held[position - 1]->sequence))
            return error_text_set (error, error_size,
                                   "topic '%s': held messages out of order or in the fresh queue",
                                   topic->name);
        if (s_held_load (self, topic, saved->held[position], error, error_size))
            return -1;
    }
    return 0;
}
