/*  queue_fixture — queue commands (CreateTopic, ListTopics, Publish, Pop)
    for unit tests, built in a holder that keeps every submessage they point
    to, and the steps most queue tests repeat. Checks that fail print why
    and abort (see fsm_fixture.h).
*/
#ifndef QUEUE_FIXTURE_H_INCLUDED
#define QUEUE_FIXTURE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/fsm.h"

//  The operation a command carries (QUEUE_NONE: none at all).
typedef enum { QUEUE_NONE, QUEUE_CREATE, QUEUE_LIST, QUEUE_PUBLISH, QUEUE_POP } queue_op_t;

//  A command with storage for every queue operation it may carry.
typedef struct {
    Raftq__State__Command command;
    Raftq__CreateTopic create_topic;
    Raftq__ListTopics list_topics;
    Raftq__Publish publish;
    Raftq__Pop pop;
} queue_fixture_t;

//  A command of op on topic (payload of size bytes for a publish), with
//  client_id and seq (0: no retry protection). Everything is borrowed.
Raftq__State__Command *queue_fixture_command (queue_fixture_t *holder, queue_op_t op,
                                              const char *topic, const void *payload, size_t size,
                                              uint64_t client_id, uint64_t seq);

//  Applies op (no retry protection; payload a C string or NULL) and
//  returns the reply code, which must answer at the applied index.
Raftq__Code queue_fixture_run (fsm_t *fsm, queue_op_t op, const char *topic, const char *payload);

//  Pops from topic, expecting payload with sequence and no event.
void queue_fixture_expect_pop (fsm_t *fsm, const char *topic, const char *payload,
                               uint64_t sequence);

//  Publishes "m" to topic "t" as client with seq, expecting OK.
void queue_fixture_publish_as (fsm_t *fsm, uint64_t client, uint64_t seq);

//  Whether the exactly-once table has client's reply to seq.
bool queue_fixture_remembers (fsm_t *fsm, uint64_t client, uint64_t seq);

#endif
