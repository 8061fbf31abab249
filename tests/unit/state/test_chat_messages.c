/*  test_chat_messages — direct messages driven through the fsm: sending with
    its events on user/ and conv/ streams, reading pages with read marks,
    deleting messages and accounts with their authorization rules
    (PERMISSION_DENIED, UNAUTHENTICATED) and events, and Replay of the chat
    streams.
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

//  The state most tests start from: ann, bob and cid, each logged in.
typedef struct {
    fsm_t *fsm;         //  the state machine
    char tokens[3][33]; //  the session tokens of ann, bob and cid
} trio_t;

static int
s_trio_setup (void **state)
{
    const char *users[] = {"ann", "bob", "cid"};
    trio_t *trio = (trio_t *)calloc (1, sizeof (trio_t));
    assert_non_null (trio);
    trio->fsm = chat_fixture_world (users, 3, trio->tokens);
    *state = trio;
    return 0;
}

static int
s_trio_teardown (void **state)
{
    trio_t *trio = (trio_t *)*state;
    fsm_destroy (&trio->fsm);
    free (trio);
    return 0;
}

static void
test_send_and_events (void **state)
{
    (void)state;
    const char *users[] = {"bob", "ann"};
    char tokens[2][33];
    fsm_t *fsm = chat_fixture_world (users, 2, tokens);
    chat_fixture_t holder;
    fsm_output_t output;

    fsm_fixture_apply (fsm, chat_fixture_send (&holder, tokens[0], "ann", "  \t hello ann \n "),
                       &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->result_case, RAFTQ__REPLY__RESULT_SENT);
    assert_int_equal (output.reply->sent->id, 1);
    assert_int_equal (output.reply->sent->ts, CHAT_FIXTURE_TIMESTAMP);
    //  One event per stream: the recipient's, the sender's, the conversation's
    assert_int_equal (output.event_count, 3);
    const char *streams[] = {"user/ann", "user/bob", "conv/ann/bob"};
    for (size_t position = 0; position < 3; position++) {
        Raftq__Event *event = output.events[position];
        assert_string_equal (event->stream, streams[position]);
        assert_int_equal (event->seq, 1);
        assert_int_equal (event->index, fsm_applied_index (fsm));
        assert_string_equal (event->kind, "message");
        assert_int_equal (event->id, 1);
        assert_string_equal (event->from, "bob");
        assert_string_equal (event->to, "ann");
        assert_string_equal (event->text, "hello ann");
        assert_int_equal (event->ts, CHAT_FIXTURE_TIMESTAMP);
    }
    fsm_output_clear (&output);

    //  Ids go on; per-stream seqs count each stream; to oneself: two events
    assert_int_equal (chat_fixture_send_ok (fsm, tokens[1], "bob", "hi bob"), 2);
    fsm_fixture_apply (fsm, chat_fixture_send (&holder, tokens[1], "ann", "note to self"), &output);
    assert_int_equal (output.reply->sent->id, 3);
    assert_int_equal (output.event_count, 2);
    assert_string_equal (output.events[0]->stream, "user/ann");
    assert_int_equal (output.events[0]->seq, 3);
    assert_string_equal (output.events[1]->stream, "conv/ann/ann");
    assert_int_equal (output.events[1]->seq, 1);
    fsm_output_clear (&output);
    fsm_destroy (&fsm);
}

//  Refused sends: nothing sent, no events, no id used.
static void
test_send_refused (void **state)
{
    (void)state;
    const char *users[] = {"bob", "ann"};
    char tokens[2][33];
    fsm_t *fsm = chat_fixture_world (users, 2, tokens);
    chat_fixture_t holder;
    char big[4098];
    memset (big, 'b', 4097);
    big[4097] = 0;
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, tokens[0], "nobody", "hi"),
                              RAFTQ__CODE__NOT_FOUND, "no account named 'nobody'");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, tokens[0], "bad name", "hi"),
                              RAFTQ__CODE__INVALID_ARGUMENT, "recipient may hold only");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, tokens[0], "ann", " \r\n\t "),
                              RAFTQ__CODE__INVALID_ARGUMENT, "message text is empty");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, tokens[0], "ann", ""),
                              RAFTQ__CODE__INVALID_ARGUMENT, "message text is empty");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, tokens[0], "ann", big),
                              RAFTQ__CODE__TOO_LARGE,
                              "message text of 4097 bytes exceeds the limit of 4096");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, tokens[0], "ann", "bad \xff byte"),
                              RAFTQ__CODE__INVALID_ARGUMENT, "not valid UTF-8");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, tokens[0], "ann", "escape \x1b[2J"),
                              RAFTQ__CODE__INVALID_ARGUMENT, "control character");
    fsm_fixture_expect_error (
        fsm, chat_fixture_send (&holder, "ffffffffffffffffffffffffffffffff", "ann", "hi"),
        RAFTQ__CODE__UNAUTHENTICATED, "invalid session token");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, NULL, "ann", "hi"),
                              RAFTQ__CODE__UNAUTHENTICATED, "no session token");
    //  Trimming comes before the size check; tabs and new lines inside stay
    big[4096] = 0;
    big[0] = ' ';
    big[1] = '\t';
    assert_int_equal (chat_fixture_send_ok (fsm, tokens[0], "ann", big), 1);
    assert_int_equal (chat_fixture_send_ok (fsm, tokens[0], "ann", "two\n\tlines \xe2\x9c\x93"), 2);
    fsm_destroy (&fsm);
}

//  Reads a page; checks ids (0-terminated), read flags, total and remaining.
static void
s_expect_page (fsm_t *fsm, const char *token, const char *partner, uint32_t page,
               uint32_t page_size, const uint64_t *ids, const bool *read, uint64_t total,
               uint64_t remaining)
{
    chat_fixture_t holder;
    fsm_output_t output;
    fsm_fixture_apply (fsm, chat_fixture_read (&holder, token, partner, page, page_size), &output);
    if (output.reply->code != RAFTQ__CODE__OK)
        fail_msg ("read failed: %s", output.reply->error);
    Raftq__MessagePage *result = output.reply->page;
    size_t count = 0;
    while (ids[count])
        count++;
    if (result->n_messages != count)
        fail_msg ("page %u of %s: %zu messages, expected %zu", page, partner ? partner : "unread",
                  result->n_messages, count);
    for (size_t position = 0; position < count; position++) {
        assert_int_equal (result->messages[position]->id, ids[position]);
        assert_int_equal (result->messages[position]->read, read[position]);
    }
    assert_int_equal (result->total, total);
    assert_int_equal (result->remaining, remaining);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
}

static void
test_read_messages (void **state)
{
    trio_t *trio = (trio_t *)*state;
    fsm_t *fsm = trio->fsm;
    const char *ann = trio->tokens[0], *bob = trio->tokens[1], *cid = trio->tokens[2];
    chat_fixture_t holder;
    //  1..5 from bob to ann, 6 from cid to ann, 7 from ann to bob
    for (int number = 1; number <= 5; number++)
        chat_fixture_send_ok (fsm, bob, "ann", "from bob");
    chat_fixture_send_ok (fsm, cid, "ann", "from cid");
    chat_fixture_send_ok (fsm, ann, "bob", "to bob");

    const bool unread[] = {false, false, false, false, false};
    //  Unread page 2 of size 2: 3 and 4 become read; the listing had 6
    s_expect_page (fsm, ann, NULL, 2, 2, (const uint64_t[]){3, 4, 0}, unread, 6, 2);
    //  Now unread: 1, 2, 5, 6
    s_expect_page (fsm, ann, NULL, 3, 2, (const uint64_t[]){0}, unread, 4, 0);
    s_expect_page (fsm, ann, NULL, 0, 0, (const uint64_t[]){1, 2, 5, 6, 0}, unread, 4, 0);
    s_expect_page (fsm, ann, NULL, 1, 20, (const uint64_t[]){0}, unread, 0, 0);

    //  The conversation with bob, both directions, marks as they were before
    s_expect_page (fsm, bob, "ann", 1, 4, (const uint64_t[]){1, 2, 3, 4, 0},
                   (const bool[]){true, true, true, true}, 6, 2);
    s_expect_page (fsm, bob, "ann", 2, 4, (const uint64_t[]){5, 7, 0}, (const bool[]){true, false},
                   6, 0);
    //  ... and bob has now read 7, which reading the conversation showed him
    s_expect_page (fsm, ann, "bob", 2, 4, (const uint64_t[]){5, 7, 0}, (const bool[]){true, true},
                   6, 0);
    s_expect_page (fsm, bob, NULL, 1, 20, (const uint64_t[]){0}, unread, 0, 0);
    s_expect_page (fsm, ann, "cid", 1, 20, (const uint64_t[]){6, 0}, (const bool[]){true}, 1, 0);
    s_expect_page (fsm, cid, "bob", 1, 20, (const uint64_t[]){0}, unread, 0, 0);
    s_expect_page (fsm, ann, "bob", 9, 4, (const uint64_t[]){0}, unread, 6, 0);

    //  Reading a conversation marks only what the reader received
    chat_fixture_send_ok (fsm, bob, "ann", "new 8");
    chat_fixture_send_ok (fsm, ann, "bob", "new 9");
    s_expect_page (fsm, ann, "bob", 3, 3, (const uint64_t[]){8, 9, 0}, (const bool[]){false, false},
                   8, 0);
    s_expect_page (fsm, ann, NULL, 1, 20, (const uint64_t[]){0}, unread, 0, 0);
    s_expect_page (fsm, bob, NULL, 1, 20, (const uint64_t[]){9, 0}, unread, 1, 0);

    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, ann, "nobody", 1, 1),
                              RAFTQ__CODE__NOT_FOUND, "no account named 'nobody'");
    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, ann, "no body", 1, 1),
                              RAFTQ__CODE__INVALID_ARGUMENT, "partner may hold only");
    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, ann, NULL, 1, 1001),
                              RAFTQ__CODE__INVALID_ARGUMENT,
                              "page_size 1001 exceeds the limit of 1000");
    fsm_fixture_expect_error (
        fsm, chat_fixture_read (&holder, "00000000000000000000000000000000", NULL, 1, 1),
        RAFTQ__CODE__UNAUTHENTICATED, "invalid session token");

    //  The page's messages carry everything
    fsm_output_t output;
    fsm_fixture_apply (fsm, chat_fixture_read (&holder, cid, "ann", 1, 1), &output);
    Raftq__ChatMessage *message = output.reply->page->messages[0];
    assert_int_equal (message->id, 6);
    assert_string_equal (message->from, "cid");
    assert_string_equal (message->to, "ann");
    assert_string_equal (message->text, "from cid");
    assert_int_equal (message->ts, CHAT_FIXTURE_TIMESTAMP);
    assert_true (message->read);
    fsm_output_clear (&output);
}

static void
test_delete_messages (void **state)
{
    trio_t *trio = (trio_t *)*state;
    fsm_t *fsm = trio->fsm;
    const char *ann = trio->tokens[0], *bob = trio->tokens[1], *cid = trio->tokens[2];
    chat_fixture_t holder;
    fsm_output_t output;
    uint64_t to_bob = chat_fixture_send_ok (fsm, ann, "bob", "1");   //  1
    uint64_t from_bob = chat_fixture_send_ok (fsm, bob, "ann", "2"); //  2
    uint64_t to_cid = chat_fixture_send_ok (fsm, ann, "cid", "3");   //  3
    uint64_t between = chat_fixture_send_ok (fsm, bob, "cid", "4");  //  4
    uint64_t self = chat_fixture_send_ok (fsm, ann, "ann", "5");     //  5

    //  Someone else's message: refused, and nothing at all is deleted
    uint64_t mixed[] = {to_bob, between};
    fsm_fixture_expect_error (fsm, chat_fixture_delete (&holder, ann, mixed, 2),
                              RAFTQ__CODE__PERMISSION_DENIED, "message 4 is not yours");
    s_expect_page (fsm, ann, "bob", 1, 20, (const uint64_t[]){1, 2, 0},
                   (const bool[]){false, false}, 2, 0);

    //  Mine, sent and received, twice, plus ids that do not exist
    uint64_t ids[] = {to_cid, 999, from_bob, to_bob, self, to_bob};
    fsm_fixture_apply (fsm, chat_fixture_delete (&holder, ann, ids, 6), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->deleted->count, 4);
    //  The actor's stream names all; each partner and conversation its own
    struct {
        const char *stream;
        uint64_t ids[3];
        size_t count;
    } expected[] = {
        {"user/ann", {1, 2, 3}, 4},  {"conv/ann/ann", {5}, 1}, {"user/bob", {1, 2}, 2},
        {"conv/ann/bob", {1, 2}, 2}, {"user/cid", {3}, 1},     {"conv/ann/cid", {3}, 1},
    };
    assert_int_equal (output.event_count, 6);
    for (size_t position = 0; position < 6; position++) {
        Raftq__Event *event = output.events[position];
        assert_string_equal (event->stream, expected[position].stream);
        assert_string_equal (event->kind, "delete");
        assert_int_equal (event->n_ids, expected[position].count);
        for (size_t id = 0; id < expected[position].count && id < 3; id++)
            assert_int_equal (event->ids[id], expected[position].ids[id]);
    }
    assert_int_equal (output.events[0]->ids[3], 5);
    fsm_output_clear (&output);

    //  Gone for both parties; the unread count follows
    s_expect_page (fsm, bob, "ann", 1, 20, (const uint64_t[]){0}, NULL, 0, 0);
    s_expect_page (fsm, cid, NULL, 1, 20, (const uint64_t[]){4, 0}, (const bool[]){false}, 1, 0);
    fsm_fixture_apply (fsm, chat_fixture_login (&holder, "bob", "pw", 50), &output);
    assert_int_equal (output.reply->session->unread, 0);
    fsm_output_clear (&output);

    //  A retry deletes nothing more; ids are kept, never reused
    fsm_fixture_apply (fsm, chat_fixture_delete (&holder, ann, ids, 6), &output);
    assert_int_equal (output.reply->deleted->count, 0);
    assert_int_equal (output.event_count, 0);
    fsm_output_clear (&output);
    assert_int_equal (chat_fixture_send_ok (fsm, ann, "bob", "6"), 6);

    fsm_fixture_expect_error (fsm, chat_fixture_delete (&holder, ann, NULL, 0),
                              RAFTQ__CODE__INVALID_ARGUMENT, "no message ids to delete");
    uint64_t *many = calloc (1001, sizeof (uint64_t));
    assert_non_null (many);
    fsm_fixture_expect_error (fsm, chat_fixture_delete (&holder, ann, many, 1001),
                              RAFTQ__CODE__TOO_LARGE,
                              "1001 message ids exceed the limit of 1000 per request");
    free (many);
    fsm_fixture_expect_error (fsm, chat_fixture_delete (&holder, NULL, ids, 1),
                              RAFTQ__CODE__UNAUTHENTICATED, "no session token");
}

static void
test_delete_account (void **state)
{
    trio_t *trio = (trio_t *)*state;
    fsm_t *fsm = trio->fsm;
    const char *ann = trio->tokens[0], *bob = trio->tokens[1], *cid = trio->tokens[2];
    chat_fixture_t holder;
    fsm_output_t output;
    char second_bob[33];
    chat_fixture_session (fsm, "bob", 77, second_bob);
    chat_fixture_send_ok (fsm, ann, "bob", "1");
    chat_fixture_send_ok (fsm, bob, "ann", "2");
    chat_fixture_send_ok (fsm, bob, "cid", "3");
    chat_fixture_send_ok (fsm, ann, "cid", "4");
    chat_fixture_send_ok (fsm, bob, "bob", "5");

    fsm_fixture_apply (fsm, chat_fixture_delete_account (&holder, bob), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    //  Conversations in key order: ann/bob, bob/bob, bob/cid; then the end
    const char *streams[] = {"user/bob", "user/ann", "conv/ann/bob", "user/bob", "conv/bob/bob",
                             "user/bob", "user/cid", "conv/bob/cid", "user/bob"};
    assert_int_equal (output.event_count, 9);
    for (size_t position = 0; position < 9; position++)
        assert_string_equal (output.events[position]->stream, streams[position]);
    assert_string_equal (output.events[1]->kind, "delete");
    assert_int_equal (output.events[1]->n_ids, 2);
    assert_string_equal (output.events[8]->kind, "account_deleted");
    fsm_output_clear (&output);

    //  Every session of bob is gone; the account too
    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, bob, NULL, 1, 1),
                              RAFTQ__CODE__UNAUTHENTICATED, "");
    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, second_bob, NULL, 1, 1),
                              RAFTQ__CODE__UNAUTHENTICATED, "");
    assert_null (fsm_password_hash (fsm, "bob"));
    fsm_fixture_expect_error (fsm, chat_fixture_read (&holder, ann, "bob", 1, 1),
                              RAFTQ__CODE__NOT_FOUND, "");
    fsm_fixture_expect_error (fsm, chat_fixture_send (&holder, ann, "bob", "hi"),
                              RAFTQ__CODE__NOT_FOUND, "");
    //  Others keep what did not involve bob
    s_expect_page (fsm, cid, NULL, 1, 20, (const uint64_t[]){4, 0}, (const bool[]){false}, 1, 0);
    s_expect_page (fsm, ann, NULL, 1, 20, (const uint64_t[]){0}, NULL, 0, 0);

    //  The text of bob's conversations is not replayable any more; the
    //  sequence goes on after the deletion events
    Raftq__Reply *reply = fsm_fixture_replay (fsm, "conv/ann/bob", 1, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (reply->oldest_seq, 3);
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_fixture_replay (fsm, "conv/ann/bob", 0, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->events->n_events, 1);
    assert_string_equal (reply->events->events[0]->kind, "delete");
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_fixture_replay (fsm, "user/bob", 0, 0);
    assert_int_equal (reply->events->n_events, 1);
    assert_string_equal (reply->events->events[0]->kind, "account_deleted");
    raftq__reply__free_unpacked (reply, NULL);

    //  The name is free again, with nothing of the old owner's
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "bob", "new")),
                      RAFTQ__CODE__OK);
    fsm_fixture_apply (fsm, chat_fixture_login (&holder, "bob", "new", 88), &output);
    assert_int_equal (output.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (output.reply->session->unread, 0);
    fsm_output_clear (&output);
    s_expect_page (fsm, ann, "bob", 1, 20, (const uint64_t[]){0}, NULL, 0, 0);
    fsm_fixture_expect_error (fsm, chat_fixture_delete_account (&holder, bob),
                              RAFTQ__CODE__UNAUTHENTICATED, "");
}

static void
test_replay_of_chat_streams (void **state)
{
    (void)state;
    fsm_options_t options = {.event_retention = 3};
    fsm_t *fsm = fsm_new (&options);
    chat_fixture_t holder;
    char ann[33], bob[33];
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "ann", "pw")),
                      RAFTQ__CODE__OK);
    assert_int_equal (fsm_fixture_run (fsm, chat_fixture_create_account (&holder, "bob", "pw")),
                      RAFTQ__CODE__OK);
    chat_fixture_session (fsm, "ann", 1, ann);
    chat_fixture_session (fsm, "bob", 2, bob);
    for (int number = 0; number < 5; number++)
        chat_fixture_send_ok (fsm, ann, "bob", "m");

    Raftq__Reply *reply = fsm_fixture_replay (fsm, "user/bob", 0, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->oldest_seq, 3);
    assert_int_equal (reply->next_seq, 6);
    assert_int_equal (reply->events->n_events, 3);
    for (size_t position = 0; position < 3; position++) {
        Raftq__Event *event = reply->events->events[position];
        assert_int_equal (event->seq, 3 + position);
        assert_int_equal (event->id, 3 + position);
        assert_string_equal (event->kind, "message");
        assert_string_equal (event->from, "ann");
    }
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_fixture_replay (fsm, "user/bob", 2, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__NOT_FOUND);
    assert_int_equal (reply->oldest_seq, 3);
    assert_int_equal (reply->next_seq, 6);
    assert_int_equal (reply->result_case, RAFTQ__REPLY__RESULT__NOT_SET);
    assert_non_null (strstr (reply->error, "before seq 3"));
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_fixture_replay (fsm, "conv/ann/bob", 4, 1);
    assert_int_equal (reply->events->n_events, 1);
    assert_int_equal (reply->events->events[0]->seq, 4);
    raftq__reply__free_unpacked (reply, NULL);
    //  Past the end: no events, and where the stream is (a live start)
    reply = fsm_fixture_replay (fsm, "conv/ann/bob", INT64_MAX, 1);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->events->n_events, 0);
    assert_int_equal (reply->next_seq, 6);
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_fixture_replay (fsm, "topic/never", INT64_MAX, 1);
    assert_int_equal (reply->code, RAFTQ__CODE__OK);
    assert_int_equal (reply->next_seq, 1);
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_fixture_replay (fsm, "", 0, 0);
    assert_int_equal (reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    raftq__reply__free_unpacked (reply, NULL);
    reply = fsm_replay (fsm, NULL);
    assert_int_equal (reply->code, RAFTQ__CODE__INVALID_ARGUMENT);
    raftq__reply__free_unpacked (reply, NULL);
    fsm_destroy (&fsm);
}

static void
test_exactly_once_chat (void **state)
{
    (void)state;
    const char *users[] = {"ann", "bob"};
    char tokens[2][33];
    fsm_t *fsm = chat_fixture_world (users, 2, tokens);
    chat_fixture_t holder;
    fsm_output_t first, again;

    //  A send retried under the same client_id/seq: one message, same reply, no events
    Raftq__State__Command *command = chat_fixture_send (&holder, tokens[0], "bob", "once");
    command->client_id = 42;
    command->seq = 1;
    fsm_fixture_apply (fsm, command, &first);
    assert_int_equal (first.event_count, 3);
    command->timestamp_ms =
        CHAT_FIXTURE_TIMESTAMP + 1000; //  a retry proposed later by another leader
    fsm_fixture_apply (fsm, command, &again);
    assert_int_equal (again.reply->sent->id, first.reply->sent->id);
    assert_int_equal (again.reply->sent->ts, CHAT_FIXTURE_TIMESTAMP);
    assert_int_equal (again.event_count, 0);
    fsm_output_clear (&first);
    fsm_output_clear (&again);
    s_expect_page (fsm, tokens[1], "ann", 1, 20, (const uint64_t[]){1, 0}, (const bool[]){false}, 1,
                   0);

    //  A retried login is not answered from the table (its reply would have
    //  to hold a token, which the state never has): it opens a new session,
    //  and neither reply carries a token
    char first_token[33];
    command = chat_fixture_login (&holder, "bob", "pw", 500);
    command->client_id = 42;
    command->seq = 2;
    fsm_fixture_apply (fsm, command, &first);
    strcpy (first_token, holder.token);
    chat_fixture_token (holder.token, 501);
    fsm_fixture_apply (fsm, command, &again);
    assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
    assert_int_equal (again.reply->code, RAFTQ__CODE__OK);
    assert_string_equal (first.reply->session->token, "");
    assert_string_equal (again.reply->session->token, "");
    fsm_output_clear (&first);
    fsm_output_clear (&again);
    const char *const both[] = {first_token, holder.token};
    for (size_t position = 0; position < 2; position++) {
        chat_fixture_t reader;
        fsm_fixture_apply (fsm, chat_fixture_read (&reader, both[position], NULL, 1, 1), &first);
        assert_int_equal (first.reply->code, RAFTQ__CODE__OK);
        fsm_output_clear (&first);
    }

    //  A retried read: the first page again, nothing read twice
    command = chat_fixture_read (&holder, tokens[0], NULL, 1, 20);
    chat_fixture_send_ok (fsm, tokens[1], "ann", "for ann");
    command->client_id = 43;
    command->seq = 1;
    fsm_fixture_apply (fsm, command, &first);
    fsm_fixture_apply (fsm, command, &again);
    assert_int_equal (first.reply->page->n_messages, 1);
    assert_int_equal (again.reply->page->n_messages, 1);
    fsm_output_clear (&first);
    fsm_output_clear (&again);
    fsm_destroy (&fsm);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_send_and_events),
        cmocka_unit_test (test_send_refused),
        cmocka_unit_test_setup_teardown (test_read_messages, s_trio_setup, s_trio_teardown),
        cmocka_unit_test_setup_teardown (test_delete_messages, s_trio_setup, s_trio_teardown),
        cmocka_unit_test_setup_teardown (test_delete_account, s_trio_setup, s_trio_teardown),
        cmocka_unit_test (test_replay_of_chat_streams),
        cmocka_unit_test (test_exactly_once_chat),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
