/*  queue_fixture — queue commands and steps for unit tests; see
    queue_fixture.h.
*/

#include <inttypes.h>
#include <string.h>

#include "fsm_fixture.h"
#include "queue_fixture.h"

Raftq__State__Command *
queue_fixture_command (queue_fixture_t *holder, queue_op_t op, const char *topic,
                       const void *payload, size_t size, uint64_t client_id, uint64_t seq)
{
    memset (holder, 0, sizeof *holder);
    raftq__state__command__init (&holder->command);
    raftq__create_topic__init (&holder->create_topic);
    raftq__list_topics__init (&holder->list_topics);
    raftq__publish__init (&holder->publish);
    raftq__pop__init (&holder->pop);
    holder->command.client_id = client_id;
    holder->command.seq = seq;
    holder->command.timestamp_ms = 1700000000000;
    switch (op) {
    case QUEUE_CREATE:
        holder->create_topic.name = (char *)topic;
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
        holder->command.create_topic = &holder->create_topic;
        break;
    case QUEUE_LIST:
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_LIST_TOPICS;
        holder->command.list_topics = &holder->list_topics;
        break;
    case QUEUE_PUBLISH:
        holder->publish.topic = (char *)topic;
        holder->publish.payload.data = (uint8_t *)payload;
        holder->publish.payload.len = size;
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
        holder->command.publish = &holder->publish;
        break;
    case QUEUE_POP:
        holder->pop.topic = (char *)topic;
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_POP;
        holder->command.pop = &holder->pop;
        break;
    case QUEUE_NONE:
        break;
    }
    return &holder->command;
}

Raftq__Code
queue_fixture_run (fsm_t *fsm, queue_op_t op, const char *topic, const char *payload)
{
    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (
        fsm,
        queue_fixture_command (&holder, op, topic, payload, payload ? strlen (payload) : 0, 0, 0),
        &output);
    if (output.reply->index != fsm_applied_index (fsm))
        fsm_fixture_fail ("reply of index %" PRIu64 " at %" PRIu64, output.reply->index,
                          fsm_applied_index (fsm));
    Raftq__Code code = output.reply->code;
    fsm_output_clear (&output);
    return code;
}

void
queue_fixture_expect_pop (fsm_t *fsm, const char *topic, const char *payload, uint64_t sequence)
{
    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_POP, topic, NULL, 0, 0, 0),
                       &output);
    const Raftq__Reply *reply = output.reply;
    if (reply->index != fsm_applied_index (fsm) || reply->code != RAFTQ__CODE__OK ||
        reply->result_case != RAFTQ__REPLY__RESULT_POPPED || output.event_count != 0)
        fsm_fixture_fail ("pop from %s failed: %s", topic, reply->error);
    if (strcmp (reply->popped->topic, topic) != 0 ||
        reply->popped->payload.len != strlen (payload) ||
        (reply->popped->payload.len &&
         memcmp (reply->popped->payload.data, payload, strlen (payload)) != 0) ||
        reply->popped->sequence != sequence)
        fsm_fixture_fail ("pop from %s gave sequence %" PRIu64 ", not \"%s\" at %" PRIu64, topic,
                          reply->popped->sequence, payload, sequence);
    fsm_output_clear (&output);
}

void
queue_fixture_publish_as (fsm_t *fsm, uint64_t client, uint64_t seq)
{
    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (
        fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t", "m", 1, client, seq), &output);
    if (output.reply->code != RAFTQ__CODE__OK)
        fsm_fixture_fail ("publish as %" PRIu64 " failed: %s", client, output.reply->error);
    fsm_output_clear (&output);
}

bool
queue_fixture_remembers (fsm_t *fsm, uint64_t client, uint64_t seq)
{
    Raftq__Reply *cached = fsm_cached_reply (fsm, client, seq);
    raftq__reply__free_unpacked (cached, NULL);
    return cached != NULL;
}
