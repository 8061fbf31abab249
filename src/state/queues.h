/*  queues — the topics of the replicated state, each a FIFO queue of
    messages, in creation order; the queue commands (CreateTopic,
    ListTopics, Publish, Pop) and acknowledged consumption (Reserve, Ack,
    Nack, the leader's Expire, dead letters), their checks and events; and
    the topics'
    part of the state hash and of the snapshot. Deterministic like the rest
    of the fsm: topics are listed, hashed and saved in creation order.
*/
#ifndef QUEUES_H_INCLUDED
#define QUEUES_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "state/event_log.h"
#include "util/digest.h"
#include "raftq.pb-c.h"
#include "state.pb-c.h"

typedef struct _queues_t queues_t;

//  Bytes of Command.receipt_nonce a Reserve needs (the leader draws them).
#define QUEUES_RECEIPT_NONCE_SIZE 16
//  Longest visibility time and Nack delay (12 hours).
#define QUEUES_MAX_HOLD_MS (12LL * 3600 * 1000)
//  Visibility time of a Reserve that asks 0.
#define QUEUES_DEFAULT_VISIBILITY_MS 30000

//  Names longer than max_topic_name bytes and payloads over
//  max_payload_bytes are refused (both at least 1). events is borrowed and
//  must outlive the queues: publishes go there.
queues_t *queues_new (size_t max_topic_name, size_t max_payload_bytes, event_log_t *events);

void queues_destroy (queues_t **self_p);

//  Checks a queue command (topic name, payload size): 0, or -1 with code
//  and error. Any other command is refused as having no operation.
int queues_validate (queues_t *self, const Raftq__State__Command *command, Raftq__Code *code,
                     char *error, size_t error_size);

//  Checks a validated queue command that grows the state (CreateTopic of
//  a new name, Publish to an existing topic) against the quotas it
//  carries (limits: command->limits, not NULL), state_bytes being the
//  whole state's accounted bytes: 0, or -1 with RESOURCE_EXHAUSTED and a
//  text naming the limit. Any other command passes.
int queues_admit (queues_t *self, const Raftq__State__Command *command,
                  const Raftq__State__Limits *limits, uint64_t state_bytes, Raftq__Code *code,
                  char *error, size_t error_size);

//  Applies a validated queue command at index: sets reply's code, error
//  and result and emits its events. A Publish's payload moves from the
//  command into the queue (its pointer becomes NULL): no copy.
void queues_execute (queues_t *self, Raftq__State__Command *command, uint64_t index,
                     Raftq__Reply *reply);

//  How many topics exist.
size_t queues_topic_count (queues_t *self);

//  Sets *ready to the messages of topic name that a Reserve or Pop could
//  take now. Returns 0, or -1 when there is no such topic.
int queues_ready (queues_t *self, const char *name, uint64_t *ready);

//  The earliest deadline of a reservation or a delay, leader time in ms;
//  INT64_MAX when nothing is reserved or delayed. An Expire entry stamped
//  at or after it ends it.
int64_t queues_next_deadline (queues_t *self);

//  Describes the topic at position (creation order, below
//  queues_topic_count) in status; strings borrowed until the next apply.
void queues_topic_status (queues_t *self, size_t position, Raftq__TopicStatus *status);

//  Accounted bytes of the topics and their queued messages (quota.h).
uint64_t queues_bytes (queues_t *self);

//  Feeds the topics with their queues to digest, in creation order.
void queues_digest (queues_t *self, digest_t *digest);

//  Describes the topics in state->topics (payloads borrowed: valid until
//  the next apply). Free what was allocated with queues_snapshot_release.
void queues_snapshot_save (queues_t *self, Raftq__State__FsmState *state);

//  Frees what queues_snapshot_save allocated in state.
void queues_snapshot_release (Raftq__State__FsmState *state);

//  Restores state->topics into queues without topics, taking the payloads
//  out of state. Returns 0, or -1 with error when they are inconsistent.
int queues_snapshot_load (queues_t *self, Raftq__State__FsmState *state, char *error,
                          size_t error_size);

#endif
