/*  queues — the topics of the replicated state, each a FIFO queue of
    messages, in creation order; the queue commands (CreateTopic,
    ListTopics, Publish, Pop), their checks and events; and the topics'
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
