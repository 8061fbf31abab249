/*  test_fsm_restore — the state machine's snapshot: a saved, packed,
    unpacked and restored state hashes and answers like the original
    (queues whose ring wraps, clients in eviction order, retained events);
    a decodable state that no fsm could have saved is refused, never half
    trusted, and so is any state offered to an fsm that applied entries.
    Snapshot files: tests/unit/storage.
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

#include "fsm_fixture.h"
#include "queue_fixture.h"

//  Applies the same command to both and checks they answer alike.
static void
s_apply_both (fsm_t *first, fsm_t *second, const Raftq__State__Command *command)
{
    fsm_output_t outputs[2];
    fsm_fixture_apply (first, command, &outputs[0]);
    fsm_fixture_apply (second, command, &outputs[1]);
    if (!fsm_fixture_same_output (&outputs[0], &outputs[1]))
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
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "later", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "drained", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "drained", "gone"), RAFTQ__CODE__OK);
    queue_fixture_expect_pop (fsm, "drained", "gone", 1);
    //  The ring of "later" wraps around: its oldest message is not in slot 0
    for (int round = 0; round < 30; round++) {
        assert_int_equal (queue_fixture_run (fsm, QUEUE_PUBLISH, "later", round % 5 ? "x" : ""),
                          RAFTQ__CODE__OK);
        if (round % 3 == 2)
            assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "later", NULL), RAFTQ__CODE__OK);
    }
    //  Clients in use order 300, 100, 200 (a retry is no use)
    queue_fixture_publish_as (fsm, 300, 1);
    queue_fixture_publish_as (fsm, 100, 1);
    queue_fixture_publish_as (fsm, 200, 1);
    queue_fixture_publish_as (fsm, 300, 1);
    assert_int_equal (fsm_skip (fsm, fsm_applied_index (fsm) + 1), 0);

    fsm_t *copy = fsm_fixture_snapshot_copy (fsm, &options);
    fsm_t *both[2] = {fsm, copy};
    for (int which = 0; which < 2; which++) {
        //  A new client evicts the least recently applied one: 300
        queue_fixture_publish_as (both[which], 400, 1);
        assert_false (queue_fixture_remembers (both[which], 300, 1));
        assert_true (queue_fixture_remembers (both[which], 100, 1));
        assert_true (queue_fixture_remembers (both[which], 200, 1));
    }
    queue_fixture_t holder;
    s_apply_both (fsm, copy, queue_fixture_command (&holder, QUEUE_PUBLISH, "t", "m", 1, 100, 1));
    s_apply_both (fsm, copy, queue_fixture_command (&holder, QUEUE_LIST, NULL, NULL, 0, 0, 0));
    s_apply_both (fsm, copy,
                  queue_fixture_command (&holder, QUEUE_PUBLISH, "drained", "again", 5, 0, 0));
    //  Every queued message comes out alike, in order, then EMPTY
    for (int pop = 0; pop < 25; pop++) {
        s_apply_both (fsm, copy,
                      queue_fixture_command (&holder, QUEUE_POP, "later", NULL, 0, 0, 0));
        s_apply_both (fsm, copy, queue_fixture_command (&holder, QUEUE_POP, "t", NULL, 0, 0, 0));
    }
    assert_int_equal (queue_fixture_run (fsm, QUEUE_POP, "later", NULL), RAFTQ__CODE__EMPTY);
    assert_int_equal (queue_fixture_run (copy, QUEUE_POP, "later", NULL), RAFTQ__CODE__EMPTY);
    Raftq__Replay replay = RAFTQ__REPLAY__INIT;
    replay.stream = "topic/later";
    fsm_output_t replays[2] = {{.reply = fsm_replay (fsm, &replay)},
                               {.reply = fsm_replay (copy, &replay)}};
    assert_true (fsm_fixture_same_output (&replays[0], &replays[1]));
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
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t1", NULL), RAFTQ__CODE__OK);
    assert_int_equal (queue_fixture_run (fsm, QUEUE_CREATE, "t2", NULL), RAFTQ__CODE__OK);
    queue_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t1", "one", 3, 7, 1),
                       &output);
    fsm_output_clear (&output);
    fsm_fixture_apply (fsm, queue_fixture_command (&holder, QUEUE_PUBLISH, "t1", "two", 3, 8, 1),
                       &output);
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
        cmocka_unit_test (test_snapshot_round_trip),
        cmocka_unit_test (test_snapshot_load_refuses),
        cmocka_unit_test (test_snapshot_load_refuses_chat),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
