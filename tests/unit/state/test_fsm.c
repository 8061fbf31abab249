/*  test_fsm — drives the replicated state machine through packed commands, as
    the server does: every operation and its errors, FIFO order, sequences,
    events, the exactly-once table with its eviction, validation limits,
    malformed entries, Replay of retained publish events, determinism of
    replies, events and the state hash, and snapshots: a saved and restored
    state hashes and answers like the original, an inconsistent one is
    refused. Chat operations: test_chat.c; snapshot files: test_snapshot.c.
*/

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "state/fsm.h"

typedef enum { OP_NONE, OP_CREATE, OP_LIST, OP_PUBLISH, OP_POP } test_op_t;

//  A command with storage for every operation it may carry.
typedef struct {
    Raftq__State__Command command;
    Raftq__CreateTopic create_topic;
    Raftq__ListTopics list_topics;
    Raftq__Publish publish;
    Raftq__Pop pop;
} command_holder_t;

static Raftq__State__Command *
s_command (command_holder_t *holder, test_op_t op, const char *topic, const void *payload,
           size_t size, uint64_t client_id, uint64_t seq)
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
    case OP_CREATE:
        holder->create_topic.name = (char *)topic;
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_CREATE_TOPIC;
        holder->command.create_topic = &holder->create_topic;
        break;
    case OP_LIST:
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_LIST_TOPICS;
        holder->command.list_topics = &holder->list_topics;
        break;
    case OP_PUBLISH:
        holder->publish.topic = (char *)topic;
        holder->publish.payload.data = (uint8_t *)payload;
        holder->publish.payload.len = size;
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_PUBLISH;
        holder->command.publish = &holder->publish;
        break;
    case OP_POP:
        holder->pop.topic = (char *)topic;
        holder->command.op_case = RAFTQ__STATE__COMMAND__OP_POP;
        holder->command.pop = &holder->pop;
        break;
    case OP_NONE:
        break;
    }
    return &holder->command;
}

//  Packs command; caller frees.
static uint8_t *
s_pack_command (const Raftq__State__Command *command, size_t *size)
{
    *size = raftq__state__command__get_packed_size (command);
    uint8_t *data = malloc (*size ? *size : 1);
    assert_non_null (data);
    raftq__state__command__pack (command, data);
    return data;
}

//  Applies a packed command at the next index; output must be cleared.
static void
s_apply_command (fsm_t *fsm, const Raftq__State__Command *command, fsm_output_t *output)
{
    size_t size;
    uint8_t *data = s_pack_command (command, &size);
    assert_int_equal (fsm_apply (fsm, fsm_applied_index (fsm) + 1, data, size, output), 0);
    free (data);
    assert_non_null (output->reply);
    //  A retry's reply keeps the index its request first applied at
    assert_true (output->reply->index <= fsm_applied_index (fsm));
    assert_int_equal (output->reply->seq, command->seq);
}

//  Applies an operation (no retry protection) and returns its reply code.
static Raftq__Code
s_run (fsm_t *fsm, test_op_t op, const char *topic, const char *payload)
{
    command_holder_t holder;
    fsm_output_t output;
    s_apply_command (fsm,
                     s_command (&holder, op, topic, payload, payload ? strlen (payload) : 0, 0, 0),
                     &output);
    assert_int_equal (output.reply->index, fsm_applied_index (fsm));
    Raftq__Code code = output.reply->code;
    fsm_output_clear (&output);
    return code;
}

//  Pops from topic and checks the payload and sequence.
static void
s_expect_pop (fsm_t *fsm, const char *topic, const char *payload, uint64_t sequence)
{
    command_holder_t holder;
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_POP, topic, NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->index, fsm_applied_index (fsm));
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_POPPED);
    assert_string_equal (output.reply->popped->topic, topic);
    assert_int_equal (output.reply->popped->payload.len, strlen (payload));
    assert_memory_equal (output.reply->popped->payload.data, payload, strlen (payload));
    assert_int_equal (output.reply->popped->sequence, sequence);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
}

//  Packs a reply; caller frees.
static uint8_t *
s_pack_reply (const Raftq__Reply *reply, size_t *size)
{
    *size = raftq__reply__get_packed_size (reply);
    uint8_t *data = malloc (*size ? *size : 1);
    assert_non_null (data);
    raftq__reply__pack (reply, data);
    return data;
}

static void
s_assert_same_reply (const Raftq__Reply *first, const Raftq__Reply *second)
{
    size_t first_size, second_size;
    uint8_t *first_bytes = s_pack_reply (first, &first_size);
    uint8_t *second_bytes = s_pack_reply (second, &second_size);
    assert_int_equal (first_size, second_size);
    assert_memory_equal (first_bytes, second_bytes, first_size);
    free (first_bytes);
    free (second_bytes);
}

//  --------------------------------------------------------------------------

static void
test_create_and_list_topics (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_non_null (fsm);
    assert_int_equal (fsm_applied_index (fsm), 0);

    assert_int_equal (s_run (fsm, OP_CREATE, "orders", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_CREATE, "alpha", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_CREATE, "a/b", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_CREATE, "orders", NULL), RAFTQ__CODE__ALREADY_EXISTS);
    assert_int_equal (fsm_applied_index (fsm), 4);

    command_holder_t holder;
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_LIST, NULL, NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->index, 5);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_TOPICS);
    assert_int_equal (output.reply->topics->n_names, 3);
    assert_string_equal (output.reply->topics->names[0], "orders");
    assert_string_equal (output.reply->topics->names[1], "alpha");
    assert_string_equal (output.reply->topics->names[2], "a/b");
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    assert_null (output.reply);

    //  The duplicate create's reply says why
    s_apply_command (fsm, s_command (&holder, OP_CREATE, "alpha", NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__ALREADY_EXISTS);
    assert_string_equal (output.reply->error, "topic 'alpha' already exists");
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
    assert_null (fsm);
}

static void
test_list_empty (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    command_holder_t holder;
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_LIST, NULL, NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_TOPICS);
    assert_int_equal (output.reply->topics->n_names, 0);
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
}

static void
test_publish_and_pop (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (s_run (fsm, OP_PUBLISH, "jobs", "x"), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (s_run (fsm, OP_POP, "jobs", NULL), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (s_run (fsm, OP_CREATE, "jobs", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_POP, "jobs", NULL), RAFTQ__CODE__EMPTY);

    command_holder_t holder;
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "jobs", "first", 5, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_PUBLISHED);
    assert_string_equal (output.reply->published->topic, "jobs");
    assert_int_equal (output.reply->published->sequence, 1);
    fsm_output_clear (&output);

    //  An empty payload is a message too
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "jobs", NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->published->sequence, 2);
    fsm_output_clear (&output);
    assert_int_equal (s_run (fsm, OP_PUBLISH, "jobs", "third"), RAFTQ__CODE__OK);

    s_expect_pop (fsm, "jobs", "first", 1);
    s_expect_pop (fsm, "jobs", "", 2);
    s_expect_pop (fsm, "jobs", "third", 3);
    s_apply_command (fsm, s_command (&holder, OP_POP, "jobs", NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__EMPTY);
    assert_string_equal (output.reply->error, "topic 'jobs' is empty");
    fsm_output_clear (&output);

    //  Sequences count publishes, not queue positions
    assert_int_equal (s_run (fsm, OP_PUBLISH, "jobs", "fourth"), RAFTQ__CODE__OK);
    s_expect_pop (fsm, "jobs", "fourth", 4);

    s_apply_command (fsm, s_command (&holder, OP_POP, "nothing", NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__NOT_FOUND);
    assert_string_equal (output.reply->error, "topic 'nothing' does not exist");
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
}

//  Interleaved publishes and pops on two topics wrap, grow and shrink the
//  rings; order and sequences must hold throughout.
static void
test_fifo_order (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    const char *topics[2] = {"left", "right"};
    assert_int_equal (s_run (fsm, OP_CREATE, topics[0], NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_CREATE, topics[1], NULL), RAFTQ__CODE__OK);

    uint64_t published[2] = {0, 0};
    uint64_t popped[2] = {0, 0};
    char payload[32];
    for (int round = 0; round < 40; round++) {
        //  Bursts of varying sizes: 3 publishes per 2 pops, then drains
        int burst = (round % 5 + 1) * 37;
        for (int step = 0; step < burst; step++) {
            int which = step % 2;
            snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], published[which] + 1);
            assert_int_equal (s_run (fsm, OP_PUBLISH, topics[which], payload), RAFTQ__CODE__OK);
            published[which]++;
            if (step % 3 == 2 && popped[which] < published[which]) {
                popped[which]++;
                snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], popped[which]);
                s_expect_pop (fsm, topics[which], payload, popped[which]);
            }
        }
        if (round % 4 == 3)
            for (int which = 0; which < 2; which++)
                while (popped[which] < published[which]) {
                    popped[which]++;
                    snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], popped[which]);
                    s_expect_pop (fsm, topics[which], payload, popped[which]);
                }
    }
    for (int which = 0; which < 2; which++) {
        while (popped[which] < published[which]) {
            popped[which]++;
            snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], popped[which]);
            s_expect_pop (fsm, topics[which], payload, popped[which]);
        }
        assert_int_equal (s_run (fsm, OP_POP, topics[which], NULL), RAFTQ__CODE__EMPTY);
    }
    fsm_destroy (&fsm);
}

static void
test_events (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    command_holder_t holder;
    fsm_output_t output;

    //  Only successful publishes emit
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "news", "x", 1, 0, 0), &output);
    assert_int_equal (output.event_count, 0);
    assert_null (output.events);
    fsm_output_clear (&output);
    s_apply_command (fsm, s_command (&holder, OP_CREATE, "news", NULL, 0, 0, 0), &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    assert_int_equal (s_run (fsm, OP_CREATE, "sport/uk", NULL), RAFTQ__CODE__OK);

    const char *sequence_of_topics[] = {"news", "news", "sport/uk", "news", "sport/uk"};
    const uint64_t expected_seq[] = {1, 2, 1, 3, 2};
    for (size_t position = 0; position < 5; position++) {
        const char *topic = sequence_of_topics[position];
        char payload[32];
        snprintf (payload, sizeof payload, "item %zu", position);
        s_apply_command (
            fsm, s_command (&holder, OP_PUBLISH, topic, payload, strlen (payload), 0, 0), &output);
        assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
        assert_int_equal (output.event_count, 1);
        Raftq__Event *event = output.events[0];
        char stream[64];
        snprintf (stream, sizeof stream, "topic/%s", topic);
        assert_string_equal (event->stream, stream);
        assert_int_equal (event->seq, expected_seq[position]);
        assert_int_equal (event->index, fsm_applied_index (fsm));
        assert_string_equal (event->kind, "publish");
        assert_string_equal (event->topic, topic);
        assert_int_equal (event->message.len, strlen (payload));
        assert_memory_equal (event->message.data, payload, strlen (payload));
        fsm_output_clear (&output);
        assert_null (output.events);
        assert_int_equal (output.event_count, 0);
    }
    //  Pops, lists, errors: no events
    s_apply_command (fsm, s_command (&holder, OP_POP, "news", NULL, 0, 0, 0), &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    s_apply_command (fsm, s_command (&holder, OP_LIST, NULL, NULL, 0, 0, 0), &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "", "x", 1, 0, 0), &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);

    //  The stream sequence goes on after the queue drains
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "sport/uk", "z", 1, 0, 0), &output);
    assert_int_equal (output.events[0]->seq, 3);
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
}

//  Publish events stay retained for Replay, a bounded window per stream.
static void
test_replay_topic_stream (void **state)
{
    (void)state;
    fsm_options_t options = {.event_retention = 3};
    fsm_t *fsm = fsm_new (&options);
    fsm_t *wider = fsm_new (NULL);
    fsm_t *fsms[] = {fsm, wider};
    for (int which = 0; which < 2; which++) {
        assert_int_equal (s_run (fsms[which], OP_CREATE, "news", NULL), RAFTQ__CODE__OK);
        for (int number = 1; number <= 5; number++) {
            char payload[16];
            snprintf (payload, sizeof payload, "item %d", number);
            assert_int_equal (s_run (fsms[which], OP_PUBLISH, "news", payload), RAFTQ__CODE__OK);
        }
    }
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = "topic/news";
    Raftq__Reply *reply = fsm_replay (fsm, &replay);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->oldest_seq, 3);
    assert_int_equal (reply->index, fsm_applied_index (fsm));
    assert_int_equal (reply->result_case, RAFTQ__REPLY__RESULT_EVENTS);
    assert_int_equal (reply->events->n_events, 3);
    for (size_t position = 0; position < 3; position++) {
        Raftq__Event *event = reply->events->events[position];
        char payload[16];
        snprintf (payload, sizeof payload, "item %zu", position + 3);
        assert_int_equal (event->seq, position + 3);
        assert_int_equal (event->index, position + 4);
        assert_string_equal (event->kind, "publish");
        assert_string_equal (event->topic, "news");
        assert_int_equal (event->message.len, strlen (payload));
        assert_memory_equal (event->message.data, payload, strlen (payload));
    }
    raftq__reply__free_unpacked (reply, NULL);

    //  Popping does not touch the window: events are history, not the queue
    s_expect_pop (fsm, "news", "item 1", 1);
    replay.from_seq = 2;
    reply = fsm_replay (fsm, &replay);
    assert_int_equal (reply->code, RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (reply->oldest_seq, 3);
    raftq__reply__free_unpacked (reply, NULL);
    replay.from_seq = 5;
    replay.limit = 10;
    reply = fsm_replay (fsm, &replay);
    assert_int_equal (reply->events->n_events, 1);
    raftq__reply__free_unpacked (reply, NULL);
    replay.from_seq = 2;
    replay.limit = 2;
    reply = fsm_replay (wider, &replay);
    assert_int_equal (reply->oldest_seq, 1);
    assert_int_equal (reply->events->n_events, 2);
    assert_int_equal (reply->events->events[1]->seq, 3);
    raftq__reply__free_unpacked (reply, NULL);

    //  The window is state: nodes retaining differently do not hash alike
    assert_int_equal (fsm_skip (wider, fsm_applied_index (wider) + 1), 0);
    assert_int_equal (fsm_applied_index (fsm), fsm_applied_index (wider));
    assert_int_not_equal (fsm_state_hash (fsm), fsm_state_hash (wider));
    fsm_destroy (&fsm);
    fsm_destroy (&wider);
}

static void
test_exactly_once (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (s_run (fsm, OP_CREATE, "queue", NULL), RAFTQ__CODE__OK);

    command_holder_t holder;
    fsm_output_t first, retry;
    const uint64_t client = 0xfeedface12345678ULL;
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "queue", "once", 4, client, 7), &first);
    assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (first.reply->published->sequence, 1);
    assert_int_equal (first.event_count, 1);
    uint64_t first_index = first.reply->index;

    //  The retry: same reply (its original index), no events, no new message
    uint64_t hash_before = fsm_state_hash (fsm);
    fsm_t *twin = fsm_new (NULL);
    assert_int_equal (s_run (twin, OP_CREATE, "queue", NULL), RAFTQ__CODE__OK);
    s_apply_command (twin, s_command (&holder, OP_PUBLISH, "queue", "once", 4, client, 7), &retry);
    fsm_output_clear (&retry);
    assert_int_equal (fsm_state_hash (twin), hash_before);

    size_t size;
    uint8_t *data =
        s_pack_command (s_command (&holder, OP_PUBLISH, "queue", "once", 4, client, 7), &size);
    assert_int_equal (fsm_apply (fsm, first_index + 1, data, size, &retry), 0);
    free (data);
    s_assert_same_reply (first.reply, retry.reply);
    assert_int_equal (retry.reply->index, first_index);
    assert_int_equal (retry.event_count, 0);
    fsm_output_clear (&retry);
    assert_int_equal (fsm_skip (twin, first_index + 1), 0);
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));

    //  The cached reply is the same one, for that seq only
    Raftq__Reply *cached = fsm_cached_reply (fsm, client, 7);
    assert_non_null (cached);
    s_assert_same_reply (first.reply, cached);
    raftq__reply__free_unpacked (cached, NULL);
    assert_null (fsm_cached_reply (fsm, client, 6));
    assert_null (fsm_cached_reply (fsm, client, 8));
    assert_null (fsm_cached_reply (fsm, client + 1, 7));
    assert_null (fsm_cached_reply (fsm, 0, 7));
    fsm_output_clear (&first);

    //  A stale seq is refused and changes nothing
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "queue", "old", 3, client, 5), &retry);
    assert_int_equal (retry.reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    assert_string_equal (retry.reply->error, "stale request: seq 5 already superseded");
    assert_int_equal (retry.event_count, 0);
    fsm_output_clear (&retry);
    assert_int_equal (fsm_skip (twin, fsm_applied_index (twin) + 1), 0);
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));

    //  A newer seq applies; error replies are remembered too
    s_apply_command (fsm, s_command (&holder, OP_POP, "missing", NULL, 0, client, 9), &first);
    assert_int_equal (first.reply->code, RAFTQ__CODE__NOT_FOUND);
    cached = fsm_cached_reply (fsm, client, 9);
    assert_non_null (cached);
    s_assert_same_reply (first.reply, cached);
    raftq__reply__free_unpacked (cached, NULL);
    assert_null (fsm_cached_reply (fsm, client, 7));
    fsm_output_clear (&first);

    //  Without client id, or with seq 0, there is no protection: both apply
    for (int round = 0; round < 2; round++) {
        s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "queue", "free", 4, 0, 3), &first);
        assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
        fsm_output_clear (&first);
        s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "queue", "zero", 4, client, 0),
                         &first);
        assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
        fsm_output_clear (&first);
    }
    assert_null (fsm_cached_reply (fsm, 0, 3));
    assert_null (fsm_cached_reply (fsm, client, 0));
    s_expect_pop (fsm, "queue", "once", 1);
    s_expect_pop (fsm, "queue", "free", 2);
    s_expect_pop (fsm, "queue", "zero", 3);
    s_expect_pop (fsm, "queue", "free", 4);
    s_expect_pop (fsm, "queue", "zero", 5);
    assert_int_equal (s_run (fsm, OP_POP, "queue", NULL), RAFTQ__CODE__EMPTY);
    fsm_destroy (&twin);
    fsm_destroy (&fsm);
}

//  A retried pop returns the message it took the first time and takes no other.
static void
test_exactly_once_pop (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (s_run (fsm, OP_CREATE, "q", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_PUBLISH, "q", "a"), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_PUBLISH, "q", "b"), RAFTQ__CODE__OK);

    command_holder_t holder;
    fsm_output_t first, retry;
    s_apply_command (fsm, s_command (&holder, OP_POP, "q", NULL, 0, 42, 1), &first);
    s_apply_command (fsm, s_command (&holder, OP_POP, "q", NULL, 0, 42, 1), &retry);
    s_assert_same_reply (first.reply, retry.reply);
    assert_memory_equal (retry.reply->popped->payload.data, "a", 1);
    fsm_output_clear (&first);
    fsm_output_clear (&retry);
    s_expect_pop (fsm, "q", "b", 2);
    fsm_destroy (&fsm);
}

static void
s_publish_as (fsm_t *fsm, uint64_t client, uint64_t seq)
{
    command_holder_t holder;
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "t", "m", 1, client, seq), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    fsm_output_clear (&output);
}

static void
s_expect_remembered (fsm_t *fsm, uint64_t client, uint64_t seq, bool remembered)
{
    Raftq__Reply *cached = fsm_cached_reply (fsm, client, seq);
    if (remembered)
        assert_non_null (cached);
    else
        assert_null (cached);
    raftq__reply__free_unpacked (cached, NULL);
}

static void
test_exactly_once_eviction (void **state)
{
    (void)state;
    fsm_options_t options = {.max_clients = 3};
    fsm_t *fsms[2] = {fsm_new (&options), fsm_new (&options)};
    for (int which = 0; which < 2; which++) {
        fsm_t *fsm = fsms[which];
        assert_int_equal (s_run (fsm, OP_CREATE, "t", NULL), RAFTQ__CODE__OK);
        s_publish_as (fsm, 300, 1);
        s_publish_as (fsm, 100, 1);
        s_publish_as (fsm, 200, 1);
        //  A new seq is a use: 300 is no longer the oldest, 100 is
        s_publish_as (fsm, 300, 2);
        //  A retry is not a use: 100 stays the oldest
        s_publish_as (fsm, 100, 1);
        s_publish_as (fsm, 400, 1);
        s_expect_remembered (fsm, 100, 1, false);
        s_expect_remembered (fsm, 200, 1, true);
        s_expect_remembered (fsm, 300, 2, true);
        s_expect_remembered (fsm, 400, 1, true);
        s_publish_as (fsm, 500, 1);
        s_expect_remembered (fsm, 200, 1, false);
        s_expect_remembered (fsm, 300, 2, true);
        s_expect_remembered (fsm, 400, 1, true);
        s_expect_remembered (fsm, 500, 1, true);

        //  An evicted client is forgotten: its retry applies again
        command_holder_t holder;
        fsm_output_t output;
        s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "t", "m", 1, 100, 1), &output);
        assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
        assert_int_equal (output.reply->published->sequence, 7);
        assert_int_equal (output.event_count, 1);
        fsm_output_clear (&output);
        s_expect_remembered (fsm, 300, 2, false);
    }
    assert_int_equal (fsm_state_hash (fsms[0]), fsm_state_hash (fsms[1]));
    fsm_destroy (&fsms[0]);
    fsm_destroy (&fsms[1]);
}

//  twin holds fsm's state; it skips the index fsm refuses the command at.
static void
s_expect_invalid (fsm_t *fsm, fsm_t *twin, const Raftq__State__Command *command, Raftq__Code code,
                  const char *error)
{
    Raftq__Code found = RAFTQ__CODE__OK;
    char text[256] = "";
    assert_int_equal (fsm_validate (fsm, command, &found, text, sizeof text), -1);
    assert_int_equal (found, code);
    assert_string_equal (text, error);

    //  Apply checks again: same refusal, state unchanged but for the index
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));
    fsm_output_t output;
    s_apply_command (fsm, command, &output);
    assert_int_equal (output.reply->code, code);
    assert_string_equal (output.reply->error, error);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    assert_int_equal (fsm_skip (twin, fsm_applied_index (fsm)), 0);
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));
}

static void
s_expect_valid (fsm_t *fsm, const Raftq__State__Command *command)
{
    Raftq__Code code = RAFTQ__CODE__INTERNAL;
    char text[256] = "untouched";
    assert_int_equal (fsm_validate (fsm, command, &code, text, sizeof text), 0);
}

static void
test_validate (void **state)
{
    (void)state;
    fsm_options_t options = {.max_topic_name = 8, .max_payload_bytes = 16};
    fsm_t *fsm = fsm_new (&options);
    fsm_t *twin = fsm_new (&options);
    command_holder_t holder;
    uint8_t payload[17];
    memset (payload, 'p', sizeof payload);

    assert_int_equal (s_run (fsm, OP_CREATE, "t", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (twin, OP_CREATE, "t", NULL), RAFTQ__CODE__OK);
    s_expect_valid (fsm, s_command (&holder, OP_PUBLISH, "t", payload, 16, 0, 0));
    s_expect_valid (fsm, s_command (&holder, OP_PUBLISH, "t", payload, 0, 0, 0));
    s_expect_invalid (fsm, twin, s_command (&holder, OP_PUBLISH, "t", payload, 17, 0, 0),
                      RAFTQ__CODE__TOO_LARGE, "payload of 17 bytes exceeds the limit of 16");
    //  Too large is refused even where the topic does not exist
    s_expect_invalid (fsm, twin, s_command (&holder, OP_PUBLISH, "none", payload, 17, 0, 0),
                      RAFTQ__CODE__TOO_LARGE, "payload of 17 bytes exceeds the limit of 16");
    s_expect_invalid (fsm, twin, s_command (&holder, OP_NONE, NULL, NULL, 0, 0, 0),
                      RAFTQ__CODE__INVALID_ARGUMENT, "command has no operation");

    const char *good[] = {
        "12345678",         "a",        "a/b/c", "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
        "\xf0\x9f\x98\x80", "~!@#$%^&", "a b"};
    for (size_t position = 0; position < sizeof good / sizeof good[0]; position++) {
        s_expect_valid (fsm, s_command (&holder, OP_CREATE, good[position], NULL, 0, 0, 0));
        s_expect_valid (fsm, s_command (&holder, OP_POP, good[position], NULL, 0, 0, 0));
        s_expect_valid (fsm, s_command (&holder, OP_PUBLISH, good[position], "x", 1, 0, 0));
        assert_int_equal (s_run (fsm, OP_CREATE, good[position], NULL), RAFTQ__CODE__OK);
        assert_int_equal (s_run (twin, OP_CREATE, good[position], NULL), RAFTQ__CODE__OK);
    }
    struct {
        const char *name;
        const char *error;
    } bad[] = {
        {"", "topic name is empty"},
        {"123456789", "topic name is too long"},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe6", "topic name is not valid UTF-8"}, //  truncated
        {"a\x01", "topic name contains a control character"},
        {"tab\there", "topic name contains a control character"},
        {"line\n", "topic name contains a control character"},
        {"del\x7f", "topic name contains a control character"},
        {"c1\xc2\x85", "topic name contains a control character"}, //  U+0085
        {"\xff", "topic name is not valid UTF-8"},
        {"\x80", "topic name is not valid UTF-8"},
        {"\xc0\xaf", "topic name is not valid UTF-8"},         //  overlong '/'
        {"\xe0\x80\xaf", "topic name is not valid UTF-8"},     //  overlong '/'
        {"\xed\xa0\x80", "topic name is not valid UTF-8"},     //  surrogate
        {"\xf4\x90\x80\x80", "topic name is not valid UTF-8"}, //  beyond U+10FFFF
        {"\xc3(", "topic name is not valid UTF-8"},
    };
    for (size_t position = 0; position < sizeof bad / sizeof bad[0]; position++) {
        s_expect_invalid (fsm, twin,
                          s_command (&holder, OP_CREATE, bad[position].name, NULL, 0, 0, 0),
                          RAFTQ__CODE__INVALID_ARGUMENT, bad[position].error);
        s_expect_invalid (fsm, twin, s_command (&holder, OP_POP, bad[position].name, NULL, 0, 0, 0),
                          RAFTQ__CODE__INVALID_ARGUMENT, bad[position].error);
        s_expect_invalid (fsm, twin,
                          s_command (&holder, OP_PUBLISH, bad[position].name, "x", 1, 0, 0),
                          RAFTQ__CODE__INVALID_ARGUMENT, bad[position].error);
    }
    //  A NULL name (a command built in memory) is refused, not dereferenced
    Raftq__State__Command *command = s_command (&holder, OP_CREATE, NULL, NULL, 0, 0, 0);
    Raftq__Code code;
    char text[64];
    assert_int_equal (fsm_validate (fsm, command, &code, text, sizeof text), -1);
    assert_int_equal (code, RAFTQ__CODE__INVALID_ARGUMENT);
    //  Errors fit any buffer
    assert_int_equal (fsm_validate (fsm, command, &code, text, 5), -1);
    assert_string_equal (text, "topi");
    assert_int_equal (fsm_validate (fsm, command, NULL, NULL, 0), -1);

    //  Nothing refused was created
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_LIST, NULL, NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->topics->n_names, 1 + sizeof good / sizeof good[0]);
    fsm_output_clear (&output);
    fsm_destroy (&twin);
    fsm_destroy (&fsm);
}

//  Defaults: 255-byte names, 1 MiB payloads.
static void
test_validate_defaults (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    command_holder_t holder;
    char name[257];
    memset (name, 'n', 256);
    name[256] = 0;
    Raftq__Code code;
    assert_int_equal (
        fsm_validate (fsm, s_command (&holder, OP_CREATE, name, NULL, 0, 0, 0), &code, NULL, 0),
        -1);
    name[255] = 0;
    s_expect_valid (fsm, s_command (&holder, OP_CREATE, name, NULL, 0, 0, 0));

    size_t limit = 1024 * 1024;
    uint8_t *payload = calloc (1, limit + 1);
    assert_non_null (payload);
    s_expect_valid (fsm, s_command (&holder, OP_PUBLISH, "t", payload, limit, 0, 0));
    assert_int_equal (fsm_validate (fsm,
                                    s_command (&holder, OP_PUBLISH, "t", payload, limit + 1, 0, 0),
                                    &code, NULL, 0),
                      -1);
    assert_int_equal (code, RAFTQ__CODE__TOO_LARGE);

    //  A full-size message goes through and comes back intact
    assert_int_equal (s_run (fsm, OP_CREATE, "t", NULL), RAFTQ__CODE__OK);
    for (size_t position = 0; position < limit; position++)
        payload[position] = (uint8_t)(position * 7);
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "t", payload, limit, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    fsm_output_clear (&output);
    s_apply_command (fsm, s_command (&holder, OP_POP, "t", NULL, 0, 0, 0), &output);
    assert_int_equal (output.reply->popped->payload.len, limit);
    assert_memory_equal (output.reply->popped->payload.data, payload, limit);
    fsm_output_clear (&output);
    free (payload);
    fsm_destroy (&fsm);
}

static void
test_malformed_entry (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    fsm_t *twin = fsm_new (NULL);
    assert_int_equal (s_run (fsm, OP_CREATE, "t", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (twin, OP_CREATE, "t", NULL), RAFTQ__CODE__OK);

    //  Truncated varint, a length beyond the end, a field of wire type 7
    const uint8_t *garbage[] = {(const uint8_t *)"\x08\xff", (const uint8_t *)"\x62\x10\x0a",
                                (const uint8_t *)"\x0f\x01"};
    const size_t sizes[] = {2, 3, 2};
    for (size_t position = 0; position < 3; position++) {
        fsm_output_t output;
        uint64_t index = fsm_applied_index (fsm) + 1;
        assert_int_equal (fsm_apply (fsm, index, garbage[position], sizes[position], &output), 0);
        assert_non_null (output.reply);
        assert_int_equal (output.reply->code, RAFTQ__CODE__INTERNAL);
        assert_string_equal (output.reply->error, "undecodable command");
        assert_int_equal (output.reply->index, index);
        assert_int_equal (output.event_count, 0);
        fsm_output_clear (&output);
        assert_int_equal (fsm_applied_index (fsm), index);
        assert_int_equal (fsm_skip (twin, index), 0);
        assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (twin));
    }
    //  NULL data with a size is undecodable too; an empty entry is a command
    //  without an operation
    fsm_output_t output;
    assert_int_equal (fsm_apply (fsm, fsm_applied_index (fsm) + 1, NULL, 4, &output), 0);
    assert_int_equal (output.reply->code, RAFTQ__CODE__INTERNAL);
    fsm_output_clear (&output);
    assert_int_equal (fsm_apply (fsm, fsm_applied_index (fsm) + 1, NULL, 0, &output), 0);
    assert_int_equal (output.reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    fsm_output_clear (&output);
    fsm_destroy (&twin);
    fsm_destroy (&fsm);
}

static void
test_index_order (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    command_holder_t holder;
    size_t size;
    uint8_t *data = s_pack_command (s_command (&holder, OP_CREATE, "t", NULL, 0, 0, 0), &size);
    uint64_t hash = fsm_state_hash (fsm);
    fsm_output_t output;

    assert_int_equal (fsm_apply (fsm, 0, data, size, &output), -1);
    assert_null (output.reply);
    assert_int_equal (output.event_count, 0);
    assert_int_equal (fsm_apply (fsm, 2, data, size, &output), -1);
    assert_null (output.reply);
    assert_int_equal (fsm_skip (fsm, 2), -1);
    assert_int_equal (fsm_skip (fsm, 0), -1);
    assert_int_equal (fsm_applied_index (fsm), 0);
    assert_int_equal (fsm_state_hash (fsm), hash);

    assert_int_equal (fsm_skip (fsm, 1), 0);
    assert_int_equal (fsm_apply (fsm, 2, data, size, &output), 0);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->index, 2);
    fsm_output_clear (&output);
    //  Re-applying an applied index is refused and changes nothing
    hash = fsm_state_hash (fsm);
    assert_int_equal (fsm_apply (fsm, 2, data, size, &output), -1);
    assert_int_equal (fsm_skip (fsm, 2), -1);
    assert_int_equal (fsm_state_hash (fsm), hash);
    assert_int_equal (fsm_applied_index (fsm), 2);
    free (data);

    //  Clearing an empty output is harmless
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
    fsm_destroy (&fsm);
}

//  --------------------------------------------------------------------------
//  Determinism

typedef struct {
    uint8_t *data; //  packed entry, NULL for a skipped (no-op) entry
    size_t size;   //  its bytes
} entry_t;

static uint64_t
s_random (uint64_t *seed)
{
    //  xorshift64*: a fixed generator, so a printed seed replays the run
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 0x2545F4914F6CDD1DULL;
}

//  A random history: every operation, errors, retries, stale requests,
//  undecodable entries and skips.
static entry_t *
s_random_history (uint64_t seed, size_t count)
{
    uint64_t random = seed ? seed : 1;
    const char *topics[] = {"a", "b", "c/d", "\xc3\xa9", "e", ""};
    uint64_t client_seq[5] = {0, 0, 0, 0, 0};
    entry_t *history = calloc (count, sizeof (entry_t));
    assert_non_null (history);
    for (size_t position = 0; position < count; position++) {
        uint64_t roll = s_random (&random) % 100;
        if (roll < 3)
            continue; //  a no-op entry
        if (roll < 6) {
            history[position].size = 1 + s_random (&random) % 8;
            history[position].data = malloc (history[position].size);
            for (size_t byte = 0; byte < history[position].size; byte++)
                history[position].data[byte] = (uint8_t)(0xf0 | s_random (&random));
            continue; //  undecodable: every byte continues a varint that never ends
        }
        const char *topic = topics[s_random (&random) % 6];
        test_op_t op = roll < 15   ? OP_CREATE
                       : roll < 20 ? OP_LIST
                       : roll < 65 ? OP_PUBLISH
                                   : OP_POP;
        uint8_t payload[40];
        size_t size = s_random (&random) % (op == OP_PUBLISH ? 40 : 1);
        for (size_t byte = 0; byte < size; byte++)
            payload[byte] = (uint8_t)s_random (&random);

        uint64_t client_id = 0, seq = 0;
        uint64_t who = s_random (&random) % 7;
        if (who < 5) {
            client_id = 1000 + who;
            uint64_t kind = s_random (&random) % 10;
            if (kind == 0 && client_seq[who] > 1)
                seq = client_seq[who] - 1; //  stale
            else if (kind == 1 && client_seq[who] > 0)
                seq = client_seq[who]; //  retry
            else
                seq = ++client_seq[who];
        }
        command_holder_t holder;
        history[position].data = s_pack_command (
            s_command (&holder, op, topic, payload, size, client_id, seq), &history[position].size);
    }
    return history;
}

static void
s_history_destroy (entry_t **history_p, size_t count)
{
    for (size_t position = 0; position < count; position++)
        free ((*history_p)[position].data);
    free (*history_p);
    *history_p = NULL;
}

//  Applies entry at the next index; returns apply's result.
static int
s_apply_entry (fsm_t *fsm, const entry_t *entry, fsm_output_t *output)
{
    uint64_t index = fsm_applied_index (fsm) + 1;
    if (!entry->data) {
        memset (output, 0, sizeof *output);
        return fsm_skip (fsm, index);
    }
    return fsm_apply (fsm, index, entry->data, entry->size, output);
}

static bool
s_same_output (const fsm_output_t *first, const fsm_output_t *second)
{
    if ((first->reply == NULL) != (second->reply == NULL))
        return false;
    if (first->event_count != second->event_count)
        return false;
    size_t first_size, second_size;
    if (first->reply) {
        uint8_t *first_bytes = s_pack_reply (first->reply, &first_size);
        uint8_t *second_bytes = s_pack_reply (second->reply, &second_size);
        bool same =
            first_size == second_size && memcmp (first_bytes, second_bytes, first_size) == 0;
        free (first_bytes);
        free (second_bytes);
        if (!same)
            return false;
    }
    for (size_t position = 0; position < first->event_count; position++) {
        first_size = raftq__event__get_packed_size (first->events[position]);
        second_size = raftq__event__get_packed_size (second->events[position]);
        if (first_size != second_size)
            return false;
        uint8_t *first_bytes = malloc (first_size + 1);
        uint8_t *second_bytes = malloc (second_size + 1);
        raftq__event__pack (first->events[position], first_bytes);
        raftq__event__pack (second->events[position], second_bytes);
        bool same = memcmp (first_bytes, second_bytes, first_size) == 0;
        free (first_bytes);
        free (second_bytes);
        if (!same)
            return false;
    }
    return true;
}

static uint64_t
s_test_seed (void)
{
    const char *text = getenv ("RAFTQ_TEST_SEED");
    if (text)
        return strtoull (text, NULL, 0);
    return (uint64_t)time (NULL) * 1000003ULL ^ (uint64_t)getpid ();
}

static void
test_determinism (void **state)
{
    (void)state;
    const size_t count = 4000;
    uint64_t seed = s_test_seed ();
    entry_t *history = s_random_history (seed, count);
    entry_t *other_history = s_random_history (seed + 1, count);

    //  Small table, so eviction happens along the way
    fsm_options_t options = {.max_clients = 3, .max_payload_bytes = 32};
    fsm_t *first = fsm_new (&options);
    fsm_t *second = fsm_new (&options);
    fsm_t *other = fsm_new (&options);
    size_t events = 0;
    for (size_t position = 0; position < count; position++) {
        fsm_output_t first_output, second_output, other_output;
        int first_rc = s_apply_entry (first, &history[position], &first_output);
        int second_rc = s_apply_entry (second, &history[position], &second_output);
        assert_int_equal (s_apply_entry (other, &other_history[position], &other_output), 0);
        if (first_rc != 0 || second_rc != 0 || !s_same_output (&first_output, &second_output))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): entry %zu differs", seed, position);
        events += first_output.event_count;
        fsm_output_clear (&first_output);
        fsm_output_clear (&second_output);
        fsm_output_clear (&other_output);
        if (position % 500 == 0 && fsm_state_hash (first) != fsm_state_hash (second))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): hash differs at %zu", seed, position);
    }
    if (events == 0)
        fail_msg ("seed %" PRIu64 ": history published nothing", seed);
    if (fsm_state_hash (first) != fsm_state_hash (second))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): final hashes differ", seed);
    if (fsm_state_hash (first) == fsm_state_hash (other))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): different histories, same hash", seed);
    //  Hashing reads the state, it does not change it
    assert_int_equal (fsm_state_hash (first), fsm_state_hash (first));

    s_history_destroy (&history, count);
    s_history_destroy (&other_history, count);
    fsm_destroy (&first);
    fsm_destroy (&second);
    fsm_destroy (&other);
}

//  Histories that differ in one detail end in different hashes.
static void
test_hash_sensitivity (void **state)
{
    (void)state;
    enum { VARIANTS = 7 };
    fsm_t *fsms[VARIANTS];
    for (int variant = 0; variant < VARIANTS; variant++) {
        fsm_t *fsm = fsms[variant] = fsm_new (NULL);
        bool swap_order = variant == 1;
        assert_int_equal (s_run (fsm, OP_CREATE, swap_order ? "y" : "x", NULL), RAFTQ__CODE__OK);
        assert_int_equal (s_run (fsm, OP_CREATE, swap_order ? "x" : "y", NULL), RAFTQ__CODE__OK);
        assert_int_equal (s_run (fsm, OP_PUBLISH, "x", variant == 2 ? "payloae" : "payload"),
                          RAFTQ__CODE__OK);
        assert_int_equal (s_run (fsm, OP_PUBLISH, "x", "second"), RAFTQ__CODE__OK);
        //  Same queue content, but one more message was published and popped
        if (variant == 3) {
            assert_int_equal (s_run (fsm, OP_PUBLISH, "y", "gone"), RAFTQ__CODE__OK);
            s_expect_pop (fsm, "y", "gone", 1);
        } else {
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        }
        //  Same queues, but a client's reply is remembered
        command_holder_t holder;
        fsm_output_t output;
        s_apply_command (fsm,
                         s_command (&holder, OP_LIST, NULL, NULL, 0, variant == 4 ? 77 : 0,
                                    variant == 4 ? 1 : 0),
                         &output);
        fsm_output_clear (&output);
        if (variant == 5)
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        //  One message fewer
        if (variant == 6)
            s_expect_pop (fsm, "x", "payload", 1);
    }
    for (int first = 0; first < VARIANTS; first++)
        for (int second = first + 1; second < VARIANTS; second++)
            if (fsm_state_hash (fsms[first]) == fsm_state_hash (fsms[second]))
                fail_msg ("variants %d and %d hash the same", first, second);
    for (int variant = 0; variant < VARIANTS; variant++)
        fsm_destroy (&fsms[variant]);
}

//  1M queued 256-byte messages (fewer under valgrind), then drained in order.
static void
test_million_messages (void **state)
{
    (void)state;
    const uint64_t count = RUNNING_ON_VALGRIND ? 20000 : 1000000;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (s_run (fsm, OP_CREATE, "bulk", NULL), RAFTQ__CODE__OK);
    uint8_t payload[256];
    memset (payload, 0xab, sizeof payload);
    command_holder_t holder;
    fsm_output_t output;
    for (uint64_t sequence = 1; sequence <= count; sequence++) {
        memcpy (payload, &sequence, sizeof sequence);
        s_apply_command (
            fsm, s_command (&holder, OP_PUBLISH, "bulk", payload, sizeof payload, 0, 0), &output);
        if (output.reply->code != RAFTQ__CODE__OK || output.reply->published->sequence != sequence)
            fail_msg ("publish %" PRIu64 " failed", sequence);
        fsm_output_clear (&output);
    }
    //  Hashing a big state works (and equals itself)
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (fsm));
    for (uint64_t sequence = 1; sequence <= count; sequence++) {
        s_apply_command (fsm, s_command (&holder, OP_POP, "bulk", NULL, 0, 0, 0), &output);
        memcpy (payload, &sequence, sizeof sequence);
        if (output.reply->code != RAFTQ__CODE__OK || output.reply->popped->sequence != sequence ||
            output.reply->popped->payload.len != sizeof payload ||
            memcmp (output.reply->popped->payload.data, payload, sizeof payload) != 0)
            fail_msg ("pop %" PRIu64 " wrong", sequence);
        fsm_output_clear (&output);
    }
    assert_int_equal (s_run (fsm, OP_POP, "bulk", NULL), RAFTQ__CODE__EMPTY);
    fsm_destroy (&fsm);
}

//  --------------------------------------------------------------------------
//  Snapshots: save, pack, unpack, load

//  A fresh fsm restored from fsm's state, the way a snapshot file carries
//  it (packed and unpacked).
static fsm_t *
s_snapshot_copy (fsm_t *fsm, const fsm_options_t *options)
{
    uint64_t hash_before = fsm_state_hash (fsm);
    Raftq__State__FsmState saved;
    fsm_snapshot_save (fsm, &saved);
    size_t size = raftq__state__fsm_state__get_packed_size (&saved);
    uint8_t *packed = malloc (size + 1);
    assert_non_null (packed);
    raftq__state__fsm_state__pack (&saved, packed);
    fsm_snapshot_release (&saved);
    assert_int_equal (saved.n_topics, 0);
    //  Saving borrows: the original is untouched
    assert_int_equal (fsm_state_hash (fsm), hash_before);

    Raftq__State__FsmState *state = raftq__state__fsm_state__unpack (NULL, size, packed);
    free (packed);
    assert_non_null (state);
    fsm_t *copy = fsm_new (options);
    char error[256] = "";
    if (fsm_snapshot_load (copy, state, error, sizeof error))
        fail_msg ("fsm_snapshot_load: %s", error);
    raftq__state__fsm_state__free_unpacked (state, NULL);
    assert_int_equal (fsm_applied_index (copy), fsm_applied_index (fsm));
    assert_int_equal (fsm_state_hash (copy), hash_before);
    return copy;
}

//  Applies the same command to both and checks they answer alike.
static void
s_apply_both (fsm_t *first, fsm_t *second, const Raftq__State__Command *command)
{
    fsm_output_t outputs[2];
    s_apply_command (first, command, &outputs[0]);
    s_apply_command (second, command, &outputs[1]);
    if (!s_same_output (&outputs[0], &outputs[1]))
        fail_msg ("a restored fsm answers differently");
    fsm_output_clear (&outputs[0]);
    fsm_output_clear (&outputs[1]);
}

static void
test_snapshot_round_trip (void **state)
{
    (void)state;
    fsm_options_t options = {.max_clients = 3};
    fsm_t *fsm = fsm_new (&options);
    assert_int_equal (s_run (fsm, OP_CREATE, "t", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_CREATE, "later", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_CREATE, "drained", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_PUBLISH, "drained", "gone"), RAFTQ__CODE__OK);
    s_expect_pop (fsm, "drained", "gone", 1);
    //  The ring of "later" wraps around: its oldest message is not in slot 0
    for (int round = 0; round < 30; round++) {
        assert_int_equal (s_run (fsm, OP_PUBLISH, "later", round % 5 ? "x" : ""), RAFTQ__CODE__OK);
        if (round % 3 == 2)
            assert_int_equal (s_run (fsm, OP_POP, "later", NULL), RAFTQ__CODE__OK);
    }
    //  Clients in use order 300, 100, 200 (a retry is no use)
    s_publish_as (fsm, 300, 1);
    s_publish_as (fsm, 100, 1);
    s_publish_as (fsm, 200, 1);
    s_publish_as (fsm, 300, 1);
    assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);

    fsm_t *copy = s_snapshot_copy (fsm, &options);
    fsm_t *both[2] = {fsm, copy};
    for (int which = 0; which < 2; which++) {
        //  A new client evicts the least recently applied one: 300
        s_publish_as (both[which], 400, 1);
        s_expect_remembered (both[which], 300, 1, false);
        s_expect_remembered (both[which], 100, 1, true);
        s_expect_remembered (both[which], 200, 1, true);
    }
    command_holder_t holder;
    s_apply_both (fsm, copy, s_command (&holder, OP_PUBLISH, "t", "m", 1, 100, 1));
    s_apply_both (fsm, copy, s_command (&holder, OP_LIST, NULL, NULL, 0, 0, 0));
    s_apply_both (fsm, copy, s_command (&holder, OP_PUBLISH, "drained", "again", 5, 0, 0));
    //  Every queued message comes out alike, in order, then EMPTY
    for (int pop = 0; pop < 25; pop++) {
        s_apply_both (fsm, copy, s_command (&holder, OP_POP, "later", NULL, 0, 0, 0));
        s_apply_both (fsm, copy, s_command (&holder, OP_POP, "t", NULL, 0, 0, 0));
    }
    assert_int_equal (s_run (fsm, OP_POP, "later", NULL), RAFTQ__CODE__EMPTY);
    assert_int_equal (s_run (copy, OP_POP, "later", NULL), RAFTQ__CODE__EMPTY);
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = "topic/later";
    fsm_output_t replays[2] = {{.reply = fsm_replay (fsm, &replay)},
                               {.reply = fsm_replay (copy, &replay)}};
    assert_true (s_same_output (&replays[0], &replays[1]));
    fsm_output_clear (&replays[0]);
    fsm_output_clear (&replays[1]);
    fsm_destroy (&copy);
    fsm_destroy (&fsm);
}

//  Loads state into a fresh fsm and expects a refusal naming what.
static void
s_expect_refused (Raftq__State__FsmState *state, const char *what)
{
    fsm_t *fsm = fsm_new (NULL);
    char error[256] = "";
    assert_int_equal (fsm_snapshot_load (fsm, state, error, sizeof error), -1);
    if (!strstr (error, what))
        fail_msg ("refusal '%s' does not mention '%s'", error, what);
    fsm_destroy (&fsm);
}

//  The saved state of a small fsm, unpacked: two topics, two remembered
//  clients, retained events. Free with raftq__state__fsm_state__free_unpacked.
static Raftq__State__FsmState *
s_small_saved_state (void)
{
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (s_run (fsm, OP_CREATE, "t1", NULL), RAFTQ__CODE__OK);
    assert_int_equal (s_run (fsm, OP_CREATE, "t2", NULL), RAFTQ__CODE__OK);
    command_holder_t holder;
    fsm_output_t output;
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "t1", "one", 3, 7, 1), &output);
    fsm_output_clear (&output);
    s_apply_command (fsm, s_command (&holder, OP_PUBLISH, "t1", "two", 3, 8, 1), &output);
    fsm_output_clear (&output);
    Raftq__State__FsmState saved;
    fsm_snapshot_save (fsm, &saved);
    size_t size = raftq__state__fsm_state__get_packed_size (&saved);
    uint8_t *packed = malloc (size);
    raftq__state__fsm_state__pack (&saved, packed);
    fsm_snapshot_release (&saved);
    fsm_destroy (&fsm);
    Raftq__State__FsmState *state = raftq__state__fsm_state__unpack (NULL, size, packed);
    free (packed);
    assert_non_null (state);
    assert_int_equal (state->n_topics, 2);
    assert_int_equal (state->n_clients, 2);
    assert_int_equal (state->events->n_retained, 2);
    return state;
}

//  Decodable states that no fsm could have saved are refused, never half
//  trusted; a used fsm refuses any.
static void
test_snapshot_load_refuses (void **state)
{
    (void)state;
    Raftq__State__FsmState *saved = s_small_saved_state ();
    fsm_t *used = fsm_new (NULL);
    assert_int_equal (fsm_skip (used, 1), 0);
    char error[256] = "";
    assert_int_equal (fsm_snapshot_load (used, saved, error, sizeof error), -1);
    assert_non_null (strstr (error, "applied"));
    fsm_destroy (&used);
    //  Intact, it loads
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (fsm_snapshot_load (fsm, saved, error, sizeof error), 0);
    fsm_destroy (&fsm);
    raftq__state__fsm_state__free_unpacked (saved, NULL);

    enum { CASES = 9 };
    const char *expected[CASES] = {"taken",           "more messages",   "client 0",
                                   "out of order",    "decode",          "unknown stream",
                                   "out of sequence", "does not decode", "last event"};
    for (int which = 0; which < CASES; which++) {
        saved = s_small_saved_state ();
        Raftq__State__EventLogState *events = saved->events;
        switch (which) {
        case 0: //  two topics of one name
            saved->topics[1]->name[1] = '1';
            break;
        case 1:
            saved->topics[0]->publish_count = 1;
            break;
        case 2:
            saved->clients[0]->client_id = 0;
            break;
        case 3: { //  use order against apply order
            Raftq__State__ClientState *swap = saved->clients[0];
            saved->clients[0] = saved->clients[1];
            saved->clients[1] = swap;
            break;
        }
        case 4: //  a remembered reply that is no reply
            memset (saved->clients[0]->reply.data, 0xff, saved->clients[0]->reply.len);
            break;
        case 5:
            events->retained[0]->stream[0] = 'x';
            break;
        case 6:
            events->retained[1]->seq = 5;
            break;
        case 7: //  a retained event that is not the event it claims to be
            memset (events->retained[0]->event.data, 0xff, events->retained[0]->event.len);
            break;
        case 8: //  the stream counted on past its window
            for (size_t stream = 0; stream < events->n_streams; stream++)
                events->streams[stream]->last_seq += 1;
            break;
        }
        s_expect_refused (saved, expected[which]);
        raftq__state__fsm_state__free_unpacked (saved, NULL);
    }
}

//  Chat states that no chat could have saved.
static void
test_snapshot_load_refuses_chat (void **state)
{
    (void)state;
    Raftq__State__AccountState accounts[2] = {RAFTQ__STATE__ACCOUNT_STATE__INIT,
                                              RAFTQ__STATE__ACCOUNT_STATE__INIT};
    Raftq__State__AccountState *account_list[2] = {&accounts[0], &accounts[1]};
    char *tokens[2] = {"00000000000000000000000000000001", "00000000000000000000000000000001"};
    Raftq__State__ChatMessageState message = RAFTQ__STATE__CHAT_MESSAGE_STATE__INIT;
    Raftq__State__ChatMessageState *message_list[1] = {&message};
    Raftq__State__ChatState chat = RAFTQ__STATE__CHAT_STATE__INIT;
    Raftq__State__FsmState fsm_state = RAFTQ__STATE__FSM_STATE__INIT;
    fsm_state.applied_index = 9;
    fsm_state.chat = &chat;
    chat.accounts = account_list;
    chat.n_accounts = 2;
    chat.last_message_id = 4;
    accounts[0].name = "ann";
    accounts[1].name = "bob";
    accounts[0].password_hash = accounts[1].password_hash = "$argon2id$x";
    message.id = 4;
    message.sender = "ann";
    message.recipient = "bob";
    message.text = "hi";
    chat.messages = message_list;
    chat.n_messages = 1;

    fsm_t *fsm = fsm_new (NULL);
    char error[256] = "";
    assert_int_equal (fsm_snapshot_load (fsm, &fsm_state, error, sizeof error), 0);
    assert_int_equal (fsm_applied_index (fsm), 9);
    assert_string_equal (fsm_password_hash (fsm, "bob"), "$argon2id$x");
    fsm_destroy (&fsm);

    message.recipient = "cid";
    s_expect_refused (&fsm_state, "names no account");
    message.recipient = "bob";
    message.id = 5;
    s_expect_refused (&fsm_state, "out of order");
    message.id = 4;
    accounts[1].name = "aaa";
    s_expect_refused (&fsm_state, "out of order");
    accounts[1].name = "bob";
    accounts[0].session_tokens = &tokens[0];
    accounts[0].n_session_tokens = 1;
    accounts[1].session_tokens = &tokens[1];
    accounts[1].n_session_tokens = 1;
    s_expect_refused (&fsm_state, "duplicate session token");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_create_and_list_topics),
        cmocka_unit_test (test_list_empty),
        cmocka_unit_test (test_publish_and_pop),
        cmocka_unit_test (test_fifo_order),
        cmocka_unit_test (test_events),
        cmocka_unit_test (test_replay_topic_stream),
        cmocka_unit_test (test_exactly_once),
        cmocka_unit_test (test_exactly_once_pop),
        cmocka_unit_test (test_exactly_once_eviction),
        cmocka_unit_test (test_validate),
        cmocka_unit_test (test_validate_defaults),
        cmocka_unit_test (test_malformed_entry),
        cmocka_unit_test (test_index_order),
        cmocka_unit_test (test_determinism),
        cmocka_unit_test (test_hash_sensitivity),
        cmocka_unit_test (test_million_messages),
        cmocka_unit_test (test_snapshot_round_trip),
        cmocka_unit_test (test_snapshot_load_refuses),
        cmocka_unit_test (test_snapshot_load_refuses_chat),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
