/*  queues_private — the topics' internals, shared by the files that
    implement queues.h: queues.c (topics, publish, pop, quotas, hash and
    snapshot of the fresh queues) and queues_delivery.c (reservations,
    acks, nacks, expiry, dead letters, and their part of the hash and the
    snapshot). Nothing outside src/state/queues*.c includes it.
*/
#ifndef QUEUES_PRIVATE_H_INCLUDED
#define QUEUES_PRIVATE_H_INCLUDED

#include <czmq.h>

#include "state/queues.h"
#include "util/block_fifo.h"
#include "util/slot_heap.h"

//  One message's content.
typedef struct {
    uint8_t *data;              //  payload (malloc'd, NULL when empty)
    size_t size;                //  payload bytes
    char *origin_topic;         //  a dead letter: the topic it was published to; else NULL
    uint32_t origin_deliveries; //  a dead letter: times reserved where it was dead-lettered
} message_t;

//  Where a message out of the fresh queue stands.
typedef enum {
    HELD_READY,    //  ready again after a reservation or delay ended
    HELD_RESERVED, //  reserved under receipt until deadline_ms
    HELD_DELAYED,  //  nacked with a delay: ready at deadline_ms
} held_kind_t;

typedef struct _topic_t topic_t;

//  A message taken out of the fresh queue by a reservation, until acked or
//  dead-lettered.
typedef struct {
    message_t message;   //  its content
    uint64_t sequence;   //  its sequence in the topic
    uint32_t deliveries; //  times reserved so far
    held_kind_t kind;    //  where it stands
    int64_t deadline_ms; //  RESERVED, DELAYED: when that ends (leader time)
    char *receipt;       //  RESERVED: the current delivery's receipt (key in receipts)
    topic_t *topic;      //  the topic holding it
    size_t slot;         //  its place in topic->ready_again or topic->pending
} held_t;

//  A topic: its fresh FIFO queue and its held messages.
struct _topic_t {
    char *name;               //  topic name, also its key in queues.topics
    char *stream;             //  its event stream key, "topic/<name>"
    uint64_t publish_count;   //  messages ever published: the newest one's sequence
    block_fifo_t *fresh;      //  never-delivered messages (message_t), the oldest first
    uint64_t bytes;           //  payload bytes held, fresh and held (max_topic_bytes)
    uint32_t max_deliveries;  //  reservations before dead-lettering (0: unlimited)
    char *dead_letter;        //  the dead-letter topic's name, NULL without
    uint64_t dead_lettered;   //  messages ever moved to dead_letter
    slot_heap_t *ready_again; //  HELD_READY, by sequence
    slot_heap_t *pending;     //  HELD_RESERVED and HELD_DELAYED, by deadline then sequence
    size_t reserved_count;    //  HELD_RESERVED in pending
    size_t delayed_count;     //  HELD_DELAYED in pending
};

struct _queues_t {
    size_t max_topic_name;    //  longest topic name in bytes
    size_t max_payload_bytes; //  largest message
    event_log_t *events;      //  borrowed: where publishes go
    zhashx_t *topics;         //  name -> topic_t (lookup only; order from topic_order)
    topic_t **topic_order;    //  topics in creation order; owns them
    size_t topic_count;       //  topics in topic_order
    size_t topic_slots;       //  allocated slots in topic_order
    uint64_t bytes;           //  accounted bytes of the topics and their messages (quota.h)
    zhashx_t *receipts;       //  receipt -> held_t of every live reservation (lookup only)
};

//  The topic called name, NULL if none.
topic_t *queues_lookup (queues_t *self, const char *name);

//  Accounted bytes of one message (quota.h).
uint64_t queues_message_cost (const message_t *message);

//  Appends message (taken) to topic's fresh queue as a publish at index:
//  counts its bytes and emits the publish event. Returns its sequence.
uint64_t queues_append (queues_t *self, topic_t *topic, message_t message, uint64_t index);

//  Frees a message's content.
void queues_message_free (message_t *message);

//  Messages topic holds, fresh and held.
size_t queues_topic_messages (topic_t *topic);

//  A message's dead-letter origin: its part of the hash, and in a snapshot.
void queues_origin_digest (const message_t *message, digest_t *digest);
void queues_origin_save (const message_t *message, uint64_t sequence,
                         Raftq__State__DeadLetterOrigin *origin);
//  Copies origin into message: 0, or -1 with error when it names no topic.
int queues_origin_load (message_t *message, const Raftq__State__DeadLetterOrigin *origin,
                        char *error, size_t error_size);

//  queues_delivery.c: a topic's held messages start empty and end freed.
void queues_held_init (topic_t *topic);
void queues_held_release (queues_t *self, topic_t *topic);

//  Takes the oldest ready message of topic name (fresh or ready again) out
//  as a held message (deliveries 0 when fresh); its bytes stay counted.
//  NULL, with reply failed NOT_FOUND or EMPTY, when there is none.
held_t *queues_take_ready (queues_t *self, const char *name, Raftq__Reply *reply);

//  Frees a held message that left the state (popped, acked): uncounts it.
void queues_drop_held (queues_t *self, held_t **held_p);

//  Validates Reserve, Ack, Nack and Expire commands (0, or -1 with code).
int queues_delivery_validate (queues_t *self, const Raftq__State__Command *command,
                              Raftq__Code *code, char *error, size_t error_size);

//  Applies a validated Reserve, Ack, Nack or Expire at index.
void queues_delivery_execute (queues_t *self, Raftq__State__Command *command, uint64_t index,
                              Raftq__Reply *reply);

//  The held messages' part of the hash, of a topic.
void queues_held_digest (topic_t *topic, digest_t *digest);

//  Describes topic's held messages in saved (borrowed).
void queues_held_save (topic_t *topic, Raftq__State__TopicState *saved);

//  Frees what queues_held_save allocated.
void queues_held_release_saved (Raftq__State__TopicState *saved);

//  Restores saved's held messages and dead-letter settings into topic
//  (whose fresh queue is restored), taking payloads out. 0, or -1 with error.
int queues_held_load (queues_t *self, topic_t *topic, Raftq__State__TopicState *saved, char *error,
                      size_t error_size);

#endif
