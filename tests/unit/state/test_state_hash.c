/*  test_state_hash — determinism of the whole state machine: two state
    machines fed the same random history (queue operations with retries,
    stale requests, undecodable entries and skips; or chat operations with
    good and bad tokens, deleted and recreated accounts) give the same
    replies, events, Replay answers and state hash, also when one of them
    is restored from a snapshot halfway; and states that differ in one
    detail hash differently. RAFTQ_TEST_SEED replays a failing seed.
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

#include "chat_fixture.h"
#include "fsm_fixture.h"
#include "queue_fixture.h"

//  --------------------------------------------------------------------------
//  Random histories

//  A random queue history: every operation, errors, retries, stale requests,
//  undecodable entries and skips.
static fsm_fixture_entry_t *
s_queue_history (uint64_t seed, size_t count)
{
    uint64_t random = seed ? seed : 1;
    const char *topics[] = {"a", "b", "c/d", "\xc3\xa9", "e", ""};
    uint64_t client_seq[5] = {0, 0, 0, 0, 0};
    fsm_fixture_entry_t *history = calloc (count, sizeof (fsm_fixture_entry_t));
    assert_non_null (history);
    for (size_t position = 0; position < count; position++) {
        uint64_t roll = fsm_fixture_random (&random) % 100;
        if (roll < 3)
            continue; //  a no-op entry
        if (roll < 6) {
            history[position].size = 1 + fsm_fixture_random (&random) % 8;
            history[position].data = malloc (history[position].size);
            for (size_t byte = 0; byte < history[position].size; byte++)
                history[position].data[byte] = (uint8_t)(0xf0 | fsm_fixture_random (&random));
            continue; //  undecodable: every byte continues a varint that never ends
        }
        const char *topic = topics[fsm_fixture_random (&random) % 6];
        queue_op_t op = roll < 15   ? QUEUE_CREATE
                        : roll < 20 ? QUEUE_LIST
                        : roll < 65 ? QUEUE_PUBLISH
                                    : QUEUE_POP;
        uint8_t payload[40];
        size_t size = fsm_fixture_random (&random) % (op == QUEUE_PUBLISH ? 40 : 1);
        for (size_t byte = 0; byte < size; byte++)
            payload[byte] = (uint8_t)fsm_fixture_random (&random);

        uint64_t client_id = 0, seq = 0;
        uint64_t who = fsm_fixture_random (&random) % 7;
        if (who < 5) {
            client_id = 1000 + who;
            uint64_t kind = fsm_fixture_random (&random) % 10;
            if (kind == 0 && client_seq[who] > 1)
                seq = client_seq[who] - 1; //  stale
            else if (kind == 1 && client_seq[who] > 0)
                seq = client_seq[who]; //  retry
            else
                seq = ++client_seq[who];
        }
        queue_fixture_t holder;
        history[position].data = fsm_fixture_pack (
            queue_fixture_command (&holder, op, topic, payload, size, client_id, seq),
            &history[position].size);
    }
    return history;
}

//  A random chat history over a few users: every operation, good and bad
//  tokens, retries, accounts deleted and created again.
static fsm_fixture_entry_t *
s_chat_history (uint64_t seed, size_t count)
{
    uint64_t random = seed ? seed : 1;
    const char *users[] = {"ann", "bob", "cid", "dan"};
    fsm_fixture_entry_t *history = calloc (count, sizeof (fsm_fixture_entry_t));
    assert_non_null (history);
    for (size_t position = 0; position < count; position++) {
        chat_fixture_t holder;
        const char *user = users[fsm_fixture_random (&random) % 4];
        const char *other = users[fsm_fixture_random (&random) % 4];
        char token[33];
        chat_fixture_token (token, 1 + fsm_fixture_random (&random) %
                                           12); //  some valid, some never issued
        uint64_t ids[4];
        for (size_t id = 0; id < 4; id++)
            ids[id] = 1 + fsm_fixture_random (&random) % (position + 1);
        char text[40];
        snprintf (text, sizeof text, " text %" PRIu64 " ", fsm_fixture_random (&random) % 1000);
        Raftq__State__Command *command;
        uint64_t roll = fsm_fixture_random (&random) % 100;
        if (roll < 10)
            command = chat_fixture_create_account (&holder, user, "pw");
        else if (roll < 25)
            command = chat_fixture_login (&holder, user, roll % 5 ? "pw" : "bad",
                                          1 + fsm_fixture_random (&random) % 12);
        else if (roll < 55)
            command = chat_fixture_send (&holder, token, other, roll % 11 ? text : "  ");
        else if (roll < 70)
            command = chat_fixture_read (&holder, token, roll % 2 ? other : NULL,
                                         fsm_fixture_random (&random) % 3,
                                         fsm_fixture_random (&random) % 4);
        else if (roll < 80)
            command =
                chat_fixture_delete (&holder, token, ids, 1 + fsm_fixture_random (&random) % 4);
        else if (roll < 84)
            command = chat_fixture_delete_account (&holder, token);
        else if (roll < 88)
            command = chat_fixture_logout (&holder, token);
        else if (roll < 94)
            command = chat_fixture_list (&holder, roll % 2 ? "*" : "[a-c]*", 1, 2);
        else
            command = chat_fixture_check_user (&holder, user);
        command->timestamp_ms = CHAT_FIXTURE_TIMESTAMP + (int64_t)position;
        if (roll % 3 == 0) {
            command->client_id = 1 + roll % 2;
            command->seq = position / 2 + 1; //  every other entry retries
        }
        history[position].data = fsm_fixture_pack (command, &history[position].size);
    }
    return history;
}

//  --------------------------------------------------------------------------
//  Determinism

//  Replays of every stream agree between two state machines.
static void
s_expect_same_replays (fsm_t *first, fsm_t *second, const char *const *streams, size_t count)
{
    for (size_t which = 0; which < count; which++) {
        fsm_output_t outputs[2] = {{.reply = fsm_fixture_replay (first, streams[which], 0, 0)},
                                   {.reply = fsm_fixture_replay (second, streams[which], 0, 0)}};
        if (!fsm_fixture_same_output (&outputs[0], &outputs[1]))
            fail_msg ("replay of %s differs", streams[which]);
        fsm_output_clear (&outputs[0]);
        fsm_output_clear (&outputs[1]);
    }
}

//  Two state machines fed one history give the same replies, events and
//  hashes, also when the second is restored from a snapshot halfway; a
//  third fed another history ends with another hash.
static void
s_expect_deterministic (fsm_fixture_entry_t *(*history_new) (uint64_t, size_t), size_t count,
                        const fsm_options_t *options, const char *const *streams,
                        size_t stream_count)
{
    uint64_t seed = fsm_fixture_seed ();
    fsm_fixture_entry_t *history = history_new (seed, count);
    fsm_fixture_entry_t *other_history = history_new (seed + 1, count);
    fsm_t *fsms[3] = {fsm_new (options), fsm_new (options), fsm_new (options)};
    size_t events = 0, successes = 0;
    for (size_t position = 0; position < count; position++) {
        fsm_output_t outputs[3];
        for (int which = 0; which < 3; which++) {
            const fsm_fixture_entry_t *entry =
                which == 2 ? &other_history[position] : &history[position];
            assert_int_equal (fsm_fixture_apply_entry (fsms[which], entry, &outputs[which]), 0);
        }
        if (!fsm_fixture_same_output (&outputs[0], &outputs[1]))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): entry %zu differs", seed, position);
        events += outputs[0].event_count;
        successes += outputs[0].reply && outputs[0].reply->code == RAFTQ__CODE__OK;
        for (int which = 0; which < 3; which++)
            fsm_output_clear (&outputs[which]);
        if (position % 300 == 0 && fsm_state_hash (fsms[0]) != fsm_state_hash (fsms[1]))
            fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): hash differs at %zu", seed, position);
        if (position == count / 2) {
            fsm_t *restored = fsm_fixture_snapshot_copy (fsms[1], options);
            fsm_destroy (&fsms[1]);
            fsms[1] = restored;
        }
    }
    if (events == 0 || successes < count / 10)
        fail_msg ("seed %" PRIu64 ": a dull history (%zu events, %zu successes)", seed, events,
                  successes);
    if (fsm_state_hash (fsms[0]) != fsm_state_hash (fsms[1]))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): final hashes differ", seed);
    if (fsm_state_hash (fsms[0]) == fsm_state_hash (fsms[2]))
        fail_msg ("seed %" PRIu64 " (RAFTQ_TEST_SEED): different histories, same hash", seed);
    //  Hashing reads the state, it does not change it
    assert_int_equal (fsm_state_hash (fsms[0]), fsm_state_hash (fsms[0]));
    s_expect_same_replays (fsms[0], fsms[1], streams, stream_count);
    fsm_fixture_history_destroy (&history, count);
    fsm_fixture_history_destroy (&other_history, count);
    for (int which = 0; which < 3; which++)
        fsm_destroy (&fsms[which]);
}

static void
test_queue_determinism (void **state)
{
    (void)state;
    //  Small table, so eviction happens along the way
    fsm_options_t options = {.max_clients = 3, .max_payload_bytes = 32};
    const char *streams[] = {"topic/a", "topic/b", "topic/c/d", "topic/\xc3\xa9"};
    s_expect_deterministic (s_queue_history, 4000, &options, streams, 4);
}

static void
test_chat_determinism (void **state)
{
    (void)state;
    //  Small bounds, so eviction and session limits come into play
    fsm_options_t options = {.max_clients = 2, .event_retention = 4, .chat = {.max_sessions = 2}};
    const char *streams[] = {"user/ann", "user/bob", "conv/ann/bob", "conv/cid/dan"};
    s_expect_deterministic (s_chat_history, 3000, &options, streams, 4);
}

//  --------------------------------------------------------------------------
//  Hash sensitivity

//  Queue histories that differ in one detail end in different hashes.
static void
test_queue_hash_sensitivity (void **state)
{
    (void)state;
    enum { VARIANTS = 7 };
    fsm_t *fsms[VARIANTS];
    for (int variant = 0; variant < VARIANTS; variant++) {
        fsm_t *fsm = fsms[variant] = fsm_new (NULL);
        bool swap_order = variant == 1;
        assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, swap_order ? "y" : "x", NULL),
                          RAFTQ__CODE__OK);
        assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, swap_order ? "x" : "y", NULL),
                          RAFTQ__CODE__OK);
        assert_int_equal (
            queue_fixture_run (fsm, QUEUE_PUBLISH, "x", variant == 2 ? "payloae" : "payload"),
            RAFTQ__CODE__OK);
        assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "x", "second"), RAFTQ__CODE__OK);
        //  Same queue content, but one more message was published and popped
        if (variant == 3) {
            assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "y", "gone"), RAFTQ__CODE__OK);
            queue_fixture_expect_pop (fsm, "y", "gone", 1);
        } else {
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        }
        //  Same queues, but a client's reply is remembered
        queue_fixture_t holder;
        fsm_output_t output;
        fsm_fixture_apply (fsm,
                           queue_fixture_command (&holder, QUEUE_LIST, NULL, NULL, 0,
                                                  variant == 4 ? 77 : 0, variant == 4 ? 1 : 0),
                           &output);
        fsm_output_clear (&output);
        if (variant == 5)
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        //  One message fewer
        if (variant == 6)
            queue_fixture_expect_pop (fsm, "x", "payload", 1);
    }
    for (int first = 0; first < VARIANTS; first++)
        for (int second = first + 1; second < VARIANTS; second++)
            if (fsm_state_hash (fsms[first]) == fsm_state_hash (fsms[second]))
                fail_msg ("variants %d and %d hash the same", first, second);
    for (int variant = 0; variant < VARIANTS; variant++)
        fsm_destroy (&fsms[variant]);
}

//  Chat states that differ in one detail hash differently.
static void
test_chat_hash_sensitivity (void **state)
{
    (void)state;
    enum { VARIANTS = 6 };
    uint64_t hashes[VARIANTS];
    for (int variant = 0; variant < VARIANTS; variant++) {
        const char *users[] = {"ann", "bob"};
        char tokens[2][33];
        fsm_t *fsm = chat_fixture_world (users, 2, tokens);
        chat_fixture_t holder;
        chat_fixture_send_ok (fsm, tokens[0], "bob", variant == 1 ? "hellp" : "hello");
        if (variant == 2) //  read
            assert_int_equal (
                fsm_fixture_run (fsm, chat_fixture_read (&holder, tokens[1], NULL, 1, 1)),
                RAFTQ__CODE__OK);
        else
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        if (variant == 3) //  one session more
            chat_fixture_session (fsm, "ann", 99, tokens[0]);
        else
            assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);
        if (variant == 4) //  another password hash
            assert_int_equal (
                fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "cid", "x")),
                RAFTQ__CODE__OK);
        else
            assert_int_equal (
                fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "cid", "y")),
                RAFTQ__CODE__OK);
        Raftq__State__Command *command = chat_fixture_send (&holder, tokens[1], "ann", "reply");
        if (variant == 5) //  another timestamp
            command->timestamp_ms = 1;
        assert_int_equal (fsm_fixture_run (fsm, command), RAFTQ__CODE__OK);
        hashes[variant] = fsm_state_hash (fsm);
        fsm_destroy (&fsm);
    }
    for (int first = 0; first < VARIANTS; first++)
        for (int second = first + 1; second < VARIANTS; second++)
            if (hashes[first] == hashes[second])
                fail_msg ("variants %d and %d hash the same", first, second);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_queue_determinism),
        cmocka_unit_test (test_chat_determinism),
        cmocka_unit_test (test_queue_hash_sensitivity),
        cmocka_unit_test (test_chat_hash_sensitivity),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
