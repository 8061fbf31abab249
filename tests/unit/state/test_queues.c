/*  test_queues — topics and their queues driven through the fsm with packed
    commands, as the server does: every queue operation and its errors, FIFO
    order and sequences, publish events and their Replay, validation limits
    (checked before proposing and again at apply), and a million messages
    queued and drained.
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

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "fsm_fixture.h"
#include "queue_fixture.h"

static void
test_create_and_list_topics (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    assert_non_null (fsm);
    assert_int_equal (fsm_applied_index (fsm), 0);

    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "orders", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "alpha", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "a/b", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "orders", NULL),
                      RAFTQ__CODE__ALREADY_EXISTS);
    assert_int_equal (fsm_applied_index (fsm), 4);

    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_LIST, NULL, NULL, 0, 0, 0),
                       &output);
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
    fsm_fixture_expect_error (fsm,
                              queue_fixture_command (&holder, QUEUE_CREATE, "alpha", NULL, 0, 0, 0),
                              RAFTQ__CODE__ALREADY_EXISTS, "topic 'alpha' already exists");
    fsm_destroy (&fsm);
    assert_null (fsm);
}

static void
test_list_empty (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_LIST, NULL, NULL, 0, 0, 0),
                       &output);
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
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "x"), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "jobs", NULL), RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "jobs", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "jobs", NULL), RAFTQ__CODE__EMPTY);

    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (
        fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "jobs", "first", 5, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_PUBLISHED);
    assert_string_equal (output.reply->published->topic, "jobs");
    assert_int_equal (output.reply->published->sequence, 1);
    fsm_output_clear (&output);

    //  An empty payload is a message too
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "jobs", NULL, 0, 0, 0),
                       &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->published->sequence, 2);
    fsm_output_clear (&output);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "third"), RAFTQ__CODE__OK);

    queue_fixture_expect_pop (fsm, "jobs", "first", 1);
    queue_fixture_expect_pop (fsm, "jobs", "", 2);
    queue_fixture_expect_pop (fsm, "jobs", "third", 3);
    fsm_fixture_expect_error (fsm,
                              queue_fixture_command (&holder, QUEUE_POP, "jobs", NULL, 0, 0, 0),
                              RAFTQ__CODE__EMPTY, "topic 'jobs' is empty");

    //  Sequences count publishes, not queue positions
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "jobs", "fourth"), RAFTQ__CODE__OK);
    queue_fixture_expect_pop (fsm, "jobs", "fourth", 4);

    fsm_fixture_expect_error (fsm,
                              queue_fixture_command (&holder, QUEUE_POP, "nothing", NULL, 0, 0, 0),
                              RAFTQ__CODE__NOT_FOUND, "topic 'nothing' does not exist");
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
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, topics[0], NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, topics[1], NULL), RAFTQ__CODE__OK);

    uint64_t published[2] = {0, 0};
    uint64_t popped[2] = {0, 0};
    char payload[32];
    for (int round = 0; round < 40; round++) {
        //  Bursts of varying sizes: 3 publishes per 2 pops, then drains
        int burst = (round % 5 + 1) * 37;
        for (int step = 0; step < burst; step++) {
            int which = step % 2;
            snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], published[which] + 1);
            assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, topics[which], payload),
                              RAFTQ__CODE__OK);
            published[which]++;
            if (step % 3 == 2 && popped[which] < published[which]) {
                popped[which]++;
                snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], popped[which]);
                queue_fixture_expect_pop (fsm, topics[which], payload, popped[which]);
            }
        }
        if (round % 4 == 3)
            for (int which = 0; which < 2; which++)
                while (popped[which] < published[which]) {
                    popped[which]++;
                    snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], popped[which]);
                    queue_fixture_expect_pop (fsm, topics[which], payload, popped[which]);
                }
    }
    for (int which = 0; which < 2; which++) {
        while (popped[which] < published[which]) {
            popped[which]++;
            snprintf (payload, sizeof payload, "%s-%" PRIu64, topics[which], popped[which]);
            queue_fixture_expect_pop (fsm, topics[which], payload, popped[which]);
        }
        assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, topics[which], NULL),
                          RAFTQ__CODE__EMPTY);
    }
    fsm_destroy (&fsm);
}

static void
test_events (void **state)
{
    (void)state;
    fsm_t *fsm = fsm_new (NULL);
    queue_fixture_t holder;
    fsm_output_t output;

    //  Only successful publishes emit
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "news", "x", 1, 0, 0),
                       &output);
    assert_int_equal (output.event_count, 0);
    assert_null (output.events);
    fsm_output_clear (&output);
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_CREATE, "news", NULL, 0, 0, 0),
                       &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "sport/uk", NULL), RAFTQ__CODE__OK);

    const char *sequence_of_topics[] = {"news", "news", "sport/uk", "news", "sport/uk"};
    const uint64_t expected_seq[] = {1, 2, 1, 3, 2};
    for (size_t position = 0; position < 5; position++) {
        const char *topic = sequence_of_topics[position];
        char payload[32];
        snprintf (payload, sizeof payload, "item %zu", position);
        fsm_fixture_apply (
            fsm,
            queue_fixture_command (&holder, QUEUE_PUBLISH, topic, payload, strlen (payload), 0, 0),
            &output);
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
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_POP, "news", NULL, 0, 0, 0),
                       &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_LIST, NULL, NULL, 0, 0, 0),
                       &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "", "x", 1, 0, 0),
                       &output);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);

    //  The stream sequence goes on after the queue drains
    fsm_fixture_apply (
        fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "sport/uk", "z", 1, 0, 0), &output);
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
        assert_int_equal (queue_fixture_run (fsms[which], QUEUE_CREATE, "news", NULL),
                          RAFTQ__CODE__OK);
        for (int number = 1; number <= 5; number++) {
            char payload[16];
            snprintf (payload, sizeof payload, "item %d", number);
            assert_int_equal (queue_fixture_run (fsms[which], QUEUE_PUBLISH, "news", payload),
                              RAFTQ__CODE__OK);
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
    queue_fixture_expect_pop (fsm, "news", "item 1", 1);
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
    fsm_fixture_apply (fsm, command, &output);
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

//  An fsm with 8-byte topic names and 16-byte payloads, its twin (same
//  state, for s_expect_invalid) in *twin; both have topic "t".
static fsm_t *
s_validating_pair (fsm_t **twin)
{
    fsm_options_t options = {.max_topic_name = 8, .max_payload_bytes = 16};
    fsm_t *fsm = fsm_new (&options);
    *twin = fsm_new (&options);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (*twin, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
    return fsm;
}

static void
test_validate_limits (void **state)
{
    (void)state;
    fsm_t *twin;
    fsm_t *fsm = s_validating_pair (&twin);
    queue_fixture_t holder;
    uint8_t payload[17];
    memset (payload, 'p', sizeof payload);
    s_expect_valid (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t", payload, 16, 0, 0));
    s_expect_valid (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t", payload, 0, 0, 0));
    s_expect_invalid (fsm, twin,
                      queue_fixture_command (&holder, QUEUE_PUBLISH, "t", payload, 17, 0, 0),
                      RAFTQ__CODE__TOO_LARGE, "payload of 17 bytes exceeds the limit of 16");
    //  Too large is refused even where the topic does not exist
    s_expect_invalid (fsm, twin,
                      queue_fixture_command (&holder, QUEUE_PUBLISH, "none", payload, 17, 0, 0),
                      RAFTQ__CODE__TOO_LARGE, "payload of 17 bytes exceeds the limit of 16");
    s_expect_invalid (fsm, twin, queue_fixture_command (&holder, QUEUE_NONE, NULL, NULL, 0, 0, 0),
                      RAFTQ__CODE__INVALID_ARGUMENT, "command has no operation");
    //  A NULL name (a command built in memory) is refused, not dereferenced
    Raftq__State__Command *command =
        queue_fixture_command (&holder, QUEUE_CREATE, NULL, NULL, 0, 0, 0);
    Raftq__Code code;
    char text[64];
    assert_int_equal (fsm_validate (fsm, command, &code, text, sizeof text), -1);
    assert_int_equal (code, RAFTQ__CODE__INVALID_ARGUMENT);
    //  Errors fit any buffer
    assert_int_equal (fsm_validate (fsm, command, &code, text, 5), -1);
    assert_string_equal (text, "topi");
    assert_int_equal (fsm_validate (fsm, command, NULL, NULL, 0), -1);
    fsm_destroy (&twin);
    fsm_destroy (&fsm);
}

static void
test_validate_topic_names (void **state)
{
    (void)state;
    fsm_t *twin;
    fsm_t *fsm = s_validating_pair (&twin);
    queue_fixture_t holder;
    const char *good[] = {
        "12345678",         "a",        "a/b/c", "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
        "\xf0\x9f\x98\x80", "~!@#$%^&", "a b"};
    for (size_t position = 0; position < sizeof good / sizeof good[0]; position++) {
        s_expect_valid (
            fsm, queue_fixture_command (&holder, QUEUE_CREATE, good[position], NULL, 0, 0, 0));
        s_expect_valid (fsm,
                        queue_fixture_command (&holder, QUEUE_POP, good[position], NULL, 0, 0, 0));
        s_expect_valid (
            fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, good[position], "x", 1, 0, 0));
        assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, good[position], NULL),
                          RAFTQ__CODE__OK);
        assert_int_equal (queue_fixture_run (twin, QUEUE_CREATE, good[position], NULL),
                          RAFTQ__CODE__OK);
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
        s_expect_invalid (
            fsm, twin,
            queue_fixture_command (&holder, QUEUE_CREATE, bad[position].name, NULL, 0, 0, 0),
            RAFTQ__CODE__INVALID_ARGUMENT, bad[position].error);
        s_expect_invalid (
            fsm, twin,
            queue_fixture_command (&holder, QUEUE_POP, bad[position].name, NULL, 0, 0, 0),
            RAFTQ__CODE__INVALID_ARGUMENT, bad[position].error);
        s_expect_invalid (
            fsm, twin,
            queue_fixture_command (&holder, QUEUE_PUBLISH, bad[position].name, "x", 1, 0, 0),
            RAFTQ__CODE__INVALID_ARGUMENT, bad[position].error);
    }
    //  Nothing refused was created
    fsm_output_t output;
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_LIST, NULL, NULL, 0, 0, 0),
                       &output);
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
    queue_fixture_t holder;
    char name[257];
    memset (name, 'n', 256);
    name[256] = 0;
    Raftq__Code code;
    assert_int_equal (
        fsm_validate (fsm, queue_fixture_command (&holder, QUEUE_CREATE, name, NULL, 0, 0, 0),
                      &code, NULL, 0),
        -1);
    name[255] = 0;
    s_expect_valid (fsm, queue_fixture_command (&holder, QUEUE_CREATE, name, NULL, 0, 0, 0));

    size_t limit = 1024 * 1024;
    uint8_t *payload = calloc (1, limit + 1);
    assert_non_null (payload);
    s_expect_valid (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t", payload, limit, 0, 0));
    assert_int_equal (
        fsm_validate (fsm,
                      queue_fixture_command (&holder, QUEUE_PUBLISH, "t", payload, limit + 1, 0, 0),
                      &code, NULL, 0),
        -1);
    assert_int_equal (code, RAFTQ__CODE__TOO_LARGE);

    //  A full-size message goes through and comes back intact
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
    for (size_t position = 0; position < limit; position++)
        payload[position] = (uint8_t)(position * 7);
    fsm_output_t output;
    fsm_fixture_apply (
        fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t", payload, limit, 0, 0), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    fsm_output_clear (&output);
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_POP, "t", NULL, 0, 0, 0),
                       &output);
    assert_int_equal (output.reply->popped->payload.len, limit);
    assert_memory_equal (output.reply->popped->payload.data, payload, limit);
    fsm_output_clear (&output);
    free (payload);
    fsm_destroy (&fsm);
}

//  1M queued 256-byte messages (fewer under valgrind), then drained in order.
static void
test_million_messages (void **state)
{
    (void)state;
    const uint64_t count = RUNNING_ON_VALGRIND ? 20000 : 1000000;
    fsm_t *fsm = fsm_new (NULL);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "bulk", NULL), RAFTQ__CODE__OK);
    uint8_t payload[256];
    memset (payload, 0xab, sizeof payload);
    queue_fixture_t holder;
    fsm_output_t output;
    for (uint64_t sequence = 1; sequence <= count; sequence++) {
        memcpy (payload, &sequence, sizeof sequence);
        fsm_fixture_apply (
            fsm,
            queue_fixture_command (&holder, QUEUE_PUBLISH, "bulk", payload, sizeof payload, 0, 0),
            &output);
        if (output.reply->code != RAFTQ__CODE__OK || output.reply->published->sequence != sequence)
            fail_msg ("publish %" PRIu64 " failed", sequence);
        fsm_output_clear (&output);
    }
    //  Hashing a big state works (and equals itself)
    assert_int_equal (fsm_state_hash (fsm), fsm_state_hash (fsm));
    for (uint64_t sequence = 1; sequence <= count; sequence++) {
        fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_POP, "bulk", NULL, 0, 0, 0),
                           &output);
        memcpy (payload, &sequence, sizeof sequence);
        if (output.reply->code != RAFTQ__CODE__OK || output.reply->popped->sequence != sequence ||
            output.reply->popped->payload.len != sizeof payload ||
            memcmp (output.reply->popped->payload.data, payload, sizeof payload) != 0)
            fail_msg ("pop %" PRIu64 " wrong", sequence);
        fsm_output_clear (&output);
    }
    assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "bulk", NULL), RAFTQ__CODE__EMPTY);
    fsm_destroy (&fsm);
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
        cmocka_unit_test (test_validate_limits),
        cmocka_unit_test (test_validate_topic_names),
        cmocka_unit_test (test_validate_defaults),
        cmocka_unit_test (test_million_messages),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
